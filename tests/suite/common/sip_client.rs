//! A minimal SIP user agent for the tests' own checks, built on the engine's codec and
//! digest code (so a wrong answer from the switch fails the test, not the client).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::time::Duration;

use engine::auth::client::Challenge;
use engine::auth::Algorithm;
use engine::sip::framing::Frame;
use engine::sip::{frame_stream, Message};

pub enum Conn {
    Udp(UdpSocket),
    Tcp(TcpStream, Vec<u8>),
}

pub struct SipClient {
    pub conn: Conn,
    pub server: SocketAddr,
    pub local: SocketAddr,
    cseq: u32,
    pub call_id: String,
}

impl SipClient {
    pub fn udp(server: SocketAddr) -> SipClient {
        let any = if server.is_ipv6() {
            "[::1]:0"
        } else {
            "127.0.0.1:0"
        };
        Self::on_socket(server, UdpSocket::bind(any).unwrap())
    }

    /// A UDP client on another loopback address (another host, as the switch sees it).
    pub fn udp_from(server: SocketAddr, ip: &str) -> SipClient {
        Self::on_socket(server, UdpSocket::bind((ip, 0)).unwrap())
    }

    /// A TCP client connecting from another loopback address.
    pub fn tcp_from(server: SocketAddr, ip: &str) -> SipClient {
        let sock =
            socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        let local: SocketAddr = format!("{ip}:0").parse().unwrap();
        sock.bind(&local.into()).unwrap();
        sock.connect(&server.into()).unwrap();
        Self::on_stream(server, sock.into())
    }

    /// A UDP client on a chosen local port (to register a contact another program
    /// will then serve on that port).
    pub fn udp_on(server: SocketAddr, port: u16) -> SipClient {
        Self::on_socket(server, UdpSocket::bind(("127.0.0.1", port)).unwrap())
    }

    /// `udp_on`, or `None` when something else took the port meanwhile.
    pub fn try_udp_on(server: SocketAddr, port: u16) -> Option<SipClient> {
        let sock = UdpSocket::bind(("127.0.0.1", port)).ok()?;
        Some(Self::on_socket(server, sock))
    }

    fn on_socket(server: SocketAddr, sock: UdpSocket) -> SipClient {
        sock.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
        let local = sock.local_addr().unwrap();
        SipClient {
            conn: Conn::Udp(sock),
            server,
            local,
            cseq: 0,
            call_id: format!("t-{}", local.port()),
        }
    }

    pub fn tcp(server: SocketAddr) -> SipClient {
        Self::on_stream(server, TcpStream::connect(server).unwrap())
    }

    fn on_stream(server: SocketAddr, s: TcpStream) -> SipClient {
        s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
        let local = s.local_addr().unwrap();
        SipClient {
            conn: Conn::Tcp(s, Vec::new()),
            server,
            local,
            cseq: 0,
            call_id: format!("tt-{}", local.port()),
        }
    }

    pub fn transport(&self) -> &'static str {
        match self.conn {
            Conn::Udp(_) => "UDP",
            Conn::Tcp(..) => "TCP",
        }
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        match &mut self.conn {
            Conn::Udp(s) => {
                s.send_to(bytes, self.server).unwrap();
            }
            Conn::Tcp(s, _) => s.write_all(bytes).unwrap(),
        }
    }

    /// The next message, or `None` after the read timeout.
    pub fn recv(&mut self) -> Option<Message> {
        match &mut self.conn {
            Conn::Udp(s) => {
                let mut buf = vec![0u8; 65536];
                let (n, _) = s.recv_from(&mut buf).ok()?;
                Some(Message::parse(buf[..n].to_vec()).expect("the switch sends valid SIP"))
            }
            Conn::Tcp(s, pending) => loop {
                match frame_stream(pending, 65535).unwrap() {
                    Frame::KeepAlive(n) => {
                        pending.drain(..n);
                        continue;
                    }
                    Frame::Message(n) => {
                        let bytes: Vec<u8> = pending.drain(..n).collect();
                        return Some(Message::parse(bytes).expect("the switch sends valid SIP"));
                    }
                    Frame::Incomplete => {}
                }
                let mut buf = [0u8; 8192];
                let n = s.read(&mut buf).ok()?;
                if n == 0 {
                    return None;
                }
                pending.extend_from_slice(&buf[..n]);
            },
        }
    }

    pub fn set_timeout(&self, d: Duration) {
        match &self.conn {
            Conn::Udp(s) => s.set_read_timeout(Some(d)).unwrap(),
            Conn::Tcp(s, _) => s.set_read_timeout(Some(d)).unwrap(),
        }
    }

    /// A REGISTER for `user@domain`, with optional Contact, Expires, extra headers.
    pub fn register_text(
        &mut self,
        user: &str,
        domain: &str,
        contact: Option<&str>,
        expires: Option<u32>,
        extra: &str,
    ) -> String {
        self.cseq += 1;
        let account = sim::ua::Account {
            user,
            domain,
            local: self.local,
            transport: self.transport(),
        };
        let ids = sim::ua::Ids {
            call_id: &self.call_id,
            cseq: self.cseq,
            branch: &format!("z9hG4bK{}x{}", self.call_id, self.cseq),
            from_tag: &format!("ft{}", self.cseq),
        };
        // No Contact unless given: a REGISTER without one queries the bindings.
        let mut w = account.register(&ids, Some(contact.unwrap_or("")), expires);
        sim::ua::raw_headers(&mut w, extra);
        String::from_utf8(w.finish()).unwrap()
    }

    /// Sends a REGISTER without credentials and returns the status it gets (401 for a
    /// line that exists, 403/404 otherwise).
    pub fn register_unauthenticated(&mut self, user: &str, domain: &str) -> Option<u16> {
        let contact = format!("<sip:{user}@127.0.0.1:7000>");
        let text = self.register_text(user, domain, Some(&contact), None, "");
        self.send_raw(text.as_bytes());
        self.recv().and_then(|m| m.code())
    }

    /// Registers with digest auth, answering the challenge for `alg`; returns the final
    /// response.
    pub fn register(
        &mut self,
        user: &str,
        password: &str,
        domain: &str,
        contact: Option<&str>,
        expires: Option<u32>,
        alg: Algorithm,
    ) -> Message {
        self.register_with(user, password, domain, contact, expires, alg, "")
    }

    #[allow(clippy::too_many_arguments)]
    pub fn register_with(
        &mut self,
        user: &str,
        password: &str,
        domain: &str,
        contact: Option<&str>,
        expires: Option<u32>,
        alg: Algorithm,
        extra: &str,
    ) -> Message {
        let first = self.register_text(user, domain, contact, expires, "");
        self.send_raw(first.as_bytes());
        let challenge = self.recv().expect("a challenge");
        assert_eq!(challenge.code(), Some(401), "first REGISTER is challenged");
        let auth = authorization(
            &challenge,
            alg,
            user,
            password,
            &format!("sip:{domain}"),
            "REGISTER",
        );
        let second = self.register_text(
            user,
            domain,
            contact,
            expires,
            &format!("Authorization: {auth}\r\n{extra}"),
        );
        self.send_raw(second.as_bytes());
        self.recv().expect("a final response")
    }
}

impl SipClient {
    /// `user`'s right password (`secret<user>`) from a source that may be penalised
    /// for guessing: the challenge must come; the answer to the REGISTER that answers
    /// it (with `extra` header lines) is returned, `None` when none comes.
    pub fn register_past_challenge(
        &mut self,
        user: &str,
        contact: Option<&str>,
        extra: &str,
    ) -> Option<Message> {
        let first = self.register_text(user, "127.0.0.1", contact, None, "");
        self.send_raw(first.as_bytes());
        let challenge = self.recv().expect("a challenge");
        assert_eq!(challenge.code(), Some(401), "the REGISTER is challenged");
        self.answer_challenge(&challenge, user, contact, None, extra)
    }

    /// A REGISTER of `user` (password `secret<user>`) with digest, without asserting
    /// anything: the final response, the challenge when it is none, or `None` when
    /// the switch does not answer (killed, overloaded away).
    pub fn try_register(&mut self, user: &str, contact: &str, expires: u32) -> Option<Message> {
        let first = self.register_text(user, "127.0.0.1", Some(contact), Some(expires), "");
        self.send_raw(first.as_bytes());
        let challenge = self.recv()?;
        if challenge.code() != Some(401) {
            return Some(challenge);
        }
        self.answer_challenge(&challenge, user, Some(contact), Some(expires), "")
    }

    /// Sends the REGISTER answering `challenge` with `user`'s right password
    /// (`secret<user>`, MD5) and `extra` header lines; its answer, if any.
    fn answer_challenge(
        &mut self,
        challenge: &Message,
        user: &str,
        contact: Option<&str>,
        expires: Option<u32>,
        extra: &str,
    ) -> Option<Message> {
        let auth = authorization(
            challenge,
            Algorithm::Md5,
            user,
            &format!("secret{user}"),
            "sip:127.0.0.1",
            "REGISTER",
        );
        let answer = self.register_text(
            user,
            "127.0.0.1",
            contact,
            expires,
            &format!("Authorization: {auth}\r\n{extra}"),
        );
        self.send_raw(answer.as_bytes());
        self.recv()
    }
}

/// The Authorization (401) or Proxy-Authorization (407) value answering
/// `challenge`'s offer for `alg` (the engine's digest client, as the simulator uses).
pub fn authorization(
    challenge: &Message,
    alg: Algorithm,
    user: &str,
    password: &str,
    uri: &str,
    method: &str,
) -> String {
    Challenge::for_algorithm(challenge, alg)
        .expect("the challenge offers the algorithm")
        .answer(user, password, method, uri, "0a4f113b")
}

/// The Contact URIs a 200 to REGISTER lists.
pub fn contacts(resp: &Message) -> Vec<String> {
    resp.contacts()
        .unwrap_or_default()
        .iter()
        .map(|c| c.uri.raw.to_owned())
        .collect()
}
