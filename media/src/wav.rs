//! WAV announcements, playlists and music on hold (through `hound`), and the call
//! recorder.
//!
//! The switch's announcements are mono 8 kHz 16-bit PCM. Anything else is refused when
//! it is loaded, with the reason, so a bad file shows up at start-up and not mid-call.

use std::io::{Read, Seek, Write};
use std::path::Path;
use std::sync::Arc;

use hound::{SampleFormat, WavReader, WavSpec, WavWriter};

use crate::{MediaError, Result};

/// The only announcement format: mono, 8000 Hz, 16-bit integer PCM.
pub const ANNOUNCEMENT_SPEC: WavSpec = WavSpec {
    channels: 1,
    sample_rate: 8000,
    bits_per_sample: 16,
    sample_format: SampleFormat::Int,
};

/// A loaded announcement: its samples are shared, so players are cheap.
#[derive(Debug, Clone, PartialEq)]
pub struct Announcement {
    name: String,
    samples: Arc<[i16]>,
}

impl Announcement {
    /// Loads an announcement from WAV bytes (e.g. embedded with `include_bytes!`).
    pub fn from_bytes(name: &str, bytes: &[u8]) -> Result<Self> {
        Self::from_reader(name, std::io::Cursor::new(bytes))
    }

    /// Loads an announcement from a file.
    pub fn from_path(path: &Path) -> Result<Self> {
        let name = path.display().to_string();
        let file = std::fs::File::open(path).map_err(|e| MediaError::BadAnnouncement {
            name: name.clone(),
            reason: e.to_string(),
        })?;
        Self::from_reader(&name, std::io::BufReader::new(file))
    }

    /// Loads an announcement from any reader of WAV data.
    pub fn from_reader<R: Read>(name: &str, reader: R) -> Result<Self> {
        let refuse = |reason: String| MediaError::BadAnnouncement {
            name: name.to_owned(),
            reason,
        };
        let reader = WavReader::new(reader).map_err(|e| refuse(e.to_string()))?;
        let spec = reader.spec();
        if spec != ANNOUNCEMENT_SPEC {
            return Err(refuse(format!(
                "expected mono 8000 Hz 16-bit integer PCM, found {} channel(s), {} Hz, \
                 {}-bit {}",
                spec.channels,
                spec.sample_rate,
                spec.bits_per_sample,
                match spec.sample_format {
                    SampleFormat::Int => "integer",
                    SampleFormat::Float => "float",
                }
            )));
        }
        let samples = reader
            .into_samples::<i16>()
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| refuse(e.to_string()))?;
        if samples.is_empty() {
            return Err(refuse("no samples".into()));
        }
        Ok(Self {
            name: name.to_owned(),
            samples: samples.into(),
        })
    }

    /// An announcement from samples already at 8 kHz (generated prompts, tests).
    pub fn from_samples(name: &str, samples: Vec<i16>) -> Self {
        Self {
            name: name.to_owned(),
            samples: samples.into(),
        }
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its samples at 8 kHz.
    pub fn samples(&self) -> &[i16] {
        &self.samples
    }

    /// Its length in milliseconds.
    pub fn duration_ms(&self) -> u64 {
        self.samples.len() as u64 * 1000 / 8000
    }
}

/// Plays a playlist of announcements at 8 kHz, once or looping (music on hold).
#[derive(Debug, Clone)]
pub struct Player {
    playlist: Vec<Announcement>,
    index: usize,
    position: usize,
    looping: bool,
}

impl Player {
    /// Plays `playlist` in order, once (or forever if `looping`).
    pub fn new(playlist: Vec<Announcement>, looping: bool) -> Self {
        Self {
            playlist,
            index: 0,
            position: 0,
            looping,
        }
    }

    /// Music on hold: `track` looping.
    pub fn music_on_hold(track: Announcement) -> Self {
        Self::new(vec![track], true)
    }

    /// True once a non-looping playlist has played out.
    pub fn is_finished(&self) -> bool {
        self.index >= self.playlist.len()
    }

    /// The announcement playing now.
    pub fn current(&self) -> Option<&Announcement> {
        self.playlist.get(self.index)
    }

    /// Fills `out` with the next samples; silence after the end. Returns whether
    /// anything was still playing.
    pub fn fill(&mut self, out: &mut [i16]) -> bool {
        let playing = !self.is_finished();
        let mut written = 0;
        while written < out.len() {
            let Some(item) = self.playlist.get(self.index) else {
                break;
            };
            let samples = item.samples();
            let n = (samples.len() - self.position).min(out.len() - written);
            out[written..written + n].copy_from_slice(&samples[self.position..self.position + n]);
            written += n;
            self.position += n;
            if self.position >= samples.len() {
                self.position = 0;
                self.index += 1;
                if self.index >= self.playlist.len() && self.looping {
                    self.index = 0;
                }
            }
        }
        out[written..].iter_mut().for_each(|s| *s = 0);
        playing
    }
}

/// How a recording stores a call's two directions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordingLayout {
    /// One channel: both directions summed (clipped).
    Mixed,
    /// Two channels: the caller left, the callee right.
    Stereo,
}

/// Records a call's two directions to WAV, 16-bit at the call's rate.
pub struct Recorder<W: Write + Seek> {
    writer: WavWriter<W>,
    layout: RecordingLayout,
}

impl<W: Write + Seek> Recorder<W> {
    /// A recorder writing to `sink` at `rate` Hz.
    pub fn new(sink: W, rate: u32, layout: RecordingLayout) -> Result<Self> {
        let spec = WavSpec {
            channels: match layout {
                RecordingLayout::Mixed => 1,
                RecordingLayout::Stereo => 2,
            },
            sample_rate: rate,
            bits_per_sample: 16,
            sample_format: SampleFormat::Int,
        };
        Ok(Self {
            writer: WavWriter::new(sink, spec)?,
            layout,
        })
    }

    /// Writes one frame of each direction; the shorter is padded with silence.
    pub fn write(&mut self, caller: &[i16], callee: &[i16]) -> Result<()> {
        let n = caller.len().max(callee.len());
        for i in 0..n {
            let a = caller.get(i).copied().unwrap_or(0);
            let b = callee.get(i).copied().unwrap_or(0);
            match self.layout {
                RecordingLayout::Mixed => self.writer.write_sample(a.saturating_add(b))?,
                RecordingLayout::Stereo => {
                    self.writer.write_sample(a)?;
                    self.writer.write_sample(b)?;
                }
            }
        }
        Ok(())
    }

    /// Writes what is buffered and brings the header up to date, so that the file is
    /// a complete WAV of everything written so far even if nothing follows.
    pub fn flush(&mut self) -> Result<()> {
        self.writer.flush()?;
        Ok(())
    }

    /// Completes the WAV header.
    pub fn finish(self) -> Result<()> {
        self.writer.finalize()?;
        Ok(())
    }
}

/// Repairs the header of a 16-bit PCM WAV whose writer was stopped before it finished
/// (the process killed): the RIFF and data sizes are set to what the file holds.
/// Returns the length of the audio in milliseconds.
pub fn repair(path: &std::path::Path) -> Result<u64> {
    use std::io::SeekFrom;
    let bad = |reason: &str| MediaError::BadAnnouncement {
        name: path.display().to_string(),
        reason: reason.to_owned(),
    };
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(|e| bad(&e.to_string()))?;
    let len = f.metadata().map_err(|e| bad(&e.to_string()))?.len();
    let mut head = [0u8; 12];
    f.read_exact(&mut head)
        .map_err(|_| bad("shorter than a RIFF header"))?;
    if &head[0..4] != b"RIFF" || &head[8..12] != b"WAVE" {
        return Err(bad("not a WAV file"));
    }
    // Walk the chunks to "fmt " (channels, rate) and "data".
    let (mut pos, mut channels, mut rate) = (12u64, 1u64, 8000u64);
    loop {
        let mut chunk = [0u8; 8];
        f.seek(SeekFrom::Start(pos))
            .map_err(|e| bad(&e.to_string()))?;
        f.read_exact(&mut chunk).map_err(|_| bad("no data chunk"))?;
        let size = u64::from(u32::from_le_bytes([chunk[4], chunk[5], chunk[6], chunk[7]]));
        match &chunk[0..4] {
            b"fmt " => {
                let mut fmt = [0u8; 8];
                f.read_exact(&mut fmt).map_err(|_| bad("short fmt chunk"))?;
                channels = u64::from(u16::from_le_bytes([fmt[2], fmt[3]])).max(1);
                rate = u64::from(u32::from_le_bytes([fmt[4], fmt[5], fmt[6], fmt[7]])).max(1);
            }
            b"data" => {
                let data = (len.saturating_sub(pos + 8) / (2 * channels)) * 2 * channels;
                f.seek(SeekFrom::Start(pos + 4))
                    .map_err(|e| bad(&e.to_string()))?;
                f.write_all(&(data as u32).to_le_bytes())
                    .map_err(|e| bad(&e.to_string()))?;
                f.seek(SeekFrom::Start(4))
                    .map_err(|e| bad(&e.to_string()))?;
                let riff = (pos + 8 + data - 8) as u32;
                f.write_all(&riff.to_le_bytes())
                    .map_err(|e| bad(&e.to_string()))?;
                f.set_len(pos + 8 + data).map_err(|e| bad(&e.to_string()))?;
                return Ok(data / (2 * channels) * 1000 / rate);
            }
            _ => {}
        }
        pos += 8 + size + (size & 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    #[test]
    fn a_recording_cut_short_is_repaired_to_what_it_holds() {
        let path = std::env::temp_dir().join(format!("cut-{}.wav", std::process::id()));
        let file = std::fs::File::create(&path).unwrap();
        let mut r =
            Recorder::new(std::io::BufWriter::new(file), 8000, RecordingLayout::Mixed).unwrap();
        r.write(&[1000; 8000], &[]).unwrap();
        r.flush().unwrap();
        // Half a second more, then the process "dies": no finish, the header says 1 s.
        r.write(&[1000; 4000], &[]).unwrap();
        r.flush().unwrap();
        std::mem::forget(r);
        // Garbage of an unfinished sample at the end is cut off.
        let mut raw = std::fs::read(&path).unwrap();
        raw.push(7);
        std::fs::write(&path, &raw).unwrap();
        assert_eq!(repair(&path).unwrap(), 1500);
        let a = WavReader::open(&path).unwrap();
        assert_eq!(a.len(), 12_000);
        std::fs::remove_file(&path).unwrap();
    }

    fn wav(spec: WavSpec, n: usize) -> Vec<u8> {
        let mut buf = Cursor::new(Vec::new());
        let mut w = WavWriter::new(&mut buf, spec).unwrap();
        for i in 0..n * spec.channels as usize {
            match spec.sample_format {
                SampleFormat::Int if spec.bits_per_sample == 8 => w.write_sample(i as i8).unwrap(),
                SampleFormat::Int => w.write_sample(i as i16).unwrap(),
                SampleFormat::Float => w.write_sample(i as f32).unwrap(),
            }
        }
        w.finalize().unwrap();
        buf.into_inner()
    }

    #[test]
    fn good_announcement_loads() {
        let a = Announcement::from_bytes("hello", &wav(ANNOUNCEMENT_SPEC, 8000)).unwrap();
        assert_eq!(a.samples().len(), 8000);
        assert_eq!(a.duration_ms(), 1000);
        assert_eq!(a.samples()[5], 5);
    }

    #[test]
    fn other_formats_are_refused_with_the_reason() {
        let cases = [
            (
                WavSpec {
                    channels: 2,
                    ..ANNOUNCEMENT_SPEC
                },
                "2 channel",
            ),
            (
                WavSpec {
                    sample_rate: 16000,
                    ..ANNOUNCEMENT_SPEC
                },
                "16000 Hz",
            ),
            (
                WavSpec {
                    bits_per_sample: 8,
                    ..ANNOUNCEMENT_SPEC
                },
                "8-bit",
            ),
            (
                WavSpec {
                    bits_per_sample: 32,
                    sample_format: SampleFormat::Float,
                    ..ANNOUNCEMENT_SPEC
                },
                "float",
            ),
        ];
        for (spec, needle) in cases {
            let err = Announcement::from_bytes("bad", &wav(spec, 100)).unwrap_err();
            let text = err.to_string();
            assert!(text.contains(needle) && text.contains("bad"), "{text}");
        }
        assert!(Announcement::from_bytes("junk", b"RIFF1234WAVE").is_err());
        assert!(Announcement::from_bytes("empty", &wav(ANNOUNCEMENT_SPEC, 0)).is_err());
    }

    #[test]
    fn playlist_plays_in_order_then_silence() {
        let a = Announcement::from_samples("a", vec![1; 100]);
        let b = Announcement::from_samples("b", vec![2; 100]);
        let mut p = Player::new(vec![a, b], false);
        let mut out = vec![9i16; 160];
        assert!(p.fill(&mut out));
        assert!(out[..100].iter().all(|&s| s == 1) && out[100..].iter().all(|&s| s == 2));
        assert!(p.fill(&mut out));
        assert!(out[..40].iter().all(|&s| s == 2) && out[40..].iter().all(|&s| s == 0));
        assert!(p.is_finished());
        assert!(!p.fill(&mut out));
    }

    #[test]
    fn music_on_hold_loops() {
        let track = Announcement::from_samples("moh", (0..50).collect());
        let mut p = Player::music_on_hold(track);
        let mut out = vec![0i16; 160];
        for _ in 0..10 {
            assert!(p.fill(&mut out));
        }
        assert!(!p.is_finished());
        // 1600 samples played; the next starts at 1600 % 50 = 0.
        p.fill(&mut out);
        assert_eq!(&out[..3], &[0, 1, 2]);
    }

    #[test]
    fn recorder_writes_mixed_and_stereo() {
        for layout in [RecordingLayout::Mixed, RecordingLayout::Stereo] {
            let mut buf = Cursor::new(Vec::new());
            let mut r = Recorder::new(&mut buf, 8000, layout).unwrap();
            r.write(&[100; 160], &[20; 160]).unwrap();
            r.write(&[i16::MAX; 160], &[1; 80]).unwrap();
            r.finish().unwrap();
            let reader = WavReader::new(Cursor::new(buf.into_inner())).unwrap();
            let spec = reader.spec();
            let samples: Vec<i16> = reader.into_samples().map(|s| s.unwrap()).collect();
            match layout {
                RecordingLayout::Mixed => {
                    assert_eq!(spec.channels, 1);
                    assert_eq!(samples.len(), 320);
                    assert_eq!(samples[0], 120);
                    assert_eq!(samples[160], i16::MAX);
                }
                RecordingLayout::Stereo => {
                    assert_eq!(spec.channels, 2);
                    assert_eq!(samples.len(), 640);
                    assert_eq!(&samples[..2], &[100, 20]);
                    assert_eq!(&samples[638..], &[i16::MAX, 0]);
                }
            }
        }
    }
}
