//! Slowing down repeated authentication failures from one source.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Counts failures per source address; after `free` failures within `window`, each
/// further failure's answer is delayed, doubling up to `max_delay`.
#[derive(Debug)]
pub struct AuthThrottle {
    failures: HashMap<IpAddr, (u32, Instant)>,
    free: u32,
    window: Duration,
    max_delay: Duration,
}

impl Default for AuthThrottle {
    fn default() -> Self {
        AuthThrottle {
            failures: HashMap::new(),
            free: 3,
            window: Duration::from_secs(60),
            max_delay: Duration::from_secs(16),
        }
    }
}

impl AuthThrottle {
    /// Records a failure and returns how long to wait before answering it.
    pub fn on_failure(&mut self, ip: IpAddr, now: Instant) -> Duration {
        let entry = self.failures.entry(ip).or_insert((0, now));
        if now.duration_since(entry.1) > self.window {
            *entry = (0, now);
        }
        entry.0 += 1;
        entry.1 = now;
        if entry.0 <= self.free {
            return Duration::ZERO;
        }
        let exp = (entry.0 - self.free - 1).min(16);
        (Duration::from_millis(500) * 2u32.pow(exp)).min(self.max_delay)
    }

    pub fn on_success(&mut self, ip: IpAddr) {
        self.failures.remove(&ip);
    }

    /// Forgets sources quiet for longer than the window.
    pub fn prune(&mut self, now: Instant) {
        let window = self.window;
        self.failures
            .retain(|_, (_, last)| now.duration_since(*last) <= window);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_after_free_attempts_and_reset() {
        let t0 = Instant::now();
        let ip: IpAddr = "127.0.0.9".parse().unwrap();
        let mut t = AuthThrottle::default();
        let delays: Vec<_> = (0..7).map(|_| t.on_failure(ip, t0).as_millis()).collect();
        assert_eq!(delays, vec![0, 0, 0, 500, 1000, 2000, 4000]);
        assert_eq!(
            t.on_failure(ip, t0 + Duration::from_secs(120)),
            Duration::ZERO
        );
        t.on_success(ip);
        assert_eq!(t.on_failure(ip, t0), Duration::ZERO);
    }
}
