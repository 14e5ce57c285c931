//! The requests a trunk sends its carrier on its own: REGISTER (RFC 3261 §10.2, with
//! the answer to a challenge once there is one) and OPTIONS (§11, as a keep-alive).

use std::net::SocketAddr;

use engine::sip::MessageWriter;
use rand::Rng;

use crate::store::TrunkConfig;

/// A random token for tags, branches, Call-IDs and cnonces.
pub fn token() -> String {
    format!("{:016x}", rand::thread_rng().gen::<u64>())
}

/// What a trunk's requests share: its account, the switch's address facing the
/// carrier, and the Call-ID and From tag of its registration.
pub struct Request<'a> {
    pub config: &'a TrunkConfig,
    pub local: SocketAddr,
    pub call_id: &'a str,
    pub from_tag: &'a str,
}

impl Request<'_> {
    /// The account's user (the host's address when it has none).
    fn user(&self) -> &str {
        self.config.username.as_deref().unwrap_or("pbx")
    }

    fn head(&self, method: &str, uri: &str, cseq: u32, branch: &str) -> MessageWriter {
        let domain = self.config.domain();
        let mut w = MessageWriter::request(method, uri);
        let transport = match self.config.transport.as_str() {
            "tcp" => "TCP",
            "tls" => "TLS",
            _ => "UDP",
        };
        w.header_fmt(
            "Via",
            format_args!("SIP/2.0/{transport} {};branch={branch};rport", self.local),
        );
        w.header("Max-Forwards", "70");
        w.header_fmt(
            "From",
            format_args!("<sip:{}@{domain}>;tag={}", self.user(), self.from_tag),
        );
        w.header_fmt("To", format_args!("<sip:{}@{domain}>", self.user()));
        w.header("Call-ID", self.call_id);
        w.header_fmt("CSeq", format_args!("{cseq} {method}"));
        w.header("User-Agent", "pbx");
        w
    }

    /// A REGISTER for `expires` seconds of the switch's address, with the answer to
    /// the carrier's challenge (`Authorization` or `Proxy-Authorization`) if any.
    pub fn register(
        &self,
        cseq: u32,
        branch: &str,
        expires: u32,
        credentials: Option<(&str, String)>,
    ) -> Vec<u8> {
        let uri = format!("sip:{}", self.config.domain());
        let mut w = self.head("REGISTER", &uri, cseq, branch);
        let param = match self.config.transport.as_str() {
            "tcp" => ";transport=tcp",
            "tls" => ";transport=tls",
            _ => "",
        };
        w.header_fmt(
            "Contact",
            format_args!("<sip:{}@{}{param}>", self.user(), self.local),
        );
        w.header_fmt("Expires", expires);
        if let Some((name, value)) = credentials {
            w.header(name, &value);
        }
        w.finish()
    }

    /// An OPTIONS to the carrier's address (a keep-alive: any answer shows it is up).
    pub fn options(&self, cseq: u32, branch: &str) -> Vec<u8> {
        let uri = format!("sip:{}:{}", self.config.host, self.config.port);
        let mut w = self.head("OPTIONS", &uri, cseq, branch);
        w.header("Accept", "application/sdp");
        w.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use engine::sip::Message;

    #[test]
    fn a_register_parses_and_names_the_account() {
        let config = TrunkConfig {
            name: "carrier".into(),
            host: "127.0.0.1".into(),
            port: 5070,
            transport: "udp".into(),
            username: Some("acme".into()),
            password: Some("secret".into()),
            domain: Some("carrier.test".into()),
            register: true,
            expires: 600,
            keepalive: 30,
            max_calls: None,
        };
        let r = Request {
            config: &config,
            local: "127.0.0.1:5060".parse().unwrap(),
            call_id: "abc@pbx",
            from_tag: "t1",
        };
        let bytes = r.register(
            2,
            "z9hG4bK1",
            600,
            Some(("Authorization", "Digest x".into())),
        );
        let m = Message::parse(bytes::Bytes::from(bytes)).unwrap();
        assert_eq!(m.uri_str(), Some("sip:carrier.test"));
        assert_eq!(m.expires(), Some(600));
        assert_eq!(m.cseq().unwrap().seq, 2);
        assert_eq!(m.from().unwrap().uri.user, Some("acme"));
        assert!(m.check_request().is_ok());
        let o = Message::parse(bytes::Bytes::from(r.options(3, "z9hG4bK2"))).unwrap();
        assert_eq!(o.uri_str(), Some("sip:127.0.0.1:5070"));
    }
}
