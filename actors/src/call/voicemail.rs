//! A caller leaving a voicemail message: the switch answers (unless an IVR menu has
//! already), plays the mailbox's greeting (its own, or the default one) and a tone,
//! then records what the caller says to a mono WAV in the mailbox's folder until the
//! caller hangs up, presses `#` (and hears "goodbye"), says nothing for `SILENCE`, or
//! the longest message is reached. The message's row is written when recording starts and completed when it
//! stops (`store/voicemail.rs`), with the mail telling the mailbox's person of it
//! (`crate::mail`); the file is brought up to date every second, so a switch killed
//! meanwhile keeps what was said until then.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use media::wav::{Announcement, RecordingLayout};

use super::channel::ChannelId;
use super::{announce, queue, CallState, CALLER_PORT as CALLER};
use crate::media_relay::recording::Recording;
use crate::media_relay::{Port, Side as RelaySide};
use crate::proto::VoicemailBox;

/// The longest message.
pub const MAX_MESSAGE: Duration = Duration::from_secs(120);

/// A caller silent this long (saying nothing, or sending nothing) has finished.
pub const SILENCE: Duration = Duration::from_secs(8);

/// A caller leaving a message.
pub struct Deposit {
    vbox: VoicemailBox,
    /// The greeting and tone are playing.
    greeting: bool,
    /// Recording to this file since then, until the deadline.
    recording: Option<(PathBuf, Instant)>,
    /// How long the caller has been silent, and when to look again.
    quiet: Option<(crate::media_relay::recording::Quiet, Instant)>,
}

/// The tone after the greeting: 300 ms of 850 Hz.
pub(super) fn tone() -> Announcement {
    let samples = (0..2400u32)
        .map(|i| {
            let x = (2.0 * std::f64::consts::PI * 850.0 * f64::from(i) / 8000.0).sin();
            (x * 9000.0) as i16
        })
        .collect();
    Announcement::from_samples("voicemail tone", samples)
}

/// The caller reaches mailbox `vbox`: answered (when not yet), it hears the greeting.
pub fn arrive(s: &mut CallState, caller: ChannelId, vbox: VoicemailBox, t: Instant) {
    if s.caller_waiting() {
        let Some(sdp) = announce::own_answer(s) else {
            return announce::not_acceptable(s, caller, t);
        };
        s.journal
            .answered_by_switch(&format!("voicemail {}", vbox.mailbox));
        announce::answer(s, caller, sdp, t);
    }
    let greeting = vbox
        .greeting
        .clone()
        .or_else(|| sounds::load("vm_greeting").ok());
    let list: Vec<Announcement> = greeting.into_iter().chain([tone()]).collect();
    tracing::debug!(mailbox = %vbox.mailbox, "caller leaves a message");
    s.voicemail = Some(Deposit {
        vbox,
        greeting: true,
        recording: None,
        quiet: None,
    });
    if !s.relays.play(CALLER, list) {
        record(s, t);
    }
}

/// What played to `port` has played out; false when it was not the greeting.
pub fn played(s: &mut CallState, port: Port, t: Instant) -> bool {
    if port != CALLER || !s.voicemail.as_ref().is_some_and(|d| d.greeting) {
        return false;
    }
    record(s, t);
    true
}

/// Starts recording the caller (not one who hung up during the greeting).
fn record(s: &mut CallState, t: Instant) {
    if !queue::caller_here(s) {
        s.voicemail = None;
        return;
    }
    let Some(d) = s.voicemail.as_mut() else {
        return;
    };
    d.greeting = false;
    let stamp = chrono::Utc::now().format("%Y%m%d-%H%M%S");
    let path = d.vbox.dir.join(format!("{stamp}-{}.wav", s.journal.call));
    let voices = s
        .relays
        .get(0)
        .and_then(|r| Some((r.voice(RelaySide::A)?, r.voice(RelaySide::B)?)));
    let Some((a, b)) = voices else {
        tracing::info!("voicemail not recorded: the caller's codec is not known to the switch");
        return stop(s, t, 480, "Temporarily Unavailable");
    };
    let rec = match Recording::start(&path, a, b, RecordingLayout::Mixed) {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, file = %path.display(), "voicemail not recorded");
            return stop(s, t, 500, "Server Internal Error");
        }
    };
    let quiet = rec.quiet();
    if let Some(r) = s.relays.get(0) {
        r.handle.record(Some(rec));
    }
    d.quiet = Some((quiet, t + SILENCE));
    // A caller who withholds its number is left anonymous in the mailbox too.
    let caller = if s.parties.anonymous {
        "anonymous".to_owned()
    } else {
        s.parties.caller.clone()
    };
    let (tenant, mailbox) = (d.vbox.tenant, d.vbox.mailbox.clone());
    let file = path.display().to_string();
    d.vbox.store.submit("a voicemail message", move |st| {
        st.voicemail_started(
            tenant,
            &mailbox,
            &caller,
            crate::clock::unix_millis(),
            &file,
        )
        .map(|_| ())
    });
    tracing::info!(file = %path.display(), "voicemail recording");
    d.recording = Some((path, t));
}

/// A key from the caller: `#` ends the message. False when no message is recorded.
pub fn key(s: &mut CallState, port: Port, key: char, t: Instant) -> bool {
    let recording = s.voicemail.as_ref().is_some_and(|d| d.recording.is_some());
    if port != CALLER || !recording {
        return false;
    }
    if key == '#' {
        finish(s, t);
        s.announcing = s.relays.announce(CALLER, &["vm_goodbye"]);
        if !s.announcing {
            queue::hang_up(s, 200, "Message Recorded", t);
        }
    }
    true
}

/// When the longest message is reached, or the caller's silence is looked at next.
pub fn deadline(s: &CallState) -> Option<Instant> {
    let d = s.voicemail.as_ref()?;
    let (_, since) = d.recording.as_ref()?;
    let end = *since + MAX_MESSAGE;
    Some(d.quiet.as_ref().map_or(end, |(_, at)| end.min(*at)))
}

/// The longest message is reached, or the caller has been silent long enough: the
/// message ends and the caller is hung up.
pub fn expired(s: &mut CallState, t: Instant) {
    let Some(d) = s.voicemail.as_mut() else {
        return;
    };
    let Some((_, since)) = d.recording.as_ref() else {
        return;
    };
    if t >= *since + MAX_MESSAGE {
        return stop(s, t, 200, "Message Recorded");
    }
    let Some((quiet, at)) = d.quiet.as_mut().filter(|(_, at)| t >= *at) else {
        return;
    };
    let silent = quiet.silent_for();
    if silent >= SILENCE {
        tracing::debug!(?silent, "voicemail: the caller fell silent");
        return stop(s, t, 200, "Message Recorded");
    }
    *at = t + (SILENCE - silent);
}

/// The caller hung up: the message is complete, and nothing more happens for it.
pub fn flush(s: &mut CallState, t: Instant) {
    if queue::caller_here(s) || s.voicemail.is_none() {
        return;
    }
    finish(s, t);
    s.voicemail = None;
}

/// Ends the message (if one is recorded) and hangs up the caller.
fn stop(s: &mut CallState, t: Instant, code: u16, reason: &str) {
    finish(s, t);
    queue::hang_up(s, code, reason, t);
}

/// The recording stops and its row is completed.
fn finish(s: &mut CallState, t: Instant) {
    let Some(d) = s.voicemail.as_mut() else {
        return;
    };
    let Some((path, since)) = d.recording.take() else {
        return;
    };
    if let Some(r) = s.relays.get(0) {
        r.handle.record(None);
    }
    let ms = t.saturating_duration_since(since).as_millis() as u64;
    let file = path.display().to_string();
    d.vbox.store.submit("a voicemail message", move |st| {
        st.voicemail_done_file(&file, ms)?;
        st.queue_voicemail_mail(&file, crate::clock::unix_millis())
    });
    d.vbox.mail.notify_one();
    tracing::info!(file = %path.display(), ms, "voicemail message recorded");
    let mailbox = d.vbox.mailbox.clone();
    changed(s, &mailbox);
}

/// Tells the line of `mailbox` (if it runs) that its messages changed: it NOTIFYs the
/// phones subscribed to them (`mwi`). Sent after the store write it follows, which
/// the line's read of the counts therefore sees.
pub(super) fn changed(s: &CallState, mailbox: &str) {
    if let Some(line) = s.directory.line(s.tenant.id, mailbox) {
        let _ = line.cast(crate::proto::LineMsg::MailboxChanged);
    }
}
