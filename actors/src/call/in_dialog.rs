//! Requests inside an answered call, relayed from one side to the other (re-INVITE,
//! UPDATE, INFO …): each goes out as a new client transaction in the other side's
//! dialog, with its SDP anchored at the switch's ports of that side, and the final
//! response comes back to the side that asked. The relay follows each SDP: where the
//! sender now wants its RTP, and whether it wants any (hold).

use std::time::Instant;

use engine::call::Leg;
use engine::sip::{HeaderName, Message, Method};

use super::transfer::{endpoint, Endpoint};
use super::CallState;

/// A request of one side sent on to the other, awaiting its final response. A side is
/// `None` for the caller's leg, `Some(i)` for callee leg `i`.
pub struct Relayed {
    from: Option<usize>,
    to: Option<usize>,
    seq: u32,
    method: Method,
    req: Message,
}

/// Runs `f` on the caller's leg or on callee leg `i` (its output drained by the fork).
pub(super) fn with_leg<R>(
    s: &mut CallState,
    leg: Option<usize>,
    t: Instant,
    f: impl FnOnce(&mut Leg) -> R,
) -> Option<R> {
    match leg {
        None => Some(f(&mut s.a)),
        Some(i) => s.b.with_leg(i, t, f),
    }
}

/// A request a leg reported: sent on to the other side, or refused with 491 when the
/// other side cannot take it now (not answered, or a re-INVITE of ours pending there).
pub fn request(s: &mut CallState, from: Option<usize>, req: Message, t: Instant) {
    let Some(method) = req.method().cloned() else {
        return;
    };
    // The other side: the callee's leg that answered, or the caller for that leg.
    let to: Option<Option<usize>> = match (from, s.b.winner()) {
        (None, Some(w)) => Some(Some(w)),
        (Some(i), Some(w)) if i == w => Some(None),
        _ => None,
    };
    let sent = to.and_then(|to| {
        let body = rewrite_body(endpoint(s, from), endpoint(s, to), &req, &s.ports);
        remember(s, to, body.as_ref());
        let body = body.as_ref().map(|(ct, b)| (ct.as_str(), b.as_slice()));
        with_leg(s, to, t, |leg| leg.send_request(&method, body, t))
            .flatten()
            .map(|seq| (to, seq))
    });
    match sent {
        Some((to, seq)) => s.relayed.push(Relayed {
            from,
            to,
            seq,
            method,
            req,
        }),
        None => {
            with_leg(s, from, t, |leg| {
                leg.respond(&req, 491, "Request Pending", None, t)
            });
        }
    }
}

/// A response to a request the call relayed: its final response goes back to the side
/// that sent the request.
pub fn response(s: &mut CallState, from: Option<usize>, resp: Message, t: Instant) {
    let (Some(code), Some(cseq)) = (resp.code(), resp.cseq()) else {
        return;
    };
    if code < 200 {
        return;
    }
    let Some(pos) = s
        .relayed
        .iter()
        .position(|r| r.to == from && r.seq == cseq.seq && r.method.as_str() == cseq.method)
    else {
        // The answer to a re-INVITE of the switch's own (a resume after a transfer).
        if (200..300).contains(&code) && cseq.method == "INVITE" {
            if let (Some(ep), Some(sdp)) = (endpoint(s, from), sdp_of(&resp)) {
                follow(&ep, &sdp, &s.ports);
            }
        }
        return;
    };
    let r = s.relayed.remove(pos);
    let body = rewrite_body(endpoint(s, from), endpoint(s, r.from), &resp, &s.ports);
    remember(s, r.from, body.as_ref());
    let body = body.as_ref().map(|(ct, b)| (ct.as_str(), b.as_slice()));
    let reason = resp.reason().unwrap_or("").to_owned();
    with_leg(s, r.from, t, |leg| {
        leg.respond(&r.req, code, &reason, body, t)
    });
}

/// The body of `m` (sent by the device at media endpoint `sender`) with its
/// Content-Type, for the other side: an SDP anchored at the switch's port facing the
/// `receiver`, after pointing the relay at the sender's new address and hold state.
fn rewrite_body(
    sender: Option<Endpoint<'_>>,
    receiver: Option<Endpoint<'_>>,
    m: &Message,
    pool: &crate::media_relay::PortPool,
) -> Option<(String, Vec<u8>)> {
    let body = m.body();
    if body.is_empty() {
        return None;
    }
    let ct = m
        .header(HeaderName::ContentType)
        .unwrap_or("application/octet-stream")
        .to_owned();
    let is_sdp = ct
        .split(';')
        .next()
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/sdp"));
    let (Some(sender), Some(receiver), true) = (sender, receiver, is_sdp) else {
        return Some((ct, body.to_vec()));
    };
    let Ok(mut sdp) = engine::sdp::Sdp::parse(body) else {
        return Some((ct, body.to_vec()));
    };
    follow(&sender, &sdp, pool);
    sdp.anchor(receiver.ip, &[receiver.port()]);
    Some((ct, sdp.to_bytes()))
}

/// Points the relay at where a party's SDP wants RTP, and holds the party's side
/// when it does not want to receive (sendonly, inactive): it gets no RTP.
fn follow(party: &Endpoint<'_>, sdp: &engine::sdp::Sdp, pool: &crate::media_relay::PortPool) {
    party.follow_sdp(sdp, pool);
    if let Some(i) = sdp.media().iter().position(|m| m.kind() == "audio") {
        party
            .relay
            .set_hold(party.side, !sdp.direction(i).receives());
    }
}

/// The SDP body of a message, if it has one that parses.
fn sdp_of(m: &Message) -> Option<engine::sdp::Sdp> {
    let is_sdp = m
        .header(HeaderName::ContentType)
        .and_then(|ct| ct.split(';').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/sdp"));
    if !is_sdp || m.body().is_empty() {
        return None;
    }
    engine::sdp::Sdp::parse(m.body()).ok()
}

/// Keeps the SDP the switch is sending to party `to` (see `CallState::sent_sdp`).
fn remember(s: &mut CallState, to: Option<usize>, body: Option<&(String, Vec<u8>)>) {
    let Some((ct, bytes)) = body else { return };
    let is_sdp = ct
        .split(';')
        .next()
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/sdp"));
    if is_sdp {
        if let Ok(sdp) = engine::sdp::Sdp::parse(bytes) {
            s.sent_sdp[usize::from(to.is_some())] = Some(sdp);
        }
    }
}
