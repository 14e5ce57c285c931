//! The administration commands, run as a user runs them, on a real data directory.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::sip_client::SipClient;
use common::{temp_dir, Pbx};
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
    let text = c.register_text(
        "100",
        "127.0.0.1",
        Some("<sip:100@127.0.0.1:7000>"),
        None,
        "",
    );
    c.send_raw(text.as_bytes());
    assert_eq!(c.recv().unwrap().code(), Some(403));
}
