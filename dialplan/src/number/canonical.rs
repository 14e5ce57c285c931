//! The super-canonical number: `+<country><area><number>`, digits only.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::Error;

/// A super-canonical number (`+49301234567`). Always `+` followed by 3–18 digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Canonical(String);

impl Canonical {
    /// Parses a super-canonical number; separators (space, `-`, `/`, `(`, `)`, `.`) are
    /// ignored, anything else but digits after the `+` is an error.
    pub fn parse(input: &str) -> Result<Self, Error> {
        let mut out = String::with_capacity(input.len());
        for (i, ch) in input.trim().chars().enumerate() {
            match ch {
                '+' if i == 0 => out.push('+'),
                '0'..='9' => out.push(ch),
                ' ' | '-' | '/' | '(' | ')' | '.' => {}
                _ => {
                    return Err(Error::NotCanonical {
                        input: input.to_owned(),
                    })
                }
            }
        }
        Self::from_digits_checked(out, input)
    }

    /// Builds `+` + `digits`; `digits` must be digits only.
    pub fn from_digits(digits: &str) -> Result<Self, Error> {
        Self::from_digits_checked(format!("+{digits}"), digits)
    }

    fn from_digits_checked(s: String, input: &str) -> Result<Self, Error> {
        let ok = s.starts_with('+')
            && (4..=19).contains(&s.len())
            && s[1..].bytes().all(|b| b.is_ascii_digit());
        if ok {
            Ok(Self(s))
        } else {
            Err(Error::NotCanonical {
                input: input.to_owned(),
            })
        }
    }

    /// The number with its `+`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The digits after the `+`.
    pub fn digits(&self) -> &str {
        &self.0[1..]
    }
}

impl fmt::Display for Canonical {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Canonical {
    type Error = Error;
    fn try_from(s: String) -> Result<Self, Error> {
        Self::parse(&s)
    }
}

impl From<Canonical> for String {
    fn from(c: Canonical) -> String {
        c.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects() {
        assert_eq!(
            Canonical::parse("+49 (30) 1234-567").unwrap().as_str(),
            "+49301234567"
        );
        assert!(Canonical::parse("49301234567").is_err());
        assert!(Canonical::parse("+49a").is_err());
        assert!(Canonical::parse("+").is_err());
    }
}
