//! Properties: normalisation is idempotent, canonical → dialable → canonical round-trips
//! for every shipped location, every minute of a year is exactly open or closed (and
//! matches the opening hours), and DST days behave.

mod common;

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Timelike, Utc, Weekday};
use chrono_tz::Tz;
use common::*;
use dialplan::country;
use dialplan::number::canonical::Canonical;
use dialplan::number::location::{Location, Source};
use dialplan::number::Detection;
use dialplan::schedule::{ClosedAction, ClosingEntry, Holiday, Schedule, TimeOfDay};
use proptest::prelude::*;

/// A national significant number that is valid-looking for the country of `loc`.
fn nsn_for(loc: &Location, area_local: bool, seed: &[u8]) -> String {
    let k = loc.country().unwrap();
    let digit = |i: usize, lo: u8| char::from(b'0' + lo + seed[i % seed.len()] % (10 - lo));
    let len = k.nsn_fixed.unwrap_or(6 + usize::from(seed[0] % 5));
    let mut s = String::new();
    if area_local {
        s.push_str(&loc.area_code);
        s.push(digit(1, 2));
    } else if loc.country_code == "39" {
        // Italy: fixed lines keep their 0, mobiles start with 3.
        s.push(if seed[1] % 2 == 0 { '0' } else { '3' });
        s.push(digit(2, 2));
    } else {
        s.push(digit(1, 2));
    }
    let mut i = 3;
    while s.len() < len.max(s.len() + 2) && s.len() < len {
        s.push(digit(i, 0));
        i += 1;
    }
    while s.len() < len.max(5) {
        s.push(digit(i, 0));
        i += 1;
    }
    s
}

/// A national number of country `cc` made valid as seen from `loc`: one that happens
/// to start with `loc`'s own area code is in that area, so its subscriber part must
/// not start with 0 or 1 (there are no such subscriber numbers; "+49 30 0000" would be
/// dialled in Berlin as "0" + "0000").
fn valid_in(loc: &Location, cc: &str, mut nsn: String) -> String {
    let area = loc.area_code.len();
    if cc == loc.country_code
        && area > 0
        && nsn.starts_with(&loc.area_code)
        && matches!(nsn.as_bytes().get(area), Some(b'0' | b'1'))
    {
        nsn.replace_range(area..=area, "2");
    }
    nsn
}

fn canonical_for(loc: &Location, kind: u8, seed: &[u8]) -> Canonical {
    match kind % 4 {
        // An own DDI number.
        0 => {
            let ext_len = match &loc.extensions {
                dialplan::number::ExtensionSpace::Range { from, .. } => from.len(),
                _ => 3,
            };
            let ext: String = (0..ext_len)
                .map(|i| char::from(b'1' + seed[i % seed.len()] % 8))
                .collect();
            Canonical::parse(&format!("{}{ext}", loc.ddi_prefix())).unwrap()
        }
        // Same area, same country.
        1 => Canonical::from_digits(&format!("{}{}", loc.country_code, nsn_for(loc, true, seed)))
            .unwrap(),
        2 => {
            let nsn = valid_in(loc, &loc.country_code, nsn_for(loc, false, seed));
            Canonical::from_digits(&format!("{}{nsn}", loc.country_code)).unwrap()
        }
        // Another shipped country.
        _ => {
            let all = country::all().unwrap();
            let other = &all[usize::from(seed[0]) % all.len()];
            let mut there = shipped_locations()
                .into_iter()
                .find(|l| l.country_code == other.country_code)
                .unwrap();
            there.area_code = String::new();
            let nsn = valid_in(loc, &other.country_code, nsn_for(&there, false, seed));
            Canonical::from_digits(&format!("{}{nsn}", other.country_code)).unwrap()
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// canonical → what a phone dials → canonical, for every shipped location.
    #[test]
    fn canonical_dialable_canonical_round_trips(loc_ix in 0usize..9, kind in 0u8..4, seed in prop::collection::vec(any::<u8>(), 12)) {
        let loc = &shipped_locations()[loc_ix];
        let c = canonical_for(loc, kind, &seed);
        let dial = loc.to_phone_dialable(&c).unwrap();
        let back = loc.normalise(&dial, Source::Phone, "t").unwrap();
        prop_assert_eq!(back.canonical.as_ref(), Some(&c), "{} dialled as {} from +{}", c, dial, loc.country_code);
        // And through every trunk format from the trunk side.
        for f in [dialplan::number::TrunkFormat::E164, dialplan::number::TrunkFormat::International] {
            let sent = loc.to_trunk_dialable(&c, f).unwrap();
            let back = loc.normalise(&sent, Source::Trunk, "t").unwrap();
            prop_assert_eq!(back.canonical.as_ref(), Some(&c), "{} sent as {}", c, sent);
        }
    }

    /// Normalising the result of a normalisation changes nothing.
    #[test]
    fn normalisation_is_idempotent(loc_ix in 0usize..9, input in "[+]?[0-9 ()/-]{1,16}") {
        let loc = &shipped_locations()[loc_ix];
        for source in [Source::Phone, Source::Trunk] {
            let Ok(first) = loc.normalise(&input, source, "t") else { continue };
            let again = match (&first.detection, &first.canonical) {
                (Detection::Internal | Detection::Special, _) => loc.normalise(&first.number, source, "t").unwrap(),
                (_, Some(c)) => loc.normalise(c.as_str(), source, "t").unwrap(),
                (_, None) => unreachable!("external numbers always have a canonical form"),
            };
            prop_assert_eq!(&again.number, &first.number, "{:?} from {:?}", input, source);
            prop_assert_eq!(&again.canonical, &first.canonical);
        }
    }

    /// Any input either normalises or is a clean error: never a panic.
    #[test]
    fn arbitrary_input_never_panics(loc_ix in 0usize..9, input in "\\PC{0,24}") {
        let loc = &shipped_locations()[loc_ix];
        let _ = loc.normalise(&input, Source::Phone, "t");
        let _ = loc.normalise(&input, Source::Trunk, "t");
    }

    /// Random instants in New York: the state is exactly the opening hours, in local time.
    #[test]
    fn new_york_instants_match_opening_hours(minutes in 0i64..(2 * 366 * 1440)) {
        let tz: Tz = "America/New_York".parse().unwrap();
        let start = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let instant = (start + Duration::minutes(minutes)).fixed_offset();
        let local = instant.with_timezone(&tz);
        let minute = (local.hour() * 60 + local.minute()) as u16;
        let open = office().state_at(tz, instant).is_open();
        prop_assert_eq!(open, expected_open(local.date_naive(), minute));
    }
}

fn office() -> Schedule {
    use Weekday::*;
    let t = |h, m| TimeOfDay::hm(h, m).unwrap();
    Schedule {
        name: "office".into(),
        closed: vec![
            ClosingEntry::range(&[Mon, Tue, Wed, Thu], t(17, 30), t(8, 0)),
            ClosingEntry::range(&[Fri], t(15, 0), t(23, 59)),
            ClosingEntry::all_day(&[Sat, Sun]),
        ],
        holidays: vec![
            Holiday::Yearly { month: 12, day: 25 },
            Holiday::Date(NaiveDate::from_ymd_opt(2026, 4, 3).unwrap()),
        ],
        when_closed: ClosedAction::AnnouncementThenHangup {
            announcement: "closed.wav".into(),
        },
    }
}

fn expected_open(date: NaiveDate, minute: u16) -> bool {
    use Weekday::*;
    let holiday = (date.month(), date.day()) == (12, 25)
        || date == NaiveDate::from_ymd_opt(2026, 4, 3).unwrap();
    let hours = match date.weekday() {
        Mon | Tue | Wed | Thu => (480..1050).contains(&minute),
        Fri => (480..900).contains(&minute),
        Sat | Sun => false,
    };
    hours && !holiday
}

/// Every minute of 2026 in Berlin is exactly open or closed, as the opening hours say.
#[test]
fn every_minute_of_a_year_in_berlin() {
    let tz: Tz = "Europe/Berlin".parse().unwrap();
    let s = office();
    let start = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let (mut open, mut closed) = (0u32, 0u32);
    for m in 0..365 * 1440 {
        let instant = (start + Duration::minutes(m)).fixed_offset();
        let local = instant.with_timezone(&tz);
        let minute = (local.hour() * 60 + local.minute()) as u16;
        let state = s.state_at(tz, instant);
        assert_eq!(
            state.is_open(),
            expected_open(local.date_naive(), minute),
            "{local}"
        );
        if state.is_open() {
            open += 1;
        } else {
            closed += 1;
        }
    }
    assert_eq!(open + closed, 365 * 1440);
    assert!(open > 100_000 && closed > open);
}

/// Counts open minutes over the UTC instants of one local day.
fn open_minutes_on(tz: Tz, date: NaiveDate, s: &Schedule) -> (u32, u32) {
    let start = tz
        .from_local_datetime(&date.and_hms_opt(0, 0, 0).unwrap())
        .earliest()
        .unwrap();
    let end = tz
        .from_local_datetime(&(date + Duration::days(1)).and_hms_opt(0, 0, 0).unwrap())
        .earliest()
        .unwrap();
    let mut t: DateTime<Tz> = start;
    let (mut open, mut total) = (0, 0);
    while t < end {
        open += u32::from(s.state_at(tz, t.fixed_offset()).is_open());
        total += 1;
        t += Duration::minutes(1);
    }
    (open, total)
}

/// DST days: the day is 23 or 25 hours long, the opening hours stay 9.5 hours, and a
/// night closing over the changed hour is counted in real minutes.
#[test]
fn dst_days_berlin_and_new_york() {
    let s = office();
    let night = Schedule {
        name: "night".into(),
        closed: vec![ClosingEntry::range(
            &[Weekday::Sun],
            TimeOfDay::hm(1, 0).unwrap(),
            TimeOfDay::hm(4, 0).unwrap(),
        )],
        holidays: vec![],
        when_closed: ClosedAction::Voicemail {
            mailbox: "100".into(),
        },
    };
    let cases = [
        ("Europe/Berlin", (2026, 3, 29), 23 * 60, 2 * 60),
        ("Europe/Berlin", (2026, 10, 25), 25 * 60, 4 * 60),
        ("America/New_York", (2026, 3, 8), 23 * 60, 2 * 60),
        ("America/New_York", (2026, 11, 1), 25 * 60, 4 * 60),
    ];
    for (zone, (y, m, d), day_len, night_closed) in cases {
        let tz: Tz = zone.parse().unwrap();
        let sunday = NaiveDate::from_ymd_opt(y, m, d).unwrap();
        assert_eq!(sunday.weekday(), Weekday::Sun);
        let (open, total) = open_minutes_on(tz, sunday, &s);
        assert_eq!((open, total), (0, day_len), "{zone} {sunday}");
        let monday = sunday + Duration::days(1);
        assert_eq!(
            open_minutes_on(tz, monday, &s),
            (570, 1440),
            "{zone} {monday}"
        );
        let (open, total) = open_minutes_on(tz, sunday, &night);
        assert_eq!(total - open, night_closed, "{zone} {sunday} night closing");
    }
    // 17:29 local is open and 17:30 closed on the Monday after each change, whatever the
    // UTC offset.
    for (zone, date) in [
        ("Europe/Berlin", (2026, 3, 30)),
        ("Europe/Berlin", (2026, 10, 26)),
        ("America/New_York", (2026, 3, 9)),
        ("America/New_York", (2026, 11, 2)),
    ] {
        let tz: Tz = zone.parse().unwrap();
        let d = NaiveDate::from_ymd_opt(date.0, date.1, date.2).unwrap();
        let at = |h, m| {
            tz.from_local_datetime(&d.and_hms_opt(h, m, 0).unwrap())
                .unwrap()
                .fixed_offset()
        };
        assert!(s.state_at(tz, at(17, 29)).is_open(), "{zone}");
        assert!(!s.state_at(tz, at(17, 30)).is_open(), "{zone}");
        assert!(!s.state_at(tz, at(7, 59)).is_open(), "{zone}");
        assert!(s.state_at(tz, at(8, 0)).is_open(), "{zone}");
    }
}
