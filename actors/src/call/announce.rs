//! The switch answers the caller itself, plays it prompts and hangs up once they have
//! played out: the confirmation of a feature code dialled from a phone (do not
//! disturb, forwarding), or why it was refused.

use std::time::Instant;

use engine::sdp::Sdp;

use super::{codecs, CallState, ChannelId, CALLEE_PORT, CALLER_PORT as CALLER};
use crate::journal::Side;
use crate::media_relay::{Port, SrtpOffer};

/// The switch's own answer to the caller's offer, at the port facing the caller;
/// both ports of the first relay speak its codec. `None` when the offer has no
/// codec the switch speaks.
pub(super) fn own_answer(s: &mut CallState) -> Option<Sdp> {
    let own = match (&s.caller_offer, s.relays.sdp_at(CALLER)) {
        (Some(offer), Some((ip, port))) => codecs::own_answer(offer, ip, port, &s.session_id),
        _ => None,
    };
    let mut own = own.filter(|o| o.a_voice.is_some())?;
    s.relays.speak(CALLER, own.a_voice, own.a_event);
    s.relays.speak(CALLEE_PORT, own.a_voice, None);
    s.relays.seal(CALLER, &mut own.sdp, SrtpOffer::None);
    Some(own.sdp)
}

/// The switch answers `caller` with `sdp` (its own answer).
pub(super) fn answer(s: &mut CallState, caller: ChannelId, sdp: Sdp, t: Instant) {
    if let Some(c) = s.channel_mut(caller) {
        c.sent_sdp = Some(sdp.clone());
    }
    s.with_party(caller, t, |l| l.answer(Some(&sdp), t));
}

/// The caller offered no codec the switch speaks: 488.
pub(super) fn not_acceptable(s: &mut CallState, caller: ChannelId, t: Instant) {
    s.journal.ended(
        &engine::call::Cause::new(488, "Not Acceptable Here", engine::call::Side::Local),
        Side::Switch,
    );
    s.with_party(caller, t, |l| l.hangup(488, "Not Acceptable Here", t));
}

/// Answers `caller` and plays it the built-in `prompts`; `what` names it in the
/// journal.
pub fn arrive(s: &mut CallState, caller: ChannelId, prompts: &[&str], what: &str, t: Instant) {
    let list = prompts
        .iter()
        .filter_map(|name| {
            sounds::load(name)
                .map_err(|e| tracing::error!(error = %e, "prompt not played"))
                .ok()
        })
        .collect();
    arrive_playing(s, caller, list, what, t)
}

/// Answers `caller` and plays it `list` (a tenant's announcement, a closing-time
/// message), then hangs up; `what` names it in the journal.
pub fn arrive_playing(
    s: &mut CallState,
    caller: ChannelId,
    list: Vec<media::wav::Announcement>,
    what: &str,
    t: Instant,
) {
    let Some(sdp) = own_answer(s) else {
        return not_acceptable(s, caller, t);
    };
    s.announcing = s.relays.play(CALLER, list);
    s.journal.answered_by_switch(what);
    answer(s, caller, sdp, t);
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
