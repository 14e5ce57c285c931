//! The call event bus and the call journal.
//!
//! Call actors publish `CallEvent`s on the `EventBus`; they never touch SQLite. The
//! `JournalActor` subscribes and writes one row per call and one per leg through the
//! store thread (`Store::record_call_events`). Later subscribers (metrics, MWI, the
//! API) take their own `EventBus::subscribe`.

mod bus;
mod writer;

#[cfg(test)]
mod tests;

pub use crate::proto::events::{
    CallEvent, CallEventKind, CallId, CallState, Direction, Disposition, LegId, Side, UnixMillis,
};
pub use bus::{EventBus, Subscription};
pub use writer::{JournalActor, JournalArgs, JournalBarrier, JournalMsg};
