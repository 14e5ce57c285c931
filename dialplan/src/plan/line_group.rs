//! Line groups: properties shared by a set of lines (SPEC F-CALL). Every line belongs
//! to one; a line that names none is in the group called `default` (or gets the
//! defaults below when the plan has no such group).

use serde::{Deserialize, Serialize};

use crate::number::location::Location;

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
    /// Codecs its lines' devices are offered, by priority (names as in SDP: `PCMU`,
    /// `PCMA`, `G722`, `opus`). Empty: the caller's own order. PCMA is always on:
    /// when the list lacks it, it comes last ([`LineGroup::codec_priority`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub codecs: Vec<String>,
    /// Calls placed by its lines, or to them, are written to the journal.
    #[serde(default = "on", skip_serializing_if = "is_on")]
    pub journal: bool,
    /// Calls of its lines may be captured (signalling and media to PCAP).
    #[serde(default, skip_serializing_if = "is_off")]
    pub capture: bool,
    /// Its lines' calls are secured: a call its line places without an SRTP key is
    /// refused (488), and its devices are offered `RTP/SAVP` only (a device without
    /// SRTP refuses the call).
    #[serde(default, skip_serializing_if = "is_off")]
    pub srtp: bool,
    /// How its lines dial (a branch in another area or country), when not as the
    /// tenant's location says. Numbers reaching the tenant (DDI) stay the tenant's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
}

fn on() -> bool {
    true
}

fn is_on(b: &bool) -> bool {
    *b
}

fn is_off(b: &bool) -> bool {
    !*b
}

/// The codec names a line group may list.
pub const CODECS: [&str; 4] = ["PCMU", "PCMA", "G722", "opus"];

impl LineGroup {
    /// A group with every property at its default.
    pub fn named(name: &str) -> Self {
        LineGroup {
            name: name.to_owned(),
            decline: Decline::default(),
            reject: Reject::default(),
            busy_on_busy: false,
            codecs: Vec::new(),
            journal: true,
            capture: false,
            srtp: false,
            location: None,
        }
    }

    /// The codecs by priority with PCMA always on; empty when the group follows the
    /// caller's order.
    pub fn codec_priority(&self) -> Vec<String> {
        let mut list: Vec<String> = Vec::new();
        for c in &self.codecs {
            let known = CODECS.iter().find(|k| k.eq_ignore_ascii_case(c));
            if let Some(k) = known.filter(|k| !list.iter().any(|l| l == *k)) {
                list.push((*k).to_owned());
            }
        }
        if !list.is_empty() && !list.iter().any(|c| c == "PCMA") {
            list.push("PCMA".into());
        }
        list
    }
}

/// The group of lines that name none, when the plan has no `default` group.
pub static DEFAULT_LINE_GROUP: std::sync::LazyLock<LineGroup> =
    std::sync::LazyLock::new(|| LineGroup::named(DEFAULT_GROUP));

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pcma_is_always_on_and_names_are_canonical() {
        let mut g = LineGroup::named("branch");
        assert!(g.codec_priority().is_empty(), "no list: the caller's order");
        g.codecs = vec!["opus".into(), "pcmu".into(), "PCMU".into()];
        assert_eq!(g.codec_priority(), ["opus", "PCMU", "PCMA"]);
        g.codecs = vec!["PCMA".into(), "G722".into()];
        assert_eq!(g.codec_priority(), ["PCMA", "G722"]);
    }

    #[test]
    fn defaults_are_not_written_out() {
        let json = serde_json::to_value(LineGroup::named("x")).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"name": "x", "decline": "486", "reject": "device", "busy_on_busy": false})
        );
        let g: LineGroup = serde_json::from_value(json).unwrap();
        assert!(g.journal && !g.capture && g.location.is_none());
    }
}
