//! The administration commands, run as a user runs them, on a real data directory.

use std::path::Path;
use std::process::{Command, Output};

use crate::common::sip_client::SipClient;
use crate::common::{temp_dir, Pbx};
use engine::auth::Algorithm;

fn pbx(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pbx"))
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .output()
        .unwrap()
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn refused(out: &Output, needle: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {err}");
    assert!(err.contains(needle), "{err:?} should mention {needle:?}");
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
}

#[test]
fn tenants_and_users_with_clear_errors() {
    let dir = temp_dir();
    let d = dir.path();
    ok(&pbx(
        d,
        &[
            "tenant",
            "add",
            "acme",
            "--domain",
            "acme.example",
            "--domain",
            "10.1.1.1",
        ],
    ));
    refused(
        &pbx(d, &["tenant", "add", "acme", "--domain", "other.example"]),
        "exists already",
    );
    refused(
        &pbx(d, &["tenant", "add", "beta", "--domain", "ACME.example"]),
        "belongs to tenant \"acme\"",
    );
    let list = ok(&pbx(d, &["tenant", "list"]));
    assert!(
        list.contains("acme\tdomains=10.1.1.1,acme.example\tlines=0"),
        "{list}"
    );

    ok(&pbx(
        d,
        &[
            "user",
            "add-range",
            "--tenant",
            "acme",
            "--from",
            "200",
            "--to",
            "209",
            "--password",
            "pw{ext}pw",
        ],
    ));
    refused(
        &pbx(
            d,
            &[
                "user",
                "add",
                "--tenant",
                "acme",
                "205",
                "--password",
                "whatever1",
            ],
        ),
        "205",
    );
    refused(
        &pbx(
            d,
            &[
                "user",
                "add-range",
                "--tenant",
                "acme",
                "--from",
                "190",
                "--to",
                "201",
                "--password",
                "pw{ext}pw",
            ],
        ),
        "200, 201",
    );
    refused(
        &pbx(
            d,
            &[
                "user",
                "add",
                "--tenant",
                "acme",
                "7",
                "--password",
                "whatever1",
            ],
        ),
        "2 to 15 digits",
    );
    refused(
        &pbx(
            d,
            &[
                "user",
                "add",
                "--tenant",
                "acme",
                "112",
                "--password",
                "whatever1",
            ],
        ),
        "emergency",
    );
    refused(
        &pbx(
            d,
            &[
                "user",
                "add",
                "--tenant",
                "nope",
                "300",
                "--password",
                "whatever1",
            ],
        ),
        "unknown tenant",
    );
    refused(
        &pbx(
            d,
            &[
                "user",
                "passwd",
                "--tenant",
                "acme",
                "999",
                "--password",
                "whatever1",
            ],
        ),
        "no extension 999",
    );
    ok(&pbx(
        d,
        &[
            "user",
            "add",
            "--tenant",
            "acme.example",
            "300",
            "--password",
            "first-pw",
            "--name",
            "Reception",
        ],
    ));
    let users = ok(&pbx(d, &["user", "list", "--tenant", "acme"]));
    assert_eq!(users.lines().count(), 11);
    assert!(users.contains("300\tReception"));
    ok(&pbx(
        d,
        &[
            "user",
            "passwd",
            "--tenant",
            "acme",
            "300",
            "--password",
            "second-pw",
        ],
    ));

    // The switch on the same data: the new password works, the old one does not.
    let server = Pbx::start(d);
    let mut c = SipClient::udp(server.addr);
    let contact = format!("<sip:300@{}>", c.local);
    assert_eq!(
        c.register(
            "300",
            "first-pw",
            "acme.example",
            Some(&contact),
            None,
            Algorithm::Md5
        )
        .code(),
        Some(403)
    );
    assert_eq!(
        c.register(
            "300",
            "second-pw",
            "acme.example",
            Some(&contact),
            None,
            Algorithm::Md5
        )
        .code(),
        Some(200)
    );
    // No demo tenant was made: the data directory already had a tenant.
    let mut c = SipClient::udp(server.addr);
    assert_eq!(c.register_unauthenticated("100", "127.0.0.1"), Some(403));
}

#[test]
fn requests_to_the_switch_ip_go_to_the_default_tenant() {
    let dir = temp_dir();
    let d = dir.path();
    ok(&pbx(
        d,
        &["tenant", "add", "acme", "--domain", "acme.example"],
    ));
    ok(&pbx(
        d,
        &[
            "user",
            "add",
            "--tenant",
            "acme",
            "200",
            "--password",
            "acme-pw-200",
        ],
    ));
    let server = Pbx::start_with(d, "127.0.0.1:0", &["--default-tenant", "acme"]);
    let mut c = SipClient::udp(server.addr);
    let contact = format!("<sip:200@{}>", c.local);
    let resp = c.register(
        "200",
        "acme-pw-200",
        "127.0.0.1",
        Some(&contact),
        None,
        Algorithm::Md5,
    );
    assert_eq!(resp.code(), Some(200));
    // An unknown default tenant is refused at start.
    let out = Command::new(env!("CARGO_BIN_EXE_pbx"))
        .args([
            "serve",
            "--sip-addr",
            "127.0.0.1:0",
            "--default-tenant",
            "nope",
            "--data-dir",
        ])
        .arg(d)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown tenant"));
}

#[test]
fn a_tenant_added_while_serving_is_picked_up() {
    let dir = temp_dir();
    let d = dir.path();
    let server = Pbx::start(d);
    ok(&pbx(
        d,
        &["tenant", "add", "late", "--domain", "late.example"],
    ));
    ok(&pbx(
        d,
        &[
            "user",
            "add",
            "--tenant",
            "late",
            "300",
            "--password",
            "late-pw-300",
        ],
    ));
    // The switch looks for new tenants every few seconds; poll until it has.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let mut c = SipClient::udp(server.addr);
        match c.register_unauthenticated("300", "late.example") {
            Some(401) => break,
            Some(403) => {}
            other => panic!("unexpected {other:?}"),
        }
        assert!(
            std::time::Instant::now() < deadline,
            "new tenant never served"
        );
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
}

#[test]
fn tenant_set_changes_call_outcomes_and_refuses_bad_values() {
    let dir = temp_dir();
    let d = dir.path();
    ok(&pbx(
        d,
        &["tenant", "add", "acme", "--domain", "acme.example"],
    ));
    ok(&pbx(
        d,
        &[
            "user",
            "add",
            "--tenant",
            "acme",
            "20",
            "--password",
            "secret-20",
        ],
    ));
    let shown = ok(&pbx(d, &["tenant", "show", "acme"]));
    assert_eq!(
        shown.trim(),
        "acme\tdecline=486 reject=device drop-off=none busy-on-busy=off"
    );
    let out = ok(&pbx(
        d,
        &[
            "tenant",
            "set",
            "acme",
            "--decline",
            "ring",
            "--reject",
            "603",
            "--drop-off",
            "20",
            "--busy-on-busy",
            "on",
        ],
    ));
    assert_eq!(
        out.trim(),
        "acme\tdecline=ring reject=603 drop-off=20 busy-on-busy=on"
    );
    // A change keeps what it does not name; by domain too.
    let out = ok(&pbx(
        d,
        &[
            "tenant",
            "set",
            "acme.example",
            "--decline",
            "480",
            "--drop-off",
            "none",
        ],
    ));
    assert_eq!(
        out.trim(),
        "acme\tdecline=480 reject=603 drop-off=none busy-on-busy=on"
    );
    for (args, needle) in [
        (&["--decline", "404"][..], "486, 480, 603 or ring"),
        (&["--decline", "busy"][..], "486, 480, 603 or ring"),
        (&["--reject", "480"][..], "486 or 603"),
        (&["--drop-off", "21"][..], "not an extension of this tenant"),
        (&["--busy-on-busy", "yes"][..], "on or off"),
        (&[][..], "nothing to set"),
    ] {
        let mut all = vec!["tenant", "set", "acme"];
        all.extend_from_slice(args);
        refused(&pbx(d, &all), needle);
    }
    refused(
        &pbx(d, &["tenant", "set", "nope", "--decline", "603"]),
        "nope",
    );
    // Nothing refused was stored.
    let shown = ok(&pbx(d, &["tenant", "show", "acme"]));
    assert_eq!(
        shown.trim(),
        "acme\tdecline=480 reject=603 drop-off=none busy-on-busy=on"
    );
}

#[test]
fn users_own_lines_and_devices_are_accounts_of_a_line() {
    let dir = temp_dir();
    let d = dir.path();
    ok(&pbx(d, &["tenant", "add", "acme", "--domain", "acme.test"]));
    for ext in ["100", "101"] {
        ok(&pbx(
            d,
            &[
                "line",
                "add",
                "--tenant",
                "acme",
                ext,
                "--password",
                "secret100",
            ],
        ));
    }
    ok(&pbx(
        d,
        &[
            "person",
            "add",
            "--tenant",
            "acme",
            "Alice Example",
            "--email",
            "a@acme.test",
        ],
    ));
    refused(
        &pbx(d, &["person", "add", "--tenant", "acme", "Alice Example"]),
        "already",
    );
    ok(&pbx(
        d,
        &[
            "line",
            "set-user",
            "--tenant",
            "acme",
            "100",
            "Alice Example",
        ],
    ));
    refused(
        &pbx(
            d,
            &["line", "set-user", "--tenant", "acme", "100", "Nobody"],
        ),
        "no user named",
    );
    let people = ok(&pbx(d, &["person", "list", "--tenant", "acme"]));
    assert_eq!(people.trim(), "Alice Example\ta@acme.test\t100");
    let lines = ok(&pbx(d, &["user", "list", "--tenant", "acme"]));
    assert!(lines.contains("101\t\t(device-only)"), "{lines}");
    // Devices: SIP accounts of a line, never named like a number.
    refused(
        &pbx(
            d,
            &[
                "device",
                "add",
                "--tenant",
                "acme",
                "--line",
                "100",
                "4711",
                "--password",
                "handset1",
            ],
        ),
        "all digits",
    );
    refused(
        &pbx(
            d,
            &[
                "device",
                "add",
                "--tenant",
                "acme",
                "--line",
                "555",
                "desk-555",
                "--password",
                "handset1",
            ],
        ),
        "not a line",
    );
    ok(&pbx(
        d,
        &[
            "device",
            "add",
            "--tenant",
            "acme",
            "--line",
            "100",
            "alice-dect",
            "--password",
            "handset1",
            "--name",
            "DECT handset",
        ],
    ));
    let devices = ok(&pbx(d, &["device", "list", "--tenant", "acme"]));
    assert_eq!(devices.trim(), "alice-dect\t100\tDECT handset");
    ok(&pbx(
        d,
        &["device", "remove", "--tenant", "acme", "alice-dect"],
    ));
    refused(
        &pbx(d, &["device", "remove", "--tenant", "acme", "alice-dect"]),
        "no device",
    );
}
