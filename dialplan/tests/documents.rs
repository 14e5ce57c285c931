//! The product documents' own examples, table-driven.

mod common;

use chrono::{Duration, NaiveDate, Weekday};
use common::*;
use dialplan::number::canonical::Canonical;
use dialplan::number::location::{AreaCodeRule, AreaDial, ExtensionSpace, Source, TrunkFormat};
use dialplan::number::pattern::Pattern;
use dialplan::number::rule::FormatRule;
use dialplan::number::Detection;
use dialplan::route::lcr::{Assignment, DayType, Lcr, LcrIndex, Provider, Zone};
use dialplan::schedule::{ClosedAction, ClosingEntry, Schedule, TimeOfDay};
use dialplan::Error;

fn c(s: &str) -> Canonical {
    Canonical::parse(s).unwrap()
}

/// Base number 12345 with extensions 30–69: how phone input is detected and formatted.
#[test]
fn base_number_12345_extensions_30_to_69_incoming() {
    let loc = doc_location();
    // (dialled on a phone, detection, number, canonical)
    let table: &[(&str, Detection, &str, Option<&str>)] = &[
        ("30", Detection::Internal, "30", Some("+49301234530")),
        ("69", Detection::Internal, "69", Some("+49301234569")),
        ("45", Detection::Internal, "45", Some("+49301234545")),
        // Right length, outside the DDI range: internal but not reachable from outside.
        ("25", Detection::Internal, "25", None),
        ("70", Detection::Internal, "70", None),
        (
            "01234545",
            Detection::Local,
            "+49301234545",
            Some("+49301234545"),
        ),
        (
            "0030 1234545",
            Detection::Local,
            "+49301234545",
            Some("+49301234545"),
        ),
        (
            "0040/123456",
            Detection::National,
            "+4940123456",
            Some("+4940123456"),
        ),
        (
            "00041 44 123 45 67",
            Detection::International,
            "+41441234567",
            Some("+41441234567"),
        ),
        (
            "+49 30 12345-45",
            Detection::Local,
            "+49301234545",
            Some("+49301234545"),
        ),
        (
            "+1 (30) 12345-222",
            Detection::International,
            "+13012345222",
            Some("+13012345222"),
        ),
        ("0115", Detection::Special, "115", None),
        ("11833", Detection::Special, "11833", None),
        (
            "00800 FLOWERS",
            Detection::National,
            "+498003569377",
            Some("+498003569377"),
        ),
    ];
    for (input, det, number, canonical) in table {
        let d = loc
            .normalise(input, Source::Phone, "dialled number")
            .unwrap();
        assert_eq!(d.detection, *det, "{input}");
        assert_eq!(d.number, *number, "{input}");
        assert_eq!(
            d.canonical.as_ref().map(Canonical::as_str),
            *canonical,
            "{input}"
        );
    }
    // Internal numbers inside the range and their canonical form, both ways.
    for ext in 30..=69 {
        let ext = ext.to_string();
        let canonical = loc.internal_to_canonical(&ext).unwrap();
        assert_eq!(canonical.as_str(), format!("+493012345{ext}"));
        assert_eq!(
            loc.canonical_to_internal(&canonical).as_deref(),
            Some(ext.as_str())
        );
        assert_eq!(loc.to_phone_dialable(&canonical).unwrap(), ext);
    }
    assert!(loc.internal_to_canonical("29").is_none());
    assert!(loc.internal_to_canonical("70").is_none());
}

/// Canonical → what a phone dials and what each trunk format is sent.
#[test]
fn dialling_rules_outgoing() {
    let loc = doc_location();
    let table = [
        (
            "+493012345",
            "012345",
            "+493012345",
            "03012345",
            "00493012345",
        ),
        (
            "+49301234545",
            "45",
            "+49301234545",
            "0301234545",
            "0049301234545",
        ),
        (
            "+4940123456",
            "0040123456",
            "+4940123456",
            "040123456",
            "004940123456",
        ),
        (
            "+41441234567",
            "00041441234567",
            "+41441234567",
            "0041441234567",
            "0041441234567",
        ),
    ];
    for (canonical, phone, e164, national, intl) in table {
        let x = c(canonical);
        assert_eq!(loc.to_phone_dialable(&x).unwrap(), phone);
        assert_eq!(loc.to_trunk_dialable(&x, TrunkFormat::E164).unwrap(), e164);
        assert_eq!(
            loc.to_trunk_dialable(&x, TrunkFormat::National).unwrap(),
            national
        );
        assert_eq!(
            loc.to_trunk_dialable(&x, TrunkFormat::International)
                .unwrap(),
            intl
        );
    }
    let mut always = loc.clone();
    always.always_dial_area_code = true;
    assert_eq!(
        always.to_phone_dialable(&c("+493012345")).unwrap(),
        "003012345"
    );
}

/// Area code rules (NANP): same area is a local call (7 digits), other areas are dialled
/// with 1 + area code, other countries with 011; access code 9.
#[test]
fn area_code_rules_nanp() {
    let loc = location("1", "202", "333", "5000", "5999", "9");
    let table = [
        ("+12023335678", "5678"),
        ("+12024441234", "94441234"),
        ("+13105551234", "913105551234"),
        ("+16135550100", "916135550100"),
        ("+4930123456", "90114930123456"),
    ];
    for (canonical, dial) in table {
        assert_eq!(
            loc.to_phone_dialable(&c(canonical)).unwrap(),
            dial,
            "{canonical}"
        );
        let back = loc.normalise(dial, Source::Phone, "t").unwrap();
        assert_eq!(back.canonical.unwrap().as_str(), canonical, "{dial}");
    }
    // Dialling prefix rules: +1 (202) 333-5678 matches area 202, prefix 333. Chargeable
    // numbers in the own area are dialled 1 + 10 digits; a free neighbouring area with
    // 10 digits; everything else as before.
    let mut rules = loc.clone();
    rules.area_code_rules = vec![
        AreaCodeRule {
            area: "202".into(),
            prefixes: vec!["333".into()],
            dial: AreaDial::LongDistance,
        },
        AreaCodeRule {
            area: "301".into(),
            prefixes: vec![],
            dial: AreaDial::TenDigit,
        },
        AreaCodeRule {
            area: "202".into(),
            prefixes: vec![],
            dial: AreaDial::Local,
        },
    ];
    let table = [
        ("+12023335678", "5678"),
        ("+12023345678", "93345678"),
        ("+12029995678", "99995678"),
        ("+13015551234", "93015551234"),
        ("+13105551234", "913105551234"),
    ];
    for (canonical, dial) in table {
        assert_eq!(
            rules.to_phone_dialable(&c(canonical)).unwrap(),
            dial,
            "{canonical}"
        );
        let back = rules.normalise(dial, Source::Phone, "t").unwrap();
        assert_eq!(back.canonical.unwrap().as_str(), canonical, "{dial}");
    }
    // Chargeable local number outside the own DDI range.
    assert_eq!(
        rules.to_phone_dialable(&c("+12023331234")).unwrap(),
        "912023331234"
    );
    // 10-digit dialling without the 1 is national too; 911 is special.
    let d = loc.normalise("93105551234", Source::Phone, "t").unwrap();
    assert_eq!(d.number, "+13105551234");
    assert_eq!(
        loc.normalise("911", Source::Phone, "t").unwrap().detection,
        Detection::Special
    );
    // Closed numbering (Switzerland, France): the area code is always dialled.
    let zurich = location("41", "44", "12345", "10", "99", "0");
    assert_eq!(
        zurich.to_phone_dialable(&c("+41442223344")).unwrap(),
        "00442223344"
    );
    let paris = location("33", "1", "4455", "1000", "8999", "0");
    assert_eq!(
        paris.to_phone_dialable(&c("+33155667788")).unwrap(),
        "00155667788"
    );
    // Italy keeps the leading 0 of the area code in international form.
    let rome = location("39", "06", "1234", "100", "999", "0");
    let d = rome.normalise("0 06 9876543", Source::Phone, "t").unwrap();
    assert_eq!(d.number, "+39069876543");
    assert_eq!(
        rome.to_phone_dialable(&c("+39069876543")).unwrap(),
        "0069876543"
    );
}

/// Formatting rules top-down, first match; `!` skips them; external rules beat the
/// internal length (emergency-like numbers inside the internal range).
#[test]
fn formatting_rules_and_bang() {
    let mut loc = doc_location();
    let rule = |name: &str, p: &str, strip: usize, prepend: &str| FormatRule {
        name: name.into(),
        pattern: Pattern::parse(p).unwrap(),
        strip,
        prepend: prepend.into(),
    };
    loc.rules.outgoing = vec![
        rule("cross-network 88", "88XX", 2, ""),
        rule("never", "88XX", 2, "99"),
    ];
    loc.rules.external = vec![rule("operator", "33", 2, "+4930123450")];
    let d = loc.normalise("8845", Source::Phone, "t").unwrap();
    assert_eq!(
        (d.detection, d.number.as_str()),
        (Detection::Internal, "45")
    );
    assert_eq!(d.rule.as_deref(), Some("cross-network 88"));
    let d = loc.normalise("!8845", Source::Phone, "t").unwrap();
    assert!(d.raw && d.rule.is_none());
    assert_eq!(d.detection, Detection::Local);
    let d = loc.normalise("33", Source::Phone, "t").unwrap();
    assert_eq!(d.number, "+4930123450");
    assert_eq!(d.rule.as_deref(), Some("operator"));
}

/// Malformed input is an error with a clear message.
#[test]
fn malformed_input() {
    let loc = doc_location();
    let bad: &[(&str, &str)] = &[
        ("", "is empty"),
        ("  - ", "is empty"),
        ("0", "is empty"),
        ("0HANSMEIER", "letters are only allowed after a vanity code"),
        ("0301234x", "letters are only allowed after a vanity code"),
        ("12;3", "unexpected character ';'"),
        ("49+30", "'+' is only allowed as the first character"),
        ("+", "is empty"),
    ];
    for (input, msg) in bad {
        let e = loc
            .normalise(input, Source::Phone, "dialled number")
            .unwrap_err();
        assert!(e.to_string().contains(msg), "{input:?}: {e}");
    }
    assert!(matches!(
        loc.normalise("0800HANS", Source::Phone, "x"),
        Err(Error::NotVanity { .. })
    ));
    // From a trunk, 0800 is the national vanity code.
    let d = loc.normalise("0800HANSMEIER", Source::Trunk, "x").unwrap();
    assert_eq!(d.number, "+49800426763437");
}

/// LCR: +4917 in zone 1 and +49171 in zone 2 → +4917123456789 uses zone 2; identical
/// prefixes → the zone without a provider wins; providers by time of week.
#[test]
fn lcr_longest_prefix_and_ties() {
    let lcr = Lcr {
        providers: vec![
            Provider {
                name: "Arcor".into(),
                prefix: "01070".into(),
                trunk: None,
            },
            Provider {
                name: "Tele2".into(),
                prefix: "01013".into(),
                trunk: None,
            },
        ],
        zones: vec![
            Zone {
                name: "zone 1".into(),
                prefixes: vec!["+4917".into(), "+49".into()],
            },
            Zone {
                name: "zone 2".into(),
                prefixes: vec!["+49171".into()],
            },
            Zone {
                name: "no provider".into(),
                prefixes: vec!["+4930".into()],
            },
            Zone {
                name: "berlin".into(),
                prefixes: vec!["+4930".into()],
            },
        ],
        assignments: vec![
            Assignment {
                zone: "zone 1".into(),
                day: DayType::Weekday,
                from_slot: 0,
                to_slot: 48,
                provider: "Arcor".into(),
            },
            Assignment {
                zone: "zone 2".into(),
                day: DayType::Weekday,
                from_slot: 16,
                to_slot: 36,
                provider: "Tele2".into(),
            },
            Assignment {
                zone: "berlin".into(),
                day: DayType::Weekday,
                from_slot: 0,
                to_slot: 48,
                provider: "Arcor".into(),
            },
        ],
    };
    let ix = LcrIndex::new(&lcr);
    // (number, weekday, minute, zone, provider)
    let table: &[(&str, Weekday, u16, &str, Option<&str>)] = &[
        (
            "+4917123456789",
            Weekday::Tue,
            9 * 60,
            "zone 2",
            Some("Tele2"),
        ),
        ("+4917123456789", Weekday::Tue, 7 * 60 + 59, "zone 2", None),
        ("+4917123456789", Weekday::Tue, 18 * 60, "zone 2", None),
        ("+4917123456789", Weekday::Sat, 9 * 60, "zone 2", None),
        (
            "+4917212345678",
            Weekday::Tue,
            9 * 60,
            "zone 1",
            Some("Arcor"),
        ),
        ("+4917212345678", Weekday::Sun, 9 * 60, "zone 1", None),
        (
            "+4940123456",
            Weekday::Fri,
            23 * 60 + 59,
            "zone 1",
            Some("Arcor"),
        ),
        ("+493012345", Weekday::Mon, 12 * 60, "no provider", None),
    ];
    for (number, day, minute, zone, provider) in table {
        let ch = ix.choose(&lcr, number, *day, *minute).unwrap();
        assert_eq!(ch.zone.name, *zone, "{number} {day} {minute}");
        assert_eq!(
            ch.provider.map(|p| p.name.as_str()),
            *provider,
            "{number} {day} {minute}"
        );
    }
    assert!(ix.choose(&lcr, "+4112345", Weekday::Mon, 0).is_none());
}

fn doc_schedule() -> Schedule {
    let t = |h, m| TimeOfDay::hm(h, m).unwrap();
    use Weekday::*;
    Schedule {
        name: "doc".into(),
        closed: vec![
            ClosingEntry::range(&[Mon, Tue, Wed, Thu], t(17, 30), t(8, 0)),
            ClosingEntry::range(&[Fri], t(15, 0), t(23, 59)),
            ClosingEntry::all_day(&[Sat, Sun]),
        ],
        holidays: vec![],
        when_closed: ClosedAction::Voicemail {
            mailbox: "30".into(),
        },
    }
}

/// Opening hours Mon–Thu 08:00–17:30, Fri 08:00–15:00.
pub fn open_by_hours(day: Weekday, minute: u16) -> bool {
    use Weekday::*;
    match day {
        Mon | Tue | Wed | Thu => (480..1050).contains(&minute),
        Fri => (480..900).contains(&minute),
        Sat | Sun => false,
    }
}

/// The closing-time example, minute by minute over a week.
#[test]
fn closing_times_example_minute_by_minute() {
    let s = doc_schedule();
    let monday = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
    let mut open_minutes = 0;
    for d in 0..7 {
        let date = monday + Duration::days(d);
        for minute in 0..1440u16 {
            let open = s.state_local(date, minute).is_open();
            assert_eq!(
                open,
                open_by_hours(date.weekday_(), minute),
                "{date} {minute}"
            );
            open_minutes += usize::from(open);
        }
    }
    assert_eq!(open_minutes, 4 * 570 + 420);
}

trait WeekdayOf {
    fn weekday_(&self) -> Weekday;
}

impl WeekdayOf for NaiveDate {
    fn weekday_(&self) -> Weekday {
        chrono::Datelike::weekday(self)
    }
}

/// The schedule as JSON, the way the store keeps it.
#[test]
fn schedule_json_round_trip() {
    let s = doc_schedule();
    let json = serde_json::to_string(&s).unwrap();
    assert!(json.contains("\"from\":\"17:30\""), "{json}");
    let back: Schedule = serde_json::from_str(&json).unwrap();
    assert_eq!(back, s);
    let e = ExtensionSpace::Prefixes {
        first_min: 2,
        first_max: 5,
        min_len: 2,
        max_len: 4,
    };
    for (n, internal) in [
        ("20", true),
        ("300", true),
        ("5000", true),
        ("1000", false),
        ("60", false),
        ("20000", false),
    ] {
        assert_eq!(e.has_internal_length(n), internal, "{n}");
    }
}
