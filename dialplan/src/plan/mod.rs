//! [`TenantPlan`]: everything routing needs for one tenant, as JSON.

mod demo;
pub mod entity;

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

pub use entity::{Conference, Extension, HuntGroup, IvrMenu, Queue, Strategy};

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
}

impl TenantPlan {
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
