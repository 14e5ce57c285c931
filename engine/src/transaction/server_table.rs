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
    /// Boxed: most transactions are non-INVITE ones (REGISTER, SUBSCRIBE …), kept
    /// 32 s after their answer, and need not carry an INVITE's larger state.
    Invite(Box<ServerInvite>),
    NonInvite(ServerNonInvite),
}

/// A transaction and where its responses go (`D`: an address, a connection …).
#[derive(Debug)]
struct Entry<D> {
    txn: Txn,
    dest: D,
    /// When it began: a transaction still unanswered 64·T1 later (600 s for an
    /// INVITE that got a provisional response: a call may ring that long) is
    /// forgotten. Checked by a sweep of the table, not by a timer per transaction.
    created: Instant,
    /// No response of any kind has gone out yet: the request still waits for the
    /// switch to work on it (counted in `ServerTransactions::waiting`).
    waiting: bool,
}

impl<D> Entry<D> {
    fn answered(&self) -> bool {
        match &self.txn {
            Txn::Invite(t) => t.is_answered(),
            Txn::NonInvite(t) => t.is_answered(),
        }
    }

    fn next_timeout(&self) -> Option<Instant> {
        match &self.txn {
            Txn::Invite(t) => t.next_timeout(),
            Txn::NonInvite(t) => t.next_timeout(),
        }
    }
}

/// How long an INVITE transaction may wait for its final response (a call may ring
/// this long at most), and a non-INVITE one (64·T1, RFC 3261 §17.1.2.2).
pub const INVITE_UNANSWERED: std::time::Duration = std::time::Duration::from_secs(600);

/// How often the table looks for unanswered transactions to forget.
pub const SWEEP_INTERVAL: std::time::Duration = std::time::Duration::from_secs(8);

/// Transactions a table holds at most by default; past it new requests are refused
/// (503) rather than remembered.
pub const DEFAULT_CAPACITY: usize = 1_000_000;

/// How long a window of waits is (see [`ServerTransactions::delayed`]).
pub const DELAY_WINDOW: std::time::Duration = std::time::Duration::from_millis(100);

/// The waits of requests before their first response, as the shortest wait of each
/// window of [`DELAY_WINDOW`]: when even the quickest request of a window waited
/// long, requests queue faster than the switch takes them (one slow request, or one
/// never answered, does not count: only answered ones are sampled, and only the
/// window's shortest).
#[derive(Debug, Default)]
struct Delays {
    /// The window being filled: when it began, and its shortest wait so far.
    current: Option<(Instant, std::time::Duration)>,
    /// The last full window: when it ended, and its shortest wait.
    last: Option<(Instant, std::time::Duration)>,
}

impl Delays {
    fn sample(&mut self, now: Instant, wait: std::time::Duration) {
        match &mut self.current {
            Some((began, shortest)) if now.saturating_duration_since(*began) < DELAY_WINDOW => {
                *shortest = (*shortest).min(wait);
            }
            current => {
                // The window ended when its time was up, which may be long before
                // this sample: a quiet spell does not make old waits recent.
                if let Some((began, shortest)) = *current {
                    self.last = Some((began + DELAY_WINDOW, shortest));
                }
                *current = Some((now, wait));
            }
        }
    }

    /// The last full window's shortest wait, while it is recent (two windows).
    fn recent(&self, now: Instant) -> Option<std::time::Duration> {
        self.last
            .filter(|(ended, _)| now.saturating_duration_since(*ended) < 2 * DELAY_WINDOW)
            .map(|(_, shortest)| shortest)
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
    /// The table is full: answer 503 without remembering the request.
    Overloaded,
}

#[derive(Debug)]
pub struct ServerTransactions<D> {
    map: HashMap<TransactionKey, Entry<D>>,
    timers: TimerTable<TransactionKey>,
    cfg: TimerConfig,
    capacity: usize,
    /// When the next sweep for unanswered transactions is due.
    next_sweep: Option<Instant>,
    /// Transactions that have sent no response yet: the backlog of requests the
    /// switch has taken and not begun to answer (its load, for shedding).
    waiting: usize,
    /// How long answered requests waited for their first response.
    delays: Delays,
}

impl<D: Clone> ServerTransactions<D> {
    pub fn new(cfg: TimerConfig) -> Self {
        Self::with_capacity(cfg, DEFAULT_CAPACITY)
    }

    /// A table that holds at most `capacity` transactions.
    pub fn with_capacity(cfg: TimerConfig, capacity: usize) -> Self {
        ServerTransactions {
            map: HashMap::new(),
            timers: TimerTable::default(),
            cfg,
            capacity,
            next_sweep: None,
            waiting: 0,
            delays: Delays::default(),
        }
    }

    /// Whether requests wait longer than `limit` before the switch begins to answer
    /// them: the shortest wait of the last full window (of [`DELAY_WINDOW`], within
    /// the last two) was longer. Requests forgotten unanswered ([`Self::forget`], e.g.
    /// shed with a stateless 503) are not counted, nor a first response that is a
    /// callee's 18x (it took as long as the callee).
    pub fn delayed(&self, now: Instant, limit: std::time::Duration) -> bool {
        self.delays.recent(now).is_some_and(|d| d > limit)
    }

    /// Requests taken that have had no response of any kind yet.
    pub fn waiting(&self) -> usize {
        self.waiting
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
        let full = self.map.len() >= self.capacity;
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
            None if full => IncomingRequest::Overloaded,
            None => {
                let txn = if req.method() == Some(&Method::Invite) {
                    Txn::Invite(Box::new(ServerInvite::new(reliable, self.cfg)))
                } else {
                    Txn::NonInvite(ServerNonInvite::new(reliable, self.cfg))
                };
                let entry = Entry {
                    txn,
                    dest,
                    created: now,
                    waiting: true,
                };
                self.waiting += 1;
                self.next_sweep.get_or_insert(now + SWEEP_INTERVAL);
                self.map.insert(key.clone(), entry);
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
        let Some(entry) = self.map.get_mut(key) else {
            return vec![bytes];
        };
        let first = std::mem::take(&mut entry.waiting);
        if first {
            self.waiting -= 1;
            // A 180 or 183 comes from a callee the switch waited on, not from the
            // switch: how long a phone takes to ring is no measure of its load.
            if !(101..200).contains(&code) {
                let wait = now.saturating_duration_since(entry.created);
                self.delays.sample(now, wait);
            }
        }
        let events = match &mut entry.txn {
            Txn::Invite(t) => t.send_response(code, bytes, now),
            Txn::NonInvite(t) => t.send_response(code, bytes, now),
        };
        if first && matches!(code, 401 | 407) {
            // A challenge that is the request's first answer is sent statelessly (RFC
            // 3261 §8.2.7): a retransmitted request is challenged again, and an
            // INVITE's ACK for it finds no transaction and is dropped. The table keeps
            // nothing for Timer J's 32 s (or an INVITE's wait for its ACK), which
            // halves what a registration holds. After a 100 Trying (a callee's 407
            // passed on) the caller no longer retransmits: that 407 stays stateful.
            let out = transmits(events);
            self.map.remove(key);
            self.timers.cancel(key);
            return out;
        }
        self.apply(key, events)
    }

    /// Forgets a transaction whose request the switch chose not to answer (a
    /// penalised source's) or answered statelessly (a 503 when shedding load): it
    /// takes no room until the sweep.
    pub fn forget(&mut self, key: &TransactionKey) {
        if self.map.get(key).is_some_and(|e| !e.answered()) {
            if self.map.remove(key).is_some_and(|e| e.waiting) {
                self.waiting -= 1;
            }
            self.timers.cancel(key);
        }
    }

    pub fn next_timeout(&self) -> Option<Instant> {
        match (self.timers.next_timeout(), self.next_sweep) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Forgets transactions still unanswered past their time.
    fn sweep(&mut self, now: Instant) {
        if self.next_sweep.is_none_or(|at| at > now) {
            return;
        }
        let short = self.cfg.t1 * 64;
        let mut forgotten = 0;
        self.map.retain(|_, e| {
            let wait = match &e.txn {
                Txn::Invite(t) if t.sent_provisional() => INVITE_UNANSWERED,
                _ => short,
            };
            let keep = e.answered() || now.saturating_duration_since(e.created) < wait;
            if !keep && e.waiting {
                forgotten += 1;
            }
            keep
        });
        self.waiting -= forgotten;
        self.next_sweep = (!self.map.is_empty()).then_some(now + SWEEP_INTERVAL);
    }

    /// Runs every timer due at `now`; returns what to retransmit, and where.
    pub fn on_timeout(&mut self, now: Instant) -> Vec<(D, Bytes)> {
        let mut out = Vec::new();
        self.sweep(now);
        while let Some(key) = self.timers.pop_expired(now) {
            let (events, dest) = match self.map.get_mut(&key) {
                Some(Entry {
                    txn: Txn::Invite(t),
                    dest,
                    ..
                }) => (t.on_timeout(now), dest.clone()),
                Some(Entry {
                    txn: Txn::NonInvite(t),
                    dest,
                    ..
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
            if self.map.remove(key).is_some_and(|e| e.waiting) {
                self.waiting -= 1;
            }
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
    fn requests_wait_until_their_first_response_or_their_end() {
        let t0 = Instant::now();
        let mut table = ServerTransactions::new(TimerConfig::default());
        let IncomingRequest::New(reg) = table.on_request(&req("REGISTER"), false, t0, ()) else {
            panic!()
        };
        let IncomingRequest::New(inv) = table.on_request(&req("INVITE"), false, t0, ()) else {
            panic!()
        };
        assert_eq!(table.waiting(), 2);
        table.on_request(&req("REGISTER"), false, t0, ());
        assert_eq!(table.waiting(), 2, "a retransmission is no new work");
        table.on_response(&inv, 100, Bytes::from_static(b"100"), t0);
        assert_eq!(
            table.waiting(),
            1,
            "an INVITE being worked on waits no more"
        );
        table.forget(&reg);
        assert_eq!(table.waiting(), 0);
        let IncomingRequest::New(_) = table.on_request(&req("OPTIONS"), false, t0, ()) else {
            panic!()
        };
        table.on_timeout(t0 + Duration::from_secs(40));
        assert_eq!(
            table.waiting(),
            0,
            "an unanswered request swept is forgotten"
        );
    }

    fn numbered(method: &str, n: u32) -> Message {
        Message::parse(format!("{method} sip:b@h SIP/2.0\r\nVia: SIP/2.0/UDP 1.2.3.4;branch=z9hG4bKq{n}\r\nFrom: <sip:a@h>;tag=1\r\nTo: <sip:b@h>\r\nCall-ID: c{n}\r\nCSeq: 1 {method}\r\nl: 0\r\n\r\n").into_bytes()).unwrap()
    }

    #[test]
    fn delay_is_the_shortest_wait_of_a_recent_window_and_ignores_what_was_shed() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let limit = ms(200);
        let mut table = ServerTransactions::new(TimerConfig::default());
        let mut n = 0;
        // A request answered at `at` after waiting `wait`.
        let mut answer =
            |table: &mut ServerTransactions<()>, at: Instant, wait: Duration, shed: bool| {
                n += 1;
                let IncomingRequest::New(k) =
                    table.on_request(&numbered("REGISTER", n), false, at - wait, ())
                else {
                    panic!()
                };
                let bytes = Bytes::from_static(b"x");
                if shed {
                    table.forget(&k);
                } else {
                    table.on_response(&k, 200, bytes, at);
                }
            };
        // Quick answers with one slow one among them: not delayed.
        for i in 0..25 {
            let wait = if i == 12 { ms(900) } else { ms(5) };
            answer(&mut table, t0 + ms(10 * i), wait, false);
        }
        assert!(!table.delayed(t0 + ms(260), limit));
        // Every answer of a window late: delayed, and not after two quiet windows.
        let t1 = t0 + ms(300);
        for i in 0..25 {
            answer(&mut table, t1 + ms(10 * i), ms(300), false);
        }
        let end = t1 + ms(250);
        assert!(table.delayed(end, limit));
        assert!(!table.delayed(end + ms(250), limit), "stale");
        // A quiet second later, one quick answer does not bring the old waits back.
        answer(&mut table, end + ms(1000), ms(1), false);
        assert!(!table.delayed(end + ms(1001), limit));
        // Shed requests (forgotten, answered statelessly) do not end the delay;
        // answers of the switch do.
        let t2 = end + ms(1300);
        for i in 0..25 {
            answer(&mut table, t2 + ms(10 * i), ms(300), false);
            answer(&mut table, t2 + ms(10 * i), ms(0), true);
        }
        assert!(table.delayed(t2 + ms(250), limit));
        let t3 = t2 + ms(600);
        for i in 0..25 {
            answer(&mut table, t3 + ms(10 * i), ms(20), false);
        }
        assert!(!table.delayed(t3 + ms(270), limit));
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
        let out = table.on_response(&key, 200, Bytes::from_static(b"200"), t0);
        assert_eq!(out.len(), 1);
        assert_eq!(
            table.on_request(&r, false, t0, ()),
            IncomingRequest::Retransmission(vec![Bytes::from_static(b"200")])
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
    fn a_challenge_is_stateless_and_a_retransmission_is_challenged_again() {
        let t0 = Instant::now();
        let mut table = ServerTransactions::new(TimerConfig::default());
        for code in [401, 407] {
            let r = req("REGISTER");
            let IncomingRequest::New(key) = table.on_request(&r, false, t0, ()) else {
                panic!()
            };
            let out = table.on_response(&key, code, Bytes::from_static(b"401"), t0);
            assert_eq!(out, vec![Bytes::from_static(b"401")]);
            assert!(table.is_empty(), "nothing kept for Timer J");
            assert_eq!(table.waiting(), 0);
            assert!(matches!(
                table.on_request(&r, false, t0, ()),
                IncomingRequest::New(_)
            ));
            table.forget(&key);
        }
        // After a provisional response a 407 is resent until its ACK, as any failure.
        let IncomingRequest::New(key) = table.on_request(&req("INVITE"), false, t0, ()) else {
            panic!()
        };
        table.on_response(&key, 100, Bytes::from_static(b"100"), t0);
        table.on_response(&key, 407, Bytes::from_static(b"407"), t0);
        assert_eq!(table.len(), 1);
        assert_eq!(
            table.on_request(&req("ACK"), false, t0, ()),
            IncomingRequest::AckAbsorbed
        );
        table.on_timeout(t0 + Duration::from_secs(40));
        assert!(table.is_empty());
        // An INVITE's first answer too: its ACK is left to the dialog layer (which
        // drops it), and another failure still waits for its ACK.
        let inv = req("INVITE");
        let IncomingRequest::New(key) = table.on_request(&inv, false, t0, ()) else {
            panic!()
        };
        table.on_response(&key, 407, Bytes::from_static(b"407"), t0);
        assert!(table.is_empty());
        assert_eq!(
            table.on_request(&req("ACK"), false, t0, ()),
            IncomingRequest::DialogAck
        );
        let IncomingRequest::New(key) = table.on_request(&inv, false, t0, ()) else {
            panic!()
        };
        table.on_response(&key, 486, Bytes::from_static(b"486"), t0);
        assert_eq!(
            table.on_request(&req("ACK"), false, t0, ()),
            IncomingRequest::AckAbsorbed
        );
    }

    #[test]
    fn unanswered_transactions_are_forgotten_and_the_table_is_bounded() {
        let t0 = Instant::now();
        let mut table = ServerTransactions::with_capacity(TimerConfig::default(), 2);
        assert!(matches!(
            table.on_request(&req("REGISTER"), false, t0, ()),
            IncomingRequest::New(_)
        ));
        // An INVITE that is ringing (a provisional went out) may wait long.
        let IncomingRequest::New(invite) = table.on_request(&req("INVITE"), false, t0, ()) else {
            panic!()
        };
        table.on_response(&invite, 180, Bytes::from_static(b"180"), t0);
        let mut third = req("OPTIONS");
        third = Message::parse(
            String::from_utf8_lossy(third.as_bytes())
                .replace("branch=z9hG4bKq", "branch=z9hG4bKr")
                .into_bytes(),
        )
        .unwrap();
        assert_eq!(
            table.on_request(&third, false, t0, ()),
            IncomingRequest::Overloaded
        );
        // The table's owner runs it at its next deadline, as the UDP task does.
        let run_until = |table: &mut ServerTransactions<()>, end: Instant| {
            while let Some(at) = table.next_timeout().filter(|at| *at <= end) {
                table.on_timeout(at);
            }
        };
        run_until(&mut table, t0 + Duration::from_secs(31));
        assert_eq!(table.len(), 2);
        run_until(&mut table, t0 + Duration::from_secs(40));
        assert_eq!(table.len(), 1, "the unanswered REGISTER is gone");
        run_until(&mut table, t0 + INVITE_UNANSWERED + SWEEP_INTERVAL);
        assert!(table.is_empty(), "the unanswered INVITE is gone");
        assert_eq!(table.next_timeout(), None, "nothing left to sweep");
        // A request the switch chose to drop is forgotten at once.
        let IncomingRequest::New(k) = table.on_request(&third, false, t0, ()) else {
            panic!()
        };
        table.forget(&k);
        assert!(table.is_empty());
    }

    #[test]
    fn a_final_response_without_provisional_is_not_retransmitted() {
        let t0 = Instant::now();
        let mut table = ServerTransactions::new(TimerConfig::default());
        let IncomingRequest::New(key) = table.on_request(&req("INVITE"), false, t0, 7u8) else {
            panic!()
        };
        table.on_response(&key, 480, Bytes::from_static(b"480"), t0);
        assert!(table.on_timeout(t0 + Duration::from_secs(10)).is_empty());
        // The client's retransmission fetches it again.
        assert_eq!(
            table.on_request(&req("INVITE"), false, t0, 7u8),
            IncomingRequest::Retransmission(vec![Bytes::from_static(b"480")])
        );
    }

    #[test]
    fn invite_failure_ack_is_absorbed_and_response_retransmitted() {
        let t0 = Instant::now();
        let mut table = ServerTransactions::new(TimerConfig::default());
        let IncomingRequest::New(key) = table.on_request(&req("INVITE"), false, t0, 7u8) else {
            panic!()
        };
        table.on_response(&key, 180, Bytes::from_static(b"180"), t0);
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
