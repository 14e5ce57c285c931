//! Call control for the API: click-to-dial (`call::click_to_dial`), and the calls a
//! line is in, which the API then asks to hang up, hold, transfer and so on.

use ractor::{Actor, ActorRef};

use super::{TenantState, TenantSupervisor};
use crate::call::click_to_dial::{ClickToDial, ClickToDialArgs, RING};
use crate::proto::events::{LineEvent, LineEventKind};
use crate::proto::CallMsg;
use dialplan::feature_code::FeatureKind;
use dialplan::WalkStep;

impl TenantSupervisor {
    /// Rings line `line`'s phones and has the one that answers call `to`. Refused at
    /// once (status code and why) when the plan would refuse the line that number
    /// (its permission class, an unknown number) or no phone of the line is registered.
    pub(super) async fn click_to_dial(
        state: &mut TenantState,
        line: &str,
        to: &str,
        domain: String,
        (private, project, pickup): (bool, Option<String>, bool),
    ) -> Result<(), (u16, String)> {
        let entry = state
            .entry
            .clone()
            .ok_or((503, "the tenant is starting".to_owned()))?;
        let view = state.view.borrow().clone();
        // Private and project calls: the phone dials the plan's prefix codes too.
        let mut dialled = to.to_owned();
        if pickup {
            let code = Self::feature_code(&view, FeatureKind::DirectedPickup)
                .ok_or((403, "the plan has no directed pickup code".to_owned()))?;
            dialled = format!("{code}{dialled}");
        }
        if private {
            let code = Self::feature_code(&view, FeatureKind::PrivateCallOnce)
                .ok_or((403, "the plan has no private call code".to_owned()))?;
            dialled = format!("{code}{dialled}");
        }
        if let Some(p) = project {
            let code = Self::feature_code(&view, FeatureKind::ProjectCodeOnce)
                .ok_or((403, "the plan has no project code prefix".to_owned()))?;
            dialled = format!("{code}{p}*{dialled}");
        }
        let to = dialled.as_str();
        let clock = state.args.shared.clock;
        let (mut walk, _) =
            Self::walk((&view, &clock), line, to, (None, None), RING).map_err(|e| (404, e))?;
        match walk.next_step() {
            WalkStep::Serve(dialplan::Target::Reject { code, reason }) => {
                return Err((code, reason))
            }
            WalkStep::Exhausted { code, reason } => return Err((code, reason)),
            _ => {}
        }
        let devices = Self::devices(state, line);
        if devices.is_empty() {
            return Err((480, format!("line {line} has no registered phone")));
        }
        let args = ClickToDialArgs {
            tenant: entry.id,
            domain,
            line: line.to_owned(),
            devices,
            to: to.to_owned(),
            out: state.args.shared.out.clone(),
            directory: state.args.directory.clone(),
        };
        Actor::spawn(None, ClickToDial, args)
            .await
            .map(|_| ())
            .map_err(|e| (500, format!("the call could not start: {e}")))
    }

    /// The calls line `line` is in (the caller, or a line that answered) or that
    /// ring it now, the newest first (the one the user is most likely talking in;
    /// an older one is usually on hold).
    pub(super) fn calls_of(state: &TenantState, line: &str) -> Vec<ActorRef<CallMsg>> {
        let mut calls: Vec<ActorRef<CallMsg>> = state
            .calls
            .values()
            .filter(|c| {
                let r = c.record.lock().unwrap_or_else(|e| e.into_inner());
                let answered = r.answered_lines.iter().any(|l| l == line);
                let ringing = r.ringing_lines.iter().any(|l| l == line);
                !r.closed && (c.parties[0] == line || answered || ringing)
            })
            .map(|c| c.call.clone())
            .collect();
        calls.sort_by_key(|c| std::cmp::Reverse(c.get_id().pid()));
        calls
    }

    /// A line's calls in a word: "held" (it holds a call), "in call" (it placed
    /// one, or answered one), "ringing" (a call rings it) or "free".
    pub(super) fn line_state(state: &TenantState, ext: &str) -> &'static str {
        let holds = state.calls.values().any(|c| {
            let r = c.record.lock().unwrap_or_else(|e| e.into_inner());
            !r.closed && r.held_lines.iter().any(|l| l == ext)
        });
        if holds {
            return "held";
        }
        let view = Self::line_view(state, ext);
        if view
            .dialogs
            .iter()
            .any(|d| d.state == "confirmed" || d.direction == "initiator")
        {
            "in call"
        } else if view.dialogs.is_empty() {
            "free"
        } else {
            "ringing"
        }
    }

    /// Publishes the calls state of `lines` that changed, while the lines' bus has a
    /// listener (it costs a look at the tenant's calls per line).
    pub(super) fn publish_line_states(state: &mut TenantState, lines: &[String]) {
        let bus = state.args.shared.line_bus.clone();
        if bus.subscriber_count() == 0 {
            state.line_states.clear();
            return;
        }
        let Some(tenant) = state.entry.as_ref().map(|e| e.id) else {
            return;
        };
        for ext in lines {
            let now = Self::line_state(state, ext);
            let before = state.line_states.get(ext).copied().unwrap_or("free");
            if now == before {
                continue;
            }
            if now == "free" {
                state.line_states.remove(ext);
            } else {
                state.line_states.insert(ext.clone(), now);
            }
            bus.publish(LineEvent {
                tenant,
                line: ext.clone(),
                kind: LineEventKind::Calls(now),
                at: crate::clock::unix_millis(),
            });
        }
    }

    /// The lines not free now, and their state.
    pub(super) fn busy_lines(state: &TenantState) -> Vec<(String, &'static str)> {
        let mut lines: Vec<String> = Vec::new();
        for c in state.calls.values() {
            let r = c.record.lock().unwrap_or_else(|e| e.into_inner());
            if r.closed {
                continue;
            }
            lines.push(c.parties[0].clone());
            lines.extend(r.answered_lines.iter().cloned());
            lines.extend(r.ringing_lines.iter().cloned());
        }
        lines.sort();
        lines.dedup();
        lines
            .into_iter()
            .map(|l| {
                let s = Self::line_state(state, &l);
                (l, s)
            })
            .filter(|(_, s)| *s != "free")
            .collect()
    }
}
