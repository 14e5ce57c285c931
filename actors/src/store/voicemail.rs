//! Voicemail messages: one row per message (its WAV lives in the data directory, see
//! `call/voicemail.rs`). A row is written when recording starts (`recording`), so a
//! switch killed meanwhile finds it at its next start and keeps what was recorded
//! (`recordings_cut_short`, the WAV's header repaired by `media::wav::repair`).

use std::collections::HashSet;

use super::db::params;

use super::{Store, TenantId};
use crate::Result;

/// One voicemail message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoicemailMessage {
    pub id: i64,
    pub mailbox: String,
    pub caller: String,
    /// Unix milliseconds.
    pub received_at: u64,
    pub duration_ms: u64,
    pub file: String,
    /// "recording", "new" or "old".
    pub state: String,
}

impl Store {
    /// The tenant's lines that have a mailbox: those of a person (a device-only line
    /// has none).
    pub fn mailboxes(&self, tenant: TenantId) -> Result<HashSet<String>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT ext FROM lines WHERE tenant_id = ?1 AND user_id IS NOT NULL")?;
        let rows = stmt.query_map(params![tenant], |r| r.get(0))?;
        rows.collect::<Result<_>>()
    }

    /// A message starts being recorded to `file`; returns its id.
    pub fn voicemail_started(
        &self,
        tenant: TenantId,
        mailbox: &str,
        caller: &str,
        at: u64,
        file: &str,
    ) -> Result<i64> {
        self.conn
            .prepare_cached(
                "INSERT INTO voicemail (tenant_id, mailbox, caller, received_at, file, state, node)
                 VALUES (?1, ?2, ?3, ?4, ?5, 'recording', ?6) RETURNING id",
            )?
            .query_row(
                params![tenant, mailbox, caller, at as i64, file, self.node],
                |r| r.get(0),
            )
    }

    /// Message `id` is complete: `duration_ms` long, new.
    pub fn voicemail_done(&self, id: i64, duration_ms: u64) -> Result<()> {
        self.conn
            .prepare_cached(
                "UPDATE voicemail SET duration_ms = ?2, state = 'new'
                 WHERE id = ?1 AND state = 'recording'",
            )?
            .execute(params![id, duration_ms as i64])?;
        Ok(())
    }

    /// The message recorded to `file` is complete: `duration_ms` long, new.
    pub fn voicemail_done_file(&self, file: &str, duration_ms: u64) -> Result<()> {
        self.conn
            .prepare_cached(
                "UPDATE voicemail SET duration_ms = ?2, state = 'new'
                 WHERE file = ?1 AND state = 'recording'",
            )?
            .execute(params![file, duration_ms as i64])?;
        Ok(())
    }

    /// Sets the PIN that opens `mailbox` (4 to 8 digits).
    pub fn set_voicemail_pin(&self, tenant: TenantId, mailbox: &str, pin: &str) -> Result<()> {
        if !(4..=8).contains(&pin.len()) || !pin.bytes().all(|b| b.is_ascii_digit()) {
            return Err(crate::Error::Invalid(
                "a voicemail PIN is 4 to 8 digits".to_owned(),
            ));
        }
        if !self.mailboxes(tenant)?.contains(mailbox) {
            return Err(crate::Error::Invalid(format!(
                "{mailbox} has no mailbox (its line needs a user: pbx line set-user)"
            )));
        }
        self.conn
            .prepare_cached(
                "INSERT INTO voicemail_pins (tenant_id, mailbox, pin) VALUES (?1, ?2, ?3)
                 ON CONFLICT (tenant_id, mailbox) DO UPDATE SET pin = ?3",
            )?
            .execute(params![tenant, mailbox, pin])?;
        Ok(())
    }

    /// The PIN of `mailbox`, if one is set.
    pub fn voicemail_pin(&self, tenant: TenantId, mailbox: &str) -> Result<Option<String>> {
        use super::db::OptionalExtension;
        self.conn
            .prepare_cached("SELECT pin FROM voicemail_pins WHERE tenant_id = ?1 AND mailbox = ?2")?
            .query_row(params![tenant, mailbox], |r| r.get(0))
            .optional()
    }

    /// How many messages of `mailbox` are new and old.
    pub fn voicemail_counts(&self, tenant: TenantId, mailbox: &str) -> Result<(u32, u32)> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT state, COUNT(*) FROM voicemail WHERE tenant_id = ?1 AND mailbox = ?2
             GROUP BY state",
        )?;
        let mut counts = (0, 0);
        let rows = stmt.query_map(params![tenant, mailbox], |r| {
            Ok((r.get::<String>(0)?, r.get::<u32>(1)?))
        })?;
        for row in rows {
            match row? {
                (s, n) if s == "new" => counts.0 = n,
                (s, n) if s == "old" => counts.1 = n,
                _ => {}
            }
        }
        Ok(counts)
    }

    /// Message `id` was listened to: it is old now.
    pub fn voicemail_heard(&self, id: i64) -> Result<()> {
        self.conn
            .prepare_cached("UPDATE voicemail SET state = 'old' WHERE id = ?1 AND state = 'new'")?
            .execute(params![id])?;
        Ok(())
    }

    /// Deletes message `id` (its row and its file).
    pub fn voicemail_delete(&self, id: i64) -> Result<()> {
        use super::db::OptionalExtension;
        let file: Option<String> = self
            .conn
            .prepare_cached("SELECT file FROM voicemail WHERE id = ?1")?
            .query_row(params![id], |r| r.get(0))
            .optional()?;
        self.conn
            .prepare_cached("DELETE FROM voicemail WHERE id = ?1")?
            .execute(params![id])?;
        if let Some(f) = file {
            // A mail not sent yet would attach a file that is gone: it goes too.
            self.conn
                .prepare_cached(
                    "DELETE FROM mail_outbox WHERE attachment = ?1 AND sent_at IS NULL",
                )?
                .execute(params![&f])?;
            let _ = std::fs::remove_file(f);
        }
        Ok(())
    }

    /// Messages this node still marks as being recorded (it stopped meanwhile): id
    /// and file.
    pub fn recordings_cut_short(&self) -> Result<Vec<(i64, String)>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, file FROM voicemail WHERE state = 'recording' AND node IS ?1",
        )?;
        let rows = stmt.query_map(params![self.node], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect::<Result<_>>()
    }

    /// The messages of `mailbox` (or of every mailbox), newest first.
    pub fn voicemail_messages(
        &self,
        tenant: TenantId,
        mailbox: Option<&str>,
    ) -> Result<Vec<VoicemailMessage>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, mailbox, caller, received_at, duration_ms, file, state FROM voicemail
             WHERE tenant_id = ?1 AND (mailbox = ?2 OR ?2 IS NULL)
             ORDER BY received_at DESC, id DESC",
        )?;
        let rows = stmt.query_map(params![tenant, mailbox], |r| {
            Ok(VoicemailMessage {
                id: r.get(0)?,
                mailbox: r.get(1)?,
                caller: r.get(2)?,
                received_at: r.get::<i64>(3)? as u64,
                duration_ms: r.get::<i64>(4)? as u64,
                file: r.get(5)?,
                state: r.get(6)?,
            })
        })?;
        rows.collect::<Result<_>>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_is_recording_until_done_and_found_after_a_crash() {
        let mut s = Store::in_memory().unwrap();
        let t = s.add_tenant("acme", &["acme.example".into()]).unwrap();
        for ext in ["100", "101"] {
            let line = crate::store::NewLine {
                ext: ext.into(),
                display_name: None,
                password: "secret1".into(),
            };
            s.add_line(&t, &line).unwrap();
        }
        s.add_user(t.id, "Ann", None).unwrap();
        s.set_line_user(t.id, "100", Some("Ann")).unwrap();
        assert_eq!(
            s.mailboxes(t.id).unwrap(),
            HashSet::from(["100".to_owned()])
        );
        let a = s
            .voicemail_started(t.id, "100", "101", 1000, "/a.wav")
            .unwrap();
        let b = s
            .voicemail_started(t.id, "100", "102", 2000, "/b.wav")
            .unwrap();
        s.voicemail_done(a, 1500).unwrap();
        assert_eq!(
            s.recordings_cut_short().unwrap(),
            vec![(b, "/b.wav".to_owned())]
        );
        let list = s.voicemail_messages(t.id, Some("100")).unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(
            (list[0].caller.as_str(), list[0].state.as_str()),
            ("102", "recording")
        );
        assert_eq!((list[1].duration_ms, list[1].state.as_str()), (1500, "new"));
        assert!(s.voicemail_messages(t.id, Some("101")).unwrap().is_empty());
    }
}
