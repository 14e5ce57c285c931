//! Recording a call on demand: the relay taps what both parties send
//! (`media::record::CallTap`: decoded, at 8 kHz, side by side) and hands the frames
//! to a thread of the recording's own that writes them to a stereo WAV (caller left,
//! callee right), so no file IO happens on the relay's task. The file is complete
//! when the recording stops or the call ends (the relay drops the tap).

use std::io::BufWriter;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};

use media::record::{CallTap, RATE};
use media::wav::{Recorder, RecordingLayout};

use super::Voice;
use crate::{Error, Result};

/// A recording under way: the relay's tap and the way to its writer.
pub struct Recording {
    pub(super) tap: CallTap,
    pub(super) frames: mpsc::Sender<(Vec<i16>, Vec<i16>)>,
    /// Scratch for the frames of one packet.
    pub(super) a: Vec<i16>,
    pub(super) b: Vec<i16>,
    /// When side A last said something (milliseconds since `started`).
    heard: Arc<AtomicU64>,
    started: std::time::Instant,
}

/// A sample louder than this (of 32767) counts as speech, not silence.
const SPEECH: i16 = 300;

/// How long the party of side A of a recording has been silent (sent nothing louder
/// than background noise, or nothing at all).
#[derive(Debug, Clone)]
pub struct Quiet {
    heard: Arc<AtomicU64>,
    started: std::time::Instant,
}

impl Quiet {
    pub fn silent_for(&self) -> std::time::Duration {
        let heard = std::time::Duration::from_millis(self.heard.load(Ordering::Relaxed));
        self.started.elapsed().saturating_sub(heard)
    }
}

impl std::fmt::Debug for Recording {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Recording")
    }
}

impl Recording {
    /// Starts writing `path` for a call whose sides speak `a` and `b`: both sides
    /// apart (stereo) or summed (mono: a voicemail message, whose other side is the
    /// switch). The file is brought up to date every second, so a switch killed
    /// meanwhile leaves what was recorded until then (`media::wav::repair`).
    pub fn start(path: &Path, a: Voice, b: Voice, layout: RecordingLayout) -> Result<Recording> {
        let tap = CallTap::new((a.kind, a.pt), (b.kind, b.pt))
            .map_err(|e| Error::Invalid(e.to_string()))?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let file = std::fs::File::create(path)?;
        let mut recorder = Recorder::new(BufWriter::new(file), RATE, layout)
            .map_err(|e| Error::Invalid(e.to_string()))?;
        let (frames, rx) = mpsc::channel::<(Vec<i16>, Vec<i16>)>();
        let name = path.display().to_string();
        std::thread::Builder::new()
            .name("recording".into())
            .spawn(move || {
                let mut unflushed = 0;
                for (a, b) in rx {
                    if let Err(e) = recorder.write(&a, &b) {
                        tracing::warn!(error = %e, file = %name, "recording cut short");
                        return;
                    }
                    unflushed += a.len().max(b.len());
                    if unflushed >= RATE as usize {
                        unflushed = 0;
                        if let Err(e) = recorder.flush() {
                            tracing::warn!(error = %e, file = %name, "recording cut short");
                            return;
                        }
                    }
                }
                if let Err(e) = recorder.finish() {
                    tracing::warn!(error = %e, file = %name, "recording not finished");
                }
            })?;
        Ok(Recording {
            tap,
            frames,
            a: Vec::new(),
            b: Vec::new(),
            heard: Arc::new(AtomicU64::new(0)),
            started: std::time::Instant::now(),
        })
    }

    /// A watch on how long side A has been silent.
    pub fn quiet(&self) -> Quiet {
        Quiet {
            heard: self.heard.clone(),
            started: self.started,
        }
    }

    /// An RTP datagram of party `party` (side A 0, side B 1).
    pub(super) fn push(&mut self, party: usize, datagram: &[u8]) {
        self.tap.push(party, datagram);
        self.tap.drain(&mut self.a, &mut self.b);
        if self.a.iter().any(|x| x.unsigned_abs() > SPEECH as u16) {
            let at = self.started.elapsed().as_millis() as u64;
            self.heard.store(at, Ordering::Relaxed);
        }
        if !self.a.is_empty() {
            let a = std::mem::take(&mut self.a);
            let b = std::mem::take(&mut self.b);
            let _ = self.frames.send((a, b));
        }
    }
}
