//! What the relay needs to know of a datagram, read in place: no copy, no allocation.
//! And G.711 µ-law ↔ A-law conversion of a payload, in place, through 256-byte tables
//! built once from `media`'s G.711 decoder and encoder.

use std::ops::Range;
use std::sync::OnceLock;

use media::codec::g711::{alaw_decode, alaw_encode, ulaw_decode, ulaw_encode};
use media::rtp::{classify, PacketKind};

/// RTP payload type of G.711 µ-law.
pub const PT_PCMU: u8 = 0;
/// RTP payload type of G.711 A-law.
pub const PT_PCMA: u8 = 8;

/// A datagram the relay may forward.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Datagram {
    /// RTP with a sound header.
    Rtp {
        payload_type: u8,
        ssrc: u32,
        /// Where the payload sits in the datagram (padding excluded).
        payload: Range<usize>,
    },
    /// RTCP (a compound packet starts with its sender's SSRC).
    Rtcp { ssrc: u32 },
}

/// Reads a datagram's header; `None` for anything that is neither sound RTP nor RTCP.
pub fn inspect(buf: &[u8]) -> Option<Datagram> {
    match classify(buf).ok()? {
        PacketKind::Rtcp => inspect_rtcp(buf),
        PacketKind::Rtp => inspect_rtp(buf),
    }
}

fn be32(buf: &[u8], at: usize) -> Option<u32> {
    let b = buf.get(at..at + 4)?;
    Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

fn inspect_rtcp(buf: &[u8]) -> Option<Datagram> {
    // Header (4 bytes) and the sender's SSRC; the length field counts 32-bit words
    // minus one and must fit the datagram.
    let words = usize::from(u16::from_be_bytes([*buf.get(2)?, *buf.get(3)?]));
    if buf.len() < 8 || (words + 1) * 4 > buf.len() {
        return None;
    }
    Some(Datagram::Rtcp {
        ssrc: be32(buf, 4)?,
    })
}

fn inspect_rtp(buf: &[u8]) -> Option<Datagram> {
    if buf.len() < 12 {
        return None;
    }
    let first = buf[0];
    let mut start = 12 + 4 * usize::from(first & 0x0F);
    if first & 0x10 != 0 {
        let ext = buf.get(start..start + 4)?;
        start += 4 + 4 * usize::from(u16::from_be_bytes([ext[2], ext[3]]));
    }
    let mut end = buf.len();
    if first & 0x20 != 0 {
        let pad = usize::from(buf[end - 1]);
        if pad == 0 {
            return None;
        }
        end = end.checked_sub(pad)?;
    }
    if start > end {
        return None;
    }
    Some(Datagram::Rtp {
        payload_type: buf[1] & 0x7F,
        ssrc: be32(buf, 8)?,
        payload: start..end,
    })
}

/// A G.711 law-to-law conversion of one direction.
#[derive(Debug, Clone, Copy)]
pub struct G711Convert {
    /// Payload type of the packets converted.
    pub from_pt: u8,
    /// Payload type written into them.
    pub to_pt: u8,
    table: &'static [u8; 256],
}

impl G711Convert {
    /// The conversion from `from_pt` to `to_pt`, each PCMU (0) or PCMA (8), different.
    pub fn new(from_pt: u8, to_pt: u8) -> Option<Self> {
        let table = match (from_pt, to_pt) {
            (PT_PCMU, PT_PCMA) => ulaw_to_alaw(),
            (PT_PCMA, PT_PCMU) => alaw_to_ulaw(),
            _ => return None,
        };
        Some(Self {
            from_pt,
            to_pt,
            table,
        })
    }

    /// Converts an RTP packet in place whose payload is at `payload`: the payload
    /// bytes, and the payload type (the marker bit, sequence and timestamp are kept).
    pub fn apply(&self, packet: &mut [u8], payload: Range<usize>) {
        if let Some(b) = packet.get_mut(1) {
            *b = (*b & 0x80) | self.to_pt;
        }
        if let Some(bytes) = packet.get_mut(payload) {
            for b in bytes {
                *b = self.table[usize::from(*b)];
            }
        }
    }
}

fn ulaw_to_alaw() -> &'static [u8; 256] {
    static TABLE: OnceLock<[u8; 256]> = OnceLock::new();
    TABLE.get_or_init(|| std::array::from_fn(|i| alaw_encode(ulaw_decode(i as u8))))
}

fn alaw_to_ulaw() -> &'static [u8; 256] {
    static TABLE: OnceLock<[u8; 256]> = OnceLock::new();
    TABLE.get_or_init(|| std::array::from_fn(|i| ulaw_encode(alaw_decode(i as u8))))
}

#[cfg(test)]
mod tests {
    use media::rtp::RtpPacket;

    use super::*;

    fn rtp(pt: u8, payload: Vec<u8>) -> Vec<u8> {
        RtpPacket {
            marker: true,
            payload_type: pt,
            sequence: 9,
            timestamp: 160,
            ssrc: 0xABCD_0001,
            csrc: vec![5],
            payload,
        }
        .to_bytes()
        .unwrap()
    }

    #[test]
    fn reads_rtp_and_rtcp() {
        let bytes = rtp(0, vec![1, 2, 3]);
        assert_eq!(
            inspect(&bytes),
            Some(Datagram::Rtp {
                payload_type: 0,
                ssrc: 0xABCD_0001,
                payload: 16..19,
            })
        );
        // A receiver report with no report block: 8 bytes, length 1.
        let rr = [0x80, 201, 0, 1, 0, 0, 0, 42];
        assert_eq!(inspect(&rr), Some(Datagram::Rtcp { ssrc: 42 }));
    }

    #[test]
    fn padding_and_extension_are_skipped() {
        let mut bytes = vec![0xB0, 8, 0, 1, 0, 0, 0, 160, 0, 0, 0, 7];
        bytes.extend([0xBE, 0xDE, 0, 1, 1, 2, 3, 4]); // one-word extension
        bytes.extend([0xD5; 4]);
        bytes.extend([0, 0, 3]); // three bytes of padding
        assert_eq!(
            inspect(&bytes),
            Some(Datagram::Rtp {
                payload_type: 8,
                ssrc: 7,
                payload: 20..24,
            })
        );
    }

    #[test]
    fn garbage_is_refused() {
        let cases: [&[u8]; 8] = [
            &[],
            &[0x80],
            &[0x00; 20],                                    // version 0 (STUN-like)
            &[0x80, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0],          // 11 bytes
            &[0x8F, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], // CSRCs past the end
            &[0xA0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 9],    // padding past the end
            &[0x90, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], // truncated extension
            &[0x80, 200, 0, 9, 0, 0, 0, 1],                 // RTCP longer than sent
        ];
        for case in cases {
            assert_eq!(inspect(case), None, "{case:?}");
        }
    }

    #[test]
    fn converts_ulaw_to_alaw_in_place() {
        let samples: Vec<i16> = (0..160)
            .map(|i| ((i * 397) % 20000 - 10000) as i16)
            .collect();
        let ulaw: Vec<u8> = samples.iter().map(|&s| ulaw_encode(s)).collect();
        let mut bytes = rtp(PT_PCMU, ulaw.clone());
        let Some(Datagram::Rtp { payload, .. }) = inspect(&bytes) else {
            panic!("not RTP");
        };
        G711Convert::new(PT_PCMU, PT_PCMA)
            .unwrap()
            .apply(&mut bytes, payload.clone());
        let p = RtpPacket::parse(&bytes).unwrap();
        assert_eq!(
            (p.payload_type, p.marker, p.sequence, p.timestamp),
            (8, true, 9, 160)
        );
        for (&code, &u) in p.payload.iter().zip(&ulaw) {
            let (a, u) = (i32::from(alaw_decode(code)), i32::from(ulaw_decode(u)));
            // A-law's steps are at most twice µ-law's at the same level.
            assert!((a - u).abs() <= u.abs() / 16 + 16, "{a} vs {u}");
        }
        // And back.
        G711Convert::new(PT_PCMA, PT_PCMU)
            .unwrap()
            .apply(&mut bytes, payload);
        assert_eq!(RtpPacket::parse(&bytes).unwrap().payload_type, 0);
        assert!(G711Convert::new(0, 0).is_none());
        assert!(G711Convert::new(0, 9).is_none());
    }
}
