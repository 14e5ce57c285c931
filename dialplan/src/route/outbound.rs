//! Outbound routes (patterns with priorities and trunks in failover order), trunks, and
//! the permission classes that guard them against toll fraud.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::number::classify::Category;
use crate::number::location::TrunkFormat;
use crate::number::pattern::Pattern;
use crate::route::prefix::PrefixTable;

/// A SIP trunk as routing sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trunk {
    /// Unique name.
    pub name: String,
    /// How numbers are sent on it.
    #[serde(default)]
    pub format: TrunkFormat,
}

/// An outbound route.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboundRoute {
    /// Unique name.
    pub name: String,
    /// Patterns over the canonical number (`+4917.`) or a special number (`118XX`).
    pub patterns: Vec<Pattern>,
    /// Lower is tried first.
    #[serde(default)]
    pub priority: u32,
    /// Trunk names in failover order.
    pub trunks: Vec<String>,
}

/// What a user may dial outside (premium-rate numbers need `premium_allowed` as well).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PermissionClass {
    /// Internal numbers only (and emergency numbers, always).
    InternalOnly,
    /// The caller's own area (local numbers), not the rest of the country.
    Local,
    /// Own country.
    #[default]
    National,
    /// Everywhere.
    International,
}

impl fmt::Display for PermissionClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::InternalOnly => "internal only",
            Self::Local => "local",
            Self::National => "national",
            Self::International => "international",
        })
    }
}

/// Why a class may not call a category (`local`: a number of the caller's own area),
/// or None when it may.
pub fn forbidden(
    class: PermissionClass,
    premium_allowed: bool,
    cat: Category,
    local: bool,
) -> Option<String> {
    match (class, cat) {
        (PermissionClass::InternalOnly, _) => {
            Some("permission class 'internal only' forbids external calls".into())
        }
        (PermissionClass::Local, _) if !local || cat == Category::Premium => {
            Some("permission class 'local' allows calls in the own area only".into())
        }
        (_, Category::Premium) if !premium_allowed => {
            Some("premium-rate numbers are blocked".into())
        }
        (PermissionClass::National, Category::International) => {
            Some("permission class 'national' forbids international calls".into())
        }
        _ => None,
    }
}

/// The routes indexed for lookup: plain prefixes in a prefix table, other patterns in a
/// short list checked one by one.
#[derive(Debug, Clone, Default)]
pub struct OutboundIndex {
    prefixes: PrefixTable<(usize, usize)>,
    general: Vec<(usize, usize)>,
}

impl OutboundIndex {
    /// Indexes `routes`.
    pub fn new(routes: &[OutboundRoute]) -> Self {
        let mut ix = Self::default();
        for (r, route) in routes.iter().enumerate() {
            for (p, pat) in route.patterns.iter().enumerate() {
                if pat.is_plain_prefix() {
                    ix.prefixes.insert(&pat.literal_prefix(), (r, p));
                } else {
                    ix.general.push((r, p));
                }
            }
        }
        ix
    }

    /// Indices of the routes matching `number`, best first: by priority, then by the most
    /// specific matching pattern, then by configuration order.
    pub fn lookup(&self, routes: &[OutboundRoute], number: &str) -> Vec<usize> {
        let mut hits: Vec<(u32, std::cmp::Reverse<usize>, usize)> = Vec::new();
        let candidates = self
            .prefixes
            .matches(number)
            .flat_map(|(_, v)| v.iter())
            .chain(self.general.iter());
        for &(r, p) in candidates {
            let pat = &routes[r].patterns[p];
            if !pat.matches(number) {
                continue;
            }
            let key = (routes[r].priority, std::cmp::Reverse(pat.specificity()), r);
            match hits.iter_mut().find(|h| h.2 == r) {
                Some(h) if key < *h => *h = key,
                Some(_) => {}
                None => hits.push(key),
            }
        }
        hits.sort_unstable();
        hits.into_iter().map(|h| h.2).collect()
    }
}
