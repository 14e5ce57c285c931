//! Ending an answered call whose media stopped: a party whose port has received no RTP
//! for the media timeout (60 s by default, `--media-timeout`) is gone (a phone that
//! lost power or network sends no BYE), so the call is hung up, every party getting a
//! BYE. A call with a party on hold is never ended this way: a held phone rightly
//! sends nothing. The relay counts what each port receives; the call looks at the
//! counts a few times per timeout.

use std::time::{Duration, Instant};

use crate::media_relay::{Port, Relays};

/// The watch over an answered call's ports.
#[derive(Debug)]
pub struct MediaWatch {
    timeout: Duration,
    /// When the counts are looked at next.
    pub next: Instant,
    /// Each watched port: its receive count when it last changed, and when.
    seen: Vec<(Port, u64, Instant)>,
}

impl MediaWatch {
    pub fn new(timeout: Duration, now: Instant) -> MediaWatch {
        MediaWatch {
            timeout,
            next: now + Self::period(timeout),
            seen: Vec::new(),
        }
    }

    fn period(timeout: Duration) -> Duration {
        (timeout / 4).max(Duration::from_millis(250))
    }

    /// Looks at the counts of `ports` at `now`: true when one of them has been silent
    /// for the timeout and nobody holds.
    pub fn silent(&mut self, relays: &Relays, ports: &[Port], now: Instant) -> bool {
        self.next = now + Self::period(self.timeout);
        let mut silent = false;
        for &port in ports {
            let count = relays.received(port);
            match self.seen.iter_mut().find(|(p, _, _)| *p == port) {
                Some((_, last, since)) if *last != count => {
                    *last = count;
                    *since = now;
                }
                Some((_, _, since)) => silent |= now.duration_since(*since) >= self.timeout,
                None => self.seen.push((port, count, now)),
            }
        }
        silent && !relays.any_held()
    }
}
