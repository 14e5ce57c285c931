//! Conference mixing: N participants, each at its own rate; each hears everyone but
//! itself. The mix sums every contribution once and subtracts each listener's own, so
//! a frame costs O(N), never O(N²).
//!
//! Contributions are summed in 32-bit at the mixer's rate without clipping; each
//! listener's mix is clipped once, at the end, to 16 bits.

use std::collections::BTreeMap;

use crate::resample::Resampler;
use crate::{MediaError, Result};

/// A participant's handle.
pub type ParticipantId = u32;

#[derive(Debug)]
struct Participant {
    rate: u32,
    muted: bool,
    deaf: bool,
    gain: f32,
    to_mix: Resampler,
    from_mix: Resampler,
    /// This frame's contribution at the mixer's rate, gain applied.
    contribution: Vec<i32>,
    has_input: bool,
    /// Scratch for resampling.
    scratch: Vec<i16>,
    /// This frame's output at the participant's rate.
    output: Vec<i16>,
}

/// The mixer of one conference (or one recording).
#[derive(Debug)]
pub struct Mixer {
    rate: u32,
    frame: usize,
    ptime_ms: u32,
    next_id: ParticipantId,
    participants: BTreeMap<ParticipantId, Participant>,
    total: Vec<i32>,
    mixed: Vec<i16>,
}

impl Mixer {
    /// A mixer working at `rate` Hz in frames of `ptime_ms`.
    pub fn new(rate: u32, ptime_ms: u32) -> Result<Self> {
        if !(8000..=48000).contains(&rate) || rate % 1000 != 0 {
            return Err(MediaError::UnsupportedRate(rate));
        }
        let frame = (rate / 1000 * ptime_ms) as usize;
        Ok(Self {
            rate,
            frame,
            ptime_ms,
            next_id: 1,
            participants: BTreeMap::new(),
            total: vec![0; frame],
            mixed: Vec::with_capacity(frame),
        })
    }

    /// The mixing rate.
    pub fn rate(&self) -> u32 {
        self.rate
    }

    /// Samples per frame for a participant at `rate`.
    pub fn frame_len(&self, rate: u32) -> usize {
        (rate / 1000 * self.ptime_ms) as usize
    }

    /// Number of participants.
    pub fn len(&self) -> usize {
        self.participants.len()
    }

    /// True with no participants.
    pub fn is_empty(&self) -> bool {
        self.participants.is_empty()
    }

    /// Adds a participant whose audio runs at `rate` Hz.
    pub fn add(&mut self, rate: u32) -> Result<ParticipantId> {
        let id = self.next_id;
        self.next_id += 1;
        let p = Participant {
            rate,
            muted: false,
            deaf: false,
            gain: 1.0,
            to_mix: Resampler::new(rate, self.rate)?,
            from_mix: Resampler::new(self.rate, rate)?,
            contribution: vec![0; self.frame],
            has_input: false,
            scratch: Vec::with_capacity(self.frame),
            output: vec![0; self.frame_len(rate)],
        };
        self.participants.insert(id, p);
        Ok(id)
    }

    /// Removes a participant.
    pub fn remove(&mut self, id: ParticipantId) -> Result<()> {
        self.participants
            .remove(&id)
            .map(|_| ())
            .ok_or(MediaError::UnknownParticipant(id))
    }

    fn get(&mut self, id: ParticipantId) -> Result<&mut Participant> {
        self.participants
            .get_mut(&id)
            .ok_or(MediaError::UnknownParticipant(id))
    }

    /// A muted participant is heard by no one.
    pub fn set_muted(&mut self, id: ParticipantId, muted: bool) -> Result<()> {
        self.get(id)?.muted = muted;
        Ok(())
    }

    /// A deaf participant hears nothing.
    pub fn set_deaf(&mut self, id: ParticipantId, deaf: bool) -> Result<()> {
        self.get(id)?.deaf = deaf;
        Ok(())
    }

    /// Scales what a participant says (1.0 unchanged; 0.0–8.0).
    pub fn set_gain(&mut self, id: ParticipantId, gain: f32) -> Result<()> {
        self.get(id)?.gain = if gain.is_finite() {
            gain.clamp(0.0, 8.0)
        } else {
            1.0
        };
        Ok(())
    }

    /// Gives a participant's frame for this round (at its own rate). A participant with
    /// no input this round contributes silence.
    pub fn input(&mut self, id: ParticipantId, pcm: &[i16]) -> Result<()> {
        let frame = self.frame;
        let p = self.get(id)?;
        p.scratch.clear();
        p.to_mix.process(pcm, &mut p.scratch);
        p.scratch.resize(frame, 0);
        let gain = p.gain;
        if gain == 1.0 {
            for (c, &s) in p.contribution.iter_mut().zip(&p.scratch) {
                *c = s as i32;
            }
        } else {
            for (c, &s) in p.contribution.iter_mut().zip(&p.scratch) {
                *c = (s as f32 * gain).round() as i32;
            }
        }
        p.has_input = true;
        Ok(())
    }

    /// Mixes one round: afterwards [`Mixer::output`] gives each participant's frame.
    pub fn mix(&mut self) {
        self.total.iter_mut().for_each(|t| *t = 0);
        for p in self.participants.values_mut() {
            if !p.has_input {
                p.contribution.iter_mut().for_each(|c| *c = 0);
            }
            if p.muted || !p.has_input {
                continue;
            }
            for (t, &c) in self.total.iter_mut().zip(&p.contribution) {
                *t += c;
            }
        }
        for p in self.participants.values_mut() {
            let own = !p.muted && p.has_input;
            p.has_input = false;
            p.output.clear();
            if p.deaf {
                p.output.resize((p.rate / 1000 * self.ptime_ms) as usize, 0);
                continue;
            }
            self.mixed.clear();
            if own {
                self.mixed.extend(
                    self.total
                        .iter()
                        .zip(&p.contribution)
                        .map(|(&t, &c)| (t - c).clamp(i16::MIN as i32, i16::MAX as i32) as i16),
                );
            } else {
                self.mixed.extend(
                    self.total
                        .iter()
                        .map(|&t| t.clamp(i16::MIN as i32, i16::MAX as i32) as i16),
                );
            }
            p.from_mix.process(&self.mixed, &mut p.output);
        }
    }

    /// What participant `id` hears this round, at its own rate.
    pub fn output(&self, id: ParticipantId) -> Option<&[i16]> {
        self.participants.get(&id).map(|p| p.output.as_slice())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn frame() -> impl Strategy<Value = Vec<i16>> {
        proptest::collection::vec(any::<i16>(), 160)
    }

    fn quiet_frame() -> impl Strategy<Value = Vec<i16>> {
        proptest::collection::vec(-4000i16..4000, 160)
    }

    proptest! {
        #[test]
        fn silence_in_silence_out(n in 1usize..8, rate in prop::sample::select(vec![8000u32, 16000, 48000])) {
            let mut m = Mixer::new(rate, 20).unwrap();
            let ids: Vec<_> = (0..n).map(|_| m.add(rate).unwrap()).collect();
            for &id in &ids {
                m.input(id, &vec![0; m.frame_len(rate)]).unwrap();
            }
            m.mix();
            for &id in &ids {
                prop_assert!(m.output(id).unwrap().iter().all(|&s| s == 0));
            }
        }

        #[test]
        fn a_lone_speaker_hears_nothing(speech in frame(), listeners in 0usize..5) {
            let mut m = Mixer::new(8000, 20).unwrap();
            let speaker = m.add(8000).unwrap();
            let others: Vec<_> = (0..listeners).map(|_| m.add(8000).unwrap()).collect();
            m.input(speaker, &speech).unwrap();
            for &o in &others {
                m.input(o, &[0; 160]).unwrap();
            }
            m.mix();
            prop_assert!(m.output(speaker).unwrap().iter().all(|&s| s == 0));
            for &o in &others {
                prop_assert_eq!(m.output(o).unwrap(), &speech[..]);
            }
        }

        #[test]
        fn each_hears_the_clipped_sum_of_the_others(frames in proptest::collection::vec(frame(), 1..6)) {
            let mut m = Mixer::new(8000, 20).unwrap();
            let ids: Vec<_> = frames.iter().map(|_| m.add(8000).unwrap()).collect();
            for (id, f) in ids.iter().zip(&frames) {
                m.input(*id, f).unwrap();
            }
            m.mix();
            for (i, id) in ids.iter().enumerate() {
                for k in 0..160 {
                    let sum: i32 = frames.iter().enumerate().filter(|(j, _)| *j != i).map(|(_, f)| f[k] as i32).sum();
                    prop_assert_eq!(m.output(*id).unwrap()[k] as i32, sum.clamp(-32768, 32767));
                }
            }
        }

        #[test]
        fn linear_until_clipping(a in quiet_frame(), b in quiet_frame(), c in quiet_frame()) {
            // out(a + b) = out(a) + out(b) for the listener, while nothing clips.
            let run = |x: &[i16], y: &[i16]| {
                let mut m = Mixer::new(8000, 20).unwrap();
                let (p, q, listener) = (m.add(8000).unwrap(), m.add(8000).unwrap(), m.add(8000).unwrap());
                m.input(p, x).unwrap();
                m.input(q, y).unwrap();
                m.input(listener, &c).unwrap();
                m.mix();
                m.output(listener).unwrap().to_vec()
            };
            let zero = vec![0i16; 160];
            let both = run(&a, &b);
            let only_a = run(&a, &zero);
            let only_b = run(&zero, &b);
            for k in 0..160 {
                prop_assert_eq!(both[k] as i32, only_a[k] as i32 + only_b[k] as i32);
            }
        }
    }

    #[test]
    fn mute_deaf_and_gain() {
        let mut m = Mixer::new(8000, 20).unwrap();
        let a = m.add(8000).unwrap();
        let b = m.add(8000).unwrap();
        let c = m.add(8000).unwrap();
        m.set_muted(a, true).unwrap();
        m.set_deaf(b, true).unwrap();
        m.set_gain(c, 0.5).unwrap();
        m.input(a, &[1000; 160]).unwrap();
        m.input(b, &[100; 160]).unwrap();
        m.input(c, &[3000; 160]).unwrap();
        m.mix();
        assert!(m.output(a).unwrap().iter().all(|&s| s == 100 + 1500));
        assert!(m.output(b).unwrap().iter().all(|&s| s == 0));
        assert!(m.output(c).unwrap().iter().all(|&s| s == 100));
        assert!(m.set_gain(99, 1.0).is_err());
    }

    #[test]
    fn loud_sums_clip_instead_of_wrapping() {
        let mut m = Mixer::new(8000, 20).unwrap();
        let ids: Vec<_> = (0..4).map(|_| m.add(8000).unwrap()).collect();
        for &id in &ids {
            m.input(id, &[30000; 160]).unwrap();
        }
        m.mix();
        assert!(m.output(ids[0]).unwrap().iter().all(|&s| s == i16::MAX));
    }

    #[test]
    fn mixed_rates_hear_each_other() {
        let mut m = Mixer::new(16000, 20).unwrap();
        let narrow = m.add(8000).unwrap();
        let wide = m.add(48000).unwrap();
        let tone: Vec<i16> = (0..960)
            .map(|i| {
                (8000.0 * (2.0 * std::f64::consts::PI * 500.0 * i as f64 / 48000.0).sin()) as i16
            })
            .collect();
        let mut heard = Vec::new();
        for _ in 0..10 {
            m.input(wide, &tone).unwrap();
            m.input(narrow, &[0; 160]).unwrap();
            m.mix();
            let out = m.output(narrow).unwrap();
            assert_eq!(out.len(), 160);
            heard.extend_from_slice(out);
            assert_eq!(m.output(wide).unwrap().len(), 960);
        }
        let peak = heard[800..].iter().map(|s| s.unsigned_abs()).max().unwrap();
        assert!((7000..=9000).contains(&peak), "peak {peak}");
    }
}
