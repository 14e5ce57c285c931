//! Which lines the journal counts a call as missed for (SPEC F-CDR): one rule for
//! unanswered calls, one for calls forwarded (or picked up) and answered elsewhere.

use super::db::{params, OptionalExtension};

use super::{Store, TenantId};
use crate::{Error, Result};

/// Among the lines a call reached without being answered there, which count it missed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attribution {
    Nobody,
    First,
    Last,
    All,
}

impl Attribution {
    pub fn parse(s: &str) -> Result<Attribution> {
        match s.trim().to_ascii_lowercase().as_str() {
            "nobody" | "none" => Ok(Attribution::Nobody),
            "first" => Ok(Attribution::First),
            "last" => Ok(Attribution::Last),
            "all" => Ok(Attribution::All),
            other => Err(Error::Invalid(format!(
                "attribution {other:?} must be nobody, first, last or all"
            ))),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Attribution::Nobody => "nobody",
            Attribution::First => "first",
            Attribution::Last => "last",
            Attribution::All => "all",
        }
    }

    /// The lines it picks of `lines` (in the order the call reached them).
    pub fn pick(self, lines: &[String]) -> Vec<String> {
        match self {
            Attribution::Nobody => Vec::new(),
            Attribution::First => lines.first().cloned().into_iter().collect(),
            Attribution::Last => lines.last().cloned().into_iter().collect(),
            Attribution::All => lines.to_vec(),
        }
    }
}

/// How the journal keeps the number of a private call's other party.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PrivateNumbers {
    /// In full.
    Full,
    /// Its last three digits as XXX.
    #[default]
    Masked,
    /// Not at all.
    Omitted,
}

impl PrivateNumbers {
    pub fn parse(s: &str) -> Result<PrivateNumbers> {
        match s.trim().to_ascii_lowercase().as_str() {
            "full" => Ok(PrivateNumbers::Full),
            "masked" => Ok(PrivateNumbers::Masked),
            "omitted" | "none" => Ok(PrivateNumbers::Omitted),
            other => Err(Error::Invalid(format!(
                "private numbers {other:?} must be full, masked or omitted"
            ))),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            PrivateNumbers::Full => "full",
            PrivateNumbers::Masked => "masked",
            PrivateNumbers::Omitted => "omitted",
        }
    }

    /// `number` as the journal keeps it for a private call.
    pub fn apply(self, number: &str) -> String {
        match self {
            PrivateNumbers::Full => number.to_owned(),
            PrivateNumbers::Masked => {
                let keep = number.chars().count().saturating_sub(3);
                let head: String = number.chars().take(keep).collect();
                format!("{head}XXX")
            }
            PrivateNumbers::Omitted => String::new(),
        }
    }
}

/// A tenant's attribution rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JournalRules {
    /// A call nobody answered: among the lines whose phones rang.
    pub unanswered: Attribution,
    /// A call answered by another line than the first it reached (forwarded,
    /// deflected, picked up): among the lines it reached before.
    pub forwarded: Attribution,
    /// How a private call's number is kept.
    pub private_numbers: PrivateNumbers,
}

impl Default for JournalRules {
    fn default() -> Self {
        JournalRules {
            unanswered: Attribution::All,
            forwarded: Attribution::Nobody,
            private_numbers: PrivateNumbers::Masked,
        }
    }
}

impl std::fmt::Display for JournalRules {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "unanswered={} forwarded={} private_numbers={}",
            self.unanswered.as_str(),
            self.forwarded.as_str(),
            self.private_numbers.as_str()
        )
    }
}

impl Store {
    /// The tenant's attribution rules (the defaults when never set).
    pub fn journal_rules(&self, tenant: TenantId) -> Result<JournalRules> {
        let row: Option<(String, String, String)> = self
            .conn
            .query_row(
                "SELECT unanswered, forwarded, private_numbers FROM journal_rules WHERE tenant_id = ?1",
                params![tenant],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        let d = JournalRules::default();
        Ok(match row {
            Some((u, f, p)) => JournalRules {
                unanswered: Attribution::parse(&u).unwrap_or(d.unanswered),
                forwarded: Attribution::parse(&f).unwrap_or(d.forwarded),
                private_numbers: PrivateNumbers::parse(&p).unwrap_or(d.private_numbers),
            },
            None => d,
        })
    }

    /// Changes the rules given (`None` keeps one); returns them all.
    pub fn set_journal_rules(
        &self,
        tenant: TenantId,
        (unanswered, forwarded): (Option<Attribution>, Option<Attribution>),
        private_numbers: Option<PrivateNumbers>,
    ) -> Result<JournalRules> {
        let mut r = self.journal_rules(tenant)?;
        r.unanswered = unanswered.unwrap_or(r.unanswered);
        r.forwarded = forwarded.unwrap_or(r.forwarded);
        r.private_numbers = private_numbers.unwrap_or(r.private_numbers);
        self.conn.execute(
            "INSERT INTO journal_rules (tenant_id, unanswered, forwarded, private_numbers)
             VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (tenant_id) DO UPDATE SET unanswered = ?2, forwarded = ?3,
                private_numbers = ?4",
            params![
                tenant,
                r.unanswered.as_str(),
                r.forwarded.as_str(),
                r.private_numbers.as_str()
            ],
        )?;
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_pick_among_the_lines_and_are_kept() {
        let lines = ["101".to_owned(), "102".to_owned(), "103".to_owned()];
        assert!(Attribution::Nobody.pick(&lines).is_empty());
        assert_eq!(Attribution::First.pick(&lines), ["101"]);
        assert_eq!(Attribution::Last.pick(&lines), ["103"]);
        assert_eq!(Attribution::All.pick(&lines).len(), 3);
        assert!(Attribution::parse("some").is_err());
        let mut s = Store::in_memory().unwrap();
        let t = s.add_tenant("acme", &["acme.test".into()]).unwrap();
        assert_eq!(s.journal_rules(t.id).unwrap(), JournalRules::default());
        let r = s
            .set_journal_rules(t.id, (None, Some(Attribution::First)), None)
            .unwrap();
        assert_eq!(
            r.to_string(),
            "unanswered=all forwarded=first private_numbers=masked"
        );
        let r = s
            .set_journal_rules(t.id, (None, None), Some(PrivateNumbers::Omitted))
            .unwrap();
        assert_eq!(r.forwarded, Attribution::First);
        assert_eq!(PrivateNumbers::Masked.apply("0301234567"), "0301234XXX");
        assert_eq!(PrivateNumbers::Masked.apply("12"), "XXX");
        assert_eq!(PrivateNumbers::Omitted.apply("0301234567"), "");
        assert_eq!(PrivateNumbers::Full.apply("0301234567"), "0301234567");
        assert_eq!(s.journal_rules(t.id).unwrap(), r);
    }
}
