//! IVR menus and closing times on `pbx serve`, black-box, with the switch's routing
//! clock set (`--wall-clock`, test builds only): a caller hears the menu's
//! announcement (a prompt the tenant uploaded), a key leads to an extension, a queue
//! or a submenu (which inherits its main menu's timeout and drop-off); no key, or a
//! key that is no choice, leads to the drop-off. During closing time a menu or group
//! plays its closing announcement and hangs up, or forwards the caller. A prompt that
//! is not mono 8 kHz 16-bit PCM is refused, and so is a plan naming a missing one.

use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::common::call_helpers::*;
use crate::common::{temp_dir, Pbx};

/// Monday 30 November 2026, 10:00 in Berlin: the demo's offices are open.
const MONDAY_MORNING: &str = "2026-11-30T10:00:00+01:00";
/// Sunday 29 November 2026, noon: closed all day.
const SUNDAY: &str = "2026-11-29T12:00:00+01:00";

/// `pbx ARGS --data-dir DIR`, whatever its outcome.
fn pbx_out(dir: &Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_pbx"))
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .output()
        .unwrap()
}

/// `user` calls `number` with telephone-events (101); the switch answers.
fn dial(pbx: &Pbx, user: &str, number: &str) -> (Caller, UdpSocket, SocketAddr) {
    let rtp = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = rtp.local_addr().unwrap().port();
    let mut caller = Caller::call_with_events(pbx, user, number, port, 101);
    assert_eq!(
        caller.expect(200),
        200,
        "{number} is answered by the switch"
    );
    caller.ack();
    let to = media_target(&caller);
    (caller, rtp, to)
}

/// The demo plan with menu 400 announcing the tenant's prompt "welcome" (1 to 101,
/// 2 to queue 300, 9 to submenu 99990), 2 s for a key, drop-off 100; the submenu
/// (1 to 102) inherits both.
fn menus(dir: &Path) {
    edit_plan(dir, |plan| {
        let menus = plan["ivrs"].as_array_mut().unwrap();
        menus[0]["announcement"] = "welcome".into();
        menus[0]["choices"] = serde_json::json!({"1": "101", "2": "300", "9": "99990"});
        menus[0]["timeout_seconds"] = 2.into();
        menus[0]["drop_off"] = "100".into();
        menus[1]["announcement"] = "digit_9".into();
        menus[1]["choices"] = serde_json::json!({"1": "102"});
        menus[1]["timeout_seconds"] = serde_json::Value::Null;
        menus[1]["drop_off"] = serde_json::Value::Null;
    });
}

/// A switch over `dir` with the menus and the prompt, its clock at `now`.
fn switch(dir: &Path, now: &str) -> Pbx {
    let mut pbx = Pbx::start(dir);
    pbx.stop();
    let wav = dir.join("welcome.wav");
    tone_wav(&wav, 1000.0, 600, 8000, 1);
    let out = pbx_admin(
        dir,
        &[
            "prompt",
            "add",
            "--tenant",
            "demo",
            "welcome",
            wav.to_str().unwrap(),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    menus(dir);
    Pbx::start_with(dir, "127.0.0.1:0", &["--wall-clock", now])
}

/// The device gets an INVITE (within its socket's timeout) and answers it.
fn rings(device: &mut Device, what: &str) {
    let invite = device.next_invite(&[]).unwrap_or_else(|| panic!("{what}"));
    device.answer_invite(&invite, free_port_udp());
}

fn free_port_udp() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn keys_lead_to_an_extension_and_a_submenu_and_no_or_a_wrong_key_to_the_drop_off() {
    let dir = temp_dir();
    let mut pbx = switch(dir.path(), MONDAY_MORNING);
    let mut d100 = Device::register(&pbx, "100");
    let mut d101 = Device::register(&pbx, "101");
    let mut d102 = Device::register(&pbx, "102");
    for d in [&mut d100, &mut d101, &mut d102] {
        d.c.set_timeout(Duration::from_secs(10));
    }
    // The menu's announcement (the uploaded tone) plays; 1 rings 101.
    let (mut a, rtp, to) = dial(&pbx, "103", "400");
    assert!(loudness(&rtp, 500) > 1000.0, "the caller hears the menu");
    press(&rtp, to, "1", 0);
    rings(&mut d101, "1 rings 101");
    a.bye();
    d101.answer_request("BYE");
    // 9: the submenu; its 1 rings 102.
    let (mut b, rtp, to) = dial(&pbx, "104", "400");
    press(&rtp, to, "9", 0);
    std::thread::sleep(Duration::from_millis(300));
    press(&rtp, to, "1", 1);
    rings(&mut d102, "9 then 1 rings 102");
    b.bye();
    d102.answer_request("BYE");
    // 7 is no choice: the drop-off, 100. (Pressed as SIP INFO, as phones without
    // RFC 4733 send keys.)
    let (mut c, _rtp, _) = dial(&pbx, "105", "400");
    assert_eq!(
        c.request_with_body(
            "INFO",
            "application/dtmf-relay",
            "Signal=7\r\nDuration=160\r\n"
        ),
        200
    );
    rings(&mut d100, "a wrong key reaches the drop-off");
    c.bye();
    d100.answer_request("BYE");
    // No key: the announcement plays twice, 2 s apart, then the drop-off.
    let started = Instant::now();
    let (mut e, _rtp, _) = dial(&pbx, "106", "400");
    rings(&mut d100, "no key reaches the drop-off");
    assert!(
        started.elapsed() >= Duration::from_secs(4),
        "after two waits of 2 s ({:?})",
        started.elapsed()
    );
    e.bye();
    d100.answer_request("BYE");
    // The submenu inherits the drop-off: no key there reaches 100 too.
    let (mut f, rtp, to) = dial(&pbx, "107", "400");
    press(&rtp, to, "9", 0);
    rings(&mut d100, "the submenu's inherited drop-off");
    f.bye();
    d100.answer_request("BYE");
    let rows = journal(&mut pbx);
    let row = rows.iter().find(|r| r.from == "103").expect("103's call");
    assert_eq!(row.answered_by.as_deref(), Some("101"), "{row:?}");
}

#[test]
fn a_key_can_put_the_caller_in_a_queue() {
    let dir = temp_dir();
    let pbx = switch(dir.path(), MONDAY_MORNING);
    let mut agent = Device::register(&pbx, "102");
    agent.c.set_timeout(Duration::from_secs(10));
    let (mut a, rtp, to) = dial(&pbx, "105", "400");
    press(&rtp, to, "2", 0);
    // Queue 300 (open on Monday morning) offers the caller to its agent 102; the
    // caller, answered by the menu already, hears the queue meanwhile.
    let invite = agent.next_invite(&[]).expect("the queue offers the caller");
    assert!(loudness(&rtp, 500) > 100.0, "the caller hears the queue");
    agent.answer_invite(&invite, free_port_udp());
    a.bye();
    agent.answer_request("BYE");
}

#[test]
fn closing_time_plays_the_announcement_or_forwards_the_caller() {
    let dir = temp_dir();
    let mut pbx = Pbx::start(dir.path());
    pbx.stop();
    // Queue 300's schedule forwards to 101 when closed.
    edit_plan(dir.path(), |plan| {
        let schedules = plan["schedules"].as_array_mut().unwrap();
        let support = schedules
            .iter_mut()
            .find(|s| s["name"] == "support-hours")
            .unwrap();
        support["when_closed"] = serde_json::json!({"action": "forward", "target": "101"});
    });
    let pbx = Pbx::start_with(dir.path(), "127.0.0.1:0", &["--wall-clock", SUNDAY]);
    // The IVR (office hours) and hunt group 200 (office hours): "our office is now
    // closed", then the switch hangs up.
    for number in ["400", "200"] {
        let (mut call, rtp, _) = dial(&pbx, "104", number);
        assert!(
            loudness(&rtp, 1000) > 100.0,
            "{number}: the closing announcement"
        );
        call.c.set_timeout(Duration::from_secs(10));
        call.answer_request("BYE");
    }
    // The queue forwards to 101.
    let mut d101 = Device::register(&pbx, "101");
    d101.c.set_timeout(Duration::from_secs(10));
    let mut call = Caller::call(&pbx, "105", "300");
    let invite = d101.next_invite(&[]).expect("closed: forwarded to 101");
    d101.answer_invite(&invite, free_port_udp());
    assert_eq!(call.expect(200), 200);
    call.ack();
    call.bye();
    d101.answer_request("BYE");
    // `pbx route` at the same time agrees.
    let out = pbx_admin(
        dir.path(),
        &[
            "route", "--tenant", "demo", "--from", "105", "--to", "300", "--at", SUNDAY,
        ],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("closed"), "{text}");
    assert!(text.contains("101"), "{text}");
}

#[test]
fn prompts_must_be_mono_8khz_pcm_and_the_plan_must_name_existing_ones() {
    let dir = temp_dir();
    let mut pbx = Pbx::start(dir.path());
    pbx.stop();
    let stereo = dir.path().join("stereo.wav");
    tone_wav(&stereo, 440.0, 200, 44100, 2);
    let out = pbx_out(
        dir.path(),
        &[
            "prompt",
            "add",
            "--tenant",
            "demo",
            "menu",
            stereo.to_str().unwrap(),
        ],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("2 channel(s), 44100 Hz"), "{err}");
    let list = pbx_admin(dir.path(), &["prompt", "list", "--tenant", "demo"]);
    assert!(list.stdout.is_empty(), "nothing stored");
    // A plan naming a prompt that does not exist is refused, and the old one stays.
    let before = pbx_admin(dir.path(), &["plan", "show", "--tenant", "demo"]).stdout;
    let mut plan: serde_json::Value = serde_json::from_slice(&before).unwrap();
    plan["ivrs"][0]["announcement"] = "menu".into();
    let file = dir.path().join("plan.json");
    std::fs::write(&file, plan.to_string()).unwrap();
    let out = pbx_out(
        dir.path(),
        &["plan", "set", "--tenant", "demo", file.to_str().unwrap()],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("no prompt \"menu\""), "{err}");
    let after = pbx_admin(dir.path(), &["plan", "show", "--tenant", "demo"]).stdout;
    assert_eq!(before, after, "the stored plan is unchanged");
    // Uploaded, the same plan is taken; the prompt cannot go while it is named.
    let mono = dir.path().join("mono.wav");
    tone_wav(&mono, 440.0, 200, 8000, 1);
    let out = pbx_admin(
        dir.path(),
        &[
            "prompt",
            "add",
            "--tenant",
            "demo",
            "menu",
            mono.to_str().unwrap(),
        ],
    );
    assert!(out.status.success());
    let out = pbx_admin(
        dir.path(),
        &["plan", "set", "--tenant", "demo", file.to_str().unwrap()],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = pbx_out(
        dir.path(),
        &["prompt", "remove", "--tenant", "demo", "menu"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("used by IVR menu"));
}
