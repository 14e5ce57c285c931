//! Phones provisioned by MAC. `provision_device` makes a device account of a line for
//! the phone (`<vendor>-<mac>`) and remembers its vendor, busy-lamp keys and language.
//! When the phone fetches its configuration (`fetch_provisioning`), its SIP password and
//! its admin password are made anew and handed over once: the store keeps only the
//! SIP password's hashes (as for every account) and no admin password at all.

use rand::RngCore;
use rusqlite::{params, OptionalExtension};

use super::{NewDevice, Store, Tenant, TenantId};
use crate::{Error, Result};

/// The configuration formats the switch writes.
pub const VENDORS: [&str; 4] = ["yealink", "snom", "gigaset", "grandstream"];

/// A provisioned phone as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provisioned {
    pub mac: String,
    pub vendor: String,
    /// Its device account.
    pub device: String,
    pub line: String,
    pub blf: Vec<String>,
    pub language: String,
    /// Unix milliseconds of its last fetch.
    pub fetched_at: Option<u64>,
}

/// What a phone's configuration file says, made at its fetch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhoneConfig {
    pub vendor: String,
    pub mac: String,
    /// The tenant's SIP domain (registrar and proxy).
    pub domain: String,
    pub username: String,
    /// The SIP password, new at this fetch.
    pub password: String,
    pub line: String,
    pub display_name: String,
    /// The phone's own admin password, new at this fetch.
    pub admin_password: String,
    pub blf: Vec<String>,
    pub language: String,
    pub tenant: TenantId,
}

/// `mac` as 12 lower-case hex digits (separators `:`/`-`/`.` dropped), if it is one.
pub fn normalise_mac(mac: &str) -> Option<String> {
    let hex: String = mac
        .chars()
        .filter(|c| !matches!(c, ':' | '-' | '.'))
        .collect::<String>()
        .to_ascii_lowercase();
    (hex.len() == 12 && hex.bytes().all(|b| b.is_ascii_hexdigit())).then_some(hex)
}

fn secret(bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    rand::thread_rng().fill_bytes(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

impl Store {
    /// Provisions the phone `mac` of `vendor` for `line`, with busy-lamp keys for the
    /// lines `blf`.
    pub fn provision_device(
        &mut self,
        tenant: &Tenant,
        (line, mac, vendor): (&str, &str, &str),
        blf: &[String],
        language: &str,
        now: u64,
    ) -> Result<String> {
        let mac = normalise_mac(mac)
            .ok_or_else(|| Error::Invalid(format!("mac {mac:?}: 12 hex digits")))?;
        if !VENDORS.contains(&vendor) {
            return Err(Error::Invalid(format!(
                "vendor {vendor:?}: one of {}",
                VENDORS.join(", ")
            )));
        }
        for b in blf {
            if self.line(tenant.id, b)?.is_none() {
                return Err(Error::Invalid(format!(
                    "blf {b}: not a line of this tenant"
                )));
            }
        }
        if !(2..=5).contains(&language.len()) || !language.bytes().all(|b| b.is_ascii_alphabetic())
        {
            return Err(Error::Invalid(format!(
                "language {language:?}: a code such as en or de"
            )));
        }
        let taken: Option<i64> = self
            .conn
            .query_row("SELECT 1 FROM provisioning WHERE mac = ?1", [&mac], |r| {
                r.get(0)
            })
            .optional()?;
        if taken.is_some() {
            return Err(Error::Invalid(format!("mac {mac} is provisioned already")));
        }
        let device = format!("{vendor}-{mac}");
        // An unknown password until the phone's first fetch makes one.
        self.add_device(
            tenant,
            &NewDevice {
                username: device.clone(),
                ext: line.to_owned(),
                name: Some(format!("{vendor} {mac}")),
                password: secret(16),
            },
        )?;
        self.conn.execute(
            "INSERT INTO provisioning (mac, tenant_id, vendor, device, blf, language, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                mac,
                tenant.id,
                vendor,
                device,
                blf.join(","),
                language,
                now as i64
            ],
        )?;
        Ok(device)
    }

    /// The tenant's provisioned phones.
    pub fn provisioned(&self, tenant: TenantId) -> Result<Vec<Provisioned>> {
        let rows = self
            .conn
            .prepare_cached(
                "SELECT p.mac, p.vendor, p.device, d.ext, p.blf, p.language, p.fetched_at
                 FROM provisioning p JOIN devices d
                   ON d.tenant_id = p.tenant_id AND d.username = p.device
                 WHERE p.tenant_id = ?1 ORDER BY p.mac",
            )?
            .query_map([tenant], |r| {
                Ok(Provisioned {
                    mac: r.get(0)?,
                    vendor: r.get(1)?,
                    device: r.get(2)?,
                    line: r.get(3)?,
                    blf: r
                        .get::<_, String>(4)?
                        .split(',')
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned)
                        .collect(),
                    language: r.get(5)?,
                    fetched_at: r.get::<_, Option<i64>>(6)?.map(|t| t as u64),
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Phone `mac` fetches its configuration: new passwords, the device account's
    /// hashes changed to the new SIP password (the phone registers with it next).
    /// `None` for a MAC nobody provisioned.
    pub fn fetch_provisioning(&mut self, mac: &str, now: u64) -> Result<Option<PhoneConfig>> {
        let Some(mac) = normalise_mac(mac) else {
            return Ok(None);
        };
        let row = self
            .conn
            .query_row(
                "SELECT p.tenant_id, p.vendor, p.device, p.blf, p.language, d.ext
                 FROM provisioning p JOIN devices d
                   ON d.tenant_id = p.tenant_id AND d.username = p.device
                 WHERE p.mac = ?1",
                [&mac],
                |r| {
                    Ok((
                        r.get::<_, TenantId>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, String>(4)?,
                        r.get::<_, String>(5)?,
                    ))
                },
            )
            .optional()?;
        let Some((tenant, vendor, device, blf, language, line)) = row else {
            return Ok(None);
        };
        let t = self
            .tenants()?
            .into_iter()
            .find(|t| t.id == tenant)
            .ok_or_else(|| Error::Invalid("the phone's tenant is gone".into()))?;
        let password = secret(12);
        self.set_device_password(&t, &device, &password)?;
        self.conn.execute(
            "UPDATE provisioning SET fetched_at = ?2 WHERE mac = ?1",
            params![mac, now as i64],
        )?;
        let display_name = self
            .line(tenant, &line)?
            .and_then(|l| l.display_name)
            .unwrap_or_else(|| line.clone());
        Ok(Some(PhoneConfig {
            vendor,
            mac,
            domain: t
                .domains
                .first()
                .cloned()
                .unwrap_or_else(|| t.realm.clone()),
            username: device,
            password,
            line,
            display_name,
            admin_password: secret(6),
            blf: blf
                .split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
            language,
            tenant,
        }))
    }

    /// Sets a device account's password (its hashes).
    pub fn set_device_password(
        &mut self,
        tenant: &Tenant,
        username: &str,
        password: &str,
    ) -> Result<()> {
        use engine::auth::{ha1, Algorithm};
        let n = self.conn.execute(
            "UPDATE devices SET ha1_md5 = ?3, ha1_sha256 = ?4 WHERE tenant_id = ?1 AND username = ?2",
            params![
                tenant.id,
                username,
                ha1(Algorithm::Md5, username, &tenant.realm, password),
                ha1(Algorithm::Sha256, username, &tenant.realm, password),
            ],
        )?;
        if n == 0 {
            return Err(Error::Invalid(format!("no device {username:?}")));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_phone_gets_a_new_password_at_each_fetch() {
        let mut s = Store::in_memory().unwrap();
        let t = s.add_tenant("acme", &["acme.test".into()]).unwrap();
        for ext in ["100", "101"] {
            s.add_line(
                &t,
                &super::super::NewLine {
                    ext: ext.into(),
                    display_name: Some(format!("Desk {ext}")),
                    password: format!("secret{ext}"),
                },
            )
            .unwrap();
        }
        assert_eq!(
            normalise_mac("00:15:65:AA:BB:CC").as_deref(),
            Some("001565aabbcc")
        );
        assert!(normalise_mac("00:15:65:AA:BB").is_none());
        let blf = vec!["101".to_owned()];
        let device = s
            .provision_device(&t, ("100", "00-15-65-aa-bb-cc", "yealink"), &blf, "en", 1)
            .unwrap();
        assert_eq!(device, "yealink-001565aabbcc");
        assert!(
            s.provision_device(&t, ("100", "001565aabbcc", "snom"), &[], "en", 1)
                .is_err(),
            "one MAC once"
        );
        assert!(s
            .provision_device(&t, ("100", "001565aabbcd", "cisco"), &[], "en", 1)
            .is_err());
        assert!(s
            .provision_device(
                &t,
                ("100", "001565aabbcd", "snom"),
                &["999".into()],
                "en",
                1
            )
            .is_err());
        let first = s.fetch_provisioning("001565AABBCC", 2).unwrap().unwrap();
        assert_eq!(
            (first.line.as_str(), first.domain.as_str()),
            ("100", "acme.test")
        );
        assert_eq!(first.display_name, "Desk 100");
        assert_eq!(first.blf, ["101"]);
        let second = s.fetch_provisioning("001565aabbcc", 3).unwrap().unwrap();
        assert_ne!(first.password, second.password);
        let d = s.device(t.id, &device).unwrap().unwrap();
        let expected = engine::auth::ha1(
            engine::auth::Algorithm::Md5,
            &device,
            &t.realm,
            &second.password,
        );
        assert_eq!(d.ha1_md5, expected, "the account has the new password");
        assert!(s.fetch_provisioning("001565aabbcd", 3).unwrap().is_none());
        assert_eq!(s.provisioned(t.id).unwrap()[0].fetched_at, Some(3));
    }
}
