//! Line groups: properties shared by a set of lines (SPEC F-CALL). Every line belongs
//! to one; a line that names none is in the group called `default` (or gets the
//! defaults below when the plan has no such group).

use serde::{Deserialize, Serialize};

/// The name of the group lines without one belong to.
pub const DEFAULT_GROUP: &str = "default";

/// What a caller gets when nobody is logged in on the line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Decline {
    /// 486 Busy Here (the SPEC's default).
    #[default]
    #[serde(rename = "486")]
    Busy,
    /// 480 Temporarily Unavailable.
    #[serde(rename = "480")]
    Unavailable,
    /// 603 Decline.
    #[serde(rename = "603")]
    Decline,
    /// 180 Ringing until the caller gives up or the ring time is over (then 480).
    #[serde(rename = "ring")]
    Ring,
}

/// How a device's own reject (486, 600, 603) reaches the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Reject {
    /// As the device sent it.
    #[default]
    #[serde(rename = "device")]
    AsSent,
    /// 486 Busy Here.
    #[serde(rename = "486")]
    Busy,
    /// 603 Decline.
    #[serde(rename = "603")]
    Decline,
}

/// A line group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineGroup {
    /// Its name (lines name it in `line_group`).
    pub name: String,
    #[serde(default)]
    pub decline: Decline,
    #[serde(default)]
    pub reject: Reject,
    /// A line already in a call gets no second call (486 at once).
    #[serde(default)]
    pub busy_on_busy: bool,
}

impl LineGroup {
    /// A group with every property at its default.
    pub fn named(name: &str) -> Self {
        LineGroup {
            name: name.to_owned(),
            decline: Decline::default(),
            reject: Reject::default(),
            busy_on_busy: false,
        }
    }
}
