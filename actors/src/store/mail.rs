//! Mail: the SMTP server mail goes out through (the switch's, or a tenant's own), and
//! the outbox. Every mail is a row first (`queue_voicemail_mail`, in the same store job
//! as the message it tells of), sent by `crate::mail`, marked sent once the server took
//! it, and retried with back-off while it does not (given up after `crate::mail::MAX_ATTEMPTS` tries):
//! nothing is lost over a restart, and a mail the server took is not sent again (only
//! if marking it sent fails, a full disk, may it go twice).

use super::db::{params, OptionalExtension};

use super::{Store, TenantId};
use crate::{Error, Result};

/// How mail leaves: server, port, encryption, credentials, sender.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailSettings {
    pub server: String,
    pub port: u16,
    /// "none", "starttls" or "tls".
    pub tls: String,
    pub username: Option<String>,
    pub password: Option<String>,
    pub sender: String,
}

/// A mail of the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    pub id: i64,
    pub tenant: TenantId,
    pub recipient: String,
    pub subject: String,
    pub body: String,
    /// A file sent along (a voicemail message's WAV).
    pub attachment: Option<String>,
    pub attempts: u32,
    /// Unix milliseconds it was sent at, if it was.
    pub sent_at: Option<u64>,
    pub last_error: Option<String>,
}

fn check_address(a: &str) -> Result<()> {
    let ok = a
        .split_once('@')
        .is_some_and(|(l, d)| !l.is_empty() && !d.is_empty() && !a.contains(char::is_whitespace));
    if ok {
        Ok(())
    } else {
        Err(Error::Invalid(format!("{a:?} is not an e-mail address")))
    }
}

/// How long a mail a node claimed from the shared outbox is its own to send; a node
/// that dies meanwhile leaves it to another after this.
const CLAIM_MS: u64 = 120_000;

impl Store {
    /// Sets how mail leaves, for the switch (`None`) or one tenant.
    pub fn set_mail_settings(&self, tenant: Option<TenantId>, m: &MailSettings) -> Result<()> {
        if !["none", "starttls", "tls"].contains(&m.tls.as_str()) {
            return Err(Error::Invalid(format!(
                "tls {:?}: use none, starttls or tls",
                m.tls
            )));
        }
        if m.server.is_empty() || m.port == 0 {
            return Err(Error::Invalid(
                "a mail server needs a host and a port".into(),
            ));
        }
        check_address(&m.sender)?;
        self.conn
            .prepare_cached(
                "INSERT INTO mail_settings (scope, server, port, tls, username, password, sender)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (scope) DO UPDATE SET server = ?2, port = ?3, tls = ?4,
                   username = ?5, password = ?6, sender = ?7",
            )?
            .execute(params![
                tenant.unwrap_or(0),
                m.server,
                m.port,
                m.tls,
                m.username,
                m.password,
                m.sender
            ])?;
        Ok(())
    }

    /// How `tenant`'s mail leaves: its own server, or the switch's.
    pub fn mail_settings(&self, tenant: TenantId) -> Result<Option<MailSettings>> {
        self.conn
            .prepare_cached(
                "SELECT server, port, tls, username, password, sender FROM mail_settings
                 WHERE scope IN (?1, 0) ORDER BY scope DESC LIMIT 1",
            )?
            .query_row(params![tenant], |r| {
                Ok(MailSettings {
                    server: r.get(0)?,
                    port: r.get(1)?,
                    tls: r.get(2)?,
                    username: r.get(3)?,
                    password: r.get(4)?,
                    sender: r.get(5)?,
                })
            })
            .optional()
    }

    /// Puts the mails telling of the voicemail message recorded to `file` in the
    /// outbox: to its mailbox's person, and, when the mailbox is a hunt group's (the
    /// plan's group `voicemail`), to the persons of the group's members; each address
    /// once.
    pub fn queue_voicemail_mail(&self, file: &str, now: u64) -> Result<()> {
        let found = self
            .conn
            .prepare_cached(
                "SELECT tenant_id, mailbox, caller, received_at, duration_ms FROM voicemail
                 WHERE file = ?1",
            )?
            .query_row(params![file], |r| {
                Ok((
                    r.get::<TenantId>(0)?,
                    r.get::<String>(1)?,
                    r.get::<String>(2)?,
                    r.get::<i64>(3)?,
                    r.get::<i64>(4)?,
                ))
            })
            .optional()?;
        let Some((tenant, mailbox, caller, at, ms)) = found else {
            return Ok(());
        };
        let mut lines = vec![mailbox.clone()];
        if let Some(plan) = self.stored_plan(tenant)? {
            for g in plan
                .groups
                .iter()
                .filter(|g| g.voicemail.as_deref() == Some(&mailbox))
            {
                lines.extend(g.members.iter().cloned());
            }
        }
        let mut recipients: Vec<String> = Vec::new();
        for line in &lines {
            let email: Option<String> = self
                .conn
                .prepare_cached(
                    "SELECT u.email FROM lines l JOIN users u ON u.id = l.user_id
                     WHERE l.tenant_id = ?1 AND l.ext = ?2",
                )?
                .query_row(params![tenant, line], |r| r.get(0))
                .optional()?
                .flatten();
            if let Some(e) = email.filter(|e| !recipients.contains(e)) {
                recipients.push(e);
            }
        }
        let when = chrono::DateTime::from_timestamp_millis(at)
            .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
            .unwrap_or_default();
        let subject = format!("Voicemail from {caller}");
        let body = format!(
            "A new voicemail message for {mailbox}:\r\n\r\nFrom: {caller}\r\nReceived: {when}\r\nLength: {:.1} s\r\n\r\nThe recording is attached.\r\n",
            ms as f64 / 1000.0
        );
        for email in recipients {
            self.conn
                .prepare_cached(
                    "INSERT INTO mail_outbox (tenant_id, recipient, subject, body, attachment, next_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )?
                .execute(params![tenant, email, subject, body, file, now as i64])?;
        }
        Ok(())
    }

    /// The mails due by `now` (not sent, their next try come), at most 50, oldest
    /// first. On a shared store every node's mailer reads the one outbox: a node
    /// claims what it sends (its next try moved `CLAIM_MS` on), and sends only what
    /// it claimed, so no mail goes out twice.
    pub fn due_mail(&self, now: u64) -> Result<Vec<Outgoing>> {
        let mut due = self.outbox_where("sent_at IS NULL AND next_at <= ?1", now as i64)?;
        due.reverse();
        due.truncate(50);
        if self.is_shared() {
            let mut claim = self.conn.prepare_cached(
                "UPDATE mail_outbox SET next_at = ?2
                 WHERE id = ?1 AND sent_at IS NULL AND next_at <= ?3",
            )?;
            let until = now.saturating_add(CLAIM_MS) as i64;
            let mut claimed = Vec::with_capacity(due.len());
            for mail in due {
                if claim.execute(params![mail.id, until, now as i64])? == 1 {
                    claimed.push(mail);
                }
            }
            due = claimed;
        }
        Ok(due)
    }

    /// When the next unsent mail is due, if any.
    pub fn next_mail_at(&self) -> Result<Option<u64>> {
        Ok(self
            .conn
            .prepare_cached("SELECT MIN(next_at) FROM mail_outbox WHERE sent_at IS NULL")?
            .query_row(params![], |r| r.get::<Option<i64>>(0))?
            .map(|v| v.max(0) as u64))
    }

    /// The outbox of `tenant`, newest first.
    pub fn outbox(&self, tenant: TenantId) -> Result<Vec<Outgoing>> {
        self.outbox_where("tenant_id = ?1", tenant)
    }

    fn outbox_where(&self, condition: &str, value: i64) -> Result<Vec<Outgoing>> {
        let sql = format!(
            "SELECT id, tenant_id, recipient, subject, body, attachment, attempts, sent_at,
                    last_error
             FROM mail_outbox WHERE {condition} ORDER BY id DESC"
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(params![value], |r| {
            Ok(Outgoing {
                id: r.get(0)?,
                tenant: r.get(1)?,
                recipient: r.get(2)?,
                subject: r.get(3)?,
                body: r.get(4)?,
                attachment: r.get(5)?,
                attempts: r.get(6)?,
                sent_at: r.get::<Option<i64>>(7)?.map(|v| v as u64),
                last_error: r.get(8)?,
            })
        })?;
        rows.collect::<Result<_>>()
    }

    /// Mail `id` was taken by the server at `at`.
    pub fn mail_sent(&self, id: i64, at: u64) -> Result<()> {
        self.conn
            .prepare_cached("UPDATE mail_outbox SET sent_at = ?2, last_error = NULL WHERE id = ?1")?
            .execute(params![id, at as i64])?;
        Ok(())
    }

    /// Mail `id` was not taken: tried again at `next_at`.
    pub fn mail_failed(&self, id: i64, error: &str, next_at: u64) -> Result<()> {
        self.conn
            .prepare_cached(
                "UPDATE mail_outbox SET attempts = attempts + 1, last_error = ?2, next_at = ?3
                 WHERE id = ?1",
            )?
            .execute(params![id, error, next_at as i64])?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_group_mailbox_mails_its_members_each_address_once() {
        let mut s = Store::in_memory().unwrap();
        let t = s.add_tenant("acme", &["acme.example".into()]).unwrap();
        for ext in ["100", "101", "102"] {
            let line = crate::store::NewLine {
                ext: ext.into(),
                display_name: None,
                password: "secret1".into(),
            };
            s.add_line(&t, &line).unwrap();
        }
        s.add_user(t.id, "Ann", Some("ann@acme.test")).unwrap();
        s.add_user(t.id, "Bob", Some("bob@acme.test")).unwrap();
        s.set_line_user(t.id, "100", Some("Ann")).unwrap();
        s.set_line_user(t.id, "101", Some("Ann")).unwrap();
        s.set_line_user(t.id, "102", Some("Bob")).unwrap();
        let mut plan = dialplan::TenantPlan::demo();
        plan.groups[0].voicemail = Some("100".into());
        plan.groups[0].members = vec!["101".into(), "102".into()];
        s.set_dialplan_json(t.id, &serde_json::to_string(&plan).unwrap())
            .unwrap();
        s.voicemail_started(t.id, "100", "105", 1000, "/m.wav")
            .unwrap();
        s.voicemail_done_file("/m.wav", 2000).unwrap();
        s.queue_voicemail_mail("/m.wav", 5).unwrap();
        let mut to: Vec<String> = s
            .outbox(t.id)
            .unwrap()
            .into_iter()
            .map(|m| m.recipient)
            .collect();
        to.sort();
        assert_eq!(to, vec!["ann@acme.test", "bob@acme.test"]);
        // A plain line's mailbox: its person only; none without an address.
        s.voicemail_started(t.id, "102", "105", 1000, "/n.wav")
            .unwrap();
        s.queue_voicemail_mail("/n.wav", 5).unwrap();
        assert_eq!(s.outbox(t.id).unwrap().len(), 3);
        assert_eq!(s.due_mail(5).unwrap().len(), 3);
        assert!(s.due_mail(4).unwrap().is_empty(), "not due before its time");
    }
}
