//! Formatting rules: a pattern, digits to strip from the front, digits to put in front.
//! A list of rules is applied top-down; the first match wins.

use serde::{Deserialize, Serialize};

use crate::number::pattern::Pattern;

/// One formatting rule ("search/replace"): numbers matching `pattern` lose their first
/// `strip` characters and get `prepend` in front.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FormatRule {
    /// Shown by `pbx route` when the rule matched.
    pub name: String,
    /// What the rule recognises.
    pub pattern: Pattern,
    /// Characters removed from the front.
    #[serde(default)]
    pub strip: usize,
    /// Characters put in front after stripping.
    #[serde(default)]
    pub prepend: String,
}

impl FormatRule {
    /// Applies the rule when it matches.
    pub fn apply(&self, number: &str) -> Option<String> {
        if !self.pattern.matches(number) {
            return None;
        }
        let rest = number.get(self.strip..).unwrap_or("");
        Some(format!("{}{}", self.prepend, rest))
    }
}

/// Applies the first matching rule of `rules`: the new number and the rule's name.
pub fn apply_first<'a>(rules: &'a [FormatRule], number: &str) -> Option<(String, &'a str)> {
    rules
        .iter()
        .find_map(|r| r.apply(number).map(|n| (n, r.name.as_str())))
}
