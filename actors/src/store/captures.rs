//! SIP captures: the signalling of a line group's lines written to a PCAP file
//! (`pbx capture start|stop`). Only a line group whose plan entry allows it
//! (`"capture": true`) is captured; the running switch reads the captures every few
//! seconds and starts or stops writing.

use super::db::params;

use super::{Store, TenantId};
use crate::{Error, Result};

/// A capture as `pbx capture list` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptureRecord {
    pub tenant: String,
    pub line_group: String,
    pub file: String,
    pub started_at: u64,
    pub stopped_at: Option<u64>,
}

/// A running capture as the switch applies it: the tenant and the lines whose
/// messages go to the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveCapture {
    pub id: i64,
    pub tenant: TenantId,
    pub file: String,
    pub lines: Vec<String>,
}

impl Store {
    /// Starts capturing line group `group` of `tenant` to `file`: refused when the plan
    /// has no such group, the group does not allow capture, or it is captured already.
    pub fn start_capture(&self, tenant: TenantId, group: &str, file: &str, now: u64) -> Result<()> {
        let plan = self.tenant_plan(tenant)?.ok_or_else(|| {
            Error::Invalid("the tenant has no dialplan, so no line groups".into())
        })?;
        let Some(g) = plan.line_groups.iter().find(|g| g.name == group) else {
            return Err(Error::Invalid(format!(
                "no line group {group:?} in the plan"
            )));
        };
        if !g.capture {
            return Err(Error::Invalid(format!(
                "line group {group:?} does not allow capture (\"capture\": true in the plan)"
            )));
        }
        let running: i64 = self.conn.query_row(
            "SELECT COUNT(*) FROM captures
             WHERE tenant_id = ?1 AND line_group = ?2 AND stopped_at IS NULL",
            params![tenant, group],
            |r| r.get(0),
        )?;
        if running > 0 {
            return Err(Error::Invalid(format!(
                "line group {group:?} is captured already"
            )));
        }
        self.conn.execute(
            "INSERT INTO captures (tenant_id, line_group, file, started_at) VALUES (?1, ?2, ?3, ?4)",
            params![tenant, group, file, now as i64],
        )?;
        Ok(())
    }

    /// Stops the capture of line group `group`; the file it wrote.
    pub fn stop_capture(&self, tenant: TenantId, group: &str, now: u64) -> Result<String> {
        let file: Option<String> = self
            .conn
            .query_row(
                "SELECT file FROM captures
                 WHERE tenant_id = ?1 AND line_group = ?2 AND stopped_at IS NULL",
                params![tenant, group],
                |r| r.get(0),
            )
            .ok();
        let file =
            file.ok_or_else(|| Error::Invalid(format!("line group {group:?} is not captured")))?;
        self.conn.execute(
            "UPDATE captures SET stopped_at = ?3
             WHERE tenant_id = ?1 AND line_group = ?2 AND stopped_at IS NULL",
            params![tenant, group, now as i64],
        )?;
        Ok(file)
    }

    /// Every capture, newest first.
    pub fn captures(&self) -> Result<Vec<CaptureRecord>> {
        let mut stmt = self.conn.prepare(
            "SELECT t.name, c.line_group, c.file, c.started_at, c.stopped_at
             FROM captures c JOIN tenants t ON t.id = c.tenant_id ORDER BY c.id DESC",
        )?;
        let rows = stmt.query_map(params![], |r| {
            Ok(CaptureRecord {
                tenant: r.get(0)?,
                line_group: r.get(1)?,
                file: r.get(2)?,
                started_at: r.get::<i64>(3)? as u64,
                stopped_at: r.get::<Option<i64>>(4)?.map(|v| v as u64),
            })
        })?;
        rows.collect::<Result<_>>()
    }

    /// The captures running now, with the lines of each group (as the plan places
    /// the tenant's lines in line groups now).
    pub fn active_captures(&self) -> Result<Vec<ActiveCapture>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, tenant_id, line_group, file FROM captures WHERE stopped_at IS NULL ORDER BY id",
        )?;
        let rows: Vec<(i64, TenantId, String, String)> = stmt
            .query_map(params![], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })?
            .collect::<Result<_>>()?;
        let mut out = Vec::with_capacity(rows.len());
        for (id, tenant, group, file) in rows {
            let Some(plan) = self.tenant_plan(tenant)? else {
                continue;
            };
            let lines = plan
                .extensions
                .iter()
                .filter(|e| plan.line_group_of(&e.number).name == group)
                .map(|e| e.number.clone())
                .collect();
            out.push(ActiveCapture {
                id,
                tenant,
                file,
                lines,
            });
        }
        Ok(out)
    }
}
