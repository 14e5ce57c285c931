//! Audio codecs behind one trait, and transcoding between them.

pub mod g711;
pub mod g722;
pub mod opus;
pub mod transcode;

use crate::{MediaError, Result};

pub use self::g711::{Pcma, Pcmu};
pub use self::g722::G722;
pub use self::opus::{Opus, OpusBandwidth, OpusConfig};

/// A voice codec: 16-bit PCM frames in, RTP payloads out, and back.
///
/// Frames are the PCM of one packet (10, 20, 30 or 40 ms usually) at
/// [`Codec::sample_rate`]. Encoders and decoders keep state between calls, so one
/// value serves one direction of one stream.
pub trait Codec: Send {
    /// The SDP encoding name (`PCMU`, `PCMA`, `G722`, `opus`).
    fn name(&self) -> &'static str;
    /// The RTP payload type (static for G.711 and G.722, dynamic for Opus).
    fn payload_type(&self) -> u8;
    /// The PCM sample rate of [`Codec::encode`]'s input and [`Codec::decode`]'s output.
    fn sample_rate(&self) -> u32;
    /// The RTP clock rate (8000 for G.722 by RFC 3551's historic error, 48000 for Opus).
    fn clock_rate(&self) -> u32;
    /// Encodes one frame of PCM, appending the payload to `out`.
    fn encode(&mut self, pcm: &[i16], out: &mut Vec<u8>) -> Result<()>;
    /// Decodes one payload, appending PCM to `out`.
    fn decode(&mut self, payload: &[u8], out: &mut Vec<i16>) -> Result<()>;
    /// Produces `samples` of concealment for a lost packet, appending them to `out`.
    fn conceal(&mut self, samples: usize, out: &mut Vec<i16>) -> Result<()>;
    /// Recovers a lost packet from the in-band FEC carried by the `next` payload, if
    /// the codec has any; codecs without FEC conceal.
    fn decode_fec(&mut self, next: &[u8], samples: usize, out: &mut Vec<i16>) -> Result<()> {
        let _ = next;
        self.conceal(samples, out)
    }
    /// Number of PCM samples in a frame of `ptime_ms` milliseconds.
    fn samples_per_frame(&self, ptime_ms: u32) -> usize {
        (self.sample_rate() / 1000 * ptime_ms) as usize
    }
}

/// Which codec to build, with its settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CodecKind {
    /// G.711 µ-law, payload type 0.
    Pcmu,
    /// G.711 A-law, payload type 8.
    Pcma,
    /// G.722 at 64 kbit/s, payload type 9.
    G722,
    /// Opus with the given settings.
    Opus(OpusConfig),
}

impl CodecKind {
    /// Builds a fresh codec of this kind.
    pub fn build(&self) -> Result<Box<dyn Codec>> {
        Ok(match self {
            CodecKind::Pcmu => Box::new(Pcmu::new()),
            CodecKind::Pcma => Box::new(Pcma::new()),
            CodecKind::G722 => Box::new(G722::new()),
            CodecKind::Opus(cfg) => Box::new(Opus::new(*cfg)?),
        })
    }

    /// The kind for an SDP encoding name (case-insensitive), Opus with its defaults.
    pub fn from_name(name: &str) -> Result<Self> {
        match name.to_ascii_lowercase().as_str() {
            "pcmu" => Ok(CodecKind::Pcmu),
            "pcma" => Ok(CodecKind::Pcma),
            "g722" => Ok(CodecKind::G722),
            "opus" => Ok(CodecKind::Opus(OpusConfig::default())),
            _ => Err(MediaError::UnknownCodec(name.to_owned())),
        }
    }

    /// The kind of a static RTP payload type (0 PCMU, 8 PCMA, 9 G722); dynamic types
    /// (Opus) need the SDP's rtpmap and go through [`CodecKind::from_name`].
    pub fn from_static_payload_type(pt: u8) -> Option<Self> {
        match pt {
            0 => Some(CodecKind::Pcmu),
            8 => Some(CodecKind::Pcma),
            9 => Some(CodecKind::G722),
            _ => None,
        }
    }

    /// The SDP encoding name.
    pub fn name(&self) -> &'static str {
        match self {
            CodecKind::Pcmu => "PCMU",
            CodecKind::Pcma => "PCMA",
            CodecKind::G722 => "G722",
            CodecKind::Opus(_) => "opus",
        }
    }

    /// The RTP clock rate (8000 for G.722 by RFC 3551's historic error, 48000 for Opus
    /// whatever rate it samples at, RFC 7587).
    pub fn clock_rate(&self) -> u32 {
        match self {
            CodecKind::Opus(_) => 48000,
            _ => 8000,
        }
    }

    /// The PCM sample rate the codec works at.
    pub fn sample_rate(&self) -> u32 {
        match self {
            CodecKind::Pcmu | CodecKind::Pcma => 8000,
            CodecKind::G722 => 16000,
            CodecKind::Opus(cfg) => cfg.sample_rate,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_by_name_and_payload_type() {
        for name in ["PCMU", "pcma", "G722", "opus"] {
            let kind = CodecKind::from_name(name).unwrap();
            let codec = kind.build().unwrap();
            assert!(codec.name().eq_ignore_ascii_case(name));
            assert_eq!(codec.sample_rate(), kind.sample_rate());
        }
        assert!(CodecKind::from_name("G729").is_err());
        assert_eq!(
            CodecKind::from_static_payload_type(8),
            Some(CodecKind::Pcma)
        );
        assert_eq!(CodecKind::from_static_payload_type(101), None);
    }

    #[test]
    fn fade_concealer_fades_to_silence() {
        let mut plc = FadeConcealer::default();
        plc.good(&[1000; 160]);
        let mut out = Vec::new();
        for _ in 0..4 {
            plc.conceal(160, &mut out);
        }
        assert_eq!(out[0], 500);
        assert_eq!(out[160], 250);
        assert!(out[480..].iter().all(|&s| s == 0));
    }
}

/// Concealment for waveform codecs: repeat the last frame, fading it out.
#[derive(Debug, Default, Clone)]
pub(crate) struct FadeConcealer {
    last: Vec<i16>,
    losses: u32,
}

impl FadeConcealer {
    /// Remembers a good frame.
    pub(crate) fn good(&mut self, pcm: &[i16]) {
        self.last.clear();
        self.last.extend_from_slice(pcm);
        self.losses = 0;
    }

    /// Appends `samples` of concealment: the last frame at half the level per loss,
    /// silence after three losses in a row.
    pub(crate) fn conceal(&mut self, samples: usize, out: &mut Vec<i16>) {
        self.losses = self.losses.saturating_add(1);
        if self.last.is_empty() || self.losses > 3 {
            out.extend(std::iter::repeat_n(0, samples));
            return;
        }
        let shift = self.losses;
        out.extend(self.last.iter().cycle().take(samples).map(|&s| s >> shift));
    }
}
