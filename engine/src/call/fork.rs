//! Parallel forking over several outgoing legs (one per registered contact): the first
//! 2xx wins and every other leg is cancelled; a leg answered after that gets ACK then
//! BYE (inside the leg). The call sees one stream of events, as if it were one leg.

use std::collections::VecDeque;
use std::time::Instant;

use super::event::{Cause, LegEvent, LegState, Output};
use super::leg::Leg;
use crate::sip::Message;

/// Several outgoing legs ringing at once.
#[derive(Debug)]
pub struct Fork {
    legs: Vec<Leg>,
    winner: Option<usize>,
    ringing_reported: bool,
    /// How each leg ended before any answer.
    causes: Vec<Option<Cause>>,
    ended: bool,
    out: VecDeque<(usize, Output)>,
}

impl Fork {
    /// Forks over `legs` (their INVITEs may already be sent). Drains what the legs
    /// have queued.
    pub fn new(legs: Vec<Leg>, now: Instant) -> Fork {
        let n = legs.len();
        let mut f = Fork {
            legs,
            winner: None,
            ringing_reported: false,
            causes: vec![None; n],
            ended: false,
            out: VecDeque::new(),
        };
        f.collect(now);
        f
    }

    /// A fork of one leg that has already answered (a leg moved in from elsewhere).
    pub fn answered(leg: Leg, now: Instant) -> Fork {
        let mut f = Fork {
            legs: vec![leg],
            winner: Some(0),
            ringing_reported: true,
            causes: vec![None],
            ended: false,
            out: VecDeque::new(),
        };
        f.collect(now);
        f
    }

    /// Takes the answering leg out (a transfer moves it elsewhere); an ended leg that
    /// sends nothing stays in its place and the other legs go on being cancelled.
    pub fn take_winner(&mut self) -> Option<Leg> {
        let w = self.winner?;
        let cfg = self.legs.get(w)?.config().clone();
        Some(std::mem::replace(&mut self.legs[w], Leg::detached(cfg)))
    }

    pub fn legs(&self) -> &[Leg] {
        &self.legs
    }

    pub fn leg_mut(&mut self, i: usize) -> Option<&mut Leg> {
        self.legs.get_mut(i)
    }

    /// The leg that answered first.
    pub fn winner(&self) -> Option<usize> {
        self.winner
    }

    /// Runs `f` on leg `i` (to relay a request to it or answer one of its requests),
    /// then drains the legs' output through the forking rules.
    pub fn with_leg<R>(
        &mut self,
        i: usize,
        now: Instant,
        f: impl FnOnce(&mut Leg) -> R,
    ) -> Option<R> {
        let leg = self.legs.get_mut(i)?;
        let r = f(leg);
        self.collect(now);
        Some(r)
    }

    /// True once every leg has ended.
    pub fn is_ended(&self) -> bool {
        self.legs.iter().all(Leg::is_ended)
    }

    pub fn next_timeout(&self) -> Option<Instant> {
        self.legs.iter().filter_map(Leg::next_timeout).min()
    }

    /// The next thing to send (by leg index) or report. Events are the fork's: one
    /// Ringing, Answered from the winner, Ended once no leg is left (with the most
    /// telling cause, RFC 3261 §16.7) or when the winner ends.
    pub fn poll_output(&mut self) -> Option<(usize, Output)> {
        self.out.pop_front()
    }

    /// A response; false when no leg sent the request it answers.
    pub fn on_response(&mut self, resp: &Message, now: Instant) -> bool {
        let Some(i) = self.legs.iter().position(|l| l.owns_response(resp)) else {
            return false;
        };
        self.legs[i].on_response(resp, now);
        self.collect(now);
        true
    }

    /// A request from one of the devices; false when it belongs to no leg.
    pub fn on_request(&mut self, req: &Message, now: Instant) -> bool {
        let Some(i) = self.legs.iter().position(|l| l.owns_request(req)) else {
            return false;
        };
        self.legs[i].on_request(req, now);
        self.collect(now);
        true
    }

    pub fn on_timeout(&mut self, now: Instant) {
        for leg in &mut self.legs {
            if leg.next_timeout().is_some_and(|t| t <= now) {
                leg.on_timeout(now);
            }
        }
        self.collect(now);
    }

    /// The call hangs up every leg (the caller cancelled, or the call is over).
    pub fn hangup(&mut self, code: u16, reason: &str, now: Instant) {
        for leg in &mut self.legs {
            leg.hangup(code, reason, now);
        }
        self.collect(now);
    }

    /// Drains every leg's output through the forking rules until nothing changes.
    fn collect(&mut self, now: Instant) {
        let mut i = 0;
        while i < self.legs.len() {
            let Some(o) = self.legs[i].poll_output() else {
                i += 1;
                continue;
            };
            let Output::Event(e) = o else {
                self.out.push_back((i, o));
                continue;
            };
            match e {
                LegEvent::Answered(sdp) if self.winner.is_none() => {
                    self.winner = Some(i);
                    self.out
                        .push_back((i, Output::Event(LegEvent::Answered(sdp))));
                    let why = Cause::answered_elsewhere();
                    for (j, leg) in self.legs.iter_mut().enumerate() {
                        if j != i && leg.state() != LegState::Ended {
                            leg.hangup(why.code, &why.reason, now);
                        }
                    }
                    // The others' output is drained from the start again.
                    i = 0;
                }
                LegEvent::Ringing if self.winner.is_none() && !self.ringing_reported => {
                    self.ringing_reported = true;
                    self.out.push_back((i, Output::Event(LegEvent::Ringing)));
                }
                // The caller hears one ringing, whichever device rings.
                LegEvent::Ringing => {}
                // A device deflects the call (3xx): the others stop ringing and the
                // call goes where it says at once.
                LegEvent::Ended(cause)
                    if self.winner.is_none() && !self.ended && cause.redirect.is_some() =>
                {
                    self.ended = true;
                    for (j, leg) in self.legs.iter_mut().enumerate() {
                        if j != i && leg.state() != LegState::Ended {
                            leg.hangup(480, "Deflected", now);
                        }
                    }
                    self.causes[i] = Some(cause.clone());
                    self.out
                        .push_back((i, Output::Event(LegEvent::Ended(cause))));
                    i = 0;
                }
                LegEvent::Ended(cause) if self.winner.is_none() => {
                    self.causes[i] = Some(cause);
                    if !self.ended && self.causes.iter().all(Option::is_some) {
                        self.ended = true;
                        let (j, best) = best_cause(&self.causes);
                        self.out
                            .push_back((j, Output::Event(LegEvent::Ended(best))));
                    }
                }
                e if self.winner.is_none_or(|w| w == i) => {
                    self.out.push_back((i, Output::Event(e)));
                }
                // Events of losers after the answer are of no interest to the call.
                _ => {}
            }
        }
    }
}

/// The cause to report when every leg failed: 6xx first, then busy, then other
/// errors, and the "nobody there" codes last.
fn best_cause(causes: &[Option<Cause>]) -> (usize, Cause) {
    let rank = |c: &Cause| match c.code {
        600..=699 => 0,
        486 => 1,
        487 => 5,
        408 => 4,
        480 => 3,
        _ => 2,
    };
    causes
        .iter()
        .enumerate()
        .filter_map(|(i, c)| c.as_ref().map(|c| (i, c)))
        .min_by_key(|(_, c)| rank(c))
        .map(|(i, c)| (i, c.clone()))
        .unwrap_or((
            0,
            Cause::new(480, "Temporarily Unavailable", super::Side::Local),
        ))
}
