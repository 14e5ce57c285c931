//! The dialplan in the call path: the tenant's plan compiled into a
//! `dialplan::Router`, kept in step with the store, and what the switch does with the
//! first target of a decision. Targets whose feature is not built yet get a clear
//! refusal naming them (480, 501 for feature codes) instead of a 404, so a number the
//! plan knows is never "not found" on the live switch.

use std::sync::Arc;
use std::time::Duration;

use dialplan::{Decision, Router, Target};

use crate::store::{PlanVersion, StoreHandle, TenantId};

/// How long a checked plan serves calls before the next call checks the store again.
pub const PLAN_TTL: Duration = Duration::from_secs(2);

/// The tenant's compiled plan and what it was compiled from.
#[derive(Default)]
pub struct PlanCache {
    router: Option<Arc<Router>>,
    version: Option<PlanVersion>,
    checked: Option<tokio::time::Instant>,
}

impl PlanCache {
    /// The plan to route on now (`None`: the tenant has no plan, or it does not
    /// compile). Asks the store at most once per `PLAN_TTL`, and compiles only when
    /// the plan or the lines changed.
    pub async fn current(&mut self, store: &StoreHandle, tenant: TenantId) -> Option<Arc<Router>> {
        let now = tokio::time::Instant::now();
        if self
            .checked
            .is_some_and(|at| now.duration_since(at) < PLAN_TTL)
        {
            return self.router.clone();
        }
        self.checked = Some(now);
        let known = self.version.clone();
        let read = store
            .call(move |s| {
                let version = s.plan_version(tenant)?;
                if Some(&version) == known.as_ref() {
                    return Ok((version, None));
                }
                Ok((version, Some(s.tenant_plan(tenant)?)))
            })
            .await;
        match read {
            Ok((_, None)) => {}
            Ok((version, Some(plan))) => {
                self.router = match plan.map(|p| Router::new(&p)) {
                    Some(Ok(r)) => Some(Arc::new(r)),
                    Some(Err(e)) => {
                        tracing::error!(error = %e, "stored dialplan does not compile; routing to extensions only");
                        None
                    }
                    None => None,
                };
                self.version = Some(version);
                tracing::debug!(plan = self.router.is_some(), "tenant plan loaded");
            }
            Err(e) => tracing::warn!(error = %e, "tenant plan not read; keeping the last one"),
        }
        self.router.clone()
    }
}

/// What the switch does with a call, from the first target of its decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Ring the registered devices of this extension.
    Ring(String),
    /// Answer the caller with this status, reason phrase and, for a target the switch
    /// does not carry out yet, a `Warning` naming it (and a journal row).
    Refuse {
        code: u16,
        reason: &'static str,
        warning: Option<String>,
    },
}

/// The step for a decision.
pub fn first_step(decision: &Decision) -> Step {
    let missing = |code, what: String| Step::Refuse {
        code,
        reason: if code == 501 {
            "Not Implemented"
        } else {
            "Temporarily Unavailable"
        },
        warning: Some(format!("{what} is not available yet")),
    };
    let Some(target) = decision.targets.first() else {
        return Step::Refuse {
            code: 404,
            reason: "Not Found",
            warning: None,
        };
    };
    match target {
        Target::Extension { number, .. } => Step::Ring(number.clone()),
        Target::DropOff { number } if !number.starts_with('+') => Step::Ring(number.clone()),
        Target::DropOff { number } => missing(480, format!("drop-off to external number {number}")),
        Target::Reject { code, reason } => Step::Refuse {
            code: *code,
            reason: reason_phrase(*code),
            warning: Some(reason.clone()),
        },
        Target::HuntGroup { number, name, .. } => {
            missing(480, format!("hunt group {number} ({name})"))
        }
        Target::Queue { number, name } => missing(480, format!("queue {number} ({name})")),
        Target::IvrMenu { number, name, .. } => missing(480, format!("IVR menu {number} ({name})")),
        Target::Voicemail { mailbox } => missing(480, format!("voicemail {mailbox}")),
        Target::Conference { room } => missing(480, format!("conference {room}")),
        Target::Announcement { announcement } => {
            missing(480, format!("announcement {announcement}"))
        }
        Target::Outbound { number, .. } => missing(480, format!("outbound call to {number}")),
        Target::Emergency { number, trunk, .. } => {
            missing(480, format!("emergency call {number} on trunk {trunk}"))
        }
        Target::Feature { action } => missing(501, format!("feature code {action:?}")),
    }
}

/// The name of a target's kind, as the tests and logs name it.
pub fn kind(target: &Target) -> &'static str {
    match target {
        Target::Extension { .. } => "extension",
        Target::HuntGroup { .. } => "hunt_group",
        Target::Queue { .. } => "queue",
        Target::IvrMenu { .. } => "ivr_menu",
        Target::Voicemail { .. } => "voicemail",
        Target::Conference { .. } => "conference",
        Target::Announcement { .. } => "announcement",
        Target::Outbound { .. } => "outbound",
        Target::Emergency { .. } => "emergency",
        Target::Feature { .. } => "feature",
        Target::DropOff { .. } => "drop_off",
        Target::Reject { .. } => "reject",
    }
}

fn reason_phrase(code: u16) -> &'static str {
    match code {
        403 => "Forbidden",
        404 => "Not Found",
        480 => "Temporarily Unavailable",
        484 => "Address Incomplete",
        486 => "Busy Here",
        488 => "Not Acceptable Here",
        503 => "Service Unavailable",
        603 => "Decline",
        _ => "Call Refused",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decision(t: Target) -> Decision {
        Decision { targets: vec![t] }
    }

    #[test]
    fn steps_for_targets() {
        let ext = Target::Extension {
            number: "105".into(),
            devices: vec![],
        };
        assert_eq!(first_step(&decision(ext)), Step::Ring("105".into()));
        assert_eq!(
            first_step(&decision(Target::DropOff {
                number: "100".into()
            })),
            Step::Ring("100".into())
        );
        let Step::Refuse { code, warning, .. } = first_step(&decision(Target::Reject {
            code: 404,
            reason: "Not Found: 555 is not assigned".into(),
        })) else {
            panic!()
        };
        assert_eq!(
            (code, warning.as_deref()),
            (404, Some("Not Found: 555 is not assigned"))
        );
        let Step::Refuse { code, warning, .. } =
            first_step(&decision(Target::Conference { room: "500".into() }))
        else {
            panic!()
        };
        assert_eq!(code, 480);
        assert_eq!(
            warning.as_deref(),
            Some("conference 500 is not available yet")
        );
        assert!(matches!(
            first_step(&Decision::default()),
            Step::Refuse { code: 404, .. }
        ));
    }
}
