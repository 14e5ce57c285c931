//! The call carries out its routing walk (`dialplan::Walk`): each hop is a callee
//! channel forking to the devices of the lines it rings, for the hop's ring time (the
//! legs' own no-answer timer). A hop that ends unanswered is retired and the walk goes
//! on: the next hop's devices are asked of the tenant (which applies the rung lines'
//! group rules: busy-on-busy, drop-off, decline), a target the switch does not ring
//! refuses the caller with its reason, and with nothing left the caller gets the last
//! hop's status. The caller keeps hearing ringing across hops.

use std::time::{Duration, Instant};

use dialplan::WalkStep;
use engine::call::{Cause, Side as LegSide};
use ractor::rpc::CallResult;
use ractor::ActorRef;

use super::channel::{ChannelId, Role};
use super::refusal::{served, Refusal};
use super::{fork_to, passed_on, CallState};
use crate::journal::{CallEventKind, Side};
use crate::proto::{CallMsg, Forwarded, HopDevices, TenantMsg};
use crate::store::ForwardReason;

/// Rings the devices of a hop: a new callee channel, its port the one facing callees.
pub fn ring(
    myself: &ActorRef<CallMsg>,
    s: &mut CallState,
    devices: HopDevices,
    ring: Duration,
    t: Instant,
) {
    s.reject = devices.reject;
    s.b_offer = super::hop_offer(s, &devices.codecs, devices.srtp);
    for f in &devices.forwarded {
        s.journal.forwarded(f);
    }
    // A line forwarding on no answer rings for its delay, then its target rings.
    let ring = match devices.no_answer {
        Some((after, to)) => {
            s.no_answer = Some(to);
            ring.min(after)
        }
        None => {
            s.no_answer = None;
            ring
        }
    };
    let caller = s.parties.caller.clone();
    let callee = s.parties.callee.clone();
    let (legs, flows) = fork_to(
        s,
        &devices.targets,
        (&caller, &callee),
        s.b_offer.as_ref(),
        ring,
        t,
    );
    let lines = devices.targets.iter().map(|d| d.line.clone()).collect();
    let contacts: Vec<String> = devices.targets.iter().map(|d| d.contact.clone()).collect();
    let id = s.add_channel(myself, Role::Callee, legs, (flows, lines), &contacts);
    s.keep_trunk_legs(id, &devices.targets);
    let port = (!s.relays.is_empty()).then_some(super::CALLEE_PORT);
    let offer = s.b_offer.clone();
    if let Some(c) = s.channel_mut(id) {
        c.port = port;
        c.sent_sdp = offer;
    }
    tracing::debug!(
        hop = s.walk.hop(),
        devices = devices.targets.len(),
        "hop rings"
    );
}

/// The hop's channel ended unanswered: it retires and the walk goes on, unless the
/// caller is gone.
pub fn hop_ended(
    myself: &ActorRef<CallMsg>,
    s: &mut CallState,
    id: ChannelId,
    i: usize,
    c: Cause,
    t: Instant,
) {
    s.journal.publish(CallEventKind::LegEnded {
        leg: super::leg_no(s, id, i),
        code: c.code,
        reason: c.reason.clone(),
        side: super::journal::side_of(&c, Side::Callee),
    });
    if let Some(ch) = s.channel_mut(id) {
        ch.role = Role::Retired;
    }
    // Its places on trunks are free again.
    s.trunk_legs.retain(|(c, _)| *c != id);
    if !s.caller_waiting() {
        return;
    }
    // A phone deflected the call (3xx): the switch follows it through the plan, as
    // if the deflecting line had dialled the target; the caller never sees it.
    if let Some(to) = c.redirect.clone().filter(|_| s.forward_hops < 5) {
        s.forward_hops += 1;
        s.no_answer = None;
        let by = s
            .channel(id)
            .and_then(|ch| ch.lines.get(i).cloned())
            .unwrap_or_else(|| s.parties.callee.clone());
        tracing::debug!(%to, %by, "call deflected");
        s.journal.forwarded(&Forwarded {
            from: by.clone(),
            to: to.clone(),
            reason: ForwardReason::Deflected,
        });
        return follow(myself, s, by, to);
    }
    // A redirect not followed (too many) is no answer the caller could use.
    let c = if c.redirect.is_some() {
        Cause::new(480, "Temporarily Unavailable", LegSide::Local)
    } else {
        c
    };
    let forward = s.no_answer.take().filter(|_| s.forward_hops < 5);
    let forward = forward.filter(|_| c.code == 480 && c.side == LegSide::Local);
    if let Some(to) = forward.as_ref().filter(|to| *to == crate::store::VOICEMAIL) {
        // Forwarded to its mailbox on no answer: the walk goes on to the mailbox.
        if let Some(from) = s.channel(id).and_then(|ch| ch.lines.get(i).cloned()) {
            s.journal.forwarded(&Forwarded {
                from,
                to: to.clone(),
                reason: ForwardReason::NoAnswer,
            });
        }
        s.walk.failed(480, "Forwarded to Voicemail");
        return next(
            myself,
            s,
            Cause::new(480, "Forwarded to Voicemail", LegSide::Local),
            t,
        );
    }
    if let Some(to) = forward {
        // Bounded: lines forwarding to each other on no answer do not ring for ever.
        s.forward_hops += 1;
        tracing::debug!(%to, "no answer: call forwarded");
        if let Some(from) = s.channel(id).and_then(|ch| ch.lines.get(i).cloned()) {
            s.journal.forwarded(&Forwarded {
                from,
                to: to.clone(),
                reason: ForwardReason::NoAnswer,
            });
        }
        return ring_lines(
            myself,
            s,
            s.walk.hop(),
            (vec![to], None),
            super::RING_TIMEOUT,
        );
    }
    let (code, reason) = passed_on(s.reject, &c);
    tracing::debug!(hop = s.walk.hop(), code, "hop failed");
    s.walk.failed(code, reason.clone());
    next(myself, s, Cause::new(code, &reason, c.side), t);
}

/// The devices of hop `hop` were found (or not).
pub fn found(
    myself: &ActorRef<CallMsg>,
    s: &mut CallState,
    hop: u32,
    ring_for: Duration,
    devices: Result<HopDevices, (u16, &'static str)>,
    t: Instant,
) {
    if s.hop_pending != Some(hop) {
        return;
    }
    s.hop_pending = None;
    if !s.caller_waiting() {
        return;
    }
    match devices {
        Ok(d) => ring(myself, s, d, ring_for, t),
        Err((code, reason)) => {
            s.walk.failed(code, reason);
            next(myself, s, Cause::new(code, reason, LegSide::Local), t)
        }
    }
}

/// Rings where line `by` would reach by dialling `to` (routed by the plan, like a
/// blind transfer's target), as the current hop.
fn follow(myself: &ActorRef<CallMsg>, s: &mut CallState, by: String, to: String) {
    let hop = s.walk.hop();
    s.hop_pending = Some(hop);
    let tenant = s.tenant.supervisor.clone();
    let me = myself.clone();
    tokio::spawn(async move {
        let found = targets(&tenant, by, to).await.map(HopDevices::of);
        let _ = me.send_message(CallMsg::Hop(hop, super::RING_TIMEOUT, found));
    });
}

/// The API deflects the call ringing line `line` to `to`: its devices stop ringing
/// and the call goes there, routed as if `line` had dialled it. False when the call
/// is not ringing that line.
pub fn deflect(
    myself: &ActorRef<CallMsg>,
    s: &mut CallState,
    line: &str,
    to: String,
    t: Instant,
) -> bool {
    let ringing = s.with_role(Role::Callee).filter(|id| {
        s.channel(*id)
            .is_some_and(|c| c.answered().is_none() && c.lines.iter().any(|l| l == line))
    });
    let Some(id) = ringing.filter(|_| s.caller_waiting() && s.forward_hops < 5 && !to.is_empty())
    else {
        return false;
    };
    s.forward_hops += 1;
    s.no_answer = None;
    if let Some(ch) = s.channel_mut(id) {
        ch.role = Role::Retired;
        ch.hangup(487, "Deflected", t);
    }
    s.trunk_legs.retain(|(c, _)| *c != id);
    tracing::debug!(%to, by = line, "call deflected through the API");
    s.journal.forwarded(&Forwarded {
        from: line.to_owned(),
        to: to.clone(),
        reason: ForwardReason::Deflected,
    });
    follow(myself, s, line.to_owned(), to);
    true
}

/// The devices line `by` reaches by dialling `to`, routed by the tenant's plan (a
/// blind transfer's target, a deflection's), or why none.
pub(super) async fn targets(
    tenant: &ActorRef<TenantMsg>,
    by: String,
    to: String,
) -> Result<Vec<crate::proto::CallTarget>, (u16, &'static str)> {
    match tenant
        .call(
            |reply| TenantMsg::Targets {
                from: by,
                ext: to,
                reply,
            },
            None,
        )
        .await
    {
        Ok(CallResult::Success(r)) => r,
        _ => Err((503, "Service Unavailable")),
    }
}

/// Asks the tenant for the devices of `lines`, to ring as hop `hop` for `ring`.
fn ring_lines(
    myself: &ActorRef<CallMsg>,
    s: &mut CallState,
    hop: u32,
    (lines, group): (Vec<String>, Option<String>),
    ring: Duration,
) {
    s.hop_pending = Some(hop);
    let tenant = s.tenant.supervisor.clone();
    let me = myself.clone();
    let caller = s.parties.caller.clone();
    tokio::spawn(async move {
        let found = match tenant
            .call(
                |reply| TenantMsg::HopDevices {
                    lines,
                    caller,
                    group,
                    reply,
                },
                None,
            )
            .await
        {
            Ok(CallResult::Success(r)) => r,
            _ => Err((503, "Service Unavailable")),
        };
        let _ = me.send_message(CallMsg::Hop(hop, ring, found));
    });
}

/// Takes the walk's next step; `last` is how the previous hop ended.
pub(super) fn next(myself: &ActorRef<CallMsg>, s: &mut CallState, last: Cause, t: Instant) {
    match s.walk.next_step() {
        WalkStep::Ring {
            hop,
            lines,
            ring,
            target,
        } => {
            let group = match target {
                dialplan::Target::HuntGroup { number, .. } => Some(number),
                _ => None,
            };
            ring_lines(myself, s, hop, (lines, group), ring)
        }
        WalkStep::Trunk {
            hop, trunk, target, ..
        } => trunk_hop(myself, s, hop, trunk, target),
        WalkStep::Serve(dialplan::Target::Announcement { announcement }) => {
            // Played to the caller after the hops failed (no trunk took an emergency
            // call), then the call ends.
            s.last_side = last.side;
            let tenant = s.tenant.supervisor.clone();
            let me = myself.clone();
            tokio::spawn(async move {
                let name = announcement.clone();
                let found = match tenant
                    .call(|reply| TenantMsg::Prompt { name, reply }, None)
                    .await
                {
                    Ok(CallResult::Success(found)) => found,
                    _ => None,
                };
                let _ = me.send_message(CallMsg::Message(announcement, found));
            });
        }
        WalkStep::Serve(dialplan::Target::Queue { number, .. }) => {
            // The caller waits in the queue (its actor asked of the tenant).
            let tenant = s.tenant.supervisor.clone();
            let me = myself.clone();
            tokio::spawn(async move {
                let n = number.clone();
                let handle = match tenant
                    .call(|reply| TenantMsg::Queue { number: n, reply }, None)
                    .await
                {
                    Ok(CallResult::Success(h)) => h,
                    _ => None,
                };
                let _ = me.send_message(CallMsg::EnterQueue(number, handle));
            });
        }
        WalkStep::Serve(dialplan::Target::IvrMenu { number, .. }) => {
            // A menu reached later in the walk (a fallback, a forwarding): the tenant
            // hands it over ready to serve.
            super::ivr::ask(myself, s, number, None);
        }
        WalkStep::Serve(dialplan::Target::Voicemail { mailbox }) => {
            // After the hops failed (no answer, busy): the line's mailbox, if it has
            // one (the tenant knows).
            s.last_side = last.side;
            let tenant = s.tenant.supervisor.clone();
            let me = myself.clone();
            tokio::spawn(async move {
                let m = mailbox.clone();
                let found = match tenant
                    .call(|reply| TenantMsg::Mailbox { mailbox: m, reply }, None)
                    .await
                {
                    Ok(CallResult::Success(found)) => found,
                    _ => None,
                };
                let _ = me.send_message(CallMsg::Mailbox(mailbox, found));
            });
        }
        WalkStep::Serve(target) => {
            let r = served(&target, s.walk.last_failure());
            refuse(s, r, last.side, t)
        }
        WalkStep::Exhausted { code, reason } => {
            refuse(s, Refusal::exhausted(code, reason), last.side, t)
        }
    }
}

/// Asks the tenant for hop `hop` out on `trunk` (the INVITE made for the carrier, a
/// place on the trunk), to ring for the call's ring time.
fn trunk_hop(
    myself: &ActorRef<CallMsg>,
    s: &mut CallState,
    hop: u32,
    trunk: dialplan::TrunkDial,
    target: dialplan::Target,
) {
    s.hop_pending = Some(hop);
    let ask = Box::new(crate::proto::trunk::TrunkHopAsk {
        trunk,
        target,
        caller: s.parties.caller.clone(),
        anonymous: s.parties.anonymous,
        shown: s.parties.shown.clone(),
        diverted_by: s.journal.forwarded_by.clone(),
    });
    let tenant = s.tenant.supervisor.clone();
    let me = myself.clone();
    tokio::spawn(async move {
        let found = match tenant
            .call(|reply| TenantMsg::TrunkHop { hop: ask, reply }, None)
            .await
        {
            Ok(CallResult::Success(Ok(d))) => Ok(d),
            Ok(CallResult::Success(Err((code, _)))) => Err((code, "Service Unavailable")),
            _ => Err((503, "Service Unavailable")),
        };
        let _ = me.send_message(CallMsg::Hop(hop, super::RING_TIMEOUT, found));
    });
}

/// The announcement `name` the walk reached, as the tenant found it: played to the
/// caller, who is then hung up; none: refused as for a target not built.
pub fn message(
    s: &mut CallState,
    name: String,
    found: Option<media::wav::Announcement>,
    t: Instant,
) {
    let Some(caller) = s.with_role(Role::Caller).filter(|_| s.caller_waiting()) else {
        return;
    };
    match found {
        Some(a) => {
            super::announce::arrive_playing(s, caller, vec![a], &format!("announcement {name}"), t)
        }
        None => {
            let r = served(
                &dialplan::Target::Announcement { announcement: name },
                s.walk.last_failure(),
            );
            let side = s.last_side;
            refuse(s, r, side, t)
        }
    }
}

/// Mailbox `mailbox` the walk reached, as the tenant found it: the caller leaves a
/// message, or (no mailbox) is refused as for a target not built.
pub fn mailbox(
    s: &mut CallState,
    mailbox: String,
    found: Option<Box<crate::proto::VoicemailBox>>,
    t: Instant,
) {
    let Some(caller) = s.with_role(Role::Caller).filter(|_| s.caller_waiting()) else {
        return;
    };
    match found {
        Some(b) => super::voicemail::arrive(s, caller, *b, t),
        None => {
            let r = served(
                &dialplan::Target::Voicemail { mailbox },
                s.walk.last_failure(),
            );
            let side = s.last_side;
            refuse(s, r, side, t)
        }
    }
}

/// The caller is refused: the status with a `Warning` naming why.
fn refuse(s: &mut CallState, r: Refusal, side: LegSide, t: Instant) {
    tracing::info!(code = r.code, warning = ?r.warning, "call refused by its routing");
    s.journal
        .ended(&Cause::new(r.code, r.reason, side), Side::Callee);
    let warning = r
        .warning
        .as_ref()
        .map(|w| format!("399 pbx \"{}\"", w.replace('"', "'")));
    let headers: Vec<(&str, &str)> = warning.iter().map(|w| ("Warning", w.as_str())).collect();
    if let Some(caller) = s.with_role(Role::Caller) {
        s.with_party(caller, t, |l| l.refuse(r.code, r.reason, &headers, t));
    }
}
