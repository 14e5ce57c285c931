//! Matching requests to server transactions (RFC 3261 §17.2.3).

use crate::sip::{HeaderName, Message, Method};

/// The identity of a server transaction.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TransactionKey {
    /// RFC 3261: branch (with the magic cookie), sent-by, and the method, where an
    /// ACK matches the INVITE it acknowledges.
    Branch {
        branch: String,
        sent_by: String,
        method: String,
    },
    /// RFC 2543 fallback: Request-URI, From tag, Call-ID, CSeq number, top Via, method.
    Legacy {
        uri: String,
        from_tag: String,
        call_id: String,
        cseq: u32,
        via: String,
        method: String,
    },
}

impl TransactionKey {
    /// The key of the server transaction `req` belongs to; `None` when the request lacks
    /// what is needed to tell (it gets a 400).
    pub fn of_request(req: &Message) -> Option<TransactionKey> {
        let method = match req.method()? {
            Method::Ack => "INVITE",
            m => m.as_str(),
        };
        let via = req.top_via()?;
        if via.is_rfc3261() {
            let sent_by = match via.port {
                Some(p) => format!("{}:{p}", via.host),
                None => via.host.to_owned(),
            };
            return Some(TransactionKey::Branch {
                branch: via.branch()?.to_owned(),
                sent_by,
                method: method.to_owned(),
            });
        }
        Some(TransactionKey::Legacy {
            uri: req.uri_str()?.to_owned(),
            from_tag: req.from()?.tag().unwrap_or("").to_owned(),
            call_id: req.call_id()?.to_owned(),
            cseq: req.cseq()?.seq,
            via: req.header(HeaderName::Via)?.to_owned(),
            method: method.to_owned(),
        })
    }

    /// The key of the INVITE transaction a CANCEL refers to (§9.2).
    pub fn cancelled_invite(cancel: &Message) -> Option<TransactionKey> {
        match Self::of_request(cancel)? {
            TransactionKey::Branch {
                branch, sent_by, ..
            } => Some(TransactionKey::Branch {
                branch,
                sent_by,
                method: "INVITE".into(),
            }),
            TransactionKey::Legacy {
                uri,
                from_tag,
                call_id,
                cseq,
                via,
                ..
            } => Some(TransactionKey::Legacy {
                uri,
                from_tag,
                call_id,
                cseq,
                via,
                method: "INVITE".into(),
            }),
        }
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
    fn rfc2543_requests_match_by_fallback() {
        let a = msg("OPTIONS sip:b@h SIP/2.0", "SIP/2.0/UDP 1.2.3.4");
        let b = msg("OPTIONS sip:b@h SIP/2.0", "SIP/2.0/UDP 1.2.3.4");
        let k = TransactionKey::of_request(&a).unwrap();
        assert!(matches!(k, TransactionKey::Legacy { .. }));
        assert_eq!(Some(k), TransactionKey::of_request(&b));
    }
}
