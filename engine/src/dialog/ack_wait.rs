//! The UAS side of a 2xx to an INVITE (RFC 3261 §13.3.1.4): the transaction layer
//! does not retransmit 2xx, so the dialog does, from T1 doubling up to T2, until the
//! ACK comes; after 64*T1 without ACK the dialog is ended with a BYE.

use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::timer::{Timer, TimerConfig, TimerTable};

/// What the wait asks for when a timer fires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AckWaitOutput {
    /// Send the 2xx again.
    Retransmit(Bytes),
    /// No ACK came: confirm the dialog anyway and send BYE (§13.3.1.4).
    GiveUp,
}

/// Retransmits one 2xx until its ACK arrives.
#[derive(Debug)]
pub struct AckWait {
    response: Bytes,
    invite_seq: u32,
    interval: Duration,
    cfg: TimerConfig,
    timers: TimerTable<Timer>,
}

impl AckWait {
    /// Starts waiting after `response` (the 2xx, already sent once) was sent at `now`.
    pub fn new(response: Bytes, invite_seq: u32, now: Instant, cfg: TimerConfig) -> AckWait {
        let mut timers = TimerTable::default();
        timers.set(Timer::Retransmit2xx, now + cfg.t1);
        timers.set(Timer::AckWait, now + cfg.t1 * 64);
        AckWait {
            response,
            invite_seq,
            interval: cfg.t1,
            cfg,
            timers,
        }
    }

    /// An ACK arrived; true (and the wait is over) when it acknowledges our 2xx.
    pub fn on_ack(&mut self, cseq: u32) -> bool {
        if cseq != self.invite_seq {
            return false;
        }
        self.timers = TimerTable::default();
        true
    }

    /// The INVITE retransmitted: send the 2xx again (without moving the timers).
    pub fn on_invite_retransmission(&self) -> Option<Bytes> {
        (!self.is_done()).then(|| self.response.clone())
    }

    pub fn is_done(&self) -> bool {
        self.timers.is_empty()
    }

    pub fn next_timeout(&self) -> Option<Instant> {
        self.timers.next_timeout()
    }

    pub fn on_timeout(&mut self, now: Instant) -> Option<AckWaitOutput> {
        match self.timers.pop_expired(now)? {
            Timer::AckWait => {
                self.timers = TimerTable::default();
                Some(AckWaitOutput::GiveUp)
            }
            _ => {
                self.interval = (self.interval * 2).min(self.cfg.t2);
                self.timers.set(Timer::Retransmit2xx, now + self.interval);
                Some(AckWaitOutput::Retransmit(self.response.clone()))
            }
        }
    }
}
