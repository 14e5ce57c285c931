//! Recording on demand: a party types the plan's recording feature code (`*44` by
//! default) during an answered call; the call starts recording both parties to a
//! stereo WAV in `DATA_DIR/recordings/TENANT/LINE/` (the line that typed it), writes
//! the file's path into the journal row, and stops when the code is typed again or
//! the call ends. `pbx recording list` lists the files.

use std::path::PathBuf;

use super::channel::{ChannelId, Role};
use super::CallState;
use crate::journal::CallEventKind;
use crate::media_relay::recording::Recording;
use crate::media_relay::Side as RelaySide;

/// Where the recordings of line `line` of tenant `tenant` go.
pub fn directory(data_dir: &std::path::Path, tenant: &str, line: &str) -> PathBuf {
    data_dir.join("recordings").join(tenant).join(line)
}

/// Channel `from` typed a key (`s.typed` holds the last few): when they end with the
/// recording code, recording starts or stops.
pub fn typed(s: &mut CallState, from: ChannelId) {
    let Some(code) = s.record_code.clone() else {
        return;
    };
    if !s.typed.ends_with(&code) {
        return;
    }
    s.typed.clear();
    toggle(s, from);
}

/// Starts recording the call (channel `from` asks), or stops it.
pub fn toggle(s: &mut CallState, from: ChannelId) {
    let answered = s
        .channel(from)
        .is_some_and(|c| matches!(c.role, Role::Caller | Role::Callee));
    if !answered {
        return;
    }
    match s.recording.take() {
        Some(path) => {
            if let Some(r) = s.relays.get(0) {
                r.handle.record(None);
            }
            tracing::info!(file = %path.display(), "recording stopped");
        }
        None => start(s, from),
    }
}

fn start(s: &mut CallState, from: ChannelId) {
    let Some(r) = s.relays.get(0) else {
        return;
    };
    let (Some(a), Some(b)) = (r.voice(RelaySide::A), r.voice(RelaySide::B)) else {
        tracing::info!("recording refused: the call's codecs are not known to the switch");
        return;
    };
    let line = s
        .channel(from)
        .map(|c| c.user().to_owned())
        .unwrap_or_default();
    let stamp = chrono::Utc::now().format("%Y%m%d-%H%M%S");
    let name = format!("{stamp}-{}.wav", s.journal.call);
    let path = directory(&s.data_dir, &s.tenant.name, &line).join(name);
    match Recording::start(&path, a, b, media::wav::RecordingLayout::Stereo) {
        Ok(rec) => {
            r.handle.record(Some(rec));
            tracing::info!(file = %path.display(), %line, "recording started");
            s.journal.publish(CallEventKind::CallRecorded {
                path: path.display().to_string(),
            });
            s.recording = Some(path);
        }
        Err(e) => tracing::warn!(error = %e, "recording not started"),
    }
}
