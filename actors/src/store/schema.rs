//! Schema migrations, applied in order; `PRAGMA user_version` says how many ran.

use rusqlite::Connection;

use crate::Result;

const MIGRATIONS: &[&str] = &[
    // 1: tenants, their domains, lines and registrations.
    "CREATE TABLE tenants (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        realm TEXT NOT NULL,
        dialplan TEXT,
        created_at INTEGER NOT NULL
    );
    CREATE TABLE tenant_domains (
        domain TEXT PRIMARY KEY COLLATE NOCASE,
        tenant_id INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE
    );
    CREATE TABLE lines (
        tenant_id INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
        ext TEXT NOT NULL,
        display_name TEXT,
        ha1_md5 TEXT NOT NULL,
        ha1_sha256 TEXT NOT NULL,
        PRIMARY KEY (tenant_id, ext)
    );
    CREATE TABLE bindings (
        tenant_id INTEGER NOT NULL,
        ext TEXT NOT NULL,
        contact TEXT NOT NULL,
        instance TEXT,
        q TEXT,
        call_id TEXT NOT NULL,
        cseq INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        flow TEXT NOT NULL,
        user_agent TEXT,
        PRIMARY KEY (tenant_id, ext, contact),
        FOREIGN KEY (tenant_id, ext) REFERENCES lines(tenant_id, ext) ON DELETE CASCADE
    );
    CREATE INDEX bindings_expiry ON bindings(expires_at);",
];

pub fn migrate(conn: &mut Connection) -> Result<()> {
    let version: usize = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i + 1)?;
        tx.commit()?;
        tracing::info!(version = i + 1, "store migrated");
    }
    Ok(())
}
