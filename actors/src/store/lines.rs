//! Lines (extensions): number, name and digest hashes. Passwords are never stored.

use super::db::{params, OptionalExtension};
use engine::auth::{ha1, Algorithm};

use super::{Store, Tenant, TenantId};
use crate::{Error, Result};

/// Numbers that are reserved for emergency calls and can never be extensions.
pub const EMERGENCY_NUMBERS: &[&str] = &[
    "110", "112", "911", "999", "000", "118", "144", "117", "15", "17", "18",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineRecord {
    pub tenant: TenantId,
    pub ext: String,
    pub display_name: Option<String>,
    pub ha1_md5: String,
    pub ha1_sha256: String,
}

/// A line as the web admin lists it: number, name, its person's name.
pub type LineListed = (String, Option<String>, Option<String>);

#[derive(Debug, Clone)]
pub struct NewLine {
    pub ext: String,
    pub display_name: Option<String>,
    pub password: String,
}

fn check_ext(ext: &str) -> Result<()> {
    if ext.len() < 2 || ext.len() > 15 || !ext.bytes().all(|c| c.is_ascii_digit()) {
        return Err(Error::field(
            "ext",
            format!("extension {ext:?} must be 2 to 15 digits"),
        ));
    }
    if EMERGENCY_NUMBERS.contains(&ext) {
        return Err(Error::field(
            "ext",
            format!("{ext} is an emergency number and cannot be an extension"),
        ));
    }
    Ok(())
}

fn check_password(p: &str) -> Result<()> {
    if p.len() < 6 {
        return Err(Error::field(
            "password",
            "a password needs at least 6 characters",
        ));
    }
    Ok(())
}

impl Store {
    pub fn add_line(&mut self, tenant: &Tenant, line: &NewLine) -> Result<()> {
        self.add_lines(tenant, std::slice::from_ref(line))
    }

    /// Adds lines all or nothing: any invalid or taken number refuses the whole batch,
    /// naming the conflicting numbers.
    pub fn add_lines(&mut self, tenant: &Tenant, lines: &[NewLine]) -> Result<()> {
        for l in lines {
            check_ext(&l.ext)?;
            check_password(&l.password)?;
        }
        let tx = self.conn.transaction()?;
        {
            let mut exists =
                tx.prepare_cached("SELECT 1 FROM lines WHERE tenant_id = ?1 AND ext = ?2")?;
            let mut taken = Vec::new();
            let mut seen = std::collections::HashSet::new();
            for l in lines {
                if !seen.insert(l.ext.as_str())
                    || exists
                        .query_row(params![tenant.id, l.ext], |_| Ok(()))
                        .optional()?
                        .is_some()
                {
                    taken.push(l.ext.clone());
                }
            }
            if !taken.is_empty() {
                let shown: Vec<_> = taken.iter().take(10).cloned().collect();
                let more = if taken.len() > 10 {
                    format!(" and {} more", taken.len() - 10)
                } else {
                    String::new()
                };
                return Err(Error::field(
                    "ext",
                    format!(
                        "tenant {:?} has extension {}{more} already",
                        tenant.name,
                        shown.join(", ")
                    ),
                ));
            }
            let mut insert = tx.prepare_cached(
                "INSERT INTO lines (tenant_id, ext, display_name, ha1_md5, ha1_sha256) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for l in lines {
                insert.execute(params![
                    tenant.id,
                    l.ext,
                    l.display_name,
                    ha1(Algorithm::Md5, &l.ext, &tenant.realm, &l.password),
                    ha1(Algorithm::Sha256, &l.ext, &tenant.realm, &l.password),
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Lines `from..=to` with passwords from a template where `{ext}` is the number.
    pub fn add_line_range(
        &mut self,
        tenant: &Tenant,
        from: u64,
        to: u64,
        password: &str,
    ) -> Result<usize> {
        if from > to {
            return Err(Error::Invalid(format!("range {from}-{to} is empty")));
        }
        if to - from >= 200_000 {
            return Err(Error::Invalid(
                "a range may hold at most 200000 extensions".into(),
            ));
        }
        let lines: Vec<NewLine> = (from..=to)
            .map(|n| {
                let ext = n.to_string();
                NewLine {
                    password: password.replace("{ext}", &ext),
                    ext,
                    display_name: None,
                }
            })
            .collect();
        self.add_lines(tenant, &lines)?;
        Ok(lines.len())
    }

    pub fn set_password(&mut self, tenant: &Tenant, ext: &str, password: &str) -> Result<()> {
        check_password(password)?;
        let n = self.conn.execute(
            "UPDATE lines SET ha1_md5 = ?3, ha1_sha256 = ?4 WHERE tenant_id = ?1 AND ext = ?2",
            params![
                tenant.id,
                ext,
                ha1(Algorithm::Md5, ext, &tenant.realm, password),
                ha1(Algorithm::Sha256, ext, &tenant.realm, password)
            ],
        )?;
        if n == 0 {
            return Err(Error::UnknownLine {
                tenant: tenant.name.clone(),
                ext: ext.to_owned(),
            });
        }
        Ok(())
    }

    pub fn line(&self, tenant: TenantId, ext: &str) -> Result<Option<LineRecord>> {
        self
            .conn
            .prepare_cached("SELECT display_name, ha1_md5, ha1_sha256 FROM lines WHERE tenant_id = ?1 AND ext = ?2")?
            .query_row(params![tenant, ext], |r| {
                Ok(LineRecord {
                    tenant,
                    ext: ext.to_owned(),
                    display_name: r.get(0)?,
                    ha1_md5: r.get(1)?,
                    ha1_sha256: r.get(2)?,
                })
            })
            .optional()
    }

    /// The extensions of a tenant, no more (what the switch keeps in memory to tell a
    /// known line from an unknown one without asking again).
    pub fn extensions(&self, tenant: TenantId) -> Result<Vec<String>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT ext FROM lines WHERE tenant_id = ?1")?;
        let rows = stmt.query_map(params![tenant], |r| r.get(0))?;
        rows.collect::<Result<_>>()
    }

    /// One page of a tenant's lines whose number starts with `search` or whose name
    /// or person's name contains it (any case), in number order, with each line's
    /// person; and how many lines match in all.
    pub fn lines_page(
        &self,
        tenant: TenantId,
        search: &str,
        (offset, limit): (usize, usize),
    ) -> Result<(Vec<LineListed>, usize)> {
        const MATCH: &str = "FROM lines l LEFT JOIN users u ON u.id = l.user_id
            WHERE l.tenant_id = ?1 AND (?2 = '' OR l.ext LIKE ?2 || '%'
               OR l.display_name LIKE '%' || ?2 || '%' OR u.name LIKE '%' || ?2 || '%')";
        let search = search.trim().replace(['%', '_'], "");
        let total: i64 = self
            .conn
            .prepare_cached(&format!("SELECT count(*) {MATCH}"))?
            .query_row(params![tenant, search], |r| r.get(0))?;
        let rows = self
            .conn
            .prepare_cached(&format!(
                "SELECT l.ext, l.display_name, u.name {MATCH}
                 ORDER BY length(l.ext), l.ext LIMIT ?3 OFFSET ?4"
            ))?
            .query_map(params![tenant, search, limit as i64, offset as i64], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })?
            .collect::<Result<Vec<_>>>()?;
        Ok((rows, total as usize))
    }

    /// Changes line `ext`'s name (`None` clears it).
    pub fn set_line_name(&mut self, tenant: TenantId, ext: &str, name: Option<&str>) -> Result<()> {
        let name = name.map(str::trim).filter(|n| !n.is_empty());
        if name.is_some_and(|n| n.len() > 128) {
            return Err(Error::field("name", "a name has at most 128 characters"));
        }
        let n = self.conn.execute(
            "UPDATE lines SET display_name = ?3 WHERE tenant_id = ?1 AND ext = ?2",
            params![tenant, ext, name],
        )?;
        if n == 0 {
            return Err(Error::field("ext", format!("no line {ext}")));
        }
        Ok(())
    }

    pub fn lines(&self, tenant: TenantId) -> Result<Vec<LineRecord>> {
        let mut stmt = self.conn.prepare(
            "SELECT ext, display_name, ha1_md5, ha1_sha256 FROM lines WHERE tenant_id = ?1 ORDER BY length(ext), ext",
        )?;
        let rows = stmt.query_map(params![tenant], |r| {
            Ok(LineRecord {
                tenant,
                ext: r.get(0)?,
                display_name: r.get(1)?,
                ha1_md5: r.get(2)?,
                ha1_sha256: r.get(3)?,
            })
        })?;
        rows.collect::<Result<_>>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> (Store, Tenant) {
        let mut s = Store::in_memory().unwrap();
        let t = s.add_tenant("demo", &["127.0.0.1".into()]).unwrap();
        (s, t)
    }

    fn nl(ext: &str) -> NewLine {
        NewLine {
            ext: ext.into(),
            display_name: None,
            password: "secret1".into(),
        }
    }

    #[test]
    fn lines_store_hashes_only() {
        let (mut s, t) = setup();
        s.add_line(&t, &nl("100")).unwrap();
        let l = s.line(t.id, "100").unwrap().unwrap();
        assert_eq!(l.ha1_md5, ha1(Algorithm::Md5, "100", "demo", "secret1"));
        assert_eq!(l.ha1_sha256.len(), 64);
        let dump: String = s
            .conn
            .query_row(
                "SELECT group_concat(ha1_md5 || ha1_sha256, ',') FROM lines",
                params![],
                |r| r.get(0),
            )
            .unwrap();
        assert!(!dump.contains("secret1"));
    }

    #[test]
    fn invalid_and_duplicate_numbers_are_refused() {
        let (mut s, t) = setup();
        s.add_line(&t, &nl("100")).unwrap();
        assert!(s
            .add_line(&t, &nl("100"))
            .unwrap_err()
            .to_string()
            .contains("has extension 100 already"));
        assert!(s
            .add_line(&t, &nl("7"))
            .unwrap_err()
            .to_string()
            .contains("2 to 15 digits"));
        assert!(s.add_line(&t, &nl("12a")).is_err());
        assert!(s
            .add_line(&t, &nl("112"))
            .unwrap_err()
            .to_string()
            .contains("emergency"));
    }

    #[test]
    fn overlapping_range_names_conflicts_and_adds_nothing() {
        let (mut s, t) = setup();
        s.add_line(&t, &nl("105")).unwrap();
        let e = s.add_line_range(&t, 100, 109, "pw{ext}xx").unwrap_err();
        assert!(e.to_string().contains("105"), "{e}");
        assert_eq!(s.lines(t.id).unwrap().len(), 1);
        assert_eq!(s.add_line_range(&t, 200, 209, "pw{ext}xx").unwrap(), 10);
        let l = s.line(t.id, "203").unwrap().unwrap();
        assert_eq!(l.ha1_md5, ha1(Algorithm::Md5, "203", "demo", "pw203xx"));
    }
}
