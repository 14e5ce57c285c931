//! One actor per call. It owns the caller's leg and the fork of legs to the callee's
//! devices (the state machines of `engine::call`), feeds them what arrives, passes
//! ringing, answer and hang-up across, and sends what they return.

mod codecs;
mod in_dialog;
pub mod limits;
mod route;
pub(crate) use route::flow_of;
pub mod supervision;
mod transfer;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use engine::call::{Fork, Leg, LegConfig, LegEvent, OutgoingInvite, Output};
use engine::sip::{HeaderName, Message};
use engine::timer::TimerConfig;
use ractor::{Actor, ActorProcessingErr, ActorRef};

use crate::directory::Directory;
use crate::journal::{CallEventKind, CallId, Direction, Disposition, EventBus, Side};
use crate::media_relay::{MediaRelay, PortPool, RelayHandle, Side as RelaySide};
use crate::proto::TenantEntry;
use crate::proto::{CallMsg, CallTarget, Flow, Incoming};
use crate::sip::SipOut;
pub use limits::{CallLimits, CallPermit, Refusal};
use route::Pending;
pub use supervision::{CallRecord, SharedRecord};

/// How long a callee's devices ring before the caller gets 480.
pub const RING_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

pub struct CallArgs {
    pub bus: EventBus,
    /// RTP ports for anchoring the call's media at the switch.
    pub ports: Arc<PortPool>,
    pub tenant: TenantEntry,
    pub caller: String,
    pub callee: String,
    pub inc: Box<Incoming>,
    pub targets: Vec<CallTarget>,
    pub out: Arc<SipOut>,
    pub directory: Arc<Directory>,
    /// How long the callee's devices ring.
    pub ring_timeout: std::time::Duration,
    /// The record the supervisor ends the call from if this actor fails.
    pub record: SharedRecord,
    /// How a device's own reject reaches the caller (`None`: as the device sent it).
    pub reject: Option<crate::store::Reject>,
}

pub struct CallState {
    journal: Journal,
    tenant: TenantEntry,
    parties: Parties,
    /// The offer the callee's devices got (anchored at side B); a transfer target
    /// gets it too, anchored at the side it will face.
    b_offer: Option<engine::sdp::Sdp>,
    /// The voice payload types of relay sides A and B once answered (transcoding).
    pts: (Option<u8>, Option<u8>),
    /// The last SDP the switch sent to the caller's leg and to the callee's: a party
    /// left on hold by a transferor is resumed from it.
    sent_sdp: [Option<engine::sdp::Sdp>; 2],
    /// A blind transfer in progress (REFER accepted, target not answered yet).
    transfer: Option<transfer::Transfer>,
    /// Legs the call no longer talks through (a transferor's, a transfer target's
    /// losing devices), driven until their BYE or CANCEL is done.
    retired: Vec<transfer::Retired>,
    /// The media relay of another call joined into this one (attended transfer), and
    /// the party that talks through it.
    joined: Option<transfer::JoinedMedia>,
    /// Every Call-ID the call registered in the directory.
    call_ids: Vec<String>,
    /// The media relay with the IP written into both legs' SDP; none for a call
    /// without SDP offer (late offer is not anchored yet).
    media: Option<(RelayHandle, IpAddr)>,
    /// The caller's SDP offer, answered by the switch when a device answers; none
    /// when the caller's offer goes to the devices as it is (no G.711 in it).
    a_offer: Option<engine::sdp::Sdp>,
    /// The `o=` session id of the switch's own descriptions.
    session_id: String,
    a: Leg,
    a_call_id: String,
    a_flow: Flow,
    b: Fork,
    b_flows: Vec<Flow>,
    pending: Pending,
    /// Requests of one side relayed to the other, awaiting their final response.
    relayed: Vec<in_dialog::Relayed>,
    out: Arc<SipOut>,
    directory: Arc<Directory>,
    timer_gen: u64,
    record: SharedRecord,
    /// The port pool the relays come from (to tell the switch's own ports).
    ports: Arc<PortPool>,
    /// The call's tracing span (its journal id and tenant).
    span: tracing::Span,
    /// How a device's own reject reaches the caller.
    reject: Option<crate::store::Reject>,
    /// Test builds: the INVITE asked the call to panic once answered
    /// (`X-Pbx-Test: panic-call`), to exercise the supervisor.
    #[cfg(feature = "test-hooks")]
    test_panic: bool,
}

pub struct CallActor;

/// Who the call is between, for the INVITEs a transfer sends.
struct Parties {
    caller: String,
    callee: String,
    domain: String,
    /// The caller's display name with a trailing space, or empty.
    display: String,
    max_forwards: u8,
    ring_timeout: std::time::Duration,
}

/// Outgoing legs to some devices, their INVITEs sent.
struct NewLegs {
    legs: Vec<Leg>,
    flows: Vec<Flow>,
    call_ids: Vec<String>,
}

/// Legs from the switch to every device in `targets`, calling from `from_user` to
/// `to_user` with `sdp`.
fn outgoing_legs(
    out: &SipOut,
    p: &Parties,
    targets: &[CallTarget],
    from_user: &str,
    to_user: &str,
    sdp: Option<&engine::sdp::Sdp>,
    t0: Instant,
) -> NewLegs {
    let mut new = NewLegs {
        legs: Vec::new(),
        flows: Vec::new(),
        call_ids: Vec::new(),
    };
    for t in targets {
        let call_id = format!("{}@pbx", random_token());
        let mut leg = Leg::outgoing(leg_config(out, t.flow, from_user, Some(p.ring_timeout)));
        leg.send_invite(
            &OutgoingInvite {
                request_uri: t.contact.clone(),
                from: format!(
                    "{}<sip:{from_user}@{}>;tag={}",
                    p.display,
                    p.domain,
                    random_token()
                ),
                to: format!("<sip:{to_user}@{}>", p.domain),
                call_id: call_id.clone(),
                cseq: 1,
                max_forwards: p.max_forwards,
                headers: vec![
                    ("Allow".into(), crate::sip::dispatch::ALLOW.into()),
                    ("Supported".into(), "100rel, timer, replaces".into()),
                    (
                        "Session-Expires".into(),
                        engine::call::DEFAULT_SE.to_string(),
                    ),
                    ("Min-SE".into(), engine::call::MIN_SE.to_string()),
                ],
                sdp: sdp.cloned(),
            },
            t0,
        );
        new.legs.push(leg);
        new.flows.push(t.flow);
        new.call_ids.push(call_id);
    }
    new
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
        .local_for(flow.peer())
        .map(|a| a.to_string())
        .unwrap_or_else(|| "127.0.0.1:5060".into());
    let transport_param = match flow {
        Flow::Tcp { .. } => ";transport=tcp",
        Flow::Udp(_) => "",
    };
    LegConfig {
        timers: TimerConfig::default(),
        reliable: matches!(flow, Flow::Tcp { .. }),
        transport: flow.transport().into(),
        sent_by: local.clone(),
        contact: format!("<sip:{user}@{local}{transport_param}>"),
        branch_seed: random_token(),
        ring_timeout: ring,
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
        let _entered = span.clone().entered();
        let inc = args.inc;
        // RFC 4028 §8.1: a session interval below the switch's minimum gets 422.
        if let Some(bytes) = engine::call::interval_too_small(&inc.msg, engine::call::MIN_SE) {
            inc.reply.send(422, bytes);
            return Err("session interval too small".into());
        }
        if looped_via(&inc.msg, args.out.local_for(inc.source)) {
            tracing::debug!("INVITE with the switch's own Via came back: 482");
            inc.respond(482, "Loop Detected");
            return Err("loop detected".into());
        }
        let a_flow = route::flow_of(&inc);
        let a = match Leg::incoming(
            leg_config(&args.out, a_flow, &args.callee, Some(args.ring_timeout)),
            &inc.msg,
            &random_token(),
        ) {
            Ok(leg) => leg,
            Err(e) => {
                inc.respond(400, "Bad Request");
                return Err(format!("cannot start the caller's leg: {e}").into());
            }
        };
        let a_call_id = inc.msg.call_id().unwrap_or_default().to_owned();
        let domain = inc.msg.uri().map(|u| u.host.to_owned()).unwrap_or_default();
        let from = inc.msg.from();
        let display = from
            .as_ref()
            .and_then(|f| f.display)
            .map(|d| format!("{d} "))
            .unwrap_or_default();
        // The hop the switch takes counts (RFC 3261 §16.6 step 3, kept by the B2BUA).
        let max_forwards = inc.msg.max_forwards().unwrap_or(70).clamp(1, 256) - 1;
        let max_forwards = u8::try_from(max_forwards).unwrap_or(u8::MAX);
        let a_offer = a.remote_offer();
        let mut offer = a_offer.clone();
        let session_id = (rand::random::<u32>() >> 1).to_string();
        let mut own_offer = false;
        // Anchor the media: the callee sees the switch's side B, the caller side A.
        let media = match &mut offer {
            Some(sdp) => {
                let ip = args
                    .out
                    .local_for(inc.source)
                    .map(|a| a.ip())
                    .unwrap_or(inc.source.ip());
                match MediaRelay::start(ip, &args.ports) {
                    Ok(relay) => {
                        transfer::Endpoint {
                            relay: &relay,
                            ip,
                            side: RelaySide::A,
                            peer: Some(inc.source.ip()),
                        }
                        .follow_sdp(sdp, &args.ports);
                        let b_port = relay.ports().1.port();
                        match codecs::callee_offer(sdp, ip, b_port, &session_id) {
                            Some(own) => {
                                *sdp = own;
                                own_offer = true;
                            }
                            None => sdp.anchor(ip, &[b_port]),
                        }
                        Some((relay, ip))
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "no RTP ports: call refused");
                        inc.respond(503, "Service Unavailable");
                        return Err(e.into());
                    }
                }
            }
            None => None,
        };
        let t0 = now();
        let parties = Parties {
            caller: args.caller.clone(),
            callee: args.callee.clone(),
            domain,
            display,
            max_forwards,
            ring_timeout: args.ring_timeout,
        };
        let NewLegs {
            legs,
            flows: b_flows,
            call_ids: b_call_ids,
        } = outgoing_legs(
            &args.out,
            &parties,
            &args.targets,
            &args.caller,
            &args.callee,
            offer.as_ref(),
            t0,
        );
        let mut call_ids = vec![a_call_id.clone()];
        call_ids.extend(b_call_ids.iter().cloned());
        for id in &call_ids {
            args.directory.add_call(args.tenant.id, id, myself.clone());
        }
        args.record
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .call_ids
            .extend(call_ids.iter().cloned());
        #[cfg(feature = "test-hooks")]
        let test_panic = inc.msg.header_lines().any(|(_, name, value)| {
            name.eq_ignore_ascii_case("X-Pbx-Test") && value.trim() == "panic-call"
        });
        let mut pending = Pending::default();
        pending.push(&inc.msg, inc.reply.clone());
        let journal = Journal {
            bus: args.bus,
            call: journal_id,
            tenant: args.tenant.id,
            callee: args.callee.clone(),
            answered: false,
            end: None,
            closed: false,
        };
        args.record
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .journal = Some((journal.call, journal.tenant));
        journal.publish(CallEventKind::CallStarted {
            from: args.caller.clone(),
            to: args.callee.clone(),
            direction: Direction::Internal,
            caller_line: Some(args.caller.clone()),
        });
        for (i, t) in args.targets.iter().enumerate() {
            journal.publish(CallEventKind::LegCreated {
                leg: i as u32,
                target: t.contact.clone(),
            });
        }
        tracing::debug!(tenant = %args.tenant.name, caller = %args.caller, callee = %args.callee, devices = b_flows.len(), "call started");
        let mut state = CallState {
            journal,
            tenant: args.tenant,
            parties,
            sent_sdp: [None, offer.clone()],
            b_offer: offer,
            pts: (None, None),
            transfer: None,
            retired: Vec::new(),
            joined: None,
            call_ids,
            media,
            a_offer: a_offer.filter(|_| own_offer),
            session_id,
            a,
            a_call_id,
            a_flow,
            b: Fork::new(legs, t0),
            b_flows,
            pending,
            relayed: Vec::new(),
            out: args.out,
            directory: args.directory,
            timer_gen: 0,
            record: args.record,
            ports: args.ports,
            span: span.clone(),
            reject: args.reject,
            #[cfg(feature = "test-hooks")]
            test_panic,
        };
        settle(&myself, &mut state);
        Ok(state)
    }

    async fn handle(
        &self,
        myself: ActorRef<CallMsg>,
        msg: CallMsg,
        state: &mut CallState,
    ) -> Result<(), ActorProcessingErr> {
        let _entered = state.span.clone().entered();
        let t = now();
        #[cfg(feature = "test-hooks")]
        if state.test_panic && state.a.state() == engine::call::LegState::Answered {
            panic!("X-Pbx-Test: panic-call");
        }
        match msg {
            CallMsg::Request(inc)
                if is_loop(state, &inc.msg)
                    || (inc.msg.to().is_some_and(|t| t.tag().is_none())
                        && looped_via(&inc.msg, state.out.local_for(inc.source))) =>
            {
                tracing::debug!(call_id = ?inc.msg.call_id(), "INVITE looped back: 482");
                inc.respond(482, "Loop Detected");
            }
            CallMsg::Request(inc) => {
                state.pending.push(&inc.msg, inc.reply.clone());
                if inc.msg.call_id() == Some(state.a_call_id.as_str()) {
                    state.a.on_request(&inc.msg, t);
                } else if !state.b.on_request(&inc.msg, t)
                    && !transfer::on_request(state, &inc.msg, t)
                    && inc.msg.method() != Some(&engine::sip::Method::Ack)
                {
                    inc.respond(481, "Call/Transaction Does Not Exist");
                }
            }
            CallMsg::Response(m) => {
                if m.call_id() == Some(state.a_call_id.as_str()) {
                    state.a.on_response(&m, t);
                } else if !state.b.on_response(&m, t) {
                    transfer::on_response(state, &m, t);
                }
            }
            CallMsg::Wake(gen) => {
                if gen != state.timer_gen {
                    return Ok(());
                }
                state.a.on_timeout(t);
                state.b.on_timeout(t);
                transfer::on_timeout(state, t);
            }
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
        }
        settle(&myself, state);
        Ok(())
    }

    async fn post_stop(
        &self,
        _: ActorRef<CallMsg>,
        state: &mut CallState,
    ) -> Result<(), ActorProcessingErr> {
        let _entered = state.span.clone().entered();
        state.journal.close();
        for id in &state.call_ids {
            state.directory.remove_call(state.tenant.id, id);
        }
        Ok(())
    }
}

/// Passes events between the legs until nothing moves, sends what they produced,
/// then arms the next wake-up or ends the call.
fn settle(myself: &ActorRef<CallMsg>, s: &mut CallState) {
    let t = now();
    loop {
        let mut moved = false;
        while let Some(o) = s.a.poll_output() {
            moved = true;
            match o {
                o @ (Output::Send(_) | Output::Respond(_)) => send(s, None, o),
                // A transferor gone while its transfer runs: the other party waits.
                Output::Event(LegEvent::Ended(_)) if transfer::referrer_left(s, None) => {}
                // The caller is gone (CANCEL, BYE, failure): every callee leg ends.
                Output::Event(LegEvent::Ended(c)) => {
                    s.journal.ended(&c, Side::Caller);
                    transfer::abort(s, t);
                    s.b.hangup(487, "Request Terminated", t)
                }
                Output::Event(LegEvent::Request(req)) if transfer::is_refer(&req) => {
                    transfer::refer(myself, s, None, req, t)
                }
                Output::Event(LegEvent::Request(req)) => in_dialog::request(s, None, req, t),
                Output::Event(LegEvent::Response(resp)) => in_dialog::response(s, None, resp, t),
                Output::Event(_) => {}
            }
        }
        while let Some((i, o)) = s.b.poll_output() {
            moved = true;
            match o {
                o @ (Output::Send(_) | Output::Respond(_)) => send(s, Some(i), o),
                Output::Event(LegEvent::Ringing) => {
                    s.journal
                        .publish(CallEventKind::LegRinging { leg: i as u32 });
                    s.a.ring_at(None, t)
                }
                Output::Event(LegEvent::EarlyMedia(sdp)) => {
                    s.journal
                        .publish(CallEventKind::LegRinging { leg: i as u32 });
                    let sdp = answer_caller(s, i, sdp);
                    s.a.ring_at(Some(&sdp), t)
                }
                Output::Event(LegEvent::Answered(sdp)) => {
                    s.journal.answered(i as u32);
                    let sdp = sdp.map(|sdp| answer_caller(s, i, sdp));
                    s.sent_sdp[0].clone_from(&sdp);
                    s.a.answer(sdp.as_ref(), t)
                }
                Output::Event(LegEvent::Ended(_)) if transfer::referrer_left(s, Some(i)) => {}
                Output::Event(LegEvent::Ended(c)) => {
                    transfer::abort(s, t);
                    s.journal.publish(CallEventKind::LegEnded {
                        leg: i as u32,
                        code: c.code,
                        reason: c.reason.clone(),
                        side: side_of(&c, Side::Callee),
                    });
                    s.journal.ended(&c, Side::Callee);
                    let (code, reason) = passed_on(s.reject, &c);
                    s.a.hangup(code, reason, t)
                }
                Output::Event(LegEvent::Request(req)) if transfer::is_refer(&req) => {
                    transfer::refer(myself, s, Some(i), req, t)
                }
                Output::Event(LegEvent::Request(req)) => in_dialog::request(s, Some(i), req, t),
                Output::Event(LegEvent::Response(resp)) => in_dialog::response(s, Some(i), resp, t),
            }
        }
        moved |= transfer::poll(s, t);
        if !moved {
            break;
        }
    }
    // The call is over once both sides ended; retransmission timers may still run.
    if s.a.is_ended() && s.b.is_ended() {
        s.journal.close();
    }
    update_record(s);
    let next = [
        s.a.next_timeout(),
        s.b.next_timeout(),
        transfer::next_timeout(s),
    ]
    .into_iter()
    .flatten()
    .min();
    match next {
        Some(at) => {
            s.timer_gen += 1;
            let gen = s.timer_gen;
            myself.send_after(at.saturating_duration_since(t), move || CallMsg::Wake(gen));
        }
        None if s.a.is_ended() && s.b.is_ended() && s.transfer.is_none() => myself.stop(None),
        None => {}
    }
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
    if req.call_id() == Some(s.a_call_id.as_str()) {
        // The caller's INVITE itself (retransmitted) is not a loop.
        return s.a.invite().and_then(branch_of) != branch_of(req);
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
fn update_record(s: &CallState) {
    let snapshot = |leg: &Leg, flow: Flow| {
        let d = leg.dialog().filter(|_| !leg.is_ended())?;
        Some(supervision::LegSnapshot {
            dialog: d.clone(),
            flow,
            transport: leg.config().transport.clone(),
            sent_by: leg.config().sent_by.clone(),
        })
    };
    let mut legs: Vec<_> = snapshot(&s.a, s.a_flow).into_iter().collect();
    if let Some(w) = s.b.winner() {
        if let (Some(leg), Some(flow)) = (s.b.legs().get(w), s.b_flows.get(w)) {
            legs.extend(snapshot(leg, *flow));
        }
    }
    let mut rec = s.record.lock().unwrap_or_else(|e| e.into_inner());
    rec.legs = legs;
    rec.closed = s.journal.closed;
}

/// Sends what a leg produced: a response to a request we received goes back through
/// that request's transaction; anything else goes along the leg's flow.
fn send(s: &mut CallState, leg: Option<usize>, out: Output) {
    let flow = match leg {
        None => Some(s.a_flow),
        Some(i) => s.b_flows.get(i).copied(),
    };
    send_on(s, flow, out)
}

/// Sends a leg's request or response to the device reached over `flow`.
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

/// Where an SDP wants its (first) audio stream sent.
fn rtp_target(sdp: &engine::sdp::Sdp) -> Option<SocketAddr> {
    let i = sdp.media().iter().position(|m| m.kind() == "audio")?;
    let port = sdp.media()[i].port();
    let ip: IpAddr = sdp.media_connection(i)?.address.parse().ok()?;
    (port != 0).then_some(SocketAddr::new(ip, port))
}

/// Points the relay's side B at the callee's media and returns the SDP for the
/// caller: the switch's answer to the caller's offer (the relay transcoding when the
/// two legs chose different G.711 laws), or the callee's SDP anchored at side A when
/// the caller's offer went through as it was.
fn answer_caller(s: &mut CallState, leg: usize, mut sdp: engine::sdp::Sdp) -> engine::sdp::Sdp {
    let Some((relay, ip)) = &s.media else {
        return sdp;
    };
    // The device that sent this SDP (early media comes before any winner).
    let peer = s.b_flows.get(leg).map(|f| f.peer().ip());
    transfer::Endpoint {
        relay,
        ip: *ip,
        side: RelaySide::B,
        peer,
    }
    .follow_sdp(&sdp, &s.ports);
    let a_port = relay.ports().0.port();
    let own = s
        .a_offer
        .as_ref()
        .and_then(|offer| codecs::caller_answer(offer, &sdp, *ip, a_port, &s.session_id));
    let Some(own) = own else {
        sdp.anchor(*ip, &[a_port]);
        return sdp;
    };
    s.pts = (own.a_pt, own.b_pt);
    if let (Some(a_event), Some(b_event)) = (own.a_event, own.b_event) {
        relay.set_event_pts(a_event, b_event);
    }
    if let (Some(a_pt), Some(b_pt)) = (own.a_pt, own.b_pt) {
        match relay.set_transcode(a_pt, b_pt) {
            Ok(()) if a_pt != b_pt => tracing::debug!(a_pt, b_pt, "call transcodes"),
            Ok(()) => {}
            Err(e) => tracing::debug!(error = %e, "no transcoding"),
        }
    }
    own.sdp
}

/// The status a callee's end gives the caller: a device's own reject (486, 600, 603)
/// as the tenant's reject setting says; anything else as it came.
fn passed_on(reject: Option<crate::store::Reject>, c: &engine::call::Cause) -> (u16, &str) {
    match reject {
        Some(r) if c.side == engine::call::Side::Remote && matches!(c.code, 486 | 600 | 603) => {
            r.response()
        }
        _ => (c.code, c.reason.as_str()),
    }
}

fn side_of(c: &engine::call::Cause, remote: Side) -> Side {
    match c.side {
        engine::call::Side::Remote => remote,
        engine::call::Side::Local => Side::Switch,
    }
}

/// What the journal hears of this call.
struct Journal {
    bus: EventBus,
    call: CallId,
    tenant: crate::proto::TenantId,
    callee: String,
    answered: bool,
    /// The first end: who ended the call and why.
    end: Option<(u16, String, Side)>,
    closed: bool,
}

impl Journal {
    fn publish(&self, kind: CallEventKind) {
        self.bus.publish_now(self.call, self.tenant, kind);
    }

    fn answered(&mut self, leg: u32) {
        if self.answered {
            return;
        }
        self.answered = true;
        self.publish(CallEventKind::LegAnswered {
            leg,
            answered_by: self.callee.clone(),
        });
        self.publish(CallEventKind::CallAnswered {
            answered_by: self.callee.clone(),
        });
    }

    fn ended(&mut self, c: &engine::call::Cause, remote: Side) {
        if self.end.is_none() {
            self.end = Some((c.code, c.reason.clone(), side_of(c, remote)));
        }
    }

    /// The call's last event, once.
    fn close(&mut self) {
        if self.closed {
            return;
        }
        self.closed = true;
        let (code, reason, side) =
            self.end
                .clone()
                .unwrap_or((500, "Call Ended By The Switch".into(), Side::Switch));
        let disposition = if self.answered {
            Disposition::Answered
        } else {
            match (code, side) {
                (486 | 600, _) => Disposition::Busy,
                (487, Side::Caller) => Disposition::Cancelled,
                (480 | 408, _) => Disposition::NoAnswer,
                (403 | 404 | 603, _) => Disposition::Rejected,
                _ => Disposition::Failed,
            }
        };
        // An answered call ended normally is a 200; a session that expired says so.
        let code = if self.answered && !(code == 408 && reason == "Session Expired") {
            200
        } else {
            code
        };
        self.publish(CallEventKind::CallEnded {
            disposition,
            hangup_side: side,
            code,
            reason,
        });
    }
}

/// The header a response is matched by, for tests and logs.
pub fn describe(m: &Message) -> String {
    format!("{:?} {:?}", m.code(), m.header(HeaderName::CSeq))
}
