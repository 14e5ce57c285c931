//! `kill -9` of `pbx serve` under load: what the switch confirmed is kept.
//! Registrations: phones add and remove bindings as fast as they can while the
//! switch is killed; every binding whose REGISTER was answered 200 (and not changed
//! by a later request that might have been in flight) is in the store afterwards,
//! and every removal so confirmed is gone. Calls: `pbx sim` calls while the switch
//! is killed and started again; every call whose BYE was answered 200 has its
//! journal row finished. (Voicemail: `voicemail.rs`; agent logins and queued mail
//! are written before the prompt or reply that confirms them.)

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::common::sip_client::SipClient;
use crate::common::{temp_dir, Pbx};

#[test]
fn every_registration_confirmed_before_a_kill_9_is_kept() {
    let dir = temp_dir();
    let d = dir.path();
    // Killed three times, each time started again on the same data (its lines come
    // back hibernating with the stored bindings), and checked after each kill.
    let mut checked = 0;
    for round in 0..3 {
        checked += kill_during_registrations(d, round);
    }
    assert!(checked >= 90, "only {checked} registrations were confirmed");
}

/// One run of the switch killed under registrations; how many were checked.
fn kill_during_registrations(d: &std::path::Path, round: u32) -> usize {
    // Each batch of binding changes takes 30 ms more to commit: a 200 sent before its
    // commit would be caught by the kill.
    let mut pbx = Pbx::start_env(d, &[("PBX_TEST_BINDINGS_DELAY_MS", "30")]);
    let stop = Arc::new(AtomicBool::new(false));
    // Each phone: line 10x, ten contacts added then removed in turn, as fast as the
    // switch answers. It remembers, per contact, what the last 200 confirmed, and
    // which contact its unanswered request (in flight at the kill) was about.
    let phones: Vec<_> = (100..=105)
        .map(|n| {
            let stop = stop.clone();
            let addr = pbx.addr;
            std::thread::spawn(move || {
                let user = n.to_string();
                let mut c = SipClient::udp(addr);
                c.set_timeout(Duration::from_millis(2000));
                let mut confirmed: HashMap<String, bool> = HashMap::new();
                let mut in_flight = None;
                for k in 0.. {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    // The same ten contacts every run (a line takes ten at most).
                    let contact = format!("<sip:{user}-{}@127.0.0.1:5999>", k % 10);
                    let add = (k / 10) % 2 == 0;
                    let answer = c.try_register(&user, &contact, if add { 600 } else { 0 });
                    match answer.and_then(|m| m.code()) {
                        Some(200) => {
                            confirmed.insert(contact, add);
                        }
                        Some(code) => panic!("{user}, run {round}: REGISTER answered {code}"),
                        None => {
                            in_flight = Some(contact);
                            break;
                        }
                    }
                }
                if let Some(c) = &in_flight {
                    confirmed.remove(c);
                }
                (user, confirmed)
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(1500));
    pbx.kill();
    stop.store(true, Ordering::Relaxed);
    let results: Vec<_> = phones.into_iter().map(|t| t.join().unwrap()).collect();

    let db = rusqlite::Connection::open(d.join("pbx.sqlite3")).unwrap();
    let mut checked = 0;
    for (user, confirmed) in &results {
        for (contact, added) in confirmed {
            let uri = contact.trim_start_matches('<').trim_end_matches('>');
            let kept: i64 = db
                .query_row(
                    "SELECT count(*) FROM bindings WHERE ext = ?1 AND contact LIKE '%' || ?2 || '%'",
                    rusqlite::params![user, uri],
                    |r| r.get(0),
                )
                .unwrap();
            assert_eq!(
                kept == 1,
                *added,
                "{user} {contact}: confirmed {} before the kill",
                if *added { "added" } else { "removed" }
            );
            checked += 1;
        }
    }
    checked
}

/// `pbx sim` calls the conference (the switch answers; the caller hangs up after
/// 200 ms) at 20 calls/s (a line's limit) while the switch is killed twice and
/// started again on the same port and data. The journal's commits are slowed by
/// 30 ms, so a BYE answered before its call's row is written would be caught by a
/// kill (it was: 2 of 131 ended calls left unfinished before the switch held the
/// 200 back).
#[test]
fn every_call_ended_before_a_kill_9_has_its_journal_row_finished() {
    let dir = temp_dir();
    let d = dir.path();
    let env = [("PBX_TEST_JOURNAL_DELAY_MS", "30")];
    let mut pbx = Pbx::start_env(d, &env);
    let addr = pbx.addr.to_string();
    let json = d.join("sim.json");
    let more = [
        "--rate",
        "20",
        "--duration",
        "7s",
        "--hold",
        "200ms",
        "--rtp",
        "off",
        "--timeout",
        "2s",
    ];
    let mut sim = crate::sim::spawn_sim(&crate::sim::conference_calls(&addr, &more), &json);
    for _ in 0..2 {
        std::thread::sleep(Duration::from_secs(2));
        pbx.kill();
        pbx = Pbx::start_full(d, &addr, &[], &env);
    }
    crate::sim::wait_for(&mut sim, Duration::from_secs(60));
    pbx.stop();

    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&json).expect("the sim's report")).unwrap();
    let attempted = report["attempted"].as_u64().unwrap();
    let failed: u64 = report["failed"]
        .as_object()
        .unwrap()
        .values()
        .map(|n| n.as_u64().unwrap())
        .sum();
    // A call fails once, with one cause; the others ended with their BYE answered.
    let ended = attempted - failed;
    let db = rusqlite::Connection::open(d.join("pbx.sqlite3")).unwrap();
    let rows = |state: &str| -> u64 {
        db.query_row(
            "SELECT count(*) FROM calls WHERE to_number = '500' AND state = ?1",
            [state],
            |r| r.get(0),
        )
        .unwrap()
    };
    let (done, unfinished) = (rows("done"), rows("unfinished"));
    eprintln!("{attempted} calls, {ended} ended; rows: {done} done, {unfinished} unfinished");
    assert!(ended >= 100, "only {ended} calls ended: {report}");
    assert!(
        unfinished > 0,
        "no kill caught a call in progress: {report}"
    );
    assert!(
        done >= ended,
        "{ended} calls ended with their BYE answered, {done} rows finished \
         ({unfinished} repaired as unfinished): {report}"
    );
}
