//! The table of server transactions a transport keeps: it absorbs retransmitted
//! requests, retransmits responses, and forgets transactions when their timers end.

use std::collections::HashMap;
use std::time::Instant;

use bytes::Bytes;

use super::{Event, ServerInvite, ServerNonInvite, State, TransactionKey};
use crate::sip::{Message, Method};
use crate::timer::{TimerConfig, TimerTable};

#[derive(Debug)]
enum Txn {
    Invite(ServerInvite),
    NonInvite(ServerNonInvite),
}

/// A transaction and where its responses go (`D`: an address, a connection …).
#[derive(Debug)]
struct Entry<D> {
    txn: Txn,
    dest: D,
}

impl<D> Entry<D> {
    fn next_timeout(&self) -> Option<Instant> {
        match &self.txn {
            Txn::Invite(t) => t.next_timeout(),
            Txn::NonInvite(t) => t.next_timeout(),
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

#[derive(Debug)]
pub struct ServerTransactions<D> {
    map: HashMap<TransactionKey, Entry<D>>,
    timers: TimerTable<TransactionKey>,
    cfg: TimerConfig,
}

impl<D: Clone> ServerTransactions<D> {
    pub fn new(cfg: TimerConfig) -> Self {
        ServerTransactions {
            map: HashMap::new(),
            timers: TimerTable::default(),
            cfg,
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

    /// A request arrived; `dest` is where responses to it go.
    pub fn on_request(
        &mut self,
        req: &Message,
        reliable: bool,
        now: Instant,
        dest: D,
    ) -> IncomingRequest {
        let Some(key) = TransactionKey::of_request(req) else {
            return IncomingRequest::Unmatchable;
        };
        let is_ack = req.method() == Some(&Method::Ack);
        match self.map.get_mut(&key).map(|e| &mut e.txn) {
            Some(Txn::Invite(t)) if is_ack => {
                if t.state() == State::Completed || t.state() == State::Confirmed {
                    let events = t.on_ack(now);
                    self.apply(&key, events);
                    IncomingRequest::AckAbsorbed
                } else {
                    IncomingRequest::DialogAck
                }
            }
            Some(Txn::Invite(t)) => {
                IncomingRequest::Retransmission(transmits(t.on_retransmission()))
            }
            Some(Txn::NonInvite(t)) => {
                IncomingRequest::Retransmission(transmits(t.on_retransmission()))
            }
            None if is_ack => IncomingRequest::DialogAck,
            None => {
                let txn = if req.method() == Some(&Method::Invite) {
                    Txn::Invite(ServerInvite::new(reliable, self.cfg))
                } else {
                    Txn::NonInvite(ServerNonInvite::new(reliable, self.cfg))
                };
                self.map.insert(key.clone(), Entry { txn, dest });
                IncomingRequest::New(key)
            }
        }
    }

    /// The transaction user sends a response; returns what to put on the wire. A
    /// response for a transaction that is gone (a 2xx retransmitted by a dialog) is
    /// sent as it is.
    pub fn on_response(
        &mut self,
        key: &TransactionKey,
        code: u16,
        bytes: Bytes,
        now: Instant,
    ) -> Vec<Bytes> {
        let events = match self.map.get_mut(key).map(|e| &mut e.txn) {
            Some(Txn::Invite(t)) => t.send_response(code, bytes, now),
            Some(Txn::NonInvite(t)) => t.send_response(code, bytes, now),
            None => return vec![bytes],
        };
        self.apply(key, events)
    }

    pub fn next_timeout(&self) -> Option<Instant> {
        self.timers.next_timeout()
    }

    /// Runs every timer due at `now`; returns what to retransmit, and where.
    pub fn on_timeout(&mut self, now: Instant) -> Vec<(D, Bytes)> {
        let mut out = Vec::new();
        while let Some(key) = self.timers.pop_expired(now) {
            let (events, dest) = match self.map.get_mut(&key) {
                Some(Entry {
                    txn: Txn::Invite(t),
                    dest,
                }) => (t.on_timeout(now), dest.clone()),
                Some(Entry {
                    txn: Txn::NonInvite(t),
                    dest,
                }) => (t.on_timeout(now), dest.clone()),
                None => continue,
            };
            out.extend(
                self.apply(&key, events)
                    .into_iter()
                    .map(|b| (dest.clone(), b)),
            );
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
        let IncomingRequest::New(key) = table.on_request(&r, false, t0, ()) else {
            panic!()
        };
        assert_eq!(
            table.on_request(&r, false, t0, ()),
            IncomingRequest::Retransmission(vec![])
        );
        let out = table.on_response(&key, 401, Bytes::from_static(b"401"), t0);
        assert_eq!(out.len(), 1);
        assert_eq!(
            table.on_request(&r, false, t0, ()),
            IncomingRequest::Retransmission(vec![Bytes::from_static(b"401")])
        );
        assert!(table.on_timeout(t0 + Duration::from_secs(31)).is_empty());
        assert_eq!(table.len(), 1);
        table.on_timeout(t0 + Duration::from_secs(32));
        assert!(table.is_empty());
        assert!(matches!(
            table.on_request(&r, false, t0, ()),
            IncomingRequest::New(_)
        ));
    }

    #[test]
    fn invite_failure_ack_is_absorbed_and_response_retransmitted() {
        let t0 = Instant::now();
        let mut table = ServerTransactions::new(TimerConfig::default());
        let IncomingRequest::New(key) = table.on_request(&req("INVITE"), false, t0, 7u8) else {
            panic!()
        };
        table.on_response(&key, 486, Bytes::from_static(b"486"), t0);
        assert_eq!(
            table.on_timeout(t0 + Duration::from_millis(500)),
            vec![(7u8, Bytes::from_static(b"486"))]
        );
        assert_eq!(
            table.on_request(&req("ACK"), false, t0, 7u8),
            IncomingRequest::AckAbsorbed
        );
        assert!(
            table.on_timeout(t0 + Duration::from_secs(2)).is_empty(),
            "no more G after ACK"
        );
        table.on_timeout(t0 + Duration::from_secs(10));
        assert!(table.is_empty());
    }
}
