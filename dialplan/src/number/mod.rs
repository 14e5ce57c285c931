//! Numbers: the super-canonical form, dial patterns, formatting rules, the location that
//! turns what a phone or trunk sends into canonical form and back, and vanity letters.

pub mod canonical;
pub mod classify;
pub mod location;
pub mod pattern;
pub mod rule;
pub mod vanity;

pub use canonical::Canonical;
pub use classify::{Category, Detection};
pub use location::{
    AreaCodeRule, AreaDial, Dialled, ExtensionSpace, Location, LocationRules, Source, TrunkFormat,
};
pub use pattern::Pattern;
pub use rule::FormatRule;
