//! The dialplan in the call path: the tenant's plan compiled into a
//! `dialplan::Router`, kept in step with the store, and what the switch does with the
//! first target of a decision. Targets whose feature is not built yet get a clear
//! refusal naming them (480, 501 for feature codes) instead of a 404, so a number the
//! plan knows is never "not found" on the live switch.

use std::sync::Arc;
use std::time::Duration;

use dialplan::{Decision, Router, Target};

use crate::store::{PlanVersion, StoreHandle, TenantId, TenantLimits, TenantSettings};

/// How often the tenant's settings, quotas and plan are read again.
pub const REFRESH: Duration = Duration::from_secs(2);

/// What a tenant routes and admits calls with, read from the store off the
/// supervisor's mailbox: calls never wait on SQLite.
#[derive(Clone, Default)]
pub struct TenantView {
    pub settings: TenantSettings,
    pub limits: TenantLimits,
    /// The compiled plan (`None`: the tenant has no plan, or it does not compile).
    pub router: Option<Arc<Router>>,
}

/// Reads the tenant's view now and then every `REFRESH`, compiling the plan only when
/// it or the lines changed, and publishes each new view until nobody watches.
pub async fn refresh(
    store: StoreHandle,
    tenant: TenantId,
    views: tokio::sync::watch::Sender<TenantView>,
) {
    let mut version: Option<PlanVersion> = None;
    let mut router: Option<Arc<Router>> = None;
    loop {
        let known = version.clone();
        let read = store
            .call(move |s| {
                let v = s.plan_version(tenant)?;
                let plan = (Some(&v) != known.as_ref())
                    .then(|| s.tenant_plan(tenant))
                    .transpose()?;
                Ok((
                    s.effective_settings(tenant)?,
                    s.tenant_limits(tenant)?,
                    v,
                    plan,
                ))
            })
            .await;
        match read {
            Ok((settings, limits, v, plan)) => {
                if let Some(plan) = plan {
                    router = compile(plan);
                    version = Some(v);
                }
                let view = TenantView {
                    settings,
                    limits,
                    router: router.clone(),
                };
                if views.send(view).is_err() {
                    return;
                }
            }
            Err(crate::Error::StoreGone) => return,
            Err(e) => tracing::warn!(error = %e, "tenant settings not read; keeping the last ones"),
        }
        tokio::time::sleep(REFRESH).await;
    }
}

fn compile(plan: Option<dialplan::TenantPlan>) -> Option<Arc<Router>> {
    match plan.map(|p| Router::new(&p)) {
        Some(Ok(r)) => Some(Arc::new(r)),
        Some(Err(e)) => {
            tracing::error!(error = %e, "stored dialplan does not compile; routing to extensions only");
            None
        }
        None => None,
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
