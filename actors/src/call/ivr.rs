//! A caller in an IVR menu: the switch answers it and plays the menu's announcement;
//! the first key it presses (RFC 4733, SIP INFO or in-band) picks a choice; no key
//! within the menu's timeout after the announcement plays it again, up to the menu's
//! number of plays; after that, or on a key that is no choice, the caller goes to the
//! drop-off (hung up when there is none). The tenant says where a number leads
//! (`TenantMsg::IvrChoice`): devices to ring (an extension, a hunt group's members;
//! the caller hears music on hold meanwhile and is connected when one answers), a
//! queue to wait in, another menu (a submenu), or a closing-time message.

use std::time::Instant;

use engine::call::LegEvent;
use ractor::rpc::CallResult;
use ractor::ActorRef;

use super::channel::{ChannelId, Role};
use super::{announce, leg_no, leg_rang, queue, CallState, CALLEE_PORT, CALLER_PORT as CALLER};
use crate::journal::{CallEventKind, Side};
use crate::media_relay::Port;
use crate::proto::{CallMsg, IvrMenu, IvrStep, TenantMsg};

/// The caller's place in the IVR.
pub struct InMenu {
    menu: IvrMenu,
    /// Times the announcement has started.
    played: u32,
    /// The announcement is playing now.
    playing: bool,
    /// When the caller has waited long enough for a key.
    until: Option<Instant>,
    /// A choice was made (or the drop-off reached): keys no longer count.
    chosen: bool,
    /// The channel ringing the chosen devices.
    ringing: Option<ChannelId>,
    /// Menus this caller has been in (this one included).
    visits: u32,
}

/// How many menus one caller may pass through: menus that lead into each other
/// (a drop-off to the main menu of a submenu that drops off to it) end there.
const MAX_MENUS: u32 = 10;

/// Answers the caller and serves it `menu`.
pub fn arrive(s: &mut CallState, caller: ChannelId, menu: IvrMenu, t: Instant) {
    let Some(sdp) = announce::own_answer(s) else {
        return announce::not_acceptable(s, caller, t);
    };
    s.journal
        .answered_to_pass_on(&format!("IVR menu {}", menu.number));
    announce::answer(s, caller, sdp, t);
    enter(s, menu, t);
}

/// The caller (answered) is now in `menu`: its announcement plays.
fn enter(s: &mut CallState, menu: IvrMenu, t: Instant) {
    tracing::debug!(menu = %menu.number, "caller in IVR menu");
    let visits = s.ivr.as_ref().map_or(0, |m| m.visits) + 1;
    if visits > MAX_MENUS {
        return hang_up(s, 482, "Loop Detected", t);
    }
    s.ivr = Some(InMenu {
        visits,
        menu,
        played: 0,
        playing: false,
        until: None,
        chosen: false,
        ringing: None,
    });
    play(s, t);
}

/// Plays the menu's announcement (again); the wait for a key starts when it ends.
fn play(s: &mut CallState, t: Instant) {
    let Some(m) = s.ivr.as_mut() else { return };
    m.played += 1;
    m.until = None;
    let list: Vec<_> = m.menu.prompt.iter().cloned().collect();
    let playing = !list.is_empty() && s.relays.play(CALLER, list);
    let Some(m) = s.ivr.as_mut() else { return };
    m.playing = playing;
    if !playing {
        m.until = Some(t + m.menu.timeout);
    }
}

/// What the switch played to `port` has played out; false when it was not the
/// menu's announcement.
pub fn played(s: &mut CallState, port: Port, t: Instant) -> bool {
    let Some(m) = s.ivr.as_mut().filter(|m| m.playing && port == CALLER) else {
        return false;
    };
    m.playing = false;
    if !m.chosen {
        m.until = Some(t + m.menu.timeout);
    }
    true
}

/// A key from the caller: a choice (or, not one, the drop-off). False when the
/// caller is in no menu (the key is someone else's business).
pub fn key(
    myself: &ActorRef<CallMsg>,
    s: &mut CallState,
    port: Port,
    key: char,
    t: Instant,
) -> bool {
    let Some(m) = s.ivr.as_mut().filter(|m| !m.chosen && port == CALLER) else {
        return false;
    };
    let choice = m.menu.choices.get(&key).cloned();
    tracing::debug!(menu = %m.menu.number, %key, ?choice, "IVR key");
    if m.playing {
        s.relays.silence(CALLER);
    }
    match choice {
        Some(to) => go(myself, s, to, t),
        None => drop_off(myself, s, t),
    }
    true
}

/// When the caller's wait for a key ends.
pub fn deadline(s: &CallState) -> Option<Instant> {
    s.ivr.as_ref().and_then(|m| m.until)
}

/// The wait for a key is over: the announcement again, or the drop-off.
pub fn expired(myself: &ActorRef<CallMsg>, s: &mut CallState, t: Instant) {
    let Some(m) = s.ivr.as_ref().filter(|m| m.until.is_some_and(|u| t >= u)) else {
        return;
    };
    if m.played < m.menu.plays {
        play(s, t);
    } else {
        drop_off(myself, s, t);
    }
}

/// No choice: the menu's drop-off, or the caller is hung up.
fn drop_off(myself: &ActorRef<CallMsg>, s: &mut CallState, t: Instant) {
    let Some(m) = s.ivr.as_mut() else { return };
    match m.menu.drop_off.clone() {
        Some(to) => go(myself, s, to, t),
        None => {
            m.chosen = true;
            m.until = None;
            hang_up(s, 480, "No Choice", t);
        }
    }
}

/// The caller goes to number `to`: the tenant says what it is.
fn go(myself: &ActorRef<CallMsg>, s: &mut CallState, to: String, _t: Instant) {
    let Some(m) = s.ivr.as_mut() else { return };
    m.chosen = true;
    m.until = None;
    let from = m.menu.number.clone();
    s.journal.publish(CallEventKind::CallForwarded {
        from,
        to: to.clone(),
        reason: "ivr".into(),
    });
    let menu = s.ivr.as_ref().map(|m| m.menu.number.clone());
    ask(myself, s, to, menu);
}

/// Where the choice leads, as the tenant found it (or, for a caller not answered
/// yet, the menu its routing reached).
pub fn step(myself: &ActorRef<CallMsg>, s: &mut CallState, step: IvrStep, t: Instant) {
    if s.ivr.is_none() && s.caller_waiting() {
        let Some(caller) = s.with_role(Role::Caller) else {
            return;
        };
        return match step {
            IvrStep::Menu(menu) => arrive(s, caller, *menu, t),
            IvrStep::Voicemail(b) => super::voicemail::arrive(s, caller, *b, t),
            other => {
                let (code, reason) = match other {
                    IvrStep::Refuse(code, reason) => (code, reason),
                    _ => (480, "Temporarily Unavailable"),
                };
                s.walk.failed(code, reason);
                let cause = engine::call::Cause::new(code, reason, engine::call::Side::Local);
                super::hunt::next(myself, s, cause, t);
            }
        };
    }
    if !s
        .ivr
        .as_ref()
        .is_some_and(|m| m.chosen && m.ringing.is_none())
        || !queue::caller_here(s)
    {
        return;
    }
    tracing::debug!(?step, "IVR choice leads on");
    match step {
        IvrStep::Menu(menu) => enter(s, *menu, t),
        IvrStep::Queue(number, handle) => {
            s.ivr = None;
            queue::enter(myself, s, number, handle, t);
        }
        IvrStep::Ring(targets) if !targets.is_empty() => {
            let to = targets[0].line.clone();
            let id =
                queue::ring_for_answered(myself, s, &targets, (&[], &to), super::RING_TIMEOUT, t);
            if let Some(m) = s.ivr.as_mut() {
                m.ringing = Some(id);
            }
            s.relays.hold(CALLEE_PORT, true, s.music.as_ref());
        }
        IvrStep::Ring(_) => hang_up(s, 480, "Temporarily Unavailable", t),
        IvrStep::Voicemail(b) => {
            s.ivr = None;
            if let Some(caller) = s.with_role(Role::Caller) {
                super::voicemail::arrive(s, caller, *b, t);
            }
        }
        IvrStep::Message(list) => {
            s.ivr = None;
            s.announcing = s.relays.play(CALLER, list);
            if !s.announcing {
                hang_up(s, 480, "Temporarily Unavailable", t);
            }
        }
        IvrStep::Refuse(code, reason) => hang_up(s, code, reason, t),
    }
}

/// What the channel ringing the chosen devices reported.
pub fn ringing_event(s: &mut CallState, id: ChannelId, i: usize, e: LegEvent, t: Instant) {
    match e {
        LegEvent::Ringing | LegEvent::EarlyMedia(_) => leg_rang(s, id, i),
        LegEvent::Answered(sdp) => {
            if queue::take_caller(s, id, i, sdp).is_some() {
                s.ivr = None;
            }
        }
        LegEvent::Ended(c) => {
            if let Some(ch) = s.channel_mut(id) {
                ch.role = Role::Retired;
            }
            s.journal.publish(CallEventKind::LegEnded {
                leg: leg_no(s, id, i),
                code: c.code,
                reason: c.reason.clone(),
                side: super::journal::side_of(&c, Side::Callee),
            });
            if s.ivr.as_ref().is_some_and(|m| m.ringing == Some(id)) {
                // Nobody answered: the caller is told so by the hang-up.
                s.ivr = None;
                hang_up(s, c.code, &c.reason, t);
            }
        }
        LegEvent::Request(req) => {
            s.with_leg(id, i, t, |l| {
                l.respond(&req, 481, "Call/Transaction Does Not Exist", None, t)
            });
        }
        LegEvent::Response(_) => {}
    }
}

/// Whether the ringing channel `id` is this call's IVR's.
pub fn rings(s: &CallState, id: ChannelId) -> bool {
    s.ivr.as_ref().is_some_and(|m| m.ringing == Some(id))
}

/// The caller is hung up (BYE) for this cause.
fn hang_up(s: &mut CallState, code: u16, reason: &str, t: Instant) {
    s.ivr = None;
    queue::hang_up(s, code, reason, t);
}

/// Asks the tenant where number `to` leads a caller of this call; the answer comes
/// back as `CallMsg::IvrStep`.
pub(super) fn ask(myself: &ActorRef<CallMsg>, s: &CallState, to: String, menu: Option<String>) {
    let tenant = s.tenant.supervisor.clone();
    // A menu's choice is routed as the menu dialling it (its permission class
    // decides an external number), anything else as the caller.
    let (me, by) = (
        myself.clone(),
        menu.unwrap_or_else(|| s.parties.caller.clone()),
    );
    tokio::spawn(async move {
        let step = match tenant
            .call(|reply| TenantMsg::IvrChoice { by, to, reply }, None)
            .await
        {
            Ok(CallResult::Success(step)) => step,
            _ => IvrStep::Refuse(503, "Service Unavailable"),
        };
        let _ = me.send_message(CallMsg::IvrStep(step));
    });
}
