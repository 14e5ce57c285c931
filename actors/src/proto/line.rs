//! What a line actor is asked.

use std::sync::{Arc, RwLock};

use engine::registrar::Binding;
use ractor::RpcReplyPort;

use super::Incoming;

pub enum LineMsg {
    /// A REGISTER for this line, or a new call (INVITE) from it.
    Request(Box<Incoming>),
    /// The earliest binding may have run out.
    Expire,
    Bindings(RpcReplyPort<Vec<Binding>>),
    /// The line's mailbox changed (a message left, heard or deleted).
    MailboxChanged,
    /// The mailbox's new and old messages, as just read.
    MailboxCounts(u32, u32),
    /// A subscription may have run out.
    MwiExpire,
    /// Line `.0`, which a subscription of this line watches, has these calls now.
    Watched(String, crate::blf::LineView),
    /// The line's password or a device account of it changed (a provisioned
    /// phone's new password): read them again.
    DevicesChanged,
    /// Another node sharing the store changed the line's bindings: read them again.
    BindingsChanged,
}

impl std::fmt::Debug for LineMsg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LineMsg::Request(_) => f.write_str("Request"),
            LineMsg::Expire => f.write_str("Expire"),
            LineMsg::Bindings(_) => f.write_str("Bindings"),
            LineMsg::MailboxChanged => f.write_str("MailboxChanged"),
            LineMsg::MailboxCounts(n, o) => write!(f, "MailboxCounts({n}/{o})"),
            LineMsg::MwiExpire => f.write_str("MwiExpire"),
            LineMsg::Watched(ext, v) => write!(f, "Watched({ext}: {} calls)", v.dialogs.len()),
            LineMsg::DevicesChanged => f.write_str("DevicesChanged"),
            LineMsg::BindingsChanged => f.write_str("BindingsChanged"),
        }
    }
}

/// A line's registered bindings as its actor last published them: calls read them
/// without asking the actor (no round trip in the tenant's mailbox).
#[derive(Debug, Clone, Default)]
pub struct BindingsView(Arc<RwLock<Arc<[Binding]>>>);

impl BindingsView {
    /// The bindings now.
    pub fn get(&self) -> Arc<[Binding]> {
        self.0.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The line actor publishes its bindings after every change.
    pub fn publish(&self, bindings: &[Binding]) {
        *self.0.write().unwrap_or_else(|p| p.into_inner()) = Arc::from(bindings);
    }
}
