//! The crate's one error type.

use crate::validate::ValidationError;

/// Everything that can go wrong in the dialplan: malformed input and bad configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A number was empty (or held nothing but separators).
    #[error("{what} is empty")]
    EmptyNumber {
        /// Which number: "caller", "dialled number", …
        what: &'static str,
    },
    /// A character that is neither a digit, `+`, `*`, `#` nor a vanity letter.
    #[error("{what} {input:?}: unexpected character {ch:?} at position {pos}")]
    InvalidCharacter {
        /// Which number.
        what: &'static str,
        /// The input as given.
        input: String,
        /// The offending character.
        ch: char,
        /// Its character position.
        pos: usize,
    },
    /// Letters in a number that is not a configured vanity number.
    #[error("{what} {input:?}: letters are only allowed after a vanity code ({allowed})")]
    NotVanity {
        /// Which number.
        what: &'static str,
        /// The input as given.
        input: String,
        /// The vanity codes of the location, for the message.
        allowed: String,
    },
    /// A `+` somewhere other than the start of a number.
    #[error("{what} {input:?}: '+' is only allowed as the first character")]
    MisplacedPlus {
        /// Which number.
        what: &'static str,
        /// The input as given.
        input: String,
    },
    /// A super-canonical number that is not `+` followed by digits.
    #[error("{input:?} is not a super-canonical number (+<country><area><number>, digits only)")]
    NotCanonical {
        /// The input as given.
        input: String,
    },
    /// No shipped country data for this country code.
    #[error("no country data for country code +{0}")]
    UnknownCountry(String),
    /// A shipped country data file failed to parse (a bug in the crate).
    #[error("country data file {file}: {reason}")]
    CountryData {
        /// File name.
        file: &'static str,
        /// Parser message.
        reason: String,
    },
    /// A dial pattern that cannot be compiled.
    #[error("invalid pattern {pattern:?}: {reason}")]
    InvalidPattern {
        /// The pattern as configured.
        pattern: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// An unknown IANA time zone name.
    #[error("unknown IANA time zone {0:?}")]
    InvalidTimeZone(String),
    /// A subnet that is not CIDR notation.
    #[error("invalid subnet {0:?} (expected CIDR, e.g. 10.12.13.0/24)")]
    InvalidSubnet(String),
    /// A time of day that is not HH:MM.
    #[error("invalid time of day {0:?} (expected HH:MM)")]
    InvalidTime(String),
    /// The tenant plan failed validation.
    #[error("tenant plan is invalid: {}", join(.0))]
    InvalidPlan(Vec<ValidationError>),
}

fn join(errors: &[ValidationError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}
