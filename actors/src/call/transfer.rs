//! Call transfer: REFER (RFC 3515) from either party of an answered call, and INVITE
//! with Replaces (RFC 3891).
//!
//! **Blind transfer.** The transferor's REFER gets 202 and a NOTIFY "100 Trying"; the
//! tenant supervisor names the target's devices and the call forks to them with its
//! first offer, anchored at the relay side that faced the transferor. When a device
//! answers, that relay side is pointed at it (the party that stays keeps its side and
//! hears the new party without a re-INVITE), the transferor gets NOTIFY "200 OK" and a
//! BYE, and its leg is retired: driven until its BYE is done, out of the call's way.
//! A target that fails gets the failure in a NOTIFY and the call goes on. A
//! transferor that hangs up once its REFER is accepted leaves the other party waiting
//! for the target (ended if the target fails).
//!
//! **Attended transfer.** The REFER's Refer-To carries `?Replaces=` naming the
//! transferor's dialog in its consultation call. This call (1) asks that call (2)
//! through the directory to give up its other party (`CallMsg::GiveUp`): call 2 hands
//! over that party's leg, flow and Call-ID and its own media relay, and sends BYE to
//! the transferor. Call 1 puts the leg in the transferor's place and bridges the two
//! relays back to back over the ports that faced the transferor (relay 1 sends to
//! relay 2's port and the other way round), so neither remaining party needs a
//! re-INVITE: each keeps sending to the port it already knows. Call 1 keeps relay 2
//! (`JoinedMedia`) and routes that party's SDP through it. One join per call: a call
//! with a joined relay refuses a second attended transfer.
//!
//! **INVITE with Replaces.** Authenticated like any INVITE, then handed by the tenant
//! to the call owning the named dialog: the new leg is answered at the replaced
//! party's relay side, the replaced leg gets BYE.

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use engine::call::{Cause, Fork, Leg, LegEvent, LegState, Output, Side as LegSide};
use engine::sdp::{Direction, Sdp};
use engine::sip::{Message, Method, Replaces};
use ractor::rpc::CallResult;
use ractor::ActorRef;

use super::{
    codecs, in_dialog, leg_config, outgoing_legs, random_token, route, rtp_target, send_on,
    CallState, NewLegs,
};
use crate::journal::{CallEventKind, Side};
use crate::media_relay::{RelayHandle, Side as RelaySide};
use crate::proto::TenantMsg;
use crate::proto::{CallMsg, CallTarget, ChannelHandover, Flow, Incoming};

/// Where the switch meets one party's media: a relay, the switch's IP there, and the
/// relay side facing the party.
pub struct Endpoint<'a> {
    pub relay: &'a RelayHandle,
    pub ip: IpAddr,
    pub side: RelaySide,
    /// Where the party's SIP comes from (its media may latch from that address).
    pub peer: Option<IpAddr>,
}

impl Endpoint<'_> {
    /// Points the relay's side at what the party's SDP names, when the switch may
    /// send there before hearing from it (`latch::sdp_target_allowed`), and lets the
    /// party's signalling address latch.
    pub fn follow_sdp(&self, sdp: &Sdp, pool: &crate::media_relay::PortPool) {
        if let Some(peer) = self.peer {
            self.relay.set_signalling(self.side, peer);
        }
        let Some(remote) = rtp_target(sdp) else {
            return;
        };
        if crate::media_relay::sdp_target_allowed(remote, self.ip, |p| pool.owns(p)) {
            self.relay.set_remote(self.side, remote);
        } else {
            tracing::debug!(%remote, "SDP names an address media is not sent to before latching");
            self.relay.forget_remote(self.side);
        }
    }

    /// The switch's RTP port facing the party.
    pub fn port(&self) -> u16 {
        self.addr().port()
    }

    fn addr(&self) -> SocketAddr {
        let (a, b) = self.relay.ports();
        let port = match self.side {
            RelaySide::A => a.port(),
            RelaySide::B => b.port(),
        };
        SocketAddr::new(self.ip, port)
    }
}

/// Another call's relay joined into this one, and which party talks through it.
pub struct JoinedMedia {
    relay: RelayHandle,
    ip: IpAddr,
    side: RelaySide,
    /// The party is the call's leg `a` (else the callee's fork).
    on_a: bool,
}

/// The media endpoint of the caller's leg (`None`) or the callee's (`Some`).
pub fn endpoint(s: &CallState, leg: Option<usize>) -> Option<Endpoint<'_>> {
    let peer = match leg {
        None => Some(s.a_flow),
        Some(i) => s.b_flows.get(i).copied(),
    }
    .map(|f| f.peer().ip());
    if let Some(j) = s.joined.as_ref().filter(|j| j.on_a == leg.is_none()) {
        return Some(Endpoint {
            relay: &j.relay,
            ip: j.ip,
            side: j.side,
            peer,
        });
    }
    let (relay, ip) = s.media.as_ref()?;
    let side = match leg {
        None => RelaySide::A,
        Some(_) => RelaySide::B,
    };
    Some(Endpoint {
        relay,
        ip: *ip,
        side,
        peer,
    })
}

/// Legs the call drives but no longer talks through.
pub struct Retired {
    fork: Fork,
    flows: Vec<Flow>,
}

/// A REFER being carried out.
pub struct Transfer {
    /// The transferor: the caller's leg (`None`) or callee leg `i`.
    referrer: Option<usize>,
    /// The target's extension (blind).
    to: String,
    /// The transferor hung up after its REFER was accepted.
    referrer_gone: bool,
    /// The fork to the target's devices, once they are known.
    target: Option<Retired>,
    /// The offer the target's devices got.
    offer: Option<Sdp>,
}

pub fn is_refer(req: &Message) -> bool {
    req.method() == Some(&Method::Refer)
}

fn respond(
    s: &mut CallState,
    leg: Option<usize>,
    req: &Message,
    code: u16,
    reason: &str,
    t: Instant,
) {
    in_dialog::with_leg(s, leg, t, |l| l.respond(req, code, reason, None, t));
}

/// NOTIFY of the REFER's implicit subscription with a sipfrag status line.
fn notify(s: &mut CallState, leg: Option<usize>, status: &str, last: bool, t: Instant) {
    let state = if last {
        "terminated;reason=noresource"
    } else {
        "active;expires=60"
    };
    let body = format!("SIP/2.0 {status}\r\n");
    in_dialog::with_leg(s, leg, t, |l| {
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

/// A REFER from the caller's leg (`from` = `None`) or callee leg `from`.
pub fn refer(
    myself: &ActorRef<CallMsg>,
    s: &mut CallState,
    from: Option<usize>,
    req: Message,
    t: Instant,
) {
    let refer_to = match req.refer_to() {
        Some(Ok(r)) => r,
        _ => return respond(s, from, &req, 400, "Bad Refer-To", t),
    };
    let answered = s.a.state() == LegState::Answered && s.b.winner().is_some();
    if !answered || s.transfer.is_some() {
        return respond(s, from, &req, 491, "Request Pending", t);
    }
    if refer_to.replaces.is_some() && (s.joined.is_some() || s.media.is_none()) {
        return respond(s, from, &req, 501, "Not Implemented", t);
    }
    let to = refer_to.user.clone().unwrap_or_default();
    if refer_to.replaces.is_none() && to.is_empty() {
        return respond(s, from, &req, 404, "Not Found", t);
    }
    respond(s, from, &req, 202, "Accepted", t);
    tracing::debug!(to = %to, attended = refer_to.replaces.is_some(), "transfer accepted");
    s.transfer = Some(Transfer {
        referrer: from,
        to: to.clone(),
        referrer_gone: false,
        target: None,
        offer: None,
    });
    notify(s, from, "100 Trying", false, t);
    let me = myself.clone();
    match refer_to.replaces {
        None => {
            let sup = s.tenant.supervisor.clone();
            let by = match from {
                None => s.parties.caller.clone(),
                Some(_) => s.parties.callee.clone(),
            };
            tokio::spawn(async move {
                let r = match sup
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
                };
                let _ = me.send_message(CallMsg::TransferTargets(r));
            });
        }
        Some(rep) => {
            let other = s
                .directory
                .call(s.tenant.id, &rep.call_id)
                .filter(|c| c.get_id() != myself.get_id());
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

/// A party of the call hung up: true (and remembered) when it is the transferor of
/// a transfer under way, whose other party then waits for the target.
pub fn referrer_left(s: &mut CallState, leg: Option<usize>) -> bool {
    let Some(tr) = s.transfer.as_mut() else {
        return false;
    };
    let is_referrer = tr.referrer.is_none() == leg.is_none();
    if is_referrer {
        tr.referrer_gone = true;
    }
    is_referrer
}

/// The call is ending: a transfer under way is given up (its target cancelled).
pub fn abort(s: &mut CallState, t: Instant) {
    let Some(mut tr) = s.transfer.take() else {
        return;
    };
    if let Some(mut target) = tr.target.take() {
        target.fork.hangup(487, "Request Terminated", t);
        s.retired.push(target);
    }
    if !tr.referrer_gone {
        notify(s, tr.referrer, "487 Request Terminated", true, t);
    }
}

/// The transfer failed: the transferor hears why and the call goes on; if the
/// transferor is gone, the party left waiting is hung up.
fn fail(s: &mut CallState, code: u16, reason: &str, t: Instant) {
    let Some(mut tr) = s.transfer.take() else {
        return;
    };
    tracing::debug!(code, reason, "transfer failed");
    if let Some(target) = tr.target.take() {
        s.retired.push(target);
    }
    if !tr.referrer_gone {
        return notify(s, tr.referrer, &format!("{code} {reason}"), true, t);
    }
    s.journal
        .ended(&Cause::new(code, reason, LegSide::Local), Side::Switch);
    match tr.referrer {
        None => s.b.hangup(code, reason, t),
        Some(_) => s.a.hangup(code, reason, t),
    }
}

/// The devices of a blind transfer's target: the call forks to them.
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
    let referrer = tr.referrer;
    let to = tr.to.clone();
    // The INVITE comes from the party that stays.
    let from_user = match referrer {
        None => s.parties.callee.clone(),
        Some(_) => s.parties.caller.clone(),
    };
    let mut sdp = s.b_offer.clone();
    if let (Some(sdp), Some(ep)) = (&mut sdp, endpoint(s, referrer)) {
        sdp.anchor(ep.ip, &[ep.port()]);
    }
    let NewLegs {
        legs,
        flows,
        call_ids,
    } = outgoing_legs(
        &s.out,
        &s.parties,
        &targets,
        &from_user,
        &to,
        sdp.as_ref(),
        t,
    );
    register(myself, s, &call_ids);
    if let Some(tr) = s.transfer.as_mut() {
        tr.target = Some(Retired {
            fork: Fork::new(legs, t),
            flows,
        });
        tr.offer = sdp;
    }
}

/// Registers Call-IDs of new legs: directory, supervisor's record, the call's list.
fn register(myself: &ActorRef<CallMsg>, s: &mut CallState, call_ids: &[String]) {
    for id in call_ids {
        s.directory.add_call(s.tenant.id, id, myself.clone());
    }
    s.record
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .call_ids
        .extend(call_ids.iter().cloned());
    s.call_ids.extend(call_ids.iter().cloned());
}

/// Points the endpoint that faced leg `slot` at the party now there (its SDP; its
/// SIP comes from `peer`, which alone may latch besides the SDP's address), and
/// transcodes between the two parties' laws when they differ.
fn repoint(s: &mut CallState, slot: Option<usize>, sdp: Option<&Sdp>, peer: Option<IpAddr>) {
    let pt = sdp.and_then(codecs::voice_pt);
    if let Some(mut ep) = endpoint(s, slot) {
        // Not the party that left: the flows are swapped after this.
        ep.peer = peer;
        if peer.is_none() {
            ep.relay.clear_signalling(ep.side);
        }
        if let Some(sdp) = sdp {
            ep.follow_sdp(sdp, &s.ports);
        }
        ep.relay.set_hold(ep.side, false);
    }
    if s.joined.is_some() {
        return;
    }
    let pts = match slot {
        None => (pt, s.pts.1),
        Some(_) => (s.pts.0, pt),
    };
    s.pts = pts;
    if let (Some((relay, _)), (Some(a), Some(b))) = (&s.media, pts) {
        if let Err(e) = relay.set_transcode(a, b) {
            tracing::debug!(error = %e, "no transcoding after transfer");
        }
    }
}

/// Puts `leg` (over `flow`) in the place of the caller's leg (`slot` = `None`) or the
/// callee's fork, after hanging up the leg that was there (retired).
fn take_place(
    s: &mut CallState,
    slot: Option<usize>,
    leg: Leg,
    flow: Flow,
    reason: &str,
    t: Instant,
) {
    in_dialog::with_leg(s, slot, t, |l| l.hangup(200, reason, t));
    match slot {
        None => {
            s.a_call_id = leg.call_id().unwrap_or_default().to_owned();
            let old = std::mem::replace(&mut s.a, leg);
            let old_flow = std::mem::replace(&mut s.a_flow, flow);
            s.retired.push(Retired {
                fork: Fork::new(vec![old], t),
                flows: vec![old_flow],
            });
        }
        Some(_) => {
            let old = std::mem::replace(&mut s.b, Fork::answered(leg, t));
            let old_flows = std::mem::replace(&mut s.b_flows, vec![flow]);
            s.retired.push(Retired {
                fork: old,
                flows: old_flows,
            });
        }
    }
}

/// The target answered: it takes the transferor's place.
fn complete(s: &mut CallState, sdp: Option<Sdp>, t: Instant) {
    let Some(mut tr) = s.transfer.take() else {
        return;
    };
    let Some(mut target) = tr.target.take() else {
        return;
    };
    let target_peer = target
        .fork
        .winner()
        .and_then(|w| target.flows.get(w))
        .map(|f| f.peer().ip());
    repoint(s, tr.referrer, sdp.as_ref(), target_peer);
    if !tr.referrer_gone {
        notify(s, tr.referrer, "200 OK", true, t);
    }
    match tr.referrer {
        Some(_) => {
            // The target's fork becomes the callee's side as it is.
            in_dialog::with_leg(s, tr.referrer, t, |l| l.hangup(200, "Call Transferred", t));
            let old = std::mem::replace(&mut s.b, target.fork);
            let old_flows = std::mem::replace(&mut s.b_flows, target.flows);
            s.retired.push(Retired {
                fork: old,
                flows: old_flows,
            });
        }
        None => {
            let w = target.fork.winner().unwrap_or(0);
            let flow = target.flows.get(w).copied();
            if let (Some(leg), Some(flow)) = (target.fork.take_winner(), flow) {
                take_place(s, None, leg, flow, "Call Transferred", t);
            }
            s.retired.push(target);
        }
    }
    s.sent_sdp[slot_index(tr.referrer)] = tr.offer.take();
    let other = other_party(s, tr.referrer);
    resume(s, other, t);
    tracing::debug!(to = %tr.to, "call transferred");
    s.journal
        .publish(CallEventKind::CallTransferred { to: tr.to });
}

/// Drives the legs outside the call's two sides: the transfer target's fork and the
/// retired legs. True when anything moved.
pub fn poll(s: &mut CallState, t: Instant) -> bool {
    let mut moved = false;
    loop {
        let next = s
            .transfer
            .as_mut()
            .and_then(|tr| tr.target.as_mut())
            .and_then(|tg| tg.fork.poll_output().map(|o| (o, tg.flows.clone())));
        let Some(((i, o), flows)) = next else { break };
        moved = true;
        match o {
            o @ (Output::Send(_) | Output::Respond(_)) => send_on(s, flows.get(i).copied(), o),
            Output::Event(LegEvent::Answered(sdp)) => complete(s, sdp, t),
            Output::Event(LegEvent::Ended(c)) => fail(s, c.code, &c.reason, t),
            Output::Event(_) => {}
        }
    }
    let mut k = 0;
    while k < s.retired.len() {
        while let Some((i, o)) = s.retired[k].fork.poll_output() {
            moved = true;
            match o {
                o @ (Output::Send(_) | Output::Respond(_)) => {
                    let flow = s.retired[k].flows.get(i).copied();
                    send_on(s, flow, o)
                }
                Output::Event(LegEvent::Request(req)) => {
                    s.retired[k].fork.with_leg(i, t, |l| {
                        l.respond(&req, 481, "Call/Transaction Does Not Exist", None, t)
                    });
                }
                Output::Event(_) => {}
            }
        }
        let r = &s.retired[k].fork;
        if r.is_ended() && r.next_timeout().is_none() {
            s.retired.remove(k);
        } else {
            k += 1;
        }
    }
    moved
}

/// The forks outside the call's two sides, target first.
fn others(s: &mut CallState) -> impl Iterator<Item = &mut Fork> {
    let target = s
        .transfer
        .as_mut()
        .and_then(|tr| tr.target.as_mut())
        .map(|tg| &mut tg.fork);
    target
        .into_iter()
        .chain(s.retired.iter_mut().map(|r| &mut r.fork))
}

/// A request for a transfer target's or a retired leg; false when none owns it.
pub fn on_request(s: &mut CallState, req: &Message, t: Instant) -> bool {
    others(s).any(|f| f.on_request(req, t))
}

/// A response for a transfer target's or a retired leg.
pub fn on_response(s: &mut CallState, resp: &Message, t: Instant) -> bool {
    others(s).any(|f| f.on_response(resp, t))
}

pub fn on_timeout(s: &mut CallState, t: Instant) {
    for f in others(s) {
        f.on_timeout(t);
    }
}

pub fn next_timeout(s: &CallState) -> Option<Instant> {
    let target = s
        .transfer
        .as_ref()
        .and_then(|tr| tr.target.as_ref())
        .and_then(|tg| tg.fork.next_timeout());
    s.retired
        .iter()
        .filter_map(|r| r.fork.next_timeout())
        .chain(target)
        .min()
}

/// True when `leg`'s dialog is the one `rep` names.
fn names(leg: &Leg, rep: &Replaces) -> bool {
    leg.dialog().is_some_and(|d| {
        let id = d.id();
        rep.matches(&id.call_id, &id.local_tag, &id.remote_tag)
    })
}

/// Which answered leg of the call `rep` names: the caller's (`None`) or the callee's.
fn named_leg(s: &CallState, rep: &Replaces) -> Option<Option<usize>> {
    if s.a.state() != LegState::Answered {
        return None;
    }
    let w = s.b.winner()?;
    if names(&s.a, rep) {
        return Some(None);
    }
    s.b.legs()
        .get(w)
        .filter(|l| l.state() == LegState::Answered && names(l, rep))
        .map(|_| Some(w))
}

/// Call 2 of an attended transfer: the transferor's leg here is the one `rep` names;
/// the other party, its relay and its Call-ID go to call `to`, the transferor gets BYE.
pub fn give_up(
    s: &mut CallState,
    rep: &Replaces,
    to: &ActorRef<CallMsg>,
    t: Instant,
) -> Option<Box<ChannelHandover>> {
    if s.joined.is_some() || s.transfer.is_some() || s.media.is_none() {
        return None;
    }
    let referrer = named_leg(s, rep)?;
    let (leg, flow, side, user) = match referrer {
        None => {
            let w = s.b.winner()?;
            let flow = *s.b_flows.get(w)?;
            let leg = s.b.take_winner()?;
            (leg, flow, RelaySide::B, s.parties.callee.clone())
        }
        Some(_) => {
            let cfg = s.a.config().clone();
            let leg = std::mem::replace(&mut s.a, Leg::detached(cfg));
            (leg, s.a_flow, RelaySide::A, s.parties.caller.clone())
        }
    };
    let (relay, ip) = s.media.take()?;
    // The party handed over is on the side across from the transferor.
    let sent_sdp = s.sent_sdp[usize::from(referrer.is_none())].take();
    let call_id = leg.call_id().unwrap_or_default().to_owned();
    s.call_ids.retain(|c| *c != call_id);
    s.record
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .call_ids
        .retain(|c| *c != call_id);
    s.directory.add_call(s.tenant.id, &call_id, to.clone());
    in_dialog::with_leg(s, referrer, t, |l| l.hangup(200, "Call Transferred", t));
    tracing::debug!(%user, "call gives up its party to an attended transfer");
    Some(Box::new(ChannelHandover {
        leg,
        flow,
        call_id,
        user,
        relay,
        ip,
        side,
        pts: s.pts,
        sent_sdp,
    }))
}

/// Call 1 of an attended transfer: the other call's party takes the transferor's
/// place, the two relays bridged back to back.
pub fn joined(
    myself: &ActorRef<CallMsg>,
    s: &mut CallState,
    h: Option<Box<ChannelHandover>>,
    t: Instant,
) {
    let Some(h) = h else {
        return fail(s, 481, "Call/Transaction Does Not Exist", t);
    };
    let h = *h;
    let Some(tr) = s.transfer.take() else {
        // The call ended meanwhile: the party handed over is hung up too.
        let mut leg = h.leg;
        leg.hangup(200, "Call Ended", t);
        register(myself, s, std::slice::from_ref(&h.call_id));
        s.retired.push(Retired {
            fork: Fork::new(vec![leg], t),
            flows: vec![h.flow],
        });
        return;
    };
    let slot = tr.referrer;
    if let Some(ep) = endpoint(s, slot) {
        let there = Endpoint {
            relay: &h.relay,
            ip: h.ip,
            side: h.side.other(),
            peer: None,
        };
        // Relay to relay: only the other relay's own port may latch.
        ep.relay.clear_signalling(ep.side);
        there.relay.clear_signalling(there.side);
        ep.relay.set_remote(ep.side, there.addr());
        there.relay.set_remote(there.side, ep.addr());
        ep.relay.set_hold(ep.side, false);
        there.relay.set_hold(there.side, false);
        // Relay 2 speaks relay 1's law on the bridge side.
        let bridge_pt = match slot {
            None => s.pts.0,
            Some(_) => s.pts.1,
        };
        let party_pt = match h.side {
            RelaySide::A => h.pts.0,
            RelaySide::B => h.pts.1,
        };
        if let (Some(b), Some(p)) = (bridge_pt, party_pt) {
            let (a_pt, b_pt) = match h.side {
                RelaySide::A => (p, b),
                RelaySide::B => (b, p),
            };
            if let Err(e) = h.relay.set_transcode(a_pt, b_pt) {
                tracing::debug!(error = %e, "joined relay does not transcode");
            }
        }
    }
    if !tr.referrer_gone {
        notify(s, slot, "200 OK", true, t);
    }
    register(myself, s, std::slice::from_ref(&h.call_id));
    take_place(s, slot, h.leg, h.flow, "Call Transferred", t);
    s.joined = Some(JoinedMedia {
        relay: h.relay,
        ip: h.ip,
        side: h.side,
        on_a: slot.is_none(),
    });
    s.sent_sdp[slot_index(slot)] = h.sent_sdp;
    let other = other_party(s, slot);
    resume(s, other, t);
    let moved_in = other_party(s, other);
    resume(s, moved_in, t);
    tracing::debug!(to = %h.user, "attended transfer joined two calls");
    s.journal
        .publish(CallEventKind::CallTransferred { to: h.user });
}

/// An INVITE with Replaces naming one of this call's dialogs, placed by line `by`:
/// the new device takes that leg's place and media, the replaced leg gets BYE. Only a
/// party of the call may do this (another device of the caller or of the callee);
/// anyone else gets 403, and the call goes on untouched.
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
    let Some(slot) = named_leg(s, &rep).filter(|_| s.transfer.is_none()) else {
        return inc.respond(481, "Call/Transaction Does Not Exist");
    };
    if by != s.parties.caller && by != s.parties.callee {
        tracing::info!(by, "INVITE with Replaces from a line not in the call: 403");
        return inc.respond(403, "Not A Party Of That Call");
    }
    let flow = route::flow_of(&inc);
    let user = inc
        .msg
        .from()
        .and_then(|f| f.uri.user_unescaped().map(|u| u.into_owned()))
        .unwrap_or_default();
    let cfg = leg_config(&s.out, flow, &user, Some(s.parties.ring_timeout));
    let mut leg = match Leg::incoming(cfg, &inc.msg, &random_token()) {
        Ok(l) => l,
        Err(_) => return inc.respond(400, "Bad Request"),
    };
    s.pending.push(&inc.msg, inc.reply.clone());
    let offer = leg.remote_offer();
    let answer = match (&offer, endpoint(s, slot)) {
        (Some(offer), Some(ep)) => {
            let template = s.b_offer.clone().unwrap_or_else(|| offer.clone());
            codecs::caller_answer(offer, &template, ep.ip, ep.port(), &s.session_id)
        }
        _ => None,
    };
    if let (Some(offer), Some(own)) = (&offer, &answer) {
        let mut chosen = own.sdp.clone();
        if let Some(r) = rtp_target(offer) {
            chosen.anchor(r.ip(), &[r.port()]);
        }
        repoint(s, slot, Some(&chosen), Some(flow.peer().ip()));
    }
    leg.answer(answer.as_ref().map(|a| &a.sdp), t);
    let call_id = leg.call_id().unwrap_or_default().to_owned();
    register(myself, s, std::slice::from_ref(&call_id));
    take_place(s, slot, leg, flow, "Replaced", t);
    s.sent_sdp[slot_index(slot)] = answer.map(|a| a.sdp);
    let other = other_party(s, slot);
    resume(s, other, t);
    tracing::debug!(%user, "INVITE with Replaces took a leg's place");
    s.journal
        .publish(CallEventKind::CallTransferred { to: user });
}

/// Index of a slot in `CallState::sent_sdp`: the caller's leg 0, the callee's 1.
fn slot_index(slot: Option<usize>) -> usize {
    usize::from(slot.is_some())
}

/// The party across from `slot`.
fn other_party(s: &CallState, slot: Option<usize>) -> Option<usize> {
    match slot {
        None => Some(s.b.winner().unwrap_or(0)),
        Some(_) => None,
    }
}

/// A party the transferor left on hold (the last SDP it got does not receive) gets a
/// re-INVITE with that SDP in sendrecv, so that it talks to its new peer.
fn resume(s: &mut CallState, slot: Option<usize>, t: Instant) {
    let i = slot_index(slot);
    let Some(mut sdp) = s.sent_sdp[i].clone() else {
        return;
    };
    let Some(m) = sdp.media().iter().position(|m| m.kind() == "audio") else {
        return;
    };
    if sdp.direction(m).receives() {
        return;
    }
    sdp.set_direction(Direction::SendRecv);
    sdp.bump_version();
    let bytes = sdp.to_bytes();
    let sent = in_dialog::with_leg(s, slot, t, |l| {
        l.send_request(&Method::Invite, Some(("application/sdp", &bytes)), t)
    })
    .flatten();
    if sent.is_some() {
        tracing::debug!("party left on hold resumed after a transfer");
        s.sent_sdp[i] = Some(sdp);
    }
}
