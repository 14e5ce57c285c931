//! Answering what could not be parsed: a 400 (or 513) built from whatever header lines
//! can still be found, so the sender learns what was wrong. Responses are never answered.

use engine::sip::{CSeq, MessageWriter, NameAddr, Via};

/// The error response for unparseable bytes, when there is a Via to send it along.
pub fn error_response(bytes: &[u8], err: &engine::Error) -> Option<Vec<u8>> {
    let head_end = memchr_head_end(bytes);
    let head = std::str::from_utf8(&bytes[..head_end]).ok()?;
    let mut lines = head.split('\n').map(|l| l.trim_end_matches('\r'));
    let first = lines.next()?;
    let method = first.split(' ').next()?;
    if first.starts_with("SIP/")
        || method.is_empty()
        || !method.bytes().all(|c| c.is_ascii_uppercase())
    {
        return None;
    }
    let (code, reason) = match err {
        engine::Error::TooLarge(_) => (513, "Message Too Large".to_string()),
        e => (400, sanitize(&e.to_string())),
    };
    let mut w = MessageWriter::response(code, &reason);
    let mut have_via = false;
    for line in lines {
        if line.is_empty() {
            break;
        }
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let name = name.trim().to_ascii_lowercase();
        let value = value.trim();
        // Only headers that are valid on their own are copied: the answer must be
        // well-formed even when the request was not.
        let canonical = match name.as_str() {
            "via" | "v" if Via::parse_list(value).is_ok() => {
                have_via = true;
                "Via"
            }
            "from" | "f" if NameAddr::parse(value, "From").is_ok() => "From",
            "to" | "t" if NameAddr::parse(value, "To").is_ok() => "To",
            "call-id" | "i" if !value.is_empty() && !value.contains(char::is_whitespace) => {
                "Call-ID"
            }
            "cseq" if CSeq::parse(value).is_ok() => "CSeq",
            _ => continue,
        };
        w.header(canonical, value);
    }
    have_via.then(|| w.finish())
}

fn memchr_head_end(b: &[u8]) -> usize {
    b.windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(b.len().min(8192))
}

/// A reason phrase: printable ASCII only, bounded.
fn sanitize(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                ' '
            }
        })
        .take(120)
        .collect();
    if out.is_empty() {
        out.push_str("Bad Request");
    }
    // Capitalise the first letter, as reason phrases are.
    if let Some(f) = out.get_mut(0..1) {
        f.make_ascii_uppercase();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_400_with_the_reason() {
        let bad = b"INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nCSeq: 99999999999 INVITE\r\nCall-ID: x\r\n\r\n";
        let err = engine::sip::Message::parse(bad.to_vec()).unwrap_err();
        let resp = error_response(bad, &err).unwrap();
        let text = String::from_utf8(resp).unwrap();
        assert!(text.starts_with("SIP/2.0 400 Bad CSeq header"), "{text}");
        assert!(text.contains("Via: SIP/2.0/UDP h;branch=z9hG4bK1"));
        assert!(
            !text.contains("99999999999"),
            "the invalid CSeq is not echoed"
        );
        assert!(engine::sip::Message::parse(text.into_bytes()).is_ok());
    }

    #[test]
    fn never_answers_responses_or_garbage() {
        let e = engine::Error::Malformed("x");
        assert!(error_response(b"SIP/2.0 200 OK\r\nVia: a\r\n\r\n", &e).is_none());
        assert!(error_response(b"\x00\x01garbage", &e).is_none());
        assert!(error_response(b"INVITE sip:a@b SIP/2.0\r\nTo: x\r\n\r\n", &e).is_none());
    }
}
