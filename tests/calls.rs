//! Calls through the switch, black-box: SIPp as the calling phone (UAC) and as the
//! called phone (UAS), both lines of the demo tenant.

mod common;

use std::time::Duration;

use common::sip_client::SipClient;
use common::{free_port, sipp, temp_dir, Pbx};
use engine::auth::Algorithm;
use engine::sip::HeaderName;

/// Registers `user` with a contact on `port`, from `port`, then frees the port for the
/// device (SIPp) that will answer there.
fn register_device(pbx: &Pbx, user: &str, port: u16) {
    let mut c = SipClient::udp_on(pbx.addr, port);
    let contact = format!("<sip:{user}@127.0.0.1:{port}>");
    let resp = c.register(
        user,
        &format!("secret{user}"),
        "127.0.0.1",
        Some(&contact),
        Some(600),
        Algorithm::Md5,
    );
    assert_eq!(resp.code(), Some(200));
}

/// The journal rows of the demo tenant, newest first, after the switch stopped.
fn journal(pbx: &mut Pbx) -> Vec<actors::store::CallRecord> {
    pbx.stop();
    let store = actors::store::Store::open(&pbx.data_dir).unwrap();
    let t = store.tenant("demo").unwrap();
    store.calls(t.id, 10).unwrap()
}

/// Waits until a device (SIPp) has bound `port`.
fn wait_bound(port: u16) {
    for _ in 0..200 {
        if std::net::UdpSocket::bind(("127.0.0.1", port)).is_err() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("nothing bound port {port}");
}

/// A phone of the tests' own: places a call with digest auth and reports what came.
struct Caller {
    c: SipClient,
    invite: String,
    branch: String,
    to_tag: Option<String>,
}

impl Caller {
    /// Sends the INVITE (answering the 407) and returns the responses up to `until`
    /// (a status code) or the first final one.
    fn call(pbx: &Pbx, user: &str, callee: &str) -> Caller {
        let mut c = SipClient::udp(pbx.addr);
        let local = c.local;
        let sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";
        let invite = |branch: &str, seq: u32, auth: &str| {
            format!(
                "INVITE sip:{callee}@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch={branch};rport\r\nFrom: <sip:{user}@127.0.0.1>;tag=caller1\r\nTo: <sip:{callee}@127.0.0.1>\r\nCall-ID: call-{local}\r\nCSeq: {seq} INVITE\r\nContact: <sip:{user}@{local}>\r\nMax-Forwards: 70\r\n{auth}Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
                sdp.len()
            )
        };
        c.send_raw(invite("z9hG4bKc1", 1, "").as_bytes());
        let challenge = loop {
            let m = c.recv().expect("a challenge");
            if m.code() == Some(407) {
                break m;
            }
        };
        let ack = format!("ACK sip:{callee}@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bKc1;rport\r\nFrom: <sip:{user}@127.0.0.1>;tag=caller1\r\nTo: {}\r\nCall-ID: call-{local}\r\nCSeq: 1 ACK\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n", challenge.header(HeaderName::To).unwrap());
        c.send_raw(ack.as_bytes());
        let auth = common::sip_client::proxy_authorization(
            &challenge,
            Algorithm::Md5,
            user,
            &format!("secret{user}"),
            &format!("sip:{callee}@127.0.0.1"),
            "INVITE",
        );
        let text = invite("z9hG4bKc2", 2, &format!("Proxy-Authorization: {auth}\r\n"));
        c.send_raw(text.as_bytes());
        Caller {
            c,
            invite: text,
            branch: "z9hG4bKc2".into(),
            to_tag: None,
        }
    }

    /// Reads responses until one with `code` (or a final one) arrives.
    fn expect(&mut self, code: u16) -> u16 {
        loop {
            let m = self
                .c
                .recv()
                .unwrap_or_else(|| panic!("no response while waiting for {code}"));
            let got = m.code().unwrap_or(0);
            if m.cseq().map(|c| c.method) != Some("INVITE") {
                continue; // e.g. the 200 to our CANCEL
            }
            if let Some(t) = m.to().and_then(|t| t.tag().map(str::to_owned)) {
                self.to_tag = Some(t);
            }
            if got == code || got >= 200 {
                return got;
            }
        }
    }

    /// CANCELs the INVITE.
    fn cancel(&mut self) {
        let local = self.c.local;
        let first = self
            .invite
            .lines()
            .next()
            .unwrap()
            .replace("INVITE", "CANCEL");
        let text = format!("{first}\r\nVia: SIP/2.0/UDP {local};branch={};rport\r\nFrom: <sip:100@127.0.0.1>;tag=caller1\r\nTo: {}\r\nCall-ID: call-{local}\r\nCSeq: 2 CANCEL\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n", self.branch, self.invite.lines().find(|l| l.starts_with("To:")).unwrap().trim_start_matches("To: "));
        self.c.send_raw(text.as_bytes());
    }
}

#[test]
fn basic_call_with_407_ringing_answer_and_bye() {
    let dir = temp_dir();
    let mut pbx = Pbx::start(dir.path());
    let callee_port = free_port();
    register_device(&pbx, "101", callee_port);
    let uas = sipp::spawn_uas("call_callee.xml", 1, "u1", callee_port, dir.path());
    wait_bound(callee_port);
    let caller = sipp::run(
        pbx.addr,
        "call_caller.xml",
        &["100;secret100;101;127.0.0.1".into()],
        "u1",
        free_port(),
        dir.path(),
    );
    let callee = sipp::wait(uas, callee_port, dir.path());
    assert!(caller.success, "caller side of the call");
    assert!(callee.success, "callee side of the call");
    let rows = journal(&mut pbx);
    assert_eq!(rows.len(), 1);
    let r = &rows[0];
    assert_eq!((r.from.as_str(), r.to.as_str()), ("100", "101"));
    assert_eq!(r.disposition, Some(actors::journal::Disposition::Answered));
    assert_eq!(r.answered_by.as_deref(), Some("101"));
    assert_eq!(r.hangup_side, Some(actors::journal::Side::Caller));
    assert!(r.answered_at.is_some() && r.ended_at >= r.answered_at);
}

#[test]
fn callee_busy_gives_486() {
    let dir = temp_dir();
    let mut pbx = Pbx::start(dir.path());
    let port = free_port();
    register_device(&pbx, "102", port);
    let uas = sipp::spawn_uas("callee_busy.xml", 1, "u1", port, dir.path());
    wait_bound(port);
    let mut caller = Caller::call(&pbx, "100", "102");
    assert_eq!(caller.expect(486), 486);
    assert!(sipp::wait(uas, port, dir.path()).success);
    let rows = journal(&mut pbx);
    assert_eq!(
        rows[0].disposition,
        Some(actors::journal::Disposition::Busy)
    );
    assert_eq!(rows[0].cause_code, Some(486));
}

#[test]
fn cancel_before_answer_gives_487_and_cancels_the_device() {
    let dir = temp_dir();
    let mut pbx = Pbx::start(dir.path());
    let port = free_port();
    register_device(&pbx, "103", port);
    let uas = sipp::spawn_uas("callee_cancel.xml", 1, "u1", port, dir.path());
    wait_bound(port);
    let mut caller = Caller::call(&pbx, "100", "103");
    assert_eq!(caller.expect(180), 180);
    caller.cancel();
    assert_eq!(caller.expect(487), 487);
    assert!(
        sipp::wait(uas, port, dir.path()).success,
        "the device got CANCEL and its 487 was ACKed"
    );
    let rows = journal(&mut pbx);
    assert_eq!(
        rows[0].disposition,
        Some(actors::journal::Disposition::Cancelled)
    );
    assert!(rows[0].ring_at.is_some());
}

#[test]
fn fork_rings_every_device_first_answer_wins_others_cancelled() {
    let dir = temp_dir();
    let pbx = Pbx::start(dir.path());
    let (p1, p2) = (free_port(), free_port());
    register_device(&pbx, "104", p1);
    register_device(&pbx, "104", p2);
    let ringing = sipp::spawn_uas("callee_cancel.xml", 1, "u1", p1, dir.path());
    let answering = sipp::spawn_uas("call_callee.xml", 1, "u1", p2, dir.path());
    wait_bound(p1);
    wait_bound(p2);
    let caller = sipp::run(
        pbx.addr,
        "call_caller.xml",
        &["100;secret100;104;127.0.0.1".into()],
        "u1",
        free_port(),
        dir.path(),
    );
    assert!(caller.success);
    assert!(
        sipp::wait(answering, p2, dir.path()).success,
        "the answering device"
    );
    assert!(
        sipp::wait(ringing, p1, dir.path()).success,
        "the other device was cancelled"
    );
}

#[test]
fn unknown_number_404_and_no_device_480() {
    let dir = temp_dir();
    let pbx = Pbx::start(dir.path());
    // 105 exists but has no device: 480; 555 is no extension: 404.
    assert_eq!(Caller::call(&pbx, "100", "105").expect(480), 480);
    assert_eq!(Caller::call(&pbx, "100", "555").expect(404), 404);
}
