//! A parsed SIP message: one buffer plus byte ranges into it. Parsing allocates the
//! buffer's header index once; typed views are read from the ranges on demand.

use std::borrow::Cow;

use bytes::Bytes;

use super::header_name::HeaderName;
use super::headers::{check_date, check_warning, delta_seconds, CSeq, Contact, ContactList};
use super::headers::{NameAddr, Via};
use super::method::Method;
use super::scan::{is_token, is_word, parse_bounded, Scanner};
use super::uri::Uri;
use crate::error::{Error, Result};

/// The default limit on the size of one message (a request over it gets 513).
pub const MAX_MESSAGE_SIZE: usize = 32_768;

type Span = (u32, u32);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartLine {
    Request { method: Method, uri: Span },
    Response { code: u16, reason: Span },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct RawHeader {
    kind: HeaderName,
    name: Span,
    value: Span,
}

/// A SIP request or response.
#[derive(Debug, Clone)]
pub struct Message {
    buf: Bytes,
    start: StartLine,
    headers: Vec<RawHeader>,
    body: Span,
    /// Several Content-Length headers that disagree (RFC 4475 §3.3.9): the message is
    /// readable but a server answers 400.
    conflicting_length: bool,
}

fn span_of(base: &[u8], part: &[u8]) -> Span {
    let start = part.as_ptr() as usize - base.as_ptr() as usize;
    (start as u32, (start + part.len()) as u32)
}

fn trim_ws(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t' | b'\r' | b'\n', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t' | b'\r' | b'\n'] = s {
        s = rest;
    }
    s
}

impl Message {
    /// Parses one datagram (or one framed stream message) with the default size limit.
    pub fn parse(buf: impl Into<Bytes>) -> Result<Message> {
        Self::parse_with_limit(buf.into(), MAX_MESSAGE_SIZE)
    }

    pub fn parse_with_limit(buf: Bytes, limit: usize) -> Result<Message> {
        if buf.len() > limit {
            return Err(Error::TooLarge(buf.len()));
        }
        let b: &[u8] = &buf;
        // Keep-alive CRLFs before the start line are ignored (RFC 3261 §7.5).
        let mut pos = 0;
        while pos < b.len() && (b[pos] == b'\r' || b[pos] == b'\n') {
            pos += 1;
        }
        let (line, next) = next_line(b, pos).ok_or(Error::Malformed("no start line"))?;
        let start = parse_start_line(b, line)?;
        pos = next;

        let mut headers: Vec<RawHeader> = Vec::with_capacity(16);
        let head_end;
        loop {
            let (line, next) =
                next_line(b, pos).ok_or(Error::Malformed("headers not terminated"))?;
            if line.is_empty() {
                head_end = next;
                break;
            }
            if line[0] == b' ' || line[0] == b'\t' {
                // Folded continuation of the previous header (RFC 3261 §7.3.1).
                let last = headers
                    .last_mut()
                    .ok_or(Error::Malformed("continuation line before any header"))?;
                let trimmed = trim_ws(line);
                if !trimmed.is_empty() {
                    last.value.1 = span_of(b, trimmed).1;
                    if last.value.0 == last.value.1 {
                        last.value.0 = span_of(b, trimmed).0;
                    }
                }
                pos = next;
                continue;
            }
            let colon =
                memchr::memchr(b':', line).ok_or(Error::Malformed("header line without colon"))?;
            let name = trim_ws(&line[..colon]);
            if name.is_empty() || !name.iter().all(|&c| is_token(c)) {
                return Err(Error::Malformed("invalid header name"));
            }
            let value = trim_ws(&line[colon + 1..]);
            let value_span = if value.is_empty() {
                let at = span_of(b, &line[line.len()..]).0;
                (at, at)
            } else {
                span_of(b, value)
            };
            headers.push(RawHeader {
                kind: HeaderName::classify(name),
                name: span_of(b, name),
                value: value_span,
            });
            pos = next;
        }
        if std::str::from_utf8(&b[..head_end]).is_err() {
            return Err(Error::Malformed("header section is not UTF-8"));
        }
        let mut msg = Message {
            buf: buf.clone(),
            start,
            headers,
            body: (head_end as u32, buf.len() as u32),
            conflicting_length: false,
        };
        msg.check_and_frame_body()?;
        msg.validate_headers()?;
        Ok(msg)
    }

    /// This message with the bytes `at` of one header's value replaced by `with` (a
    /// proxy stamping its Via), without parsing it again: the ranges after the edit
    /// are moved. `with` must keep that value well formed. `None` when `at` is not
    /// within a single header's value (or is Content-Length's, which frames the
    /// body), or when `with` holds a line break.
    pub fn spliced(&self, at: std::ops::Range<usize>, with: &str) -> Option<Message> {
        let head = std::str::from_utf8(&self.buf[..self.body.0 as usize]).ok()?;
        let within_a_value = self.headers.iter().any(|h| {
            h.kind != HeaderName::ContentLength
                && h.value.0 as usize <= at.start
                && at.end <= h.value.1 as usize
        });
        if at.start > at.end
            || !within_a_value
            || !head.is_char_boundary(at.start)
            || !head.is_char_boundary(at.end)
            || with.contains(['\r', '\n'])
        {
            return None;
        }
        let mut buf = Vec::with_capacity(self.buf.len() - at.len() + with.len());
        buf.extend_from_slice(&self.buf[..at.start]);
        buf.extend_from_slice(with.as_bytes());
        buf.extend_from_slice(&self.buf[at.end..]);
        let grown = with.len() as i64 - at.len() as i64;
        let (from, end) = (at.start as u32, at.end as u32);
        let shift = |p: u32| (p as i64 + grown) as u32;
        // A range's start stays put when text goes in right at it (the inserted text
        // is the value's); anything at or after the edit's end moves.
        let span = |(a, b): Span| {
            let a = if a >= end && a > from { shift(a) } else { a };
            let b = if b >= end { shift(b) } else { b };
            (a, b)
        };
        let start = match &self.start {
            StartLine::Request { method, uri } => StartLine::Request {
                method: method.clone(),
                uri: span(*uri),
            },
            StartLine::Response { code, reason } => StartLine::Response {
                code: *code,
                reason: span(*reason),
            },
        };
        Some(Message {
            buf: Bytes::from(buf),
            start,
            headers: self
                .headers
                .iter()
                .map(|h| RawHeader {
                    kind: h.kind,
                    name: span(h.name),
                    value: span(h.value),
                })
                .collect(),
            body: span(self.body),
            conflicting_length: self.conflicting_length,
        })
    }

    fn check_and_frame_body(&mut self) -> Result<()> {
        let mut length: Option<u64> = None;
        let mut conflicting = false;
        for v in self.values(HeaderName::ContentLength) {
            let v = v.trim();
            if v.starts_with('-') {
                return Err(Error::BadHeader {
                    header: "Content-Length",
                    reason: "negative length",
                });
            }
            let n = parse_bounded(v, u32::MAX as u64, "Content-Length")?;
            match length {
                Some(prev) if prev != n => conflicting = true,
                _ => length = Some(n),
            }
        }
        if conflicting {
            self.conflicting_length = true;
            return Ok(());
        }
        if let Some(n) = length {
            let available = (self.body.1 - self.body.0) as u64;
            if n > available {
                return Err(Error::Malformed("Content-Length larger than the message"));
            }
            // Extra octets after the body of a datagram are discarded (RFC 3261 §18.3).
            self.body.1 = self.body.0 + n as u32;
        }
        Ok(())
    }

    fn validate_headers(&self) -> Result<()> {
        let mut cseq_method: Option<&str> = None;
        for h in &self.headers {
            let v = self.str_of(h.value);
            match h.kind {
                HeaderName::Via => {
                    let mut sc = Scanner::new(v, "Via");
                    Via::validate(&mut sc)?;
                }
                HeaderName::From | HeaderName::To => {
                    let name = if h.kind == HeaderName::From {
                        "From"
                    } else {
                        "To"
                    };
                    NameAddr::parse(v, name)?;
                }
                HeaderName::Contact => ContactList::validate(v)?,
                HeaderName::Route | HeaderName::RecordRoute => {
                    let mut sc = Scanner::new(v, "Route");
                    loop {
                        NameAddr::scan(&mut sc)?;
                        if !sc.eat_sep(b',') {
                            break;
                        }
                    }
                }
                HeaderName::CSeq => {
                    let c = CSeq::parse(v)?;
                    cseq_method.get_or_insert(c.method);
                }
                HeaderName::CallId
                    if v.is_empty() || !v.bytes().all(|c| is_word(c) || c == b'@') =>
                {
                    return Err(Error::BadHeader {
                        header: "Call-ID",
                        reason: "invalid Call-ID",
                    });
                }
                HeaderName::MaxForwards => {
                    parse_bounded(v, 255, "Max-Forwards")?;
                }
                HeaderName::Expires | HeaderName::MinExpires => {
                    delta_seconds(v, "Expires")?;
                }
                HeaderName::RetryAfter => {
                    delta_seconds(v, "Retry-After")?;
                }
                HeaderName::Date => check_date(v)?,
                HeaderName::Warning => check_warning(v)?,
                _ => {}
            }
        }
        if let (StartLine::Request { method, .. }, Some(cm)) = (&self.start, cseq_method) {
            if method.as_str() != cm {
                return Err(Error::BadHeader {
                    header: "CSeq",
                    reason: "method does not match the request line",
                });
            }
        }
        Ok(())
    }

    fn str_of(&self, span: Span) -> &str {
        // The header section was checked to be UTF-8 at parse time and spans end on
        // character boundaries (they are cut at ASCII delimiters).
        std::str::from_utf8(&self.buf[span.0 as usize..span.1 as usize]).unwrap_or("")
    }

    // ----- getters -----

    pub fn as_bytes(&self) -> &[u8] {
        &self.buf
    }

    pub fn bytes(&self) -> &Bytes {
        &self.buf
    }

    pub fn start_line(&self) -> &StartLine {
        &self.start
    }

    pub fn is_request(&self) -> bool {
        matches!(self.start, StartLine::Request { .. })
    }

    pub fn method(&self) -> Option<&Method> {
        match &self.start {
            StartLine::Request { method, .. } => Some(method),
            StartLine::Response { .. } => None,
        }
    }

    /// The status code of a response.
    pub fn code(&self) -> Option<u16> {
        match self.start {
            StartLine::Response { code, .. } => Some(code),
            StartLine::Request { .. } => None,
        }
    }

    pub fn reason(&self) -> Option<&str> {
        match self.start {
            StartLine::Response { reason, .. } => Some(self.str_of(reason)),
            StartLine::Request { .. } => None,
        }
    }

    /// The Request-URI text.
    pub fn uri_str(&self) -> Option<&str> {
        match self.start {
            StartLine::Request { uri, .. } => Some(self.str_of(uri)),
            StartLine::Response { .. } => None,
        }
    }

    pub fn uri(&self) -> Option<Uri<'_>> {
        Uri::parse(self.uri_str()?, "Request-URI").ok()
    }

    /// All header lines as `(name as written, value as written)`.
    pub fn header_lines(&self) -> impl Iterator<Item = (HeaderName, &str, &str)> {
        self.headers
            .iter()
            .map(|h| (h.kind, self.str_of(h.name), self.str_of(h.value)))
    }

    /// Every value line of one known header, in order.
    pub fn values(&self, name: HeaderName) -> impl Iterator<Item = &str> {
        self.headers
            .iter()
            .filter(move |h| h.kind == name)
            .map(|h| self.str_of(h.value))
    }

    /// The values of an extension header, by name (case-insensitive).
    pub fn values_named<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'s str> {
        self.headers
            .iter()
            .filter(move |h| self.str_of(h.name).eq_ignore_ascii_case(name))
            .map(|h| self.str_of(h.value))
    }

    pub fn header(&self, name: HeaderName) -> Option<&str> {
        self.values(name).next()
    }

    /// A header value with folding (CRLF + white space) replaced by one space.
    pub fn header_unfolded(&self, name: HeaderName) -> Option<Cow<'_, str>> {
        self.header(name).map(unfold)
    }

    pub fn count(&self, name: HeaderName) -> usize {
        self.headers.iter().filter(|h| h.kind == name).count()
    }

    pub fn call_id(&self) -> Option<&str> {
        self.header(HeaderName::CallId)
    }

    pub fn cseq(&self) -> Option<CSeq<'_>> {
        CSeq::parse(self.header(HeaderName::CSeq)?).ok()
    }

    pub fn from(&self) -> Option<NameAddr<'_>> {
        NameAddr::parse(self.header(HeaderName::From)?, "From").ok()
    }

    pub fn to(&self) -> Option<NameAddr<'_>> {
        NameAddr::parse(self.header(HeaderName::To)?, "To").ok()
    }

    pub fn top_via(&self) -> Option<Via<'_>> {
        Via::parse_first(self.header(HeaderName::Via)?).ok()
    }

    pub fn vias(&self) -> Vec<Via<'_>> {
        self.values(HeaderName::Via)
            .filter_map(|v| Via::parse_list(v).ok())
            .flatten()
            .collect()
    }

    /// Contacts of all Contact lines; `None` for `Contact: *`.
    pub fn contacts(&self) -> Option<Vec<Contact<'_>>> {
        let mut out = Vec::new();
        for v in self.values(HeaderName::Contact) {
            if ContactList::parse_into(v, &mut out).ok()? {
                return None;
            }
        }
        Some(out)
    }

    pub fn is_contact_star(&self) -> bool {
        self.values(HeaderName::Contact).any(|v| v.trim() == "*")
    }

    pub fn expires(&self) -> Option<u32> {
        delta_seconds(self.header(HeaderName::Expires)?, "Expires").ok()
    }

    pub fn max_forwards(&self) -> Option<u32> {
        parse_bounded(self.header(HeaderName::MaxForwards)?, 255, "Max-Forwards")
            .ok()
            .map(|v| v as u32)
    }

    pub fn body(&self) -> &[u8] {
        &self.buf[self.body.0 as usize..self.body.1 as usize]
    }

    /// What a server must check before acting on a request (RFC 3261 §8.2, §16.3): the
    /// mandatory headers present once each. The error is the 400 reason phrase.
    pub fn check_request(&self) -> std::result::Result<(), &'static str> {
        if self.conflicting_length {
            return Err("Conflicting Content-Length");
        }
        for (name, reason_missing, reason_many) in [
            (HeaderName::Via, "Missing Via", ""),
            (HeaderName::From, "Missing From", "Multiple From"),
            (HeaderName::To, "Missing To", "Multiple To"),
            (HeaderName::CallId, "Missing Call-ID", "Multiple Call-ID"),
            (HeaderName::CSeq, "Missing CSeq", "Multiple CSeq"),
        ] {
            match self.count(name) {
                0 => return Err(reason_missing),
                1 => {}
                _ if !reason_many.is_empty() => return Err(reason_many),
                _ => {}
            }
        }
        if self.count(HeaderName::MaxForwards) > 1 {
            return Err("Multiple Max-Forwards");
        }
        Ok(())
    }

    /// Writes the message back out: start line, each header as `Name: value` with the
    /// name and value bytes exactly as parsed, and the body.
    pub fn print(&self, out: &mut Vec<u8>) {
        let b = &self.buf[..];
        match &self.start {
            StartLine::Request { method, uri } => {
                out.extend_from_slice(method.as_str().as_bytes());
                out.push(b' ');
                out.extend_from_slice(&b[uri.0 as usize..uri.1 as usize]);
                out.extend_from_slice(b" SIP/2.0\r\n");
            }
            StartLine::Response { code, reason } => {
                out.extend_from_slice(b"SIP/2.0 ");
                out.extend_from_slice(code.to_string().as_bytes());
                out.push(b' ');
                out.extend_from_slice(&b[reason.0 as usize..reason.1 as usize]);
                out.extend_from_slice(b"\r\n");
            }
        }
        for h in &self.headers {
            out.extend_from_slice(&b[h.name.0 as usize..h.name.1 as usize]);
            out.extend_from_slice(b": ");
            out.extend_from_slice(&b[h.value.0 as usize..h.value.1 as usize]);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(self.body());
    }
}

/// Replaces folding (CRLF followed by white space) with a single space.
pub fn unfold(v: &str) -> Cow<'_, str> {
    if !v.contains(['\r', '\n']) {
        return Cow::Borrowed(v);
    }
    let mut out = String::with_capacity(v.len());
    let mut in_break = false;
    for c in v.chars() {
        match c {
            '\r' | '\n' => in_break = true,
            ' ' | '\t' if in_break => {}
            _ => {
                if in_break {
                    out.push(' ');
                    in_break = false;
                }
                out.push(c);
            }
        }
    }
    Cow::Owned(out)
}

/// Returns the line starting at `pos` without its line ending, and where the next
/// line starts. Accepts CRLF and (leniently) bare LF.
fn next_line(b: &[u8], pos: usize) -> Option<(&[u8], usize)> {
    if pos > b.len() {
        return None;
    }
    let nl = memchr::memchr(b'\n', &b[pos..])? + pos;
    let end = if nl > pos && b[nl - 1] == b'\r' {
        nl - 1
    } else {
        nl
    };
    Some((&b[pos..end], nl + 1))
}

fn parse_start_line(base: &[u8], line: &[u8]) -> Result<StartLine> {
    let text =
        std::str::from_utf8(line).map_err(|_| Error::Malformed("start line is not UTF-8"))?;
    if line.len() >= 4 && line[..4].eq_ignore_ascii_case(b"SIP/") {
        let mut parts = text.splitn(3, ' ');
        let version = parts.next().unwrap_or("");
        if !version.eq_ignore_ascii_case("SIP/2.0") {
            return Err(Error::Malformed("unsupported SIP version"));
        }
        let code_text = parts.next().unwrap_or("");
        if code_text.len() != 3 || !code_text.bytes().all(|c| c.is_ascii_digit()) {
            return Err(Error::Malformed("status code must have three digits"));
        }
        let code: u16 = code_text
            .parse()
            .map_err(|_| Error::Malformed("bad status code"))?;
        if !(100..=699).contains(&code) {
            return Err(Error::Malformed("status code out of range"));
        }
        let reason = parts.next().unwrap_or("");
        let reason_bytes = &line[line.len() - reason.len()..];
        return Ok(StartLine::Response {
            code,
            reason: span_of(base, reason_bytes),
        });
    }
    let mut parts = text.split(' ');
    let (Some(method), Some(uri), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Error::Malformed(
            "request line must be METHOD SP URI SP SIP/2.0",
        ));
    };
    if method.is_empty() || !method.bytes().all(is_token) {
        return Err(Error::Malformed("invalid method"));
    }
    if version != "SIP/2.0" {
        return Err(Error::Malformed("unsupported SIP version"));
    }
    let parsed = Uri::parse(uri, "Request-URI")?;
    if parsed.headers.is_some() {
        return Err(Error::Malformed("Request-URI must not carry headers"));
    }
    let uri_start = method.len() + 1;
    Ok(StartLine::Request {
        method: Method::parse(method),
        uri: span_of(base, &line[uri_start..uri_start + uri.len()]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const REGISTER: &str = "REGISTER sip:127.0.0.1 SIP/2.0\r\n\
Via: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK776asdhds;rport\r\n\
Max-Forwards: 70\r\n\
To: <sip:100@127.0.0.1>\r\n\
From: \"Desk 100\" <sip:100@127.0.0.1>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710@pc33\r\n\
CSeq: 314159 REGISTER\r\n\
Contact: <sip:100@127.0.0.1:5062>;expires=3600, <sip:100@[::1]:5064>;q=0.5\r\n\
m: <sip:100@10.0.0.9>\r\n\
l: 0\r\n\r\n";

    #[test]
    fn a_spliced_message_reads_as_its_bytes_parsed_again() {
        let body = "v=0\r\n";
        let text = REGISTER.replace("l: 0", &format!("l: {}", body.len())) + body + "junk";
        let m = Message::parse(text.into_bytes()).unwrap();
        let via = m.header(HeaderName::Via).unwrap();
        let at = via.as_ptr() as usize - m.as_bytes().as_ptr() as usize;
        let rport = at + via.find(";rport").unwrap();
        for (range, with) in [
            (rport..rport + 6, ";received=192.0.2.1;rport=40000"),
            (rport..rport + 6, ""),
            (at..at + via.len(), "SIP/2.0/UDP a;branch=z9hG4bKb"),
            (rport..rport, ";x=1"),
            (at..at, "SIP/2.0/UDP b:1;branch=z9hG4bKc, "),
        ] {
            let spliced = m.spliced(range, with).unwrap();
            let again = Message::parse(spliced.as_bytes().to_vec()).unwrap();
            assert_eq!(format!("{spliced:?}"), format!("{again:?}"), "{with}");
            assert_eq!(spliced.body(), body.as_bytes());
        }
        assert!(m.spliced(0..1, "X\r\nY: z").is_none(), "no new lines");
        assert!(
            m.spliced(0..m.as_bytes().len(), "").is_none(),
            "within a value only"
        );
        assert!(m.spliced(0..8, "INVITE").is_none(), "not the start line");
        let length = m.header(HeaderName::ContentLength).unwrap();
        let at = length.as_ptr() as usize - m.as_bytes().as_ptr() as usize;
        assert!(
            m.spliced(at..at + 1, "9").is_none(),
            "not the body's framing"
        );
    }

    #[test]
    fn parses_register() {
        let m = Message::parse(REGISTER.as_bytes().to_vec()).unwrap();
        assert_eq!(m.method(), Some(&Method::Register));
        assert_eq!(m.uri().unwrap().host, "127.0.0.1");
        assert_eq!(m.cseq().unwrap().seq, 314159);
        assert_eq!(m.from().unwrap().tag(), Some("1928301774"));
        assert_eq!(m.top_via().unwrap().port, Some(5062));
        let c = m.contacts().unwrap();
        assert_eq!(c.len(), 3);
        assert_eq!(c[1].uri.host, "[::1]");
        assert_eq!(c[0].params.get("expires"), Some("3600"));
        assert!(m.check_request().is_ok());
    }

    #[test]
    fn print_round_trips() {
        let m = Message::parse(REGISTER.as_bytes().to_vec()).unwrap();
        let mut out = Vec::new();
        m.print(&mut out);
        let m2 = Message::parse(out.clone()).unwrap();
        let a: Vec<_> = m.header_lines().collect();
        let b: Vec<_> = m2.header_lines().collect();
        assert_eq!(a, b);
    }

    #[test]
    fn folded_header_values() {
        let text = "OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nSubject: one\r\n  two\r\nCSeq: 1\r\n OPTIONS\r\nl: 0\r\n\r\n";
        let m = Message::parse(text.as_bytes().to_vec()).unwrap();
        assert_eq!(m.header_unfolded(HeaderName::Subject).unwrap(), "one two");
        assert_eq!(m.cseq().unwrap().method, "OPTIONS");
    }

    #[test]
    fn rejects_bad_start_lines() {
        for t in [
            "INVITE sip:a@b SIP/2.0 \r\n\r\n",
            "INVITE  sip:a@b SIP/2.0\r\n\r\n",
            "INVITE <sip:a@b> SIP/2.0\r\n\r\n",
            "SIP/2.0 4294967301 Big\r\n\r\n",
            "INVITE sip:a@b SIP/7.0\r\n\r\n",
        ] {
            assert!(Message::parse(t.as_bytes().to_vec()).is_err(), "{t}");
        }
    }

    #[test]
    fn too_large_is_refused() {
        let big = vec![b'a'; MAX_MESSAGE_SIZE + 1];
        assert!(matches!(Message::parse(big), Err(Error::TooLarge(_))));
    }
}
