//! Anchored media: the switch's own RTP/RTCP ports between the two legs of a call.
//!
//! - [`port_pool`]: even RTP ports (RTCP + 1) from the configured range, returned on drop.
//! - [`relay`]: one tokio task per call relaying RTP and RTCP both ways, with symmetric
//!   latching, PCMU ↔ PCMA transcoding and hold; [`RelayHandle`] drives it.
//! - [`latch`]: the latching rule (sans-IO).
//! - [`anchor`]: a call's relays and the port (relay side) facing each party;
//!   splicing two ports back to back when a transfer joins two calls.
//! - `packet`: header checks and G.711 conversion, in place.

pub mod anchor;
pub mod latch;
mod packet;
pub mod port_pool;
pub mod recording;
pub mod relay;

pub use anchor::{rtp_target, Port, Relay, RelayId, Relays};
pub use latch::sdp_target_allowed;
pub use port_pool::{PortLease, PortPair, PortPool, DEFAULT_PORTS};
pub use relay::{DirectionStats, MediaRelay, RelayHandle, RelayStats, Side, Voice};

#[cfg(test)]
mod tests;
