//! The dialplan decides every call: each number of the demo plan, dialled through the
//! running switch, lands where `pbx route --json` says it goes (or gets the named
//! refusal for a target the switch does not carry out yet), and a Contact is reached
//! where RFC 3261 says (third-party registration, NAT, a DECT base's handsets).

use std::net::UdpSocket;
use std::time::Duration;

use crate::common::call_helpers::*;
use crate::common::sip_client::SipClient;
use crate::common::{temp_dir, Pbx};
use engine::auth::Algorithm;
use serde_json::Value;

fn pbx_json(dir: &std::path::Path, args: &[&str]) -> Value {
    serde_json::from_slice(&pbx_admin(dir, args).stdout).unwrap()
}

/// Every number the demo plan names: extensions, groups, queues, menus, rooms,
/// emergency numbers and feature codes, plus an unassigned and an external number.
fn numbers_of(plan: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for list in ["extensions", "groups", "queues", "ivrs", "conferences"] {
        for e in plan[list].as_array().unwrap() {
            out.push(e["number"].as_str().unwrap().to_owned());
        }
    }
    for n in plan["emergency"]["numbers"]
        .as_array()
        .into_iter()
        .flatten()
    {
        out.push(n.as_str().unwrap().to_owned());
    }
    for c in plan["feature_codes"]["codes"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let code = c["code"].as_str().unwrap();
        // Bare, and followed by an extension (for the codes that take a number).
        out.push(code.to_owned());
        out.push(format!("{code}105"));
    }
    out.extend(["555".to_owned(), "0030123456".to_owned()]);
    out
}

#[test]
fn every_number_of_the_demo_plan_goes_where_pbx_route_says() {
    let dir = temp_dir();
    let mut pbx = Pbx::start(dir.path());
    let plan = pbx_json(dir.path(), &["plan", "show", "--tenant", "demo"]);
    let numbers = numbers_of(&plan);
    assert!(numbers.len() >= 20, "{numbers:?}");
    // 105 has a phone; the others have none.
    let mut phone = Device::register(&pbx, "105");
    phone.c.set_timeout(Duration::from_secs(2));
    let mut refused_with_row = 0;
    for (i, number) in numbers.iter().enumerate() {
        // Callers take turns, so no line's own call rate is reached.
        let caller = ["101", "102", "103", "104"][i % 4];
        let route = pbx_json(
            dir.path(),
            &[
                "route", "--tenant", "demo", "--from", caller, "--to", number, "--json",
            ],
        );
        let targets = route["decision"]["targets"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let expected = walk(&targets);
        let mut call = Caller::call(&pbx, caller, number);
        if expected.rings_105 {
            let invite = phone.next_invite(&[]).expect("105's phone got the INVITE");
            phone.respond(&invite, 180, "Ringing");
            assert_eq!(call.expect(180), 180, "{number}: 105's phone rings");
            phone.respond(&invite, 486, "Busy Here");
        }
        let code = call.expect(expected.code);
        if code == 200 {
            call.ack();
            call.bye();
        }
        let warning = call
            .last
            .as_ref()
            .and_then(|m| m.values_named("Warning").next().map(str::to_owned))
            .unwrap_or_default();
        // Office hours may have turned between `pbx route` and the call: then the plan
        // says the other thing now, and the call must say that.
        let again = || {
            let route = pbx_json(
                dir.path(),
                &[
                    "route", "--tenant", "demo", "--from", caller, "--to", number, "--json",
                ],
            );
            walk(route["decision"]["targets"].as_array().unwrap())
        };
        let expected = if code == expected.code && names(&warning, &expected.missing) {
            expected
        } else {
            again()
        };
        assert_eq!(code, expected.code, "{number}: {route}");
        assert!(
            names(&warning, &expected.missing),
            "{number}: the Warning names the {:?}: {warning:?}",
            expected.missing
        );
        if expected.missing.is_some() && !expected.rang {
            refused_with_row += 1;
        }
    }
    assert!(
        refused_with_row >= 2,
        "{refused_with_row} refusals of targets not built"
    );
    let rows = journal(&mut pbx);
    assert!(
        rows.len() >= refused_with_row.min(10),
        "each refusal has a journal row: {} rows",
        rows.len()
    );
}

/// What a call gets when the switch walks a decision of `pbx route --json`: 105 has
/// a phone (it answers busy), no other line has one (486, the default decline); a
/// conference room, a queue or an IVR menu answers (200); a trunk hop fails (503: the
/// test configures no trunk); a target the switch does not build yet refuses the
/// caller (480, 501 for a feature
/// code) or, after a hop that failed, leaves the caller that hop's status; both name
/// the missing target in a `Warning`.
struct Expected {
    code: u16,
    rings_105: bool,
    /// Some hop rang (or tried to ring) lines before the walk ended.
    rang: bool,
    /// The kind of target not built yet that ended the walk.
    missing: Option<String>,
}

fn walk(targets: &[Value]) -> Expected {
    let mut e = Expected {
        code: 404,
        rings_105: false,
        rang: false,
        missing: None,
    };
    let mut last = None;
    for t in targets {
        let kind = t["target"].as_str().unwrap_or("none");
        let number = t["number"].as_str().unwrap_or("");
        let lines: Vec<&str> = match kind {
            "extension" => vec![number],
            "drop_off" if !number.starts_with('+') => vec![number],
            "hunt_group" => t["members"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m.as_str().unwrap())
                .collect(),
            "reject" => {
                e.code = t["code"].as_u64().unwrap() as u16;
                return e;
            }
            // Conference rooms, queues and IVR menus answer, and so do the feature codes the
            // switch carries out (do not disturb, forwarding, caller ID …): it confirms them.
            // A closing-time announcement is answered, played and hung up.
            "conference" | "queue" | "ivr_menu" => {
                e.code = 200;
                return e;
            }
            // An announcement answers, also after hops that failed (an emergency
            // call no trunk took).
            "announcement" => {
                e.code = 200;
                return e;
            }
            // No trunk is configured in this test: each outbound or emergency hop
            // fails over (503) and the walk goes on.
            "outbound" | "emergency" => {
                last = Some(503);
                continue;
            }
            // A directed pickup with nothing ringing there.
            "feature"
                if t["action"]["feature"] == "directed_pickup"
                    || t["action"]["feature"] == "group_pickup" =>
            {
                e.code = 404;
                return e;
            }
            "feature"
                if t["action"]["feature"] == "dnd"
                    || t["action"]["feature"] == "call_waiting"
                    || t["action"]["feature"] == "anonymous"
                    || t["action"]["feature"] == "caller_id"
                    || t["action"]["feature"] == "agent_login"
                    || t["action"]["feature"] == "agent_logout"
                    || t["action"]["feature"] == "voicemail_access"
                    || (t["action"]["feature"] == "forward"
                        && matches!(
                            t["action"]["kind"].as_str(),
                            Some("unconditional" | "busy" | "no_answer")
                        )) =>
            {
                e.code = 200;
                return e;
            }
            other => {
                e.missing = Some(other.to_owned());
                e.code = last.unwrap_or(if other == "feature" { 501 } else { 480 });
                return e;
            }
        };
        e.rang = true;
        e.rings_105 |= lines.contains(&"105");
        // A line without a phone declines (486, the tenant's default); a group whose
        // members have none is unavailable (480); 105's phone answers busy.
        last = Some(if kind == "hunt_group" && !lines.contains(&"105") {
            480
        } else {
            486
        });
    }
    e.code = last.unwrap_or(404);
    e
}

/// True when a `Warning` names the missing target kind (or none is expected).
fn names(warning: &str, missing: &Option<String>) -> bool {
    let Some(kind) = missing else {
        return true;
    };
    let text = warning.to_ascii_lowercase();
    text.contains(kind.split('_').next().unwrap()) || text.contains(&kind.replace('_', " "))
}

/// A phone's socket that only listens (the Contact it was registered with).
fn listener() -> (UdpSocket, u16) {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let port = s.local_addr().unwrap().port();
    (s, port)
}

fn gets_invite(s: &UdpSocket) -> bool {
    let mut buf = [0u8; 4096];
    while let Ok((n, _)) = s.recv_from(&mut buf) {
        if buf[..n].starts_with(b"INVITE ") {
            return true;
        }
    }
    false
}

#[test]
fn a_contact_is_reached_where_rfc_3261_says() {
    let dir = temp_dir();
    let pbx = Pbx::start(dir.path());
    // Third-party registration: a provisioning host registers 106 for a phone that
    // listens elsewhere (another port than the REGISTER's source).
    let (phone, port) = listener();
    let mut host = SipClient::udp(pbx.addr);
    let contact = format!("<sip:106@127.0.0.1:{port}>");
    let resp = host.register(
        "106",
        "secret106",
        "127.0.0.1",
        Some(&contact),
        Some(600),
        Algorithm::Md5,
    );
    assert_eq!(resp.code(), Some(200));
    let mut a = Caller::call(&pbx, "101", "106");
    assert!(gets_invite(&phone), "the phone at its Contact rings");
    a.cancel();
    // Behind NAT: the Contact names a private address the switch cannot reach; the
    // INVITE follows the REGISTER's source.
    let mut natted = SipClient::udp(pbx.addr);
    let resp = natted.register(
        "107",
        "secret107",
        "127.0.0.1",
        Some("<sip:107@192.168.7.7:5060>"),
        Some(600),
        Algorithm::Md5,
    );
    assert_eq!(resp.code(), Some(200));
    let mut b = Caller::call(&pbx, "101", "107");
    natted.set_timeout(Duration::from_secs(3));
    let mut rang = false;
    while let Some(m) = natted.recv() {
        if m.method().map(|x| x.as_str()) == Some("INVITE") {
            rang = true;
            break;
        }
    }
    assert!(rang, "the NATed phone got its INVITE at its source address");
    b.cancel();
    // A DECT base registers two handsets (two numbers) from one address and port;
    // each rings alone.
    let mut base = SipClient::udp(pbx.addr);
    let base_contact = |n: &str| format!("<sip:{n}@{}>", base.local);
    let (c103, c104) = (base_contact("103"), base_contact("104"));
    for (n, c) in [("103", &c103), ("104", &c104)] {
        let resp = base.register(
            n,
            &format!("secret{n}"),
            "127.0.0.1",
            Some(c),
            Some(600),
            Algorithm::Md5,
        );
        assert_eq!(resp.code(), Some(200));
    }
    base.set_timeout(Duration::from_secs(3));
    for n in ["103", "104"] {
        let mut call = Caller::call(&pbx, "102", n);
        let invite = loop {
            let m = base.recv().expect("the base gets an INVITE");
            if m.method().map(|x| x.as_str()) == Some("INVITE") {
                break m;
            }
        };
        assert_eq!(
            invite.to().unwrap().uri.user,
            Some(n),
            "the INVITE is for handset {n} alone"
        );
        call.cancel();
        assert_eq!(call.expect(487), 487);
    }
}

#[test]
fn a_line_group_of_the_plan_decides_what_callers_of_its_lines_get() {
    let dir = temp_dir();
    let mut pbx = Pbx::start(dir.path());
    pbx.stop();
    // 105 joins line group "sales", which declines with 603; the rest keep the
    // default group (486), which `pbx tenant set` now edits inside the plan.
    put_in_new_line_group(
        dir.path(),
        serde_json::json!({"name": "sales", "decline": "603"}),
        "105",
    );
    pbx_admin(dir.path(), &["tenant", "set", "demo", "--decline", "480"]);
    // A line added later joins the group from the command line.
    pbx_admin(
        dir.path(),
        &[
            "user",
            "add",
            "--tenant",
            "demo",
            "150",
            "--password",
            "secret150",
        ],
    );
    pbx_admin(
        dir.path(),
        &["user", "set-group", "--tenant", "demo", "150", "sales"],
    );
    let shown = pbx_json(dir.path(), &["plan", "show", "--tenant", "demo"]);
    let default = shown["line_groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == "default")
        .unwrap();
    assert_eq!(default["decline"], "480", "pbx tenant set edits the plan");
    pbx.restart();
    assert_eq!(Caller::call(&pbx, "101", "105").expect(603), 603);
    assert_eq!(Caller::call(&pbx, "101", "106").expect(480), 480);
    assert_eq!(Caller::call(&pbx, "102", "150").expect(603), 603);
}

#[test]
fn a_line_groups_codecs_and_journal_apply_to_calls_of_its_lines() {
    let dir = temp_dir();
    let mut pbx = Pbx::start(dir.path());
    pbx.stop();
    // 105 is in line group "quiet": PCMA first, calls not journalled.
    put_in_new_line_group(
        dir.path(),
        serde_json::json!({"name": "quiet", "codecs": ["PCMA", "PCMU"], "journal": false}),
        "105",
    );
    pbx.restart();
    let mut quiet = Device::register(&pbx, "105");
    let mut other = Device::register(&pbx, "107");
    for (callee, device, first_pt) in [("105", &mut quiet, 8), ("107", &mut other, 0)] {
        // The caller offers PCMU first; the device gets its group's order.
        let mut call = Caller::call(&pbx, "101", callee);
        let invite = device.next_invite(&[]).expect("the INVITE");
        let offer = engine::sdp::Sdp::parse(invite.body()).unwrap();
        assert_eq!(offer.media()[0].payload_types()[0], first_pt, "{callee}");
        device.respond(&invite, 486, "Busy Here");
        assert_eq!(call.expect(486), 486);
    }
    let rows = journal(&mut pbx);
    assert!(rows.iter().any(|r| r.to == "107"), "{rows:?}");
    assert!(
        !rows.iter().any(|r| r.to == "105"),
        "not journalled: {rows:?}"
    );
}

#[test]
fn a_line_group_requiring_srtp_refuses_plain_calls_and_offers_its_devices_srtp_only() {
    let dir = temp_dir();
    let mut pbx = Pbx::start(dir.path());
    pbx.stop();
    put_in_new_line_group(
        dir.path(),
        serde_json::json!({"name": "secure", "srtp": true}),
        "105",
    );
    pbx.restart();
    let mut secure = Device::register(&pbx, "105");
    let _other = Device::register(&pbx, "107");
    // 105 places a call with plain RTP: refused before anything rings.
    let mut call = Caller::call(&pbx, "105", "107");
    assert_eq!(call.expect(488), 488);
    // A plain caller reaches 105's devices with an RTP/SAVP offer and the switch's
    // own key; a device without SRTP refuses it.
    let mut call = Caller::call(&pbx, "101", "105");
    let invite = secure.next_invite(&[]).expect("the INVITE");
    let offer = engine::sdp::Sdp::parse(invite.body()).unwrap();
    let audio = &offer.media()[0];
    assert_eq!(audio.proto(), "RTP/SAVP");
    let key = audio.crypto().expect("a key the switch speaks");
    assert_eq!(key.suite, "AES_CM_128_HMAC_SHA1_80");
    secure.respond(&invite, 488, "Not Acceptable Here");
    assert_eq!(call.expect(488), 488);
}

/// Adds line group `group` (JSON) to the demo tenant's plan and puts line `ext` in it.
fn put_in_new_line_group(dir: &std::path::Path, group: Value, ext: &str) {
    let mut plan = pbx_json(dir, &["plan", "show", "--tenant", "demo"]);
    let name = group["name"].clone();
    plan["line_groups"].as_array_mut().unwrap().push(group);
    for e in plan["extensions"].as_array_mut().unwrap() {
        if e["number"] == ext {
            e["line_group"] = name.clone();
        }
    }
    let file = dir.join("plan.json");
    std::fs::write(&file, plan.to_string()).unwrap();
    pbx_admin(
        dir,
        &["plan", "set", "--tenant", "demo", file.to_str().unwrap()],
    );
}
