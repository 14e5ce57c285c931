//! Users (people) and devices: the data model the line features build on.
//!
//! - A **user** is a person of a tenant (name, e-mail). A user may have several lines;
//!   a line without a user is a device-only line (a lobby phone, a door station).
//! - A **line** is a number that rings devices (`lines.rs`); its own number and
//!   password are its first SIP account.
//! - A **device** is a further SIP account of a line: it registers and places calls
//!   under its own username and password (a DECT handset, a softphone), and rings
//!   and calls as its line. Device usernames are never all digits, so they never
//!   collide with a line's number.

use super::db::{params, OptionalExtension};
use engine::auth::{ha1, Algorithm};

use super::{Store, Tenant, TenantId};
use crate::{Error, Result};

/// A person of a tenant and the lines they have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub name: String,
    pub email: Option<String>,
    pub lines: Vec<String>,
}

/// A device account of a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRecord {
    pub username: String,
    pub ext: String,
    pub name: Option<String>,
    pub ha1_md5: String,
    pub ha1_sha256: String,
}

/// A device account to add.
#[derive(Debug, Clone)]
pub struct NewDevice {
    pub username: String,
    pub ext: String,
    pub name: Option<String>,
    pub password: String,
}

fn check_username(u: &str) -> Result<()> {
    let allowed = |c: u8| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-' | b'_');
    if u.len() < 3 || u.len() > 64 || !u.bytes().all(allowed) {
        return Err(Error::field(
            "username",
            format!("device username {u:?} must be 3 to 64 letters, digits, '.', '-' or '_'"),
        ));
    }
    if u.bytes().all(|c| c.is_ascii_digit()) {
        return Err(Error::field(
            "username",
            format!("device username {u:?} is all digits: numbers are lines' (use e.g. {u}-desk)"),
        ));
    }
    Ok(())
}

impl Store {
    /// Adds a person; the name is unique within the tenant.
    pub fn add_user(&mut self, tenant: TenantId, name: &str, email: Option<&str>) -> Result<()> {
        let name = name.trim();
        if name.is_empty() || name.len() > 128 {
            return Err(Error::field(
                "name",
                "a user's name must be 1 to 128 characters",
            ));
        }
        if let Some(e) = email.filter(|e| !e.contains('@') || e.len() > 254) {
            return Err(Error::field(
                "email",
                format!("{e:?} is not an e-mail address"),
            ));
        }
        let taken = self
            .conn
            .query_row(
                "SELECT 1 FROM users WHERE tenant_id = ?1 AND name = ?2",
                params![tenant, name],
                |_| Ok(()),
            )
            .optional()?
            .is_some();
        if taken {
            return Err(Error::field(
                "name",
                format!("there is a user named {name:?} already"),
            ));
        }
        self.conn.execute(
            "INSERT INTO users (tenant_id, name, email) VALUES (?1, ?2, ?3)",
            params![tenant, name, email],
        )?;
        Ok(())
    }

    /// Gives line `ext` to user `user`, or (with `None`) makes it device-only.
    pub fn set_line_user(&mut self, tenant: TenantId, ext: &str, user: Option<&str>) -> Result<()> {
        let id: Option<i64> = match user {
            Some(name) => Some(
                self.conn
                    .query_row(
                        "SELECT id FROM users WHERE tenant_id = ?1 AND name = ?2",
                        params![tenant, name],
                        |r| r.get(0),
                    )
                    .optional()?
                    .ok_or_else(|| Error::field("person", format!("no user named {name:?}")))?,
            ),
            None => None,
        };
        let n = self.conn.execute(
            "UPDATE lines SET user_id = ?3 WHERE tenant_id = ?1 AND ext = ?2",
            params![tenant, ext, id],
        )?;
        if n == 0 {
            return Err(Error::field(
                "ext",
                format!("{ext:?} is not a line of this tenant"),
            ));
        }
        Ok(())
    }

    /// The tenant's users with their lines, by name.
    pub fn users(&self, tenant: TenantId) -> Result<Vec<UserRecord>> {
        let mut stmt = self.conn.prepare(
            "SELECT u.name, u.email, group_concat(l.ext, ' ')
             FROM users u LEFT JOIN lines l ON l.user_id = u.id AND l.tenant_id = u.tenant_id
             WHERE u.tenant_id = ?1 GROUP BY u.id ORDER BY u.name",
        )?;
        let rows = stmt.query_map(params![tenant], |r| {
            let lines: Option<String> = r.get(2)?;
            Ok(UserRecord {
                name: r.get(0)?,
                email: r.get(1)?,
                lines: lines
                    .map(|l| l.split(' ').map(str::to_owned).collect())
                    .unwrap_or_default(),
            })
        })?;
        rows.collect::<Result<_>>()
    }

    /// The user a line belongs to (`None`: device-only).
    pub fn line_user(&self, tenant: TenantId, ext: &str) -> Result<Option<String>> {
        self.conn
            .query_row(
                "SELECT u.name FROM lines l JOIN users u ON u.id = l.user_id
                 WHERE l.tenant_id = ?1 AND l.ext = ?2",
                params![tenant, ext],
                |r| r.get(0),
            )
            .optional()
    }

    /// Adds a device account for a line of the tenant.
    pub fn add_device(&mut self, tenant: &Tenant, d: &NewDevice) -> Result<()> {
        check_username(&d.username)?;
        if d.password.len() < 6 {
            return Err(Error::field(
                "password",
                "a password needs at least 6 characters",
            ));
        }
        if self.line(tenant.id, &d.ext)?.is_none() {
            return Err(Error::field(
                "line",
                format!("{:?} is not a line of this tenant", d.ext),
            ));
        }
        if self.device(tenant.id, &d.username)?.is_some() {
            return Err(Error::field(
                "username",
                format!("there is a device {:?} already", d.username),
            ));
        }
        insert_device(&self.conn, tenant, d)
    }

    /// Removes a device account; its registrations expire with it at the next start.
    pub fn remove_device(&mut self, tenant: TenantId, username: &str) -> Result<()> {
        // A provisioned phone of this account is forgotten with it (all its accounts).
        let phone: Option<String> = self
            .conn
            .query_row(
                "SELECT mac FROM provisioning WHERE tenant_id = ?1 AND device = ?2
                 UNION SELECT a.mac FROM phone_accounts a JOIN provisioning p ON p.mac = a.mac
                 WHERE p.tenant_id = ?1 AND a.device = ?2",
                params![tenant, username],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(mac) = phone {
            self.remove_phone(tenant, &mac)?;
            return Ok(());
        }
        let n = self.conn.execute(
            "DELETE FROM devices WHERE tenant_id = ?1 AND username = ?2",
            params![tenant, username],
        )?;
        if n == 0 {
            return Err(Error::Invalid(format!("no device {username:?}")));
        }
        Ok(())
    }

    pub fn device(&self, tenant: TenantId, username: &str) -> Result<Option<DeviceRecord>> {
        self.conn
            .prepare_cached(
                "SELECT username, ext, name, ha1_md5, ha1_sha256 FROM devices
                 WHERE tenant_id = ?1 AND username = ?2",
            )?
            .query_row(params![tenant, username], device_row)
            .optional()
    }

    /// The devices of the tenant (of line `ext` only, when given), by username.
    pub fn devices(&self, tenant: TenantId, ext: Option<&str>) -> Result<Vec<DeviceRecord>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT username, ext, name, ha1_md5, ha1_sha256 FROM devices
             WHERE tenant_id = ?1 AND (ext = ?2 OR ?2 IS NULL) ORDER BY username",
        )?;
        let rows = stmt.query_map(params![tenant, ext], device_row)?;
        rows.collect::<Result<_>>()
    }
}

/// Stores device account `d` (checked by the caller) on `conn` (or a transaction).
pub(super) fn insert_device(conn: &super::db::Db, tenant: &Tenant, d: &NewDevice) -> Result<()> {
    conn.execute(
        "INSERT INTO devices (tenant_id, username, ext, name, ha1_md5, ha1_sha256)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            tenant.id,
            d.username,
            d.ext,
            d.name,
            ha1(Algorithm::Md5, &d.username, &tenant.realm, &d.password),
            ha1(Algorithm::Sha256, &d.username, &tenant.realm, &d.password),
        ],
    )?;
    Ok(())
}

fn device_row(r: &super::db::Row<'_>) -> Result<DeviceRecord> {
    Ok(DeviceRecord {
        username: r.get(0)?,
        ext: r.get(1)?,
        name: r.get(2)?,
        ha1_md5: r.get(3)?,
        ha1_sha256: r.get(4)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (Store, Tenant) {
        let mut s = Store::in_memory().unwrap();
        let t = s.add_tenant("acme", &["acme.test".into()]).unwrap();
        for ext in ["100", "101"] {
            s.add_line(
                &t,
                &super::super::NewLine {
                    ext: ext.into(),
                    display_name: None,
                    password: "secret1".into(),
                },
            )
            .unwrap();
        }
        (s, t)
    }

    #[test]
    fn users_own_lines_and_lines_without_one_are_device_only() {
        let (mut s, t) = store();
        s.add_user(t.id, "Alice Example", Some("alice@acme.test"))
            .unwrap();
        assert!(s.add_user(t.id, "Alice Example", None).is_err(), "unique");
        assert!(s.add_user(t.id, "Bob", Some("not-mail")).is_err());
        s.set_line_user(t.id, "100", Some("Alice Example")).unwrap();
        assert!(s.set_line_user(t.id, "100", Some("Nobody")).is_err());
        assert!(s.set_line_user(t.id, "555", None).is_err());
        let users = s.users(t.id).unwrap();
        assert_eq!(users[0].lines, ["100"]);
        assert_eq!(
            s.line_user(t.id, "100").unwrap().as_deref(),
            Some("Alice Example")
        );
        assert_eq!(s.line_user(t.id, "101").unwrap(), None, "device-only");
        s.set_line_user(t.id, "100", None).unwrap();
        assert!(s.users(t.id).unwrap()[0].lines.is_empty());
    }

    #[test]
    fn devices_are_accounts_of_a_line_with_names_that_are_not_numbers() {
        let (mut s, t) = store();
        let dev = |username: &str, ext: &str| NewDevice {
            username: username.into(),
            ext: ext.into(),
            name: Some("DECT handset".into()),
            password: "handset-pw".into(),
        };
        s.add_device(&t, &dev("100-dect", "100")).unwrap();
        assert!(s.add_device(&t, &dev("100-dect", "101")).is_err(), "taken");
        assert!(
            s.add_device(&t, &dev("12345", "100")).is_err(),
            "all digits"
        );
        assert!(s.add_device(&t, &dev("x y", "100")).is_err());
        assert!(
            s.add_device(&t, &dev("101-soft", "555")).is_err(),
            "no such line"
        );
        let d = s.device(t.id, "100-dect").unwrap().unwrap();
        assert_eq!(d.ext, "100");
        assert_eq!(
            d.ha1_md5,
            ha1(Algorithm::Md5, "100-dect", &t.realm, "handset-pw")
        );
        assert_eq!(s.devices(t.id, Some("101")).unwrap(), vec![]);
        assert_eq!(s.devices(t.id, None).unwrap().len(), 1);
        s.remove_device(t.id, "100-dect").unwrap();
        assert!(s.remove_device(t.id, "100-dect").is_err());
    }
}
