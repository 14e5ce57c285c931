//! The table of server transactions a transport keeps: it absorbs retransmitted
//! requests, retransmits responses, and forgets transactions when their timers end.

use std::collections::HashMap;
use std::time::Instant;

use bytes::Bytes;

use super::{Event, ServerInvite, ServerNonInvite, State, TransactionKey};
use crate::sip::{Message, Method};
use crate::timer::{TimerConfig, TimerTable};

#[derive(Debug)]
enum Entry {
    Invite(ServerInvite),
    NonInvite(ServerNonInvite),
}

impl Entry {
    fn next_timeout(&self) -> Option<Instant> {
        match self {
            Entry::Invite(t) => t.next_timeout(),
            Entry::NonInvite(t) => t.next_timeout(),
        }
    }
}

/// What the owner should do with a request that just arrived.
#[derive(Debug, PartialEq, Eq)]
pub enum IncomingRequest {
    /// A new transaction: pass the request to the transaction user.
    New(TransactionKey),
    /// A retransmission: send these bytes again (possibly none) and drop the request.
    Retransmission(Vec<Bytes>),
    /// The ACK of a non-2xx final response: consumed here.
    AckAbsorbed,
    /// An ACK for a 2xx (or for nothing we know): for the dialog layer.
    DialogAck,
    /// The request lacks Via/CSeq/Call-ID to be matched: answer 400.
    Unmatchable,
}

#[derive(Debug, Default)]
pub struct ServerTransactions {
    map: HashMap<TransactionKey, Entry>,
    timers: TimerTable<TransactionKey>,
    cfg: TimerConfig,
}

impl ServerTransactions {
    pub fn new(cfg: TimerConfig) -> Self {
        ServerTransactions {
            cfg,
            ..Default::default()
        }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub fn contains(&self, key: &TransactionKey) -> bool {
        self.map.contains_key(key)
    }

    pub fn on_request(&mut self, req: &Message, reliable: bool, now: Instant) -> IncomingRequest {
        let Some(key) = TransactionKey::of_request(req) else {
            return IncomingRequest::Unmatchable;
        };
        let is_ack = req.method() == Some(&Method::Ack);
        match self.map.get_mut(&key) {
            Some(Entry::Invite(t)) if is_ack => {
                if t.state() == State::Completed || t.state() == State::Confirmed {
                    let events = t.on_ack(now);
                    self.apply(&key, events);
                    IncomingRequest::AckAbsorbed
                } else {
                    IncomingRequest::DialogAck
                }
            }
            Some(Entry::Invite(t)) => IncomingRequest::Retransmission(transmits(t.on_retransmission())),
            Some(Entry::NonInvite(t)) => IncomingRequest::Retransmission(transmits(t.on_retransmission())),
            None if is_ack => IncomingRequest::DialogAck,
            None => {
                let entry = if req.method() == Some(&Method::Invite) {
                    Entry::Invite(ServerInvite::new(reliable, self.cfg))
                } else {
                    Entry::NonInvite(ServerNonInvite::new(reliable, self.cfg))
                };
                self.map.insert(key.clone(), entry);
                IncomingRequest::New(key)
            }
        }
    }

    /// The transaction user sends a response; returns what to put on the wire. A
    /// response for a transaction that is gone (a 2xx retransmitted by a dialog) is
    /// sent as it is.
    pub fn on_response(&mut self, key: &TransactionKey, code: u16, bytes: Bytes, now: Instant) -> Vec<Bytes> {
        let events = match self.map.get_mut(key) {
            Some(Entry::Invite(t)) => t.send_response(code, bytes, now),
            Some(Entry::NonInvite(t)) => t.send_response(code, bytes, now),
            None => return vec![bytes],
        };
        self.apply(key, events)
    }

    pub fn next_timeout(&self) -> Option<Instant> {
        self.timers.next_timeout()
    }

    /// Runs every timer due at `now`; returns the bytes to retransmit.
    pub fn on_timeout(&mut self, now: Instant) -> Vec<Bytes> {
        let mut out = Vec::new();
        while let Some(key) = self.timers.pop_expired(now) {
            let events = match self.map.get_mut(&key) {
                Some(Entry::Invite(t)) => t.on_timeout(now),
                Some(Entry::NonInvite(t)) => t.on_timeout(now),
                None => continue,
            };
            out.extend(self.apply(&key, events));
        }
        out
    }

    fn apply(&mut self, key: &TransactionKey, events: Vec<Event>) -> Vec<Bytes> {
        let mut out = Vec::new();
        let mut ended = false;
        for e in events {
            match e {
                Event::Transmit(b) => out.push(b),
                Event::Terminated => ended = true,
                _ => {}
            }
        }
        if ended {
            self.map.remove(key);
            self.timers.cancel(key);
        } else if let Some(at) = self.map.get(key).and_then(Entry::next_timeout) {
            self.timers.set(key.clone(), at);
        } else {
            self.timers.cancel(key);
        }
        out
    }
}

fn transmits(events: Vec<Event>) -> Vec<Bytes> {
    events
        .into_iter()
        .filter_map(|e| match e {
            Event::Transmit(b) => Some(b),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn req(method: &str) -> Message {
        Message::parse(format!("{method} sip:b@h SIP/2.0\r\nVia: SIP/2.0/UDP 1.2.3.4;branch=z9hG4bKq\r\nFrom: <sip:a@h>;tag=1\r\nTo: <sip:b@h>\r\nCall-ID: c\r\nCSeq: 1 {method}\r\nl: 0\r\n\r\n").into_bytes()).unwrap()
    }

    #[test]
    fn register_retransmission_gets_the_same_answer() {
        let t0 = Instant::now();
        let mut table = ServerTransactions::new(TimerConfig::default());
        let r = req("REGISTER");
        let IncomingRequest::New(key) = table.on_request(&r, false, t0) else { panic!() };
        assert_eq!(table.on_request(&r, false, t0), IncomingRequest::Retransmission(vec![]));
        let out = table.on_response(&key, 401, Bytes::from_static(b"401"), t0);
        assert_eq!(out.len(), 1);
        assert_eq!(table.on_request(&r, false, t0), IncomingRequest::Retransmission(vec![Bytes::from_static(b"401")]));
        assert!(table.on_timeout(t0 + Duration::from_secs(31)).is_empty());
        assert_eq!(table.len(), 1);
        table.on_timeout(t0 + Duration::from_secs(32));
        assert!(table.is_empty());
        assert!(matches!(table.on_request(&r, false, t0), IncomingRequest::New(_)));
    }

    #[test]
    fn invite_failure_ack_is_absorbed_and_response_retransmitted() {
        let t0 = Instant::now();
        let mut table = ServerTransactions::new(TimerConfig::default());
        let IncomingRequest::New(key) = table.on_request(&req("INVITE"), false, t0) else { panic!() };
        table.on_response(&key, 486, Bytes::from_static(b"486"), t0);
        assert_eq!(table.on_timeout(t0 + Duration::from_millis(500)), vec![Bytes::from_static(b"486")]);
        assert_eq!(table.on_request(&req("ACK"), false, t0), IncomingRequest::AckAbsorbed);
        assert!(table.on_timeout(t0 + Duration::from_secs(2)).is_empty(), "no more G after ACK");
        table.on_timeout(t0 + Duration::from_secs(10));
        assert!(table.is_empty());
    }
}
