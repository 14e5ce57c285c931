//! The mailer: one task of the switch that sends the outbox (`store/mail.rs`) over
//! SMTP (`lettre`): each due mail through its tenant's server (or the switch's), marked
//! sent once the server took it; refused or unreachable, it is tried again later,
//! waiting twice as long each time (from `FIRST_RETRY` up to `LAST_RETRY`). It runs
//! when woken (a mail was queued) and when the next retry is due, and sleeps without a
//! timer while the outbox holds nothing to send; on start it sends what an earlier run
//! left.

use std::sync::Arc;
use std::time::Duration;

use lettre::message::{header::ContentType, Attachment, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use tokio::sync::Notify;

use crate::clock::unix_millis;
use crate::store::{MailSettings, Outgoing, StoreHandle};

/// The wait before the first retry, and the longest wait between two.
pub const FIRST_RETRY: Duration = Duration::from_secs(2);
pub const LAST_RETRY: Duration = Duration::from_secs(300);

/// The longest the mailer sleeps while a retry is pending (a mail queued wakes it
/// sooner).
const IDLE: Duration = Duration::from_secs(60);

/// Tries before a mail is given up (about a day of retries at `LAST_RETRY`).
pub const MAX_ATTEMPTS: u32 = 300;

/// A "next try" far enough to mean never (a mail given up stays in the outbox).
const NEVER: u64 = i64::MAX as u64;

/// The wait after `attempts` failed tries.
pub fn backoff(attempts: u32) -> Duration {
    FIRST_RETRY
        .saturating_mul(1u32 << attempts.min(16))
        .min(LAST_RETRY)
}

/// Starts the mailer; `wake` makes it look at the outbox now.
pub fn spawn(store: StoreHandle, wake: Arc<Notify>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let now = unix_millis();
            let due = match store.call(move |s| s.due_mail(now)).await {
                Ok(d) => d,
                Err(crate::Error::StoreGone) => return,
                Err(e) => {
                    tracing::warn!(error = %e, "outbox not read");
                    Vec::new()
                }
            };
            for mail in due {
                let tenant = mail.tenant;
                let settings = store.call(move |s| s.mail_settings(tenant)).await;
                let outcome = match settings {
                    Ok(Some(settings)) => send(&settings, &mail).await,
                    Ok(None) => Err("no mail server is set (pbx mail set)".to_owned()),
                    Err(e) => Err(e.to_string()),
                };
                let id = mail.id;
                let done = match outcome {
                    Ok(()) => {
                        tracing::info!(to = %mail.recipient, subject = %mail.subject, "mail sent");
                        store.call(move |s| s.mail_sent(id, unix_millis())).await
                    }
                    Err(error) if mail.attempts + 1 >= MAX_ATTEMPTS => {
                        tracing::error!(to = %mail.recipient, %error, "mail given up");
                        let error = format!("given up: {error}");
                        store.call(move |s| s.mail_failed(id, &error, NEVER)).await
                    }
                    Err(error) => {
                        let next = unix_millis() + backoff(mail.attempts).as_millis() as u64;
                        tracing::warn!(to = %mail.recipient, %error, "mail not sent; tried again later");
                        store.call(move |s| s.mail_failed(id, &error, next)).await
                    }
                };
                if let Err(e) = done {
                    // The outbox cannot be written (a full disk?): wait rather than send
                    // the same mail again at once.
                    tracing::error!(error = %e, "outbox not updated; the mailer waits");
                    tokio::time::sleep(LAST_RETRY).await;
                    break;
                }
            }
            // Until the next retry is due, or (nothing waiting) until a mail is queued:
            // an empty outbox costs no timer.
            let next = store.call(|s| s.next_mail_at()).await.ok().flatten();
            match next.filter(|at| *at != NEVER) {
                Some(at) => {
                    let sleep = Duration::from_millis(at.saturating_sub(unix_millis())).min(IDLE);
                    tokio::select! {
                        _ = tokio::time::sleep(sleep) => {}
                        _ = wake.notified() => {}
                    }
                }
                None => wake.notified().await,
            }
        }
    })
}

/// Sends one mail through `settings`' server.
async fn send(settings: &MailSettings, mail: &Outgoing) -> Result<(), String> {
    let text = SinglePart::plain(mail.body.clone());
    let mut parts = MultiPart::mixed().singlepart(text);
    if let Some(file) = &mail.attachment {
        let path = file.clone();
        let bytes = tokio::task::spawn_blocking(move || std::fs::read(path))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("attachment {file}: {e}"))?;
        let name = std::path::Path::new(file)
            .file_name()
            .map_or("message.wav".into(), |n| n.to_string_lossy().into_owned());
        let wav = ContentType::parse("audio/wav").map_err(|e| e.to_string())?;
        parts = parts.singlepart(Attachment::new(name).body(bytes, wav));
    }
    let message = Message::builder()
        .from(
            settings
                .sender
                .parse()
                .map_err(|e| format!("sender: {e}"))?,
        )
        .to(mail
            .recipient
            .parse()
            .map_err(|e| format!("recipient: {e}"))?)
        .subject(mail.subject.clone())
        .multipart(parts)
        .map_err(|e| e.to_string())?;
    let builder = match settings.tls.as_str() {
        "tls" => AsyncSmtpTransport::<Tokio1Executor>::relay(&settings.server),
        "starttls" => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&settings.server),
        _ => Ok(AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(
            &settings.server,
        )),
    }
    .map_err(|e| e.to_string())?;
    let mut builder = builder
        .port(settings.port)
        .timeout(Some(Duration::from_secs(20)));
    if let (Some(user), Some(password)) = (&settings.username, &settings.password) {
        builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
    }
    builder
        .build()
        .send(message)
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_wait_twice_as_long_each_time_up_to_the_last() {
        assert_eq!(backoff(0), Duration::from_secs(2));
        assert_eq!(backoff(1), Duration::from_secs(4));
        assert_eq!(backoff(3), Duration::from_secs(16));
        assert_eq!(backoff(20), LAST_RETRY);
    }
}
