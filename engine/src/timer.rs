//! Named timers and a table that says which is due next.

use std::collections::{BTreeSet, HashMap};
use std::hash::Hash;
use std::time::{Duration, Instant};

/// Every deadline the core knows: the RFC 3261 §17 transaction timers and the
/// switch's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Timer {
    /// INVITE client: retransmit the request (unreliable transports).
    A,
    /// INVITE client: give up waiting for any response.
    B,
    /// INVITE client: wait for retransmitted final responses after the ACK.
    D,
    /// Non-INVITE client: retransmit the request.
    E,
    /// Non-INVITE client: give up.
    F,
    /// INVITE server: retransmit the final non-2xx response.
    G,
    /// INVITE server: give up waiting for the ACK.
    H,
    /// INVITE server: absorb ACK retransmissions.
    I,
    /// Non-INVITE server: absorb request retransmissions.
    J,
    /// Non-INVITE client: absorb response retransmissions.
    K,
    /// INVITE server (RFC 6026): absorb INVITE retransmissions after a 2xx.
    L,
    /// A registration binding runs out.
    RegistrationExpiry,
    /// A delayed answer to a failed authentication (brute-force slow-down).
    AuthPenalty,
    /// INVITE dialog, UAS: retransmit the 2xx until the ACK comes (RFC 3261 §13.3.1.4).
    Retransmit2xx,
    /// INVITE dialog, UAS: give up waiting for the ACK of a 2xx (64*T1), then BYE.
    AckWait,
    /// A call leg rang too long without an answer.
    RingNoAnswer,
    /// Re-send a re-INVITE that met glare (491), after the RFC 3261 §14.1 delay.
    GlareRetry,
    /// INVITE dialog, UAS: retransmit a reliable provisional response until its PRACK
    /// (RFC 3262 §3: T1 doubling), giving up after 64*T1.
    ReliableProvisional,
    /// Session timer (RFC 4028): the switch is the refresher and refreshes now (half
    /// the session interval).
    SessionRefresh,
    /// Session timer (RFC 4028 §10): no refresh came in time; the session is over.
    SessionExpiry,
}

/// RFC 3261 timer values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimerConfig {
    pub t1: Duration,
    pub t2: Duration,
    pub t4: Duration,
}

impl Default for TimerConfig {
    fn default() -> Self {
        TimerConfig {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
        }
    }
}

/// Deadlines keyed by `K`; setting a key again moves its deadline.
#[derive(Debug)]
pub struct TimerTable<K: Ord + Hash + Clone> {
    order: BTreeSet<(Instant, u64, K)>,
    index: HashMap<K, (Instant, u64)>,
    seq: u64,
}

impl<K: Ord + Hash + Clone> Default for TimerTable<K> {
    fn default() -> Self {
        TimerTable {
            order: BTreeSet::new(),
            index: HashMap::new(),
            seq: 0,
        }
    }
}

impl<K: Ord + Hash + Clone> TimerTable<K> {
    pub fn set(&mut self, key: K, at: Instant) {
        self.cancel(&key);
        self.seq += 1;
        self.order.insert((at, self.seq, key.clone()));
        self.index.insert(key, (at, self.seq));
    }

    pub fn cancel(&mut self, key: &K) {
        if let Some((at, seq)) = self.index.remove(key) {
            self.order.remove(&(at, seq, key.clone()));
        }
    }

    pub fn get(&self, key: &K) -> Option<Instant> {
        self.index.get(key).map(|(at, _)| *at)
    }

    /// The earliest deadline.
    pub fn next_timeout(&self) -> Option<Instant> {
        self.order.first().map(|(at, _, _)| *at)
    }

    /// Removes and returns one key whose deadline is at or before `now`.
    pub fn pop_expired(&mut self, now: Instant) -> Option<K> {
        let (at, _, _) = self.order.first()?;
        if *at > now {
            return None;
        }
        let (_, _, key) = self.order.pop_first()?;
        self.index.remove(&key);
        Some(key)
    }

    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn earliest_first_and_reset_moves() {
        let t0 = Instant::now();
        let mut t = TimerTable::default();
        t.set("a", t0 + Duration::from_secs(3));
        t.set("b", t0 + Duration::from_secs(1));
        t.set("a", t0 + Duration::from_millis(500));
        assert_eq!(t.next_timeout(), Some(t0 + Duration::from_millis(500)));
        assert_eq!(t.pop_expired(t0), None);
        assert_eq!(t.pop_expired(t0 + Duration::from_secs(2)), Some("a"));
        assert_eq!(t.pop_expired(t0 + Duration::from_secs(2)), Some("b"));
        assert!(t.is_empty());
    }
}
