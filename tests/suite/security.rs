//! Attacks on the switch, run on loopback as an attacker would run them (raw UDP and
//! TCP sockets, SIPVicious): each fails, the call or registration it aimed at is
//! unharmed, and nothing stored changes. The attacker's host is another loopback
//! address (127.0.0.66) unless the attack needs the victim's own address.

use std::io::Read;
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::process::Command;
use std::time::Duration;

use crate::common::call_helpers::*;
use crate::common::sip_client::{authorization, contacts, SipClient};
use crate::common::{temp_dir, Pbx};
use engine::auth::Algorithm;
use engine::sip::{HeaderName, Message};

const ATTACKER: &str = "127.0.0.66";

fn attacker_socket() -> UdpSocket {
    let s = UdpSocket::bind((ATTACKER, 0)).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    s
}

/// Datagrams that reach `sock` until it stays quiet for its read timeout.
fn drain(sock: &UdpSocket) -> usize {
    let mut buf = [0u8; 4096];
    let mut n = 0;
    while sock.recv_from(&mut buf).is_ok() {
        n += 1;
    }
    n
}

/// Registers `user` (demo password) with `contact`; the 200's Contact list.
fn register(c: &mut SipClient, user: &str, contact: Option<&str>) -> Vec<String> {
    let resp = c.register(
        user,
        &format!("secret{user}"),
        "127.0.0.1",
        contact,
        Some(600),
        Algorithm::Md5,
    );
    assert_eq!(resp.code(), Some(200), "{user} registers");
    contacts(&resp)
}

#[test]
fn password_guessing_locks_the_guesser_out_but_nobody_else() {
    let dir = temp_dir();
    let pbx = Pbx::start(dir.path());
    let mut guesser = SipClient::udp(pbx.addr);
    let contact = "<sip:101@127.0.0.1:7001>";
    for _ in 0..6 {
        let resp = guesser.register(
            "101",
            "guess",
            "127.0.0.1",
            Some(contact),
            None,
            Algorithm::Md5,
        );
        assert_eq!(resp.code(), Some(403));
    }
    // Now even the right password is not looked at from that address: the challenge
    // comes, the answer to it does not.
    guesser.set_timeout(Duration::from_secs(1));
    assert!(
        guesser
            .register_past_challenge("101", Some(contact), "")
            .is_none(),
        "a penalised source gets no answer"
    );
    // Another host registers the same line at once.
    let mut phone = SipClient::udp_from(pbx.addr, "127.0.0.2");
    assert_eq!(register(&mut phone, "101", Some(contact)).len(), 1);
}

/// The output of a SIPVicious tool run against the switch from the attacker's host.
fn sipvicious(tool: &str, args: &[&str], target: SocketAddr) -> String {
    let out = Command::new(tool)
        .args(args)
        .args(["-b", ATTACKER, "-p", &target.port().to_string()])
        .arg(target.ip().to_string())
        .output()
        .unwrap_or_else(|e| panic!("{tool} runs (Debian package sipvicious): {e}"));
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn svcrack_does_not_find_a_password_in_its_dictionary() {
    let dir = temp_dir();
    let pbx = Pbx::start(dir.path());
    // The right password sits at place 31 of 60 guesses.
    let mut words: Vec<String> = (0..60).map(|i| format!("guess{i}")).collect();
    words[30] = "secret100".into();
    let dict = dir.path().join("dictionary.txt");
    std::fs::write(&dict, words.join("\n")).unwrap();
    let out = sipvicious(
        "svcrack",
        &["-u", "100", "-d", dict.to_str().unwrap()],
        pbx.addr,
    );
    assert!(!out.contains("secret100"), "svcrack found it:\n{out}");
    // The line is unharmed.
    let mut phone = SipClient::udp(pbx.addr);
    assert_eq!(
        register(&mut phone, "100", Some("<sip:100@127.0.0.1:7000>")).len(),
        1
    );
}

#[test]
fn svwar_cannot_tell_extensions_from_numbers_that_do_not_exist() {
    let dir = temp_dir();
    let pbx = Pbx::start(dir.path());
    for method in ["REGISTER", "INVITE", "SUBSCRIBE"] {
        let out = sipvicious(
            "svwar",
            &["-e", "90-115", "-m", method, "--force"],
            pbx.addr,
        );
        // Whatever it reports for an extension (100–109), it reports for the numbers
        // around them that are no extension too.
        let listed = |ext: &str| {
            out.lines()
                .any(|l| l.split('|').any(|cell| cell.trim() == ext))
        };
        let known = (100..110).filter(|e| listed(&e.to_string())).count();
        let unknown = (90..100)
            .chain(110..116)
            .filter(|e| listed(&e.to_string()))
            .count();
        assert!(
            known == 0 || unknown == 16,
            "{method}: svwar told extensions apart ({known} known, {unknown} unknown listed):\n{out}"
        );
    }
}

#[test]
fn unknown_users_are_challenged_like_known_ones() {
    let dir = temp_dir();
    let pbx = Pbx::start(dir.path());
    let mut c = SipClient::udp_from(pbx.addr, ATTACKER);
    let names = |m: &Message| -> Vec<String> {
        m.header_lines()
            .map(|(_, name, _)| name.to_ascii_lowercase())
            .collect()
    };
    let ask = |c: &mut SipClient, user: &str| {
        let text = c.register_text(user, "127.0.0.1", Some("<sip:x@127.0.0.1:9>"), None, "");
        c.send_raw(text.as_bytes());
        c.recv().unwrap()
    };
    let known = ask(&mut c, "100");
    let unknown = ask(&mut c, "555");
    assert_eq!((known.code(), unknown.code()), (Some(401), Some(401)));
    assert_eq!(names(&known), names(&unknown));
    let shape = |m: &Message| {
        let v = m.header(HeaderName::WwwAuthenticate).unwrap();
        v.split(',')
            .map(|p| p.split('=').next().unwrap().trim().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(shape(&known), shape(&unknown));
    // Credentials for the unknown user get the wrong password's 403.
    let resp = c.register("555", "secret555", "127.0.0.1", None, None, Algorithm::Md5);
    assert_eq!(resp.code(), Some(403));
    // And an unknown caller is challenged for its INVITE as a known one is.
    let mut a = Caller::call(&pbx, "555", "100");
    assert_eq!(a.expect(403), 403);
}

#[test]
fn subscriptions_are_challenged_and_guessed_at_like_registrations() {
    let dir = temp_dir();
    let pbx = Pbx::start(dir.path());
    let mut c = SipClient::udp_from(pbx.addr, ATTACKER);
    let dialog = Package {
        event: "dialog",
        accept: "application/dialog-info+xml",
    };
    // Watching a line as a known and as an unknown user: the same challenge, and the
    // same 403 for an answer to it.
    let ask = |c: &mut SipClient, user: &str, n: u32| {
        subscribe_as(
            c,
            (user, "guess", "101"),
            &dialog,
            (&format!("scan-{user}-{n}"), 1),
            (None, 600),
        )
    };
    let known = ask(&mut c, "100", 0);
    let unknown = ask(&mut c, "555", 0);
    assert_eq!((known.code(), unknown.code()), (Some(403), Some(403)));
    // Guessing on: the source is penalised, and then even the right password gets no
    // answer from it.
    for n in 1..5 {
        assert_eq!(ask(&mut c, "100", n).code(), Some(403));
    }
    c.set_timeout(Duration::from_secs(1));
    let uri = "sip:101@127.0.0.1";
    let first = format!(
        "SUBSCRIBE {uri} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bKpen1;rport\r\n\
         Max-Forwards: 70\r\nFrom: <sip:100@127.0.0.1>;tag=a\r\nTo: <{uri}>\r\n\
         Call-ID: penalised\r\nCSeq: 1 SUBSCRIBE\r\nContact: <sip:100@{local}>\r\n\
         Event: dialog\r\nExpires: 600\r\nContent-Length: 0\r\n\r\n",
        local = c.local
    );
    c.send_raw(first.as_bytes());
    let challenge = c.recv().expect("a challenge");
    assert_eq!(challenge.code(), Some(407));
    let auth = authorization(
        &challenge,
        Algorithm::Md5,
        "100",
        "secret100",
        uri,
        "SUBSCRIBE",
    );
    let right = first
        .replace("CSeq: 1", "CSeq: 2")
        .replace("z9hG4bKpen1", "z9hG4bKpen2")
        .replace(
            "Content-Length",
            &format!("Proxy-Authorization: {auth}\r\nContent-Length"),
        );
    c.send_raw(right.as_bytes());
    assert!(c.recv().is_none(), "a penalised source gets no answer");
    // The line's own phone, on another host, watches 101 at once.
    let mut phone = SipClient::udp_from(pbx.addr, "127.0.0.2");
    let ok = subscribe_to(
        &mut phone,
        ("100", "101"),
        &dialog,
        ("phone-100", 1),
        (None, 600),
    );
    assert_eq!(ok.code(), Some(200));
}

#[test]
fn replayed_register_credentials_register_nothing() {
    let dir = temp_dir();
    let pbx = Pbx::start(dir.path());
    let mut phone = SipClient::udp(pbx.addr);
    let contact = "<sip:102@127.0.0.1:7002>";
    // The phone's REGISTER, captured on the wire.
    let first = phone.register_text("102", "127.0.0.1", Some(contact), None, "");
    phone.send_raw(first.as_bytes());
    let challenge = phone.recv().unwrap();
    let auth = authorization(
        &challenge,
        Algorithm::Md5,
        "102",
        "secret102",
        "sip:127.0.0.1",
        "REGISTER",
    );
    let good = phone.register_text(
        "102",
        "127.0.0.1",
        Some(contact),
        None,
        &format!("Authorization: {auth}\r\n"),
    );
    phone.send_raw(good.as_bytes());
    assert_eq!(phone.recv().unwrap().code(), Some(200));
    // The attacker sends the captured credentials with its own Contact, from the
    // phone's address (a spoofed source) and from its own.
    let evil_contact = format!("<sip:102@{ATTACKER}:6666>");
    for mut evil in [
        SipClient::udp(pbx.addr),
        SipClient::udp_from(pbx.addr, ATTACKER),
    ] {
        let replay = evil.register_text(
            "102",
            "127.0.0.1",
            Some(&evil_contact),
            None,
            &format!("Authorization: {auth}\r\n"),
        );
        evil.send_raw(replay.as_bytes());
        assert_eq!(evil.recv().unwrap().code(), Some(401), "replay refused");
    }
    // The phone's binding is the only one.
    let bound = register(&mut phone, "102", None);
    assert_eq!(bound, vec!["sip:102@127.0.0.1:7002".to_owned()]);
}

#[test]
fn replayed_invite_credentials_call_nobody() {
    let dir = temp_dir();
    let pbx = Pbx::start(dir.path());
    let mut callee = Device::register(&pbx, "103");
    let mut a = Caller::call(&pbx, "100", "104");
    assert_eq!(a.expect(486), 486, "104 has no device");
    let captured = a
        .invite
        .lines()
        .find(|l| l.starts_with("Proxy-Authorization:"))
        .unwrap()
        .to_owned();
    // The same credentials again: on an INVITE to 104 (a new call, from the same
    // address), and on one to 103.
    for (target, code) in [("104", 407), ("103", 403)] {
        let mut evil = SipClient::udp(pbx.addr);
        let local = evil.local;
        let invite = format!("INVITE sip:{target}@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bKreplay;rport\r\nFrom: <sip:100@127.0.0.1>;tag=evil\r\nTo: <sip:{target}@127.0.0.1>\r\nCall-ID: replay-{local}\r\nCSeq: 1 INVITE\r\nContact: <sip:100@{local}>\r\nMax-Forwards: 70\r\n{captured}\r\nContent-Length: 0\r\n\r\n");
        evil.send_raw(invite.as_bytes());
        let resp = evil.recv().unwrap();
        // A count used before is challenged; a URI other than the one signed is refused.
        assert_eq!(
            resp.code(),
            Some(code),
            "the replay to {target} is not placed"
        );
    }
    callee.c.set_timeout(Duration::from_millis(500));
    assert!(callee.next_invite(&[]).is_none(), "103 did not ring");
}

#[test]
fn a_tcp_binding_from_before_a_restart_is_never_handed_to_a_newcomer() {
    let dir = temp_dir();
    let mut pbx = Pbx::start(dir.path());
    let mut phone = SipClient::tcp(pbx.addr);
    let contact = format!("<sip:104@{};transport=tcp>", phone.local);
    assert_eq!(register(&mut phone, "104", Some(&contact)).len(), 1);
    pbx.restart();
    // Newcomers open connections, as many as the phone's ids could have been.
    let mut evil: Vec<SipClient> = (0..5)
        .map(|_| SipClient::tcp_from(pbx.addr, ATTACKER))
        .collect();
    let mut a = Caller::call(&pbx, "100", "104");
    assert_eq!(a.expect(486), 486, "the gone connection is no device");
    for e in &mut evil {
        e.set_timeout(Duration::from_millis(300));
        assert!(e.recv().is_none(), "a newcomer got the phone's INVITE");
    }
}

#[test]
fn tcp_connections_are_capped_per_source() {
    let dir = temp_dir();
    let pbx = Pbx::start(dir.path());
    let mut conns: Vec<TcpStream> = (0..140)
        .map(|_| TcpStream::connect(pbx.addr).unwrap())
        .collect();
    let mut closed = 0;
    for c in &mut conns {
        c.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
        let mut b = [0u8; 16];
        if matches!(c.read(&mut b), Ok(0)) {
            closed += 1;
        }
    }
    assert_eq!(closed, 12, "128 connections from one address at most");
    // Another host is served over TCP meanwhile.
    let mut phone = SipClient::tcp_from(pbx.addr, "127.0.0.3");
    assert_eq!(register(&mut phone, "105", None).len(), 0);
}

/// Sends one RTP packet with a fresh SSRC to every even port of `ports`.
fn sweep(sock: &UdpSocket, ports: std::ops::Range<u16>, round: u32) {
    for (i, port) in ports.step_by(2).enumerate() {
        let mut pkt = vec![0x80, 0x00, 0, 1, 0, 0, 0, 160];
        pkt.extend_from_slice(&(round << 16 | i as u32).to_be_bytes());
        pkt.extend(std::iter::repeat_n(0xffu8, 160));
        let _ = sock.send_to(&pkt, ("127.0.0.1", port));
    }
}

#[test]
fn sweeping_the_rtp_ports_hears_nothing_of_a_call() {
    let dir = temp_dir();
    let mut pbx = Pbx::start_with(dir.path(), "127.0.0.1:0", &["--rtp-ports", "31000-31199"]);
    let evil = attacker_socket();
    let mut b = Device::register(&pbx, "102");
    let b_rtp = UdpSocket::bind("127.0.0.1:0").unwrap();
    let b_port = b_rtp.local_addr().unwrap().port();
    let rtp = UdpSocket::bind("127.0.0.1:0").unwrap();
    rtp.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let mut a = Caller::call_with_media(&pbx, "100", "102", rtp.local_addr().unwrap().port());
    // During call setup (before anyone has sent media): the latch window.
    sweep(&evil, 31000..31200, 0);
    b.answer(b_port);
    assert_eq!(a.expect(200), 200);
    a.ack();
    sweep(&evil, 31000..31200, 1);
    let echo = echo_thread(b_rtp);
    // During the call, between the parties' packets.
    for round in 2..6 {
        sweep(&evil, 31000..31200, round);
        std::thread::sleep(Duration::from_millis(20));
    }
    let n = echoed(&rtp, media_target(&a));
    assert!(
        n >= 45,
        "the callee still hears the caller: {n} of 50 came back"
    );
    sweep(&evil, 31000..31200, 9);
    assert_eq!(drain(&evil), 0, "the sweeper received RTP");
    a.bye();
    b.answer_request("BYE");
    assert!(echo.join().unwrap() >= 45);
    assert_eq!(journal(&mut pbx).len(), 1);
}

#[test]
fn forged_responses_and_requests_with_a_calls_call_id_do_nothing() {
    let dir = temp_dir();
    let pbx = Pbx::start(dir.path());
    let mut b = Device::register(&pbx, "102");
    let b_rtp = UdpSocket::bind("127.0.0.1:0").unwrap();
    let b_port = b_rtp.local_addr().unwrap().port();
    let rtp = UdpSocket::bind("127.0.0.1:0").unwrap();
    rtp.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let mut a = Caller::call_with_media(&pbx, "100", "102", rtp.local_addr().unwrap().port());
    b.answer(b_port);
    assert_eq!(a.expect(200), 200);
    a.ack();
    let echo = echo_thread(b_rtp);
    let evil = attacker_socket();
    let call_id = format!("call-{}", a.c.local);
    let to_tag = a.to_tag.clone().unwrap();
    let head = |start: &str, cseq: &str, to_tag: &str| {
        format!("{start}\r\nVia: SIP/2.0/UDP {ATTACKER}:5060;branch=z9hG4bKforged;rport\r\nFrom: <sip:100@127.0.0.1>;tag=caller1\r\nTo: <sip:102@127.0.0.1>;tag={to_tag}\r\nCall-ID: {call_id}\r\nCSeq: {cseq}\r\n")
    };
    let sdp = format!("v=0\r\no=- 9 9 IN IP4 {ATTACKER}\r\ns=-\r\nc=IN IP4 {ATTACKER}\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\na=sendonly\r\n");
    let forged = [
        // A 200 with SDP pointing the media at the attacker, and one putting it on hold.
        format!(
            "{}Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
            head("SIP/2.0 200 OK", "2 INVITE", &to_tag),
            sdp.len()
        ),
        // A 481 to end it.
        format!(
            "{}Content-Length: 0\r\n\r\n",
            head("SIP/2.0 481 Call Does Not Exist", "3 BYE", &to_tag)
        ),
        // A BYE with the Call-ID and the caller's tag but not the switch's.
        format!(
            "{}Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
            head("BYE sip:pbx@127.0.0.1 SIP/2.0", "9 BYE", "guessed")
        ),
    ];
    for m in &forged {
        evil.send_to(m.as_bytes(), pbx.addr).unwrap();
    }
    let mut buf = [0u8; 4096];
    let (n, _) = evil
        .recv_from(&mut buf)
        .expect("the forged BYE is answered");
    let resp = Message::parse(buf[..n].to_vec()).unwrap();
    assert_eq!(resp.code(), Some(481));
    let n = echoed(&rtp, media_target(&a));
    assert!(n >= 45, "the call's media is where it was: {n} of 50");
    assert_eq!(drain(&evil), 0);
    a.bye();
    b.answer_request("BYE");
    assert!(echo.join().unwrap() >= 45);
}

#[test]
fn a_spoofed_invite_is_answered_once_not_reflected() {
    let dir = temp_dir();
    let pbx = Pbx::start(dir.path());
    let victim = attacker_socket();
    let local = victim.local_addr().unwrap();
    let invite = format!("INVITE sip:101@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bKspoof;rport\r\nFrom: <sip:100@127.0.0.1>;tag=s\r\nTo: <sip:101@127.0.0.1>\r\nCall-ID: spoof\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n");
    victim.send_to(invite.as_bytes(), pbx.addr).unwrap();
    victim
        .set_read_timeout(Some(Duration::from_millis(2500)))
        .unwrap();
    // One 407; no retransmissions of it (Timer G would send again at 0.5 s, 1.5 s …).
    assert_eq!(drain(&victim), 1);
}

#[test]
fn tenant_quotas_refuse_calls_over_the_limit() {
    let dir = temp_dir();
    let mut pbx = Pbx::start(dir.path());
    // Set while the switch is stopped; it reads them as it starts.
    pbx.stop();
    let out = pbx_admin(
        dir.path(),
        &[
            "tenant",
            "limits",
            "demo",
            "--max-calls",
            "1",
            "--line-max-cps",
            "5",
        ],
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("max-calls=1"));
    pbx.restart();
    let mut b = Device::register(&pbx, "102");
    let mut first = Caller::call(&pbx, "100", "102");
    assert!(b.next_invite(&[]).is_some(), "the first call rings");
    let mut second = Caller::call(&pbx, "101", "103");
    assert_eq!(second.expect(503), 503);
    let refusal = second.last.clone().unwrap();
    let warning = refusal.values_named("Warning").next().unwrap_or("");
    assert!(warning.contains("tenant call limit"), "{warning}");
    first.cancel();
    assert_eq!(first.expect(487), 487);
}

#[test]
fn a_display_name_cannot_smuggle_headers_into_the_callees_invite() {
    let dir = temp_dir();
    let pbx = Pbx::start(dir.path());
    let mut b = Device::register(&pbx, "102");
    let mut a = Caller::call_as(&pbx, "100", "\"Eve\rX-Injected: yes\" ", "102");
    match b.next_invite(&[]) {
        Some(invite) => {
            assert!(invite.values_named("X-Injected").next().is_none());
            let raw = String::from_utf8_lossy(invite.as_bytes()).into_owned();
            assert!(!raw.contains("\rX-Injected"), "{raw}");
            a.cancel();
        }
        // Or the switch refused the message outright.
        None => assert_eq!(a.expect(400), 400),
    }
}
