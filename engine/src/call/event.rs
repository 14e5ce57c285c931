//! What a call leg reports to the call that owns it.

use bytes::Bytes;

use crate::sdp::Sdp;
use crate::sip::{Message, Method};

/// Who ended a leg, seen from the leg: its device, or the switch (a hang-up by the
/// call, a timer, a transaction that timed out).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Remote,
    Local,
}

/// Why a leg ended: a SIP status code with its reason phrase, and the side that ended
/// it. A BYE is `200 BYE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cause {
    pub code: u16,
    pub reason: String,
    pub side: Side,
    /// A redirect (3xx) names where the call should go instead: the user part of
    /// its first Contact (a phone deflecting a ringing call).
    pub redirect: Option<String>,
}

impl Cause {
    pub fn new(code: u16, reason: &str, side: Side) -> Cause {
        Cause {
            code,
            reason: reason.into(),
            side,
            redirect: None,
        }
    }

    /// The leg rang until its ring timer ran out.
    pub fn no_answer() -> Cause {
        Cause::new(480, "No Answer", Side::Local)
    }

    /// Another leg of the fork answered first.
    pub fn answered_elsewhere() -> Cause {
        Cause::new(200, "Call completed elsewhere", Side::Local)
    }

    /// A normal hang-up by BYE.
    pub fn bye(side: Side) -> Cause {
        Cause::new(200, "BYE", side)
    }
}

/// Events of a leg, for the call.
#[derive(Debug, Clone)]
pub enum LegEvent {
    /// The device rings (180 without SDP).
    Ringing,
    /// A provisional response with an SDP answer: early media.
    EarlyMedia(Sdp),
    /// The device answered (2xx); the SDP is its answer, when it sent one.
    Answered(Option<Sdp>),
    /// A request inside the dialog the leg does not handle itself (re-INVITE, UPDATE,
    /// INFO, REFER, NOTIFY …), already checked against the dialog.
    Request(Message),
    /// A response to a request the call sent in the dialog (through `Leg::request`).
    Response(Message),
    /// The leg is over.
    Ended(Cause),
}

/// Which request of the device a response answers: the owner finds the server
/// transaction (and the way back) by it, without reading the bytes again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestKey {
    pub call_id: String,
    pub cseq: u32,
    pub method: Method,
}

impl RequestKey {
    pub fn of(req: &Message) -> Option<RequestKey> {
        let cseq = req.cseq()?;
        Some(RequestKey {
            call_id: req.call_id()?.to_owned(),
            cseq: cseq.seq,
            method: req.method()?.clone(),
        })
    }
}

/// A response the leg sends to its device.
#[derive(Debug, Clone)]
pub struct Response {
    /// The request it answers (`None` when that request could not be keyed).
    pub request: Option<RequestKey>,
    pub code: u16,
    pub bytes: Bytes,
}

/// What the owner of a leg must do.
#[derive(Debug, Clone)]
pub enum Output {
    /// Send this request (or ACK) to the leg's device.
    Send(Bytes),
    /// Send this response to a request of the device.
    Respond(Response),
    Event(LegEvent),
}

/// The states of a leg.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LegState {
    /// Outgoing leg before its INVITE.
    Idle,
    /// INVITE sent or received, no ringing yet.
    Calling,
    /// Ringing or early media (an early dialog).
    Ringing,
    Answered,
    /// CANCEL or BYE sent; waiting for the other side to confirm.
    Terminating,
    Ended,
}
