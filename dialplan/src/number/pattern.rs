//! Dial patterns: literal digits plus a few wildcards, compiled once.
//!
//! Syntax (matched against the whole number, which may start with `+`, `*` or `#`):
//! - `0`–`9`, `+`, `*`, `#`: that character;
//! - `X`: any digit, `Z`: 1–9, `N`: 2–9;
//! - `[1-5]` / `[147]`: one digit of a set;
//! - a trailing `.`: one or more further characters; a trailing `!`: zero or more.
//!
//! A pattern without a trailing `.`/`!` matches numbers of exactly its length, so `110`
//! matches only 110 while `+4917.` matches every German mobile number.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::Error;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Atom {
    Char(u8),
    /// Bit set over the digits 0–9.
    Set(u16),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tail {
    Exact,
    OneOrMore,
    ZeroOrMore,
}

/// A compiled dial pattern (see the module docs for the syntax).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Pattern {
    source: String,
    atoms: Vec<Atom>,
    tail: Tail,
}

impl Pattern {
    /// Compiles a pattern.
    pub fn parse(source: &str) -> Result<Self, Error> {
        let err = |reason| Error::InvalidPattern {
            pattern: source.to_owned(),
            reason,
        };
        let bytes = source.as_bytes();
        if bytes.is_empty() {
            return Err(err("empty"));
        }
        let mut atoms = Vec::new();
        let mut tail = Tail::Exact;
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            match b {
                b'0'..=b'9' | b'+' | b'*' | b'#' => atoms.push(Atom::Char(b)),
                b'X' | b'x' => atoms.push(Atom::Set(0x3ff)),
                b'Z' | b'z' => atoms.push(Atom::Set(0x3fe)),
                b'N' | b'n' => atoms.push(Atom::Set(0x3fc)),
                b'[' => {
                    let close = source[i..]
                        .find(']')
                        .map(|p| p + i)
                        .ok_or_else(|| err("unclosed '['"))?;
                    let set =
                        parse_set(&bytes[i + 1..close]).ok_or_else(|| err("bad digit set"))?;
                    atoms.push(Atom::Set(set));
                    i = close;
                }
                b'.' | b'!' => {
                    if i != bytes.len() - 1 {
                        return Err(err("'.' and '!' are only allowed at the end"));
                    }
                    tail = if b == b'.' {
                        Tail::OneOrMore
                    } else {
                        Tail::ZeroOrMore
                    };
                }
                _ => return Err(err("unexpected character")),
            }
            i += 1;
        }
        Ok(Self {
            source: source.to_owned(),
            atoms,
            tail,
        })
    }

    /// Does the whole `number` match?
    pub fn matches(&self, number: &str) -> bool {
        let n = number.as_bytes();
        let fixed = self.atoms.len();
        let len_ok = match self.tail {
            Tail::Exact => n.len() == fixed,
            Tail::OneOrMore => n.len() > fixed,
            Tail::ZeroOrMore => n.len() >= fixed,
        };
        len_ok
            && self.atoms.iter().zip(n).all(|(a, &c)| match *a {
                Atom::Char(x) => x == c,
                Atom::Set(s) => c.is_ascii_digit() && s & (1 << (c - b'0')) != 0,
            })
    }

    /// The literal characters before the first wildcard: `+4917` for `+4917.`.
    pub fn literal_prefix(&self) -> String {
        self.atoms
            .iter()
            .map_while(|a| match a {
                Atom::Char(c) => Some(*c as char),
                Atom::Set(_) => None,
            })
            .collect()
    }

    /// True when the pattern is its literal prefix followed by `.` or `!` (a plain prefix).
    pub fn is_plain_prefix(&self) -> bool {
        self.tail != Tail::Exact && self.atoms.iter().all(|a| matches!(a, Atom::Char(_)))
    }

    /// Number of fixed positions; more means more specific.
    pub fn specificity(&self) -> usize {
        self.atoms.len()
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }
}

fn parse_set(inner: &[u8]) -> Option<u16> {
    let mut set = 0u16;
    let mut i = 0;
    while i < inner.len() {
        let a = inner[i];
        if !a.is_ascii_digit() {
            return None;
        }
        if i + 2 < inner.len() && inner[i + 1] == b'-' {
            let b = inner[i + 2];
            if !b.is_ascii_digit() || b < a {
                return None;
            }
            for d in a..=b {
                set |= 1 << (d - b'0');
            }
            i += 3;
        } else {
            set |= 1 << (a - b'0');
            i += 1;
        }
    }
    (set != 0).then_some(set)
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl TryFrom<String> for Pattern {
    type Error = Error;
    fn try_from(s: String) -> Result<Self, Error> {
        Self::parse(&s)
    }
}

impl From<Pattern> for String {
    fn from(p: Pattern) -> String {
        p.source
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        let cases = [
            ("110", "110", true),
            ("110", "1100", false),
            ("+4917.", "+4917123", true),
            ("+4917.", "+4917", false),
            ("+4917!", "+4917", true),
            ("0[1-3]X", "025", true),
            ("0[1-3]X", "045", false),
            ("NXX", "199", false),
            ("NXX", "299", true),
            ("*59.", "*59101", true),
        ];
        for (p, n, want) in cases {
            assert_eq!(Pattern::parse(p).unwrap().matches(n), want, "{p} ~ {n}");
        }
        assert!(Pattern::parse("1.2").is_err());
        assert!(Pattern::parse("[12").is_err());
        assert!(Pattern::parse("").is_err());
        assert_eq!(Pattern::parse("+49[1]7.").unwrap().literal_prefix(), "+49");
    }
}
