//! Non-INVITE client transaction (RFC 3261 §17.1.2, figure 6).

use std::time::{Duration, Instant};

use bytes::Bytes;

use super::{Event, State};
use crate::timer::TimerConfig;

#[derive(Debug)]
pub struct ClientNonInvite {
    state: State,
    request: Bytes,
    reliable: bool,
    cfg: TimerConfig,
    interval: Duration,
    timer_e: Option<Instant>,
    timer_f: Option<Instant>,
    timer_k: Option<Instant>,
}

impl ClientNonInvite {
    /// Starts the transaction; the first event is the request to send.
    pub fn start(
        request: Bytes,
        reliable: bool,
        now: Instant,
        cfg: TimerConfig,
    ) -> (Self, Vec<Event>) {
        let t = ClientNonInvite {
            state: State::Trying,
            request: request.clone(),
            reliable,
            cfg,
            interval: cfg.t1,
            timer_e: (!reliable).then(|| now + cfg.t1),
            timer_f: Some(now + cfg.t1 * 64),
            timer_k: None,
        };
        (t, vec![Event::Transmit(request)])
    }

    pub fn state(&self) -> State {
        self.state
    }

    pub fn next_timeout(&self) -> Option<Instant> {
        [self.timer_e, self.timer_f, self.timer_k]
            .into_iter()
            .flatten()
            .min()
    }

    pub fn on_response(&mut self, code: u16, now: Instant) -> Vec<Event> {
        match self.state {
            State::Trying | State::Proceeding if code < 200 => {
                self.state = State::Proceeding;
                vec![Event::Response(code)]
            }
            State::Trying | State::Proceeding => {
                self.state = State::Completed;
                self.timer_e = None;
                self.timer_f = None;
                if self.reliable {
                    self.state = State::Terminated;
                    vec![Event::Response(code), Event::Terminated]
                } else {
                    self.timer_k = Some(now + self.cfg.t4);
                    vec![Event::Response(code)]
                }
            }
            // Retransmitted responses are absorbed.
            _ => Vec::new(),
        }
    }

    pub fn on_timeout(&mut self, now: Instant) -> Vec<Event> {
        let mut out = Vec::new();
        if self.timer_f.is_some_and(|t| t <= now) {
            self.state = State::Terminated;
            self.timer_e = None;
            self.timer_f = None;
            return vec![Event::Timeout, Event::Terminated];
        }
        if self.timer_e.is_some_and(|t| t <= now) {
            self.interval = if self.state == State::Proceeding {
                self.cfg.t2
            } else {
                (self.interval * 2).min(self.cfg.t2)
            };
            self.timer_e = Some(now + self.interval);
            out.push(Event::Transmit(self.request.clone()));
        }
        if self.timer_k.is_some_and(|t| t <= now) {
            self.timer_k = None;
            self.state = State::Terminated;
            out.push(Event::Terminated);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::run_until;
    use super::*;

    #[test]
    fn retransmits_doubling_to_t2_then_times_out_at_64_t1() {
        let t0 = Instant::now();
        let cfg = TimerConfig::default();
        let (mut t, first) = ClientNonInvite::start(Bytes::from_static(b"REG"), false, t0, cfg);
        assert_eq!(first.len(), 1);
        let events = run_until(
            &mut t,
            t0,
            t0 + Duration::from_secs(40),
            |t| t.next_timeout(),
            |t, now| t.on_timeout(now),
        );
        let sends: Vec<u64> = events
            .iter()
            .filter(|(_, e)| matches!(e, Event::Transmit(_)))
            .map(|(at, _)| (*at - t0).as_millis() as u64)
            .collect();
        assert_eq!(&sends[..6], &[500, 1500, 3500, 7500, 11500, 15500]);
        let timeout = events.iter().find(|(_, e)| *e == Event::Timeout).unwrap();
        assert_eq!(timeout.0 - t0, Duration::from_secs(32));
        assert_eq!(t.state(), State::Terminated);
    }

    #[test]
    fn final_response_completes_and_timer_k_ends() {
        let t0 = Instant::now();
        let (mut t, _) =
            ClientNonInvite::start(Bytes::from_static(b"R"), false, t0, TimerConfig::default());
        assert_eq!(t.on_response(100, t0), vec![Event::Response(100)]);
        assert_eq!(t.on_response(200, t0), vec![Event::Response(200)]);
        assert!(t.on_response(200, t0).is_empty(), "retransmission absorbed");
        assert_eq!(t.next_timeout(), Some(t0 + Duration::from_secs(5)));
        assert_eq!(
            t.on_timeout(t0 + Duration::from_secs(5)),
            vec![Event::Terminated]
        );
    }

    #[test]
    fn reliable_transport_never_retransmits() {
        let t0 = Instant::now();
        let (mut t, _) =
            ClientNonInvite::start(Bytes::from_static(b"R"), true, t0, TimerConfig::default());
        let events = run_until(
            &mut t,
            t0,
            t0 + Duration::from_secs(40),
            |t| t.next_timeout(),
            |t, now| t.on_timeout(now),
        );
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].1, Event::Timeout);
    }
}
