//! Opus through `audiopus` (libopus): narrowband to fullband, in-band FEC, DTX off by
//! default.
//!
//! Packets of 10, 20, 30, 40 and 60 ms; Opus has no 30 ms frame, so a 30 ms packet
//! carries three 10 ms frames (RFC 6716 code 3).

use audiopus::coder::{Decoder, Encoder};
use audiopus::packet::Packet;
use audiopus::{Application, Bandwidth, Bitrate, Channels, MutSignals, SampleRate, Signal};

use super::Codec;
use crate::{MediaError, Result};

/// Audio bandwidth the encoder may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpusBandwidth {
    /// 4 kHz audio.
    Narrow,
    /// 6 kHz audio.
    Medium,
    /// 8 kHz audio.
    Wide,
    /// 12 kHz audio.
    SuperWide,
    /// 20 kHz audio.
    Full,
}

impl OpusBandwidth {
    fn to_audiopus(self) -> Bandwidth {
        match self {
            OpusBandwidth::Narrow => Bandwidth::Narrowband,
            OpusBandwidth::Medium => Bandwidth::Mediumband,
            OpusBandwidth::Wide => Bandwidth::Wideband,
            OpusBandwidth::SuperWide => Bandwidth::Superwideband,
            OpusBandwidth::Full => Bandwidth::Fullband,
        }
    }
}

/// Opus settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OpusConfig {
    /// PCM rate of the frames given and returned: 8000, 12000, 16000, 24000 or 48000.
    pub sample_rate: u32,
    /// Largest bandwidth the encoder may use.
    pub max_bandwidth: OpusBandwidth,
    /// Target bit rate in bit/s.
    pub bitrate: i32,
    /// In-band forward error correction.
    pub fec: bool,
    /// Expected packet loss in percent (steers how much FEC is spent).
    pub expected_loss_percent: u8,
    /// Discontinuous transmission (off by default: trunks dislike silence gaps).
    pub dtx: bool,
    /// The dynamic RTP payload type negotiated in SDP.
    pub payload_type: u8,
    /// Encoder complexity, 0 (cheapest) to 10 (libopus's default, best quality).
    pub complexity: u8,
}

impl Default for OpusConfig {
    fn default() -> Self {
        Self {
            sample_rate: 48000,
            max_bandwidth: OpusBandwidth::Full,
            bitrate: 32000,
            fec: true,
            expected_loss_percent: 5,
            dtx: false,
            payload_type: 111,
            complexity: 10,
        }
    }
}

impl OpusConfig {
    /// Settings for a given PCM rate, with a matching bandwidth (8 kHz → narrowband,
    /// 16 kHz → wideband, 48 kHz → fullband).
    pub fn at_rate(sample_rate: u32) -> Self {
        let max_bandwidth = match sample_rate {
            8000 => OpusBandwidth::Narrow,
            12000 => OpusBandwidth::Medium,
            16000 => OpusBandwidth::Wide,
            24000 => OpusBandwidth::SuperWide,
            _ => OpusBandwidth::Full,
        };
        Self {
            sample_rate,
            max_bandwidth,
            bitrate: if sample_rate <= 8000 { 16000 } else { 32000 },
            ..Self::default()
        }
    }
}

fn sample_rate(rate: u32) -> Result<SampleRate> {
    Ok(match rate {
        8000 => SampleRate::Hz8000,
        12000 => SampleRate::Hz12000,
        16000 => SampleRate::Hz16000,
        24000 => SampleRate::Hz24000,
        48000 => SampleRate::Hz48000,
        other => return Err(MediaError::UnsupportedRate(other)),
    })
}

/// Largest Opus packet we produce (RFC 7587 recommends staying under the MTU).
const MAX_PACKET: usize = 1275;

/// Opus, mono.
pub struct Opus {
    config: OpusConfig,
    encoder: Encoder,
    decoder: Decoder,
    /// Samples of the last decoded frame, the default concealment length.
    last_frame: usize,
    /// Whether the encoder is pinned for 30 ms packets (see `Opus::encode_30ms`).
    pinned: bool,
    /// Scratch for the three 10 ms frames of a 30 ms packet.
    parts: Vec<u8>,
}

impl Opus {
    /// A new encoder/decoder pair with `config`.
    pub fn new(config: OpusConfig) -> Result<Self> {
        let rate = sample_rate(config.sample_rate)?;
        let mut encoder = Encoder::new(rate, Channels::Mono, Application::Voip)?;
        encoder.set_bitrate(Bitrate::BitsPerSecond(config.bitrate))?;
        encoder.set_max_bandwidth(config.max_bandwidth.to_audiopus())?;
        encoder.set_inband_fec(config.fec)?;
        encoder.set_packet_loss_perc(config.expected_loss_percent.min(100))?;
        encoder.set_dtx(config.dtx)?;
        encoder.set_complexity(config.complexity.min(10))?;
        let decoder = Decoder::new(rate, Channels::Mono)?;
        Ok(Self {
            config,
            encoder,
            decoder,
            last_frame: (config.sample_rate / 50) as usize,
            pinned: false,
            parts: Vec::new(),
        })
    }

    /// The settings this codec was built with.
    pub fn config(&self) -> &OpusConfig {
        &self.config
    }

    fn check_frame(&self, len: usize) -> Result<()> {
        let per_ms = (self.config.sample_rate / 1000) as usize;
        // 2.5, 5, 10, 20, 40 and 60 ms are Opus frame sizes; 30 ms is three 10 ms
        // frames in one packet.
        let ok = [
            per_ms * 5 / 2,
            per_ms * 5,
            per_ms * 10,
            per_ms * 20,
            per_ms * 30,
            per_ms * 40,
            per_ms * 60,
        ]
        .contains(&len);
        if ok {
            Ok(())
        } else {
            Err(MediaError::FrameSize {
                codec: "opus",
                unit: per_ms * 10,
                got: len,
            })
        }
    }

    /// Opus has no 30 ms frame: a 30 ms packet is three 10 ms frames behind one TOC
    /// byte (RFC 6716 §3.2.5, code 3, variable sizes). The frames must share mode and
    /// bandwidth, so the encoder is pinned to the configured bandwidth and to voice.
    fn encode_30ms(&mut self, pcm: &[i16], out: &mut Vec<u8>) -> Result<()> {
        if !self.pinned {
            self.encoder
                .set_bandwidth(self.config.max_bandwidth.to_audiopus())?;
            self.encoder.set_signal(Signal::Voice)?;
            self.pinned = true;
        }
        let third = pcm.len() / 3;
        let mut parts = std::mem::take(&mut self.parts);
        parts.resize(3 * MAX_PACKET, 0);
        let mut lens = [0usize; 3];
        for (i, chunk) in pcm.chunks_exact(third).enumerate().take(3) {
            let buf = &mut parts[i * MAX_PACKET..(i + 1) * MAX_PACKET];
            lens[i] = self.encoder.encode(chunk, buf)?;
        }
        let toc = |i: usize| parts[i * MAX_PACKET];
        let same = (0..3).all(|i| lens[i] >= 1 && toc(i) & 0x03 == 0 && toc(i) == toc(0));
        if !same {
            self.parts = parts;
            return Err(MediaError::Repacketize(
                "opus frames of one 30 ms packet differ in mode or bandwidth",
            ));
        }
        out.push(toc(0) | 0x03);
        // v = 1 (sizes vary), no padding, three frames.
        out.push(0x80 | 3);
        for len in &lens[..2] {
            let n = len - 1;
            if n < 252 {
                out.push(n as u8);
            } else {
                let first = 252 + (n & 3);
                out.push(first as u8);
                out.push(((n - first) >> 2) as u8);
            }
        }
        for (i, len) in lens.iter().enumerate() {
            out.extend_from_slice(&parts[i * MAX_PACKET + 1..i * MAX_PACKET + len]);
        }
        self.parts = parts;
        Ok(())
    }

    fn decode_into(
        &mut self,
        payload: Option<&[u8]>,
        samples: usize,
        fec: bool,
        out: &mut Vec<i16>,
    ) -> Result<()> {
        let packet = match payload {
            Some(p) => Some(Packet::try_from(p)?),
            None => None,
        };
        let start = out.len();
        // A whole packet decodes to the length its TOC says (up to 120 ms); FEC and
        // concealment produce exactly `samples`.
        let len = match payload {
            Some(p) if !fec => audiopus::packet::nb_samples(
                Packet::try_from(p)?,
                sample_rate(self.config.sample_rate)?,
            )?,
            _ => samples,
        };
        out.resize(start + len, 0);
        let res = match MutSignals::try_from(&mut out[start..]) {
            Ok(signals) => self.decoder.decode(packet, signals, fec),
            Err(e) => Err(e),
        };
        match res {
            Ok(n) => {
                out.truncate(start + n);
                if payload.is_some() && !fec {
                    self.last_frame = n;
                }
                Ok(())
            }
            Err(e) => {
                out.truncate(start);
                Err(e.into())
            }
        }
    }
}

impl Codec for Opus {
    fn name(&self) -> &'static str {
        "opus"
    }
    fn payload_type(&self) -> u8 {
        self.config.payload_type
    }
    fn sample_rate(&self) -> u32 {
        self.config.sample_rate
    }
    fn clock_rate(&self) -> u32 {
        48000
    }
    fn encode(&mut self, pcm: &[i16], out: &mut Vec<u8>) -> Result<()> {
        self.check_frame(pcm.len())?;
        if pcm.len() == (self.config.sample_rate / 1000 * 30) as usize {
            return self.encode_30ms(pcm, out);
        }
        let start = out.len();
        out.resize(start + MAX_PACKET, 0);
        match self.encoder.encode(pcm, &mut out[start..]) {
            Ok(n) => {
                out.truncate(start + n);
                Ok(())
            }
            Err(e) => {
                out.truncate(start);
                Err(e.into())
            }
        }
    }
    fn decode(&mut self, payload: &[u8], out: &mut Vec<i16>) -> Result<()> {
        if payload.is_empty() {
            // An empty payload is DTX: conceal one frame.
            let n = self.last_frame;
            return self.conceal(n, out);
        }
        let n = self.last_frame;
        self.decode_into(Some(payload), n, false, out)
    }
    fn conceal(&mut self, samples: usize, out: &mut Vec<i16>) -> Result<()> {
        self.decode_into(None, samples, false, out)
    }
    fn decode_fec(&mut self, next: &[u8], samples: usize, out: &mut Vec<i16>) -> Result<()> {
        if next.is_empty() {
            return self.conceal(samples, out);
        }
        self.decode_into(Some(next), samples, true, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::transcode::snr_db;

    fn sine(rate: u32, freq: f32, n: usize, amp: f32) -> Vec<i16> {
        (0..n)
            .map(|i| {
                (amp * (2.0 * std::f32::consts::PI * freq * i as f32 / rate as f32).sin()) as i16
            })
            .collect()
    }

    /// Opus adds a short look-ahead delay: compare after aligning on the best lag.
    fn best_snr(input: &[i16], output: &[i16], max_lag: usize) -> f64 {
        (0..max_lag)
            .map(|lag| {
                let n = input.len().min(output.len().saturating_sub(lag));
                snr_db(&input[..n], &output[lag..lag + n])
            })
            .fold(f64::MIN, f64::max)
    }

    #[test]
    fn round_trip_snr_each_bandwidth() {
        for (rate, freq) in [(8000u32, 440.0), (16000, 1000.0), (48000, 1000.0)] {
            let mut c = Opus::new(OpusConfig::at_rate(rate)).unwrap();
            let frame = (rate / 50) as usize;
            let input = sine(rate, freq, frame * 50, 8000.0);
            let mut output = Vec::new();
            for chunk in input.chunks(frame) {
                let mut p = Vec::new();
                c.encode(chunk, &mut p).unwrap();
                c.decode(&p, &mut output).unwrap();
            }
            assert_eq!(output.len(), input.len());
            // Skip the first 10 frames while the encoder settles.
            let skip = frame * 10;
            let snr = best_snr(&input[skip..], &output[skip..], (rate / 100) as usize);
            // Waveform SNR of a perceptual codec: measured 31.8 / 21.1 / 15.4 dB.
            let floor = match rate {
                8000 => 25.0,
                16000 => 16.0,
                _ => 12.0,
            };
            assert!(snr > floor, "opus at {rate} Hz: SNR {snr:.1} dB");
        }
    }

    #[test]
    fn thirty_ms_packets_hold_three_frames() {
        for rate in [8000u32, 16000, 48000] {
            let mut c = Opus::new(OpusConfig::at_rate(rate)).unwrap();
            let frame = (rate * 3 / 100) as usize;
            let input = sine(rate, 600.0, frame * 30, 8000.0);
            let mut output = Vec::new();
            for chunk in input.chunks(frame) {
                let mut p = Vec::new();
                c.encode(chunk, &mut p).unwrap();
                assert_eq!(p[0] & 3, 3, "code 3 packet");
                assert_eq!(p[1] & 0x3F, 3, "three frames");
                let before = output.len();
                c.decode(&p, &mut output).unwrap();
                assert_eq!(output.len() - before, frame);
            }
            let skip = frame * 5;
            let snr = best_snr(&input[skip..], &output[skip..], (rate / 100) as usize);
            assert!(snr > 10.0, "opus 30 ms at {rate} Hz: SNR {snr:.1} dB");
        }
    }

    #[test]
    fn fec_and_concealment_produce_a_frame() {
        let mut c = Opus::new(OpusConfig::at_rate(16000)).unwrap();
        let input = sine(16000, 500.0, 320, 5000.0);
        let mut p = Vec::new();
        c.encode(&input, &mut p).unwrap();
        let mut out = Vec::new();
        c.decode_fec(&p, 320, &mut out).unwrap();
        assert_eq!(out.len(), 320);
        out.clear();
        c.conceal(320, &mut out).unwrap();
        assert_eq!(out.len(), 320);
    }

    #[test]
    fn wrong_frame_size_is_refused() {
        let mut c = Opus::new(OpusConfig::default()).unwrap();
        let mut p = Vec::new();
        assert!(c.encode(&[0; 100], &mut p).is_err());
        // Garbage payloads are an error, not a panic.
        let mut out = Vec::new();
        let _ = c.decode(&[0xFF, 0xFF, 0xFF], &mut out);
    }
}
