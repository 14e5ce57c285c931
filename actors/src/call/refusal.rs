//! How the caller is answered when the routing walk reaches a target the switch does
//! not ring. Targets whose feature is not built yet get a clear refusal naming them
//! (480, 501 for feature codes) instead of a 404, so a number the plan knows is never
//! "not found" on the live switch.

use dialplan::Target;

/// How the caller is answered when the routing walk reaches a target the switch does
/// not ring: a reject with its code, or a target not built yet with 480 (501 for a
/// feature code) and a `Warning` naming it (and a journal row).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub code: u16,
    pub reason: &'static str,
    pub warning: Option<String>,
    /// The call was refused because its target is not built yet (journalled).
    pub missing: bool,
    /// The refused call gets a journal row with its status: every refusal of a
    /// call the plan routed (every target busy, on do not disturb or not
    /// registered; a reject by the plan; a target not built yet) is a call that
    /// happened, and a missed one for its callee.
    pub journal: bool,
}

impl Refusal {
    /// The final status of a walk with no target left.
    pub fn exhausted(code: u16, reason: String) -> Refusal {
        Refusal {
            code,
            reason: reason_phrase(code),
            warning: (reason != reason_phrase(code)).then_some(reason),
            missing: false,
            journal: true,
        }
    }

    /// True when the caller was refused for a target the switch does not carry out
    /// yet (journalled as such).
    pub fn is_missing_target(&self) -> bool {
        self.missing
    }

    /// The refused call gets a journal row (see `journal`).
    pub fn is_journalled(&self) -> bool {
        self.journal
    }
}

/// The refusal for target `target` the walk reached after hops that failed (the last
/// as `last`): a fallback not built yet (voicemail after no answer …) leaves the
/// caller the last hop's status, with a `Warning` naming what is missing.
pub fn served(target: &Target, last: Option<&dialplan::walk::Failure>) -> Refusal {
    let r = refusal(target);
    match last {
        Some(f) if r.is_missing_target() => Refusal {
            code: f.code,
            reason: reason_phrase(f.code),
            warning: r.warning,
            missing: false,
            journal: true,
        },
        _ => r,
    }
}

/// The refusal for a target the walk hands to the call rather than ringing.
pub fn refusal(target: &Target) -> Refusal {
    let missing = |code, what: String| Refusal {
        code,
        reason: if code == 501 {
            "Not Implemented"
        } else {
            "Temporarily Unavailable"
        },
        warning: Some(format!("{what} is not available yet")),
        missing: true,
        journal: true,
    };
    match target {
        Target::Reject { code, reason } => Refusal {
            code: *code,
            reason: reason_phrase(*code),
            warning: Some(reason.clone()),
            missing: false,
            journal: true,
        },
        Target::Extension { number, .. } => missing(480, format!("extension {number}")),
        Target::DropOff { number } => missing(480, format!("drop-off to external number {number}")),
        Target::HuntGroup { number, name, .. } => {
            missing(480, format!("hunt group {number} ({name})"))
        }
        Target::Queue { number, name } => missing(480, format!("queue {number} ({name})")),
        Target::IvrMenu { number, name, .. } => missing(480, format!("IVR menu {number} ({name})")),
        Target::Voicemail { mailbox } => missing(480, format!("voicemail {mailbox}")),
        Target::Conference { room } => missing(480, format!("conference {room}")),
        Target::AdHocConference => missing(480, "ad-hoc conference".into()),
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

    #[test]
    fn refusals_name_what_is_missing() {
        let r = refusal(&Target::Reject {
            code: 404,
            reason: "Not Found: 555 is not assigned".into(),
        });
        assert_eq!(
            (r.code, r.warning.as_deref()),
            (404, Some("Not Found: 555 is not assigned"))
        );
        assert!(!r.is_missing_target());
        let r = refusal(&Target::Conference { room: "500".into() });
        assert_eq!(r.code, 480);
        assert_eq!(
            r.warning.as_deref(),
            Some("conference 500 is not available yet")
        );
        assert!(r.is_missing_target());
        let r = refusal(&Target::Feature {
            action: dialplan::feature_code::FeatureAction::GroupPickup,
        });
        assert_eq!(r.code, 501);
    }

    #[test]
    fn a_missing_fallback_leaves_the_last_status_and_names_itself() {
        let vm = Target::Voicemail {
            mailbox: "105".into(),
        };
        let busy = dialplan::walk::Failure {
            code: 486,
            reason: "Busy Here".into(),
        };
        let r = served(&vm, Some(&busy));
        assert_eq!((r.code, r.reason), (486, "Busy Here"));
        assert_eq!(
            r.warning.as_deref(),
            Some("voicemail 105 is not available yet")
        );
        assert_eq!(served(&vm, None).code, 480);
    }

    #[test]
    fn an_exhausted_walk_keeps_the_last_status() {
        let r = Refusal::exhausted(486, "Busy Here".into());
        assert_eq!((r.code, r.reason, r.warning), (486, "Busy Here", None));
        let r = Refusal::exhausted(480, "No devices registered".into());
        assert_eq!(r.warning.as_deref(), Some("No devices registered"));
    }
}
