//! In-band DTMF detection with the Goertzel algorithm, for phones that send digits as
//! tones in the audio. Works on 8 kHz PCM in blocks of 205 samples (25.6 ms).
//!
//! A block holds a digit when one row and one column frequency stand out: both above a
//! floor, their ratio within the allowed twist, each at least 6 dB above the others of
//! its group, and together carrying most of the block's energy (speech and noise spread
//! their energy, a DTMF pair concentrates it). Two blocks in a row make a press; two
//! blocks without make a release.

use super::{keypad, DtmfEvent, COLUMNS, ROWS};

/// Samples per analysis block at 8 kHz.
pub const BLOCK: usize = 205;
/// The only input rate.
pub const RATE: u32 = 8000;
/// Smallest amplitude of each tone (about −36 dBm0).
const MIN_AMPLITUDE: f64 = 400.0;
/// Largest row/column power ratio either way (8 dB).
const MAX_TWIST: f64 = 6.3;
/// Each tone must beat the others of its group by this power ratio (6 dB).
const GROUP_MARGIN: f64 = 4.0;
/// Share of the block's energy the two tones must carry.
const MIN_PURITY: f64 = 0.8;

/// The in-band detector of one stream.
#[derive(Debug, Clone)]
pub struct GoertzelDetector {
    coeffs: [f64; 8],
    block: Vec<f64>,
    candidate: Option<char>,
    candidate_blocks: u32,
    pressed: Option<char>,
    pressed_blocks: u32,
    quiet_blocks: u32,
}

impl Default for GoertzelDetector {
    fn default() -> Self {
        Self::new()
    }
}

impl GoertzelDetector {
    /// A detector for 8 kHz audio.
    pub fn new() -> Self {
        let mut coeffs = [0.0; 8];
        for (c, f) in coeffs.iter_mut().zip(ROWS.iter().chain(COLUMNS.iter())) {
            *c = 2.0 * (2.0 * std::f64::consts::PI * *f as f64 / RATE as f64).cos();
        }
        Self {
            coeffs,
            block: Vec::with_capacity(BLOCK),
            candidate: None,
            candidate_blocks: 0,
            pressed: None,
            pressed_blocks: 0,
            quiet_blocks: 0,
        }
    }

    /// The digit held down now, if any.
    pub fn pressed(&self) -> Option<char> {
        self.pressed
    }

    /// Feeds 8 kHz samples; returns presses and releases completed within them.
    pub fn push(&mut self, pcm: &[i16]) -> Vec<DtmfEvent> {
        let mut events = Vec::new();
        for &s in pcm {
            self.block.push(s as f64);
            if self.block.len() == BLOCK {
                let digit = self.analyse();
                self.block.clear();
                self.step(digit, &mut events);
            }
        }
        events
    }

    /// The digit in the current block, if it passes every test.
    fn analyse(&self) -> Option<char> {
        let energy: f64 = self.block.iter().map(|x| x * x).sum();
        if energy <= 0.0 {
            return None;
        }
        let mut power = [0.0f64; 8];
        for (p, &coeff) in power.iter_mut().zip(&self.coeffs) {
            let (mut s1, mut s2) = (0.0, 0.0);
            for &x in &self.block {
                let s = x + coeff * s1 - s2;
                s2 = s1;
                s1 = s;
            }
            *p = s1 * s1 + s2 * s2 - coeff * s1 * s2;
        }
        let best = |group: &[f64]| {
            let (i, &max) = group.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1))?;
            let others_ok = group
                .iter()
                .enumerate()
                .all(|(j, &p)| j == i || p * GROUP_MARGIN <= max);
            others_ok.then_some((i, max))
        };
        let (row, row_p) = best(&power[..4])?;
        let (col, col_p) = best(&power[4..])?;
        let n = BLOCK as f64;
        // A sine of amplitude A gives Goertzel power (A·N/2)².
        let amp = |p: f64| 2.0 * p.sqrt() / n;
        if amp(row_p) < MIN_AMPLITUDE || amp(col_p) < MIN_AMPLITUDE {
            return None;
        }
        let twist = row_p / col_p;
        if !(1.0 / MAX_TWIST..=MAX_TWIST).contains(&twist) {
            return None;
        }
        // Energy of a sine in the block is A²·N/2 = 2·P/N.
        let purity = 2.0 * (row_p + col_p) / n / energy;
        if purity < MIN_PURITY {
            return None;
        }
        keypad(row, col)
    }

    fn step(&mut self, digit: Option<char>, events: &mut Vec<DtmfEvent>) {
        if digit == self.candidate {
            self.candidate_blocks += 1;
        } else {
            self.candidate = digit;
            self.candidate_blocks = 1;
        }
        match (self.pressed, digit) {
            (Some(p), Some(d)) if p == d => {
                self.pressed_blocks += 1;
                self.quiet_blocks = 0;
            }
            (Some(p), _) => {
                self.quiet_blocks += 1;
                // Released after two blocks without it, or at once for another digit
                // held for two blocks.
                let other = digit.is_some() && self.candidate_blocks >= 2;
                if self.quiet_blocks >= 2 || other {
                    events.push(DtmfEvent::End {
                        digit: p,
                        duration: self.pressed_blocks * BLOCK as u32,
                    });
                    self.pressed = None;
                    self.pressed_blocks = 0;
                }
            }
            (None, _) => {}
        }
        if self.pressed.is_none() {
            if let Some(d) = digit.filter(|_| self.candidate_blocks >= 2) {
                self.pressed = Some(d);
                self.pressed_blocks = 2;
                self.quiet_blocks = 0;
                events.push(DtmfEvent::Begin { digit: d });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dtmf::DIGITS;
    use crate::tone::{ToneGenerator, ToneSpec};

    fn tone(digit: char, ms: u32) -> Vec<i16> {
        let mut g = ToneGenerator::new(ToneSpec::dtmf(digit, ms).unwrap(), 8000);
        let mut out = vec![0; (ms * 8) as usize];
        g.fill(&mut out);
        out
    }

    /// A small deterministic noise source (xorshift).
    struct Noise(u64);
    impl Noise {
        fn next(&mut self) -> f64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 % 20001) as f64 / 10000.0 - 1.0
        }
    }

    fn begins(events: &[DtmfEvent]) -> Vec<char> {
        events
            .iter()
            .filter_map(|e| match e {
                DtmfEvent::Begin { digit } => Some(*digit),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn all_sixteen_digits_are_detected() {
        let mut d = GoertzelDetector::new();
        let mut events = Vec::new();
        for &digit in &DIGITS {
            events.extend(d.push(&tone(digit, 80)));
            events.extend(d.push(&[0; 480]));
        }
        assert_eq!(begins(&events), DIGITS.to_vec());
        let ends = events
            .iter()
            .filter(|e| matches!(e, DtmfEvent::End { .. }))
            .count();
        assert_eq!(ends, 16);
    }

    #[test]
    fn digits_survive_moderate_noise_and_level() {
        let mut noise = Noise(7);
        let mut d = GoertzelDetector::new();
        let mut events = Vec::new();
        for &digit in &DIGITS {
            // Tones at a third of the level, with noise about 20 dB below them.
            let pcm: Vec<i16> = tone(digit, 100)
                .iter()
                .map(|&s| (s as f64 / 3.0 + 200.0 * noise.next()) as i16)
                .collect();
            events.extend(d.push(&pcm));
            events.extend(d.push(&[0; 600]));
        }
        assert_eq!(begins(&events), DIGITS.to_vec());
    }

    #[test]
    fn short_blips_are_ignored() {
        let mut d = GoertzelDetector::new();
        // 20 ms is shorter than two blocks: no digit.
        let events = d.push(&tone('5', 20));
        assert!(events.is_empty());
    }

    #[test]
    fn speech_like_noise_is_rejected() {
        let mut d = GoertzelDetector::new();
        let mut noise = Noise(42);
        let mut events = Vec::new();
        // White noise at several levels.
        for level in [500.0, 3000.0, 12000.0] {
            let pcm: Vec<i16> = (0..16000).map(|_| (level * noise.next()) as i16).collect();
            events.extend(d.push(&pcm));
        }
        // Vowel-like sounds: a gliding pitch from 90 to 300 Hz with 30 decaying
        // harmonics, some of which cross the DTMF frequencies.
        let mut phase = 0.0f64;
        let pcm: Vec<i16> = (0..80000)
            .map(|i| {
                let f0 = 90.0 + 210.0 * (i as f64 / 80000.0);
                phase += 2.0 * std::f64::consts::PI * f0 / 8000.0;
                let v: f64 = (1..=30).map(|h| (phase * h as f64).sin() / h as f64).sum();
                (v * 6000.0) as i16
            })
            .collect();
        events.extend(d.push(&pcm));
        // Steady vowels at fixed pitches, including ones whose harmonics land on a row
        // and a column frequency (e.g. 100 Hz has harmonics at 700 and 1200 Hz).
        for f0 in [100.0, 116.0, 139.0, 174.0, 233.0] {
            let pcm: Vec<i16> = (0..8000)
                .map(|i| {
                    let t = 2.0 * std::f64::consts::PI * f0 * i as f64 / 8000.0;
                    let v: f64 = (1..=25).map(|h| (t * h as f64).sin() / h as f64).sum();
                    (v * 6000.0 + 300.0 * noise.next()) as i16
                })
                .collect();
            events.extend(d.push(&pcm));
        }
        // Call-progress tones are not digits either.
        for spec in [
            crate::tone::ToneSpec::call_progress(
                crate::tone::Country::Us,
                crate::tone::ToneKind::Dial,
            ),
            crate::tone::ToneSpec::call_progress(
                crate::tone::Country::Us,
                crate::tone::ToneKind::Busy,
            ),
        ] {
            let mut g = ToneGenerator::new(spec, 8000);
            let mut pcm = vec![0; 16000];
            g.fill(&mut pcm);
            events.extend(d.push(&pcm));
        }
        assert!(events.is_empty(), "false detections: {events:?}");
    }
}
