//! RTCP packet parsing and printing: SR, RR, SDES, BYE and compound packets.
//! Every read is bounds-checked: hostile datagrams give errors, never panics.

use crate::{MediaError, Result};

/// Packet type of a sender report.
pub const PT_SR: u8 = 200;
/// Packet type of a receiver report.
pub const PT_RR: u8 = 201;
/// Packet type of source description.
pub const PT_SDES: u8 = 202;
/// Packet type of goodbye.
pub const PT_BYE: u8 = 203;
/// Packet type of application-defined packets.
pub const PT_APP: u8 = 204;

/// One reception report block (RFC 3550 §6.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReportBlock {
    /// The source this block reports on.
    pub ssrc: u32,
    /// Fraction lost since the last report, in 1/256.
    pub fraction_lost: u8,
    /// Cumulative packets lost, a signed 24-bit value.
    pub cumulative_lost: i32,
    /// Extended highest sequence number received.
    pub highest_seq: u32,
    /// Interarrival jitter in timestamp units.
    pub jitter: u32,
    /// Middle 32 bits of the last SR's NTP timestamp.
    pub last_sr: u32,
    /// Delay since the last SR, in 1/65536 s.
    pub delay_since_last_sr: u32,
}

/// A sender report.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SenderReport {
    /// The sender's SSRC.
    pub ssrc: u32,
    /// NTP timestamp, 32.32 fixed point.
    pub ntp_timestamp: u64,
    /// The RTP timestamp matching `ntp_timestamp`.
    pub rtp_timestamp: u32,
    /// Packets sent.
    pub packet_count: u32,
    /// Payload octets sent.
    pub octet_count: u32,
    /// Reception reports (at most 31).
    pub reports: Vec<ReportBlock>,
}

/// A receiver report.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReceiverReport {
    /// The reporter's SSRC.
    pub ssrc: u32,
    /// Reception reports (at most 31).
    pub reports: Vec<ReportBlock>,
}

/// One SDES item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdesItem {
    /// Item type: 1 CNAME, 2 NAME, 3 EMAIL, 4 PHONE, 5 LOC, 6 TOOL, 7 NOTE, 8 PRIV.
    pub kind: u8,
    /// Item text (UTF-8 by the RFC, kept as bytes), at most 255 bytes.
    pub value: Vec<u8>,
}

/// SDES item type of the canonical name.
pub const SDES_CNAME: u8 = 1;

/// One SDES chunk: a source and its items.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SdesChunk {
    /// The source described.
    pub ssrc: u32,
    /// Its items.
    pub items: Vec<SdesItem>,
}

/// A goodbye.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Bye {
    /// The sources leaving (at most 31).
    pub sources: Vec<u32>,
    /// Why, if said (at most 255 bytes).
    pub reason: Option<Vec<u8>>,
}

/// One RTCP packet of a compound packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RtcpPacket {
    /// Sender report.
    SenderReport(SenderReport),
    /// Receiver report.
    ReceiverReport(ReceiverReport),
    /// Source description.
    SourceDescription(Vec<SdesChunk>),
    /// Goodbye.
    Bye(Bye),
    /// Any other type (APP, feedback, XR), kept as it came.
    Other {
        /// The 5-bit count/format field.
        count: u8,
        /// Packet type.
        packet_type: u8,
        /// The body after the 4-byte header, without padding.
        body: Vec<u8>,
    },
}

/// A bounds-checked big-endian reader.
struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }
    fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }
    fn bytes(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .ok_or(MediaError::Rtcp("length overflow"))?;
        let s = self.buf.get(self.pos..end).ok_or(MediaError::Truncated {
            what: "RTCP packet",
            need: end,
            have: self.buf.len(),
        })?;
        self.pos = end;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8> {
        Ok(self.bytes(1)?[0])
    }
    fn u32(&mut self) -> Result<u32> {
        let b = self.bytes(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self) -> Result<u64> {
        Ok(((self.u32()? as u64) << 32) | self.u32()? as u64)
    }
}

fn parse_block(c: &mut Cursor<'_>) -> Result<ReportBlock> {
    let ssrc = c.u32()?;
    let lost = c.u32()?;
    let fraction_lost = (lost >> 24) as u8;
    // Sign-extend the 24-bit cumulative count.
    let cumulative_lost = ((lost << 8) as i32) >> 8;
    Ok(ReportBlock {
        ssrc,
        fraction_lost,
        cumulative_lost,
        highest_seq: c.u32()?,
        jitter: c.u32()?,
        last_sr: c.u32()?,
        delay_since_last_sr: c.u32()?,
    })
}

fn parse_blocks(c: &mut Cursor<'_>, count: u8) -> Result<Vec<ReportBlock>> {
    if c.remaining() < count as usize * 24 {
        return Err(MediaError::Rtcp("report count exceeds packet length"));
    }
    (0..count).map(|_| parse_block(c)).collect()
}

fn parse_sdes(body: &[u8], count: u8) -> Result<Vec<SdesChunk>> {
    let mut c = Cursor::new(body);
    let mut chunks = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let ssrc = c.u32()?;
        let mut items = Vec::new();
        loop {
            let kind = c.u8()?;
            if kind == 0 {
                // End of items: skip the null padding to the next 32-bit boundary.
                let pad = (4 - c.pos % 4) % 4;
                c.bytes(pad)?;
                break;
            }
            let len = c.u8()? as usize;
            items.push(SdesItem {
                kind,
                value: c.bytes(len)?.to_vec(),
            });
        }
        chunks.push(SdesChunk { ssrc, items });
    }
    Ok(chunks)
}

fn parse_bye(body: &[u8], count: u8) -> Result<Bye> {
    let mut c = Cursor::new(body);
    let sources = (0..count).map(|_| c.u32()).collect::<Result<Vec<_>>>()?;
    let reason = if c.remaining() > 0 {
        let len = c.u8()? as usize;
        Some(c.bytes(len)?.to_vec())
    } else {
        None
    };
    Ok(Bye { sources, reason })
}

/// Parses one RTCP packet from the front of `buf`; returns it and its length.
fn parse_one(buf: &[u8]) -> Result<(RtcpPacket, usize)> {
    let mut c = Cursor::new(buf);
    let first = c.u8()?;
    let packet_type = c.u8()?;
    let b = c.bytes(2)?;
    let words = u16::from_be_bytes([b[0], b[1]]) as usize;
    if first >> 6 != 2 {
        return Err(MediaError::BadVersion(first >> 6));
    }
    let len = (words + 1) * 4;
    let packet = buf.get(..len).ok_or(MediaError::Truncated {
        what: "RTCP packet",
        need: len,
        have: buf.len(),
    })?;
    let mut body = &packet[4..];
    if first & 0x20 != 0 {
        let pad = *body
            .last()
            .ok_or(MediaError::Rtcp("padding bit on empty packet"))? as usize;
        if pad == 0 || pad > body.len() {
            return Err(MediaError::Rtcp("bad padding length"));
        }
        body = &body[..body.len() - pad];
    }
    let count = first & 0x1F;
    let mut c = Cursor::new(body);
    let parsed = match packet_type {
        PT_SR => {
            let ssrc = c.u32()?;
            let ntp_timestamp = c.u64()?;
            let rtp_timestamp = c.u32()?;
            let packet_count = c.u32()?;
            let octet_count = c.u32()?;
            let reports = parse_blocks(&mut c, count)?;
            RtcpPacket::SenderReport(SenderReport {
                ssrc,
                ntp_timestamp,
                rtp_timestamp,
                packet_count,
                octet_count,
                reports,
            })
        }
        PT_RR => {
            let ssrc = c.u32()?;
            let reports = parse_blocks(&mut c, count)?;
            RtcpPacket::ReceiverReport(ReceiverReport { ssrc, reports })
        }
        PT_SDES => RtcpPacket::SourceDescription(parse_sdes(body, count)?),
        PT_BYE => RtcpPacket::Bye(parse_bye(body, count)?),
        _ => RtcpPacket::Other {
            count,
            packet_type,
            body: body.to_vec(),
        },
    };
    Ok((parsed, len))
}

/// Parses a compound RTCP packet (RFC 3550 §6.1). The first packet must be a report
/// (SR or RR), as the RFC requires; reduced-size RTCP (RFC 5506) is not accepted.
pub fn parse_compound(datagram: &[u8]) -> Result<Vec<RtcpPacket>> {
    let mut packets = Vec::new();
    let mut rest = datagram;
    while !rest.is_empty() {
        let (p, len) = parse_one(rest)?;
        packets.push(p);
        rest = rest.get(len..).unwrap_or_default();
    }
    match packets.first() {
        Some(RtcpPacket::SenderReport(_) | RtcpPacket::ReceiverReport(_)) => Ok(packets),
        Some(_) => Err(MediaError::Rtcp(
            "compound packet does not start with SR or RR",
        )),
        None => Err(MediaError::Rtcp("empty datagram")),
    }
}

fn put_header(out: &mut Vec<u8>, count: usize, packet_type: u8) -> usize {
    let start = out.len();
    out.push(0x80 | (count.min(31) as u8));
    out.push(packet_type);
    out.extend_from_slice(&[0, 0]);
    start
}

fn finish(out: &mut [u8], start: usize) {
    let words = ((out.len() - start) / 4 - 1) as u16;
    out[start + 2..start + 4].copy_from_slice(&words.to_be_bytes());
}

fn put_block(out: &mut Vec<u8>, b: &ReportBlock) {
    out.extend_from_slice(&b.ssrc.to_be_bytes());
    let lost = b.cumulative_lost.clamp(-0x80_0000, 0x7F_FFFF) as u32 & 0x00FF_FFFF;
    out.extend_from_slice(&(((b.fraction_lost as u32) << 24) | lost).to_be_bytes());
    out.extend_from_slice(&b.highest_seq.to_be_bytes());
    out.extend_from_slice(&b.jitter.to_be_bytes());
    out.extend_from_slice(&b.last_sr.to_be_bytes());
    out.extend_from_slice(&b.delay_since_last_sr.to_be_bytes());
}

fn pad4(out: &mut Vec<u8>, start: usize) {
    while (out.len() - start) % 4 != 0 {
        out.push(0);
    }
}

impl RtcpPacket {
    /// Appends this packet's bytes to `out`. Lists longer than the 5-bit count allows
    /// (31) and texts longer than 255 bytes are cut.
    pub fn write(&self, out: &mut Vec<u8>) {
        match self {
            RtcpPacket::SenderReport(sr) => {
                let reports = &sr.reports[..sr.reports.len().min(31)];
                let start = put_header(out, reports.len(), PT_SR);
                out.extend_from_slice(&sr.ssrc.to_be_bytes());
                out.extend_from_slice(&sr.ntp_timestamp.to_be_bytes());
                out.extend_from_slice(&sr.rtp_timestamp.to_be_bytes());
                out.extend_from_slice(&sr.packet_count.to_be_bytes());
                out.extend_from_slice(&sr.octet_count.to_be_bytes());
                reports.iter().for_each(|b| put_block(out, b));
                finish(out, start);
            }
            RtcpPacket::ReceiverReport(rr) => {
                let reports = &rr.reports[..rr.reports.len().min(31)];
                let start = put_header(out, reports.len(), PT_RR);
                out.extend_from_slice(&rr.ssrc.to_be_bytes());
                reports.iter().for_each(|b| put_block(out, b));
                finish(out, start);
            }
            RtcpPacket::SourceDescription(chunks) => {
                let chunks = &chunks[..chunks.len().min(31)];
                let start = put_header(out, chunks.len(), PT_SDES);
                for chunk in chunks {
                    let chunk_start = out.len();
                    out.extend_from_slice(&chunk.ssrc.to_be_bytes());
                    for item in chunk.items.iter().filter(|i| i.kind != 0) {
                        let value = &item.value[..item.value.len().min(255)];
                        out.push(item.kind);
                        out.push(value.len() as u8);
                        out.extend_from_slice(value);
                    }
                    out.push(0);
                    pad4(out, chunk_start);
                }
                finish(out, start);
            }
            RtcpPacket::Bye(bye) => {
                let sources = &bye.sources[..bye.sources.len().min(31)];
                let start = put_header(out, sources.len(), PT_BYE);
                sources
                    .iter()
                    .for_each(|s| out.extend_from_slice(&s.to_be_bytes()));
                if let Some(reason) = &bye.reason {
                    let reason = &reason[..reason.len().min(255)];
                    out.push(reason.len() as u8);
                    out.extend_from_slice(reason);
                    pad4(out, start);
                }
                finish(out, start);
            }
            RtcpPacket::Other {
                count,
                packet_type,
                body,
            } => {
                let start = put_header(out, *count as usize, *packet_type);
                out.extend_from_slice(body);
                // A body that is not whole words is padded, with the P bit set, so
                // that it parses back to the same body.
                let pad = (4 - body.len() % 4) % 4;
                if pad > 0 {
                    out[start] |= 0x20;
                    out.extend(std::iter::repeat_n(0, pad - 1));
                    out.push(pad as u8);
                }
                finish(out, start);
            }
        }
    }
}

/// Prints a compound packet.
pub fn write_compound(packets: &[RtcpPacket]) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    for p in packets {
        p.write(&mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(n: u32) -> ReportBlock {
        ReportBlock {
            ssrc: n,
            fraction_lost: 25,
            cumulative_lost: -3,
            highest_seq: 70_000 + n,
            jitter: 12,
            last_sr: 0xAABB_CCDD,
            delay_since_last_sr: 65536,
        }
    }

    fn sample() -> Vec<RtcpPacket> {
        vec![
            RtcpPacket::SenderReport(SenderReport {
                ssrc: 0x1111_2222,
                ntp_timestamp: 0x83AA_7E80_0000_0001,
                rtp_timestamp: 160,
                packet_count: 50,
                octet_count: 8000,
                reports: vec![block(1), block(2)],
            }),
            RtcpPacket::SourceDescription(vec![
                SdesChunk {
                    ssrc: 0x1111_2222,
                    items: vec![SdesItem {
                        kind: SDES_CNAME,
                        value: b"leg-1@pbx".to_vec(),
                    }],
                },
                SdesChunk {
                    ssrc: 7,
                    items: vec![
                        SdesItem {
                            kind: SDES_CNAME,
                            value: b"abc".to_vec(),
                        },
                        SdesItem {
                            kind: 6,
                            value: b"pbx".to_vec(),
                        },
                    ],
                },
            ]),
            RtcpPacket::Bye(Bye {
                sources: vec![0x1111_2222],
                reason: Some(b"call ended".to_vec()),
            }),
        ]
    }

    #[test]
    fn compound_round_trip() {
        let packets = sample();
        let bytes = write_compound(&packets);
        assert_eq!(bytes.len() % 4, 0);
        assert_eq!(
            crate::rtp::classify(&bytes).unwrap(),
            crate::rtp::PacketKind::Rtcp
        );
        let parsed = parse_compound(&bytes).unwrap();
        assert_eq!(parsed, packets);
        assert_eq!(write_compound(&parsed), bytes);
    }

    #[test]
    fn receiver_report_and_other_round_trip() {
        let packets = vec![
            RtcpPacket::ReceiverReport(ReceiverReport {
                ssrc: 9,
                reports: vec![block(3)],
            }),
            RtcpPacket::Bye(Bye {
                sources: vec![1, 2, 3],
                reason: None,
            }),
            RtcpPacket::Other {
                count: 1,
                packet_type: PT_APP,
                body: vec![0, 0, 0, 9, b'n', b'a', b'm', b'e'],
            },
        ];
        let bytes = write_compound(&packets);
        assert_eq!(parse_compound(&bytes).unwrap(), packets);
    }

    #[test]
    fn known_bytes_parse() {
        // An RR with no report blocks from SSRC 0x01020304.
        let rr = [0x80, 201, 0, 1, 1, 2, 3, 4];
        assert_eq!(
            parse_compound(&rr).unwrap(),
            vec![RtcpPacket::ReceiverReport(ReceiverReport {
                ssrc: 0x0102_0304,
                reports: vec![]
            })]
        );
    }

    #[test]
    fn mutated_packets_never_panic_and_reparse_stably() {
        let good = write_compound(&sample());
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..20_000 {
            let mut bytes = good.clone();
            for _ in 0..(next() % 4 + 1) {
                let i = (next() as usize) % bytes.len();
                bytes[i] = next() as u8;
            }
            bytes.truncate((next() as usize) % (bytes.len() + 1));
            if let Ok(packets) = parse_compound(&bytes) {
                let printed = write_compound(&packets);
                assert_eq!(parse_compound(&printed).unwrap(), packets, "{bytes:02x?}");
            }
        }
        // An odd-length APP body keeps its length through padding.
        let odd = vec![
            RtcpPacket::ReceiverReport(ReceiverReport::default()),
            RtcpPacket::Other {
                count: 0,
                packet_type: PT_APP,
                body: vec![1, 2, 3, 4, 5],
            },
        ];
        assert_eq!(parse_compound(&write_compound(&odd)).unwrap(), odd);
    }

    #[test]
    fn malformed_packets_are_errors() {
        let good = write_compound(&sample());
        for cut in 0..good.len() {
            // Every strict prefix is either an error or a shorter valid compound.
            let _ = parse_compound(&good[..cut]);
        }
        // Report count larger than the packet.
        assert!(parse_compound(&[0x9F, 201, 0, 1, 0, 0, 0, 1]).is_err());
        // Padding larger than the packet.
        assert!(parse_compound(&[0xA0, 201, 0, 1, 0, 0, 0, 0xFF]).is_err());
        // Starts with BYE.
        assert!(parse_compound(&[0x81, 203, 0, 1, 0, 0, 0, 1]).is_err());
        // Wrong version.
        assert!(parse_compound(&[0x40, 201, 0, 1, 0, 0, 0, 1]).is_err());
    }
}
