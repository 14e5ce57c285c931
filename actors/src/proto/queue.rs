//! A call queue's protocol: what calls tell their queue (`QueueMsg`) and what the
//! queue tells a waiting call (`QueueEvent`, inside `CallMsg::Queue`).

use std::time::Duration;

use ractor::{ActorId, ActorRef};

use super::CallMsg;

pub enum QueueMsg {
    /// A call asks to wait (its caller not answered yet): `Admitted` or `Full`.
    Join {
        call: ActorRef<CallMsg>,
        caller: String,
    },
    /// A call that waited in (or was served by) this queue's previous actor, which
    /// failed: it takes its place again by its priority and how long it has waited,
    /// with the agents still ringing for it, or its agent busy with it.
    Rejoin {
        call: ActorRef<CallMsg>,
        caller: String,
        since: std::time::Instant,
        ringing: Vec<String>,
        agent: Option<String>,
    },
    /// Where the call is in the line now: `Position`.
    Position { call: ActorId },
    /// The offer to these agents ended unanswered: those that let it ring out (or
    /// turned it down), and those the switch could not ring (busy elsewhere, do not
    /// disturb, no device).
    OfferEnded {
        call: ActorId,
        no_answer: Vec<String>,
        unreachable: Vec<String>,
    },
    /// Agent `agent` answered the call.
    Connected { call: ActorId, agent: String },
    /// The call left: its caller hung up, left by key or overflowed, or the call
    /// with its agent ended (the agent's wrap-up starts).
    Gone { call: ActorId },
    /// A wrap-up or a pause after an unreachable offer may be over.
    Wake,
    /// The tenant's plan, logins or line features may have changed.
    ViewChanged,
    /// Test builds: the queue's actor panics, to exercise its supervisor.
    #[cfg(feature = "test-hooks")]
    Panic,
}

impl std::fmt::Debug for QueueMsg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            QueueMsg::Join { caller, .. } => write!(f, "Join({caller})"),
            QueueMsg::Rejoin { caller, .. } => write!(f, "Rejoin({caller})"),
            QueueMsg::Position { .. } => f.write_str("Position"),
            QueueMsg::OfferEnded { no_answer, .. } => write!(f, "OfferEnded({no_answer:?})"),
            QueueMsg::Connected { agent, .. } => write!(f, "Connected({agent})"),
            QueueMsg::Gone { .. } => f.write_str("Gone"),
            QueueMsg::Wake => f.write_str("Wake"),
            QueueMsg::ViewChanged => f.write_str("ViewChanged"),
            #[cfg(feature = "test-hooks")]
            QueueMsg::Panic => f.write_str("Panic"),
        }
    }
}

/// What a waiting caller is subject to, as the queue's settings say.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WaitRules {
    /// After this long waiting, the caller goes to `overflow`.
    pub max_wait: Option<Duration>,
    pub overflow: Option<String>,
    /// How often the caller hears its position.
    pub announce_every: Option<Duration>,
    /// The key that takes the caller to `exit_target`.
    pub exit_key: Option<char>,
    pub exit_target: Option<String>,
}

#[derive(Debug)]
pub enum QueueEvent {
    /// The call waits, at this position (1 = next), under these rules.
    Admitted { position: usize, rules: WaitRules },
    /// The queue is full (or gone from the plan): the call goes on to its overflow.
    Full,
    /// Ring these agents for at most `ring`.
    Offer { agents: Vec<String>, ring: Duration },
    /// The call's position now.
    Position(usize),
}
