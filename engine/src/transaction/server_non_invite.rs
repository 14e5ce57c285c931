//! Non-INVITE server transaction (RFC 3261 §17.2.2, figure 8).

use std::time::Instant;

use bytes::Bytes;

use super::{Event, State};
use crate::timer::TimerConfig;

#[derive(Debug)]
pub struct ServerNonInvite {
    state: State,
    reliable: bool,
    cfg: TimerConfig,
    last_response: Option<Bytes>,
    timer_j: Option<Instant>,
}

impl ServerNonInvite {
    pub fn new(reliable: bool, cfg: TimerConfig) -> Self {
        ServerNonInvite {
            state: State::Trying,
            reliable,
            cfg,
            last_response: None,
            timer_j: None,
        }
    }

    /// True once a final response was sent.
    pub fn is_answered(&self) -> bool {
        matches!(self.state, State::Completed | State::Terminated)
    }

    pub fn state(&self) -> State {
        self.state
    }

    pub fn next_timeout(&self) -> Option<Instant> {
        self.timer_j
    }

    /// A retransmission of the request arrived: resend the last response, if any.
    pub fn on_retransmission(&mut self) -> Vec<Event> {
        match self.state {
            State::Proceeding | State::Completed => self
                .last_response
                .clone()
                .map(Event::Transmit)
                .into_iter()
                .collect(),
            _ => Vec::new(),
        }
    }

    /// The transaction user answers.
    pub fn send_response(&mut self, code: u16, bytes: Bytes, now: Instant) -> Vec<Event> {
        if matches!(self.state, State::Completed | State::Terminated) {
            return Vec::new();
        }
        if code < 200 {
            self.last_response = Some(bytes.clone());
            self.state = State::Proceeding;
            return vec![Event::Transmit(bytes)];
        }
        if self.reliable {
            self.last_response = None;
            self.state = State::Terminated;
            return vec![Event::Transmit(bytes), Event::Terminated];
        }
        self.last_response = Some(super::kept(&bytes));
        self.state = State::Completed;
        self.timer_j = Some(now + self.cfg.t1 * 64);
        vec![Event::Transmit(bytes)]
    }

    pub fn on_timeout(&mut self, now: Instant) -> Vec<Event> {
        if self.timer_j.is_some_and(|t| t <= now) {
            self.timer_j = None;
            self.state = State::Terminated;
            return vec![Event::Terminated];
        }
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn absorbs_retransmissions_until_timer_j() {
        let t0 = Instant::now();
        let mut t = ServerNonInvite::new(false, TimerConfig::default());
        assert!(t.on_retransmission().is_empty(), "nothing to resend yet");
        let ok = Bytes::from_static(b"200");
        t.send_response(200, ok.clone(), t0);
        assert_eq!(t.on_retransmission(), vec![Event::Transmit(ok)]);
        assert_eq!(t.next_timeout(), Some(t0 + Duration::from_secs(32)));
        assert_eq!(
            t.on_timeout(t0 + Duration::from_secs(32)),
            vec![Event::Terminated]
        );
    }

    #[test]
    fn reliable_terminates_at_once() {
        let mut t = ServerNonInvite::new(true, TimerConfig::default());
        let ev = t.send_response(404, Bytes::from_static(b"404"), Instant::now());
        assert_eq!(ev.last(), Some(&Event::Terminated));
    }
}
