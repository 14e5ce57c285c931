//! Building the compound packet a stream sends every few seconds: an SR if it sent
//! media since the last report (else an RR), report blocks for what it received, and
//! its SDES CNAME (RFC 3550 §6.1 requires both in every compound packet).

use std::time::Duration;

use super::packet::{write_compound, ReceiverReport, RtcpPacket, SdesChunk, SdesItem, SDES_CNAME};
use super::stats::{NtpTime, ReceiverStats, SenderStats};

/// What the local sender reports about itself, if it sent media.
#[derive(Debug, Clone, Copy)]
pub struct SenderInfo<'a> {
    /// Its counts.
    pub stats: &'a SenderStats,
    /// Wall-clock time now.
    pub ntp: NtpTime,
    /// The RTP timestamp that corresponds to `ntp`.
    pub rtp_timestamp: u32,
}

/// The bytes of a compound RTCP report from `ssrc` at `now`.
pub fn compound_report(
    ssrc: u32,
    cname: &str,
    sender: Option<SenderInfo<'_>>,
    received: &mut [ReceiverStats],
    now: Duration,
) -> Vec<u8> {
    let blocks: Vec<_> = received
        .iter_mut()
        .take(31)
        .map(|r| r.report_block(now))
        .collect();
    let report = match sender {
        Some(s) => {
            RtcpPacket::SenderReport(s.stats.sender_report(ssrc, s.ntp, s.rtp_timestamp, blocks))
        }
        None => RtcpPacket::ReceiverReport(ReceiverReport {
            ssrc,
            reports: blocks,
        }),
    };
    let sdes = RtcpPacket::SourceDescription(vec![SdesChunk {
        ssrc,
        items: vec![SdesItem {
            kind: SDES_CNAME,
            value: cname.as_bytes().to_vec(),
        }],
    }]);
    write_compound(&[report, sdes])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtcp::packet::parse_compound;

    #[test]
    fn sender_and_receiver_reports() {
        let mut rx = vec![ReceiverStats::new(77, 8000)];
        for i in 0..10u16 {
            rx[0].on_rtp(i, i as u32 * 160, Duration::from_millis(20 * i as u64));
        }
        let mut tx = SenderStats::default();
        tx.on_sent(160);
        let info = SenderInfo {
            stats: &tx,
            ntp: NtpTime::from_unix(Duration::from_secs(1_800_000_000)),
            rtp_timestamp: 160,
        };
        let bytes = compound_report(5, "leg@pbx", Some(info), &mut rx, Duration::from_secs(1));
        let packets = parse_compound(&bytes).unwrap();
        match &packets[0] {
            RtcpPacket::SenderReport(sr) => {
                assert_eq!((sr.ssrc, sr.packet_count, sr.octet_count), (5, 1, 160));
                assert_eq!(sr.reports[0].ssrc, 77);
                assert_eq!(sr.reports[0].highest_seq, 9);
            }
            other => panic!("expected SR, got {other:?}"),
        }
        assert!(
            matches!(&packets[1], RtcpPacket::SourceDescription(c) if c[0].items[0].value == b"leg@pbx")
        );
        let rr = compound_report(5, "leg@pbx", None, &mut rx, Duration::from_secs(2));
        assert!(matches!(
            parse_compound(&rr).unwrap()[0],
            RtcpPacket::ReceiverReport(_)
        ));
    }
}
