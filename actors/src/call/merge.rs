//! The merge feature code (`*33` by default), typed during a call by a line that has
//! another call in progress (usually on hold): both calls become one three-party
//! conference in a new ad-hoc room the line organises.
//!
//! The tenant names the line's other calls (`TenantMsg::OtherCalls`). If the line
//! organises a room in one of them already (an earlier merge), this call's far
//! party joins it and the line's leg here is hung up: calling a fourth party and
//! typing the code adds it. Otherwise the tenant opens a room
//! (`TenantMsg::OpenRoom`); the first other call where the line still has a party
//! gives that party to the room through the port that faced the line and hangs up
//! the line's leg there (`CallMsg::EnterRoom`, as the conference button does). In
//! this call the far party is seated the same way; the line itself, whose port now faces the room on the
//! far party's behalf, gets a port of a new relay (spliced to a member port of its
//! own) and a re-INVITE pointing it there; its answer names where its media goes.

use crate::media_relay::SrtpOffer;
use std::time::Instant;

use engine::sdp::Sdp;
use engine::sip::Message;
use ractor::rpc::CallResult;
use ractor::ActorRef;

use super::{codecs, transfer, CallState, ChannelId, Role};
use crate::media_relay::{MediaRelay, Port, Side as RelaySide};
use crate::proto::{CallMsg, RoomHandle, RoomLeg, TenantMsg};

/// What a merge finds: the room, whether the line organises it already, and the
/// line's other calls.
pub type Found = (RoomHandle, bool, Vec<ActorRef<CallMsg>>);

/// The keys typed so far end with the merge code: channel `from` asked for a merge.
pub fn typed(s: &mut CallState, from: ChannelId) {
    let Some(code) = s.merge_code.as_deref() else {
        return;
    };
    if !s.typed.ends_with(code) {
        return;
    }
    s.typed.clear();
    let party = s
        .channel(from)
        .is_some_and(|c| matches!(c.role, Role::Caller | Role::Callee));
    if party && s.peer_of(from).is_some() && s.seats.is_empty() {
        s.merge_asked = Some(from);
    }
}

/// Carries out a merge asked for by a key press: the tenant is asked for the line's
/// other call and a room, and the answer comes back as `CallMsg::Merge`.
pub fn ask(myself: &ActorRef<CallMsg>, s: &mut CallState) {
    let Some(from) = s.merge_asked.take() else {
        return;
    };
    let Some(c) = s.channel(from) else {
        return;
    };
    let line = c.user().to_owned();
    let source = c
        .peer()
        .map(|ip| std::net::SocketAddr::new(ip, 0))
        .unwrap_or_else(|| std::net::SocketAddr::from(([127, 0, 0, 1], 0)));
    let (sup, me, id) = (s.tenant.supervisor.clone(), myself.clone(), myself.get_id());
    tracing::debug!(%line, "merge asked");
    tokio::spawn(async move {
        let found = async {
            let others = other_calls(&sup, &line, id).await?;
            // A room the line organises already takes this call's party.
            for other in &others {
                let by = line.clone();
                let existing = other
                    .call(|reply| CallMsg::RoomOf { by, reply }, None)
                    .await;
                if let Ok(CallResult::Success(Some(room))) = existing {
                    return Some((room, true, Vec::new()));
                }
            }
            if others.is_empty() {
                return None;
            }
            let Ok(CallResult::Success(room)) = sup
                .call(|reply| TenantMsg::OpenRoom { source, reply }, None)
                .await
            else {
                return None;
            };
            Some((room, false, others))
        }
        .await;
        let _ = me.send_message(CallMsg::Merge(from, found));
    });
}

/// The other calls line `line` is in (the call `from` asks), or `None` when the
/// tenant does not answer.
pub(super) async fn other_calls(
    sup: &ActorRef<TenantMsg>,
    line: &str,
    from: ractor::ActorId,
) -> Option<Vec<ActorRef<CallMsg>>> {
    let others = sup
        .call(
            |reply| TenantMsg::OtherCalls {
                line: line.to_owned(),
                from,
                reply,
            },
            None,
        )
        .await;
    match others {
        Ok(CallResult::Success(others)) => Some(others),
        _ => None,
    }
}

/// The room line `by` organises from this call, if any.
pub fn room_of(s: &CallState, by: &str) -> Option<RoomHandle> {
    let organiser = s.organiser.filter(|&id| s.seated(id))?;
    let organises = s.channel(organiser).is_some_and(|c| c.user() == by);
    s.room.clone().filter(|_| organises)
}

/// What the merge found: a room the line organises already (this call's far party
/// joins it, the line's leg here ends), or a new one with the line's other calls.
/// Then this call's part comes first (its far party through the port that faced the
/// line, the line through a new relay's port), and only once it is done is the
/// other call asked for its far party: a merge that fails here leaves the other
/// call as it was.
pub async fn merge(
    myself: &ActorRef<CallMsg>,
    s: &mut CallState,
    line: ChannelId,
    found: Option<Found>,
    t: Instant,
) {
    let Some((room, existing, others)) = found else {
        tracing::debug!("merge: the line has no other call to merge with");
        return;
    };
    let Some(by) = s.channel(line).map(|c| c.user().to_owned()) else {
        return;
    };
    if existing {
        let (tenant, leg) = (s.tenant.id, RoomLeg::OfLine);
        if !super::room::enter(myself, s, (tenant, &by, &leg), room, t).await {
            tracing::debug!("merge: nobody added to the room");
        }
        return;
    }
    let (Some(far), Some(port)) = (s.peer_of(line), s.channel(line).and_then(|c| c.port)) else {
        return;
    };
    let Some((voice, events, ip, bound)) = s.relays.get(port.relay).map(|r| {
        let bound = r.handle.ports().0.ip();
        (r.voice(port.side), r.events(port.side), r.ip, bound)
    }) else {
        return;
    };
    // Ports first: without them nothing changes. Bound where the line's relay is,
    // written in SDP as that one is.
    let handle = match MediaRelay::start(bound, &s.ports) {
        Ok(h) => h,
        Err(e) => return tracing::warn!(error = %e, "merge: no RTP ports for the line"),
    };
    let id = s.relays.add(handle, ip);
    super::listen_to_media(&s.relays, id, myself);
    let (facing_line, facing_room) = (
        Port {
            relay: id,
            side: RelaySide::A,
        },
        Port {
            relay: id,
            side: RelaySide::B,
        },
    );
    s.relays.speak(facing_line, voice, events);
    s.relays.speak(facing_room, voice, None);
    // Where the line's media comes from now: its new port sends there at once.
    let latched = s.relays.get(port.relay).and_then(|r| {
        let st = r.handle.stats();
        match port.side {
            RelaySide::A => st.latched_a,
            RelaySide::B => st.latched_b,
        }
    });
    let Some(line_seat) = super::room::seat_at(myself, s, facing_room, line, &room).await else {
        return;
    };
    // This call's far party hears the room through the port that faced the line.
    let Some(far_seat) = super::room::seat_at(myself, s, port, far, &room).await else {
        return;
    };
    s.seats.push((line, line_seat));
    s.seats.push((far, far_seat));
    s.bridges.retain(|b| !b.contains(&line));
    s.room = Some(room.clone());
    s.organiser = Some(line);
    transfer::resume(s, far, t);
    let peer = s.channel(line).and_then(|c| c.peer());
    if let Some(r) = s.relays.get(id) {
        if let Some(ip) = peer {
            r.handle.set_signalling(RelaySide::A, ip);
        }
        if let Some(addr) = latched {
            r.handle.set_remote(RelaySide::A, addr);
        }
    }
    if let Some(c) = s.channel_mut(line) {
        c.port = Some(facing_line);
    }
    reinvite(s, line, facing_line, t);
    tracing::debug!("calls merged into a conference");
    // The first other call where the line still has a party gives it to the room.
    let tenant = s.tenant.id;
    tokio::spawn(async move {
        for other in others {
            let asked = other
                .call(
                    |reply| CallMsg::EnterRoom {
                        tenant,
                        by: by.clone(),
                        leg: RoomLeg::OfLine,
                        room: room.clone(),
                        reply,
                    },
                    None,
                )
                .await;
            if matches!(asked, Ok(CallResult::Success(true))) {
                return;
            }
        }
        tracing::debug!("merge: no other call gave a party to the room");
    });
}

/// Points the line at its new port: a re-INVITE with the last description the
/// switch sent it, anchored there.
fn reinvite(s: &mut CallState, line: ChannelId, port: Port, t: Instant) {
    let Some(mut sdp) = s.channel(line).and_then(|c| c.sent_sdp.clone()) else {
        return;
    };
    let Some((ip, p)) = s.relays.sdp_at(port) else {
        return;
    };
    sdp.anchor(ip, &[p]);
    let srtp = SrtpOffer::like(&sdp);
    s.relays.seal(port, &mut sdp, srtp);
    if transfer::reinvite(s, line, sdp, t) {
        s.merging = Some(line);
    }
}

/// A response to a request of the call: the line's answer to the merge's
/// re-INVITE says where its media goes now. True when it was that answer.
pub fn answered(s: &mut CallState, id: ChannelId, resp: &Message, t: Instant) -> bool {
    if s.merging != Some(id) || resp.cseq().map(|c| c.method) != Some("INVITE") {
        return false;
    }
    let code = resp.code().unwrap_or(0);
    if code < 200 {
        return true;
    }
    s.merging = None;
    if code >= 300 {
        // The phone keeps sending to the port that now faces the room for the far
        // party: it can neither hear nor be heard, so it is hung up, not left mute.
        tracing::warn!(code, "merge: the line refused its new port; hung up");
        s.seats.retain(|(c, _)| *c != id);
        if let Some(c) = s.channel_mut(id) {
            c.role = Role::Retired;
            c.hangup(code, "Merge Refused", t);
        }
        return true;
    }
    let (Some(port), Ok(sdp)) = (s.channel(id).and_then(|c| c.port), Sdp::parse(resp.body()))
    else {
        return true;
    };
    let peer = s.channel(id).and_then(|c| c.peer());
    s.relays.follow(port, &sdp, peer, &s.ports);
    s.relays
        .speak(port, codecs::voice_of(&sdp), codecs::event_pt(&sdp));
    true
}
