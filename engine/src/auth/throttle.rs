//! Locking out password guessing: a source that keeps failing to authenticate is
//! penalised, and while it is, its credentials are not even looked at (the runtime
//! drops them), so a right guess is no quicker to find than a wrong one.
//!
//! The table is keyed by source address and bounded: sources quiet for longer than the
//! window are pruned, and when it is full the least recently seen entry goes.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy)]
struct Record {
    failures: u32,
    last: Instant,
    /// Penalised until then.
    until: Option<Instant>,
}

/// Counts failures per source address; after `free` failures within `window`, each
/// further failure penalises the source for a time that doubles up to `max_penalty`.
#[derive(Debug)]
pub struct AuthThrottle {
    sources: HashMap<IpAddr, Record>,
    free: u32,
    window: Duration,
    first_penalty: Duration,
    max_penalty: Duration,
    max_sources: usize,
}

impl Default for AuthThrottle {
    fn default() -> Self {
        AuthThrottle {
            sources: HashMap::new(),
            free: 5,
            window: Duration::from_secs(600),
            first_penalty: Duration::from_secs(2),
            max_penalty: Duration::from_secs(300),
            max_sources: 65_536,
        }
    }
}

impl AuthThrottle {
    /// A table holding at most `max_sources` addresses.
    pub fn with_capacity(max_sources: usize) -> Self {
        AuthThrottle {
            max_sources: max_sources.max(1),
            ..Self::default()
        }
    }

    /// True while `ip` is penalised: its credentials are to be ignored.
    pub fn is_penalised(&self, ip: IpAddr, now: Instant) -> bool {
        self.sources
            .get(&ip)
            .and_then(|r| r.until)
            .is_some_and(|until| now < until)
    }

    /// Records a failure; returns the penalty it starts (zero while failures are free).
    pub fn on_failure(&mut self, ip: IpAddr, now: Instant) -> Duration {
        if !self.sources.contains_key(&ip) && self.sources.len() >= self.max_sources {
            self.make_room(now);
        }
        let r = self.sources.entry(ip).or_insert(Record {
            failures: 0,
            last: now,
            until: None,
        });
        if now.saturating_duration_since(r.last) > self.window {
            *r = Record {
                failures: 0,
                last: now,
                until: None,
            };
        }
        r.failures += 1;
        r.last = now;
        if r.failures <= self.free {
            return Duration::ZERO;
        }
        let exp = (r.failures - self.free - 1).min(16);
        let penalty = (self.first_penalty * 2u32.pow(exp)).min(self.max_penalty);
        r.until = Some(now + penalty);
        penalty
    }

    /// Forgets sources quiet for longer than the window and no longer penalised.
    pub fn prune(&mut self, now: Instant) {
        let window = self.window;
        self.sources.retain(|_, r| {
            now.saturating_duration_since(r.last) <= window
                || r.until.is_some_and(|until| now < until)
        });
    }

    pub fn len(&self) -> usize {
        self.sources.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sources.is_empty()
    }

    fn make_room(&mut self, now: Instant) {
        self.prune(now);
        if self.sources.len() < self.max_sources {
            return;
        }
        if let Some(oldest) = self
            .sources
            .iter()
            .min_by_key(|(_, r)| r.last)
            .map(|(ip, _)| *ip)
        {
            self.sources.remove(&oldest);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn penalties_start_after_free_failures_and_double() {
        let t0 = Instant::now();
        let ip: IpAddr = "127.0.0.9".parse().unwrap();
        let mut t = AuthThrottle::default();
        let penalties: Vec<_> = (0..8).map(|_| t.on_failure(ip, t0).as_secs()).collect();
        assert_eq!(penalties, vec![0, 0, 0, 0, 0, 2, 4, 8]);
        assert!(t.is_penalised(ip, t0 + Duration::from_secs(7)));
        assert!(!t.is_penalised(ip, t0 + Duration::from_secs(8)));
        assert!(!t.is_penalised("127.0.0.8".parse().unwrap(), t0));
    }

    #[test]
    fn penalty_is_capped_and_window_resets() {
        let t0 = Instant::now();
        let ip: IpAddr = "::1".parse().unwrap();
        let mut t = AuthThrottle::default();
        for _ in 0..40 {
            t.on_failure(ip, t0);
        }
        assert_eq!(t.on_failure(ip, t0), Duration::from_secs(300));
        let later = t0 + Duration::from_secs(601 + 300);
        assert_eq!(t.on_failure(ip, later), Duration::ZERO);
    }

    #[test]
    fn the_table_is_bounded_and_pruned() {
        let t0 = Instant::now();
        let mut t = AuthThrottle::with_capacity(100);
        for i in 0..1_000u32 {
            let ip = IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + i));
            t.on_failure(ip, t0 + Duration::from_millis(u64::from(i)));
        }
        assert_eq!(t.len(), 100);
        t.prune(t0 + Duration::from_secs(3_600));
        assert!(t.is_empty());
    }
}
