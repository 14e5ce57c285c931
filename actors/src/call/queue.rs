//! A caller waiting in a call queue. The call joins its queue before answering (a
//! full queue sends it on through its walk, to the overflow target); admitted, the
//! switch answers it, says "please hold" and plays music on hold, its position at the
//! queue's interval. The queue offers it to agents: their devices ring as an agent
//! channel while the caller keeps hearing music, and the first to answer takes the
//! caller (the port facing agents is pointed at it, the music stops). An offer that
//! rings out goes back to the queue, which offers the next agent. The exit key, or
//! waiting longer than the queue allows, takes the caller to the exit or overflow
//! target, rung the same way.

use std::time::{Duration, Instant};

use engine::call::{Cause, LegEvent, Side as LegSide};
use engine::sdp::Sdp;
use ractor::rpc::CallResult;
use ractor::ActorRef;

use super::channel::{ChannelId, Role};
use super::{announce, fork_to, hunt, leg_no, leg_rang, CallState};
use crate::journal::{CallEventKind, Side};
use crate::media_relay::Port;
use crate::proto::{CallMsg, HopDevices, QueueEvent, QueueMsg, TenantMsg, WaitRules};
use crate::store::ForwardReason;

/// The port facing the caller, and the one facing agents (as every callee).
use super::{CALLEE_PORT as AGENTS, CALLER_PORT as CALLER};

/// The call's place in its queue.
pub struct Waiting {
    pub number: String,
    queue: ActorRef<QueueMsg>,
    call: ractor::ActorId,
    /// Admitted: the caller is answered and waits.
    admitted: bool,
    /// The switch had answered the caller before it joined (it came from an IVR
    /// menu): it is not answered again, and a full queue sends it to the overflow.
    answered: bool,
    rules: WaitRules,
    since: Instant,
    next_announce: Option<Instant>,
    /// The agents' channel ringing now, and the agents it rings / could not ring.
    offer: Option<(ChannelId, Vec<String>, Vec<String>)>,
    /// The agent who answered.
    agent: Option<String>,
    /// Left the queue for the exit or overflow target.
    onward: bool,
    /// Prompts play to the caller; the music comes back after them.
    prompting: bool,
    /// The call is over for the queue (told in `flush`, once the call's record says
    /// its agent is free).
    gone: bool,
    told: bool,
}

impl Waiting {
    /// Still in line: admitted, nobody answered, not gone on, not over.
    fn in_line(&self) -> bool {
        self.admitted && self.agent.is_none() && !self.onward && !self.gone
    }
}

/// The caller's leg is still up (ringing, or answered and not hung up).
pub(super) fn caller_here(s: &CallState) -> bool {
    s.with_role(Role::Caller)
        .and_then(|id| s.channel(id))
        .is_some_and(|c| !c.is_ended())
}

/// The call's waiting is over (its caller is gone): the queue is told, once.
fn over(s: &mut CallState) {
    left(s);
    flush(s);
}

/// The call goes to wait in queue `number` (`None`: the tenant has no such queue).
pub fn enter(
    myself: &ActorRef<CallMsg>,
    s: &mut CallState,
    number: String,
    queue: Option<ActorRef<QueueMsg>>,
    t: Instant,
) {
    let answered = !s.caller_waiting();
    if answered && !caller_here(s) {
        // The caller hung up (or cancelled) while the queue was looked up.
        return;
    }
    let Some(queue) = queue else {
        if answered {
            return hang_up(s, 404, "Not Found", t);
        }
        return go_on(myself, s, 404, "Not Found", t);
    };
    let join = QueueMsg::Join {
        call: myself.clone(),
        caller: s.parties.caller.clone(),
    };
    if queue.send_message(join).is_err() {
        if answered {
            return hang_up(s, 480, "Temporarily Unavailable", t);
        }
        return go_on(myself, s, 480, "Temporarily Unavailable", t);
    }
    tracing::debug!(queue = %number, "call joins its queue");
    s.queue = Some(Waiting {
        number,
        queue,
        call: myself.get_id(),
        admitted: false,
        answered,
        rules: WaitRules::default(),
        since: t,
        next_announce: None,
        offer: None,
        agent: None,
        onward: false,
        prompting: false,
        gone: false,
        told: false,
    });
}

/// The queue's actor failed and `queue` took over: a call still waiting in it, or
/// served by one of its agents, tells the new actor where it stands (its join again
/// when it was not answered yet).
pub fn restarted(
    myself: &ActorRef<CallMsg>,
    s: &mut CallState,
    number: &str,
    queue: Option<ActorRef<QueueMsg>>,
    t: Instant,
) {
    let caller = s.parties.caller.clone();
    let Some(w) = s.queue.as_mut().filter(|w| w.number == number) else {
        return;
    };
    let Some(queue) = queue else {
        // The queue is gone for good: its callers go on as from a full queue.
        return event(myself, s, QueueEvent::Full, t);
    };
    w.queue = queue;
    if w.gone || w.onward {
        return;
    }
    let msg = if !w.admitted {
        QueueMsg::Join {
            call: myself.clone(),
            caller,
        }
    } else {
        QueueMsg::Rejoin {
            call: myself.clone(),
            caller,
            since: w.since,
            ringing: w.offer.as_ref().map(|o| o.1.clone()).unwrap_or_default(),
            agent: w.agent.clone(),
        }
    };
    tracing::info!(queue = %number, "call tells its restarted queue where it stands");
    let _ = w.queue.send_message(msg);
}

/// The queue cannot take the caller (not answered yet): the walk goes on.
fn go_on(myself: &ActorRef<CallMsg>, s: &mut CallState, code: u16, reason: &str, t: Instant) {
    s.queue = None;
    if !s.caller_waiting() {
        return;
    }
    s.walk.failed(code, reason);
    hunt::next(myself, s, Cause::new(code, reason, LegSide::Local), t);
}

/// What the queue said.
pub fn event(myself: &ActorRef<CallMsg>, s: &mut CallState, e: QueueEvent, t: Instant) {
    if s.queue.is_none() {
        if let QueueEvent::Offer { .. } = e {
            tracing::debug!("offer for a call no longer queued");
        }
        return;
    }
    if !caller_here(s) {
        // Admitted, or offered agents, after the caller left: let them go.
        return over(s);
    }
    let Some(w) = s.queue.as_mut() else { return };
    match e {
        // Admitted already (the queue left the plan): the caller goes on as if it
        // had waited its longest.
        QueueEvent::Full if w.admitted || w.answered => {
            let target = w.rules.overflow.clone();
            leave_for(myself, s, (target, ForwardReason::Overflow), t)
        }
        QueueEvent::Full => {
            let queue = w.number.clone();
            s.journal.publish(CallEventKind::CallQueued {
                queue: queue.clone(),
            });
            passed_on(s, queue, String::new(), ForwardReason::Overflow);
            go_on(myself, s, 480, "Queue Full", t)
        }
        QueueEvent::Admitted { position, rules } => {
            let queue = w.number.clone();
            s.journal.publish(CallEventKind::CallQueued { queue });
            let Some(w) = s.queue.as_mut() else { return };
            w.admitted = true;
            w.since = t;
            w.next_announce = rules.announce_every.map(|d| t + d);
            w.rules = rules;
            admitted(s, position, t);
        }
        QueueEvent::Offer { agents, ring } => {
            if !w.in_line() {
                // Gone on: the queue was told and frees every agent offered it.
                return;
            }
            if w.offer.is_some() {
                // One offer at a time; this one's agents are freed with it.
                tracing::debug!(?agents, "second offer ignored");
                return;
            }
            look_up(myself, s, agents, ring);
        }
        QueueEvent::Position(n) if w.in_line() => {
            let mut prompts = vec!["queue_you_are_caller"];
            prompts.extend(digits(n));
            prompts.push("queue_please_hold");
            prompt(s, &prompts);
        }
        QueueEvent::Position(_) => {}
    }
}

/// The journal hears that queue `from` sent the caller on to `to`.
fn passed_on(s: &CallState, from: String, to: String, reason: ForwardReason) {
    s.journal.publish(CallEventKind::CallForwarded {
        from,
        to,
        reason: reason.as_str().to_owned(),
    });
}

/// The names of the digit prompts saying `n`.
fn digits(n: usize) -> Vec<&'static str> {
    const NAMES: [&str; 10] = [
        "digit_0", "digit_1", "digit_2", "digit_3", "digit_4", "digit_5", "digit_6", "digit_7",
        "digit_8", "digit_9",
    ];
    n.to_string()
        .bytes()
        .map(|b| NAMES[usize::from(b - b'0')])
        .collect()
}

/// Answers the caller, who then hears "please hold" (and its position) and music.
fn admitted(s: &mut CallState, position: usize, t: Instant) {
    let Some(caller) = s.with_role(Role::Caller) else {
        return;
    };
    if !s.queue.as_ref().is_some_and(|w| w.answered) {
        let Some(sdp) = announce::own_answer(s) else {
            return announce::not_acceptable(s, caller, t);
        };
        announce::answer(s, caller, sdp, t);
    }
    let mut prompts = Vec::new();
    if s.queue.as_ref().is_some_and(|w| w.next_announce.is_some()) {
        prompts.push("queue_you_are_caller");
        prompts.extend(digits(position));
    }
    prompts.push("queue_please_hold");
    prompt(s, &prompts);
}

/// Plays `prompts` to the waiting caller; the music comes back after them.
fn prompt(s: &mut CallState, prompts: &[&str]) {
    let playing = s.relays.announce(CALLER, prompts);
    if let Some(w) = s.queue.as_mut() {
        w.prompting = playing;
    }
    if !playing {
        music(s);
    }
}

fn music(s: &mut CallState) {
    s.relays.hold(AGENTS, true, s.music.as_ref());
}

/// Asks the tenant for the devices of the agents offered.
fn look_up(myself: &ActorRef<CallMsg>, s: &mut CallState, agents: Vec<String>, ring: Duration) {
    let Some(w) = s.queue.as_ref() else { return };
    let tenant = s.tenant.supervisor.clone();
    let (me, caller, group) = (myself.clone(), s.parties.caller.clone(), w.number.clone());
    tokio::spawn(async move {
        let lines = agents.clone();
        let found = match tenant
            .call(
                |reply| TenantMsg::HopDevices {
                    lines,
                    caller,
                    group: Some(group),
                    reply,
                },
                None,
            )
            .await
        {
            Ok(CallResult::Success(r)) => r,
            _ => Err((503, "Service Unavailable")),
        };
        let _ = me.send_message(CallMsg::AgentDevices {
            agents,
            ring,
            found,
        });
    });
}

/// The devices of the agents offered: they ring (those the switch cannot ring are
/// reported back with the offer's end).
pub fn agent_devices(
    myself: &ActorRef<CallMsg>,
    s: &mut CallState,
    (agents, ring): (Vec<String>, Duration),
    found: Result<HopDevices, (u16, &'static str)>,
    t: Instant,
) {
    let in_line = s
        .queue
        .as_ref()
        .is_some_and(|w| w.in_line() && w.offer.is_none())
        && caller_here(s);
    if !in_line {
        // The caller left meanwhile: the queue is (or now is) told it is gone.
        if !caller_here(s) {
            over(s);
        }
        return;
    }
    let devices = match found {
        Ok(d) if !d.targets.is_empty() => d,
        _ => return offer_ended(s, Vec::new(), agents),
    };
    let (rung, unreachable): (Vec<String>, Vec<String>) = agents
        .into_iter()
        .partition(|a| devices.targets.iter().any(|d| &d.line == a));
    let id = ring_channel(myself, s, &devices.targets, &devices.codecs, ring, t);
    if let Some(w) = s.queue.as_mut() {
        w.offer = Some((id, rung, unreachable));
    }
}

/// Rings `targets` as an agent channel facing the agents' port, offering the
/// caller's media there; returns the channel.
fn ring_channel(
    myself: &ActorRef<CallMsg>,
    s: &mut CallState,
    targets: &[crate::proto::CallTarget],
    codecs: &[String],
    ring: Duration,
    t: Instant,
) -> ChannelId {
    let to = s
        .queue
        .as_ref()
        .map(|w| w.number.clone())
        .unwrap_or_default();
    ring_for_answered(myself, s, targets, (codecs, &to), ring, t)
}

/// Rings `targets` for a caller the switch answered (waiting in a queue, or in an IVR
/// menu) as an agent channel facing the agents' port, offering the caller's media
/// there, the call shown as to `to`; returns the channel.
pub(super) fn ring_for_answered(
    myself: &ActorRef<CallMsg>,
    s: &mut CallState,
    targets: &[crate::proto::CallTarget],
    (codecs, to): (&[String], &str),
    ring: Duration,
    t: Instant,
) -> ChannelId {
    s.b_offer = super::hop_offer(s, codecs, false);
    let caller = s.parties.caller.clone();
    let to = to.to_owned();
    let offer = s.b_offer.clone();
    let (legs, flows) = fork_to(s, targets, (&caller, &to), offer.as_ref(), ring, t);
    let lines = targets.iter().map(|d| d.line.clone()).collect();
    let contacts: Vec<String> = targets.iter().map(|d| d.contact.clone()).collect();
    let id = s.add_channel(myself, Role::Agent, legs, (flows, lines), &contacts);
    s.keep_trunk_legs(id, targets);
    if let Some(c) = s.channel_mut(id) {
        c.port = Some(AGENTS);
        c.sent_sdp = offer;
    }
    id
}

/// Tells the queue the offer ended unanswered.
fn offer_ended(s: &mut CallState, no_answer: Vec<String>, unreachable: Vec<String>) {
    let Some(w) = s.queue.as_mut() else { return };
    w.offer = None;
    let _ = w.queue.send_message(QueueMsg::OfferEnded {
        call: w.call,
        no_answer,
        unreachable,
    });
}

/// What an agent channel (or the onward target's) reported.
pub fn agent_event(s: &mut CallState, id: ChannelId, i: usize, e: LegEvent, t: Instant) {
    match e {
        LegEvent::Ringing | LegEvent::EarlyMedia(_) => leg_rang(s, id, i),
        LegEvent::Answered(sdp) => connect(s, id, i, sdp),
        LegEvent::Ended(c) => {
            if let Some(ch) = s.channel_mut(id) {
                ch.role = Role::Retired;
            }
            s.journal.publish(CallEventKind::LegEnded {
                leg: leg_no(s, id, i),
                code: c.code,
                reason: c.reason.clone(),
                side: super::journal::side_of(&c, Side::Callee),
            });
            let Some(w) = s.queue.as_mut() else { return };
            let ours = w.offer.as_ref().is_some_and(|(o, ..)| *o == id);
            if !ours {
                return;
            }
            if w.onward {
                // The exit or overflow target did not answer either: the caller is
                // told so by the hang-up.
                w.offer = None;
                return hang_up(s, c.code, &c.reason, t);
            }
            let (_, rung, unreachable) = w.offer.take().unwrap_or_default();
            tracing::debug!(agents = ?rung, code = c.code, "queue offer not answered");
            offer_ended(s, rung, unreachable);
        }
        LegEvent::Request(req) => {
            s.with_leg(id, i, t, |l| {
                l.respond(&req, 481, "Call/Transaction Does Not Exist", None, t)
            });
        }
        LegEvent::Response(_) => {}
    }
}

/// The party of channel `id` (rung by `ring_for_answered`) answered on leg `i`: it
/// takes the caller (the port facing agents is pointed at it, what played there
/// stops); returns its line.
pub(super) fn take_caller(
    s: &mut CallState,
    id: ChannelId,
    i: usize,
    sdp: Option<Sdp>,
) -> Option<String> {
    let caller = s.with_role(Role::Caller)?;
    let peer = s.channel(id).and_then(|c| c.peer());
    super::transfer::repoint(s, Some(AGENTS), sdp.as_ref(), peer);
    let line = s
        .channel(id)
        .map(|c| c.user().to_owned())
        .unwrap_or_default();
    if let Some(c) = s.channel_mut(id) {
        c.role = Role::Callee;
        c.port = Some(AGENTS);
    }
    s.bridge(caller, id);
    s.journal.answered(leg_no(s, id, i), &line);
    Some(line)
}

/// An agent (or the onward target) answered: it takes the caller, the music stops.
fn connect(s: &mut CallState, id: ChannelId, i: usize, sdp: Option<Sdp>) {
    let Some(line) = take_caller(s, id, i, sdp) else {
        return;
    };
    if let Some(w) = s.queue.as_mut() {
        w.offer = None;
        w.prompting = false;
        if !w.onward {
            let _ = w.queue.send_message(QueueMsg::Connected {
                call: w.call,
                agent: line.clone(),
            });
        }
        w.agent = Some(line);
    }
    tracing::debug!("queue call answered");
}

/// The prompts played to the caller are over: the music comes back. False when the
/// port or the call is none of the queue's.
pub fn played(s: &mut CallState, port: Port) -> bool {
    let Some(w) = s.queue.as_mut() else {
        return false;
    };
    if port != CALLER || !w.prompting {
        return false;
    }
    w.prompting = false;
    if w.in_line() {
        music(s);
    }
    true
}

/// The caller pressed `key`: the exit key takes it to the exit target. False when the
/// key is not the queue's.
pub fn key(
    myself: &ActorRef<CallMsg>,
    s: &mut CallState,
    port: Port,
    key: char,
    t: Instant,
) -> bool {
    let Some(w) = s.queue.as_ref().filter(|w| w.in_line() && port == CALLER) else {
        return false;
    };
    if w.rules.exit_key != Some(key) {
        return false;
    }
    let target = w.rules.exit_target.clone();
    tracing::debug!(?target, "caller leaves the queue by key");
    leave_for(myself, s, (target, ForwardReason::Exit), t);
    true
}

/// When the waiting caller next needs the call: its position announcement or the end
/// of its longest wait.
pub fn deadline(s: &CallState) -> Option<Instant> {
    let w = s.queue.as_ref().filter(|w| w.in_line() && caller_here(s))?;
    let max = w.rules.max_wait.map(|d| w.since + d);
    [max, w.next_announce].into_iter().flatten().min()
}

/// A deadline came: overflow after the longest wait, or the position announced.
pub fn expired(myself: &ActorRef<CallMsg>, s: &mut CallState, t: Instant) {
    let Some(w) = s.queue.as_mut().filter(|w| w.in_line()) else {
        return;
    };
    if w.rules.max_wait.is_some_and(|d| t >= w.since + d) {
        let target = w.rules.overflow.clone();
        tracing::debug!(?target, "longest wait over: the caller overflows");
        return leave_for(myself, s, (target, ForwardReason::Overflow), t);
    }
    if let (Some(at), Some(every)) = (w.next_announce, w.rules.announce_every) {
        if t >= at {
            w.next_announce = Some(t + every);
            // Not while an agent rings: the answer would cut it short.
            if w.offer.is_none() {
                let _ = w.queue.send_message(QueueMsg::Position { call: w.call });
            }
        }
    }
}

/// The caller leaves the line for `target` (none: it is hung up): the queue lets it
/// go, an agent still ringing stops, and the target's devices ring instead.
fn leave_for(
    myself: &ActorRef<CallMsg>,
    s: &mut CallState,
    (target, reason): (Option<String>, ForwardReason),
    t: Instant,
) {
    let Some(w) = s.queue.as_mut() else { return };
    w.onward = true;
    let from = w.number.clone();
    passed_on(s, from, target.clone().unwrap_or_default(), reason);
    // The queue lets it go now; an agent still ringing stops.
    over(s);
    let Some(to) = target else {
        return hang_up(s, 480, "Temporarily Unavailable", t);
    };
    let tenant = s.tenant.supervisor.clone();
    let (me, by) = (myself.clone(), s.parties.caller.clone());
    tokio::spawn(async move {
        let found = hunt::targets(&tenant, by, to).await;
        let _ = me.send_message(CallMsg::Onward(found));
    });
}

/// The devices of the exit or overflow target: they ring like an offer.
pub fn onward(
    myself: &ActorRef<CallMsg>,
    s: &mut CallState,
    found: Result<Vec<crate::proto::CallTarget>, (u16, &'static str)>,
    t: Instant,
) {
    if !s
        .queue
        .as_ref()
        .is_some_and(|w| w.onward && w.agent.is_none())
    {
        return;
    }
    match found {
        Ok(targets) if !targets.is_empty() => {
            let id = ring_channel(myself, s, &targets, &[], super::RING_TIMEOUT, t);
            if let Some(w) = s.queue.as_mut() {
                w.offer = Some((id, Vec::new(), Vec::new()));
            }
        }
        Ok(_) => hang_up(s, 480, "Temporarily Unavailable", t),
        Err((code, reason)) => hang_up(s, code, reason, t),
    }
}

/// The caller the switch answered is hung up (BYE), for this cause.
pub(super) fn hang_up(s: &mut CallState, code: u16, reason: &str, t: Instant) {
    s.journal
        .ended(&Cause::new(code, reason, LegSide::Local), Side::Switch);
    if let Some(caller) = s.with_role(Role::Caller) {
        if let Some(c) = s.channel_mut(caller) {
            c.hangup(code, reason, t);
        }
    }
}

/// The call is over for its queue (its caller or its agent hung up, or the agent
/// transferred the caller away): the queue is told in `flush`. Agents still ringing
/// for it stop, and their offer is not counted against them.
pub fn left(s: &mut CallState) {
    let Some(w) = s.queue.as_mut() else { return };
    w.gone = true;
    if let Some((id, ..)) = w.offer.take() {
        if let Some(c) = s.channel_mut(id) {
            c.role = Role::Retired;
            c.hangup(487, "Request Terminated", now());
        }
    }
}

/// Channel `id` left the call: when it is the queue's agent (it transferred the
/// caller away), the agent is free for the queue.
pub fn agent_left(s: &mut CallState, id: ChannelId) {
    let user = s.channel(id).map(|c| c.user().to_owned());
    if s.queue
        .as_ref()
        .is_some_and(|w| w.agent.is_some() && w.agent == user)
    {
        left(s);
    }
}

fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

/// Tells the queue a call that is over, once: after the call's record was updated, so
/// that the tenant sees its agent free when the queue offers it the next caller.
pub fn flush(s: &mut CallState) {
    if let Some(w) = s.queue.as_mut().filter(|w| w.gone && !w.told) {
        w.told = true;
        let _ = w.queue.send_message(QueueMsg::Gone { call: w.call });
    }
}
