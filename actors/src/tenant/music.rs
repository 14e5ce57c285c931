//! A tenant's own music on hold: `DATA_DIR/sounds/TENANT/hold_music.wav` (mono 8 kHz
//! 16-bit PCM, put there by `pbx tenant music`), read again when the file changes;
//! without it callers hear the default melody of `sounds`.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use media::wav::Announcement;

/// Where a tenant's music on hold lives.
pub fn path(data_dir: &Path, tenant: &str) -> PathBuf {
    data_dir.join("sounds").join(tenant).join("hold_music.wav")
}

/// The music file as last read: its modification time and what it held.
#[derive(Debug, Default)]
pub struct Watched {
    modified: Option<SystemTime>,
    pub music: Option<Announcement>,
}

impl Watched {
    /// Reads the file again when it appeared, changed or went away.
    pub fn refresh(&mut self, path: &Path) {
        let modified = std::fs::metadata(path).and_then(|m| m.modified()).ok();
        if modified == self.modified {
            return;
        }
        self.modified = modified;
        self.music = match modified {
            None => None,
            Some(_) => match Announcement::from_path(path) {
                Ok(a) => {
                    tracing::info!(path = %path.display(), ms = a.duration_ms(), "music on hold loaded");
                    Some(a)
                }
                Err(e) => {
                    tracing::warn!(error = %e, "music on hold not usable; the default plays");
                    None
                }
            },
        };
    }
}

/// Checks `file` and copies it to `dest`, as a prompt is (`prompts::install`).
pub fn install(file: &Path, dest: &Path) -> crate::Result<Announcement> {
    super::prompts::install(file, dest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wav(path: &Path, rate: u32, channels: u16) {
        let spec = hound::WavSpec {
            channels,
            sample_rate: rate,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(path, spec).unwrap();
        for i in 0..rate {
            w.write_sample(((i % 100) as i16) * 100).unwrap();
        }
        w.finalize().unwrap();
    }

    #[test]
    fn installed_music_is_watched_and_a_wrong_file_is_refused() {
        let dir = std::env::temp_dir().join(format!("moh-{:x}", rand::random::<u64>()));
        std::fs::create_dir_all(&dir).unwrap();
        let dest = path(&dir, "acme");
        let mut watched = Watched::default();
        watched.refresh(&dest);
        assert!(watched.music.is_none());
        let stereo = dir.join("stereo.wav");
        wav(&stereo, 44100, 2);
        let err = install(&stereo, &dest).unwrap_err().to_string();
        assert!(err.contains("2 channel(s), 44100 Hz"), "{err}");
        assert!(!dest.exists(), "nothing stored");
        let good = dir.join("good.wav");
        wav(&good, 8000, 1);
        install(&good, &dest).unwrap();
        watched.refresh(&dest);
        assert_eq!(watched.music.as_ref().unwrap().duration_ms(), 1000);
        std::fs::remove_file(&dest).unwrap();
        watched.refresh(&dest);
        assert!(watched.music.is_none(), "back to the default");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
