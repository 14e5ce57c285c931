//! Least-cost routing: zones of canonical prefixes (longest prefix wins; on equal
//! prefixes a zone without a provider at that time wins), and providers assigned per
//! zone by time of week (Monday–Friday, Saturday, Sunday, in 48 half-hour slots).

use chrono::Weekday;
use serde::{Deserialize, Serialize};

use crate::route::prefix::PrefixTable;

/// A call-by-call provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provider {
    /// Unique name.
    pub name: String,
    /// Carrier selection prefix dialled in front (`01070`); may be empty.
    #[serde(default)]
    pub prefix: String,
    /// A trunk to prefer for this provider.
    #[serde(default)]
    pub trunk: Option<String>,
}

/// A tariff zone: canonical prefixes (`+4917`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Zone {
    /// Unique name.
    pub name: String,
    /// Super-canonical prefixes.
    pub prefixes: Vec<String>,
}

/// Which days an assignment covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DayType {
    /// Monday to Friday.
    Weekday,
    /// Saturday.
    Saturday,
    /// Sunday.
    Sunday,
}

impl DayType {
    /// The day type of a weekday.
    pub fn of(d: Weekday) -> Self {
        match d {
            Weekday::Sat => Self::Saturday,
            Weekday::Sun => Self::Sunday,
            _ => Self::Weekday,
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Provider `provider` serves `zone` on `day` in half-hour slots `from_slot..to_slot`
/// (0 = 00:00–00:30, 47 = 23:30–24:00; `to_slot` exclusive, at most 48).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assignment {
    /// Zone name.
    pub zone: String,
    /// Day type.
    pub day: DayType,
    /// First slot.
    pub from_slot: u8,
    /// Slot after the last.
    pub to_slot: u8,
    /// Provider name.
    pub provider: String,
}

/// The LCR tables of a tenant.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lcr {
    /// Providers.
    #[serde(default)]
    pub providers: Vec<Provider>,
    /// Zones.
    #[serde(default)]
    pub zones: Vec<Zone>,
    /// Zone → provider by time of week.
    #[serde(default)]
    pub assignments: Vec<Assignment>,
}

/// The LCR answer for one call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LcrChoice<'a> {
    /// The zone that matched.
    pub zone: &'a Zone,
    /// The prefix that matched.
    pub prefix: &'a str,
    /// The provider at this time, if any.
    pub provider: Option<&'a Provider>,
}

type Grid = [[Option<u16>; 48]; 3];

/// [`Lcr`] compiled for lookups.
#[derive(Debug, Clone, Default)]
pub struct LcrIndex {
    table: PrefixTable<usize>,
    grids: Vec<Grid>,
}

impl LcrIndex {
    /// Compiles `lcr`; assignments naming unknown zones or providers are skipped (the
    /// validator reports them).
    pub fn new(lcr: &Lcr) -> Self {
        let mut table = PrefixTable::default();
        let mut grids: Vec<Grid> = vec![[[None; 48]; 3]; lcr.zones.len()];
        for (z, zone) in lcr.zones.iter().enumerate() {
            for p in &zone.prefixes {
                table.insert(p, z);
            }
        }
        for a in &lcr.assignments {
            let z = lcr.zones.iter().position(|z| z.name == a.zone);
            let p = lcr.providers.iter().position(|p| p.name == a.provider);
            if let (Some(z), Some(p)) = (z, p) {
                let to = usize::from(a.to_slot.min(48));
                let from = usize::from(a.from_slot).min(to);
                grids[z][a.day.index()][from..to].fill(Some(p as u16));
            }
        }
        Self { table, grids }
    }

    /// The zone and provider for `number` on `day` at local minute `minute`.
    pub fn choose<'a>(
        &self,
        lcr: &'a Lcr,
        number: &str,
        day: Weekday,
        minute: u16,
    ) -> Option<LcrChoice<'a>> {
        let (prefix, zones) = self.table.longest(number)?;
        let slot = usize::from(minute / 30).min(47);
        let provider_of = |z: usize| self.grids[z][DayType::of(day).index()][slot];
        let z = zones
            .iter()
            .copied()
            .find(|&z| provider_of(z).is_none())
            .unwrap_or(zones[0]);
        let zone = &lcr.zones[z];
        let prefix = zone.prefixes.iter().find(|p| p.as_str() == prefix)?;
        Some(LcrChoice {
            zone,
            prefix,
            provider: provider_of(z).map(|p| &lcr.providers[usize::from(p)]),
        })
    }
}
