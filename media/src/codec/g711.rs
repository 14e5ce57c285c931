//! G.711 A-law and µ-law, table-driven.
//!
//! The tables are built at compile time from the segment rules of ITU-T G.711:
//! 256-entry decode tables, and encode tables indexed by the sample shifted down to
//! G.711's 14-bit (µ-law) or 13-bit (A-law) input range.

use super::{Codec, FadeConcealer};
use crate::Result;

/// µ-law bias, in 16-bit units.
const ULAW_BIAS: i32 = 0x84;
/// Largest µ-law magnitude on the 14-bit scale.
const ULAW_CLIP: i32 = 8159;
/// Upper ends of the eight segments, 14-bit µ-law scale (after adding the bias).
const ULAW_SEG_END: [i32; 8] = [0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF];
/// Upper ends of the eight segments, 13-bit A-law scale.
const ALAW_SEG_END: [i32; 8] = [0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF];

const fn segment(value: i32, ends: &[i32; 8]) -> usize {
    let mut i = 0;
    while i < 8 {
        if value <= ends[i] {
            return i;
        }
        i += 1;
    }
    8
}

/// µ-law encoding of a 16-bit sample by G.711's rules (the reference the table holds).
pub const fn ulaw_encode_formula(sample: i16) -> u8 {
    let mut pcm = (sample as i32) >> 2;
    let mask: i32 = if pcm < 0 {
        pcm = -pcm;
        0x7F
    } else {
        0xFF
    };
    if pcm > ULAW_CLIP {
        pcm = ULAW_CLIP;
    }
    pcm += ULAW_BIAS >> 2;
    let seg = segment(pcm, &ULAW_SEG_END);
    if seg >= 8 {
        return (0x7F ^ mask) as u8;
    }
    let code = ((seg as i32) << 4) | ((pcm >> (seg + 1)) & 0xF);
    (code ^ mask) as u8
}

/// µ-law decoding of one code to a 16-bit sample by G.711's rules.
pub const fn ulaw_decode_formula(code: u8) -> i16 {
    let u = !code as i32;
    let mut t = ((u & 0x0F) << 3) + ULAW_BIAS;
    t <<= (u & 0x70) >> 4;
    if u & 0x80 != 0 {
        (ULAW_BIAS - t) as i16
    } else {
        (t - ULAW_BIAS) as i16
    }
}

/// A-law encoding of a 16-bit sample by G.711's rules.
pub const fn alaw_encode_formula(sample: i16) -> u8 {
    let mut pcm = (sample as i32) >> 3;
    let mask: i32 = if pcm >= 0 {
        0xD5
    } else {
        pcm = -pcm - 1;
        0x55
    };
    let seg = segment(pcm, &ALAW_SEG_END);
    if seg >= 8 {
        return (0x7F ^ mask) as u8;
    }
    let mut code = (seg as i32) << 4;
    if seg < 2 {
        code |= (pcm >> 1) & 0x0F;
    } else {
        code |= (pcm >> seg) & 0x0F;
    }
    (code ^ mask) as u8
}

/// A-law decoding of one code to a 16-bit sample by G.711's rules.
pub const fn alaw_decode_formula(code: u8) -> i16 {
    let a = (code ^ 0x55) as i32;
    let mut t = (a & 0x0F) << 4;
    let seg = (a & 0x70) >> 4;
    match seg {
        0 => t += 8,
        1 => t += 0x108,
        _ => {
            t += 0x108;
            t <<= seg - 1;
        }
    }
    if a & 0x80 != 0 {
        t as i16
    } else {
        -t as i16
    }
}

const fn build_ulaw_decode() -> [i16; 256] {
    let mut table = [0i16; 256];
    let mut i = 0;
    while i < 256 {
        table[i] = ulaw_decode_formula(i as u8);
        i += 1;
    }
    table
}

const fn build_alaw_decode() -> [i16; 256] {
    let mut table = [0i16; 256];
    let mut i = 0;
    while i < 256 {
        table[i] = alaw_decode_formula(i as u8);
        i += 1;
    }
    table
}

/// µ-law encode table indexed by `(sample >> 2) + 8192` (the 14-bit input).
const fn build_ulaw_encode() -> [u8; 16384] {
    let mut table = [0u8; 16384];
    let mut i = 0;
    while i < 16384 {
        table[i] = ulaw_encode_formula(((i as i32 - 8192) << 2) as i16);
        i += 1;
    }
    table
}

/// A-law encode table indexed by `(sample >> 3) + 4096` (the 13-bit input).
const fn build_alaw_encode() -> [u8; 8192] {
    let mut table = [0u8; 8192];
    let mut i = 0;
    while i < 8192 {
        table[i] = alaw_encode_formula(((i as i32 - 4096) << 3) as i16);
        i += 1;
    }
    table
}

/// µ-law code → 16-bit linear sample.
pub static ULAW_DECODE: [i16; 256] = build_ulaw_decode();
/// A-law code → 16-bit linear sample.
pub static ALAW_DECODE: [i16; 256] = build_alaw_decode();
static ULAW_ENCODE: [u8; 16384] = build_ulaw_encode();
static ALAW_ENCODE: [u8; 8192] = build_alaw_encode();

/// Encodes one sample to µ-law through the table.
#[inline]
pub fn ulaw_encode(sample: i16) -> u8 {
    // (sample >> 2) is in -8192..=8191, so the index is in 0..16384.
    ULAW_ENCODE[((sample >> 2) as i32 + 8192) as usize]
}

/// Encodes one sample to A-law through the table.
#[inline]
pub fn alaw_encode(sample: i16) -> u8 {
    // (sample >> 3) is in -4096..=4095, so the index is in 0..8192.
    ALAW_ENCODE[((sample >> 3) as i32 + 4096) as usize]
}

/// Decodes one µ-law code.
#[inline]
pub fn ulaw_decode(code: u8) -> i16 {
    ULAW_DECODE[code as usize]
}

/// Decodes one A-law code.
#[inline]
pub fn alaw_decode(code: u8) -> i16 {
    ALAW_DECODE[code as usize]
}

macro_rules! g711_codec {
    ($ty:ident, $name:literal, $pt:literal, $enc:ident, $dec:ident, $doc:literal) => {
        #[doc = $doc]
        #[derive(Debug, Default, Clone)]
        pub struct $ty {
            plc: FadeConcealer,
        }

        impl $ty {
            /// A new codec (G.711 has no state but its concealment memory).
            pub fn new() -> Self {
                Self::default()
            }
        }

        impl Codec for $ty {
            fn name(&self) -> &'static str {
                $name
            }
            fn payload_type(&self) -> u8 {
                $pt
            }
            fn sample_rate(&self) -> u32 {
                8000
            }
            fn clock_rate(&self) -> u32 {
                8000
            }
            fn encode(&mut self, pcm: &[i16], out: &mut Vec<u8>) -> Result<()> {
                out.extend(pcm.iter().map(|&s| $enc(s)));
                Ok(())
            }
            fn decode(&mut self, payload: &[u8], out: &mut Vec<i16>) -> Result<()> {
                let start = out.len();
                out.extend(payload.iter().map(|&c| $dec(c)));
                self.plc.good(&out[start..]);
                Ok(())
            }
            fn conceal(&mut self, samples: usize, out: &mut Vec<i16>) -> Result<()> {
                self.plc.conceal(samples, out);
                Ok(())
            }
        }
    };
}

g711_codec!(
    Pcmu,
    "PCMU",
    0,
    ulaw_encode,
    ulaw_decode,
    "G.711 µ-law (PCMU, payload type 0)."
);
g711_codec!(
    Pcma,
    "PCMA",
    8,
    alaw_encode,
    alaw_decode,
    "G.711 A-law (PCMA, payload type 8)."
);

#[cfg(test)]
mod tests {
    use super::*;

    /// Points of G.711's tables (Table 1a/2a), scaled to 16 bits.
    #[test]
    fn standard_table_points() {
        // µ-law: 0xFF and 0x7F are the two zeros, 0x80/0x00 the extremes.
        assert_eq!(ulaw_decode(0xFF), 0);
        assert_eq!(ulaw_decode(0x7F), 0);
        assert_eq!(ulaw_decode(0x80), 32124);
        assert_eq!(ulaw_decode(0x00), -32124);
        assert_eq!(ulaw_decode(0xFE), 8);
        // A-law: 0xD5/0x55 are the smallest steps, 0xAA/0x2A the extremes.
        assert_eq!(alaw_decode(0xD5), 8);
        assert_eq!(alaw_decode(0x55), -8);
        assert_eq!(alaw_decode(0xAA), 32256);
        assert_eq!(alaw_decode(0x2A), -32256);
        // Silence encodes to the standard idle codes.
        assert_eq!(ulaw_encode(0), 0xFF);
        assert_eq!(alaw_encode(0), 0xD5);
    }

    #[test]
    fn every_code_round_trips() {
        for code in 0..=255u8 {
            let a = alaw_decode(code);
            assert_eq!(alaw_encode(a), code, "A-law code {code:#04x}");
            let u = ulaw_decode(code);
            // 0x7F is µ-law's negative zero; it decodes to 0, whose code is 0xFF.
            let expect = if code == 0x7F { 0xFF } else { code };
            assert_eq!(ulaw_encode(u), expect, "µ-law code {code:#04x}");
        }
    }

    #[test]
    fn tables_match_formula_for_every_sample() {
        for s in i16::MIN..=i16::MAX {
            assert_eq!(ulaw_encode(s), ulaw_encode_formula(s));
            assert_eq!(alaw_encode(s), alaw_encode_formula(s));
        }
    }

    #[test]
    fn decode_tables_are_monotonic() {
        let mut ulaw: Vec<i16> = (0..=255u8).map(ulaw_decode).collect();
        let mut alaw: Vec<i16> = (0..=255u8).map(alaw_decode).collect();
        ulaw.sort_unstable();
        alaw.sort_unstable();
        ulaw.dedup();
        alaw.dedup();
        assert_eq!(ulaw.len(), 255); // two zeros
        assert_eq!(alaw.len(), 256);
    }

    #[test]
    fn codec_round_trip_error_is_bounded() {
        let mut c = Pcma::new();
        let pcm: Vec<i16> = (0..160).map(|i| (i * 200 - 16000) as i16).collect();
        let mut payload = Vec::new();
        c.encode(&pcm, &mut payload).unwrap();
        assert_eq!(payload.len(), 160);
        let mut back = Vec::new();
        c.decode(&payload, &mut back).unwrap();
        for (a, b) in pcm.iter().zip(&back) {
            // Quantisation step at most 1/16 of the magnitude (plus the smallest step).
            assert!((a - b).abs() <= a.abs() / 16 + 16, "{a} vs {b}");
        }
    }
}
