//! Hunt groups on `pbx serve`: members ring at once or one after another, log in and
//! out by feature code (kept over a restart) and by `pbx agent`, are skipped while
//! logged out, on do not disturb or busy, without their own forwarding followed;
//! nobody logged in gets the group's decline code.

use std::time::Duration;

use crate::common::call_helpers::*;
use crate::common::{temp_dir, Pbx};

/// Group 210 (no schedule) with `members`, ringing by `strategy`.
fn group_210(dir: &std::path::Path, strategy: serde_json::Value, extra: serde_json::Value) {
    edit_plan(dir, |plan| {
        let mut g = serde_json::json!({
            "number": "210", "name": "Desk", "strategy": strategy,
            "members": ["101", "102", "103"],
        });
        for (k, v) in extra.as_object().unwrap() {
            g[k] = v.clone();
        }
        plan["groups"].as_array_mut().unwrap().push(g);
    });
}

#[test]
fn a_parallel_group_rings_logged_in_members_and_skips_the_others() {
    let dir = temp_dir();
    let mut pbx = Pbx::start(dir.path());
    pbx.stop();
    group_210(
        dir.path(),
        serde_json::json!({"kind": "parallel"}),
        serde_json::json!({}),
    );
    // 103 forwards its own calls: a group call does not follow that.
    line_set(dir.path(), "103", &["--forward-always", "104"]);
    pbx.restart();
    let mut m1 = Device::register(&pbx, "101");
    let mut m2 = Device::register(&pbx, "102");
    let mut m3 = Device::register(&pbx, "103");
    let mut fwd = Device::register(&pbx, "104");
    // 101 logs out of the group by feature code.
    dial_code(&pbx, "101", "*41210");
    let list = pbx_admin(dir.path(), &["agent", "list", "--tenant", "demo"]);
    let list = String::from_utf8_lossy(&list.stdout).to_string();
    assert!(list.contains("210\thunt group\t101\tlogged out"), "{list}");
    let mut call = Caller::call(&pbx, "100", "210");
    let i2 = m2.next_invite(&[]).expect("102 rings");
    let i3 = m3
        .next_invite(&[])
        .expect("103 rings, its forwarding not followed");
    m2.respond(&i2, 180, "Ringing");
    m3.respond(&i3, 486, "Busy Here");
    assert_eq!(call.expect(180), 180);
    call.cancel();
    let cancel = recv_until(&mut m2.c, "CANCEL", |m| is_request(m, "CANCEL"));
    m2.respond(&cancel, 200, "OK");
    m2.respond(&i2, 487, "Request Terminated");
    assert_eq!(call.expect(487), 487);
    m1.c.set_timeout(Duration::from_millis(300));
    assert!(m1.next_invite(&[]).is_none(), "101 is logged out");
    fwd.c.set_timeout(Duration::from_millis(300));
    assert!(
        fwd.next_invite(&[]).is_none(),
        "103's forwarding is not followed"
    );
}

#[test]
fn logins_survive_a_restart_and_nobody_logged_in_gets_the_groups_decline() {
    let dir = temp_dir();
    let mut pbx = Pbx::start(dir.path());
    pbx.stop();
    group_210(
        dir.path(),
        serde_json::json!({"kind": "parallel"}),
        serde_json::json!({"decline": "603"}),
    );
    pbx.restart();
    // 101's phone stays registered over the restart below.
    let mut m1 = Device::register(&pbx, "101");
    // Every member logs out of all its groups: by code, and by the CLI.
    dial_code(&pbx, "101", "*41");
    dial_code(&pbx, "102", "*41210");
    // Not a member: refused, nothing changes.
    dial_code(&pbx, "104", "*41210");
    pbx.stop();
    pbx_admin(
        dir.path(),
        &[
            "agent", "logout", "--tenant", "demo", "103", "--group", "210",
        ],
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pbx"))
        .args([
            "agent", "logout", "--tenant", "demo", "104", "--group", "210",
        ])
        .args(["--data-dir", dir.path().to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a member"));
    pbx.restart();
    let mut call = Caller::call(&pbx, "100", "210");
    assert_eq!(
        call.expect(603),
        603,
        "nobody logged in: the group's decline"
    );
    // 101 logs in again (all its groups): the group rings it.
    dial_code(&pbx, "101", "*40");
    let mut call = Caller::call(&pbx, "100", "210");
    let invite = m1.next_invite(&[]).expect("101 rings again");
    m1.respond(&invite, 486, "Busy Here");
    assert_eq!(call.expect(486), 486);
}

#[test]
fn a_sequential_group_rings_one_member_after_another_and_skips_busy_ones() {
    let dir = temp_dir();
    let mut pbx = Pbx::start(dir.path());
    pbx.stop();
    group_210(
        dir.path(),
        serde_json::json!({"kind": "sequential", "ring_seconds": 2}),
        serde_json::json!({}),
    );
    pbx.restart();
    let mut m1 = Device::register(&pbx, "101");
    let mut m2 = Device::register(&pbx, "102");
    let mut m3 = Device::register(&pbx, "103");
    let mut other = Device::register(&pbx, "104");
    // 102 is in a call: the group skips it.
    let mut busy = Caller::call(&pbx, "102", "104");
    other.answer(41700);
    assert_eq!(busy.expect(200), 200);
    busy.ack();
    let mut call = Caller::call(&pbx, "100", "210");
    let i1 = m1.next_invite(&[]).expect("101 rings first");
    m1.respond(&i1, 180, "Ringing");
    // After its 2 s, 101 is cancelled and the next free member, 103, rings.
    let cancel = recv_until(&mut m1.c, "CANCEL", |m| is_request(m, "CANCEL"));
    m1.respond(&cancel, 200, "OK");
    m1.respond(&i1, 487, "Request Terminated");
    let i3 = m3.next_invite(&[]).expect("103 rings next");
    m3.answer_invite(&i3, 41800);
    assert_eq!(call.expect(200), 200);
    call.ack();
    m2.c.set_timeout(Duration::from_millis(300));
    assert!(m2.next_invite(&[]).is_none(), "busy 102 was skipped");
    call.bye();
    busy.bye();
}

#[test]
fn a_group_with_the_queue_strategy_answers_and_offers_the_caller_to_a_free_member() {
    let dir = temp_dir();
    let mut pbx = Pbx::start(dir.path());
    pbx.stop();
    group_210(
        dir.path(),
        serde_json::json!({"kind": "queue"}),
        serde_json::json!({}),
    );
    pbx_admin(
        dir.path(),
        &[
            "agent", "logout", "--tenant", "demo", "101", "--group", "210",
        ],
    );
    pbx.restart();
    let mut m2 = Device::register(&pbx, "102");
    // The caller is answered by the group's queue at once.
    let mut call = Caller::call_with_media(&pbx, "104", "210", 42100);
    assert_eq!(call.expect(200), 200);
    call.ack();
    // 101 is logged out: the longest idle member logged in, 102, is offered the call.
    let offer = m2.next_invite(&[]).expect("102 is offered the caller");
    m2.answer_invite(&offer, 42102);
    call.bye();
    m2.answer_request("BYE");
    let rows = journal(&mut pbx);
    let row = rows.iter().find(|r| r.to == "210").expect("the group call");
    assert_eq!(row.answered_by.as_deref(), Some("102"));
    assert_eq!(row.queue.as_deref(), Some("210"));
}
