#![allow(dead_code)]

use chrono::{DateTime, FixedOffset};
use dialplan::number::location::{ExtensionSpace, Location, LocationRules};

pub fn at(s: &str) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(s).expect("test time")
}

pub fn location(cc: &str, area: &str, base: &str, from: &str, to: &str, access: &str) -> Location {
    Location {
        country_code: cc.into(),
        area_code: area.into(),
        base_number: base.into(),
        extensions: ExtensionSpace::Range {
            from: from.into(),
            to: to.into(),
        },
        access_codes: vec![access.into()],
        national_prefix: None,
        international_prefix: None,
        always_dial_area_code: false,
        rules: LocationRules::default(),
        area_code_rules: vec![],
        vanity: None,
    }
}

/// The documents' example: base number 12345, extensions 30–69 (in Berlin).
pub fn doc_location() -> Location {
    location("49", "30", "12345", "30", "69", "0")
}

/// One location per shipped country data file.
pub fn shipped_locations() -> Vec<Location> {
    vec![
        location("49", "30", "1234567", "100", "999", "0"),
        location("43", "1", "5130", "10", "99", "0"),
        location("41", "44", "12345", "10", "99", "0"),
        location("44", "20", "7946", "1000", "1999", "9"),
        location("33", "1", "4455", "4000", "4999", "0"),
        location("1", "212", "555", "1000", "1999", "9"),
        location("31", "20", "555", "1000", "1999", "0"),
        location("39", "06", "1234", "100", "999", "0"),
        location("34", "91", "123", "1000", "1999", "0"),
    ]
}
