//! A call's two directions as audio for a recording, sans-IO: the RTP each party sends
//! is decoded in its codec and brought to 8 kHz, and the two streams come out side
//! by side in frames of 20 ms. A party that sends nothing (muted, on hold) is heard as
//! silence rather than holding the other back.

use std::collections::VecDeque;

use crate::codec::{Codec, CodecKind};
use crate::resample::Resampler;
use crate::rtp::RtpPacket;
use crate::Result;

/// The recording's rate.
pub const RATE: u32 = 8000;
/// Samples per frame (20 ms).
const FRAME: usize = 160;
/// How far one direction may run ahead before the other is taken as silent.
const MAX_AHEAD: usize = 10 * FRAME;

struct Direction {
    decoder: Box<dyn Codec>,
    pt: u8,
    resampler: Resampler,
    pcm: VecDeque<i16>,
    decoded: Vec<i16>,
    resampled: Vec<i16>,
}

impl Direction {
    fn new(kind: CodecKind, pt: u8) -> Result<Direction> {
        let decoder = kind.build()?;
        let resampler = Resampler::new(decoder.sample_rate(), RATE)?;
        Ok(Direction {
            decoder,
            pt,
            resampler,
            pcm: VecDeque::new(),
            decoded: Vec::new(),
            resampled: Vec::new(),
        })
    }

    fn push(&mut self, datagram: &[u8]) {
        let Ok(p) = RtpPacket::parse(datagram) else {
            return;
        };
        if p.payload_type != self.pt {
            return;
        }
        self.decoded.clear();
        if self.decoder.decode(&p.payload, &mut self.decoded).is_err() {
            return;
        }
        self.resampled.clear();
        self.resampler.process(&self.decoded, &mut self.resampled);
        self.pcm.extend(self.resampled.iter().copied());
    }
}

/// Both directions of a call.
pub struct CallTap {
    dirs: [Direction; 2],
}

impl CallTap {
    /// A tap on a call whose first party speaks `a` (payload type `a_pt`) and whose
    /// second speaks `b`.
    pub fn new((a, a_pt): (CodecKind, u8), (b, b_pt): (CodecKind, u8)) -> Result<CallTap> {
        Ok(CallTap {
            dirs: [Direction::new(a, a_pt)?, Direction::new(b, b_pt)?],
        })
    }

    /// An RTP datagram party `party` (0 or 1) sent.
    pub fn push(&mut self, party: usize, datagram: &[u8]) {
        if let Some(d) = self.dirs.get_mut(party) {
            d.push(datagram);
        }
    }

    /// The frames both directions have (or that one has while the other stays silent),
    /// appended to `a` and `b` in step.
    pub fn drain(&mut self, a: &mut Vec<i16>, b: &mut Vec<i16>) {
        loop {
            let (la, lb) = (self.dirs[0].pcm.len(), self.dirs[1].pcm.len());
            let both = la >= FRAME && lb >= FRAME;
            let ahead = la.max(lb) >= MAX_AHEAD;
            if !both && !ahead {
                return;
            }
            for (d, out) in self.dirs.iter_mut().zip([&mut *a, &mut *b]) {
                let n = FRAME.min(d.pcm.len());
                out.extend(d.pcm.drain(..n));
                out.extend(std::iter::repeat_n(0, FRAME - n));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::g711::ulaw_encode;

    fn packet(pt: u8, seq: u16, payload: Vec<u8>) -> Vec<u8> {
        RtpPacket {
            marker: false,
            payload_type: pt,
            sequence: seq,
            timestamp: u32::from(seq) * 160,
            ssrc: 1,
            csrc: vec![],
            payload,
        }
        .to_bytes()
        .unwrap()
    }

    #[test]
    fn both_directions_come_out_in_step_and_a_silent_one_does_not_stall() {
        let mut tap = CallTap::new((CodecKind::Pcmu, 0), (CodecKind::G722, 9)).unwrap();
        let (mut a, mut b) = (Vec::new(), Vec::new());
        let loud = vec![ulaw_encode(8000); 160];
        tap.push(0, &packet(0, 1, loud.clone()));
        tap.drain(&mut a, &mut b);
        assert!(a.is_empty(), "waits for the other direction");
        let mut g722 = CodecKind::G722.build().unwrap();
        let mut payload = Vec::new();
        g722.encode(&[4000; 320], &mut payload).unwrap();
        tap.push(1, &packet(9, 1, payload));
        tap.drain(&mut a, &mut b);
        assert_eq!((a.len(), b.len()), (160, 160));
        // Only A talks on: after 200 ms B is taken as silent.
        for seq in 2..20 {
            tap.push(0, &packet(0, seq, loud.clone()));
        }
        tap.drain(&mut a, &mut b);
        assert_eq!(a.len(), b.len());
        assert!(a.len() >= 160 * 9);
        assert!(b[160..].iter().all(|&s| s == 0));
        // Telephone-events and garbage are not audio.
        tap.push(0, &packet(101, 30, vec![1, 0x8a, 0, 160]));
        tap.push(0, &[1, 2, 3]);
    }
}
