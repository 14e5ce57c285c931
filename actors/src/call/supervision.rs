//! What a tenant supervisor knows of each call it started, so that it can end the call
//! cleanly when the call's actor fails: the call keeps a small record up to date (its
//! Call-IDs, its journal id, and a snapshot of each live dialog with the flow and Via
//! to reach the device); the supervisor sends BYE on every confirmed dialog, removes
//! the Call-IDs from the directory and closes the journal row as failed. The actor's
//! state is dropped with the panic, and with it the media relay and its ports.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use engine::dialog::{Dialog, DialogState, LocalVia};
use engine::sip::Method;

use crate::directory::Directory;
use crate::journal::{CallId, EventBus};
use crate::proto::Flow;
use crate::proto::TenantId;
use crate::sip::SipOut;

/// One live dialog of the call, and how to reach its device.
#[derive(Debug, Clone)]
pub struct LegSnapshot {
    pub dialog: Dialog,
    pub flow: Flow,
    pub transport: String,
    pub sent_by: String,
}

/// The record a call keeps for its supervisor.
#[derive(Debug, Default)]
pub struct CallRecord {
    /// The journal's id of the call and its tenant, once the call has started.
    pub journal: Option<(CallId, TenantId)>,
    /// The journal row is already closed.
    pub closed: bool,
    /// Every SIP Call-ID the call is registered under in the directory.
    pub call_ids: Vec<String>,
    /// The dialogs still up (the caller's, the answering device's).
    pub legs: Vec<LegSnapshot>,
    /// The call's devices are ringing and nobody has answered (it may be picked up).
    pub ringing: bool,
    /// The lines whose devices ring now (after forwarding or a deflection).
    pub ringing_lines: Vec<String>,
    /// The lines that answered and are in the call now (a forward target, a picker).
    pub answered_lines: Vec<String>,
    /// The lines that hold the call now (their phone's re-INVITE, or the API).
    pub held_lines: Vec<String>,
    /// The early dialogs of the devices ringing now: line, Call-ID, the switch's tag,
    /// the device's tag (what a busy-lamp key needs to pick the call up by Replaces).
    pub ringing_dialogs: Vec<RingingDialog>,
}

/// One ringing device's early dialog with the switch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RingingDialog {
    pub line: String,
    pub call_id: String,
    /// The switch's tag (From of its INVITE).
    pub switch_tag: String,
    /// The device's tag (To of its provisional response).
    pub device_tag: String,
}

pub type SharedRecord = Arc<Mutex<CallRecord>>;

/// Ends a call whose actor failed: BYE to each device with a confirmed dialog, the
/// Call-IDs out of the directory, the journal row closed as failed.
pub fn end_failed_call(
    record: &SharedRecord,
    out: &SipOut,
    directory: &Directory,
    bus: &EventBus,
    tenant: TenantId,
) {
    let rec = record.lock().unwrap_or_else(|e| e.into_inner());
    for id in &rec.call_ids {
        directory.remove_call(tenant, id);
    }
    for leg in &rec.legs {
        if leg.dialog.state() != DialogState::Confirmed {
            continue;
        }
        let mut dialog = leg.dialog.clone();
        let branch = format!("z9hG4bK{:016x}", rand::random::<u64>());
        let via = LocalVia {
            transport: &leg.transport,
            sent_by: &leg.sent_by,
        };
        let mut w = dialog.request(&Method::Bye, via, &branch);
        w.header("Reason", "SIP;cause=500;text=\"Call Failed\"");
        if !out.send(leg.flow, Bytes::from(w.finish())) {
            tracing::debug!(flow = ?leg.flow, "no way to a failed call's device");
        }
    }
    if let (Some((call, tenant)), false) = (rec.journal, rec.closed) {
        bus.publish_failed(call, tenant, 500, "Call Failed".into());
    }
    tracing::warn!(
        legs = rec.legs.len(),
        "call actor failed: its devices got BYE"
    );
}
