//! Black-box registration tests: the real `pbx` binary on loopback, driven by SIPp and
//! by the tests' own SIP client.

use std::time::Duration;

use crate::common::sip_client::{contacts, SipClient};
use crate::common::{free_port, sipp, temp_dir, Pbx};
use engine::auth::Algorithm;
use engine::sip::HeaderName;

fn fetch(pbx: &Pbx, user: &str) -> Vec<String> {
    let mut c = SipClient::udp(pbx.addr);
    let resp = c.register(
        user,
        &format!("secret{user}"),
        "127.0.0.1",
        None,
        None,
        Algorithm::Md5,
    );
    assert_eq!(resp.code(), Some(200));
    contacts(&resp)
}

fn inject(user: &str, password: &str, expires: u32) -> Vec<String> {
    vec![format!("{user};{password};127.0.0.1;{expires}")]
}

#[test]
fn sipp_registers_with_digest_over_udp_and_tcp() {
    let dir = temp_dir();
    let pbx = Pbx::start(dir.path());
    let (pu, pt) = (free_port(), free_port());
    let udp = sipp::run(
        pbx.addr,
        "register_auth.xml",
        &inject("100", "secret100", 600),
        "u1",
        pu,
        dir.path(),
    );
    assert!(udp.success, "SIPp REGISTER over UDP");
    let tcp = sipp::run(
        pbx.addr,
        "register_auth.xml",
        &inject("101", "secret101", 600),
        "t1",
        pt,
        dir.path(),
    );
    assert!(tcp.success, "SIPp REGISTER over TCP");
    assert_eq!(
        fetch(&pbx, "100"),
        vec![format!("sip:100@127.0.0.1:{pu};transport=UDP")]
    );
    assert_eq!(
        fetch(&pbx, "101"),
        vec![format!("sip:101@127.0.0.1:{pt};transport=TCP")]
    );
}

#[test]
fn sipp_wrong_password_is_refused_and_nothing_is_bound() {
    let dir = temp_dir();
    let pbx = Pbx::start(dir.path());
    let run = sipp::run(
        pbx.addr,
        "register_badpass.xml",
        &inject("103", "not-the-password", 600),
        "u1",
        free_port(),
        dir.path(),
    );
    assert!(run.success, "wrong password gets 403");
    assert!(fetch(&pbx, "103").is_empty());
}

#[test]
fn sipp_unregisters_with_expires_zero() {
    let dir = temp_dir();
    let pbx = Pbx::start(dir.path());
    let port = free_port();
    assert!(
        sipp::run(
            pbx.addr,
            "register_auth.xml",
            &inject("104", "secret104", 600),
            "u1",
            port,
            dir.path()
        )
        .success
    );
    assert_eq!(fetch(&pbx, "104").len(), 1);
    assert!(
        sipp::run(
            pbx.addr,
            "unregister.xml",
            &inject("104", "secret104", 0),
            "u1",
            port,
            dir.path()
        )
        .success
    );
    assert!(fetch(&pbx, "104").is_empty());
}

#[test]
fn several_contacts_on_one_number_all_stay_bound() {
    let dir = temp_dir();
    let pbx = Pbx::start(dir.path());
    let (a, b) = (free_port(), free_port());
    assert!(
        sipp::run(
            pbx.addr,
            "register_auth.xml",
            &inject("105", "secret105", 600),
            "u1",
            a,
            dir.path()
        )
        .success
    );
    assert!(
        sipp::run(
            pbx.addr,
            "register_auth.xml",
            &inject("105", "secret105", 600),
            "t1",
            b,
            dir.path()
        )
        .success
    );
    let mut got = fetch(&pbx, "105");
    got.sort();
    let mut want = vec![
        format!("sip:105@127.0.0.1:{a};transport=UDP"),
        format!("sip:105@127.0.0.1:{b};transport=TCP"),
    ];
    want.sort();
    assert_eq!(got, want);
}

#[test]
fn bindings_survive_a_restart() {
    let dir = temp_dir();
    let mut pbx = Pbx::start(dir.path());
    let port = free_port();
    assert!(
        sipp::run(
            pbx.addr,
            "register_auth.xml",
            &inject("106", "secret106", 3600),
            "u1",
            port,
            dir.path()
        )
        .success
    );
    pbx.restart();
    assert_eq!(
        fetch(&pbx, "106"),
        vec![format!("sip:106@127.0.0.1:{port};transport=UDP")]
    );
}

#[test]
fn sha256_digest_registers_when_offered() {
    let dir = temp_dir();
    // By default only MD5 is offered (phones that know no SHA-256 refuse the whole
    // challenge otherwise); --digest adds SHA-256.
    let plain = Pbx::start(dir.path());
    let mut c = SipClient::udp(plain.addr);
    let text = c.register_text(
        "107",
        "127.0.0.1",
        Some("<sip:107@127.0.0.1:7000>"),
        None,
        "",
    );
    c.send_raw(text.as_bytes());
    let challenge = c.recv().unwrap();
    let offers: Vec<&str> = challenge.values(HeaderName::WwwAuthenticate).collect();
    assert_eq!(offers.len(), 1);
    assert!(offers[0].contains("algorithm=MD5"));
    drop(plain);
    let pbx = Pbx::start_with(dir.path(), "127.0.0.1:0", &["--digest", "sha-256,md5"]);
    let mut c = SipClient::udp(pbx.addr);
    let contact = format!("<sip:107@{}>", c.local);
    let resp = c.register(
        "107",
        "secret107",
        "localhost",
        Some(&contact),
        Some(300),
        Algorithm::Sha256,
    );
    assert_eq!(resp.code(), Some(200));
    assert_eq!(
        resp.header(HeaderName::Contact),
        Some(format!("{contact};expires=300").as_str())
    );
}

#[test]
fn expiry_negotiation_and_contact_star() {
    let dir = temp_dir();
    let pbx = Pbx::start(dir.path());
    let mut c = SipClient::tcp(pbx.addr);
    let resp = c.register(
        "108",
        "secret108",
        "127.0.0.1",
        Some("<sip:108@127.0.0.1:7000>"),
        Some(5),
        Algorithm::Md5,
    );
    assert_eq!(resp.code(), Some(423));
    assert_eq!(resp.header(HeaderName::MinExpires), Some("60"));
    let resp = c.register(
        "108",
        "secret108",
        "127.0.0.1",
        Some("<sip:108@127.0.0.1:7000>"),
        Some(99_999),
        Algorithm::Md5,
    );
    assert_eq!(resp.code(), Some(200));
    assert!(
        resp.header(HeaderName::Contact)
            .unwrap()
            .ends_with(";expires=3600"),
        "clamped to the maximum"
    );
    let resp = c.register(
        "108",
        "secret108",
        "127.0.0.1",
        Some("*"),
        Some(0),
        Algorithm::Md5,
    );
    assert_eq!(resp.code(), Some(200));
    assert!(contacts(&resp).is_empty());
}

#[test]
fn wrong_domain_unknown_number_options_and_unknown_methods() {
    let dir = temp_dir();
    let pbx = Pbx::start(dir.path());
    let mut c = SipClient::udp(pbx.addr);
    assert_eq!(
        c.register_unauthenticated("100", "elsewhere.example"),
        Some(403)
    );
    // An unknown user is challenged like a known one (no enumeration).
    assert_eq!(c.register_unauthenticated("555", "127.0.0.1"), Some(401));
    let local = c.local;
    for (method, code) in [("OPTIONS", 200), ("FROBNICATE", 501), ("BYE", 481)] {
        let text = format!("{method} sip:100@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bK{method};rport\r\nFrom: <sip:x@127.0.0.1>;tag=1\r\nTo: <sip:100@127.0.0.1>\r\nCall-ID: m-{method}\r\nCSeq: 1 {method}\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n");
        c.send_raw(text.as_bytes());
        let resp = c.recv().unwrap();
        assert_eq!(resp.code(), Some(code), "{method}");
        if method == "OPTIONS" {
            assert!(resp.header(HeaderName::Allow).unwrap().contains("REGISTER"));
            assert_eq!(resp.header(HeaderName::Accept), Some("application/sdp"));
            assert!(resp.header(HeaderName::Supported).is_some());
        }
    }
}

#[test]
fn a_retransmitted_register_gets_the_same_answer() {
    let dir = temp_dir();
    let pbx = Pbx::start(dir.path());
    let mut c = SipClient::udp(pbx.addr);
    let text = c.register_text(
        "100",
        "127.0.0.1",
        Some("<sip:100@127.0.0.1:7000>"),
        None,
        "",
    );
    c.send_raw(text.as_bytes());
    let first = c.recv().unwrap();
    c.send_raw(text.as_bytes());
    let again = c.recv().unwrap();
    assert_eq!(
        first.as_bytes(),
        again.as_bytes(),
        "the transaction replays its response, same nonce"
    );
}

#[test]
fn a_panicking_line_is_restarted_from_the_store_with_its_bindings() {
    let dir = temp_dir();
    let mut pbx = Pbx::start(dir.path());
    let mut c = SipClient::udp(pbx.addr);
    let contact = "<sip:102@127.0.0.1:7002>";
    assert_eq!(
        c.register(
            "102",
            "secret102",
            "127.0.0.1",
            Some(contact),
            Some(600),
            Algorithm::Md5
        )
        .code(),
        Some(200)
    );
    // The test hook (debug builds only) makes the line actor panic on this request.
    let text = c.register_text(
        "102",
        "127.0.0.1",
        Some(contact),
        None,
        "X-Pbx-Test: panic-line\r\n",
    );
    c.set_timeout(Duration::from_millis(500));
    c.send_raw(text.as_bytes());
    assert!(c.recv().is_none(), "the panicking line answers nothing");
    c.set_timeout(Duration::from_secs(3));
    assert!(pbx.is_running());
    assert_eq!(
        fetch(&pbx, "102"),
        vec!["sip:102@127.0.0.1:7002".to_string()]
    );
}

#[test]
fn ipv6_listener_registers_over_udp_and_tcp() {
    let dir = temp_dir();
    let pbx = Pbx::start_with(dir.path(), "[::1]:0", &["--digest", "md5,sha-256"]);
    assert!(pbx.addr.is_ipv6());
    let mut udp = SipClient::udp(pbx.addr);
    let contact = format!("<sip:100@{}>", udp.local);
    assert_eq!(
        udp.register(
            "100",
            "secret100",
            "localhost",
            Some(&contact),
            None,
            Algorithm::Md5
        )
        .code(),
        Some(200)
    );
    let mut tcp = SipClient::tcp(pbx.addr);
    let contact = format!("<sip:101@{};transport=tcp>", tcp.local);
    assert_eq!(
        tcp.register(
            "101",
            "secret101",
            "localhost",
            Some(&contact),
            None,
            Algorithm::Sha256
        )
        .code(),
        Some(200)
    );
}
