//! Codec negotiation at the switch. The callee's devices are offered the caller's
//! codecs the switch knows plus every codec it can transcode to (PCMU, PCMA, G.722,
//! Opus), in the rung line group's priority order (else the caller's first), and
//! telephone-event. The caller gets the switch's answer to its offer: the codec the
//! device chose when the caller offered it too (the relay forwards it untouched), else
//! the caller's first codec the switch knows (the relay transcodes between the two).

use std::net::IpAddr;

use engine::sdp::{addrtype_of, answer, AnswerOptions, Codec, CodecSpec, Origin, Sdp};
use media::codec::OpusConfig;
use media::CodecKind;

use crate::media_relay::Voice;

/// The payload type the switch offers telephone-event (RFC 4733) with.
const TELEPHONE_EVENT_PT: u8 = 101;

/// The codecs the switch decodes and encodes, as SDP names them, in its own order.
fn known() -> [CodecSpec; 4] {
    [
        CodecSpec::pcmu(),
        CodecSpec::pcma(),
        CodecSpec::g722(),
        CodecSpec {
            name: "opus".into(),
            rate: 48000,
            channels: 2,
        },
    ]
}

/// The payload type the switch gives a codec it adds to an offer.
fn own_pt(spec: &CodecSpec) -> u8 {
    spec.static_pt().unwrap_or(111)
}

fn audio_index(sdp: &Sdp) -> Option<usize> {
    sdp.media()
        .iter()
        .position(|m| m.kind() == "audio" && m.port() != 0)
}

/// True for a codec the switch can decode and encode.
fn is_known(c: &Codec) -> bool {
    known().iter().any(|k| k.matches(c))
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

/// What a leg speaks by its SDP: its first voice codec, when the switch knows it.
pub fn voice_of(sdp: &Sdp) -> Option<Voice> {
    let i = audio_index(sdp)?;
    let c = voice_codec(sdp, i)?;
    voice(&c, sdp.media()[i].ptime())
}

/// The relay's view of a codec of an SDP.
fn voice(c: &Codec, ptime: Option<u32>) -> Option<Voice> {
    let kind = match c.name.to_ascii_lowercase().as_str() {
        "pcmu" if c.rate == 8000 => CodecKind::Pcmu,
        "pcma" if c.rate == 8000 => CodecKind::Pcma,
        "g722" if c.rate == 8000 => CodecKind::G722,
        "opus" if c.rate == 48000 => CodecKind::Opus(OpusConfig {
            payload_type: c.pt,
            ..OpusConfig::default()
        }),
        _ => return None,
    };
    Some(Voice {
        pt: c.pt,
        kind,
        ptime_ms: ptime.unwrap_or(20),
    })
}

/// The offer for the callee's devices, anchored at `ip:port`: the caller's codecs the
/// switch knows (with their payload types and parameters), then the others it can
/// transcode to, ordered by the callee's line group (`priority`, codec names; else the
/// caller's order first), and telephone-event, in the caller's direction. `None` when
/// the caller offered no codec the switch knows (its own offer then goes through).
pub fn callee_offer(
    caller: &Sdp,
    ip: IpAddr,
    port: u16,
    session_id: &str,
    priority: &[String],
) -> Option<Sdp> {
    let i = audio_index(caller)?;
    let offered: Vec<Codec> = caller.media()[i]
        .codecs()
        .into_iter()
        .filter(|c| !c.is_telephone_event() && is_known(c))
        .collect();
    if offered.is_empty() {
        return None;
    }
    let mut list = offered.clone();
    let taken =
        |list: &[Codec], pt: u8| list.iter().any(|c| c.pt == pt) || pt == TELEPHONE_EVENT_PT;
    for spec in known() {
        if list.iter().any(|c| spec.matches(c)) {
            continue;
        }
        let mut pt = own_pt(&spec);
        while taken(&list, pt) {
            pt = if pt >= 127 { 96 } else { pt + 1 };
        }
        list.push(Codec {
            pt,
            name: spec.name.clone(),
            rate: spec.rate,
            channels: spec.channels,
            fmtp: (spec.name == "opus").then(|| "useinbandfec=1".to_owned()),
        });
    }
    let rank = |c: &Codec| {
        priority
            .iter()
            .position(|p| p.eq_ignore_ascii_case(&c.name))
            .unwrap_or(priority.len())
    };
    // A stable sort: unlisted codecs keep the caller's order, then the switch's.
    list.sort_by_key(rank);
    let at = addrtype_of(ip);
    let te = TELEPHONE_EVENT_PT;
    let formats: Vec<String> = list.iter().map(|c| c.pt.to_string()).collect();
    let mut text = format!(
        "v=0\r\no=pbx {session_id} 1 IN {at} {ip}\r\ns=-\r\nc=IN {at} {ip}\r\nt=0 0\r\nm=audio {port} RTP/AVP {} {te}\r\n",
        formats.join(" ")
    );
    for c in &list {
        text.push_str(&format!("a=rtpmap:{}\r\n", c.rtpmap_value()));
        if let Some(f) = &c.fmtp {
            text.push_str(&format!("a=fmtp:{} {f}\r\n", c.pt));
        }
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
    /// What the caller's and the callee's leg speak.
    pub a_voice: Option<Voice>,
    pub b_voice: Option<Voice>,
    /// The telephone-event payload types of the caller's and the callee's leg.
    pub a_event: Option<u8>,
    pub b_event: Option<u8>,
}

/// The switch's own answer to the caller's `offer`, anchored at `ip:port`, when the
/// switch itself takes the call (a conference): the caller's first codec the switch
/// knows, and telephone-event.
pub fn own_answer(offer: &Sdp, ip: IpAddr, port: u16, session_id: &str) -> Option<CallerAnswer> {
    let i = audio_index(offer)?;
    let first = offer.media()[i]
        .codecs()
        .into_iter()
        .find(|c| !c.is_telephone_event() && is_known(c))?;
    let mut ports = vec![0; i + 1];
    ports[i] = port;
    let sdp = answer(
        offer,
        &AnswerOptions {
            origin: Origin::new("pbx", session_id, 1, ip),
            address: ip,
            ports: &ports,
            codecs: &[first.spec()],
            telephone_event: true,
            direction: Default::default(),
        },
    );
    Some(CallerAnswer {
        a_voice: voice_of(&sdp),
        b_voice: voice_of(&sdp),
        a_event: event_pt(&sdp),
        b_event: None,
        sdp,
    })
}

/// The switch's answer to the caller's `offer`, anchored at `ip:port`, for the
/// device's answer `callee`: the device's codec when the caller offered it, else the
/// caller's first codec the switch knows.
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
        // Transcoded: the caller's first codec the switch knows, alone.
        let first = offer.media()[i]
            .codecs()
            .into_iter()
            .find(|c| !c.is_telephone_event() && is_known(c))?;
        sdp = answer(offer, &opts(&[first.spec()]));
    }
    let ptime = |s: &Sdp| audio_index(s).and_then(|k| s.media()[k].ptime());
    Some(CallerAnswer {
        a_voice: voice_of(&sdp),
        b_voice: b_codec.and_then(|c| voice(&c, ptime(callee))),
        a_event: event_pt(&sdp),
        b_event: event_pt(callee),
        sdp,
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
        assert_eq!(offer.media()[0].payload_types(), vec![8, 0, 9, 111, 101]);
        assert_eq!(offer.media()[0].port(), 20002);
        assert_eq!(
            offer.media_connection(0).unwrap().address,
            "203.0.113.5".to_string()
        );
        let both = sdp("0 8 101", "a=rtpmap:101 telephone-event/8000\r\n");
        assert_eq!(
            callee_offer(&both, ip, 1, "7", &[]).unwrap().media()[0].payload_types(),
            vec![0, 8, 9, 111, 101]
        );
        let g729 = sdp("18", "");
        assert!(callee_offer(&g729, ip, 1, "7", &[]).is_none());
    }

    #[test]
    fn callee_offer_follows_the_line_groups_priority() {
        let ip: IpAddr = "203.0.113.5".parse().unwrap();
        let both = sdp("0 8", "");
        let pts = |priority: &[&str]| {
            let p: Vec<String> = priority.iter().map(|s| s.to_string()).collect();
            callee_offer(&both, ip, 1, "7", &p).unwrap().media()[0].payload_types()
        };
        assert_eq!(pts(&["PCMA", "PCMU"]), vec![8, 0, 9, 111, 101]);
        assert_eq!(pts(&["opus", "pcma"]), vec![111, 8, 0, 9, 101]);
        assert_eq!(pts(&["PCMU"]), vec![0, 8, 9, 111, 101]);
        assert_eq!(
            pts(&[]),
            vec![0, 8, 9, 111, 101],
            "no list: the caller's order"
        );
    }

    #[test]
    fn caller_answer_keeps_the_callees_codec_or_transcodes() {
        let ip: IpAddr = "203.0.113.5".parse().unwrap();
        let pcmu_only = sdp("0 101", "a=rtpmap:101 telephone-event/8000\r\n");
        // The caller offered only PCMA: it gets PCMA, the callee talks PCMU.
        let pts = |a: &CallerAnswer| (a.a_voice.map(|v| v.pt), a.b_voice.map(|v| v.pt));
        let a = caller_answer(&sdp("8", ""), &pcmu_only, ip, 20000, "7").unwrap();
        assert_eq!(pts(&a), (Some(8), Some(0)));
        assert_eq!(a.sdp.media()[0].port(), 20000);
        // The caller offered both: it gets the callee's choice, nothing to convert.
        let a = caller_answer(&sdp("8 0", ""), &pcmu_only, ip, 20000, "7").unwrap();
        assert_eq!(pts(&a), (Some(0), Some(0)));
        // Opus against a PCMU device: the caller keeps Opus, the relay transcodes.
        let opus = sdp(
            "96 101",
            "a=rtpmap:96 opus/48000/2\r\na=rtpmap:101 telephone-event/8000\r\n",
        );
        let a = caller_answer(&opus, &pcmu_only, ip, 20000, "7").unwrap();
        assert_eq!(pts(&a), (Some(96), Some(0)));
        assert_eq!(a.a_voice.unwrap().kind.name(), "opus");
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

#[cfg(test)]
mod offers {
    use super::*;

    #[test]
    fn an_opus_caller_offers_its_own_numbering_and_every_other_codec() {
        let ip: IpAddr = "203.0.113.5".parse().unwrap();
        let text = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 111 9\r\na=rtpmap:111 opus/48000/2\r\na=fmtp:111 stereo=1\r\n";
        let caller = Sdp::parse(text.as_bytes()).unwrap();
        let offer = callee_offer(&caller, ip, 1, "7", &[]).unwrap();
        let m = &offer.media()[0];
        assert_eq!(m.payload_types(), vec![111, 9, 0, 8, 101]);
        assert_eq!(
            m.fmtp(111),
            Some("stereo=1"),
            "the caller's parameters go along"
        );
        let v = voice_of(&offer).unwrap();
        assert_eq!((v.pt, v.kind.name()), (111, "opus"));
    }
}
