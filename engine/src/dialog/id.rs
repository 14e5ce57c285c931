//! The dialog identifier (RFC 3261 §12): Call-ID, local tag and remote tag.

use crate::sip::Message;

/// Identifies a dialog from one side's point of view.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DialogId {
    pub call_id: String,
    pub local_tag: String,
    pub remote_tag: String,
}

impl DialogId {
    pub fn new(call_id: &str, local_tag: &str, remote_tag: &str) -> DialogId {
        DialogId {
            call_id: call_id.into(),
            local_tag: local_tag.into(),
            remote_tag: remote_tag.into(),
        }
    }

    /// The dialog an incoming request belongs to, as its receiver sees it: the local
    /// tag is the To tag, the remote tag the From tag. `None` outside a dialog (no To
    /// tag) or when headers are missing.
    pub fn of_request(req: &Message) -> Option<DialogId> {
        let local = req.to()?.tag()?.to_owned();
        let remote = req.from()?.tag().unwrap_or("").to_owned();
        Some(DialogId {
            call_id: req.call_id()?.to_owned(),
            local_tag: local,
            remote_tag: remote,
        })
    }

    /// The dialog a response to our request belongs to: local tag from From, remote
    /// tag from To.
    pub fn of_response(resp: &Message) -> Option<DialogId> {
        Some(DialogId {
            call_id: resp.call_id()?.to_owned(),
            local_tag: resp.from()?.tag()?.to_owned(),
            remote_tag: resp.to()?.tag()?.to_owned(),
        })
    }
}
