//! What a tenant supervisor is asked, and the handle requests carry to it.

use std::sync::Arc;

use ractor::{ActorRef, RpcReplyPort};

use super::{CallTarget, Incoming, TenantId};

/// What a request needs to know of its tenant.
#[derive(Debug, Clone)]
pub struct TenantEntry {
    pub id: TenantId,
    pub name: Arc<str>,
    pub realm: Arc<str>,
    pub supervisor: ActorRef<TenantMsg>,
}

pub enum TenantMsg {
    /// A request for a line that may not have an actor yet.
    RouteNew(String, Box<Incoming>),
    /// A request whose line actor was just gone.
    Route(Box<Incoming>),
    /// Start the actors of lines with stored registrations.
    StartRegistered(Vec<String>),
    /// Hibernating lines whose bindings are due to expire: woken to expire them.
    WakeDue,
    /// Wake line `.0` (hibernating) and give it `.1`.
    WakeLine(String, super::LineMsg),
    /// Filled in by the switch once the supervisor's own entry exists.
    SetEntry(TenantEntry),
    /// An authenticated INVITE from `caller`: find the callee and start the call.
    StartCall { caller: String, inc: Box<Incoming> },
    /// A new call from trunk `trunk`'s carrier: routed by the number it calls.
    Inbound {
        trunk: Arc<super::trunk::TrunkLive>,
        inc: Box<Incoming>,
    },
    /// The trunks in the store changed (or the tenant started): start and stop their
    /// actors.
    SyncTrunks,
    /// Line `watcher` has a subscription to line `watched`'s calls (busy-lamp
    /// fields): tell it of their changes; the calls now, or `None` when `watched` is
    /// no line of the tenant.
    Watch {
        watched: String,
        watcher: ActorRef<super::LineMsg>,
        reply: RpcReplyPort<Option<crate::blf::LineView>>,
    },
    /// A call rings or connects other lines than before (or ended): their watchers
    /// are told.
    LinesChanged(Vec<String>),
    /// Line `ext` was removed from the store: its actor stops, its number is unknown.
    LineRemoved(String),
    /// The tenant's configuration changed in the store (lines, devices, a line's
    /// settings, the plan): its copies are read again now, not at the next period.
    ConfigChanged,
    /// The API's click-to-dial: ring line `line`'s phones, and have the one that
    /// answers call `to`; refused at once with a status code and why.
    ClickToDial {
        line: String,
        to: String,
        /// The tenant's domain the phone is asked to call in (its first).
        domain: String,
        /// The call is private, and/or tagged with a project code: the phone dials
        /// the number behind the plan's prefix codes for them.
        private: bool,
        project: Option<String>,
        /// `to` is a line whose ringing call the phone picks up (directed pickup).
        pickup: bool,
        reply: RpcReplyPort<Result<(), (u16, String)>>,
    },
    /// The lines not free now ("ringing", "in call").
    LineStates(RpcReplyPort<Vec<(String, &'static str)>>),
    /// The calls line `line` is in now (the caller, or the line that answered),
    /// and those ringing it, for the API's call control.
    CallsOf {
        line: String,
        reply: RpcReplyPort<Vec<ActorRef<super::CallMsg>>>,
    },
    /// A prompt of the tenant (its own, or a built-in one) by name.
    Prompt {
        name: String,
        reply: RpcReplyPort<Option<media::wav::Announcement>>,
    },
    /// The devices of a hop of a call's walk that goes out on a trunk (outbound or
    /// emergency), or why it cannot.
    TrunkHop {
        hop: Box<super::trunk::TrunkHopAsk>,
        reply: RpcReplyPort<Result<super::HopDevices, (u16, String)>>,
    },
    /// Where a blind transfer to `ext` goes, routed by the tenant's plan: the
    /// registered devices to ring, or the status code and reason to fail with.
    Targets {
        /// The line transferring (routing sees the call as coming from it).
        from: String,
        /// The number it transfers to, as dialled.
        ext: String,
        reply: RpcReplyPort<Result<Vec<CallTarget>, (u16, &'static str)>>,
    },
    /// The devices of the lines a later hop of a call's routing walk rings (the
    /// first hop is found before the call starts), under their line group's rules.
    HopDevices {
        lines: Vec<String>,
        /// The calling line (a forwarding back to it is busy).
        caller: String,
        /// The hunt group or queue whose members these are (their rules apply).
        group: Option<String>,
        reply: RpcReplyPort<Result<super::HopDevices, (u16, &'static str)>>,
    },
    /// Line `line` typed the merge code in call `from`: its other calls in progress
    /// (the one on hold among them).
    OtherCalls {
        line: String,
        from: ractor::ActorId,
        reply: RpcReplyPort<Vec<ActorRef<super::CallMsg>>>,
    },
    /// Plan room `name` (opened if nobody is in it) on the switch's address towards
    /// `source`.
    Room {
        name: String,
        source: std::net::SocketAddr,
        reply: RpcReplyPort<super::RoomHandle>,
    },
    /// Queue `number`'s actor (started if it is not running), `None` when the plan
    /// has no such queue.
    Queue {
        number: String,
        reply: RpcReplyPort<Option<ActorRef<super::QueueMsg>>>,
    },
    /// Mailbox `mailbox`, ready for a caller's message (`None`: no such mailbox).
    Mailbox {
        mailbox: String,
        reply: RpcReplyPort<Option<Box<super::VoicemailBox>>>,
    },
    /// Where a caller of line `by` answered by the switch goes when it chose number
    /// `to` in an IVR menu (or reached its drop-off).
    IvrChoice {
        by: String,
        to: String,
        reply: RpcReplyPort<super::IvrStep>,
    },
    /// A new ad-hoc room on the switch's address towards `source` (not kept by the
    /// tenant: it closes when its members and handles are gone).
    OpenRoom {
        source: std::net::SocketAddr,
        reply: RpcReplyPort<super::RoomHandle>,
    },
}

impl std::fmt::Debug for TenantMsg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TenantMsg::RouteNew(..) => "RouteNew",
            TenantMsg::Route(_) => "Route",
            TenantMsg::StartRegistered(_) => "StartRegistered",
            TenantMsg::WakeDue => "WakeDue",
            TenantMsg::WakeLine(..) => "WakeLine",
            TenantMsg::SetEntry(_) => "SetEntry",
            TenantMsg::StartCall { .. } => "StartCall",
            TenantMsg::ClickToDial { .. } => "ClickToDial",
            TenantMsg::CallsOf { .. } => "CallsOf",
            TenantMsg::LineStates(_) => "LineStates",
            TenantMsg::Inbound { .. } => "Inbound",
            TenantMsg::TrunkHop { .. } => "TrunkHop",
            TenantMsg::SyncTrunks => "SyncTrunks",
            TenantMsg::Watch { .. } => "Watch",
            TenantMsg::LinesChanged(_) => "LinesChanged",
            TenantMsg::LineRemoved(_) => "LineRemoved",
            TenantMsg::ConfigChanged => "ConfigChanged",
            TenantMsg::Prompt { .. } => "Prompt",
            TenantMsg::Targets { .. } => "Targets",
            TenantMsg::HopDevices { .. } => "HopDevices",
            TenantMsg::OtherCalls { .. } => "OtherCalls",
            TenantMsg::OpenRoom { .. } => "OpenRoom",
            TenantMsg::Room { .. } => "Room",
            TenantMsg::Queue { .. } => "Queue",
            TenantMsg::IvrChoice { .. } => "IvrChoice",
            TenantMsg::Mailbox { .. } => "Mailbox",
        })
    }
}
