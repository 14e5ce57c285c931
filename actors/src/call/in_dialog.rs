//! Requests inside an answered call, relayed from one side to the other (re-INVITE,
//! UPDATE, INFO …): each goes out as a new client transaction in the other side's
//! dialog, with its SDP anchored at the switch's ports of that side, and the final
//! response comes back to the side that asked. The relay follows each SDP: where the
//! sender now wants its RTP, and whether it wants any (hold).

use crate::media_relay::SrtpOffer;
use std::time::Instant;

use engine::sip::{HeaderName, Message, Method};

use super::channel::ChannelId;
use super::CallState;

/// A leg of a channel: the channel and the leg's place in it.
pub type LegRef = (ChannelId, usize);

/// A request of one channel sent on to the other, awaiting its final response.
pub struct Relayed {
    from: LegRef,
    to: ChannelId,
    seq: u32,
    method: Method,
    req: Message,
}

/// A request a leg reported: sent on to the party it is bridged with, or refused with
/// 491 when that party cannot take it now (not answered, or a re-INVITE of ours
/// pending there).
pub fn request(s: &mut CallState, from: LegRef, req: Message, t: Instant) {
    let Some(method) = req.method().cloned() else {
        return;
    };
    let is_party = s.channel(from.0).and_then(|c| c.party_leg()) == Some(from.1);
    // A key press sent as SIP INFO reaches a party that negotiated telephone-events
    // as RFC 4733 packets in its stream.
    if method == Method::Info && is_party {
        if let Some((digit, ms)) = dtmf_relay(&req) {
            let port = s
                .peer_of(from.0)
                .and_then(|p| s.channel(p))
                .and_then(|c| c.port);
            if port.is_some_and(|p| s.relays.dtmf(p, digit, ms)) {
                tracing::debug!(%digit, ms, "SIP INFO key press sent as RFC 4733");
                s.with_leg(from.0, from.1, t, |leg| {
                    leg.respond(&req, 200, "OK", None, t)
                });
                return;
            }
        }
    }
    let to = s
        .peer_of(from.0)
        .filter(|_| is_party)
        .filter(|to| s.channel(*to).is_some_and(|c| c.answered().is_some()));
    let sent = to.and_then(|to| {
        let body = rewrite_body(s, from.0, to, &req);
        remember(s, to, body.as_ref());
        let body = body.as_ref().map(|(ct, b)| (ct.as_str(), b.as_slice()));
        s.with_party(to, t, |leg| leg.send_request(&method, body, t))
            .flatten()
            .map(|seq| (to, seq))
    });
    // A caller in a conference has nobody to relay to: the switch answers its session
    // refreshes and other requests itself, with the description it already has.
    if sent.is_none() && s.seated(from.0) && is_party {
        let sdp = s.channel(from.0).and_then(|c| c.sent_sdp.clone());
        let bytes = sdp
            .filter(|_| matches!(method, Method::Invite | Method::Update))
            .map(|d| d.to_bytes());
        s.with_leg(from.0, from.1, t, |leg| {
            let body = bytes.as_ref().map(|b| ("application/sdp", b.as_slice()));
            leg.respond(&req, 200, "OK", body, t)
        });
        return;
    }
    match sent {
        Some((to, seq)) => s.relayed.push(Relayed {
            from,
            to,
            seq,
            method,
            req,
        }),
        None => {
            s.with_leg(from.0, from.1, t, |leg| {
                leg.respond(&req, 491, "Request Pending", None, t)
            });
        }
    }
}

/// Requests relayed to a party whose channel has ended without answering them get a
/// final response from the switch, so the party that asked is not left waiting.
pub fn give_up_on_gone(s: &mut CallState, t: Instant) {
    let gone: Vec<ChannelId> = s
        .channels
        .iter()
        .filter(|c| c.is_ended())
        .map(|c| c.id)
        .collect();
    if gone.is_empty() || s.relayed.iter().all(|r| !gone.contains(&r.to)) {
        return;
    }
    let (lost, kept): (Vec<Relayed>, Vec<Relayed>) = std::mem::take(&mut s.relayed)
        .into_iter()
        .partition(|r| gone.contains(&r.to));
    s.relayed = kept;
    for r in lost {
        s.with_leg(r.from.0, r.from.1, t, |leg| {
            leg.respond(&r.req, 487, "Request Terminated", None, t)
        });
    }
}

/// A response to a request the call relayed: its final response goes back to the leg
/// that sent the request.
pub fn response(s: &mut CallState, from: LegRef, resp: Message, t: Instant) {
    let (Some(code), Some(cseq)) = (resp.code(), resp.cseq()) else {
        return;
    };
    if code < 200 {
        return;
    }
    let Some(pos) = s
        .relayed
        .iter()
        .position(|r| r.to == from.0 && r.seq == cseq.seq && r.method.as_str() == cseq.method)
    else {
        // The answer to a re-INVITE of the switch's own (a resume after a transfer).
        if (200..300).contains(&code) && cseq.method == "INVITE" {
            if let (Some(c), Some(sdp)) = (s.channel(from.0), sdp_of(&resp)) {
                if let Some(port) = c.port {
                    follow(s, port, &sdp, c.peer());
                }
            }
        }
        return;
    };
    let r = s.relayed.remove(pos);
    let body = rewrite_body(s, from.0, r.from.0, &resp);
    remember(s, r.from.0, body.as_ref());
    let body = body.as_ref().map(|(ct, b)| (ct.as_str(), b.as_slice()));
    let reason = resp.reason().unwrap_or("").to_owned();
    s.with_leg(r.from.0, r.from.1, t, |leg| {
        leg.respond(&r.req, code, &reason, body, t)
    });
}

/// The body of `m` (sent by channel `sender`'s party) with its Content-Type, for
/// channel `receiver`: an SDP anchored at the switch's port facing the receiver,
/// after pointing the sender's port at its new address and hold state.
fn rewrite_body(
    s: &CallState,
    sender: ChannelId,
    receiver: ChannelId,
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
    let sender = s.channel(sender).and_then(|c| Some((c.port?, c.peer())));
    let receiver_port = s.channel(receiver).and_then(|c| c.port);
    let receiver = receiver_port.and_then(|p| s.relays.sdp_at(p));
    let (Some((port, peer)), Some((ip, rport)), true) = (sender, receiver, is_sdp(&ct)) else {
        return Some((ct, body.to_vec()));
    };
    let Ok(mut sdp) = engine::sdp::Sdp::parse(body) else {
        return Some((ct, body.to_vec()));
    };
    follow(s, port, &sdp, peer);
    sdp.anchor(ip, &[rport]);
    // An offer proposes SRTP to the receiver as the sender's did; an answer
    // carries the receiver's own key when it offered one.
    let srtp = if m.is_request() {
        SrtpOffer::like(&sdp)
    } else {
        SrtpOffer::None
    };
    if let Some(rp) = receiver_port {
        s.relays.seal(rp, &mut sdp, srtp);
    }
    Some((ct, sdp.to_bytes()))
}

/// How many keys are kept to match in-call feature codes against.
const TYPED: usize = 8;

/// A key a party pressed (seen by the relay at its port): a bridged party that
/// negotiated no telephone-events gets it as SIP INFO (`application/dtmf-relay`); one
/// that did gets it as telephone-events when it came in-band (else it got the
/// packets already).
pub fn key_pressed(
    s: &mut CallState,
    port: crate::media_relay::Port,
    (key, ms, in_band): (char, u32, bool),
    t: Instant,
) {
    let Some(from) = s
        .channels
        .iter()
        .find(|c| c.port == Some(port) && c.answered().is_some())
        .map(|c| c.id)
    else {
        return;
    };
    tracing::debug!(%key, ms, "key pressed");
    // In-call feature codes are matched against the last few keys typed.
    s.typed.push(key);
    if s.typed.len() > TYPED {
        s.typed.remove(0);
    }
    super::recording::typed(s, from);
    super::merge::typed(s, from);
    // Events pass through the relay by themselves; only a key heard in-band is sent.
    pass_key(s, from, (key, ms), !in_band, t);
}

/// Channel `from`'s party presses `key` (the API): the other party gets it as
/// telephone-events, or in a SIP INFO when it negotiated none.
pub fn send_key(s: &mut CallState, from: ChannelId, key: char, t: Instant) -> bool {
    pass_key(s, from, (key, 160), false, t)
}

/// Passes a key of `from`'s party to the other party: as events when it takes them
/// (unless `relayed` already), else by SIP INFO. False without another party.
fn pass_key(
    s: &mut CallState,
    from: ChannelId,
    (key, ms): (char, u32),
    relayed: bool,
    t: Instant,
) -> bool {
    let Some(to) = s.peer_of(from) else {
        return false;
    };
    let to_port = s.channel(to).and_then(|c| c.port);
    let takes_events = to_port
        .and_then(|p| s.relays.get(p.relay).and_then(|r| r.events(p.side)))
        .is_some();
    if takes_events {
        if !relayed {
            if let Some(p) = to_port {
                s.relays.dtmf(p, key, ms);
            }
        }
        return true;
    }
    let body = format!("Signal={key}\r\nDuration={ms}\r\n");
    s.with_party(to, t, |leg| {
        leg.send_request_with(
            &Method::Info,
            &[],
            Some(("application/dtmf-relay", body.as_bytes())),
            t,
        )
    });
    true
}

/// The key and duration (ms) of a SIP INFO key press: `application/dtmf-relay`
/// (`Signal=5`, `Duration=160`) or `application/dtmf` (the key alone, 250 ms).
pub(super) fn dtmf_relay(m: &Message) -> Option<(char, u32)> {
    let ct = m
        .header(HeaderName::ContentType)?
        .split(';')
        .next()?
        .trim()
        .to_ascii_lowercase();
    let body = std::str::from_utf8(m.body()).ok()?;
    let key = |v: &str| {
        let v = v.trim();
        match v {
            "10" => Some('*'),
            "11" => Some('#'),
            _ => v
                .chars()
                .next()
                .filter(|c| v.len() == 1 && (c.is_ascii_digit() || "*#ABCDabcd".contains(*c)))
                .map(|c| c.to_ascii_uppercase()),
        }
    };
    match ct.as_str() {
        "application/dtmf-relay" => {
            let mut digit = None;
            let mut ms = 250;
            for line in body.lines() {
                let Some((k, v)) = line.split_once('=') else {
                    continue;
                };
                match k.trim().to_ascii_lowercase().as_str() {
                    "signal" => digit = key(v),
                    "duration" => ms = v.trim().parse().unwrap_or(250),
                    _ => {}
                }
            }
            Some((digit?, ms))
        }
        "application/dtmf" => Some((key(body)?, 250)),
        _ => None,
    }
}

fn is_sdp(content_type: &str) -> bool {
    content_type
        .split(';')
        .next()
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/sdp"))
}

/// Points a party's port at where its SDP wants RTP, and holds it when the party does
/// not want to receive (sendonly, inactive): it gets no RTP, and the party it left
/// waiting hears the tenant's music on hold.
fn follow(
    s: &CallState,
    port: crate::media_relay::Port,
    sdp: &engine::sdp::Sdp,
    peer: Option<std::net::IpAddr>,
) {
    s.relays.follow(port, sdp, peer, &s.ports);
    if let Some(i) = sdp.media().iter().position(|m| m.kind() == "audio") {
        s.relays
            .hold(port, !sdp.direction(i).receives(), s.music.as_ref());
    }
}

/// The SDP body of a message, if it has one that parses.
fn sdp_of(m: &Message) -> Option<engine::sdp::Sdp> {
    let sdp = m.header(HeaderName::ContentType).is_some_and(is_sdp);
    if !sdp || m.body().is_empty() {
        return None;
    }
    engine::sdp::Sdp::parse(m.body()).ok()
}

/// Keeps the SDP the switch is sending to channel `to` (see `Channel::sent_sdp`).
fn remember(s: &mut CallState, to: ChannelId, body: Option<&(String, Vec<u8>)>) {
    let Some((ct, bytes)) = body else { return };
    if is_sdp(ct) {
        if let (Ok(sdp), Some(c)) = (engine::sdp::Sdp::parse(bytes), s.channel_mut(to)) {
            c.sent_sdp = Some(sdp);
        }
    }
}
