//! Reliable provisional responses (RFC 3262) and session timers (RFC 4028) of a leg,
//! driven by virtual time.

use std::time::{Duration, Instant};

use super::tests::{cfg, drain, invite_spec, summary, trying};
use super::*;
use crate::fixtures::{self, parse, SNOM_200, YEALINK_INVITE};
use crate::sdp::Sdp;
use crate::sip::{HeaderName, Message, Method};

const T1: Duration = Duration::from_millis(500);

/// The Yealink INVITE with `extra` header lines (each ending in CRLF).
fn invite_with(extra: &str) -> Message {
    parse(&YEALINK_INVITE.replacen(
        "Supported: replaces\r\n",
        &format!("Supported: replaces\r\n{extra}"),
        1,
    ))
}

/// An in-dialog request from the Yealink caller to the switch (To tag `sw-b`).
fn from_caller(method: &str, seq: u32, extra: &str) -> Message {
    parse(&format!("{method} sip:pbx@203.0.113.5:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 192.168.1.21:5062;branch=z9hG4bK{method}{seq}\r\nFrom: \"Desk 100\" <sip:100@pbx.example.com>;tag=2763148580\r\nTo: <sip:200@pbx.example.com>;tag=sw-b\r\nCall-ID: 0_3418497393@192.168.1.21\r\nCSeq: {seq} {method}\r\nContact: <sip:100@192.168.1.21:5062>\r\n{extra}Content-Length: 0\r\n\r\n"))
}

fn ok_to(req: &Message) -> Message {
    fixtures::answer("SIP/2.0 200 OK\r\nVia: {via}\r\nFrom: {from}\r\nTo: {to}\r\nCall-ID: {call_id}\r\nCSeq: {cseq}\r\nContact: <sip:100@192.168.1.21:5062>\r\nContent-Length: 0\r\n\r\n", req)
}

fn sdp() -> Sdp {
    Sdp::parse(b"v=0\r\no=pbx 1 1 IN IP4 203.0.113.5\r\ns=-\r\nc=IN IP4 203.0.113.5\r\nt=0 0\r\nm=audio 20000 RTP/AVP 0\r\n").unwrap()
}

#[test]
fn reliable_18x_is_resent_until_its_prack_and_the_2xx_waits_for_it() {
    let t0 = Instant::now();
    let invite = invite_with("Require: 100rel\r\n");
    let mut a = Leg::incoming(cfg("a"), &invite, "sw-b").unwrap();
    drain(&mut a);
    a.ring_at(None, t0);
    let (sent, _) = drain(&mut a);
    assert_eq!(summary(&sent[0]), "180 INVITE");
    assert_eq!(sent[0].header(HeaderName::Require), Some("100rel"));
    assert_eq!(sent[0].header(HeaderName::Rseq), Some("1"));
    // T1, then 2*T1 later: the same 180 again.
    assert_eq!(a.next_timeout(), Some(t0 + T1));
    a.on_timeout(t0 + T1);
    assert_eq!(drain(&mut a).0[0].bytes(), sent[0].bytes());
    assert_eq!(a.next_timeout(), Some(t0 + 3 * T1));
    // Early media behind it waits for the PRACK.
    a.ring_at(Some(&sdp()), t0 + 2 * T1);
    assert!(drain(&mut a).0.is_empty());
    let prack = from_caller("PRACK", 3, "RAck: 1 2 INVITE\r\n");
    a.on_request(&prack, t0 + 2 * T1);
    let (sent, ev) = drain(&mut a);
    assert!(ev.is_empty(), "PRACK is the leg's own: {ev:?}");
    assert_eq!(summary(&sent[0]), "200 PRACK");
    assert_eq!(summary(&sent[1]), "183 INVITE");
    assert_eq!(sent[1].header(HeaderName::Rseq), Some("2"));
    // A PRACK for an RSeq not waiting: 481.
    a.on_request(
        &from_caller("PRACK", 4, "RAck: 7 2 INVITE\r\n"),
        t0 + 2 * T1,
    );
    assert_eq!(summary(&drain(&mut a).0[0]), "481 PRACK");
    // The 183 carried SDP: the 200 waits for its PRACK (RFC 3262 §3).
    a.answer(Some(&sdp()), t0 + 3 * T1);
    assert!(drain(&mut a).0.is_empty());
    assert_eq!(a.state(), LegState::Ringing);
    a.on_request(
        &from_caller("PRACK", 5, "RAck: 2 2 INVITE\r\n"),
        t0 + 4 * T1,
    );
    let (sent, _) = drain(&mut a);
    assert_eq!(summary(&sent[0]), "200 PRACK");
    assert_eq!(summary(&sent[1]), "200 INVITE");
    assert_eq!(a.state(), LegState::Answered);
    assert!(only_session_timers_left(&a));
}

fn only_session_timers_left(leg: &Leg) -> bool {
    let due = leg.next_timeout().unwrap();
    // Retransmitting the 2xx (AckWait) aside, nothing before the session's refresh.
    due <= leg.timers.get(&crate::timer::Timer::SessionExpiry).unwrap()
        && leg
            .timers
            .get(&crate::timer::Timer::ReliableProvisional)
            .is_none()
}

#[test]
fn reliable_18x_never_pracked_gets_500_after_64_t1() {
    let t0 = Instant::now();
    let mut a = Leg::incoming(cfg("a"), &invite_with("Require: 100rel\r\n"), "sw-b").unwrap();
    drain(&mut a);
    a.ring_at(None, t0);
    drain(&mut a);
    let mut resent = 0;
    while let Some(at) = a.next_timeout() {
        a.on_timeout(at);
        let (sent, ev) = drain(&mut a);
        if let Some(LegEvent::Ended(c)) = ev.first() {
            assert_eq!(summary(&sent[0]), "500 INVITE");
            assert_eq!(c.code, 500);
            assert_eq!(at, t0 + 64 * T1);
            break;
        }
        resent += sent.len();
    }
    // T1, 2, 4, 8, 16 T1 … up to 64*T1: 6 copies.
    assert_eq!(resent, 6);
    assert!(a.is_ended());
}

#[test]
fn unreliable_18x_without_require() {
    let t0 = Instant::now();
    let mut a = Leg::incoming(cfg("a"), &invite_with("Supported: 100rel\r\n"), "sw-b").unwrap();
    drain(&mut a);
    a.ring_at(None, t0);
    let (sent, _) = drain(&mut a);
    assert_eq!(sent[0].header(HeaderName::Rseq), None);
    assert_eq!(a.next_timeout(), None);
}

#[test]
fn outgoing_leg_pracks_reliable_18x_once_each_in_order() {
    let t0 = Instant::now();
    let mut b = Leg::outgoing(cfg("b"));
    b.send_invite(&invite_spec(), t0);
    let invite = drain(&mut b).0.remove(0);
    b.on_response(&trying(&invite), t0);
    let reliable = |rseq: u32| {
        fixtures::answer(&format!("SIP/2.0 180 Ringing\r\nVia: {{via}}\r\nFrom: {{from}}\r\nTo: {{to}};tag=kqd4nqmz3w\r\nCall-ID: {{call_id}}\r\nCSeq: {{cseq}}\r\nContact: <sip:200@192.168.1.33:5060>\r\nRequire: 100rel\r\nRSeq: {rseq}\r\nContent-Length: 0\r\n\r\n"), &invite)
    };
    b.on_response(&reliable(5), t0 + T1);
    let (sent, ev) = drain(&mut b);
    assert!(matches!(&ev[..], [LegEvent::Ringing]));
    let prack = sent[0].clone();
    assert_eq!(summary(&prack), "PRACK sip:200@192.168.1.33:5060");
    assert_eq!(prack.header(HeaderName::Rack), Some("5 1 INVITE"));
    assert_eq!(prack.cseq().unwrap().seq, 2);
    assert_eq!(prack.to().unwrap().tag(), Some("kqd4nqmz3w"));
    // The same 180 again (our PRACK crossed it): no second PRACK, nothing reported.
    b.on_response(&reliable(5), t0 + 2 * T1);
    let (sent, ev) = drain(&mut b);
    assert!(sent.is_empty() && ev.is_empty(), "{sent:?} {ev:?}");
    // Out of order: ignored.
    b.on_response(&reliable(9), t0 + 2 * T1);
    assert!(drain(&mut b).0.is_empty());
    // The PRACK's 200 is the leg's own business.
    b.on_response(&ok_to(&prack), t0 + 3 * T1);
    let (_, ev) = drain(&mut b);
    assert!(ev.is_empty(), "{ev:?}");
    b.on_response(&reliable(6), t0 + 4 * T1);
    assert_eq!(
        drain(&mut b).0[0].header(HeaderName::Rack),
        Some("6 1 INVITE")
    );
}

#[test]
fn session_interval_below_min_se_gets_422() {
    let small = invite_with("Session-Expires: 60\r\n");
    let resp = parse(std::str::from_utf8(&interval_too_small(&small, MIN_SE).unwrap()).unwrap());
    assert_eq!(resp.code(), Some(422));
    assert_eq!(resp.header(HeaderName::MinSe), Some("90"));
    assert!(interval_too_small(&invite_with("Session-Expires: 90\r\n"), MIN_SE).is_none());
    assert!(interval_too_small(&invite_with(""), MIN_SE).is_none());
}

#[test]
fn switch_refreshes_at_half_the_interval_when_it_is_the_refresher() {
    let t0 = Instant::now();
    let invite = invite_with("Supported: timer\r\nSession-Expires: 120;refresher=uas\r\n");
    let mut a = Leg::incoming(cfg("a"), &invite, "sw-b").unwrap();
    drain(&mut a);
    a.answer(Some(&sdp()), t0);
    let ok = drain(&mut a).0.remove(0);
    assert_eq!(summary(&ok), "200 INVITE");
    assert_eq!(
        ok.header(HeaderName::SessionExpires),
        Some("120;refresher=uas")
    );
    assert_eq!(ok.header(HeaderName::Require), Some("timer"));
    a.on_request(&from_caller("ACK", 2, ""), t0);
    assert_eq!(a.next_timeout(), Some(t0 + Duration::from_secs(60)));
    a.on_timeout(t0 + Duration::from_secs(60));
    let (sent, _) = drain(&mut a);
    let update = sent[0].clone();
    // The caller allows UPDATE: a refresh without a body.
    assert_eq!(summary(&update), "UPDATE sip:100@192.168.1.21:5062");
    assert_eq!(
        update.header(HeaderName::SessionExpires),
        Some("120;refresher=uac")
    );
    assert!(update.body().is_empty());
    let mut ok = ok_to(&update).bytes().to_vec();
    let at = ok.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    ok.splice(at..at, *b"\r\nSession-Expires: 120;refresher=uac");
    let (_, ev) = {
        a.on_response(&Message::parse(ok).unwrap(), t0 + Duration::from_secs(61));
        drain(&mut a)
    };
    assert!(ev.is_empty(), "the refresh is the leg's own: {ev:?}");
    // The next refresh half an interval after the last one.
    assert_eq!(a.next_timeout(), Some(t0 + Duration::from_secs(121)));
    assert_eq!(a.state(), LegState::Answered);
}

#[test]
fn session_nobody_refreshes_ends_with_bye_session_expired() {
    let t0 = Instant::now();
    // The caller supports timers and is the refresher; it never refreshes.
    let invite = invite_with("Supported: timer\r\nSession-Expires: 90\r\n");
    let mut a = Leg::incoming(cfg("a"), &invite, "sw-b").unwrap();
    drain(&mut a);
    a.answer(Some(&sdp()), t0);
    let ok = drain(&mut a).0.remove(0);
    assert_eq!(
        ok.header(HeaderName::SessionExpires),
        Some("90;refresher=uac")
    );
    a.on_request(&from_caller("ACK", 2, ""), t0);
    // A refresh by the caller (relayed, answered 200) moves the expiry.
    let update = from_caller("UPDATE", 3, "Session-Expires: 90;refresher=uac\r\n");
    a.on_request(&update, t0 + Duration::from_secs(40));
    let (_, ev) = drain(&mut a);
    assert!(matches!(&ev[..], [LegEvent::Request(_)]));
    a.respond(&update, 200, "OK", None, t0 + Duration::from_secs(40));
    let resp = drain(&mut a).0.remove(0);
    assert_eq!(
        resp.header(HeaderName::SessionExpires),
        Some("90;refresher=uac")
    );
    // Then nothing: BYE at 90 - 30 s after the refresh, none before.
    let expiry = t0 + Duration::from_secs(40 + 60);
    assert_eq!(a.next_timeout(), Some(expiry));
    a.on_timeout(expiry);
    let (sent, _) = drain(&mut a);
    let bye = sent[0].clone();
    assert_eq!(summary(&bye), "BYE sip:100@192.168.1.21:5062");
    a.on_response(&ok_to(&bye), expiry + T1);
    let (_, ev) = drain(&mut a);
    let [LegEvent::Ended(c)] = &ev[..] else {
        panic!("{ev:?}")
    };
    assert_eq!(
        (c.code, c.reason.as_str(), c.side),
        (408, "Session Expired", Side::Local)
    );
}

#[test]
fn callee_without_session_timer_is_refreshed_by_the_switch() {
    let t0 = Instant::now();
    let mut b = Leg::outgoing(cfg("b"));
    let mut spec = invite_spec();
    spec.headers.push(("Session-Expires".into(), "1800".into()));
    b.send_invite(&spec, t0);
    let invite = drain(&mut b).0.remove(0);
    // The 2xx names no Session-Expires: the switch (UAC) refreshes (RFC 4028 §7.2).
    b.on_response(&fixtures::answer(SNOM_200, &invite), t0);
    drain(&mut b);
    assert_eq!(b.next_timeout(), Some(t0 + Duration::from_secs(900)));
    b.on_timeout(t0 + Duration::from_secs(900));
    let update = drain(&mut b).0.remove(0);
    assert_eq!(update.method(), Some(&Method::Update));
    assert_eq!(
        update.header(HeaderName::SessionExpires),
        Some("1800;refresher=uac")
    );
}

#[test]
fn refresh_below_min_se_gets_422_and_the_session_goes_on() {
    let t0 = Instant::now();
    let invite = invite_with("Supported: timer\r\nSession-Expires: 90\r\n");
    let mut a = Leg::incoming(cfg("a"), &invite, "sw-b").unwrap();
    drain(&mut a);
    a.answer(Some(&sdp()), t0);
    drain(&mut a);
    a.on_request(&from_caller("ACK", 2, ""), t0);
    let expiry = a.next_timeout();
    a.on_request(
        &from_caller("UPDATE", 3, "Session-Expires: 30\r\n"),
        t0 + Duration::from_secs(10),
    );
    let (sent, ev) = drain(&mut a);
    assert!(ev.is_empty());
    assert_eq!(summary(&sent[0]), "422 UPDATE");
    assert_eq!(sent[0].header(HeaderName::MinSe), Some("90"));
    assert_eq!(a.next_timeout(), expiry);
}
