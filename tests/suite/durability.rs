//! `kill -9` of `pbx serve` under load: what the switch confirmed is kept. Here,
//! registrations: phones add and remove bindings as fast as they can while the
//! switch is killed; every binding whose REGISTER was answered 200 (and not changed
//! by a later request that might have been in flight) is in the store afterwards,
//! and every removal so confirmed is gone.

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
