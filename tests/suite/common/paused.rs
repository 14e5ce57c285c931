//! An in-process switch on a paused tokio clock, and a phone of raw SIP on a real
//! loopback socket: time only moves while everything waits, so timers of seconds or
//! minutes take no real time and cannot flake.

use std::net::SocketAddr;

use actors::store::{NewLine, Store};
use actors::{Switch, SwitchConfig};
use engine::auth::Algorithm;
use engine::sip::{HeaderName, Message, MessageWriter};
use tokio::net::UdpSocket;

use super::sip_client::authorization;

/// A phone of this test: one socket, messages in and out.
pub struct Phone {
    pub sock: UdpSocket,
    pub switch: SocketAddr,
}

impl Phone {
    pub async fn new(switch: SocketAddr) -> Phone {
        Phone {
            sock: UdpSocket::bind("127.0.0.1:0").await.unwrap(),
            switch,
        }
    }

    pub fn local(&self) -> SocketAddr {
        self.sock.local_addr().unwrap()
    }

    pub async fn send(&self, text: &[u8]) {
        self.sock.send_to(text, self.switch).await.unwrap();
    }

    /// The next message (no timeout: on a paused clock time moves only while all wait).
    pub async fn recv(&self) -> Message {
        let mut buf = vec![0u8; 65536];
        let (n, _) = self.sock.recv_from(&mut buf).await.unwrap();
        Message::parse(buf[..n].to_vec()).unwrap()
    }

    /// The next request of `method` or response with `code`, skipping others.
    pub async fn wait_for(&self, pred: impl Fn(&Message) -> bool) -> Message {
        loop {
            let m = self.recv().await;
            if pred(&m) {
                return m;
            }
        }
    }

    /// The phone's account as `user` (the shared phone library of the simulator).
    pub fn account<'a>(&self, user: &'a str) -> sim::ua::Account<'a> {
        sim::ua::Account {
            user,
            domain: "127.0.0.1",
            local: self.local(),
            transport: "UDP",
        }
    }

    pub async fn register(&self, user: &str) {
        let call_id = format!("reg-{}", self.local());
        let text = |cseq: u32, auth: &str| {
            let branch = format!("z9hG4bKr{cseq}");
            let ids = sim::ua::Ids {
                call_id: &call_id,
                cseq,
                branch: &branch,
                from_tag: "r",
            };
            let mut w = self.account(user).register(&ids, None, Some(600));
            sim::ua::raw_headers(&mut w, auth);
            w.finish()
        };
        self.send(&text(1, "")).await;
        let challenge = self.recv().await;
        assert_eq!(challenge.code(), Some(401));
        let auth = authorization(
            &challenge,
            Algorithm::Md5,
            user,
            &format!("secret{user}"),
            "sip:127.0.0.1",
            "REGISTER",
        );
        self.send(&text(2, &format!("Authorization: {auth}\r\n")))
            .await;
        assert_eq!(self.recv().await.code(), Some(200));
    }

    /// Calls `callee` as `user`, answering the 407.
    pub async fn call(&self, user: &str, callee: &str) {
        let local = self.local();
        let account = self.account(user);
        let sdp = sim::ua::sdp_offer(local.ip(), 40000, &[(0, "PCMU")], None, 1);
        let call_id = format!("call-{local}");
        let ids = |branch: &'static str, cseq| sim::ua::Ids {
            call_id: &call_id,
            cseq,
            branch,
            from_tag: "c",
        };
        let invite = |branch: &'static str, seq: u32, auth: &str| {
            let mut w = account.invite(callee, "", &ids(branch, seq));
            sim::ua::raw_headers(&mut w, auth);
            w.body("application/sdp", sdp.as_bytes())
        };
        self.send(&invite("z9hG4bKi1", 1, "")).await;
        let challenge = self.wait_for(|m| m.code() == Some(407)).await;
        let to = challenge.header(HeaderName::To).unwrap();
        let ruri = format!("sip:{callee}@127.0.0.1");
        let ack = account.request("ACK", &ruri, to, &ids("z9hG4bKi1", 1));
        self.send(&ack.finish()).await;
        let auth = authorization(
            &challenge,
            Algorithm::Md5,
            user,
            &format!("secret{user}"),
            &ruri,
            "INVITE",
        );
        let text = invite("z9hG4bKi2", 2, &format!("Proxy-Authorization: {auth}\r\n"));
        self.send(&text).await;
    }

    pub async fn respond(&self, req: &Message, code: u16, reason: &str) {
        let mut w = MessageWriter::response_to(req, code, reason, Some("dev"));
        w.header("Contact", &format!("<sip:dev@{}>", self.local()));
        self.send(&w.finish()).await;
    }
}

pub fn is_request(m: &Message, method: &str) -> bool {
    m.method().map(|x| x.as_str()) == Some(method)
}

/// A switch with tenant `demo` (domain 127.0.0.1), these lines (password
/// `secret<ext>`) and, when given, its dialplan.
pub async fn switch_on_lines(
    dir: &std::path::Path,
    plan: Option<&dialplan::TenantPlan>,
    lines: &[&str],
    media_timeout: Option<std::time::Duration>,
) -> Switch {
    let mut config = config_on_lines(dir, plan, lines);
    config.media_timeout = media_timeout;
    // A line woken from hibernation reads the store, and the paused clock jumps
    // meanwhile: the timers these tests measure would move.
    config.hibernate_lines = false;
    Switch::start(config).await.unwrap()
}

/// A switch on `lines` whose idle lines hibernate (as `pbx serve` runs).
pub async fn switch_hibernating(dir: &std::path::Path, lines: &[&str]) -> Switch {
    let mut config = config_on_lines(dir, None, lines);
    config.media_timeout = None;
    Switch::start(config).await.unwrap()
}

/// The demo tenant with `lines` (password `secret{ext}`) and `plan`, in a new store.
fn config_on_lines(
    dir: &std::path::Path,
    plan: Option<&dialplan::TenantPlan>,
    lines: &[&str],
) -> SwitchConfig {
    let mut store = Store::open(dir).unwrap();
    let t = store.add_tenant("demo", &["127.0.0.1".into()]).unwrap();
    if let Some(plan) = plan {
        store
            .set_dialplan_json(t.id, &serde_json::to_string(plan).unwrap())
            .unwrap();
    }
    let lines: Vec<NewLine> = lines
        .iter()
        .map(|n| NewLine {
            ext: n.to_string(),
            display_name: None,
            password: format!("secret{n}"),
        })
        .collect();
    store.add_lines(&t, &lines).unwrap();
    drop(store);
    SwitchConfig::new(dir.to_owned(), vec!["127.0.0.1:0".parse().unwrap()])
}

/// The switch's UDP address.
pub fn udp_addr(switch: &Switch) -> SocketAddr {
    switch
        .local_addrs
        .iter()
        .find(|(p, _)| *p == "udp")
        .unwrap()
        .1
}

/// The caller ACKs the queue's 200 (`ok`) and, later, hangs up with `bye`.
pub async fn ack(caller: &Phone, ok: &Message, cseq: u32, method: &str) {
    let local = caller.local();
    let to = ok.header(HeaderName::To).unwrap();
    let text = format!("{method} sip:pbx@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bK{method}{cseq};rport\r\nFrom: <sip:100@127.0.0.1>;tag=c\r\nTo: {to}\r\nCall-ID: call-{local}\r\nCSeq: {cseq} {method}\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n");
    caller.send(text.as_bytes()).await;
}

/// Answers `invite` on `device` (no RTP) and waits for the ACK.
pub async fn pick_up_invite(device: &Phone, invite: &Message) {
    let sdp = "v=0\r\no=- 2 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40002 RTP/AVP 0\r\n";
    let mut w = MessageWriter::response_to(invite, 200, "OK", Some("dev"));
    w.header("Contact", &format!("<sip:dev@{}>", device.local()));
    device
        .send(&w.body("application/sdp", sdp.as_bytes()))
        .await;
    device.wait_for(|m| is_request(m, "ACK")).await;
}
