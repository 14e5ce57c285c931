//! SIP over sockets: the transport actor with its UDP, TCP and TLS tasks, the replies they
//! carry back, and the dispatcher that hands requests to tenants and lines.

pub mod capture;
pub mod dispatch;
pub mod edges;
pub mod malformed;
pub mod out;
pub mod tcp;
pub mod tls;
pub mod transport;
pub mod udp;
pub mod via_stamp;

pub use dispatch::Dispatcher;
pub use edges::Edges;
pub use out::SipOut;
pub use transport::{Transport, TransportArgs};
pub use udp::{CallCapacity, Shedding, DEFAULT_MAX_DELAY, DEFAULT_MAX_WAITING};
