//! Hostile input over real sockets: the switch answers 400 where it can, drops what it
//! cannot answer, and keeps serving.

use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::time::Duration;

use crate::common::sip_client::SipClient;
use crate::common::{temp_dir, Pbx};
use engine::sip::Message;

fn options_works(pbx: &Pbx) {
    let mut c = SipClient::udp(pbx.addr);
    let local = c.local;
    let text = format!("OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bKok;rport\r\nFrom: <sip:x@127.0.0.1>;tag=1\r\nTo: <sip:127.0.0.1>\r\nCall-ID: alive\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n");
    c.send_raw(text.as_bytes());
    assert_eq!(c.recv().expect("still serving").code(), Some(200));
}

#[test]
fn rfc4475_messages_over_udp_never_stop_the_switch() {
    let dir = temp_dir();
    let pbx = Pbx::start(dir.path());
    let corpus = concat!(env!("CARGO_MANIFEST_DIR"), "/engine/tests/data/rfc4475");
    let manifest = std::fs::read_to_string(format!("{corpus}/MANIFEST.tsv")).unwrap();
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let mut answered_400 = 0;
    for line in manifest.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        let bytes = std::fs::read(format!("{corpus}/{}", cols[0])).unwrap();
        sock.send_to(&bytes, pbx.addr).unwrap();
        // Whatever comes back must be a well-formed response.
        let mut buf = [0u8; 65536];
        while let Ok((n, _)) = sock.recv_from(&mut buf) {
            let m = Message::parse(buf[..n].to_vec()).expect("valid response");
            if cols[3] == "reject" && m.code() == Some(400) {
                answered_400 += 1;
            }
        }
    }
    // Their Via headers name other hosts, so most answers go there, not to us; what
    // matters is that the switch is still serving.
    let _ = answered_400;
    options_works(&pbx);
}

#[test]
fn malformed_request_with_a_usable_via_gets_400_with_the_reason() {
    let dir = temp_dir();
    let pbx = Pbx::start(dir.path());
    let mut c = SipClient::udp(pbx.addr);
    let local = c.local;
    let bad = format!("REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bKbad;rport\r\nFrom: <sip:100@127.0.0.1>;tag=1\r\nTo: <sip:100@127.0.0.1>\r\nCall-ID: bad\r\nCSeq: 99999999999 REGISTER\r\nContent-Length: 0\r\n\r\n");
    c.send_raw(bad.as_bytes());
    let resp = c.recv().unwrap();
    assert_eq!(resp.code(), Some(400));
    assert!(
        resp.reason().unwrap().contains("CSeq"),
        "{:?}",
        resp.reason()
    );
    // Missing mandatory headers: 400 naming the header.
    let bad = format!("OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bKnofrom;rport\r\nTo: <sip:100@127.0.0.1>\r\nCall-ID: nofrom\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n");
    c.send_raw(bad.as_bytes());
    let resp = c.recv().unwrap();
    assert_eq!(
        (resp.code(), resp.reason()),
        (Some(400), Some("Missing From"))
    );
    // An oversized datagram gets 513.
    let big = format!("OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bKbig;rport\r\nFrom: <sip:x@127.0.0.1>;tag=1\r\nTo: <sip:127.0.0.1>\r\nCall-ID: big\r\nCSeq: 1 OPTIONS\r\nX-Pad: {}\r\nContent-Length: 0\r\n\r\n", "a".repeat(40_000));
    c.send_raw(big.as_bytes());
    assert_eq!(c.recv().unwrap().code(), Some(513));
    options_works(&pbx);
}

#[test]
fn a_sips_request_uri_over_plain_udp_is_refused_with_416() {
    let dir = temp_dir();
    let pbx = Pbx::start(dir.path());
    let mut c = SipClient::udp(pbx.addr);
    let local = c.local;
    for (method, uri) in [
        ("REGISTER", "sips:127.0.0.1"),
        ("INVITE", "sips:101@127.0.0.1"),
    ] {
        let text = format!("{method} {uri} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bKs{method};rport\r\nFrom: <sips:100@127.0.0.1>;tag=1\r\nTo: <sips:100@127.0.0.1>\r\nCall-ID: sips-{method}\r\nCSeq: 1 {method}\r\nContact: <sips:100@{local}>\r\nContent-Length: 0\r\n\r\n");
        c.send_raw(text.as_bytes());
        let resp = c.recv().expect("an answer");
        assert_eq!(resp.code(), Some(416), "{method}");
        let warning = resp.values_named("Warning").next().map(str::to_owned);
        assert!(
            warning.as_deref().is_some_and(|w| w.contains("TLS")),
            "{method}: {warning:?}"
        );
    }
    options_works(&pbx);
}

#[test]
fn garbage_on_tcp_closes_that_connection_only() {
    let dir = temp_dir();
    let pbx = Pbx::start(dir.path());
    let mut s = TcpStream::connect(pbx.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let mut junk: Vec<u8> = (0..70_000u32).map(|i| (i * 7 % 251) as u8).collect();
    junk.retain(|&b| b != b'\r' && b != b'\n');
    s.write_all(&junk).unwrap();
    let mut buf = Vec::new();
    // The switch gives up on the stream and closes it.
    let _ = s.read_to_end(&mut buf);
    // A well-behaved TCP client on another connection is served.
    let mut c = SipClient::tcp(pbx.addr);
    let local = c.local;
    c.send_raw(format!("OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP {local};branch=z9hG4bKt\r\nFrom: <sip:x@127.0.0.1>;tag=1\r\nTo: <sip:127.0.0.1>\r\nCall-ID: tcp-alive\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n").as_bytes());
    assert_eq!(c.recv().unwrap().code(), Some(200));
    // A bad message inside good framing is answered 400 on the same connection.
    c.send_raw(format!("OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP {local};branch=z9hG4bKt2\r\nFrom: <sip:x@127.0.0.1>;tag=1\r\nTo: <sip:127.0.0.1>\r\nCall-ID: tcp-bad\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n").as_bytes());
    assert_eq!(c.recv().unwrap().code(), Some(400));
    options_works(&pbx);
}
