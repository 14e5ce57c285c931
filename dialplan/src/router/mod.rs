//! The router: a tenant plan compiled for lookups, and `route(plan, call, time)`.

mod feature;
mod run;

use std::collections::HashMap;
use std::net::IpAddr;

use chrono::{DateTime, FixedOffset};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::decision::Decision;
use crate::error::Error;
use crate::number::canonical::Canonical;
use crate::number::location::Dialled;
use crate::plan::TenantPlan;
use crate::route::lcr::LcrIndex;
use crate::route::outbound::OutboundIndex;
use crate::route::prefix::PrefixTable;
use crate::schedule::{parse_zone, ClosedAction, ScheduleState};

use run::Run;

/// Where a call comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Origin {
    /// One of the tenant's phones.
    Internal,
    /// A SIP trunk.
    Trunk {
        /// Trunk name.
        trunk: String,
    },
}

/// The call as routing sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallContext {
    /// Calling number as received.
    pub from: String,
    /// Called number as received (dialled digits or DDI).
    pub to: String,
    /// Where the call comes from.
    pub origin: Origin,
    /// The caller's IP address (chooses the emergency callback number).
    #[serde(default)]
    pub source_ip: Option<IpAddr>,
}

/// The schedule consulted, and its answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleReport {
    /// Schedule name.
    pub schedule: String,
    /// Whose schedule ("hunt group \"Sales\"", "tenant").
    pub owner: String,
    /// Open or closed.
    pub state: ScheduleState,
    /// What closing time does (reported when closed).
    pub when_closed: Option<ClosedAction>,
}

/// Everything a routing run found out, for [`crate::explain()`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Routed {
    /// The normalised caller.
    pub caller: Dialled,
    /// The normalised callee.
    pub callee: Dialled,
    /// The first schedule consulted.
    pub schedule: Option<ScheduleReport>,
    /// The decision.
    pub decision: Decision,
    /// Local time in the tenant's zone.
    pub local_time: DateTime<Tz>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Owner {
    Extension(usize),
    Group(usize),
    Queue(usize),
    Ivr(usize),
    Conference(usize),
}

/// A tenant plan compiled for routing: hash maps for internal numbers and DDI, prefix
/// tables for outbound routes and LCR.
#[derive(Debug, Clone)]
pub struct Router {
    plan: TenantPlan,
    tz: Tz,
    owners: HashMap<String, Owner>,
    ddi_numbers: HashMap<String, String>,
    ddi_ranges: PrefixTable<usize>,
    outbound: OutboundIndex,
    lcr: LcrIndex,
    emergency: Vec<String>,
    call_by_call: Vec<String>,
    trunks: HashMap<String, usize>,
}

const MAX_FORWARD_DEPTH: u8 = 4;

impl Router {
    /// Validates and compiles `plan`.
    pub fn new(plan: &TenantPlan) -> Result<Self, Error> {
        plan.validate().map_err(Error::InvalidPlan)?;
        let tz = parse_zone(&plan.time_zone)?;
        let mut owners = HashMap::new();
        owners.extend(
            plan.extensions
                .iter()
                .enumerate()
                .map(|(i, e)| (e.number.clone(), Owner::Extension(i))),
        );
        owners.extend(
            plan.groups
                .iter()
                .enumerate()
                .map(|(i, g)| (g.number.clone(), Owner::Group(i))),
        );
        owners.extend(
            plan.queues
                .iter()
                .enumerate()
                .map(|(i, q)| (q.number.clone(), Owner::Queue(i))),
        );
        owners.extend(
            plan.ivrs
                .iter()
                .enumerate()
                .map(|(i, m)| (m.number.clone(), Owner::Ivr(i))),
        );
        owners.extend(
            plan.conferences
                .iter()
                .enumerate()
                .map(|(i, c)| (c.number.clone(), Owner::Conference(i))),
        );
        let mut ddi_ranges = PrefixTable::default();
        for (i, r) in plan.ddi_ranges.iter().enumerate() {
            ddi_ranges.insert(r.prefix.as_str(), i);
        }
        Ok(Self {
            tz,
            owners,
            ddi_numbers: plan
                .ddi_numbers
                .iter()
                .map(|d| (d.number.as_str().to_owned(), d.target.clone()))
                .collect(),
            ddi_ranges,
            outbound: OutboundIndex::new(&plan.outbound),
            lcr: LcrIndex::new(&plan.lcr),
            emergency: plan.emergency_numbers()?,
            call_by_call: plan
                .lcr
                .providers
                .iter()
                .map(|p| p.prefix.clone())
                .filter(|p| !p.is_empty())
                .collect(),
            trunks: plan
                .trunks
                .iter()
                .enumerate()
                .map(|(i, t)| (t.name.clone(), i))
                .collect(),
            plan: plan.clone(),
        })
    }

    /// The plan routed on.
    pub fn plan(&self) -> &TenantPlan {
        &self.plan
    }

    /// Where the call goes.
    pub fn route(&self, call: &CallContext, at: DateTime<FixedOffset>) -> Result<Decision, Error> {
        Ok(self.run(call, at)?.decision)
    }

    /// Is `n` an internal number of the tenant?
    pub fn is_assigned(&self, n: &str) -> bool {
        self.owners.contains_key(n)
    }

    /// Routes and keeps the intermediate results.
    pub fn run(&self, call: &CallContext, at: DateTime<FixedOffset>) -> Result<Routed, Error> {
        let local_time = at.with_timezone(&self.tz);
        let mut run = Run {
            r: self,
            at,
            local_time,
            schedule: None,
            caller_id: None,
            private: false,
            project: None,
            dialled: None,
        };
        let (caller, callee, targets) = match &call.origin {
            Origin::Internal => run.call_from_phone(call)?,
            Origin::Trunk { .. } => run.call_from_trunk(call)?,
        };
        Ok(Routed {
            caller,
            callee,
            schedule: run.schedule,
            decision: Decision {
                targets,
                caller_id: run.caller_id,
                private: run.private,
                project: run.project,
                dialled: run.dialled,
            },
            local_time,
        })
    }

    /// The internal number a canonical number reaches by DDI.
    pub fn ddi_to_internal(&self, c: &Canonical) -> Option<String> {
        if let Some(t) = self.ddi_numbers.get(c.as_str()) {
            return Some(t.clone());
        }
        if let Some(ext) = self.plan.location.canonical_to_internal(c) {
            return Some(ext);
        }
        self.ddi_ranges
            .matches(c.as_str())
            .flat_map(|(_, v)| v.iter())
            .find_map(|&i| self.plan.ddi_ranges[i].map(c))
    }

    /// The canonical number of an internal number, where it has one.
    pub fn internal_to_canonical(&self, n: &str) -> Option<Canonical> {
        if let Some(c) = self.plan.location.internal_to_canonical(n) {
            return Some(c);
        }
        if let Some((c, _)) = self.ddi_numbers.iter().find(|(_, t)| t.as_str() == n) {
            return Canonical::parse(c).ok();
        }
        self.plan.ddi_ranges.iter().find_map(|r| {
            let digits = n.strip_prefix(r.internal_prefix.as_str())?;
            Canonical::parse(&format!("{}{digits}", r.prefix))
                .ok()
                .filter(|c| r.map(c).is_some())
        })
    }
}

/// Routes one call on `plan` at `at` (compiles the plan first; for many calls build a
/// [`Router`] once).
pub fn route(
    plan: &TenantPlan,
    call: &CallContext,
    at: DateTime<FixedOffset>,
) -> Result<Decision, Error> {
    Router::new(plan)?.route(call, at)
}

impl Router {
    /// How line `ext` dials: its line group's location, else the tenant's.
    pub fn dialling_location(&self, ext: &str) -> &crate::number::location::Location {
        self.plan
            .line_group_of(ext)
            .location
            .as_ref()
            .unwrap_or(&self.plan.location)
    }
}
