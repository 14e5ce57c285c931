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

pub use event::{Cause, LegEvent, LegState, Output, Side};
pub use fork::Fork;
pub use in_dialog::Body;
pub use leg::{Leg, LegConfig};
pub use outgoing::{cancel_for, OutgoingInvite};

#[cfg(test)]
mod tests;
