//! RTP the switch plays into a leg itself (music on hold, prompts), sans-IO: the
//! owner asks when the next packet is due and takes the packets due by then. Time is
//! a `Duration` on the owner's monotonic clock; nothing here reads one.
//!
//! The 8 kHz audio of a [`Player`] is encoded in the leg's codec (resampled for
//! G.722 and Opus; Opus at 8 kHz with complexity 3, as `path` transcodes), one packet
//! time per packet, with a sequence and timestamps of its own and the marker bit on
//! the first packet.

use std::time::Duration;

use crate::codec::{Codec, CodecKind};
use crate::resample::Resampler;
use crate::wav::Player;
use crate::Result;

/// Packets owed at most at once: after a stall the source skips ahead rather than
/// bursting more.
const MAX_CATCH_UP: u32 = 3;

/// A played stream towards one leg.
pub struct PlaySource {
    player: Player,
    encoder: Box<dyn Codec>,
    resampler: Resampler,
    pt: u8,
    ssrc: u32,
    seq: u16,
    ts: u32,
    /// RTP timestamp units per packet.
    step: u32,
    ptime: Duration,
    next: Option<Duration>,
    first: bool,
    frame: Vec<i16>,
    resampled: Vec<i16>,
}

impl std::fmt::Debug for PlaySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlaySource")
            .field("pt", &self.pt)
            .field("next", &self.next)
            .finish_non_exhaustive()
    }
}

impl PlaySource {
    /// Plays `player` as `kind` with payload type `pt`, packets of `ptime_ms` (10–40;
    /// anything else becomes 20), SSRC `ssrc`.
    pub fn new(player: Player, kind: CodecKind, pt: u8, ptime_ms: u32, ssrc: u32) -> Result<Self> {
        let ptime_ms = if (10..=40).contains(&ptime_ms) && ptime_ms % 10 == 0 {
            ptime_ms
        } else {
            20
        };
        let kind = crate::path::at_rate_of(kind, 8000);
        let encoder = kind.build()?;
        let resampler = Resampler::new(8000, encoder.sample_rate())?;
        Ok(PlaySource {
            player,
            resampler,
            pt,
            ssrc,
            seq: (ssrc >> 16) as u16,
            ts: ssrc.rotate_left(7),
            step: kind.clock_rate() / 1000 * ptime_ms,
            ptime: Duration::from_millis(u64::from(ptime_ms)),
            next: None,
            first: true,
            frame: vec![0; 8 * ptime_ms as usize],
            resampled: Vec::new(),
            encoder,
        })
    }

    /// Continues the stream the leg heard so far: its SSRC, the sequence number and
    /// timestamp the next packet takes (so the leg's jitter buffer sees no new source).
    pub fn continue_stream(&mut self, ssrc: u32, seq: u16, ts: u32) {
        self.ssrc = ssrc;
        self.seq = seq;
        self.ts = ts;
    }

    /// True once a playlist that does not loop has played out (its last packet sent).
    pub fn is_finished(&self) -> bool {
        self.player.is_finished()
    }

    /// When the next packet is due (`None`: at once, nothing sent yet).
    pub fn deadline(&self) -> Option<Duration> {
        self.next
    }

    /// Appends the packets due at `now` to `out`.
    pub fn poll(&mut self, now: Duration, out: &mut Vec<Vec<u8>>) -> Result<()> {
        let next = *self.next.get_or_insert(now);
        if now < next {
            return Ok(());
        }
        let owed = ((now - next).as_micros() / self.ptime.as_micros().max(1)) as u32 + 1;
        // The clock moves on first: a frame that fails to encode is not owed again.
        self.next = Some(next + self.ptime * owed);
        // Whatever is owed beyond the catch-up is skipped, the timestamps with it.
        let skipped = owed.saturating_sub(MAX_CATCH_UP);
        self.ts = self.ts.wrapping_add(self.step.wrapping_mul(skipped));
        for _ in 0..owed.min(MAX_CATCH_UP) {
            out.push(self.packet()?);
        }
        Ok(())
    }

    fn packet(&mut self) -> Result<Vec<u8>> {
        self.player.fill(&mut self.frame);
        self.resampled.clear();
        self.resampler.process(&self.frame, &mut self.resampled);
        let mut d = Vec::with_capacity(12 + 160);
        let marker = if std::mem::take(&mut self.first) {
            0x80
        } else {
            0
        };
        d.extend_from_slice(&[0x80, marker | self.pt]);
        d.extend_from_slice(&self.seq.to_be_bytes());
        d.extend_from_slice(&self.ts.to_be_bytes());
        d.extend_from_slice(&self.ssrc.to_be_bytes());
        self.encoder.encode(&self.resampled, &mut d)?;
        self.seq = self.seq.wrapping_add(1);
        self.ts = self.ts.wrapping_add(self.step);
        Ok(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::OpusConfig;
    use crate::wav::Announcement;

    fn music() -> Player {
        let samples = (0..8000)
            .map(|i| (8000.0 * (i as f64 * 0.2).sin()) as i16)
            .collect();
        Player::music_on_hold(Announcement::from_samples("m", samples))
    }

    #[test]
    fn one_packet_per_packet_time_in_the_legs_codec() {
        let mut s = PlaySource::new(music(), CodecKind::Pcmu, 0, 20, 7).unwrap();
        let mut out = Vec::new();
        let t0 = Duration::from_secs(100);
        s.poll(t0, &mut out).unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0][1], 0x80, "marker, PCMU");
        assert_eq!(out[0].len(), 12 + 160);
        assert_eq!(s.deadline(), Some(t0 + Duration::from_millis(20)));
        s.poll(t0 + Duration::from_millis(10), &mut out).unwrap();
        assert_eq!(out.len(), 1, "not due yet");
        s.poll(t0 + Duration::from_millis(41), &mut out).unwrap();
        assert_eq!(out.len(), 3, "two more were due");
        let ts = |d: &[u8]| u32::from_be_bytes([d[4], d[5], d[6], d[7]]);
        assert_eq!(ts(&out[2]).wrapping_sub(ts(&out[1])), 160);
        assert_eq!(out[2][1], 0, "no marker after the first");
    }

    #[test]
    fn opus_and_g722_legs_get_their_codec_and_a_stall_is_skipped() {
        let opus = CodecKind::Opus(OpusConfig::default());
        let mut s = PlaySource::new(music(), opus, 111, 20, 9).unwrap();
        let mut out = Vec::new();
        s.poll(Duration::ZERO, &mut out).unwrap();
        s.poll(Duration::from_secs(1), &mut out).unwrap();
        assert_eq!(
            out.len(),
            1 + MAX_CATCH_UP as usize,
            "a stall is not burst out"
        );
        assert!(out.iter().all(|d| d[1] & 0x7f == 111));
        let ts = |d: &[u8]| u32::from_be_bytes([d[4], d[5], d[6], d[7]]);
        assert_eq!(ts(&out[2]).wrapping_sub(ts(&out[1])), 960, "48 kHz clock");
        // The stall's packets beyond the catch-up are skipped, timestamps and all.
        assert_eq!(ts(&out[1]).wrapping_sub(ts(&out[0])), 960 * 48);
        assert_eq!(s.deadline(), Some(Duration::from_millis(1020)));
        let mut g = PlaySource::new(music(), CodecKind::G722, 9, 20, 3).unwrap();
        out.clear();
        g.poll(Duration::ZERO, &mut out).unwrap();
        assert_eq!(out[0].len(), 12 + 160);
    }
}
