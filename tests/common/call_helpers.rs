//! Phones of the tests' own for call tests (copied from `tests/calls.rs` and cut
//! down): a caller that places one call with digest auth, a registered device that
//! sees the switch's INVITEs and answers them as told, and the `pbx` admin command.

use std::path::Path;
use std::process::{Command, Output};

use engine::auth::Algorithm;
use engine::sip::{HeaderName, Message, MessageWriter};

use crate::common::sip_client::{proxy_authorization, SipClient};
use crate::common::{free_port, Pbx};

/// Runs `pbx ARGS --data-dir DIR` and asserts it succeeded.
pub fn pbx_admin(dir: &Path, args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_pbx"))
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "pbx {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The journal rows of the demo tenant, newest first, after the switch stopped.
pub fn journal(pbx: &mut Pbx) -> Vec<actors::store::CallRecord> {
    pbx.stop();
    let store = actors::store::Store::open(&pbx.data_dir).unwrap();
    let t = store.tenant("demo").unwrap();
    store.calls(t.id, 10).unwrap()
}

/// A phone placing one call (demo tenant, password `secret<user>`).
pub struct Caller {
    pub c: SipClient,
    invite: String,
    branch: String,
}

impl Caller {
    /// Sends the INVITE, answers the 407 and sends it again with credentials.
    pub fn call(pbx: &Pbx, user: &str, callee: &str) -> Caller {
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
        let auth = proxy_authorization(
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
        }
    }

    /// Reads responses to the INVITE until one with `code` or a final one arrives.
    pub fn expect(&mut self, code: u16) -> u16 {
        loop {
            let m = self
                .c
                .recv()
                .unwrap_or_else(|| panic!("no response while waiting for {code}"));
            if m.cseq().map(|c| c.method) != Some("INVITE") {
                continue; // e.g. the 200 to our CANCEL
            }
            let got = m.code().unwrap_or(0);
            if got == code || got >= 200 {
                return got;
            }
        }
    }

    /// CANCELs the INVITE.
    pub fn cancel(&mut self) {
        let local = self.c.local;
        let first = self
            .invite
            .lines()
            .next()
            .unwrap()
            .replace("INVITE", "CANCEL");
        let to = self
            .invite
            .lines()
            .find(|l| l.starts_with("To:"))
            .unwrap()
            .trim_start_matches("To: ");
        let text = format!("{first}\r\nVia: SIP/2.0/UDP {local};branch={};rport\r\nFrom: <sip:100@127.0.0.1>;tag=caller1\r\nTo: {to}\r\nCall-ID: call-{local}\r\nCSeq: 2 CANCEL\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n", self.branch);
        self.c.send_raw(text.as_bytes());
    }
}

/// A registered phone of the tests' own that sees the INVITEs the switch sends it.
pub struct Device {
    pub c: SipClient,
}

impl Device {
    /// Registers `user` (demo tenant) from a fresh port and keeps the socket.
    pub fn register(pbx: &Pbx, user: &str) -> Device {
        let mut c = SipClient::udp_on(pbx.addr, free_port());
        let contact = format!("<sip:{user}@{}>", c.local);
        let resp = c.register(
            user,
            &format!("secret{user}"),
            "127.0.0.1",
            Some(&contact),
            Some(600),
            Algorithm::Md5,
        );
        assert_eq!(resp.code(), Some(200));
        Device { c }
    }

    /// The next new INVITE (skipping ACKs and retransmissions of one already seen),
    /// or none within the socket's timeout.
    pub fn next_invite(&mut self, seen: &[Message]) -> Option<Message> {
        loop {
            let m = self.c.recv()?;
            if m.method().map(|x| x.as_str()) != Some("INVITE") {
                continue;
            }
            if seen.iter().any(|s| s.call_id() == m.call_id()) {
                continue;
            }
            return Some(m);
        }
    }

    /// Answers `invite` with `code` (a To tag for anything above 100).
    pub fn respond(&mut self, invite: &Message, code: u16, reason: &str) {
        let mut w = MessageWriter::response_to(invite, code, reason, Some("dev1"));
        w.header("Contact", &format!("<sip:dev@{}>", self.c.local));
        let bytes = w.finish();
        self.c.send_raw(&bytes);
    }
}
