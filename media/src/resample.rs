//! Polyphase resampling between telephony rates (8, 16 and 48 kHz, or any rational
//! ratio), streaming: state carries across frames so frame edges leave no clicks.
//!
//! The filter is a Blackman-windowed sinc with its cutoff just under the lower rate's
//! Nyquist frequency; it runs at the upsampled rate `from × L` split into `L` phases, and
//! only every `M`-th output is computed.

use crate::{MediaError, Result};

/// Zero crossings of the sinc on each side of its centre.
const ZERO_CROSSINGS: f64 = 20.0;
/// Cutoff as a fraction of the lower rate's Nyquist frequency.
const CUTOFF: f64 = 0.92;

fn gcd(a: u32, b: u32) -> u32 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// Dot product in eight independent lanes, which the compiler turns into SIMD.
#[inline]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0f32; 8];
    let (a8, a_rest) = a.split_at(a.len() - a.len() % 8);
    let (b8, b_rest) = b.split_at(a8.len().min(b.len()));
    for (x, y) in a8.chunks_exact(8).zip(b8.chunks_exact(8)) {
        for i in 0..8 {
            lanes[i] += x[i] * y[i];
        }
    }
    let tail: f32 = a_rest.iter().zip(b_rest).map(|(x, y)| x * y).sum();
    lanes.iter().sum::<f32>() + tail
}

/// A streaming resampler from one rate to another, mono 16-bit.
#[derive(Debug, Clone)]
pub struct Resampler {
    from: u32,
    to: u32,
    up: u64,
    down: u64,
    taps: usize,
    /// `up` phases of `taps` coefficients each, phase-major.
    phases: Vec<f32>,
    /// The last `taps - 1` input samples, then the current input.
    buf: Vec<f32>,
    /// Input samples consumed so far.
    consumed: u64,
    /// Input sample index of the next output's newest tap.
    next_in: u64,
    /// Filter phase of the next output.
    next_phase: u64,
}

impl Resampler {
    /// A resampler from `from` Hz to `to` Hz.
    pub fn new(from: u32, to: u32) -> Result<Self> {
        if from == 0 || from > 192_000 {
            return Err(MediaError::UnsupportedRate(from));
        }
        if to == 0 || to > 192_000 {
            return Err(MediaError::UnsupportedRate(to));
        }
        let g = gcd(from, to);
        let up = (to / g) as usize;
        let down = (from / g) as usize;
        if up > 1000 || down > 1000 {
            return Err(MediaError::UnsupportedRate(to));
        }
        let wide = up.max(down) as f64;
        // Cutoff in cycles per sample of the upsampled signal.
        let fc = CUTOFF * 0.5 / wide;
        let desired = (2.0 * ZERO_CROSSINGS / (2.0 * fc)).ceil() as usize;
        // Taps per phase, rounded up to whole SIMD lanes (the extra ones are zeros).
        let taps = desired.div_ceil(up).max(1).next_multiple_of(8);
        let len = desired.div_ceil(up).max(1) * up;
        let centre = (len as f64 - 1.0) / 2.0;
        let mut h: Vec<f64> = (0..len)
            .map(|k| {
                let t = k as f64 - centre;
                let x = 2.0 * fc * t;
                let sinc = if x.abs() < 1e-12 {
                    1.0
                } else {
                    (std::f64::consts::PI * x).sin() / (std::f64::consts::PI * x)
                };
                let w = 2.0 * std::f64::consts::PI * k as f64 / (len as f64 - 1.0).max(1.0);
                let blackman = 0.42 - 0.5 * w.cos() + 0.08 * (2.0 * w).cos();
                2.0 * fc * sinc * blackman
            })
            .collect();
        // Each phase sums to about 1: unity gain at DC after zero-stuffing.
        let sum: f64 = h.iter().sum();
        if sum.abs() > 1e-12 {
            for c in &mut h {
                *c *= up as f64 / sum;
            }
        }
        // Phase p holds h[p], h[p + L], h[p + 2L], ... stored last-first, so that a
        // dot product with the input window runs forward over both.
        let mut phases = vec![0f32; up * taps];
        for p in 0..up {
            for i in 0..taps {
                let k = p + i * up;
                phases[p * taps + (taps - 1 - i)] = h.get(k).copied().unwrap_or(0.0) as f32;
            }
        }
        Ok(Self {
            from,
            to,
            up: up as u64,
            down: down as u64,
            taps,
            phases,
            buf: vec![0.0; taps - 1],
            consumed: 0,
            next_in: 0,
            next_phase: 0,
        })
    }

    /// The input rate.
    pub fn from_rate(&self) -> u32 {
        self.from
    }

    /// The output rate.
    pub fn to_rate(&self) -> u32 {
        self.to
    }

    /// True when input and output rates are equal (samples are copied).
    pub fn is_identity(&self) -> bool {
        self.from == self.to
    }

    /// Resamples `input`, appending the output to `out`. Over a stream, the output
    /// count follows the rate ratio exactly; for 8/16/48 kHz and whole milliseconds,
    /// every call yields exactly `input.len() × to / from` samples.
    pub fn process(&mut self, input: &[i16], out: &mut Vec<i16>) {
        if self.is_identity() {
            out.extend_from_slice(input);
            return;
        }
        let keep = self.taps - 1;
        // buf[0] holds input sample number `base`.
        let base = self.consumed as i64 - keep as i64;
        self.buf.extend(input.iter().map(|&s| s as f32));
        let total = self.consumed + input.len() as u64;
        // Output n sits at n·M in the upsampled signal: input n·M / L, phase n·M % L.
        while self.next_in < total {
            let phase = self.next_phase as usize;
            let coeffs = &self.phases[phase * self.taps..(phase + 1) * self.taps];
            // Index in buf of the newest input tap; at least taps - 1 by construction.
            let end = (self.next_in as i64 - base) as usize;
            let window = &self.buf[end + 1 - self.taps..=end];
            let acc = dot(coeffs, window);
            out.push(acc.round().clamp(i16::MIN as f32, i16::MAX as f32) as i16);
            self.next_phase += self.down;
            while self.next_phase >= self.up {
                self.next_phase -= self.up;
                self.next_in += 1;
            }
        }
        self.consumed = total;
        let drop = self.buf.len() - keep;
        self.buf.drain(..drop);
    }

    /// Clears the filter's memory (for a new, unrelated stream).
    pub fn reset(&mut self) {
        self.buf.clear();
        self.buf.resize(self.taps - 1, 0.0);
        self.consumed = 0;
        self.next_in = 0;
        self.next_phase = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(rate: u32, freq: f64, n: usize) -> Vec<i16> {
        (0..n)
            .map(|i| {
                (10000.0 * (2.0 * std::f64::consts::PI * freq * i as f64 / rate as f64).sin())
                    as i16
            })
            .collect()
    }

    fn rms(x: &[i16]) -> f64 {
        (x.iter().map(|&s| (s as f64).powi(2)).sum::<f64>() / x.len().max(1) as f64).sqrt()
    }

    /// Gain in dB of a tone through the resampler, fed in 20 ms frames.
    fn gain_db(from: u32, to: u32, freq: f64) -> f64 {
        let mut r = Resampler::new(from, to).unwrap();
        let input = tone(from, freq, from as usize / 2);
        let mut out = Vec::new();
        for frame in input.chunks(from as usize / 50) {
            let before = out.len();
            r.process(frame, &mut out);
            assert_eq!(
                out.len() - before,
                frame.len() * to as usize / from as usize
            );
        }
        // Skip the filter's warm-up (first 100 ms).
        let skip = to as usize / 10;
        20.0 * (rms(&out[skip..]) / rms(&input[from as usize / 10..])).log10()
    }

    const PAIRS: [(u32, u32); 6] = [
        (8000, 16000),
        (8000, 48000),
        (16000, 48000),
        (16000, 8000),
        (48000, 8000),
        (48000, 16000),
    ];

    #[test]
    fn passband_is_flat() {
        for (from, to) in PAIRS {
            let nyq = from.min(to) as f64 / 2.0;
            for frac in [0.05, 0.25, 0.5, 0.7] {
                let g = gain_db(from, to, nyq * frac);
                assert!(
                    g.abs() < 0.5,
                    "{from}->{to} at {:.0} Hz: {g:.2} dB",
                    nyq * frac
                );
            }
        }
    }

    #[test]
    fn stopband_is_attenuated() {
        for (from, to) in PAIRS.iter().filter(|(f, t)| f > t) {
            let nyq = *to as f64 / 2.0;
            for frac in [1.2, 1.5, 1.8] {
                let g = gain_db(*from, *to, nyq * frac);
                assert!(g < -50.0, "{from}->{to} at {:.0} Hz: {g:.1} dB", nyq * frac);
            }
        }
    }

    #[test]
    fn upsampling_leaves_no_images() {
        // A 1 kHz tone upsampled 8 -> 48 kHz: nothing at the 7 kHz image.
        let mut r = Resampler::new(8000, 48000).unwrap();
        let mut out = Vec::new();
        r.process(&tone(8000, 1000.0, 8000), &mut out);
        let x = &out[4800..];
        let power = |f: f64| {
            let (mut re, mut im) = (0.0, 0.0);
            for (i, &s) in x.iter().enumerate() {
                let w = 2.0 * std::f64::consts::PI * f * i as f64 / 48000.0;
                re += s as f64 * w.cos();
                im += s as f64 * w.sin();
            }
            re * re + im * im
        };
        let ratio = 10.0 * (power(7000.0) / power(1000.0)).log10();
        assert!(ratio < -50.0, "image at {ratio:.1} dB");
    }

    #[test]
    fn identity_copies() {
        let mut r = Resampler::new(16000, 16000).unwrap();
        let mut out = Vec::new();
        r.process(&[1, 2, 3], &mut out);
        assert_eq!(out, [1, 2, 3]);
    }
}
