//! An incoming stream made playable: jitter buffer, decoder and concealment together,
//! giving exactly one frame of PCM per packet time. This is what mixing, recording,
//! transcoding and in-band DTMF detection read from.

use std::collections::VecDeque;
use std::time::Duration;

use crate::codec::Codec;
use crate::jitter::{JitterBuffer, JitterConfig, JitterPacket, JitterStats, Playout};
use crate::rtp::RtpPacket;
use crate::Result;

/// A decoded, de-jittered incoming stream.
pub struct PlayoutStream {
    buffer: JitterBuffer,
    codec: Box<dyn Codec>,
    frame: usize,
    pcm: VecDeque<i16>,
    scratch: Vec<i16>,
}

impl PlayoutStream {
    /// A stream decoded by `codec`, played in frames of `ptime_ms`.
    pub fn new(codec: Box<dyn Codec>, ptime_ms: u32) -> Self {
        let config = JitterConfig {
            clock_rate: codec.clock_rate(),
            ptime_ms,
            ..JitterConfig::default()
        };
        let frame = codec.samples_per_frame(ptime_ms);
        Self {
            buffer: JitterBuffer::new(config),
            codec,
            frame,
            pcm: VecDeque::new(),
            scratch: Vec::new(),
        }
    }

    /// Samples per frame, at the codec's rate.
    pub fn frame_len(&self) -> usize {
        self.frame
    }

    /// The PCM rate of the frames.
    pub fn sample_rate(&self) -> u32 {
        self.codec.sample_rate()
    }

    /// The jitter buffer's counters.
    pub fn stats(&self) -> JitterStats {
        self.buffer.stats()
    }

    /// Accepts a packet received at `now`. Packets of another payload type
    /// (telephone-events, comfort noise) are not audio and return false.
    pub fn push(&mut self, now: Duration, packet: RtpPacket) -> bool {
        if packet.payload_type != self.codec.payload_type() {
            return false;
        }
        self.buffer.push(
            now,
            JitterPacket {
                sequence: packet.sequence,
                timestamp: packet.timestamp,
                marker: packet.marker,
                payload: packet.payload,
            },
        );
        true
    }

    /// Appends the frame to play at `now` (exactly [`PlayoutStream::frame_len`]
    /// samples) to `out`. Undecodable packets are concealed and logged.
    pub fn pop(&mut self, now: Duration, out: &mut Vec<i16>) {
        if self.pcm.len() < self.frame {
            self.scratch.clear();
            let res: Result<()> = match self.buffer.pop(now) {
                Playout::Packet(p) => self.codec.decode(&p.payload, &mut self.scratch),
                Playout::Lost {
                    next_payload: Some(next),
                    ..
                } => self.codec.decode_fec(&next, self.frame, &mut self.scratch),
                Playout::Lost { .. } => self.codec.conceal(self.frame, &mut self.scratch),
                Playout::Buffering => {
                    self.scratch.resize(self.frame, 0);
                    Ok(())
                }
            };
            if let Err(e) = res {
                tracing::debug!(error = %e, codec = self.codec.name(), "frame concealed");
                self.scratch.clear();
                if self.codec.conceal(self.frame, &mut self.scratch).is_err() {
                    self.scratch.clear();
                }
            }
            self.pcm.extend(self.scratch.iter().copied());
        }
        let n = self.frame.min(self.pcm.len());
        out.extend(self.pcm.drain(..n));
        out.extend(std::iter::repeat_n(0, self.frame - n));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{CodecKind, OpusConfig};

    fn stream(kind: CodecKind, loss_every: u16) -> (Vec<i16>, JitterStats) {
        let mut enc = kind.build().unwrap();
        let mut ps = PlayoutStream::new(kind.build().unwrap(), 20);
        let frame = ps.frame_len();
        let rate = ps.sample_rate();
        let step = Duration::from_millis(20);
        let mut played = Vec::new();
        for i in 0..60u16 {
            let pcm: Vec<i16> = (0..frame)
                .map(|k| {
                    let t = (i as usize * frame + k) as f64 / rate as f64;
                    (5000.0 * (2.0 * std::f64::consts::PI * 400.0 * t).sin()) as i16
                })
                .collect();
            let mut payload = Vec::new();
            enc.encode(&pcm, &mut payload).unwrap();
            if loss_every == 0 || i % loss_every != 0 {
                let ticks = enc.clock_rate() / 50;
                ps.push(
                    step * i as u32,
                    RtpPacket {
                        payload_type: enc.payload_type(),
                        sequence: i,
                        timestamp: i as u32 * ticks,
                        payload,
                        ..RtpPacket::default()
                    },
                );
            }
            let before = played.len();
            ps.pop(step * i as u32, &mut played);
            assert_eq!(played.len() - before, frame);
        }
        (played, ps.stats())
    }

    #[test]
    fn every_codec_plays_whole_frames_through_loss() {
        for kind in [
            CodecKind::Pcmu,
            CodecKind::Pcma,
            CodecKind::G722,
            CodecKind::Opus(OpusConfig::at_rate(16000)),
        ] {
            let (played, stats) = stream(kind, 7);
            assert!(stats.lost >= 7, "{kind:?}: {stats:?}");
            let loud = played.iter().filter(|s| s.unsigned_abs() > 1000).count();
            assert!(loud > played.len() / 3, "{kind:?} mostly silent");
        }
    }

    #[test]
    fn telephone_events_are_not_audio() {
        let mut ps = PlayoutStream::new(CodecKind::Pcmu.build().unwrap(), 20);
        let dtmf = RtpPacket {
            payload_type: 101,
            payload: vec![1, 0, 0, 160],
            ..RtpPacket::default()
        };
        assert!(!ps.push(Duration::ZERO, dtmf));
    }
}
