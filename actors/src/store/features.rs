//! A line's own call handling, set by its user (feature codes) or the admin
//! (`pbx line set`): do not disturb, and forwarding always, when busy, when no device
//! is registered, and when nobody answers within a delay, each to an internal number.

use std::collections::HashMap;

use rusqlite::{params, OptionalExtension};

use super::{Store, TenantId};
use crate::{Error, Result};

/// A change to a line's features: `None` leaves a setting as it is; a forwarding
/// of `Some(None)` clears it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeatureChange {
    pub dnd: Option<bool>,
    pub call_waiting: Option<bool>,
    pub anonymous: Option<bool>,
    pub always: Option<Option<String>>,
    pub busy: Option<Option<String>>,
    pub unregistered: Option<Option<String>>,
    pub no_answer: Option<Option<String>>,
    /// Seconds before forwarding on no answer (5–120; `Some(None)`: the default).
    pub no_answer_secs: Option<Option<u32>>,
}

/// What a line does with its calls besides ringing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LineFeatures {
    /// Do not disturb: callers get busy (or the busy forwarding).
    pub dnd: bool,
    /// Call waiting off: while the line is in a call, a second call gets busy (or the
    /// busy forwarding) instead of ringing as a waiting call.
    pub no_call_waiting: bool,
    /// The line's calls go out without its caller ID ("Anonymous").
    pub anonymous: bool,
    /// Every call goes there instead.
    pub always: Option<String>,
    /// Calls while the line is in a call (or on DND) go there.
    pub busy: Option<String>,
    /// Calls while no device of the line is registered go there.
    pub unregistered: Option<String>,
    /// Calls nobody answers within `no_answer_secs` go there.
    pub no_answer: Option<String>,
    /// Seconds before a call goes to `no_answer` (`None`: the default).
    pub no_answer_secs: Option<u32>,
}

/// Seconds a line rings before forwarding on no answer, unless it says otherwise.
pub const NO_ANSWER_SECS: u32 = 20;

impl LineFeatures {
    /// Where unanswered calls go and after how long, if the line forwards them.
    pub fn on_no_answer(&self) -> Option<(std::time::Duration, String)> {
        let to = self.no_answer.clone()?;
        let secs = self.no_answer_secs.unwrap_or(NO_ANSWER_SECS);
        Some((std::time::Duration::from_secs(u64::from(secs)), to))
    }
}

impl LineFeatures {
    fn is_default(&self) -> bool {
        *self == LineFeatures::default()
    }
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<LineFeatures> {
    Ok(LineFeatures {
        dnd: r.get::<_, i64>("dnd")? != 0,
        no_call_waiting: r.get::<_, i64>("no_call_waiting")? != 0,
        anonymous: r.get::<_, i64>("anonymous")? != 0,
        always: r.get("fwd_always")?,
        busy: r.get("fwd_busy")?,
        unregistered: r.get("fwd_unregistered")?,
        no_answer: r.get("fwd_no_answer")?,
        no_answer_secs: r.get("no_answer_secs")?,
    })
}

impl Store {
    /// Line `ext`'s features (the defaults when it set none).
    pub fn line_features(&self, tenant: TenantId, ext: &str) -> Result<LineFeatures> {
        let f = self
            .conn
            .query_row(
                "SELECT * FROM line_features WHERE tenant_id = ?1 AND ext = ?2",
                params![tenant, ext],
                row,
            )
            .optional()?;
        Ok(f.unwrap_or_default())
    }

    /// The features of every line of `tenant` that set any.
    pub fn all_line_features(&self, tenant: TenantId) -> Result<HashMap<String, LineFeatures>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT * FROM line_features WHERE tenant_id = ?1")?;
        let rows = stmt.query_map(params![tenant], |r| Ok((r.get("ext")?, row(r)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Applies `change` to line `ext`'s features, after checking every forwarding
    /// target: an extension of the tenant other than the line itself (forwarding
    /// to external numbers comes with trunks, to voicemail with mailboxes). Nothing
    /// changes when one is refused. Returns the features now in force.
    pub fn change_line_features(
        &self,
        tenant: TenantId,
        ext: &str,
        change: &FeatureChange,
    ) -> Result<LineFeatures> {
        if self.line(tenant, ext)?.is_none() {
            return Err(Error::Invalid(format!("no extension {ext} in this tenant")));
        }
        if let Some(Some(secs)) = change.no_answer_secs {
            if !(5..=120).contains(&secs) {
                return Err(Error::Invalid(format!(
                    "no-answer delay {secs} s: it must be 5 to 120 seconds"
                )));
            }
        }
        let targets = [
            &change.always,
            &change.busy,
            &change.unregistered,
            &change.no_answer,
        ];
        for to in targets.into_iter().flatten().flatten() {
            if to == ext {
                return Err(Error::Invalid(format!(
                    "extension {ext} cannot forward to itself"
                )));
            }
            if self.line(tenant, to)?.is_none() {
                return Err(Error::Invalid(format!(
                    "cannot forward to {to}: not an extension of this tenant \
                     (forwarding to external numbers needs a trunk)"
                )));
            }
        }
        let mut f = self.line_features(tenant, ext)?;
        if let Some(on) = change.dnd {
            f.dnd = on;
        }
        if let Some(on) = change.call_waiting {
            f.no_call_waiting = !on;
        }
        if let Some(on) = change.anonymous {
            f.anonymous = on;
        }
        if let Some(to) = &change.always {
            f.always = to.clone();
        }
        if let Some(to) = &change.busy {
            f.busy = to.clone();
        }
        if let Some(to) = &change.unregistered {
            f.unregistered = to.clone();
        }
        if let Some(to) = &change.no_answer {
            f.no_answer = to.clone();
        }
        if let Some(secs) = change.no_answer_secs {
            f.no_answer_secs = secs;
        }
        self.set_line_features(tenant, ext, &f)?;
        Ok(f)
    }

    /// Stores line `ext`'s features (the defaults remove its row).
    pub fn set_line_features(&self, tenant: TenantId, ext: &str, f: &LineFeatures) -> Result<()> {
        if f.is_default() {
            self.conn.execute(
                "DELETE FROM line_features WHERE tenant_id = ?1 AND ext = ?2",
                params![tenant, ext],
            )?;
            return Ok(());
        }
        self.conn.execute(
            "INSERT INTO line_features (tenant_id, ext, dnd, fwd_always, fwd_busy,
                fwd_unregistered, fwd_no_answer, no_answer_secs, no_call_waiting, anonymous)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
             ON CONFLICT (tenant_id, ext) DO UPDATE SET dnd = ?3, fwd_always = ?4,
                fwd_busy = ?5, fwd_unregistered = ?6, fwd_no_answer = ?7,
                no_answer_secs = ?8, no_call_waiting = ?9, anonymous = ?10",
            params![
                tenant,
                ext,
                f.dnd,
                f.always,
                f.busy,
                f.unregistered,
                f.no_answer,
                f.no_answer_secs,
                f.no_call_waiting,
                f.anonymous
            ],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::NewLine;

    #[test]
    fn features_are_kept_and_defaults_leave_no_row() {
        let mut s = Store::in_memory().unwrap();
        let t = s.add_tenant("acme", &["acme.test".into()]).unwrap();
        let line = NewLine {
            ext: "101".into(),
            display_name: None,
            password: "secret1".into(),
        };
        s.add_line(&t, &line).unwrap();
        assert_eq!(
            s.line_features(t.id, "101").unwrap(),
            LineFeatures::default()
        );
        let f = LineFeatures {
            dnd: true,
            always: Some("102".into()),
            ..Default::default()
        };
        s.set_line_features(t.id, "101", &f).unwrap();
        assert_eq!(s.line_features(t.id, "101").unwrap(), f);
        assert_eq!(s.all_line_features(t.id).unwrap().len(), 1);
        s.set_line_features(t.id, "101", &LineFeatures::default())
            .unwrap();
        assert!(s.all_line_features(t.id).unwrap().is_empty());
        // Targets are checked; a refused change stores nothing.
        let to = |n: &str| FeatureChange {
            dnd: Some(true),
            always: Some(Some(n.into())),
            ..Default::default()
        };
        let err = s
            .change_line_features(t.id, "101", &to("0301234"))
            .unwrap_err();
        assert!(err.to_string().contains("not an extension"), "{err}");
        let err = s.change_line_features(t.id, "101", &to("101")).unwrap_err();
        assert!(err.to_string().contains("itself"), "{err}");
        assert_eq!(
            s.line_features(t.id, "101").unwrap(),
            LineFeatures::default()
        );
    }
}
