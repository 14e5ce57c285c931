//! The SQLite store: tenants, lines (with digest hashes only), bindings, the call
//! journal. `Store` is the synchronous API used by the admin commands and by the store
//! thread that the running switch talks to through `StoreHandle`.

mod agents;
mod api_keys;
mod attribution;
mod bindings;
mod captures;
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

use std::path::Path;

use rusqlite::Connection;

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

pub struct Store {
    conn: Connection,
    /// The node this switch is (`--node-id`), written with its registrations and
    /// calls when several nodes share the store.
    node: Option<String>,
}

impl Store {
    /// Opens (creating if needed) the database in `data_dir` and migrates it.
    pub fn open(data_dir: &Path) -> Result<Store> {
        std::fs::create_dir_all(data_dir)?;
        let conn = Connection::open(data_dir.join(DB_FILE))?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        let mut store = Store { conn, node: None };
        schema::migrate(&mut store.conn)?;
        Ok(store)
    }

    /// An in-memory store, for tests.
    pub fn in_memory() -> Result<Store> {
        let mut conn = Connection::open_in_memory()?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        schema::migrate(&mut conn)?;
        Ok(Store { conn, node: None })
    }

    /// Names the node that writes through this store from now on.
    pub fn set_node(&mut self, node: Option<String>) {
        self.node = node;
    }

    pub fn schema_version(&self) -> Result<u32> {
        Ok(self
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))?)
    }
}
