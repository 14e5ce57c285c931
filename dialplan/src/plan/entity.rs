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
    /// A call queue of its members: the caller is answered, waits with music and is
    /// offered to the member idle longest (the queue's defaults).
    Queue,
}

impl Strategy {
    /// Short name for reports.
    pub fn describe(&self) -> String {
        match self {
            Self::Parallel => "parallel".into(),
            Self::Sequential { ring_seconds } => format!("sequential {ring_seconds}s"),
            Self::Queue => "queue".into(),
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
    /// What a caller gets when no member is logged in (486 by default).
    #[serde(default)]
    pub decline: super::Decline,
    /// A member already in a call may be offered a group call (its call waiting on);
    /// by default a busy member is skipped.
    #[serde(default)]
    pub call_waiting: bool,
}

/// How a queue picks the agents it offers a call to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QueueStrategy {
    /// Every free agent at once.
    RingAll,
    /// The free agent after the one offered last, in the member list's order.
    RoundRobin,
    /// The agent free for the longest time.
    #[default]
    LongestIdle,
    /// The agent who took the fewest calls.
    FewestCalls,
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
    /// The agents (extensions), in order.
    #[serde(default)]
    pub members: Vec<String>,
    /// How agents are picked.
    #[serde(default)]
    pub strategy: QueueStrategy,
    /// Seconds an offer rings an agent before the next is tried (15 by default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_ring_seconds: Option<u32>,
    /// Seconds after a call before the agent is offered the next (none by default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wrap_up_seconds: Option<u32>,
    /// An agent who lets an offer ring out is paused until it logs in again.
    #[serde(default)]
    pub pause_on_no_answer: bool,
    /// Seconds a caller waits at most before the overflow target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_wait_seconds: Option<u32>,
    /// Callers waiting at most; one more goes to the overflow target at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_callers: Option<u32>,
    /// Seconds between announcements of the caller's position (none: never).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub announce_seconds: Option<u32>,
    /// A key (`0`–`9`, `*`, `#`) the caller presses to leave for `exit_target`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_key: Option<String>,
    /// Where a caller pressing the exit key goes (internal number).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_target: Option<String>,
    /// The skills every caller needs an agent to have: skill → minimum level (1–10).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub skills: BTreeMap<String, u8>,
    /// Callers whose number starts with a prefix wait with a priority and may need
    /// more skills; the first rule that matches applies.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub caller_rules: Vec<CallerRule>,
}

/// Sender-based routing in a queue: callers whose number starts with `prefix`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallerRule {
    /// The start of the caller's number (internal or canonical `+…`).
    pub prefix: String,
    /// Callers of a higher priority are offered before those waiting longer (0–9).
    #[serde(default)]
    pub priority: u8,
    /// Skills these callers need besides the queue's: skill → minimum level.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub skills: BTreeMap<String, u8>,
}

impl Queue {
    /// The queue a hunt group with the queue strategy is: its members, the defaults.
    pub fn of_group(g: &HuntGroup) -> Queue {
        Queue {
            number: g.number.clone(),
            name: g.name.clone(),
            schedule: None,
            overflow: None,
            members: g.members.clone(),
            strategy: QueueStrategy::default(),
            agent_ring_seconds: None,
            wrap_up_seconds: None,
            pause_on_no_answer: false,
            max_wait_seconds: None,
            max_callers: None,
            announce_seconds: None,
            exit_key: None,
            exit_target: None,
            skills: BTreeMap::new(),
            caller_rules: Vec::new(),
        }
    }

    /// The priority and the skills (skill → minimum level) a caller from `number`
    /// waits with.
    pub fn caller_needs(&self, number: &str) -> (u8, BTreeMap<String, u8>) {
        let mut skills = self.skills.clone();
        let rule = self
            .caller_rules
            .iter()
            .find(|r| number.starts_with(&r.prefix));
        let priority = rule.map_or(0, |r| r.priority);
        for (skill, level) in rule.map(|r| &r.skills).into_iter().flatten() {
            let min = skills.entry(skill.clone()).or_insert(0);
            *min = (*min).max(*level);
        }
        (priority, skills)
    }
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
    /// What its choices may call outside (an external number out on a trunk), as a
    /// line's class.
    #[serde(default)]
    pub class: PermissionClass,
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
