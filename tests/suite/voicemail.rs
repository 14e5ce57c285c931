//! Voicemail on `pbx serve`, black-box: a line of a person has a mailbox; a caller
//! nobody answers hears the greeting and a tone and leaves a message, kept as a WAV
//! (what the caller said: a 1 kHz tone here) with a row `pbx voicemail list` shows;
//! a switch killed while a message is recorded keeps what was said until then.

use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::common::call_helpers::*;
use crate::common::{temp_dir, Pbx};

/// The greeting ("… after the tone.") and the tone.
const GREETING: Duration = Duration::from_millis(4750 + 300);

/// A switch over `dir` whose line 105 belongs to Ann (so it has a mailbox).
fn switch(dir: &Path) -> Pbx {
    let mut pbx = Pbx::start(dir);
    pbx.stop();
    pbx_admin(dir, &["person", "add", "--tenant", "demo", "Ann"]);
    pbx_admin(dir, &["line", "set-user", "--tenant", "demo", "105", "Ann"]);
    pbx.restart();
    pbx
}

/// `caller` calls 105 (no phone registered): the mailbox answers.
fn call_mailbox(pbx: &Pbx, caller: &str) -> (Caller, UdpSocket, SocketAddr) {
    let rtp = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = rtp.local_addr().unwrap().port();
    let mut call = Caller::call_with_events(pbx, caller, "105", port, 101);
    assert_eq!(call.expect(200), 200, "the mailbox answers");
    call.ack();
    let to = media_target(&call);
    (call, rtp, to)
}

/// Sends a 1 kHz tone from `rtp` to `to` for `d`.
fn say_tone(rtp: &UdpSocket, to: SocketAddr, d: Duration) {
    let start = Instant::now();
    let mut k = 0u16;
    while start.elapsed() < d {
        rtp.send_to(&tone_packet(1000.0, k, 0x5151), to).unwrap();
        k = k.wrapping_add(1);
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Power of `freq` in `samples` (8 kHz), by Goertzel.
fn power(samples: &[i16], freq: f64) -> f64 {
    let w = 2.0 * std::f64::consts::PI * freq / 8000.0;
    let (mut s1, mut s2) = (0f64, 0f64);
    for &x in samples {
        let s0 = f64::from(x) + 2.0 * w.cos() * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    s1 * s1 + s2 * s2 - 2.0 * w.cos() * s1 * s2
}

/// The messages `pbx voicemail list` shows: (mailbox, caller, seconds, state, file).
fn messages(dir: &Path) -> Vec<(String, String, f64, String, String)> {
    let out = pbx_admin(dir, &["voicemail", "list", "--tenant", "demo"]);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            let secs = f[4].trim_end_matches(" s").parse().unwrap();
            (f[1].into(), f[2].into(), secs, f[5].into(), f[6].into())
        })
        .collect()
}

/// The samples of a mono WAV, checked to be 8 kHz 16-bit.
fn samples(file: &str) -> Vec<i16> {
    let r = hound::WavReader::open(file).expect("a readable WAV");
    assert_eq!((r.spec().channels, r.spec().sample_rate), (1, 8000));
    r.into_samples::<i16>().map(|s| s.unwrap()).collect()
}

#[test]
fn a_caller_nobody_answers_leaves_a_message_in_the_lines_mailbox() {
    let dir = temp_dir();
    let mut pbx = switch(dir.path());
    let (mut call, rtp, to) = call_mailbox(&pbx, "104");
    // The caller speaks (a 1 kHz tone) through the greeting and 2.5 s after it.
    say_tone(&rtp, to, GREETING + Duration::from_millis(2500));
    call.bye();
    // The switch writes the row when the caller has hung up; it stops cleanly.
    pbx.stop();
    let list = messages(dir.path());
    assert_eq!(list.len(), 1, "{list:?}");
    let (mailbox, caller, secs, state, file) = &list[0];
    assert_eq!(
        (mailbox.as_str(), caller.as_str(), state.as_str()),
        ("105", "104", "new")
    );
    assert!((1.5..4.0).contains(secs), "about 2.5 s recorded: {secs}");
    let audio = samples(file);
    assert!(audio.len() > 8000, "{} samples", audio.len());
    let tone = power(&audio, 1000.0);
    for other in [500.0, 1500.0, 2000.0] {
        assert!(
            tone > 20.0 * power(&audio, other),
            "1 kHz dominates over {other} Hz"
        );
    }
    // Line 104 has no person: no mailbox, the caller gets the hop's status and the
    // Warning that names the voicemail.
    pbx.restart();
    let mut call = Caller::call(&pbx, "105", "104");
    let code = call.expect(480);
    let warning = call
        .last
        .as_ref()
        .and_then(|m| m.values_named("Warning").next().map(str::to_owned))
        .unwrap_or_default();
    assert!(code >= 400, "{code}");
    assert!(warning.contains("voicemail 104"), "{warning}");
}

#[test]
fn a_switch_killed_while_a_message_is_recorded_keeps_what_was_said() {
    let dir = temp_dir();
    let mut pbx = switch(dir.path());
    let (_call, rtp, to) = call_mailbox(&pbx, "103");
    say_tone(&rtp, to, GREETING + Duration::from_millis(2500));
    pbx.kill();
    // At its next start the switch finds the message cut short and keeps it.
    pbx.restart();
    pbx.stop();
    let list = messages(dir.path());
    assert_eq!(list.len(), 1, "{list:?}");
    let (_, caller, secs, state, file) = &list[0];
    assert_eq!((caller.as_str(), state.as_str()), ("103", "new"));
    assert!(*secs >= 1.0, "at least the second before the kill: {secs}");
    let audio = samples(file);
    let held = audio.len() as f64 / 8000.0;
    assert!(
        (held - secs).abs() < 0.2,
        "the row says what the file holds: {held} s"
    );
    assert!(power(&audio, 1000.0) > 20.0 * power(&audio, 2000.0));
}

#[test]
fn the_user_opens_the_mailbox_with_its_pin_and_hears_its_message() {
    let dir = temp_dir();
    let pbx = switch(dir.path());
    let (mut call, rtp, to) = call_mailbox(&pbx, "104");
    say_tone(&rtp, to, GREETING + Duration::from_millis(2500));
    call.bye();
    pbx_admin(
        dir.path(),
        &["voicemail", "pin", "--tenant", "demo", "105", "1234"],
    );
    // Three wrong PINs: hung up.
    let (mut wrong, rtp, to) = open_mailbox(&pbx);
    for k in 0..3u16 {
        std::thread::sleep(Duration::from_millis(2500));
        press(&rtp, to, "1111#", k * 10);
    }
    wrong.c.set_timeout(Duration::from_secs(10));
    wrong.answer_request("BYE");
    // The right one: "you have new messages", then the message (the caller's 1 kHz).
    let (mut user, rtp, to) = open_mailbox(&pbx);
    std::thread::sleep(Duration::from_millis(500));
    press(&rtp, to, "1234#", 0);
    let audio = heard(&rtp, 6000);
    assert!(
        power(&audio, 1000.0) > 10.0 * power(&audio, 2000.0),
        "the message's tone is heard"
    );
    // Played out, it is old. After the messages, the options wait for a key; none: goodbye.
    user.c.set_timeout(Duration::from_secs(30));
    user.answer_request("BYE");
    let list = messages(dir.path());
    assert_eq!(list[0].3, "old", "{list:?}");
}

#[test]
fn pin_guessing_over_several_calls_locks_the_mailbox() {
    let dir = temp_dir();
    let pbx = switch(dir.path());
    let (mut call, rtp, to) = call_mailbox(&pbx, "104");
    say_tone(&rtp, to, GREETING + Duration::from_millis(2500));
    call.bye();
    pbx_admin(
        dir.path(),
        &["voicemail", "pin", "--tenant", "demo", "105", "1234"],
    );
    // Three calls of three wrong PINs each: hung up each time.
    for call in 0..3u16 {
        let (mut wrong, rtp, to) = open_mailbox(&pbx);
        for k in 0..3u16 {
            std::thread::sleep(Duration::from_millis(2500));
            press(&rtp, to, "9999#", (call * 3 + k) * 10);
        }
        wrong.c.set_timeout(Duration::from_secs(10));
        wrong.answer_request("BYE");
    }
    // Now even the right PIN opens nothing for a while: the caller is hung up and
    // the message is not played (played out, it would be old).
    let (mut user, rtp, to) = open_mailbox(&pbx);
    std::thread::sleep(Duration::from_millis(500));
    press(&rtp, to, "1234#", 0);
    user.c.set_timeout(Duration::from_secs(30));
    user.answer_request("BYE");
    let list = messages(dir.path());
    assert_eq!(list[0].3, "new", "{list:?}");
}

/// A SUBSCRIBE to `user`'s message summary from `c`, answered (a 407 with the line's
/// password); returns the final response.
fn subscribe(
    c: &mut crate::common::sip_client::SipClient,
    user: &str,
    ids: (&str, u32),
    to_tag: Option<&str>,
    expires: u32,
) -> engine::sip::Message {
    let mwi = Package {
        event: "message-summary",
        accept: "application/simple-message-summary",
    };
    subscribe_to(c, (user, user), &mwi, ids, (to_tag, expires))
}

/// The next NOTIFY `c` gets (answered 200): its body and Subscription-State.
fn next_notify(c: &mut crate::common::sip_client::SipClient) -> (String, String) {
    loop {
        let m = c.recv().expect("a NOTIFY");
        if m.method().map(|x| x.as_str()) == Some("NOTIFY") {
            let ok = engine::sip::MessageWriter::response_to(&m, 200, "OK", None).finish();
            c.send_raw(&ok);
            let state = m
                .values_named("Subscription-State")
                .next()
                .unwrap_or("")
                .to_owned();
            return (String::from_utf8_lossy(m.body()).into_owned(), state);
        }
    }
}

#[test]
fn a_subscribed_phone_hears_of_new_and_heard_messages() {
    let dir = temp_dir();
    let pbx = switch(dir.path());
    pbx_admin(
        dir.path(),
        &["voicemail", "pin", "--tenant", "demo", "105", "1234"],
    );
    // The line's own client watches its live events (mailbox counts) meanwhile.
    let key = crate::common::api_client::key(
        dir.path(),
        &["--tenant", "demo", "--line", "105", "--name", "ann"],
    );
    let mut live = crate::common::api_client::events(pbx.http.unwrap(), &key);
    let mut phone = crate::common::sip_client::SipClient::udp(pbx.addr);
    phone.set_timeout(Duration::from_secs(15));
    let ok = subscribe(&mut phone, "105", ("mwi-1", 1), None, 600);
    assert_eq!(ok.code(), Some(200));
    let tag = ok
        .to()
        .and_then(|t| t.tag().map(str::to_owned))
        .expect("a To tag");
    let (body, state) = next_notify(&mut phone);
    assert!(body.contains("Messages-Waiting: no"), "{body}");
    assert!(state.starts_with("active"), "{state}");
    // A message is left: yes, one new.
    let (mut call, rtp, to) = call_mailbox(&pbx, "104");
    say_tone(&rtp, to, GREETING + Duration::from_millis(1500));
    call.bye();
    let (body, _) = next_notify(&mut phone);
    assert!(body.contains("Messages-Waiting: yes"), "{body}");
    assert!(body.contains("Voice-Message: 1/0"), "{body}");
    // Listened to with the PIN: no, one old.
    let (mut user, rtp, to) = open_mailbox(&pbx);
    std::thread::sleep(Duration::from_millis(500));
    press(&rtp, to, "1234#", 0);
    let (body, _) = next_notify(&mut phone);
    assert!(body.contains("Messages-Waiting: no"), "{body}");
    assert!(body.contains("Voice-Message: 0/1"), "{body}");
    let heard = |v: &serde_json::Value| v["event"] == "mailbox" && v["old"] == 1;
    let seen = crate::common::api_client::read_events(&mut live, heard, 20);
    let counts: Vec<(u64, u64)> = seen
        .iter()
        .filter(|v| v["event"] == "mailbox")
        .map(|v| (v["new"].as_u64().unwrap(), v["old"].as_u64().unwrap()))
        .collect();
    assert_eq!(counts, [(1, 0), (0, 1)], "{seen:?}");
    // After the messages, the options wait for a key; none: goodbye.
    user.c.set_timeout(Duration::from_secs(30));
    user.answer_request("BYE");
    // Refreshed in its dialog, then ended: the last NOTIFY says terminated.
    let ok = subscribe(&mut phone, "105", ("mwi-1", 10), Some(&tag), 600);
    assert_eq!(ok.code(), Some(200));
    let ok = subscribe(&mut phone, "105", ("mwi-1", 20), Some(&tag), 0);
    assert_eq!(ok.code(), Some(200));
    let (_, state) = loop {
        let n = next_notify(&mut phone);
        if n.1.starts_with("terminated") {
            break n;
        }
    };
    assert!(state.starts_with("terminated"), "{state}");
    // A package the switch does not serve is refused (489).
    let mut other = crate::common::sip_client::SipClient::udp(pbx.addr);
    other.set_timeout(Duration::from_secs(5));
    let mut w = engine::sip::MessageWriter::request("SUBSCRIBE", "sip:105@127.0.0.1");
    w.header_fmt(
        "Via",
        format_args!("SIP/2.0/UDP {};branch=z9hG4bKpres;rport", other.local),
    )
    .header("Max-Forwards", "70")
    .header("From", "<sip:105@127.0.0.1>;tag=p")
    .header("To", "<sip:105@127.0.0.1>")
    .header("Call-ID", "presence-1")
    .header("CSeq", "1 SUBSCRIBE")
    .header("Event", "conference")
    .header("Expires", "600");
    other.send_raw(&w.finish());
    let challenge = other.recv().expect("an answer");
    let auth = crate::common::sip_client::authorization(
        &challenge,
        engine::auth::Algorithm::Md5,
        "105",
        "secret105",
        "sip:105@127.0.0.1",
        "SUBSCRIBE",
    );
    let mut w = engine::sip::MessageWriter::request("SUBSCRIBE", "sip:105@127.0.0.1");
    w.header_fmt(
        "Via",
        format_args!("SIP/2.0/UDP {};branch=z9hG4bKpres2;rport", other.local),
    )
    .header("Max-Forwards", "70")
    .header("From", "<sip:105@127.0.0.1>;tag=p")
    .header("To", "<sip:105@127.0.0.1>")
    .header("Call-ID", "presence-1")
    .header("CSeq", "2 SUBSCRIBE")
    .header("Event", "conference")
    .header("Expires", "600")
    .header("Proxy-Authorization", &auth);
    other.send_raw(&w.finish());
    let refused = other.recv().expect("an answer");
    assert_eq!(refused.code(), Some(489));
}

/// Decodes standard base64 (line breaks ignored).
fn base64(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    };
    let digits: Vec<u8> = text.bytes().filter_map(value).collect();
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    for chunk in digits.chunks(4) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, d)| n | (u32::from(*d) << (18 - 6 * i)));
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&bytes[..chunk.len().saturating_sub(1)]);
    }
    out
}

/// The files a Maildir's `new` folder holds.
fn delivered(maildir: &Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(maildir.join("new"))
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default()
}

/// A real SMTP server (Debian's aiosmtpd) on loopback, writing what it gets to a
/// Maildir.
fn smtp_server(port: u16, maildir: &Path) -> std::process::Child {
    let child = std::process::Command::new("aiosmtpd")
        .args([
            "-n",
            "-l",
            &format!("127.0.0.1:{port}"),
            "-c",
            "aiosmtpd.handlers.Mailbox",
        ])
        .arg(maildir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("aiosmtpd runs (Debian: python3-aiosmtpd)");
    let until = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < until, "aiosmtpd did not listen");
        std::thread::sleep(Duration::from_millis(100));
    }
    child
}

/// Waits (up to `limit`) until `pbx mail outbox` has a line containing `what`.
fn outbox_says(dir: &Path, what: &str, limit: Duration) -> String {
    let until = Instant::now() + limit;
    loop {
        let out = pbx_admin(dir, &["mail", "outbox", "--tenant", "demo"]);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        if text.contains(what) {
            return text;
        }
        assert!(
            Instant::now() < until,
            "the outbox never said {what:?}: {text}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_message_is_mailed_with_its_recording_once_the_smtp_server_is_back() {
    let dir = temp_dir();
    let mut pbx = Pbx::start(dir.path());
    pbx.stop();
    pbx_admin(
        dir.path(),
        &[
            "person",
            "add",
            "--tenant",
            "demo",
            "Ann",
            "--email",
            "ann@example.test",
        ],
    );
    pbx_admin(
        dir.path(),
        &["line", "set-user", "--tenant", "demo", "105", "Ann"],
    );
    let port = crate::common::free_port();
    pbx_admin(
        dir.path(),
        &[
            "mail",
            "set",
            "--server",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--tls",
            "none",
            "--from",
            "pbx@example.test",
        ],
    );
    pbx.restart();
    // The SMTP server is down: the mail waits in the outbox.
    let (mut call, rtp, to) = call_mailbox(&pbx, "104");
    say_tone(&rtp, to, GREETING + Duration::from_millis(2000));
    call.bye();
    outbox_says(dir.path(), "pending after 1 tries", Duration::from_secs(10));
    // Kept over a restart, sent once the server is there.
    pbx.stop();
    let maildir = dir.path().join("maildir");
    let mut server = smtp_server(port, &maildir);
    pbx.restart();
    outbox_says(dir.path(), "sent", Duration::from_secs(20));
    let files = delivered(&maildir);
    assert_eq!(files.len(), 1, "{files:?}");
    let mail = std::fs::read_to_string(&files[0]).unwrap();
    assert!(mail.contains("Subject: Voicemail from 104"), "{mail}");
    assert!(mail.contains("To: ann@example.test"), "{mail}");
    // The attachment is the recording: the caller's 1 kHz tone.
    let start = mail
        .find("Content-Type: audio/wav")
        .expect("a WAV attachment");
    let part = &mail[start..];
    let body_at = part.find("\r\n\r\n").or_else(|| part.find("\n\n")).unwrap();
    let body = &part[body_at..];
    let end = body.find("--").unwrap_or(body.len());
    let wav = base64(&body[..end]);
    let audio: Vec<i16> = hound::WavReader::new(std::io::Cursor::new(wav))
        .expect("the attachment is a WAV")
        .into_samples::<i16>()
        .map(|s| s.unwrap())
        .collect();
    assert!(audio.len() > 8000, "{} samples", audio.len());
    assert!(power(&audio, 1000.0) > 20.0 * power(&audio, 2000.0));
    // Sent once: another restart sends nothing more.
    pbx.restart();
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(delivered(&maildir).len(), 1);
    let _ = server.kill();
    let _ = server.wait();
}

/// 105 dials `*97` with telephone-events (101): its mailbox answers.
fn open_mailbox(pbx: &Pbx) -> (Caller, UdpSocket, SocketAddr) {
    let rtp = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = rtp.local_addr().unwrap().port();
    let mut call = Caller::call_with_events(pbx, "105", "*97", port, 101);
    assert_eq!(call.expect(200), 200);
    call.ack();
    let to = media_target(&call);
    (call, rtp, to)
}

/// Sends a `freq` tone from `rtp` to `to` for `d`.
fn say(rtp: &UdpSocket, to: SocketAddr, freq: f64, d: Duration) {
    let start = Instant::now();
    let mut k = 0u16;
    while start.elapsed() < d {
        rtp.send_to(&tone_packet(freq, k, 0x6262), to).unwrap();
        k = k.wrapping_add(1);
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn the_user_records_a_greeting_and_changes_the_pin_from_the_phone() {
    let dir = temp_dir();
    let mut pbx = switch(dir.path());
    pbx_admin(
        dir.path(),
        &["voicemail", "pin", "--tenant", "demo", "105", "1234"],
    );
    let (mut user, rtp, to) = open_mailbox(&pbx);
    std::thread::sleep(Duration::from_millis(500));
    let t0 = Instant::now();
    let at = |secs: f64| {
        let until = t0 + Duration::from_secs_f64(secs);
        std::thread::sleep(until.saturating_duration_since(Instant::now()));
    };
    // No messages: the options at once. 0, then the new PIN.
    press(&rtp, to, "1234#", 0);
    at(3.0);
    press(&rtp, to, "0", 10);
    at(5.0);
    press(&rtp, to, "5678#", 20);
    // 8, then after the prompt and the tone, the greeting (an 800 Hz tone), then #.
    at(9.0);
    press(&rtp, to, "8", 30);
    at(14.5);
    say(&rtp, to, 800.0, Duration::from_secs(2));
    at(17.0);
    press(&rtp, to, "#", 40);
    // No more keys: goodbye.
    user.c.set_timeout(Duration::from_secs(30));
    user.answer_request("BYE");
    pbx.stop();
    let list = pbx_admin(dir.path(), &["prompt", "list", "--tenant", "demo"]);
    assert!(
        String::from_utf8_lossy(&list.stdout).contains("greeting-105"),
        "the greeting is the tenant's prompt"
    );
    let greeting = dir.path().join("sounds/demo/prompts/greeting-105.wav");
    let audio = samples(greeting.to_str().unwrap());
    assert!(audio.len() >= 8000, "{} samples", audio.len());
    assert!(
        power(&audio, 800.0) > 20.0 * power(&audio, 1500.0),
        "the greeting holds what was said"
    );
    let store = actors::store::Store::open(dir.path()).unwrap();
    let t = store.tenant("demo").unwrap();
    assert_eq!(
        store.voicemail_pin(t.id, "105").unwrap().as_deref(),
        Some("5678")
    );
    // A caller now hears the new greeting.
    drop(store);
    pbx.restart();
    let (mut call, rtp, _) = call_mailbox(&pbx, "104");
    let heard = heard(&rtp, 1500);
    assert!(
        power(&heard, 800.0) > 10.0 * power(&heard, 1500.0),
        "the caller hears the new greeting"
    );
    call.bye();
}

#[test]
fn a_line_forwarding_to_voicemail_sends_its_callers_to_its_mailbox() {
    let dir = temp_dir();
    let mut pbx = switch(dir.path());
    pbx.stop();
    assert!(
        line_set(dir.path(), "105", &["--forward-always", "voicemail"])
            .status
            .success()
    );
    // A line without a person has no mailbox to forward to.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pbx"))
        .args([
            "line",
            "set",
            "--tenant",
            "demo",
            "104",
            "--forward-always",
            "voicemail",
            "--data-dir",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no mailbox"));
    pbx.restart();
    // 105's phone is registered, yet its callers reach the mailbox without it ringing.
    let mut phone = Device::register(&pbx, "105");
    phone.c.set_timeout(Duration::from_millis(800));
    let (mut call, rtp, to) = call_mailbox(&pbx, "104");
    say_tone(&rtp, to, GREETING + Duration::from_millis(1500));
    call.bye();
    assert!(phone.next_invite(&[]).is_none(), "the phone did not ring");
    pbx.stop();
    let list = messages(dir.path());
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0].1, "104");
}

#[test]
fn a_caller_who_falls_silent_ends_the_message() {
    let dir = temp_dir();
    let mut pbx = switch(dir.path());
    let (mut call, rtp, to) = call_mailbox(&pbx, "103");
    say_tone(&rtp, to, GREETING + Duration::from_millis(1500));
    // Then nothing: the switch ends the message and hangs up by itself.
    let silent = Instant::now();
    call.c.set_timeout(Duration::from_secs(20));
    call.answer_request("BYE");
    assert!(
        silent.elapsed() >= Duration::from_secs(7),
        "after the silence, not before: {:?}",
        silent.elapsed()
    );
    pbx.stop();
    let list = messages(dir.path());
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0].3, "new");
}

/// A call from the carrier to 105 that rings for `ring`, then the carrier gives up.
fn ring_and_give_up(
    carrier: &crate::common::carrier::Carrier,
    pbx: &Pbx,
    phone: &mut Device,
    from: &str,
    ring: Duration,
) {
    let mut call = carrier.call(pbx.addr, from, "+49301234567105", 42400);
    let invite = phone.next_invite(&[]).expect("105 rings");
    phone.respond(&invite, 180, "Ringing");
    std::thread::sleep(ring);
    carrier.cancel(&call);
    let cancel = recv_until(&mut phone.c, "the CANCEL at 105", |m| {
        is_request(m, "CANCEL")
    });
    phone
        .c
        .send_raw(&engine::sip::MessageWriter::response_to(&cancel, 200, "OK", None).finish());
    phone.respond(&invite, 487, "Request Terminated");
    assert_eq!(
        carrier.final_response(&mut call, Duration::from_secs(5)),
        Some(487)
    );
}

#[test]
fn missed_calls_are_mailed_except_internal_hidden_short_repeated_and_excluded_ones() {
    let dir = temp_dir();
    let d = dir.path();
    let mut pbx = Pbx::start(d);
    pbx.stop();
    pbx_admin(
        d,
        &[
            "person",
            "add",
            "--tenant",
            "demo",
            "Ann",
            "--email",
            "ann@example.test",
        ],
    );
    pbx_admin(d, &["line", "set-user", "--tenant", "demo", "105", "Ann"]);
    let said = pbx_admin(
        d,
        &[
            "person",
            "set",
            "--tenant",
            "demo",
            "Ann",
            "--missed-call-mail",
            "on",
            "--exclude",
            "+4989222222,0089222222",
        ],
    );
    assert!(String::from_utf8_lossy(&said.stdout).contains("missed-call mail on"));
    let port = crate::common::free_port();
    let p = port.to_string();
    pbx_admin(
        d,
        &[
            "mail",
            "set",
            "--server",
            "127.0.0.1",
            "--port",
            &p,
            "--tls",
            "none",
            "--from",
            "pbx@example.test",
        ],
    );
    let carrier = crate::common::carrier::Carrier::start();
    let cp = carrier.port().to_string();
    pbx_admin(
        d,
        &[
            "trunk",
            "add",
            "--tenant",
            "demo",
            "carrier",
            "--host",
            "127.0.0.1",
            "--port",
            &cp,
        ],
    );
    let maildir = d.join("maildir");
    let mut server = smtp_server(port, &maildir);
    pbx.restart();
    let until = Instant::now() + Duration::from_secs(20);
    loop {
        let out = pbx_admin(d, &["trunk", "show", "--tenant", "demo", "carrier"]);
        if String::from_utf8_lossy(&out.stdout).contains("up") {
            break;
        }
        assert!(Instant::now() < until, "the trunk never came up");
        std::thread::sleep(Duration::from_millis(200));
    }
    let mut phone = Device::register(&pbx, "105");
    let long = Duration::from_millis(2500);
    // Mailed: an outside caller who rang long enough.
    ring_and_give_up(&carrier, &pbx, &mut phone, "+4989111111", long);
    // Not mailed: the same caller again today, a hidden number, an excluded one, a
    // ring under 2 s.
    ring_and_give_up(&carrier, &pbx, &mut phone, "+4989111111", long);
    ring_and_give_up(&carrier, &pbx, &mut phone, "anonymous", long);
    ring_and_give_up(&carrier, &pbx, &mut phone, "+4989222222", long);
    ring_and_give_up(
        &carrier,
        &pbx,
        &mut phone,
        "+4989333333",
        Duration::from_millis(300),
    );
    // Not mailed: an internal caller.
    let mut inside = Caller::call(&pbx, "101", "105");
    let invite = phone.next_invite(&[]).expect("105 rings");
    phone.respond(&invite, 180, "Ringing");
    std::thread::sleep(long);
    inside.cancel();
    let cancel = recv_until(&mut phone.c, "the CANCEL at 105", |m| {
        is_request(m, "CANCEL")
    });
    phone
        .c
        .send_raw(&engine::sip::MessageWriter::response_to(&cancel, 200, "OK", None).finish());
    phone.respond(&invite, 487, "Request Terminated");
    assert_eq!(inside.expect(487), 487);
    // Every call's row closed (the journal writes in batches): then the outbox holds
    // the one mail, which reaches the server.
    let rows = journal(&mut pbx);
    assert!(rows.len() >= 6, "{rows:?}");
    pbx.restart();
    outbox_says(d, "sent", Duration::from_secs(20));
    let out = pbx_admin(d, &["mail", "outbox", "--tenant", "demo"]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        text.lines().filter(|l| l.contains("Missed call")).count(),
        1,
        "{text}"
    );
    let files = delivered(&maildir);
    assert_eq!(files.len(), 1, "{files:?}");
    let mail = std::fs::read_to_string(&files[0]).unwrap();
    assert!(mail.contains("Subject: Missed call from "), "{mail}");
    assert!(mail.contains("89111111"), "{mail}");
    assert!(mail.contains("To: ann@example.test"), "{mail}");
    let _ = server.kill();
    let _ = server.wait();
}

/// A node's files in a directory of their own (`--files-dir`, which the nodes of a
/// cluster share): the message is recorded there and the store names it there; the
/// data directory holds no voicemail. `pbx prompt add` with the same flag writes
/// there too.
#[test]
fn messages_and_prompts_live_in_the_files_directory() {
    let dir = temp_dir();
    let (data, files) = (dir.path().join("data"), dir.path().join("shared"));
    let files_arg = files.to_str().unwrap();
    let mut pbx = Pbx::start_with(&data, "127.0.0.1:0", &["--files-dir", files_arg]);
    pbx.stop();
    pbx_admin(&data, &["person", "add", "--tenant", "demo", "Ann"]);
    pbx_admin(
        &data,
        &["line", "set-user", "--tenant", "demo", "105", "Ann"],
    );
    pbx.restart();
    let (mut call, rtp, to) = call_mailbox(&pbx, "103");
    say_tone(&rtp, to, GREETING + Duration::from_millis(1500));
    call.bye();
    pbx.stop();
    let list = messages(&data);
    assert_eq!(list.len(), 1, "{list:?}");
    let file = &list[0].4;
    assert!(file.starts_with(files_arg), "{file}");
    assert!(Path::new(file).exists());
    assert!(!data.join("voicemail").exists());

    let wav = dir.path().join("hello.wav");
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(&wav, spec).unwrap();
    for i in 0..8000 {
        w.write_sample(((i % 40) as i16 - 20) * 500).unwrap();
    }
    w.finalize().unwrap();
    let wav = wav.to_str().unwrap();
    let add = [
        "prompt",
        "add",
        "--tenant",
        "demo",
        "hello",
        wav,
        "--files-dir",
        files_arg,
    ];
    pbx_admin(&data, &add);
    assert!(files.join("sounds/demo/prompts/hello.wav").exists());
    let listed = pbx_admin(
        &data,
        &[
            "prompt",
            "list",
            "--tenant",
            "demo",
            "--files-dir",
            files_arg,
        ],
    );
    assert!(String::from_utf8_lossy(&listed.stdout).starts_with("hello\t"));
}
