//! INVITE server transaction (RFC 3261 §17.2.1, figure 7, with RFC 6026's Accepted).

use std::time::{Duration, Instant};

use bytes::Bytes;

use super::{Event, State};
use crate::timer::TimerConfig;

#[derive(Debug)]
pub struct ServerInvite {
    state: State,
    reliable: bool,
    cfg: TimerConfig,
    last_response: Option<Bytes>,
    /// A provisional response went out: the client stopped retransmitting, so a final
    /// one must be retransmitted (Timer G). Without one, the client's retransmissions
    /// fetch the final response again, and the switch never resends on its own to an
    /// address nobody has shown to be real (no reflection of spoofed INVITEs).
    provisional_sent: bool,
    interval: Duration,
    timer_g: Option<Instant>,
    timer_h: Option<Instant>,
    timer_i: Option<Instant>,
    timer_l: Option<Instant>,
}

impl ServerInvite {
    pub fn new(reliable: bool, cfg: TimerConfig) -> Self {
        ServerInvite {
            state: State::Proceeding,
            reliable,
            cfg,
            last_response: None,
            provisional_sent: false,
            interval: cfg.t1,
            timer_g: None,
            timer_h: None,
            timer_i: None,
            timer_l: None,
        }
    }

    /// True once a provisional response was sent.
    pub fn sent_provisional(&self) -> bool {
        self.provisional_sent
    }

    /// True once a final response was sent.
    pub fn is_answered(&self) -> bool {
        self.state != State::Proceeding
    }

    pub fn state(&self) -> State {
        self.state
    }

    pub fn next_timeout(&self) -> Option<Instant> {
        [self.timer_g, self.timer_h, self.timer_i, self.timer_l]
            .into_iter()
            .flatten()
            .min()
    }

    /// A retransmitted INVITE: resend the last provisional or final response.
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

    /// An ACK matched this transaction (only a non-2xx ACK does; a 2xx ACK is a new
    /// transaction for the dialog).
    pub fn on_ack(&mut self, now: Instant) -> Vec<Event> {
        if self.state != State::Completed {
            return Vec::new();
        }
        self.timer_g = None;
        self.timer_h = None;
        if self.reliable {
            self.state = State::Terminated;
            return vec![Event::Terminated];
        }
        self.state = State::Confirmed;
        self.timer_i = Some(now + self.cfg.t4);
        Vec::new()
    }

    pub fn send_response(&mut self, code: u16, bytes: Bytes, now: Instant) -> Vec<Event> {
        if self.state != State::Proceeding {
            return Vec::new();
        }
        self.last_response = Some(if code >= 300 && !self.reliable {
            // Resent until its ACK comes (up to 32 s).
            super::kept(&bytes)
        } else {
            bytes.clone()
        });
        match code {
            100..=199 => {
                self.provisional_sent = true;
                vec![Event::Transmit(bytes)]
            }
            200..=299 => {
                self.state = State::Accepted;
                self.timer_l = Some(now + self.cfg.t1 * 64);
                vec![Event::Transmit(bytes)]
            }
            _ => {
                self.state = State::Completed;
                if !self.reliable && self.provisional_sent {
                    self.timer_g = Some(now + self.interval);
                }
                self.timer_h = Some(now + self.cfg.t1 * 64);
                vec![Event::Transmit(bytes)]
            }
        }
    }

    pub fn on_timeout(&mut self, now: Instant) -> Vec<Event> {
        let due = |t: Option<Instant>| t.is_some_and(|t| t <= now);
        if due(self.timer_h) {
            self.timer_g = None;
            self.timer_h = None;
            self.state = State::Terminated;
            return vec![Event::AckTimeout, Event::Terminated];
        }
        if due(self.timer_i) || due(self.timer_l) {
            self.timer_i = None;
            self.timer_l = None;
            self.state = State::Terminated;
            return vec![Event::Terminated];
        }
        if due(self.timer_g) {
            self.interval = (self.interval * 2).min(self.cfg.t2);
            self.timer_g = Some(now + self.interval);
            return self
                .last_response
                .clone()
                .map(Event::Transmit)
                .into_iter()
                .collect();
        }
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timer_g_retransmits_until_h() {
        let t0 = Instant::now();
        let mut t = ServerInvite::new(false, TimerConfig::default());
        t.send_response(180, Bytes::from_static(b"180"), t0);
        assert_eq!(
            t.on_retransmission(),
            vec![Event::Transmit(Bytes::from_static(b"180"))]
        );
        t.send_response(486, Bytes::from_static(b"486"), t0);
        let mut sends = Vec::new();
        let mut ended = None;
        while let Some(at) = t.next_timeout() {
            for e in t.on_timeout(at) {
                match e {
                    Event::Transmit(_) => sends.push((at - t0).as_millis()),
                    Event::AckTimeout => ended = Some(at - t0),
                    _ => {}
                }
            }
        }
        assert_eq!(&sends[..5], &[500, 1500, 3500, 7500, 11500]);
        assert_eq!(ended, Some(Duration::from_secs(32)));
    }

    #[test]
    fn ack_confirms_then_timer_i_terminates() {
        let t0 = Instant::now();
        let mut t = ServerInvite::new(false, TimerConfig::default());
        t.send_response(603, Bytes::from_static(b"603"), t0);
        assert!(t.on_ack(t0).is_empty());
        assert_eq!(t.state(), State::Confirmed);
        assert!(
            t.on_retransmission().is_empty(),
            "INVITE absorbed in Confirmed"
        );
        assert_eq!(
            t.on_timeout(t0 + Duration::from_secs(5)),
            vec![Event::Terminated]
        );
    }

    #[test]
    fn two_hundred_goes_accepted_and_timer_l_ends() {
        let t0 = Instant::now();
        let mut t = ServerInvite::new(false, TimerConfig::default());
        t.send_response(200, Bytes::from_static(b"200"), t0);
        assert_eq!(t.state(), State::Accepted);
        assert!(
            t.on_retransmission().is_empty(),
            "the TU retransmits 2xx itself"
        );
        assert_eq!(
            t.on_timeout(t0 + Duration::from_secs(32)),
            vec![Event::Terminated]
        );
    }
}
