//! Directed pickup: another line dials the pickup code with the ringing line's
//! number (`*59<N>`); the tenant hands its INVITE to the call ringing that line,
//! which answers it in place of the ringing devices (they get CANCEL) and connects
//! its caller to the picker, through the same relay port the devices were offered.

use std::time::Instant;

use engine::call::Leg;
use ractor::ActorRef;

use super::channel::{ChannelId, Legs, Role};
use super::{leg_config, random_token, route, CallState};
use crate::media_relay::rtp_target;
use crate::proto::{CallMsg, Incoming};

/// The callee channel still ringing, while the caller waits unanswered.
pub fn ringing(s: &CallState) -> Option<ChannelId> {
    let caller = s.with_role(Role::Caller)?;
    let busy = s.peer_of(caller).is_some() || !s.seats.is_empty() || s.gate.is_some();
    if busy || !s.caller_waiting() || s.hop_pending.is_some() {
        return None;
    }
    s.channels
        .iter()
        .find(|c| c.role == Role::Callee && c.answered().is_none() && !c.is_ended())
        .map(|c| c.id)
}

/// Line `by` picks the call up with its INVITE `inc`.
pub fn pick_up(
    myself: &ActorRef<CallMsg>,
    s: &mut CallState,
    by: &str,
    inc: Box<Incoming>,
    t: Instant,
) {
    let (Some(ringing), Some(caller)) = (ringing(s), s.with_role(Role::Caller)) else {
        return inc.respond(481, "Call/Transaction Does Not Exist");
    };
    let flow = route::flow_of(&inc);
    let cfg = leg_config(&s.out, flow, by, None);
    let mut leg = match Leg::incoming(cfg, &inc.msg, &random_token()) {
        Ok(l) => l,
        Err(_) => return inc.respond(400, "Bad Request"),
    };
    let offer = leg.remote_offer();
    if offer.is_none() || s.relays.is_empty() {
        // An INVITE without an offer (or a call without anchored media) cannot be
        // answered with a description here.
        return inc.respond(488, "Not Acceptable Here");
    }
    s.pending.push(&inc.msg, inc.reply.clone());
    // The picker meets the call where the ringing devices were offered it.
    let port = s.channel(ringing).and_then(|c| c.port);
    let answer = match (&offer, port) {
        (Some(offer), Some(port)) => super::transfer::answer_taker(s, offer, port),
        _ => None,
    };
    leg.answer(answer.as_ref().map(|a| &a.sdp), t);
    let id = s.add_channel(
        myself,
        Role::Callee,
        Legs::One(Box::new(leg)),
        (vec![flow], vec![by.to_owned()]),
        &[by.to_owned()],
    );
    if let Some(c) = s.channel_mut(id) {
        c.port = port;
        c.sent_sdp = answer.as_ref().map(|a| a.sdp.clone());
    }
    // The devices that rang stop.
    if let Some(c) = s.channel_mut(ringing) {
        c.role = Role::Retired;
        c.hangup(487, "Picked Up", t);
    }
    // What the picker speaks, where it receives: the caller is answered to meet it.
    let chosen = match (&offer, answer) {
        (Some(offer), Some(own)) => {
            let mut chosen = own.sdp;
            if let Some(r) = rtp_target(offer) {
                chosen.anchor(r.ip(), &[r.port()]);
            }
            crate::media_relay::keys_of(&mut chosen, offer);
            Some(chosen)
        }
        _ => None,
    };
    let sdp = chosen.map(|c| super::answer_caller(s, id, 0, c));
    s.journal
        .publish(crate::journal::CallEventKind::CallPickedUp { by: by.to_owned() });
    s.journal.answered(super::leg_no(s, id, 0), by);
    s.bridge(caller, id);
    if let Some(c) = s.channel_mut(caller) {
        c.sent_sdp.clone_from(&sdp);
    }
    s.with_party(caller, t, |l| l.answer(sdp.as_ref(), t));
    tracing::info!(by, "call picked up");
}
