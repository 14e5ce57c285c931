//! [`TenantPlan`]: everything routing needs for one tenant, as JSON.

mod demo;
pub mod entity;
pub mod line_group;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::emergency::EmergencyConfig;
use crate::error::Error;
use crate::feature_code::FeatureCodes;
use crate::number::location::Location;
use crate::route::inbound::{DdiNumber, DdiRange};
use crate::route::lcr::Lcr;
use crate::route::outbound::{OutboundRoute, Trunk};
use crate::schedule::Schedule;
use crate::validate::ValidationError;

pub use entity::{
    CallerRule, Conference, Extension, HuntGroup, IvrMenu, PickupGroup, Queue, QueueStrategy,
    Strategy,
};
pub use line_group::{Decline, LineGroup, Reject, DEFAULT_GROUP};

/// One tenant's numbering and routing configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantPlan {
    /// Tenant name.
    pub name: String,
    /// IANA time zone (`Europe/Berlin`).
    pub time_zone: String,
    /// Location: country, area code, base number, extension space, access codes.
    pub location: Location,
    /// Extensions.
    #[serde(default)]
    pub extensions: Vec<Extension>,
    /// Hunt groups.
    #[serde(default)]
    pub groups: Vec<HuntGroup>,
    /// Call queues.
    #[serde(default)]
    pub queues: Vec<Queue>,
    /// IVR menus and submenus.
    #[serde(default)]
    pub ivrs: Vec<IvrMenu>,
    /// Conference rooms.
    #[serde(default)]
    pub conferences: Vec<Conference>,
    /// Off-hours schedules.
    #[serde(default)]
    pub schedules: Vec<Schedule>,
    /// Tenant-wide schedule for calls from outside (name), if any.
    #[serde(default)]
    pub schedule: Option<String>,
    /// DDI blocks beyond the location's own.
    #[serde(default)]
    pub ddi_ranges: Vec<DdiRange>,
    /// Single external numbers (main number, MSNs).
    #[serde(default)]
    pub ddi_numbers: Vec<DdiNumber>,
    /// Trunks.
    #[serde(default)]
    pub trunks: Vec<Trunk>,
    /// Outbound routes.
    #[serde(default)]
    pub outbound: Vec<OutboundRoute>,
    /// Least-cost routing.
    #[serde(default)]
    pub lcr: Lcr,
    /// Emergency numbers and trunk.
    pub emergency: EmergencyConfig,
    /// Feature codes.
    #[serde(default)]
    pub feature_codes: FeatureCodes,
    /// Where unassigned numbers go (internal number).
    #[serde(default)]
    pub drop_off: Option<String>,
    /// Line groups: decline and reject codes and busy-on-busy for their lines.
    #[serde(default)]
    pub line_groups: Vec<LineGroup>,
    /// Pickup groups (group pickup, `*8`).
    #[serde(default)]
    pub pickup_groups: Vec<PickupGroup>,
    /// Queue agents' skills: extension → skill → level (1–10).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub agent_skills: BTreeMap<String, BTreeMap<String, u8>>,
    /// The user part of the conference URI desk phones are set up with for network
    /// conferences (`sip:conference@tenant`): each call to it opens a new ad-hoc room
    /// whose caller organises it (brings parties in by REFER with Replaces, removes
    /// them by REFER with `method=BYE`). Empty: no ad-hoc conferences.
    #[serde(default = "default_adhoc_conference")]
    pub adhoc_conference: String,
}

fn default_adhoc_conference() -> String {
    "conference".into()
}

impl TenantPlan {
    /// Queue `number`: one of the plan's queues, or a hunt group with the queue
    /// strategy (as a queue with the defaults).
    pub fn queue(&self, number: &str) -> Option<Queue> {
        if let Some(q) = self.queues.iter().find(|q| q.number == number) {
            return Some(q.clone());
        }
        self.groups
            .iter()
            .find(|g| g.number == number && g.strategy == Strategy::Queue)
            .map(Queue::of_group)
    }

    /// The line group of extension `number`: the one it names, else `default`, else
    /// a group with every property at its default.
    pub fn line_group_of(&self, number: &str) -> &LineGroup {
        let named = self
            .extensions
            .iter()
            .find(|e| e.number == number)
            .and_then(|e| e.line_group.as_deref())
            .unwrap_or(DEFAULT_GROUP);
        self.line_groups
            .iter()
            .find(|g| g.name == named)
            .or_else(|| self.line_groups.iter().find(|g| g.name == DEFAULT_GROUP))
            .unwrap_or(&line_group::DEFAULT_LINE_GROUP)
    }

    /// The `default` line group, made when missing, for changing it.
    pub fn default_group_mut(&mut self) -> &mut LineGroup {
        let i = match self
            .line_groups
            .iter()
            .position(|g| g.name == DEFAULT_GROUP)
        {
            Some(i) => i,
            None => {
                self.line_groups.push(LineGroup::named(DEFAULT_GROUP));
                self.line_groups.len() - 1
            }
        };
        &mut self.line_groups[i]
    }

    /// Checks the numbering: every problem found, each naming the entries involved.
    pub fn validate(&self) -> Result<(), Vec<ValidationError>> {
        let errors = crate::validate::validate(self);
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    /// The reserved emergency numbers in force (configured, else the country's).
    pub fn emergency_numbers(&self) -> Result<Vec<String>, Error> {
        Ok(match &self.emergency.numbers {
            Some(n) => n.clone(),
            None => self.location.country()?.emergency.clone(),
        })
    }

    /// Parses a plan from JSON.
    pub fn from_json(s: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(s)
    }
}
