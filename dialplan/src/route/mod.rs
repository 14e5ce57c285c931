//! Routing tables: outbound routes and trunks, least-cost routing, inbound DDI, and the
//! prefix table they are indexed with.

pub mod inbound;
pub mod lcr;
pub mod outbound;
pub mod prefix;
