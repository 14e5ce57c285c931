//! A caller who reaches a conference room: the switch answers it itself and seats it
//! in the room's mix (the relay's side B spliced to the member's port, both sides
//! speaking the caller's codec, so the caller keeps its latching, NAT handling and
//! codec). A room with a PIN asks for it first: the caller hears a prompt, its keys
//! come from its relay (RFC 4733, or tones), `#` ends an attempt; a key stops the
//! prompt. Three wrong PINs, or none within the patience, and the caller hears why
//! and is hung up.

use std::time::Duration;

use std::time::Instant;

use super::{codecs, CallState, ChannelId, Role};
use crate::conference::RoomHandle;
use crate::journal::Side;
use crate::media_relay::{Port, Side as RelaySide};

/// Attempts at the PIN.
const TRIES: u8 = 3;
/// How long the caller has for each attempt.
const PATIENCE: Duration = Duration::from_secs(30);

const CALLER: Port = Port {
    relay: 0,
    side: RelaySide::A,
};
const FACING_ROOM: Port = Port {
    relay: 0,
    side: RelaySide::B,
};

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
    s: &mut CallState,
    caller: ChannelId,
    room: &str,
    handle: &RoomHandle,
    pin: Option<String>,
    t: Instant,
) {
    let own = match (&s.caller_offer, s.relays.sdp_at(CALLER)) {
        (Some(offer), Some((ip, port))) => codecs::own_answer(offer, ip, port, &s.session_id),
        _ => None,
    };
    let Some(own) = own.filter(|o| o.a_voice.is_some()) else {
        return refuse(s, caller, 488, "Not Acceptable Here", t);
    };
    s.relays.speak(CALLER, own.a_voice, own.a_event);
    s.relays.speak(FACING_ROOM, own.a_voice, None);
    match pin {
        None => {
            if !seat(s, room, handle).await {
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
    s.journal.answered(0, &format!("conference {room}"));
    if let Some(c) = s.channel_mut(caller) {
        c.sent_sdp = Some(own.sdp.clone());
    }
    s.with_party(caller, t, |l| l.answer(Some(&own.sdp), t));
}

fn refuse(s: &mut CallState, caller: ChannelId, code: u16, reason: &str, t: Instant) {
    s.journal.ended(
        &engine::call::Cause::new(code, reason, engine::call::Side::Local),
        Side::Switch,
    );
    s.with_party(caller, t, |l| l.hangup(code, reason, t));
}

/// Joins the room and splices the relay's side B to the member's port.
async fn seat(s: &mut CallState, room: &str, handle: &RoomHandle) -> bool {
    let (Some(voice), Some(b_addr)) = (
        s.relays.get(0).and_then(|r| r.voice(RelaySide::A)),
        s.relays.addr(FACING_ROOM),
    ) else {
        return false;
    };
    let Some(seat) = handle.join(voice, b_addr).await else {
        return false;
    };
    if let Some(r) = s.relays.get(0) {
        r.handle.clear_signalling(RelaySide::B);
        r.handle.set_remote(RelaySide::B, seat.addr);
    }
    tracing::debug!(room, member = seat.id, "caller joined a conference");
    s.seat = Some(seat);
    true
}

/// A key the caller pressed while the gate is up; false when there is no gate (the
/// key is the call's as usual).
pub async fn key(s: &mut CallState, port: Port, key: char, t: Instant) -> bool {
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
        if !seat(s, &g.room, &g.handle).await {
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
