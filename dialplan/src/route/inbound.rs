//! Inbound DDI: external numbers mapped to internal ones.

use serde::{Deserialize, Serialize};

use crate::number::canonical::Canonical;

/// A DDI block beyond the location's own: `prefix` + `from`..=`to` reaches the internal
/// number `internal_prefix` + the same digits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DdiRange {
    /// Canonical base (`+49301234568`).
    pub prefix: Canonical,
    /// Lowest direct-dial digits.
    pub from: String,
    /// Highest direct-dial digits (same length as `from`).
    pub to: String,
    /// Put in front of the digits to make the internal number (often empty).
    #[serde(default)]
    pub internal_prefix: String,
}

impl DdiRange {
    /// The internal number `c` reaches through this block.
    pub fn map(&self, c: &Canonical) -> Option<String> {
        let rest = c.as_str().strip_prefix(self.prefix.as_str())?;
        let inside = rest.len() == self.from.len()
            && rest.bytes().all(|b| b.is_ascii_digit())
            && self.from.as_str() <= rest
            && rest <= self.to.as_str();
        inside.then(|| format!("{}{rest}", self.internal_prefix))
    }

    /// First and last canonical number of the block.
    pub fn bounds(&self) -> (String, String) {
        (
            format!("{}{}", self.prefix, self.from),
            format!("{}{}", self.prefix, self.to),
        )
    }
}

/// One external number mapped to one internal number (main number, MSN).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DdiNumber {
    /// The external number.
    pub number: Canonical,
    /// The internal number it reaches.
    pub target: String,
}
