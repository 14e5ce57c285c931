//! The store: tenants, lines (with digest hashes only), bindings, the call journal.
//! `Store` is the synchronous API used by the admin commands and by the store thread
//! that the running switch talks to through `StoreHandle`. It keeps its rows in SQLite
//! in the data directory (one node) or in a PostgreSQL that several nodes share
//! (`--store postgres://…`); `db` is the connection that hides which.

mod agents;
mod api_keys;
mod attribution;
mod bindings;
mod captures;
pub mod db;
mod features;
mod handle;
mod journal;
mod limits;
mod lines;
mod mail;
mod missed_mail;
mod nodes;
mod people;
mod plan;
mod plan_entries;
mod provisioning;
mod queue_stats;
mod removal;
mod retention;
mod schema;
mod settings;
mod statistics;
mod tenants;
mod trunks;
mod voicemail;
mod web_accounts;

use std::path::{Path, PathBuf};

use rusqlite::Connection;

use db::Db;

pub use agents::{AgentLogin, Membership};
pub use api_keys::{ApiKey, ApiScope};
pub use attribution::{Attribution, JournalRules, PrivateNumbers};
pub use captures::{ActiveCapture, CaptureRecord};
pub use features::{
    CallerKind, FeatureChange, ForwardReason, ForwardScope, Forwards, ForwardsChange, LineFeatures,
    NO_ANSWER_SECS, VOICEMAIL,
};
pub use handle::StoreHandle;
pub use journal::{CallRecord, LegRecord};
pub use limits::{LimitsChange, TenantLimits};
pub use lines::{LineRecord, NewLine};
pub use mail::{MailSettings, Outgoing};
pub use missed_mail::MissedCallMail;
pub use nodes::NodeSeen;
pub use people::{DeviceRecord, NewDevice, UserRecord};
pub use plan::{registered_devices, PlanVersion};
pub use plan_entries::{section_key, PLAN_SECTIONS};
pub use provisioning::{
    normalise_mac, AccountConfig, PhoneAccount, PhoneConfig, PhoneMade, PhoneOrder, Provisioned,
    KINDS, VENDORS,
};
pub use queue_stats::{AgentStats, Percentiles, QueueStats};
pub use retention::Retention;
pub use settings::{Decline, Reject, SettingsChange, TenantSettings};
pub use statistics::{CallStatistics, HourStats, LineUse};
pub use tenants::{Tenant, TenantId};
pub use trunks::{TrunkConfig, TrunkState};
pub use voicemail::VoicemailMessage;
pub use web_accounts::{WebAccount, WebRole, WEB_LANGUAGES};

use crate::Result;

/// The file name of the database inside the data directory.
pub const DB_FILE: &str = "pbx.sqlite3";

/// Where the store keeps its rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreAt {
    /// SQLite in this data directory (the embedded default).
    Dir(PathBuf),
    /// A PostgreSQL database that several nodes share: `postgres://user@host/db`.
    Postgres(String),
}

impl StoreAt {
    /// `--store URL` when given, else SQLite in `data_dir`.
    pub fn new(store: Option<&str>, data_dir: &Path) -> Result<StoreAt> {
        match store {
            None => Ok(StoreAt::Dir(data_dir.to_owned())),
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                Ok(StoreAt::Postgres(url.to_owned()))
            }
            Some(other) => Err(crate::Error::Invalid(format!(
                "--store {other:?}: give a postgres://user@host:port/database URL \
                 (without --store, SQLite in the data directory is used)"
            ))),
        }
    }

    /// For messages: the directory, or the URL without its password.
    pub fn describe(&self) -> String {
        match self {
            StoreAt::Dir(d) => d.join(DB_FILE).display().to_string(),
            StoreAt::Postgres(url) => db::redact(url),
        }
    }
}

pub struct Store {
    conn: Db,
    /// The node this switch is (`--node-id`), written with its registrations and
    /// calls when several nodes share the store.
    node: Option<String>,
}

impl Store {
    /// Opens (creating if needed) the database in `data_dir` and migrates it.
    pub fn open(data_dir: &Path) -> Result<Store> {
        std::fs::create_dir_all(data_dir)?;
        let mut conn = Connection::open(data_dir.join(DB_FILE))?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        schema::migrate(&mut conn)?;
        Ok(Store {
            conn: Db::sqlite(conn),
            node: None,
        })
    }

    /// Opens the store where `at` says, migrating it. PostgreSQL's client blocks:
    /// call this (and the store's other methods) outside async code, as the store
    /// thread does.
    pub fn open_at(at: &StoreAt) -> Result<Store> {
        match at {
            StoreAt::Dir(dir) => Store::open(dir),
            StoreAt::Postgres(url) => {
                let conn = Db::postgres(url)?;
                db::postgres_schema::migrate(&conn)?;
                Ok(Store { conn, node: None })
            }
        }
    }

    /// An in-memory store, for tests. With `PBX_TEST_POSTGRES` set to a database URL,
    /// a fresh schema of that database instead, so the store's tests run against
    /// PostgreSQL too.
    pub fn in_memory() -> Result<Store> {
        if let Ok(url) = std::env::var("PBX_TEST_POSTGRES") {
            let conn = Db::postgres(&url)?;
            db::postgres_schema::fresh_test_schema(&conn)?;
            db::postgres_schema::migrate(&conn)?;
            return Ok(Store { conn, node: None });
        }
        let mut conn = Connection::open_in_memory()?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        schema::migrate(&mut conn)?;
        Ok(Store {
            conn: Db::sqlite(conn),
            node: None,
        })
    }

    /// Whether the rows live in a shared PostgreSQL.
    pub fn is_shared(&self) -> bool {
        self.conn.is_postgres()
    }

    /// Names the node that writes through this store from now on.
    pub fn set_node(&mut self, node: Option<String>) -> Result<()> {
        self.conn.set_node(node.as_deref())?;
        self.node = node;
        Ok(())
    }

    pub fn schema_version(&self) -> Result<u32> {
        match self.conn.as_sqlite() {
            Some(c) => Ok(c.pragma_query_value(None, "user_version", |r| r.get(0))?),
            None => db::postgres_schema::version(&self.conn),
        }
    }
}
