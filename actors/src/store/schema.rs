//! Schema migrations, applied in order; `PRAGMA user_version` says how many ran.

use rusqlite::Connection;

use crate::Result;

pub(crate) const MIGRATIONS: &[&str] = &[
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
    // 2: the call journal (`store/journal.rs`). Times are unix milliseconds. No foreign
    // key to tenants: the journal outlives a deleted tenant until retention removes it.
    "CREATE TABLE calls (
        id INTEGER PRIMARY KEY,
        tenant_id INTEGER NOT NULL,
        call_id INTEGER NOT NULL UNIQUE,
        from_number TEXT NOT NULL,
        to_number TEXT NOT NULL,
        direction TEXT NOT NULL CHECK (direction IN ('internal', 'inbound', 'outbound')),
        caller_line TEXT,
        started_at INTEGER NOT NULL,
        ring_at INTEGER,
        answered_at INTEGER,
        ended_at INTEGER,
        disposition TEXT,
        hangup_side TEXT,
        cause_code INTEGER,
        cause_text TEXT,
        duration_ms INTEGER,
        answered_by TEXT,
        transferred_to TEXT,
        state TEXT NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'done', 'unfinished')),
        repaired_at INTEGER
    );
    CREATE INDEX calls_tenant_started ON calls(tenant_id, started_at);
    CREATE INDEX calls_active ON calls(state) WHERE state = 'active';
    CREATE TABLE call_legs (
        call_id INTEGER NOT NULL REFERENCES calls(call_id) ON DELETE CASCADE,
        leg INTEGER NOT NULL,
        target TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        ring_at INTEGER,
        answered_at INTEGER,
        answered_by TEXT,
        ended_at INTEGER,
        code INTEGER,
        reason TEXT,
        side TEXT,
        PRIMARY KEY (call_id, leg)
    );",
    // 3: per-tenant call outcome settings (`store/settings.rs`). `decline` is '486',
    // '480', '603' or 'ring'; `reject` 486 or 603 (NULL: as the device sent it);
    // `drop_off` an extension of the tenant (checked when set; a line removed later
    // makes it count as unset).
    "CREATE TABLE tenant_settings (
        tenant_id INTEGER PRIMARY KEY REFERENCES tenants(id) ON DELETE CASCADE,
        decline TEXT NOT NULL DEFAULT '486',
        reject INTEGER,
        drop_off TEXT,
        busy_on_busy INTEGER NOT NULL DEFAULT 0
    );",
    // 4: per-tenant quotas (`store/limits.rs`); NULL is no limit. Lines get defaults
    // (64 calls, 20 per second) until a row says otherwise.
    "CREATE TABLE tenant_limits (
        tenant_id INTEGER PRIMARY KEY REFERENCES tenants(id) ON DELETE CASCADE,
        max_calls INTEGER,
        max_cps INTEGER,
        line_max_calls INTEGER DEFAULT 64,
        line_max_cps INTEGER DEFAULT 20
    );",
    // 5: one drop-off number: a tenant with a dialplan keeps it in the plan (what
    // routing reads), so a drop-off set with `pbx tenant set` moves there.
    "UPDATE tenants SET dialplan = json_set(dialplan, '$.drop_off',
        (SELECT drop_off FROM tenant_settings WHERE tenant_id = tenants.id))
     WHERE dialplan IS NOT NULL AND json_valid(dialplan) AND EXISTS
        (SELECT 1 FROM tenant_settings WHERE tenant_id = tenants.id AND drop_off IS NOT NULL);
     UPDATE tenant_settings SET drop_off = NULL WHERE tenant_id IN
        (SELECT id FROM tenants WHERE dialplan IS NOT NULL AND json_valid(dialplan));",
    // 6: one source for call handling: a tenant with a dialplan keeps its decline and
    // reject codes and busy-on-busy in the plan's `default` line group.
    "UPDATE tenants SET dialplan = json_set(dialplan, '$.line_groups', json_array(json_object(
        'name', 'default',
        'decline', s.decline,
        'reject', CASE WHEN s.reject IS NULL THEN 'device' ELSE CAST(s.reject AS TEXT) END,
        'busy_on_busy', json(CASE s.busy_on_busy WHEN 1 THEN 'true' ELSE 'false' END))))
     FROM tenant_settings s
     WHERE s.tenant_id = tenants.id AND tenants.dialplan IS NOT NULL
       AND json_valid(tenants.dialplan) AND json_type(tenants.dialplan, '$.line_groups') IS NULL;
     DELETE FROM tenant_settings WHERE tenant_id IN
        (SELECT id FROM tenants WHERE dialplan IS NOT NULL AND json_valid(dialplan));",
    // 7: users (people) own lines; a line without one is device-only. Devices are SIP
    // accounts of their own that register for a line and place its calls (a line's
    // own number and password stay its first account).
    "CREATE TABLE users (
        id INTEGER PRIMARY KEY,
        tenant_id INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        email TEXT,
        UNIQUE (tenant_id, name)
    );
    ALTER TABLE lines ADD COLUMN user_id INTEGER REFERENCES users(id) ON DELETE SET NULL;
    CREATE TABLE devices (
        tenant_id INTEGER NOT NULL,
        username TEXT NOT NULL,
        ext TEXT NOT NULL,
        name TEXT,
        ha1_md5 TEXT NOT NULL,
        ha1_sha256 TEXT NOT NULL,
        PRIMARY KEY (tenant_id, username),
        FOREIGN KEY (tenant_id, ext) REFERENCES lines(tenant_id, ext) ON DELETE CASCADE
    );",
    // 8: the recording a call made on demand (a WAV below the data directory).
    "ALTER TABLE calls ADD COLUMN recording TEXT;",
    // 9: a line's own call handling: do not disturb and forwarding. A row only for
    // lines that set something.
    "CREATE TABLE line_features (
        tenant_id INTEGER NOT NULL,
        ext TEXT NOT NULL,
        dnd INTEGER NOT NULL DEFAULT 0,
        no_call_waiting INTEGER NOT NULL DEFAULT 0,
        anonymous INTEGER NOT NULL DEFAULT 0,
        fwd_always TEXT,
        fwd_busy TEXT,
        fwd_unregistered TEXT,
        fwd_no_answer TEXT,
        no_answer_secs INTEGER,
        PRIMARY KEY (tenant_id, ext),
        FOREIGN KEY (tenant_id, ext) REFERENCES lines(tenant_id, ext) ON DELETE CASCADE
    );",
    // 10: forwarding for external callers apart, the administrator's forwarding, the
    // caller ID shown; the journal's forwarding, pickup, caller shown and the lines a
    // call counts as missed for, under the tenant's attribution rules; the members
    // logged out of a hunt group or queue (a row each; the others are logged in).
    "ALTER TABLE line_features ADD COLUMN ext_split INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE line_features ADD COLUMN ext_fwd_always TEXT;
    ALTER TABLE line_features ADD COLUMN ext_fwd_busy TEXT;
    ALTER TABLE line_features ADD COLUMN ext_fwd_unregistered TEXT;
    ALTER TABLE line_features ADD COLUMN ext_fwd_no_answer TEXT;
    ALTER TABLE line_features ADD COLUMN admin_forward TEXT;
    ALTER TABLE line_features ADD COLUMN caller_id TEXT;
    ALTER TABLE line_features ADD COLUMN caller_id_fixed INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE calls ADD COLUMN forwarded_from TEXT;
    ALTER TABLE calls ADD COLUMN forward_reason TEXT;
    ALTER TABLE calls ADD COLUMN picked_up_by TEXT;
    ALTER TABLE calls ADD COLUMN caller_shown TEXT;
    ALTER TABLE calls ADD COLUMN missed_by TEXT;
    CREATE TABLE agent_logouts (
        tenant_id INTEGER NOT NULL,
        grp TEXT NOT NULL,
        ext TEXT NOT NULL,
        PRIMARY KEY (tenant_id, grp, ext),
        FOREIGN KEY (tenant_id, ext) REFERENCES lines(tenant_id, ext) ON DELETE CASCADE
    );
    CREATE TABLE journal_rules (
        tenant_id INTEGER PRIMARY KEY REFERENCES tenants(id) ON DELETE CASCADE,
        unanswered TEXT NOT NULL,
        forwarded TEXT NOT NULL
    );",
    // 11: the queue a call waited in and since when (queue statistics).
    "ALTER TABLE calls ADD COLUMN queue TEXT;
    ALTER TABLE calls ADD COLUMN queued_at INTEGER;
    CREATE INDEX calls_by_queue ON calls(tenant_id, queue) WHERE queue IS NOT NULL;",
    // 12: what each queue's agent is doing now, as the running switch last said.
    "CREATE TABLE agent_states (
        tenant_id INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
        grp TEXT NOT NULL,
        ext TEXT NOT NULL,
        state TEXT NOT NULL,
        since INTEGER NOT NULL,
        PRIMARY KEY (tenant_id, grp, ext)
    );",
    // 13: voicemail messages: the WAV's path and what is known of it; a message is
    // 'recording' until its caller is done ('new'), 'old' once listened to.
    "CREATE TABLE voicemail (
        id INTEGER PRIMARY KEY,
        tenant_id INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
        mailbox TEXT NOT NULL,
        caller TEXT NOT NULL,
        received_at INTEGER NOT NULL,
        duration_ms INTEGER NOT NULL DEFAULT 0,
        file TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('recording', 'new', 'old'))
    );
    CREATE INDEX voicemail_by_box ON voicemail(tenant_id, mailbox);
    CREATE TABLE voicemail_pins (
        tenant_id INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
        mailbox TEXT NOT NULL,
        pin TEXT NOT NULL,
        PRIMARY KEY (tenant_id, mailbox)
    );",
    // 14: mail: the SMTP server of the switch (scope 0) or of a tenant (its id), and
    // the outbox every mail goes through (kept until sent, retried with back-off).
    "CREATE TABLE mail_settings (
        scope INTEGER PRIMARY KEY,
        server TEXT NOT NULL,
        port INTEGER NOT NULL,
        tls TEXT NOT NULL CHECK (tls IN ('none', 'starttls', 'tls')),
        username TEXT,
        password TEXT,
        sender TEXT NOT NULL
    );
    CREATE TABLE mail_outbox (
        id INTEGER PRIMARY KEY,
        tenant_id INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
        recipient TEXT NOT NULL,
        subject TEXT NOT NULL,
        body TEXT NOT NULL,
        attachment TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_at INTEGER NOT NULL,
        sent_at INTEGER,
        last_error TEXT
    );
    CREATE INDEX mail_due ON mail_outbox(next_at) WHERE sent_at IS NULL;",
    // 15: SIP trunks (the carrier's address and, for a registration trunk, the
    // account the switch registers with: the carrier's secret, kept as given), the
    // state the switch last saw of each, and the trunk a call went in or out on.
    "CREATE TABLE trunks (
        tenant_id INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        host TEXT NOT NULL,
        port INTEGER NOT NULL,
        transport TEXT NOT NULL CHECK (transport IN ('udp', 'tcp')),
        username TEXT,
        password TEXT,
        domain TEXT,
        register INTEGER NOT NULL DEFAULT 0,
        expires INTEGER NOT NULL DEFAULT 3600,
        keepalive INTEGER NOT NULL DEFAULT 30,
        max_calls INTEGER,
        PRIMARY KEY (tenant_id, name)
    );
    CREATE TABLE trunk_states (
        tenant_id INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        status TEXT NOT NULL,
        reason TEXT NOT NULL,
        since INTEGER NOT NULL,
        registered_until INTEGER,
        registrations INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (tenant_id, name)
    );
    ALTER TABLE calls ADD COLUMN trunk TEXT;",
    // 16: API keys: the switch operator's (no tenant), a tenant administrator's, or a
    // user's (one line). Only the SHA-256 of each key's secret is kept.
    "CREATE TABLE api_keys (
        id INTEGER PRIMARY KEY,
        tenant_id INTEGER REFERENCES tenants(id) ON DELETE CASCADE,
        scope TEXT NOT NULL CHECK (scope IN ('operator', 'admin', 'user')),
        line TEXT,
        name TEXT NOT NULL,
        secret_sha256 TEXT NOT NULL,
        created_at INTEGER NOT NULL
    );",
    // 17: phones provisioned by MAC: the device account each one uses (its password
    // is made anew at every fetch, so none is kept), its vendor's format, its
    // busy-lamp keys and language.
    "CREATE TABLE provisioning (
        mac TEXT PRIMARY KEY,
        tenant_id INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
        vendor TEXT NOT NULL CHECK (vendor IN ('yealink', 'snom', 'gigaset', 'grandstream')),
        device TEXT NOT NULL,
        blf TEXT NOT NULL DEFAULT '',
        language TEXT NOT NULL DEFAULT 'en',
        created_at INTEGER NOT NULL,
        fetched_at INTEGER
    );",
    // 18: how long a tenant's journal keeps internal and external calls (days; none:
    // for ever).
    "CREATE TABLE journal_retention (
        tenant_id INTEGER PRIMARY KEY REFERENCES tenants(id) ON DELETE CASCADE,
        internal_days INTEGER,
        external_days INTEGER
    );",
    // 19: SIP captures of a line group's lines to PCAP files (`pbx capture`); running
    // while `stopped_at` is empty.
    "CREATE TABLE captures (
        id INTEGER PRIMARY KEY,
        tenant_id INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
        line_group TEXT NOT NULL,
        file TEXT NOT NULL,
        started_at INTEGER NOT NULL,
        stopped_at INTEGER
    );",
    // 20: private calls and project codes: a line's own flag and code, the journal's
    // marks, and how a tenant's journal keeps a private call's number.
    "ALTER TABLE line_features ADD COLUMN private INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE line_features ADD COLUMN project TEXT;
    ALTER TABLE calls ADD COLUMN private INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE calls ADD COLUMN project TEXT;
    ALTER TABLE journal_rules ADD COLUMN private_numbers TEXT NOT NULL DEFAULT 'masked';",
    // 21: missed-call mail: a person's choice and the callers it never mails about,
    // and who was mailed about whom on which day (one mail per caller a day).
    "ALTER TABLE users ADD COLUMN missed_call_mail INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE users ADD COLUMN missed_call_exclude TEXT NOT NULL DEFAULT '';
    CREATE TABLE missed_call_mails (
        tenant_id INTEGER NOT NULL,
        user_id INTEGER NOT NULL,
        caller TEXT NOT NULL,
        day TEXT NOT NULL,
        PRIMARY KEY (tenant_id, user_id, caller, day)
    );",
    // 22: a line hides who calls it from the busy-lamp keys watching it.
    "ALTER TABLE line_features ADD COLUMN blf_private INTEGER NOT NULL DEFAULT 0;",
    // 23: the account (line or device) that registered each binding.
    "ALTER TABLE bindings ADD COLUMN account TEXT;",
    // 24: device kinds: a desk phone (one account), a DECT base (an account per
    // handset, known by its IPUI) or an analog adapter (an account per port); the
    // accounts of a base or adapter by slot; a per-device provisioning token (its
    // SHA-256), without which the phone's file is not served.
    "ALTER TABLE provisioning ADD COLUMN kind TEXT NOT NULL DEFAULT 'phone';
    ALTER TABLE provisioning ADD COLUMN token_sha256 TEXT;
    CREATE TABLE phone_accounts (
        mac TEXT NOT NULL REFERENCES provisioning(mac) ON DELETE CASCADE,
        slot INTEGER NOT NULL,
        ipui TEXT,
        device TEXT NOT NULL,
        PRIMARY KEY (mac, slot)
    );
    CREATE UNIQUE INDEX phone_accounts_ipui ON phone_accounts(ipui) WHERE ipui IS NOT NULL;",
    // 25: the web admin's sign-ins: the switch operator (no tenant), a tenant's
    // administrator, or a line's user; the password as an argon2id PHC string. Its
    // sessions by the SHA-256 of their cookie, each with its CSRF token.
    "CREATE TABLE web_accounts (
        id INTEGER PRIMARY KEY,
        tenant_id INTEGER REFERENCES tenants(id) ON DELETE CASCADE,
        role TEXT NOT NULL CHECK (role IN ('operator', 'admin', 'user')),
        login TEXT NOT NULL UNIQUE COLLATE NOCASE,
        line TEXT,
        password_hash TEXT NOT NULL,
        language TEXT NOT NULL DEFAULT 'en' CHECK (language IN ('en', 'de')),
        created_at INTEGER NOT NULL
    );
    CREATE TABLE web_sessions (
        token_sha256 TEXT PRIMARY KEY,
        account_id INTEGER NOT NULL REFERENCES web_accounts(id) ON DELETE CASCADE,
        csrf TEXT NOT NULL,
        expires_at INTEGER NOT NULL
    );",
    // 26: trunks may speak TLS (SQLite cannot change a CHECK: the table is copied).
    "CREATE TABLE trunks_new (
        tenant_id INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        host TEXT NOT NULL,
        port INTEGER NOT NULL,
        transport TEXT NOT NULL CHECK (transport IN ('udp', 'tcp', 'tls')),
        username TEXT,
        password TEXT,
        domain TEXT,
        register INTEGER NOT NULL DEFAULT 0,
        expires INTEGER NOT NULL DEFAULT 3600,
        keepalive INTEGER NOT NULL DEFAULT 30,
        max_calls INTEGER,
        PRIMARY KEY (tenant_id, name)
    );
    INSERT INTO trunks_new SELECT tenant_id, name, host, port, transport, username, password,
        domain, register, expires, keepalive, max_calls FROM trunks;
    DROP TABLE trunks;
    ALTER TABLE trunks_new RENAME TO trunks;",
    // Several nodes on one store: which node took a registration or ran a call, and
    // the Path (RFC 3327) of a registration relayed by an edge proxy.
    "ALTER TABLE bindings ADD COLUMN node TEXT;
    ALTER TABLE bindings ADD COLUMN path TEXT;
    ALTER TABLE calls ADD COLUMN node TEXT;",
    // 28: on a shared store, the node that records a message and that keeps an
    // agent's state: a node starting repairs and clears only its own.
    "ALTER TABLE voicemail ADD COLUMN node TEXT;
    ALTER TABLE agent_states ADD COLUMN node TEXT;",
];

pub fn migrate(conn: &mut Connection) -> Result<()> {
    migrate_to(conn, MIGRATIONS.len())
}

/// Runs the migrations up to version `target` (tests start from an old version).
pub(crate) fn migrate_to(conn: &mut Connection, target: usize) -> Result<()> {
    let version: usize = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    for (i, sql) in MIGRATIONS.iter().enumerate().take(target).skip(version) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i + 1)?;
        tx.commit()?;
        tracing::info!(version = i + 1, "store migrated");
    }
    Ok(())
}
