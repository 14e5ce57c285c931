//! What a call actor is told, the devices it rings, and what one call hands another.

use engine::call::Leg;
use engine::sdp::Sdp;
use engine::sip::Message;
use ractor::ActorRef;

use super::{Flow, Incoming, TenantId};
use crate::media_relay::{Port, Relay};

pub enum CallMsg {
    /// A request inside the call (from the caller or from a callee device).
    Request(Box<Incoming>),
    /// A response to one of the call's own requests.
    Response(Message),
    /// The earliest deadline of the legs may have come (ignored unless current).
    Wake(u64),
    /// Sends what the call held back for the journal (queued by the call's start,
    /// which may not wait).
    Release,
    /// A key pressed as telephone-events reached the switch on a relay side.
    Key {
        relay: crate::media_relay::RelayId,
        side: crate::media_relay::Side,
        key: char,
        duration_ms: u32,
        /// Heard as tones in the audio, not sent as telephone-events.
        in_band: bool,
    },
    /// What the switch played towards a relay side has played out.
    Played {
        relay: crate::media_relay::RelayId,
        side: crate::media_relay::Side,
    },
    /// The devices of a blind transfer's target, or why there are none.
    TransferTargets(Result<Vec<CallTarget>, (u16, &'static str)>),
    /// The devices of the lines a hop of the routing walk rings, or why it fails.
    Hop(
        u32,
        std::time::Duration,
        Result<HopDevices, (u16, &'static str)>,
    ),
    /// Another call gives up its remaining party to this one (attended transfer).
    Joined(Option<Box<ChannelHandover>>),
    /// Another call asks for the party on the far side of the dialog a Replaces
    /// names (attended transfer); the reply carries it away from this call.
    GiveUp(
        TenantId,
        engine::sip::Replaces,
        ActorRef<CallMsg>,
        ractor::RpcReplyPort<Option<Box<ChannelHandover>>>,
    ),
    /// An ad-hoc conference's organiser brings the party on the far side of the
    /// dialog a Replaces names into its room: this call seats that party there
    /// (through the port that faced the organiser) and hangs up the organiser's leg.
    EnterRoom {
        tenant: TenantId,
        /// The organiser's line: the named dialog must be its leg.
        by: String,
        leg: RoomLeg,
        room: super::RoomHandle,
        reply: ractor::RpcReplyPort<bool>,
    },
    /// What a merge the call's channel (id) asked for found: the room the line
    /// organises in another call already (true), or a new one (false) with the
    /// line's other calls, to be asked for their far party once this call's part
    /// is done; nothing without another call.
    Merge(
        u32,
        Option<(super::RoomHandle, bool, Vec<ActorRef<CallMsg>>)>,
    ),
    /// The room line `by` organises in this call, if any (a merge adds to it).
    RoomOf {
        by: String,
        reply: ractor::RpcReplyPort<Option<super::RoomHandle>>,
    },
    /// Line `by` picks up the call ringing here (directed pickup): `inc` is its
    /// INVITE, answered with this call's caller.
    PickUp { by: String, inc: Box<Incoming> },
    /// The room removed this call's member (its organiser asked).
    Removed(media::conference::MemberId),
    /// What came of the organiser's REFER (a party brought in or removed).
    RoomReferDone(u16, &'static str),
    /// An INVITE with Replaces (RFC 3891) naming one of this call's dialogs, placed
    /// (and authenticated) by line `by`.
    Replace {
        tenant: TenantId,
        by: String,
        inc: Box<Incoming>,
    },
    /// The call goes to wait in queue `number` (a later step of its walk).
    EnterQueue(String, Option<ActorRef<super::QueueMsg>>),
    /// What the call's queue says.
    Queue(super::QueueEvent),
    /// The dialog line `line`'s answered phone has in this call, as a Replaces names
    /// it (the API's attended transfer asks the line's other call).
    DialogOf {
        line: String,
        reply: ractor::RpcReplyPort<Option<engine::sip::Replaces>>,
    },
    /// Call control from the API for line `.0`, a party of this call: whether it
    /// could be done.
    Control(String, CallControl, ractor::RpcReplyPort<bool>),
    /// Where the caller's choice in an IVR menu leads (the tenant found it).
    IvrStep(super::IvrStep),
    /// The PIN and the messages of the mailbox a user opened (`*97`).
    MailboxRead(Option<String>, Vec<crate::store::VoicemailMessage>),
    /// Mailbox `.0`, reached later in the call's walk, as the tenant found it (`None`:
    /// the line has no mailbox).
    Mailbox(String, Option<Box<super::VoicemailBox>>),
    /// The announcement the walk reached after hops that failed (the emergency
    /// fallback), as the tenant found it.
    Message(String, Option<media::wav::Announcement>),
    /// Queue `number`'s actor failed and this one took over: a call waiting in it
    /// (or served by it) tells it where it stands. `None`: it kept failing and was
    /// not started again; its callers go on as from a full queue.
    QueueRestarted(String, Option<ActorRef<super::QueueMsg>>),
    /// The devices of the agents a queue offered the call (`agents`), to ring for
    /// `ring`, or why there are none.
    AgentDevices {
        agents: Vec<String>,
        ring: std::time::Duration,
        found: Result<HopDevices, (u16, &'static str)>,
    },
    /// The devices where a waiting caller goes on (exit key, overflow), or why none.
    Onward(Result<Vec<CallTarget>, (u16, &'static str)>),
}

impl std::fmt::Debug for CallMsg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallMsg::Request(i) => write!(f, "Request({:?})", i.msg.method()),
            CallMsg::Response(m) => write!(f, "Response({:?})", m.code()),
            CallMsg::Wake(g) => write!(f, "Wake({g})"),
            CallMsg::Release => f.write_str("Release"),
            CallMsg::TransferTargets(r) => write!(f, "TransferTargets({})", r.is_ok()),
            CallMsg::Hop(hop, _, r) => write!(f, "Hop({hop}, {})", r.is_ok()),
            CallMsg::Key { key, .. } => write!(f, "Key({key})"),
            CallMsg::Played { side, .. } => write!(f, "Played({side:?})"),
            CallMsg::EnterRoom { by, .. } => write!(f, "EnterRoom({by})"),
            CallMsg::Removed(m) => write!(f, "Removed({m})"),
            CallMsg::PickUp { by, .. } => write!(f, "PickUp({by})"),
            CallMsg::Merge(_, found) => write!(f, "Merge({})", found.is_some()),
            CallMsg::RoomOf { by, .. } => write!(f, "RoomOf({by})"),
            CallMsg::RoomReferDone(code, _) => write!(f, "RoomReferDone({code})"),
            CallMsg::Joined(h) => write!(f, "Joined({})", h.is_some()),
            CallMsg::GiveUp(_, r, ..) => write!(f, "GiveUp({})", r.call_id),
            CallMsg::Replace { .. } => f.write_str("Replace"),
            CallMsg::EnterQueue(n, _) => write!(f, "EnterQueue({n})"),
            CallMsg::QueueRestarted(n, _) => write!(f, "QueueRestarted({n})"),
            CallMsg::IvrStep(s) => write!(f, "IvrStep({s:?})"),
            CallMsg::Mailbox(m, _) => write!(f, "Mailbox({m})"),
            CallMsg::Message(m, _) => write!(f, "Message({m})"),
            CallMsg::MailboxRead(_, m) => write!(f, "MailboxRead({} messages)", m.len()),
            CallMsg::Queue(e) => write!(f, "Queue({e:?})"),
            CallMsg::AgentDevices { agents, .. } => write!(f, "AgentDevices({agents:?})"),
            CallMsg::Onward(r) => write!(f, "Onward({})", r.is_ok()),
            CallMsg::Control(line, c, _) => write!(f, "Control({line}, {c:?})"),
            CallMsg::DialogOf { line, .. } => write!(f, "DialogOf({line})"),
        }
    }
}

/// Which leg of the organiser a call gives up to a conference room.
#[derive(Debug, Clone)]
pub enum RoomLeg {
    /// The dialog a Replaces names (the phone's conference button).
    Dialog(engine::sip::Replaces),
    /// The organiser's line's answered leg (the merge feature code).
    OfLine,
}

/// What the API asks of a line's call in progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallControl {
    /// End the call for every party.
    Hangup,
    /// Start recording it, or stop (the recording feature code's toggle).
    Record,
    /// The line holds the call: the other party hears music on hold, neither hears
    /// the other.
    Hold,
    /// The line takes the held call back.
    Retrieve,
    /// The other party goes to this number (blind transfer); the line leaves once
    /// it answers.
    Transfer(String),
    /// The call ringing the line goes to this number instead.
    Deflect(String),
    /// The line presses this key towards the other party (RFC 4733, else SIP INFO).
    Dtmf(char),
    /// The line's ringing phones are asked to answer (`NOTIFY` with `Event: talk`,
    /// which desk phones honour when set to).
    Answer,
    /// This call and the line's other call become one conference (the merge).
    Conference,
    /// The other parties of this call and of the line's other call are connected to
    /// each other; the line leaves both (attended transfer).
    Connect,
}

/// A device of the callee: where its binding says to send the INVITE.
#[derive(Debug, Clone)]
pub struct CallTarget {
    /// The line (extension) the device belongs to.
    pub line: String,
    pub contact: String,
    pub flow: Flow,
    /// The device is a trunk's carrier: how the INVITE is made for it.
    pub trunk: Option<std::sync::Arc<super::trunk::TrunkLeg>>,
    /// The Path the device registered through (an edge proxy): the INVITE's Route.
    pub route: Option<String>,
}

/// The devices a hop rings and what the rung lines' group says about them.
#[derive(Debug, Clone)]
pub struct HopDevices {
    pub targets: Vec<CallTarget>,
    /// How a device's reject reaches the caller (`None`: as sent).
    pub reject: Option<crate::store::Reject>,
    /// The codecs offered to the devices, by priority (empty: the caller's order).
    pub codecs: Vec<String>,
    /// Calls to these lines are journalled.
    pub journal: bool,
    /// The devices are offered SRTP only (the rung line's group requires it).
    pub srtp: bool,
    /// The hop's one line forwards calls nobody answers: after how long, and where.
    pub no_answer: Option<(std::time::Duration, String)>,
    /// The forwardings followed to reach the devices, in order (for the journal).
    pub forwarded: Vec<Forwarded>,
}

impl HopDevices {
    /// These devices, under no group rules (journalled, rejects as sent).
    pub fn of(targets: Vec<CallTarget>) -> HopDevices {
        HopDevices {
            targets,
            reject: None,
            codecs: Vec::new(),
            journal: true,
            srtp: false,
            no_answer: None,
            forwarded: Vec::new(),
        }
    }
}

/// A line passed the call on to another before anything rang there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forwarded {
    pub from: String,
    pub to: String,
    pub reason: crate::store::ForwardReason,
}

/// What a call gives up to another in an attended transfer: the party's leg, and
/// every relay of the call with the port facing the party and the port that faced
/// the transferor (to be spliced with the port facing it in the other call).
pub struct ChannelHandover {
    pub leg: Leg,
    pub flow: Flow,
    pub call_id: String,
    pub user: String,
    pub relays: Vec<Relay>,
    pub party: Port,
    pub far: Port,
    /// The last SDP the party got from the switch.
    pub sent_sdp: Option<Sdp>,
}
