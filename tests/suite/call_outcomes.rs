//! Call outcomes by tenant setting (SPEC F-CALL), black-box: the real binary, the
//! settings changed with `pbx tenant set` before the switch's first call reads them.

use std::time::Duration;

use crate::common::call_helpers::{journal, pbx_admin, Caller, Device};
use crate::common::{temp_dir, Pbx};
use actors::journal::Disposition;

fn set(pbx: &Pbx, args: &[&str]) {
    let mut all = vec!["tenant", "set", "demo"];
    all.extend_from_slice(args);
    pbx_admin(&pbx.data_dir, &all);
}

/// The switch stopped and started again over the same data: the new settings are
/// read as it starts (a running switch takes them within two seconds).
fn restart_with(pbx: &mut Pbx, args: &[&str]) {
    pbx.stop();
    set(pbx, args);
    pbx.restart();
}

#[test]
fn no_device_gets_486_by_default_then_the_decline_code_and_unknown_404() {
    let dir = temp_dir();
    let mut pbx = Pbx::start(dir.path());
    // No drop-off number (the demo plan has one): unknown numbers are not found.
    restart_with(&mut pbx, &["--drop-off", "none"]);
    assert_eq!(Caller::call(&pbx, "100", "105").expect(486), 486);
    assert_eq!(Caller::call(&pbx, "100", "555").expect(404), 404);
    restart_with(&mut pbx, &["--decline", "480"]);
    assert_eq!(Caller::call(&pbx, "100", "105").expect(480), 480);
    restart_with(&mut pbx, &["--decline", "603"]);
    assert_eq!(Caller::call(&pbx, "100", "105").expect(603), 603);
    // An unknown number is 404 whatever the decline code.
    assert_eq!(Caller::call(&pbx, "100", "555").expect(404), 404);
    let rows = journal(&mut pbx);
    // Each call to 105 is a call its line missed, journalled with its status; a call
    // to a number the plan does not assign failed.
    let mut to_105: Vec<_> = rows
        .iter()
        .filter(|r| r.to == "105")
        .map(|r| (r.cause_code, r.disposition))
        .collect();
    to_105.sort_by_key(|(code, _)| *code);
    assert_eq!(
        to_105,
        [
            (Some(480), Some(Disposition::NoAnswer)),
            (Some(486), Some(Disposition::Busy)),
            (Some(603), Some(Disposition::Rejected)),
        ],
        "{rows:?}"
    );
    assert!(
        rows.iter()
            .filter(|r| r.to == "555")
            .all(|r| r.cause_code == Some(404) && r.disposition == Some(Disposition::Failed)),
        "{rows:?}"
    );
}

#[test]
fn decline_ring_keeps_the_caller_ringing_until_it_cancels_or_the_ring_time_ends() {
    let dir = temp_dir();
    let mut pbx = Pbx::start_with(dir.path(), "127.0.0.1:0", &["--ring-timeout", "1"]);
    restart_with(&mut pbx, &["--decline", "ring"]);
    let mut a = Caller::call(&pbx, "100", "105");
    assert_eq!(a.expect(180), 180);
    assert_eq!(a.expect(480), 480, "the ring time is over");
    let mut b = Caller::call(&pbx, "101", "106");
    assert_eq!(b.expect(180), 180);
    b.cancel();
    assert_eq!(b.expect(487), 487);
    let rows = journal(&mut pbx);
    let row = |to: &str| rows.iter().find(|r| r.to == to).unwrap();
    assert_eq!(row("105").disposition, Some(Disposition::NoAnswer));
    assert_eq!(row("105").cause_code, Some(480));
    assert_eq!(row("106").disposition, Some(Disposition::Cancelled));
}

#[test]
fn drop_off_takes_unknown_numbers_and_lines_without_a_device() {
    let dir = temp_dir();
    let mut pbx = Pbx::start(dir.path());
    restart_with(&mut pbx, &["--drop-off", "107"]);
    let mut reception = Device::register(&pbx, "107");
    let mut seen = Vec::new();
    for dialled in ["555", "105"] {
        let mut caller = Caller::call(&pbx, "100", dialled);
        let invite = reception
            .next_invite(&seen)
            .unwrap_or_else(|| panic!("the drop-off device got the call to {dialled}"));
        let to = invite.to().unwrap();
        assert_eq!(to.uri.user_unescaped().as_deref(), Some(dialled));
        // Without a reject setting the device's code reaches the caller as it is.
        reception.respond(&invite, 603, "Decline");
        assert_eq!(caller.expect(603), 603);
        seen.push(invite);
    }
    let rows = journal(&mut pbx);
    let mut to: Vec<_> = rows.iter().map(|r| r.to.as_str()).collect();
    to.sort();
    assert_eq!(to, ["105", "555"], "the journal keeps the dialled number");
}

#[test]
fn busy_on_busy_refuses_a_second_call_and_call_waiting_rings_it() {
    let dir = temp_dir();
    let mut pbx = Pbx::start(dir.path());
    // 480 for a line without a device, so that a 486 says "busy".
    restart_with(&mut pbx, &["--busy-on-busy", "on", "--decline", "480"]);
    let mut phone = Device::register(&pbx, "102");
    let mut first = Caller::call(&pbx, "100", "102");
    let invite = phone.next_invite(&[]).expect("the first call rings");
    phone.respond(&invite, 180, "Ringing");
    assert_eq!(first.expect(180), 180);
    assert_eq!(Caller::call(&pbx, "101", "102").expect(486), 486);
    // The caller of a call is in a call too.
    assert_eq!(Caller::call(&pbx, "103", "100").expect(486), 486);
    phone.c.set_timeout(Duration::from_millis(300));
    assert!(
        phone.next_invite(std::slice::from_ref(&invite)).is_none(),
        "the busy phone did not ring again"
    );
    // Off (the default): the second call rings the phone (call waiting). Another
    // line: 102 keeps the first run's registration.
    restart_with(&mut pbx, &["--busy-on-busy", "off"]);
    let mut phone = Device::register(&pbx, "106");
    let mut first = Caller::call(&pbx, "100", "106");
    let one = phone.next_invite(&[]).expect("the first call rings");
    phone.respond(&one, 180, "Ringing");
    assert_eq!(first.expect(180), 180);
    let mut second = Caller::call(&pbx, "101", "106");
    let two = phone
        .next_invite(&[one])
        .expect("the second call rings too");
    phone.respond(&two, 486, "Busy Here");
    assert_eq!(second.expect(486), 486);
}

#[test]
fn a_devices_reject_is_passed_on_as_the_reject_setting_says() {
    let dir = temp_dir();
    let mut pbx = Pbx::start(dir.path());
    restart_with(&mut pbx, &["--reject", "486"]);
    let mut phone = Device::register(&pbx, "104");
    let mut caller = Caller::call(&pbx, "100", "104");
    let invite = phone.next_invite(&[]).expect("the call rings");
    phone.respond(&invite, 603, "Decline");
    assert_eq!(caller.expect(486), 486);
    // Another line: 104 keeps the first run's registration.
    restart_with(&mut pbx, &["--reject", "603"]);
    let mut phone = Device::register(&pbx, "106");
    let mut caller = Caller::call(&pbx, "100", "106");
    let invite = phone.next_invite(&[]).expect("the call rings");
    phone.respond(&invite, 486, "Busy Here");
    assert_eq!(caller.expect(603), 603);
}
