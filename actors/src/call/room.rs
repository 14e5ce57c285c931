//! A caller who reaches a conference room: the switch answers it itself and seats it
//! in the room's mix (the relay's side B spliced to the member's port, both sides
//! speaking the caller's codec, so the caller keeps its latching, NAT handling and
//! codec). A room with a PIN asks for it first: the caller hears a prompt, its keys
//! come from its relay (RFC 4733, or tones), `#` ends an attempt; a key stops the
//! prompt. Three wrong PINs, or none within the patience, and the caller hears why
//! and is hung up.
//!
//! **Network conference** (the desk phone's conference button, RFC 4579): the phone
//! calls the tenant's conference URI, which opens an ad-hoc room it organises, then
//! REFERs the room with `Refer-To: <party?Replaces=its dialog with that party>` for
//! each call to merge. The call owning that dialog seats the party there
//! (`CallMsg::EnterRoom`): the port that faced the organiser is spliced to a member
//! port, a party left on hold is resumed, the organiser's leg gets BYE. A REFER with
//! `Refer-To: <sip:user;method=BYE>` removes that user's members (their calls hang
//! up). The last one to leave closes the room.

use std::time::Duration;

use std::time::Instant;

use engine::sip::Message;
use ractor::rpc::CallResult;
use ractor::ActorRef;

use super::{transfer, CallState, ChannelId, Role};
use crate::journal::Side;
use crate::media_relay::{Port, Side as RelaySide};
use crate::proto::{CallMsg, MemberOf, RoomHandle, RoomLeg, TenantId, TenantMsg};

/// Attempts at the PIN.
const TRIES: u8 = 3;
/// How long the caller has for each attempt.
const PATIENCE: Duration = Duration::from_secs(30);

use super::{CALLEE_PORT as FACING_ROOM, CALLER_PORT as CALLER};

/// A caller answered but not seated yet: it is typing the room's PIN.
pub struct Gate {
    room: String,
    handle: RoomHandle,
    pin: String,
    typed: String,
    tries: u8,
    /// When the caller's time for this attempt is up.
    pub deadline: Instant,
    /// Out of tries: the caller is hung up once the prompt has played.
    ending: bool,
}

/// The switch answers the caller and seats it in `room`, after its PIN if it has one.
pub async fn arrive(
    myself: &ActorRef<CallMsg>,
    s: &mut CallState,
    caller: ChannelId,
    room: &str,
    handle: &RoomHandle,
    pin: Option<String>,
    t: Instant,
) {
    let Some(sdp) = super::announce::own_answer(s) else {
        return refuse(s, caller, 488, "Not Acceptable Here", t);
    };
    match pin {
        None => {
            if !seat(myself, s, room, handle).await {
                return refuse(s, caller, 503, "Service Unavailable", t);
            }
        }
        Some(pin) => {
            s.gate = Some(Gate {
                room: room.to_owned(),
                handle: handle.clone(),
                pin,
                typed: String::new(),
                tries: 0,
                deadline: t + PATIENCE,
                ending: false,
            });
            s.relays.announce(CALLER, &["conf_enter_pin"]);
        }
    }
    s.journal.answered_by_switch(&format!("conference {room}"));
    super::announce::answer(s, caller, sdp, t);
}

fn refuse(s: &mut CallState, caller: ChannelId, code: u16, reason: &str, t: Instant) {
    s.journal.ended(
        &engine::call::Cause::new(code, reason, engine::call::Side::Local),
        Side::Switch,
    );
    s.with_party(caller, t, |l| l.hangup(code, reason, t));
}

/// Joins the room and splices the relay's side B to the member's port. A plan room
/// that closed since the call was routed (its last member left meanwhile, e.g.
/// while this caller typed the PIN) is asked of the tenant again, opened anew.
async fn seat(
    myself: &ActorRef<CallMsg>,
    s: &mut CallState,
    room: &str,
    handle: &RoomHandle,
) -> bool {
    let mut handle = handle.clone();
    if handle.is_closed() && s.organiser.is_none() {
        match reopen(s, room).await {
            Some(h) => handle = h,
            None => return false,
        }
    }
    let (Some(voice), Some(b_addr)) = (
        s.relays.get(0).and_then(|r| r.voice(RelaySide::A)),
        s.relays.addr(FACING_ROOM),
    ) else {
        return false;
    };
    let member = MemberOf {
        user: s.parties.caller.clone(),
        call: myself.clone(),
    };
    let mut joined = handle.join(voice, b_addr, member.clone()).await;
    if joined.is_none() && handle.is_closed() && s.organiser.is_none() {
        if let Some(h) = reopen(s, room).await {
            handle = h;
            joined = handle.join(voice, b_addr, member).await;
        }
    }
    let Some(seat) = joined else {
        return false;
    };
    if let Some(r) = s.relays.get(0) {
        r.handle.clear_signalling(RelaySide::B);
        r.handle.set_remote(RelaySide::B, seat.addr);
        r.handle.own_reports(RelaySide::A, true);
    }
    tracing::debug!(room, member = seat.id, "caller joined a conference");
    let caller = s.with_role(Role::Caller).unwrap_or_default();
    s.seats.push((caller, seat));
    s.room = Some(handle);
    true
}

/// Plan room `room` from the tenant again (opened anew if it closed).
fn reopen(s: &CallState, room: &str) -> impl std::future::Future<Output = Option<RoomHandle>> {
    let source = s
        .with_role(Role::Caller)
        .and_then(|c| s.channel(c)?.peer())
        .map_or_else(|| ([127, 0, 0, 1], 0).into(), |ip| (ip, 0).into());
    let (name, sup) = (room.to_owned(), s.tenant.supervisor.clone());
    async move {
        match sup
            .call(
                |reply| TenantMsg::Room {
                    name,
                    source,
                    reply,
                },
                None,
            )
            .await
        {
            Ok(CallResult::Success(h)) => Some(h),
            _ => None,
        }
    }
}

/// A key the caller pressed while the gate is up; false when there is no gate (the
/// key is the call's as usual).
pub async fn key(
    myself: &ActorRef<CallMsg>,
    s: &mut CallState,
    port: Port,
    key: char,
    t: Instant,
) -> bool {
    if port != CALLER {
        return s.gate.is_some();
    }
    let Some(g) = s.gate.as_mut().filter(|g| !g.ending) else {
        return s.gate.is_some();
    };
    if g.typed.is_empty() {
        // Barge-in: the prompt stops at the first key.
        s.relays.silence(CALLER);
    }
    let g = s.gate.as_mut().expect("checked above");
    if key != '#' {
        if g.typed.len() < 32 {
            g.typed.push(key);
        }
        return true;
    }
    let right = std::mem::take(&mut g.typed) == g.pin;
    if right {
        let g = s.gate.take().expect("checked above");
        if !seat(myself, s, &g.room, &g.handle).await {
            hang_up(s, 503, "Service Unavailable", t);
        }
        return true;
    }
    g.tries += 1;
    g.deadline = t + PATIENCE;
    tracing::debug!(room = g.room, tries = g.tries, "wrong conference PIN");
    if g.tries >= TRIES {
        g.ending = true;
        s.relays.announce(CALLER, &["conf_wrong_pin", "vm_goodbye"]);
    } else {
        s.relays
            .announce(CALLER, &["conf_wrong_pin", "conf_enter_pin"]);
    }
    true
}

/// A prompt towards `port` has played out: after the last wrong PIN, the caller goes.
pub fn played(s: &mut CallState, port: Port, t: Instant) {
    if port == CALLER && s.gate.as_ref().is_some_and(|g| g.ending) {
        s.gate = None;
        hang_up(s, 403, "Wrong PIN", t);
    }
}

/// The caller's time is up: it is hung up.
pub fn expired(s: &mut CallState, t: Instant) {
    if s.gate.as_ref().is_some_and(|g| t >= g.deadline) {
        tracing::debug!("no conference PIN in time");
        s.gate = None;
        hang_up(s, 408, "No PIN", t);
    }
}

fn hang_up(s: &mut CallState, code: u16, reason: &str, t: Instant) {
    if let Some(c) = s.with_role(Role::Caller).and_then(|id| s.channel_mut(id)) {
        c.hangup(code, reason, t);
    }
}

/// A REFER from the seated party of this call: its organiser brings a party in
/// (Replaces) or removes one (`method=BYE`). False when the call is not seated in a
/// room (the REFER is a transfer, as usual).
pub fn refer(
    myself: &ActorRef<CallMsg>,
    s: &mut CallState,
    (from, i): (ChannelId, usize),
    req: &Message,
    t: Instant,
) -> bool {
    let Some(room) = s.room.clone().filter(|_| s.seated(from)) else {
        return false;
    };
    let respond = |s: &mut CallState, code, reason: &str| {
        s.with_leg(from, i, t, |l| l.respond(req, code, reason, None, t));
    };
    if s.organiser != Some(from) {
        respond(s, 403, "Only The Organiser");
        return true;
    }
    let by = s
        .channel(from)
        .map(|c| c.user().to_owned())
        .unwrap_or_default();
    if s.room_refer.is_some() {
        respond(s, 491, "Request Pending");
        return true;
    }
    let refer_to = match req.refer_to() {
        Some(Ok(r)) => r,
        _ => {
            respond(s, 400, "Bad Refer-To");
            return true;
        }
    };
    let me = myself.clone();
    match (refer_to.method.as_deref(), refer_to.replaces) {
        (Some("BYE"), _) => {
            let Some(user) = refer_to.user else {
                respond(s, 404, "Not Found");
                return true;
            };
            tokio::spawn(async move {
                let done = match room.remove(&user).await {
                    true => CallMsg::RoomReferDone(200, "OK"),
                    false => CallMsg::RoomReferDone(404, "Not Found"),
                };
                let _ = me.send_message(done);
            });
        }
        (None | Some("INVITE"), Some(rep)) => {
            let other = s.other_call(myself, &rep.call_id);
            let tenant = s.tenant.id;
            tokio::spawn(async move {
                let entered = match other {
                    Some(c) => {
                        let asked = c
                            .call(
                                |reply| CallMsg::EnterRoom {
                                    tenant,
                                    by,
                                    leg: RoomLeg::Dialog(rep),
                                    room,
                                    reply,
                                },
                                None,
                            )
                            .await;
                        matches!(asked, Ok(CallResult::Success(true)))
                    }
                    None => false,
                };
                let done = match entered {
                    true => CallMsg::RoomReferDone(200, "OK"),
                    false => CallMsg::RoomReferDone(481, "Call/Transaction Does Not Exist"),
                };
                let _ = me.send_message(done);
            });
        }
        _ => {
            // Dialling a party out of the room is not built.
            respond(s, 501, "Not Implemented");
            return true;
        }
    }
    respond(s, 202, "Accepted");
    s.room_refer = Some(from);
    transfer::notify(s, from, "100 Trying", false, t);
    true
}

/// What came of the organiser's REFER: its NOTIFY says.
pub fn refer_done(s: &mut CallState, code: u16, reason: &str, t: Instant) {
    tracing::debug!(code, reason, "conference REFER done");
    if let Some(from) = s.room_refer.take() {
        transfer::notify(s, from, &format!("{code} {reason}"), true, t);
    }
}

/// The organiser of `room` (line `by`) brings the party on the far side of the
/// dialog `rep` names (its leg in this call) into the room: that party is seated
/// through the port that faced the organiser, resumed if it was held, and the
/// organiser's leg here gets BYE. False when the dialog is not a leg of the
/// organiser's line in this call, or the room is full.
pub async fn enter(
    myself: &ActorRef<CallMsg>,
    s: &mut CallState,
    (tenant, by, leg): (TenantId, &str, &RoomLeg),
    room: RoomHandle,
    t: Instant,
) -> bool {
    if tenant != s.tenant.id || !s.seats.is_empty() {
        return false;
    }
    let named = match leg {
        RoomLeg::Dialog(rep) => transfer::named_channel(s, rep),
        RoomLeg::OfLine => s
            .channels
            .iter()
            .filter(|c| matches!(c.role, Role::Caller | Role::Callee) && c.answered().is_some())
            .find(|c| c.user() == by && s.peer_of(c.id).is_some())
            .map(|c| c.id),
    };
    let Some(organiser) = named.filter(|&id| s.channel(id).is_some_and(|c| c.user() == by)) else {
        return false;
    };
    let (Some(port), Some(party)) = (
        s.channel(organiser).and_then(|c| c.port),
        s.peer_of(organiser),
    ) else {
        return false;
    };
    // The party hears the room through the port that faced the organiser.
    let Some(seat) = seat_at(myself, s, port, party, &room).await else {
        return false;
    };
    tracing::debug!(member = seat.id, "party brought into a conference");
    s.seats.push((party, seat));
    s.room = Some(room);
    s.bridges.retain(|b| !b.contains(&organiser));
    if let Some(c) = s.channel_mut(organiser) {
        c.role = Role::Retired;
    }
    s.with_party(organiser, t, |l| l.hangup(200, "Joined Conference", t));
    transfer::resume(s, party, t);
    true
}

/// The room removed this call's member `member` (its organiser asked): that party
/// is hung up; the call's other seated parties stay.
pub fn removed(s: &mut CallState, member: media::conference::MemberId, t: Instant) {
    let Some(i) = s.seats.iter().position(|(_, seat)| seat.id == member) else {
        return;
    };
    let (id, _seat) = s.seats.remove(i);
    if s.seats.is_empty() {
        s.room = None;
        // The last party: the call ends as it would by its BYE.
        if let Some(c) = s.channel_mut(id) {
            c.hangup(200, "Removed From Conference", t);
        }
        return;
    }
    if let Some(c) = s.channel_mut(id) {
        c.role = Role::Retired;
        c.hangup(200, "Removed From Conference", t);
    }
    if s.organiser == Some(id) {
        s.organiser = None;
    }
}

/// Seats the party of channel `party` in `room` through `port` (the port its media
/// leaves the switch from towards the room): the port is pointed at the member's
/// port and unheld.
pub(super) async fn seat_at(
    myself: &ActorRef<CallMsg>,
    s: &mut CallState,
    port: Port,
    party: ChannelId,
    room: &RoomHandle,
) -> Option<crate::proto::Seat> {
    let voice = s.relays.get(port.relay)?.voice(port.side)?;
    let addr = s.relays.addr(port)?;
    let member = MemberOf {
        user: s.channel(party)?.user().to_owned(),
        call: myself.clone(),
    };
    let seat = room.join(voice, addr, member).await?;
    if let Some(r) = s.relays.get(port.relay) {
        r.handle.clear_signalling(port.side);
        r.handle.set_remote(port.side, seat.addr);
        r.handle.own_reports(port.side.other(), true);
    }
    s.relays.hold(port, false, None);
    Some(seat)
}
