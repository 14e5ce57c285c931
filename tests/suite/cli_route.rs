//! `pbx route` and `pbx plan` on a real data directory.

use std::path::Path;
use std::process::{Command, Output};

use crate::common::temp_dir;

fn pbx(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pbx"))
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn fails_with(o: &Output, needle: &str) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains(needle), "{err:?} lacks {needle:?}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}

/// A data directory with the demo tenant, as `pbx serve` leaves it on first start.
fn demo_dir() -> tempfile::TempDir {
    let dir = temp_dir();
    let mut pbx = crate::common::Pbx::start(dir.path());
    pbx.stop();
    dir
}

#[test]
fn route_explains_detection_rule_and_decision() {
    let dir = demo_dir();
    let d = dir.path();
    let out = stdout(&pbx(
        d,
        &[
            "route",
            "--tenant",
            "127.0.0.1",
            "--from",
            "100",
            "--to",
            "0030987654",
            "--at",
            "2026-11-23T18:30:00+01:00",
        ],
    ));
    assert!(out.contains("+4930987654"), "{out}");
    assert!(out.contains("demo-trunk"), "{out}");
    let out = stdout(&pbx(
        d,
        &[
            "route",
            "--tenant",
            "demo",
            "--from",
            "100",
            "--to",
            "101",
            "--at",
            "2026-11-23T10:00:00+01:00",
            "--json",
        ],
    ));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["detected"], "internal");
    assert_eq!(v["callee_internal"], "101");
    assert!(v["decision"].is_object(), "{v}");
    let out = stdout(&pbx(
        d,
        &[
            "route",
            "--tenant",
            "localhost",
            "--from",
            "109",
            "--to",
            "112",
            "--json",
        ],
    ));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["detected"], "emergency");
}

#[test]
fn route_refuses_bad_input_with_one_line_and_code_2() {
    let dir = demo_dir();
    let d = dir.path();
    fails_with(
        &pbx(
            d,
            &["route", "--tenant", "nope", "--from", "100", "--to", "101"],
        ),
        "unknown tenant",
    );
    fails_with(
        &pbx(
            d,
            &["route", "--tenant", "demo", "--from", "100", "--to", "ab#"],
        ),
        "dialled number",
    );
    fails_with(
        &pbx(
            d,
            &[
                "route", "--tenant", "demo", "--from", "100", "--to", "101", "--at", "tomorrow",
            ],
        ),
        "RFC 3339",
    );
}

#[test]
fn plans_are_validated_before_they_are_stored() {
    let dir = demo_dir();
    let d = dir.path();
    let shown = stdout(&pbx(d, &["plan", "show", "--tenant", "demo"]));
    let mut plan: serde_json::Value = serde_json::from_str(&shown).unwrap();
    // Assign 101 twice: refused, naming both entries; the stored plan is unchanged.
    plan["groups"][0]["number"] = "101".into();
    let bad = d.join("bad.json");
    std::fs::write(&bad, serde_json::to_string(&plan).unwrap()).unwrap();
    fails_with(
        &pbx(
            d,
            &["plan", "set", "--tenant", "demo", bad.to_str().unwrap()],
        ),
        "101",
    );
    assert_eq!(
        stdout(&pbx(d, &["plan", "show", "--tenant", "demo"])),
        shown
    );
    let garbage = d.join("garbage.json");
    std::fs::write(&garbage, "{ not json").unwrap();
    fails_with(
        &pbx(
            d,
            &["plan", "set", "--tenant", "demo", garbage.to_str().unwrap()],
        ),
        "not a dialplan",
    );
    // A tenant without a plan says how to set one.
    stdout(&pbx(
        d,
        &["tenant", "add", "acme", "--domain", "acme.example"],
    ));
    fails_with(
        &pbx(
            d,
            &["route", "--tenant", "acme", "--from", "100", "--to", "101"],
        ),
        "pbx plan set",
    );
}
