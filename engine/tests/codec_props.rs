//! Property tests of the codec: generated messages parse, print and parse again to the
//! same headers; arbitrary bytes never panic the parser or the framer.

use engine::sip::{frame_stream, HeaderName, Message};
use proptest::prelude::*;

fn token() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9][a-zA-Z0-9.!%*_+`'~-]{0,12}"
}

/// URI user parts: unreserved characters (RFC 3261 §25.1).
fn user() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9][a-zA-Z0-9._!~*'()-]{0,12}"
}

fn host() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z][a-z0-9-]{0,10}(\\.[a-z][a-z0-9-]{0,8}){0,3}",
        (0u8..=255, 0u8..=255, 0u8..=255, 1u8..=254)
            .prop_map(|(a, b, c, d)| format!("{a}.{b}.{c}.{d}")),
        "[0-9a-f]{1,4}(:[0-9a-f]{1,4}){2,7}".prop_map(|h| format!("[{h}]")),
    ]
}

fn display() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        "[a-zA-Z]{1,8}( [a-zA-Z]{1,8}){0,2}".prop_map(|d| format!("{d} ")),
        "[ a-zA-Z0-9,;:<>@]{0,16}".prop_map(|d| format!("\"{}\" ", d.replace('"', "\\\""))),
    ]
}

fn name_addr() -> impl Strategy<Value = String> {
    (
        display(),
        user(),
        host(),
        proptest::option::of(1u16..65535),
        proptest::option::of(token()),
    )
        .prop_map(|(d, u, h, p, tag)| {
            let port = p.map(|p| format!(":{p}")).unwrap_or_default();
            let tag = tag.map(|t| format!(";tag={t}")).unwrap_or_default();
            format!("{d}<sip:{u}@{h}{port};transport=udp>{tag}")
        })
}

/// Separators a phone might put between a header name and its value, folding included.
fn colon() -> impl Strategy<Value = &'static str> {
    prop_oneof![Just(": "), Just(":"), Just(" : "), Just(":\r\n  ")]
}

prop_compose! {
    fn request()(
        method in prop_oneof![Just("INVITE"), Just("REGISTER"), Just("OPTIONS"), Just("BYE")],
        user in user(), h in host(), branch in "[a-zA-Z0-9]{1,16}", via_host in host(),
        from in name_addr(), to in name_addr(), call_id in "[a-zA-Z0-9.@-]{1,24}",
        seq in 0u32..u32::MAX, c1 in colon(), c2 in colon(), compact in any::<bool>(),
        contacts in proptest::collection::vec(name_addr(), 0..3),
        body in "[a-z0-9=. \r\n]{0,64}",
    ) -> String {
        let (v, f, t, i, m, l) = if compact { ("v", "f", "t", "i", "m", "l") } else { ("Via", "From", "To", "Call-ID", "Contact", "Content-Length") };
        let mut s = format!("{method} sip:{user}@{h} SIP/2.0\r\n{v}{c1}SIP/2.0/UDP {via_host};branch=z9hG4bK{branch};rport\r\n{f}{c2}{from}\r\n{t}: {to}\r\n{i}: {call_id}\r\nCSeq: {seq} {method}\r\nMax-Forwards: 70\r\n");
        if !contacts.is_empty() {
            s.push_str(&format!("{m}: {}\r\n", contacts.join(", ")));
        }
        s.push_str(&format!("{l}: {}\r\n\r\n{body}", body.len()));
        s
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn generated_requests_parse_and_round_trip(text in request()) {
        let m = Message::parse(text.clone().into_bytes()).map_err(|e| TestCaseError::fail(format!("{e}: {text:?}")))?;
        prop_assert!(m.top_via().is_some());
        prop_assert!(m.from().is_some() && m.to().is_some() && m.cseq().is_some());
        let mut out = Vec::new();
        m.print(&mut out);
        let again = Message::parse(out).unwrap();
        let a: Vec<_> = m.header_lines().collect();
        let b: Vec<_> = again.header_lines().collect();
        prop_assert_eq!(a, b);
        prop_assert_eq!(m.body(), again.body());
        prop_assert_eq!(m.contacts().map(|c| c.len()), again.contacts().map(|c| c.len()));
        let raw_cl: usize = m.header(HeaderName::ContentLength).unwrap().parse().unwrap();
        prop_assert_eq!(raw_cl, m.body().len());
    }

    #[test]
    fn stream_framing_finds_the_same_message(text in request()) {
        let mut stream = text.clone().into_bytes();
        stream.extend_from_slice(b"\r\n\r\nOPTIONS");
        match frame_stream(&stream, 65_535).unwrap() {
            engine::sip::framing::Frame::Message(n) => prop_assert_eq!(n, text.len()),
            other => prop_assert!(false, "unexpected {:?}", other),
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = Message::parse(bytes.clone());
        let _ = frame_stream(&bytes, 1_000);
    }

    #[test]
    fn mutated_requests_never_panic(text in request(), pos in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let mut bytes = text.into_bytes();
        let i = pos.index(bytes.len());
        bytes[i] = byte;
        if let Ok(m) = Message::parse(bytes) {
            // Whatever parses can be read through every typed view.
            let _ = (m.top_via(), m.from(), m.to(), m.cseq(), m.contacts(), m.expires(), m.uri());
        }
    }
}
