//! Removing what an administrator added: a line, a person, a provisioned phone, a
//! whole tenant. Each removal is one transaction, refused (nothing changed) while
//! something else still needs the object: a line the plan routes to, a person… The
//! journal keeps its rows (history outlives the line; retention removes them).

use super::db::{params, OptionalExtension};

use super::{Store, TenantId};
use crate::{Error, Result};

impl Store {
    /// Removes line `ext` with its devices, settings, registrations, voicemail, agent
    /// logins and user keys; busy-lamp keys on provisioned phones watching it go too.
    /// Refused while the tenant's plan still needs it (a member of a group or queue,
    /// the target of a menu choice or a DDI…): the refusal lists where.
    pub fn remove_line(&mut self, tenant: TenantId, ext: &str) -> Result<()> {
        if self.line(tenant, ext)?.is_none() {
            return Err(Error::field("ext", format!("no line {ext}")));
        }
        if let Some(mut plan) = self.stored_plan(tenant)? {
            plan.extensions.retain(|e| e.number != ext);
            for l in self.lines(tenant)? {
                if l.ext != ext && !plan.extensions.iter().any(|e| e.number == l.ext) {
                    plan.extensions.push(super::plan::line_extension(l, None));
                }
            }
            if let Err(errors) = plan.validate() {
                let uses: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
                return Err(Error::field(
                    "ext",
                    format!("line {ext} is still used: {}", uses.join("; ")),
                ));
            }
        }
        // The stored plan no longer lists it (its line group, its name).
        let plan = without_extension(self.stored_plan(tenant)?, ext)
            .map(|p| serde_json::to_string(&p))
            .transpose()
            .map_err(|e| Error::Invalid(e.to_string()))?;
        let tx = self.conn.transaction()?;
        if let Some(json) = plan {
            tx.execute(
                "UPDATE tenants SET dialplan = ?2 WHERE id = ?1",
                params![tenant, json],
            )?;
        }
        let files: Vec<String> = tx
            .prepare("SELECT file FROM voicemail WHERE tenant_id = ?1 AND mailbox = ?2")?
            .query_map(params![tenant, ext], |r| r.get(0))?
            .collect::<Result<_>>()?;
        for f in &files {
            // A mail not sent yet would attach a file that is gone: it goes too.
            tx.execute(
                "DELETE FROM mail_outbox WHERE attachment = ?1 AND sent_at IS NULL",
                params![f],
            )?;
        }
        // A phone with an account on the line goes whole (a DECT base's or an
        // adapter's other accounts with it): half a phone would keep registering.
        let phones: Vec<String> = tx
            .prepare(
                "SELECT p.mac FROM provisioning p JOIN devices d
                   ON d.tenant_id = p.tenant_id AND d.username = p.device
                 WHERE p.tenant_id = ?1 AND d.ext = ?2
                 UNION SELECT a.mac FROM phone_accounts a JOIN devices d
                   ON d.tenant_id = ?1 AND d.username = a.device
                 WHERE d.ext = ?2",
            )?
            .query_map(params![tenant, ext], |r| r.get(0))?
            .collect::<Result<_>>()?;
        for mac in &phones {
            tx.execute(
                "DELETE FROM devices WHERE tenant_id = ?1 AND username IN
                   (SELECT device FROM phone_accounts WHERE mac = ?2
                    UNION SELECT device FROM provisioning WHERE mac = ?2)",
                params![tenant, mac],
            )?;
            tx.execute("DELETE FROM provisioning WHERE mac = ?1", params![mac])?;
        }
        for sql in [
            "DELETE FROM voicemail WHERE tenant_id = ?1 AND mailbox = ?2",
            "DELETE FROM voicemail_pins WHERE tenant_id = ?1 AND mailbox = ?2",
            "DELETE FROM agent_states WHERE tenant_id = ?1 AND ext = ?2",
            "DELETE FROM api_keys WHERE tenant_id = ?1 AND scope = 'user' AND line = ?2",
            "DELETE FROM web_accounts WHERE tenant_id = ?1 AND role = 'user' AND line = ?2",
            // Devices, settings, bindings and logouts go with the line (foreign keys).
            "DELETE FROM lines WHERE tenant_id = ?1 AND ext = ?2",
        ] {
            tx.execute(sql, params![tenant, ext])?;
        }
        // Busy-lamp keys watching the line.
        let watching: Vec<(String, String)> = tx
            .prepare("SELECT mac, blf FROM provisioning WHERE tenant_id = ?1 AND blf != ''")?
            .query_map(params![tenant], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_>>()?;
        for (mac, blf) in watching {
            let kept: Vec<&str> = blf.split(',').filter(|b| *b != ext).collect();
            if kept.len() != blf.split(',').count() {
                tx.execute(
                    "UPDATE provisioning SET blf = ?2 WHERE mac = ?1",
                    params![mac, kept.join(",")],
                )?;
            }
        }
        tx.commit()?;
        remove_files(&files);
        Ok(())
    }

    /// Removes person `name`; their lines stay, without a person.
    pub fn remove_user(&mut self, tenant: TenantId, name: &str) -> Result<()> {
        let id: Option<i64> = self
            .conn
            .query_row(
                "SELECT id FROM users WHERE tenant_id = ?1 AND name = ?2",
                params![tenant, name],
                |r| r.get(0),
            )
            .optional()?;
        let Some(id) = id else {
            return Err(Error::field("name", format!("no person {name:?}")));
        };
        let tx = self.conn.transaction()?;
        tx.execute(
            "DELETE FROM missed_call_mails WHERE tenant_id = ?1 AND user_id = ?2",
            params![tenant, id],
        )?;
        tx.execute("DELETE FROM users WHERE id = ?1", params![id])?;
        tx.commit()?;
        Ok(())
    }

    /// Forgets the provisioned phone `mac` and its device accounts; returns the lines
    /// they belonged to.
    pub fn remove_phone(&mut self, tenant: TenantId, mac: &str) -> Result<Vec<String>> {
        let mac = super::provisioning::normalise_mac(mac)
            .ok_or_else(|| Error::field("mac", format!("mac {mac:?}: 12 hex digits")))?;
        let devices = self.phone_devices(tenant, &mac)?;
        if devices.is_empty() {
            return Err(Error::field("mac", format!("no phone {mac}")));
        }
        let tx = self.conn.transaction()?;
        let mut lines = Vec::new();
        for d in &devices {
            if let Some(ext) = tx
                .query_row(
                    "DELETE FROM devices WHERE tenant_id = ?1 AND username = ?2 RETURNING ext",
                    params![tenant, d],
                    |r| r.get::<String>(0),
                )
                .optional()?
            {
                if !lines.contains(&ext) {
                    lines.push(ext);
                }
            }
        }
        tx.execute("DELETE FROM phone_accounts WHERE mac = ?1", params![&mac])?;
        tx.execute("DELETE FROM provisioning WHERE mac = ?1", params![&mac])?;
        tx.commit()?;
        Ok(lines)
    }

    /// Removes tenant `name` and everything it has (lines, plan, keys, voicemail,
    /// trunks…) but its journal, which retention removes.
    pub fn remove_tenant(&mut self, name: &str) -> Result<()> {
        let id: Option<TenantId> = self
            .conn
            .query_row(
                "SELECT id FROM tenants WHERE name = ?1",
                params![name],
                |r| r.get(0),
            )
            .optional()?;
        let Some(id) = id else {
            return Err(Error::field("name", format!("no tenant {name:?}")));
        };
        let tx = self.conn.transaction()?;
        let files: Vec<String> = tx
            .prepare("SELECT file FROM voicemail WHERE tenant_id = ?1")?
            .query_map(params![id], |r| r.get(0))?
            .collect::<Result<_>>()?;
        // Tables without a foreign key to the tenant; the rest cascade.
        for sql in [
            "DELETE FROM bindings WHERE tenant_id = ?1",
            "DELETE FROM devices WHERE tenant_id = ?1",
            "DELETE FROM line_features WHERE tenant_id = ?1",
            "DELETE FROM agent_logouts WHERE tenant_id = ?1",
            "DELETE FROM missed_call_mails WHERE tenant_id = ?1",
            "DELETE FROM tenants WHERE id = ?1",
        ] {
            tx.execute(sql, params![id])?;
        }
        tx.commit()?;
        remove_files(&files);
        Ok(())
    }
}

/// Deletes the voicemail files of removed mailboxes (once their rows are gone).
fn remove_files(files: &[String]) {
    for f in files {
        let _ = std::fs::remove_file(f);
    }
}

/// `plan` without extension `ext`.
fn without_extension(
    plan: Option<dialplan::TenantPlan>,
    ext: &str,
) -> Option<dialplan::TenantPlan> {
    let mut plan = plan?;
    plan.extensions.retain(|e| e.number != ext);
    Some(plan)
}

#[cfg(test)]
mod tests {
    use super::super::NewLine;
    use super::*;

    fn line(s: &mut Store, t: &super::super::Tenant, ext: &str) {
        s.add_line(
            t,
            &NewLine {
                ext: ext.into(),
                display_name: None,
                password: format!("secret{ext}"),
            },
        )
        .unwrap();
    }

    fn tempdir() -> std::path::PathBuf {
        std::env::temp_dir()
    }

    #[test]
    fn a_line_the_plan_routes_to_stays_and_a_free_one_goes_with_its_devices() {
        // No prompt is named: nothing is looked for below the data directory.
        let dir = tempdir();
        let mut s = Store::in_memory().unwrap();
        let t = s.add_tenant("acme", &["acme.test".into()]).unwrap();
        for ext in ["100", "101", "102"] {
            line(&mut s, &t, ext);
        }
        s.set_plan(&t, &super::super::plan::bare_plan("acme"), &dir)
            .unwrap();
        let group = serde_json::json!({"name": "sales", "members": ["101"]});
        s.put_plan_entry(&t, ("groups", "600"), group, &dir)
            .unwrap();
        let phone = super::super::provisioning::desk("001565aabbcc", "yealink", "100", &["102"]);
        s.provision_phone(&t, &phone, 1).unwrap();
        let e = s.remove_line(t.id, "101").unwrap_err();
        assert!(
            matches!(&e, Error::Field { field: "ext", why } if why.contains("member")),
            "{e}"
        );
        assert!(s.line(t.id, "101").unwrap().is_some(), "nothing changed");

        s.remove_line(t.id, "102").unwrap();
        assert!(s.line(t.id, "102").unwrap().is_none());
        assert!(
            s.provisioned(t.id).unwrap()[0].blf.is_empty(),
            "the key watching 102 is gone"
        );
        s.remove_line(t.id, "100").unwrap();
        assert!(
            s.provisioned(t.id).unwrap().is_empty(),
            "its phone went with it"
        );
        assert!(s.devices(t.id, None).unwrap().is_empty());

        // An adapter with a port on a removed line goes whole, its other port too.
        line(&mut s, &t, "102");
        let ata = super::super::PhoneOrder {
            mac: "000b82aabbcc".into(),
            vendor: "grandstream".into(),
            kind: "ata".into(),
            accounts: vec![(None, "101".into()), (None, "102".into())],
            language: "en".into(),
            ..Default::default()
        };
        s.provision_phone(&t, &ata, 1).unwrap();
        s.remove_line(t.id, "102").unwrap();
        assert!(s.provisioned(t.id).unwrap().is_empty());
        assert!(
            s.devices(t.id, None).unwrap().is_empty(),
            "no half adapter left"
        );
        let again = super::super::provisioning::desk("000b82aabbcc", "grandstream", "101", &[]);
        s.provision_phone(&t, &again, 1)
            .expect("the MAC is free again");
        assert!(matches!(
            s.remove_line(t.id, "100"),
            Err(Error::Field { field: "ext", .. })
        ));
    }

    #[test]
    fn a_removed_tenant_leaves_only_its_journal() {
        let mut s = Store::in_memory().unwrap();
        let t = s.add_tenant("acme", &["acme.test".into()]).unwrap();
        let other = s.add_tenant("other", &["other.test".into()]).unwrap();
        line(&mut s, &t, "100");
        line(&mut s, &other, "100");
        s.add_user(t.id, "Ann", None).unwrap();
        let phone = super::super::provisioning::desk("001565aabbcc", "snom", "100", &[]);
        s.provision_phone(&t, &phone, 1).unwrap();
        s.remove_tenant("acme").unwrap();
        assert!(s.tenant("acme").is_err());
        assert!(s.tenant("acme.test").is_err(), "its domain is free again");
        assert!(s
            .fetch_provisioning("001565aabbcc", None, 2)
            .unwrap()
            .is_none());
        assert!(
            s.line(other.id, "100").unwrap().is_some(),
            "others keep theirs"
        );
        let again = s.add_tenant("acme", &["acme.test".into()]).unwrap();
        assert!(s.lines(again.id).unwrap().is_empty());
        assert!(matches!(
            s.remove_tenant("nobody"),
            Err(Error::Field { field: "name", .. })
        ));
        s.remove_user(other.id, "Ann").unwrap_err();
    }
}
