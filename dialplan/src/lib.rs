//! The dialplan: a pure function from a tenant's configuration, a call and a time to
//! where the call goes. No IO and no clock reads: time is always an argument.
//!
//! - [`TenantPlan`]: one tenant's numbering and routing (JSON), [`TenantPlan::demo`].
//! - [`route()`] / [`Router`]: a call and an instant → [`Decision`] (ordered targets).
//! - [`explain()`]: the administrator's check behind `pbx route`.
//! - [`number`]: super-canonical numbers, locations, formatting rules, vanity letters.
//! - [`schedule`]: off-hours in the tenant's IANA zone; [`feature_code`], [`emergency`],
//!   [`validate`], [`country`] data, [`route`](mod@route) tables (outbound, LCR, DDI).

pub mod country;
pub mod decision;
pub mod emergency;
pub mod error;
pub mod explain;
pub mod feature_code;
pub mod number;
pub mod plan;
pub mod route;
pub mod router;
pub mod schedule;
pub mod validate;
pub mod walk;

pub use decision::{Decision, Target, TrunkDial};
pub use error::Error;
pub use explain::{explain, explain_call, explain_on, Explanation};
pub use number::{Canonical, Category, Detection};
pub use plan::TenantPlan;
pub use router::{route, CallContext, Origin, Router, ScheduleReport};
pub use validate::ValidationError;
pub use walk::{Step as WalkStep, Walk};
