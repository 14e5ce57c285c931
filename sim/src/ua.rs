//! What a phone sends, sans-IO: the requests and SDP offers of the simulator's phones
//! and of the tests' phones are built here, one implementation of a phone's SIP.
//! Challenges are answered with `engine::auth::client`; responses are
//! `engine::sip::MessageWriter::response_to`. The IO stays with each user: tokio
//! sockets in the simulator, blocking sockets or a paused tokio clock in the tests.

use std::net::{IpAddr, SocketAddr};

use engine::sip::MessageWriter;

/// A phone's account and where it sends from.
#[derive(Debug, Clone, Copy)]
pub struct Account<'a> {
    pub user: &'a str,
    pub domain: &'a str,
    /// The phone's SIP address (its Via and Contact).
    pub local: SocketAddr,
    /// `UDP` or `TCP`.
    pub transport: &'a str,
}

/// What tells one request from another.
#[derive(Debug, Clone, Copy)]
pub struct Ids<'a> {
    pub call_id: &'a str,
    pub cseq: u32,
    pub branch: &'a str,
    pub from_tag: &'a str,
}

impl Account<'_> {
    /// A request with Via (with `rport`), Max-Forwards, From, To (`to`, a header
    /// value), Call-ID and CSeq; the caller adds the rest.
    pub fn request(&self, method: &str, uri: &str, to: &str, ids: &Ids<'_>) -> MessageWriter {
        self.request_from(method, uri, "", to, ids)
    }

    /// `request` with a display name in From.
    pub fn request_from(
        &self,
        method: &str,
        uri: &str,
        display: &str,
        to: &str,
        ids: &Ids<'_>,
    ) -> MessageWriter {
        let mut w = MessageWriter::request(method, uri);
        w.header_fmt(
            "Via",
            format_args!(
                "SIP/2.0/{} {};branch={};rport",
                self.transport, self.local, ids.branch
            ),
        )
        .header("Max-Forwards", "70")
        .header_fmt(
            "From",
            format_args!(
                "{display}<sip:{}@{}>;tag={}",
                self.user, self.domain, ids.from_tag
            ),
        )
        .header("To", to)
        .header("Call-ID", ids.call_id)
        .header_fmt("CSeq", format_args!("{} {method}", ids.cseq));
        w
    }

    /// The phone's Contact: `<sip:user@local>` (with `;transport=tcp` over TCP).
    pub fn contact(&self) -> String {
        let param = if self.transport.eq_ignore_ascii_case("TCP") {
            ";transport=tcp"
        } else {
            ""
        };
        format!("<sip:{}@{}{param}>", self.user, self.local)
    }

    /// A REGISTER of `user@domain` binding `contact` (the phone's own when `None`;
    /// `Some("")` binds nothing: a query), for `expires` seconds when given.
    pub fn register(
        &self,
        ids: &Ids<'_>,
        contact: Option<&str>,
        expires: Option<u32>,
    ) -> MessageWriter {
        let aor = format!("<sip:{}@{}>", self.user, self.domain);
        let mut w = self.request("REGISTER", &format!("sip:{}", self.domain), &aor, ids);
        match contact {
            Some("") => {}
            Some(c) => {
                w.header("Contact", c);
            }
            None => {
                w.header("Contact", &self.contact());
            }
        }
        if let Some(e) = expires {
            w.header_fmt("Expires", e);
        }
        w
    }

    /// An INVITE to `callee@domain` (no To tag), with the phone's Contact; `display`
    /// is a From display name with its trailing space, or empty.
    pub fn invite(&self, callee: &str, display: &str, ids: &Ids<'_>) -> MessageWriter {
        let uri = format!("sip:{callee}@{}", self.domain);
        let to = format!("<{uri}>");
        let mut w = self.request_from("INVITE", &uri, display, &to, ids);
        w.header("Contact", &self.contact());
        w
    }
}

/// Adds header lines written out as text (`Name: value\r\n` …), as tests pass them.
pub fn raw_headers(w: &mut MessageWriter, text: &str) {
    for line in text.split("\r\n").filter(|l| !l.is_empty()) {
        if let Some((name, value)) = line.split_once(':') {
            w.header(name.trim(), value.trim());
        }
    }
}

/// An SDP offer of one audio stream at `ip:port` with `codecs` (payload type, name at
/// 8 kHz) and, when given, telephone-event (RFC 4733) on that payload type.
pub fn sdp_offer(
    ip: IpAddr,
    port: u16,
    codecs: &[(u8, &str)],
    events: Option<u8>,
    session: u32,
) -> String {
    let at = if ip.is_ipv4() { "IP4" } else { "IP6" };
    let mut formats: Vec<String> = codecs.iter().map(|(pt, _)| pt.to_string()).collect();
    formats.extend(events.map(|e| e.to_string()));
    let mut s = format!(
        "v=0\r\no=- {session} {session} IN {at} {ip}\r\ns=-\r\nc=IN {at} {ip}\r\nt=0 0\r\nm=audio {port} RTP/AVP {}\r\n",
        formats.join(" ")
    );
    for (pt, name) in codecs {
        s.push_str(&format!("a=rtpmap:{pt} {name}/8000\r\n"));
    }
    if let Some(e) = events {
        s.push_str(&format!(
            "a=rtpmap:{e} telephone-event/8000\r\na=fmtp:{e} 0-16\r\n"
        ));
    }
    s
}

/// Whether a call answers this 401/407, having answered `answered` before: the
/// first, and one more that says the nonce was stale (right credentials, a nonce the
/// server did not take: another node after a failover, or a restart), as phones do.
pub fn may_answer(answered: u8, resp: &engine::sip::Message) -> bool {
    use engine::auth::client::Challenge;
    answered == 0 || (answered == 1 && Challenge::from_response(resp).is_some_and(|c| c.stale))
}

/// The caller's route set from the 2xx that set up its dialog (RFC 3261 §12.1.2: its
/// Record-Route in reverse order), as one Route value; `None` when no proxy asked to
/// stay in the dialog.
pub fn route_set(answer: &engine::sip::Message) -> Option<String> {
    let mut routes = engine::dialog::record_routes(answer).ok()?;
    if routes.is_empty() {
        return None;
    }
    routes.reverse();
    Some(routes.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use engine::sip::Message;

    #[test]
    fn a_challenge_is_answered_once_and_once_more_when_its_nonce_was_stale() {
        let challenge = |extra: &str| {
            let text = format!("SIP/2.0 407 Proxy Authentication Required\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\nProxy-Authenticate: Digest realm=\"r\", nonce=\"n\"{extra}\r\n\r\n");
            Message::parse(text.into_bytes()).unwrap()
        };
        let (fresh, stale) = (challenge(""), challenge(", stale=true"));
        assert!(may_answer(0, &fresh));
        assert!(
            !may_answer(1, &fresh),
            "wrong credentials are not sent again"
        );
        assert!(may_answer(1, &stale));
        assert!(!may_answer(2, &stale), "no loop of stale challenges");
    }

    fn account() -> Account<'static> {
        Account {
            user: "100",
            domain: "demo.test",
            local: "127.0.0.1:5070".parse().unwrap(),
            transport: "UDP",
        }
    }

    const IDS: Ids<'static> = Ids {
        call_id: "c1",
        cseq: 2,
        branch: "z9hG4bKx",
        from_tag: "t1",
    };

    #[test]
    fn register_and_invite_parse_back() {
        let reg = Message::parse(account().register(&IDS, None, Some(600)).finish()).unwrap();
        assert_eq!(reg.to().unwrap().uri.user, Some("100"));
        assert_eq!(reg.cseq().unwrap().seq, 2);
        assert_eq!(reg.contacts().unwrap()[0].uri.raw, "sip:100@127.0.0.1:5070");
        let sdp = sdp_offer(
            "127.0.0.1".parse().unwrap(),
            4000,
            &[(0, "PCMU")],
            Some(101),
            1,
        );
        let invite = account()
            .invite("105", "Alice ", &IDS)
            .body("application/sdp", sdp.as_bytes());
        let invite = Message::parse(invite).unwrap();
        assert_eq!(invite.uri().unwrap().raw, "sip:105@demo.test");
        assert_eq!(invite.from().unwrap().display, Some("Alice"));
        let offer = engine::sdp::Sdp::parse(invite.body()).unwrap();
        assert_eq!(offer.media()[0].payload_types(), vec![0, 101]);
    }

    #[test]
    fn raw_header_lines_are_added() {
        let mut w = account().register(&IDS, Some(""), None);
        raw_headers(&mut w, "Authorization: Digest x=1\r\nX-Test: a:b\r\n");
        let m = Message::parse(w.finish()).unwrap();
        assert!(m.contacts().unwrap_or_default().is_empty());
        assert_eq!(m.values_named("X-Test").next(), Some("a:b"));
    }
}
