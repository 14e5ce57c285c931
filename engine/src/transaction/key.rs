//! Matching requests to server transactions (RFC 3261 §17.2.3).

use std::fmt::Write;
use std::sync::Arc;

use crate::sip::{HeaderName, Message, Method};

/// The identity of a server transaction: RFC 3261's branch (with the magic cookie),
/// sent-by and method, where an ACK matches the INVITE it acknowledges; or RFC 2543's
/// fallback (Request-URI, From tag, Call-ID, CSeq number, top Via, method).
///
/// Held as one shared string (the method, then the rest, separated by line feeds;
/// only the last part, a fallback key's Via, may hold one, when folded, so no two
/// keys read alike): the table, its timers and the request's handler share one
/// allocation, and a clone costs a reference count, not a copy.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TransactionKey(Arc<str>);

impl TransactionKey {
    /// The key of the server transaction `req` belongs to; `None` when the request lacks
    /// what is needed to tell (it gets a 400).
    pub fn of_request(req: &Message) -> Option<TransactionKey> {
        let method = match req.method()? {
            Method::Ack => "INVITE",
            m => m.as_str(),
        };
        let via = req.top_via()?;
        let mut text = String::with_capacity(96);
        text.push_str(method);
        if via.is_rfc3261() {
            let branch = via.branch()?;
            text.push_str("\nB\n");
            text.push_str(via.host);
            if let Some(p) = via.port {
                let _ = write!(text, ":{p}");
            }
            text.push('\n');
            text.push_str(branch);
        } else {
            let _ = write!(
                text,
                "\nL\n{}\n{}\n{}\n{}\n{}",
                req.cseq()?.seq,
                req.uri_str()?,
                req.from()?.tag().unwrap_or(""),
                req.call_id()?,
                req.header(HeaderName::Via)?,
            );
        }
        Some(TransactionKey(text.into()))
    }

    /// The key of the INVITE transaction a CANCEL refers to (§9.2).
    pub fn cancelled_invite(cancel: &Message) -> Option<TransactionKey> {
        let key = Self::of_request(cancel)?;
        let (_, rest) = key.0.split_once('\n')?;
        Some(TransactionKey(format!("INVITE\n{rest}").into()))
    }

    /// Whether the request was matched by RFC 2543's fallback (no branch cookie).
    pub fn is_legacy(&self) -> bool {
        self.0.split('\n').nth(1) == Some("L")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(first: &str, via: &str) -> Message {
        Message::parse(format!("{first}\r\nVia: {via}\r\nFrom: <sip:a@h>;tag=1\r\nTo: <sip:b@h>\r\nCall-ID: c1\r\nCSeq: 5 {}\r\nl: 0\r\n\r\n", first.split(' ').next().unwrap()).into_bytes()).unwrap()
    }

    #[test]
    fn ack_matches_its_invite_by_branch() {
        let inv = msg(
            "INVITE sip:b@h SIP/2.0",
            "SIP/2.0/UDP 1.2.3.4:5060;branch=z9hG4bKx",
        );
        let ack = msg(
            "ACK sip:b@h SIP/2.0",
            "SIP/2.0/UDP 1.2.3.4:5060;branch=z9hG4bKx",
        );
        assert_eq!(
            TransactionKey::of_request(&inv),
            TransactionKey::of_request(&ack)
        );
        let other = msg(
            "INVITE sip:b@h SIP/2.0",
            "SIP/2.0/UDP 1.2.3.4:5061;branch=z9hG4bKx",
        );
        assert_ne!(
            TransactionKey::of_request(&inv),
            TransactionKey::of_request(&other)
        );
    }

    #[test]
    fn a_cancel_names_the_invite_it_cancels() {
        let via = "SIP/2.0/UDP 1.2.3.4:5060;branch=z9hG4bKx";
        let inv = TransactionKey::of_request(&msg("INVITE sip:b@h SIP/2.0", via));
        let cancel = msg("CANCEL sip:b@h SIP/2.0", via);
        assert_ne!(TransactionKey::of_request(&cancel), inv);
        assert_eq!(TransactionKey::cancelled_invite(&cancel), inv);
        let legacy = msg("CANCEL sip:b@h SIP/2.0", "SIP/2.0/UDP 1.2.3.4");
        assert_eq!(
            TransactionKey::cancelled_invite(&legacy),
            TransactionKey::of_request(&msg("INVITE sip:b@h SIP/2.0", "SIP/2.0/UDP 1.2.3.4"))
        );
    }

    #[test]
    fn rfc2543_requests_match_by_fallback() {
        let a = msg("OPTIONS sip:b@h SIP/2.0", "SIP/2.0/UDP 1.2.3.4");
        let b = msg("OPTIONS sip:b@h SIP/2.0", "SIP/2.0/UDP 1.2.3.4");
        let k = TransactionKey::of_request(&a).unwrap();
        assert!(k.is_legacy());
        assert_eq!(Some(k), TransactionKey::of_request(&b));
    }
}
