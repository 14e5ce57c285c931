//! Feeds arbitrary datagrams to every parser that network input reaches: RTP/RTCP
//! demultiplexing, RTP, compound RTCP, telephone-events and the DTMF receiver, and the
//! jitter buffer. Any panic is a bug. Run: `cargo fuzz run rtp_rtcp_dtmf` in media/.
#![no_main]

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use media::dtmf::{DtmfReceiver, TelephoneEvent};
use media::jitter::{JitterBuffer, JitterConfig, JitterPacket};
use media::rtcp::{parse_compound, write_compound};
use media::rtp::{classify, PacketKind, RtpPacket};

fuzz_target!(|data: &[u8]| {
    match classify(data) {
        Ok(PacketKind::Rtcp) => {
            if let Ok(packets) = parse_compound(data) {
                // What we parsed must print and parse back to the same.
                let bytes = write_compound(&packets);
                assert_eq!(parse_compound(&bytes).ok(), Some(packets));
            }
        }
        Ok(PacketKind::Rtp) => {
            if let Ok(packet) = RtpPacket::parse(data) {
                let _ = packet.to_bytes();
                let mut receiver = DtmfReceiver::new();
                let _ = receiver.on_packet(packet.timestamp, &packet.payload);
                let mut jb = JitterBuffer::new(JitterConfig::default());
                jb.push(
                    Duration::ZERO,
                    JitterPacket {
                        sequence: packet.sequence,
                        timestamp: packet.timestamp,
                        marker: packet.marker,
                        payload: packet.payload,
                    },
                );
                let _ = jb.pop(Duration::from_millis(20));
            }
        }
        Err(_) => {}
    }
    // Telephone-event payloads on their own, in 4-byte steps.
    let mut receiver = DtmfReceiver::new();
    for (i, chunk) in data.chunks(4).enumerate() {
        if let Ok(te) = TelephoneEvent::parse(chunk) {
            assert_eq!(TelephoneEvent::parse(&te.to_bytes()).ok(), Some(te));
        }
        let _ = receiver.on_packet(i as u32 / 4, chunk);
    }
});
