//! A tenant's dialplan as routing uses it: the stored plan (JSON, `pbx plan set`) with
//! every stored line present as an extension whose devices are the line's registered
//! ones. `pbx route` and the running switch both read it from here, so the
//! administrator's check and a real call route on the same plan.

use super::db::params;
use super::db::OptionalExtension;
use dialplan::plan::Extension;
use dialplan::TenantPlan;

use super::{Store, TenantId};
use crate::{Error, Result};

/// What changes when the plan routing sees changes: the stored plan and the lines.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PlanVersion {
    json: Option<String>,
    lines: i64,
    last_line: i64,
}

impl Store {
    /// Sets `tenant`'s dialplan from its JSON, after checking it (the plan's own
    /// validation, and every prompt it names present below `data_dir`): refused, the
    /// error names every fault and nothing changes. `pbx plan set` and the API both
    /// come here.
    pub fn set_plan(
        &mut self,
        tenant: &super::Tenant,
        json: &str,
        data_dir: &std::path::Path,
    ) -> Result<()> {
        let mut plan = TenantPlan::from_json(json)
            .map_err(|e| Error::Invalid(format!("not a dialplan: {e}")))?;
        // Checked as routing reads it: the tenant's lines are its extensions too.
        for line in self.lines(tenant.id)? {
            if !plan.extensions.iter().any(|e| e.number == line.ext) {
                plan.extensions.push(line_extension(line, None));
            }
        }
        let mut faults: Vec<String> = match plan.validate() {
            Ok(()) => Vec::new(),
            Err(errors) => errors.iter().map(|e| e.to_string()).collect(),
        };
        faults.extend(crate::tenant::prompts::missing(
            data_dir,
            &tenant.name,
            &plan,
        ));
        if !faults.is_empty() {
            return Err(Error::Invalid(format!(
                "dialplan refused: {}",
                faults.join("; ")
            )));
        }
        self.set_dialplan_json(tenant.id, json)
    }

    /// The tenant's routing plan, or `None` when no plan was ever set.
    pub fn tenant_plan(&self, tenant: TenantId) -> Result<Option<TenantPlan>> {
        let Some(mut plan) = self.stored_plan(tenant)? else {
            return Ok(None);
        };
        for line in self.lines(tenant)? {
            if !plan.extensions.iter().any(|e| e.number == line.ext) {
                plan.extensions.push(line_extension(line, None));
            }
        }
        Ok(Some(plan))
    }

    /// The stored dialplan as it was set (no lines added), if any.
    pub(crate) fn stored_plan(&self, tenant: TenantId) -> Result<Option<TenantPlan>> {
        self.dialplan_json(tenant)?
            .map(|json| {
                TenantPlan::from_json(&json)
                    .map_err(|e| Error::Invalid(format!("stored dialplan is unreadable: {e}")))
            })
            .transpose()
    }

    /// The plan stored for `tenant`, if it has one.
    pub fn stored_plan_of(&self, tenant: TenantId) -> Result<Option<TenantPlan>> {
        self.stored_plan(tenant)
    }

    /// Stores a changed plan, checked like `pbx plan set` checks one.
    pub(crate) fn save_plan(&mut self, tenant: TenantId, plan: &TenantPlan) -> Result<()> {
        if let Err(errors) = plan.validate() {
            let list: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
            return Err(Error::Invalid(format!(
                "dialplan refused: {}",
                list.join("; ")
            )));
        }
        let json = serde_json::to_string(plan).map_err(|e| Error::Invalid(e.to_string()))?;
        self.set_dialplan_json(tenant, &json)
    }

    /// A cheap fingerprint of what `tenant_plan` reads: when it is unchanged, the plan
    /// compiled from it last time still holds.
    pub fn plan_version(&self, tenant: TenantId) -> Result<PlanVersion> {
        let json = self.dialplan_json(tenant)?;
        let (lines, last_line) = self
            .conn
            .query_row(
                "SELECT count(*), coalesce(max(rowid), 0) FROM lines WHERE tenant_id = ?1",
                params![tenant],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?
            .unwrap_or((0, 0));
        Ok(PlanVersion {
            json,
            lines,
            last_line,
        })
    }
}

impl Store {
    /// Puts line `ext` in line group `group` (`default` takes it out of any other).
    /// Line groups live in the tenant's dialplan, so the tenant must have one; a line
    /// the plan does not list yet is added to it as an extension.
    pub fn set_line_group(&mut self, tenant: TenantId, ext: &str, group: &str) -> Result<()> {
        let Some(mut plan) = self.stored_plan(tenant)? else {
            return Err(Error::Invalid(
                "the tenant has no dialplan: line groups live in it (pbx plan set)".into(),
            ));
        };
        let group = (group != dialplan::plan::DEFAULT_GROUP).then(|| group.to_owned());
        match plan.extensions.iter_mut().find(|e| e.number == ext) {
            Some(e) => e.line_group = group,
            None => {
                let line = self.line(tenant, ext)?.ok_or_else(|| {
                    Error::Invalid(format!("{ext:?} is not an extension of this tenant"))
                })?;
                plan.extensions.push(line_extension(line, group));
            }
        }
        self.save_plan(tenant, &plan)
    }
}

/// A stored line as an extension of the plan: it rings its registered devices.
pub(super) fn line_extension(line: super::LineRecord, line_group: Option<String>) -> Extension {
    Extension {
        name: line.display_name.unwrap_or_default(),
        devices: vec![registered_devices(&line.ext)],
        number: line.ext,
        voicemail: true,
        class: Default::default(),
        premium_allowed: false,
        line_group,
    }
}

/// How a stored line's devices appear in the plan: whatever is registered for it.
pub fn registered_devices(ext: &str) -> String {
    format!("registered devices of {ext}")
}

/// A plan with the demo's time zone, location and trunk and nothing else (tests).
#[cfg(test)]
pub(super) fn bare_plan(name: &str) -> String {
    let mut p = TenantPlan::demo();
    p.name = name.into();
    p.extensions.clear();
    p.groups.clear();
    p.queues.clear();
    p.ivrs.clear();
    p.conferences.clear();
    p.schedules.clear();
    p.schedule = None;
    p.drop_off = None;
    p.pickup_groups.clear();
    p.ddi_numbers.clear();
    p.ddi_ranges.clear();
    serde_json::to_string(&p).unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::NewLine;

    #[test]
    fn stored_lines_join_the_plan_and_changes_show_in_the_version() {
        let mut s = Store::in_memory().unwrap();
        let t = s.add_tenant("acme", &["acme.example".into()]).unwrap();
        assert!(s.tenant_plan(t.id).unwrap().is_none());
        let v0 = s.plan_version(t.id).unwrap();
        s.set_dialplan_json(t.id, &serde_json::to_string(&TenantPlan::demo()).unwrap())
            .unwrap();
        let v1 = s.plan_version(t.id).unwrap();
        assert_ne!(v0, v1);
        s.add_line(
            &t,
            &NewLine {
                ext: "150".into(),
                display_name: None,
                password: "a-long-password".into(),
            },
        )
        .unwrap();
        assert_ne!(s.plan_version(t.id).unwrap(), v1);
        let plan = s.tenant_plan(t.id).unwrap().unwrap();
        let e = plan.extensions.iter().find(|e| e.number == "150").unwrap();
        assert_eq!(e.devices, vec![registered_devices("150")]);
        // The demo's own extensions keep their entries.
        assert_eq!(
            plan.extensions.iter().filter(|e| e.number == "100").count(),
            1
        );
    }
}
