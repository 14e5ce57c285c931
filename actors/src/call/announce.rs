//! The switch answers the caller itself, plays it prompts and hangs up once they have
//! played out: the confirmation of a feature code dialled from a phone (do not
//! disturb, forwarding), or why it was refused.

use std::time::Instant;

use super::{codecs, CallState, ChannelId};
use crate::journal::Side;
use crate::media_relay::{Port, Side as RelaySide};

const CALLER: Port = Port {
    relay: 0,
    side: RelaySide::A,
};

/// Answers `caller` and plays it `prompts`; `what` names it in the journal.
pub fn arrive(s: &mut CallState, caller: ChannelId, prompts: &[&str], what: &str, t: Instant) {
    let own = match (&s.caller_offer, s.relays.sdp_at(CALLER)) {
        (Some(offer), Some((ip, port))) => codecs::own_answer(offer, ip, port, &s.session_id),
        _ => None,
    };
    let Some(own) = own.filter(|o| o.a_voice.is_some()) else {
        s.journal.ended(
            &engine::call::Cause::new(488, "Not Acceptable Here", engine::call::Side::Local),
            Side::Switch,
        );
        s.with_party(caller, t, |l| l.hangup(488, "Not Acceptable Here", t));
        return;
    };
    s.relays.speak(CALLER, own.a_voice, own.a_event);
    s.relays.speak(
        Port {
            relay: 0,
            side: RelaySide::B,
        },
        own.a_voice,
        None,
    );
    s.announcing = s.relays.announce(CALLER, prompts);
    s.journal.answered_by_switch(what);
    if let Some(c) = s.channel_mut(caller) {
        c.sent_sdp = Some(own.sdp.clone());
    }
    s.with_party(caller, t, |l| l.answer(Some(&own.sdp), t));
    if !s.announcing {
        played(s, CALLER, t);
    }
}

/// The prompts have played out: the caller is hung up.
pub fn played(s: &mut CallState, port: Port, t: Instant) {
    if port != CALLER {
        return;
    }
    s.announcing = false;
    if let Some(c) = s
        .with_role(super::Role::Caller)
        .and_then(|id| s.channel_mut(id))
    {
        c.hangup(200, "Announcement Played", t);
    }
}
