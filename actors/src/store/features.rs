//! A line's own call handling, set by its user (feature codes) or the admin
//! (`pbx line set`): do not disturb, call waiting, forwarding always, when busy, when
//! no device is registered, and when nobody answers within a delay (each to an
//! internal number, for internal and external callers alike or apart), the
//! administrator's forwarding over the user's, and the caller ID its calls show
//! (anonymous, or another number of its user; fixed by the administrator or not).

use std::collections::HashMap;

use super::db::{params, OptionalExtension};

use super::{Store, TenantId};
use crate::{Error, Result};

/// Where a line forwards its calls, under each condition (`None`: not forwarded).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Forwards {
    /// Every call goes there instead.
    pub always: Option<String>,
    /// Calls while the line is in a call (or on DND) go there.
    pub busy: Option<String>,
    /// Calls while no device of the line is registered go there.
    pub unregistered: Option<String>,
    /// Calls nobody answers within the no-answer delay go there.
    pub no_answer: Option<String>,
}

/// A change to some forwardings: `None` leaves one as it is, `Some(None)` clears it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ForwardsChange {
    pub always: Option<Option<String>>,
    pub busy: Option<Option<String>>,
    pub unregistered: Option<Option<String>>,
    pub no_answer: Option<Option<String>>,
}

impl ForwardsChange {
    fn targets(&self) -> impl Iterator<Item = &String> {
        [
            &self.always,
            &self.busy,
            &self.unregistered,
            &self.no_answer,
        ]
        .into_iter()
        .flatten()
        .flatten()
    }

    fn is_empty(&self) -> bool {
        *self == ForwardsChange::default()
    }

    /// True when it sets (not only clears) a forwarding.
    pub fn sets_any(&self) -> bool {
        self.targets().next().is_some()
    }

    fn apply(&self, f: &mut Forwards) {
        let set = |to: &mut Option<String>, change: &Option<Option<String>>| {
            if let Some(c) = change {
                to.clone_from(c);
            }
        };
        set(&mut f.always, &self.always);
        set(&mut f.busy, &self.busy);
        set(&mut f.unregistered, &self.unregistered);
        set(&mut f.no_answer, &self.no_answer);
    }
}

/// Who is calling, for the forwardings that differ between them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CallerKind {
    /// A line or device of the tenant.
    #[default]
    Internal,
    /// A caller from outside (through a trunk).
    External,
}

/// Which callers a forwarding change is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ForwardScope {
    /// Everyone: the forwarding for internal callers, and the one for external callers
    /// too when the line keeps them apart.
    #[default]
    All,
    /// Internal callers only (external callers keep what they had).
    Internal,
    /// External callers only (internal callers keep what they had).
    External,
}

/// A change to a line's features: `None` leaves a setting as it is; a forwarding
/// of `Some(None)` clears it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeatureChange {
    pub dnd: Option<bool>,
    pub call_waiting: Option<bool>,
    pub anonymous: Option<bool>,
    pub forwards: ForwardsChange,
    /// Which callers `forwards` is for.
    pub scope: ForwardScope,
    /// External callers are forwarded as internal ones again (their own set dropped).
    pub same_for_external: bool,
    /// Seconds before forwarding on no answer (5–120; `Some(None)`: the default).
    pub no_answer_secs: Option<Option<u32>>,
    /// The administrator's forwarding of every call, over the user's own.
    pub admin_forward: Option<Option<String>>,
    /// The number the line's calls show (`Some(None)`: its own).
    pub caller_id: Option<Option<String>>,
    /// The administrator fixes the caller ID: the user may not change it.
    pub caller_id_fixed: Option<bool>,
    /// The line's user asks (a feature code), not the administrator: what the
    /// administrator fixed is refused.
    pub by_user: bool,
    /// The calls the line places are private.
    pub private: Option<bool>,
    /// The project code its calls are tagged with (`Some(None)`: none).
    pub project: Option<Option<String>>,
    /// Busy-lamp keys see that it rings, not who calls.
    pub blf_private: Option<bool>,
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
    /// The user's forwardings, for internal callers, and for external ones unless
    /// `external` is set.
    pub forwards: Forwards,
    /// The forwardings for external callers, when they differ.
    pub external: Option<Forwards>,
    /// Seconds before a call goes to the no-answer target (`None`: the default).
    pub no_answer_secs: Option<u32>,
    /// The administrator forwards every call there, whatever the user set.
    pub admin_forward: Option<String>,
    /// Another number of the line's user that its calls show (`None`: its own).
    pub caller_id: Option<String>,
    /// The administrator fixed the caller ID (and anonymity): the user cannot change it.
    pub caller_id_fixed: bool,
    /// The calls the line places are private (the journal keeps their number as the
    /// tenant's rules say).
    pub private: bool,
    /// The project code the line's calls are tagged with, unless dialled otherwise.
    pub project: Option<String>,
    /// Busy-lamp keys watching the line see that it rings, not who calls.
    pub blf_private: bool,
}

/// Seconds a line rings before forwarding on no answer, unless it says otherwise.
pub const NO_ANSWER_SECS: u32 = 20;

impl LineFeatures {
    /// The forwardings that apply to a caller of this kind.
    pub fn forwards(&self, from: CallerKind) -> &Forwards {
        match (from, &self.external) {
            (CallerKind::External, Some(f)) => f,
            _ => &self.forwards,
        }
    }

    /// Where every call goes instead, and why: the administrator's forwarding over
    /// the user's unconditional one.
    pub fn forwards_every_call(&self, from: CallerKind) -> Option<(&str, ForwardReason)> {
        match &self.admin_forward {
            Some(to) => Some((to, ForwardReason::Admin)),
            None => self
                .forwards(from)
                .always
                .as_deref()
                .map(|to| (to, ForwardReason::Always)),
        }
    }

    /// Where unanswered calls go and after how long, if the line forwards them.
    pub fn on_no_answer(&self, from: CallerKind) -> Option<(std::time::Duration, String)> {
        let to = self.forwards(from).no_answer.clone()?;
        let secs = self.no_answer_secs.unwrap_or(NO_ANSWER_SECS);
        Some((std::time::Duration::from_secs(u64::from(secs)), to))
    }

    fn is_default(&self) -> bool {
        *self == LineFeatures::default()
    }
}

/// Why a call went from one line to another (the journal's forward reason).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForwardReason {
    /// The administrator's forwarding.
    Admin,
    Always,
    Busy,
    Unregistered,
    NoAnswer,
    /// The ringing phone sent the call on (302).
    Deflected,
    /// A queue sent its caller on: full, or waited its longest.
    Overflow,
    /// The caller left a queue by its exit key.
    Exit,
}

impl ForwardReason {
    pub fn as_str(self) -> &'static str {
        match self {
            ForwardReason::Admin => "admin",
            ForwardReason::Always => "always",
            ForwardReason::Busy => "busy",
            ForwardReason::Unregistered => "unregistered",
            ForwardReason::NoAnswer => "no_answer",
            ForwardReason::Deflected => "deflected",
            ForwardReason::Overflow => "overflow",
            ForwardReason::Exit => "exit",
        }
    }
}

fn row(r: &super::db::Row<'_>) -> Result<LineFeatures> {
    let external = Forwards {
        always: r.get("ext_fwd_always")?,
        busy: r.get("ext_fwd_busy")?,
        unregistered: r.get("ext_fwd_unregistered")?,
        no_answer: r.get("ext_fwd_no_answer")?,
    };
    let external = (r.get::<i64>("ext_split")? != 0).then_some(external);
    Ok(LineFeatures {
        dnd: r.get::<i64>("dnd")? != 0,
        no_call_waiting: r.get::<i64>("no_call_waiting")? != 0,
        anonymous: r.get::<i64>("anonymous")? != 0,
        forwards: Forwards {
            always: r.get("fwd_always")?,
            busy: r.get("fwd_busy")?,
            unregistered: r.get("fwd_unregistered")?,
            no_answer: r.get("fwd_no_answer")?,
        },
        external,
        no_answer_secs: r.get("no_answer_secs")?,
        admin_forward: r.get("admin_forward")?,
        caller_id: r.get("caller_id")?,
        caller_id_fixed: r.get::<i64>("caller_id_fixed")? != 0,
        private: r.get::<i64>("private")? != 0,
        project: r.get("project")?,
        blf_private: r.get::<i64>("blf_private")? != 0,
    })
}

/// The forwarding target that means the line's own mailbox.
pub const VOICEMAIL: &str = "voicemail";

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
        rows.collect::<Result<_>>()
    }

    /// The numbers line `ext` may show as its caller ID: its own, and those of the
    /// other lines of its user.
    pub fn caller_ids(&self, tenant: TenantId, ext: &str) -> Result<Vec<String>> {
        let mut numbers = vec![ext.to_owned()];
        if let Some(user) = self.line_user(tenant, ext)? {
            for l in self.lines(tenant)? {
                if l.ext != ext && self.line_user(tenant, &l.ext)?.as_deref() == Some(&user) {
                    numbers.push(l.ext);
                }
            }
        }
        Ok(numbers)
    }

    /// Checks that line `ext` may show `shown` as its caller ID.
    pub fn check_caller_id(&self, tenant: TenantId, ext: &str, shown: &str) -> Result<()> {
        let numbers = self.caller_ids(tenant, ext)?;
        if numbers.iter().any(|n| n == shown) {
            return Ok(());
        }
        Err(Error::Invalid(format!(
            "line {ext} cannot show {shown}: its user's numbers are {}",
            numbers.join(", ")
        )))
    }

    /// A forwarding of line `ext` to `to`, which is no line of the tenant: the plan
    /// must route it out on a trunk as `ext` dialling it, which its permission class
    /// allows (the class is checked again on every forwarded call).
    fn check_external_forward(&self, tenant: TenantId, ext: &str, to: &str) -> Result<()> {
        let refuse = |why: String| Err(Error::Invalid(format!("cannot forward to {to}: {why}")));
        let Some(plan) = self.tenant_plan(tenant)? else {
            return refuse("not an extension of this tenant".into());
        };
        let router = dialplan::Router::new(&plan)
            .map_err(|e| Error::Invalid(format!("the stored plan does not compile: {e}")))?;
        let call = dialplan::CallContext {
            from: ext.to_owned(),
            to: to.to_owned(),
            origin: dialplan::Origin::Internal,
            source_ip: None,
        };
        let now = chrono::Utc::now().fixed_offset();
        let decision = router
            .route(&call, now)
            .map_err(|e| Error::Invalid(format!("cannot forward to {to}: {e}")))?;
        match decision.targets.first() {
            Some(dialplan::Target::Outbound { .. }) => Ok(()),
            Some(dialplan::Target::Reject { code: 403, reason }) => refuse(reason.clone()),
            Some(dialplan::Target::Emergency { .. }) => refuse("an emergency number".into()),
            _ => refuse("not an extension of this tenant, nor a number the plan routes out".into()),
        }
    }

    /// Applies `change` to line `ext`'s features, after checking every forwarding
    /// target (an extension of the tenant other than the line itself, `VOICEMAIL`, the
    /// line's own mailbox, or an external number the plan routes out and the line's
    /// permission class allows) and the caller ID (a number of the line's user). A
    /// user's change to what the administrator fixed is refused. Nothing changes when
    /// anything is refused. Returns the features now in force.
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
        let admin = change.admin_forward.iter().flatten();
        for to in change.forwards.targets().chain(admin) {
            if to == VOICEMAIL {
                if !self.mailboxes(tenant)?.contains(ext) {
                    return Err(Error::Invalid(format!(
                        "line {ext} has no mailbox to forward to (its line needs a user: pbx line set-user)"
                    )));
                }
                continue;
            }
            if to == ext {
                return Err(Error::Invalid(format!(
                    "extension {ext} cannot forward to itself"
                )));
            }
            if self.line(tenant, to)?.is_none() {
                self.check_external_forward(tenant, ext, to)?;
            }
        }
        let mut f = self.line_features(tenant, ext)?;
        if change.by_user {
            if change.admin_forward.is_some() || change.caller_id_fixed.is_some() {
                return Err(Error::Invalid(
                    "only the administrator sets that".to_owned(),
                ));
            }
            if f.caller_id_fixed && (change.caller_id.is_some() || change.anonymous.is_some()) {
                return Err(Error::Invalid(format!(
                    "the caller ID of line {ext} is fixed by the administrator"
                )));
            }
        }
        if let Some(Some(shown)) = &change.caller_id {
            self.check_caller_id(tenant, ext, shown)?;
        }
        if let Some(on) = change.dnd {
            f.dnd = on;
        }
        if let Some(on) = change.call_waiting {
            f.no_call_waiting = !on;
        }
        if let Some(on) = change.anonymous {
            f.anonymous = on;
        }
        if change.same_for_external {
            f.external = None;
        }
        if !change.forwards.is_empty() {
            // Keeping internal and external callers apart starts from what both had.
            if change.scope != ForwardScope::All && f.external.is_none() {
                f.external = Some(f.forwards.clone());
            }
            if change.scope != ForwardScope::External {
                change.forwards.apply(&mut f.forwards);
            }
            if change.scope != ForwardScope::Internal {
                if let Some(e) = &mut f.external {
                    change.forwards.apply(e);
                }
            }
        }
        if let Some(secs) = change.no_answer_secs {
            f.no_answer_secs = secs;
        }
        if let Some(to) = &change.admin_forward {
            f.admin_forward.clone_from(to);
        }
        if let Some(shown) = &change.caller_id {
            // Its own number is no choice to keep.
            f.caller_id = shown.clone().filter(|n| n != ext);
        }
        if let Some(fixed) = change.caller_id_fixed {
            f.caller_id_fixed = fixed;
        }
        if let Some(on) = change.private {
            f.private = on;
        }
        if let Some(Some(code)) = &change.project {
            if code.is_empty() || code.len() > 16 || !code.bytes().all(|b| b.is_ascii_digit()) {
                return Err(Error::Invalid(format!(
                    "project code {code:?}: 1 to 16 digits"
                )));
            }
        }
        if let Some(code) = &change.project {
            f.project.clone_from(code);
        }
        if let Some(on) = change.blf_private {
            f.blf_private = on;
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
        let e = f.external.clone().unwrap_or_default();
        self.conn.execute(
            "INSERT INTO line_features (tenant_id, ext, dnd, fwd_always, fwd_busy,
                fwd_unregistered, fwd_no_answer, no_answer_secs, no_call_waiting, anonymous,
                ext_split, ext_fwd_always, ext_fwd_busy, ext_fwd_unregistered,
                ext_fwd_no_answer, admin_forward, caller_id, caller_id_fixed, private, project, blf_private)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16,
                ?17, ?18, ?19, ?20, ?21)
             ON CONFLICT (tenant_id, ext) DO UPDATE SET dnd = ?3, fwd_always = ?4,
                fwd_busy = ?5, fwd_unregistered = ?6, fwd_no_answer = ?7,
                no_answer_secs = ?8, no_call_waiting = ?9, anonymous = ?10, ext_split = ?11,
                ext_fwd_always = ?12, ext_fwd_busy = ?13, ext_fwd_unregistered = ?14,
                ext_fwd_no_answer = ?15, admin_forward = ?16, caller_id = ?17,
                caller_id_fixed = ?18, private = ?19, project = ?20, blf_private = ?21",
            params![
                tenant,
                ext,
                f.dnd,
                f.forwards.always,
                f.forwards.busy,
                f.forwards.unregistered,
                f.forwards.no_answer,
                f.no_answer_secs,
                f.no_call_waiting,
                f.anonymous,
                f.external.is_some(),
                e.always,
                e.busy,
                e.unregistered,
                e.no_answer,
                f.admin_forward,
                f.caller_id,
                f.caller_id_fixed,
                f.private,
                f.project,
                f.blf_private,
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
            forwards: Forwards {
                always: Some("102".into()),
                ..Default::default()
            },
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
            forwards: ForwardsChange {
                always: Some(Some(n.into())),
                ..Default::default()
            },
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

    fn acme() -> (Store, TenantId) {
        let mut s = Store::in_memory().unwrap();
        let t = s.add_tenant("acme", &["acme.test".into()]).unwrap();
        for ext in ["101", "102", "103", "104"] {
            let line = NewLine {
                ext: ext.into(),
                display_name: None,
                password: "secret1".into(),
            };
            s.add_line(&t, &line).unwrap();
        }
        (s, t.id)
    }

    #[test]
    fn internal_and_external_callers_are_forwarded_apart_once_asked() {
        let (s, t) = acme();
        let fwd = |scope, to: &str| FeatureChange {
            forwards: ForwardsChange {
                always: Some(Some(to.into())),
                ..Default::default()
            },
            scope,
            ..Default::default()
        };
        let f = s
            .change_line_features(t, "101", &fwd(ForwardScope::All, "102"))
            .unwrap();
        assert_eq!(
            f.forwards(CallerKind::External).always.as_deref(),
            Some("102")
        );
        // External callers only: internal ones keep 102.
        let f = s
            .change_line_features(t, "101", &fwd(ForwardScope::External, "103"))
            .unwrap();
        assert_eq!(
            f.forwards(CallerKind::Internal).always.as_deref(),
            Some("102")
        );
        assert_eq!(
            f.forwards(CallerKind::External).always.as_deref(),
            Some("103")
        );
        // A change for all reaches both sets; the split survives a reload.
        let f = s
            .change_line_features(t, "101", &fwd(ForwardScope::All, "104"))
            .unwrap();
        assert_eq!(f, s.line_features(t, "101").unwrap());
        assert_eq!(
            f.forwards(CallerKind::External).always.as_deref(),
            Some("104")
        );
        assert!(f.external.is_some());
        let same = FeatureChange {
            same_for_external: true,
            ..Default::default()
        };
        let f = s.change_line_features(t, "101", &same).unwrap();
        assert!(f.external.is_none());
    }

    #[test]
    fn the_administrator_forwards_over_the_user_and_fixes_the_caller_id() {
        let (mut s, t) = acme();
        s.add_user(t, "ann", None).unwrap();
        s.set_line_user(t, "101", Some("ann")).unwrap();
        s.set_line_user(t, "102", Some("ann")).unwrap();
        let admin = FeatureChange {
            admin_forward: Some(Some("103".into())),
            forwards: ForwardsChange {
                always: Some(Some("104".into())),
                ..Default::default()
            },
            ..Default::default()
        };
        let f = s.change_line_features(t, "101", &admin).unwrap();
        assert_eq!(
            f.forwards_every_call(CallerKind::Internal),
            Some(("103", ForwardReason::Admin))
        );
        // The user may show another number of theirs, not anyone's.
        let shown = |n: &str, by_user| FeatureChange {
            caller_id: Some(Some(n.into())),
            by_user,
            ..Default::default()
        };
        let f = s
            .change_line_features(t, "101", &shown("102", true))
            .unwrap();
        assert_eq!(f.caller_id.as_deref(), Some("102"));
        let err = s
            .change_line_features(t, "101", &shown("103", true))
            .unwrap_err();
        assert!(err.to_string().contains("101, 102"), "{err}");
        // Fixed by the administrator: the user's choice is refused, the admin's not.
        let fix = FeatureChange {
            caller_id_fixed: Some(true),
            ..Default::default()
        };
        s.change_line_features(t, "101", &fix).unwrap();
        let err = s
            .change_line_features(t, "101", &shown("101", true))
            .unwrap_err();
        assert!(err.to_string().contains("fixed"), "{err}");
        let err = s
            .change_line_features(
                t,
                "101",
                &FeatureChange {
                    anonymous: Some(true),
                    by_user: true,
                    ..Default::default()
                },
            )
            .unwrap_err();
        assert!(err.to_string().contains("fixed"), "{err}");
        let f = s
            .change_line_features(t, "101", &shown("101", false))
            .unwrap();
        assert_eq!(f.caller_id, None);
        assert!(f.caller_id_fixed);
        assert_eq!(s.caller_ids(t, "103").unwrap(), vec!["103".to_owned()]);
    }
}
