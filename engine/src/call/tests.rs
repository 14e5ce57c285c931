use std::time::{Duration, Instant};

use super::*;
use crate::fixtures::{self, parse, SNOM_180, SNOM_200, YEALINK_INVITE};
use crate::sdp::Sdp;
use crate::sip::{HeaderName, Message, Method};
use crate::timer::TimerConfig;

pub(super) fn cfg(seed: &str) -> LegConfig {
    LegConfig {
        timers: TimerConfig::default(),
        reliable: false,
        transport: "UDP".into(),
        sent_by: "203.0.113.5:5060".into(),
        contact: "<sip:pbx@203.0.113.5:5060>".into(),
        branch_seed: seed.into(),
        ring_timeout: Some(Duration::from_secs(30)),
        auth: None,
    }
}

pub(super) fn drain(leg: &mut Leg) -> (Vec<Message>, Vec<LegEvent>) {
    let (mut sent, mut events) = (Vec::new(), Vec::new());
    while let Some(o) = leg.poll_output() {
        match o {
            Output::Send(b) => sent.push(Message::parse(b).expect("leg output parses")),
            Output::Respond(r) => {
                let m = Message::parse(r.bytes).expect("leg output parses");
                assert_eq!(m.code(), Some(r.code), "a response says its own code");
                if let Some(key) = &r.request {
                    assert_eq!(m.call_id(), Some(key.call_id.as_str()));
                    assert_eq!(m.cseq().map(|c| c.seq), Some(key.cseq));
                }
                sent.push(m)
            }
            Output::Event(e) => events.push(e),
        }
    }
    (sent, events)
}

/// True when the leg waits for nothing but its session timer (RFC 4028).
pub(super) fn only_session_timers(leg: &Leg) -> bool {
    use crate::timer::Timer;
    let session = [Timer::SessionRefresh, Timer::SessionExpiry]
        .iter()
        .filter_map(|t| leg.timers.get(t))
        .min();
    session.is_some() && leg.next_timeout() == session
}

pub(super) fn summary(m: &Message) -> String {
    match m.code() {
        Some(c) => format!("{c} {}", m.cseq().unwrap().method),
        None => format!("{} {}", m.method().unwrap(), m.uri_str().unwrap()),
    }
}

pub(super) fn invite_spec() -> OutgoingInvite {
    OutgoingInvite {
        request_uri: "sip:200@192.168.1.33:5060;line=k3x8f7v1".into(),
        from: "\"Desk 100\" <sip:100@pbx.example.com>;tag=sw-a".into(),
        to: "<sip:200@pbx.example.com>".into(),
        call_id: "b2b-1@203.0.113.5".into(),
        cseq: 1,
        max_forwards: 69,
        headers: vec![("Allow".into(), "INVITE, ACK, CANCEL, BYE".into())],
        sdp: None,
    }
}

pub(super) fn trying(invite: &Message) -> Message {
    fixtures::answer(
        "SIP/2.0 100 Trying\r\nVia: {via}\r\nFrom: {from}\r\nTo: {to}\r\nCall-ID: {call_id}\r\nCSeq: {cseq}\r\nContent-Length: 0\r\n\r\n",
        invite,
    )
}

pub(super) fn final_response(invite: &Message, code: u16, reason: &str) -> Message {
    fixtures::answer(
        &format!("SIP/2.0 {code} {reason}\r\nVia: {{via}}\r\nFrom: {{from}}\r\nTo: {{to}};tag=kqd4nqmz3w\r\nCall-ID: {{call_id}}\r\nCSeq: {{cseq}}\r\nContent-Length: 0\r\n\r\n"),
        invite,
    )
}

#[test]
fn incoming_leg_rings_answers_and_waits_for_ack() {
    let t0 = Instant::now();
    let invite = parse(YEALINK_INVITE);
    let mut a = Leg::incoming(cfg("a"), &invite, "sw-b").unwrap();
    assert_eq!(a.remote_offer().unwrap().media()[0].port(), 11780);
    let (sent, _) = drain(&mut a);
    assert_eq!(sent[0].code(), Some(100));
    assert_eq!(sent[0].to().unwrap().tag(), None);

    a.ring_at(None, t0);
    let (sent, _) = drain(&mut a);
    assert_eq!(sent[0].code(), Some(180));
    assert_eq!(sent[0].to().unwrap().tag(), Some("sw-b"));
    assert_eq!(
        sent[0].header(HeaderName::Contact),
        Some("<sip:pbx@203.0.113.5:5060>")
    );
    assert_eq!(a.state(), LegState::Ringing);

    let sdp = Sdp::parse(b"v=0\r\no=pbx 1 1 IN IP4 203.0.113.5\r\ns=-\r\nc=IN IP4 203.0.113.5\r\nt=0 0\r\nm=audio 20000 RTP/AVP 0\r\n").unwrap();
    a.answer(Some(&sdp), t0);
    let (sent, _) = drain(&mut a);
    assert_eq!(sent[0].code(), Some(200));
    assert_eq!(sent[0].body(), sdp.to_bytes().as_slice());
    assert_eq!(a.next_timeout(), Some(t0 + Duration::from_millis(500)));
    a.on_timeout(t0 + Duration::from_millis(500));
    let (sent, _) = drain(&mut a);
    assert_eq!(sent.len(), 1, "2xx retransmitted");
    let ack = parse("ACK sip:pbx@203.0.113.5:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 192.168.1.21:5062;branch=z9hG4bK99\r\nFrom: \"Desk 100\" <sip:100@pbx.example.com>;tag=2763148580\r\nTo: <sip:200@pbx.example.com>;tag=sw-b\r\nCall-ID: 0_3418497393@192.168.1.21\r\nCSeq: 2 ACK\r\nContent-Length: 0\r\n\r\n");
    a.on_request(&ack, t0 + Duration::from_millis(600));
    assert!(only_session_timers(&a));
    assert_eq!(a.state(), LegState::Answered);
}

#[test]
fn incoming_leg_without_ack_sends_bye() {
    let t0 = Instant::now();
    let mut a = Leg::incoming(cfg("a"), &parse(YEALINK_INVITE), "sw-b").unwrap();
    a.answer(None, t0);
    drain(&mut a);
    let mut retransmits = 0;
    let mut bye = None;
    while let Some(at) = a.next_timeout() {
        if at > t0 + Duration::from_secs(32) {
            break;
        }
        a.on_timeout(at);
        for m in drain(&mut a).0 {
            match m.method() {
                Some(Method::Bye) => bye = Some((at - t0, m)),
                _ => retransmits += 1,
            }
        }
    }
    assert_eq!(retransmits, 10);
    let (at, bye) = bye.unwrap();
    assert_eq!(at, Duration::from_secs(32));
    assert_eq!(bye.uri_str(), Some("sip:100@192.168.1.21:5062"));
    assert_eq!(a.state(), LegState::Terminating);
    let ok = fixtures::answer("SIP/2.0 200 OK\r\nVia: {via}\r\nFrom: {from}\r\nTo: {to}\r\nCall-ID: {call_id}\r\nCSeq: {cseq}\r\nContent-Length: 0\r\n\r\n", &bye);
    a.on_response(&ok, t0 + Duration::from_secs(33));
    let (_, ev) = drain(&mut a);
    assert!(matches!(&ev[..], [LegEvent::Ended(c)] if c.code == 408 && c.side == Side::Local));
}

#[test]
fn incoming_cancel_gets_200_and_487() {
    let invite = parse(YEALINK_INVITE);
    let mut a = Leg::incoming(cfg("a"), &invite, "sw-b").unwrap();
    a.ring(None);
    drain(&mut a);
    let text = YEALINK_INVITE
        .split("\r\n\r\n")
        .next()
        .unwrap()
        .replace("INVITE sip", "CANCEL sip")
        .replace("CSeq: 2 INVITE", "CSeq: 2 CANCEL");
    let head: String = text
        .lines()
        .filter(|l| !l.starts_with("Content-"))
        .map(|l| format!("{l}\r\n"))
        .collect();
    let cancel = parse(&format!("{head}Content-Length: 0\r\n\r\n"));
    a.on_request(&cancel, Instant::now());
    let (sent, ev) = drain(&mut a);
    assert_eq!(
        sent.iter().map(summary).collect::<Vec<_>>(),
        ["200 CANCEL", "487 INVITE"]
    );
    assert_eq!(sent[1].to().unwrap().tag(), Some("sw-b"));
    assert!(matches!(&ev[..], [LegEvent::Ended(c)] if c.code == 487 && c.side == Side::Remote));
    assert!(a.is_ended());
}

#[test]
fn outgoing_leg_rings_and_answers() {
    let t0 = Instant::now();
    let mut b = Leg::outgoing(cfg("b"));
    b.send_invite(&invite_spec(), t0);
    let (sent, _) = drain(&mut b);
    let invite = sent[0].clone();
    assert_eq!(
        summary(&invite),
        "INVITE sip:200@192.168.1.33:5060;line=k3x8f7v1"
    );
    assert_eq!(invite.top_via().unwrap().branch(), Some("z9hG4bKb.1"));
    assert_eq!(invite.max_forwards(), Some(69));
    assert!(b.owns_response(&trying(&invite)));

    // Retransmitted at T1 until a provisional response comes.
    b.on_timeout(t0 + Duration::from_millis(500));
    assert_eq!(drain(&mut b).0.len(), 1);
    b.on_response(&trying(&invite), t0 + Duration::from_millis(600));
    b.on_response(
        &fixtures::answer(SNOM_180, &invite),
        t0 + Duration::from_secs(1),
    );
    let (_, ev) = drain(&mut b);
    assert!(matches!(&ev[..], [LegEvent::Ringing]));
    assert_eq!(b.state(), LegState::Ringing);

    let ok = fixtures::answer(SNOM_200, &invite);
    b.on_response(&ok, t0 + Duration::from_secs(3));
    let (sent, ev) = drain(&mut b);
    assert_eq!(
        summary(&sent[0]),
        "ACK sip:200@192.168.1.33:5060;line=k3x8f7v1"
    );
    assert_eq!(sent[0].cseq().unwrap().seq, 1);
    assert_eq!(sent[0].top_via().unwrap().branch(), Some("z9hG4bKb.2"));
    assert_eq!(sent[0].to().unwrap().tag(), Some("kqd4nqmz3w"));
    let [LegEvent::Answered(Some(sdp))] = &ev[..] else {
        panic!("{ev:?}")
    };
    assert_eq!(sdp.media()[0].port(), 62418);
    // The 2xx again: the same ACK again.
    b.on_response(&ok, t0 + Duration::from_secs(4));
    assert_eq!(
        drain(&mut b).0[0].top_via().unwrap().branch(),
        Some("z9hG4bKb.2")
    );
    assert!(only_session_timers(&b), "ring timer stopped");

    // The callee hangs up.
    let bye = parse("BYE sip:pbx@203.0.113.5:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 192.168.1.33:5060;branch=z9hG4bKsnom1\r\nFrom: <sip:200@pbx.example.com>;tag=kqd4nqmz3w\r\nTo: \"Desk 100\" <sip:100@pbx.example.com>;tag=sw-a\r\nCall-ID: b2b-1@203.0.113.5\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n");
    assert!(b.owns_request(&bye));
    b.on_request(&bye, t0 + Duration::from_secs(60));
    let (sent, ev) = drain(&mut b);
    assert_eq!(summary(&sent[0]), "200 BYE");
    assert!(matches!(&ev[..], [LegEvent::Ended(c)] if *c == Cause::bye(Side::Remote)));
}

#[test]
fn cancel_waits_for_a_provisional_response() {
    let t0 = Instant::now();
    let mut b = Leg::outgoing(cfg("b"));
    b.send_invite(&invite_spec(), t0);
    let invite = drain(&mut b).0.remove(0);
    b.hangup(487, "Request Terminated", t0);
    assert!(drain(&mut b).0.is_empty(), "no CANCEL before a provisional");
    b.on_response(&trying(&invite), t0 + Duration::from_millis(100));
    let (sent, _) = drain(&mut b);
    let cancel = &sent[0];
    assert_eq!(
        summary(cancel),
        "CANCEL sip:200@192.168.1.33:5060;line=k3x8f7v1"
    );
    assert_eq!(cancel.top_via().unwrap().branch(), Some("z9hG4bKb.1"));
    assert_eq!(cancel.cseq().unwrap().seq, 1);
    assert_eq!(
        cancel.values_named("Reason").next(),
        Some("SIP;cause=487;text=\"Request Terminated\"")
    );
    b.on_response(
        &final_response(cancel, 200, "OK"),
        t0 + Duration::from_millis(200),
    );
    b.on_response(
        &final_response(&invite, 487, "Request Terminated"),
        t0 + Duration::from_millis(200),
    );
    let (sent, ev) = drain(&mut b);
    assert_eq!(
        sent.iter().map(summary).collect::<Vec<_>>(),
        ["ACK sip:200@192.168.1.33:5060;line=k3x8f7v1"]
    );
    assert!(matches!(&ev[..], [LegEvent::Ended(c)] if c.code == 487 && c.side == Side::Local));
}

#[test]
fn late_2xx_after_cancel_gets_ack_then_bye() {
    let t0 = Instant::now();
    let mut b = Leg::outgoing(cfg("b"));
    b.send_invite(&invite_spec(), t0);
    let invite = drain(&mut b).0.remove(0);
    b.on_response(&fixtures::answer(SNOM_180, &invite), t0);
    b.hangup(200, "Call completed elsewhere", t0);
    assert_eq!(
        summary(&drain(&mut b).0[0]),
        "CANCEL sip:200@192.168.1.33:5060;line=k3x8f7v1"
    );
    b.on_response(
        &fixtures::answer(SNOM_200, &invite),
        t0 + Duration::from_millis(50),
    );
    let (sent, ev) = drain(&mut b);
    let methods: Vec<_> = sent
        .iter()
        .map(|m| (m.method().unwrap().clone(), m.cseq().unwrap().seq))
        .collect();
    assert_eq!(methods, [(Method::Ack, 1), (Method::Bye, 2)]);
    assert!(ev.is_empty());
    assert_eq!(b.state(), LegState::Terminating);
    b.on_response(
        &final_response(&sent[1], 200, "OK"),
        t0 + Duration::from_millis(80),
    );
    let (_, ev) = drain(&mut b);
    assert!(matches!(&ev[..], [LegEvent::Ended(c)] if *c == Cause::answered_elsewhere()));
}

#[test]
fn ring_timer_cancels_and_timer_b_ends() {
    let t0 = Instant::now();
    let mut b = Leg::outgoing(cfg("b"));
    b.send_invite(&invite_spec(), t0);
    let invite = drain(&mut b).0.remove(0);
    b.on_response(&fixtures::answer(SNOM_180, &invite), t0);
    drain(&mut b);
    b.on_timeout(t0 + Duration::from_secs(30));
    let (sent, _) = drain(&mut b);
    assert_eq!(sent[0].method(), Some(&Method::Cancel));
    // Nobody answers the CANCEL nor the INVITE: Timer B (64*T1 from the INVITE) ends it.
    let mut ended = None;
    while let Some(at) = b.next_timeout() {
        b.on_timeout(at);
        if let Some(LegEvent::Ended(c)) = drain(&mut b).1.pop() {
            ended = Some(c);
        }
    }
    assert_eq!(ended, Some(Cause::no_answer()));
}

#[test]
fn in_dialog_requests_are_passed_up_or_refused() {
    let t0 = Instant::now();
    let invite = parse(YEALINK_INVITE);
    let mut a = Leg::incoming(cfg("a"), &invite, "sw-b").unwrap();
    a.answer(None, t0);
    drain(&mut a);
    let info = |seq: u32| {
        parse(&format!("INFO sip:pbx@203.0.113.5:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 192.168.1.21:5062;branch=z9hG4bKi{seq}\r\nFrom: <sip:100@pbx.example.com>;tag=2763148580\r\nTo: <sip:200@pbx.example.com>;tag=sw-b\r\nCall-ID: 0_3418497393@192.168.1.21\r\nCSeq: {seq} INFO\r\nContent-Length: 0\r\n\r\n"))
    };
    a.on_request(&info(3), t0);
    let (_, ev) = drain(&mut a);
    assert!(matches!(&ev[..], [LegEvent::Request(m)] if m.method() == Some(&Method::Info)));
    a.on_request(&info(3), t0);
    let (sent, _) = drain(&mut a);
    assert_eq!(sent[0].code(), Some(500));
    // The call sends a re-INVITE in the leg's dialog.
    let reinvite = Message::parse(a.request(&Method::Invite).unwrap().finish()).unwrap();
    assert_eq!(reinvite.cseq().unwrap().seq, 1);
    assert_eq!(reinvite.uri_str(), Some("sip:100@192.168.1.21:5062"));
}

#[test]
fn relayed_reinvite_runs_its_transaction_and_acks_the_2xx() {
    let t0 = Instant::now();
    let invite = parse(YEALINK_INVITE);
    let mut a = Leg::incoming(cfg("a"), &invite, "sw-b").unwrap();
    a.answer(None, t0);
    drain(&mut a);
    let ack = parse("ACK sip:pbx@203.0.113.5:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 192.168.1.21:5062;branch=z9hG4bK99\r\nFrom: \"Desk 100\" <sip:100@pbx.example.com>;tag=2763148580\r\nTo: <sip:200@pbx.example.com>;tag=sw-b\r\nCall-ID: 0_3418497393@192.168.1.21\r\nCSeq: 2 ACK\r\nContent-Length: 0\r\n\r\n");
    a.on_request(&ack, t0);
    let sdp = b"v=0\r\no=pbx 1 2 IN IP4 203.0.113.5\r\ns=-\r\nc=IN IP4 203.0.113.5\r\nt=0 0\r\nm=audio 20000 RTP/AVP 0\r\na=sendonly\r\n";
    let seq = a.send_request(&Method::Invite, Some(("application/sdp", sdp)), t0);
    assert_eq!(seq, Some(1));
    let (sent, _) = drain(&mut a);
    let reinvite = sent[0].clone();
    assert_eq!(summary(&reinvite), "INVITE sip:100@192.168.1.21:5062");
    assert_eq!(reinvite.body(), sdp);
    // A second re-INVITE while ours is pending: refused (the call answers 491).
    assert_eq!(a.send_request(&Method::Invite, None, t0), None);
    // Retransmitted over UDP until a response.
    a.on_timeout(t0 + Duration::from_millis(500));
    assert_eq!(drain(&mut a).0.len(), 1);
    let ok = fixtures::answer("SIP/2.0 200 OK\r\nVia: {via}\r\nFrom: {from}\r\nTo: {to}\r\nCall-ID: {call_id}\r\nCSeq: {cseq}\r\nContact: <sip:100@192.168.1.21:5062>\r\nContent-Length: 0\r\n\r\n", &reinvite);
    a.on_response(&ok, t0 + Duration::from_secs(1));
    let (sent, ev) = drain(&mut a);
    assert_eq!(summary(&sent[0]), "ACK sip:100@192.168.1.21:5062");
    assert_eq!(sent[0].cseq().unwrap().seq, 1);
    assert!(matches!(&ev[..], [LegEvent::Response(m)] if m.code() == Some(200)));
    // The 2xx again: the same ACK, nothing reported.
    a.on_response(&ok, t0 + Duration::from_secs(2));
    let (again, ev) = drain(&mut a);
    assert_eq!(again[0].bytes(), sent[0].bytes());
    assert!(ev.is_empty());
    assert!(only_session_timers(&a));
    // A 491 (glare) is reported and ACKed by the transaction.
    a.send_request(&Method::Invite, None, t0 + Duration::from_secs(3));
    let reinvite = drain(&mut a).0.remove(0);
    a.on_response(
        &final_response(&reinvite, 491, "Request Pending"),
        t0 + Duration::from_secs(3),
    );
    let (sent, ev) = drain(&mut a);
    assert_eq!(summary(&sent[0]), "ACK sip:100@192.168.1.21:5062");
    assert!(matches!(&ev[..], [LegEvent::Response(m)] if m.code() == Some(491)));
}

#[test]
fn answered_reinvite_is_retransmitted_until_its_ack() {
    let t0 = Instant::now();
    let mut a = Leg::incoming(cfg("a"), &parse(YEALINK_INVITE), "sw-b").unwrap();
    a.answer(None, t0);
    drain(&mut a);
    let ack2 = parse("ACK sip:pbx@203.0.113.5:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 192.168.1.21:5062;branch=z9hG4bK99\r\nFrom: \"Desk 100\" <sip:100@pbx.example.com>;tag=2763148580\r\nTo: <sip:200@pbx.example.com>;tag=sw-b\r\nCall-ID: 0_3418497393@192.168.1.21\r\nCSeq: 2 ACK\r\nContent-Length: 0\r\n\r\n");
    a.on_request(&ack2, t0);
    let reinvite = parse("INVITE sip:pbx@203.0.113.5:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 192.168.1.21:5062;branch=z9hG4bKr3\r\nFrom: \"Desk 100\" <sip:100@pbx.example.com>;tag=2763148580\r\nTo: <sip:200@pbx.example.com>;tag=sw-b\r\nCall-ID: 0_3418497393@192.168.1.21\r\nCSeq: 3 INVITE\r\nContact: <sip:100@192.168.1.21:5062>\r\nContent-Length: 0\r\n\r\n");
    a.on_request(&reinvite, t0);
    let (_, ev) = drain(&mut a);
    assert!(matches!(&ev[..], [LegEvent::Request(_)]));
    a.respond(
        &reinvite,
        200,
        "OK",
        Some(("application/sdp", b"v=0\r\n")),
        t0,
    );
    let (sent, _) = drain(&mut a);
    assert_eq!(summary(&sent[0]), "200 INVITE");
    assert_eq!(
        sent[0].header(HeaderName::Contact),
        Some("<sip:pbx@203.0.113.5:5060>")
    );
    assert_eq!(sent[0].body(), b"v=0\r\n");
    a.on_timeout(t0 + Duration::from_millis(500));
    assert_eq!(summary(&drain(&mut a).0[0]), "200 INVITE");
    let ack3 = parse(&String::from_utf8_lossy(ack2.bytes()).replace("2 ACK", "3 ACK"));
    a.on_request(&ack3, t0 + Duration::from_millis(600));
    assert!(only_session_timers(&a));
    // The next re-INVITE of the device is accepted: the previous one was answered.
    let next = parse(&String::from_utf8_lossy(reinvite.bytes()).replace("3 INVITE", "4 INVITE"));
    a.on_request(&next, t0 + Duration::from_secs(1));
    assert!(matches!(&drain(&mut a).1[..], [LegEvent::Request(_)]));
}

mod props {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Step {
        Response(u16, bool),
        Hangup,
        Wait(u64),
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            (100u16..700, any::<bool>()).prop_map(|(c, t)| Step::Response(c, t)),
            Just(Step::Hangup),
            (0u64..40_000).prop_map(Step::Wait),
        ]
    }

    proptest! {
        /// Whatever the device answers, whenever the call hangs up: no panic, one
        /// Ended at most, and every timer runs out.
        #[test]
        fn outgoing_leg_survives_any_response_order(steps in proptest::collection::vec(step(), 0..12)) {
            let t0 = Instant::now();
            let mut now = t0;
            let mut b = Leg::outgoing(cfg("b"));
            b.send_invite(&invite_spec(), now);
            let invite = drain(&mut b).0.remove(0);
            let mut ended = 0;
            for s in steps {
                match s {
                    Step::Response(code, tag) => {
                        let r = if tag {
                            final_response(&invite, code, "X")
                        } else {
                            fixtures::answer(&format!("SIP/2.0 {code} X\r\nVia: {{via}}\r\nFrom: {{from}}\r\nTo: {{to}}\r\nCall-ID: {{call_id}}\r\nCSeq: {{cseq}}\r\nContent-Length: 0\r\n\r\n"), &invite)
                        };
                        b.on_response(&r, now);
                    }
                    Step::Hangup => b.hangup(487, "Request Terminated", now),
                    Step::Wait(ms) => {
                        now += Duration::from_millis(ms);
                        while let Some(at) = b.next_timeout().filter(|t| *t <= now) {
                            b.on_timeout(at);
                        }
                    }
                }
                ended += drain(&mut b).1.iter().filter(|e| matches!(e, LegEvent::Ended(_))).count();
            }
            b.hangup(487, "Request Terminated", now);
            let mut spins = 0;
            while let Some(at) = b.next_timeout() {
                b.on_timeout(at);
                spins += 1;
                prop_assert!(spins < 1000, "timers never run out");
            }
            ended += drain(&mut b).1.iter().filter(|e| matches!(e, LegEvent::Ended(_))).count();
            prop_assert!(ended <= 1);
            prop_assert!(b.is_ended(), "{:?}", b.state());
            prop_assert_eq!(ended, 1);
        }
    }
}

#[test]
fn notify_carries_its_headers_and_sipfrag() {
    let t0 = Instant::now();
    let invite = parse(YEALINK_INVITE);
    let mut a = Leg::incoming(cfg("a"), &invite, "sw-b").unwrap();
    a.answer(None, t0);
    drain(&mut a);
    let seq = a.send_request_with(
        &Method::Notify,
        &[
            ("Event", "refer"),
            ("Subscription-State", "active;expires=60"),
        ],
        Some(("message/sipfrag;version=2.0", b"SIP/2.0 100 Trying\r\n")),
        t0,
    );
    assert_eq!(seq, Some(1));
    let (sent, _) = drain(&mut a);
    let notify = &sent[0];
    assert_eq!(summary(notify), "NOTIFY sip:100@192.168.1.21:5062");
    assert_eq!(notify.values_named("Event").next(), Some("refer"));
    assert_eq!(
        notify.values_named("Subscription-State").next(),
        Some("active;expires=60")
    );
    assert!(notify.header(HeaderName::Contact).is_some());
    assert_eq!(notify.body(), b"SIP/2.0 100 Trying\r\n");
    // Its 200 comes back to the call.
    let ok = fixtures::answer("SIP/2.0 200 OK\r\nVia: {via}\r\nFrom: {from}\r\nTo: {to}\r\nCall-ID: {call_id}\r\nCSeq: {cseq}\r\nContent-Length: 0\r\n\r\n", notify);
    a.on_response(&ok, t0);
    let (_, ev) = drain(&mut a);
    assert!(matches!(&ev[..], [LegEvent::Response(m)] if m.code() == Some(200)));
}

#[test]
fn a_forks_winner_moves_to_another_fork() {
    let t0 = Instant::now();
    let legs: Vec<Leg> = ["x", "y"]
        .iter()
        .map(|seed| {
            let mut l = Leg::outgoing(cfg(seed));
            let mut spec = invite_spec();
            spec.call_id = format!("b2b-{seed}@203.0.113.5");
            l.send_invite(&spec, t0);
            l
        })
        .collect();
    let mut fork = Fork::new(legs, t0);
    let mut invites = Vec::new();
    while let Some((i, o)) = fork.poll_output() {
        if let Output::Send(b) = o {
            invites.push((i, Message::parse(b).unwrap()));
        }
    }
    let (_, inv_y) = invites.iter().find(|(i, _)| *i == 1).unwrap().clone();
    let (_, inv_x) = invites.iter().find(|(i, _)| *i == 0).unwrap().clone();
    fork.on_response(&trying(&inv_x), t0);
    fork.on_response(&fixtures::answer(SNOM_200, &inv_y), t0);
    while fork.poll_output().is_some() {}
    assert_eq!(fork.winner(), Some(1));
    assert!(fork
        .take_winner()
        .is_some_and(|l| l.state() == LegState::Answered));
    // What stays is an ended leg; the loser is still being cancelled.
    assert!(fork.legs()[1].is_ended());
    assert_eq!(fork.legs()[0].state(), LegState::Terminating);
    assert!(fork.take_winner().is_some_and(|l| l.is_ended()));

    // A fork around a leg that already answered: hanging it up sends BYE.
    let mut b = Leg::outgoing(cfg("z"));
    b.send_invite(&invite_spec(), t0);
    let (sent, _) = drain(&mut b);
    b.on_response(&fixtures::answer(SNOM_200, &sent[0]), t0);
    drain(&mut b);
    let mut moved = Fork::answered(b, t0);
    assert_eq!(moved.winner(), Some(0));
    moved.hangup(200, "Call Transferred", t0);
    let (i, Output::Send(bye)) = moved.poll_output().unwrap() else {
        panic!("a BYE first")
    };
    assert_eq!(i, 0);
    assert_eq!(
        summary(&Message::parse(bye).unwrap()),
        "BYE sip:200@192.168.1.33:5060;line=k3x8f7v1"
    );
}

#[test]
fn forged_responses_with_another_branch_do_nothing() {
    let t0 = Instant::now();
    let mut b = Leg::outgoing(cfg("b"));
    b.send_invite(&invite_spec(), t0);
    let invite = drain(&mut b).0[0].clone();
    let forge = |m: &Message| {
        let text = String::from_utf8_lossy(m.as_bytes()).replace("z9hG4bKb.1", "z9hG4bKevil");
        Message::parse(text.into_bytes()).unwrap()
    };
    // A forged 200 to the INVITE (same Call-ID and CSeq, another branch).
    b.on_response(&forge(&fixtures::answer(SNOM_200, &invite)), t0);
    let (sent, ev) = drain(&mut b);
    assert!(sent.is_empty() && ev.is_empty(), "{ev:?}");
    assert_eq!(b.state(), LegState::Calling);
    // Answered for real; then a forged 481 and a forged 200 with SDP out of nowhere.
    b.on_response(&fixtures::answer(SNOM_200, &invite), t0);
    drain(&mut b);
    b.on_response(&forge(&final_response(&invite, 481, "Gone")), t0);
    let mut reinvite_ok = fixtures::answer(SNOM_200, &invite);
    reinvite_ok = Message::parse(
        String::from_utf8_lossy(reinvite_ok.as_bytes())
            .replace("z9hG4bKb.1", "z9hG4bKevil")
            .replace("CSeq: 1 INVITE", "CSeq: 7 INVITE")
            .into_bytes(),
    )
    .unwrap();
    b.on_response(&reinvite_ok, t0);
    let (sent, ev) = drain(&mut b);
    assert!(sent.is_empty() && ev.is_empty(), "{ev:?}");
    assert_eq!(b.state(), LegState::Answered);
}

/// A 407 (or 401) to the INVITE with a challenge in it.
fn challenge(invite: &Message, code: u16) -> Message {
    let (reason, header) = match code {
        407 => ("Proxy Authentication Required", "Proxy-Authenticate"),
        _ => ("Unauthorized", "WWW-Authenticate"),
    };
    fixtures::answer(
        &format!("SIP/2.0 {code} {reason}\r\nVia: {{via}}\r\nFrom: {{from}}\r\nTo: {{to}};tag=carrier1\r\nCall-ID: {{call_id}}\r\nCSeq: {{cseq}}\r\n{header}: Digest realm=\"carrier.test\", nonce=\"n0nce\", algorithm=MD5\r\nContent-Length: 0\r\n\r\n"),
        invite,
    )
}

#[test]
fn a_challenge_to_the_invite_is_answered_once_with_the_account() {
    let t0 = Instant::now();
    let mut config = cfg("t");
    config.auth = Some(("acme".into(), "secret".into()));
    let mut b = Leg::outgoing(config);
    b.send_invite(&invite_spec(), t0);
    let invite = drain(&mut b).0.remove(0);
    b.on_response(&challenge(&invite, 407), t0 + Duration::from_millis(20));
    let (sent, ev) = drain(&mut b);
    assert!(ev.is_empty(), "the leg goes on: {ev:?}");
    let ack = sent.iter().find(|m| m.method() == Some(&Method::Ack));
    assert!(ack.is_some(), "the 407 is acknowledged");
    let again = sent
        .iter()
        .find(|m| m.method() == Some(&Method::Invite))
        .expect("the INVITE again")
        .clone();
    assert_eq!(again.call_id(), invite.call_id());
    assert_eq!(again.cseq().unwrap().seq, 2);
    assert_ne!(
        again.top_via().unwrap().branch(),
        invite.top_via().unwrap().branch()
    );
    assert_eq!(
        again.header(HeaderName::From),
        invite.header(HeaderName::From)
    );
    let auth = again
        .header(HeaderName::ProxyAuthorization)
        .expect("credentials");
    assert!(auth.contains("username=\"acme\"") && auth.contains("realm=\"carrier.test\""));
    // The answer to the new INVITE is the leg's.
    let ok = fixtures::answer(SNOM_200, &again);
    b.on_response(&ok, t0 + Duration::from_millis(50));
    let (_, ev) = drain(&mut b);
    assert!(matches!(&ev[..], [LegEvent::Answered(_)]), "{ev:?}");
    // A second challenge means wrong credentials: the leg ends with it.
    let mut config = cfg("u");
    config.auth = Some(("acme".into(), "guess".into()));
    let mut b = Leg::outgoing(config);
    b.send_invite(&invite_spec(), t0);
    let invite = drain(&mut b).0.remove(0);
    b.on_response(&challenge(&invite, 401), t0);
    let again = drain(&mut b)
        .0
        .into_iter()
        .find(|m| m.method() == Some(&Method::Invite))
        .expect("the INVITE again");
    assert!(again.header(HeaderName::Authorization).is_some());
    b.on_response(&challenge(&again, 401), t0);
    let (_, ev) = drain(&mut b);
    assert!(
        matches!(&ev[..], [LegEvent::Ended(c)] if c.code == 401),
        "{ev:?}"
    );
    // Without an account a challenge ends the leg at once.
    let mut b = Leg::outgoing(cfg("v"));
    b.send_invite(&invite_spec(), t0);
    let invite = drain(&mut b).0.remove(0);
    b.on_response(&challenge(&invite, 407), t0);
    let (_, ev) = drain(&mut b);
    assert!(
        matches!(&ev[..], [LegEvent::Ended(c)] if c.code == 407),
        "{ev:?}"
    );
}
