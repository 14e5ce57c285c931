//! Timer behaviour of calls on a paused tokio clock: the switch runs in-process on
//! real loopback sockets, and time only moves when everything waits, so a 30-second
//! ring timeout takes no real time and cannot flake.

use crate::common::paused::*;
use actors::store::Store;
use actors::Switch;
use engine::sip::{HeaderName, Message, MessageWriter};
use tokio::time::Instant;

async fn switch(dir: &std::path::Path) -> Switch {
    switch_with(dir, None).await
}

/// A switch with lines 100–102 and, when given, the tenant's dialplan. Its calls carry
/// no RTP here: the media timeout is off (its own test turns it on).
async fn switch_with(dir: &std::path::Path, plan: Option<&dialplan::TenantPlan>) -> Switch {
    switch_full(dir, plan, None).await
}

async fn switch_full(
    dir: &std::path::Path,
    plan: Option<&dialplan::TenantPlan>,
    media_timeout: Option<std::time::Duration>,
) -> Switch {
    let lines = ["100", "101", "102"];
    switch_on_lines(dir, plan, &lines, media_timeout).await
}

/// 101's device answers the call (no RTP from anyone); the caller ACKs.
async fn answered_101(
    (switch, device, caller, invite): (Switch, Phone, Phone, Message),
) -> (Switch, Phone, Phone, Message) {
    let sdp = "v=0\r\no=- 2 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40002 RTP/AVP 0\r\n";
    let mut w = MessageWriter::response_to(&invite, 200, "OK", Some("dev"));
    w.header("Contact", &format!("<sip:dev@{}>", device.local()));
    device
        .send(&w.body("application/sdp", sdp.as_bytes()))
        .await;
    device.wait_for(|m| is_request(m, "ACK")).await;
    let ok = caller.wait_for(|m| m.code() == Some(200)).await;
    let local = caller.local();
    let to = ok.header(HeaderName::To).unwrap();
    let ack = format!("ACK sip:pbx@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bKack;rport\r\nFrom: <sip:100@127.0.0.1>;tag=c\r\nTo: {to}\r\nCall-ID: call-{local}\r\nCSeq: 2 ACK\r\nContent-Length: 0\r\n\r\n");
    caller.send(ack.as_bytes()).await;
    (switch, device, caller, invite)
}

/// A switch with 101 registered and 100 calling it; the INVITE 101's phone got.
async fn call_101(dir: &std::path::Path) -> (Switch, Phone, Phone, Message) {
    call_101_on(switch(dir).await).await
}

async fn call_101_on(switch: Switch) -> (Switch, Phone, Phone, Message) {
    let addr = udp_addr(&switch);
    let device = Phone::new(addr).await;
    device.register("101").await;
    let caller = Phone::new(addr).await;
    caller.call("100", "101").await;
    let invite = device.wait_for(|m| is_request(m, "INVITE")).await;
    (switch, device, caller, invite)
}

#[tokio::test(start_paused = true)]
async fn an_unanswered_call_rings_for_the_ring_time_then_480_and_cancel() {
    let dir = crate::common::temp_dir();
    let (switch, device, caller, invite) = call_101(dir.path()).await;
    device.respond(&invite, 180, "Ringing").await;
    caller.wait_for(|m| m.code() == Some(180)).await;
    let rang_at = Instant::now();
    // Nobody answers: the ring time (30 s by default) runs out on the paused clock.
    let end = caller
        .wait_for(|m| m.code().is_some_and(|c| c >= 300))
        .await;
    assert_eq!(end.code(), Some(480));
    let waited = rang_at.elapsed();
    assert!(
        waited >= actors::call::RING_TIMEOUT - std::time::Duration::from_secs(1),
        "480 after {waited:?} of ringing"
    );
    assert!(waited < actors::call::RING_TIMEOUT * 2, "{waited:?}");
    let cancel = device.wait_for(|m| is_request(m, "CANCEL")).await;
    device.respond(&cancel, 200, "OK").await;
    device.respond(&invite, 487, "Request Terminated").await;
    switch.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn an_answered_call_is_refreshed_at_half_its_session_interval() {
    let dir = crate::common::temp_dir();
    let (switch, device, caller, _) = answered_101(call_101(dir.path()).await).await;
    let answered = Instant::now();
    // The switch refreshes the session (RFC 4028) on one of the legs at half of the
    // interval it negotiated (1,800 s by default): no real time passes.
    let refresh = |m: &Message| is_request(m, "UPDATE") || is_request(m, "INVITE");
    let first = tokio::select! {
        m = caller.wait_for(refresh) => m,
        m = device.wait_for(refresh) => m,
    };
    let after = answered.elapsed();
    let half = std::time::Duration::from_secs(u64::from(engine::call::DEFAULT_SE) / 2);
    assert!(
        after >= half - std::time::Duration::from_secs(60),
        "refreshed after {after:?}"
    );
    assert!(
        after <= half + std::time::Duration::from_secs(60),
        "refreshed after {after:?}"
    );
    assert!(
        first.header(HeaderName::SessionExpires).is_some()
            || first.values_named("Session-Expires").next().is_some()
    );
    switch.shutdown().await;
}

/// The demo plan with group 200 open at all hours, ringing 101 then 102 for 15 s each.
fn sequential_group() -> dialplan::TenantPlan {
    let mut plan = dialplan::TenantPlan::demo();
    let g = &mut plan.groups[0];
    g.schedule = None;
    g.voicemail = None;
    g.members = vec!["101".into(), "102".into()];
    g.strategy = dialplan::plan::Strategy::Sequential { ring_seconds: 15 };
    plan
}

#[tokio::test(start_paused = true)]
async fn a_sequential_group_rings_each_member_for_its_time_then_the_next() {
    let dir = crate::common::temp_dir();
    let switch = switch_with(dir.path(), Some(&sequential_group())).await;
    let addr = udp_addr(&switch);
    let (first, second) = (Phone::new(addr).await, Phone::new(addr).await);
    first.register("101").await;
    second.register("102").await;
    let caller = Phone::new(addr).await;
    caller.call("100", "200").await;
    let invite = first.wait_for(|m| is_request(m, "INVITE")).await;
    first.respond(&invite, 180, "Ringing").await;
    caller.wait_for(|m| m.code() == Some(180)).await;
    let rang_at = Instant::now();
    // 101 does not answer: after its 15 s the switch cancels it and rings 102.
    let cancel = first.wait_for(|m| is_request(m, "CANCEL")).await;
    let waited = rang_at.elapsed();
    assert!(
        (14..=16).contains(&waited.as_secs()),
        "101 rang for {waited:?}"
    );
    first.respond(&cancel, 200, "OK").await;
    first.respond(&invite, 487, "Request Terminated").await;
    let invite = second.wait_for(|m| is_request(m, "INVITE")).await;
    // 102 is busy: the group is exhausted and the caller hears the last status.
    second.respond(&invite, 486, "Busy Here").await;
    let end = caller
        .wait_for(|m| m.code().is_some_and(|c| c >= 300))
        .await;
    assert_eq!(end.code(), Some(486));
    switch.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_sequential_group_member_answering_gets_the_call() {
    let dir = crate::common::temp_dir();
    let switch = switch_with(dir.path(), Some(&sequential_group())).await;
    let addr = udp_addr(&switch);
    // 101 has no device: its hop fails at once and 102 rings.
    let second = Phone::new(addr).await;
    second.register("102").await;
    let caller = Phone::new(addr).await;
    caller.call("100", "200").await;
    let invite = second.wait_for(|m| is_request(m, "INVITE")).await;
    let sdp = "v=0\r\no=- 2 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40002 RTP/AVP 0\r\n";
    let mut w = MessageWriter::response_to(&invite, 200, "OK", Some("dev"));
    w.header("Contact", &format!("<sip:dev@{}>", second.local()));
    second
        .send(&w.body("application/sdp", sdp.as_bytes()))
        .await;
    let ok = caller
        .wait_for(|m| m.code().is_some_and(|c| c >= 200))
        .await;
    assert_eq!(ok.code(), Some(200));
    switch.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_call_without_media_ends_after_the_media_timeout() {
    let dir = crate::common::temp_dir();
    let timeout = actors::call::MEDIA_TIMEOUT;
    let switch = switch_full(dir.path(), None, Some(timeout)).await;
    let (switch, device, caller, _) = answered_101(call_101_on(switch).await).await;
    let answered = Instant::now();
    // Nobody sends RTP: both phones get BYE once the media timeout has passed.
    caller.wait_for(|m| is_request(m, "BYE")).await;
    let after = answered.elapsed();
    assert!(
        after >= timeout && after < timeout * 3 / 2,
        "BYE after {after:?}"
    );
    device.wait_for(|m| is_request(m, "BYE")).await;
    switch.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_held_call_is_not_ended_for_silence() {
    let dir = crate::common::temp_dir();
    let timeout = actors::call::MEDIA_TIMEOUT;
    let switch = switch_full(dir.path(), None, Some(timeout)).await;
    let (switch, device, caller, invite) = answered_101(call_101_on(switch).await).await;
    // 101 holds (sendonly): the caller is asked, answers recvonly.
    let local = device.local();
    let sdp = "v=0\r\no=- 2 3 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40002 RTP/AVP 0\r\na=sendonly\r\n";
    let from = invite.header(HeaderName::To).unwrap();
    let contact = invite.contacts().unwrap()[0].uri.raw.to_owned();
    let reinvite = format!(
        "INVITE {contact} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bKhold;rport\r\nFrom: {from};tag=dev\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: 2 INVITE\r\nContact: <sip:dev@{local}>\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
        invite.header(HeaderName::From).unwrap(),
        invite.call_id().unwrap(),
        sdp.len()
    );
    device.send(reinvite.as_bytes()).await;
    let relayed = caller.wait_for(|m| is_request(m, "INVITE")).await;
    let answer = sdp.replace("sendonly", "recvonly");
    let mut w = MessageWriter::response_to(&relayed, 200, "OK", None);
    w.header("Contact", &format!("<sip:100@{}>", caller.local()));
    caller
        .send(&w.body("application/sdp", answer.as_bytes()))
        .await;
    let ok = device.wait_for(|m| m.code() == Some(200)).await;
    let ack = format!(
        "ACK {contact} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bKholdack;rport\r\nFrom: {from};tag=dev\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: 2 ACK\r\nContent-Length: 0\r\n\r\n",
        ok.header(HeaderName::To).unwrap(),
        invite.call_id().unwrap()
    );
    device.send(ack.as_bytes()).await;
    // Five times the timeout on hold, and no BYE for anyone.
    let waited = tokio::time::timeout(timeout * 5, caller.wait_for(|m| is_request(m, "BYE"))).await;
    assert!(
        waited.is_err(),
        "a held call got BYE: {:?}",
        waited.map(|m| String::from_utf8_lossy(m.as_bytes()).into_owned())
    );
    switch.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_line_forwarding_on_no_answer_rings_its_target_after_the_delay() {
    let dir = crate::common::temp_dir();
    let switch = switch(dir.path()).await;
    // 101 forwards the calls nobody answers within 8 s to 102.
    {
        let store = Store::open(dir.path()).unwrap();
        let t = store.tenant("demo").unwrap();
        let change = actors::store::FeatureChange {
            forwards: actors::store::ForwardsChange {
                no_answer: Some(Some("102".into())),
                ..Default::default()
            },
            no_answer_secs: Some(Some(8)),
            ..Default::default()
        };
        store.change_line_features(t.id, "101", &change).unwrap();
    }
    // The tenant reads it with its next view (paused clock: no real wait).
    tokio::time::sleep(actors::tenant::routing::REFRESH * 2).await;
    let addr = udp_addr(&switch);
    let target = Phone::new(addr).await;
    target.register("102").await;
    let (switch, device, caller, invite) = call_101_on(switch).await;
    device.respond(&invite, 180, "Ringing").await;
    caller.wait_for(|m| m.code() == Some(180)).await;
    let rang_at = Instant::now();
    // After the delay 101's phone is cancelled (it answers as phones do) ...
    let cancel = device.wait_for(|m| is_request(m, "CANCEL")).await;
    let waited = rang_at.elapsed();
    device.respond(&cancel, 200, "OK").await;
    device.respond(&invite, 487, "Request Terminated").await;
    assert!(
        waited >= std::time::Duration::from_secs(7) && waited < actors::call::RING_TIMEOUT,
        "101 rang for {waited:?}"
    );
    // ... and 102 rings; it is busy, and the caller hears that.
    let forwarded = target.wait_for(|m| is_request(m, "INVITE")).await;
    let mut w = MessageWriter::response_to(&forwarded, 486, "Busy Here", Some("t"));
    w.header("Contact", &format!("<sip:t@{}>", target.local()));
    target.send(&w.finish()).await;
    let end = caller
        .wait_for(|m| m.code().is_some_and(|c| c >= 300))
        .await;
    assert_eq!(end.code(), Some(486));
    drop(switch);
}

/// The demo plan with queue 310: agent 101 (longest idle), `edit` applied.
fn queue_plan(edit: impl FnOnce(&mut dialplan::plan::Queue)) -> dialplan::TenantPlan {
    let mut plan = dialplan::TenantPlan::demo();
    let mut q = plan.queues[0].clone();
    q.number = "310".into();
    q.name = "Desk".into();
    q.schedule = None;
    q.overflow = None;
    q.members = vec!["101".into()];
    q.announce_seconds = None;
    q.exit_key = None;
    q.exit_target = None;
    q.max_wait_seconds = None;
    q.wrap_up_seconds = None;
    edit(&mut q);
    plan.queues.push(q);
    plan
}

#[tokio::test(start_paused = true)]
async fn a_queue_agent_gets_the_next_caller_only_after_its_wrap_up() {
    let dir = crate::common::temp_dir();
    let plan = queue_plan(|q| q.wrap_up_seconds = Some(30));
    let switch = switch_with(dir.path(), Some(&plan)).await;
    let addr = udp_addr(&switch);
    let agent = Phone::new(addr).await;
    agent.register("101").await;
    let (first, second) = (Phone::new(addr).await, Phone::new(addr).await);
    first.call("100", "310").await;
    let ok = first.wait_for(|m| m.code() == Some(200)).await;
    ack(&first, &ok, 2, "ACK").await;
    let offer = agent.wait_for(|m| is_request(m, "INVITE")).await;
    pick_up_invite(&agent, &offer).await;
    // A second caller waits: the agent is busy.
    second.call("100", "310").await;
    let ok2 = second.wait_for(|m| m.code() == Some(200)).await;
    ack(&second, &ok2, 2, "ACK").await;
    // The first call ends; the agent wraps up for 30 s before the next offer.
    ack(&first, &ok, 3, "BYE").await;
    let bye = agent.wait_for(|m| is_request(m, "BYE")).await;
    agent.respond(&bye, 200, "OK").await;
    let ended = Instant::now();
    let next = agent
        .wait_for(|m| is_request(m, "INVITE") && m.call_id() != offer.call_id())
        .await;
    let waited = ended.elapsed();
    assert!(
        (29..=31).contains(&waited.as_secs()),
        "offered again after {waited:?}"
    );
    agent.respond(&next, 486, "Busy Here").await;
    switch.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_caller_waiting_longer_than_the_queue_allows_goes_to_its_overflow() {
    let dir = crate::common::temp_dir();
    let plan = queue_plan(|q| {
        q.max_wait_seconds = Some(60);
        q.overflow = Some("102".into());
        q.announce_seconds = Some(20);
    });
    let switch = switch_with(dir.path(), Some(&plan)).await;
    let addr = udp_addr(&switch);
    // Agent 101 has no device: nobody can be offered the call.
    let overflow = Phone::new(addr).await;
    overflow.register("102").await;
    let caller = Phone::new(addr).await;
    caller.call("100", "310").await;
    let ok = caller.wait_for(|m| m.code() == Some(200)).await;
    ack(&caller, &ok, 2, "ACK").await;
    let answered = Instant::now();
    let invite = overflow.wait_for(|m| is_request(m, "INVITE")).await;
    let waited = answered.elapsed();
    // Not before the longest wait. (No upper bound: while the switch waits on threads
    // of its own (the store, the relays), a paused clock runs on to its next timers,
    // and on a loaded machine that took the overflow's INVITE to 765 s once.)
    assert!(waited.as_secs() >= 59, "overflow after {waited:?}");
    pick_up_invite(&overflow, &invite).await;
    switch.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn an_idle_line_hibernates_keeping_its_binding_and_a_call_wakes_it() {
    let dir = crate::common::temp_dir();
    let switch = switch_hibernating(dir.path(), &["100", "101", "102"]).await;
    let addr = udp_addr(&switch);
    let device = Phone::new(addr).await;
    device.register("101").await;
    // Longer than a nonce lives (300 s) without a request: the actor stops, the
    // binding stays where calls read it.
    tokio::time::sleep(std::time::Duration::from_secs(320)).await;
    assert_eq!(switch.directory.line_count(), 0, "101 hibernates");
    assert_eq!(switch.directory.binding_count(), 1, "its binding is kept");
    // A call to it wakes it: the phone rings at its registered address.
    let caller = Phone::new(addr).await;
    caller.call("100", "101").await;
    let invite = device.wait_for(|m| is_request(m, "INVITE")).await;
    assert!(invite.call_id().is_some());
    assert!(switch.directory.line_count() >= 1);
    assert_eq!(switch.directory.binding_count(), 1);
}
