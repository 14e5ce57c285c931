//! Per-tenant feature codes (`*59<NUMBER>` directed pickup, DND, forwarding, …).

use std::fmt;

use serde::{Deserialize, Serialize};

/// What a feature code does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeatureKind {
    /// Pick up the call ringing at the number that follows.
    DirectedPickup,
    /// Pick up any call ringing in the caller's pickup group.
    GroupPickup,
    /// Log in to a hunt group (the group number may follow; none = all groups).
    AgentLogin,
    /// Log out of a hunt group (the group number may follow; none = all groups).
    AgentLogout,
    /// Do not disturb on.
    DndOn,
    /// Do not disturb off.
    DndOff,
    /// Call waiting on: a second call rings while the line is in a call.
    CallWaitingOn,
    /// Call waiting off: a second call gets busy (or the busy forwarding).
    CallWaitingOff,
    /// The line's calls go out anonymous (caller ID withheld) from now on.
    AnonymousOn,
    /// The line's calls show its number again.
    AnonymousOff,
    /// Unconditional forwarding to the number that follows.
    ForwardUnconditionalSet,
    /// Clear unconditional forwarding.
    ForwardUnconditionalClear,
    /// Forwarding on busy to the number that follows.
    ForwardBusySet,
    /// Clear forwarding on busy.
    ForwardBusyClear,
    /// Forwarding on no answer to the number that follows.
    ForwardNoAnswerSet,
    /// Clear forwarding on no answer.
    ForwardNoAnswerClear,
    /// Listen to the caller's voice mailbox (PIN asked by the mailbox).
    VoicemailAccess,
    /// Start or stop recording the caller's current call.
    RecordingToggle,
    /// Typed during a call: this call and the line's other call (on hold) become
    /// one three-party conference.
    ConferenceMerge,
    /// The line's calls show the number that follows (another of its user's).
    CallerIdSet,
    /// The line's calls show its own number again.
    CallerIdClear,
    /// A prefix for one call: the number to show, `*`, the number to call.
    CallerIdOnce,
    /// A prefix for one call: the number to call; the journal keeps the call as
    /// private (its number masked as the tenant's journal rules say).
    PrivateCallOnce,
    /// A prefix for one call: a project code (digits), `*`, the number to call; the
    /// journal tags the call with the code.
    ProjectCodeOnce,
}

/// Does the code take a number after it: required, optional, or none?
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Argument {
    /// No number may follow.
    None,
    /// A number may follow.
    Optional,
    /// A number must follow.
    Required,
}

impl FeatureKind {
    /// Whether a number follows the code.
    pub fn argument(self) -> Argument {
        use FeatureKind::*;
        match self {
            DirectedPickup
            | ForwardUnconditionalSet
            | ForwardBusySet
            | ForwardNoAnswerSet
            | CallerIdSet
            | CallerIdOnce
            | PrivateCallOnce
            | ProjectCodeOnce => Argument::Required,
            AgentLogin | AgentLogout => Argument::Optional,
            _ => Argument::None,
        }
    }
}

/// One configured code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeatureCode {
    /// What the user dials (`*59`); starts with `*` or `#`.
    pub code: String,
    /// What it does.
    pub kind: FeatureKind,
}

/// Forwarding condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ForwardKind {
    /// Always.
    Unconditional,
    /// When busy.
    Busy,
    /// When not answered.
    NoAnswer,
}

/// The action a dialled feature code asks the switch to carry out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "feature", rename_all = "snake_case")]
pub enum FeatureAction {
    /// Pick up the call ringing at `target` (an internal number).
    DirectedPickup {
        /// Whose call.
        target: String,
    },
    /// Pick up a call ringing in the caller's group.
    GroupPickup,
    /// Log the caller in to `group` (all groups when None).
    AgentLogin {
        /// Group number.
        group: Option<String>,
    },
    /// Log the caller out of `group` (all groups when None).
    AgentLogout {
        /// Group number.
        group: Option<String>,
    },
    /// Set do-not-disturb.
    Dnd {
        /// On or off.
        on: bool,
    },
    /// Set call waiting.
    CallWaiting {
        /// On or off.
        on: bool,
    },
    /// Withhold the caller ID of the line's calls (or show it again).
    Anonymous {
        /// On (withheld) or off.
        on: bool,
    },
    /// Set (`to` = Some) or clear (`to` = None) a forwarding of the caller's line.
    Forward {
        /// Condition.
        kind: ForwardKind,
        /// Destination: internal number or canonical external number.
        to: Option<String>,
    },
    /// Voice mailbox access.
    VoicemailAccess,
    /// Toggle call recording.
    RecordingToggle,
    /// Merge the call and the held call into a conference.
    ConferenceMerge,
    /// Set (`number` = Some) or clear the number the caller's calls show.
    CallerId {
        /// Another internal number of the caller's user.
        number: Option<String>,
    },
}

/// A tenant's feature codes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeatureCodes {
    /// The codes; none may be a prefix of another.
    pub codes: Vec<FeatureCode>,
}

impl Default for FeatureCodes {
    fn default() -> Self {
        use FeatureKind::*;
        let codes = [
            ("*59", DirectedPickup),
            ("*8", GroupPickup),
            ("*40", AgentLogin),
            ("*41", AgentLogout),
            ("*78", DndOn),
            ("*79", DndOff),
            ("*43", CallWaitingOn),
            ("#43", CallWaitingOff),
            ("*31", AnonymousOn),
            ("#31", AnonymousOff),
            ("*21", ForwardUnconditionalSet),
            ("#21", ForwardUnconditionalClear),
            ("*67", ForwardBusySet),
            ("#67", ForwardBusyClear),
            ("*61", ForwardNoAnswerSet),
            ("#61", ForwardNoAnswerClear),
            ("*97", VoicemailAccess),
            ("*44", RecordingToggle),
            ("*33", ConferenceMerge),
            ("*42", CallerIdSet),
            ("#42", CallerIdClear),
            ("*46", CallerIdOnce),
            ("*48", PrivateCallOnce),
            ("*49", ProjectCodeOnce),
        ];
        Self {
            codes: codes
                .into_iter()
                .map(|(code, kind)| FeatureCode {
                    code: code.to_owned(),
                    kind,
                })
                .collect(),
        }
    }
}

/// A recognised feature code and the number after it (trailing `#` removed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matched<'a> {
    /// The code.
    pub code: &'a FeatureCode,
    /// What followed the code.
    pub argument: Option<String>,
}

impl FeatureCodes {
    /// Recognises a dialled feature code; `Err` carries a message when the code is known
    /// but the number after it is missing or not allowed.
    pub fn recognise(&self, dialled: &str) -> Option<Result<Matched<'_>, String>> {
        if !dialled.starts_with(['*', '#']) {
            return None;
        }
        let code = self
            .codes
            .iter()
            .filter(|c| dialled.starts_with(c.code.as_str()))
            .max_by_key(|c| c.code.len())?;
        let rest = dialled[code.code.len()..].trim_end_matches('#');
        let argument = (!rest.is_empty()).then(|| rest.to_owned());
        let result = match (code.kind.argument(), &argument) {
            (Argument::Required, None) => Err(format!(
                "feature code {} needs a number after it",
                code.code
            )),
            (Argument::None, Some(a)) => Err(format!(
                "feature code {} takes no number (got {a})",
                code.code
            )),
            _ => Ok(Matched { code, argument }),
        };
        Some(result)
    }
}

impl fmt::Display for FeatureAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let group = |g: &Option<String>| {
            g.as_deref()
                .map_or("all groups".to_owned(), |g| format!("group {g}"))
        };
        match self {
            Self::DirectedPickup { target } => write!(f, "directed pickup of {target}"),
            Self::GroupPickup => write!(f, "group pickup"),
            Self::AgentLogin { group: g } => write!(f, "agent login to {}", group(g)),
            Self::AgentLogout { group: g } => write!(f, "agent logout from {}", group(g)),
            Self::Dnd { on } => write!(f, "do not disturb {}", if *on { "on" } else { "off" }),
            Self::Anonymous { on } => {
                write!(f, "anonymous calls {}", if *on { "on" } else { "off" })
            }
            Self::CallWaiting { on } => {
                write!(f, "call waiting {}", if *on { "on" } else { "off" })
            }
            Self::Forward { kind, to: Some(to) } => write!(f, "set {kind:?} forwarding to {to}"),
            Self::Forward { kind, to: None } => write!(f, "clear {kind:?} forwarding"),
            Self::VoicemailAccess => write!(f, "voicemail access"),
            Self::RecordingToggle => write!(f, "toggle call recording"),
            Self::ConferenceMerge => {
                write!(f, "merge the call and the held call into a conference")
            }
            Self::CallerId { number: Some(n) } => write!(f, "show {n} as the caller ID"),
            Self::CallerId { number: None } => write!(f, "show the line's own caller ID"),
        }
    }
}
