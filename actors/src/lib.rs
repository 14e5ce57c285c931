//! The switch's runtime: every line, tenant and transport is a supervised `ractor`
//! actor; SQLite lives behind the store's own thread.
//!
//! Architecture invariant: the signalling logic lives in `engine`; handlers here feed
//! it, drain what it returns and do the IO.

pub mod auth_guard;
pub mod blf;
pub mod call;
pub mod clock;
pub mod conference;
pub mod config;
pub mod directory;
mod error;
pub mod journal;
pub mod line;
pub mod mail;
pub mod media_relay;
pub mod mwi;
pub mod proto;
pub mod queue;
pub mod services;
pub mod sip;
pub mod store;
pub mod switch;
pub mod tenant;
pub mod trunk;

pub use config::{SwitchConfig, TlsListen};
pub use error::{Error, Result};
pub use switch::Switch;
