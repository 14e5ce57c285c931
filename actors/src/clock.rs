//! The wall clock, read only here (the engine takes time as an argument).

use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Milliseconds since the Unix epoch.
pub fn unix_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// The wall clock routing decisions (office hours, holidays) are taken at: the
/// system's, or (test builds) one that starts at a set time and runs on the tokio
/// clock from there, so that a paused test clock moves it too.
#[derive(Debug, Clone, Copy, Default)]
pub struct WallClock {
    set: Option<(chrono::DateTime<chrono::FixedOffset>, tokio::time::Instant)>,
}

impl WallClock {
    /// A clock that reads `start` now.
    pub fn starting_at(start: chrono::DateTime<chrono::FixedOffset>) -> WallClock {
        WallClock {
            set: Some((start, tokio::time::Instant::now())),
        }
    }

    /// Whether it was set (not the system's).
    pub fn is_set(&self) -> bool {
        self.set.is_some()
    }

    /// The time now, with its UTC offset.
    pub fn now(&self) -> chrono::DateTime<chrono::FixedOffset> {
        match self.set {
            None => chrono::Utc::now().fixed_offset(),
            Some((start, at)) => {
                let run = chrono::Duration::from_std(at.elapsed()).unwrap_or_default();
                start + run
            }
        }
    }
}
