//! SIP capture: `pbx capture start|stop` on a line group that allows it writes its
//! lines' SIP messages to a PCAP file, which Debian's tshark reads as SIP; other
//! lines' messages stay out of it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::call_helpers::*;
use crate::common::{temp_dir, Pbx};

/// The file `pbx capture start` names, once the switch has opened it.
fn start(dir: &Path, group: &str) -> PathBuf {
    let out = pbx_admin(
        dir,
        &["capture", "start", "--tenant", "demo", "--group", group],
    );
    assert!(out.status.success(), "{out:?}");
    let file = PathBuf::from(String::from_utf8(out.stdout).unwrap().trim());
    let deadline = Instant::now() + Duration::from_secs(10);
    while !file.exists() {
        assert!(
            Instant::now() < deadline,
            "the switch never opened {file:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    file
}

/// What tshark reads of `file` as SIP on `port`: method or status, From user.
fn tshark(file: &Path, port: u16) -> Vec<(String, String)> {
    let out = Command::new("tshark")
        .args(["-r", file.to_str().unwrap(), "-d"])
        .arg(format!("udp.port=={port},sip"))
        .args([
            "-Y",
            "sip",
            "-T",
            "fields",
            "-e",
            "sip.Method",
            "-e",
            "sip.Status-Code",
            "-e",
            "sip.from.user",
        ])
        .output()
        .expect("tshark runs (scripts/deps.sh installs it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            let what = if f[0].is_empty() { f[1] } else { f[0] };
            (what.to_owned(), f.get(2).copied().unwrap_or("").to_owned())
        })
        .collect()
}

#[test]
fn a_line_groups_calls_are_captured_to_a_pcap_tshark_reads() {
    let dir = temp_dir();
    let d = dir.path();
    let pbx = Pbx::start(d);
    // Only a group that allows it is captured.
    let refused = Command::new(env!("CARGO_BIN_EXE_pbx"))
        .args(["capture", "start", "--tenant", "demo", "--group", "default"])
        .arg("--data-dir")
        .arg(d)
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("does not allow capture"),
        "{refused:?}"
    );
    edit_plan(d, |plan| {
        plan["line_groups"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({"name": "support", "capture": true}));
        for e in plan["extensions"].as_array_mut().unwrap() {
            if e["number"] == "101" || e["number"] == "102" {
                e["line_group"] = "support".into();
            }
        }
    });
    let file = start(d, "support");
    // The switch reads the captured group's lines with the captures: give it the
    // plan's new groups (it reads both every 2 s), then register and call.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut phone = loop {
        let phone = Device::register(&pbx, "102");
        std::thread::sleep(Duration::from_millis(300));
        let seen = tshark(&file, pbx.addr.port());
        if seen.iter().any(|(m, u)| m == "REGISTER" && u == "102") {
            break phone;
        }
        assert!(
            Instant::now() < deadline,
            "102's REGISTER never captured: {seen:?}"
        );
    };
    let _bystander = Device::register(&pbx, "105");
    let mut call = Caller::call(&pbx, "101", "102");
    phone.answer(41200);
    assert_eq!(call.expect(200), 200);
    call.ack();
    call.bye();
    phone.answer_request("BYE");
    let out = pbx_admin(
        d,
        &["capture", "stop", "--tenant", "demo", "--group", "support"],
    );
    assert_eq!(
        PathBuf::from(String::from_utf8(out.stdout).unwrap().trim()),
        file
    );
    // The call's messages on both legs, in and out (the tests' caller names itself
    // differently inside its dialog, so its own ACK and BYE may not match).
    let deadline = Instant::now() + Duration::from_secs(10);
    let seen = loop {
        let seen = tshark(&file, pbx.addr.port());
        let has = |what: &str| seen.iter().filter(|(m, _)| m == what).count();
        if has("INVITE") >= 2 && has("ACK") >= 1 && has("BYE") >= 1 && has("200") >= 4 {
            break seen;
        }
        assert!(Instant::now() < deadline, "{seen:?}");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(
        !seen.iter().any(|(_, user)| user == "105"),
        "another group's line is not captured: {seen:?}"
    );
    let listed = pbx_admin(d, &["capture", "list"]);
    let text = String::from_utf8(listed.stdout).unwrap();
    assert!(
        text.contains("support") && text.contains("stopped at"),
        "{text}"
    );
}
