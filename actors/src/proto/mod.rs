//! The actors' protocol: every actor's message enum and the handles and values those
//! messages carry. Actor modules depend on this module, not on each other, so that no
//! two actor modules import one another.
//!
//! - `request`: a request as it reaches its handler (`Incoming`) and the way back
//!   (`Replier`); `flow`: where a device is reached.
//! - `line`, `tenant`, `call`: `LineMsg`, `TenantMsg` with `TenantEntry`, `CallMsg`
//!   with `CallTarget` and `ChannelHandover`.
//! - `events`: what calls publish on the event bus (the journal and later subscribers
//!   listen).
//! - `room`: the handle on a conference room's task, a member's seat.
//! - `queue`: `QueueMsg` (calls to their queue) and `QueueEvent` (the queue to a
//!   waiting call).
//! - `ivr`: an IVR menu as the tenant hands it to a call, and `IvrStep`, where a
//!   caller's choice leads.

pub mod call;
pub mod events;
pub mod flow;
pub mod ivr;
pub mod line;
pub mod queue;
pub mod request;
pub mod room;
pub mod tenant;
pub mod trunk;

pub use call::{CallMsg, CallTarget, ChannelHandover, Forwarded, HopDevices, RoomLeg};
pub use flow::Flow;
pub use ivr::{IvrMenu, IvrStep, VoicemailBox};
pub use line::{BindingsView, LineMsg};
pub use queue::{QueueEvent, QueueMsg, WaitRules};
pub use request::{status_code, Incoming, Replier, TcpTx, UdpOut};
pub use room::{MemberOf, RoomHandle, RoomMsg, Seat};
pub use tenant::{TenantEntry, TenantMsg};

/// A tenant's id in the store.
pub type TenantId = i64;
