//! The schema in PostgreSQL: the same tables, columns and indexes as SQLite's. A new
//! database gets SQLite's schema as the migrations leave it (read back from an
//! in-memory SQLite, translated by `dialect::ddl_to_postgres`); one made by an older
//! `pbx` gets the later migrations, translated the same way. `pbx_schema` holds how
//! many migrations the database has, as SQLite's `user_version` does.
//!
//! Configuration tables carry a trigger that says `NOTIFY pbx_config, '<tenant id>'`
//! (`'<tenant id>:<ext>'` for a row of one line: its password, devices, features)
//! on every change, so that the other nodes read it again at once, and `bindings` one
//! that names the line whose registrations changed (`listen.rs`).

use super::dialect::{ddl_to_postgres, migration_to_postgres};
use super::Db;
use crate::store::schema::MIGRATIONS;
use crate::{Error, Result};

/// The channel configuration changes are announced on.
pub const CONFIG_CHANNEL: &str = "pbx_config";

/// The channel registration changes are announced on: `<tenant id>:<ext>:<node>`
/// (the node whose connection wrote, `pbx.node`), so that the other nodes serving
/// the line read its bindings again.
pub const BINDINGS_CHANNEL: &str = "pbx_bindings";

/// Serialises nodes that start at once against one database.
const MIGRATION_LOCK: i64 = 0x0070_6278_5f6d_6967; // "pbx_mig"

/// Tables whose rows are what the switch does, not how it is configured: changes to
/// them are not announced.
const RUNTIME_TABLES: &[&str] = &[
    "bindings",
    "calls",
    "call_legs",
    "mail_outbox",
    "missed_call_mails",
    "web_sessions",
    "trunk_states",
    "agent_states",
    "voicemail",
    "captures",
];

/// Brings the database to this build's schema.
pub fn migrate(db: &Db) -> Result<()> {
    db.execute_batch(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK})"))?;
    let done = migrate_locked(db);
    db.execute_batch(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})"))?;
    done
}

fn migrate_locked(db: &Db) -> Result<()> {
    db.execute_batch(
        "CREATE EXTENSION IF NOT EXISTS citext WITH SCHEMA public;
         CREATE TABLE IF NOT EXISTS pbx_schema (version BIGINT NOT NULL);",
    )?;
    let target = MIGRATIONS.len();
    let tx = db.transaction()?;
    match stored_version(&tx)? {
        None => {
            for ddl in sqlite_schema()? {
                tx.execute_batch(&ddl)?;
            }
            install_triggers(&tx)?;
            tx.execute(
                "INSERT INTO pbx_schema (version) VALUES (?1)",
                super::params![target as i64],
            )?;
            tracing::info!(version = target, "postgres store created");
        }
        Some(v) if v < target => {
            for sql in &MIGRATIONS[v..] {
                tx.execute_batch(&migration_to_postgres(sql))?;
            }
            install_triggers(&tx)?;
            tx.execute(
                "UPDATE pbx_schema SET version = ?1",
                super::params![target as i64],
            )?;
            tracing::info!(from = v, version = target, "postgres store migrated");
        }
        Some(v) if v > target => {
            return Err(Error::Invalid(format!(
                "the store has schema version {v}, newer than this pbx knows ({target}): \
                 upgrade pbx on this node"
            )))
        }
        Some(_) => {}
    }
    tx.commit()
}

fn stored_version(db: &Db) -> Result<Option<usize>> {
    use super::OptionalExtension;
    Ok(db
        .query_row("SELECT version FROM pbx_schema", super::params![], |r| {
            r.get::<i64>(0)
        })
        .optional()?
        .map(|v| v.max(0) as usize))
}

/// The schema version (`pbx cluster check`).
pub fn version(db: &Db) -> Result<u32> {
    Ok(stored_version(db)?.unwrap_or(0) as u32)
}

/// SQLite's tables then indexes, as the migrations leave them, in PostgreSQL's
/// dialect; a table comes after those it references.
fn sqlite_schema() -> Result<Vec<String>> {
    let mut conn = rusqlite::Connection::open_in_memory()?;
    crate::store::schema::migrate(&mut conn)?;
    let mut stmt = conn.prepare(
        "SELECT type, name, sql FROM sqlite_master
         WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' ORDER BY rowid",
    )?;
    let rows: Vec<(String, String, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut tables: Vec<(String, String)> = rows
        .iter()
        .filter(|(kind, ..)| kind == "table")
        .map(|(_, name, sql)| (name.clone(), sql.clone()))
        .collect();
    let mut ordered = Vec::new();
    while !tables.is_empty() {
        let ready = tables
            .iter()
            .position(|(name, sql)| {
                references(sql)
                    .iter()
                    .all(|r| r == name || !tables.iter().any(|(n, _)| n == r))
            })
            .ok_or_else(|| Error::Invalid("the schema's tables reference in a circle".into()))?;
        let (_, sql) = tables.remove(ready);
        ordered.push(ddl_to_postgres(&sql));
    }
    ordered.extend(
        rows.iter()
            .filter(|(kind, ..)| kind == "index")
            .map(|(_, _, sql)| ddl_to_postgres(sql)),
    );
    Ok(ordered)
}

/// The tables a definition references.
fn references(sql: &str) -> Vec<String> {
    sql.split("REFERENCES ")
        .skip(1)
        .filter_map(|rest| rest.split(|c: char| c == '(' || c.is_whitespace()).next())
        .map(str::to_owned)
        .collect()
}

/// A trigger on every configuration table that announces its tenant's change.
fn install_triggers(db: &Db) -> Result<()> {
    db.execute_batch(&format!(
        "CREATE OR REPLACE FUNCTION pbx_config_changed() RETURNS trigger LANGUAGE plpgsql AS $$
         DECLARE r jsonb;
         BEGIN
           IF TG_OP = 'DELETE' THEN r := to_jsonb(OLD); ELSE r := to_jsonb(NEW); END IF;
           PERFORM pg_notify('{CONFIG_CHANNEL}', COALESCE(r ->> 'tenant_id',
             CASE WHEN TG_TABLE_NAME = 'tenants' THEN r ->> 'id' END, '')
             || COALESCE(':' || (r ->> 'ext'), ''));
           RETURN NULL;
         END $$;"
    ))?;
    db.execute_batch(&format!(
        "CREATE OR REPLACE FUNCTION pbx_bindings_changed() RETURNS trigger LANGUAGE plpgsql AS $$
         DECLARE r bindings;
         BEGIN
           IF TG_OP = 'DELETE' THEN r := OLD; ELSE r := NEW; END IF;
           PERFORM pg_notify('{BINDINGS_CHANNEL}', r.tenant_id || ':' || r.ext || ':'
             || COALESCE(current_setting('pbx.node', true), ''));
           RETURN NULL;
         END $$;
         DROP TRIGGER IF EXISTS pbx_bindings_changed ON bindings;
         CREATE TRIGGER pbx_bindings_changed AFTER INSERT OR UPDATE OR DELETE ON bindings
         FOR EACH ROW EXECUTE FUNCTION pbx_bindings_changed();"
    ))?;
    let tables: Vec<String> = db
        .prepare(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()
             AND tablename <> 'pbx_schema'",
        )?
        .query_map(super::params![], |r| r.get(0))?
        .collect::<Result<_>>()?;
    for t in tables
        .iter()
        .filter(|t| !RUNTIME_TABLES.contains(&t.as_str()))
    {
        db.execute_batch(&format!(
            "DROP TRIGGER IF EXISTS pbx_config_changed ON {t};
             CREATE TRIGGER pbx_config_changed AFTER INSERT OR UPDATE OR DELETE ON {t}
             FOR EACH ROW EXECUTE FUNCTION pbx_config_changed();"
        ))?;
    }
    Ok(())
}

/// For tests: a schema of its own in the test database, first on the search path.
pub fn fresh_test_schema(db: &Db) -> Result<()> {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let name = format!(
        "t_{}_{}_{nanos}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    db.execute_batch(&format!(
        "CREATE SCHEMA {name}; SET search_path TO {name}, public;"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_follows_the_tables_it_references() {
        let schema = sqlite_schema().unwrap();
        let position = |table: &str| {
            schema
                .iter()
                .position(|s| s.starts_with(&format!("CREATE TABLE {table} ")))
                .unwrap_or_else(|| panic!("table {table}"))
        };
        assert!(position("tenants") < position("lines"));
        assert!(position("lines") < position("bindings"));
        assert!(position("users") < position("lines").max(position("devices")));
        assert!(schema.iter().all(|s| !s.contains("INTEGER")), "{schema:#?}");
        assert_eq!(
            references("a REFERENCES lines(tenant_id, ext) b REFERENCES users (id)"),
            ["lines", "users"]
        );
    }
}
