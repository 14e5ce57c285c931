use std::net::IpAddr;

use super::*;

/// What a Yealink desk phone offers: PCMU, PCMA, G722, telephone-event, ptime 20.
pub(crate) const YEALINK_OFFER: &str = "v=0\r\n\
o=- 20518 20518 IN IP4 192.168.1.21\r\n\
s=SDP data\r\n\
c=IN IP4 192.168.1.21\r\n\
t=0 0\r\n\
m=audio 11780 RTP/AVP 0 8 9 18 101\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:9 G722/8000\r\n\
a=rtpmap:18 G729/8000\r\n\
a=fmtp:18 annexb=no\r\n\
a=ptime:20\r\n\
a=sendrecv\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-15\r\n";

/// A Snom answer with LF line endings, media-level c= and an unknown attribute.
const SNOM_ANSWER: &str = "v=0\n\
o=root 1210580137 1210580138 IN IP4 192.168.1.33\n\
s=call\n\
t=0 0\n\
m=audio 62418 RTP/AVP 8 101\n\
c=IN IP4 192.168.1.33\n\
a=rtpmap:8 PCMA/8000\n\
a=rtpmap:101 telephone-event/8000\n\
a=fmtp:101 0-16\n\
a=x-snom-custom:1\n\
a=ptime:20\n\
a=sendrecv\n";

fn switch_ip() -> IpAddr {
    "203.0.113.5".parse().unwrap()
}

#[test]
fn round_trips_byte_exact() {
    for text in [
        YEALINK_OFFER,
        SNOM_ANSWER,
        "v=0\r\no=- 1 1 IN IP4 h\r\ns= \r\nt=0 0\r\n\r\n",
        "v=0\no=- 1 1 IN IP4 h\ns=x",
    ] {
        let sdp = Sdp::parse(text.as_bytes()).unwrap();
        assert_eq!(String::from_utf8(sdp.to_bytes()).unwrap(), text);
    }
}

#[test]
fn typed_access() {
    let sdp = Sdp::parse(YEALINK_OFFER.as_bytes()).unwrap();
    let o = sdp.origin().unwrap();
    assert_eq!((o.version, o.address.as_str()), (20518, "192.168.1.21"));
    assert_eq!(
        sdp.connection().unwrap().ip(),
        Some("192.168.1.21".parse().unwrap())
    );
    let m = &sdp.media()[0];
    assert_eq!((m.kind(), m.port(), m.proto()), ("audio", 11780, "RTP/AVP"));
    assert_eq!(m.payload_types(), vec![0, 8, 9, 18, 101]);
    assert_eq!(m.ptime(), Some(20));
    assert_eq!(m.fmtp(101), Some("0-15"));
    assert_eq!(m.direction(), Some(Direction::SendRecv));
    let names: Vec<_> = m.codecs().into_iter().map(|c| c.name).collect();
    assert_eq!(names, ["PCMU", "PCMA", "G722", "G729", "telephone-event"]);
    assert_eq!(m.telephone_event().unwrap().pt, 101);

    let snom = Sdp::parse(SNOM_ANSWER.as_bytes()).unwrap();
    assert_eq!(snom.connection(), None);
    assert_eq!(snom.media_connection(0).unwrap().address, "192.168.1.33");
    assert_eq!(
        snom.media()[0].attributes("x-snom-custom").next(),
        Some("1")
    );
}

#[test]
fn static_payload_types_without_rtpmap() {
    let sdp = Sdp::parse(
        b"v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nt=0 0\r\nm=audio 4000 RTP/AVP 8 0 97\r\na=inactive\r\n",
    )
    .unwrap();
    let codecs = sdp.media()[0].codecs();
    assert_eq!(codecs.len(), 2, "97 has no rtpmap and is not static");
    assert_eq!((codecs[0].pt, codecs[0].name.as_str()), (8, "PCMA"));
    assert_eq!(sdp.direction(0), Direction::Inactive);
}

#[test]
fn anchor_rewrites_address_port_and_version() {
    let mut sdp = Sdp::parse(SNOM_ANSWER.as_bytes()).unwrap();
    sdp.anchor(switch_ip(), &[20002]);
    let text = String::from_utf8(sdp.to_bytes()).unwrap();
    assert_eq!(
        text,
        "v=0\n\
o=root 1210580137 1210580139 IN IP4 203.0.113.5\n\
s=call\n\
c=IN IP4 203.0.113.5\n\
t=0 0\n\
m=audio 20002 RTP/AVP 8 101\n\
c=IN IP4 203.0.113.5\n\
a=rtpmap:8 PCMA/8000\n\
a=rtpmap:101 telephone-event/8000\n\
a=fmtp:101 0-16\n\
a=x-snom-custom:1\n\
a=ptime:20\n\
a=sendrecv\n"
    );
    let v6: IpAddr = "2001:db8::5".parse().unwrap();
    sdp.set_connection_address(v6);
    assert_eq!(sdp.connection().unwrap().to_string(), "IN IP6 2001:db8::5");
}

#[test]
fn hold_and_resume() {
    let mut sdp = Sdp::parse(YEALINK_OFFER.as_bytes()).unwrap();
    sdp.set_hold(true);
    assert_eq!(sdp.direction(0), Direction::SendOnly);
    assert_eq!(
        sdp.media()[0]
            .lines()
            .iter()
            .filter(|l| l.value == "sendonly")
            .count(),
        1
    );
    sdp.set_hold(false);
    assert_eq!(sdp.direction(0), Direction::SendRecv);
    sdp.set_direction(Direction::Inactive);
    assert_eq!(sdp.direction(0), Direction::Inactive);
    // Session-level direction is replaced by media-level ones.
    let mut s = Sdp::parse(
        b"v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nt=0 0\r\na=recvonly\r\nm=audio 4000 RTP/AVP 0\r\n",
    )
    .unwrap();
    assert_eq!(s.direction(0), Direction::RecvOnly);
    s.set_hold(true);
    assert_eq!(s.direction(0), Direction::Inactive);
    assert!(s.session_lines().iter().all(|l| l.kind != b'a'));
}

#[test]
fn answer_keeps_order_intersects_and_keeps_dtmf() {
    let offer = Sdp::parse(YEALINK_OFFER.as_bytes()).unwrap();
    let prefs = [CodecSpec::pcma(), CodecSpec::pcmu()];
    let ans = answer(
        &offer,
        &AnswerOptions {
            origin: Origin::new("pbx", "42", 1, switch_ip()),
            address: switch_ip(),
            ports: &[20000],
            codecs: &prefs,
            telephone_event: true,
            direction: Direction::SendRecv,
        },
    );
    assert_eq!(
        String::from_utf8(ans.to_bytes()).unwrap(),
        "v=0\r\n\
o=pbx 42 1 IN IP4 203.0.113.5\r\n\
s=-\r\n\
c=IN IP4 203.0.113.5\r\n\
t=0 0\r\n\
m=audio 20000 RTP/AVP 0 8 101\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-15\r\n\
a=ptime:20\r\n\
a=sendrecv\r\n"
    );
}

#[test]
fn answer_rejects_what_does_not_match() {
    let offer = Sdp::parse(
        b"v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n\
m=audio 4000 RTP/AVP 18 101\r\na=rtpmap:101 telephone-event/8000\r\n\
m=video 4002 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n\
m=audio 4004 RTP/AVP 0\r\na=sendonly\r\n",
    )
    .unwrap();
    let ans = answer(
        &offer,
        &AnswerOptions {
            origin: Origin::new("pbx", "1", 1, switch_ip()),
            address: switch_ip(),
            ports: &[20000, 20002, 20004],
            codecs: &[CodecSpec::pcmu()],
            telephone_event: true,
            direction: Direction::SendRecv,
        },
    );
    let lines: Vec<_> = ans.media().iter().map(|m| m.line().to_string()).collect();
    assert_eq!(
        lines,
        [
            "audio 0 RTP/AVP 18 101",
            "video 0 RTP/AVP 96",
            "audio 20004 RTP/AVP 0"
        ]
    );
    assert_eq!(ans.direction(2), Direction::RecvOnly, "answer to sendonly");
    assert!(ans.has_active_audio());
}

#[test]
fn codec_preference_filter() {
    let mut sdp = Sdp::parse(YEALINK_OFFER.as_bytes()).unwrap();
    assert!(sdp.filter_codecs(&[CodecSpec::g722(), CodecSpec::pcmu()], true));
    let m = &sdp.media()[0];
    assert_eq!(m.payload_types(), vec![9, 0, 101]);
    assert!(m.fmtp(18).is_none() && m.rtpmap(8).is_none());
    assert_eq!(m.fmtp(101), Some("0-15"));

    let mut sdp = Sdp::parse(YEALINK_OFFER.as_bytes()).unwrap();
    assert!(!sdp.filter_codecs(&[CodecSpec::new("opus", 48000)], true));
    assert_eq!(sdp.media()[0].port(), 0);
}

#[test]
fn malformed_is_an_error() {
    for bad in [
        &b""[..],
        b"o=- 1 1 IN IP4 h\r\n",
        b"v=0\r\no=- 1 1 IN IP4 h\r\nm=audio x RTP/AVP 0\r\n",
        b"v=0\r\no=- 1 1 IN IP4 h\r\n\r\ns=-\r\n",
        b"v=0\r\no=- 1 1 IN IP4 h\r\nXY\r\n",
        b"v=0\r\ns=-\r\n",
        b"v=0\r\no=- 1 1 IN IP4 h\r\nc=IN IP4\r\n",
        b"v=0\r\no=- 1 1 IN IP4 h\r\ns=\xff\r\n",
    ] {
        assert!(
            Sdp::parse(bad).is_err(),
            "{:?}",
            String::from_utf8_lossy(bad)
        );
    }
}

mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            if let Ok(mut sdp) = Sdp::parse(&bytes) {
                prop_assert_eq!(sdp.to_bytes(), bytes);
                sdp.anchor(switch_ip(), &[1, 2, 3]);
                sdp.set_hold(true);
                sdp.filter_codecs(&[CodecSpec::pcmu()], true);
                prop_assert!(Sdp::parse(&sdp.to_bytes()).is_ok());
            }
        }

        #[test]
        fn line_soup_never_panics(lines in proptest::collection::vec(
            "[vosctma]=[ -~]{0,30}", 0..12), lf in any::<bool>()) {
            let eol = if lf { "\n" } else { "\r\n" };
            let text = format!("v=0{eol}o=- 1 1 IN IP4 h{eol}{}", lines.iter().map(|l| format!("{l}{eol}")).collect::<String>());
            if let Ok(mut sdp) = Sdp::parse(text.as_bytes()) {
                prop_assert_eq!(sdp.to_bytes(), text.as_bytes());
                let offer = sdp.clone();
                let _ = answer(&offer, &AnswerOptions {
                    origin: Origin::new("pbx", "1", 1, switch_ip()),
                    address: switch_ip(),
                    ports: &[20000, 20002],
                    codecs: &[CodecSpec::pcmu(), CodecSpec::pcma()],
                    telephone_event: true,
                    direction: Direction::SendRecv,
                });
                sdp.anchor(switch_ip(), &[20000]);
                sdp.set_hold(true);
                prop_assert!(Sdp::parse(&sdp.to_bytes()).is_ok());
            }
        }
    }
}
