//! A line's own call handling: do not disturb and forwarding (always, when busy, when
//! no device is registered), set from the phone by feature code (confirmed by a
//! prompt, then the switch hangs up) or by `pbx line set`, kept over a restart, and
//! followed by real calls.

use std::net::UdpSocket;
use std::time::Duration;

use crate::common::call_helpers::*;
use crate::common::{temp_dir, Pbx};

/// 100 calls `callee`: the final (or ringing) status it gets.
fn call_status(pbx: &Pbx, callee: &str, until: u16) -> u16 {
    let mut call = Caller::call(pbx, "100", callee);
    let code = call.expect(until);
    if code < 200 {
        call.cancel();
        call.expect(487);
    }
    code
}

fn show(dir: &std::path::Path, ext: &str) -> String {
    let out = pbx_admin(dir, &["line", "show", "--tenant", "demo", ext]);
    String::from_utf8(out.stdout).unwrap()
}

/// `picker` dials `code` (RTP on `port`) to pick up `call`, ringing at `ringing`:
/// the picker is answered, the ringing phone is cancelled, the caller is answered.
fn picks_up(
    pbx: &Pbx,
    picker: &str,
    code: &str,
    port: u16,
    ringing: &mut Device,
    call: &mut Caller,
) -> Caller {
    let mut p = Caller::call_with_media(pbx, picker, code, port);
    assert_eq!(p.expect(200), 200, "{picker} picks up with {code}");
    p.ack();
    let cancel = recv_until(&mut ringing.c, "CANCEL", |m| is_request(m, "CANCEL"));
    ringing.respond(&cancel, 200, "OK");
    assert_eq!(call.expect(200), 200);
    call.ack();
    p
}

#[test]
fn do_not_disturb_by_feature_code_is_confirmed_kept_over_a_restart_and_cleared() {
    let dir = temp_dir();
    let mut pbx = Pbx::start(dir.path());
    let _phone = Device::register(&pbx, "101");
    assert!(
        dial_code(&pbx, "101", "*78") > 200.0,
        "the confirmation is heard"
    );
    assert_eq!(
        call_status(&pbx, "101", 486),
        486,
        "on do not disturb: busy"
    );
    assert!(show(dir.path(), "101").contains("do not disturb:        on"));
    pbx.restart();
    let _phone = Device::register(&pbx, "101");
    assert_eq!(call_status(&pbx, "101", 486), 486, "still after a restart");
    dial_code(&pbx, "101", "*79");
    let mut phone = Device::register(&pbx, "101");
    let mut call = Caller::call(&pbx, "100", "101");
    let invite = phone.next_invite(&[]).expect("101 rings again");
    phone.respond(&invite, 180, "Ringing");
    assert_eq!(call.expect(180), 180);
    call.cancel();
    assert_eq!(call.expect(487), 487);
    // The calls refused while on do not disturb are in the journal: missed, busy.
    let calls = journal(&mut pbx);
    let busy = calls
        .iter()
        .filter(|c| c.to == "101" && c.disposition == Some(actors::journal::Disposition::Busy))
        .count();
    assert_eq!(busy, 2, "{calls:?}");
}

#[test]
fn forwarding_always_by_feature_code_rings_the_target_and_a_bad_target_is_refused() {
    let dir = temp_dir();
    let pbx = Pbx::start(dir.path());
    let _own = Device::register(&pbx, "101");
    let mut target = Device::register(&pbx, "102");
    dial_code(&pbx, "101", "*21102");
    let mut call = Caller::call(&pbx, "100", "101");
    let invite = target.next_invite(&[]).expect("102 rings for 101");
    target.respond(&invite, 486, "Busy Here");
    assert_eq!(call.expect(486), 486);
    // Not an extension: refused by a prompt, nothing stored changes.
    dial_code(&pbx, "101", "*21999");
    assert!(show(dir.path(), "101").contains("forward always:        102"));
    dial_code(&pbx, "101", "#21");
    assert!(show(dir.path(), "101").contains("forward always:        off"));
}

#[test]
fn forwarding_when_busy_and_when_offline_set_by_the_admin_and_loops_end() {
    let dir = temp_dir();
    let mut pbx = Pbx::start(dir.path());
    pbx.stop();
    line_set(dir.path(), "101", &["--forward-busy", "102"]);
    line_set(dir.path(), "104", &["--forward-unregistered", "102"]);
    line_set(dir.path(), "105", &["--forward-always", "106"]);
    line_set(dir.path(), "106", &["--forward-always", "105"]);
    pbx.restart();
    let mut b = Device::register(&pbx, "101");
    let mut target = Device::register(&pbx, "102");
    let mut d = Device::register(&pbx, "103");
    // 101 is in a call with 103: a call to 101 goes to 102.
    let mut busy_call = Caller::call(&pbx, "101", "103");
    d.answer(41100);
    assert_eq!(busy_call.expect(200), 200);
    busy_call.ack();
    let mut call = Caller::call(&pbx, "100", "101");
    let invite = target.next_invite(&[]).expect("102 rings for busy 101");
    target.respond(&invite, 486, "Busy Here");
    assert_eq!(call.expect(486), 486);
    busy_call.bye();
    // 104 has no device: its calls go to 102.
    let mut call = Caller::call(&pbx, "100", "104");
    let seen = [invite];
    let invite = target
        .next_invite(&seen)
        .expect("102 rings for offline 104");
    target.respond(&invite, 486, "Busy Here");
    assert_eq!(call.expect(486), 486);
    // 105 and 106 forward to each other: the call ends, no storm.
    assert_eq!(call_status(&pbx, "105", 482), 482);
    // A target that is neither an extension nor a number the plan routes out (an
    // unassigned internal number) is refused by the command, nothing stored.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pbx"))
        .args([
            "line",
            "set",
            "--tenant",
            "demo",
            "101",
            "--forward-always",
            "555",
        ])
        .args(["--data-dir", dir.path().to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not an extension"));
    let _ = &mut b;
}

#[test]
fn call_waiting_rings_a_second_call_and_off_it_gets_busy() {
    let dir = temp_dir();
    let pbx = Pbx::start(dir.path());
    let mut b = Device::register(&pbx, "101");
    let mut d = Device::register(&pbx, "103");
    // 101 is in a call with 103.
    let mut first = Caller::call(&pbx, "101", "103");
    d.answer(41200);
    assert_eq!(first.expect(200), 200);
    first.ack();
    // Call waiting on (the default): a second call rings 101's phone.
    let mut second = Caller::call(&pbx, "100", "101");
    let invite = b.next_invite(&[]).expect("the waiting call rings");
    b.respond(&invite, 180, "Ringing");
    assert_eq!(second.expect(180), 180);
    second.cancel();
    assert_eq!(second.expect(487), 487);
    // Off (from a phone of 101's, by feature code): the second call gets busy.
    dial_code(&pbx, "101", "#43");
    assert!(show(dir.path(), "101").contains("call waiting:          off"));
    assert_eq!(call_status(&pbx, "101", 486), 486);
    first.bye();
}

#[test]
fn a_phone_deflects_a_ringing_call_and_the_switch_follows_it() {
    let dir = temp_dir();
    let pbx = Pbx::start(dir.path());
    let mut b = Device::register(&pbx, "101");
    let mut target = Device::register(&pbx, "102");
    let mut call = Caller::call(&pbx, "100", "101");
    let invite = b.next_invite(&[]).expect("101 rings");
    // 101's phone deflects to 102 (a 302 naming it).
    let mut w =
        engine::sip::MessageWriter::response_to(&invite, 302, "Moved Temporarily", Some("dev1"));
    w.header("Contact", "<sip:102@127.0.0.1>");
    b.c.send_raw(&w.finish());
    let deflected = target
        .next_invite(&[])
        .expect("102 rings for the deflected call");
    target.respond(&deflected, 486, "Busy Here");
    // The caller never saw the 302: it gets 102's answer.
    assert_eq!(call.expect(486), 486);
}

#[test]
fn directed_pickup_takes_the_ringing_call_and_the_ringing_phone_stops() {
    let dir = temp_dir();
    let pbx = Pbx::start(dir.path());
    let mut b = Device::register(&pbx, "101");
    let a_rtp = UdpSocket::bind("127.0.0.1:0").unwrap();
    let p_rtp = UdpSocket::bind("127.0.0.1:0").unwrap();
    p_rtp
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let mut call = Caller::call_with_media(&pbx, "100", "101", a_rtp.local_addr().unwrap().port());
    let invite = b.next_invite(&[]).expect("101 rings");
    b.respond(&invite, 180, "Ringing");
    assert_eq!(call.expect(180), 180);
    // 102 picks it up: 101's phone is cancelled, the caller answered, 102 hears it.
    let p_port = p_rtp.local_addr().unwrap().port();
    let mut picker = picks_up(&pbx, "102", "*59101", p_port, &mut b, &mut call);
    let to = media_target(&call);
    let mut packet = vec![0x80, 0, 0, 1, 0, 0, 0, 160, 0, 0, 0, 0xA];
    packet.extend_from_slice(&[0x55; 160]);
    let mut heard = 0;
    for _ in 0..20 {
        a_rtp.send_to(&packet, to).unwrap();
        if p_rtp.recv_from(&mut [0u8; 2048]).is_ok() {
            heard += 1;
        }
    }
    assert!(heard > 0, "102 hears the caller");
    // Nothing rings 101 any more: picking it up again finds nothing.
    let mut again = Caller::call(&pbx, "103", "*59101");
    assert_eq!(again.expect(404), 404);
    picker.bye();
}

#[test]
fn anonymous_calls_by_privacy_header_and_by_the_lines_setting() {
    let dir = temp_dir();
    let pbx = Pbx::start(dir.path());
    let mut b = Device::register(&pbx, "101");
    let mut seen = Vec::new();
    let mut from_of_next = |extra: &str, seen: &mut Vec<engine::sip::Message>| {
        let mut call = Caller::call_full(&pbx, "100", "101", 40000, (0, "PCMU"), extra);
        let invite = b.next_invite(seen).expect("101 rings");
        b.respond(&invite, 486, "Busy Here");
        assert_eq!(call.expect(486), 486);
        let header = |h| invite.header(h).unwrap_or_default().to_owned();
        let from = header(engine::sip::HeaderName::From);
        let contact = header(engine::sip::HeaderName::Contact);
        seen.push(invite);
        // A withheld caller ID is withheld from the Contact too.
        if from.contains("anonymous") {
            assert!(!contact.contains("100@"), "{contact}");
        }
        from
    };
    // Shown by default.
    assert!(from_of_next("", &mut seen).contains("sip:100@"));
    // Withheld for one call (RFC 3323).
    let from = from_of_next("Privacy: id\r\n", &mut seen);
    assert!(
        from.contains("anonymous@anonymous.invalid") && !from.contains("100"),
        "{from}"
    );
    // Withheld for every call of the line (feature code), then shown again.
    dial_code(&pbx, "100", "*31");
    let from = from_of_next("", &mut seen);
    assert!(from.contains("anonymous@anonymous.invalid"), "{from}");
    dial_code(&pbx, "100", "#31");
    assert!(from_of_next("", &mut seen).contains("sip:100@"));
}

#[test]
fn group_pickup_takes_a_call_ringing_a_member_of_the_pickers_group_only() {
    let dir = temp_dir();
    let mut pbx = Pbx::start(dir.path());
    pbx.stop();
    edit_plan(dir.path(), |plan| {
        plan["pickup_groups"] = serde_json::json!([{"name": "sales", "members": ["101", "102"]}]);
    });
    pbx.restart();
    let mut b = Device::register(&pbx, "101");
    let mut call = Caller::call(&pbx, "100", "101");
    let invite = b.next_invite(&[]).expect("101 rings");
    b.respond(&invite, 180, "Ringing");
    assert_eq!(call.expect(180), 180);
    // 103 is in no pickup group with 101.
    let mut outsider = Caller::call(&pbx, "103", "*8");
    assert_eq!(outsider.expect(404), 404);
    // 102 is.
    let mut picker = picks_up(&pbx, "102", "*8", 41300, &mut b, &mut call);
    picker.bye();
}

#[test]
fn a_forwarded_call_is_picked_up_where_it_rings_now() {
    let dir = temp_dir();
    let mut pbx = Pbx::start(dir.path());
    pbx.stop();
    line_set(dir.path(), "101", &["--forward-always", "102"]);
    pbx.restart();
    let mut target = Device::register(&pbx, "102");
    let mut call = Caller::call(&pbx, "100", "101");
    let invite = target.next_invite(&[]).expect("102 rings for 101");
    target.respond(&invite, 180, "Ringing");
    assert_eq!(call.expect(180), 180);
    // The number dialled (101) is not ringing; 102 is.
    let mut wrong = Caller::call(&pbx, "103", "*59101");
    assert_eq!(wrong.expect(404), 404);
    let mut picker = picks_up(&pbx, "103", "*59102", 41400, &mut target, &mut call);
    picker.bye();
}

/// The From of the INVITE `phone` gets when `caller` dials `dialled` (the phone
/// answers busy).
fn from_seen(
    pbx: &Pbx,
    (caller, dialled): (&str, &str),
    phone: &mut Device,
    seen: &mut Vec<engine::sip::Message>,
) -> String {
    let mut call = Caller::call(pbx, caller, dialled);
    let invite = phone.next_invite(seen).expect("the phone rings");
    phone.respond(&invite, 486, "Busy Here");
    assert_eq!(call.expect(486), 486);
    let from = invite
        .header(engine::sip::HeaderName::From)
        .unwrap_or_default()
        .to_owned();
    seen.push(invite);
    from
}

#[test]
fn a_user_shows_another_of_their_numbers_unless_the_admin_fixed_it() {
    let dir = temp_dir();
    let mut pbx = Pbx::start(dir.path());
    pbx.stop();
    let admin = |args: &[&str]| pbx_admin(dir.path(), args);
    admin(&["person", "add", "--tenant", "demo", "ann"]);
    admin(&["line", "set-user", "--tenant", "demo", "100", "ann"]);
    admin(&["line", "set-user", "--tenant", "demo", "105", "ann"]);
    line_set(dir.path(), "100", &["--caller-id", "105"]);
    pbx.restart();
    let mut b = Device::register(&pbx, "101");
    let mut seen = Vec::new();
    // The setting: every call of 100 shows 105.
    let from = from_seen(&pbx, ("100", "101"), &mut b, &mut seen);
    assert!(from.contains("sip:105@"), "{from}");
    // For one call, by prefix: its own number; `pbx route` says the same.
    let from = from_seen(&pbx, ("100", "*46100*101"), &mut b, &mut seen);
    assert!(from.contains("sip:100@"), "{from}");
    let out = admin(&[
        "route",
        "--tenant",
        "demo",
        "--from",
        "100",
        "--to",
        "*46100*101",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("shows:    100") && text.contains("extension 101"),
        "{text}"
    );
    // Not a number of ann's: refused.
    assert_eq!(Caller::call(&pbx, "100", "*46103*101").expect(403), 403);
    // Fixed by the administrator: neither the prefix nor the feature code may
    // change it, and the calls still show 105.
    pbx.stop();
    line_set(dir.path(), "100", &["--caller-id-fixed", "on"]);
    pbx.restart();
    // 101's phone stays registered over the restart.
    assert_eq!(Caller::call(&pbx, "100", "*46100*101").expect(403), 403);
    dial_code(&pbx, "100", "#42");
    let shown = show(dir.path(), "100");
    assert!(
        shown.contains("105 (fixed by the administrator)"),
        "{shown}"
    );
    let from = from_seen(&pbx, ("100", "101"), &mut b, &mut seen);
    assert!(from.contains("sip:105@"), "{from}");
}

#[test]
fn the_administrators_forwarding_wins_over_the_users_and_the_user_cannot_clear_it() {
    let dir = temp_dir();
    let mut pbx = Pbx::start(dir.path());
    pbx.stop();
    line_set(dir.path(), "101", &["--forward-always", "102"]);
    line_set(dir.path(), "101", &["--admin-forward", "103"]);
    pbx.restart();
    let _b = Device::register(&pbx, "101");
    let mut user_target = Device::register(&pbx, "102");
    let mut admin_target = Device::register(&pbx, "103");
    // The user clears their own forwarding: the administrator's stays.
    dial_code(&pbx, "101", "#21");
    let mut call = Caller::call(&pbx, "100", "101");
    let invite = admin_target.next_invite(&[]).expect("103 rings for 101");
    admin_target.respond(&invite, 486, "Busy Here");
    assert_eq!(call.expect(486), 486);
    assert!(user_target.next_invite(&[]).is_none(), "102 never rang");
    let shown = show(dir.path(), "101");
    assert!(
        shown.contains("administrator forwards every call to 103"),
        "{shown}"
    );
}

#[test]
fn a_forwarding_back_to_the_caller_is_busy_not_a_call_to_itself() {
    let dir = temp_dir();
    let mut pbx = Pbx::start(dir.path());
    pbx.stop();
    line_set(dir.path(), "101", &["--forward-always", "100"]);
    pbx.restart();
    let mut a = Device::register(&pbx, "100");
    assert_eq!(call_status(&pbx, "101", 486), 486);
    assert!(
        a.next_invite(&[]).is_none(),
        "the caller's phone never rang"
    );
}

#[test]
fn the_journal_names_who_forwarded_who_picked_up_and_who_missed_the_call() {
    let dir = temp_dir();
    let mut pbx = Pbx::start(dir.path());
    pbx.stop();
    let admin = |args: &[&str]| pbx_admin(dir.path(), args);
    line_set(dir.path(), "101", &["--forward-always", "102"]);
    line_set(dir.path(), "100", &["--anonymous", "on"]);
    admin(&["tenant", "journal-rules", "demo", "--forwarded", "all"]);
    pbx.restart();
    let mut target = Device::register(&pbx, "102");
    let mut c = Device::register(&pbx, "103");
    // 100 → 101, forwarded always to 102, which answers.
    let mut call = Caller::call(&pbx, "100", "101");
    target.answer(41500);
    assert_eq!(call.expect(200), 200);
    call.ack();
    call.bye();
    target.answer_request("BYE");
    // 104 → 103 rings; 105 picks it up.
    let mut call = Caller::call(&pbx, "104", "103");
    let invite = c.next_invite(&[]).expect("103 rings");
    c.respond(&invite, 180, "Ringing");
    assert_eq!(call.expect(180), 180);
    let mut picker = picks_up(&pbx, "105", "*59103", 41600, &mut c, &mut call);
    c.respond(&invite, 487, "Request Terminated");
    picker.bye();
    call.answer_request("BYE");
    // 104 → 103 again, nobody answers: the caller gives up.
    let mut call = Caller::call(&pbx, "104", "103");
    let invite = c.next_invite(&[invite]).expect("103 rings");
    c.respond(&invite, 180, "Ringing");
    assert_eq!(call.expect(180), 180);
    call.cancel();
    let cancel = recv_until(&mut c.c, "CANCEL", |m| is_request(m, "CANCEL"));
    c.respond(&cancel, 200, "OK");
    c.respond(&invite, 487, "Request Terminated");
    assert_eq!(call.expect(487), 487);
    let rows = journal(&mut pbx);
    let row = |from: &str, to: &str, n: usize| {
        rows.iter()
            .filter(|r| r.from == from && r.to == to)
            .nth(n)
            .cloned()
            .unwrap_or_else(|| panic!("no call {from} → {to}: {rows:?}"))
    };
    let forwarded = row("100", "101", 0);
    assert_eq!(forwarded.forwarded_from.as_deref(), Some("101"));
    assert_eq!(forwarded.forward_reason.as_deref(), Some("always"));
    assert_eq!(forwarded.answered_by.as_deref(), Some("102"));
    assert_eq!(forwarded.caller_shown.as_deref(), Some("anonymous"));
    assert_eq!(forwarded.missed_by, ["101"]);
    // Newest first: the cancelled call, then the picked-up one.
    let missed = row("104", "103", 0);
    assert_eq!(missed.answered_by, None);
    assert_eq!(missed.missed_by, ["103"]);
    let picked = row("104", "103", 1);
    assert_eq!(picked.picked_up_by.as_deref(), Some("105"));
    assert_eq!(picked.answered_by.as_deref(), Some("105"));
    assert_eq!(picked.missed_by, ["103"]);
}
