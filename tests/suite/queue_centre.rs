//! A small call centre on a paused clock: five agents, twenty callers. Callers are
//! answered by the queue and offered to free agents in arrival order (longest idle
//! agent first); an agent gets its next caller only after its wrap-up; a caller with
//! a priority number is offered first, and only to an agent with the skill its rule
//! asks for.

use std::collections::BTreeMap;

use crate::common::paused::*;
use engine::sip::{HeaderName, Message};
use tokio::time::Instant;

const AGENTS: [&str; 5] = ["2100", "2101", "2102", "2103", "2104"];

fn plan() -> dialplan::TenantPlan {
    let mut plan = dialplan::TenantPlan::demo();
    let mut q = plan.queues[0].clone();
    q.number = "310".into();
    q.name = "Centre".into();
    q.schedule = None;
    q.overflow = None;
    q.members = AGENTS.iter().map(|a| a.to_string()).collect();
    q.strategy = dialplan::plan::QueueStrategy::LongestIdle;
    q.announce_seconds = None;
    q.exit_key = None;
    q.exit_target = None;
    q.max_wait_seconds = None;
    q.wrap_up_seconds = Some(10);
    // Long: on a paused clock time jumps while the switch waits on its store thread.
    q.agent_ring_seconds = Some(120);
    // Callers from 2019 wait first and need German.
    q.caller_rules = vec![dialplan::plan::CallerRule {
        prefix: "2019".into(),
        priority: 5,
        skills: BTreeMap::from([("german".to_owned(), 3)]),
    }];
    plan.queues.push(q);
    plan.agent_skills = BTreeMap::from([(
        "2104".to_owned(),
        BTreeMap::from([("german".to_owned(), 5)]),
    )]);
    plan
}

/// The caller number of an offer (its From user).
fn caller_of(invite: &Message) -> String {
    let from = invite.header(HeaderName::From).unwrap();
    let user = from.split("sip:").nth(1).unwrap();
    user.split('@').next().unwrap().to_owned()
}

/// The agent hangs up the call `invite` offered it.
async fn agent_bye(agent: &Phone, invite: &Message) {
    let local = agent.local();
    let contact = invite.contacts().unwrap()[0].uri.raw.to_owned();
    let text = format!(
        "BYE {contact} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bKbye{};rport\r\nFrom: {};tag=dev\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: 2 BYE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
        // A branch of its own per BYE (the Call-ID's letters and digits).
        invite
            .call_id()
            .unwrap()
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .collect::<String>(),
        invite.header(HeaderName::To).unwrap(),
        invite.header(HeaderName::From).unwrap(),
        invite.call_id().unwrap(),
    );
    agent.send(text.as_bytes()).await;
    agent.wait_for(|m| m.code() == Some(200)).await;
}

#[tokio::test(start_paused = true)]
async fn callers_are_offered_in_order_after_wrap_up_with_priority_and_skills() {
    let dir = crate::common::temp_dir();
    let callers: Vec<String> = (2000..2020).map(|n| n.to_string()).collect();
    let mut lines: Vec<&str> = callers.iter().map(String::as_str).collect();
    lines.extend(AGENTS);
    let switch = switch_on_lines(dir.path(), Some(&plan()), &lines, None).await;
    let addr = udp_addr(&switch);
    let mut agents = Vec::new();
    for a in AGENTS {
        let p = Phone::new(addr).await;
        p.register(a).await;
        agents.push(p);
    }
    // Every phone registers first: on a paused clock time jumps while the switch
    // waits on its store thread (a line's first request), so no call is under way then.
    let mut callers_phones = Vec::new();
    for c in &callers {
        let p = Phone::new(addr).await;
        p.register(c).await;
        callers_phones.push(p);
    }
    // Twenty callers, 2000 first; 2019 (priority, needs German) last. Each is answered
    // by the queue at once.
    let mut phones = Vec::new();
    for (c, p) in callers.iter().zip(callers_phones) {
        p.call(c, "310").await;
        let ok = p.wait_for(|m| m.code() == Some(200)).await;
        ack(&p, &ok, 2, "ACK").await;
        phones.push((p, ok));
    }
    // The first five went to the five free agents, in member order (all equally idle).
    let mut offers = Vec::new();
    for (k, agent) in agents.iter().enumerate() {
        let invite = agent.wait_for(|m| is_request(m, "INVITE")).await;
        assert_eq!(caller_of(&invite), callers[k], "agent {}", AGENTS[k]);
        pick_up_invite(agent, &invite).await;
        offers.push(invite);
    }
    // 2101 ends its call: after its 10 s wrap-up it gets the longest-waiting caller it
    // can take: 2005 (2019 waits first but needs German).
    agent_bye(&agents[1], &offers[1]).await;
    let freed = Instant::now();
    let next = agents[1]
        .wait_for(|m| is_request(m, "INVITE") && m.call_id() != offers[1].call_id())
        .await;
    let waited = freed.elapsed().as_secs();
    assert!((9..=11).contains(&waited), "offered after {waited} s");
    assert_eq!(caller_of(&next), "2005");
    pick_up_invite(&agents[1], &next).await;
    // 2104, the German speaker, ends its call: 2019 jumps the line to it.
    agent_bye(&agents[4], &offers[4]).await;
    let next = agents[4]
        .wait_for(|m| is_request(m, "INVITE") && m.call_id() != offers[4].call_id())
        .await;
    assert_eq!(caller_of(&next), "2019");
    pick_up_invite(&agents[4], &next).await;
    // 2100 ends its call: the next in line, 2006.
    agent_bye(&agents[0], &offers[0]).await;
    let next = agents[0]
        .wait_for(|m| is_request(m, "INVITE") && m.call_id() != offers[0].call_id())
        .await;
    assert_eq!(caller_of(&next), "2006");
    switch.shutdown().await;
}

/// The time from an agent freeing up (its BYE answered) to its next offer (the INVITE
/// at its phone), with callers always waiting: 200 agents, 1,000 callers arriving at
/// 20/s, 15 s talk, no wrap-up. Real time (about 90 s). Run it by hand:
/// `cargo test --release --test queue_centre -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn queue_offer_latency() {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;
    let env = |name: &str, default: u32| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let (n_agents, n_callers) = (env("QUEUE_AGENTS", 200), env("QUEUE_CALLERS", 1000));
    let talk = Duration::from_secs(u64::from(env("QUEUE_TALK_SECS", 15)));
    let answered = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let refused = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let dir = crate::common::temp_dir();
    let agents: Vec<String> = (3000..3000 + n_agents).map(|n| n.to_string()).collect();
    let callers: Vec<String> = (4000..4000 + n_callers).map(|n| n.to_string()).collect();
    let mut plan = plan();
    plan.agent_skills.clear();
    let q = plan.queues.last_mut().unwrap();
    q.members = agents.clone();
    q.wrap_up_seconds = None;
    q.caller_rules.clear();
    q.agent_ring_seconds = Some(30);
    let mut lines: Vec<&str> = agents.iter().map(String::as_str).collect();
    lines.extend(callers.iter().map(String::as_str));
    let switch = switch_on_lines(dir.path(), Some(&plan), &lines, None).await;
    let addr = udp_addr(&switch);
    let latencies = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(tokio::sync::Notify::new());
    let mut tasks = Vec::new();
    for a in &agents {
        let p = Phone::new(addr).await;
        p.register(a).await;
        let (lat, stop) = (latencies.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let mut freed: Option<std::time::Instant> = None;
            loop {
                let invite = tokio::select! {
                    m = p.wait_for(|m| is_request(m, "INVITE")) => m,
                    _ = stop.notified() => return,
                };
                if let Some(f) = freed.take() {
                    lat.lock().unwrap().push(f.elapsed());
                }
                pick_up_invite(&p, &invite).await;
                tokio::time::sleep(talk).await;
                agent_bye(&p, &invite).await;
                freed = Some(std::time::Instant::now());
            }
        }));
    }
    let started = std::time::Instant::now();
    let mut callers_done = Vec::new();
    for (k, c) in callers.iter().enumerate() {
        let target = started + Duration::from_millis(50 * k as u64);
        tokio::time::sleep_until(target.into()).await;
        let p = Phone::new(addr).await;
        let c = c.clone();
        let (answered, refused) = (answered.clone(), refused.clone());
        callers_done.push(tokio::spawn(async move {
            p.call(&c, "310").await;
            let ok = p
                .wait_for(|m| m.code().is_some_and(|c| c >= 200 && c != 407))
                .await;
            if ok.code() != Some(200) {
                refused.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                eprintln!(
                    "refused: {:?} {:?}",
                    ok.code(),
                    ok.values_named("Warning").next()
                );
                return;
            }
            answered.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            ack(&p, &ok, 2, "ACK").await;
            let bye = p.wait_for(|m| is_request(m, "BYE")).await;
            p.respond(&bye, 200, "OK").await;
        }));
    }
    for c in callers_done {
        let _ = tokio::time::timeout(Duration::from_secs(200), c).await;
    }
    println!(
        "callers answered by the queue {}, refused {}",
        answered.load(std::sync::atomic::Ordering::Relaxed),
        refused.load(std::sync::atomic::Ordering::Relaxed)
    );
    stop.notify_waiters();
    let mut lat = latencies.lock().unwrap().clone();
    lat.sort();
    let pct = |p: f64| lat[((p * lat.len() as f64) as usize).min(lat.len() - 1)];
    println!(
        "queue offer latency over {} offers to a freed agent: p50 {:?} p90 {:?} p99 {:?} max {:?}",
        lat.len(),
        pct(0.5),
        pct(0.9),
        pct(0.99),
        lat[lat.len() - 1]
    );
    switch.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_caller_who_hangs_up_leaves_the_queue_and_its_ringing_agent_unpenalised() {
    let dir = crate::common::temp_dir();
    let mut plan = plan();
    plan.agent_skills.clear();
    let q = plan.queues.last_mut().unwrap();
    q.members = vec!["2100".into()];
    q.caller_rules.clear();
    q.pause_on_no_answer = true;
    q.announce_seconds = Some(20);
    let lines = ["2000", "2001", "2002", "2100"];
    let switch = switch_on_lines(dir.path(), Some(&plan), &lines, None).await;
    let addr = udp_addr(&switch);
    let agent = Phone::new(addr).await;
    agent.register("2100").await;
    // Every phone registers first (see above).
    let (a, b, c) = (
        Phone::new(addr).await,
        Phone::new(addr).await,
        Phone::new(addr).await,
    );
    a.register("2000").await;
    b.register("2001").await;
    c.register("2002").await;
    // A waits; the agent rings; A hangs up: the agent's phone stops ringing.
    a.call("2000", "310").await;
    let ok = a.wait_for(|m| m.code() == Some(200)).await;
    ack(&a, &ok, 2, "ACK").await;
    let offer = agent.wait_for(|m| is_request(m, "INVITE")).await;
    agent.respond(&offer, 180, "Ringing").await;
    ack(&a, &ok, 3, "BYE").await;
    let cancel = agent.wait_for(|m| is_request(m, "CANCEL")).await;
    agent.respond(&cancel, 200, "OK").await;
    agent.respond(&offer, 487, "Request Terminated").await;
    // B is offered to the same agent at once: not paused for A's ring.
    b.call("2001", "310").await;
    let ok = b.wait_for(|m| m.code() == Some(200)).await;
    ack(&b, &ok, 2, "ACK").await;
    let asked = Instant::now();
    let next = agent
        .wait_for(|m| is_request(m, "INVITE") && m.call_id() != offer.call_id())
        .await;
    assert!(
        asked.elapsed().as_secs() < 2,
        "offered after {:?}",
        asked.elapsed()
    );
    assert_eq!(caller_of(&next), "2001");
    pick_up_invite(&agent, &next).await;
    // C waits (announcements due every 20 s) and hangs up: its call ends.
    c.call("2002", "310").await;
    let ok = c.wait_for(|m| m.code() == Some(200)).await;
    ack(&c, &ok, 2, "ACK").await;
    ack(&c, &ok, 3, "BYE").await;
    tokio::time::sleep(std::time::Duration::from_secs(120)).await;
    // C's call is over (its announcements kept nothing alive).
    let tenant = 1; // the only tenant of a fresh store
    let c_call = format!("call-{}", c.local());
    assert!(
        switch.directory.call(tenant, &c_call).is_none(),
        "C's call still up"
    );
    // The journal is written by the time the switch has stopped.
    switch.shutdown().await;
    let store = actors::store::Store::open(dir.path()).unwrap();
    let t = store.tenant("demo").unwrap();
    assert!(store.logged_out(t.id).unwrap().is_empty(), "nobody paused");
    let rows = store.calls(t.id, 10).unwrap();
    let row = rows.iter().find(|r| r.from == "2002").expect("C's row");
    // Ended by its caller before the shutdown, not left open (or repaired) by it.
    assert_eq!(row.state, actors::journal::CallState::Done, "{row:?}");
    assert_eq!(
        row.hangup_side,
        Some(actors::journal::Side::Caller),
        "{row:?}"
    );
}

/// The queue's actor of `switch`'s only tenant, for number 310.
async fn queue_actor(switch: &actors::Switch) -> ractor::ActorRef<actors::proto::QueueMsg> {
    let tenant = switch
        .directory
        .tenant_for("127.0.0.1")
        .expect("the demo tenant");
    ractor::call!(tenant.supervisor, |reply| actors::proto::TenantMsg::Queue {
        number: "310".into(),
        reply,
    })
    .unwrap()
    .expect("queue 310 runs")
}

#[tokio::test(start_paused = true)]
async fn a_queue_whose_actor_dies_is_restarted_with_its_callers_in_order_and_its_busy_agent() {
    let dir = crate::common::temp_dir();
    let mut plan = plan();
    plan.agent_skills.clear();
    let q = plan.queues.last_mut().unwrap();
    q.members = vec!["2100".into()];
    q.caller_rules.clear();
    q.wrap_up_seconds = None;
    let lines = ["2000", "2001", "2002", "2100"];
    let switch = switch_on_lines(dir.path(), Some(&plan), &lines, None).await;
    let addr = udp_addr(&switch);
    let agent = Phone::new(addr).await;
    agent.register("2100").await;
    let mut callers = Vec::new();
    for c in ["2000", "2001", "2002"] {
        let p = Phone::new(addr).await;
        p.register(c).await;
        callers.push(p);
    }
    // 2000 reaches the agent; 2001, then 2002, wait.
    for (p, c) in callers.iter().zip(["2000", "2001", "2002"]) {
        p.call(c, "310").await;
        let ok = p.wait_for(|m| m.code() == Some(200)).await;
        ack(p, &ok, 2, "ACK").await;
    }
    let first = agent.wait_for(|m| is_request(m, "INVITE")).await;
    assert_eq!(caller_of(&first), "2000");
    pick_up_invite(&agent, &first).await;
    // The queue's actor fails and the tenant starts another.
    let old = queue_actor(&switch).await;
    old.cast(actors::proto::QueueMsg::Panic).unwrap();
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    let new = queue_actor(&switch).await;
    assert_ne!(old.get_id(), new.get_id(), "a new queue actor");
    // The new one knows its agent is busy: no offer while the call lasts.
    let quiet = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        agent.wait_for(|m| is_request(m, "INVITE") && m.call_id() != first.call_id()),
    )
    .await;
    assert!(quiet.is_err(), "the busy agent was offered a second call");
    // The agent hangs up: the longest-waiting caller, 2001, comes next.
    agent_bye(&agent, &first).await;
    let next = agent
        .wait_for(|m| is_request(m, "INVITE") && m.call_id() != first.call_id())
        .await;
    assert_eq!(caller_of(&next), "2001");
    switch.shutdown().await;
}
