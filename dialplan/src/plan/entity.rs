//! The things numbers are assigned to: extensions, hunt groups, queues, IVR menus and
//! conference rooms.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::route::outbound::PermissionClass;

fn yes() -> bool {
    true
}

/// A user's or DeviceOnly line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Extension {
    /// Internal number (at least 2 digits).
    pub number: String,
    /// Display name.
    #[serde(default)]
    pub name: String,
    /// Devices that ring (desk phone, DECT handset, softphone).
    #[serde(default)]
    pub devices: Vec<String>,
    /// Has a voice mailbox (taken when nobody answers).
    #[serde(default = "yes")]
    pub voicemail: bool,
    /// Outbound permission class.
    #[serde(default)]
    pub class: PermissionClass,
    /// May call premium-rate numbers.
    #[serde(default)]
    pub premium_allowed: bool,
    /// The line group it belongs to (`default` when none is named).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line_group: Option<String>,
}

/// Ringing strategy of a hunt group.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Strategy {
    /// All logged-in members at once.
    #[default]
    Parallel,
    /// One member at a time, in list order.
    Sequential {
        /// Seconds per member (15 by default).
        ring_seconds: u32,
    },
}

impl Strategy {
    /// Short name for reports.
    pub fn describe(&self) -> String {
        match self {
            Self::Parallel => "parallel".into(),
            Self::Sequential { ring_seconds } => format!("sequential {ring_seconds}s"),
        }
    }
}

/// A hunt group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HuntGroup {
    /// Internal number.
    pub number: String,
    /// Name.
    pub name: String,
    /// Ringing strategy.
    #[serde(default)]
    pub strategy: Strategy,
    /// Member numbers in order.
    #[serde(default)]
    pub members: Vec<String>,
    /// Off-hours schedule name.
    #[serde(default)]
    pub schedule: Option<String>,
    /// Fixed forwarding set by the administrator (internal or canonical number).
    #[serde(default)]
    pub forward: Option<String>,
    /// Mailbox taken when no member answers.
    #[serde(default)]
    pub voicemail: Option<String>,
}

/// A call queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Queue {
    /// Internal number.
    pub number: String,
    /// Name.
    pub name: String,
    /// Off-hours schedule name.
    #[serde(default)]
    pub schedule: Option<String>,
    /// Where calls go when the queue overflows (internal number).
    #[serde(default)]
    pub overflow: Option<String>,
}

/// An IVR menu; submenus have numbers 99990–99999 and a parent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IvrMenu {
    /// Internal number.
    pub number: String,
    /// Name.
    pub name: String,
    /// Digit (`"0"`–`"9"`) → internal number, canonical number or submenu.
    #[serde(default)]
    pub choices: BTreeMap<String, String>,
    /// Announcement (WAV).
    #[serde(default)]
    pub announcement: Option<String>,
    /// Seconds without a choice before the drop-off target.
    #[serde(default)]
    pub timeout_seconds: Option<u32>,
    /// Drop-off target on timeout or invalid choice (submenus inherit the parent's).
    #[serde(default)]
    pub drop_off: Option<String>,
    /// The main menu of a submenu.
    #[serde(default)]
    pub parent: Option<String>,
    /// Off-hours schedule name.
    #[serde(default)]
    pub schedule: Option<String>,
}

/// A pickup group: any member may pick up a call ringing another member (`*8`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PickupGroup {
    /// Name.
    pub name: String,
    /// Member extensions.
    pub members: Vec<String>,
}

/// A conference room.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conference {
    /// Internal number.
    pub number: String,
    /// Name.
    pub name: String,
    /// The PIN callers type (followed by #) before they join; none: they join at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pin: Option<String>,
}
