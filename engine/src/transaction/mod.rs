//! SIP transactions (RFC 3261 §17), sans-IO: each state machine takes messages and
//! the current time, and hands back what to transmit, what to pass up to the
//! transaction user, and when it wants to be woken.

mod client_invite;
mod client_non_invite;
mod key;
mod server_invite;
mod server_non_invite;
mod server_table;

pub use client_invite::ClientInvite;
pub use client_non_invite::ClientNonInvite;
pub use key::TransactionKey;
pub use server_invite::ServerInvite;
pub use server_non_invite::ServerNonInvite;
pub use server_table::{IncomingRequest, ServerTransactions};

use bytes::Bytes;

/// A response a transaction keeps for retransmission until its timer ends (32 s for
/// a non-INVITE one over UDP): copied into a buffer of its own size, since the
/// writer's buffer it was built in is up to twice as large.
fn kept(bytes: &Bytes) -> Bytes {
    Bytes::copy_from_slice(bytes)
}

/// What a transaction asks of its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Send these bytes to the transaction's peer.
    Transmit(Bytes),
    /// A response for the transaction user (client transactions).
    Response(u16),
    /// Timer B or F fired: the peer never answered (treated as 408).
    Timeout,
    /// Timer H fired: the ACK for a final response never came.
    AckTimeout,
    /// The transaction is over and may be dropped.
    Terminated,
}

/// The states of RFC 3261 figures 5–8 (and RFC 6026's Accepted).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Calling,
    Trying,
    Proceeding,
    Accepted,
    Completed,
    Confirmed,
    Terminated,
}

#[cfg(test)]
pub(crate) mod test_util {
    use std::time::Instant;

    /// Drives a state machine's timers up to `until`, returning every event emitted.
    pub fn run_until<T>(
        t: &mut T,
        mut now: Instant,
        until: Instant,
        next: impl Fn(&T) -> Option<Instant>,
        mut fire: impl FnMut(&mut T, Instant) -> Vec<super::Event>,
    ) -> Vec<(Instant, super::Event)> {
        let mut out = Vec::new();
        while let Some(at) = next(t) {
            if at > until {
                break;
            }
            now = now.max(at);
            for e in fire(t, now) {
                out.push((now, e));
            }
        }
        out
    }
}
