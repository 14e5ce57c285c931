//! Framing of SIP messages on a byte stream (TCP, TLS) by Content-Length (RFC 3261 §18.3).

use crate::error::{Error, Result};

/// What the front of a stream buffer holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame {
    /// Keep-alive CRLFs (RFC 5626 §3.5.1) of this many bytes: skip them (answer a
    /// double CRLF ping with a single CRLF pong).
    KeepAlive(usize),
    /// One whole message of this many bytes.
    Message(usize),
    /// More bytes are needed.
    Incomplete,
}

/// Finds the first message in `buf`. A stream whose header section or declared body
/// exceeds `limit` is an error: the connection cannot be resynchronised.
pub fn frame_stream(buf: &[u8], limit: usize) -> Result<Frame> {
    let crlfs = buf
        .iter()
        .take_while(|&&c| c == b'\r' || c == b'\n')
        .count();
    if crlfs > 0 {
        return Ok(Frame::KeepAlive(crlfs));
    }
    let Some(head_end) = memchr::memmem::find(buf, b"\r\n\r\n") else {
        if buf.len() > limit {
            return Err(Error::TooLarge(buf.len()));
        }
        return Ok(Frame::Incomplete);
    };
    let head = &buf[..head_end];
    let mut length: Option<usize> = None;
    for line in head.split(|&c| c == b'\n').skip(1) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(colon) = memchr::memchr(b':', line) else {
            continue;
        };
        let name = line[..colon].trim_ascii();
        if name.eq_ignore_ascii_case(b"content-length") || name.eq_ignore_ascii_case(b"l") {
            let v = line[colon + 1..].trim_ascii();
            let n = std::str::from_utf8(v)
                .ok()
                .filter(|s| !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit()) && s.len() < 10)
                .and_then(|s| s.parse::<usize>().ok())
                .ok_or(Error::BadHeader {
                    header: "Content-Length",
                    reason: "not a length",
                })?;
            if length.is_some_and(|l| l != n) {
                return Err(Error::BadHeader {
                    header: "Content-Length",
                    reason: "conflicting lengths on a stream",
                });
            }
            length = Some(n);
        }
    }
    // A stream message without Content-Length is taken to have no body.
    let total = head_end + 4 + length.unwrap_or(0);
    if total > limit {
        return Err(Error::TooLarge(total));
    }
    if buf.len() < total {
        return Ok(Frame::Incomplete);
    }
    Ok(Frame::Message(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_two_messages_in_one_read() {
        let one = b"OPTIONS sip:a@b SIP/2.0\r\nl: 3\r\n\r\nabc";
        let mut buf = one.to_vec();
        buf.extend_from_slice(b"\r\n\r\n");
        buf.extend_from_slice(one);
        assert_eq!(frame_stream(&buf, 65535), Ok(Frame::Message(one.len())));
        assert_eq!(
            frame_stream(&buf[one.len()..], 65535),
            Ok(Frame::KeepAlive(4))
        );
        assert_eq!(frame_stream(&one[..20], 65535), Ok(Frame::Incomplete));
        assert_eq!(
            frame_stream(&one[..one.len() - 1], 65535),
            Ok(Frame::Incomplete)
        );
    }

    #[test]
    fn oversize_is_an_error() {
        let m = b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 99999\r\n\r\n";
        assert!(frame_stream(m, 65535).is_err());
    }
}
