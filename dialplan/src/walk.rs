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

use crate::decision::{Decision, Target, TrunkDial};
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
    /// Go out on a trunk: an outbound route's trunks one at a time (failover), or the
    /// emergency trunk.
    Trunk {
        /// Numbers the hops of one walk, from 1.
        hop: u32,
        /// The trunk and the number as it is sent.
        trunk: TrunkDial,
        /// The outbound or emergency target it belongs to.
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
    /// The outbound route being tried one trunk at a time: its trunks still to try.
    trunks: Option<(VecDeque<TrunkDial>, Target)>,
    /// The current hop goes out on a trunk.
    on_trunk: bool,
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
            trunks: None,
            on_trunk: false,
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

    /// The current hop ended unanswered. A trunk's answer that is the called party's
    /// (busy, not found, declined …) ends the walk: only a trunk's own failure
    /// ([`fails_over`]) moves on to the next trunk or route.
    pub fn failed(&mut self, code: u16, reason: impl Into<String>) {
        self.last = Some(Failure {
            code,
            reason: reason.into(),
        });
        if self.on_trunk && !fails_over(code) {
            self.targets.clear();
            self.trunks = None;
            self.sequential = None;
        }
    }

    /// The next step: the first one at the start, then after each failed hop.
    pub fn next_step(&mut self) -> Step {
        self.on_trunk = false;
        if let Some((trunks, target)) = &mut self.trunks {
            if let Some(trunk) = trunks.pop_front() {
                let target = target.clone();
                return self.trunk(trunk, target);
            }
            self.trunks = None;
        }
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
            Target::Outbound { route, trunks, .. } => {
                if trunks.is_empty() {
                    self.last = Some(Failure {
                        code: 503,
                        reason: format!("route {route} has no trunk"),
                    });
                    return self.next_step();
                }
                self.trunks = Some((trunks.iter().cloned().collect(), target.clone()));
                self.next_step()
            }
            Target::Emergency { trunk, dial, .. } => {
                let trunk = TrunkDial {
                    trunk: trunk.clone(),
                    dial: dial.clone(),
                };
                self.trunk(trunk, target)
            }
            _ => Step::Serve(target),
        }
    }

    fn trunk(&mut self, trunk: TrunkDial, target: Target) -> Step {
        self.hop += 1;
        self.on_trunk = true;
        Step::Trunk {
            hop: self.hop,
            trunk,
            target,
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

/// A trunk's failure the next trunk may not share: no answer at all (408), a server
/// error or an overloaded or unavailable carrier (5xx). The called party's own answers
/// (busy 486, not found 404, declined 603 …) are final.
pub fn fails_over(code: u16) -> bool {
    code == 408 || (500..600).contains(&code)
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

    fn outbound(route: &str, trunks: &[&str]) -> Target {
        Target::Outbound {
            route: route.into(),
            number: "+4930123".into(),
            provider: None,
            trunks: trunks
                .iter()
                .map(|t| TrunkDial {
                    trunk: t.to_string(),
                    dial: "030123".into(),
                })
                .collect(),
        }
    }

    fn trunk_of(step: Step) -> String {
        match step {
            Step::Trunk { trunk, .. } => trunk.trunk,
            other => panic!("expected a trunk, got {other:?}"),
        }
    }

    #[test]
    fn trunks_fail_over_on_their_own_failures_only() {
        let decision = Decision {
            targets: vec![outbound("main", &["a", "b"]), outbound("backup", &["c"])],
            caller_id: None,
            private: false,
            project: None,
            dialled: None,
        };
        // 503 and 408 move on: the next trunk of the route, then the next route.
        let mut w = Walk::new(decision.clone(), RING);
        assert_eq!(trunk_of(w.next_step()), "a");
        w.failed(503, "Service Unavailable");
        assert_eq!(trunk_of(w.next_step()), "b");
        w.failed(408, "Request Timeout");
        assert_eq!(trunk_of(w.next_step()), "c");
        w.failed(500, "Server Error");
        assert_eq!(
            w.next_step(),
            Step::Exhausted {
                code: 500,
                reason: "Server Error".into()
            }
        );
        // Busy, not found and declined are the called party's answers: final.
        for code in [486, 404, 603] {
            let mut w = Walk::new(decision.clone(), RING);
            assert_eq!(trunk_of(w.next_step()), "a");
            w.failed(code, "final");
            assert!(matches!(w.next_step(), Step::Exhausted { code: c, .. } if c == code));
        }
        // A route without trunks fails over like a trunk that is down.
        let mut w = Walk::new(
            Decision {
                targets: vec![outbound("empty", &[]), outbound("backup", &["c"])],
                caller_id: None,
                private: false,
                project: None,
                dialled: None,
            },
            RING,
        );
        assert_eq!(trunk_of(w.next_step()), "c");
    }

    #[test]
    fn an_emergency_call_goes_to_its_trunk_then_its_fallback() {
        let emergency = Target::Emergency {
            number: "112".into(),
            trunk: "sos".into(),
            dial: "112".into(),
            callback: None,
            rule: None,
        };
        let sorry = Target::Announcement {
            announcement: "emergency_unavailable".into(),
        };
        let mut w = Walk::new(
            Decision {
                targets: vec![emergency, sorry.clone()],
                caller_id: None,
                private: false,
                project: None,
                dialled: None,
            },
            RING,
        );
        assert_eq!(trunk_of(w.next_step()), "sos");
        w.failed(503, "trunk sos is down");
        assert_eq!(w.next_step(), Step::Serve(sorry));
    }
}
