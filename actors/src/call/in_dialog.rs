//! Requests inside an answered call, relayed from one side to the other (re-INVITE,
//! UPDATE, INFO …): each goes out as a new client transaction in the other side's
//! dialog, with its SDP anchored at the switch's ports of that side, and the final
//! response comes back to the side that asked. The relay follows each SDP: where the
//! sender now wants its RTP, and whether it wants any (hold).

use std::net::IpAddr;
use std::time::Instant;

use engine::call::Leg;
use engine::sip::{HeaderName, Message, Method};

use super::{rtp_target, CallState};
use crate::media_relay::{RelayHandle, Side as RelaySide};

/// A request of one side sent on to the other, awaiting its final response. A side is
/// `None` for the caller's leg, `Some(i)` for callee leg `i`.
pub struct Relayed {
    from: Option<usize>,
    to: Option<usize>,
    seq: u32,
    method: Method,
    req: Message,
}

fn relay_side(leg: Option<usize>) -> RelaySide {
    match leg {
        None => RelaySide::A,
        Some(_) => RelaySide::B,
    }
}

/// Runs `f` on the caller's leg or on callee leg `i` (its output drained by the fork).
fn with_leg<R>(
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
        let body = rewrite_body(&s.media, relay_side(from), &req);
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
        return;
    };
    let r = s.relayed.remove(pos);
    let body = rewrite_body(&s.media, relay_side(from), &resp);
    let body = body.as_ref().map(|(ct, b)| (ct.as_str(), b.as_slice()));
    let reason = resp.reason().unwrap_or("").to_owned();
    with_leg(s, r.from, t, |leg| {
        leg.respond(&r.req, code, &reason, body, t)
    });
}

/// The body of `m` (sent by the device on relay side `sender`) with its Content-Type,
/// for the other side: an SDP anchored at the switch's port facing the other side,
/// after pointing the relay at the sender's new address and hold state.
fn rewrite_body(
    media: &Option<(RelayHandle, IpAddr)>,
    sender: RelaySide,
    m: &Message,
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
    let (Some((relay, ip)), true) = (media, is_sdp) else {
        return Some((ct, body.to_vec()));
    };
    let Ok(mut sdp) = engine::sdp::Sdp::parse(body) else {
        return Some((ct, body.to_vec()));
    };
    if let Some(remote) = rtp_target(&sdp) {
        relay.set_remote(sender, remote);
    }
    if let Some(i) = sdp.media().iter().position(|m| m.kind() == "audio") {
        // A side that does not want to receive (sendonly, inactive) gets no RTP.
        relay.set_hold(sender, !sdp.direction(i).receives());
    }
    let port = match sender.other() {
        RelaySide::A => relay.ports().0.port(),
        RelaySide::B => relay.ports().1.port(),
    };
    sdp.anchor(*ip, &[port]);
    Some((ct, sdp.to_bytes()))
}
