//! `pbx prompt`: a tenant's announcements for IVR menus, closing times and mailbox
//! greetings (`greeting-MAILBOX`); `pbx voicemail`: the messages callers left.

use actors::store::StoreAt;
use std::path::{Path, PathBuf};

use actors::tenant::prompts;
use clap::Subcommand;

use super::CliError;

#[derive(Debug, Subcommand)]
pub enum PromptCmd {
    /// Store FILE (mono 8 kHz 16-bit PCM WAV) as the tenant's prompt NAME, which the
    /// plan then names (an IVR menu's `announcement`, a schedule's closing message).
    Add {
        #[arg(long)]
        tenant: String,
        name: String,
        file: PathBuf,
    },
    /// The tenant's prompts and their lengths.
    List {
        #[arg(long)]
        tenant: String,
    },
    /// Remove a prompt (refused while the plan names it).
    Remove {
        #[arg(long)]
        tenant: String,
        name: String,
    },
}

pub fn prompt(at: &StoreAt, files: &Path, cmd: PromptCmd) -> Result<(), CliError> {
    let store = super::admin::open(at)?;
    match cmd {
        PromptCmd::Add { tenant, name, file } => {
            let t = store.tenant(&tenant)?;
            let a = prompts::add(files, &t.name, &name, &file)?;
            println!(
                "prompt {} of tenant {} stored ({:.1} s)",
                prompts::name_of(&name),
                t.name,
                a.duration_ms() as f64 / 1000.0
            );
        }
        PromptCmd::List { tenant } => {
            let t = store.tenant(&tenant)?;
            for (name, ms) in prompts::list(files, &t.name)? {
                println!("{name}\t{:.1} s", ms as f64 / 1000.0);
            }
        }
        PromptCmd::Remove { tenant, name } => {
            let t = store.tenant(&tenant)?;
            let plan = store.stored_plan_of(t.id)?;
            prompts::remove(files, &t.name, &name, plan.as_ref())?;
            println!(
                "prompt {} of tenant {} removed",
                prompts::name_of(&name),
                t.name
            );
        }
    }
    Ok(())
}

#[derive(Debug, Subcommand)]
pub enum VoicemailCmd {
    /// The messages of the tenant's mailboxes (or of one), newest first: id, mailbox,
    /// caller, received (UTC), length, state (new, old, recording), file.
    List {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        mailbox: Option<String>,
    },
    /// Set the PIN (4 to 8 digits) that opens a mailbox from its phone (`*97`); a
    /// mailbox without one is not opened.
    Pin {
        #[arg(long)]
        tenant: String,
        mailbox: String,
        pin: String,
    },
}

pub fn voicemail(at: &StoreAt, cmd: VoicemailCmd) -> Result<(), CliError> {
    let store = super::admin::open(at)?;
    let (tenant, mailbox) = match cmd {
        VoicemailCmd::List { tenant, mailbox } => (tenant, mailbox),
        VoicemailCmd::Pin {
            tenant,
            mailbox,
            pin,
        } => {
            let t = store.tenant(&tenant)?;
            store.set_voicemail_pin(t.id, &mailbox, &pin)?;
            println!("mailbox {mailbox} of tenant {} has a new PIN", t.name);
            return Ok(());
        }
    };
    let t = store.tenant(&tenant)?;
    for m in store.voicemail_messages(t.id, mailbox.as_deref())? {
        let at = chrono::DateTime::from_timestamp_millis(m.received_at as i64)
            .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
            .unwrap_or_default();
        println!(
            "{}\t{}\t{}\t{at}\t{:.1} s\t{}\t{}",
            m.id,
            m.mailbox,
            m.caller,
            m.duration_ms as f64 / 1000.0,
            m.state,
            m.file
        );
    }
    Ok(())
}
