//! G.722 at 64 kbit/s (16 kHz audio, RTP clock 8000 by RFC 3551), through the
//! `audio-codec` crate's implementation of ITU-T G.722.

use audio_codec::g722::{G722Decoder, G722Encoder};
use audio_codec::{Decoder as _, Encoder as _};

use super::{Codec, FadeConcealer};

/// The underlying G.722 implementation, for benchmarks comparing against it.
pub mod backend {
    pub use audio_codec::g722::{Bitrate, G722Decoder, G722Encoder};
    pub use audio_codec::{Decoder, Encoder};
}
use crate::{MediaError, Result};

/// G.722, payload type 9.
pub struct G722 {
    encoder: G722Encoder,
    decoder: G722Decoder,
    plc: FadeConcealer,
}

impl G722 {
    /// A new codec at 64 kbit/s, unpacked (one byte per pair of 16 kHz samples).
    pub fn new() -> Self {
        Self {
            encoder: G722Encoder::new(),
            decoder: G722Decoder::new(),
            plc: FadeConcealer::default(),
        }
    }
}

impl Default for G722 {
    fn default() -> Self {
        Self::new()
    }
}

impl Codec for G722 {
    fn name(&self) -> &'static str {
        "G722"
    }
    fn payload_type(&self) -> u8 {
        9
    }
    fn sample_rate(&self) -> u32 {
        16000
    }
    fn clock_rate(&self) -> u32 {
        8000
    }
    fn encode(&mut self, pcm: &[i16], out: &mut Vec<u8>) -> Result<()> {
        if pcm.len() % 2 != 0 {
            return Err(MediaError::FrameSize {
                codec: "G722",
                unit: 2,
                got: pcm.len(),
            });
        }
        let start = out.len();
        out.resize(start + pcm.len() / 2 + 1, 0);
        let n = self
            .encoder
            .encode_into(pcm, &mut out[start..])
            .map_err(|e| MediaError::G722(format!("{e:?}")))?;
        out.truncate(start + n);
        Ok(())
    }
    fn decode(&mut self, payload: &[u8], out: &mut Vec<i16>) -> Result<()> {
        let start = out.len();
        out.resize(start + payload.len() * 2, 0);
        let n = self
            .decoder
            .decode_into(payload, &mut out[start..])
            .map_err(|e| MediaError::G722(format!("{e:?}")))?;
        out.truncate(start + n);
        self.plc.good(&out[start..]);
        Ok(())
    }
    fn conceal(&mut self, samples: usize, out: &mut Vec<i16>) -> Result<()> {
        self.plc.conceal(samples, out);
        Ok(())
    }
}
