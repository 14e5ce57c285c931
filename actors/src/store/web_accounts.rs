//! Who signs in to the web admin: the switch operator, a tenant's administrators and
//! lines' users, each with a login and a password hash the web layer made (argon2id,
//! computed off this thread: the store only keeps and returns it). Sessions are kept
//! by the SHA-256 of their cookie with their CSRF token and expiry.

use super::db::{params, OptionalExtension};

use super::{Store, TenantId};
use crate::{Error, Result};

/// What a web account may reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebRole {
    /// Every tenant (tenants listed, added, removed).
    Operator,
    /// One tenant's whole configuration.
    Admin { tenant: TenantId },
    /// One line's own settings, voicemail and journal.
    User { tenant: TenantId, line: String },
}

/// A web account as the web layer reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebAccount {
    pub id: i64,
    pub login: String,
    pub role: WebRole,
    /// argon2id, PHC string.
    pub password_hash: String,
    /// `en` or `de`.
    pub language: String,
}

/// The languages the web admin speaks.
pub const WEB_LANGUAGES: [&str; 2] = ["en", "de"];

fn account_row(r: &super::db::Row<'_>) -> Result<WebAccount> {
    let role: String = r.get(2)?;
    let tenant: Option<TenantId> = r.get(3)?;
    let line: Option<String> = r.get(4)?;
    let role = match (role.as_str(), tenant, line) {
        ("admin", Some(tenant), _) => WebRole::Admin { tenant },
        ("user", Some(tenant), Some(line)) => WebRole::User { tenant, line },
        ("operator", None, _) => WebRole::Operator,
        // A row that fits no role reaches nothing (never the operator's pages).
        (other, ..) => return Err(crate::Error::Stored(format!("web account role {other:?}"))),
    };
    Ok(WebAccount {
        id: r.get(0)?,
        login: r.get(1)?,
        role,
        password_hash: r.get(5)?,
        language: r.get(6)?,
    })
}

const ACCOUNT: &str =
    "SELECT a.id, a.login, a.role, a.tenant_id, a.line, a.password_hash, a.language FROM web_accounts a";

impl Store {
    /// Adds a web account. The login is unique across the switch (case does not
    /// count); a user's line must be the tenant's.
    pub fn add_web_account(
        &mut self,
        login: &str,
        role: &WebRole,
        password_hash: &str,
        language: &str,
        now: u64,
    ) -> Result<i64> {
        let login = login.trim();
        let allowed = |c: char| c.is_alphanumeric() || "._-@".contains(c);
        if login.is_empty() || login.len() > 128 || !login.chars().all(allowed) {
            return Err(Error::field(
                "login",
                "a login is 1 to 128 letters, digits, '.', '_', '-' or '@'",
            ));
        }
        if !WEB_LANGUAGES.contains(&language) {
            return Err(Error::field(
                "language",
                format!("language {language:?}: en or de"),
            ));
        }
        if let WebRole::User { tenant, line } = role {
            if self.line(*tenant, line)?.is_none() {
                return Err(Error::field("line", format!("no line {line}")));
            }
        }
        let taken = self
            .conn
            .query_row(
                "SELECT 1 FROM web_accounts WHERE login = ?1",
                params![login],
                |_| Ok(()),
            )
            .optional()?
            .is_some();
        if taken {
            return Err(Error::field("login", format!("login {login:?} is taken")));
        }
        let (name, tenant, line) = match role {
            WebRole::Operator => ("operator", None, None),
            WebRole::Admin { tenant } => ("admin", Some(*tenant), None),
            WebRole::User { tenant, line } => ("user", Some(*tenant), Some(line.as_str())),
        };
        self.conn.query_row(
            "INSERT INTO web_accounts (tenant_id, role, login, line, password_hash, language, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) RETURNING id",
            params![tenant, name, login, line, password_hash, language, now as i64],
            |r| r.get(0),
        )
    }

    /// The account signing in as `login`.
    pub fn web_account(&self, login: &str) -> Result<Option<WebAccount>> {
        self.conn
            .prepare_cached(&format!("{ACCOUNT} WHERE a.login = ?1"))?
            .query_row(params![login.trim()], account_row)
            .optional()
    }

    /// The web accounts of `tenant` (the operator's with `None`), by login.
    pub fn web_accounts(&self, tenant: Option<TenantId>) -> Result<Vec<WebAccount>> {
        let rows = self
            .conn
            .prepare_cached(&format!(
                "{ACCOUNT} WHERE a.tenant_id IS ?1 ORDER BY a.login"
            ))?
            .query_map(params![tenant], account_row)?
            .collect::<Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Removes web account `login`; its sessions end.
    pub fn remove_web_account(&mut self, login: &str) -> Result<bool> {
        Ok(self.conn.execute(
            "DELETE FROM web_accounts WHERE login = ?1",
            params![login.trim()],
        )? > 0)
    }

    pub fn set_web_language(&mut self, account: i64, language: &str) -> Result<()> {
        if !WEB_LANGUAGES.contains(&language) {
            return Err(Error::field(
                "language",
                format!("language {language:?}: en or de"),
            ));
        }
        self.conn.execute(
            "UPDATE web_accounts SET language = ?2 WHERE id = ?1",
            params![account, language],
        )?;
        Ok(())
    }

    /// Starts a session for `account` (its cookie's SHA-256, its CSRF token), and
    /// forgets the sessions that ran out.
    pub fn start_web_session(
        &mut self,
        account: i64,
        token_sha256: &str,
        csrf: &str,
        expires_at: u64,
        now: u64,
    ) -> Result<()> {
        self.conn.execute(
            "DELETE FROM web_sessions WHERE expires_at <= ?1",
            params![now as i64],
        )?;
        self.conn.execute(
            "INSERT INTO web_sessions (token_sha256, account_id, csrf, expires_at) VALUES (?1, ?2, ?3, ?4)",
            params![token_sha256, account, csrf, expires_at as i64],
        )?;
        Ok(())
    }

    /// The account and CSRF token of a session still running at `now`.
    pub fn web_session(
        &self,
        token_sha256: &str,
        now: u64,
    ) -> Result<Option<(WebAccount, String)>> {
        self
            .conn
            .prepare_cached(
                "SELECT a.id, a.login, a.role, a.tenant_id, a.line, a.password_hash, a.language, s.csrf
                 FROM web_sessions s JOIN web_accounts a ON a.id = s.account_id
                 WHERE s.token_sha256 = ?1 AND s.expires_at > ?2",
            )?
            .query_row(params![token_sha256, now as i64], |r| {
                Ok((account_row(r)?, r.get(7)?))
            })
            .optional()
    }

    pub fn end_web_session(&mut self, token_sha256: &str) -> Result<()> {
        self.conn.execute(
            "DELETE FROM web_sessions WHERE token_sha256 = ?1",
            params![token_sha256],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_and_sessions() {
        let mut s = Store::in_memory().unwrap();
        let t = s.add_tenant("acme", &["acme.test".into()]).unwrap();
        s.add_line(
            &t,
            &super::super::NewLine {
                ext: "100".into(),
                display_name: None,
                password: "secret100".into(),
            },
        )
        .unwrap();
        let admin = WebRole::Admin { tenant: t.id };
        let id = s
            .add_web_account("ann", &admin, "$argon2id$x", "de", 1)
            .unwrap();
        let refused = |s: &mut Store, login: &str, role: &WebRole, lang: &str| match s
            .add_web_account(login, role, "h", lang, 1)
        {
            Err(Error::Field { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            refused(&mut s, "ANN", &admin, "en"),
            "login",
            "case does not count"
        );
        assert_eq!(refused(&mut s, "bob", &admin, "fr"), "language");
        let user = WebRole::User {
            tenant: t.id,
            line: "199".into(),
        };
        assert_eq!(refused(&mut s, "bob", &user, "en"), "line");
        let found = s.web_account("Ann").unwrap().unwrap();
        assert_eq!(
            (found.id, &found.role, found.language.as_str()),
            (id, &admin, "de")
        );

        s.start_web_session(id, "t1", "c1", 100, 10).unwrap();
        let (a, csrf) = s.web_session("t1", 50).unwrap().unwrap();
        assert_eq!((a.login.as_str(), csrf.as_str()), ("ann", "c1"));
        assert!(s.web_session("t1", 100).unwrap().is_none(), "ran out");
        assert!(s.web_session("t2", 50).unwrap().is_none());
        s.end_web_session("t1").unwrap();
        assert!(s.web_session("t1", 50).unwrap().is_none());
        assert_eq!(s.web_accounts(Some(t.id)).unwrap().len(), 1);
        assert!(s.remove_web_account("ann").unwrap());
    }
}
