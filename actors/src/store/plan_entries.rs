//! The plan one entry at a time: a hunt group, a queue, a menu, a schedule… is read,
//! put and removed by its key (a number or a name) without sending the whole plan.
//! Every change is checked as the whole plan is (`set_plan`): refused, nothing changes.

use serde_json::Value;

use super::{Store, Tenant};
use crate::{Error, Result};

/// The sections edited entry by entry, and the field each entry is known by.
pub const PLAN_SECTIONS: [(&str, &str); 9] = [
    ("groups", "number"),
    ("queues", "number"),
    ("ivrs", "number"),
    ("conferences", "number"),
    ("schedules", "name"),
    ("line_groups", "name"),
    ("pickup_groups", "name"),
    ("outbound", "name"),
    ("ddi_numbers", "number"),
];

/// The key field of `section`, if it is one of `PLAN_SECTIONS`.
pub fn section_key(section: &str) -> Option<(&'static str, &'static str)> {
    PLAN_SECTIONS.iter().copied().find(|(s, _)| *s == section)
}

fn key_of<'v>(entry: &'v Value, key: &str) -> Option<&'v str> {
    entry.get(key).and_then(Value::as_str)
}

impl Store {
    /// The stored plan as JSON. A tenant without one has no entries, and gets its plan
    /// (time zone, location) as a whole first.
    fn plan_value(&self, tenant: &Tenant) -> Result<Value> {
        match self.dialplan_json(tenant.id)? {
            Some(json) => serde_json::from_str(&json)
                .map_err(|e| Error::Invalid(format!("stored dialplan is unreadable: {e}"))),
            None => Err(Error::field(
                "plan",
                format!(
                    "tenant {} has no plan yet: set it whole first (time zone, location)",
                    tenant.name
                ),
            )),
        }
    }

    /// The entries of plan section `section`.
    pub fn plan_entries(&self, tenant: &Tenant, section: &str) -> Result<Vec<Value>> {
        let (section, _) = section_key(section)
            .ok_or_else(|| Error::field("section", format!("no plan section {section:?}")))?;
        if self.dialplan_json(tenant.id)?.is_none() {
            return Ok(Vec::new());
        }
        Ok(match self.plan_value(tenant)?.get_mut(section) {
            Some(Value::Array(a)) => std::mem::take(a),
            _ => Vec::new(),
        })
    }

    /// Puts `entry` as the entry `key` of `section` (its key field set to `key`):
    /// `true` when it is new. Refused when the plan with it is not valid.
    pub fn put_plan_entry(
        &mut self,
        tenant: &Tenant,
        (section, key): (&str, &str),
        mut entry: Value,
        data_dir: &std::path::Path,
    ) -> Result<bool> {
        let (section, key_field) = section_key(section)
            .ok_or_else(|| Error::field("section", format!("no plan section {section:?}")))?;
        let Some(fields) = entry.as_object_mut() else {
            return Err(Error::field(section, "an entry is a JSON object"));
        };
        match fields.get(key_field) {
            None => {
                fields.insert(key_field.into(), Value::from(key));
            }
            Some(k) if k.as_str() == Some(key) => {}
            Some(k) => {
                return Err(Error::field(
                    key_field,
                    format!("{key_field} {k} is not the {key:?} of the address"),
                ))
            }
        }
        let mut plan = self.plan_value(tenant)?;
        let list = plan
            .as_object_mut()
            .ok_or_else(|| Error::Invalid("stored dialplan is not an object".into()))?
            .entry(section)
            .or_insert_with(|| Value::Array(Vec::new()));
        let Value::Array(list) = list else {
            return Err(Error::Invalid(format!(
                "stored dialplan's {section} is not a list"
            )));
        };
        let created = match list.iter_mut().find(|e| key_of(e, key_field) == Some(key)) {
            Some(old) => {
                *old = entry;
                false
            }
            None => {
                list.push(entry);
                true
            }
        };
        self.store_plan_value(tenant, section, &plan, data_dir)?;
        Ok(created)
    }

    /// Removes entry `key` of `section`: `false` when there is none. Refused while the
    /// rest of the plan refers to it.
    pub fn remove_plan_entry(
        &mut self,
        tenant: &Tenant,
        (section, key): (&str, &str),
        data_dir: &std::path::Path,
    ) -> Result<bool> {
        let (section, key_field) = section_key(section)
            .ok_or_else(|| Error::field("section", format!("no plan section {section:?}")))?;
        let mut plan = self.plan_value(tenant)?;
        let Some(Value::Array(list)) = plan.get_mut(section) else {
            return Ok(false);
        };
        let before = list.len();
        list.retain(|e| key_of(e, key_field) != Some(key));
        if list.len() == before {
            return Ok(false);
        }
        self.store_plan_value(tenant, section, &plan, data_dir)?;
        Ok(true)
    }

    fn store_plan_value(
        &mut self,
        tenant: &Tenant,
        section: &'static str,
        plan: &Value,
        data_dir: &std::path::Path,
    ) -> Result<()> {
        self.set_plan(tenant, &plan.to_string(), data_dir)
            .map_err(|e| match e {
                Error::Invalid(why) => Error::field(section, why),
                e => e,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::super::NewLine;
    use super::*;
    use serde_json::json;

    fn tempdir() -> std::path::PathBuf {
        std::env::temp_dir()
    }

    #[test]
    fn a_hunt_group_is_added_changed_refused_and_removed_alone() {
        // No prompt is named: nothing is looked for below the data directory.
        let dir = tempdir();
        let mut s = Store::in_memory().unwrap();
        let t = s.add_tenant("acme", &["acme.test".into()]).unwrap();
        for ext in ["100", "101"] {
            s.add_line(
                &t,
                &NewLine {
                    ext: ext.into(),
                    display_name: None,
                    password: format!("secret{ext}"),
                },
            )
            .unwrap();
        }
        let group = json!({"name": "sales", "members": ["100"]});
        let e = s
            .put_plan_entry(&t, ("groups", "600"), group.clone(), &dir)
            .unwrap_err();
        assert!(matches!(e, Error::Field { field: "plan", .. }), "{e}");
        assert!(s.plan_entries(&t, "groups").unwrap().is_empty());
        s.set_plan(&t, &super::super::plan::bare_plan("acme"), &dir)
            .unwrap();
        let created = s
            .put_plan_entry(&t, ("groups", "600"), group, &dir)
            .unwrap();
        assert!(created);
        let changed = json!({"number": "600", "name": "sales", "members": ["100", "101"]});
        assert!(!s
            .put_plan_entry(&t, ("groups", "600"), changed, &dir)
            .unwrap());
        let listed = s.plan_entries(&t, "groups").unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0]["members"], json!(["100", "101"]));
        let plan = s.tenant_plan(t.id).unwrap().unwrap();
        assert_eq!(plan.groups[0].members, ["100", "101"], "routing reads it");

        // A member that is no line, a key that is not the address's: nothing changes.
        let bad = json!({"name": "sales", "members": ["199"]});
        let e = s
            .put_plan_entry(&t, ("groups", "600"), bad, &dir)
            .unwrap_err();
        assert!(
            matches!(&e, Error::Field { field: "groups", why } if why.contains("199")),
            "{e}"
        );
        let e = s
            .put_plan_entry(&t, ("groups", "600"), json!({"number": "601"}), &dir)
            .unwrap_err();
        assert!(matches!(
            e,
            Error::Field {
                field: "number",
                ..
            }
        ));
        assert_eq!(
            s.plan_entries(&t, "groups").unwrap()[0]["members"],
            json!(["100", "101"])
        );

        // A queue overflowing to the group keeps it.
        let queue = json!({"name": "support", "members": ["101"], "overflow": "600"});
        s.put_plan_entry(&t, ("queues", "700"), queue, &dir)
            .unwrap();
        let e = s
            .remove_plan_entry(&t, ("groups", "600"), &dir)
            .unwrap_err();
        assert!(
            matches!(
                e,
                Error::Field {
                    field: "groups",
                    ..
                }
            ),
            "{e}"
        );
        assert!(s.remove_plan_entry(&t, ("queues", "700"), &dir).unwrap());
        assert!(s.remove_plan_entry(&t, ("groups", "600"), &dir).unwrap());
        assert!(!s.remove_plan_entry(&t, ("groups", "600"), &dir).unwrap());
        assert!(matches!(
            s.plan_entries(&t, "gropus"),
            Err(Error::Field {
                field: "section",
                ..
            })
        ));
    }
}
