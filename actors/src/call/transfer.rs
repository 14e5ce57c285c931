//! Call transfer: REFER (RFC 3515) from either party of an answered call, and INVITE
//! with Replaces (RFC 3891).
//!
//! Transfer is moving a channel: a new channel takes the transferor's role, port and
//! place in its bridge, and the transferor's channel retires (driven until its BYE is
//! done, out of the call's way).
//!
//! **Blind transfer.** The transferor's REFER gets 202 and a NOTIFY "100 Trying"; the
//! tenant names the target's devices and a target channel forks to them with the
//! call's first offer, anchored at the port that faced the transferor. When a device
//! answers, that port is pointed at it (the party that stays keeps its port and hears
//! the new party without a re-INVITE), the transferor gets NOTIFY "200 OK" and a BYE.
//! A target that fails gets the failure in a NOTIFY and the call goes on. A
//! transferor that hangs up once its REFER is accepted leaves the other party waiting
//! for the target (ended if the target fails).
//!
//! **Attended transfer.** The REFER's Refer-To carries `?Replaces=` naming the
//! transferor's dialog in its consultation call. This call (1) asks that call (2)
//! through the directory to give up its other party (`CallMsg::GiveUp`): call 2 hands
//! over that party's leg, flow and Call-ID and all its relays, and sends BYE to the
//! transferor. Call 1 puts the party in a channel in the transferor's place and
//! splices the two ports that faced the transferor back to back (each sends to the
//! other), so neither remaining party needs a re-INVITE: each keeps sending to the
//! port it already knows. A call joined this way can be transferred again, by either
//! party, blind or attended: the chain of relays grows by the other call's.
//!
//! **INVITE with Replaces.** Authenticated like any INVITE, then handed by the tenant
//! to the call owning the named dialog: the new leg is answered at the replaced
//! party's port, the replaced leg gets BYE.

use crate::media_relay::{keys_of, SrtpOffer};
use std::time::Instant;

use engine::call::{Cause, Leg, LegEvent, Side as LegSide};
use engine::sdp::{Direction, Sdp};
use engine::sip::{Message, Method, Replaces};
use ractor::rpc::CallResult;
use ractor::ActorRef;

use super::channel::{ChannelId, Legs, Role};
use super::{codecs, fork_to, leg_config, random_token, route, CallState};
use crate::journal::{CallEventKind, Side};
use crate::media_relay::{rtp_target, Port};
use crate::proto::{CallMsg, CallTarget, ChannelHandover, Incoming};

/// A REFER being carried out.
pub struct Transfer {
    /// The transferor's channel.
    referrer: ChannelId,
    /// The target's number (blind).
    to: String,
    /// The transferor hung up after its REFER was accepted.
    referrer_gone: bool,
    /// The channel ringing the target's devices, once they are known.
    target: Option<ChannelId>,
    /// Asked through the API, not by the transferor's REFER: no NOTIFYs, and a
    /// target that fails leaves the call as it was.
    by_api: bool,
}

pub fn is_refer(req: &Message) -> bool {
    req.method() == Some(&Method::Refer)
}

/// NOTIFY of the REFER's implicit subscription with a sipfrag status line.
pub(super) fn notify(s: &mut CallState, referrer: ChannelId, status: &str, last: bool, t: Instant) {
    let state = if last {
        "terminated;reason=noresource"
    } else {
        "active;expires=60"
    };
    let body = format!("SIP/2.0 {status}\r\n");
    s.with_party(referrer, t, |l| {
        if l.is_ended() {
            return;
        }
        l.send_request_with(
            &Method::Notify,
            &[("Event", "refer"), ("Subscription-State", state)],
            Some(("message/sipfrag;version=2.0", body.as_bytes())),
            t,
        );
    });
}

/// A REFER from leg `i` of channel `from`.
pub fn refer(
    myself: &ActorRef<CallMsg>,
    s: &mut CallState,
    from: ChannelId,
    i: usize,
    req: Message,
    t: Instant,
) {
    let respond = |s: &mut CallState, code, reason: &str| {
        s.with_leg(from, i, t, |l| l.respond(&req, code, reason, None, t));
    };
    let refer_to = match req.refer_to() {
        Some(Ok(r)) => r,
        _ => return respond(s, 400, "Bad Refer-To"),
    };
    let answered = |id| s.channel(id).is_some_and(|c| c.answered().is_some());
    let bridged = answered(from) && s.peer_of(from).is_some_and(answered);
    if !bridged || s.transfer.is_some() {
        return respond(s, 491, "Request Pending");
    }
    if refer_to.replaces.is_some() && s.relays.is_empty() {
        // No media anchored (no SDP offer yet): nothing to splice.
        return respond(s, 501, "Not Implemented");
    }
    let to = refer_to.user.clone().unwrap_or_default();
    if refer_to.replaces.is_none() && to.is_empty() {
        return respond(s, 404, "Not Found");
    }
    respond(s, 202, "Accepted");
    tracing::debug!(to = %to, attended = refer_to.replaces.is_some(), "transfer accepted");
    s.transfer = Some(Transfer {
        referrer: from,
        to: to.clone(),
        referrer_gone: false,
        target: None,
        by_api: false,
    });
    notify(s, from, "100 Trying", false, t);
    let me = myself.clone();
    match refer_to.replaces {
        None => find_target(myself, s, from, to),
        Some(rep) => {
            // The call waits for the other call's answer, whatever happens meanwhile.
            s.awaiting_handover = true;
            let other = s.other_call(myself, &rep.call_id);
            let tenant = s.tenant.id;
            tokio::spawn(async move {
                let h = match other {
                    Some(c) => {
                        let to = me.clone();
                        match c.call(|r| CallMsg::GiveUp(tenant, rep, to, r), None).await {
                            Ok(CallResult::Success(h)) => h,
                            _ => None,
                        }
                    }
                    None => None,
                };
                let _ = me.send_message(CallMsg::Joined(h));
            });
        }
    }
}

/// Asks the tenant where line `from`'s transfer to `to` goes (routed as that line
/// dialling it: its permission class applies).
fn find_target(myself: &ActorRef<CallMsg>, s: &CallState, from: ChannelId, to: String) {
    let me = myself.clone();
    let sup = s.tenant.supervisor.clone();
    let by = s
        .channel(from)
        .map(|c| c.user().to_owned())
        .unwrap_or_default();
    tokio::spawn(async move {
        let r = super::hunt::targets(&sup, by, to).await;
        let _ = me.send_message(CallMsg::TransferTargets(r));
    });
}

/// The API transfers the other party of channel `from` (the line asking) to `to`,
/// blind: `from` leaves once the target answers. False when the call is not
/// answered on both sides or a transfer is under way.
pub fn by_api(myself: &ActorRef<CallMsg>, s: &mut CallState, from: ChannelId, to: String) -> bool {
    let answered = |id| s.channel(id).is_some_and(|c| c.answered().is_some());
    let bridged = answered(from) && s.peer_of(from).is_some_and(answered);
    if !bridged || s.transfer.is_some() || to.is_empty() {
        return false;
    }
    tracing::debug!(%to, "transfer asked through the API");
    s.transfer = Some(Transfer {
        referrer: from,
        to: to.clone(),
        referrer_gone: false,
        target: None,
        by_api: true,
    });
    find_target(myself, s, from, to);
    true
}

/// The API's attended transfer: channel `from`'s line leaves this call and its other
/// call, whose far party takes its place here (that call gives it up as for a REFER
/// with Replaces naming the line's dialog there). False when this call is not
/// answered on both sides or a transfer is under way.
pub fn connect_by_api(myself: &ActorRef<CallMsg>, s: &mut CallState, from: ChannelId) -> bool {
    let answered = |id| s.channel(id).is_some_and(|c| c.answered().is_some());
    let bridged = answered(from) && s.peer_of(from).is_some_and(answered);
    if !bridged || s.transfer.is_some() || s.relays.is_empty() {
        return false;
    }
    let line = s
        .channel(from)
        .map(|c| c.user().to_owned())
        .unwrap_or_default();
    s.transfer = Some(Transfer {
        referrer: from,
        to: line.clone(),
        referrer_gone: false,
        target: None,
        by_api: true,
    });
    s.awaiting_handover = true;
    let (sup, me, tenant) = (s.tenant.supervisor.clone(), myself.clone(), s.tenant.id);
    let id = myself.get_id();
    tokio::spawn(async move {
        let handed = async {
            for other in super::merge::other_calls(&sup, &line, id).await? {
                let asked = other
                    .call(
                        |reply| CallMsg::DialogOf {
                            line: line.clone(),
                            reply,
                        },
                        None,
                    )
                    .await;
                let Ok(CallResult::Success(Some(rep))) = asked else {
                    continue;
                };
                let to = me.clone();
                if let Ok(CallResult::Success(h)) = other
                    .call(|r| CallMsg::GiveUp(tenant, rep, to, r), None)
                    .await
                {
                    return h;
                }
            }
            None
        }
        .await;
        let _ = me.send_message(CallMsg::Joined(handed));
    });
    true
}

/// The dialog of line `line`'s answered phone in this call, as a Replaces names it.
pub fn dialog_of(s: &CallState, line: &str) -> Option<Replaces> {
    let c = s
        .channels
        .iter()
        .filter(|c| matches!(c.role, Role::Caller | Role::Callee))
        .find(|c| c.user() == line && s.peer_of(c.id).is_some())?;
    let id = c.answered()?.dialog()?.id();
    Some(Replaces {
        call_id: id.call_id.clone(),
        to_tag: id.remote_tag.clone(),
        from_tag: id.local_tag.clone(),
        early_only: false,
    })
}

/// A party of the call hung up: true (and remembered) when it is the transferor of
/// a transfer under way, whose other party then waits for the target.
pub fn referrer_left(s: &mut CallState, id: ChannelId) -> bool {
    match s.transfer.as_mut() {
        Some(tr) if tr.referrer == id => {
            tr.referrer_gone = true;
            true
        }
        _ => false,
    }
}

/// The call is ending: a transfer under way is given up (its target cancelled).
pub fn abort(s: &mut CallState, t: Instant) {
    let Some(tr) = s.transfer.take() else {
        return;
    };
    if let Some(target) = tr.target.and_then(|id| s.channel_mut(id)) {
        target.role = Role::Retired;
        target.hangup(487, "Request Terminated", t);
    }
    if !tr.referrer_gone && !tr.by_api {
        notify(s, tr.referrer, "487 Request Terminated", true, t);
    }
}

/// The transfer failed: the transferor hears why and the call goes on; if the
/// transferor is gone, the party left waiting is hung up.
fn fail(s: &mut CallState, code: u16, reason: &str, t: Instant) {
    let Some(tr) = s.transfer.take() else {
        return;
    };
    tracing::debug!(code, reason, "transfer failed");
    if let Some(target) = tr.target.and_then(|id| s.channel_mut(id)) {
        target.role = Role::Retired;
    }
    if tr.by_api && !tr.referrer_gone {
        return;
    }
    if !tr.referrer_gone {
        return notify(s, tr.referrer, &format!("{code} {reason}"), true, t);
    }
    s.journal
        .ended(&Cause::new(code, reason, LegSide::Local), Side::Switch);
    if let Some(waiting) = s.peer_of(tr.referrer) {
        if let Some(c) = s.channel_mut(waiting) {
            c.hangup(code, reason, t);
        }
    }
}

/// The devices of a blind transfer's target: a target channel forks to them.
pub fn targets(
    myself: &ActorRef<CallMsg>,
    s: &mut CallState,
    found: Result<Vec<CallTarget>, (u16, &'static str)>,
    t: Instant,
) {
    let Some(tr) = s.transfer.as_ref().filter(|tr| tr.target.is_none()) else {
        return;
    };
    let targets = match found {
        Ok(targets) => targets,
        Err((code, reason)) => return fail(s, code, reason, t),
    };
    let (referrer, to) = (tr.referrer, tr.to.clone());
    // The INVITE comes from the party that stays.
    let from_user = s
        .peer_of(referrer)
        .and_then(|p| s.channel(p))
        .map(|c| c.user().to_owned())
        .unwrap_or_default();
    let port = s.channel(referrer).and_then(|c| c.port);
    let mut sdp = s.b_offer.clone();
    if let (Some(sdp), Some((ip, p))) = (&mut sdp, port.and_then(|p| s.relays.sdp_at(p))) {
        sdp.anchor(ip, &[p]);
        if let Some(port) = port {
            let srtp = SrtpOffer::like(sdp);
            s.relays.seal(port, sdp, srtp);
        }
    }
    let ring = super::RING_TIMEOUT;
    let (legs, flows) = fork_to(s, &targets, (&from_user, &to), sdp.as_ref(), ring, t);
    let lines = targets.iter().map(|d| d.line.clone()).collect();
    let contacts: Vec<String> = targets.iter().map(|d| d.contact.clone()).collect();
    let id = s.add_channel(myself, Role::Target, legs, (flows, lines), &contacts);
    s.keep_trunk_legs(id, &targets);
    if let Some(c) = s.channel_mut(id) {
        c.sent_sdp = sdp;
    }
    if let Some(tr) = s.transfer.as_mut() {
        tr.target = Some(id);
    }
}

/// What the target channel of a blind transfer reported.
pub fn target_event(s: &mut CallState, id: ChannelId, e: LegEvent, t: Instant) {
    if s.transfer.as_ref().and_then(|tr| tr.target) != Some(id) {
        return;
    }
    match e {
        LegEvent::Answered(sdp) => complete(s, id, sdp, t),
        LegEvent::Ended(c) => fail(s, c.code, &c.reason, t),
        _ => {}
    }
}

/// Points `port` at the party now there (its SDP; its SIP comes from `peer`, which
/// alone may latch besides the SDP's address), unheld, speaking the party's codec.
pub(super) fn repoint(
    s: &mut CallState,
    port: Option<Port>,
    sdp: Option<&Sdp>,
    peer: Option<std::net::IpAddr>,
) {
    let Some(port) = port else { return };
    if let Some(sdp) = sdp {
        s.relays.follow(port, sdp, peer, &s.ports);
        s.relays
            .speak(port, codecs::voice_of(sdp), codecs::event_pt(sdp));
    }
    s.relays.hold(port, false, None);
}

/// The target answered: it takes the transferor's place.
fn complete(s: &mut CallState, target: ChannelId, sdp: Option<Sdp>, t: Instant) {
    let Some(tr) = s.transfer.take() else {
        return;
    };
    let port = s.channel(tr.referrer).and_then(|c| c.port);
    let peer = s.channel(target).and_then(|c| c.peer());
    repoint(s, port, sdp.as_ref(), peer);
    if !tr.referrer_gone && !tr.by_api {
        notify(s, tr.referrer, "200 OK", true, t);
    }
    s.with_party(tr.referrer, t, |l| l.hangup(200, "Call Transferred", t));
    // A queue's agent who transferred its caller away is free (its wrap-up starts).
    super::queue::agent_left(s, tr.referrer);
    s.move_into_place(tr.referrer, target);
    if let Some(other) = s.peer_of(target) {
        resume(s, other, t);
    }
    tracing::debug!(to = %tr.to, "call transferred");
    s.journal
        .publish(CallEventKind::CallTransferred { to: tr.to });
}

/// True when `leg`'s dialog is the one `rep` names.
fn names(leg: &Leg, rep: &Replaces) -> bool {
    leg.dialog().is_some_and(|d| {
        let id = d.id();
        rep.matches(&id.call_id, &id.local_tag, &id.remote_tag)
    })
}

/// The bridged party channel whose answered leg has the dialog `rep` names.
/// True when `rep` names the early dialog of a device the call rings now.
fn ringing_named(s: &CallState, rep: &Replaces) -> bool {
    let Some(id) = super::pickup::ringing(s) else {
        return false;
    };
    let Some(c) = s.channel(id) else { return false };
    (0..c.lines.len()).any(|i| {
        c.leg(i)
            .filter(|l| !l.is_ended())
            .is_some_and(|l| names(l, rep))
    })
}

pub(super) fn named_channel(s: &CallState, rep: &Replaces) -> Option<ChannelId> {
    s.channels
        .iter()
        .filter(|c| matches!(c.role, Role::Caller | Role::Callee))
        .filter(|c| s.peer_of(c.id).is_some())
        .find(|c| c.answered().is_some_and(|l| names(l, rep)))
        .map(|c| c.id)
}

/// Call 2 of an attended transfer: the transferor's leg here is the one `rep` names;
/// the other party, the call's relays and the party's Call-ID go to call `to`, the
/// transferor gets BYE.
pub fn give_up(
    s: &mut CallState,
    rep: &Replaces,
    to: &ActorRef<CallMsg>,
    t: Instant,
) -> Option<Box<ChannelHandover>> {
    if s.transfer.is_some() || s.relays.is_empty() {
        return None;
    }
    let referrer = named_channel(s, rep)?;
    let party = s.peer_of(referrer)?;
    let far = s.channel(referrer)?.port?;
    let c = s.channel_mut(party)?;
    let port = c.port?;
    let user = c.user().to_owned();
    let sent_sdp = c.sent_sdp.take();
    let (leg, flow) = c.take_party()?;
    c.role = Role::Retired;
    // A recording of this call ends here; it does not follow the relays.
    if s.recording.take().is_some() {
        if let Some(r) = s.relays.get(0) {
            r.handle.record(None);
        }
    }
    let relays = s.relays.take_all();
    let call_id = leg.call_id().unwrap_or_default().to_owned();
    s.call_ids.retain(|c| *c != call_id);
    s.record
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .call_ids
        .retain(|c| *c != call_id);
    s.directory.add_call(s.tenant.id, &call_id, to.clone());
    s.bridges.retain(|b| !b.contains(&referrer));
    s.journal.ended(
        &Cause::new(200, "Call Transferred", LegSide::Local),
        Side::Switch,
    );
    if let Some(c) = s.channel_mut(referrer) {
        c.role = Role::Retired;
        c.hangup(200, "Call Transferred", t);
    }
    tracing::debug!(%user, "call gives up its party to an attended transfer");
    Some(Box::new(ChannelHandover {
        leg,
        flow,
        call_id,
        user,
        relays,
        party: port,
        far,
        sent_sdp,
    }))
}

/// Call 1 of an attended transfer: the other call's party takes the transferor's
/// place, the two ports that faced the transferor spliced back to back.
pub fn joined(
    myself: &ActorRef<CallMsg>,
    s: &mut CallState,
    h: Option<Box<ChannelHandover>>,
    t: Instant,
) {
    s.awaiting_handover = false;
    let Some(h) = h else {
        return fail(s, 481, "Call/Transaction Does Not Exist", t);
    };
    let h = *h;
    let Some(tr) = s.transfer.take() else {
        // The call ended meanwhile: the party handed over gets its BYE from here.
        let id = s.add_channel(
            myself,
            Role::Retired,
            Legs::One(Box::new(h.leg)),
            (vec![h.flow], vec![h.user]),
            &[],
        );
        if let Some(c) = s.channel_mut(id) {
            c.hangup(200, "Call Ended", t);
        }
        return;
    };
    // The handed-over relays join this call under new ids.
    let mut map = Vec::new();
    for relay in h.relays {
        let old = relay.id;
        let new = s.relays.adopt(relay);
        // Its keys are reported to this call now.
        super::listen_to_media(&s.relays, new, myself);
        map.push((old, new));
    }
    let renumber = |p: Port| Port {
        relay: map
            .iter()
            .find(|(old, _)| *old == p.relay)
            .map_or(u32::MAX, |(_, new)| *new),
        side: p.side,
    };
    let (party_port, far) = (renumber(h.party), renumber(h.far));
    if let Some(near) = s.channel(tr.referrer).and_then(|c| c.port) {
        s.relays.splice(near, far);
        // Whoever the transferor held hears the new party now, not music.
        s.relays.hold(near, false, None);
    }
    s.relays.hold(far, false, None);
    if !tr.referrer_gone && !tr.by_api {
        notify(s, tr.referrer, "200 OK", true, t);
    }
    let role = s.channel(tr.referrer).map_or(Role::Callee, |c| c.role);
    let id = s.add_channel(
        myself,
        role,
        Legs::One(Box::new(h.leg)),
        (vec![h.flow], vec![h.user.clone()]),
        std::slice::from_ref(&h.user),
    );
    s.with_party(tr.referrer, t, |l| l.hangup(200, "Call Transferred", t));
    s.move_into_place(tr.referrer, id);
    if let Some(c) = s.channel_mut(id) {
        c.port = Some(party_port);
        c.sent_sdp = h.sent_sdp;
    }
    if let Some(other) = s.peer_of(id) {
        resume(s, other, t);
    }
    resume(s, id, t);
    tracing::debug!(to = %h.user, "attended transfer joined two calls");
    s.journal
        .publish(CallEventKind::CallTransferred { to: h.user });
}

/// An INVITE with Replaces naming one of this call's dialogs, placed by line `by`:
/// the new device takes that channel's place and port, the replaced leg gets BYE.
/// Only a party of the call may do this (another device of the caller or of the
/// callee); anyone else gets 403, and the call goes on untouched.
pub fn replace(
    myself: &ActorRef<CallMsg>,
    s: &mut CallState,
    by: &str,
    inc: Box<Incoming>,
    t: Instant,
) {
    let rep = match inc.msg.replaces() {
        Some(Ok(r)) => r,
        _ => return inc.respond(400, "Bad Replaces"),
    };
    // A ringing device's early dialog (a busy-lamp key's pickup): the call is picked
    // up by the line asking, as with the directed pickup code.
    if ringing_named(s, &rep) {
        return super::pickup::pick_up(myself, s, by, inc, t);
    }
    if rep.early_only {
        return inc.respond(486, "Busy Here");
    }
    let Some(named) = named_channel(s, &rep).filter(|_| s.transfer.is_none()) else {
        return inc.respond(481, "Call/Transaction Does Not Exist");
    };
    if !s.is_party(by) {
        tracing::info!(by, "INVITE with Replaces from a line not in the call: 403");
        return inc.respond(403, "Not A Party Of That Call");
    }
    let flow = route::flow_of(&inc);
    let user = inc
        .msg
        .from()
        .and_then(|f| f.uri.user_unescaped().map(|u| u.into_owned()))
        .unwrap_or_default();
    let cfg = leg_config(&s.out, flow, &user, None);
    let mut leg = match Leg::incoming(cfg, &inc.msg, &random_token()) {
        Ok(l) => l,
        Err(_) => return inc.respond(400, "Bad Request"),
    };
    s.pending.push(&inc.msg, inc.reply.clone());
    let offer = leg.remote_offer();
    let port = s.channel(named).and_then(|c| c.port);
    let answer = match (&offer, port) {
        (Some(offer), Some(port)) => answer_taker(s, offer, port),
        _ => None,
    };
    if let (Some(offer), Some(own)) = (&offer, &answer) {
        let mut chosen = own.sdp.clone();
        if let Some(r) = rtp_target(offer) {
            chosen.anchor(r.ip(), &[r.port()]);
        }
        keys_of(&mut chosen, offer);
        repoint(s, port, Some(&chosen), Some(flow.peer().ip()));
    }
    leg.answer(answer.as_ref().map(|a| &a.sdp), t);
    let role = s.channel(named).map_or(Role::Callee, |c| c.role);
    let id = s.add_channel(
        myself,
        role,
        Legs::One(Box::new(leg)),
        (vec![flow], vec![user.clone()]),
        std::slice::from_ref(&user),
    );
    s.with_party(named, t, |l| l.hangup(200, "Replaced", t));
    s.move_into_place(named, id);
    if let Some(c) = s.channel_mut(id) {
        c.sent_sdp = answer.map(|a| a.sdp);
    }
    if let Some(other) = s.peer_of(id) {
        resume(s, other, t);
    }
    tracing::debug!(%user, "INVITE with Replaces took a leg's place");
    s.journal
        .publish(CallEventKind::CallTransferred { to: user });
}

/// A party the transferor left on hold (the last SDP it got does not receive) gets a
/// re-INVITE with that SDP in sendrecv, so that it talks to its new peer.
pub(super) fn resume(s: &mut CallState, id: ChannelId, t: Instant) {
    let Some(sdp) = s.channel(id).and_then(|c| c.sent_sdp.clone()) else {
        return;
    };
    let Some(m) = sdp.media().iter().position(|m| m.kind() == "audio") else {
        return;
    };
    if sdp.direction(m).receives() {
        return;
    }
    if reinvite(s, id, sdp, t) {
        tracing::debug!("party left on hold resumed after a transfer");
    }
}

/// Sends channel `id`'s party a re-INVITE with `sdp` (sending and receiving, a new
/// version) and keeps it as what the party was sent last; false when none went.
pub(super) fn reinvite(s: &mut CallState, id: ChannelId, mut sdp: Sdp, t: Instant) -> bool {
    sdp.set_direction(Direction::SendRecv);
    sdp.bump_version();
    let bytes = sdp.to_bytes();
    let sent = s
        .with_party(id, t, |l| {
            l.send_request(&Method::Invite, Some(("application/sdp", &bytes)), t)
        })
        .flatten();
    if sent.is_some() {
        if let Some(c) = s.channel_mut(id) {
            c.sent_sdp = Some(sdp);
        }
    }
    sent.is_some()
}

/// The switch's answer to `offer` from a party taking over the call at `port` (by
/// Replaces or a pickup), sealed with that party's own SRTP keys.
pub(super) fn answer_taker(
    s: &CallState,
    offer: &Sdp,
    port: crate::media_relay::Port,
) -> Option<codecs::CallerAnswer> {
    let (ip, p) = s.relays.sdp_at(port)?;
    let template = s.b_offer.clone().unwrap_or_else(|| offer.clone());
    let mut own = codecs::caller_answer(offer, &template, ip, p, &s.session_id)?;
    s.relays.follow_keys(port, offer);
    s.relays.seal(port, &mut own.sdp, SrtpOffer::None);
    Some(own)
}
