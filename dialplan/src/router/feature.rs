//! Feature codes dialled on a phone, turned into actions for the switch.

use super::run::Run;
use super::CallContext;
use crate::decision::Target;
use crate::error::Error;
use crate::feature_code::{FeatureAction, FeatureKind, ForwardKind};
use crate::number::classify::{Category, Detection};
use crate::number::location::{Dialled, Source};
use crate::route::outbound::{forbidden, PermissionClass};

/// A routed call: caller, callee and the targets.
type RoutedCall = (Dialled, Dialled, Vec<Target>);

impl Run<'_> {
    /// A call dialled with the per-call caller ID prefix (`*46<SHOWN>*<NUMBER>`):
    /// `NUMBER` routed as if dialled, showing `SHOWN` (which the switch checks is
    /// one of the caller's user's numbers). `None` when `to` is not such a call.
    pub(super) fn caller_id_once(
        &mut self,
        call: &CallContext,
        to: &str,
    ) -> Option<Result<RoutedCall, Error>> {
        let matched = self.plan().feature_codes.recognise(to)?.ok()?;
        if matched.code.kind != FeatureKind::CallerIdOnce {
            return None;
        }
        let (shown, dialled) = matched.argument.as_deref()?.split_once('*')?;
        if shown.is_empty() || dialled.is_empty() || dialled.starts_with(['*', '#']) {
            return None;
        }
        if !self.r.is_assigned(shown) {
            let reason = format!("Not Found: {shown} is not a number of this tenant");
            let callee = Dialled::as_is(&call.to, to, Detection::FeatureCode);
            let caller = Dialled::as_is(&call.from, &call.from, Detection::Internal);
            return Some(Ok((
                caller,
                callee,
                vec![Target::Reject { code: 404, reason }],
            )));
        }
        let code = matched.code.code.clone();
        let shown = shown.to_owned();
        let rest = CallContext {
            to: dialled.to_owned(),
            ..call.clone()
        };
        let routed = self
            .call_from_phone(&rest)
            .map(|(caller, mut callee, targets)| {
                callee.steps.insert(
                    0,
                    format!("caller ID {shown} for this call (feature code {code})"),
                );
                (caller, callee, targets)
            });
        self.caller_id = Some(shown);
        self.dialled.get_or_insert_with(|| dialled.to_owned());
        Some(routed)
    }

    /// A call dialled with the private prefix (`*48<NUMBER>`) or a project code
    /// (`*49<CODE>*<NUMBER>`): `NUMBER` routed as if dialled (prefixes may follow one
    /// another), the call marked for the journal. `None` when `to` is neither.
    pub(super) fn tagged_once(
        &mut self,
        call: &CallContext,
        to: &str,
    ) -> Option<Result<RoutedCall, Error>> {
        let matched = self.plan().feature_codes.recognise(to)?.ok()?;
        let kind = matched.code.kind;
        let argument = matched.argument.as_deref()?;
        let (project, dialled) = match kind {
            FeatureKind::PrivateCallOnce => (None, argument),
            FeatureKind::ProjectCodeOnce => {
                let (code, dialled) = argument.split_once('*')?;
                let digits = !code.is_empty() && code.len() <= 16;
                if !digits || !code.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                (Some(code.to_owned()), dialled)
            }
            _ => return None,
        };
        if dialled.is_empty() {
            return None;
        }
        let code = matched.code.code.clone();
        let rest = CallContext {
            to: dialled.to_owned(),
            ..call.clone()
        };
        let step = match &project {
            Some(p) => format!("project code {p} for this call (feature code {code})"),
            None => format!("a private call (feature code {code})"),
        };
        let routed = self
            .call_from_phone(&rest)
            .map(|(caller, mut callee, targets)| {
                callee.steps.insert(0, step);
                (caller, callee, targets)
            });
        match project {
            Some(p) => self.project = Some(p),
            None => self.private = true,
        }
        // The innermost prefix's number is the one called.
        self.dialled.get_or_insert_with(|| dialled.to_owned());
        Some(routed)
    }

    pub(super) fn feature(
        &mut self,
        call: &CallContext,
        caller: Dialled,
        to: &str,
        class: PermissionClass,
        premium: bool,
    ) -> Result<(Dialled, Dialled, Vec<Target>), Error> {
        let mut callee = Dialled::as_is(&call.to, to, Detection::FeatureCode);
        let matched = match self.plan().feature_codes.recognise(to) {
            None => {
                let reason = format!("Not Found: {to} is not a feature code of this tenant");
                return Ok((caller, callee, vec![Target::Reject { code: 404, reason }]));
            }
            Some(Err(msg)) => {
                return Ok((
                    caller,
                    callee,
                    vec![Target::Reject {
                        code: 484,
                        reason: msg,
                    }],
                ));
            }
            Some(Ok(m)) => m,
        };
        callee.steps.push(format!(
            "feature code {} ({:?})",
            matched.code.code, matched.code.kind
        ));
        callee.rule = Some(matched.code.code.clone());
        let arg = matched.argument.clone();
        let kind = matched.code.kind;
        let fwd = |kind: ForwardKind, to: Option<String>| FeatureAction::Forward { kind, to };
        let action = match kind {
            FeatureKind::DirectedPickup => {
                let target = arg.unwrap_or_default();
                if !self.r.is_assigned(&target) {
                    let reason =
                        format!("Not Found: directed pickup of unassigned number {target}");
                    return Ok((caller, callee, vec![Target::Reject { code: 404, reason }]));
                }
                FeatureAction::DirectedPickup { target }
            }
            FeatureKind::GroupPickup => FeatureAction::GroupPickup,
            FeatureKind::AgentLogin | FeatureKind::AgentLogout => {
                let plan = self.plan();
                let known = |g: &String| {
                    plan.groups.iter().any(|x| &x.number == g)
                        || plan.queues.iter().any(|x| &x.number == g)
                };
                if let Some(g) = arg.as_ref().filter(|g| !known(g)) {
                    let reason = format!("Not Found: {g} is not a hunt group or queue");
                    return Ok((caller, callee, vec![Target::Reject { code: 404, reason }]));
                }
                if kind == FeatureKind::AgentLogin {
                    FeatureAction::AgentLogin { group: arg }
                } else {
                    FeatureAction::AgentLogout { group: arg }
                }
            }
            FeatureKind::DndOn => FeatureAction::Dnd { on: true },
            FeatureKind::DndOff => FeatureAction::Dnd { on: false },
            FeatureKind::CallWaitingOn => FeatureAction::CallWaiting { on: true },
            FeatureKind::CallWaitingOff => FeatureAction::CallWaiting { on: false },
            FeatureKind::AnonymousOn => FeatureAction::Anonymous { on: true },
            FeatureKind::AnonymousOff => FeatureAction::Anonymous { on: false },
            FeatureKind::ForwardUnconditionalClear => fwd(ForwardKind::Unconditional, None),
            FeatureKind::ForwardBusyClear => fwd(ForwardKind::Busy, None),
            FeatureKind::ForwardNoAnswerClear => fwd(ForwardKind::NoAnswer, None),
            FeatureKind::ForwardUnconditionalSet
            | FeatureKind::ForwardBusySet
            | FeatureKind::ForwardNoAnswerSet => {
                let dest = arg.unwrap_or_default();
                let to = if self.r.is_assigned(&dest) {
                    dest
                } else {
                    let d = self.plan().location.normalise(
                        &dest,
                        Source::Phone,
                        "forwarding destination",
                    )?;
                    if d.detection != Detection::Internal {
                        let cat = d.category.unwrap_or(Category::International);
                        let local = d.detection == Detection::Local;
                        if let Some(why) = forbidden(class, premium, cat, local) {
                            let reason = format!("forwarding to {}: {why}", d.number);
                            return Ok((
                                caller,
                                callee,
                                vec![Target::Reject { code: 403, reason }],
                            ));
                        }
                    }
                    d.number
                };
                let k = match kind {
                    FeatureKind::ForwardUnconditionalSet => ForwardKind::Unconditional,
                    FeatureKind::ForwardBusySet => ForwardKind::Busy,
                    _ => ForwardKind::NoAnswer,
                };
                fwd(k, Some(to))
            }
            FeatureKind::VoicemailAccess => FeatureAction::VoicemailAccess,
            FeatureKind::RecordingToggle => FeatureAction::RecordingToggle,
            FeatureKind::ConferenceMerge => FeatureAction::ConferenceMerge,
            FeatureKind::CallerIdSet => {
                let number = arg.unwrap_or_default();
                if !self.r.is_assigned(&number) {
                    let reason = format!("Not Found: {number} is not a number of this tenant");
                    return Ok((caller, callee, vec![Target::Reject { code: 404, reason }]));
                }
                FeatureAction::CallerId {
                    number: Some(number),
                }
            }
            FeatureKind::CallerIdClear => FeatureAction::CallerId { number: None },
            FeatureKind::PrivateCallOnce | FeatureKind::ProjectCodeOnce => {
                let reason = format!(
                    "feature code {} needs the number to call (a project code: digits, a *, then the number)",
                    matched.code.code
                );
                return Ok((caller, callee, vec![Target::Reject { code: 484, reason }]));
            }
            // Recognised before the other codes (`caller_id_once`); here only when
            // its argument has no number to call.
            FeatureKind::CallerIdOnce => {
                let reason = format!(
                    "feature code {} needs the number to show, a *, and the number to call",
                    matched.code.code
                );
                return Ok((caller, callee, vec![Target::Reject { code: 484, reason }]));
            }
        };
        Ok((caller, callee, vec![Target::Feature { action }]))
    }
}
