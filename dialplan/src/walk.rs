//! Walking a decision: which lines ring, together or one after another, for how long,
//! what comes after them, and what the caller hears when every target failed.
//!
//! Pure and without a clock: the call asks for the next [`Step`], carries it out (a
//! hop rings for at most its `ring` time, measured by the call's legs), and reports a
//! hop that ended unanswered with [`Walk::failed`] before asking again. A hop that is
//! answered ends the walk; the walk never answers anything itself.
//!
//! - An extension (or an internal drop-off) is one hop ringing that line's devices for
//!   the call's ring time.
//! - A hunt group rings its members: all at once (parallel) for the ring time, or one
//!   at a time (sequential) for the group's seconds per member; a member that cannot
//!   be rung fails at once and the next one rings. A group with the queue strategy is
//!   served like a queue of its members.
//! - Any other target (queue, IVR, voicemail, conference, announcement, outbound,
//!   emergency, feature code, reject, external drop-off) is handed to the call as it
//!   is: [`Step::Serve`].
//! - When no target is left, the caller gets the last hop's failure
//!   ([`Step::Exhausted`]), 404 when the decision was empty.

use std::collections::VecDeque;
use std::time::Duration;

use crate::decision::{Decision, Target};
use crate::plan::Strategy;

/// What the call does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Ring every registered device of these lines at once, for at most `ring`.
    Ring {
        /// Numbers the hops of one walk, from 1.
        hop: u32,
        /// Internal numbers (lines) to ring.
        lines: Vec<String>,
        /// How long the hop rings before it has failed.
        ring: Duration,
        /// The decision target the hop belongs to.
        target: Target,
    },
    /// A target the switch serves itself rather than by ringing lines.
    Serve(Target),
    /// Every target failed: the caller gets this status.
    Exhausted {
        /// SIP status code.
        code: u16,
        /// Reason phrase.
        reason: String,
    },
}

/// How an unanswered hop ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// SIP status code (480 when nobody answered in time, a device's 486, …).
    pub code: u16,
    /// Reason phrase.
    pub reason: String,
}

/// The walk through one decision.
#[derive(Debug, Clone)]
pub struct Walk {
    targets: VecDeque<Target>,
    /// The hunt group being walked one member at a time: its members still to ring,
    /// seconds per member, the target itself.
    sequential: Option<(VecDeque<String>, Duration, Target)>,
    ring: Duration,
    hop: u32,
    last: Option<Failure>,
}

impl Walk {
    /// Walks `decision`; an extension or a parallel group rings for `ring`.
    pub fn new(decision: Decision, ring: Duration) -> Walk {
        Walk {
            targets: decision.targets.into(),
            sequential: None,
            ring,
            hop: 0,
            last: None,
        }
    }

    /// The hop rung last (0 before the first).
    pub fn hop(&self) -> u32 {
        self.hop
    }

    /// How the last hop that failed ended.
    pub fn last_failure(&self) -> Option<&Failure> {
        self.last.as_ref()
    }

    /// The current hop ended unanswered.
    pub fn failed(&mut self, code: u16, reason: impl Into<String>) {
        self.last = Some(Failure {
            code,
            reason: reason.into(),
        });
    }

    /// The next step: the first one at the start, then after each failed hop.
    pub fn next_step(&mut self) -> Step {
        if let Some((members, ring, target)) = &mut self.sequential {
            if let Some(member) = members.pop_front() {
                let (ring, target) = (*ring, target.clone());
                return self.ring(vec![member], ring, target);
            }
            self.sequential = None;
        }
        let Some(target) = self.targets.pop_front() else {
            return match self.last.take() {
                Some(f) => Step::Exhausted {
                    code: f.code,
                    reason: f.reason,
                },
                None => Step::Exhausted {
                    code: 404,
                    reason: "Not Found".into(),
                },
            };
        };
        match &target {
            Target::Extension { number, .. } => {
                let lines = vec![number.clone()];
                self.ring(lines, self.ring, target)
            }
            Target::DropOff { number } if !number.starts_with('+') => {
                let lines = vec![number.clone()];
                self.ring(lines, self.ring, target)
            }
            Target::HuntGroup {
                strategy,
                members,
                number,
                name,
            } => match *strategy {
                Strategy::Parallel if members.is_empty() => self.empty_group(),
                Strategy::Parallel => {
                    let lines = members.clone();
                    self.ring(lines, self.ring, target)
                }
                // Served by the switch like a queue of its members.
                Strategy::Queue => Step::Serve(Target::Queue {
                    number: number.clone(),
                    name: name.clone(),
                }),
                Strategy::Sequential { ring_seconds } => {
                    let per_member = Duration::from_secs(u64::from(ring_seconds.max(1)));
                    if members.is_empty() {
                        return self.empty_group();
                    }
                    let members = members.iter().cloned().collect();
                    self.sequential = Some((members, per_member, target));
                    self.next_step()
                }
            },
            _ => Step::Serve(target),
        }
    }

    /// A group without members fails like a line without devices.
    fn empty_group(&mut self) -> Step {
        self.failed(480, "Temporarily Unavailable");
        self.next_step()
    }

    fn ring(&mut self, lines: Vec<String>, ring: Duration, target: Target) -> Step {
        self.hop += 1;
        Step::Ring {
            hop: self.hop,
            lines,
            ring,
            target,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RING: Duration = Duration::from_secs(30);

    fn ext(n: &str) -> Target {
        Target::Extension {
            number: n.into(),
            devices: vec![],
        }
    }

    fn group(strategy: Strategy, members: &[&str]) -> Target {
        Target::HuntGroup {
            number: "200".into(),
            name: "Sales".into(),
            strategy,
            members: members.iter().map(|m| m.to_string()).collect(),
        }
    }

    fn rung(step: Step) -> (u32, Vec<String>, Duration) {
        match step {
            Step::Ring {
                hop, lines, ring, ..
            } => (hop, lines, ring),
            other => panic!("expected a hop, got {other:?}"),
        }
    }

    #[test]
    fn a_queue_group_is_served_as_a_queue_of_its_number() {
        let mut w = Walk::new(Decision::single(group(Strategy::Queue, &["101"])), RING);
        assert_eq!(
            w.next_step(),
            Step::Serve(Target::Queue {
                number: "200".into(),
                name: "Sales".into(),
            })
        );
    }

    #[test]
    fn extension_then_voicemail_after_no_answer() {
        let vm = Target::Voicemail {
            mailbox: "105".into(),
        };
        let mut w = Walk::new(
            Decision {
                targets: vec![ext("105"), vm.clone()],
                ..Default::default()
            },
            RING,
        );
        assert_eq!(rung(w.next_step()), (1, vec!["105".to_string()], RING));
        w.failed(480, "Temporarily Unavailable");
        assert_eq!(w.next_step(), Step::Serve(vm));
    }

    #[test]
    fn the_last_failure_reaches_the_caller() {
        let mut w = Walk::new(Decision::single(ext("105")), RING);
        rung(w.next_step());
        w.failed(486, "Busy Here");
        assert_eq!(
            w.next_step(),
            Step::Exhausted {
                code: 486,
                reason: "Busy Here".into()
            }
        );
        assert_eq!(
            Walk::new(Decision::default(), RING).next_step(),
            Step::Exhausted {
                code: 404,
                reason: "Not Found".into()
            }
        );
    }

    #[test]
    fn parallel_group_rings_every_member_at_once() {
        let mut w = Walk::new(
            Decision::single(group(Strategy::Parallel, &["101", "102"])),
            RING,
        );
        assert_eq!(
            rung(w.next_step()),
            (1, vec!["101".to_string(), "102".to_string()], RING)
        );
        w.failed(480, "Temporarily Unavailable");
        assert!(matches!(w.next_step(), Step::Exhausted { code: 480, .. }));
    }

    #[test]
    fn sequential_group_hops_member_by_member_then_fails_over() {
        let fifteen = Duration::from_secs(15);
        let vm = Target::Voicemail {
            mailbox: "200".into(),
        };
        let mut w = Walk::new(
            Decision {
                targets: vec![
                    group(Strategy::Sequential { ring_seconds: 15 }, &["101", "102"]),
                    vm.clone(),
                ],
                ..Default::default()
            },
            RING,
        );
        assert_eq!(rung(w.next_step()), (1, vec!["101".to_string()], fifteen));
        w.failed(480, "Temporarily Unavailable");
        assert_eq!(rung(w.next_step()), (2, vec!["102".to_string()], fifteen));
        w.failed(486, "Busy Here");
        assert_eq!(w.next_step(), Step::Serve(vm));
        assert_eq!(w.hop(), 2);
    }

    #[test]
    fn empty_groups_fail_over_at_once() {
        for strategy in [Strategy::Parallel, Strategy::Sequential { ring_seconds: 5 }] {
            let mut w = Walk::new(
                Decision {
                    targets: vec![group(strategy, &[]), ext("100")],
                    ..Default::default()
                },
                RING,
            );
            assert_eq!(rung(w.next_step()), (1, vec!["100".to_string()], RING));
        }
    }

    #[test]
    fn other_targets_are_served_and_internal_drop_off_rings() {
        let reject = Target::Reject {
            code: 403,
            reason: "Forbidden".into(),
        };
        let mut w = Walk::new(Decision::single(reject.clone()), RING);
        assert_eq!(w.next_step(), Step::Serve(reject));
        let mut w = Walk::new(
            Decision::single(Target::DropOff {
                number: "100".into(),
            }),
            RING,
        );
        assert_eq!(rung(w.next_step()).1, vec!["100".to_string()]);
        let external = Target::DropOff {
            number: "+4930123".into(),
        };
        let mut w = Walk::new(Decision::single(external.clone()), RING);
        assert_eq!(w.next_step(), Step::Serve(external));
    }
}
