//! The switch's capacity for calls: at most so many at once and so many new ones per
//! second. A call over either limit is refused (503 with Retry-After) before any leg
//! exists, so the calls already up keep their quality.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

/// The Retry-After of a call refused because the switch is stopping: long enough
/// for an edge proxy to send the caller's next attempt to another node.
pub const DRAINING_RETRY_AFTER: u32 = 30;

/// How calls are run, switch-wide: ring time and capacity.
#[derive(Debug)]
pub struct CallLimits {
    /// How long a callee's devices ring before the caller gets 480.
    pub ring_timeout: Duration,
    /// No RTP from a party for this long ends an answered call (never while held).
    pub media_timeout: Option<Duration>,
    max_calls: Option<usize>,
    max_cps: Option<u32>,
    active: AtomicUsize,
    /// The current one-second window and the calls admitted in it.
    window: Mutex<(Option<Instant>, u32)>,
    /// The switch is stopping: no new call is admitted, and the last call's end
    /// wakes whoever waits for the drain.
    draining: AtomicBool,
    ended: tokio::sync::Notify,
}

/// Why a call was refused, and when to try again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    pub retry_after: u32,
}

/// One admitted call; the place is given back when it drops.
#[derive(Debug)]
pub struct CallPermit(Arc<CallLimits>);

impl Drop for CallPermit {
    fn drop(&mut self) {
        let left = self.0.active.fetch_sub(1, Ordering::AcqRel) - 1;
        if left == 0 && self.0.draining() {
            self.0.ended.notify_waiters();
        }
    }
}

impl CallLimits {
    pub fn new(ring_timeout: Duration, max_calls: Option<usize>, max_cps: Option<u32>) -> Self {
        CallLimits {
            ring_timeout,
            media_timeout: Some(super::MEDIA_TIMEOUT),
            max_calls,
            max_cps,
            active: AtomicUsize::new(0),
            window: Mutex::new((None, 0)),
            draining: AtomicBool::new(false),
            ended: tokio::sync::Notify::new(),
        }
    }

    /// Admits no new call from now on (the switch is stopping).
    pub fn drain(&self) {
        self.draining.store(true, Ordering::Release);
    }

    /// Whether the switch is stopping: new calls and OPTIONS probes get 503.
    pub fn draining(&self) -> bool {
        self.draining.load(Ordering::Acquire)
    }

    /// Waits until no call is up (call `drain` first, or a new call may start).
    pub async fn all_ended(&self) {
        loop {
            let ended = self.ended.notified();
            if self.active() == 0 {
                return;
            }
            ended.await;
        }
    }

    /// With `media_timeout` (`None`: calls are never ended for silence).
    pub fn with_media_timeout(mut self, media_timeout: Option<Duration>) -> Self {
        self.media_timeout = media_timeout;
        self
    }

    /// Calls admitted and not yet over.
    pub fn active(&self) -> usize {
        self.active.load(Ordering::Acquire)
    }

    /// `max_calls` calls are up, or the switch drains: no other is admitted now.
    pub fn full(&self) -> bool {
        self.draining() || self.max_calls.is_some_and(|max| self.active() >= max)
    }

    /// Admits a new call at `now`, or says why not.
    pub fn admit(self: &Arc<Self>, now: Instant) -> Result<CallPermit, Refusal> {
        if self.draining() {
            return Err(Refusal {
                retry_after: DRAINING_RETRY_AFTER,
            });
        }
        if let Some(max) = self.max_calls {
            let taken = self
                .active
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                    (n < max).then_some(n + 1)
                });
            if taken.is_err() {
                return Err(Refusal { retry_after: 5 });
            }
        } else {
            self.active.fetch_add(1, Ordering::AcqRel);
        }
        let permit = CallPermit(Arc::clone(self));
        // A drain that began meanwhile may have seen no call up and be done waiting.
        if self.draining() {
            return Err(Refusal {
                retry_after: DRAINING_RETRY_AFTER,
            });
        }
        if let Some(max) = self.max_cps {
            let mut w = self.window.lock().unwrap_or_else(|e| e.into_inner());
            let fresh = w
                .0
                .is_none_or(|start| now.saturating_duration_since(start) >= Duration::from_secs(1));
            if fresh {
                *w = (Some(now), 0);
            }
            if w.1 >= max {
                return Err(Refusal { retry_after: 1 });
            }
            w.1 += 1;
        }
        Ok(permit)
    }
}

impl Default for CallLimits {
    fn default() -> Self {
        CallLimits::new(super::RING_TIMEOUT, None, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn concurrent_and_per_second_limits() {
        let l = Arc::new(CallLimits::new(Duration::from_secs(30), Some(2), Some(3)));
        let t0 = Instant::now();
        let a = l.admit(t0).unwrap();
        let _b = l.admit(t0).unwrap();
        assert_eq!(l.admit(t0).unwrap_err().retry_after, 5);
        assert_eq!(l.active(), 2);
        drop(a);
        // The third of this second: still under 3 per second.
        let c = l.admit(t0).unwrap();
        drop(c);
        assert_eq!(l.admit(t0).unwrap_err().retry_after, 1);
        assert_eq!(l.active(), 1, "a refused call holds no place");
        let _d = l.admit(t0 + Duration::from_secs(1)).unwrap();
        assert_eq!(l.active(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_drain_refuses_new_calls_and_ends_with_the_last_call() {
        let l = Arc::new(CallLimits::default());
        let t0 = Instant::now();
        let (a, b) = (l.admit(t0).unwrap(), l.admit(t0).unwrap());
        l.drain();
        assert!(l.full());
        assert_eq!(l.admit(t0).unwrap_err().retry_after, DRAINING_RETRY_AFTER);
        let waiting = tokio::spawn({
            let l = l.clone();
            async move { l.all_ended().await }
        });
        drop(a);
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished(), "one call is still up");
        drop(b);
        tokio::time::timeout(Duration::from_secs(1), waiting)
            .await
            .expect("the last call's end ends the wait")
            .unwrap();
        // Nothing up: no wait at all.
        l.all_ended().await;
    }
}
