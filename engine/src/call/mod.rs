//! Call legs for a B2BUA, sans-IO: one leg per device the call talks to, and a fork
//! over several outgoing legs. The call actor owns them, feeds them messages, hang-ups
//! and timeouts, and sends what they return; the legs know nothing of sockets or
//! actors.

mod event;
mod fork;
mod in_dialog;
mod incoming;
mod leg;
mod outgoing;
mod reliable;
mod session;

pub use event::{Cause, LegEvent, LegState, Output, RequestKey, Response, Side};
pub use fork::Fork;
pub use in_dialog::Body;
pub use leg::{Leg, LegConfig};
pub use outgoing::{cancel_for, OutgoingInvite};
pub use session::{
    has_option, interval_too_small, min_se, requires, Refresher, SessionExpires, DEFAULT_SE, MIN_SE,
};

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_rfc3262_4028;
