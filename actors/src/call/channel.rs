//! Channels: one party's way into a call, addressed by an id rather than by its place.
//!
//! A channel is the caller's incoming leg, the legs ringing a line's devices (one of
//! which answers), or a leg moved in from elsewhere (a transfer); with it go the flows
//! its devices are reached over, the switch's media port facing the party, and the last
//! SDP the switch sent it. What a channel does in the call is its [`Role`]; moving a
//! party (transfer) is giving its channel another role and port.

use std::time::Instant;

use engine::call::{Fork, Leg, LegState, Output};
use engine::sdp::Sdp;
use engine::sip::Message;

use crate::media_relay::Port;
use crate::proto::Flow;

pub type ChannelId = u32;

/// What a channel does in its call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The party that placed the call (or whoever took its place by a transfer).
    Caller,
    /// The party the call reached: the current hop of the routing walk while it
    /// rings, the answering device after (or whoever took its place).
    Callee,
    /// The devices of a blind transfer's target, ringing.
    Target,
    /// The devices of queue agents offered a waiting caller (or of the target it
    /// goes on to), ringing.
    Agent,
    /// No longer talked through: driven until its BYE or CANCEL is done.
    Retired,
}

/// The legs of a channel.
pub enum Legs {
    /// One leg: the caller's, or one moved in by a transfer.
    One(Box<Leg>),
    /// Legs to every device of the lines rung; the first to answer wins.
    Fork(Fork),
}

pub struct Channel {
    pub id: ChannelId,
    pub role: Role,
    pub legs: Legs,
    /// The flow of each leg, in order.
    pub flows: Vec<Flow>,
    /// The line each leg reaches or comes from.
    pub lines: Vec<String>,
    /// Where the party's media meets the switch (`None`: no SDP yet).
    pub port: Option<Port>,
    /// The last SDP the switch sent the party (a party left on hold by a transferor
    /// is resumed from it).
    pub sent_sdp: Option<Sdp>,
    /// The journal's number of the channel's first leg.
    pub first_leg: u32,
}

impl Channel {
    /// The leg the party talks through: the only one, or the fork's winner.
    pub fn party_leg(&self) -> Option<usize> {
        match &self.legs {
            Legs::One(_) => Some(0),
            Legs::Fork(f) => f.winner(),
        }
    }

    pub fn leg(&self, i: usize) -> Option<&Leg> {
        match &self.legs {
            Legs::One(l) => (i == 0).then_some(l),
            Legs::Fork(f) => f.legs().get(i),
        }
    }

    /// The line of the party: the answering leg's, else the first leg's.
    pub fn user(&self) -> &str {
        let i = self.party_leg().unwrap_or(0);
        self.lines
            .get(i)
            .or(self.lines.first())
            .map_or("", String::as_str)
    }

    /// The party's leg once it has answered (or was answered, for the caller).
    pub fn answered(&self) -> Option<&Leg> {
        self.party_leg()
            .and_then(|i| self.leg(i))
            .filter(|l| l.state() == LegState::Answered)
    }

    pub fn flow(&self, i: usize) -> Option<Flow> {
        self.flows.get(i).copied()
    }

    /// Where the party's SIP comes from.
    pub fn peer(&self) -> Option<std::net::IpAddr> {
        self.party_leg()
            .and_then(|i| self.flow(i))
            .or_else(|| self.flows.first().copied())
            .map(|f| f.peer().ip())
    }

    /// Runs `f` on leg `i` (its output drained through the forking rules).
    pub fn with_leg<R>(
        &mut self,
        i: usize,
        t: Instant,
        f: impl FnOnce(&mut Leg) -> R,
    ) -> Option<R> {
        match &mut self.legs {
            Legs::One(l) => (i == 0).then(|| f(l.as_mut())),
            Legs::Fork(fork) => fork.with_leg(i, t, f),
        }
    }

    /// A request for one of the channel's legs; false when none owns it.
    pub fn on_request(&mut self, req: &Message, t: Instant) -> bool {
        match &mut self.legs {
            Legs::One(l) if l.owns_request(req) || l.call_id() == req.call_id() => {
                l.on_request(req, t);
                true
            }
            Legs::One(_) => false,
            Legs::Fork(f) => f.on_request(req, t),
        }
    }

    /// A response to one of the channel's requests; false when none sent it.
    pub fn on_response(&mut self, resp: &Message, t: Instant) -> bool {
        match &mut self.legs {
            Legs::One(l) if l.owns_response(resp) => {
                l.on_response(resp, t);
                true
            }
            Legs::One(_) => false,
            Legs::Fork(f) => f.on_response(resp, t),
        }
    }

    pub fn on_timeout(&mut self, t: Instant) {
        match &mut self.legs {
            Legs::One(l) if l.next_timeout().is_some_and(|at| at <= t) => l.on_timeout(t),
            Legs::One(_) => {}
            Legs::Fork(f) => f.on_timeout(t),
        }
    }

    pub fn next_timeout(&self) -> Option<Instant> {
        match &self.legs {
            Legs::One(l) => l.next_timeout(),
            Legs::Fork(f) => f.next_timeout(),
        }
    }

    pub fn poll_output(&mut self) -> Option<(usize, Output)> {
        match &mut self.legs {
            Legs::One(l) => l.poll_output().map(|o| (0, o)),
            Legs::Fork(f) => f.poll_output(),
        }
    }

    pub fn is_ended(&self) -> bool {
        match &self.legs {
            Legs::One(l) => l.is_ended(),
            Legs::Fork(f) => f.is_ended(),
        }
    }

    /// Ended, and no retransmission left to drive.
    pub fn is_done(&self) -> bool {
        self.is_ended() && self.next_timeout().is_none()
    }

    /// Hangs up every leg: the caller's final response or BYE, CANCEL or BYE to devices.
    pub fn hangup(&mut self, code: u16, reason: &str, t: Instant) {
        match &mut self.legs {
            Legs::One(l) => l.hangup(code, reason, t),
            Legs::Fork(f) => f.hangup(code, reason, t),
        }
    }

    /// Takes the party's answered leg and its flow out (a transfer moves them to
    /// another call); the channel keeps a detached leg in its place.
    pub fn take_party(&mut self) -> Option<(Leg, Flow)> {
        let i = self.party_leg()?;
        let flow = self.flow(i)?;
        let leg = match &mut self.legs {
            Legs::One(l) => {
                let cfg = l.config().clone();
                std::mem::replace(l.as_mut(), Leg::detached(cfg))
            }
            Legs::Fork(f) => f.take_winner()?,
        };
        Some((leg, flow))
    }

    /// Every Call-ID of the channel's legs.
    pub fn call_ids(&self) -> Vec<String> {
        let ids = match &self.legs {
            Legs::One(l) => vec![l.call_id()],
            Legs::Fork(f) => f.legs().iter().map(|l| l.call_id()).collect(),
        };
        ids.into_iter().flatten().map(str::to_owned).collect()
    }
}
