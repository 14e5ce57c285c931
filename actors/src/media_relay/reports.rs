//! The switch's own RTCP towards a leg whose stream the switch makes itself (a
//! transcoded stream, a played source, a conference room's mix): the other side's
//! reports describe a stream
//! this leg never receives, so they stop here, and the relay sends its own every
//! few seconds: a sender report of what it sent the leg, with a report block of the
//! leg's stream it receives (RFC 3550 §6.4). A leg that hears the other untouched
//! (or only relabelled, or converted between G.711 laws in place, counts and SSRC
//! unchanged) keeps getting the other leg's RTCP as it is.

use std::time::{Duration, Instant, SystemTime};

use media::rtcp::{compound_report, NtpTime, ReceiverStats, SenderInfo, SenderStats};

/// Between two reports.
pub(super) const INTERVAL: Duration = Duration::from_secs(5);
/// The CNAME the switch's reports carry.
const CNAME: &str = "pbx";

/// The reports towards one leg.
#[derive(Debug)]
pub(super) struct OwnReports {
    sent: SenderStats,
    /// The leg's stream as received: its SSRC's statistics.
    heard: Option<ReceiverStats>,
    /// The SSRC reported when the switch has sent the leg nothing yet.
    ssrc: u32,
    pub(super) next: Instant,
}

impl OwnReports {
    /// The first report goes out half an interval from `now` (RFC 3550 §6.2 allows
    /// an early first one).
    pub(super) fn new(now: Instant) -> OwnReports {
        OwnReports {
            sent: SenderStats::default(),
            heard: None,
            ssrc: rand::random(),
            next: now + INTERVAL / 2,
        }
    }

    /// A packet of the switch's stream went to the leg.
    pub(super) fn sent(&mut self, datagram: &[u8]) {
        self.sent.on_sent(datagram.len().saturating_sub(12));
    }

    /// An RTP packet came from the leg (`clock`: its RTP clock rate).
    pub(super) fn heard(&mut self, datagram: &[u8], clock: u32, arrival: Duration) {
        let Some(h) = datagram.get(..12) else {
            return;
        };
        let ssrc = u32::from_be_bytes([h[8], h[9], h[10], h[11]]);
        let seq = u16::from_be_bytes([h[2], h[3]]);
        let ts = u32::from_be_bytes([h[4], h[5], h[6], h[7]]);
        let stats = match &mut self.heard {
            Some(s) if s.ssrc() == ssrc => s,
            other => other.insert(ReceiverStats::new(ssrc, clock)),
        };
        stats.on_rtp(seq, ts, arrival);
    }

    /// RTCP came from the leg: its sender report's time is noted for the next
    /// report block (LSR/DLSR).
    pub(super) fn leg_report(&mut self, datagram: &[u8], arrival: Duration) {
        let Ok(packets) = media::rtcp::parse_compound(datagram) else {
            return;
        };
        for p in packets {
            if let media::rtcp::RtcpPacket::SenderReport(sr) = p {
                if let Some(h) = self.heard.as_mut().filter(|h| h.ssrc() == sr.ssrc) {
                    h.on_sender_report(NtpTime(sr.ntp_timestamp), arrival);
                }
            }
        }
    }

    /// The compound report due at `now` (`stream`: the SSRC and next RTP timestamp
    /// of what the leg hears, if the switch sent it anything), and when the next is.
    pub(super) fn report(&mut self, stream: Option<(u32, u32)>, at: Duration) -> Vec<u8> {
        self.next += INTERVAL;
        let wall = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default();
        let ntp = NtpTime::from_unix(wall);
        let (ssrc, sender) = match stream {
            Some((ssrc, ts)) if self.sent.packets > 0 => (
                ssrc,
                Some(SenderInfo {
                    stats: &self.sent,
                    ntp,
                    rtp_timestamp: ts,
                }),
            ),
            _ => (self.ssrc, None),
        };
        let heard = match self.heard.as_mut() {
            Some(h) => std::slice::from_mut(h),
            None => &mut [],
        };
        compound_report(ssrc, CNAME, sender, heard, at)
    }
}
