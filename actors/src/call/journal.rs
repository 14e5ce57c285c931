//! What the journal hears of one call: its events on the bus, and the one end that
//! closes its row.

use crate::journal::{CallEventKind, CallId, Disposition, EventBus, JournalBarrier, Side};
use crate::proto::Forwarded;
use crate::store::JournalRules;

pub struct Journal {
    bus: EventBus,
    barrier: JournalBarrier,
    /// The end was written before a party heard it confirmed.
    confirmed: bool,
    pub call: CallId,
    pub tenant: crate::proto::TenantId,
    answered: bool,
    /// The first end: who ended the call and why.
    end: Option<(u16, String, Side)>,
    pub closed: bool,
    /// The call is journalled (its lines' groups did not turn the journal off).
    enabled: bool,
    /// Which lines count the call as missed.
    rules: JournalRules,
    /// The lines the call reached (rang, or passed it on), in order, each once.
    reached: Vec<String>,
    /// The lines whose devices rang.
    rang: Vec<String>,
    /// The line that answered.
    answered_by: Option<String>,
    /// The switch answered to hand the caller on (an IVR menu).
    taken_over: bool,
    /// The line that forwarded the call last (a trunk sends it in Diversion).
    pub forwarded_by: Option<String>,
}

pub fn side_of(c: &engine::call::Cause, remote: Side) -> Side {
    match c.side {
        engine::call::Side::Remote => remote,
        engine::call::Side::Local => Side::Switch,
    }
}

impl Journal {
    pub fn new(
        (bus, barrier): (EventBus, JournalBarrier),
        call: CallId,
        tenant: crate::proto::TenantId,
        enabled: bool,
        rules: JournalRules,
    ) -> Journal {
        Journal {
            bus,
            barrier,
            confirmed: false,
            call,
            tenant,
            answered: false,
            taken_over: false,
            end: None,
            closed: false,
            enabled,
            rules,
            reached: Vec::new(),
            rang: Vec::new(),
            answered_by: None,
            forwarded_by: None,
        }
    }

    fn reach(&mut self, line: &str) {
        if !self.reached.iter().any(|l| l == line) {
            self.reached.push(line.to_owned());
        }
    }

    /// Line `line`'s devices ring.
    pub fn rang(&mut self, line: &str) {
        self.reach(line);
        if !self.rang.iter().any(|l| l == line) {
            self.rang.push(line.to_owned());
        }
    }

    /// A line passed the call on.
    pub fn forwarded(&mut self, f: &Forwarded) {
        self.reach(&f.from);
        self.forwarded_by = Some(f.from.clone());
        self.publish(CallEventKind::CallForwarded {
            from: f.from.clone(),
            to: f.to.clone(),
            reason: f.reason.as_str().to_owned(),
        });
    }

    /// The lines that count the call as missed: of an unanswered call, those that
    /// rang; of one answered by another line than the first it reached, those it
    /// reached before; each picked by the tenant's rule.
    fn missed_by(&self) -> Vec<String> {
        match &self.answered_by {
            None => self.rules.unanswered.pick(&self.rang),
            Some(by) if self.reached.first().is_some_and(|l| l != by) => {
                let before: Vec<String> =
                    self.reached.iter().filter(|l| *l != by).cloned().collect();
                self.rules.forwarded.pick(&before)
            }
            Some(_) => Vec::new(),
        }
    }

    pub fn publish(&self, kind: CallEventKind) {
        if self.enabled {
            self.bus.publish_now(self.call, self.tenant, kind);
        }
    }

    /// Leg `leg` of line `by` answered (only the first answer counts).
    pub fn answered(&mut self, leg: u32, by: &str) {
        if self.answered && self.answered_by.is_none() && self.taken_over {
            // The switch answered first (an IVR menu): this party takes the call.
            self.reach(by);
            self.answered_by = Some(by.to_owned());
            self.publish(CallEventKind::LegAnswered {
                leg,
                answered_by: by.to_owned(),
            });
            self.publish(CallEventKind::CallTakenBy {
                answered_by: by.to_owned(),
            });
            return;
        }
        if self.answered {
            return;
        }
        self.answered = true;
        self.reach(by);
        self.answered_by = Some(by.to_owned());
        self.publish(CallEventKind::LegAnswered {
            leg,
            answered_by: by.to_owned(),
        });
        self.publish(CallEventKind::CallAnswered {
            answered_by: by.to_owned(),
        });
    }

    /// The switch answered the caller and may hand it to a party later (an IVR
    /// menu): that party's answer names who answered the call.
    pub fn answered_to_pass_on(&mut self, by: &str) {
        self.answered_by_switch(by);
        self.taken_over = true;
    }

    /// The switch itself answered the call (a conference room): no leg of a device
    /// did, so only the call's row says so.
    pub fn answered_by_switch(&mut self, by: &str) {
        if self.answered {
            return;
        }
        self.answered = true;
        self.publish(CallEventKind::CallAnswered {
            answered_by: by.to_owned(),
        });
    }

    /// The call ended for this cause (only the first end counts).
    pub fn ended(&mut self, c: &engine::call::Cause, remote: Side) {
        if self.end.is_none() {
            self.end = Some((c.code, c.reason.clone(), side_of(c, remote)));
        }
    }

    /// A party is about to hear the call's end confirmed (its BYE answered, its
    /// INVITE refused). Once the end is decided, the row is closed now (legs still
    /// ending get their own rows' ends later) and the barrier returned, once per call:
    /// the confirmation waits until the row is written, so a crash after it cannot
    /// leave the call unfinished. `None`: nothing to wait for.
    pub fn close_before_confirming(&mut self) -> Option<JournalBarrier> {
        if !self.enabled || self.confirmed || (self.end.is_none() && !self.closed) {
            return None;
        }
        self.close();
        self.confirmed = true;
        Some(self.barrier.clone())
    }

    /// The call's last event, once.
    pub fn close(&mut self) {
        if self.closed {
            return;
        }
        self.closed = true;
        let (code, reason, side) =
            self.end
                .clone()
                .unwrap_or((500, "Call Ended By The Switch".into(), Side::Switch));
        let disposition = if self.answered {
            Disposition::Answered
        } else {
            match (code, side) {
                (486 | 600, _) => Disposition::Busy,
                (487, Side::Caller) => Disposition::Cancelled,
                // Answered by the switch (a queue) and left before anyone took it.
                (200, Side::Caller) => Disposition::Cancelled,
                (480 | 408, _) => Disposition::NoAnswer,
                (403 | 404 | 603, _) => Disposition::Rejected,
                _ => Disposition::Failed,
            }
        };
        // An answered call ended normally is a 200; a session that expired or whose
        // media stopped says so.
        let expired = code == 408 && matches!(reason.as_str(), "Session Expired" | "Media Timeout");
        let code = if self.answered && !expired { 200 } else { code };
        let missed_by = self.missed_by();
        if !missed_by.is_empty() {
            self.publish(CallEventKind::CallMissedBy { lines: missed_by });
        }
        self.publish(CallEventKind::CallEnded {
            disposition,
            hangup_side: side,
            code,
            reason,
        });
    }
}
