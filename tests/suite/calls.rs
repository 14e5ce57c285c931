//! Calls through the switch, black-box: SIPp as the calling phone (UAC) and as the
//! called phone (UAS), both lines of the demo tenant.

use std::time::Duration;

use crate::common::call_helpers::*;
use crate::common::sip_client::SipClient;
use crate::common::{free_port, sipp, temp_dir, Pbx};
use engine::sip::HeaderName;

#[test]
fn basic_call_with_407_ringing_answer_and_bye() {
    let dir = temp_dir();
    let mut pbx = Pbx::start(dir.path());
    let callee_port = free_port();
    register_device(&pbx, "101", callee_port);
    let uas = sipp::spawn_uas("call_callee.xml", 1, "u1", callee_port, dir.path());
    wait_bound(callee_port);
    let caller = sipp::run(
        pbx.addr,
        "call_caller.xml",
        &["100;secret100;101;127.0.0.1".into()],
        "u1",
        free_port(),
        dir.path(),
    );
    let callee = sipp::wait(uas, callee_port, dir.path());
    assert!(caller.success, "caller side of the call");
    assert!(callee.success, "callee side of the call");
    let rows = journal(&mut pbx);
    assert_eq!(rows.len(), 1);
    let r = &rows[0];
    assert_eq!((r.from.as_str(), r.to.as_str()), ("100", "101"));
    assert_eq!(r.disposition, Some(actors::journal::Disposition::Answered));
    assert_eq!(r.answered_by.as_deref(), Some("101"));
    assert_eq!(r.hangup_side, Some(actors::journal::Side::Caller));
    assert!(r.answered_at.is_some() && r.ended_at >= r.answered_at);
}

#[test]
fn callee_busy_gives_486() {
    let dir = temp_dir();
    let mut pbx = Pbx::start(dir.path());
    let port = free_port();
    register_device(&pbx, "102", port);
    let uas = sipp::spawn_uas("callee_busy.xml", 1, "u1", port, dir.path());
    wait_bound(port);
    let mut caller = Caller::call(&pbx, "100", "102");
    assert_eq!(caller.expect(486), 486);
    assert!(sipp::wait(uas, port, dir.path()).success);
    let rows = journal(&mut pbx);
    assert_eq!(
        rows[0].disposition,
        Some(actors::journal::Disposition::Busy)
    );
    assert_eq!(rows[0].cause_code, Some(486));
}

#[test]
fn cancel_before_answer_gives_487_and_cancels_the_device() {
    let dir = temp_dir();
    let mut pbx = Pbx::start(dir.path());
    let port = free_port();
    register_device(&pbx, "103", port);
    let uas = sipp::spawn_uas("callee_cancel.xml", 1, "u1", port, dir.path());
    wait_bound(port);
    let mut caller = Caller::call(&pbx, "100", "103");
    assert_eq!(caller.expect(180), 180);
    caller.cancel();
    assert_eq!(caller.expect(487), 487);
    assert!(
        sipp::wait(uas, port, dir.path()).success,
        "the device got CANCEL and its 487 was ACKed"
    );
    let rows = journal(&mut pbx);
    assert_eq!(
        rows[0].disposition,
        Some(actors::journal::Disposition::Cancelled)
    );
    assert!(rows[0].ring_at.is_some());
}

#[test]
fn fork_rings_every_device_first_answer_wins_others_cancelled() {
    let dir = temp_dir();
    let pbx = Pbx::start(dir.path());
    let (p1, p2) = (free_port(), free_port());
    register_device(&pbx, "104", p1);
    register_device(&pbx, "104", p2);
    let ringing = sipp::spawn_uas("callee_cancel.xml", 1, "u1", p1, dir.path());
    let answering = sipp::spawn_uas("call_callee.xml", 1, "u1", p2, dir.path());
    wait_bound(p1);
    wait_bound(p2);
    let caller = sipp::run(
        pbx.addr,
        "call_caller.xml",
        &["100;secret100;104;127.0.0.1".into()],
        "u1",
        free_port(),
        dir.path(),
    );
    assert!(caller.success);
    assert!(
        sipp::wait(answering, p2, dir.path()).success,
        "the answering device"
    );
    assert!(
        sipp::wait(ringing, p1, dir.path()).success,
        "the other device was cancelled"
    );
}

#[test]
fn unknown_number_goes_to_the_drop_off_else_404_and_no_device_486() {
    let dir = temp_dir();
    let mut pbx = Pbx::start(dir.path());
    // 105 exists but has no device: the tenant's decline code, 486 by default (SPEC
    // F-CALL); 555 is no extension: the demo plan's drop-off (100), which has no
    // device either.
    assert_eq!(Caller::call(&pbx, "100", "105").expect(486), 486);
    assert_eq!(Caller::call(&pbx, "101", "555").expect(486), 486);
    // Without a drop-off number, 404.
    pbx.stop();
    pbx_admin(
        &pbx.data_dir,
        &["tenant", "set", "demo", "--drop-off", "none"],
    );
    pbx.restart();
    assert_eq!(Caller::call(&pbx, "101", "555").expect(404), 404);
}

#[test]
fn callee_hangs_up_first_and_the_caller_gets_bye() {
    let dir = temp_dir();
    let mut pbx = Pbx::start(dir.path());
    let port = free_port();
    register_device(&pbx, "106", port);
    let uas = sipp::spawn_uas("callee_hangs_up.xml", 1, "u1", port, dir.path());
    wait_bound(port);
    let mut caller = Caller::call(&pbx, "100", "106");
    assert_eq!(caller.expect(200), 200);
    caller.ack();
    caller.answer_request("BYE");
    assert!(
        sipp::wait(uas, port, dir.path()).success,
        "the device's BYE was answered"
    );
    let rows = journal(&mut pbx);
    assert_eq!(
        rows[0].disposition,
        Some(actors::journal::Disposition::Answered)
    );
    assert_eq!(rows[0].hangup_side, Some(actors::journal::Side::Callee));
}

#[test]
fn media_is_anchored_and_relayed_both_ways() {
    let dir = temp_dir();
    let pbx = Pbx::start(dir.path());
    let (port, media_port) = (free_port(), free_port());
    register_device(&pbx, "107", port);
    // SIPp echoes the RTP it gets back to where it came from (the switch).
    let mp = media_port.to_string();
    let uas = sipp::spawn_uas_with(
        "call_callee.xml",
        1,
        "u1",
        port,
        dir.path(),
        &["-mi", "127.0.0.1", "-mp", &mp, "-rtp_echo"],
    );
    wait_bound(port);
    let rtp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    rtp.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let mut caller = Caller::call_with_media(&pbx, "100", "107", rtp.local_addr().unwrap().port());
    assert_eq!(caller.expect(200), 200);
    caller.ack();
    // The answer points the caller at the switch, not at the device.
    let answer = engine::sdp::Sdp::parse(caller.last.as_ref().unwrap().body()).unwrap();
    let switch_port = answer.media()[0].port();
    assert_ne!(switch_port, media_port, "media is anchored at the switch");
    let echoed = echoed(&rtp, media_target(&caller));
    assert!(
        echoed >= 45,
        "only {echoed} of 50 packets came back through the relay"
    );
    caller.bye();
    assert!(sipp::wait(uas, port, dir.path()).success);
}

#[test]
fn reinvite_hold_and_resume_pass_through_the_call() {
    let dir = temp_dir();
    let mut pbx = Pbx::start(dir.path());
    let port = free_port();
    register_device(&pbx, "108", port);
    let uas = sipp::spawn_uas("call_hold_callee.xml", 1, "u1", port, dir.path());
    wait_bound(port);
    let caller = sipp::run(
        pbx.addr,
        "call_hold_caller.xml",
        &["100;secret100;108;127.0.0.1".into()],
        "u1",
        free_port(),
        dir.path(),
    );
    let callee = sipp::wait(uas, port, dir.path());
    assert!(
        caller.success,
        "caller: hold (recvonly answer), resume, BYE"
    );
    assert!(callee.success, "callee: got sendonly then sendrecv offers");
    let rows = journal(&mut pbx);
    assert_eq!(
        rows[0].disposition,
        Some(actors::journal::Disposition::Answered)
    );
}

#[test]
fn ring_timeout_gives_480_and_cancels_the_device() {
    let dir = temp_dir();
    let pbx = Pbx::start_with(dir.path(), "127.0.0.1:0", &["--ring-timeout", "1"]);
    let port = free_port();
    register_device(&pbx, "109", port);
    // The device rings until the switch cancels it.
    let uas = sipp::spawn_uas("callee_cancel.xml", 1, "u1", port, dir.path());
    wait_bound(port);
    let mut caller = Caller::call(&pbx, "100", "109");
    assert_eq!(caller.expect(180), 180);
    assert_eq!(caller.expect(480), 480);
    assert!(
        sipp::wait(uas, port, dir.path()).success,
        "the device got CANCEL"
    );
}

#[test]
fn calls_over_the_limit_get_503_with_retry_after() {
    let dir = temp_dir();
    let pbx = Pbx::start_with(dir.path(), "127.0.0.1:0", &["--max-calls", "1"]);
    let port = free_port();
    register_device(&pbx, "103", port);
    let uas = sipp::spawn_uas("callee_cancel.xml", 1, "u1", port, dir.path());
    wait_bound(port);
    let mut first = Caller::call(&pbx, "100", "103");
    assert_eq!(first.expect(180), 180);
    // The second call finds no room: its INVITE gets 503 with Retry-After at once,
    // before it is even challenged (no authentication work is spent on it).
    let mut second = crate::common::sip_client::SipClient::udp(pbx.addr);
    let refusal = invite_unsigned(&mut second, "101", "103");
    assert_eq!(refusal.code(), Some(503), "{refusal:?}");
    assert!(
        refusal
            .header_lines()
            .any(|(_, name, _)| name.eq_ignore_ascii_case("Retry-After")),
        "503 says when to retry"
    );
    // Over TCP as well.
    let mut third = crate::common::sip_client::SipClient::tcp(pbx.addr);
    let refusal = invite_unsigned(&mut third, "102", "103");
    assert_eq!(refusal.code(), Some(503), "{refusal:?}");
    first.cancel();
    assert_eq!(first.expect(487), 487);
    assert!(sipp::wait(uas, port, dir.path()).success);
}

/// Sends 50 packets of a 1 kHz PCMA tone to `target` and checks that they come back
/// as PCMA with the tone after going through PCMU (an echo behind a transcoding relay).
fn pcma_comes_back_through_pcmu(rtp: &std::net::UdpSocket, target: std::net::SocketAddr) {
    use media::codec::g711::{alaw_decode, alaw_encode};
    // A 1 kHz tone at 8 kHz, 20 ms a packet.
    let tone: Vec<i16> = (0..160)
        .map(|n| (8000.0 * (2.0 * std::f64::consts::PI * n as f64 / 8.0).sin()) as i16)
        .collect();
    let payload: Vec<u8> = tone.iter().map(|&s| alaw_encode(s)).collect();
    let (mut good, mut converted) = (0, 0);
    for seq in 0u16..50 {
        let mut pkt = vec![0x80, 8];
        pkt.extend_from_slice(&seq.to_be_bytes());
        pkt.extend_from_slice(&(seq as u32 * 160).to_be_bytes());
        pkt.extend_from_slice(&0x1234_5678u32.to_be_bytes());
        pkt.extend_from_slice(&payload);
        rtp.send_to(&pkt, target).unwrap();
        let mut buf = [0u8; 2048];
        let Ok((n, _)) = rtp.recv_from(&mut buf) else {
            continue;
        };
        if n != pkt.len() || buf[1] & 0x7f != 8 {
            continue;
        }
        // PCMA → PCMU → PCMA: the tone comes back within a few quantisation steps.
        let close = buf[12..n]
            .iter()
            .zip(&tone)
            .all(|(&c, &s)| (alaw_decode(c) as i32 - s as i32).abs() <= 512);
        if close {
            good += 1;
        }
        // Untouched bytes would mean no conversion happened on the way.
        if buf[12..n] != payload[..] {
            converted += 1;
        }
    }
    assert!(
        good >= 45,
        "only {good} of 50 packets came back as PCMA with the tone"
    );
    assert!(converted >= 45, "the tone went through PCMU and back");
}

#[test]
fn pcma_caller_and_pcmu_callee_are_transcoded() {
    let dir = temp_dir();
    let pbx = Pbx::start(dir.path());
    // The device answers PCMU only and echoes the RTP it gets.
    let (uas, port) = echo_device(&pbx, dir.path(), "107");
    wait_bound(port);
    let rtp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    rtp.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let rtp_port = rtp.local_addr().unwrap().port();
    let mut caller = Caller::call_with_codec(&pbx, "100", "107", rtp_port, (8, "PCMA"));
    assert_eq!(caller.expect(200), 200);
    caller.ack();
    let answer = engine::sdp::Sdp::parse(caller.last.as_ref().unwrap().body()).unwrap();
    assert_eq!(
        answer.media()[0].payload_types(),
        vec![8],
        "the caller is answered with its own codec"
    );
    let target = std::net::SocketAddr::new(
        answer.media_connection(0).unwrap().address.parse().unwrap(),
        answer.media()[0].port(),
    );
    pcma_comes_back_through_pcmu(&rtp, target);
    caller.bye();
    assert!(sipp::wait(uas, port, dir.path()).success);
}

#[test]
fn a_failed_call_ends_alone_and_the_other_call_keeps_its_media() {
    let dir = temp_dir();
    let mut pbx = Pbx::start(dir.path());
    // A call that stays up, to an echoing device.
    let (uas1, port1) = echo_device(&pbx, dir.path(), "107");
    wait_bound(port1);
    let rtp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    rtp.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let mut up = Caller::call_with_media(&pbx, "100", "107", rtp.local_addr().unwrap().port());
    assert_eq!(up.expect(200), 200);
    up.ack();
    // A call whose actor panics once answered (test builds only).
    let port2 = free_port();
    register_device(&pbx, "106", port2);
    let uas2 = sipp::spawn_uas("call_callee.xml", 1, "u1", port2, dir.path());
    wait_bound(port2);
    let mut doomed = Caller::call_full(
        &pbx,
        "101",
        "106",
        free_port(),
        (0, "PCMU"),
        "X-Pbx-Test: panic-call\r\n",
    );
    assert_eq!(doomed.expect(200), 200);
    doomed.ack();
    doomed.answer_request("BYE");
    assert!(
        sipp::wait(uas2, port2, dir.path()).success,
        "the failed call's device got BYE"
    );
    // The other call still relays its media, and ends normally.
    let n = echoed(&rtp, media_target(&up));
    assert!(
        n >= 45,
        "only {n} of 50 packets came back after the other call failed"
    );
    up.bye();
    assert!(sipp::wait(uas1, port1, dir.path()).success);
    let rows = journal(&mut pbx);
    let by_callee = |to: &str| rows.iter().find(|r| r.to == to).unwrap().disposition;
    assert_eq!(by_callee("106"), Some(actors::journal::Disposition::Failed));
    assert_eq!(
        by_callee("107"),
        Some(actors::journal::Disposition::Answered)
    );
}

/// 100 (this test, RTP on the returned socket, speaking `codec`) calls 102, a SIPp
/// transferor that sends a blind REFER to 103 once answered; 103 is a SIPp echo (on
/// PCMU). Returns the caller, its RTP socket, 103's SIPp and its port once 102 is done.
fn transferred_by_102_to_an_echo(
    pbx: &Pbx,
    dir: &std::path::Path,
    codec: (u8, &str),
) -> (Caller, std::net::UdpSocket, std::process::Child, u16) {
    let b_port = free_port();
    register_device(pbx, "102", b_port);
    let (target, c_port) = echo_device(pbx, dir, "103");
    let transferor = sipp::spawn_uas_with(
        "transfer_referrer.xml",
        1,
        "u1",
        b_port,
        dir,
        &["-key", "target", "103"],
    );
    wait_bound(b_port);
    wait_bound(c_port);
    let rtp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    rtp.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let port = rtp.local_addr().unwrap().port();
    let mut caller = Caller::call_with_codec(pbx, "100", "102", port, codec);
    assert_eq!(caller.expect(200), 200);
    caller.ack();
    assert!(
        sipp::wait(transferor, b_port, dir).success,
        "the transferor got 202, NOTIFY 100 and 200, then BYE"
    );
    (caller, rtp, target, c_port)
}

#[test]
fn audio_keeps_flowing_after_a_transfer_between_legs_on_different_codecs() {
    let dir = temp_dir();
    let pbx = Pbx::start(dir.path());
    // The caller speaks PCMA only; the transferor and the target PCMU.
    let (mut caller, rtp, target, c_port) =
        transferred_by_102_to_an_echo(&pbx, dir.path(), (8, "PCMA"));
    // Transferred to the PCMU target, the caller still talks PCMA, converted both ways.
    pcma_comes_back_through_pcmu(&rtp, media_target(&caller));
    caller.bye();
    assert!(sipp::wait(target, c_port, dir.path()).success);
}

#[test]
fn blind_transfer_by_the_callee_connects_the_caller_to_the_target() {
    let dir = temp_dir();
    let mut pbx = Pbx::start(dir.path());
    let (mut caller, rtp, target, c_port) =
        transferred_by_102_to_an_echo(&pbx, dir.path(), (0, "PCMU"));
    // The caller's media now reaches the target, at the same switch port as before.
    let n = echoed(&rtp, media_target(&caller));
    assert!(n >= 45, "only {n} of 50 packets came back from the target");
    caller.bye();
    assert!(
        sipp::wait(target, c_port, dir.path()).success,
        "the target answered and got the caller's BYE"
    );
    let rows = journal(&mut pbx);
    assert_eq!(rows[0].transferred_to.as_deref(), Some("103"));
    assert_eq!(
        rows[0].disposition,
        Some(actors::journal::Disposition::Answered)
    );
}

#[test]
fn blind_transfer_to_an_unknown_number_fails_and_the_call_goes_on() {
    let dir = temp_dir();
    let mut pbx = Pbx::start(dir.path());
    // A transfer is routed by the plan like a call: without a drop-off number, an
    // unknown number is not found.
    pbx.stop();
    pbx_admin(dir.path(), &["tenant", "set", "demo", "--drop-off", "none"]);
    pbx.restart();
    let b_port = free_port();
    register_device(&pbx, "102", b_port);
    let transferor = sipp::spawn_uas_with(
        "transfer_fails.xml",
        1,
        "u1",
        b_port,
        dir.path(),
        &["-key", "target", "555"],
    );
    wait_bound(b_port);
    let mut caller = Caller::call(&pbx, "100", "102");
    assert_eq!(caller.expect(200), 200);
    caller.ack();
    // The transferor hears 404 in a NOTIFY, then hangs up the call that went on.
    caller.answer_request("BYE");
    assert!(sipp::wait(transferor, b_port, dir.path()).success);
    let rows = journal(&mut pbx);
    assert_eq!(rows[0].transferred_to, None);
    assert_eq!(rows[0].hangup_side, Some(actors::journal::Side::Callee));
}

/// Call 1: 100 (`a`, RTP on the returned socket) calls 102, the transferor; call 2:
/// 102 consults 103 (an echoing SIPp device, spawned in `dir`), then transfers 100 to
/// it with REFER/Replaces. Returns 100's caller, its RTP socket, 103's SIPp and port.
fn attended_transfer_to_an_echo(
    pbx: &Pbx,
    dir: &std::path::Path,
) -> (Caller, std::net::UdpSocket, std::process::Child, u16) {
    attended_transfer_to_an_echo_holding(pbx, dir, false)
}

/// `attended_transfer_to_an_echo`, the transferor first holding 100 (`hold`), as desk
/// phones do before they consult.
fn attended_transfer_to_an_echo_holding(
    pbx: &Pbx,
    dir: &std::path::Path,
    hold: bool,
) -> (Caller, std::net::UdpSocket, std::process::Child, u16) {
    let mut b = Device::register(pbx, "102");
    let rtp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    rtp.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let rtp_port = rtp.local_addr().unwrap().port();
    let mut a = Caller::call_with_media(pbx, "100", "102", rtp_port);
    let b_rtp = free_port();
    b.answer(b_rtp);
    assert_eq!(a.expect(200), 200);
    a.ack();
    if hold {
        let sdp = format!("v=0\r\no=- 2 3 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio {b_rtp} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendonly\r\n");
        std::thread::scope(|sc| {
            let h = sc.spawn(|| a.answer_reinvite(rtp_port, "recvonly"));
            assert_eq!(b.request_with("INVITE", "", Some(&sdp)), 200);
            h.join().unwrap();
        });
    }
    let (c, c_port) = echo_device(pbx, dir, "103");
    wait_bound(c_port);
    let mut b2 = Caller::call(pbx, "102", "103");
    assert_eq!(b2.expect(200), 200);
    b2.ack();
    // REFER in call 1, replacing the transferor's dialog of call 2.
    let replaces = format!(
        "call-{}%3Bto-tag%3D{}%3Bfrom-tag%3Dcaller1",
        b2.c.local,
        b2.to_tag.clone().unwrap()
    );
    let code = b.request(
        "REFER",
        &format!("Refer-To: <sip:103@127.0.0.1?Replaces={replaces}>\r\n"),
    );
    assert_eq!(code, 202);
    let trying = b.answer_request("NOTIFY");
    assert!(String::from_utf8_lossy(trying.body()).contains("100 Trying"));
    let done = b.answer_request("NOTIFY");
    assert!(
        String::from_utf8_lossy(done.body()).contains("200 OK"),
        "the transfer succeeded"
    );
    // The transferor's two legs get BYE.
    b.answer_request("BYE");
    b2.answer_request("BYE");
    // 100 and 103 talk: the caller's RTP crosses both relays to the echo and back
    // (any music on hold 100 heard before is behind it).
    drain(&rtp);
    let n = echoed(&rtp, media_target(&a));
    assert!(n >= 45, "only {n} of 50 packets came back from 103");
    (a, rtp, c, c_port)
}

#[test]
fn attended_transfer_joins_the_two_remaining_parties() {
    let dir = temp_dir();
    let mut pbx = Pbx::start(dir.path());
    let (mut a, _rtp, c, c_port) = attended_transfer_to_an_echo(&pbx, dir.path());
    a.bye();
    assert!(
        sipp::wait(c, c_port, dir.path()).success,
        "103 got the BYE of the caller it was joined to"
    );
    let rows = journal(&mut pbx);
    let call1 = rows.iter().find(|r| r.from == "100").unwrap();
    assert_eq!(call1.transferred_to.as_deref(), Some("103"));
    assert_eq!(rows.len(), 2);
}

#[test]
fn a_call_ending_during_an_attended_transfer_still_hangs_up_the_party_handed_over() {
    let dir = temp_dir();
    let pbx = Pbx::start(dir.path());
    let mut b = Device::register(&pbx, "102");
    let mut a = Caller::call(&pbx, "100", "102");
    b.answer(free_port());
    assert_eq!(a.expect(200), 200);
    a.ack();
    let (c_port, c_media) = (free_port(), free_port());
    register_device(&pbx, "103", c_port);
    let mp = c_media.to_string();
    let c = sipp::spawn_uas_with(
        "call_callee.xml",
        1,
        "u1",
        c_port,
        dir.path(),
        &["-mi", "127.0.0.1", "-mp", &mp],
    );
    wait_bound(c_port);
    let mut b2 = Caller::call(&pbx, "102", "103");
    assert_eq!(b2.expect(200), 200);
    b2.ack();
    // The REFER and the other party's BYE leave back to back: call 1 ends while it
    // asks call 2 for 103, or just after 103 joined it.
    let replaces = format!(
        "call-{}%3Bto-tag%3D{}%3Bfrom-tag%3Dcaller1",
        b2.c.local,
        b2.to_tag.clone().unwrap()
    );
    b.send_request(
        "REFER",
        &format!("Refer-To: <sip:103@127.0.0.1?Replaces={replaces}>\r\n"),
        None,
    );
    a.bye();
    // Either way 103, handed over from call 2, gets its BYE and nobody is left up.
    assert!(
        sipp::wait(c, c_port, dir.path()).success,
        "103 got a BYE after the call it was handed to ended"
    );
}

#[test]
fn a_party_held_before_an_attended_transfer_hears_the_new_party_not_music() {
    let dir = temp_dir();
    let pbx = Pbx::start(dir.path());
    let (mut a, _rtp, c, c_port) = attended_transfer_to_an_echo_holding(&pbx, dir.path(), true);
    a.bye();
    assert!(sipp::wait(c, c_port, dir.path()).success);
}

#[test]
fn a_joined_call_is_transferred_again_attended() {
    let dir = temp_dir();
    let mut pbx = Pbx::start(dir.path());
    let (mut a, _rtp, c, c_port) = attended_transfer_to_an_echo(&pbx, dir.path());
    // 100, now talking to 103, consults 104 and transfers 103 to it (call 3).
    let mut d = Device::register(&pbx, "104");
    let d_rtp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    d_rtp
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let mut a3 = Caller::call(&pbx, "100", "104");
    d.answer(d_rtp.local_addr().unwrap().port());
    assert_eq!(a3.expect(200), 200);
    a3.ack();
    let replaces = format!(
        "call-{}%3Bto-tag%3D{}%3Bfrom-tag%3Dcaller1",
        a3.c.local,
        a3.to_tag.clone().unwrap()
    );
    let code = a.request(
        "REFER",
        &format!("Refer-To: <sip:104@127.0.0.1?Replaces={replaces}>\r\n"),
    );
    assert_eq!(code, 202, "a joined call takes a second attended transfer");
    a.answer_request("NOTIFY");
    a.answer_request("NOTIFY");
    a.answer_request("BYE");
    a3.answer_request("BYE");
    // 104 and 103 talk through the relays of all three calls.
    let target = sdp_target(d.invite.as_ref().unwrap());
    let n = echoed(&d_rtp, target);
    assert!(n >= 45, "only {n} of 50 packets came back from 103 to 104");
    assert_eq!(d.request("BYE", ""), 200);
    assert!(
        sipp::wait(c, c_port, dir.path()).success,
        "103 got the BYE of 104, the party it was joined to last"
    );
    let rows = journal(&mut pbx);
    assert_eq!(rows.len(), 3, "{rows:?}");
}

#[test]
fn blind_transfer_by_the_caller_connects_the_callee_to_the_target() {
    let dir = temp_dir();
    let mut pbx = Pbx::start(dir.path());
    let mut b = Device::register(&pbx, "102");
    let b_rtp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    b_rtp
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let mut a = Caller::call(&pbx, "100", "102");
    b.answer(b_rtp.local_addr().unwrap().port());
    assert_eq!(a.expect(200), 200);
    a.ack();
    let (c, c_port) = echo_device(&pbx, dir.path(), "103");
    wait_bound(c_port);
    assert_eq!(a.request("REFER", "Refer-To: <sip:103@127.0.0.1>\r\n"), 202);
    a.answer_request("NOTIFY");
    a.answer_request("NOTIFY");
    a.answer_request("BYE");
    // 102 keeps the switch port it had and now hears 103.
    let target = sdp_target(b.invite.as_ref().unwrap());
    let n = echoed(&b_rtp, target);
    assert!(n >= 45, "only {n} of 50 packets came back from the target");
    assert_eq!(b.request("BYE", ""), 200);
    assert!(sipp::wait(c, c_port, dir.path()).success, "103 got BYE");
    let rows = journal(&mut pbx);
    assert_eq!(rows[0].transferred_to.as_deref(), Some("103"));
}

#[test]
fn invite_with_replaces_takes_over_a_leg() {
    let dir = temp_dir();
    let mut pbx = Pbx::start(dir.path());
    let mut b = Device::register(&pbx, "102");
    let b_rtp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let b_rtp_port = b_rtp.local_addr().unwrap().port();
    let mut a = Caller::call(&pbx, "100", "102");
    b.answer(b_rtp_port);
    assert_eq!(a.expect(200), 200);
    a.ack();
    let echo = echo_thread(b_rtp);
    let replaces = format!(
        "Replaces: call-{};to-tag={};from-tag=caller1\r\n",
        a.c.local,
        a.to_tag.clone().unwrap()
    );
    // 101 is no party of that call: refused, and the call goes on.
    let mut outsider = Caller::call_full(&pbx, "101", "102", 40000, (0, "PCMU"), &replaces);
    assert_eq!(outsider.expect(403), 403);
    // 100 takes the call over on another of its devices.
    let rtp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    rtp.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let mut n = Caller::call_full(
        &pbx,
        "100",
        "102",
        rtp.local_addr().unwrap().port(),
        (0, "PCMU"),
        &replaces,
    );
    assert_eq!(n.expect(200), 200);
    n.ack();
    a.answer_request("BYE");
    let echoed_back = echoed(&rtp, media_target(&n));
    assert!(
        echoed_back >= 45,
        "only {echoed_back} of 50 packets came back from 102"
    );
    n.bye();
    b.answer_request("BYE");
    assert!(echo.join().unwrap() >= 45);
    let rows = journal(&mut pbx);
    assert_eq!(rows.len(), 1, "no second call: the INVITE joined the first");
    assert_eq!(rows[0].transferred_to.as_deref(), Some("100"));
}

#[test]
fn a_caller_left_on_hold_is_resumed_after_a_blind_transfer() {
    let dir = temp_dir();
    let mut pbx = Pbx::start(dir.path());
    let mut b = Device::register(&pbx, "102");
    let rtp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    rtp.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let rtp_port = rtp.local_addr().unwrap().port();
    let mut a = Caller::call_with_media(&pbx, "100", "102", rtp_port);
    let b_rtp = free_port();
    b.answer(b_rtp);
    assert_eq!(a.expect(200), 200);
    a.ack();
    // 102 holds 100 first, as desk phones do before transferring.
    let hold = format!("v=0\r\no=- 2 3 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio {b_rtp} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendonly\r\n");
    let held = std::thread::scope(|sc| {
        let h = sc.spawn(|| a.answer_reinvite(rtp_port, "recvonly"));
        assert_eq!(b.request_with("INVITE", "", Some(&hold)), 200);
        h.join().unwrap()
    });
    assert!(String::from_utf8_lossy(held.body()).contains("a=sendonly"));
    let (c, c_port) = echo_device(&pbx, dir.path(), "103");
    wait_bound(c_port);
    assert_eq!(b.request("REFER", "Refer-To: <sip:103@127.0.0.1>\r\n"), 202);
    b.answer_request("NOTIFY");
    b.answer_request("NOTIFY");
    b.answer_request("BYE");
    // The switch takes 100 off hold towards its new peer.
    let resume = a.answer_reinvite(rtp_port, "sendrecv");
    let body = String::from_utf8_lossy(resume.body()).into_owned();
    assert!(body.contains("a=sendrecv"), "resume offer: {body}");
    assert_eq!(sdp_target(&resume), media_target(&a), "same switch port");
    // The music on hold 100 heard meanwhile is behind it now.
    drain(&rtp);
    let n = echoed(&rtp, media_target(&a));
    assert!(n >= 45, "only {n} of 50 packets came back from 103");
    a.bye();
    assert!(sipp::wait(c, c_port, dir.path()).success);
    let rows = journal(&mut pbx);
    assert_eq!(rows[0].transferred_to.as_deref(), Some("103"));
}

#[test]
fn reliable_18x_both_ways_and_session_timer_refresh_relayed() {
    let dir = temp_dir();
    let mut pbx = Pbx::start(dir.path());
    let mut b = Device::register(&pbx, "102");
    let mut a = Caller::call_full(
        &pbx,
        "100",
        "102",
        40010,
        (0, "PCMU"),
        "Require: 100rel\r\nSupported: timer\r\nSession-Expires: 90;refresher=uac\r\nMin-SE: 90\r\n",
    );
    // The callee's device gets the INVITE one hop further on, offered 100rel and
    // timers, and rings reliably: the switch PRACKs.
    let invite = recv_until(&mut b.c, "INVITE", |m| is_request(m, "INVITE"));
    assert_eq!(invite.max_forwards(), Some(69));
    let supported = invite.header(HeaderName::Supported).unwrap_or("");
    assert!(supported.contains("100rel") && supported.contains("timer"));
    let mut ringing =
        engine::sip::MessageWriter::response_to(&invite, 180, "Ringing", Some("dev1"));
    ringing
        .header("Contact", &format!("<sip:dev@{}>", b.c.local))
        .header("Require", "100rel")
        .header("RSeq", "1");
    b.c.send_raw(&ringing.finish());
    let prack = recv_until(&mut b.c, "PRACK", |m| is_request(m, "PRACK"));
    assert_eq!(prack.header(HeaderName::Rack), Some("1 1 INVITE"));
    let ok = engine::sip::MessageWriter::response_to(&prack, 200, "OK", None).finish();
    b.c.send_raw(&ok);

    // The caller required 100rel: its 180 is reliable, and its PRACK gets 200.
    let r180 = recv_until(&mut a.c, "180", |m| is_response(m, 180, "INVITE"));
    assert_eq!(r180.header(HeaderName::Require), Some("100rel"));
    assert_eq!(r180.header(HeaderName::Rseq), Some("1"));
    let to_tag = r180.to().unwrap().tag().unwrap().to_owned();
    let local = a.c.local;
    let in_dialog = |method: &str, seq: u32, extra: &str| {
        format!("{method} sip:pbx@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bK{method}{seq};rport\r\nFrom: <sip:100@127.0.0.1>;tag=caller1\r\nTo: <sip:102@127.0.0.1>;tag={to_tag}\r\nCall-ID: call-{local}\r\nCSeq: {seq} {method}\r\nContact: <sip:100@{local}>\r\nMax-Forwards: 70\r\n{extra}Content-Length: 0\r\n\r\n")
    };
    a.c.send_raw(in_dialog("PRACK", 3, "RAck: 1 2 INVITE\r\n").as_bytes());
    recv_until(&mut a.c, "200 PRACK", |m| is_response(m, 200, "PRACK"));

    // The device answers; the caller's 200 carries the session timer it asked for.
    let sdp = "v=0\r\no=- 2 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40012 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";
    let mut w = engine::sip::MessageWriter::response_to(&invite, 200, "OK", Some("dev1"));
    w.header("Contact", &format!("<sip:dev@{}>", b.c.local));
    b.c.send_raw(&w.body("application/sdp", sdp.as_bytes()));
    recv_until(&mut b.c, "ACK", |m| is_request(m, "ACK"));
    b.invite = Some(invite);
    b.cseq = 1;
    assert_eq!(a.expect(200), 200);
    let ok = a.last.clone().unwrap();
    assert_eq!(
        ok.header(HeaderName::SessionExpires),
        Some("90;refresher=uac")
    );
    assert_eq!(ok.header(HeaderName::Require), Some("timer"));
    a.ack();

    // The caller refreshes with UPDATE: relayed to the device, answered back with the
    // session timer.
    a.c.send_raw(
        in_dialog(
            "UPDATE",
            4,
            "Supported: timer\r\nSession-Expires: 90;refresher=uac\r\n",
        )
        .as_bytes(),
    );
    b.answer_request("UPDATE");
    let ok = recv_until(&mut a.c, "200 UPDATE", |m| {
        m.cseq().map(|c| c.method) == Some("UPDATE")
    });
    assert_eq!(ok.code(), Some(200));
    assert_eq!(
        ok.header(HeaderName::SessionExpires),
        Some("90;refresher=uac")
    );
    a.c.send_raw(in_dialog("BYE", 5, "").as_bytes());
    b.answer_request("BYE");
    recv_until(&mut a.c, "200 BYE", |m| is_response(m, 200, "BYE"));
    let rows = journal(&mut pbx);
    assert_eq!(
        rows[0].disposition,
        Some(actors::journal::Disposition::Answered)
    );
}

#[test]
fn session_interval_too_small_gets_422_with_min_se() {
    let dir = temp_dir();
    let pbx = Pbx::start(dir.path());
    let _b = Device::register(&pbx, "102");
    let mut a = Caller::call_full(
        &pbx,
        "100",
        "102",
        40020,
        (0, "PCMU"),
        "Session-Expires: 30\r\n",
    );
    assert_eq!(a.expect(422), 422);
    assert_eq!(
        a.last.as_ref().unwrap().header(HeaderName::MinSe),
        Some("90")
    );
}

#[test]
fn invite_with_a_b_legs_call_id_is_a_loop_482() {
    let dir = temp_dir();
    let pbx = Pbx::start(dir.path());
    let mut b = Device::register(&pbx, "102");
    let mut a = Caller::call(&pbx, "100", "102");
    b.answer(40030);
    assert_eq!(a.expect(200), 200);
    a.ack();
    // The switch's own INVITE to 102 comes back (a forwarding loop elsewhere).
    let looped = b.invite.clone().unwrap();
    let mut other = SipClient::udp(pbx.addr);
    let text = String::from_utf8_lossy(looped.bytes()).replacen(
        "Via: ",
        &format!(
            "Via: SIP/2.0/UDP {};branch=z9hG4bKloop1;rport\r\nVia: ",
            other.local
        ),
        1,
    );
    other.send_raw(text.as_bytes());
    let resp = recv_until(&mut other, "482", |m| m.code().is_some_and(|c| c >= 200));
    assert_eq!(resp.code(), Some(482));
    // The call itself goes on.
    a.bye();
    b.answer_request("BYE");
}

#[test]
fn invite_carrying_the_switchs_own_via_is_a_loop_482() {
    let dir = temp_dir();
    let pbx = Pbx::start(dir.path());
    let _b = Device::register(&pbx, "102");
    let via = format!(
        "Via: SIP/2.0/UDP {};branch=z9hG4bK0123456789abcdef.1;rport\r\n",
        pbx.addr
    );
    let mut a = Caller::call_full(&pbx, "100", "102", 40040, (0, "PCMU"), &via);
    assert_eq!(a.expect(482), 482);
}

/// An RTP packet carrying RFC 4733 digit `digit` (end bit set) as payload type `pt`.
fn dtmf_packet(pt: u8, seq: u16, digit: u8) -> Vec<u8> {
    let mut p = vec![0x80, pt];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&1000u32.to_be_bytes());
    p.extend_from_slice(&0xD7D7_0001u32.to_be_bytes());
    p.extend_from_slice(&[digit, 0x8a, 0x03, 0x20]);
    p
}

/// The next RTP packet's payload type and first payload byte.
fn next_rtp(sock: &std::net::UdpSocket) -> (u8, u8) {
    let mut buf = [0u8; 2048];
    let (n, _) = sock.recv_from(&mut buf).expect("an RTP packet");
    assert!(n > 12);
    (buf[1] & 0x7f, buf[12])
}

#[test]
fn a_key_pressed_as_sip_info_reaches_the_other_leg_as_rfc_4733() {
    let dir = temp_dir();
    let pbx = Pbx::start(dir.path());
    let mut b = Device::register(&pbx, "102");
    let caller_rtp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    caller_rtp
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    // The caller takes telephone-events as 96; the callee (102) answers without any.
    let mut a = Caller::call_with_events(
        &pbx,
        "100",
        "102",
        caller_rtp.local_addr().unwrap().port(),
        96,
    );
    b.answer(free_port());
    assert_eq!(a.expect(200), 200);
    a.ack();
    // 102 presses 7 (and #) the way phones without RFC 4733 do: SIP INFO.
    for (signal, event) in [("7", 7u8), ("#", 11)] {
        let body = format!("Signal={signal}\r\nDuration=160\r\n");
        assert_eq!(
            b.request_with_body("INFO", "application/dtmf-relay", &body),
            200
        );
        // The caller gets telephone-event packets of its own type: the first with the
        // marker, the last three with the end bit and the whole duration.
        let mut packets = Vec::new();
        loop {
            let mut buf = [0u8; 256];
            let (n, _) = caller_rtp.recv_from(&mut buf).expect("event packets");
            let d = buf[..n].to_vec();
            assert_eq!(d[1] & 0x7f, 96, "the caller's telephone-event type");
            assert_eq!(d[12], event);
            let end = d[13] & 0x80 != 0;
            packets.push(d);
            if end && packets.iter().filter(|p| p[13] & 0x80 != 0).count() == 3 {
                break;
            }
        }
        assert!(packets[0][1] & 0x80 != 0, "marker on the first");
        let last = packets.last().unwrap();
        assert_eq!(
            u16::from_be_bytes([last[14], last[15]]),
            1280,
            "160 ms at 8 kHz"
        );
        let seqs: Vec<u16> = packets
            .iter()
            .map(|p| u16::from_be_bytes([p[2], p[3]]))
            .collect();
        assert!(seqs.windows(2).all(|w| w[1] == w[0].wrapping_add(1)));
    }
    a.bye();
}

#[test]
fn a_key_pressed_as_rfc_4733_reaches_a_phone_without_it_as_sip_info() {
    let dir = temp_dir();
    let pbx = Pbx::start(dir.path());
    let mut b = Device::register(&pbx, "102");
    let caller_rtp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut a = Caller::call_with_events(
        &pbx,
        "100",
        "102",
        caller_rtp.local_addr().unwrap().port(),
        96,
    );
    // 102 answers without telephone-events.
    b.answer(free_port());
    assert_eq!(a.expect(200), 200);
    a.ack();
    let to_switch = media_target(&a);
    for (k, (event, signal)) in [(5u8, "5"), (10, "*")].into_iter().enumerate() {
        // One press: its end packet (sent three times), 100 ms long.
        let mut p = dtmf_packet(96, k as u16 * 3, event);
        p[4..8].copy_from_slice(&(1000 + 8000 * k as u32).to_be_bytes());
        for n in 0..3u16 {
            p[2..4].copy_from_slice(&(k as u16 * 3 + n).to_be_bytes());
            caller_rtp.send_to(&p, to_switch).unwrap();
        }
        let info = b.answer_request("INFO");
        let body = String::from_utf8_lossy(info.body()).into_owned();
        assert!(
            body.contains(&format!("Signal={signal}")) && body.contains("Duration=100"),
            "{body}"
        );
        assert_eq!(
            info.header(engine::sip::HeaderName::ContentType),
            Some("application/dtmf-relay")
        );
    }
    a.bye();
}

#[test]
fn a_key_heard_in_g711_audio_reaches_the_other_leg_as_rfc_4733() {
    let dir = temp_dir();
    let pbx = Pbx::start(dir.path());
    let mut b = Device::register(&pbx, "102");
    let caller_rtp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let callee_rtp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    callee_rtp
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let callee_port = callee_rtp.local_addr().unwrap().port();
    // The caller offers PCMU alone: no telephone-events, its keys are tones.
    let mut a =
        Caller::call_with_media(&pbx, "100", "102", caller_rtp.local_addr().unwrap().port());
    let invite = b.next_invite(&[]).expect("the callee's INVITE");
    let sdp = format!("v=0\r\no=- 2 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio {callee_port} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n");
    let mut w = engine::sip::MessageWriter::response_to(&invite, 200, "OK", Some("dev1"));
    w.header("Contact", &format!("<sip:dev@{}>", b.c.local));
    b.c.send_raw(&w.body("application/sdp", sdp.as_bytes()));
    assert_eq!(a.expect(200), 200);
    a.ack();
    // 120 ms of the tones of 5 (770 + 1336 Hz), then 100 ms of silence.
    let to_switch = media_target(&a);
    for k in 0u16..11 {
        let payload: Vec<u8> = (0..160u32)
            .map(|i| {
                let t = f64::from(u32::from(k) * 160 + i) / 8000.0;
                let tone = |f: f64| 5000.0 * (2.0 * std::f64::consts::PI * f * t).sin();
                let v = if k < 6 {
                    tone(770.0) + tone(1336.0)
                } else {
                    0.0
                };
                media::codec::g711::ulaw_encode(v as i16)
            })
            .collect();
        let mut d = vec![0x80, 0];
        d.extend_from_slice(&k.to_be_bytes());
        d.extend_from_slice(&(u32::from(k) * 160).to_be_bytes());
        d.extend_from_slice(&0x0a0au32.to_be_bytes());
        d.extend_from_slice(&payload);
        caller_rtp.send_to(&d, to_switch).unwrap();
        std::thread::sleep(Duration::from_millis(5));
    }
    // Besides the audio, the callee gets the key as telephone-events (101).
    let mut buf = [0u8; 2048];
    let event = loop {
        let (n, _) = callee_rtp.recv_from(&mut buf).expect("the key as an event");
        if n >= 16 && buf[1] & 0x7f == 101 && buf[13] & 0x80 != 0 {
            break buf[12];
        }
    };
    assert_eq!(event, 5);
    a.bye();
}

#[test]
fn dtmf_crosses_legs_with_their_own_telephone_event_payload_types() {
    let dir = temp_dir();
    let pbx = Pbx::start(dir.path());
    let mut b = Device::register(&pbx, "102");
    let caller_rtp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    caller_rtp
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let callee_rtp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    callee_rtp
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let callee_port = callee_rtp.local_addr().unwrap().port();
    // The caller offers telephone-event as 96.
    let mut a = Caller::call_with_events(
        &pbx,
        "100",
        "102",
        caller_rtp.local_addr().unwrap().port(),
        96,
    );
    let invite = b.next_invite(&[]).expect("the callee's INVITE");
    let offered = String::from_utf8_lossy(invite.body()).into_owned();
    let te = offered
        .lines()
        .find_map(|l| {
            l.strip_prefix("a=rtpmap:")
                .filter(|r| r.contains("telephone-event"))
        })
        .and_then(|r| r.split(' ').next())
        .and_then(|pt| pt.parse::<u8>().ok())
        .expect("the callee is offered telephone-event");
    // The callee answers with the type it was offered (101 from the switch).
    let sdp = format!("v=0\r\no=- 2 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio {callee_port} RTP/AVP 0 {te}\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:{te} telephone-event/8000\r\n");
    let mut w = engine::sip::MessageWriter::response_to(&invite, 200, "OK", Some("dev1"));
    w.header("Contact", &format!("<sip:dev@{}>", b.c.local));
    b.c.send_raw(&w.body("application/sdp", sdp.as_bytes()));
    assert_eq!(a.expect(200), 200);
    a.ack();
    assert_ne!(te, 96, "the legs use different types here");
    // 1234# from the caller (96) reaches the callee as its own type, and back.
    let to_switch_a = media_target(&a);
    let to_switch_b = sdp_target(&invite);
    for (i, digit) in [1u8, 2, 3, 4, 11].into_iter().enumerate() {
        caller_rtp
            .send_to(&dtmf_packet(96, i as u16, digit), to_switch_a)
            .unwrap();
        assert_eq!(
            next_rtp(&callee_rtp),
            (te, digit),
            "digit {digit} to the callee"
        );
        callee_rtp
            .send_to(&dtmf_packet(te, i as u16, digit), to_switch_b)
            .unwrap();
        assert_eq!(
            next_rtp(&caller_rtp),
            (96, digit),
            "digit {digit} to the caller"
        );
    }
    a.bye();
}

/// Reads away what waits on `sock` (until it stays quiet for 100 ms).
fn drain(sock: &std::net::UdpSocket) {
    let before = sock.read_timeout().unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let mut buf = [0u8; 2048];
    while sock.recv_from(&mut buf).is_ok() {}
    sock.set_read_timeout(before).unwrap();
}

/// RTP of B's: PCMU, SSRC 0x0b0b, sequence number `seq`, payload bytes `fill`.
fn b_packet(seq: u16, fill: u8) -> Vec<u8> {
    let mut d = vec![0x80, 0];
    d.extend_from_slice(&seq.to_be_bytes());
    d.extend_from_slice(&(u32::from(seq) * 160).to_be_bytes());
    d.extend_from_slice(&0x0b0bu32.to_be_bytes());
    d.extend_from_slice(&[fill; 160]);
    d
}

/// (SSRC, sequence number, payload) of the next RTP packet on `sock`.
fn next_packet(sock: &std::net::UdpSocket) -> (u32, u16, Vec<u8>) {
    let mut buf = [0u8; 2048];
    let (n, _) = sock.recv_from(&mut buf).expect("an RTP packet");
    let d = &buf[..n];
    (
        u32::from_be_bytes([d[8], d[9], d[10], d[11]]),
        u16::from_be_bytes([d[2], d[3]]),
        d[12..].to_vec(),
    )
}

/// 100 calls 101 (this test's phones); 101 talks, holds 100 for 50 packets, resumes
/// and talks again. Checks that 100 hears one continuous stream throughout and
/// returns the samples of what it heard on hold.
fn held_call(pbx: &Pbx) -> Vec<i16> {
    let mut b = Device::register(pbx, "101");
    let b_rtp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let a_rtp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    a_rtp
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let a_port = a_rtp.local_addr().unwrap().port();
    let mut a = Caller::call_with_media(pbx, "100", "101", a_port);
    b.answer(b_rtp.local_addr().unwrap().port());
    assert_eq!(a.expect(200), 200);
    a.ack();
    let to = sdp_target(b.invite.as_ref().unwrap());
    // B talks: A gets B's stream.
    for seq in 0..5 {
        b_rtp.send_to(&b_packet(seq, 0x11), to).unwrap();
        assert_eq!(next_packet(&a_rtp), (0x0b0b, seq, vec![0x11; 160]));
    }
    // B holds (sendonly): A hears music, as the same stream going on.
    let held = "v=0\r\no=- 2 3 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40002 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendonly\r\n";
    let answering = std::thread::spawn(move || {
        a.answer_reinvite(a_port, "recvonly");
        a
    });
    assert_eq!(b.request_with("INVITE", "", Some(held)), 200);
    let a = answering.join().unwrap();
    let mut samples = Vec::new();
    let mut last = 4;
    for _ in 0..50 {
        let (ssrc, seq, payload) = next_packet(&a_rtp);
        assert_eq!(
            (ssrc, seq),
            (0x0b0b, last + 1),
            "music continues B's stream"
        );
        last = seq;
        samples.extend(payload.iter().map(|&c| media::codec::g711::ulaw_decode(c)));
    }
    // B resumes: B's own packets reach A again, numbered on from the music.
    let resumed = held
        .replace("a=sendonly", "a=sendrecv")
        .replace("2 3 IN", "2 4 IN");
    let answering = std::thread::spawn(move || {
        let mut a = a;
        a.answer_reinvite(a_port, "sendrecv");
        a
    });
    assert_eq!(b.request_with("INVITE", "", Some(&resumed)), 200);
    let mut a = answering.join().unwrap();
    b_rtp.send_to(&b_packet(5, 0x22), to).unwrap();
    let mut got = next_packet(&a_rtp);
    // Music packets already on their way may come first.
    while got.2 != vec![0x22; 160] {
        last = got.1;
        got = next_packet(&a_rtp);
    }
    assert_eq!((got.0, got.1), (0x0b0b, last.wrapping_add(1)));
    a.bye();
    samples
}

fn rms(samples: &[i16]) -> f64 {
    (samples.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / samples.len() as f64).sqrt()
}

#[test]
fn a_held_party_hears_music_on_hold_in_one_continuous_stream() {
    let dir = temp_dir();
    let pbx = Pbx::start(dir.path());
    let heard = held_call(&pbx);
    assert!(
        rms(&heard) > 500.0,
        "the default melody (rms {:.0})",
        rms(&heard)
    );
}

#[test]
fn a_tenant_plays_its_own_music_on_hold() {
    let dir = temp_dir();
    let mut pbx = Pbx::start(dir.path());
    pbx.stop();
    // A 600 Hz tone as the demo tenant's music; a stereo file is refused first.
    let write = |path: &std::path::Path, rate: u32, channels: u16| {
        let spec = hound::WavSpec {
            channels,
            sample_rate: rate,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(path, spec).unwrap();
        for i in 0..rate * 2 {
            let v = 8000.0
                * (2.0 * std::f64::consts::PI * 600.0 * f64::from(i) / f64::from(rate)).sin();
            for _ in 0..channels {
                w.write_sample(v as i16).unwrap();
            }
        }
        w.finalize().unwrap();
    };
    let (stereo, tone) = (dir.path().join("stereo.wav"), dir.path().join("tone.wav"));
    write(&stereo, 44100, 2);
    write(&tone, 8000, 1);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pbx"))
        .args([
            "tenant",
            "music",
            "demo",
            stereo.to_str().unwrap(),
            "--data-dir",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("2 channel(s), 44100 Hz"), "{err}");
    pbx_admin(
        dir.path(),
        &["tenant", "music", "demo", tone.to_str().unwrap()],
    );
    pbx.restart();
    let heard = held_call(&pbx);
    // 600 Hz: a whole number of cycles in 40 ms; count zero crossings.
    let crossings = heard
        .windows(2)
        .filter(|w| (w[0] < 0) != (w[1] < 0))
        .count();
    let hz = crossings as f64 / 2.0 / (heard.len() as f64 / 8000.0);
    assert!(
        (hz - 600.0).abs() < 20.0,
        "the tenant's tone, heard at {hz:.0} Hz"
    );
}

#[test]
fn star_44_records_both_parties_to_a_wav_the_journal_names() {
    let dir = temp_dir();
    let mut pbx = Pbx::start(dir.path());
    let mut b = Device::register(&pbx, "102");
    let a_rtp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let b_rtp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let b_port = b_rtp.local_addr().unwrap().port();
    let mut a =
        Caller::call_with_events(&pbx, "100", "102", a_rtp.local_addr().unwrap().port(), 101);
    let invite = b.next_invite(&[]).expect("the callee's INVITE");
    let sdp = format!("v=0\r\no=- 2 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio {b_port} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n");
    let mut w = engine::sip::MessageWriter::response_to(&invite, 200, "OK", Some("dev1"));
    w.header("Contact", &format!("<sip:dev@{}>", b.c.local));
    b.c.send_raw(&w.body("application/sdp", sdp.as_bytes()));
    assert_eq!(a.expect(200), 200);
    a.ack();
    let (to_a, to_b) = (media_target(&a), sdp_target(&invite));
    // 100 types *44, both talk for a second (500 Hz and 1000 Hz), 100 types *44 again.
    press(&a_rtp, to_a, "*44", 0);
    std::thread::sleep(Duration::from_millis(100));
    for k in 0..50 {
        a_rtp.send_to(&tone_packet(500.0, k, 0xa), to_a).unwrap();
        b_rtp.send_to(&tone_packet(1000.0, k, 0xb), to_b).unwrap();
        std::thread::sleep(Duration::from_millis(20));
    }
    press(&a_rtp, to_a, "*44", 10);
    a.bye();
    let rows = journal(&mut pbx);
    let path = rows[0]
        .recording
        .clone()
        .expect("the journal names the recording");
    assert!(path.contains("recordings/demo/100/"), "{path}");
    let listed = pbx_admin(dir.path(), &["recording", "list", "--tenant", "demo"]);
    let listed = String::from_utf8_lossy(&listed.stdout).into_owned();
    assert!(
        listed.contains(&path) && listed.starts_with("100\t"),
        "{listed}"
    );
    let mut wav = hound::WavReader::open(&path).unwrap();
    let spec = wav.spec();
    assert_eq!((spec.channels, spec.sample_rate), (2, 8000));
    let samples: Vec<i16> = wav.samples::<i16>().map(Result::unwrap).collect();
    let channel = |c: usize| -> Vec<i16> { samples.iter().skip(c).step_by(2).copied().collect() };
    let hz = |x: &[i16]| {
        let loud: Vec<i16> = x.to_vec();
        let crossings = loud.windows(2).filter(|w| (w[0] < 0) != (w[1] < 0)).count();
        crossings as f64 / 2.0 / (loud.len() as f64 / 8000.0)
    };
    let (left, right) = (channel(0), channel(1));
    assert!(left.len() >= 8000 * 8 / 10, "{} samples", left.len());
    // Zero crossings over the whole file, pauses included: near the tones.
    let (l, r) = (hz(&left), hz(&right));
    assert!(l > 300.0 && l < 560.0, "the caller (left) at {l:.0} Hz");
    assert!(r > 600.0 && r < 1060.0, "the callee (right) at {r:.0} Hz");
}

#[test]
fn early_media_from_one_device_and_the_answer_from_another_keep_the_callers_codec() {
    let dir = temp_dir();
    let pbx = Pbx::start(dir.path());
    // Two devices of 102: the first sends early media on PCMA, the second answers PCMU.
    let mut first = Device::register(&pbx, "102");
    let mut second = Device::register(&pbx, "102");
    let a_rtp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let b_rtp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    b_rtp
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let a_port = a_rtp.local_addr().unwrap().port();
    let codecs = [(8, "PCMA"), (0, "PCMU")];
    let mut a = Caller::call_with_codecs(&pbx, "100", "102", a_port, &codecs);
    let early = first.next_invite(&[]).expect("the first device's INVITE");
    let invite = second.next_invite(&[]).expect("the second device's INVITE");
    let sdp = |port: u16, pt: u8, name: &str| {
        format!("v=0\r\no=- 2 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio {port} RTP/AVP {pt}\r\na=rtpmap:{pt} {name}/8000\r\n")
    };
    let mut w =
        engine::sip::MessageWriter::response_to(&early, 183, "Session Progress", Some("e1"));
    w.header("Contact", &format!("<sip:dev@{}>", first.c.local));
    first
        .c
        .send_raw(&w.body("application/sdp", sdp(free_port(), 8, "PCMA").as_bytes()));
    assert_eq!(a.expect(183), 183);
    let told = engine::sdp::Sdp::parse(a.last.as_ref().unwrap().body()).unwrap();
    assert_eq!(told.media()[0].payload_types()[0], 8, "early media: PCMA");
    let b_port = b_rtp.local_addr().unwrap().port();
    let mut w = engine::sip::MessageWriter::response_to(&invite, 200, "OK", Some("e2"));
    w.header("Contact", &format!("<sip:dev@{}>", second.c.local));
    second
        .c
        .send_raw(&w.body("application/sdp", sdp(b_port, 0, "PCMU").as_bytes()));
    assert_eq!(a.expect(200), 200);
    a.ack();
    let answer = engine::sdp::Sdp::parse(a.last.as_ref().unwrap().body()).unwrap();
    assert_eq!(
        answer.media()[0].payload_types()[0],
        8,
        "the caller keeps PCMA, the answer it already had"
    );
    // The caller's PCMA reaches the answering device as PCMU.
    let to = media_target(&a);
    let mut pkt = vec![0x80, 8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 9];
    pkt.extend(std::iter::repeat_n(0xd5u8, 160));
    let mut buf = [0u8; 2048];
    let mut pt = None;
    for _ in 0..5 {
        a_rtp.send_to(&pkt, to).unwrap();
        if let Ok((n, _)) = b_rtp.recv_from(&mut buf) {
            if n >= 12 {
                pt = Some(buf[1] & 0x7f);
                break;
            }
        }
    }
    assert_eq!(pt, Some(0), "converted to the answering device's PCMU");
    a.bye();
}

/// A SIPp device registered as `user` that answers one call and echoes the RTP it
/// gets back to the switch; its SIPp and its SIP port (to wait for).
fn echo_device(pbx: &Pbx, dir: &std::path::Path, user: &str) -> (std::process::Child, u16) {
    let (port, media) = (free_port(), free_port());
    register_device(pbx, user, port);
    let mp = media.to_string();
    let uas = sipp::spawn_uas_with(
        "call_callee.xml",
        1,
        "u1",
        port,
        dir,
        &["-mi", "127.0.0.1", "-mp", &mp, "-rtp_echo"],
    );
    (uas, port)
}
