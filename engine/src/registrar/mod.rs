//! The registrar of one address of record (RFC 3261 §10.3), sans-IO: a REGISTER and
//! the wall-clock time go in; the response and the binding changes to persist come out.

mod binding;
mod reach;
mod register;

pub use crate::auth::LineCredentials;
pub use binding::{Binding, BindingChange};
pub use reach::contact_address;
pub use register::{Policy, RegisterOutcome, Registrar};

#[cfg(test)]
mod tests;
