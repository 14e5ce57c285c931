//! `pbx mail`: the SMTP server voicemail mail goes out through, and the outbox.

use actors::store::StoreAt;

use actors::store::MailSettings;
use clap::Subcommand;

use super::CliError;

#[derive(Debug, Subcommand)]
pub enum MailCmd {
    /// Set the SMTP server mail leaves through: the switch's (without --tenant) or one
    /// tenant's own. A running switch uses it from its next mail on.
    Set {
        #[arg(long)]
        tenant: Option<String>,
        #[arg(long)]
        server: String,
        #[arg(long, default_value_t = 587)]
        port: u16,
        /// none, starttls or tls.
        #[arg(long, default_value = "starttls")]
        tls: String,
        #[arg(long)]
        user: Option<String>,
        #[arg(long)]
        password: Option<String>,
        /// The sender address, e.g. pbx@example.com.
        #[arg(long = "from")]
        sender: String,
    },
    /// The tenant's outbox, newest first: id, recipient, subject, sent or the tries so
    /// far and the last error.
    Outbox {
        #[arg(long)]
        tenant: String,
    },
}

pub fn mail(at: &StoreAt, cmd: MailCmd) -> Result<(), CliError> {
    let store = super::admin::open(at)?;
    match cmd {
        MailCmd::Set {
            tenant,
            server,
            port,
            tls,
            user,
            password,
            sender,
        } => {
            let scope = match &tenant {
                Some(t) => Some(store.tenant(t)?.id),
                None => None,
            };
            let settings = MailSettings {
                server,
                port,
                tls,
                username: user,
                password,
                sender,
            };
            store.set_mail_settings(scope, &settings)?;
            match tenant {
                Some(t) => println!(
                    "tenant {t} sends mail through {}:{}",
                    settings.server, settings.port
                ),
                None => println!(
                    "the switch sends mail through {}:{}",
                    settings.server, settings.port
                ),
            }
        }
        MailCmd::Outbox { tenant } => {
            let t = store.tenant(&tenant)?;
            for m in store.outbox(t.id)? {
                let state = match m.sent_at {
                    Some(at) => chrono::DateTime::from_timestamp_millis(at as i64)
                        .map(|t| format!("sent {}", t.format("%Y-%m-%d %H:%M:%S")))
                        .unwrap_or_else(|| "sent".into()),
                    None => format!(
                        "pending after {} tries: {}",
                        m.attempts,
                        m.last_error.unwrap_or_default()
                    ),
                };
                println!("{}\t{}\t{}\t{state}", m.id, m.recipient, m.subject);
            }
        }
    }
    Ok(())
}
