//! The load simulator behind `pbx sim`: simulated phones over real UDP sockets that
//! register with digest auth, call each other through the switch at a scenario's rate,
//! send RTP with a per-call signature and check what they get back, and a report of
//! what a capacity planner needs (registrations, answered and failed calls by cause,
//! calls per second, concurrency, setup-time percentiles, audio checks). A share of
//! calls is put on hold and resumed (re-INVITE sendonly/sendrecv) or blind-transferred
//! by the callee (REFER) to a third phone. Besides phones (`Mode::Phones`) the sim
//! plays a plain UAC that calls a range of numbers without registering (`Mode::Uac`)
//! and a UAS or carrier trunk peer answering a range of DIDs (`Mode::Uas`).
//!
//! One single-threaded tokio runtime; one SIP socket and one reader task per phone,
//! one task per call leg while it lasts, and a pool of `run::RTP_SOCKETS` sockets for
//! all RTP (see `media`). A UAC's plain calls instead run on `uac`: one task and a
//! table of calls over a few polled sockets. Flows (`flow`, `steps`) walk a
//! scenario's steps; a UAS is also a carrier's registrar (`registrar`).

pub mod call;
pub mod centre;
pub mod flow;
pub mod media;
pub mod phone;
pub mod registrar;
pub mod report;
pub mod run;
pub mod scenario;
pub mod stats;
pub mod steps;
pub mod storm;
pub mod timeline;
pub mod ua;
pub mod uac;
pub mod wire;

pub use report::{Cause, Report};
pub use run::{run, SimError};
pub use scenario::{Answering, Hold, Mode, Rate, RtpMode, Scenario, ScenarioError};
pub use timeline::Timeline;
