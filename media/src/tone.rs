//! Tone generators: call-progress tones per country (dial, ringback, busy,
//! congestion), the voicemail beep, and DTMF digits.

use crate::dtmf::digit_frequencies;
use crate::{MediaError, Result};

/// Countries whose call-progress tones we know (ITU-T E.180 supplement values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Country {
    /// North America (NANP, "precise tones").
    Us,
    /// United Kingdom.
    Uk,
    /// Germany.
    De,
    /// France.
    Fr,
}

/// Which tone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ToneKind {
    /// Dial tone, continuous.
    Dial,
    /// Ringback ("ringing") tone.
    Ringback,
    /// Busy tone.
    Busy,
    /// Congestion (reorder, "network busy") tone.
    Congestion,
    /// One 1 kHz beep, as before a voicemail recording.
    Beep,
}

/// What a tone is made of.
#[derive(Debug, Clone, PartialEq)]
pub struct ToneSpec {
    /// Frequencies summed, in Hz.
    pub freqs: Vec<f32>,
    /// Peak amplitude of each frequency.
    pub amplitude: i16,
    /// Alternating on/off durations in ms, starting with "on"; empty is continuous.
    pub cadence: Vec<u32>,
    /// Whether the cadence repeats (otherwise the tone ends after it).
    pub repeat: bool,
}

/// About −13 dBm0 per frequency.
const LEVEL: i16 = 5000;

impl ToneSpec {
    /// A repeating tone.
    fn cadenced(freqs: &[f32], cadence: &[u32]) -> Self {
        Self {
            freqs: freqs.to_vec(),
            amplitude: LEVEL,
            cadence: cadence.to_vec(),
            repeat: true,
        }
    }

    /// The tone `kind` as `country` plays it.
    pub fn call_progress(country: Country, kind: ToneKind) -> Self {
        use Country::*;
        use ToneKind::*;
        match (country, kind) {
            (_, Beep) => Self {
                freqs: vec![1000.0],
                amplitude: LEVEL,
                cadence: vec![250],
                repeat: false,
            },
            (Us, Dial) | (Uk, Dial) => Self::cadenced(&[350.0, 440.0], &[]),
            (Us, Ringback) => Self::cadenced(&[440.0, 480.0], &[2000, 4000]),
            (Us, Busy) => Self::cadenced(&[480.0, 620.0], &[500, 500]),
            (Us, Congestion) => Self::cadenced(&[480.0, 620.0], &[250, 250]),
            (Uk, Ringback) => Self::cadenced(&[400.0, 450.0], &[400, 200, 400, 2000]),
            (Uk, Busy) => Self::cadenced(&[400.0], &[375, 375]),
            (Uk, Congestion) => Self::cadenced(&[400.0], &[400, 350, 225, 525]),
            (De, Dial) => Self::cadenced(&[425.0], &[]),
            (De, Ringback) => Self::cadenced(&[425.0], &[1000, 4000]),
            (De, Busy) => Self::cadenced(&[425.0], &[480, 480]),
            (De, Congestion) => Self::cadenced(&[425.0], &[240, 240]),
            (Fr, Dial) => Self::cadenced(&[440.0], &[]),
            (Fr, Ringback) => Self::cadenced(&[440.0], &[1500, 3500]),
            (Fr, Busy) => Self::cadenced(&[440.0], &[500, 500]),
            (Fr, Congestion) => Self::cadenced(&[440.0], &[250, 250]),
        }
    }

    /// A DTMF digit (`0-9`, `*`, `#`, `A-D`) lasting `duration_ms`.
    pub fn dtmf(digit: char, duration_ms: u32) -> Result<Self> {
        let (low, high) = digit_frequencies(digit).ok_or(MediaError::NotADigit(digit))?;
        Ok(Self {
            freqs: vec![low, high],
            amplitude: 7000,
            cadence: vec![duration_ms],
            repeat: false,
        })
    }
}

/// Plays a [`ToneSpec`] at a sample rate, frame after frame.
#[derive(Debug, Clone)]
pub struct ToneGenerator {
    spec: ToneSpec,
    /// Phase increment per sample of each frequency, in radians.
    steps: Vec<f64>,
    phases: Vec<f64>,
    /// Cadence segments in samples.
    segments: Vec<usize>,
    segment: usize,
    in_segment: usize,
    finished: bool,
}

impl ToneGenerator {
    /// A generator of `spec` at `rate` Hz.
    pub fn new(spec: ToneSpec, rate: u32) -> Self {
        let rate = rate.max(1) as f64;
        let steps = spec
            .freqs
            .iter()
            .map(|&f| 2.0 * std::f64::consts::PI * f as f64 / rate)
            .collect();
        let segments = spec
            .cadence
            .iter()
            .map(|&ms| (ms as f64 * rate / 1000.0).round() as usize)
            .collect();
        let phases = vec![0.0; spec.freqs.len()];
        Self {
            spec,
            steps,
            phases,
            segments,
            segment: 0,
            in_segment: 0,
            finished: false,
        }
    }

    /// A call-progress tone generator.
    pub fn call_progress(country: Country, kind: ToneKind, rate: u32) -> Self {
        Self::new(ToneSpec::call_progress(country, kind), rate)
    }

    /// True once a non-repeating tone has played out.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    fn on(&mut self) -> bool {
        if self.segments.is_empty() {
            return true;
        }
        while self
            .segments
            .get(self.segment)
            .is_some_and(|&len| self.in_segment >= len)
        {
            self.in_segment = 0;
            self.segment += 1;
            if self.segment >= self.segments.len() {
                if self.spec.repeat {
                    self.segment = 0;
                } else {
                    self.finished = true;
                    return false;
                }
            }
            // Guard against a cadence of all zeros.
            if self.segments.iter().all(|&l| l == 0) {
                self.finished = true;
                return false;
            }
        }
        self.in_segment += 1;
        self.segment % 2 == 0
    }

    /// Fills `out` with the tone (silence during "off" periods and after the end).
    pub fn fill(&mut self, out: &mut [i16]) {
        let amp = self.spec.amplitude as f64;
        for s in out.iter_mut() {
            if self.finished || !self.on() {
                *s = 0;
                continue;
            }
            let mut v = 0.0;
            for (p, step) in self.phases.iter_mut().zip(&self.steps) {
                v += p.sin();
                *p += step;
                if *p > std::f64::consts::TAU {
                    *p -= std::f64::consts::TAU;
                }
            }
            *s = (v * amp).round().clamp(i16::MIN as f64, i16::MAX as f64) as i16;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_us_has_half_second_cadence() {
        let mut g = ToneGenerator::call_progress(Country::Us, ToneKind::Busy, 8000);
        let mut out = vec![0i16; 16000];
        g.fill(&mut out);
        let energy =
            |r: std::ops::Range<usize>| out[r].iter().map(|&s| (s as i64).pow(2)).sum::<i64>();
        assert!(energy(100..3900) > 0);
        assert_eq!(energy(4000..8000), 0);
        assert!(energy(8000..12000) > 0);
        assert!(!g.is_finished());
    }

    #[test]
    fn beep_ends() {
        let mut g = ToneGenerator::call_progress(Country::Fr, ToneKind::Beep, 16000);
        let mut out = vec![0i16; 8000];
        g.fill(&mut out);
        assert!(g.is_finished());
        assert!(out[..3900].iter().any(|&s| s != 0));
        assert!(out[4000..].iter().all(|&s| s == 0));
    }

    #[test]
    fn every_country_and_kind_makes_sound() {
        for c in [Country::Us, Country::Uk, Country::De, Country::Fr] {
            for k in [
                ToneKind::Dial,
                ToneKind::Ringback,
                ToneKind::Busy,
                ToneKind::Congestion,
                ToneKind::Beep,
            ] {
                let mut g = ToneGenerator::call_progress(c, k, 8000);
                let mut out = vec![0i16; 1600];
                g.fill(&mut out);
                let peak = out.iter().map(|s| s.unsigned_abs()).max().unwrap();
                assert!(peak > 3000 && peak <= 10000, "{c:?} {k:?}: {peak}");
            }
        }
    }
}
