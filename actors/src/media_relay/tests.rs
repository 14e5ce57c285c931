//! The relay over real UDP sockets on 127.0.0.1: two fake phones, one relay.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::ops::RangeInclusive;
use std::sync::Arc;
use std::time::Duration;

use media::codec::g711::{alaw_decode, ulaw_decode, ulaw_encode};
use media::rtp::RtpPacket;
use tokio::net::UdpSocket;

use super::*;

const LOCAL: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
/// How long a test waits for a datagram that should come (IO, not a timer).
const PATIENCE: Duration = Duration::from_secs(2);

/// Each test takes its own slice of ports so tests running at once never share a pool.
fn pool(range: RangeInclusive<u16>) -> Arc<PortPool> {
    Arc::new(PortPool::new(range).unwrap())
}

/// A fake phone: an RTP and an RTCP socket.
struct Phone {
    rtp: UdpSocket,
    rtcp: UdpSocket,
}

impl Phone {
    async fn new() -> Self {
        Self {
            rtp: UdpSocket::bind((LOCAL, 0)).await.unwrap(),
            rtcp: UdpSocket::bind((LOCAL, 0)).await.unwrap(),
        }
    }

    fn rtp_addr(&self) -> SocketAddr {
        self.rtp.local_addr().unwrap()
    }

    fn rtcp_addr(&self) -> SocketAddr {
        self.rtcp.local_addr().unwrap()
    }

    /// Tells the relay where this phone is, as its SDP would.
    fn announce(&self, relay: &RelayHandle, side: Side) {
        relay.set_remote(side, self.rtp_addr());
        relay.set_remote_rtcp(side, self.rtcp_addr());
    }
}

fn rtcp_of(rtp: SocketAddr) -> SocketAddr {
    SocketAddr::new(rtp.ip(), rtp.port() + 1)
}

fn rtp(pt: u8, sequence: u16, ssrc: u32, payload: &[u8]) -> Vec<u8> {
    RtpPacket {
        marker: false,
        payload_type: pt,
        sequence,
        timestamp: u32::from(sequence) * 160,
        ssrc,
        csrc: vec![],
        payload: payload.to_vec(),
    }
    .to_bytes()
    .unwrap()
}

/// A receiver report without report blocks from `ssrc`.
fn rtcp_rr(ssrc: u32) -> Vec<u8> {
    let mut p = vec![0x80, 201, 0, 1];
    p.extend(ssrc.to_be_bytes());
    p
}

async fn recv(sock: &UdpSocket) -> (Vec<u8>, SocketAddr) {
    let mut buf = [0u8; 2048];
    let (n, from) = tokio::time::timeout(PATIENCE, sock.recv_from(&mut buf))
        .await
        .expect("a datagram in time")
        .unwrap();
    (buf[..n].to_vec(), from)
}

async fn send(sock: &UdpSocket, bytes: &[u8], to: SocketAddr) {
    sock.send_to(bytes, to).await.unwrap();
}

/// Waits (bounded) until `done` holds: the relay's worker is another thread.
async fn eventually(done: impl Fn() -> bool) {
    let give_up = std::time::Instant::now() + PATIENCE;
    while !done() {
        assert!(std::time::Instant::now() < give_up, "never got there");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// The stats once the relay's worker has caught up with `done`.
async fn stats_when(relay: &RelayHandle, done: impl Fn(&RelayStats) -> bool) -> RelayStats {
    eventually(|| done(&relay.stats())).await;
    relay.stats()
}

#[tokio::test]
async fn packets_missing_from_a_stream_are_counted_lost() {
    let pool = pool(42400..=42499);
    let relay = MediaRelay::start(LOCAL, &pool).unwrap();
    let (ra, _) = relay.ports();
    let (a, b) = (Phone::new().await, Phone::new().await);
    a.announce(&relay, Side::A);
    b.announce(&relay, Side::B);
    // 1, 2, then 5 (3 and 4 lost), 4 late (nothing more), 6; a new SSRC starts over.
    for (seq, ssrc) in [(1, 0xA), (2, 0xA), (5, 0xA), (4, 0xA), (6, 0xA), (900, 0xC)] {
        send(&a.rtp, &rtp(0, seq, ssrc, &[0x55; 160]), ra).await;
        recv(&b.rtp).await;
    }
    let s = stats_when(&relay, |s| s.a_to_b.rtp_packets == 6).await;
    assert_eq!((s.a_to_b.lost, s.b_to_a.lost), (2, 0));
}

#[tokio::test]
async fn relays_rtp_and_rtcp_both_ways() {
    let pool = pool(42000..=42099);
    let relay = MediaRelay::start(LOCAL, &pool).unwrap();
    let (ra, rb) = relay.ports();
    assert_eq!((ra.port() % 2, rb.port() % 2), (0, 0));
    let (a, b) = (Phone::new().await, Phone::new().await);
    a.announce(&relay, Side::A);
    b.announce(&relay, Side::B);

    let pa = rtp(0, 1, 0xA, &[0x55; 160]);
    send(&a.rtp, &pa, ra).await;
    assert_eq!(recv(&b.rtp).await, (pa.clone(), rb));

    let pb = rtp(0, 7, 0xB, &[0x11; 160]);
    send(&b.rtp, &pb, rb).await;
    assert_eq!(recv(&a.rtp).await, (pb.clone(), ra));

    // RTCP port to RTCP port, both ways.
    send(&a.rtcp, &rtcp_rr(0xA), rtcp_of(ra)).await;
    assert_eq!(recv(&b.rtcp).await, (rtcp_rr(0xA), rtcp_of(rb)));
    send(&b.rtcp, &rtcp_rr(0xB), rtcp_of(rb)).await;
    assert_eq!(recv(&a.rtcp).await, (rtcp_rr(0xB), rtcp_of(ra)));

    let s = stats_when(&relay, |s| s.b_to_a.rtcp_packets == 1).await;
    assert_eq!(s.a_to_b.rtp_packets, 1);
    assert_eq!(s.a_to_b.rtp_bytes, pa.len() as u64);
    assert_eq!(s.b_to_a.rtp_packets, 1);
    assert_eq!(s.a_to_b.rtcp_packets, 1);
    assert_eq!((s.a_to_b.dropped, s.b_to_a.dropped), (0, 0));
    assert_eq!(s.latched_a, Some(a.rtp_addr()));
    assert_eq!(s.latched_b, Some(b.rtp_addr()));
    relay.stop().await;
}

#[tokio::test]
async fn rtcp_multiplexed_on_the_rtp_port_goes_to_the_other_rtcp_port() {
    let pool = pool(42100..=42199);
    let relay = MediaRelay::start(LOCAL, &pool).unwrap();
    let (ra, rb) = relay.ports();
    let (a, b) = (Phone::new().await, Phone::new().await);
    a.announce(&relay, Side::A);
    b.announce(&relay, Side::B);

    // B multiplexes (RFC 5761): its RTCP on the RTP port reaches A's RTCP port.
    send(&b.rtp, &rtcp_rr(0xB), rb).await;
    assert_eq!(recv(&a.rtcp).await, (rtcp_rr(0xB), rtcp_of(ra)));
    // From then on RTCP towards B goes to its RTP address from the relay's RTP port.
    send(&a.rtcp, &rtcp_rr(0xA), rtcp_of(ra)).await;
    assert_eq!(recv(&b.rtp).await, (rtcp_rr(0xA), rb));
    // RTP still flows on the same ports.
    let pa = rtp(8, 1, 0xA, &[0xD5; 80]);
    send(&a.rtp, &pa, ra).await;
    assert_eq!(recv(&b.rtp).await, (pa, rb));
    relay.stop().await;
}

#[tokio::test]
async fn latches_to_the_port_packets_really_come_from() {
    let pool = pool(42200..=42299);
    let relay = MediaRelay::start(LOCAL, &pool).unwrap();
    let (ra, rb) = relay.ports();
    // A's SDP names `announced`; behind its NAT it really sends from `real`.
    let announced = Phone::new().await;
    let real = UdpSocket::bind((LOCAL, 0)).await.unwrap();
    let b = Phone::new().await;
    announced.announce(&relay, Side::A);
    b.announce(&relay, Side::B);
    // A's SIP comes from its (NAT's) address: RTP from there may latch.
    relay.set_signalling(Side::A, LOCAL);

    // Before A has spoken, B's media goes where A's SDP said.
    send(&b.rtp, &rtp(0, 1, 0xB, &[1; 160]), rb).await;
    assert_eq!(recv(&announced.rtp).await.0, rtp(0, 1, 0xB, &[1; 160]));

    let pa = rtp(0, 1, 0xA, &[2; 160]);
    send(&real, &pa, ra).await;
    assert_eq!(recv(&b.rtp).await.0, pa);
    let s = stats_when(&relay, |s| s.latched_a.is_some()).await;
    assert_eq!(s.latched_a, Some(real.local_addr().unwrap()));

    // Now B's media follows A to the real port.
    send(&b.rtp, &rtp(0, 2, 0xB, &[3; 160]), rb).await;
    assert_eq!(recv(&real).await, (rtp(0, 2, 0xB, &[3; 160]), ra));

    // Another port on A's address while A is live, and a stranger elsewhere with
    // A's SSRC or a fresh one: all dropped. B gets the latched source's next packet.
    let same_ip = UdpSocket::bind((LOCAL, 0)).await.unwrap();
    let stranger = UdpSocket::bind(("127.0.0.2", 0)).await.unwrap();
    send(&same_ip, &rtp(0, 98, 0xA, &[8; 160]), ra).await;
    send(&stranger, &rtp(0, 99, 0xA, &[9; 160]), ra).await;
    send(&stranger, &rtp(0, 1, 0xAA, &[5; 160]), ra).await;
    send(&real, &rtp(0, 2, 0xA, &[4; 160]), ra).await;
    assert_eq!(recv(&b.rtp).await.0, rtp(0, 2, 0xA, &[4; 160]));
    let s = stats_when(&relay, |s| s.a_to_b.dropped == 3).await;
    assert_eq!(s.latched_a, Some(real.local_addr().unwrap()));
    // And B's media still goes to A only.
    send(&b.rtp, &rtp(0, 3, 0xB, &[6; 160]), rb).await;
    assert_eq!(recv(&real).await.0, rtp(0, 3, 0xB, &[6; 160]));
    relay.stop().await;
}

#[tokio::test]
async fn transcodes_pcmu_to_pcma_and_back() {
    let pool = pool(42300..=42399);
    let relay = MediaRelay::start(LOCAL, &pool).unwrap();
    let (ra, rb) = relay.ports();
    let (a, b) = (Phone::new().await, Phone::new().await);
    a.announce(&relay, Side::A);
    b.announce(&relay, Side::B);
    assert!(relay.set_transcode(0, 9).is_err());
    relay.set_transcode(0, 8).unwrap();

    // 20 ms of a 1 kHz tone at 8 kHz, µ-law, from A.
    let pcm: Vec<i16> = (0..160)
        .map(|i| (8000.0 * (f64::from(i) * std::f64::consts::TAU / 8.0).sin()) as i16)
        .collect();
    let ulaw: Vec<u8> = pcm.iter().map(|&s| ulaw_encode(s)).collect();
    send(&a.rtp, &rtp(0, 42, 0xA, &ulaw), ra).await;
    let got = RtpPacket::parse(&recv(&b.rtp).await.0).unwrap();
    assert_eq!(got.payload_type, 8);
    assert_eq!((got.sequence, got.timestamp, got.ssrc), (42, 42 * 160, 0xA));
    assert_eq!(got.payload.len(), 160);
    for ((&alaw, &u), &orig) in got.payload.iter().zip(&ulaw).zip(&pcm) {
        let (out, sent) = (i32::from(alaw_decode(alaw)), i32::from(ulaw_decode(u)));
        // Within one A-law step of what the µ-law packet carried.
        assert!(
            (out - sent).abs() <= sent.abs() / 16 + 16,
            "{out} vs {sent}"
        );
        assert!((out - i32::from(orig)).abs() <= i32::from(orig).abs() / 8 + 32);
    }

    // B → A: A-law becomes µ-law; a telephone-event (PT 101) passes unchanged.
    send(&b.rtp, &rtp(8, 5, 0xB, &[0xD5; 160]), rb).await;
    let got = RtpPacket::parse(&recv(&a.rtp).await.0).unwrap();
    assert_eq!(got.payload_type, 0);
    assert!(got.payload.iter().all(|&c| ulaw_decode(c).abs() <= 16));
    let dtmf = rtp(101, 6, 0xB, &[1, 0x0A, 0, 160]);
    send(&b.rtp, &dtmf, rb).await;
    assert_eq!(recv(&a.rtp).await.0, dtmf);

    // Same codec both sides: bytes pass untouched.
    relay.set_transcode(8, 8).unwrap();
    let p = rtp(8, 7, 0xB, &[0x2A; 160]);
    send(&b.rtp, &p, rb).await;
    assert_eq!(recv(&a.rtp).await.0, p);
    relay.stop().await;
}

#[tokio::test]
async fn hold_stops_media_towards_the_held_side_only() {
    let pool = pool(42400..=42499);
    let relay = MediaRelay::start(LOCAL, &pool).unwrap();
    let (ra, rb) = relay.ports();
    let (a, b) = (Phone::new().await, Phone::new().await);
    a.announce(&relay, Side::A);
    b.announce(&relay, Side::B);

    relay.set_hold(Side::B, true);
    send(&a.rtp, &rtp(0, 1, 0xA, &[1; 160]), ra).await;
    // B still reaches A (music on hold, say).
    send(&b.rtp, &rtp(0, 1, 0xB, &[2; 160]), rb).await;
    assert_eq!(recv(&a.rtp).await.0, rtp(0, 1, 0xB, &[2; 160]));
    let s = stats_when(&relay, |s| s.a_to_b.dropped == 1).await;
    assert_eq!(s.a_to_b.rtp_packets, 0);

    relay.set_hold(Side::B, false);
    send(&a.rtp, &rtp(0, 2, 0xA, &[3; 160]), ra).await;
    // The first packet B ever gets is the one sent after the resume.
    assert_eq!(recv(&b.rtp).await.0, rtp(0, 2, 0xA, &[3; 160]));
    relay.stop().await;
}

#[tokio::test]
async fn stop_and_drop_return_the_ports() {
    let pool = pool(42500..=42599);
    let relay = MediaRelay::start(LOCAL, &pool).unwrap();
    let other = MediaRelay::start(LOCAL, &pool).unwrap();
    assert_eq!(pool.ports_in_use(), 8);
    relay.stop().await;
    assert_eq!(pool.ports_in_use(), 4);
    drop(other);
    eventually(|| pool.ports_in_use() == 0).await;
}

#[tokio::test]
async fn garbage_is_dropped_and_the_relay_goes_on() {
    let pool = pool(42600..=42699);
    let relay = MediaRelay::start(LOCAL, &pool).unwrap();
    let (ra, _) = relay.ports();
    let (a, b) = (Phone::new().await, Phone::new().await);
    a.announce(&relay, Side::A);
    b.announce(&relay, Side::B);

    let garbage: [&[u8]; 7] = [
        &[],
        &[0x80],
        &[0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xA4, 0x42], // STUN-ish
        &[0x8F, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0],          // CSRCs past the end
        &[0xA0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 200],     // padding past the end
        &[0x80, 201, 0, 40, 0, 0, 0, 1],                   // RTCP longer than sent
        &[0xFF; 5000],                                     // larger than the buffer
    ];
    for g in garbage {
        send(&a.rtp, g, ra).await;
        send(&a.rtcp, g, rtcp_of(ra)).await;
    }
    // RTP on the RTCP port is not relayed either.
    send(&a.rtcp, &rtp(0, 1, 0xA, &[1; 160]), rtcp_of(ra)).await;
    let good = rtp(0, 2, 0xA, &[2; 160]);
    send(&a.rtp, &good, ra).await;
    assert_eq!(recv(&b.rtp).await.0, good);
    let s = stats_when(&relay, |s| s.a_to_b.rtp_packets == 1).await;
    assert_eq!(s.a_to_b.dropped, 2 * garbage.len() as u64 + 1);
    relay.stop().await;
}

#[tokio::test]
async fn telephone_events_cross_with_each_legs_payload_type() {
    let pool = pool(42900..=42999);
    let relay = MediaRelay::start(LOCAL, &pool).unwrap();
    let (ra, rb) = relay.ports();
    let (a, b) = (Phone::new().await, Phone::new().await);
    a.announce(&relay, Side::A);
    b.announce(&relay, Side::B);
    relay.set_event_pts(96, 101);
    // Digit 5, end bit, from A as 96: B hears 101; B's 101 reaches A as 96.
    let event = [5u8, 0x80, 0x03, 0x20];
    send(&a.rtp, &rtp(96, 1, 0xA, &event), ra).await;
    assert_eq!(recv(&b.rtp).await.0, rtp(101, 1, 0xA, &event));
    send(&b.rtp, &rtp(101, 1, 0xB, &event), rb).await;
    assert_eq!(recv(&a.rtp).await.0, rtp(96, 1, 0xB, &event));
    // Voice is not touched.
    send(&a.rtp, &rtp(0, 2, 0xA, &[1; 160]), ra).await;
    assert_eq!(recv(&b.rtp).await.0, rtp(0, 2, 0xA, &[1; 160]));
    relay.stop().await;
}

/// A source of one packet per 20 ms of a 400 Hz tone, as PCMU.
fn music_source() -> media::source::PlaySource {
    let samples = (0..8000)
        .map(|i| {
            (8000.0 * (f64::from(i) * 2.0 * std::f64::consts::PI * 400.0 / 8000.0).sin()) as i16
        })
        .collect();
    let track = media::wav::Announcement::from_samples("tone", samples);
    let player = media::wav::Player::music_on_hold(track);
    media::source::PlaySource::new(player, media::CodecKind::Pcmu, 0, 20, 0x5eed).unwrap()
}

#[tokio::test]
async fn a_played_source_replaces_the_other_leg_until_it_stops() {
    let pool = pool(43100..=43199);
    let relay = MediaRelay::start(LOCAL, &pool).unwrap();
    let (_, rb) = relay.ports();
    let (a, b) = (Phone::new().await, Phone::new().await);
    a.announce(&relay, Side::A);
    b.announce(&relay, Side::B);
    relay.play(Side::A, Some(music_source()));
    // A hears the source (its pacing is `media::source`'s, tested there), none of B's
    // packets meanwhile.
    send(&b.rtp, &rtp(0, 1, 0xB, &[2; 160]), rb).await;
    let mut seqs = Vec::new();
    for _ in 0..10 {
        let (d, _) = recv(&a.rtp).await;
        assert_eq!(u32::from_be_bytes([d[8], d[9], d[10], d[11]]), 0x5eed);
        seqs.push(u16::from_be_bytes([d[2], d[3]]));
    }
    assert!(seqs.windows(2).all(|w| w[1] == w[0].wrapping_add(1)));
    relay.play(Side::A, None);
    // Once a packet of B's comes through, the source has stopped: what A heard until
    // then is the music, then only B's audio.
    let mut last = *seqs.last().unwrap();
    let mut n = 2;
    let d = loop {
        send(&b.rtp, &rtp(0, n, 0xB, &[3; 160]), rb).await;
        n += 1;
        let (d, _) = recv(&a.rtp).await;
        if d[12..] == [3; 160] {
            break d;
        }
        last = u16::from_be_bytes([d[2], d[3]]);
        assert!(n < 100, "the music never stopped");
    };
    // B's packets go on as the stream A heard: its SSRC, the next sequence number.
    assert_eq!(u32::from_be_bytes([d[8], d[9], d[10], d[11]]), 0x5eed);
    assert_eq!(u16::from_be_bytes([d[2], d[3]]), last.wrapping_add(1));
    relay.stop().await;
}

#[tokio::test]
async fn a_transcoded_leg_gets_the_switchs_own_rtcp_not_the_other_legs() {
    let pool = pool(43200..=43299);
    let relay = MediaRelay::start(LOCAL, &pool).unwrap();
    let (ra, rb) = relay.ports();
    let (a, b) = (Phone::new().await, Phone::new().await);
    a.announce(&relay, Side::A);
    b.announce(&relay, Side::B);
    let voice = |pt, kind| Voice {
        pt,
        kind,
        ptime_ms: 20,
    };
    relay.set_codecs(
        voice(0, media::CodecKind::Pcmu),
        voice(9, media::CodecKind::G722),
    );
    // B talks (G.722, transcoded to A's PCMU) and reports; A talks too.
    let g722 = {
        let mut enc = media::CodecKind::G722.build().unwrap();
        let mut out = Vec::new();
        enc.encode(&[0i16; 320], &mut out).unwrap();
        out
    };
    let mut a_heard = None;
    for seq in 0..20u16 {
        send(&b.rtp, &rtp(9, seq, 0xB, &g722), rb).await;
        send(&a.rtp, &rtp(0, seq, 0xA, &[0xff; 160]), ra).await;
        if seq == 5 {
            send(&b.rtcp, &rtcp_rr(0xB), rtcp_of(rb)).await;
        }
        let mut d = [0u8; 2048];
        if let Ok(Ok((n, _))) =
            tokio::time::timeout(Duration::from_millis(20), a.rtp.recv_from(&mut d)).await
        {
            assert!(n > 12);
            a_heard = Some(u32::from_be_bytes([d[8], d[9], d[10], d[11]]));
        }
    }
    assert!(a_heard.is_some(), "A hears B transcoded");
    // The first RTCP A gets is the switch's sender report of the stream A hears,
    // with a report block about A's stream; B's receiver report stopped at the relay.
    let mut buf = [0u8; 2048];
    let (n, _) = tokio::time::timeout(Duration::from_secs(6), a.rtcp.recv_from(&mut buf))
        .await
        .expect("an own report within the interval")
        .unwrap();
    let packets = media::rtcp::parse_compound(&buf[..n]).unwrap();
    let media::rtcp::RtcpPacket::SenderReport(sr) = &packets[0] else {
        panic!("a sender report first: {packets:?}");
    };
    assert_eq!(Some(sr.ssrc), a_heard);
    assert!(sr.packet_count > 0);
    assert_eq!(sr.reports.len(), 1);
    assert_eq!(sr.reports[0].ssrc, 0xA);
    relay.stop().await;
}

#[tokio::test]
async fn an_srtp_leg_is_decrypted_for_the_other_and_forgeries_are_dropped() {
    use media::srtp::{SrtpContext, Suite};
    let pool = pool(43600..=43699);
    let relay = MediaRelay::start(LOCAL, &pool).unwrap();
    let (ra, rb) = relay.ports();
    let (a, b) = (Phone::new().await, Phone::new().await);
    a.announce(&relay, Side::A);
    b.announce(&relay, Side::B);
    // A speaks SRTP: its own key for what it sends, the switch's for what it hears.
    let (phone_key, switch_key) = ([7u8; 30], [9u8; 30]);
    let suite = Suite::AesCm128HmacSha1_80;
    relay.set_srtp(
        Side::A,
        Some(SrtpKeys {
            suite,
            inbound: phone_key,
            outbound: switch_key,
        }),
    );
    let mut phone_tx = SrtpContext::new(suite, &phone_key);
    let mut phone_rx = SrtpContext::new(suite, &switch_key);
    // A protected packet from A reaches B in the clear.
    let plain = rtp(0, 1, 0xA, &[0x55; 160]);
    let mut sealed = Vec::new();
    phone_tx.protect_rtp(&plain, &mut sealed).unwrap();
    send(&a.rtp, &sealed, ra).await;
    assert_eq!(recv(&b.rtp).await.0, plain);
    // B's plain packet reaches A protected with the switch's key.
    let from_b = rtp(0, 5, 0xB, &[0x11; 160]);
    send(&b.rtp, &from_b, rb).await;
    let (mut got, _) = recv(&a.rtp).await;
    assert_ne!(got, from_b);
    let n = phone_rx.unprotect_rtp(&mut got).unwrap();
    assert_eq!(&got[..n], &from_b[..]);
    // Plain RTP from A's address, a packet with a wrong tag and a replay are dropped.
    send(&a.rtp, &rtp(0, 2, 0xA, &[0x66; 160]), ra).await;
    let mut forged = Vec::new();
    phone_tx
        .protect_rtp(&rtp(0, 3, 0xA, &[0x77; 160]), &mut forged)
        .unwrap();
    let last = forged.len() - 1;
    forged[last] ^= 0xff;
    send(&a.rtp, &forged, ra).await;
    send(&a.rtp, &sealed, ra).await;
    let s = stats_when(&relay, |s| s.a_to_b.dropped == 3).await;
    assert_eq!(s.a_to_b.rtp_packets, 1);
    // Then a good one still passes.
    let next = rtp(0, 4, 0xA, &[0x44; 160]);
    phone_tx.protect_rtp(&next, &mut sealed).unwrap();
    send(&a.rtp, &sealed, ra).await;
    assert_eq!(recv(&b.rtp).await.0, next);
    relay.stop().await;
}
