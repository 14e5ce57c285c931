//! The sans-IO signalling core of the switch.
//!
//! Architecture invariant: nothing in this crate opens a socket, spawns a task or reads
//! a clock. Packets and the current time are arguments; what to send and when to be
//! woken up again are return values.

pub mod auth;
pub mod call;
pub mod dialog;
mod error;
#[cfg(test)]
mod fixtures;
pub mod registrar;
pub mod sdp;
pub mod sip;
pub mod timer;
pub mod transaction;

pub use error::{Error, Result};
