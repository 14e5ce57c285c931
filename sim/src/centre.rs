//! The call centre's bookkeeping: which caller's call an agent is offered (told by the
//! INVITE's From user, as a real agent's display shows it), how many callers wait
//! unoffered, and how long a freed agent waits for its next offer while callers wait.
//!
//! The switch's queue answers its callers itself and offers each to an agent with an
//! INVITE of its own, so nothing in the offer names the simulator's call: the caller's
//! extension does, while it has one call in the queue.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use crate::phone::Phone;
use crate::report::Cause;
use crate::run::Ctx;
use crate::stats::Percentiles;

/// A caller's call in the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Waiting {
    pub number: u32,
    /// How long the agent who takes it talks.
    pub talk: Duration,
    /// Whether the queue answered it, and whether an agent has been offered it yet.
    pub admitted: bool,
    pub offered: bool,
}

/// What the callers and agents of a call centre share.
#[derive(Default)]
pub struct Centre {
    /// Caller extension → its call in the queue.
    calls: Mutex<HashMap<u32, Waiting>>,
    /// Callers answered by the queue and not yet offered to any agent.
    unoffered: AtomicI64,
    /// Agent phone → when it hung up while callers were waiting unoffered.
    freed: Mutex<HashMap<usize, Instant>>,
    /// Freed agent → its next offer, and caller answered → first audio of its agent.
    offer_ms: Mutex<Vec<f64>>,
    wait_ms: Mutex<Vec<f64>>,
    /// Agents the switch confirmed logged in (`*40` and the queue) and out (`*41`).
    pub logged_in: AtomicU64,
    pub logged_out: AtomicU64,
}

/// Every agent of `agents` dials `code` at once; those confirmed are counted in
/// `done`, the others' failures under `what` ("agent login").
pub async fn agents_dial(
    ctx: &Arc<Ctx>,
    agents: &[Arc<Phone>],
    code: &str,
    what: &str,
    done: &AtomicU64,
) {
    let calls: Vec<_> = agents
        .iter()
        .map(|p| {
            let (ctx, p, code) = (ctx.clone(), p.clone(), code.to_owned());
            tokio::spawn(async move { crate::flow::feature_code(&ctx, &p, &code).await })
        })
        .collect();
    for c in calls {
        match c.await {
            Ok(Ok(())) => {
                done.fetch_add(1, Ordering::Relaxed);
            }
            Ok(Err(cause)) => ctx.counters.fail(Cause::Step(what.into(), Box::new(cause))),
            Err(_) => ctx
                .counters
                .fail(Cause::Step(what.into(), Box::new(Cause::Timeout))),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

impl Centre {
    /// Caller `ext` is about to call the queue with call `number`.
    pub fn calling(&self, ext: u32, number: u32, talk: Duration) {
        lock(&self.calls).insert(
            ext,
            Waiting {
                number,
                talk,
                admitted: false,
                offered: false,
            },
        );
    }

    /// The queue answered caller `ext`: it waits, unoffered unless an agent's offer
    /// came first.
    pub fn admitted(&self, ext: u32) {
        if let Some(w) = lock(&self.calls).get_mut(&ext) {
            w.admitted = true;
            if !w.offered {
                self.unoffered.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Caller `ext`'s call `number` ended (served, abandoned or failed).
    pub fn ended(&self, ext: u32, number: u32) {
        let mut calls = lock(&self.calls);
        if let Some(w) = calls.get(&ext).filter(|w| w.number == number) {
            if w.admitted && !w.offered {
                self.one_less();
            }
            calls.remove(&ext);
        }
    }

    /// One caller fewer waits unoffered; with none left, a freed agent's wait is idle
    /// time, not offer latency.
    fn one_less(&self) {
        if self.unoffered.fetch_sub(1, Ordering::Relaxed) <= 1 {
            lock(&self.freed).clear();
        }
    }

    /// Agent `agent` is offered a call from `caller_ext`: the call it is, if the sim
    /// placed it. The first offer of a call no longer waits unoffered; an agent that
    /// was freed while callers waited has its wait for this offer counted.
    pub fn offered(&self, agent: usize, caller_ext: u32) -> Option<Waiting> {
        let freed = lock(&self.freed).remove(&agent);
        let w = {
            let mut calls = lock(&self.calls);
            let w = calls.get_mut(&caller_ext)?;
            if !w.offered {
                w.offered = true;
                if w.admitted {
                    self.one_less();
                }
            }
            *w
        };
        if let Some(at) = freed {
            lock(&self.offer_ms).push(ms(at.elapsed()));
        }
        Some(w)
    }

    /// Agent `agent` hung up at `at`: if callers wait unoffered, its next offer is
    /// timed from then.
    pub fn agent_free(&self, agent: usize, at: Instant) {
        if self.unoffered.load(Ordering::Relaxed) > 0 {
            lock(&self.freed).insert(agent, at);
        }
    }

    /// A caller heard its agent `d` after the queue answered it.
    pub fn waited(&self, d: Duration) {
        lock(&self.wait_ms).push(ms(d));
    }

    /// Offer latency (agent freed → next offer) and wait (answered → agent's audio).
    pub fn percentiles(&self) -> (Percentiles, Percentiles) {
        (
            Percentiles::of(&mut lock(&self.offer_ms)),
            Percentiles::of(&mut lock(&self.wait_ms)),
        )
    }

    /// How many offer latencies were measured.
    pub fn offers_timed(&self) -> usize {
        lock(&self.offer_ms).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_offer_finds_the_callers_call_once_and_times_a_freed_agent() {
        let c = Centre::default();
        c.calling(1000, 7, Duration::from_secs(3));
        c.admitted(1000);
        c.agent_free(5, Instant::now());
        let w = c.offered(5, 1000).expect("the call of 1000");
        assert_eq!((w.number, w.talk), (7, Duration::from_secs(3)));
        assert_eq!(c.offers_timed(), 1);
        // Offered again (ring-all, or after a no-answer): not counted twice.
        assert!(c.offered(6, 1000).is_some());
        assert_eq!(c.unoffered.load(Ordering::Relaxed), 0);
        assert_eq!(c.offered(6, 1001), None, "not a sim caller");
        c.ended(1000, 7);
        assert_eq!(c.offered(5, 1000), None);
        assert_eq!(c.unoffered.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn nobody_waiting_means_no_offer_to_time() {
        let c = Centre::default();
        c.agent_free(1, Instant::now());
        c.calling(1000, 1, Duration::ZERO);
        c.admitted(1000);
        c.offered(1, 1000);
        assert_eq!(c.offers_timed(), 0);
        // An offer that overtakes the caller's answer: never counted as waiting.
        c.calling(1002, 3, Duration::ZERO);
        c.offered(2, 1002);
        c.admitted(1002);
        assert_eq!(c.unoffered.load(Ordering::Relaxed), 0);
        // A caller who ends unoffered leaves nobody waiting.
        c.calling(1001, 2, Duration::ZERO);
        c.admitted(1001);
        c.ended(1001, 2);
        assert_eq!(c.unoffered.load(Ordering::Relaxed), 0);
    }
}
