//! The load simulator behind `pbx sim`: simulated phones over real UDP sockets that
//! register with digest auth, call each other through the switch at a scenario's rate,
//! send RTP with a per-call signature and check what they get back, and a report of
//! what a capacity planner needs (registrations, answered and failed calls by cause,
//! calls per second, concurrency, setup-time percentiles, audio checks).
//!
//! One tokio runtime; one SIP socket and one reader task per phone, one task per call
//! leg while it lasts, and a pool of `run::RTP_SOCKETS` sockets for all RTP (see
//! `media`).

pub mod call;
pub mod digest;
pub mod media;
pub mod phone;
pub mod report;
pub mod run;
pub mod scenario;
pub mod stats;
pub mod timeline;

pub use report::{Cause, Report};
pub use run::{run, SimError};
pub use scenario::{Hold, Rate, RtpMode, Scenario, ScenarioError};
pub use timeline::Timeline;
