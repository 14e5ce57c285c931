//! How a dialled number was recognised, and what kind of number a canonical one is.

use std::fmt;

use serde::{Deserialize, Serialize};

/// How the dialled number was detected (the "check rules" answer of the documents).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Detection {
    /// An internal number of this tenant.
    Internal,
    /// An external number in the caller's own area.
    Local,
    /// An external number in the caller's own country.
    National,
    /// An external number in another country.
    International,
    /// A reserved emergency number.
    Emergency,
    /// A feature code (`*59…`, `*78`, …).
    FeatureCode,
    /// A special number that is never made international (service numbers).
    Special,
    /// A caller without number (`anonymous`, CLIR), from a trunk.
    Anonymous,
}

impl fmt::Display for Detection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Internal => "internal",
            Self::Local => "local",
            Self::National => "national",
            Self::International => "international",
            Self::Emergency => "emergency",
            Self::FeatureCode => "feature code",
            Self::Special => "special",
            Self::Anonymous => "anonymous",
        })
    }
}

/// The tariff-relevant kind of an external number, for permission classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// Own country (fixed line, mobile, freephone, service numbers).
    National,
    /// Another country.
    International,
    /// Premium-rate numbers (toll-fraud risk), at home or abroad.
    Premium,
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::National => "national",
            Self::International => "international",
            Self::Premium => "premium",
        })
    }
}
