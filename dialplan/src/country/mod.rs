//! Country numbering data (prefixes, emergency and special numbers, premium ranges), kept
//! as JSON data files and compiled into the crate.

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::number::pattern::Pattern;

/// The numbering facts of one country (or of a shared plan such as NANP).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CountryData {
    /// English name.
    pub name: String,
    /// ISO 3166 codes sharing this plan.
    pub iso: Vec<String>,
    /// Country calling code without `+`.
    pub country_code: String,
    /// Trunk prefix for national calls (`0`; NANP `1`; empty for IT and ES).
    pub national_prefix: String,
    /// International call prefix (`00`; NANP `011`).
    pub international_prefix: String,
    /// The area code must always be dialled (no local dialling).
    pub closed_numbering: bool,
    /// Length of every national significant number, where fixed.
    pub nsn_fixed: Option<usize>,
    /// Reserved emergency numbers.
    pub emergency: Vec<String>,
    /// Special numbers, never made international (patterns).
    pub special: Vec<Pattern>,
    /// Premium-rate prefixes of the national significant number.
    pub premium: Vec<String>,
    /// Mobile prefixes of the national significant number.
    pub mobile: Vec<String>,
    /// Default vanity codes (national significant number prefixes).
    pub vanity: Vec<String>,
}

const FILES: [(&str, &str); 9] = [
    ("de.json", include_str!("data/de.json")),
    ("at.json", include_str!("data/at.json")),
    ("ch.json", include_str!("data/ch.json")),
    ("gb.json", include_str!("data/gb.json")),
    ("fr.json", include_str!("data/fr.json")),
    ("nanp.json", include_str!("data/nanp.json")),
    ("nl.json", include_str!("data/nl.json")),
    ("it.json", include_str!("data/it.json")),
    ("es.json", include_str!("data/es.json")),
];

fn load() -> Result<Vec<CountryData>, Error> {
    FILES
        .iter()
        .map(|(file, text)| {
            serde_json::from_str(text).map_err(|e| Error::CountryData {
                file,
                reason: e.to_string(),
            })
        })
        .collect()
}

/// Every shipped country, parsed once.
pub fn all() -> Result<&'static [CountryData], Error> {
    static TABLE: OnceLock<Result<Vec<CountryData>, Error>> = OnceLock::new();
    match TABLE.get_or_init(load) {
        Ok(v) => Ok(v),
        Err(e) => Err(e.clone()),
    }
}

/// The country with calling code `code` (without `+`).
pub fn by_code(code: &str) -> Result<&'static CountryData, Error> {
    all()?
        .iter()
        .find(|c| c.country_code == code)
        .ok_or_else(|| Error::UnknownCountry(code.to_owned()))
}

/// The shipped country whose calling code starts the digits of a canonical number.
pub fn for_digits(digits: &str) -> Option<&'static CountryData> {
    let table = all().ok()?;
    (1..=3).rev().find_map(|n| {
        let cc = digits.get(..n)?;
        table.iter().find(|c| c.country_code == cc)
    })
}

impl CountryData {
    /// Is the national significant number `nsn` premium-rate?
    pub fn is_premium(&self, nsn: &str) -> bool {
        self.premium.iter().any(|p| nsn.starts_with(p.as_str()))
    }

    /// Is `number` (as dialled, without prefixes) one of this country's special numbers?
    pub fn is_special(&self, number: &str) -> bool {
        self.special.iter().any(|p| p.matches(number))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_files_parse_and_codes_are_unique() {
        let t = all().unwrap();
        assert_eq!(t.len(), 9);
        for c in t {
            assert_eq!(
                t.iter()
                    .filter(|o| o.country_code == c.country_code)
                    .count(),
                1
            );
            for e in &c.emergency {
                assert!(c.is_special(e), "{}: emergency {e} must be special", c.name);
            }
        }
        assert_eq!(by_code("49").unwrap().emergency, ["110", "112"]);
        assert_eq!(for_digits("12125551234").unwrap().iso, ["US", "CA"]);
        assert!(by_code("999").is_err());
    }
}
