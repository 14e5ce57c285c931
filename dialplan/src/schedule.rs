//! Off-hours schedules: closing-time entries (weekday sets, from–to, over midnight,
//! "all day"), holidays (dates and yearly dates), evaluated in an IANA time zone.
//!
//! Semantics of an entry on weekday `D` with `from`–`to`:
//! - `from < to`: closed on `D` from `from` (inclusive) until `to` (exclusive); a `to` of
//!   `23:59` means "until midnight", as in the documents' `Fri 15:00 – 23:59`.
//! - `from > to` (over midnight): closed on `D` before `to` and from `from` on, and the
//!   night that starts on `D` runs on into the next day until `to`. This is the reading
//!   under which the documents' example (`Mon–Thu 17:30–08:00`, `Fri 15:00–23:59`,
//!   `Sat, Sun all day`) closes exactly outside the opening hours Mon–Thu 08:00–17:30,
//!   Fri 08:00–15:00, including Monday morning and Friday morning.
//! - `all_day`, or `from == to`, or no times: closed all of `D`.

use std::fmt;

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, Timelike, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::error::Error;

/// Minutes since midnight, written `HH:MM`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TimeOfDay(u16);

impl TimeOfDay {
    /// `h`:`m`; None when out of range.
    pub fn hm(h: u16, m: u16) -> Option<Self> {
        (h < 24 && m < 60).then_some(Self(h * 60 + m))
    }

    /// Minutes since midnight.
    pub fn minutes(self) -> u16 {
        self.0
    }

    /// Parses `HH:MM`.
    pub fn parse(s: &str) -> Result<Self, Error> {
        let bad = || Error::InvalidTime(s.to_owned());
        let (h, m) = s.trim().split_once(':').ok_or_else(bad)?;
        let h: u16 = h.parse().map_err(|_| bad())?;
        let m: u16 = m.parse().map_err(|_| bad())?;
        Self::hm(h, m).ok_or_else(bad)
    }

    /// The end bound in minutes: `23:59` stands for midnight (1440).
    fn end(self) -> u16 {
        if self.0 == 23 * 60 + 59 {
            1440
        } else {
            self.0
        }
    }
}

impl fmt::Display for TimeOfDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.0 / 60, self.0 % 60)
    }
}

impl TryFrom<String> for TimeOfDay {
    type Error = Error;
    fn try_from(s: String) -> Result<Self, Error> {
        Self::parse(&s)
    }
}

impl From<TimeOfDay> for String {
    fn from(t: TimeOfDay) -> String {
        t.to_string()
    }
}

/// One closing-time entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClosingEntry {
    /// The weekdays it applies to (`"Mon"`, `"Tue"`, …).
    pub days: Vec<Weekday>,
    /// Closed all day (also when `from`/`to` are missing or equal).
    #[serde(default)]
    pub all_day: bool,
    /// Start of the closing time.
    #[serde(default)]
    pub from: Option<TimeOfDay>,
    /// End of the closing time (`23:59` = midnight).
    #[serde(default)]
    pub to: Option<TimeOfDay>,
}

impl ClosingEntry {
    /// A `from`–`to` entry.
    pub fn range(days: &[Weekday], from: TimeOfDay, to: TimeOfDay) -> Self {
        Self {
            days: days.to_vec(),
            all_day: false,
            from: Some(from),
            to: Some(to),
        }
    }

    /// An all-day entry.
    pub fn all_day(days: &[Weekday]) -> Self {
        Self {
            days: days.to_vec(),
            all_day: true,
            from: None,
            to: None,
        }
    }

    /// Does the entry close minute `m` of a day that is `day`?
    pub fn closes(&self, day: Weekday, m: u16) -> bool {
        let on = |d: Weekday| self.days.contains(&d);
        match (self.all_day, self.from, self.to) {
            (false, Some(from), Some(to)) if from != to => {
                let (from, to_end) = (from.minutes(), to.end());
                if from < to_end {
                    on(day) && (from..to_end).contains(&m)
                } else {
                    (on(day) && (m >= from || m < to_end)) || (on(day.pred()) && m < to_end)
                }
            }
            _ => on(day),
        }
    }
}

/// A holiday: closed all day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Holiday {
    /// One date (`"2026-12-24"`).
    Date(NaiveDate),
    /// The same day every year.
    Yearly {
        /// 1–12.
        month: u32,
        /// 1–31.
        day: u32,
    },
}

impl Holiday {
    fn matches(&self, d: NaiveDate) -> bool {
        match self {
            Self::Date(x) => *x == d,
            Self::Yearly { month, day } => d.month() == *month && d.day() == *day,
        }
    }
}

/// What happens to a call during closing time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum ClosedAction {
    /// Play the "after hours" announcement, then hang up.
    AnnouncementThenHangup {
        /// The announcement: a prompt of the tenant (`pbx prompt add`) or a built-in
        /// one (`after_hours`), by name.
        announcement: String,
    },
    /// Send the caller to a voice mailbox (its greeting says it is after hours).
    Voicemail {
        /// The mailbox (an internal number).
        mailbox: String,
    },
    /// Send the caller to another number (an on-call extension, another group, an
    /// external number in canonical form).
    Forward {
        /// Internal or canonical number.
        target: String,
    },
}

/// A named off-hours timer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schedule {
    /// Referenced by groups, queues, IVR menus and the tenant.
    pub name: String,
    /// Closing-time entries.
    #[serde(default)]
    pub closed: Vec<ClosingEntry>,
    /// Holidays.
    #[serde(default)]
    pub holidays: Vec<Holiday>,
    /// What to do when closed.
    pub when_closed: ClosedAction,
}

/// Open or closed, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ScheduleState {
    /// Calls are taken.
    Open,
    /// Closing time.
    Closed {
        /// "holiday 2026-12-25", "closing time Mon 17:30–08:00", …
        reason: String,
    },
}

impl ScheduleState {
    /// True when open.
    pub fn is_open(&self) -> bool {
        matches!(self, Self::Open)
    }
}

/// Parses an IANA zone name.
pub fn parse_zone(name: &str) -> Result<Tz, Error> {
    name.parse::<Tz>()
        .map_err(|_| Error::InvalidTimeZone(name.to_owned()))
}

impl Schedule {
    /// The state at an instant, seen in zone `tz`.
    pub fn state_at(&self, tz: Tz, at: DateTime<FixedOffset>) -> ScheduleState {
        let local = at.with_timezone(&tz);
        let minute = (local.hour() * 60 + local.minute()) as u16;
        self.state_local(local.date_naive(), minute)
    }

    /// The state on local date `date` at local minute `minute` (0–1439).
    pub fn state_local(&self, date: NaiveDate, minute: u16) -> ScheduleState {
        if let Some(h) = self.holidays.iter().find(|h| h.matches(date)) {
            let what = match h {
                Holiday::Date(d) => d.to_string(),
                Holiday::Yearly { month, day } => format!("every {day:02}.{month:02}."),
            };
            return ScheduleState::Closed {
                reason: format!("holiday {what}"),
            };
        }
        let day = date.weekday();
        match self.closed.iter().find(|e| e.closes(day, minute)) {
            None => ScheduleState::Open,
            Some(e) => ScheduleState::Closed {
                reason: format!("closing time {}", describe(e)),
            },
        }
    }
}

fn describe(e: &ClosingEntry) -> String {
    let days: Vec<String> = e.days.iter().map(|d| d.to_string()).collect();
    match (e.all_day, e.from, e.to) {
        (false, Some(f), Some(t)) if f != t => format!("{} {f}–{t}", days.join(",")),
        _ => format!("{} all day", days.join(",")),
    }
}
