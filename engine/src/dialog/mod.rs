//! Dialogs (RFC 3261 §12–14), sans-IO: the state both sides keep, the requests built
//! inside a dialog, the checks on requests received in one, the 2xx/ACK handshake of
//! the UAS, and glare.

mod ack_wait;
mod glare;
mod id;
mod request;
mod state;
mod validate;

pub use ack_wait::{AckWait, AckWaitOutput};
pub use glare::RetryRange;
pub use id::DialogId;
pub use request::LocalVia;
pub use state::{record_routes, Dialog, DialogState, Role};
pub use validate::Reject;

#[cfg(test)]
mod tests;
