//! A user listening to their voicemail (the plan's access code, `*97`): the switch
//! answers and asks for the mailbox's PIN (typed, then `#`); a wrong PIN is said to
//! be wrong, and after three the caller is hung up (each try waits for the prompt,
//! so guessing is slow). Then "you have (no) new messages", and the messages play,
//! new ones first (oldest first), then old ones: a message played out is old; during
//! or just after a message `7` deletes it and `9` keeps it, moving on; after the last,
//! "goodbye". A mailbox without a PIN is not opened (`pbx voicemail pin` sets one).

use std::time::{Duration, Instant};

use ractor::ActorRef;

use super::channel::ChannelId;
use super::{announce, queue, CallState, CALLER_PORT as CALLER};
use crate::media_relay::Port;
use crate::proto::{CallMsg, VoicemailBox};
use crate::store::VoicemailMessage;

/// Wrong PINs before the caller is hung up.
const TRIES: u32 = 3;

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
    /// "Goodbye" plays, then the caller is hung up.
    Bye,
}

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
            if typed == a.pin {
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
        Phase::Pin if a.typed.len() < 16 => a.typed.push(key),
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
        return bye(s, &["vm_goodbye"], t);
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
        Phase::Loading | Phase::Pin | Phase::After(_) => {}
    }
    true
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
    if let Phase::After(i) = a.phase {
        next(s, i + 1, t);
    }
}
