//! Conference rooms with a PIN: the switch answers, asks for the PIN with a prompt,
//! reads the keys the caller presses (RFC 4733), seats a caller who typed it (the
//! others in the room hear it) and hangs up on one who got it wrong three times.

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use crate::common::call_helpers::*;
use crate::common::{temp_dir, Pbx};
use serde_json::Value;

/// Gives the demo plan's room 500 the PIN `pin`.
fn set_room_pin(dir: &std::path::Path, pin: &str) {
    let out = pbx_admin(dir, &["plan", "show", "--tenant", "demo"]);
    let mut plan: Value = serde_json::from_slice(&out.stdout).unwrap();
    plan["conferences"][0]["pin"] = Value::from(pin);
    let file = dir.join("plan.json");
    std::fs::write(&file, plan.to_string()).unwrap();
    pbx_admin(
        dir,
        &["plan", "set", "--tenant", "demo", file.to_str().unwrap()],
    );
}

/// `user` dials room 500 with telephone-events (101); answered by the switch.
fn dial_room(pbx: &Pbx, user: &str) -> (Caller, UdpSocket, SocketAddr) {
    let rtp = UdpSocket::bind("127.0.0.1:0").unwrap();
    rtp.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let port = rtp.local_addr().unwrap().port();
    let mut caller = Caller::call_with_events(pbx, user, "500", port, 101);
    assert_eq!(caller.expect(200), 200);
    caller.ack();
    let to = media_target(&caller);
    (caller, rtp, to)
}

/// The mean absolute sample of the PCMU packets `sock` receives over `for_ms`.
fn loudness(sock: &UdpSocket, for_ms: u64) -> f64 {
    let until = Instant::now() + Duration::from_millis(for_ms);
    let (mut sum, mut n) = (0f64, 0usize);
    let mut buf = [0u8; 2048];
    while Instant::now() < until {
        let Ok((len, _)) = sock.recv_from(&mut buf) else {
            break;
        };
        if len <= 12 || buf[1] & 0x7f != 0 {
            continue;
        }
        for &b in &buf[12..len] {
            sum += f64::from(media::codec::g711::ulaw_decode(b)).abs();
            n += 1;
        }
    }
    sum / n.max(1) as f64
}

#[test]
fn a_room_with_a_pin_asks_for_it_seats_who_typed_it_and_hangs_up_on_wrong_ones() {
    let dir = temp_dir();
    let mut pbx = Pbx::start(dir.path());
    pbx.stop();
    set_room_pin(dir.path(), "4321");
    pbx.restart();

    // Three wrong PINs: the caller hears the prompt, then is hung up.
    let (mut wrong, rtp, to) = dial_room(&pbx, "102");
    assert!(loudness(&rtp, 500) > 200.0, "the PIN prompt is heard");
    press(&rtp, to, "1111#", 0);
    press(&rtp, to, "2222#", 10);
    press(&rtp, to, "3333#", 20);
    wrong.c.set_timeout(Duration::from_secs(8));
    wrong.answer_request("BYE");

    // Two callers who type it are seated and hear each other.
    let (_a, a_rtp, a_to) = dial_room(&pbx, "100");
    assert!(loudness(&a_rtp, 300) > 200.0, "the PIN prompt is heard");
    press(&a_rtp, a_to, "4321#", 0);
    let (_b, b_rtp, b_to) = dial_room(&pbx, "101");
    press(&b_rtp, b_to, "4321#", 0);
    // Seated, B hears nobody but A: silence until A speaks, then A's tone.
    loudness(&b_rtp, 300);
    let quiet = loudness(&b_rtp, 300);
    let sender = std::thread::spawn(move || {
        for seq in 0..100 {
            a_rtp.send_to(&tone_packet(1000.0, seq, 0xA), a_to).unwrap();
            std::thread::sleep(Duration::from_millis(20));
        }
    });
    std::thread::sleep(Duration::from_millis(400));
    let heard = loudness(&b_rtp, 800);
    sender.join().unwrap();
    assert!(
        quiet < 50.0 && heard > 1000.0,
        "B hears silence ({quiet:.0}) before A speaks, then A ({heard:.0})"
    );
    let _ = b_to;
}

/// Sends a REFER in `c`'s call with `refer_to` and returns its final response's
/// code and the status line of the NOTIFY that ends its subscription (each NOTIFY
/// answered; they may come before the REFER's answer).
fn refer(c: &mut Caller, refer_to: &str) -> (u16, String) {
    c.send_request("REFER", &format!("Refer-To: {refer_to}\r\n"));
    let (mut code, mut outcome) = (None, None);
    while code.is_none() || outcome.is_none() {
        let m = c.c.recv().expect("the REFER's answer and NOTIFYs");
        if m.method().map(|x| x.as_str()) == Some("NOTIFY") {
            c.c.send_raw(&engine::sip::MessageWriter::response_to(&m, 200, "OK", None).finish());
            let state = m
                .header_lines()
                .find(|(_, name, _)| name.eq_ignore_ascii_case("Subscription-State"))
                .map(|(_, _, v)| v.to_owned())
                .unwrap_or_default();
            if state.starts_with("terminated") {
                outcome = Some(String::from_utf8_lossy(m.body()).trim().to_owned());
            }
        } else if m.cseq().map(|c| c.method) == Some("REFER") && m.code() >= Some(200) {
            code = m.code();
        }
    }
    (code.unwrap(), outcome.unwrap())
}

/// `Replaces` for the caller's side of `call`'s dialog, escaped for a Refer-To URI.
fn replaces_of(call: &Caller) -> String {
    let value = format!(
        "call-{};to-tag={};from-tag=caller1",
        call.c.local,
        call.to_tag.as_deref().unwrap()
    );
    value
        .replace('@', "%40")
        .replace(';', "%3B")
        .replace('=', "%3D")
}

/// A socket for a test phone's RTP.
fn rtp_socket() -> UdpSocket {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    s
}

fn port_of(s: &UdpSocket) -> u16 {
    s.local_addr().unwrap().port()
}

/// 100's two answered calls: to 101 (RTP on `b_port`), then to 102 with
/// telephone-events (RTP on `c_port`, else on `a_rtp`), and the phones' sockets.
struct TwoCalls {
    b: Device,
    c: Device,
    call_b: Caller,
    call_c: Caller,
    a_rtp: UdpSocket,
    b_rtp: UdpSocket,
    c_rtp: UdpSocket,
}

fn two_calls(pbx: &Pbx, b_port: u16, c_port: Option<u16>) -> TwoCalls {
    let mut b = Device::register(pbx, "101");
    let mut c = Device::register(pbx, "102");
    let (a_rtp, b_rtp, c_rtp) = (rtp_socket(), rtp_socket(), rtp_socket());
    let mut call_b = Caller::call_with_media(pbx, "100", "101", b_port);
    b.answer(port_of(&b_rtp));
    assert_eq!(call_b.expect(200), 200);
    call_b.ack();
    let c_port = c_port.unwrap_or_else(|| port_of(&a_rtp));
    let mut call_c = Caller::call_with_events(pbx, "100", "102", c_port, 101);
    c.answer(port_of(&c_rtp));
    assert_eq!(call_c.expect(200), 200);
    call_c.ack();
    TwoCalls {
        b,
        c,
        call_b,
        call_c,
        a_rtp,
        b_rtp,
        c_rtp,
    }
}

/// `talker` sends a 1 kHz tone to `to` for two seconds; meanwhile each of
/// `listeners` is measured for 600 ms in turn. Returns the talker's socket back.
fn heard_while(
    talker: UdpSocket,
    to: SocketAddr,
    listeners: &[&UdpSocket],
) -> (UdpSocket, Vec<f64>) {
    let talk = std::thread::spawn(move || {
        for seq in 0..150 {
            talker
                .send_to(&tone_packet(1000.0, seq, 0x7a1c), to)
                .unwrap();
            std::thread::sleep(Duration::from_millis(20));
        }
        talker
    });
    std::thread::sleep(Duration::from_millis(400));
    // The loudest of 300 ms windows while the talker talks: a party seated a moment
    // late (a loaded machine) is still heard; one that hears nothing stays at 0.
    let until = Instant::now() + Duration::from_millis(2200);
    let heard = listeners
        .iter()
        .map(|l| {
            let mut best = loudness(l, 300);
            while best <= 1000.0 && Instant::now() < until {
                best = best.max(loudness(l, 300));
            }
            best
        })
        .collect();
    (talk.join().unwrap(), heard)
}

#[test]
fn the_conference_button_merges_two_calls_and_the_organiser_removes_a_party() {
    let dir = temp_dir();
    let pbx = Pbx::start(dir.path());
    let TwoCalls {
        b,
        mut c,
        mut call_b,
        mut call_c,
        a_rtp,
        b_rtp,
        c_rtp,
    } = two_calls(&pbx, 41000, Some(41002));
    // The conference button: 100 calls the conference URI and REFERs each call in.
    let mut conf = Caller::call_with_media(&pbx, "100", "conference", port_of(&a_rtp));
    assert_eq!(conf.expect(200), 200);
    conf.ack();
    let a_to = media_target(&conf);
    for (call, user) in [(&mut call_b, "101"), (&mut call_c, "102")] {
        let refer_to = format!("<sip:{user}@127.0.0.1?Replaces={}>", replaces_of(call));
        let outcome = refer(&mut conf, &refer_to);
        assert_eq!(outcome, (202, "SIP/2.0 200 OK".into()), "{user} brought in");
        // The organiser's own leg of that call is hung up.
        call.answer_request("BYE");
    }
    // 101 talks: 100 (in the room) and 102 hear it.
    // 100 sends too, so its port latches (it is heard by the others, not itself).
    a_rtp
        .send_to(&tone_packet(1000.0, 0, 0xA)[..12], a_to)
        .unwrap();
    let b_to = sdp_target(b.invite.as_ref().unwrap());
    let (_, heard) = heard_while(b_rtp, b_to, &[&a_rtp, &c_rtp]);
    assert!(
        heard.iter().all(|&h| h > 1000.0),
        "101 is heard by 100 and 102: {heard:?}"
    );
    // The organiser removes 102: its phone gets BYE.
    let outcome = refer(&mut conf, "<sip:102@127.0.0.1;method=BYE>");
    assert_eq!(outcome, (202, "SIP/2.0 200 OK".into()));
    c.answer_request("BYE");
    // Somebody not in the room cannot be removed.
    let outcome = refer(&mut conf, "<sip:105@127.0.0.1;method=BYE>");
    assert_eq!(outcome, (202, "SIP/2.0 404 Not Found".into()));
}

#[test]
fn only_the_organiser_brings_parties_in_and_only_from_its_own_calls() {
    let dir = temp_dir();
    let pbx = Pbx::start(dir.path());
    let mut d = Device::register(&pbx, "103");
    // 102 calls 103: a call the organiser (100) is not in.
    let mut other = Caller::call_with_media(&pbx, "102", "103", 41010);
    d.answer(41012);
    assert_eq!(other.expect(200), 200);
    other.ack();
    let mut conf = Caller::call_with_media(&pbx, "100", "conference", 41014);
    assert_eq!(conf.expect(200), 200);
    conf.ack();
    // Naming 102's dialog (as if learnt off the wire) brings nobody in.
    let refer_to = format!("<sip:103@127.0.0.1?Replaces={}>", replaces_of(&other));
    assert_eq!(
        refer(&mut conf, &refer_to),
        (202, "SIP/2.0 481 Call/Transaction Does Not Exist".into())
    );
    // A member of a plan room organises nothing.
    let mut member = Caller::call_with_media(&pbx, "101", "500", 41016);
    assert_eq!(member.expect(200), 200);
    member.ack();
    member.send_request("REFER", "Refer-To: <sip:102@127.0.0.1;method=BYE>\r\n");
    let code = loop {
        let m = member.c.recv().expect("an answer to the REFER");
        if m.cseq().map(|c| c.method) == Some("REFER") && m.code() >= Some(200) {
            break m.code().unwrap();
        }
    };
    assert_eq!(code, 403);
    // 102's call goes on: its BYE is answered.
    other.bye();
}

#[test]
fn the_api_merges_a_lines_two_calls_into_a_conference() {
    let dir = temp_dir();
    let pbx = Pbx::start(dir.path());
    let admin = crate::common::api_client::key(dir.path(), &["--tenant", "demo", "--name", "cti"]);
    let TwoCalls {
        b,
        mut call_b,
        mut call_c,
        a_rtp,
        b_rtp,
        c_rtp,
        ..
    } = two_calls(&pbx, 41040, None);
    // What the user's client asks instead of typing *33.
    let (code, body) = crate::common::api_client::send(
        pbx.http.unwrap(),
        "POST",
        "/api/v1/lines/100/calls/conference",
        &admin,
        serde_json::Value::Null,
    );
    assert_eq!(code, 200, "{body}");
    call_b.answer_request("BYE");
    let _reinvite = call_c.answer_reinvite(port_of(&a_rtp), "sendrecv");
    let b_to = sdp_target(b.invite.as_ref().unwrap());
    let (_, heard) = heard_while(b_rtp, b_to, &[&a_rtp, &c_rtp]);
    assert!(
        heard.iter().all(|&h| h > 1000.0),
        "101 is heard by 100 and 102: {heard:?}"
    );
}

#[test]
fn the_api_connects_a_lines_two_calls_and_the_line_leaves_both() {
    let dir = temp_dir();
    let pbx = Pbx::start(dir.path());
    let admin = crate::common::api_client::key(dir.path(), &["--tenant", "demo", "--name", "cti"]);
    let TwoCalls {
        b,
        mut call_b,
        mut call_c,
        b_rtp,
        c_rtp,
        ..
    } = two_calls(&pbx, 41060, None);
    // The attended transfer of the user's client: 101 and 102 talk, 100 is gone.
    let (code, body) = crate::common::api_client::send(
        pbx.http.unwrap(),
        "POST",
        "/api/v1/lines/100/calls/connect",
        &admin,
        serde_json::Value::Null,
    );
    assert_eq!(code, 200, "{body}");
    call_b.answer_request("BYE");
    call_c.answer_request("BYE");
    let b_to = sdp_target(b.invite.as_ref().unwrap());
    let (_, heard) = heard_while(b_rtp, b_to, &[&c_rtp]);
    assert!(heard[0] > 1000.0, "102 hears 101: {heard:?}");
}

#[test]
fn star_33_merges_the_call_and_the_other_call_into_a_conference() {
    let dir = temp_dir();
    let pbx = Pbx::start(dir.path());
    let TwoCalls {
        b,
        mut c,
        mut call_b,
        mut call_c,
        a_rtp,
        b_rtp,
        c_rtp,
    } = two_calls(&pbx, 41020, None);
    // 100 types *33 during the call with 102.
    press(&a_rtp, media_target(&call_c), "*33", 0);
    // Its leg of the call with 101 is hung up; its phone is pointed at a new port.
    call_b.answer_request("BYE");
    let reinvite = call_c.answer_reinvite(port_of(&a_rtp), "sendrecv");
    let a_to = sdp_target(&reinvite);
    // 101 talks: 100 and 102 hear it.
    let b_to = sdp_target(b.invite.as_ref().unwrap());
    let (b_rtp, heard) = heard_while(b_rtp, b_to, &[&a_rtp, &c_rtp]);
    assert!(
        heard.iter().all(|&h| h > 1000.0),
        "101 is heard by 100 and 102: {heard:?}"
    );
    // 100 talks from its new port: 101 hears it.
    let (a_rtp, heard) = heard_while(a_rtp, a_to, &[&b_rtp]);
    assert!(heard[0] > 1000.0, "100 is heard by 101: {heard:?}");
    // 100 calls 103 and types *33 again: 103 joins the same room, 100's leg to it ends.
    let mut d = Device::register(&pbx, "103");
    let (a3_rtp, d_rtp) = (rtp_socket(), rtp_socket());
    let mut call_d = Caller::call_with_events(&pbx, "100", "103", port_of(&a3_rtp), 101);
    d.answer(port_of(&d_rtp));
    assert_eq!(call_d.expect(200), 200);
    call_d.ack();
    press(&a3_rtp, media_target(&call_d), "*33", 0);
    call_d.answer_request("BYE");
    let (b_rtp, heard) = heard_while(b_rtp, b_to, &[&d_rtp]);
    assert!(heard[0] > 1000.0, "103, added, hears 101: {heard:?}");
    // 102 is in the room but organises nothing: its REFER is refused.
    let refused = c.request("REFER", "Refer-To: <sip:101@127.0.0.1;method=BYE>\r\n");
    assert_eq!(refused, 403);
    // 100 (in the same call as 102) removes 102: 102 goes, 100 stays and hears 101.
    let outcome = refer(&mut call_c, "<sip:102@127.0.0.1;method=BYE>");
    assert_eq!(outcome, (202, "SIP/2.0 200 OK".into()));
    c.answer_request("BYE");
    let (_, heard) = heard_while(b_rtp, b_to, &[&a_rtp]);
    assert!(heard[0] > 1000.0, "100 still hears 101: {heard:?}");
    // 100 leaves: 103 stays in the room (no BYE for it).
    call_c.bye();
    d.c.set_timeout(Duration::from_millis(500));
    assert!(
        d.c.recv()
            .is_none_or(|m| m.method().map(|x| x.as_str()) != Some("BYE")),
        "103 stays when 100 leaves"
    );
}

#[test]
fn a_room_member_gets_rtcp_reports_from_the_switch() {
    let dir = temp_dir();
    let pbx = Pbx::start(dir.path());
    // An RTP port with its RTCP port next to it.
    let (rtp, rtcp) = (20_000..30_000u16)
        .step_by(2)
        .find_map(|p| {
            let rtp = UdpSocket::bind(("127.0.0.1", p)).ok()?;
            let rtcp = UdpSocket::bind(("127.0.0.1", p + 1)).ok()?;
            Some((rtp, rtcp))
        })
        .unwrap();
    rtcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let port = rtp.local_addr().unwrap().port();
    let mut member = Caller::call_with_media(&pbx, "100", "500", port);
    assert_eq!(member.expect(200), 200);
    member.ack();
    // It talks; the room's mix comes back, and with it the switch's reports.
    let to = media_target(&member);
    for seq in 0..5 {
        rtp.send_to(&tone_packet(1000.0, seq, 0xA), to).unwrap();
    }
    let mut buf = [0u8; 1500];
    let (n, _) = rtcp.recv_from(&mut buf).expect("an RTCP report within 5 s");
    let packets = media::rtcp::parse_compound(&buf[..n]).unwrap();
    assert!(
        matches!(&packets[0], media::rtcp::RtcpPacket::SenderReport(sr) if sr.packet_count > 0),
        "{packets:?}"
    );
    member.bye();
}
