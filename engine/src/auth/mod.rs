//! HTTP digest authentication for SIP (RFC 3261 §22, RFC 7616 hashing, RFC 8760 SHA-256),
//! with stateless expiring nonces and a slow-down for repeated failures.

mod check;
mod credentials;
mod digest;
mod nonce;
mod replay;
mod throttle;

pub mod client;

pub use check::{challenge_response, check, AuthFailure, AuthKind, AuthRequest, LineCredentials};
pub use credentials::Credentials;
pub use digest::{challenge, ha1, hex, response_for, verify, Algorithm};
pub use nonce::{constant_time_eq, NonceCheck, NonceScope, Nonces};
pub use replay::NonceCounts;
pub use throttle::AuthThrottle;
