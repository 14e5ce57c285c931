//! SIP trunks on `pbx serve`: carriers on loopback (a test socket as a fixed-IP
//! carrier, Debian's Kamailio as a registrar with `auth_db`) take the tenant's
//! outbound and emergency calls with the plan's number format and caller ID, fail
//! over between trunks only on a trunk's own failures, refuse what a line's
//! permission class forbids before any trunk hears of it, and bring calls in by DDI.

use std::time::{Duration, Instant};

use crate::common::call_helpers::*;
use crate::common::carrier::{user_of, Carrier};
use crate::common::{temp_dir, Pbx};

const WAIT: Duration = Duration::from_secs(5);

fn trunk_add(dir: &std::path::Path, name: &str, port: u16, extra: &[&str]) {
    let port = port.to_string();
    let mut args = vec![
        "trunk",
        "add",
        "--tenant",
        "demo",
        name,
        "--host",
        "127.0.0.1",
        "--port",
        &port,
    ];
    args.extend_from_slice(extra);
    pbx_admin(dir, &args);
}

/// `pbx trunk show` until its status line says `status` (the switch picks trunks up
/// within seconds).
fn wait_status(dir: &std::path::Path, name: &str, status: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let out = pbx_admin(dir, &["trunk", "show", "--tenant", "demo", name]);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        if text
            .lines()
            .any(|l| l.starts_with("status:") && l.contains(&format!(" {status} ")))
        {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "trunk {name} never {status}:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The demo plan with trunks `names` (E.164) on its default route, in that order.
fn route_over(dir: &std::path::Path, names: &[&str]) {
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    edit_plan(dir, |p| {
        p["trunks"] = names
            .iter()
            .map(|n| serde_json::json!({"name": n, "format": "e164"}))
            .collect();
        p["outbound"][0]["trunks"] = serde_json::json!(names);
        p["emergency"]["trunk"] = serde_json::json!(names[0]);
    });
}

#[test]
fn an_outbound_call_leaves_on_the_trunk_with_the_plans_number_and_caller_id() {
    let dir = temp_dir();
    let mut pbx = Pbx::start(dir.path());
    let carrier = Carrier::start();
    trunk_add(dir.path(), "demo-trunk", carrier.port(), &[]);
    wait_status(dir.path(), "demo-trunk", "up");
    // 101 dials a national number with the access code: the trunk gets E.164, and
    // 101's own number (the location's base + extension) as From and PAI.
    let mut call = Caller::call(&pbx, "101", "0030123456");
    let (invite, from) = carrier.invite(WAIT).expect("the carrier gets the INVITE");
    assert_eq!(
        invite.uri().and_then(|u| u.user),
        Some("+4930123456"),
        "{invite:?}"
    );
    assert_eq!(user_of(&invite, "To").as_deref(), Some("+4930123456"));
    assert_eq!(user_of(&invite, "From").as_deref(), Some("+49301234567101"));
    assert_eq!(
        user_of(&invite, "P-Asserted-Identity").as_deref(),
        Some("+49301234567101")
    );
    assert!(invite.values_named("Privacy").next().is_none());
    carrier.respond(&invite, from, 180, "Ringing");
    assert_eq!(call.expect(180), 180);
    carrier.answer(&invite, from, 41000);
    assert_eq!(call.expect(200), 200);
    call.ack();
    call.bye();
    let (bye, from) = carrier
        .request("BYE", WAIT)
        .expect("the carrier gets the BYE");
    carrier.respond(&bye, from, 200, "OK");
    // A withheld number: anonymous From, the number in PAI with Privacy: id.
    let mut call = Caller::call_full(
        &pbx,
        "102",
        "0030123456",
        40002,
        (0, "PCMU"),
        "Privacy: id\r\n",
    );
    let (invite, from) = carrier.invite(WAIT).expect("the second INVITE");
    assert_eq!(user_of(&invite, "From").as_deref(), Some("anonymous"));
    assert_eq!(
        user_of(&invite, "P-Asserted-Identity").as_deref(),
        Some("+49301234567102")
    );
    assert_eq!(invite.values_named("Privacy").next(), Some("id"));
    carrier.respond(&invite, from, 486, "Busy Here");
    assert_eq!(
        call.expect(486),
        486,
        "the called party's busy reaches the caller"
    );
    let rows = journal(&mut pbx);
    let out = rows
        .iter()
        .find(|r| r.caller_line.as_deref() == Some("101"))
        .expect("101's call is in the journal");
    assert_eq!(out.direction, actors::journal::Direction::Outbound);
    assert_eq!(out.trunk.as_deref(), Some("demo-trunk"));
}

#[test]
fn calls_fail_over_on_a_trunks_own_failure_only_and_classes_are_checked_first() {
    let dir = temp_dir();
    let pbx = Pbx::start(dir.path());
    let (a, b) = (Carrier::start(), Carrier::start());
    route_over(dir.path(), &["a", "b"]);
    edit_plan(dir.path(), |p| {
        for e in p["extensions"].as_array_mut().unwrap() {
            if e["number"] == "103" {
                e["class"] = serde_json::json!("internal_only");
            }
        }
    });
    trunk_add(dir.path(), "a", a.port(), &["--keepalive", "1"]);
    trunk_add(dir.path(), "b", b.port(), &[]);
    wait_status(dir.path(), "a", "up");
    wait_status(dir.path(), "b", "up");
    // 503 on the first trunk: the second takes the call.
    let mut call = Caller::call(&pbx, "101", "0030123456");
    let (invite, from) = a.invite(WAIT).expect("trunk a is tried first");
    a.respond(&invite, from, 503, "Service Unavailable");
    let (invite, from) = b.invite(WAIT).expect("trunk b takes over");
    b.answer(&invite, from, 41000);
    assert_eq!(call.expect(200), 200);
    call.ack();
    call.bye();
    let (bye, from) = b.request("BYE", WAIT).expect("BYE on trunk b");
    b.respond(&bye, from, 200, "OK");
    // Busy is the called party's answer: no other trunk is tried.
    let mut call = Caller::call(&pbx, "102", "0030123456");
    let (invite, from) = a.invite(WAIT).expect("trunk a again");
    a.respond(&invite, from, 486, "Busy Here");
    assert_eq!(call.expect(486), 486);
    assert!(
        b.invite(Duration::from_secs(1)).is_none(),
        "no failover on 486"
    );
    // A line of the lowest class: 403 and no trunk hears of the call.
    let mut call = Caller::call(&pbx, "103", "0030123456");
    assert_eq!(call.expect(403), 403);
    assert!(a.invite(Duration::from_millis(500)).is_none());
    assert!(b.invite(Duration::from_millis(500)).is_none());
    // Trunk a's carrier goes away: a goes down (no answer to OPTIONS) and calls go
    // straight to b.
    a.go_silent();
    let text = wait_status(dir.path(), "a", "down");
    assert!(text.contains("no answer"), "{text}");
    let mut call = Caller::call(&pbx, "104", "0030123456");
    let (invite, from) = b.invite(WAIT).expect("b takes the call while a is down");
    b.respond(&invite, from, 603, "Decline");
    assert_eq!(call.expect(603), 603);
}

#[test]
fn emergency_calls_reach_the_emergency_trunk_with_each_subnets_location() {
    let dir = temp_dir();
    let pbx = Pbx::start(dir.path());
    let sos = Carrier::start();
    route_over(dir.path(), &["sos"]);
    edit_plan(dir.path(), |p| {
        p["emergency"]["rules"] = serde_json::json!([
            {"description": "HeadOffice", "subnet": "127.0.0.0/24", "callback": "+4930123456700"},
            {"description": "Branch", "subnet": "127.0.1.0/24", "callback": "+4930123456711"}
        ]);
        for e in p["extensions"].as_array_mut().unwrap() {
            if e["number"] == "103" {
                e["class"] = serde_json::json!("internal_only");
            }
        }
    });
    trunk_add(dir.path(), "sos", sos.port(), &["--max-calls", "1"]);
    wait_status(dir.path(), "sos", "up");
    // From each subnet, each with its own location number; the line of the lowest
    // class too, and beyond the trunk's cap of one call.
    let mut calls = Vec::new();
    for (ip, line, number, callback) in [
        ("127.0.0.1", "101", "112", "+4930123456700"),
        ("127.0.1.1", "102", "112", "+4930123456711"),
        ("127.0.1.1", "103", "110", "+4930123456711"),
    ] {
        let mut call = Caller::call_from_ip(&pbx, ip, line, number, 40010);
        let (invite, from) = sos.invite(WAIT).expect("the emergency trunk gets the call");
        assert_eq!(invite.uri().and_then(|u| u.user), Some(number));
        assert_eq!(
            user_of(&invite, "P-Asserted-Identity").as_deref(),
            Some(callback),
            "{line} from {ip}"
        );
        sos.answer(&invite, from, 41000);
        assert_eq!(call.expect(200), 200);
        call.ack();
        calls.push(call);
    }
    for mut call in calls {
        call.bye();
    }
    // No trunk at all: the caller is answered and told, never 404.
    pbx_admin(dir.path(), &["trunk", "remove", "--tenant", "demo", "sos"]);
    std::thread::sleep(Duration::from_secs(3));
    let rtp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    rtp.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let port = rtp.local_addr().unwrap().port();
    let mut call = Caller::call_with_media(&pbx, "101", "112", port);
    assert_eq!(call.expect(200), 200, "answered with an announcement");
    call.ack();
    assert!(loudness(&rtp, 2000) > 100.0, "the caller hears why");
}

#[test]
fn calls_from_a_trunk_reach_extensions_groups_and_the_ivr_by_ddi() {
    let dir = temp_dir();
    let pbx = Pbx::start(dir.path());
    let carrier = Carrier::start();
    edit_plan(dir.path(), |p| {
        // The group rings at any hour in this test; the IVR's 5 leads outside.
        p["groups"][0]["schedule"] = serde_json::Value::Null;
        p["ivrs"][0]["schedule"] = serde_json::Value::Null;
        p["ivrs"][0]["choices"]["5"] = serde_json::json!("+4930999999");
    });
    trunk_add(dir.path(), "demo-trunk", carrier.port(), &[]);
    wait_status(dir.path(), "demo-trunk", "up");
    let mut phone = Device::register(&pbx, "105");
    let mut member = Device::register(&pbx, "101");
    // A DDI of the location's block: extension 105 rings, showing the caller as its
    // phone redials it (access code, national prefix).
    let mut call = carrier.call(pbx.addr, "+4989123456", "+49301234567105", 42000);
    let invite = phone.next_invite(&[]).expect("105 rings");
    assert_eq!(
        invite.from().and_then(|f| f.uri.user),
        Some("0089123456"),
        "{invite:?}"
    );
    phone.answer_invite(&invite, 43000);
    assert_eq!(carrier.final_response(&mut call, WAIT), Some(200));
    carrier.send(&carrier.in_dialog(&call, "BYE", 2), pbx.addr);
    recv_until(&mut phone.c, "the BYE at 105", |m| is_request(m, "BYE"));
    // The national form of a DDI reaches the group: its first member rings.
    let mut call = carrier.call(pbx.addr, "0891234567", "0301234567200", 42002);
    let invite = member
        .next_invite(&[])
        .expect("group 200's first member rings");
    member.respond(&invite, 486, "Busy Here");
    let _ = carrier.final_response(&mut call, Duration::from_secs(1));
    // The plan's single DDI number of the IVR: the switch answers, and the caller's
    // choice 5 (an external number, under the menu's class) goes out on the trunk.
    let mut call = carrier.call(pbx.addr, "+4989123456", "+4930123456799", 42004);
    assert_eq!(
        carrier.final_response(&mut call, WAIT),
        Some(200),
        "the IVR answers"
    );
    carrier.press(&call, 2, '5');
    let (out, from) = carrier
        .invite(WAIT)
        .expect("the IVR's external choice goes out");
    assert_eq!(out.uri().and_then(|u| u.user), Some("+4930999999"));
    carrier.respond(&out, from, 486, "Busy Here");
    carrier.send(&carrier.in_dialog(&call, "BYE", 3), pbx.addr);
    // Not a number of this tenant: 404.
    let mut call = carrier.call(pbx.addr, "+4989123456", "+4940999999", 42006);
    assert_eq!(carrier.final_response(&mut call, WAIT), Some(404));
    // The same INVITE from an address that is no trunk is not let in.
    let stranger = Carrier::start();
    let mut call = stranger.call(pbx.addr, "+4989123456", "+49301234567105", 42008);
    let code = stranger.final_response(&mut call, WAIT);
    assert!(matches!(code, Some(401..=404 | 407)), "{code:?}");
    assert!(
        phone.next_invite(&[invite]).is_none(),
        "105 does not ring for it"
    );
}

/// Debian's Kamailio as the carrier a registration trunk registers with
/// (`tests/kamailio/carrier.cfg`), its far end `far_end`; stopped on drop.
struct Kamailio {
    child: std::process::Child,
    addr: std::net::SocketAddr,
    _dir: tempfile::TempDir,
}

impl Kamailio {
    fn start(far_end: u16, max_expires: u32) -> Kamailio {
        Self::start_with(far_end, max_expires, None)
    }

    /// Also listening for TLS on a port of its own, presenting `cert` (Debian
    /// package kamailio-tls-modules); that port is `Kamailio::tls`.
    fn start_tls(far_end: u16, cert: &crate::common::TestCertificate) -> (Kamailio, u16) {
        let port = crate::common::free_port();
        (Self::start_with(far_end, 60, Some((cert, port))), port)
    }

    fn start_with(
        far_end: u16,
        max_expires: u32,
        tls: Option<(&crate::common::TestCertificate, u16)>,
    ) -> Kamailio {
        let dir = temp_dir();
        let db = dir.path().join("kam.db");
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute_batch(
            "CREATE TABLE version (table_name VARCHAR(32) PRIMARY KEY, table_version INTEGER);
             INSERT INTO version VALUES ('subscriber', 7);
             CREATE TABLE subscriber (id INTEGER PRIMARY KEY, username VARCHAR(64) DEFAULT '' NOT NULL,
               domain VARCHAR(64) DEFAULT '' NOT NULL, password VARCHAR(64) DEFAULT '' NOT NULL,
               ha1 VARCHAR(128) DEFAULT '' NOT NULL, ha1b VARCHAR(128) DEFAULT '' NOT NULL);
             INSERT INTO subscriber (username, domain, password) VALUES ('acme', 'carrier.test', 'secret');",
        )
        .unwrap();
        drop(conn);
        let port = crate::common::free_port();
        let cfg = include_str!("../kamailio/carrier.cfg")
            .replace("KAMPORT", &port.to_string())
            .replace("FARENDPORT", &far_end.to_string())
            .replace("MAXEXPIRES", &max_expires.to_string())
            .replace("DBPATH", db.to_str().unwrap());
        let cfg = match tls {
            None => cfg,
            Some((cert, tls_port)) => {
                let tls_cfg = dir.path().join("tls.cfg");
                std::fs::write(
                    &tls_cfg,
                    format!(
                        "[server:default]\nmethod = TLSv1.2+\nverify_certificate = no\n\
                         require_certificate = no\nprivate_key = {}\ncertificate = {}\n\n\
                         [client:default]\nmethod = TLSv1.2+\nverify_certificate = no\n\
                         require_certificate = no\n",
                        cert.key.display(),
                        cert.cert.display()
                    ),
                )
                .unwrap();
                cfg.replace(
                    "#TLS-LISTEN",
                    &format!("enable_tls=yes\nlisten=tls:127.0.0.1:{tls_port}"),
                )
                .replace(
                    "#TLS-MODULE",
                    &format!(
                        "loadmodule \"tls.so\"\nmodparam(\"tls\", \"config\", \"{}\")",
                        tls_cfg.display()
                    ),
                )
            }
        };
        let file = dir.path().join("carrier.cfg");
        std::fs::write(&file, cfg).unwrap();
        let child = std::process::Command::new("kamailio")
            .arg("-f")
            .arg(&file)
            .args(["-DD", "-E", "-m", "64", "-M", "8", "-w"])
            .arg(dir.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("kamailio starts (Debian package kamailio, scripts/deps.sh)");
        let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        // Up once it answers an OPTIONS.
        let probe = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        probe
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let local = probe.local_addr().unwrap();
        let options = format!(
            "OPTIONS sip:carrier.test SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bKprobe\r\nMax-Forwards: 70\r\nFrom: <sip:probe@{local}>;tag=p\r\nTo: <sip:carrier.test>\r\nCall-ID: probe\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
        );
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut buf = [0u8; 2048];
        loop {
            assert!(Instant::now() < deadline, "kamailio did not come up");
            probe.send_to(options.as_bytes(), addr).unwrap();
            if probe.recv_from(&mut buf).is_ok() {
                break;
            }
        }
        Kamailio {
            child,
            addr,
            _dir: dir,
        }
    }
}

impl Drop for Kamailio {
    fn drop(&mut self) {
        crate::common::terminate(&mut self.child);
    }
}

/// A call out through Kamailio (which challenges it) to the far end, and one from
/// the far end through Kamailio to line 105.
fn calls_both_ways(pbx: &Pbx, kam: &Kamailio, far_end: &Carrier) {
    let mut call = Caller::call(pbx, "101", "0030123456");
    let (invite, from) = far_end.invite(WAIT).expect("the far end gets the call");
    assert_eq!(invite.uri().and_then(|u| u.user), Some("+4930123456"));
    assert_eq!(
        user_of(&invite, "P-Asserted-Identity").as_deref(),
        Some("+49301234567101")
    );
    far_end.answer(&invite, from, 41000);
    assert_eq!(call.expect(200), 200);
    call.ack();
    call.bye();
    let (bye, from) = far_end
        .request("BYE", WAIT)
        .expect("the BYE through kamailio");
    far_end.respond(&bye, from, 200, "OK");
    let mut phone = Device::register(pbx, "105");
    let mut call = far_end.call(kam.addr, "+4989123456", "+49301234567105", 42000);
    let Some(invite) = phone.next_invite(&[]) else {
        panic!(
            "105 rings for the call via kamailio; the far end got {:?}",
            far_end.final_response(&mut call, WAIT)
        );
    };
    phone.answer_invite(&invite, 43000);
    assert_eq!(far_end.final_response(&mut call, WAIT), Some(200));
}

fn registrations(text: &str) -> u32 {
    text.lines()
        .find_map(|l| l.strip_prefix("registrations:"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn a_registration_trunk_registers_with_kamailio_and_carries_calls_both_ways() {
    let dir = temp_dir();
    let pbx = Pbx::start(dir.path());
    let far_end = Carrier::start();
    // Kamailio grants 4 s: the trunk registers again before that runs out.
    let kam = Kamailio::start(far_end.port(), 4);
    route_over(dir.path(), &["carrier"]);
    let port = kam.addr.port();
    trunk_add(
        dir.path(),
        "carrier",
        port,
        &[
            "--register",
            "--user",
            "acme",
            "--password",
            "secret",
            "--domain",
            "carrier.test",
            "--expires",
            "60",
        ],
    );
    let text = wait_status(dir.path(), "carrier", "up");
    assert!(text.contains("registered for 4 s"), "{text}");
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let out = pbx_admin(
            dir.path(),
            &["trunk", "show", "--tenant", "demo", "carrier"],
        );
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        if registrations(&text) >= 3 {
            break;
        }
        assert!(Instant::now() < deadline, "no re-registration: {text}");
        std::thread::sleep(Duration::from_millis(300));
    }
    // Out: Kamailio challenges the INVITE, the trunk answers with its account, and
    // the far end gets the number and caller ID the plan makes; in: the far end calls
    // a DDI and Kamailio sends it to the registered Contact.
    calls_both_ways(&pbx, &kam, &far_end);
    // Wrong credentials: the trunk is down and says why.
    trunk_add(
        dir.path(),
        "wrong",
        port,
        &[
            "--register",
            "--user",
            "acme",
            "--password",
            "guess",
            "--domain",
            "carrier.test",
        ],
    );
    let text = wait_status(dir.path(), "wrong", "down");
    assert!(text.contains("credentials"), "{text}");
}

#[test]
fn a_forwarding_to_an_external_number_leaves_under_the_forwarding_lines_class() {
    let dir = temp_dir();
    let pbx = Pbx::start(dir.path());
    let carrier = Carrier::start();
    trunk_add(dir.path(), "demo-trunk", carrier.port(), &[]);
    wait_status(dir.path(), "demo-trunk", "up");
    // A premium-rate number is refused where the forwarding is set.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pbx"))
        .args([
            "line",
            "set",
            "--tenant",
            "demo",
            "104",
            "--forward-always",
            "009001234567",
        ])
        .arg("--data-dir")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("premium"), "{err}");
    // A national number is allowed: the call goes out with 104 in Diversion and the
    // caller's own number as From.
    line_set(dir.path(), "104", &["--forward-always", "0030123456"]);
    // The switch reads line settings every two seconds.
    std::thread::sleep(Duration::from_secs(3));
    let mut call = Caller::call(&pbx, "101", "104");
    let Some((invite, from)) = carrier.invite(WAIT) else {
        panic!(
            "the forwarded call goes out: the caller got {:?}",
            call.expect(200)
        );
    };
    assert_eq!(invite.uri().and_then(|u| u.user), Some("+4930123456"));
    assert_eq!(
        user_of(&invite, "Diversion").as_deref(),
        Some("+49301234567104")
    );
    assert_eq!(user_of(&invite, "From").as_deref(), Some("+49301234567101"));
    carrier.respond(&invite, from, 486, "Busy Here");
    assert_eq!(call.expect(486), 486);
    // 104 loses its right to call outside: the forwarding it kept is refused on
    // every call (403), and no trunk hears of it.
    edit_plan(dir.path(), |p| {
        for e in p["extensions"].as_array_mut().unwrap() {
            if e["number"] == "104" {
                e["class"] = serde_json::json!("internal_only");
            }
        }
    });
    std::thread::sleep(Duration::from_secs(3));
    let mut call = Caller::call(&pbx, "102", "104");
    assert_eq!(call.expect(403), 403);
    assert!(carrier.invite(Duration::from_millis(500)).is_none());
}

#[test]
fn a_carrier_answering_garbage_takes_its_trunk_down_and_calls_fail_over() {
    let dir = temp_dir();
    let pbx = Pbx::start(dir.path());
    // A "carrier" that answers everything with bytes that are no SIP.
    let junk = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let junk_port = junk.local_addr().unwrap().port();
    let seen = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = seen.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 65536];
        while let Ok((_, from)) = junk.recv_from(&mut buf) {
            counted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let _ = junk.send_to(b"SIP/2.0 2OO OK\r\n\x00\xff garbage", from);
        }
    });
    let good = Carrier::start();
    route_over(dir.path(), &["junk", "good"]);
    trunk_add(dir.path(), "junk", junk_port, &["--keepalive", "1"]);
    trunk_add(dir.path(), "good", good.port(), &[]);
    let text = wait_status(dir.path(), "junk", "down");
    assert!(text.contains("no answer"), "{text}");
    assert!(seen.load(std::sync::atomic::Ordering::Relaxed) > 0);
    wait_status(dir.path(), "good", "up");
    // The switch still works, and calls go out on the trunk that is up.
    let mut call = Caller::call(&pbx, "101", "0030123456");
    let (invite, from) = good.invite(WAIT).expect("the good trunk takes the call");
    good.answer(&invite, from, 41000);
    assert_eq!(call.expect(200), 200);
    call.ack();
    call.bye();
}

#[test]
fn a_tcp_trunk_registers_and_carries_calls_over_its_own_connection() {
    let dir = temp_dir();
    let pbx = Pbx::start(dir.path());
    let far_end = Carrier::start();
    let kam = Kamailio::start(far_end.port(), 60);
    route_over(dir.path(), &["carrier"]);
    let port = kam.addr.port();
    trunk_add(
        dir.path(),
        "carrier",
        port,
        &[
            "--transport",
            "tcp",
            "--register",
            "--user",
            "acme",
            "--password",
            "secret",
            "--domain",
            "carrier.test",
        ],
    );
    wait_status(dir.path(), "carrier", "up");
    // Out on the trunk's connection; in: Kamailio sends the call down the connection
    // the trunk registered on.
    calls_both_ways(&pbx, &kam, &far_end);
}

/// The carrier account of the TLS trunk tests.
const TLS_ACCOUNT: &[&str] = &[
    "--transport",
    "tls",
    "--register",
    "--user",
    "acme",
    "--password",
    "secret",
    "--domain",
    "carrier.test",
];

#[test]
fn a_tls_trunk_checks_its_carriers_certificate_and_carries_calls_both_ways() {
    let dir = temp_dir();
    let cert = crate::common::test_certificate(dir.path());
    let (cert_s, key_s, ca_s) = (
        cert.cert.to_str().unwrap(),
        cert.key.to_str().unwrap(),
        cert.ca.to_str().unwrap(),
    );
    let data = dir.path().join("data");
    let pbx = Pbx::start_with(
        &data,
        "127.0.0.1:0",
        &["--tls-cert", cert_s, "--tls-key", key_s, "--tls-ca", ca_s],
    );
    let far_end = Carrier::start();
    let (kam, tls_port) = Kamailio::start_tls(far_end.port(), &cert);
    route_over(&data, &["carrier"]);
    trunk_add(&data, "carrier", tls_port, TLS_ACCOUNT);
    wait_status(&data, "carrier", "up");
    // Out over the TLS connection the trunk opened; in: Kamailio sends the call down
    // that connection.
    calls_both_ways(&pbx, &kam, &far_end);
    // A switch that does not trust the carrier's authority refuses the connection.
    let other = dir.path().join("other");
    let _doubting = Pbx::start_with(
        &other,
        "127.0.0.1:0",
        &["--tls-cert", cert_s, "--tls-key", key_s],
    );
    trunk_add(&other, "carrier", tls_port, TLS_ACCOUNT);
    let text = wait_status(&other, "carrier", "down");
    assert!(text.contains("certificate"), "{text}");
}

#[test]
fn a_registration_trunk_registers_at_the_simulated_carrier_and_calls_its_ddis() {
    let dir = temp_dir();
    let pbx = Pbx::start(dir.path());
    // `pbx sim --uas` as the carrier: a registrar with digest (realm carrier.test,
    // password `secret`) answering the DDIs +4930123400-99.
    let port = crate::common::free_port();
    let listen = format!("127.0.0.1:{port}");
    let json = dir.path().join("carrier.json");
    let mut carrier = crate::sim::start_uas(
        &listen,
        &[
            "--dids",
            "4930123400-4930123499",
            "--domain",
            "carrier.test",
            "--password",
            "secret",
            "--duration",
            "12s",
        ],
        &json,
    );
    route_over(dir.path(), &["carrier"]);
    let account = |password| {
        vec![
            "--register",
            "--user",
            "acme",
            "--password",
            password,
            "--domain",
            "carrier.test",
            "--expires",
            "60",
        ]
    };
    trunk_add(dir.path(), "carrier", port, &account("secret"));
    let text = wait_status(dir.path(), "carrier", "up");
    assert!(text.contains("registered for 60 s"), "{text}");
    // Out through the registered trunk: the carrier answers the DDI.
    let mut call = Caller::call(&pbx, "101", "0030123456");
    assert_eq!(call.expect(200), 200, "the carrier answers +4930123456");
    call.ack();
    call.bye();
    // A wrong password: the carrier refuses it and the trunk says why.
    trunk_add(dir.path(), "wrong", port, &account("guess"));
    let text = wait_status(dir.path(), "wrong", "down");
    assert!(text.contains("REGISTER refused: 403"), "{text}");
    // It counted the refused registration as a failure: exit code 1.
    assert_eq!(
        crate::sim::wait_for(&mut carrier, Duration::from_secs(30)),
        Some(1)
    );
    let r = crate::sim::report(&json);
    assert!(r["registered"].as_u64().unwrap() >= 1, "{r}");
    assert_eq!(r["answered"].as_u64(), Some(1), "{r}");
    assert!(r["failed"]["register 403"].as_u64().unwrap() >= 1, "{r}");
}
