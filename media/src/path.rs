//! One direction of a call's media through the switch when the two legs speak
//! different codecs: RTP of one codec and payload type in, RTP of another out.
//! Sans-IO: datagrams in, datagrams out; the relay that owns the sockets feeds it.
//!
//! The outgoing stream keeps the sender's SSRC and marker bits and runs its own
//! sequence numbers; its timestamps advance by one packet time per packet sent, at
//! the outgoing codec's RTP clock (48 kHz for Opus, 8 kHz for G.711 and G.722), and
//! jump over a pause in the incoming stream by the pause's length.

use crate::codec::transcode::{Transcoder, PTIMES_MS};
use crate::codec::CodecKind;
use crate::{MediaError, Result};

/// A one-way transcoding path.
pub struct TranscodePath {
    transcoder: Transcoder,
    in_pt: u8,
    out_pt: u8,
    in_clock: u32,
    out_clock: u32,
    /// RTP timestamp units of one outgoing packet.
    out_step: u32,
    seq: u16,
    ts: u32,
    /// The incoming timestamp expected next (the last one plus its packet's length).
    next_in_ts: Option<u32>,
    /// The last telephone-event start seen, and the outgoing timestamp it maps to.
    event_ts: Option<(u32, u32)>,
    payloads: Vec<Vec<u8>>,
}

impl std::fmt::Debug for TranscodePath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TranscodePath")
            .field("in_pt", &self.in_pt)
            .field("out_pt", &self.out_pt)
            .finish_non_exhaustive()
    }
}

/// The payload of an RTP datagram and the header fields a path needs.
struct Rtp<'a> {
    marker: bool,
    pt: u8,
    ts: u32,
    ssrc: u32,
    payload: &'a [u8],
}

fn parse(d: &[u8]) -> Result<Rtp<'_>> {
    let short = |need| MediaError::Truncated {
        what: "RTP packet",
        need,
        have: d.len(),
    };
    if d.len() < 12 {
        return Err(short(12));
    }
    if d[0] >> 6 != 2 {
        return Err(MediaError::BadVersion(d[0] >> 6));
    }
    let mut start = 12 + 4 * usize::from(d[0] & 0x0f);
    if d[0] & 0x10 != 0 {
        if d.len() < start + 4 {
            return Err(short(start + 4));
        }
        let words = usize::from(u16::from_be_bytes([d[start + 2], d[start + 3]]));
        start += 4 + 4 * words;
    }
    let mut end = d.len();
    if d[0] & 0x20 != 0 {
        end = end.saturating_sub(usize::from(*d.last().unwrap_or(&0)));
    }
    if start > end {
        return Err(short(start));
    }
    Ok(Rtp {
        marker: d[1] & 0x80 != 0,
        pt: d[1] & 0x7f,
        ts: u32::from_be_bytes([d[4], d[5], d[6], d[7]]),
        ssrc: u32::from_be_bytes([d[8], d[9], d[10], d[11]]),
        payload: &d[start..end],
    })
}

impl TranscodePath {
    /// A path from `from` (payload type `in_pt`) to `to` (`out_pt`), sending packets of
    /// `ptime_ms` (10, 20, 30 or 40; anything else becomes 20).
    pub fn new(
        from: CodecKind,
        in_pt: u8,
        to: CodecKind,
        out_pt: u8,
        ptime_ms: u32,
    ) -> Result<Self> {
        let ptime_ms = if PTIMES_MS.contains(&ptime_ms) {
            ptime_ms
        } else {
            20
        };
        let out_clock = to.clock_rate();
        // Opus runs at the other side's rate (no resampling) with complexity 3: for a
        // G.711 call that halves the CPU of a fullband complexity-10 encoder (52 against
        // 96 µs per 20 ms both ways, `benches/media_codecs.rs` call_path) and a tone
        // still comes through with a purity above 0.98 (tests/suite/baresip.rs).
        let (from, to) = (
            at_rate_of(from, to.sample_rate()),
            at_rate_of(to, from.sample_rate()),
        );
        Ok(TranscodePath {
            transcoder: Transcoder::new(from, to, ptime_ms)?,
            in_pt,
            out_pt,
            in_clock: from.clock_rate(),
            out_clock,
            out_step: out_clock / 1000 * ptime_ms,
            seq: rand_seq(in_pt, out_pt),
            ts: 0,
            next_in_ts: None,
            event_ts: None,
            payloads: Vec::new(),
        })
    }

    /// The payload type this path takes.
    pub fn in_pt(&self) -> u8 {
        self.in_pt
    }

    /// Transcodes one RTP datagram of the path's incoming payload type: `out` is
    /// cleared, then gets the outgoing datagrams (none while a packet time fills up).
    pub fn push(&mut self, datagram: &[u8], out: &mut Vec<Vec<u8>>) -> Result<()> {
        out.clear();
        let rtp = parse(datagram)?;
        if rtp.pt != self.in_pt {
            return Ok(());
        }
        match self.next_in_ts {
            None => self.ts = scale(rtp.ts, self.in_clock, self.out_clock),
            Some(expected) => {
                // A pause (silence suppression, a lost burst) moves the clock on.
                let gap = rtp.ts.wrapping_sub(expected);
                if gap > 0 && gap < self.in_clock * 10 {
                    self.ts = self
                        .ts
                        .wrapping_add(scale(gap, self.in_clock, self.out_clock));
                }
            }
        }
        self.payloads.clear();
        self.transcoder.push(rtp.payload, &mut self.payloads)?;
        let in_len = self.in_len(rtp.payload.len());
        self.next_in_ts = Some(rtp.ts.wrapping_add(in_len));
        for (k, payload) in self.payloads.drain(..).enumerate() {
            let mut d = Vec::with_capacity(12 + payload.len());
            let marker = if k == 0 && rtp.marker { 0x80 } else { 0 };
            d.extend_from_slice(&[0x80, marker | self.out_pt]);
            d.extend_from_slice(&self.seq.to_be_bytes());
            d.extend_from_slice(&self.ts.to_be_bytes());
            d.extend_from_slice(&rtp.ssrc.to_be_bytes());
            d.extend_from_slice(&payload);
            out.push(d);
            self.seq = self.seq.wrapping_add(1);
            self.ts = self.ts.wrapping_add(self.out_step);
        }
        Ok(())
    }

    /// Another packet of the stream that is not transcoded (a telephone-event, already
    /// relabelled): rewritten in place into the outgoing stream, so that the receiver
    /// sees one sequence space. All packets of one press keep one timestamp: where the
    /// outgoing stream was when the press began.
    pub fn pass(&mut self, datagram: &mut [u8]) {
        if datagram.len() < 12 {
            return;
        }
        let in_ts = u32::from_be_bytes([datagram[4], datagram[5], datagram[6], datagram[7]]);
        let out_ts = match self.event_ts {
            Some((seen, mapped)) if seen == in_ts => mapped,
            _ => {
                self.event_ts = Some((in_ts, self.ts));
                self.ts
            }
        };
        datagram[2..4].copy_from_slice(&self.seq.to_be_bytes());
        datagram[4..8].copy_from_slice(&out_ts.to_be_bytes());
        self.seq = self.seq.wrapping_add(1);
    }

    /// The RTP duration of an incoming payload of `len` bytes, for the codecs whose
    /// payload size says it (G.711: one byte a sample; G.722: two samples a byte at a
    /// signalled 8 kHz clock); one packet time of the outgoing side otherwise.
    fn in_len(&self, len: usize) -> u32 {
        match self.in_clock {
            8000 => len as u32,
            _ => scale(self.out_step, self.out_clock, self.in_clock),
        }
    }
}

/// `kind`, with Opus set to work at the lowest of its rates that carries `rate`.
pub(crate) fn at_rate_of(kind: CodecKind, rate: u32) -> CodecKind {
    match kind {
        CodecKind::Opus(cfg) => {
            let r = [8000, 12000, 16000, 24000, 48000]
                .into_iter()
                .find(|r| *r >= rate)
                .unwrap_or(48000);
            CodecKind::Opus(crate::codec::OpusConfig {
                payload_type: cfg.payload_type,
                complexity: 3,
                ..crate::codec::OpusConfig::at_rate(r)
            })
        }
        other => other,
    }
}

fn scale(v: u32, from: u32, to: u32) -> u32 {
    (u64::from(v) * u64::from(to) / u64::from(from.max(1))) as u32
}

/// A starting sequence number that differs between paths (RFC 3550 wants a random
/// one; the crate reads no clock and no entropy, so it is derived from the pair).
fn rand_seq(a: u8, b: u8) -> u16 {
    u16::from(a).wrapping_mul(4099) ^ u16::from(b).wrapping_mul(257) ^ 0x5a5a
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::OpusConfig;

    fn rtp(pt: u8, seq: u16, ts: u32, payload: &[u8]) -> Vec<u8> {
        let mut d = vec![0x80, pt];
        d.extend_from_slice(&seq.to_be_bytes());
        d.extend_from_slice(&ts.to_be_bytes());
        d.extend_from_slice(&0xabcd_0123u32.to_be_bytes());
        d.extend_from_slice(payload);
        d
    }

    fn tone(rate: u32, n: usize) -> Vec<i16> {
        (0..n)
            .map(|i| {
                let t = i as f64 / f64::from(rate);
                (8000.0 * (2.0 * std::f64::consts::PI * 1000.0 * t).sin()) as i16
            })
            .collect()
    }

    #[test]
    fn pcmu_to_opus_and_back_keeps_the_stream_running() {
        let opus = CodecKind::Opus(OpusConfig::default());
        let mut up = TranscodePath::new(CodecKind::Pcmu, 0, opus, 111, 20).unwrap();
        let mut down = TranscodePath::new(opus, 111, CodecKind::Pcmu, 0, 20).unwrap();
        let pcm = tone(8000, 160 * 50);
        let (mut out, mut back) = (Vec::new(), Vec::new());
        let mut last: Option<(u16, u32)> = None;
        let mut got = 0;
        for (k, frame) in pcm.chunks(160).enumerate() {
            let payload: Vec<u8> = frame
                .iter()
                .map(|&s| crate::codec::g711::ulaw_encode(s))
                .collect();
            up.push(&rtp(0, k as u16, 1000 + 160 * k as u32, &payload), &mut out)
                .unwrap();
            for d in &out {
                let r = parse(d).unwrap();
                assert_eq!((r.pt, r.ssrc), (111, 0xabcd_0123));
                let (seq, ts) = (u16::from_be_bytes([d[2], d[3]]), r.ts);
                if let Some((s0, t0)) = last {
                    assert_eq!(seq, s0.wrapping_add(1));
                    assert_eq!(ts, t0.wrapping_add(960), "20 ms at 48 kHz");
                }
                last = Some((seq, ts));
                down.push(d, &mut back).unwrap();
                for b in &back {
                    let r = parse(b).unwrap();
                    assert_eq!((r.pt, r.payload.len()), (0, 160));
                    got += 1;
                }
            }
        }
        assert!(got >= 45, "{got} PCMU packets came back");
    }

    #[test]
    fn other_payload_types_and_garbage_are_not_transcoded() {
        let mut p = TranscodePath::new(CodecKind::Pcma, 8, CodecKind::G722, 9, 20).unwrap();
        let mut out = vec![vec![1]];
        p.push(&rtp(101, 1, 0, &[1, 0, 0, 160]), &mut out).unwrap();
        assert!(out.is_empty());
        assert!(p.push(&[0x80, 8, 0], &mut out).is_err());
        p.push(&rtp(8, 1, 0, &[0xd5; 160]), &mut out).unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(parse(&out[0]).unwrap().payload.len(), 160, "G.722 20 ms");
    }

    #[test]
    fn events_join_the_outgoing_sequence_with_one_timestamp_per_press() {
        let mut p = TranscodePath::new(CodecKind::Pcmu, 0, CodecKind::G722, 9, 20).unwrap();
        let mut out = Vec::new();
        p.push(&rtp(0, 7, 0, &[0xff; 160]), &mut out).unwrap();
        let voice_seq = u16::from_be_bytes([out[0][2], out[0][3]]);
        let mut e1 = rtp(101, 8, 160, &[5, 0x0a, 0, 160]);
        let mut e2 = rtp(101, 9, 160, &[5, 0x8a, 1, 64]);
        p.pass(&mut e1);
        p.pass(&mut e2);
        let seq = |d: &[u8]| u16::from_be_bytes([d[2], d[3]]);
        let ts = |d: &[u8]| u32::from_be_bytes([d[4], d[5], d[6], d[7]]);
        assert_eq!(seq(&e1), voice_seq.wrapping_add(1));
        assert_eq!(seq(&e2), voice_seq.wrapping_add(2));
        assert_eq!(ts(&e1), ts(&e2), "one press, one timestamp");
        p.push(&rtp(0, 10, 320, &[0xff; 160]), &mut out).unwrap();
        assert_eq!(
            seq(&out[0]),
            voice_seq.wrapping_add(3),
            "voice goes on after them"
        );
    }

    #[test]
    fn a_pause_moves_the_outgoing_clock_on() {
        let mut p = TranscodePath::new(CodecKind::Pcmu, 0, CodecKind::Pcma, 8, 20).unwrap();
        let mut out = Vec::new();
        p.push(&rtp(0, 1, 0, &[0xff; 160]), &mut out).unwrap();
        let t0 = parse(&out[0]).unwrap().ts;
        // One second of silence suppression, then talk again.
        p.push(&rtp(0, 2, 160 + 8000, &[0xff; 160]), &mut out)
            .unwrap();
        assert_eq!(parse(&out[0]).unwrap().ts, t0 + 160 + 8000);
    }
}
