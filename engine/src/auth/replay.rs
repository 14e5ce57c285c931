//! The nonce counts a line has accepted (RFC 7616 §3.4 `nc`), so that a captured
//! authorisation cannot be sent again: every request on a nonce must carry a higher
//! count than the last one accepted on it.

/// The highest `nc` accepted per nonce of one line. Small and bounded: a nonce lives
/// for the nonce lifetime, and only requests with a right response are recorded.
#[derive(Debug, Clone, Default)]
pub struct NonceCounts {
    /// Nonce, highest count accepted, when it was recorded (unix seconds).
    seen: Vec<(Box<str>, u32, u64)>,
}

impl NonceCounts {
    /// How many nonces a line remembers at most (the oldest is forgotten first).
    pub const MAX: usize = 16;

    /// True when `nc` is above every count accepted on `nonce` so far.
    pub fn is_fresh(&self, nonce: &str, nc: u32) -> bool {
        self.seen
            .iter()
            .find(|(n, _, _)| &**n == nonce)
            .is_none_or(|(_, last, _)| nc > *last)
    }

    /// Records an accepted request; forgets nonces older than `lifetime` seconds.
    pub fn record(&mut self, nonce: &str, nc: u32, now_unix: u64, lifetime: u64) {
        self.seen
            .retain(|(_, _, at)| now_unix.saturating_sub(*at) <= lifetime);
        if let Some(e) = self.seen.iter_mut().find(|(n, _, _)| &**n == nonce) {
            e.1 = e.1.max(nc);
            return;
        }
        if self.seen.len() >= Self::MAX {
            self.seen.remove(0);
        }
        self.seen.push((nonce.into(), nc, now_unix));
    }

    pub fn len(&self) -> usize {
        self.seen.len()
    }

    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_must_rise_per_nonce() {
        let mut c = NonceCounts::default();
        assert!(c.is_fresh("a", 1));
        c.record("a", 1, 100, 300);
        assert!(!c.is_fresh("a", 1));
        assert!(c.is_fresh("a", 2));
        assert!(c.is_fresh("b", 1));
        c.record("a", 5, 101, 300);
        assert!(!c.is_fresh("a", 3));
    }

    #[test]
    fn bounded_and_pruned() {
        let mut c = NonceCounts::default();
        for i in 0..40 {
            c.record(&format!("n{i}"), 1, 100, 300);
        }
        assert_eq!(c.len(), NonceCounts::MAX);
        c.record("late", 1, 1_000, 300);
        assert_eq!(c.len(), 1, "old nonces are forgotten");
    }
}
