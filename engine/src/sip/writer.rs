//! Writing new messages straight into one byte buffer.

use std::fmt::Display;
use std::io::Write;

use super::header_name::HeaderName;
use super::message::Message;

/// Builds a message: start line, headers, then `body` or `finish` adds Content-Length.
#[derive(Debug, Default)]
pub struct MessageWriter {
    buf: Vec<u8>,
}

impl MessageWriter {
    pub fn request(method: &str, uri: &str) -> Self {
        let mut buf = Vec::with_capacity(512);
        buf.extend_from_slice(method.as_bytes());
        buf.push(b' ');
        buf.extend_from_slice(uri.as_bytes());
        buf.extend_from_slice(b" SIP/2.0\r\n");
        MessageWriter { buf }
    }

    pub fn response(code: u16, reason: &str) -> Self {
        let mut buf = Vec::with_capacity(512);
        let _ = write!(buf, "SIP/2.0 {code} {reason}\r\n");
        MessageWriter { buf }
    }

    /// A response to `req` with Via, From, To, Call-ID and CSeq copied (RFC 3261
    /// §8.2.6.2); `to_tag` is added to To when it has none. A response that sets up a
    /// dialog (a 101–299 to a request without a To tag that starts one) also copies
    /// every Record-Route, in order (§12.1.1), so that the proxies that asked to stay
    /// in the dialog do.
    pub fn response_to(req: &Message, code: u16, reason: &str, to_tag: Option<&str>) -> Self {
        use super::method::Method;
        let mut w = Self::response(code, reason);
        let starts_dialog = (101..300).contains(&code)
            && matches!(
                req.method(),
                Some(Method::Invite | Method::Subscribe | Method::Refer)
            )
            && req.to().is_some_and(|t| t.tag().is_none());
        for (kind, _, value) in req.header_lines() {
            match kind {
                HeaderName::Via | HeaderName::From | HeaderName::CallId | HeaderName::CSeq => {
                    w.header(kind.as_str(), value);
                }
                HeaderName::RecordRoute if starts_dialog => {
                    w.header("Record-Route", value);
                }
                HeaderName::To => {
                    let has_tag = req.to().is_some_and(|t| t.tag().is_some());
                    match to_tag {
                        Some(tag) if !has_tag && code > 100 => {
                            w.header_fmt("To", format_args!("{value};tag={tag}"));
                        }
                        _ => {
                            w.header("To", value);
                        }
                    }
                }
                _ => {}
            }
        }
        w
    }

    /// Appends a header line. Line breaks inside the value (folding, or a bare CR a
    /// peer slipped into a display name) become spaces: a value never starts a new
    /// header line (no header splitting).
    pub fn header(&mut self, name: &str, value: &str) -> &mut Self {
        self.buf.extend_from_slice(name.as_bytes());
        self.buf.extend_from_slice(b": ");
        let start = self.buf.len();
        self.buf.extend_from_slice(value.as_bytes());
        unbreak(&mut self.buf[start..]);
        self.buf.extend_from_slice(b"\r\n");
        self
    }

    pub fn header_fmt(&mut self, name: &str, value: impl Display) -> &mut Self {
        self.buf.extend_from_slice(name.as_bytes());
        self.buf.extend_from_slice(b": ");
        let start = self.buf.len();
        let _ = write!(self.buf, "{value}");
        unbreak(&mut self.buf[start..]);
        self.buf.extend_from_slice(b"\r\n");
        self
    }

    /// Ends the header section with Content-Length and appends the body.
    pub fn body(mut self, content_type: &str, body: &[u8]) -> Vec<u8> {
        self.header("Content-Type", content_type);
        let _ = write!(self.buf, "Content-Length: {}\r\n\r\n", body.len());
        self.buf.extend_from_slice(body);
        self.buf
    }

    /// Ends a message without body.
    pub fn finish(mut self) -> Vec<u8> {
        self.buf.extend_from_slice(b"Content-Length: 0\r\n\r\n");
        self.buf
    }
}

/// Turns CR and LF into spaces.
fn unbreak(value: &mut [u8]) {
    for b in value.iter_mut().filter(|b| matches!(**b, b'\r' | b'\n')) {
        *b = b' ';
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_cannot_split_headers() {
        let mut w = MessageWriter::request("INVITE", "sip:a@h");
        w.header("From", "\"Eve\rInjected: yes\" <sip:e@h>;tag=1")
            .header_fmt("To", format_args!("<sip:a@h>\r\nX: {}", 1));
        let text = String::from_utf8(w.finish()).unwrap();
        assert_eq!(text.matches('\r').count(), text.matches("\r\n").count());
        assert!(!text.contains("\r\nInjected"));
        assert!(!text.contains("\r\nX:"));
    }

    #[test]
    fn response_copies_dialog_headers_and_adds_tag() {
        let req = Message::parse(
            &b"REGISTER sip:h SIP/2.0\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK1\r\nTo: <sip:1@h>\r\nFrom: <sip:1@h>;tag=f\r\nCall-ID: c\r\nCSeq: 1 REGISTER\r\nl: 0\r\n\r\n"[..],
        )
        .unwrap();
        let bytes = MessageWriter::response_to(&req, 200, "OK", Some("t1")).finish();
        let resp = Message::parse(bytes).unwrap();
        assert_eq!(resp.code(), Some(200));
        assert_eq!(resp.to().unwrap().tag(), Some("t1"));
        assert_eq!(resp.top_via().unwrap().branch(), Some("z9hG4bK1"));
        assert_eq!(resp.cseq().unwrap().seq, 1);
    }

    #[test]
    fn a_response_that_sets_up_a_dialog_keeps_the_record_routes_in_order() {
        let invite = |to_tag: &str| {
            Message::parse(format!(
                "INVITE sip:b@h SIP/2.0\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK1\r\n\
                 Record-Route: <sip:edge1;lr>, <sip:edge2;lr;x=1>\r\nRecord-Route: <sip:edge3;lr>\r\n\
                 To: <sip:b@h>{to_tag}\r\nFrom: <sip:a@h>;tag=f\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\nl: 0\r\n\r\n"
            ).into_bytes())
            .unwrap()
        };
        let routes = |req: &Message, code| {
            let resp =
                Message::parse(MessageWriter::response_to(req, code, "R", Some("t")).finish())
                    .unwrap();
            resp.values(HeaderName::RecordRoute)
                .map(str::to_owned)
                .collect::<Vec<_>>()
        };
        let new = invite("");
        for code in [180, 200] {
            assert_eq!(
                routes(&new, code),
                ["<sip:edge1;lr>, <sip:edge2;lr;x=1>", "<sip:edge3;lr>"]
            );
        }
        // Not a dialog: a refusal, the 100; nor a request inside one.
        assert!(routes(&new, 486).is_empty());
        assert!(routes(&new, 100).is_empty());
        assert!(routes(&invite(";tag=x"), 200).is_empty());
    }
}
