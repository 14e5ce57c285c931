//! A carrier on loopback for the trunk tests: one UDP socket on a chosen port that
//! answers the switch's OPTIONS keep-alives by itself (a thread) and hands every other
//! message to the test, which answers INVITEs, sends its own, and checks what the
//! switch sent (number format, caller ID headers).

use std::net::{SocketAddr, UdpSocket};
use std::sync::mpsc;
use std::time::Duration;

use engine::sip::{Message, MessageWriter};

pub struct Carrier {
    sock: UdpSocket,
    /// Set: the carrier is gone (it answers nothing, not even OPTIONS).
    silent: std::sync::Arc<std::sync::atomic::AtomicBool>,
    pub addr: SocketAddr,
    rx: mpsc::Receiver<(Message, SocketAddr)>,
}

impl Carrier {
    /// A carrier on a free loopback port.
    pub fn start() -> Carrier {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = sock.local_addr().unwrap();
        let reader = sock.try_clone().unwrap();
        let (tx, rx) = mpsc::channel();
        let silent = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let gone = silent.clone();
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 65536];
            loop {
                let Ok((n, from)) = reader.recv_from(&mut buf) else {
                    return;
                };
                if gone.load(std::sync::atomic::Ordering::Relaxed) {
                    continue;
                }
                let Ok(m) = Message::parse(bytes::Bytes::copy_from_slice(&buf[..n])) else {
                    continue;
                };
                if m.method().map(|x| x.as_str()) == Some("OPTIONS") {
                    let w = MessageWriter::response_to(&m, 200, "OK", Some("carrier"));
                    let _ = reader.send_to(&w.finish(), from);
                    continue;
                }
                if tx.send((m, from)).is_err() {
                    return;
                }
            }
        });
        Carrier {
            sock,
            silent,
            addr,
            rx,
        }
    }

    /// The carrier goes away: nothing it receives is answered any more.
    pub fn go_silent(&self) {
        self.silent
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The next message (not an OPTIONS) within `wait`.
    pub fn recv(&self, wait: Duration) -> Option<(Message, SocketAddr)> {
        self.rx.recv_timeout(wait).ok()
    }

    /// The next new INVITE within `wait` (other messages are skipped).
    pub fn invite(&self, wait: Duration) -> Option<(Message, SocketAddr)> {
        let deadline = std::time::Instant::now() + wait;
        loop {
            let left = deadline.checked_duration_since(std::time::Instant::now())?;
            let (m, from) = self.recv(left)?;
            if m.method().map(|x| x.as_str()) == Some("INVITE") {
                return Some((m, from));
            }
        }
    }

    pub fn send(&self, bytes: &[u8], to: SocketAddr) {
        self.sock.send_to(bytes, to).unwrap();
    }

    /// Answers `req` (from `to`) with `code`.
    pub fn respond(&self, req: &Message, to: SocketAddr, code: u16, reason: &str) {
        let mut w = MessageWriter::response_to(req, code, reason, Some("carrier"));
        w.header("Contact", &format!("<sip:carrier@{}>", self.addr));
        self.send(&w.finish(), to);
    }

    /// Answers an INVITE with 200 and PCMU on `rtp_port`, and waits for the ACK.
    pub fn answer(&self, invite: &Message, to: SocketAddr, rtp_port: u16) {
        let sdp = format!("v=0\r\no=- 2 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio {rtp_port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n");
        let mut w = MessageWriter::response_to(invite, 200, "OK", Some("carrier"));
        w.header("Contact", &format!("<sip:carrier@{}>", self.addr));
        self.send(&w.body("application/sdp", sdp.as_bytes()), to);
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
            match self.recv(left) {
                Some((m, _)) if m.method().map(|x| x.as_str()) == Some("ACK") => return,
                Some(_) => {}
                None => break,
            }
        }
        panic!("no ACK for the carrier's 200");
    }

    /// The next request of `method` within `wait` (others are skipped).
    pub fn request(&self, method: &str, wait: Duration) -> Option<(Message, SocketAddr)> {
        let deadline = std::time::Instant::now() + wait;
        loop {
            let left = deadline.checked_duration_since(std::time::Instant::now())?;
            let (m, from) = self.recv(left)?;
            if m.method().map(|x| x.as_str()) == Some(method) {
                return Some((m, from));
            }
        }
    }
}

/// A call the carrier places to the switch.
pub struct Inbound {
    pub invite: Message,
    pub switch: SocketAddr,
    pub to_tag: Option<String>,
}

impl Carrier {
    /// Sends an INVITE from `caller` to `called` (the Request-URI's user) at the
    /// switch, with PCMU on `rtp_port`.
    pub fn call(&self, switch: SocketAddr, caller: &str, called: &str, rtp_port: u16) -> Inbound {
        let tag = format!("c{}", rand_id());
        let call_id = format!("in-{}@carrier.test", rand_id());
        let mut w = MessageWriter::request("INVITE", &format!("sip:{called}@{switch}"));
        w.header_fmt(
            "Via",
            format_args!("SIP/2.0/UDP {};branch=z9hG4bK{}", self.addr, rand_id()),
        );
        w.header("Max-Forwards", "70");
        w.header_fmt(
            "From",
            format_args!("<sip:{caller}@carrier.test>;tag={tag}"),
        );
        w.header_fmt("To", format_args!("<sip:{called}@{switch}>"));
        w.header("Call-ID", &call_id);
        w.header("CSeq", "1 INVITE");
        w.header_fmt("Contact", format_args!("<sip:carrier@{}>", self.addr));
        let sdp = format!("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio {rtp_port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n");
        let bytes = w.body("application/sdp", sdp.as_bytes());
        let invite = Message::parse(bytes::Bytes::from(bytes.clone())).unwrap();
        self.send(&bytes, switch);
        Inbound {
            invite,
            switch,
            to_tag: None,
        }
    }

    /// CANCELs the carrier's INVITE (its Via branch, From, To, Call-ID, CSeq number).
    pub fn cancel(&self, call: &Inbound) {
        let inv = &call.invite;
        let mut w = MessageWriter::request("CANCEL", inv.uri_str().unwrap_or(""));
        w.header("Via", inv.values_named("Via").next().unwrap_or(""));
        w.header("Max-Forwards", "70");
        w.header("From", inv.values_named("From").next().unwrap_or(""));
        w.header("To", inv.values_named("To").next().unwrap_or(""));
        w.header("Call-ID", inv.call_id().unwrap_or(""));
        w.header("CSeq", "1 CANCEL");
        self.send(&w.finish(), call.switch);
    }

    /// The final response to the carrier's INVITE (provisional ones skipped); a 2xx
    /// is acknowledged.
    pub fn final_response(&self, call: &mut Inbound, wait: Duration) -> Option<u16> {
        let deadline = std::time::Instant::now() + wait;
        loop {
            let left = deadline.checked_duration_since(std::time::Instant::now())?;
            let (m, _) = self.recv(left)?;
            let Some(code) = m.code() else { continue };
            let invite = m.cseq().is_some_and(|c| c.method == "INVITE");
            if m.call_id() != call.invite.call_id() || code < 200 || !invite {
                continue;
            }
            call.to_tag = m.to().and_then(|t| t.tag().map(str::to_owned));
            if code < 300 {
                self.send(&self.in_dialog(call, "ACK", 1), call.switch);
            }
            return Some(code);
        }
    }

    /// Presses `key` in the carrier's answered call (SIP INFO, `application/dtmf-relay`).
    pub fn press(&self, call: &Inbound, seq: u32, key: char) {
        let text = String::from_utf8(self.in_dialog(call, "INFO", seq)).unwrap();
        let body = format!("Signal={key}\r\nDuration=160\r\n");
        let head = text
            .trim_end_matches("\r\n")
            .replace("Content-Length: 0", "");
        let head = head.trim_end_matches("\r\n");
        let msg = format!(
            "{head}\r\nContent-Type: application/dtmf-relay\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        self.send(msg.as_bytes(), call.switch);
    }

    /// A request in the carrier's call (after the 2xx): ACK or BYE.
    pub fn in_dialog(&self, call: &Inbound, method: &str, seq: u32) -> Vec<u8> {
        let inv = &call.invite;
        let mut w = MessageWriter::request(method, inv.uri_str().unwrap_or(""));
        w.header_fmt(
            "Via",
            format_args!("SIP/2.0/UDP {};branch=z9hG4bK{}", self.addr, rand_id()),
        );
        w.header("Max-Forwards", "70");
        w.header("From", inv.values_named("From").next().unwrap_or(""));
        let to = inv.values_named("To").next().unwrap_or("");
        match &call.to_tag {
            Some(t) => w.header_fmt("To", format_args!("{to};tag={t}")),
            None => w.header("To", to),
        };
        w.header("Call-ID", inv.call_id().unwrap_or(""));
        w.header_fmt("CSeq", format_args!("{seq} {method}"));
        w.finish()
    }
}

fn rand_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(1);
    format!(
        "{}x{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// The user part of a header's URI (`From`, `To`, `P-Asserted-Identity` …).
pub fn user_of(m: &Message, header: &str) -> Option<String> {
    let v = m.values_named(header).next()?;
    let start = v.find("sip:")? + 4;
    let rest = &v[start..];
    let end = rest.find('@')?;
    Some(rest[..end].to_owned())
}
