//! Overload: once too many requests wait unanswered (`--max-waiting`), new
//! registrations and calls get 503 with Retry-After at once, before any work on
//! them, while requests within dialogs go through; when the backlog is gone the
//! switch serves as before. The backlog is made by a test hook that slows the
//! store's commits (a REGISTER's 200 waits for its commit). Shedding when requests
//! wait too long (`--max-delay`, a CPU-bound backlog) is tested on the transaction
//! table (`engine`); `benches/overload.sh` floods the switch at twice its maximum.

use std::time::Duration;

use crate::common::sip_client::SipClient;
use crate::common::{temp_dir, Pbx};

/// An authenticated REGISTER of `user` from a fresh socket: the final response.
fn register(pbx: std::net::SocketAddr, user: &str) -> engine::sip::Message {
    let mut c = SipClient::udp(pbx);
    c.set_timeout(Duration::from_secs(5));
    let contact = format!("<sip:{user}@{}>", c.local);
    c.try_register(user, &contact, 600).expect("an answer")
}

#[test]
fn a_backlog_past_the_limit_is_shed_with_503_and_service_comes_back() {
    let dir = temp_dir();
    let d = dir.path();
    // Each commit of bindings takes 300 ms: registrations pile up unanswered.
    let pbx = Pbx::start_full_env(
        d,
        &["--max-waiting", "3"],
        &[("PBX_TEST_BINDINGS_DELAY_MS", "300")],
    );
    let addr = pbx.addr;
    let phones: Vec<_> = (0..16)
        .map(|i| {
            let user = (100 + i % 10).to_string();
            std::thread::spawn(move || register(addr, &user))
        })
        .collect();
    let answers: Vec<engine::sip::Message> =
        phones.into_iter().map(|t| t.join().unwrap()).collect();
    let ok = answers.iter().filter(|m| m.code() == Some(200)).count();
    let shed: Vec<_> = answers.iter().filter(|m| m.code() == Some(503)).collect();
    assert!(ok >= 1, "some registrations go through");
    assert!(
        !shed.is_empty(),
        "the excess is shed: {:?}",
        answers.iter().map(|m| m.code()).collect::<Vec<_>>()
    );
    assert_eq!(ok + shed.len(), answers.len(), "nothing else is answered");
    for m in &shed {
        let retry = m
            .header_lines()
            .find(|(_, name, _)| name.eq_ignore_ascii_case("Retry-After"))
            .map(|(_, _, v)| v.trim().to_owned());
        assert_eq!(retry.as_deref(), Some("2"), "{m:?}");
    }
    // The backlog drained: the switch serves as before, and says what it shed.
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(register(addr, "105").code(), Some(200));
    let operator = crate::common::api_client::key(d, &["--operator", "--name", "metrics"]);
    let (code, text) = crate::common::api_client::http(
        pbx.http.unwrap(),
        "GET",
        "/metrics",
        Some(&operator),
        None,
    );
    assert_eq!(code, 200);
    let counted: usize = text
        .lines()
        .find_map(|l| l.strip_prefix("pbx_sip_shed_total "))
        .and_then(|n| n.trim().parse().ok())
        .expect("the shed counter");
    assert_eq!(counted, shed.len());
}
