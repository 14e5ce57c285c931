//! INVITE client transaction (RFC 3261 §17.1.1, figure 5).

use std::time::{Duration, Instant};

use bytes::Bytes;

use super::{Event, State};
use crate::sip::{HeaderName, Message, MessageWriter};
use crate::timer::TimerConfig;

#[derive(Debug)]
pub struct ClientInvite {
    state: State,
    request: Message,
    reliable: bool,
    interval: Duration,
    timer_a: Option<Instant>,
    timer_b: Option<Instant>,
    timer_d: Option<Instant>,
    ack: Option<Bytes>,
}

impl ClientInvite {
    pub fn start(
        request: Message,
        reliable: bool,
        now: Instant,
        cfg: TimerConfig,
    ) -> (Self, Vec<Event>) {
        let bytes = request.bytes().clone();
        let t = ClientInvite {
            state: State::Calling,
            request,
            reliable,
            interval: cfg.t1,
            timer_a: (!reliable).then(|| now + cfg.t1),
            timer_b: Some(now + cfg.t1 * 64),
            timer_d: None,
            ack: None,
        };
        (t, vec![Event::Transmit(bytes)])
    }

    pub fn state(&self) -> State {
        self.state
    }

    pub fn next_timeout(&self) -> Option<Instant> {
        [self.timer_a, self.timer_b, self.timer_d]
            .into_iter()
            .flatten()
            .min()
    }

    /// Feeds a response; for 300–699 the ACK is generated here (§17.1.1.3).
    pub fn on_response(&mut self, resp: &Message, now: Instant) -> Vec<Event> {
        let Some(code) = resp.code() else {
            return Vec::new();
        };
        match self.state {
            State::Calling | State::Proceeding => {
                self.timer_a = None;
                if code < 200 {
                    self.state = State::Proceeding;
                    vec![Event::Response(code)]
                } else if code < 300 {
                    // The TU acknowledges 2xx itself, end to end.
                    self.state = State::Terminated;
                    self.timer_b = None;
                    vec![Event::Response(code), Event::Terminated]
                } else {
                    self.timer_b = None;
                    let ack = Bytes::from(ack_for(&self.request, resp));
                    self.ack = Some(ack.clone());
                    if self.reliable {
                        self.state = State::Terminated;
                        vec![
                            Event::Transmit(ack),
                            Event::Response(code),
                            Event::Terminated,
                        ]
                    } else {
                        self.state = State::Completed;
                        self.timer_d = Some(now + Duration::from_secs(32));
                        vec![Event::Transmit(ack), Event::Response(code)]
                    }
                }
            }
            State::Completed if code >= 300 => {
                self.ack.clone().map(Event::Transmit).into_iter().collect()
            }
            _ => Vec::new(),
        }
    }

    pub fn on_timeout(&mut self, now: Instant) -> Vec<Event> {
        if self.timer_b.is_some_and(|t| t <= now) {
            self.state = State::Terminated;
            self.timer_a = None;
            self.timer_b = None;
            return vec![Event::Timeout, Event::Terminated];
        }
        if self.timer_d.is_some_and(|t| t <= now) {
            self.timer_d = None;
            self.state = State::Terminated;
            return vec![Event::Terminated];
        }
        if self.timer_a.is_some_and(|t| t <= now) {
            self.interval *= 2;
            self.timer_a = Some(now + self.interval);
            return vec![Event::Transmit(self.request.bytes().clone())];
        }
        Vec::new()
    }
}

/// The ACK for a non-2xx final response: same Request-URI, top Via, From, Call-ID and
/// CSeq number as the INVITE, To from the response, Route copied (§17.1.1.3).
pub fn ack_for(invite: &Message, resp: &Message) -> Vec<u8> {
    let uri = invite.uri_str().unwrap_or("sip:invalid");
    let mut w = MessageWriter::request("ACK", uri);
    if let Some(v) = invite.header(HeaderName::Via) {
        w.header("Via", v);
    }
    w.header("Max-Forwards", "70");
    for (name, value) in [
        (HeaderName::From, invite.header(HeaderName::From)),
        (HeaderName::To, resp.header(HeaderName::To)),
        (HeaderName::CallId, invite.call_id()),
    ] {
        if let Some(v) = value {
            w.header(name.as_str(), v);
        }
    }
    let seq = invite.cseq().map(|c| c.seq).unwrap_or(0);
    w.header_fmt("CSeq", format_args!("{seq} ACK"));
    for r in invite.values(HeaderName::Route) {
        w.header("Route", r);
    }
    w.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    const INVITE: &[u8] = b"INVITE sip:b@h SIP/2.0\r\nVia: SIP/2.0/UDP 1.2.3.4;branch=z9hG4bKa\r\nFrom: <sip:a@h>;tag=1\r\nTo: <sip:b@h>\r\nCall-ID: c\r\nCSeq: 7 INVITE\r\nl: 0\r\n\r\n";

    fn resp(code: u16) -> Message {
        Message::parse(format!("SIP/2.0 {code} X\r\nVia: SIP/2.0/UDP 1.2.3.4;branch=z9hG4bKa\r\nFrom: <sip:a@h>;tag=1\r\nTo: <sip:b@h>;tag=2\r\nCall-ID: c\r\nCSeq: 7 INVITE\r\nl: 0\r\n\r\n").into_bytes()).unwrap()
    }

    #[test]
    fn timer_a_doubles_without_cap_and_b_times_out() {
        let t0 = Instant::now();
        let (mut t, _) = ClientInvite::start(
            Message::parse(INVITE).unwrap(),
            false,
            t0,
            TimerConfig::default(),
        );
        let mut sends = Vec::new();
        while let Some(now) = t.next_timeout() {
            for e in t.on_timeout(now) {
                if matches!(e, Event::Transmit(_)) {
                    sends.push((now - t0).as_millis());
                }
                if e == Event::Timeout {
                    assert_eq!(now - t0, Duration::from_secs(32));
                }
            }
        }
        assert_eq!(sends, vec![500, 1500, 3500, 7500, 15500, 31500]);
        assert_eq!(t.state(), State::Terminated);
    }

    #[test]
    fn non_2xx_is_acked_and_retransmissions_reacked() {
        let t0 = Instant::now();
        let (mut t, _) = ClientInvite::start(
            Message::parse(INVITE).unwrap(),
            false,
            t0,
            TimerConfig::default(),
        );
        assert_eq!(t.on_response(&resp(180), t0), vec![Event::Response(180)]);
        let ev = t.on_response(&resp(486), t0);
        let Event::Transmit(ack) = &ev[0] else {
            panic!()
        };
        let ack = Message::parse(ack.clone()).unwrap();
        assert_eq!(ack.cseq().unwrap().method, "ACK");
        assert_eq!(ack.to().unwrap().tag(), Some("2"));
        assert_eq!(ack.top_via().unwrap().branch(), Some("z9hG4bKa"));
        assert_eq!(t.state(), State::Completed);
        assert!(matches!(
            t.on_response(&resp(486), t0)[..],
            [Event::Transmit(_)]
        ));
        assert_eq!(
            t.on_timeout(t0 + Duration::from_secs(32)),
            vec![Event::Terminated]
        );
    }

    #[test]
    fn two_hundred_terminates_for_the_tu() {
        let t0 = Instant::now();
        let (mut t, _) = ClientInvite::start(
            Message::parse(INVITE).unwrap(),
            true,
            t0,
            TimerConfig::default(),
        );
        assert_eq!(
            t.on_response(&resp(200), t0),
            vec![Event::Response(200), Event::Terminated]
        );
    }
}
