//! Codec negotiation at the switch: the callee's devices are offered the switch's own
//! codecs (PCMU and PCMA, the caller's first choice first, and telephone-event), the
//! caller gets the switch's answer to its offer, and when the two legs settle on
//! different G.711 laws the relay transcodes.

use std::net::IpAddr;

use engine::sdp::{addrtype_of, answer, AnswerOptions, Codec, CodecSpec, Origin, Sdp};

/// The payload type the switch offers telephone-event (RFC 4733) with.
const TELEPHONE_EVENT_PT: u8 = 101;

fn audio_index(sdp: &Sdp) -> Option<usize> {
    sdp.media()
        .iter()
        .position(|m| m.kind() == "audio" && m.port() != 0)
}

fn is_g711(c: &Codec) -> bool {
    CodecSpec::pcmu().matches(c) || CodecSpec::pcma().matches(c)
}

/// The first voice codec of section `i`.
fn voice_codec(sdp: &Sdp, i: usize) -> Option<Codec> {
    sdp.media()
        .get(i)?
        .codecs()
        .into_iter()
        .find(|c| !c.is_telephone_event())
}

/// The telephone-event (RFC 4733) payload type of the active audio section.
pub fn event_pt(sdp: &Sdp) -> Option<u8> {
    sdp.media()
        .get(audio_index(sdp)?)?
        .codecs()
        .into_iter()
        .find(|c| c.is_telephone_event())
        .map(|c| c.pt)
}

/// The first voice payload type of the active audio section.
pub fn voice_pt(sdp: &Sdp) -> Option<u8> {
    voice_codec(sdp, audio_index(sdp)?).map(|c| c.pt)
}

/// The offer for the callee's devices, anchored at `ip:port`: PCMU and PCMA and
/// telephone-event, in the caller's direction. The G.711 laws come in the order of the
/// callee's line group (`priority`, codec names), else the caller's first choice first.
/// `None` when the caller offered no G.711 at all (its own offer then goes through).
pub fn callee_offer(
    caller: &Sdp,
    ip: IpAddr,
    port: u16,
    session_id: &str,
    priority: &[String],
) -> Option<Sdp> {
    let i = audio_index(caller)?;
    let first = caller.media()[i]
        .codecs()
        .into_iter()
        .find(|c| !c.is_telephone_event() && is_g711(c))?;
    let rank = |name: &str| priority.iter().position(|p| p.eq_ignore_ascii_case(name));
    let pcma_first = match (rank("PCMA"), rank("PCMU")) {
        (Some(a), Some(u)) => a < u,
        (Some(_), None) => true,
        (None, Some(_)) => false,
        (None, None) => CodecSpec::pcma().matches(&first),
    };
    let order = if pcma_first {
        [(8, "PCMA"), (0, "PCMU")]
    } else {
        [(0, "PCMU"), (8, "PCMA")]
    };
    let at = addrtype_of(ip);
    let te = TELEPHONE_EVENT_PT;
    let mut text = format!(
        "v=0\r\no=pbx {session_id} 1 IN {at} {ip}\r\ns=-\r\nc=IN {at} {ip}\r\nt=0 0\r\nm=audio {port} RTP/AVP {} {} {te}\r\n",
        order[0].0, order[1].0
    );
    for (pt, name) in order {
        text.push_str(&format!("a=rtpmap:{pt} {name}/8000\r\n"));
    }
    text.push_str(&format!(
        "a=rtpmap:{te} telephone-event/8000\r\na=fmtp:{te} 0-16\r\n"
    ));
    if let Some(p) = caller.media()[i].ptime() {
        text.push_str(&format!("a=ptime:{p}\r\n"));
    }
    text.push_str(&format!("a={}\r\n", caller.direction(i).as_str()));
    Sdp::parse(text.as_bytes()).ok()
}

/// What the caller is told once a callee's device answered (or sent early media).
pub struct CallerAnswer {
    pub sdp: Sdp,
    /// The voice payload types of the caller's and the callee's leg.
    pub a_pt: Option<u8>,
    pub b_pt: Option<u8>,
    /// The telephone-event payload types of the caller's and the callee's leg.
    pub a_event: Option<u8>,
    pub b_event: Option<u8>,
}

/// The switch's answer to the caller's `offer`, anchored at `ip:port`, for the
/// device's answer `callee`: the device's codec when the caller offered it, else the
/// caller's first G.711 codec.
pub fn caller_answer(
    offer: &Sdp,
    callee: &Sdp,
    ip: IpAddr,
    port: u16,
    session_id: &str,
) -> Option<CallerAnswer> {
    let i = audio_index(offer)?;
    let j = audio_index(callee);
    let b_codec = j.and_then(|j| voice_codec(callee, j));
    let mut ports = vec![0; i + 1];
    ports[i] = port;
    let opts = |codecs| AnswerOptions {
        origin: Origin::new("pbx", session_id, 1, ip),
        address: ip,
        ports: &ports,
        codecs,
        telephone_event: true,
        direction: j.map(|j| callee.direction(j)).unwrap_or_default(),
    };
    let same = b_codec.as_ref().map(|c| vec![c.spec()]).unwrap_or_default();
    let mut sdp = answer(offer, &opts(&same));
    if !sdp.has_active_audio() {
        sdp = answer(offer, &opts(&[CodecSpec::pcmu(), CodecSpec::pcma()]));
    }
    let a_pt = voice_pt(&sdp);
    Some(CallerAnswer {
        a_event: event_pt(&sdp),
        b_event: event_pt(callee),
        sdp,
        a_pt,
        b_pt: b_codec.map(|c| c.pt),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sdp(formats: &str, maps: &str) -> Sdp {
        let text = format!("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP {formats}\r\n{maps}");
        Sdp::parse(text.as_bytes()).unwrap()
    }

    #[test]
    fn callee_offer_puts_the_callers_law_first() {
        let ip: IpAddr = "203.0.113.5".parse().unwrap();
        let pcma = sdp("8", "a=rtpmap:8 PCMA/8000\r\n");
        let offer = callee_offer(&pcma, ip, 20002, "7", &[]).unwrap();
        assert_eq!(offer.media()[0].payload_types(), vec![8, 0, 101]);
        assert_eq!(offer.media()[0].port(), 20002);
        assert_eq!(
            offer.media_connection(0).unwrap().address,
            "203.0.113.5".to_string()
        );
        let both = sdp("0 8 101", "a=rtpmap:101 telephone-event/8000\r\n");
        assert_eq!(
            callee_offer(&both, ip, 1, "7", &[]).unwrap().media()[0].payload_types(),
            vec![0, 8, 101]
        );
        let g722 = sdp("9", "");
        assert!(callee_offer(&g722, ip, 1, "7", &[]).is_none());
    }

    #[test]
    fn callee_offer_follows_the_line_groups_priority() {
        let ip: IpAddr = "203.0.113.5".parse().unwrap();
        let both = sdp("0 8", "");
        let pts = |priority: &[&str]| {
            let p: Vec<String> = priority.iter().map(|s| s.to_string()).collect();
            callee_offer(&both, ip, 1, "7", &p).unwrap().media()[0].payload_types()
        };
        assert_eq!(pts(&["PCMA", "PCMU"]), vec![8, 0, 101]);
        assert_eq!(pts(&["opus", "pcma"]), vec![8, 0, 101]);
        assert_eq!(pts(&["PCMU"]), vec![0, 8, 101]);
        assert_eq!(pts(&[]), vec![0, 8, 101], "no list: the caller's order");
    }

    #[test]
    fn caller_answer_keeps_the_callees_codec_or_transcodes() {
        let ip: IpAddr = "203.0.113.5".parse().unwrap();
        let pcmu_only = sdp("0 101", "a=rtpmap:101 telephone-event/8000\r\n");
        // The caller offered only PCMA: it gets PCMA, the callee talks PCMU.
        let a = caller_answer(&sdp("8", ""), &pcmu_only, ip, 20000, "7").unwrap();
        assert_eq!((a.a_pt, a.b_pt), (Some(8), Some(0)));
        assert_eq!(a.sdp.media()[0].port(), 20000);
        // The caller offered both: it gets the callee's choice, nothing to convert.
        let a = caller_answer(&sdp("8 0", ""), &pcmu_only, ip, 20000, "7").unwrap();
        assert_eq!((a.a_pt, a.b_pt), (Some(0), Some(0)));
    }

    #[test]
    fn each_leg_keeps_its_own_telephone_event_type() {
        let ip: IpAddr = "203.0.113.5".parse().unwrap();
        let caller = sdp("0 96", "a=rtpmap:96 telephone-event/8000\r\n");
        let callee = sdp("0 101", "a=rtpmap:101 telephone-event/8000\r\n");
        let a = caller_answer(&caller, &callee, ip, 20000, "7").unwrap();
        assert_eq!((a.a_event, a.b_event), (Some(96), Some(101)));
        assert_eq!(event_pt(&a.sdp), Some(96));
    }
}
