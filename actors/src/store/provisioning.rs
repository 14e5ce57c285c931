//! Phones provisioned by MAC: a desk phone (one account), a DECT base (an account per
//! handset, each known by its IPUI) or an analog adapter (an account per port).
//! `provision_phone` makes a device account of a line for each (`<vendor>-<mac>`, then
//! `<vendor>-<mac>-<slot>`) and remembers the vendor, busy-lamp keys and language.
//! When the phone fetches its configuration (`fetch_provisioning`), its SIP passwords
//! and its admin password are made anew and handed over once: the store keeps only the
//! SIP passwords' hashes (as for every account) and no admin password at all. A phone
//! may be bound to a token (only its SHA-256 is kept): then only a fetch naming it
//! gets the file.

use super::db::{params, OptionalExtension};
use rand::RngCore;

use super::{NewDevice, Store, Tenant, TenantId};
use crate::{Error, Result};

/// The configuration formats the switch writes.
pub const VENDORS: [&str; 4] = ["yealink", "snom", "gigaset", "grandstream"];

/// The kinds of device: `phone` (a desk phone or softphone), `dect` (a DECT base
/// with handsets), `ata` (an analog adapter with ports).
pub const KINDS: [&str; 3] = ["phone", "dect", "ata"];

/// Most handsets a DECT base serves, and ports an adapter has.
pub const MAX_HANDSETS: usize = 8;
pub const MAX_PORTS: usize = 4;

/// A phone to provision.
#[derive(Debug, Clone, Default)]
pub struct PhoneOrder {
    pub mac: String,
    pub vendor: String,
    /// One of `KINDS`.
    pub kind: String,
    /// Its accounts in slot order: a desk phone's line; a base's handsets (IPUI,
    /// line); an adapter's ports (their lines).
    pub accounts: Vec<(Option<String>, String)>,
    pub blf: Vec<String>,
    pub language: String,
    /// Bind the phone to a new token (returned once).
    pub token: bool,
}

/// What provisioning made: the device account of each slot, and the token.
#[derive(Debug, Clone)]
pub struct PhoneMade {
    pub devices: Vec<String>,
    pub token: Option<String>,
}

/// One account of a provisioned phone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhoneAccount {
    /// 1 for the first.
    pub slot: u32,
    /// The handset's IPUI on a DECT base.
    pub ipui: Option<String>,
    pub device: String,
    pub line: String,
}

/// A provisioned phone as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provisioned {
    pub mac: String,
    pub vendor: String,
    pub kind: String,
    /// Its first account (a desk phone's only one).
    pub device: String,
    pub line: String,
    pub accounts: Vec<PhoneAccount>,
    pub blf: Vec<String>,
    pub language: String,
    /// Fetches need its token.
    pub token: bool,
    /// Unix milliseconds of its last fetch.
    pub fetched_at: Option<u64>,
}

/// One account in a phone's configuration file, with its new password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountConfig {
    pub slot: u32,
    pub ipui: Option<String>,
    pub username: String,
    pub password: String,
    pub line: String,
    pub display_name: String,
}

/// What a phone's configuration file says, made at its fetch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhoneConfig {
    pub vendor: String,
    pub kind: String,
    pub mac: String,
    /// The tenant's SIP domain (registrar and proxy).
    pub domain: String,
    /// Its accounts in slot order (at least one).
    pub accounts: Vec<AccountConfig>,
    /// The phone's own admin password, new at this fetch.
    pub admin_password: String,
    pub blf: Vec<String>,
    pub language: String,
    pub tenant: TenantId,
}

impl PhoneConfig {
    /// The first account (a desk phone's only one).
    pub fn first(&self) -> &AccountConfig {
        &self.accounts[0]
    }
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

/// A handset's IPUI as 10 upper-case hex digits (IPUI-N: EMC and PSN), if it is one.
pub fn normalise_ipui(ipui: &str) -> Option<String> {
    let hex: String = ipui
        .chars()
        .filter(|c| !matches!(c, ':' | '-' | ' '))
        .collect::<String>()
        .to_ascii_uppercase();
    (hex.len() == 10 && hex.bytes().all(|b| b.is_ascii_hexdigit())).then_some(hex)
}

fn secret(bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    rand::thread_rng().fill_bytes(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The device account of slot `slot` of phone `mac`.
fn slot_device(vendor: &str, mac: &str, slot: usize) -> String {
    if slot == 1 {
        format!("{vendor}-{mac}")
    } else {
        format!("{vendor}-{mac}-{slot}")
    }
}

/// Checks an order's kind against its accounts; the accounts with IPUIs normalised.
fn check_kind(order: &PhoneOrder) -> Result<Vec<(Option<String>, String)>> {
    let (field, n) = match order.kind.as_str() {
        "phone" => ("line", 1..=1),
        "dect" => ("handsets", 1..=MAX_HANDSETS),
        "ata" => ("ports", 1..=MAX_PORTS),
        k => {
            return Err(Error::field(
                "kind",
                format!("kind {k:?}: one of {}", KINDS.join(", ")),
            ))
        }
    };
    if !n.contains(&order.accounts.len()) {
        return Err(Error::field(
            field,
            match order.kind.as_str() {
                "phone" => "a phone has one line".to_owned(),
                k => format!(
                    "{field}: a {k} device has 1 to {} of them, not {}",
                    n.end(),
                    order.accounts.len()
                ),
            },
        ));
    }
    if order.kind == "ata" && order.vendor != "grandstream" {
        return Err(Error::field(
            "vendor",
            "vendor: analog adapters are provisioned in grandstream's format (HT80x/HT81x)",
        ));
    }
    let mut out = Vec::with_capacity(order.accounts.len());
    for (ipui, line) in &order.accounts {
        let ipui = match (order.kind.as_str(), ipui) {
            ("dect", Some(i)) => Some(normalise_ipui(i).ok_or_else(|| {
                Error::field(
                    "handsets",
                    format!("handsets: IPUI {i:?} is not 10 hex digits"),
                )
            })?),
            ("dect", None) => {
                return Err(Error::field(
                    "handsets",
                    format!("handsets: the handset for line {line} needs its IPUI"),
                ))
            }
            (_, Some(_)) => {
                return Err(Error::field(
                    "handsets",
                    "handsets: only a DECT base has them",
                ))
            }
            (_, None) => None,
        };
        if ipui.is_some()
            && out
                .iter()
                .any(|(i, _): &(Option<String>, String)| *i == ipui)
        {
            return Err(Error::field(
                "handsets",
                format!("handsets: IPUI {} twice", ipui.unwrap_or_default()),
            ));
        }
        out.push((ipui, line.clone()));
    }
    Ok(out)
}

impl Store {
    /// Provisions the phone `order.mac` for its lines, with busy-lamp keys for the
    /// lines `order.blf`. Refusals name the field at fault; nothing is stored then.
    pub fn provision_phone(
        &mut self,
        tenant: &Tenant,
        order: &PhoneOrder,
        now: u64,
    ) -> Result<PhoneMade> {
        let mac = normalise_mac(&order.mac)
            .ok_or_else(|| Error::field("mac", format!("mac {:?}: 12 hex digits", order.mac)))?;
        let vendor = order.vendor.as_str();
        if !VENDORS.contains(&vendor) {
            return Err(Error::field(
                "vendor",
                format!("vendor {vendor:?}: one of {}", VENDORS.join(", ")),
            ));
        }
        let accounts = check_kind(order)?;
        let field = match order.kind.as_str() {
            "dect" => "handsets",
            "ata" => "ports",
            _ => "line",
        };
        for (_, line) in &accounts {
            if self.line(tenant.id, line)?.is_none() {
                return Err(Error::field(
                    field,
                    format!("{field}: {line} is not a line of this tenant"),
                ));
            }
        }
        for b in &order.blf {
            if self.line(tenant.id, b)?.is_none() {
                return Err(Error::field(
                    "blf",
                    format!("blf {b}: not a line of this tenant"),
                ));
            }
        }
        let language = order.language.as_str();
        if !(2..=5).contains(&language.len()) || !language.bytes().all(|b| b.is_ascii_alphabetic())
        {
            return Err(Error::field(
                "language",
                format!("language {language:?}: a code such as en or de"),
            ));
        }
        let taken: Option<i64> = self
            .conn
            .query_row(
                "SELECT 1 FROM provisioning WHERE mac = ?1",
                params![&mac],
                |r| r.get(0),
            )
            .optional()?;
        if taken.is_some() {
            return Err(Error::field(
                "mac",
                format!("mac {mac} is provisioned already"),
            ));
        }
        for (ipui, _) in &accounts {
            let Some(ipui) = ipui else { continue };
            let on: Option<String> = self
                .conn
                .query_row(
                    "SELECT mac FROM phone_accounts WHERE ipui = ?1",
                    params![ipui],
                    |r| r.get(0),
                )
                .optional()?;
            if let Some(base) = on {
                return Err(Error::field(
                    "handsets",
                    format!("handsets: IPUI {ipui} is a handset of base {base} already"),
                ));
            }
        }
        let devices: Vec<String> = (1..=accounts.len())
            .map(|slot| slot_device(vendor, &mac, slot))
            .collect();
        for d in &devices {
            if self.device(tenant.id, d)?.is_some() {
                return Err(Error::field(
                    "mac",
                    format!("mac {mac}: there is a device {d:?} already"),
                ));
            }
        }
        let token = order.token.then(|| secret(16));
        let tx = self.conn.transaction()?;
        // Unknown passwords until the phone's first fetch makes them.
        for (device, (_, line)) in devices.iter().zip(&accounts) {
            super::people::insert_device(
                &tx,
                tenant,
                &NewDevice {
                    username: device.clone(),
                    ext: line.clone(),
                    name: Some(format!("{vendor} {mac}")),
                    password: secret(16),
                },
            )?;
        }
        tx.execute(
            "INSERT INTO provisioning (mac, tenant_id, vendor, device, blf, language, created_at, kind, token_sha256)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                mac,
                tenant.id,
                vendor,
                devices[0],
                order.blf.join(","),
                language,
                now as i64,
                order.kind,
                token.as_deref().map(super::api_keys::digest),
            ],
        )?;
        if order.kind != "phone" {
            for (i, (device, (ipui, _))) in devices.iter().zip(&accounts).enumerate() {
                tx.execute(
                    "INSERT INTO phone_accounts (mac, slot, ipui, device) VALUES (?1, ?2, ?3, ?4)",
                    params![mac, i as i64 + 1, ipui, device],
                )?;
            }
        }
        tx.commit()?;
        Ok(PhoneMade { devices, token })
    }

    /// The device accounts of phone `mac` (of `tenant`), in slot order.
    pub(super) fn phone_devices(&self, tenant: TenantId, mac: &str) -> Result<Vec<String>> {
        Ok(self
            .phone_accounts(tenant, mac)?
            .into_iter()
            .map(|a| a.device)
            .collect())
    }

    /// The accounts of phone `mac`, in slot order (none for a MAC `tenant` does not
    /// have).
    fn phone_accounts(&self, tenant: TenantId, mac: &str) -> Result<Vec<PhoneAccount>> {
        let rows = self
            .conn
            .prepare_cached(
                "SELECT coalesce(a.slot, 1), a.ipui, d.username, d.ext
                 FROM provisioning p
                 LEFT JOIN phone_accounts a ON a.mac = p.mac
                 JOIN devices d ON d.tenant_id = p.tenant_id
                   AND d.username = coalesce(a.device, p.device)
                 WHERE p.mac = ?1 AND p.tenant_id = ?2 ORDER BY 1",
            )?
            .query_map(params![mac, tenant], |r| {
                Ok(PhoneAccount {
                    slot: r.get(0)?,
                    ipui: r.get(1)?,
                    device: r.get(2)?,
                    line: r.get(3)?,
                })
            })?
            .collect::<Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// The tenant's provisioned phones.
    pub fn provisioned(&self, tenant: TenantId) -> Result<Vec<Provisioned>> {
        let rows = self
            .conn
            .prepare_cached(
                "SELECT p.mac, p.vendor, p.kind, p.device, d.ext, p.blf, p.language,
                        p.token_sha256 IS NOT NULL, p.fetched_at
                 FROM provisioning p JOIN devices d
                   ON d.tenant_id = p.tenant_id AND d.username = p.device
                 WHERE p.tenant_id = ?1 ORDER BY p.mac",
            )?
            .query_map(params![tenant], |r| {
                Ok(Provisioned {
                    mac: r.get(0)?,
                    vendor: r.get(1)?,
                    kind: r.get(2)?,
                    device: r.get(3)?,
                    line: r.get(4)?,
                    accounts: Vec::new(),
                    blf: split_list(&r.get::<String>(5)?),
                    language: r.get(6)?,
                    token: r.get(7)?,
                    fetched_at: r.get::<Option<i64>>(8)?.map(|t| t as u64),
                })
            })?
            .collect::<Result<Vec<_>>>()?;
        rows.into_iter()
            .map(|mut p| {
                p.accounts = self.phone_accounts(tenant, &p.mac)?;
                Ok(p)
            })
            .collect()
    }

    /// Phone `mac` fetches its configuration (with `token`, if it has one): new
    /// passwords, each device account's hashes changed to its new SIP password (the
    /// phone registers with it next). `None` for a MAC nobody provisioned, and for a
    /// fetch without the phone's token.
    pub fn fetch_provisioning(
        &mut self,
        mac: &str,
        token: Option<&str>,
        now: u64,
    ) -> Result<Option<PhoneConfig>> {
        let Some(mac) = normalise_mac(mac) else {
            return Ok(None);
        };
        let row = self
            .conn
            .query_row(
                "SELECT tenant_id, vendor, kind, blf, language, token_sha256
                 FROM provisioning WHERE mac = ?1",
                params![&mac],
                |r| {
                    Ok((
                        r.get::<TenantId>(0)?,
                        r.get::<String>(1)?,
                        r.get::<String>(2)?,
                        r.get::<String>(3)?,
                        r.get::<String>(4)?,
                        r.get::<Option<String>>(5)?,
                    ))
                },
            )
            .optional()?;
        let Some((tenant, vendor, kind, blf, language, token_sha256)) = row else {
            return Ok(None);
        };
        let token_fits = match (&token_sha256, token) {
            (None, None) => true,
            (Some(want), Some(given)) => {
                super::api_keys::same(want.as_bytes(), super::api_keys::digest(given).as_bytes())
            }
            _ => false,
        };
        if !token_fits {
            return Ok(None);
        }
        let t = self
            .tenants()?
            .into_iter()
            .find(|t| t.id == tenant)
            .ok_or_else(|| Error::Invalid("the phone's tenant is gone".into()))?;
        let mut accounts = Vec::new();
        for a in self.phone_accounts(tenant, &mac)? {
            let password = secret(12);
            self.set_device_password(&t, &a.device, &password)?;
            let display_name = self
                .line(tenant, &a.line)?
                .and_then(|l| l.display_name)
                .unwrap_or_else(|| a.line.clone());
            accounts.push(AccountConfig {
                slot: a.slot,
                ipui: a.ipui,
                username: a.device,
                password,
                line: a.line,
                display_name,
            });
        }
        if accounts.is_empty() {
            return Ok(None);
        }
        self.conn.execute(
            "UPDATE provisioning SET fetched_at = ?2 WHERE mac = ?1",
            params![mac, now as i64],
        )?;
        Ok(Some(PhoneConfig {
            vendor,
            kind,
            mac,
            domain: t
                .domains
                .first()
                .cloned()
                .unwrap_or_else(|| t.realm.clone()),
            accounts,
            admin_password: secret(6),
            blf: split_list(&blf),
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

fn split_list(s: &str) -> Vec<String> {
    s.split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
pub(super) fn desk(mac: &str, vendor: &str, line: &str, blf: &[&str]) -> PhoneOrder {
    PhoneOrder {
        mac: mac.into(),
        vendor: vendor.into(),
        kind: "phone".into(),
        accounts: vec![(None, line.into())],
        blf: blf.iter().map(|b| b.to_string()).collect(),
        language: "en".into(),
        token: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant_with_lines(s: &mut Store, exts: &[&str]) -> Tenant {
        let t = s.add_tenant("acme", &["acme.test".into()]).unwrap();
        for ext in exts {
            s.add_line(
                &t,
                &super::super::NewLine {
                    ext: ext.to_string(),
                    display_name: Some(format!("Desk {ext}")),
                    password: format!("secret{ext}"),
                },
            )
            .unwrap();
        }
        t
    }

    fn field(e: Error) -> &'static str {
        match e {
            Error::Field { field, .. } => field,
            e => panic!("not a field's refusal: {e}"),
        }
    }

    #[test]
    fn a_phone_gets_a_new_password_at_each_fetch() {
        let mut s = Store::in_memory().unwrap();
        let t = tenant_with_lines(&mut s, &["100", "101"]);
        assert_eq!(
            normalise_mac("00:15:65:AA:BB:CC").as_deref(),
            Some("001565aabbcc")
        );
        assert!(normalise_mac("00:15:65:AA:BB").is_none());
        let made = s
            .provision_phone(
                &t,
                &desk("00-15-65-aa-bb-cc", "yealink", "100", &["101"]),
                1,
            )
            .unwrap();
        let device = made.devices[0].clone();
        assert_eq!(device, "yealink-001565aabbcc");
        assert!(made.token.is_none());
        let refused =
            |s: &mut Store, o: PhoneOrder| field(s.provision_phone(&t, &o, 1).unwrap_err());
        assert_eq!(
            refused(&mut s, desk("001565aabbcc", "snom", "100", &[])),
            "mac",
            "one MAC once"
        );
        assert_eq!(
            refused(&mut s, desk("001565aabbcd", "cisco", "100", &[])),
            "vendor"
        );
        assert_eq!(
            refused(&mut s, desk("001565aabbcd", "snom", "100", &["999"])),
            "blf"
        );
        assert_eq!(
            refused(&mut s, desk("001565aabbcd", "snom", "999", &[])),
            "line"
        );
        let first = s
            .fetch_provisioning("001565AABBCC", None, 2)
            .unwrap()
            .unwrap();
        assert_eq!(
            (first.first().line.as_str(), first.domain.as_str()),
            ("100", "acme.test")
        );
        assert_eq!(first.first().display_name, "Desk 100");
        assert_eq!(first.blf, ["101"]);
        let second = s
            .fetch_provisioning("001565aabbcc", None, 3)
            .unwrap()
            .unwrap();
        assert_ne!(first.first().password, second.first().password);
        let d = s.device(t.id, &device).unwrap().unwrap();
        let expected = engine::auth::ha1(
            engine::auth::Algorithm::Md5,
            &device,
            &t.realm,
            &second.first().password,
        );
        assert_eq!(d.ha1_md5, expected, "the account has the new password");
        assert!(s
            .fetch_provisioning("001565aabbcd", None, 3)
            .unwrap()
            .is_none());
        assert!(
            s.fetch_provisioning("001565aabbcc", Some("guess"), 3)
                .unwrap()
                .is_none(),
            "a phone without a token is not fetched with one"
        );
        assert_eq!(s.provisioned(t.id).unwrap()[0].fetched_at, Some(3));
    }

    #[test]
    fn a_dect_base_has_an_account_per_handset_and_an_adapter_per_port() {
        let mut s = Store::in_memory().unwrap();
        let t = tenant_with_lines(&mut s, &["100", "101", "102"]);
        let base = PhoneOrder {
            mac: "7c2f80aabbcc".into(),
            vendor: "gigaset".into(),
            kind: "dect".into(),
            accounts: vec![
                (Some("0283d9a2b1".into()), "100".into()),
                (Some("02-83-D9-A2-B2".into()), "101".into()),
            ],
            language: "de".into(),
            token: true,
            ..PhoneOrder::default()
        };
        let made = s.provision_phone(&t, &base, 1).unwrap();
        assert_eq!(
            made.devices,
            ["gigaset-7c2f80aabbcc", "gigaset-7c2f80aabbcc-2"]
        );
        let token = made.token.expect("a token was asked for");
        let listed = &s.provisioned(t.id).unwrap()[0];
        assert!(listed.token);
        assert_eq!(listed.kind, "dect");
        assert_eq!(
            listed
                .accounts
                .iter()
                .map(|a| (a.slot, a.ipui.as_deref(), a.line.as_str()))
                .collect::<Vec<_>>(),
            [
                (1, Some("0283D9A2B1"), "100"),
                (2, Some("0283D9A2B2"), "101")
            ]
        );
        assert!(
            s.fetch_provisioning("7c2f80aabbcc", None, 2)
                .unwrap()
                .is_none(),
            "without its token the base gets nothing"
        );
        assert!(s
            .fetch_provisioning("7c2f80aabbcc", Some("0000"), 2)
            .unwrap()
            .is_none());
        let c = s
            .fetch_provisioning("7c2f80aabbcc", Some(&token), 2)
            .unwrap()
            .unwrap();
        assert_eq!(c.accounts.len(), 2);
        assert_eq!(c.accounts[1].username, "gigaset-7c2f80aabbcc-2");
        assert_eq!(c.accounts[1].ipui.as_deref(), Some("0283D9A2B2"));

        // The same handset on a second base, a handset without its IPUI, too many.
        let mut other = base.clone();
        other.mac = "7c2f80aabbcd".into();
        other.accounts = vec![(Some("0283D9A2B1".into()), "102".into())];
        assert_eq!(
            field(s.provision_phone(&t, &other, 1).unwrap_err()),
            "handsets"
        );
        other.accounts = vec![(None, "102".into())];
        assert_eq!(
            field(s.provision_phone(&t, &other, 1).unwrap_err()),
            "handsets"
        );
        other.accounts = vec![(Some("0283D9A2C0".into()), "102".into()); 9];
        assert_eq!(
            field(s.provision_phone(&t, &other, 1).unwrap_err()),
            "handsets"
        );
        other.kind = "fax".into();
        assert_eq!(field(s.provision_phone(&t, &other, 1).unwrap_err()), "kind");

        let mut ata = PhoneOrder {
            mac: "000b82aabbcc".into(),
            vendor: "yealink".into(),
            kind: "ata".into(),
            accounts: vec![(None, "101".into()), (None, "102".into())],
            language: "en".into(),
            ..PhoneOrder::default()
        };
        assert_eq!(field(s.provision_phone(&t, &ata, 1).unwrap_err()), "vendor");
        ata.vendor = "grandstream".into();
        let made = s.provision_phone(&t, &ata, 1).unwrap();
        assert_eq!(made.devices.len(), 2);
        // Removing one account of the adapter forgets the adapter with all its ports.
        s.remove_device(t.id, "grandstream-000b82aabbcc-2").unwrap();
        assert!(s
            .device(t.id, "grandstream-000b82aabbcc")
            .unwrap()
            .is_none());
        assert_eq!(s.provisioned(t.id).unwrap().len(), 1);
        assert_eq!(
            s.remove_phone(t.id, "7c:2f:80:aa:bb:cc").unwrap(),
            ["100", "101"]
        );
        assert!(s.devices(t.id, None).unwrap().is_empty());
    }
}
