//! Call queues on `pbx serve`: a caller is answered at once and hears music on hold
//! while the queue offers it to free, logged-in agents; an agent who lets an offer
//! ring out is skipped, the next is offered; the first to answer takes the caller;
//! after the call the agent's wrap-up passes before its next offer; the exit key
//! takes a caller to its target; a full queue sends callers to its overflow.

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use crate::common::call_helpers::*;
use crate::common::{temp_dir, Pbx};

/// Stores the demo plan with queue 310 (members 101–103, `settings` merged in).
fn queue_310(dir: &std::path::Path, settings: serde_json::Value) {
    edit_plan(dir, |plan| {
        let mut q = serde_json::json!({
            "number": "310", "name": "Desk", "members": ["101", "102", "103"],
            "strategy": "round_robin", "agent_ring_seconds": 5,
        });
        for (k, v) in settings.as_object().unwrap() {
            q[k] = v.clone();
        }
        plan["queues"].as_array_mut().unwrap().push(q);
    });
}

/// Waits (up to 5 s) until `pbx agent list` says queue 310's agent `ext` is `state`
/// (the switch writes the states as they change, a moment later).
fn wait_agent_state(dir: &std::path::Path, ext: &str, state: &str) {
    let until = Instant::now() + Duration::from_secs(5);
    loop {
        let out = pbx_admin(dir, &["agent", "list", "--tenant", "demo"]);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let line = text
            .lines()
            .find(|l| l.starts_with("310\tqueue\t") && l.split('\t').nth(2) == Some(ext))
            .unwrap_or_default()
            .to_owned();
        if line
            .split('\t')
            .nth(4)
            .is_some_and(|s| s.starts_with(&format!("{state} since")))
        {
            return;
        }
        assert!(Instant::now() < until, "agent {ext} never {state}: {text}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn rtp_socket() -> (UdpSocket, u16) {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = s.local_addr().unwrap().port();
    (s, port)
}

#[test]
fn a_caller_hears_music_until_an_agent_answers_and_an_unanswered_offer_moves_on() {
    let dir = temp_dir();
    let mut pbx = Pbx::start(dir.path());
    pbx.stop();
    queue_310(dir.path(), serde_json::json!({}));
    pbx.restart();
    let mut a1 = Device::register(&pbx, "101");
    let mut a2 = Device::register(&pbx, "102");
    let (rtp, port) = rtp_socket();
    let mut call = Caller::call_with_media(&pbx, "104", "310", port);
    // Answered at once by the queue, the caller hears "please hold" and music.
    assert_eq!(call.expect(200), 200);
    call.ack();
    assert!(loudness(&rtp, 1500) > 100.0, "the caller hears the queue");
    // Round robin: 101 is offered first and lets it ring; 102 is next.
    let i1 = a1.next_invite(&[]).expect("101 is offered the call");
    a1.respond(&i1, 180, "Ringing");
    a1.c.set_timeout(Duration::from_secs(8));
    let cancel = recv_until(&mut a1.c, "CANCEL", |m| is_request(m, "CANCEL"));
    a1.respond(&cancel, 200, "OK");
    a1.respond(&i1, 487, "Request Terminated");
    let i2 = a2.next_invite(&[]).expect("102 is offered it next");
    let (agent_rtp, agent_port) = rtp_socket();
    a2.answer_invite(&i2, agent_port);
    // The agent's voice reaches the caller (the music has stopped).
    let to_caller = sdp_target(&i2);
    let sender = std::thread::spawn(move || {
        for k in 0..60u16 {
            let _ = agent_rtp.send_to(&tone_packet(1000.0, k, 7), to_caller);
            std::thread::sleep(Duration::from_millis(20));
        }
    });
    // The agent's own packets reach the caller: the music has stopped.
    let sent: Vec<Vec<u8>> = (0..60u16)
        .map(|k| tone_packet(1000.0, k, 7)[12..].to_vec())
        .collect();
    rtp.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut heard = 0;
    let mut buf = [0u8; 2048];
    let until = Instant::now() + Duration::from_millis(1000);
    while Instant::now() < until {
        if let Ok((len, _)) = rtp.recv_from(&mut buf) {
            if len > 12 && sent.iter().any(|p| p[..] == buf[12..len]) {
                heard += 1;
            }
        }
    }
    assert!(heard > 10, "the caller hears the agent ({heard} packets)");
    // `pbx agent list` shows what the agents are doing.
    wait_agent_state(dir.path(), "102", "busy");
    wait_agent_state(dir.path(), "101", "free");
    sender.join().unwrap();
    call.bye();
    a2.answer_request("BYE");
    wait_agent_state(dir.path(), "102", "free");
    let rows = journal(&mut pbx);
    let row = rows.iter().find(|r| r.to == "310").expect("the queue call");
    assert_eq!(row.answered_by.as_deref(), Some("102"));
    assert_eq!(row.queue.as_deref(), Some("310"));
    // The queue's figures say the same.
    let out = pbx_admin(
        dir.path(),
        &[
            "queue", "stats", "--tenant", "demo", "--queue", "310", "--json",
        ],
    );
    let stats: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let q = &stats[0];
    assert_eq!(
        (q["offered"].as_u64(), q["answered"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(q["agents"][0]["agent"], "102");
    // 101 let it ring for its 5 s first.
    assert!(q["wait_ms"]["p50"].as_u64().unwrap() >= 5_000, "{q}");
}

#[test]
fn the_exit_key_takes_a_waiting_caller_to_its_target() {
    let dir = temp_dir();
    let mut pbx = Pbx::start(dir.path());
    pbx.stop();
    queue_310(
        dir.path(),
        serde_json::json!({"exit_key": "0", "exit_target": "105"}),
    );
    // Nobody to offer it to: every agent is logged out.
    pbx_admin(dir.path(), &["agent", "logout", "--tenant", "demo", "101"]);
    pbx_admin(dir.path(), &["agent", "logout", "--tenant", "demo", "102"]);
    pbx_admin(dir.path(), &["agent", "logout", "--tenant", "demo", "103"]);
    pbx.restart();
    let mut target = Device::register(&pbx, "105");
    let (rtp, port) = rtp_socket();
    let mut call = Caller::call_with_events(&pbx, "104", "310", port, 101);
    assert_eq!(call.expect(200), 200);
    call.ack();
    assert!(loudness(&rtp, 500) > 0.0);
    press(&rtp, media_target(&call), "0", 1);
    let invite = target.next_invite(&[]).expect("105 rings for the caller");
    target.answer_invite(&invite, 41900);
    call.bye();
    target.answer_request("BYE");
}

#[test]
fn a_full_queue_sends_the_caller_to_its_overflow() {
    let dir = temp_dir();
    let mut pbx = Pbx::start(dir.path());
    pbx.stop();
    queue_310(
        dir.path(),
        serde_json::json!({"max_callers": 1, "overflow": "105"}),
    );
    pbx_admin(dir.path(), &["agent", "logout", "--tenant", "demo", "101"]);
    pbx_admin(dir.path(), &["agent", "logout", "--tenant", "demo", "102"]);
    pbx_admin(dir.path(), &["agent", "logout", "--tenant", "demo", "103"]);
    pbx.restart();
    let mut overflow = Device::register(&pbx, "105");
    let mut first = Caller::call_with_media(&pbx, "104", "310", 42000);
    assert_eq!(first.expect(200), 200, "the first caller waits");
    first.ack();
    // The second finds the queue full: 105 rings, not answered by the queue.
    let mut second = Caller::call_with_media(&pbx, "100", "310", 42002);
    let invite = overflow
        .next_invite(&[])
        .expect("the overflow target rings");
    overflow.respond(&invite, 486, "Busy Here");
    assert_eq!(second.expect(486), 486);
    first.bye();
    journal(&mut pbx);
    let out = pbx_admin(
        dir.path(),
        &["queue", "stats", "--tenant", "demo", "--json"],
    );
    let stats: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let q = &stats[0];
    assert_eq!(q["queue"], "310");
    assert_eq!(q["offered"].as_u64(), Some(2));
    assert_eq!(q["overflowed"].as_u64(), Some(1), "{q}");
    assert_eq!(q["abandoned"].as_u64(), Some(1), "{q}");
}
