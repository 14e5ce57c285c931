//! Per-tenant call outcome settings (SPEC F-CALL): what a caller hears when the
//! callee has no registered device, how a device's own reject is passed on, the
//! drop-off number, and busy-on-busy.

use super::db::{params, OptionalExtension};

use super::{Store, TenantId};
use crate::{Error, Result};

/// What a caller gets when the callee has no registered device (nobody logged in).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Decline {
    /// 486 Busy Here (the SPEC's default).
    #[default]
    Busy,
    /// 480 Temporarily Unavailable.
    Unavailable,
    /// 603 Decline.
    Decline,
    /// 180 Ringing until the caller gives up or the ring time is over (then 480).
    Ring,
}

impl Decline {
    pub fn parse(s: &str) -> Result<Decline> {
        match s.trim().to_ascii_lowercase().as_str() {
            "486" => Ok(Decline::Busy),
            "480" => Ok(Decline::Unavailable),
            "603" => Ok(Decline::Decline),
            "ring" | "180" => Ok(Decline::Ring),
            other => Err(Error::Invalid(format!(
                "decline {other:?} must be 486, 480, 603 or ring"
            ))),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Decline::Busy => "486",
            Decline::Unavailable => "480",
            Decline::Decline => "603",
            Decline::Ring => "ring",
        }
    }

    /// The final response it stands for; `None` for ringing.
    pub fn response(self) -> Option<(u16, &'static str)> {
        match self {
            Decline::Busy => Some((486, "Busy Here")),
            Decline::Unavailable => Some((480, "Temporarily Unavailable")),
            Decline::Decline => Some((603, "Decline")),
            Decline::Ring => None,
        }
    }
}

/// The response a device's own reject (486, 600, 603) becomes for the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reject {
    Busy,
    Decline,
}

impl Reject {
    pub fn parse(s: &str) -> Result<Reject> {
        match s.trim() {
            "486" => Ok(Reject::Busy),
            "603" => Ok(Reject::Decline),
            other => Err(Error::Invalid(format!(
                "reject {other:?} must be 486 or 603"
            ))),
        }
    }

    pub fn response(self) -> (u16, &'static str) {
        match self {
            Reject::Busy => (486, "Busy Here"),
            Reject::Decline => (603, "Decline"),
        }
    }
}

/// A tenant's call outcome settings.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TenantSettings {
    pub decline: Decline,
    /// `None`: a device's reject reaches the caller as the device sent it.
    pub reject: Option<Reject>,
    /// The extension that takes calls to unknown numbers and to lines without a device.
    pub drop_off: Option<String>,
    /// A callee already in a call gets no second call (486 at once).
    pub busy_on_busy: bool,
}

/// A change to some of a tenant's settings; `None` leaves a setting as it is.
#[derive(Debug, Clone, Default)]
pub struct SettingsChange {
    pub decline: Option<Decline>,
    pub reject: Option<Option<Reject>>,
    /// `Some(None)` clears the drop-off number.
    pub drop_off: Option<Option<String>>,
    pub busy_on_busy: Option<bool>,
}

impl SettingsChange {
    fn apply(&self, s: &mut TenantSettings) {
        if let Some(d) = self.decline {
            s.decline = d;
        }
        if let Some(r) = self.reject {
            s.reject = r;
        }
        if let Some(d) = &self.drop_off {
            s.drop_off.clone_from(d);
        }
        if let Some(b) = self.busy_on_busy {
            s.busy_on_busy = b;
        }
    }
}

impl TenantSettings {
    /// The settings of a line group of the dialplan, with the plan's drop-off number.
    pub fn of_group(g: &dialplan::plan::LineGroup, drop_off: Option<String>) -> Self {
        use dialplan::plan::{Decline as D, Reject as R};
        TenantSettings {
            decline: match g.decline {
                D::Busy => Decline::Busy,
                D::Unavailable => Decline::Unavailable,
                D::Decline => Decline::Decline,
                D::Ring => Decline::Ring,
            },
            reject: match g.reject {
                R::AsSent => None,
                R::Busy => Some(Reject::Busy),
                R::Decline => Some(Reject::Decline),
            },
            drop_off,
            busy_on_busy: g.busy_on_busy,
        }
    }

    /// Writes the decline and reject codes and busy-on-busy into a line group.
    pub fn apply_to(&self, g: &mut dialplan::plan::LineGroup) {
        use dialplan::plan::{Decline as D, Reject as R};
        g.decline = match self.decline {
            Decline::Busy => D::Busy,
            Decline::Unavailable => D::Unavailable,
            Decline::Decline => D::Decline,
            Decline::Ring => D::Ring,
        };
        g.reject = match self.reject {
            None => R::AsSent,
            Some(Reject::Busy) => R::Busy,
            Some(Reject::Decline) => R::Decline,
        };
        g.busy_on_busy = self.busy_on_busy;
    }
}

impl std::fmt::Display for TenantSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "decline={} reject={} drop-off={} busy-on-busy={}",
            self.decline.as_str(),
            self.reject.map_or("device", |r| match r {
                Reject::Busy => "486",
                Reject::Decline => "603",
            }),
            self.drop_off.as_deref().unwrap_or("none"),
            if self.busy_on_busy { "on" } else { "off" }
        )
    }
}

impl Store {
    /// The tenant's settings (the defaults when none were ever set).
    pub fn tenant_settings(&self, tenant: TenantId) -> Result<TenantSettings> {
        let row: Option<(String, Option<u16>, Option<String>, bool)> = self
            .conn
            .query_row(
                "SELECT decline, reject, drop_off, busy_on_busy FROM tenant_settings WHERE tenant_id = ?1",
                params![tenant],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()?;
        let Some((decline, reject, drop_off, busy_on_busy)) = row else {
            return Ok(TenantSettings::default());
        };
        Ok(TenantSettings {
            decline: Decline::parse(&decline).unwrap_or_default(),
            reject: reject.and_then(|r| Reject::parse(&r.to_string()).ok()),
            drop_off,
            busy_on_busy,
        })
    }

    /// The settings routing uses for the tenant's lines: its dialplan's `default`
    /// line group and drop-off number when it has a plan, else the settings table.
    pub fn effective_settings(&self, tenant: TenantId) -> Result<TenantSettings> {
        match self.stored_plan(tenant)? {
            Some(plan) => Ok(TenantSettings::of_group(
                plan.line_group_of(""),
                plan.drop_off.clone(),
            )),
            None => self.tenant_settings(tenant),
        }
    }

    /// Applies `change`; a drop-off number must be an extension of the tenant. For a
    /// tenant with a dialplan the drop-off number is written into the plan (the one
    /// routing reads), checked like any plan change.
    pub fn set_tenant_settings(
        &mut self,
        tenant: TenantId,
        change: &SettingsChange,
    ) -> Result<TenantSettings> {
        if let Some(Some(ext)) = &change.drop_off {
            if self.line(tenant, ext)?.is_none() {
                return Err(Error::Invalid(format!(
                    "drop-off number {ext:?} is not an extension of this tenant"
                )));
            }
        }
        // A tenant with a dialplan keeps them there: the `default` line group and
        // the plan's drop-off number (what routing reads).
        if let Some(mut plan) = self.stored_plan(tenant)? {
            let mut s = TenantSettings::of_group(plan.line_group_of(""), plan.drop_off.clone());
            change.apply(&mut s);
            s.apply_to(plan.default_group_mut());
            plan.drop_off.clone_from(&s.drop_off);
            self.save_plan(tenant, &plan)?;
            return Ok(s);
        }
        let mut s = self.tenant_settings(tenant)?;
        change.apply(&mut s);
        self.conn.execute(
            "INSERT INTO tenant_settings (tenant_id, decline, reject, drop_off, busy_on_busy)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (tenant_id) DO UPDATE SET decline = ?2, reject = ?3, drop_off = ?4,
             busy_on_busy = ?5",
            params![
                tenant,
                s.decline.as_str(),
                s.reject.map(|r| r.response().0),
                s.drop_off,
                s.busy_on_busy
            ],
        )?;
        self.effective_settings(tenant)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::NewLine;

    #[test]
    fn defaults_changes_and_validation() {
        let mut s = Store::in_memory().unwrap();
        let t = s.add_tenant("acme", &["acme.example".into()]).unwrap();
        s.add_line(
            &t,
            &NewLine {
                ext: "20".into(),
                display_name: None,
                password: "secret-pw-20".into(),
            },
        )
        .unwrap();
        assert_eq!(s.tenant_settings(t.id).unwrap(), TenantSettings::default());
        assert_eq!(TenantSettings::default().decline, Decline::Busy);
        let e = s
            .set_tenant_settings(
                t.id,
                &SettingsChange {
                    drop_off: Some(Some("99".into())),
                    ..Default::default()
                },
            )
            .unwrap_err();
        assert!(e.to_string().contains("not an extension"), "{e}");
        let got = s
            .set_tenant_settings(
                t.id,
                &SettingsChange {
                    decline: Some(Decline::Ring),
                    drop_off: Some(Some("20".into())),
                    ..Default::default()
                },
            )
            .unwrap();
        // A second change keeps what it does not name.
        let got2 = s
            .set_tenant_settings(
                t.id,
                &SettingsChange {
                    reject: Some(Some(Reject::Decline)),
                    busy_on_busy: Some(true),
                    ..Default::default()
                },
            )
            .unwrap();
        assert_eq!(got.drop_off.as_deref(), Some("20"));
        assert_eq!(
            got2,
            TenantSettings {
                decline: Decline::Ring,
                reject: Some(Reject::Decline),
                drop_off: Some("20".into()),
                busy_on_busy: true,
            }
        );
        assert_eq!(s.tenant_settings(t.id).unwrap(), got2);
        assert!(Decline::parse("404").is_err());
        assert!(Reject::parse("480").is_err());
        assert_eq!(
            got2.to_string(),
            "decline=ring reject=603 drop-off=20 busy-on-busy=on"
        );
    }

    #[test]
    fn an_old_data_dir_moves_its_settings_into_the_plan() {
        let mut conn = rusqlite::Connection::open_in_memory().unwrap();
        crate::store::schema::migrate_to(&mut conn, 4).unwrap();
        let mut old = Store {
            conn: crate::store::db::Db::sqlite(conn),
            node: None,
        };
        let t = old.add_tenant("acme", &["acme.example".into()]).unwrap();
        let mut plan = serde_json::to_value(dialplan::TenantPlan::demo()).unwrap();
        plan.as_object_mut().unwrap().remove("line_groups");
        old.set_dialplan_json(t.id, &plan.to_string()).unwrap();
        old.conn
            .execute(
                "INSERT INTO tenant_settings (tenant_id, decline, reject, drop_off, busy_on_busy) VALUES (?1, 'ring', 603, '105', 1)",
                params![t.id],
            )
            .unwrap();
        crate::store::schema::migrate(old.conn.as_sqlite_mut().unwrap()).unwrap();
        let plan = old.stored_plan(t.id).unwrap().unwrap();
        assert_eq!(plan.drop_off.as_deref(), Some("105"));
        let g = plan.line_group_of("100");
        assert_eq!(g.decline, dialplan::plan::Decline::Ring);
        assert_eq!(g.reject, dialplan::plan::Reject::Decline);
        assert!(g.busy_on_busy);
        let s = old.effective_settings(t.id).unwrap();
        assert_eq!(
            s.to_string(),
            "decline=ring reject=603 drop-off=105 busy-on-busy=on"
        );
        // A change goes into the plan too.
        old.set_tenant_settings(
            t.id,
            &SettingsChange {
                decline: Some(Decline::Unavailable),
                ..Default::default()
            },
        )
        .unwrap();
        let plan = old.stored_plan(t.id).unwrap().unwrap();
        assert_eq!(
            plan.line_group_of("100").decline,
            dialplan::plan::Decline::Unavailable
        );
        assert_eq!(plan.line_groups.len(), 1);
    }
}
