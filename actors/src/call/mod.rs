//! One actor per call. A call is made of channels (one party's legs, addressed by id:
//! `channel.rs`) and bridges (pairs of channels that hear each other); the media of
//! its parties meets the switch at the ports of its relays (`media_relay::anchor`).
//! It walks the routing decision (`dialplan::Walk`: `hunt.rs`), feeds the legs what
//! arrives, passes ringing, answer and hang-up across a bridge, and sends what the
//! legs return.

mod announce;
mod channel;
pub mod click_to_dial;
mod codecs;
mod hunt;
mod in_dialog;
mod ivr;
pub(crate) mod journal;
pub mod limits;
mod mailbox;
mod media_watch;
mod merge;
mod pickup;
pub(crate) mod queue;
pub mod recording;
pub mod refusal;
mod room;
mod route;
mod voicemail;
pub(crate) use route::flow_of;
pub mod supervision;
mod transfer;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use engine::call::{Fork, Leg, LegConfig, LegEvent, LegState, OutgoingInvite, Output};
use engine::sdp::Sdp;
use engine::sip::{HeaderName, Message};
use engine::timer::TimerConfig;
use ractor::{Actor, ActorProcessingErr, ActorRef};

use crate::directory::Directory;
use crate::journal::{CallEventKind, CallId, Direction, EventBus, Side};
use crate::media_relay::{
    MediaEvent, MediaRelay, Port, PortPool, Relays, Side as RelaySide, SrtpOffer,
};
use crate::proto::TenantEntry;
use crate::proto::{CallMsg, CallTarget, Flow, Incoming};
use crate::sip::SipOut;
use channel::{Channel, ChannelId, Legs, Role};
use journal::Journal;
pub use limits::{CallLimits, CallPermit, Refusal, DRAINING_RETRY_AFTER};
use route::Pending;
pub use supervision::{CallRecord, SharedRecord};

/// How long a callee's devices ring before the caller gets 480.
pub const RING_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// How long an answered call may carry no RTP from a party (`--media-timeout`).
pub const MEDIA_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// The first hop of a call's routing walk, its devices already found.
pub struct FirstHop {
    pub devices: crate::proto::HopDevices,
    /// How long it rings.
    pub ring: std::time::Duration,
}

/// Where a call goes first.
pub enum FirstStep {
    /// Ring a hop's devices.
    Hop(FirstHop),
    /// The switch answers the caller, plays it these prompts and hangs up (a feature
    /// code's confirmation); the text names it in the journal.
    Announce(Vec<&'static str>, String),
    /// Join a conference room (the switch answers the caller).
    Room {
        room: String,
        handle: crate::proto::RoomHandle,
        /// The PIN the caller types first, if the room has one.
        pin: Option<String>,
        /// The caller opened this (ad-hoc) room and organises it.
        organiser: bool,
    },
    /// Wait in a call queue (its actor; `None` when the plan has no such queue).
    Queue(String, Option<ActorRef<crate::proto::QueueMsg>>),
    /// An IVR menu (the switch answers the caller and plays its announcement).
    Ivr(Box<crate::proto::IvrMenu>),
    /// A mailbox: the caller leaves a message.
    Voicemail(Box<crate::proto::VoicemailBox>),
    /// The caller's own mailbox, opened with its PIN (`*97`).
    MailboxAccess(Box<crate::proto::VoicemailBox>),
    /// The switch answers the caller, plays it this message (a tenant's prompt: a
    /// closing-time announcement) and hangs up; the text names it in the journal.
    Message(Vec<media::wav::Announcement>, String),
}

pub struct CallArgs {
    /// The trunk the call came in on (`None`: from a line of the tenant).
    pub trunk: Option<String>,
    pub bus: EventBus,
    /// Waits until the journal has written the call's end (before the response that
    /// confirms the end goes out).
    pub journal_barrier: crate::journal::JournalBarrier,
    /// RTP ports for anchoring the call's media at the switch.
    pub ports: Arc<PortPool>,
    pub tenant: TenantEntry,
    pub caller: String,
    /// The number dialled.
    pub callee: String,
    pub inc: Box<Incoming>,
    /// The rest of the routing walk, and its first hop.
    pub walk: dialplan::Walk,
    pub first: FirstStep,
    /// The call is written to the journal (its lines' groups did not turn it off).
    pub journal: bool,
    /// The caller's line group requires SRTP: an offer without a key is refused.
    pub srtp_required: bool,
    /// The tenant's music on hold (`None`: the default).
    pub music: Option<media::wav::Announcement>,
    /// The caller's line withholds its caller ID.
    pub anonymous: bool,
    /// Another number of the caller's user that the callees see (its setting, or a
    /// per-call code).
    pub shown: Option<String>,
    /// The caller marked the call private: the journal keeps the number it called as
    /// the tenant's rules say.
    pub private: bool,
    /// The project code the journal tags the call with.
    pub project: Option<String>,
    /// Which lines count the call as missed (the tenant's rules).
    pub journal_rules: crate::store::JournalRules,
    /// How long an answered call may carry no RTP from a party (`None`: forever).
    pub media_timeout: Option<std::time::Duration>,
    /// The feature code that starts and stops recording during the call.
    pub record_code: Option<String>,
    /// The plan's merge feature code (typed during a call), if any.
    pub merge_code: Option<String>,
    /// Where recordings go (`recordings/TENANT/LINE/` below it).
    pub data_dir: Arc<std::path::Path>,
    pub out: Arc<SipOut>,
    pub directory: Arc<Directory>,
    /// The record the supervisor ends the call from if this actor fails.
    pub record: SharedRecord,
}

pub struct CallState {
    journal: Journal,
    /// What the channels produced since a response that may confirm the call's end
    /// (a BYE's 200, an INVITE's refusal): sent once the journal has written the end.
    held: Vec<(Option<Flow>, Output)>,
    /// The call is over once `held` is sent.
    stop_after_release: bool,
    tenant: TenantEntry,
    parties: Parties,
    channels: Vec<Channel>,
    next_channel: ChannelId,
    /// The journal's number for the next leg.
    next_leg: u32,
    /// Pairs of channels that hear each other.
    bridges: Vec<[ChannelId; 2]>,
    relays: Relays,
    /// Where the call goes when the hop ringing now fails.
    walk: dialplan::Walk,
    /// A hop whose devices are being looked up.
    hop_pending: Option<u32>,
    /// The ringing hop's line forwards there if nobody answers (`hunt.rs`).
    no_answer: Option<String>,
    /// Forwardings on no answer and deflections followed so far (bounded).
    forward_hops: u8,
    /// How the rung lines' group passes a device's reject on (`None`: as sent).
    reject: Option<crate::store::Reject>,
    /// The caller's offer as it came (each hop's offer is made from it).
    caller_offer: Option<Sdp>,
    /// The offer the current hop's devices got (anchored at the port facing them); a
    /// transfer target gets it too, anchored at the port it will face.
    b_offer: Option<Sdp>,
    /// The caller's SDP offer, answered by the switch when a device answers; none
    /// when the caller's offer goes to the devices as it is (no G.711 in it).
    a_offer: Option<Sdp>,
    /// The `o=` session id of the switch's own descriptions.
    session_id: String,
    /// A blind or attended transfer in progress.
    transfer: Option<transfer::Transfer>,
    /// Another call was asked for its party (attended transfer) and has not answered:
    /// the call does not stop before it has (a party handed over gets its BYE here).
    awaiting_handover: bool,
    /// The tenant's music on hold (`None`: the default).
    music: Option<media::wav::Announcement>,
    /// The caller's place in a conference room, when the call went to one.
    /// The parties seated in a conference room, each with its seat.
    seats: Vec<(ChannelId, crate::proto::Seat)>,
    /// The room the seat is in.
    room: Option<crate::proto::RoomHandle>,
    /// The channel whose party organises the (ad-hoc) room this call's seats are in.
    organiser: Option<ChannelId>,
    /// The organiser's REFER being carried out (its channel).
    room_refer: Option<ChannelId>,
    /// A caller typing a conference room's PIN.
    gate: Option<room::Gate>,
    /// The switch plays the caller prompts, then hangs up (`announce.rs`).
    announcing: bool,
    /// How long an answered call may carry no RTP from a party.
    media_timeout: Option<std::time::Duration>,
    /// The watch over the answered call's media.
    watch: Option<media_watch::MediaWatch>,
    /// Recording on demand: the feature code, the keys typed lately, the file being
    /// written, and where files go.
    record_code: Option<String>,
    merge_code: Option<String>,
    /// A channel typed the merge code; the merge starts once the key is handled.
    merge_asked: Option<ChannelId>,
    /// The call's place in a call queue, while it waits there (and after).
    queue: Option<queue::Waiting>,
    /// The caller's place in an IVR menu.
    ivr: Option<ivr::InMenu>,
    /// The caller leaving a voicemail message.
    voicemail: Option<voicemail::Deposit>,
    /// The caller listening to its mailbox.
    mailbox: Option<mailbox::Access>,
    /// Which side ended the walk's last hop (for a refusal after a mailbox look-up).
    last_side: engine::call::Side,
    /// The channel re-INVITEd to its new port by a merge, until it answers.
    merging: Option<ChannelId>,
    typed: String,
    recording: Option<std::path::PathBuf>,
    data_dir: Arc<std::path::Path>,
    /// Every Call-ID the call registered in the directory.
    call_ids: Vec<String>,
    pending: Pending,
    /// Requests of one channel relayed to the other, awaiting their final response.
    relayed: Vec<in_dialog::Relayed>,
    out: Arc<SipOut>,
    directory: Arc<Directory>,
    timer_gen: u64,
    record: SharedRecord,
    /// The port pool the relays come from (to tell the switch's own ports).
    ports: Arc<PortPool>,
    /// The call's tracing span (its journal id and tenant).
    span: tracing::Span,
    /// The trunk the call came in on (its caller is no line).
    trunk: Option<String>,
    /// The lines ringing and answered, and whether the row is closed, as the tenant
    /// was last told (busy-lamp fields).
    lines_seen: Option<(Vec<String>, Vec<String>, bool)>,
    /// The trunk legs of the call's channels: their places on the trunks are held
    /// while the channel rings or talks.
    trunk_legs: Vec<(ChannelId, Arc<crate::proto::trunk::TrunkLeg>)>,
    /// Test builds: the INVITE asked the call to panic once answered
    /// (`X-Pbx-Test: panic-call`), to exercise the supervisor.
    #[cfg(feature = "test-hooks")]
    test_panic: bool,
}

pub struct CallActor;

/// The call's first relay faces the caller on side A and callees on side B.
const CALLER_PORT: Port = Port {
    relay: 0,
    side: RelaySide::A,
};
const CALLEE_PORT: Port = Port {
    relay: 0,
    side: RelaySide::B,
};

/// Who the call is between, for the INVITEs the call sends.
struct Parties {
    caller: String,
    callee: String,
    domain: String,
    /// The caller's display name with a trailing space, or empty.
    display: String,
    max_forwards: u8,
    /// The caller withholds its caller ID (its line's setting, or `Privacy: id`):
    /// devices see "Anonymous".
    anonymous: bool,
    /// The number the callees see instead of the caller's own.
    shown: Option<String>,
}

/// Outgoing legs to some devices, their INVITEs sent.
struct NewLegs {
    legs: Vec<Leg>,
    flows: Vec<Flow>,
}

/// Legs from the switch to every device in `targets`, calling from `from_user` to
/// `to_user` with `sdp`, each ringing for at most `ring`.
fn outgoing_legs(
    out: &SipOut,
    p: &Parties,
    targets: &[CallTarget],
    (from_user, to_user): (&str, &str),
    sdp: Option<&Sdp>,
    ring: std::time::Duration,
    t0: Instant,
) -> NewLegs {
    let mut new = NewLegs {
        legs: Vec::new(),
        flows: Vec::new(),
    };
    // Withheld caller ID: neither From nor Contact names the caller's line (only for
    // the INVITEs the caller's side sends, not a transfer's from the other party).
    let own = from_user == p.caller;
    let anonymous = p.anonymous && own;
    let from_user = match &p.shown {
        Some(shown) if own => shown.as_str(),
        _ => from_user,
    };
    let contact_user = if anonymous { "anonymous" } else { from_user };
    for t in targets {
        let call_id = format!("{}@pbx", random_token());
        if let Some(trunk) = &t.trunk {
            // A trunk's carrier: the tenant made From, To and the identity headers.
            let mut cfg = leg_config(out, t.flow, &trunk.contact_user, Some(ring));
            cfg.auth = trunk.credentials.clone();
            let mut leg = Leg::outgoing(cfg);
            let mut headers = invite_headers();
            headers.extend(trunk.headers.iter().cloned());
            leg.send_invite(
                &OutgoingInvite {
                    request_uri: t.contact.clone(),
                    from: format!("{};tag={}", trunk.from, random_token()),
                    to: trunk.to.clone(),
                    call_id,
                    cseq: 1,
                    max_forwards: p.max_forwards,
                    headers,
                    sdp: sdp.cloned(),
                },
                t0,
            );
            new.legs.push(leg);
            new.flows.push(t.flow);
            continue;
        }
        let mut leg = Leg::outgoing(leg_config(out, t.flow, contact_user, Some(ring)));
        leg.send_invite(
            &OutgoingInvite {
                request_uri: t.contact.clone(),
                from: if anonymous {
                    format!(
                        "\"Anonymous\" <sip:anonymous@anonymous.invalid>;tag={}",
                        random_token()
                    )
                } else {
                    format!(
                        "{}<sip:{from_user}@{}>;tag={}",
                        p.display,
                        p.domain,
                        random_token()
                    )
                },
                to: format!("<sip:{to_user}@{}>", p.domain),
                call_id,
                cseq: 1,
                max_forwards: p.max_forwards,
                headers: device_invite_headers(t),
                sdp: sdp.cloned(),
            },
            t0,
        );
        new.legs.push(leg);
        new.flows.push(t.flow);
    }
    new
}

/// The headers of every INVITE the switch sends: what it allows and supports, and
/// its session timer.
fn invite_headers() -> Vec<(String, String)> {
    vec![
        ("Allow".into(), crate::sip::dispatch::ALLOW.into()),
        ("Supported".into(), "100rel, timer, replaces".into()),
        (
            "Session-Expires".into(),
            engine::call::DEFAULT_SE.to_string(),
        ),
        ("Min-SE".into(), engine::call::MIN_SE.to_string()),
    ]
}

/// The headers of an INVITE to device `t`: `invite_headers`, led by the Path the
/// device registered through as the Route (through its edge proxy, RFC 3327 §5.3).
fn device_invite_headers(t: &CallTarget) -> Vec<(String, String)> {
    let mut headers = invite_headers();
    if let Some(route) = &t.route {
        headers.insert(0, ("Route".to_owned(), route.clone()));
    }
    headers
}

/// The INVITE asks for its caller's identity to be withheld (RFC 3323 `Privacy: id`
/// or `user`, or a From of `anonymous`).
pub(crate) fn asks_privacy(m: &Message) -> bool {
    let privacy = m.header_lines().any(|(_, name, value)| {
        name.eq_ignore_ascii_case("Privacy")
            && value
                .split(';')
                .any(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "id" | "user"))
    });
    let anonymous_from = m
        .from()
        .and_then(|f| {
            f.display
                .map(|d| d.trim_matches('"').eq_ignore_ascii_case("anonymous"))
        })
        .unwrap_or(false);
    privacy || anonymous_from
}

fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

fn random_token() -> String {
    format!("{:016x}", rand::random::<u64>())
}

/// The configuration of a leg the switch runs towards `flow`, naming itself `user`.
pub(crate) fn leg_config(
    out: &SipOut,
    flow: Flow,
    user: &str,
    ring: Option<std::time::Duration>,
) -> LegConfig {
    let local = out
        .sent_by(flow)
        .map(|a| a.to_string())
        .unwrap_or_else(|| "127.0.0.1:5060".into());
    let transport_param = flow.uri_param();
    LegConfig {
        timers: TimerConfig::default(),
        reliable: flow.is_reliable(),
        transport: flow.transport().into(),
        sent_by: local.clone(),
        contact: format!("<sip:{user}@{local}{transport_param}>"),
        branch_seed: random_token(),
        ring_timeout: ring,
        auth: None,
    }
}

impl CallState {
    fn channel(&self, id: ChannelId) -> Option<&Channel> {
        self.channels.iter().find(|c| c.id == id)
    }

    /// Channel `id` rings `targets`: those on a trunk hold their places on it while
    /// the channel lives (and the journal names the trunk the call goes out on).
    fn keep_trunk_legs(&mut self, id: ChannelId, targets: &[CallTarget]) {
        for trunk in targets.iter().filter_map(|d| d.trunk.clone()) {
            self.journal.publish(CallEventKind::CallTrunk {
                trunk: trunk.trunk.clone(),
                direction: Direction::Outbound,
            });
            self.trunk_legs.push((id, trunk));
        }
    }

    fn channel_mut(&mut self, id: ChannelId) -> Option<&mut Channel> {
        self.channels.iter_mut().find(|c| c.id == id)
    }

    /// The channel in `role` (the caller's, the callee's, a transfer target's).
    /// The channels of the call's parties (caller and callee roles), answered ones
    /// only when `answered`.
    fn parties(&self, answered: bool) -> Vec<ChannelId> {
        self.channels
            .iter()
            .filter(|c| matches!(c.role, Role::Caller | Role::Callee))
            .filter(|c| !answered || c.answered().is_some())
            .map(|c| c.id)
            .collect()
    }

    /// Another call of the tenant, by one of its Call-IDs (a Replaces names it).
    fn other_call(&self, myself: &ActorRef<CallMsg>, call_id: &str) -> Option<ActorRef<CallMsg>> {
        self.directory
            .call(self.tenant.id, call_id)
            .filter(|c| c.get_id() != myself.get_id())
    }

    /// True when channel `id`'s party is seated in a conference room.
    fn seated(&self, id: ChannelId) -> bool {
        self.seats.iter().any(|(c, _)| *c == id)
    }

    fn with_role(&self, role: Role) -> Option<ChannelId> {
        self.channels.iter().find(|c| c.role == role).map(|c| c.id)
    }

    /// The channel bridged with `id`.
    fn peer_of(&self, id: ChannelId) -> Option<ChannelId> {
        self.bridges.iter().find_map(|[x, y]| match id {
            _ if *x == id => Some(*y),
            _ if *y == id => Some(*x),
            _ => None,
        })
    }

    fn bridge(&mut self, x: ChannelId, y: ChannelId) {
        self.bridges.retain(|b| !b.contains(&x) && !b.contains(&y));
        self.bridges.push([x, y]);
    }

    /// Channel `new` takes `old`'s role, port and place in its bridge; `old` retires.
    fn move_into_place(&mut self, old: ChannelId, new: ChannelId) {
        let (role, port) = match self.channel(old) {
            Some(c) => (c.role, c.port),
            None => return,
        };
        if let Some(c) = self.channel_mut(old) {
            c.role = Role::Retired;
        }
        if let Some(c) = self.channel_mut(new) {
            c.role = role;
            c.port = port;
        }
        for b in &mut self.bridges {
            for c in b.iter_mut() {
                if *c == old {
                    *c = new;
                }
            }
        }
    }

    /// Runs `f` on leg `i` of channel `id`.
    fn with_leg<R>(
        &mut self,
        id: ChannelId,
        i: usize,
        t: Instant,
        f: impl FnOnce(&mut Leg) -> R,
    ) -> Option<R> {
        self.channel_mut(id)?.with_leg(i, t, f)
    }

    /// Runs `f` on the party's leg of channel `id`.
    fn with_party<R>(
        &mut self,
        id: ChannelId,
        t: Instant,
        f: impl FnOnce(&mut Leg) -> R,
    ) -> Option<R> {
        let c = self.channel_mut(id)?;
        let i = c.party_leg()?;
        c.with_leg(i, t, f)
    }

    /// Adds a channel and registers its legs' Call-IDs (directory, supervisor's
    /// record, the call's list). Each leg of a party other than the caller is a leg
    /// of the journal, described by `reached` (a device's contact, a line).
    fn add_channel(
        &mut self,
        myself: &ActorRef<CallMsg>,
        role: Role,
        legs: Legs,
        (flows, lines): (Vec<Flow>, Vec<String>),
        reached: &[String],
    ) -> ChannelId {
        let id = self.next_channel;
        self.next_channel += 1;
        let c = Channel {
            id,
            role,
            legs,
            flows,
            lines,
            port: None,
            sent_sdp: None,
            first_leg: self.next_leg,
        };
        if !matches!(role, Role::Caller | Role::Retired) {
            for (k, target) in reached.iter().enumerate() {
                self.journal.publish(CallEventKind::LegCreated {
                    leg: c.first_leg + k as u32,
                    target: target.clone(),
                });
            }
            self.next_leg += c.flows.len() as u32;
        }
        self.register(myself, &c.call_ids());
        self.channels.push(c);
        id
    }

    /// Registers Call-IDs of new legs: directory, supervisor's record, the call's list.
    fn register(&mut self, myself: &ActorRef<CallMsg>, call_ids: &[String]) {
        for id in call_ids {
            self.directory.add_call(self.tenant.id, id, myself.clone());
        }
        self.record
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .call_ids
            .extend(call_ids.iter().cloned());
        self.call_ids.extend(call_ids.iter().cloned());
    }

    /// The caller is still waiting for an answer.
    fn caller_waiting(&self) -> bool {
        self.with_role(Role::Caller)
            .and_then(|id| self.channel(id))
            .and_then(|c| c.leg(0))
            .is_some_and(|l| matches!(l.state(), LegState::Calling | LegState::Ringing))
    }

    /// The users (lines) of the call's parties.
    fn is_party(&self, user: &str) -> bool {
        self.channels
            .iter()
            .any(|c| matches!(c.role, Role::Caller | Role::Callee) && c.user() == user)
            || user == self.parties.caller
    }
}

impl Actor for CallActor {
    type Msg = CallMsg;
    type State = CallState;
    type Arguments = CallArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<CallMsg>,
        args: CallArgs,
    ) -> Result<CallState, ActorProcessingErr> {
        // Every log line of the call carries its journal id.
        let journal_id = CallId::random();
        let span = tracing::info_span!("call", call = %journal_id, tenant = %args.tenant.name);
        let entered = span.clone().entered();
        let inc = args.inc;
        // RFC 4028 §8.1: a session interval below the switch's minimum gets 422.
        if let Some(bytes) = engine::call::interval_too_small(&inc.msg, engine::call::MIN_SE) {
            inc.reply.send(422, bytes);
            return Err("session interval too small".into());
        }
        if looped_via(&inc.msg, args.out.sent_by(Flow::Udp(inc.source))) {
            tracing::debug!("INVITE with the switch's own Via came back: 482");
            inc.respond(482, "Loop Detected");
            return Err("loop detected".into());
        }
        let a_flow = route::flow_of(&inc);
        let a = match Leg::incoming(
            leg_config(&args.out, a_flow, &args.callee, None),
            &inc.msg,
            &random_token(),
        ) {
            Ok(leg) => leg,
            Err(e) => {
                inc.respond(400, "Bad Request");
                return Err(format!("cannot start the caller's leg: {e}").into());
            }
        };
        let domain = inc.msg.uri().map(|u| u.host.to_owned()).unwrap_or_default();
        let display = inc
            .msg
            .from()
            .as_ref()
            .and_then(|f| f.display)
            .map(|d| format!("{d} "))
            .unwrap_or_default();
        // The hop the switch takes counts (RFC 3261 §16.6 step 3, kept by the B2BUA).
        let max_forwards = inc.msg.max_forwards().unwrap_or(70).clamp(1, 256) - 1;
        let max_forwards = u8::try_from(max_forwards).unwrap_or(u8::MAX);
        let a_offer = a.remote_offer();
        let keyed = |o: &Sdp| o.active_audio().is_some_and(|m| m.crypto().is_some());
        if args.srtp_required && !a_offer.as_ref().is_some_and(keyed) {
            tracing::debug!("the caller's line group requires SRTP: 488");
            let mut w = engine::sip::MessageWriter::response_to(
                &inc.msg,
                488,
                "Not Acceptable Here",
                Some("pbx"),
            );
            w.header("Warning", "399 pbx \"SRTP required\"");
            inc.reply.send(488, w.finish());
            return Err("SRTP required".into());
        }
        let session_id = (rand::random::<u32>() >> 1).to_string();
        // Anchor the media: the callee sees the switch's side B, the caller side A.
        let mut relays = Relays::default();
        let mut own_offer = false;
        if let Some(sdp) = &a_offer {
            let ip = args
                .out
                .local_for(inc.source)
                .map(|a| a.ip())
                .unwrap_or(inc.source.ip());
            let relay = match MediaRelay::start(ip, &args.ports) {
                Ok(relay) => relay,
                Err(e) => {
                    tracing::warn!(error = %e, "no RTP ports: call refused");
                    inc.respond(503, "Service Unavailable");
                    return Err(e.into());
                }
            };
            // Bound on the address the caller reached; written in SDP as advertised.
            let ip = args.out.media_ip(ip);
            let r = relays.add(relay, ip);
            listen_to_media(&relays, r, &myself);
            let a_side = Port {
                relay: r,
                side: RelaySide::A,
            };
            relays.follow(a_side, sdp, Some(inc.source.ip()), &args.ports);
            own_offer = codecs::callee_offer(sdp, ip, 0, &session_id, &[]).is_some();
        }
        #[cfg(feature = "test-hooks")]
        let test_panic = inc.msg.header_lines().any(|(_, name, value)| {
            name.eq_ignore_ascii_case("X-Pbx-Test") && value.trim() == "panic-call"
        });
        let mut pending = Pending::default();
        pending.push(&inc.msg, inc.reply.clone());
        let journal = Journal::new(
            (args.bus, args.journal_barrier),
            journal_id,
            args.tenant.id,
            args.journal,
            args.journal_rules,
        );
        args.record
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .journal = Some((journal.call, journal.tenant));
        // A private call's number is kept as the tenant's rules say from its first
        // event on: the full number is never written.
        let to = match args.private {
            true => args.journal_rules.private_numbers.apply(&args.callee),
            false => args.callee.clone(),
        };
        journal.publish(CallEventKind::CallStarted {
            from: args.caller.clone(),
            to,
            direction: match args.trunk {
                Some(_) => Direction::Inbound,
                None => Direction::Internal,
            },
            caller_line: args.trunk.is_none().then(|| args.caller.clone()),
        });
        if let Some(trunk) = args.trunk.clone() {
            journal.publish(CallEventKind::CallTrunk {
                trunk,
                direction: Direction::Inbound,
            });
        }
        if args.private || args.project.is_some() {
            journal.publish(CallEventKind::CallTagged {
                private: args.private,
                project: args.project.clone(),
            });
        }
        let anonymous = args.anonymous || asks_privacy(&inc.msg);
        let shown = args.shown.filter(|_| !anonymous);
        if let Some(number) = shown.clone().or(anonymous.then(|| "anonymous".to_owned())) {
            journal.publish(CallEventKind::CallerShown { number });
        }
        let mut state = CallState {
            held: Vec::new(),
            stop_after_release: false,
            journal,
            tenant: args.tenant,
            parties: Parties {
                caller: args.caller.clone(),
                callee: args.callee.clone(),
                domain,
                display,
                max_forwards,
                anonymous,
                shown,
            },
            channels: Vec::new(),
            next_channel: 0,
            next_leg: 0,
            bridges: Vec::new(),
            relays,
            walk: args.walk,
            hop_pending: None,
            no_answer: None,
            forward_hops: 0,
            reject: None,
            caller_offer: a_offer.clone(),
            b_offer: None,
            a_offer: a_offer.filter(|_| own_offer),
            session_id,
            transfer: None,
            awaiting_handover: false,
            music: args.music,
            seats: Vec::new(),
            room: None,
            organiser: None,
            room_refer: None,
            gate: None,
            announcing: false,
            media_timeout: args.media_timeout,
            watch: None,
            record_code: args.record_code,
            merge_code: args.merge_code,
            merge_asked: None,
            queue: None,
            ivr: None,
            voicemail: None,
            mailbox: None,
            last_side: engine::call::Side::Local,
            merging: None,
            typed: String::new(),
            recording: None,
            data_dir: args.data_dir,
            call_ids: Vec::new(),
            pending,
            relayed: Vec::new(),
            out: args.out,
            directory: args.directory,
            timer_gen: 0,
            record: args.record,
            ports: args.ports,
            span: span.clone(),
            trunk_legs: Vec::new(),
            trunk: args.trunk.clone(),
            lines_seen: None,
            #[cfg(feature = "test-hooks")]
            test_panic,
        };
        // The caller's channel is the call's first (its Call-ID registered first).
        let caller = state.add_channel(
            &myself,
            Role::Caller,
            Legs::One(Box::new(a)),
            (vec![a_flow], vec![args.caller.clone()]),
            &[],
        );
        let port = (!state.relays.is_empty()).then_some(CALLER_PORT);
        if let Some(c) = state.channel_mut(caller) {
            c.port = port;
        }
        let t0 = now();
        match args.first {
            FirstStep::Hop(hop) => hunt::ring(&myself, &mut state, hop.devices, hop.ring, t0),
            FirstStep::Queue(number, handle) => {
                queue::enter(&myself, &mut state, number, handle, t0)
            }
            FirstStep::Announce(prompts, what) => {
                announce::arrive(&mut state, caller, &prompts, &what, t0)
            }
            FirstStep::Message(list, what) => {
                announce::arrive_playing(&mut state, caller, list, &what, t0)
            }
            FirstStep::Ivr(menu) => ivr::arrive(&mut state, caller, *menu, t0),
            FirstStep::Voicemail(b) => voicemail::arrive(&mut state, caller, *b, t0),
            FirstStep::MailboxAccess(b) => mailbox::arrive(&myself, &mut state, caller, *b, t0),
            FirstStep::Room {
                room,
                handle,
                pin,
                organiser,
            } => {
                // A span guard may not be held across the wait for the room.
                drop(entered);
                use tracing::Instrument;
                state.organiser = organiser.then_some(caller);
                room::arrive(&myself, &mut state, caller, &room, &handle, pin, t0)
                    .instrument(span.clone())
                    .await;
            }
        }
        let _entered = span.clone().entered();
        settle(&myself, &mut state);
        if !state.held.is_empty() {
            let _ = myself.cast(CallMsg::Release);
        }
        Ok(state)
    }

    async fn handle(
        &self,
        myself: ActorRef<CallMsg>,
        msg: CallMsg,
        state: &mut CallState,
    ) -> Result<(), ActorProcessingErr> {
        use tracing::Instrument;
        let span = state.span.clone();
        on_message(myself, msg, state).instrument(span).await;
        Ok(())
    }

    async fn post_stop(
        &self,
        _: ActorRef<CallMsg>,
        state: &mut CallState,
    ) -> Result<(), ActorProcessingErr> {
        let _entered = state.span.clone().entered();
        state.journal.close();
        queue::left(state);
        queue::flush(state);
        for id in &state.call_ids {
            state.directory.remove_call(state.tenant.id, id);
        }
        Ok(())
    }
}

/// Where a mailbox's messages are written: `DATA_DIR/voicemail/TENANT/MAILBOX/`.
pub fn voicemail_dir(
    data_dir: &std::path::Path,
    tenant: &str,
    mailbox: &str,
) -> std::path::PathBuf {
    data_dir.join("voicemail").join(tenant).join(mailbox)
}

/// A key the caller sent as SIP INFO that the switch itself takes (a choice in an
/// IVR menu, a queue's exit key); false for any other request.
fn switch_key(
    myself: &ActorRef<CallMsg>,
    s: &mut CallState,
    id: ChannelId,
    req: &engine::sip::Message,
    t: Instant,
) -> bool {
    let takes_keys =
        s.ivr.is_some() || s.queue.is_some() || s.voicemail.is_some() || s.mailbox.is_some();
    if req.method() != Some(&engine::sip::Method::Info) || !takes_keys {
        return false;
    }
    let (Some((key, _)), Some(port)) = (
        in_dialog::dtmf_relay(req),
        s.channel(id).and_then(|c| c.port),
    ) else {
        return false;
    };
    mailbox::key(s, port, key, t)
        || voicemail::key(s, port, key, t)
        || ivr::key(myself, s, port, key, t)
        || queue::key(myself, s, port, key, t)
}

/// One message to the call (the actor's `handle`, inside the call's span).
async fn on_message(myself: ActorRef<CallMsg>, msg: CallMsg, state: &mut CallState) {
    let t = now();
    #[cfg(feature = "test-hooks")]
    if state.test_panic && state.peer_of(0).is_some() {
        panic!("X-Pbx-Test: panic-call");
    }
    match msg {
        CallMsg::Request(inc)
            if is_loop(state, &inc.msg)
                || (inc.msg.to().is_some_and(|t| t.tag().is_none())
                    && looped_via(&inc.msg, state.out.sent_by(Flow::Udp(inc.source)))) =>
        {
            tracing::debug!(call_id = ?inc.msg.call_id(), "INVITE looped back: 482");
            inc.respond(482, "Loop Detected");
        }
        CallMsg::Request(inc) => {
            let owned = state.channels.iter_mut().any(|c| c.on_request(&inc.msg, t));
            if owned {
                // Its responses go out in `settle`, through this transaction.
                state.pending.push(&inc.msg, inc.reply.clone());
            } else if inc.msg.method() != Some(&engine::sip::Method::Ack) {
                inc.respond(481, "Call/Transaction Does Not Exist");
            }
        }
        CallMsg::Response(m) => {
            state.channels.iter_mut().any(|c| c.on_response(&m, t));
        }
        CallMsg::Release => {}
        CallMsg::Wake(gen) => {
            if gen != state.timer_gen {
                return;
            }
            for c in &mut state.channels {
                c.on_timeout(t);
            }
            watch_media(state, t);
            room::expired(state, t);
            queue::expired(&myself, state, t);
            ivr::expired(&myself, state, t);
            voicemail::expired(state, t);
            mailbox::expired(state, t);
        }
        CallMsg::Hop(hop, ring, found) => hunt::found(&myself, state, hop, ring, found, t),
        CallMsg::Message(name, found) => hunt::message(state, name, found, t),
        CallMsg::Key {
            relay,
            side,
            key,
            duration_ms,
            in_band,
        } => {
            let port = Port { relay, side };
            if mailbox::key(state, port, key, t)
                || voicemail::key(state, port, key, t)
                || ivr::key(&myself, state, port, key, t)
                || queue::key(&myself, state, port, key, t)
            {
            } else if !room::key(&myself, state, port, key, t).await {
                in_dialog::key_pressed(state, port, (key, duration_ms, in_band), t);
                merge::ask(&myself, state);
            }
        }
        CallMsg::Played { relay, side } if state.announcing => {
            announce::played(state, Port { relay, side }, t)
        }
        CallMsg::Played { relay, side } => {
            let port = Port { relay, side };
            if !mailbox::played(state, port, t)
                && !voicemail::played(state, port, t)
                && !ivr::played(state, port, t)
                && !queue::played(state, port)
            {
                room::played(state, port, t)
            }
        }
        CallMsg::EnterRoom {
            tenant,
            by,
            leg,
            room,
            reply,
        } => {
            let entered = room::enter(&myself, state, (tenant, &by, &leg), room, t).await;
            let _ = reply.send(entered);
        }
        CallMsg::Removed(member) => room::removed(state, member, t),
        CallMsg::PickUp { by, inc } => pickup::pick_up(&myself, state, &by, inc, t),
        CallMsg::Merge(line, found) => merge::merge(&myself, state, line, found, t).await,
        CallMsg::RoomOf { by, reply } => {
            let _ = reply.send(merge::room_of(state, &by));
        }
        CallMsg::RoomReferDone(code, reason) => room::refer_done(state, code, reason, t),
        CallMsg::TransferTargets(r) => transfer::targets(&myself, state, r, t),
        CallMsg::Joined(h) => transfer::joined(&myself, state, h, t),
        CallMsg::GiveUp(tenant, replaces, to, reply) => {
            let h = (tenant == state.tenant.id)
                .then(|| transfer::give_up(state, &replaces, &to, t))
                .flatten();
            let _ = reply.send(h);
        }
        CallMsg::Replace { tenant, by, inc } if tenant == state.tenant.id => {
            transfer::replace(&myself, state, &by, inc, t)
        }
        CallMsg::Replace { inc, .. } => inc.respond(481, "Call/Transaction Does Not Exist"),
        CallMsg::EnterQueue(number, handle) => queue::enter(&myself, state, number, handle, t),
        CallMsg::Queue(e) => queue::event(&myself, state, e, t),
        CallMsg::IvrStep(step) => ivr::step(&myself, state, step, t),
        CallMsg::Mailbox(mailbox, found) => hunt::mailbox(state, mailbox, found, t),
        CallMsg::MailboxRead(pin, messages) => mailbox::read(state, pin, messages, t),
        CallMsg::QueueRestarted(number, handle) => {
            queue::restarted(&myself, state, &number, handle, t)
        }
        CallMsg::AgentDevices {
            agents,
            ring,
            found,
        } => queue::agent_devices(&myself, state, (agents, ring), found, t),
        CallMsg::Onward(found) => queue::onward(&myself, state, found, t),
        CallMsg::DialogOf { line, reply } => {
            let _ = reply.send(transfer::dialog_of(state, &line));
        }
        CallMsg::Control(line, control, reply) => {
            let done = controlled(&myself, state, &line, control, t);
            let _ = reply.send(done);
        }
    }
    settle(&myself, state);
    release_held(&myself, state).await;
}

/// The API's call control for line `line`, a party of the call (the caller, or the
/// line that answered; a ringing line for a deflection).
fn controlled(
    myself: &ActorRef<CallMsg>,
    s: &mut CallState,
    line: &str,
    control: crate::proto::call::CallControl,
    t: Instant,
) -> bool {
    use crate::proto::call::CallControl;
    let party = s
        .parties(true)
        .into_iter()
        .find(|id| s.channel(*id).is_some_and(|c| c.user() == line));
    let done = match (control, party) {
        (CallControl::Hangup, _) => {
            tracing::info!(line, "call hung up through the API");
            s.journal.ended(
                &engine::call::Cause::new(200, "Hung up by the API", engine::call::Side::Local),
                Side::Switch,
            );
            for id in s.parties(false) {
                if let Some(c) = s.channel_mut(id) {
                    c.hangup(200, "Hung Up", t);
                }
            }
            true
        }
        (CallControl::Deflect(to), _) => hunt::deflect(myself, s, line, to, t),
        (CallControl::Answer, _) => ask_to_answer(s, line, t),
        (CallControl::Conference, Some(id)) => {
            let can = s.peer_of(id).is_some() && s.seats.is_empty() && s.merge_asked.is_none();
            if can {
                s.merge_asked = Some(id);
                merge::ask(myself, s);
            }
            can
        }
        (CallControl::Record, Some(id)) => {
            recording::toggle(s, id);
            true
        }
        (CallControl::Hold, Some(id)) => hold(s, id, true),
        (CallControl::Retrieve, Some(id)) => hold(s, id, false),
        (CallControl::Transfer(to), Some(id)) => transfer::by_api(myself, s, id, to),
        (CallControl::Connect, Some(id)) => transfer::connect_by_api(myself, s, id),
        (CallControl::Dtmf(key), Some(id)) => in_dialog::send_key(s, id, key, t),
        (_, None) => false,
    };
    if !done {
        tracing::debug!(line, "call control not possible in this call now");
    }
    done
}

/// Asks the phones of line `line` that ring for this call to answer: a NOTIFY with
/// `Event: talk` in each one's early dialog. False when none of its phones rings.
fn ask_to_answer(s: &mut CallState, line: &str, t: Instant) -> bool {
    let Some(id) = s.with_role(Role::Callee) else {
        return false;
    };
    let legs: Vec<usize> = match s.channel(id) {
        Some(c) if c.answered().is_none() => c
            .lines
            .iter()
            .enumerate()
            .filter(|(_, l)| *l == line)
            .map(|(i, _)| i)
            .collect(),
        _ => return false,
    };
    let mut asked = false;
    for i in legs {
        let sent = s.with_leg(id, i, t, |l| {
            l.send_request_with(&engine::sip::Method::Notify, &[("Event", "talk")], None, t)
        });
        asked |= sent.flatten().is_some();
    }
    asked
}

/// Channel `id`'s party holds the call (or takes it back): the media towards it
/// stops and the other party hears music on hold.
fn hold(s: &mut CallState, id: ChannelId, held: bool) -> bool {
    let answered = s.channel(id).is_some_and(|c| c.answered().is_some());
    let Some(port) = s.channel(id).and_then(|c| c.port).filter(|_| answered) else {
        return false;
    };
    s.relays.hold(port, held, s.music.as_ref());
    true
}

/// Passes events between the channels until nothing moves, sends what they produced,
/// then arms the next wake-up or ends the call.
fn settle(myself: &ActorRef<CallMsg>, s: &mut CallState) {
    let t = now();
    loop {
        let mut moved = false;
        let ids: Vec<ChannelId> = s.channels.iter().map(|c| c.id).collect();
        for id in ids {
            while let Some((i, o)) = s.channel_mut(id).and_then(|c| c.poll_output()) {
                moved = true;
                on_output(myself, s, id, i, o, t);
            }
        }
        if !moved {
            break;
        }
    }
    in_dialog::give_up_on_gone(s, t);
    s.channels
        .retain(|c| !(c.role == Role::Retired && c.is_done()));
    let over = s.channels.iter().all(|c| c.is_ended())
        && s.transfer.is_none()
        && s.hop_pending.is_none()
        && !s.awaiting_handover;
    if over {
        s.journal.close();
    }
    update_record(s);
    queue::flush(s);
    voicemail::flush(s, t);
    mailbox::flush(s);
    let answered = !s.bridges.is_empty()
        || !s.seats.is_empty()
        || s.gate.is_some()
        || s.announcing
        || s.ivr.is_some()
        || s.mailbox.is_some();
    if answered && s.watch.is_none() && !over {
        s.watch = s.media_timeout.map(|d| media_watch::MediaWatch::new(d, t));
    }
    if over {
        s.watch = None;
    }
    let watch = s.watch.as_ref().map(|w| w.next);
    let gate = s.gate.as_ref().map(|g| g.deadline);
    let waiting = [
        queue::deadline(s),
        ivr::deadline(s),
        voicemail::deadline(s),
        mailbox::deadline(s),
    ]
    .into_iter()
    .flatten()
    .min();
    match s
        .channels
        .iter()
        .filter_map(Channel::next_timeout)
        .chain(watch)
        .chain(gate)
        .chain(waiting)
        .min()
    {
        Some(at) => {
            s.timer_gen += 1;
            let gen = s.timer_gen;
            myself.send_after(at.saturating_duration_since(t), move || CallMsg::Wake(gen));
        }
        None if over && s.held.is_empty() => myself.stop(None),
        None if over => s.stop_after_release = true,
        None => {}
    }
}

/// What leg `i` of channel `id` produced.
fn on_output(
    myself: &ActorRef<CallMsg>,
    s: &mut CallState,
    id: ChannelId,
    i: usize,
    o: Output,
    t: Instant,
) {
    let Some(role) = s.channel(id).map(|c| c.role) else {
        return;
    };
    let e = match o {
        o @ (Output::Send(_) | Output::Respond(_)) => {
            let flow = s.channel(id).and_then(|c| c.flow(i));
            if !s.held.is_empty() || may_confirm_end(&o) {
                s.held.push((flow, o));
                return;
            }
            return send_on(s, flow, o);
        }
        Output::Event(e) => e,
    };
    match (role, e) {
        (Role::Retired, LegEvent::Request(req)) => {
            s.with_leg(id, i, t, |l| {
                l.respond(&req, 481, "Call/Transaction Does Not Exist", None, t)
            });
        }
        // The answer to a request relayed before the party moved on still goes back.
        (Role::Retired, LegEvent::Response(resp)) => in_dialog::response(s, (id, i), resp, t),
        (Role::Retired, _) => {}
        (Role::Target, e) => transfer::target_event(s, id, e, t),
        (Role::Agent, e) if ivr::rings(s, id) => ivr::ringing_event(s, id, i, e, t),
        (Role::Agent, e) => queue::agent_event(s, id, i, e, t),
        (_, LegEvent::Request(req)) if transfer::is_refer(&req) => {
            if !room::refer(myself, s, (id, i), &req, t) {
                transfer::refer(myself, s, id, i, req, t)
            }
        }
        (Role::Caller, LegEvent::Request(req)) if switch_key(myself, s, id, &req, t) => {
            s.with_leg(id, i, t, |l| l.respond(&req, 200, "OK", None, t));
        }
        (_, LegEvent::Request(req)) => in_dialog::request(s, (id, i), req, t),
        (_, LegEvent::Response(resp)) if merge::answered(s, id, &resp, t) => {}
        (_, LegEvent::Response(resp)) => in_dialog::response(s, (id, i), resp, t),
        (Role::Callee, LegEvent::Ringing) => {
            leg_rang(s, id, i);
            if let Some(caller) = s.with_role(Role::Caller) {
                s.with_party(caller, t, |l| l.ring_at(None, t));
            }
        }
        (Role::Callee, LegEvent::EarlyMedia(sdp)) => {
            leg_rang(s, id, i);
            let sdp = answer_caller(s, id, i, sdp);
            if let Some(caller) = s.with_role(Role::Caller) {
                // The caller has its answer now: a later one must not change it.
                if let Some(c) = s.channel_mut(caller) {
                    c.sent_sdp = Some(sdp.clone());
                }
                s.with_party(caller, t, |l| l.ring_at(Some(&sdp), t));
            }
        }
        (Role::Callee, LegEvent::Answered(sdp)) => {
            let leg = leg_no(s, id, i);
            let user = s
                .channel(id)
                .map(|c| c.user().to_owned())
                .unwrap_or_default();
            s.journal.answered(leg, &user);
            let sdp = sdp.map(|sdp| answer_caller(s, id, i, sdp));
            if let Some(caller) = s.with_role(Role::Caller) {
                s.bridge(caller, id);
                if let Some(c) = s.channel_mut(caller) {
                    c.sent_sdp.clone_from(&sdp);
                }
                s.with_party(caller, t, |l| l.answer(sdp.as_ref(), t));
            }
        }
        (_, LegEvent::Ended(_)) if transfer::referrer_left(s, id) => {}
        // A party of a merged conference leaves; the others stay in the room.
        (_, LegEvent::Ended(_)) if s.seated(id) && s.seats.len() > 1 => {
            s.seats.retain(|(c, _)| *c != id);
            if let Some(c) = s.channel_mut(id) {
                c.role = Role::Retired;
            }
        }
        (Role::Callee, LegEvent::Ended(c)) if s.peer_of(id).is_none() => {
            hunt::hop_ended(myself, s, id, i, c, t)
        }
        (role, LegEvent::Ended(c)) => {
            // A party is gone (CANCEL, BYE, failure): the call ends for everyone.
            let side = match role {
                Role::Caller => Side::Caller,
                _ => Side::Callee,
            };
            if role == Role::Callee {
                s.journal.publish(CallEventKind::LegEnded {
                    leg: leg_no(s, id, i),
                    code: c.code,
                    reason: c.reason.clone(),
                    side: journal::side_of(&c, Side::Callee),
                });
            }
            s.journal.ended(&c, side);
            transfer::abort(s, t);
            // An agent's call is over for it now (its wrap-up starts), not once the
            // other party's BYE is done.
            queue::left(s);
            let (code, reason) = match role {
                Role::Caller => (487, "Request Terminated".to_owned()),
                _ => (c.code, c.reason.clone()),
            };
            let others: Vec<ChannelId> = s
                .channels
                .iter()
                .filter(|o| {
                    o.id != id && matches!(o.role, Role::Caller | Role::Callee | Role::Agent)
                })
                .map(|o| o.id)
                .collect();
            for o in others {
                if let Some(ch) = s.channel_mut(o) {
                    ch.hangup(code, &reason, t);
                }
            }
        }
        (_, _) => {}
    }
}

/// The journal's number of leg `i` of channel `id`.
fn leg_no(s: &CallState, id: ChannelId, i: usize) -> u32 {
    s.channel(id).map_or(0, |c| c.first_leg) + i as u32
}

/// An INVITE that starts no dialog of this call yet reaches it: it is one of the
/// switch's own INVITEs come back (its Call-ID is one the switch made for a callee's
/// leg), or a second INVITE with the caller's Call-ID on another branch (RFC 3261
/// §8.2.2.2). 482 either way.
fn is_loop(s: &CallState, req: &Message) -> bool {
    if req.method() != Some(&engine::sip::Method::Invite)
        || req.to().is_none_or(|t| t.tag().is_some())
    {
        return false;
    }
    let branch_of = |m: &Message| m.top_via().and_then(|v| v.branch().map(str::to_owned));
    let caller = s.channels.first().and_then(|c| c.leg(0));
    if req.call_id().is_some() && caller.and_then(|l| l.call_id()) == req.call_id() {
        // The caller's INVITE itself (retransmitted) is not a loop.
        return caller.and_then(|l| l.invite()).and_then(branch_of) != branch_of(req);
    }
    s.call_ids.iter().any(|c| Some(c.as_str()) == req.call_id())
}

/// True when a request's Via list holds the switch's own sent-by (`local`) with a
/// branch of the form the switch's legs write (`z9hG4bK<16 hex>.<n>`): a request the
/// switch sent has come back to it (RFC 3261 §16.3 step 4, as a B2BUA sees it).
fn looped_via(req: &Message, local: Option<SocketAddr>) -> bool {
    let Some(local) = local else { return false };
    let switch_branch = |b: &str| {
        let Some((seed, n)) = b.strip_prefix("z9hG4bK").and_then(|r| r.split_once('.')) else {
            return false;
        };
        seed.len() == 16
            && seed.bytes().all(|c| c.is_ascii_hexdigit())
            && !n.is_empty()
            && n.bytes().all(|c| c.is_ascii_digit())
    };
    req.vias().iter().any(|v| {
        let at_switch = v.host_bare().parse::<IpAddr>().ok() == Some(local.ip())
            && v.port.unwrap_or(5060) == local.port();
        at_switch && v.branch().is_some_and(switch_branch)
    })
}

/// Brings the supervisor's record up to date: the dialogs still up, and whether the
/// journal row is closed.
fn update_record(s: &mut CallState) {
    let legs = s
        .channels
        .iter()
        .filter(|c| c.role != Role::Retired)
        .filter_map(|c| {
            let i = c.party_leg()?;
            let leg = c.leg(i)?;
            let d = leg.dialog().filter(|_| !leg.is_ended())?;
            Some(supervision::LegSnapshot {
                dialog: d.clone(),
                flow: c.flow(i)?,
                transport: leg.config().transport.clone(),
                sent_by: leg.config().sent_by.clone(),
            })
        })
        .collect();
    let mut rec = s.record.lock().unwrap_or_else(|e| e.into_inner());
    rec.legs = legs;
    rec.closed = s.journal.closed;
    let ringing = pickup::ringing(s);
    rec.ringing = ringing.is_some();
    rec.ringing_lines = ringing
        .and_then(|id| s.channel(id))
        .map(|c| c.lines.clone())
        .unwrap_or_default();
    rec.answered_lines = s
        .channels
        .iter()
        .filter(|c| c.role == Role::Callee && c.answered().is_some() && !c.is_ended())
        .map(|c| c.user().to_owned())
        .collect();
    // The ringing devices' early dialogs, gathered again only when their number
    // changed (a device answered 180 with its tag, or the hop changed).
    let ringing_channel = ringing.and_then(|id| s.channel(id));
    let early = |c: &Channel| {
        (0..c.lines.len())
            .filter_map(|i| c.leg(i).filter(|l| !l.is_ended())?.dialog())
            .count()
    };
    // Who holds the call: looked at only while some party does.
    // Who holds the call: compared in place, copied only on a change (no party
    // holds in most calls, and then nothing is looked at).
    let any_held = s.relays.any_held();
    let holding = || {
        s.channels
            .iter()
            .filter(move |_| any_held)
            .filter(|c| matches!(c.role, Role::Caller | Role::Callee) && c.answered().is_some())
            .filter(|c| c.port.is_some_and(|p| s.relays.is_held(p)))
            .map(|c| c.user())
    };
    let held_changed = !holding().eq(rec.held_lines.iter().map(String::as_str));
    if held_changed {
        rec.held_lines = holding().map(str::to_owned).collect();
    }
    let now_early = ringing_channel.map_or(0, early);
    let dialogs_changed = now_early != rec.ringing_dialogs.len()
        || (now_early > 0 && rec.ringing_dialogs[0].line != rec.ringing_lines[0]);
    if dialogs_changed {
        rec.ringing_dialogs = ringing_channel
            .map(|c| {
                (0..c.lines.len())
                    .filter_map(|i| {
                        let leg = c.leg(i).filter(|l| !l.is_ended())?;
                        let id = leg.dialog()?.id();
                        Some(supervision::RingingDialog {
                            line: c.lines[i].clone(),
                            call_id: id.call_id.clone(),
                            switch_tag: id.local_tag.clone(),
                            device_tag: id.remote_tag.clone(),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
    }
    // The lines the call rings or connects changed: the tenant tells their watchers
    // (busy-lamp fields). Compared in place: nothing is copied while nothing changed
    // (this runs after every message of the call).
    let same = s
        .lines_seen
        .as_ref()
        .is_some_and(|(ringing, answered, closed)| {
            *ringing == rec.ringing_lines
                && *answered == rec.answered_lines
                && *closed == rec.closed
        });
    if same && !dialogs_changed && !held_changed {
        return;
    }
    let seen = (
        rec.ringing_lines.clone(),
        rec.answered_lines.clone(),
        rec.closed,
    );
    drop(rec);
    {
        let mut lines: Vec<String> = seen.0.iter().chain(&seen.1).cloned().collect();
        if let Some((ringing, answered, _)) = s.lines_seen.take() {
            lines.extend(ringing);
            lines.extend(answered);
        }
        if s.trunk.is_none() {
            lines.push(s.parties.caller.clone());
        }
        lines.sort();
        lines.dedup();
        s.lines_seen = Some(seen);
        let _ = s
            .tenant
            .supervisor
            .send_message(crate::proto::TenantMsg::LinesChanged(lines));
    }
}

/// Is `o` a response that may tell a party its call is over: a BYE's 2xx, an
/// INVITE's final refusal?
fn may_confirm_end(o: &Output) -> bool {
    let Output::Respond(r) = o else { return false };
    match r.request.as_ref().map(|k| &k.method) {
        Some(engine::sip::Method::Bye) => (200..300).contains(&r.code),
        Some(engine::sip::Method::Invite) => r.code >= 300,
        _ => false,
    }
}

/// Sends what `settle` held back: first, when the call's end is decided, the journal
/// closes its row and the call waits until it is written (a `kill -9` after a party
/// heard the end confirmed finds the row finished).
async fn release_held(myself: &ActorRef<CallMsg>, s: &mut CallState) {
    if s.held.is_empty() {
        return;
    }
    if let Some(barrier) = s.journal.close_before_confirming() {
        if let Err(e) = barrier.wait().await {
            tracing::warn!(error = %e, "the call's end may not be journalled");
        }
    }
    for (flow, o) in std::mem::take(&mut s.held) {
        send_on(s, flow, o);
    }
    if std::mem::take(&mut s.stop_after_release) {
        myself.stop(None);
    }
}

/// Sends a leg's request or response to the device reached over `flow`: a response
/// to a request the call received goes back through that request's transaction.
fn send_on(s: &mut CallState, flow: Option<Flow>, out: Output) {
    let bytes = match out {
        Output::Send(bytes) => bytes,
        Output::Respond(r) => {
            let reply = r.request.as_ref().and_then(|k| s.pending.take(k, r.code));
            if let Some(reply) = reply {
                reply.send(r.code, r.bytes.to_vec());
                return;
            }
            r.bytes
        }
        Output::Event(_) => return,
    };
    let Some(flow) = flow else { return };
    if !s.out.send(flow, bytes) {
        tracing::debug!(?flow, "no way to a call leg's device");
    }
}

/// Points the callee's port at the media of the device that sent `sdp` (leg `i` of
/// channel `id`; early media comes before any winner) and returns the SDP for the
/// caller: the switch's answer to the caller's offer (the relay transcoding when the
/// two legs chose different G.711 laws), or the callee's SDP anchored at the caller's
/// port when the caller's offer went through as it was.
fn answer_caller(s: &mut CallState, id: ChannelId, i: usize, mut sdp: Sdp) -> Sdp {
    let Some(callee) = s.channel(id) else {
        return sdp;
    };
    let peer = callee.flow(i).map(|f| f.peer().ip());
    let b_port = callee.port;
    let a_port = s
        .with_role(Role::Caller)
        .and_then(|c| s.channel(c))
        .and_then(|c| c.port);
    let (Some(b_port), Some(a_port)) = (b_port, a_port) else {
        return sdp;
    };
    s.relays.follow(b_port, &sdp, peer, &s.ports);
    // The caller was answered already (early media from another device or hop): it
    // keeps that answer and its codec; the relay meets whatever this device chose.
    let answered = s
        .with_role(Role::Caller)
        .and_then(|c| s.channel(c))
        .and_then(|c| c.sent_sdp.clone())
        .filter(|_| s.a_offer.is_some());
    if let Some(prev) = answered {
        s.relays
            .speak(b_port, codecs::voice_of(&sdp), codecs::event_pt(&sdp));
        return prev;
    }
    let Some((ip, port)) = s.relays.sdp_at(a_port) else {
        return sdp;
    };
    let own = s
        .a_offer
        .as_ref()
        .and_then(|offer| codecs::caller_answer(offer, &sdp, ip, port, &s.session_id));
    let Some(mut own) = own else {
        sdp.anchor(ip, &[port]);
        s.relays.seal(a_port, &mut sdp, SrtpOffer::None);
        return sdp;
    };
    s.relays.speak(a_port, own.a_voice, own.a_event);
    s.relays.speak(b_port, own.b_voice, own.b_event);
    s.relays.seal(a_port, &mut own.sdp, SrtpOffer::None);
    own.sdp
}

/// The status a callee's end gives the caller: a device's own reject (486, 600, 603)
/// as the line group's reject setting says; anything else as it came.
fn passed_on(reject: Option<crate::store::Reject>, c: &engine::call::Cause) -> (u16, String) {
    match reject {
        Some(r) if c.side == engine::call::Side::Remote && matches!(c.code, 486 | 600 | 603) => {
            let (code, reason) = r.response();
            (code, reason.to_owned())
        }
        _ => (c.code, c.reason.clone()),
    }
}

/// The header a response is matched by, for tests and logs.
pub fn describe(m: &Message) -> String {
    format!("{:?} {:?}", m.code(), m.header(HeaderName::CSeq))
}

/// A fork of legs to `targets`, for a channel.
/// Leg `i` of channel `id` rings (or plays early media): the journal hears which.
fn leg_rang(s: &mut CallState, id: ChannelId, i: usize) {
    let leg = leg_no(s, id, i);
    s.journal.publish(CallEventKind::LegRinging { leg });
    // A fork reports its first ringing device only: every line it alerts rings.
    let lines = s.channel(id).map(|c| c.lines.clone()).unwrap_or_default();
    let line = lines.get(i).cloned();
    for l in line.iter().chain(lines.iter()) {
        s.journal.rang(l);
    }
}

fn fork_to(
    s: &CallState,
    targets: &[CallTarget],
    users: (&str, &str),
    sdp: Option<&Sdp>,
    ring: std::time::Duration,
    t: Instant,
) -> (Legs, Vec<Flow>) {
    let NewLegs { legs, flows } = outgoing_legs(&s.out, &s.parties, targets, users, sdp, ring, t);
    (Legs::Fork(Fork::new(legs, t)), flows)
}

/// The offer for a hop's devices: the switch's own (G.711 in the rung group's codec
/// order) or, when the caller offered no G.711, the caller's anchored at the port
/// facing callees.
fn hop_offer(s: &CallState, codecs: &[String], srtp_required: bool) -> Option<Sdp> {
    let mut sdp = s.caller_offer.clone()?;
    let (ip, port) = s.relays.sdp_at(CALLEE_PORT)?;
    // Callees are offered SRTP when the caller speaks it (only SRTP when their line
    // group requires it).
    let srtp = if srtp_required {
        SrtpOffer::Required
    } else if s.relays.is_secure(CALLER_PORT) {
        SrtpOffer::BestEffort
    } else {
        SrtpOffer::None
    };
    let mut offer = match codecs::callee_offer(&sdp, ip, port, &s.session_id, codecs) {
        Some(own) => own,
        None => {
            sdp.anchor(ip, &[port]);
            sdp
        }
    };
    s.relays.seal(CALLEE_PORT, &mut offer, srtp);
    Some(offer)
}

/// Looks at the answered call's media: a party silent for the media timeout (nobody
/// holding) ends the call, every party getting a BYE.
fn watch_media(s: &mut CallState, t: Instant) {
    if s.watch.as_ref().is_none_or(|w| t < w.next) {
        return;
    }
    let ports: Vec<Port> = s
        .parties(true)
        .into_iter()
        .filter_map(|id| s.channel(id)?.port)
        .collect();
    let Some(watch) = s.watch.as_mut() else {
        return;
    };
    if !watch.silent(&s.relays, &ports, t) {
        return;
    }
    tracing::info!("no RTP from a party for the media timeout: call ended");
    s.watch = None;
    s.journal.ended(
        &engine::call::Cause::new(408, "Media Timeout", engine::call::Side::Local),
        Side::Switch,
    );
    for id in s.parties(false) {
        if let Some(c) = s.channel_mut(id) {
            c.hangup(408, "Media Timeout", t);
        }
    }
}

/// Tells relay `id` to report the keys its legs press to this call.
fn listen_to_media(relays: &Relays, id: crate::media_relay::RelayId, myself: &ActorRef<CallMsg>) {
    let Some(r) = relays.get(id) else {
        return;
    };
    let me = myself.clone();
    r.handle.listen(move |e| {
        let _ = me.send_message(match e {
            MediaEvent::Key {
                side,
                key,
                duration_ms,
                in_band,
            } => CallMsg::Key {
                relay: id,
                side,
                key,
                duration_ms,
                in_band,
            },
            MediaEvent::Played { side } => CallMsg::Played { relay: id, side },
        });
    });
}
