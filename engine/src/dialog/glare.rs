//! Glare (RFC 3261 §14.1): when re-INVITEs cross, both get 491 and each side retries
//! after a random delay from a range that depends on who owns the Call-ID.

use std::time::Duration;

use super::state::{Dialog, Role};

/// A range of delays; the caller draws one with its own randomness.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryRange {
    pub min: Duration,
    pub max: Duration,
    /// The granularity of a draw.
    pub step: Duration,
}

impl RetryRange {
    /// The owner of the Call-ID (it sent the dialog's INVITE): 2.1–4 s in 10 ms units.
    pub const OWNER: RetryRange = RetryRange {
        min: Duration::from_millis(2100),
        max: Duration::from_millis(4000),
        step: Duration::from_millis(10),
    };
    /// The other side: 0–2 s in 10 ms units.
    pub const OTHER: RetryRange = RetryRange {
        min: Duration::ZERO,
        max: Duration::from_millis(2000),
        step: Duration::from_millis(10),
    };
    /// Retry-After of a 500 to an INVITE that overlaps another (§14.2): 0–10 s.
    pub const OVERLAP: RetryRange = RetryRange {
        min: Duration::ZERO,
        max: Duration::from_secs(10),
        step: Duration::from_secs(1),
    };

    /// The delay for a random number: `min + (random mod steps) * step`, within range.
    pub fn pick(&self, random: u32) -> Duration {
        let span = self.max.saturating_sub(self.min);
        let steps = (span.as_nanos() / self.step.as_nanos().max(1)) as u32 + 1;
        self.min + self.step * (random % steps)
    }

    pub fn contains(&self, d: Duration) -> bool {
        d >= self.min && d <= self.max
    }
}

impl Dialog {
    /// How long to wait before retrying a re-INVITE that got 491.
    pub fn glare_retry(&self) -> RetryRange {
        match self.role {
            Role::Uac => RetryRange::OWNER,
            Role::Uas => RetryRange::OTHER,
        }
    }
}
