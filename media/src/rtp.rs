//! RTP packets through `rtp-rs`, and RTP/RTCP demultiplexing on one port (RFC 5761).

use rtp_rs::{RtpPacketBuilder, RtpReader, Seq};

use crate::{MediaError, Result};

/// What a datagram on a media port is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PacketKind {
    /// An RTP packet.
    Rtp,
    /// An RTCP packet (or compound packet).
    Rtcp,
}

/// Tells RTP from RTCP by RFC 5761 §4: RTCP's packet types 192–223 sit where RTP's
/// marker bit and payload types 64–95 would be, which RTP must not use. `rtp-rs` alone
/// would read an RTCP sender report as RTP with payload type 72.
pub fn classify(datagram: &[u8]) -> Result<PacketKind> {
    let (Some(&first), Some(&second)) = (datagram.first(), datagram.get(1)) else {
        return Err(MediaError::Truncated {
            what: "RTP/RTCP header",
            need: 2,
            have: datagram.len(),
        });
    };
    if first >> 6 != 2 {
        return Err(MediaError::BadVersion(first >> 6));
    }
    Ok(if (192..=223).contains(&second) {
        PacketKind::Rtcp
    } else {
        PacketKind::Rtp
    })
}

/// An owned RTP packet.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RtpPacket {
    /// The marker bit (start of talkspurt, start of a telephone-event).
    pub marker: bool,
    /// Payload type, 0–127.
    pub payload_type: u8,
    /// Sequence number.
    pub sequence: u16,
    /// Media timestamp in the payload format's clock.
    pub timestamp: u32,
    /// Synchronisation source.
    pub ssrc: u32,
    /// Contributing sources.
    pub csrc: Vec<u32>,
    /// The payload, padding removed. Header extensions are dropped.
    pub payload: Vec<u8>,
}

impl RtpPacket {
    /// Parses a datagram already classified as RTP.
    pub fn parse(datagram: &[u8]) -> Result<Self> {
        let reader = RtpReader::new(datagram).map_err(|e| MediaError::Rtp(format!("{e:?}")))?;
        Ok(Self {
            marker: reader.mark(),
            payload_type: reader.payload_type(),
            sequence: u16::from(reader.sequence_number()),
            timestamp: reader.timestamp(),
            ssrc: reader.ssrc(),
            csrc: reader.csrc().collect(),
            payload: reader.payload().to_vec(),
        })
    }

    /// Prints the packet.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        if self.payload_type > 127 {
            return Err(MediaError::Rtp(format!(
                "payload type {} out of range",
                self.payload_type
            )));
        }
        RtpPacketBuilder::new()
            .payload_type(self.payload_type)
            .marked(self.marker)
            .sequence(Seq::from(self.sequence))
            .timestamp(self.timestamp)
            .ssrc(self.ssrc)
            .set_csrc(&self.csrc)
            .payload(&self.payload)
            .build()
            .map_err(|e| MediaError::Rtp(format!("{e:?}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rtp_round_trip() {
        let p = RtpPacket {
            marker: true,
            payload_type: 8,
            sequence: 65535,
            timestamp: 0xDEAD_BEEF,
            ssrc: 0x1234_5678,
            csrc: vec![1, 2],
            payload: vec![0xD5; 160],
        };
        let bytes = p.to_bytes().unwrap();
        assert_eq!(classify(&bytes).unwrap(), PacketKind::Rtp);
        assert_eq!(RtpPacket::parse(&bytes).unwrap(), p);
    }

    #[test]
    fn rtcp_is_told_apart() {
        // An RTCP sender report header: V=2, PT=200.
        let sr = [0x80, 200, 0, 6];
        assert_eq!(classify(&sr).unwrap(), PacketKind::Rtcp);
        // RTP with marker bit and payload type 0 (0x80) is RTP.
        assert_eq!(classify(&[0x80, 0x80]).unwrap(), PacketKind::Rtp);
        assert!(classify(&[0x80]).is_err());
        assert!(classify(&[0x40, 0]).is_err());
    }

    #[test]
    fn short_and_bad_packets_are_errors() {
        for bytes in [
            &[][..],
            &[0x80; 5][..],
            &[0xA0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0][..],
        ] {
            assert!(RtpPacket::parse(bytes).is_err());
        }
    }
}
