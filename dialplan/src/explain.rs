//! `explain`: the administrator's check ("enter a number, see how it is detected and
//! formatted and which rule applied, and where the call goes").

use std::fmt;

use chrono::{DateTime, FixedOffset};
use serde::Serialize;

use crate::decision::Decision;
use crate::error::Error;
use crate::number::classify::{Category, Detection};
use crate::number::location::Source;
use crate::plan::TenantPlan;
use crate::router::{CallContext, Origin, Router, ScheduleReport};
use crate::schedule::ScheduleState;

/// What `pbx route` prints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Explanation {
    /// Tenant name.
    pub tenant: String,
    /// Where the call was taken to come from.
    pub origin: Origin,
    /// The instant routed at (RFC 3339, as given).
    pub at: String,
    /// The same instant in the tenant's time zone.
    pub local_time: String,
    /// Caller as given.
    pub from: String,
    /// Canonical caller (internal number when it has no canonical form).
    pub caller: String,
    /// Caller's internal number, if internal.
    pub caller_internal: Option<String>,
    /// Dialled number as given.
    pub to: String,
    /// Canonical callee; the number itself for emergency, special and feature codes.
    pub callee: String,
    /// Callee's internal number, if internal.
    pub callee_internal: Option<String>,
    /// How the dialled number was detected.
    pub detected: Detection,
    /// National / international / premium, for external numbers.
    pub category: Option<Category>,
    /// The formatting rule (or feature code) that matched, if any.
    pub rule: Option<String>,
    /// The formatting steps taken.
    pub steps: Vec<String>,
    /// The schedule consulted, if any.
    pub schedule: Option<ScheduleReport>,
    /// Where the call goes.
    pub decision: Decision,
}

/// Explains a call from `from` to `to` at `at` on `plan`. A `from` that is one of the
/// tenant's extensions is a call from a phone; anything else is a call from a trunk.
pub fn explain(
    plan: &TenantPlan,
    from: &str,
    to: &str,
    at: DateTime<FixedOffset>,
) -> Result<Explanation, Error> {
    explain_on(plan, &Router::new(plan)?, (from, to), at)
}

/// `explain` on `router`, compiled from `plan` already (a caller asking often keeps
/// it: compiling a plan of many extensions is the expensive part).
pub fn explain_on(
    plan: &TenantPlan,
    router: &Router,
    (from, to): (&str, &str),
    at: DateTime<FixedOffset>,
) -> Result<Explanation, Error> {
    let from_phone = {
        let c: String = from.chars().filter(|c| !c.is_whitespace()).collect();
        plan.extensions.iter().any(|e| e.number == c)
            || plan
                .location
                .normalise(from, Source::Phone, "caller")
                .ok()
                .and_then(|d| d.canonical)
                .and_then(|c| router.ddi_to_internal(&c))
                .is_some_and(|n| plan.extensions.iter().any(|e| e.number == n))
    };
    let origin = if from_phone {
        Origin::Internal
    } else {
        Origin::Trunk {
            trunk: plan
                .trunks
                .first()
                .map(|t| t.name.clone())
                .unwrap_or_default(),
        }
    };
    let call = CallContext {
        from: from.to_owned(),
        to: to.to_owned(),
        origin: origin.clone(),
        source_ip: None,
    };
    explain_call(router, &call, at)
}

/// Explains a fully described call on a compiled plan.
pub fn explain_call(
    router: &Router,
    call: &CallContext,
    at: DateTime<FixedOffset>,
) -> Result<Explanation, Error> {
    let r = router.run(call, at)?;
    let internal = |d: &crate::number::location::Dialled| {
        (d.detection == Detection::Internal).then(|| d.number.clone())
    };
    let shown = |d: &crate::number::location::Dialled| {
        d.canonical
            .as_ref()
            .map(|c| c.as_str().to_owned())
            .unwrap_or_else(|| d.number.clone())
    };
    Ok(Explanation {
        tenant: router.plan().name.clone(),
        origin: call.origin.clone(),
        at: at.to_rfc3339(),
        local_time: r.local_time.format("%a %Y-%m-%d %H:%M %Z").to_string(),
        from: call.from.clone(),
        caller: shown(&r.caller),
        caller_internal: internal(&r.caller),
        to: call.to.clone(),
        callee: shown(&r.callee),
        callee_internal: internal(&r.callee),
        detected: r.callee.detection,
        category: r.callee.category,
        rule: r.callee.rule.clone(),
        steps: r.callee.steps.clone(),
        schedule: r.schedule,
        decision: r.decision,
    })
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let with_internal = |n: &str, i: &Option<String>| match i {
            Some(i) if i != n => format!("{n} (internal {i})"),
            _ => n.to_owned(),
        };
        writeln!(f, "tenant:   {} ({})", self.tenant, self.local_time)?;
        writeln!(
            f,
            "caller:   {} → {}",
            self.from,
            with_internal(&self.caller, &self.caller_internal)
        )?;
        writeln!(
            f,
            "dialled:  {} → {}",
            self.to,
            with_internal(&self.callee, &self.callee_internal)
        )?;
        let cat = self
            .category
            .map(|c| format!(" (tariff class {c})"))
            .unwrap_or_default();
        writeln!(f, "detected: {}{cat}", self.detected)?;
        writeln!(f, "rule:     {}", self.rule.as_deref().unwrap_or("none"))?;
        for s in &self.steps {
            writeln!(f, "  step:   {s}")?;
        }
        if let Some(s) = &self.schedule {
            let state = match &s.state {
                ScheduleState::Open => "open".to_owned(),
                ScheduleState::Closed { reason } => format!("closed ({reason})"),
            };
            writeln!(f, "schedule: {} of {}: {state}", s.schedule, s.owner)?;
        } else {
            writeln!(f, "schedule: none applies")?;
        }
        if let Some(n) = &self.decision.caller_id {
            writeln!(f, "shows:    {n} as the caller")?;
        }
        if self.decision.private {
            writeln!(f, "journal:  a private call")?;
        }
        if let Some(p) = &self.decision.project {
            writeln!(f, "journal:  project code {p}")?;
        }
        write!(f, "decision:")?;
        if self.decision.targets.is_empty() {
            write!(f, " none")?;
        }
        for (i, t) in self.decision.targets.iter().enumerate() {
            write!(f, "\n  {}. {t}", i + 1)?;
        }
        Ok(())
    }
}
