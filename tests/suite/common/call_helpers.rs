//! The tests' own phones for call tests: a caller that places one call with digest
//! auth and can act in its dialog, a registered device that sees the switch's INVITEs
//! and answers them as told (and sends requests in the answered dialog), RTP echo and
//! check helpers, and the `pbx` admin command.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use engine::auth::Algorithm;
use engine::sip::{HeaderName, Message, MessageWriter};

use crate::common::sip_client::{authorization, SipClient};
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

/// The journal rows of the demo tenant, newest first, after the switch stopped. A
/// call the phones have just hung up may still be writing its last event: the rows
/// are given a few seconds at most to close before the switch stops.
pub fn journal(pbx: &mut Pbx) -> Vec<actors::store::CallRecord> {
    let until = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while std::time::Instant::now() < until {
        let store = actors::store::Store::open(&pbx.data_dir).unwrap();
        let Ok(t) = store.tenant("demo") else { break };
        let open = store
            .calls(t.id, 10)
            .unwrap()
            .iter()
            .any(|r| r.state == actors::journal::CallState::Active);
        if !open {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    pbx.stop();
    let store = actors::store::Store::open(&pbx.data_dir).unwrap();
    let t = store.tenant("demo").unwrap();
    store.calls(t.id, 10).unwrap()
}

/// Registers `user` with a contact on `port`, from `port`, then frees the port for the
/// device (SIPp) that will answer there.
pub fn register_device(pbx: &Pbx, user: &str, port: u16) {
    registered_client(pbx, user, port);
}

/// A client on `port` that registered `user` (demo password) with its own address.
fn registered_client(pbx: &Pbx, user: &str, port: u16) -> SipClient {
    register_on(SipClient::udp_on(pbx.addr, port), user)
}

/// `c` registers `user` (demo password) with its own address.
fn register_on(mut c: SipClient, user: &str) -> SipClient {
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
    c
}

/// Waits until a device (SIPp) has bound `port`.
pub fn wait_bound(port: u16) {
    // Up to 10 s: SIPp starting while the other test thread loads both cores is slow.
    for _ in 0..1000 {
        if std::net::UdpSocket::bind(("127.0.0.1", port)).is_err() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("nothing bound port {port}");
}

/// A phone of the tests' own: places a call with digest auth and reports what came.
pub struct Caller {
    pub c: SipClient,
    pub invite: String,
    pub branch: String,
    pub to_tag: Option<String>,
    /// The last response `expect` returned (the final one, or the one it waited for).
    pub last: Option<engine::sip::Message>,
    /// In-dialog requests sent so far (their CSeq numbers follow on).
    pub cseq: u32,
}

impl Caller {
    /// Sends the INVITE (answering the 407) and returns the responses up to `until`
    /// (a status code) or the first final one.
    pub fn call(pbx: &Pbx, user: &str, callee: &str) -> Caller {
        Self::call_with_media(pbx, user, callee, 40000)
    }

    /// Like `call`, with the caller's RTP on `rtp_port`.
    pub fn call_with_media(pbx: &Pbx, user: &str, callee: &str, rtp_port: u16) -> Caller {
        Self::call_with_codec(pbx, user, callee, rtp_port, (0, "PCMU"))
    }

    /// Like `call_with_media`, offering only `codec` (payload type, name).
    pub fn call_with_codec(
        pbx: &Pbx,
        user: &str,
        callee: &str,
        rtp_port: u16,
        codec: (u8, &str),
    ) -> Caller {
        Self::call_full(pbx, user, callee, rtp_port, codec, "")
    }

    /// Like `call_with_codec`, with `extra` header lines (each ending in CRLF) in the
    /// authenticated INVITE.
    pub fn call_full(
        pbx: &Pbx,
        user: &str,
        callee: &str,
        rtp_port: u16,
        codec: (u8, &str),
        extra: &str,
    ) -> Caller {
        Self::place(pbx, user, "", callee, rtp_port, &[codec], None, extra)
    }

    /// Like `call_with_media`, offering `codecs` in that order.
    pub fn call_with_codecs(
        pbx: &Pbx,
        user: &str,
        callee: &str,
        rtp_port: u16,
        codecs: &[(u8, &str)],
    ) -> Caller {
        Self::place(pbx, user, "", callee, rtp_port, codecs, None, "")
    }

    /// Like `call_with_media` (PCMU), also offering telephone-event as `event_pt`.
    pub fn call_with_events(
        pbx: &Pbx,
        user: &str,
        callee: &str,
        rtp_port: u16,
        event_pt: u8,
    ) -> Caller {
        Self::place(
            pbx,
            user,
            "",
            callee,
            rtp_port,
            &[(0, "PCMU")],
            Some(event_pt),
            "",
        )
    }

    /// `call` with a display name in From, written as given (quotes included).
    pub fn call_as(pbx: &Pbx, user: &str, display: &str, callee: &str) -> Caller {
        Self::place(pbx, user, display, callee, 40000, &[(0, "PCMU")], None, "")
    }

    /// `call_with_media` from another loopback address (another subnet, as the switch
    /// sees it: `127.0.1.1`).
    pub fn call_from_ip(pbx: &Pbx, ip: &str, user: &str, callee: &str, rtp_port: u16) -> Caller {
        let c = SipClient::udp_from(pbx.addr, ip);
        Self::place_on(c, user, "", callee, rtp_port, &[(0, "PCMU")], None, "")
    }

    #[allow(clippy::too_many_arguments)]
    fn place(
        pbx: &Pbx,
        user: &str,
        display: &str,
        callee: &str,
        rtp_port: u16,
        codecs: &[(u8, &str)],
        events: Option<u8>,
        extra: &str,
    ) -> Caller {
        let c = fresh_udp(pbx.addr);
        Self::place_on(c, user, display, callee, rtp_port, codecs, events, extra)
    }

    #[allow(clippy::too_many_arguments)]
    fn place_on(
        mut c: SipClient,
        user: &str,
        display: &str,
        callee: &str,
        rtp_port: u16,
        codecs: &[(u8, &str)],
        events: Option<u8>,
        extra: &str,
    ) -> Caller {
        let local = c.local;
        let account = sim::ua::Account {
            user,
            domain: "127.0.0.1",
            local,
            transport: "UDP",
        };
        let sdp = sim::ua::sdp_offer(local.ip(), rtp_port, codecs, events, 1);
        let call_id = format!("call-{local}");
        let ids = |branch: &'static str, cseq| sim::ua::Ids {
            call_id: &call_id,
            cseq,
            branch,
            from_tag: "caller1",
        };
        let invite = |branch: &'static str, seq: u32, auth: &str| {
            let mut w = account.invite(callee, display, &ids(branch, seq));
            sim::ua::raw_headers(&mut w, auth);
            String::from_utf8(w.body("application/sdp", sdp.as_bytes())).unwrap()
        };
        // Over UDP the INVITE is sent again until something answers (RFC 3261
        // Timer A), as phones do: one datagram lost under load is no failure.
        let first = invite("z9hG4bKc1", 1, "");
        c.set_timeout(Duration::from_millis(500));
        c.send_raw(first.as_bytes());
        let mut sent = 1;
        let mut other = None;
        let challenge = loop {
            match c.recv() {
                Some(m) if m.code() == Some(407) => break m,
                Some(m) => other = m.code(),
                None if sent >= 6 => panic!("no challenge to {callee} (got {other:?})"),
                None => {
                    c.send_raw(first.as_bytes());
                    sent += 1;
                }
            }
        };
        c.set_timeout(Duration::from_secs(3));
        let to = challenge.header(HeaderName::To).unwrap();
        let ruri = format!("sip:{callee}@127.0.0.1");
        let ack = account.request("ACK", &ruri, to, &ids("z9hG4bKc1", 1));
        c.send_raw(&ack.finish());
        let auth = authorization(
            &challenge,
            Algorithm::Md5,
            user,
            &format!("secret{user}"),
            &ruri,
            "INVITE",
        );
        let text = invite(
            "z9hG4bKc2",
            2,
            &format!("Proxy-Authorization: {auth}\r\n{extra}"),
        );
        c.send_raw(text.as_bytes());
        Caller {
            c,
            invite: text,
            branch: "z9hG4bKc2".into(),
            to_tag: None,
            last: None,
            cseq: 0,
        }
    }

    /// Reads responses until one with `code` (or a final one) arrives.
    pub fn expect(&mut self, code: u16) -> u16 {
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
                self.last = Some(m);
                return got;
            }
        }
    }

    /// A request of the caller in its call (`to`: the To header value), as the
    /// shared phone library writes it.
    fn in_call(
        &self,
        method: &str,
        to: &str,
        cseq: u32,
        branch: &str,
    ) -> engine::sip::MessageWriter {
        let call_id = format!("call-{}", self.c.local);
        let account = sim::ua::Account {
            user: "100",
            domain: "127.0.0.1",
            local: self.c.local,
            transport: "UDP",
        };
        let ids = sim::ua::Ids {
            call_id: &call_id,
            cseq,
            branch,
            from_tag: "caller1",
        };
        account.request(method, "sip:pbx@127.0.0.1", to, &ids)
    }

    /// The To of the answered call's dialog.
    fn dialog_to(&self) -> String {
        format!("<sip:x@127.0.0.1>;tag={}", self.to_tag.as_deref().unwrap())
    }

    /// ACKs the 2xx (a new transaction in the dialog).
    pub fn ack(&mut self) {
        let ack = self.in_call("ACK", &self.dialog_to(), 2, "z9hG4bKack2");
        self.c.send_raw(&ack.finish());
    }

    /// Hangs up an answered call.
    pub fn bye(&mut self) {
        // After the in-dialog requests sent so far (CSeq numbers only rise).
        let seq = if self.cseq == 0 { 3 } else { 11 + self.cseq };
        let bye = self.in_call("BYE", &self.dialog_to(), seq, "z9hG4bKbye3");
        self.c.send_raw(&bye.finish());
        loop {
            let m = self.c.recv().expect("an answer to BYE");
            if m.cseq().map(|c| c.method) == Some("BYE") {
                assert_eq!(m.code(), Some(200));
                return;
            }
        }
    }

    /// Waits for a request from the switch (skipping retransmitted responses) and
    /// answers it 200.
    pub fn answer_request(&mut self, method: &str) {
        answer_request(&mut self.c, method);
    }

    /// CANCELs the INVITE (same Request-URI, Via branch, From, To, Call-ID, CSeq
    /// number as the INVITE).
    pub fn cancel(&mut self) {
        let invite = Message::parse(self.invite.clone().into_bytes()).unwrap();
        let to = invite.header(HeaderName::To).unwrap().to_owned();
        let ruri = invite.uri().unwrap().raw.to_owned();
        let account = sim::ua::Account {
            user: "100",
            domain: "127.0.0.1",
            local: self.c.local,
            transport: "UDP",
        };
        let call_id = invite.call_id().unwrap().to_owned();
        let ids = sim::ua::Ids {
            call_id: &call_id,
            cseq: invite.cseq().unwrap().seq,
            branch: &self.branch,
            from_tag: "caller1",
        };
        let cancel = account.request("CANCEL", &ruri, &to, &ids);
        self.c.send_raw(&cancel.finish());
    }
}

/// Sends 50 RTP packets (PCMU, known payloads) to `target` and counts those that come
/// back unchanged (an echoing device behind the relay).
pub fn echoed(rtp: &std::net::UdpSocket, target: std::net::SocketAddr) -> usize {
    let mut echoed = 0;
    for seq in 0u16..50 {
        let mut pkt = vec![0x80, 0x00];
        pkt.extend_from_slice(&seq.to_be_bytes());
        pkt.extend_from_slice(&(seq as u32 * 160).to_be_bytes());
        pkt.extend_from_slice(&0x1234_5678u32.to_be_bytes());
        pkt.extend(std::iter::repeat_n(seq as u8, 160));
        rtp.send_to(&pkt, target).unwrap();
        let mut buf = [0u8; 2048];
        if let Ok((n, _)) = rtp.recv_from(&mut buf) {
            if n == pkt.len() && buf[12..n] == pkt[12..] {
                echoed += 1;
            }
        }
    }
    echoed
}

/// Where the switch's answer to `caller` wants its RTP.
pub fn media_target(caller: &Caller) -> std::net::SocketAddr {
    let answer = engine::sdp::Sdp::parse(caller.last.as_ref().unwrap().body()).unwrap();
    std::net::SocketAddr::new(
        answer.media_connection(0).unwrap().address.parse().unwrap(),
        answer.media()[0].port(),
    )
}

/// A registered phone of the tests' own that answers one call and can then send
/// requests in that call's dialog (as the called party).
pub struct Device {
    pub c: SipClient,
    pub invite: Option<engine::sip::Message>,
    pub cseq: u32,
}

impl Device {
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

    /// Registers `user` from a fresh port and keeps the socket (another port when
    /// the one handed out was taken meanwhile: other programs of the parallel tests
    /// bind ports of their own).
    pub fn register(pbx: &Pbx, user: &str) -> Device {
        let c = loop {
            if let Some(c) = SipClient::try_udp_on(pbx.addr, free_port()) {
                break c;
            }
        };
        Device {
            c: register_on(c, user),
            invite: None,
            cseq: 0,
        }
    }

    /// Answers the INVITE that comes with 200 (RTP on `rtp_port`) and takes the ACK.
    pub fn answer(&mut self, rtp_port: u16) {
        let invite = loop {
            let m = self.c.recv().expect("an INVITE for the device");
            if m.method().map(|x| x.as_str()) == Some("INVITE") {
                break m;
            }
        };
        self.answer_invite(&invite, rtp_port);
    }

    /// Answers `invite` (received already) with PCMU on `rtp_port` and waits for the
    /// ACK.
    pub fn answer_invite(&mut self, invite: &Message, rtp_port: u16) {
        let invite = invite.clone();
        let sdp = format!("v=0\r\no=- 2 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio {rtp_port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n");
        let mut w = engine::sip::MessageWriter::response_to(&invite, 200, "OK", Some("dev1"));
        w.header("Contact", &format!("<sip:dev@{}>", self.c.local));
        self.c.send_raw(&w.body("application/sdp", sdp.as_bytes()));
        loop {
            let m = self.c.recv().expect("the ACK");
            if m.method().map(|x| x.as_str()) == Some("ACK") {
                break;
            }
        }
        self.invite = Some(invite);
    }

    /// Sends `method` in the answered call's dialog with `extra` header lines and
    /// returns the final response's code.
    pub fn request(&mut self, method: &str, extra: &str) -> u16 {
        self.request_with(method, extra, None)
    }

    /// `request` with an SDP body; a 2xx to an INVITE is ACKed.
    pub fn request_with(&mut self, method: &str, extra: &str, sdp: Option<&str>) -> u16 {
        self.send_request(method, extra, sdp);
        let code = final_response(&mut self.c, method);
        if method == "INVITE" && code < 300 {
            let ack = self.in_call("ACK", "ack", self.cseq);
            self.c.send_raw(&ack.finish());
        }
        code
    }

    /// Sends `method` in the answered call's dialog without waiting for its answer.
    pub fn send_request(&mut self, method: &str, extra: &str, sdp: Option<&str>) {
        self.send_with_body(method, extra, sdp.map(|b| ("application/sdp", b)));
    }

    /// Sends `method` with a body (content type, text) and returns the final code.
    pub fn request_with_body(&mut self, method: &str, content_type: &str, body: &str) -> u16 {
        self.send_with_body(method, "", Some((content_type, body)));
        final_response(&mut self.c, method)
    }

    /// Sends `method` in the dialog with `extra` header lines and a body (content
    /// type, text), without waiting for its answer.
    pub fn send_with_body(&mut self, method: &str, extra: &str, body: Option<(&str, &str)>) {
        self.cseq += 1;
        let mut w = self.in_call(method, method, self.cseq);
        sim::ua::raw_headers(&mut w, extra);
        let bytes = match body {
            Some((ct, b)) => w.body(ct, b.as_bytes()),
            None => w.finish(),
        };
        self.c.send_raw(&bytes);
    }

    /// A request of the called device in its call: From and To swapped from the
    /// INVITE, to the caller's Contact.
    fn in_call(&self, method: &str, branch: &str, seq: u32) -> engine::sip::MessageWriter {
        let inv = self.invite.as_ref().unwrap();
        let target = inv.contacts().unwrap()[0].uri.raw.to_owned();
        let local = self.c.local;
        let mut w = engine::sip::MessageWriter::request(method, &target);
        w.header_fmt(
            "Via",
            format_args!("SIP/2.0/UDP {local};branch=z9hG4bKdev{branch}{seq};rport"),
        )
        .header_fmt(
            "From",
            format_args!("{};tag=dev1", inv.header(HeaderName::To).unwrap()),
        )
        .header("To", inv.header(HeaderName::From).unwrap())
        .header("Call-ID", inv.call_id().unwrap())
        .header_fmt("CSeq", format_args!("{seq} {method}"))
        .header_fmt("Contact", format_args!("<sip:dev@{local}>"))
        .header("Max-Forwards", "70");
        w
    }

    /// Answers the next request of `method` with 200 and returns it.
    pub fn answer_request(&mut self, method: &str) -> engine::sip::Message {
        answer_request(&mut self.c, method)
    }
}

impl Caller {
    /// Sends `method` in the answered call's dialog with `extra` header lines and
    /// returns the final response's code.
    pub fn request(&mut self, method: &str, extra: &str) -> u16 {
        self.send_request(method, extra);
        final_response(&mut self.c, method)
    }

    /// Sends `method` in the answered call's dialog with `extra` header lines (each
    /// ending in CRLF), without waiting for its answer. Each one takes the next CSeq.
    pub fn send_request(&mut self, method: &str, extra: &str) {
        self.send_with_body(method, extra, None);
    }

    /// Sends `method` with a body (content type, text) and returns the final code.
    pub fn request_with_body(&mut self, method: &str, content_type: &str, body: &str) -> u16 {
        self.send_with_body(method, "", Some((content_type, body)));
        final_response(&mut self.c, method)
    }

    fn send_with_body(&mut self, method: &str, extra: &str, body: Option<(&str, &str)>) {
        self.cseq += 1;
        let branch = format!("z9hG4bKreq{method}{}", self.cseq);
        let mut w = self.in_call(method, &self.dialog_to(), 10 + self.cseq, &branch);
        w.header("Contact", &format!("<sip:100@{}>", self.c.local));
        sim::ua::raw_headers(&mut w, extra);
        let bytes = match body {
            Some((ct, b)) => w.body(ct, b.as_bytes()),
            None => w.finish(),
        };
        self.c.send_raw(&bytes);
    }
}

/// Echoes the RTP that reaches `sock` back to its sender until it stays quiet.
pub fn echo_thread(sock: std::net::UdpSocket) -> std::thread::JoinHandle<usize> {
    sock.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    std::thread::spawn(move || {
        let mut n = 0;
        let mut buf = [0u8; 2048];
        while let Ok((len, from)) = sock.recv_from(&mut buf) {
            let _ = sock.send_to(&buf[..len], from);
            n += 1;
        }
        n
    })
}

/// Where the SDP of `m` wants its RTP.
pub fn sdp_target(m: &engine::sip::Message) -> std::net::SocketAddr {
    let sdp = engine::sdp::Sdp::parse(m.body()).unwrap();
    std::net::SocketAddr::new(
        sdp.media_connection(0).unwrap().address.parse().unwrap(),
        sdp.media()[0].port(),
    )
}

impl Caller {
    /// Waits for a re-INVITE from the switch, answers it 200 with an SDP of
    /// `direction` on `rtp_port`, and returns it.
    pub fn answer_reinvite(&mut self, rtp_port: u16, direction: &str) -> engine::sip::Message {
        loop {
            let m = self.c.recv().expect("a re-INVITE came");
            if m.method().map(|x| x.as_str()) != Some("INVITE") {
                continue;
            }
            let sdp = format!("v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio {rtp_port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na={direction}\r\n");
            let mut w = engine::sip::MessageWriter::response_to(&m, 200, "OK", None);
            w.header("Contact", &format!("<sip:100@{}>", self.c.local));
            self.c.send_raw(&w.body("application/sdp", sdp.as_bytes()));
            return m;
        }
    }
}

/// Reads messages until one satisfies `pred`, answering nothing.
pub fn recv_until(
    c: &mut SipClient,
    what: &str,
    pred: impl Fn(&engine::sip::Message) -> bool,
) -> engine::sip::Message {
    loop {
        let m = c.recv().unwrap_or_else(|| panic!("no {what} came"));
        if pred(&m) {
            return m;
        }
    }
}

pub fn is_request(m: &engine::sip::Message, method: &str) -> bool {
    m.method().map(|x| x.as_str()) == Some(method)
}

pub fn is_response(m: &engine::sip::Message, code: u16, method: &str) -> bool {
    m.code() == Some(code) && m.cseq().map(|c| c.method) == Some(method)
}

/// A UDP client on a local port no earlier caller of this test process had: a
/// caller's Call-ID is named after its port, and an ephemeral port the system hands
/// out again would reuse the Call-ID of a call the switch may still know.
fn fresh_udp(server: std::net::SocketAddr) -> SipClient {
    static USED: std::sync::Mutex<std::collections::BTreeSet<u16>> =
        std::sync::Mutex::new(std::collections::BTreeSet::new());
    let mut held = Vec::new();
    loop {
        let c = SipClient::udp(server);
        let fresh = USED
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(c.local.port());
        if fresh {
            return c;
        }
        held.push(c);
    }
}

/// Waits for the next request of `method`, answers it 200 and returns it.
fn answer_request(c: &mut SipClient, method: &str) -> Message {
    loop {
        let m = c.recv().unwrap_or_else(|| panic!("no {method} came"));
        if m.method().map(|x| x.as_str()) == Some(method) {
            c.send_raw(&MessageWriter::response_to(&m, 200, "OK", None).finish());
            return m;
        }
    }
}

/// The code of the final response to our request of `method`, skipping the rest.
fn final_response(c: &mut SipClient, method: &str) -> u16 {
    loop {
        let m = c.recv().unwrap_or_else(|| panic!("no answer to {method}"));
        if m.cseq().map(|c| c.method) == Some(method) && m.code() >= Some(200) {
            return m.code().unwrap_or(0);
        }
    }
}

/// What `sock` hears over `ms` milliseconds: the PCMU packets' samples, decoded.
pub fn heard(sock: &std::net::UdpSocket, ms: u64) -> Vec<i16> {
    sock.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let until = std::time::Instant::now() + Duration::from_millis(ms);
    let mut out = Vec::new();
    let mut buf = [0u8; 2048];
    while std::time::Instant::now() < until {
        if let Ok((len, _)) = sock.recv_from(&mut buf) {
            if len > 12 && buf[1] & 0x7f == 0 {
                out.extend(
                    buf[12..len]
                        .iter()
                        .map(|&b| media::codec::g711::ulaw_decode(b)),
                );
            }
        }
    }
    out
}

/// Mean loudness of what `sock` hears over `ms` milliseconds (0 for nothing).
pub fn loudness(sock: &std::net::UdpSocket, ms: u64) -> f64 {
    let samples = heard(sock, ms);
    samples.iter().map(|&x| f64::from(x).abs()).sum::<f64>() / samples.len().max(1) as f64
}

/// RTP (PCMU, SSRC `ssrc`) of 20 ms of a `freq` tone, packet `k`.
pub fn tone_packet(freq: f64, k: u16, ssrc: u32) -> Vec<u8> {
    let mut d = vec![0x80, 0];
    d.extend_from_slice(&k.to_be_bytes());
    d.extend_from_slice(&(u32::from(k) * 160).to_be_bytes());
    d.extend_from_slice(&ssrc.to_be_bytes());
    d.extend((0..160u32).map(|i| {
        let t = f64::from(u32::from(k) * 160 + i) / 8000.0;
        media::codec::g711::ulaw_encode(
            (6000.0 * (2.0 * std::f64::consts::PI * freq * t).sin()) as i16,
        )
    }));
    d
}

/// The keys of `code` as RFC 4733 end packets (payload type 101) to `to`, each
/// press three times (as phones repeat the end) with a timestamp of its own, from
/// press number `first` on.
pub fn press(sock: &std::net::UdpSocket, to: std::net::SocketAddr, code: &str, first: u16) {
    for (k, c) in code.chars().enumerate() {
        let event = match c {
            '*' => 10,
            '#' => 11,
            d => d.to_digit(10).unwrap() as u8,
        };
        let k = first + k as u16;
        let mut p = vec![0x80, 101];
        p.extend_from_slice(&(k * 3).to_be_bytes());
        p.extend_from_slice(&(100_000 + 8000 * u32::from(k)).to_be_bytes());
        p.extend_from_slice(&0xD7D7_0001u32.to_be_bytes());
        p.extend_from_slice(&[event, 0x8a, 0x03, 0x20]);
        for n in 0..3 {
            p[2..4].copy_from_slice(&(k * 3 + n).to_be_bytes());
            sock.send_to(&p, to).unwrap();
        }
        std::thread::sleep(std::time::Duration::from_millis(30));
    }
}

/// `pbx line set --tenant demo EXT ARGS…` (the switch must be stopped).
pub fn line_set(dir: &Path, ext: &str, args: &[&str]) -> Output {
    let mut all = vec!["line", "set", "--tenant", "demo", ext];
    all.extend_from_slice(args);
    pbx_admin(dir, &all)
}

/// Stores the demo plan with `edit` applied (the switch must be stopped).
pub fn edit_plan(dir: &std::path::Path, edit: impl FnOnce(&mut serde_json::Value)) {
    let out = pbx_admin(dir, &["plan", "show", "--tenant", "demo"]);
    let mut plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    edit(&mut plan);
    let file = dir.join("plan.json");
    std::fs::write(&file, plan.to_string()).unwrap();
    pbx_admin(
        dir,
        &["plan", "set", "--tenant", "demo", file.to_str().unwrap()],
    );
}

/// `line` dials feature code `code`: the switch answers, plays its confirmation (or
/// refusal) and hangs up. Returns the mean loudness of what the phone heard.
pub fn dial_code(pbx: &Pbx, line: &str, code: &str) -> f64 {
    let rtp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    rtp.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let port = rtp.local_addr().unwrap().port();
    let mut call = Caller::call_with_media(pbx, line, code, port);
    assert_eq!(call.expect(200), 200, "{code} is answered by the switch");
    call.ack();
    let (mut sum, mut n) = (0f64, 0usize);
    let mut buf = [0u8; 2048];
    while let Ok((len, _)) = rtp.recv_from(&mut buf) {
        for &b in &buf[12..len] {
            sum += f64::from(media::codec::g711::ulaw_decode(b)).abs();
            n += 1;
        }
    }
    call.c.set_timeout(Duration::from_secs(3));
    call.answer_request("BYE");
    sum / n.max(1) as f64
}

/// What a SUBSCRIBE asks for: the event package and its body type.
pub struct Package<'a> {
    pub event: &'a str,
    pub accept: &'a str,
}

/// A SUBSCRIBE from `c`, a phone of line `user`, to `target`'s `package` at 127.0.0.1,
/// answered (a 407 with the line's password); returns the final response.
pub fn subscribe_to(
    c: &mut SipClient,
    (user, target): (&str, &str),
    package: &Package<'_>,
    (call_id, cseq): (&str, u32),
    (to_tag, expires): (Option<&str>, u32),
) -> Message {
    let password = format!("secret{user}");
    subscribe_as(
        c,
        (user, &password, target),
        package,
        (call_id, cseq),
        (to_tag, expires),
    )
}

/// As `subscribe_to`, answering the challenge with `password`.
pub fn subscribe_as(
    c: &mut SipClient,
    (user, password, target): (&str, &str, &str),
    package: &Package<'_>,
    (call_id, cseq): (&str, u32),
    (to_tag, expires): (Option<&str>, u32),
) -> Message {
    let uri = format!("sip:{target}@127.0.0.1");
    let local = c.local;
    let build = |cseq: u32, auth: Option<&str>| {
        let mut w = MessageWriter::request("SUBSCRIBE", &uri);
        w.header_fmt(
            "Via",
            format_args!("SIP/2.0/UDP {local};branch=z9hG4bKsub{call_id}{cseq};rport"),
        )
        .header("Max-Forwards", "70")
        .header_fmt("From", format_args!("<sip:{user}@127.0.0.1>;tag=phone"))
        .header_fmt(
            "To",
            format_args!(
                "<{uri}>{}",
                to_tag.map(|t| format!(";tag={t}")).unwrap_or_default()
            ),
        )
        .header("Call-ID", call_id)
        .header_fmt("CSeq", format_args!("{cseq} SUBSCRIBE"))
        .header_fmt("Contact", format_args!("<sip:{user}@{local}>"))
        .header("Event", package.event)
        .header("Accept", package.accept)
        .header("Expires", &expires.to_string());
        if let Some(a) = auth {
            w.header("Proxy-Authorization", a);
        }
        w.finish()
    };
    let final_of = |c: &mut SipClient, seq: u32| loop {
        let m = c.recv().expect("an answer to SUBSCRIBE");
        if m.code().is_some_and(|code| code >= 200)
            && m.cseq()
                .is_some_and(|s| s.method == "SUBSCRIBE" && s.seq == seq)
        {
            return m;
        }
    };
    c.send_raw(&build(cseq, None));
    let first = final_of(c, cseq);
    if first.code() != Some(407) {
        return first;
    }
    let auth = authorization(&first, Algorithm::Md5, user, password, &uri, "SUBSCRIBE");
    c.send_raw(&build(cseq + 1, Some(&auth)));
    final_of(c, cseq + 1)
}

/// Writes a WAV of a `freq` tone lasting `ms`.
pub fn tone_wav(path: &std::path::Path, freq: f64, ms: u32, rate: u32, channels: u16) {
    let spec = hound::WavSpec {
        channels,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for i in 0..rate * ms / 1000 {
        let x = (2.0 * std::f64::consts::PI * freq * f64::from(i) / f64::from(rate)).sin();
        for _ in 0..channels {
            w.write_sample((x * 8000.0) as i16).unwrap();
        }
    }
    w.finalize().unwrap();
}

/// `user` (on `client`'s transport) calls `callee` without credentials: the first
/// answer.
pub fn invite_unsigned(client: &mut SipClient, user: &str, callee: &str) -> Message {
    client.set_timeout(Duration::from_secs(3));
    let transport = client.transport().to_ascii_uppercase();
    let account = sim::ua::Account {
        user,
        domain: "127.0.0.1",
        local: client.local,
        transport: &transport,
    };
    let call_id = format!("unsigned-{transport}-{}", client.local);
    let branch = format!("z9hG4bKunsigned{transport}");
    let ids = sim::ua::Ids {
        call_id: &call_id,
        cseq: 1,
        branch: &branch,
        from_tag: "unsigned",
    };
    client.send_raw(&account.invite(callee, "", &ids).finish());
    client.recv().expect("an answer")
}

/// An OPTIONS without credentials (as an edge proxy probes a node): the answer's code.
pub fn options(client: &mut SipClient) -> Option<u16> {
    let local = client.local;
    let text = format!(
        "OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bKprobe{};rport\r\nFrom: <sip:probe@127.0.0.1>;tag=1\r\nTo: <sip:127.0.0.1>\r\nCall-ID: probe-{local}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
        rand_branch()
    );
    client.send_raw(text.as_bytes());
    client.recv().and_then(|m| m.code())
}

fn rand_branch() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}
