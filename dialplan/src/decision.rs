//! The routing decision: an ordered list of targets, tried first to last.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::feature_code::FeatureAction;
use crate::plan::Strategy;

/// A trunk to try, with the number as that trunk must be sent it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrunkDial {
    /// Trunk name.
    pub trunk: String,
    /// The dial string for this trunk (call-by-call prefix included).
    pub dial: String,
}

/// One place a call can go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "target", rename_all = "snake_case")]
pub enum Target {
    /// An extension: all its devices ring.
    Extension {
        /// Internal number.
        number: String,
        /// Its devices.
        devices: Vec<String>,
    },
    /// A hunt group.
    HuntGroup {
        /// Internal number.
        number: String,
        /// Name.
        name: String,
        /// Ringing strategy.
        strategy: Strategy,
        /// Members in list order.
        members: Vec<String>,
    },
    /// A call queue (waiting loop).
    Queue {
        /// Internal number.
        number: String,
        /// Name.
        name: String,
    },
    /// An IVR menu.
    IvrMenu {
        /// Internal number.
        number: String,
        /// Name.
        name: String,
        /// Seconds without a choice before the drop-off target (submenus inherit).
        timeout_seconds: Option<u32>,
        /// Where no or an invalid choice goes (submenus inherit the main menu's).
        drop_off: Option<String>,
    },
    /// A voice mailbox.
    Voicemail {
        /// Mailbox (internal number).
        mailbox: String,
    },
    /// A conference room.
    Conference {
        /// Room number.
        room: String,
    },
    /// A new ad-hoc conference room, organised by the caller (the phones' network
    /// conference URI).
    AdHocConference,
    /// An announcement, then hang up.
    Announcement {
        /// WAV file.
        announcement: String,
    },
    /// An outbound route: its trunks in priority order, for failover.
    Outbound {
        /// Route name.
        route: String,
        /// Canonical number.
        number: String,
        /// LCR provider chosen, if any.
        provider: Option<String>,
        /// Trunks in order.
        trunks: Vec<TrunkDial>,
    },
    /// An emergency call.
    Emergency {
        /// The emergency number dialled.
        number: String,
        /// The emergency trunk.
        trunk: String,
        /// What the trunk is sent (location prefix + number).
        dial: String,
        /// Callback number for P-Asserted-Identity.
        callback: Option<String>,
        /// The subnet rule that chose it.
        rule: Option<String>,
    },
    /// A feature code for the switch to carry out.
    Feature {
        /// The action.
        action: FeatureAction,
    },
    /// The tenant's drop-off number.
    DropOff {
        /// Internal or canonical number.
        number: String,
    },
    /// Reject with a SIP status.
    Reject {
        /// SIP status code.
        code: u16,
        /// Reason phrase / explanation.
        reason: String,
    },
}

/// The ordered targets for a call.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// First to last.
    pub targets: Vec<Target>,
    /// The number the caller asked to show on this call (a per-call prefix code).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller_id: Option<String>,
    /// The caller dialled the call as private (a per-call prefix code).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub private: bool,
    /// The project code the caller tagged the call with (a per-call prefix code).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    /// The number called once per-call prefix codes are taken off (none dialled:
    /// `None`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dialled: Option<String>,
}

impl Decision {
    /// A decision with one target.
    pub fn single(t: Target) -> Self {
        Self {
            targets: vec![t],
            caller_id: None,
            private: false,
            project: None,
            dialled: None,
        }
    }

    /// A reject.
    pub fn reject(code: u16, reason: impl Into<String>) -> Self {
        Self::single(Target::Reject {
            code,
            reason: reason.into(),
        })
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Extension { number, devices } => {
                write!(f, "extension {number} (devices: {})", devices.join(", "))
            }
            Self::HuntGroup {
                number,
                name,
                strategy,
                members,
            } => write!(
                f,
                "hunt group {number} {name:?} ({}: {})",
                strategy.describe(),
                members.join(", ")
            ),
            Self::Queue { number, name } => write!(f, "queue {number} {name:?}"),
            Self::IvrMenu {
                number,
                name,
                timeout_seconds,
                drop_off,
            } => {
                write!(f, "IVR menu {number} {name:?}")?;
                if let (Some(t), Some(d)) = (timeout_seconds, drop_off) {
                    write!(f, " (no choice in {t}s → {d})")?;
                }
                Ok(())
            }
            Self::Voicemail { mailbox } => write!(f, "voicemail {mailbox}"),
            Self::Conference { room } => write!(f, "conference room {room}"),
            Self::AdHocConference => write!(f, "a new ad-hoc conference room"),
            Self::Announcement { announcement } => {
                write!(f, "announcement {announcement}, then hang up")
            }
            Self::Outbound {
                route,
                number,
                provider,
                trunks,
            } => {
                write!(f, "outbound route {route:?} to {number}")?;
                if let Some(p) = provider {
                    write!(f, " via LCR provider {p}")?;
                }
                let t: Vec<String> = trunks
                    .iter()
                    .map(|t| format!("{} ({})", t.trunk, t.dial))
                    .collect();
                write!(f, ": trunks {}", t.join(" → "))
            }
            Self::Emergency {
                number,
                trunk,
                dial,
                callback,
                rule,
            } => {
                write!(f, "EMERGENCY {number} on trunk {trunk} (sent {dial})")?;
                if let Some(c) = callback {
                    write!(f, ", callback {c}")?;
                }
                if let Some(r) = rule {
                    write!(f, " by rule {r}")?;
                }
                Ok(())
            }
            Self::Feature { action } => write!(f, "feature: {action}"),
            Self::DropOff { number } => write!(f, "drop-off number {number}"),
            Self::Reject { code, reason } => write!(f, "reject {code} {reason}"),
        }
    }
}
