//! Anchored media: the switch's own RTP/RTCP ports between the two legs of a call.
//!
//! - [`port_pool`]: even RTP ports (RTCP + 1) from the configured range, returned on drop.
//! - [`relay`]: one call's relay of RTP and RTCP both ways, with symmetric latching,
//!   transcoding, hold, played sources, key detection and recording taps;
//!   [`RelayHandle`] (`handle.rs`) drives it from the call.
//! - `worker`: the few RTP worker threads (one per core) that own every relay's
//!   sockets and feed each relay its datagrams (level-triggered epoll).
//! - `continuity`: the stream a leg hears kept continuous across sources.
//! - `reports`: the switch's own RTCP towards a leg hearing a stream the switch makes
//!   (transcoded or played).
//! - [`latch`]: the latching rule (sans-IO).
//! - [`anchor`]: a call's relays and the port (relay side) facing each party;
//!   splicing two ports back to back when a transfer joins two calls.
//! - `packet`: header checks and G.711 conversion, in place.

pub mod anchor;
mod continuity;
mod handle;
pub mod latch;
mod packet;
pub mod port_pool;
pub mod recording;
pub mod relay;
mod reports;
mod worker;

pub use anchor::{keys_of, rtp_target, Port, Relay, RelayId, Relays, SrtpOffer};

/// Every relay's RTP packets since the process started: relayed, and dropped (from
/// a source that is not the party's, towards a held party, cut or malformed). Each
/// relay adds what it counted since it last did after a batch of packets, so the
/// packet path itself touches only its own counters.
pub struct Totals {
    pub relayed: std::sync::atomic::AtomicU64,
    pub dropped: std::sync::atomic::AtomicU64,
    /// Missing by the senders' sequence numbers (lost before the switch).
    pub lost: std::sync::atomic::AtomicU64,
}

pub static TOTALS: Totals = Totals {
    relayed: std::sync::atomic::AtomicU64::new(0),
    dropped: std::sync::atomic::AtomicU64::new(0),
    lost: std::sync::atomic::AtomicU64::new(0),
};
pub use handle::RelayHandle;
pub use latch::sdp_target_allowed;
pub use port_pool::{PortLease, PortPair, PortPool, DEFAULT_PORTS};
pub use relay::{DirectionStats, MediaEvent, MediaRelay, RelayStats, Side, SrtpKeys, Voice};

#[cfg(test)]
mod bench;
#[cfg(test)]
mod tests;
