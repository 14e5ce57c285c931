//! IVR menus as the tenant hands them to a call, and where a caller's choice leads.

use std::collections::BTreeMap;
use std::time::Duration;

use media::wav::Announcement;
use ractor::ActorRef;

use super::{CallTarget, QueueMsg};

/// How many times a menu's announcement plays before the caller who chose nothing
/// goes to the drop-off.
pub const MENU_PLAYS: u32 = 2;

/// Seconds a menu waits for a key after its announcement, unless the plan says.
pub const MENU_TIMEOUT_SECS: u32 = 10;

/// One IVR menu of the tenant's plan, ready to serve: its announcement loaded, its
/// timeout and drop-off inherited from its main menu where it sets none.
#[derive(Debug, Clone)]
pub struct IvrMenu {
    pub number: String,
    pub name: String,
    /// The announcement (none: the menu only waits for a key).
    pub prompt: Option<Announcement>,
    /// Key → the number it leads to.
    pub choices: BTreeMap<char, String>,
    pub timeout: Duration,
    /// Where no key, or a key that is no choice, leads (none: the caller is hung up).
    pub drop_off: Option<String>,
    /// How many times the announcement plays before the drop-off.
    pub plays: u32,
}

/// A mailbox a caller leaves a message in, as the tenant hands it to a call.
#[derive(Debug, Clone)]
pub struct VoicemailBox {
    pub tenant: super::TenantId,
    pub mailbox: String,
    /// The mailbox's own greeting (the tenant's prompt `greeting-MAILBOX`), or none:
    /// the default one.
    pub greeting: Option<Announcement>,
    /// Where its messages are written, and where its greeting is kept (the tenant's
    /// prompt `greeting-MAILBOX`).
    pub dir: std::path::PathBuf,
    pub greeting_path: std::path::PathBuf,
    pub store: crate::store::StoreHandle,
    /// Wakes the mailer once a message's mail is queued.
    pub mail: std::sync::Arc<tokio::sync::Notify>,
}

/// Where a caller already answered by the switch (in an IVR menu) goes next.
pub enum IvrStep {
    /// These devices ring (an extension, a hunt group's members).
    Ring(Vec<CallTarget>),
    /// It waits in this queue (its actor; `None`: it could not start).
    Queue(String, Option<ActorRef<QueueMsg>>),
    /// Another menu (a submenu, or another main menu).
    Menu(Box<IvrMenu>),
    /// It hears this message, then is hung up (a closing-time announcement).
    Message(Vec<Announcement>),
    /// It leaves a message in this mailbox.
    Voicemail(Box<VoicemailBox>),
    /// Nowhere: hung up with this status (a target not built yet, nobody to ring).
    Refuse(u16, &'static str),
}

impl std::fmt::Debug for IvrStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IvrStep::Ring(t) => write!(f, "Ring({} devices)", t.len()),
            IvrStep::Queue(n, _) => write!(f, "Queue({n})"),
            IvrStep::Menu(m) => write!(f, "Menu({})", m.number),
            IvrStep::Message(m) => write!(f, "Message({} prompts)", m.len()),
            IvrStep::Voicemail(b) => write!(f, "Voicemail({})", b.mailbox),
            IvrStep::Refuse(c, r) => write!(f, "Refuse({c} {r})"),
        }
    }
}
