//! A user listening to their voicemail (the plan's access code, `*97`): the switch
//! answers and asks for the mailbox's PIN (typed, then `#`); a wrong PIN is said to
//! be wrong, and after three the caller is hung up (each try waits for the prompt,
//! so guessing is slow). Then "you have (no) new messages", and the messages play,
//! new ones first (oldest first), then old ones: a message played out is old; during
//! or just after a message `7` deletes it and `9` keeps it, moving on; after the last,
//! the options: `8` records the mailbox's greeting (after a tone, until `#`; kept as
//! the tenant's prompt `greeting-MAILBOX`), `0` sets a new PIN (digits, then `#`);
//! no key: "goodbye". A mailbox without a PIN is not opened (`pbx voicemail pin`).
//! Guessing across calls is bounded too: after `MAX_WRONG` wrong PINs within
//! `LOCK_WINDOW` a mailbox opens to nobody until the window has passed (a right PIN
//! clears the count).

use std::time::{Duration, Instant};

use ractor::ActorRef;

use super::channel::ChannelId;
use super::{announce, queue, CallState, CALLER_PORT as CALLER};
use crate::media_relay::recording::Recording;
use crate::media_relay::{Port, Side as RelaySide};
use crate::proto::{CallMsg, VoicemailBox};
use crate::store::VoicemailMessage;

/// Wrong PINs before the caller is hung up.
const TRIES: u32 = 3;

/// Wrong PINs a mailbox takes within `LOCK_WINDOW`, over all calls, before it is
/// locked for the rest of the window (three calls' tries).
const MAX_WRONG: u32 = 9;
const LOCK_WINDOW: Duration = Duration::from_secs(15 * 60);

/// Wrong PINs by mailbox: how many, since when. Only mailboxes that exist get here.
type WrongPins = std::collections::HashMap<(crate::proto::TenantId, String), (u32, Instant)>;

fn wrong_pins() -> std::sync::MutexGuard<'static, WrongPins> {
    static WRONG: std::sync::OnceLock<std::sync::Mutex<WrongPins>> = std::sync::OnceLock::new();
    WRONG
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner())
}

/// The mailbox took `MAX_WRONG` wrong PINs within the window that is still running.
fn locked(vbox: &VoicemailBox, t: Instant) -> bool {
    wrong_pins()
        .get(&(vbox.tenant, vbox.mailbox.clone()))
        .is_some_and(|(n, since)| {
            *n >= MAX_WRONG && t.saturating_duration_since(*since) < LOCK_WINDOW
        })
}

fn pin_wrong(vbox: &VoicemailBox, t: Instant) {
    let mut map = wrong_pins();
    let e = map
        .entry((vbox.tenant, vbox.mailbox.clone()))
        .or_insert((0, t));
    if t.saturating_duration_since(e.1) >= LOCK_WINDOW {
        *e = (0, t);
    }
    e.0 += 1;
    if e.0 == MAX_WRONG {
        tracing::warn!(mailbox = %vbox.mailbox, "voicemail PIN guessed wrong too often: mailbox locked for a while");
    }
}

fn pin_right(vbox: &VoicemailBox) {
    wrong_pins().remove(&(vbox.tenant, vbox.mailbox.clone()));
}

/// How long after a message the caller may still delete (7) or keep (9) it.
const AFTER_MESSAGE: Duration = Duration::from_secs(4);

enum Phase {
    /// The PIN and messages are being read.
    Loading,
    /// Waiting for the PIN (or the prompt asking for it plays).
    Pin,
    /// "That PIN is not correct" plays; keys are not taken.
    Wrong,
    /// "You have (no) new messages" plays.
    Counts,
    /// Message `i` plays.
    Playing(usize),
    /// Message `i` played; the caller may still press 7 or 9.
    After(usize),
    /// The options (8: greeting, 0: PIN) play, then wait for a key.
    Options,
    /// "Record your greeting after the tone" and the tone play.
    GreetingPrompt,
    /// The greeting is recorded to this file, until `#`.
    Greeting(std::path::PathBuf),
    /// The new PIN is typed, until `#`.
    NewPin,
    /// A confirmation plays; the options come again.
    Done,
    /// "Goodbye" plays, then the caller is hung up.
    Bye,
}

/// How long the options wait for a key, and the longest greeting.
const OPTIONS_WAIT: Duration = Duration::from_secs(6);
const MAX_GREETING: Duration = Duration::from_secs(60);

/// A user in their mailbox.
pub struct Access {
    vbox: VoicemailBox,
    pin: String,
    messages: Vec<VoicemailMessage>,
    typed: String,
    wrong: u32,
    phase: Phase,
    until: Option<Instant>,
}

/// Answers the user and reads its mailbox's PIN and messages.
pub fn arrive(
    myself: &ActorRef<CallMsg>,
    s: &mut CallState,
    caller: ChannelId,
    vbox: VoicemailBox,
    t: Instant,
) {
    let Some(sdp) = announce::own_answer(s) else {
        return announce::not_acceptable(s, caller, t);
    };
    s.journal
        .answered_by_switch(&format!("voicemail access {}", vbox.mailbox));
    announce::answer(s, caller, sdp, t);
    let (store, tenant, mailbox) = (vbox.store.clone(), vbox.tenant, vbox.mailbox.clone());
    s.mailbox = Some(Access {
        vbox,
        pin: String::new(),
        messages: Vec::new(),
        typed: String::new(),
        wrong: 0,
        phase: Phase::Loading,
        until: None,
    });
    let me = myself.clone();
    tokio::spawn(async move {
        let read = store
            .call(move |st| {
                Ok((
                    st.voicemail_pin(tenant, &mailbox)?,
                    st.voicemail_messages(tenant, Some(&mailbox))?,
                ))
            })
            .await
            .unwrap_or_default();
        let _ = me.send_message(CallMsg::MailboxRead(read.0, read.1));
    });
}

/// The mailbox's PIN and messages were read: the PIN is asked for (no PIN set: the
/// mailbox stays closed).
pub fn read(
    s: &mut CallState,
    pin: Option<String>,
    mut messages: Vec<VoicemailMessage>,
    t: Instant,
) {
    let Some(a) = s
        .mailbox
        .as_mut()
        .filter(|a| matches!(a.phase, Phase::Loading))
    else {
        return;
    };
    let Some(pin) = pin else {
        tracing::info!(mailbox = %a.vbox.mailbox, "mailbox without a PIN not opened");
        return bye(s, &["feature_refused", "vm_goodbye"], t);
    };
    if locked(&a.vbox, t) {
        tracing::info!(mailbox = %a.vbox.mailbox, "locked mailbox not opened");
        return bye(s, &["feature_refused", "vm_goodbye"], t);
    }
    // New ones first, then old ones; oldest first in each; none being recorded.
    messages.retain(|m| m.state != "recording");
    messages.sort_by_key(|m| (m.state != "new", m.received_at, m.id));
    a.pin = pin;
    a.messages = messages;
    a.phase = Phase::Pin;
    play(s, &["vm_enter_pin"], t);
}

fn play(s: &mut CallState, prompts: &[&str], t: Instant) {
    if !s.relays.announce(CALLER, prompts) {
        played(s, CALLER, t);
    }
}

/// Says `prompts`, then hangs up.
fn bye(s: &mut CallState, prompts: &[&str], t: Instant) {
    if let Some(a) = s.mailbox.as_mut() {
        a.phase = Phase::Bye;
        a.until = None;
    }
    play(s, prompts, t);
}

/// A key from the user; false when it is in no mailbox.
pub fn key(s: &mut CallState, port: Port, key: char, t: Instant) -> bool {
    let Some(a) = s.mailbox.as_mut().filter(|_| port == CALLER) else {
        return false;
    };
    match a.phase {
        Phase::Pin if key == '#' => {
            let typed = std::mem::take(&mut a.typed);
            if locked(&a.vbox, t) {
                bye(s, &["feature_refused", "vm_goodbye"], t);
                return true;
            }
            if typed == a.pin {
                pin_right(&a.vbox);
                a.phase = Phase::Counts;
                let new = a.messages.iter().any(|m| m.state == "new");
                s.relays.silence(CALLER);
                play(
                    s,
                    &[if new {
                        "vm_new_messages"
                    } else {
                        "vm_no_messages"
                    }],
                    t,
                );
            } else {
                a.wrong += 1;
                pin_wrong(&a.vbox, t);
                tracing::info!(mailbox = %a.vbox.mailbox, tries = a.wrong, "wrong voicemail PIN");
                if a.wrong >= TRIES {
                    bye(s, &["conf_wrong_pin", "vm_goodbye"], t);
                    return true;
                }
                a.phase = Phase::Wrong;
                s.relays.silence(CALLER);
                play(s, &["conf_wrong_pin"], t);
            }
        }
        Phase::Pin | Phase::NewPin if a.typed.len() < 16 && key != '#' => a.typed.push(key),
        Phase::NewPin => {
            let pin = std::mem::take(&mut a.typed);
            let valid = (4..=8).contains(&pin.len()) && pin.bytes().all(|b| b.is_ascii_digit());
            a.phase = Phase::Done;
            if valid {
                let (store, tenant, mailbox) =
                    (a.vbox.store.clone(), a.vbox.tenant, a.vbox.mailbox.clone());
                a.pin = pin.clone();
                store.submit("a voicemail PIN", move |st| {
                    st.set_voicemail_pin(tenant, &mailbox, &pin)
                });
            }
            s.relays.silence(CALLER);
            play(
                s,
                &[if valid {
                    "vm_pin_changed"
                } else {
                    "feature_refused"
                }],
                t,
            );
        }
        Phase::Options if key == '8' => {
            a.phase = Phase::GreetingPrompt;
            a.until = None;
            s.relays.silence(CALLER);
            let list = ["vm_record_greeting"]
                .iter()
                .filter_map(|n| sounds::load(n).ok())
                .chain([super::voicemail::tone()])
                .collect();
            if !s.relays.play(CALLER, list) {
                played(s, CALLER, t);
            }
        }
        Phase::Options if key == '0' => {
            a.phase = Phase::NewPin;
            a.until = None;
            a.typed.clear();
            s.relays.silence(CALLER);
            play(s, &["vm_new_pin"], t);
        }
        Phase::Greeting(_) if key == '#' => greeting_done(s, t),
        Phase::Playing(i) | Phase::After(i) if key == '7' || key == '9' => {
            let (id, store) = (a.messages[i].id, a.vbox.store.clone());
            if key == '7' {
                store.submit("deleting a voicemail message", move |st| {
                    st.voicemail_delete(id)
                });
            } else {
                store.submit("keeping a voicemail message", move |st| {
                    st.voicemail_heard(id)
                });
            }
            let mailbox = a.vbox.mailbox.clone();
            super::voicemail::changed(s, &mailbox);
            s.relays.silence(CALLER);
            next(s, i + 1, t);
        }
        _ => {}
    }
    true
}

/// Plays message `i`, or says goodbye after the last.
fn next(s: &mut CallState, i: usize, t: Instant) {
    let Some(a) = s.mailbox.as_mut() else { return };
    a.until = None;
    let Some(m) = a.messages.get(i) else {
        return options(s, t);
    };
    a.phase = Phase::Playing(i);
    match media::wav::Announcement::from_path(std::path::Path::new(&m.file)) {
        Ok(audio) => {
            if !s.relays.play(CALLER, vec![audio]) {
                played(s, CALLER, t);
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "voicemail message not playable");
            next(s, i + 1, t)
        }
    }
}

/// What played to `port` has played out; false when it was not the mailbox's.
pub fn played(s: &mut CallState, port: Port, t: Instant) -> bool {
    let Some(a) = s.mailbox.as_mut().filter(|_| port == CALLER) else {
        return false;
    };
    match a.phase {
        Phase::Wrong => {
            a.phase = Phase::Pin;
            play(s, &["vm_enter_pin"], t);
        }
        Phase::Counts => next(s, 0, t),
        Phase::Playing(i) => {
            // Played out: heard.
            let (id, store) = (a.messages[i].id, a.vbox.store.clone());
            store.submit("a voicemail message heard", move |st| {
                st.voicemail_heard(id)
            });
            a.phase = Phase::After(i);
            a.until = Some(t + AFTER_MESSAGE);
            let mailbox = a.vbox.mailbox.clone();
            super::voicemail::changed(s, &mailbox);
        }
        Phase::Bye => {
            a.phase = Phase::Loading;
            queue::hang_up(s, 200, "Mailbox Closed", t);
        }
        Phase::Options => a.until = Some(t + OPTIONS_WAIT),
        Phase::GreetingPrompt => record_greeting(s, t),
        Phase::Done => options(s, t),
        Phase::Loading | Phase::Pin | Phase::NewPin | Phase::After(_) | Phase::Greeting(_) => {}
    }
    true
}

/// The options: record a greeting (8), change the PIN (0).
fn options(s: &mut CallState, t: Instant) {
    if let Some(a) = s.mailbox.as_mut() {
        a.phase = Phase::Options;
        a.until = None;
    }
    play(s, &["vm_options"], t);
}

/// Starts recording the mailbox's greeting (to a file beside where it will be kept).
fn record_greeting(s: &mut CallState, t: Instant) {
    let Some(a) = s.mailbox.as_mut() else { return };
    let dest = a.vbox.greeting_path.clone();
    let tmp = dest.with_extension(format!("{}.rec", s.journal.call));
    let voices = s
        .relays
        .get(0)
        .and_then(|r| Some((r.voice(RelaySide::A)?, r.voice(RelaySide::B)?)));
    let started = voices.and_then(|(x, y)| {
        Recording::start(&tmp, x, y, media::wav::RecordingLayout::Mixed)
            .map_err(|e| tracing::warn!(error = %e, "greeting not recorded"))
            .ok()
    });
    let Some(rec) = started else {
        return options(s, t);
    };
    if let Some(r) = s.relays.get(0) {
        r.handle.record(Some(rec));
    }
    if let Some(a) = s.mailbox.as_mut() {
        a.phase = Phase::Greeting(tmp);
        a.until = Some(t + MAX_GREETING);
    }
}

/// The greeting is complete: it replaces the mailbox's greeting.
fn greeting_done(s: &mut CallState, t: Instant) {
    let Some(a) = s.mailbox.as_mut() else { return };
    let Phase::Greeting(tmp) = std::mem::replace(&mut a.phase, Phase::Done) else {
        return;
    };
    a.until = None;
    if let Some(r) = s.relays.get(0) {
        r.handle.record(None);
    }
    // The writer finishes the file through its open handle; the name is the kept one.
    let dest = a.vbox.greeting_path.clone();
    let saved = std::fs::rename(&tmp, &dest)
        .map_err(|e| tracing::warn!(error = %e, "greeting not kept"))
        .is_ok();
    tracing::info!(file = %dest.display(), saved, "voicemail greeting recorded");
    play(
        s,
        &[if saved {
            "vm_greeting_saved"
        } else {
            "feature_refused"
        }],
        t,
    );
}

/// The user hung up: a greeting being recorded is dropped (not kept), nothing more
/// plays and nothing more counts as heard.
pub fn flush(s: &mut CallState) {
    if s.mailbox.is_none() || queue::caller_here(s) {
        return;
    }
    if let Some(Access {
        phase: Phase::Greeting(tmp),
        ..
    }) = s.mailbox.take()
    {
        if let Some(r) = s.relays.get(0) {
            r.handle.record(None);
        }
        let _ = std::fs::remove_file(tmp);
    }
}

/// When the wait after a message ends.
pub fn deadline(s: &CallState) -> Option<Instant> {
    s.mailbox.as_ref().and_then(|a| a.until)
}

/// The wait after a message is over: the next one.
pub fn expired(s: &mut CallState, t: Instant) {
    let Some(a) = s
        .mailbox
        .as_ref()
        .filter(|a| a.until.is_some_and(|u| t >= u))
    else {
        return;
    };
    match a.phase {
        Phase::After(i) => next(s, i + 1, t),
        Phase::Options => bye(s, &["vm_goodbye"], t),
        Phase::Greeting(_) => greeting_done(s, t),
        _ => {}
    }
}
