//! The command line.

mod admin;
mod agents;
mod api_keys;
mod capture;
mod cluster;
mod fd_limit;
pub(crate) mod journal;
mod mail;
mod prompts;
pub(crate) mod route;
mod serve;
mod sim;
mod trunks;
mod web_users;

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "pbx",
    version,
    about = "A multi-tenant SIP switch (PBX core) with a load simulator"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Args, Clone)]
pub struct DataDir {
    /// Where the switch keeps its SQLite database.
    #[arg(long, default_value = "./pbx-data", global = true)]
    pub data_dir: PathBuf,
    /// A PostgreSQL database that several nodes share, in place of SQLite in the
    /// data directory: postgres://user[:password]@host[:port]/database.
    #[arg(long, global = true, value_name = "URL")]
    pub store: Option<String>,
    /// Where voicemail, recordings, prompts and music on hold live, when not in the
    /// data directory (a directory the nodes of a cluster share).
    #[arg(long, global = true)]
    pub files_dir: Option<PathBuf>,
}

impl DataDir {
    /// Where the store is: `--store`, else SQLite in the data directory.
    pub fn store_at(&self) -> Result<actors::store::StoreAt, CliError> {
        Ok(actors::store::StoreAt::new(
            self.store.as_deref(),
            &self.data_dir,
        )?)
    }

    /// Where the tenants' files live.
    pub fn files(&self) -> PathBuf {
        self.files_dir
            .clone()
            .unwrap_or_else(|| self.data_dir.clone())
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the switch (the default command).
    Serve(serve::ServeArgs),
    /// Tenants: add, list, set (call settings), show, remove.
    Tenant {
        #[command(flatten)]
        data: DataDir,
        #[command(subcommand)]
        cmd: admin::TenantCmd,
    },
    /// Lines (extensions, each with its own SIP account): add, add-range, list,
    /// set-group, set-user, passwd, remove. `pbx user` is the same command.
    #[command(alias = "user")]
    Line {
        #[command(flatten)]
        data: DataDir,
        #[command(subcommand)]
        cmd: admin::UserCmd,
    },
    /// Members of hunt groups and queues: login, logout, list.
    Agent {
        #[command(flatten)]
        data: DataDir,
        #[command(subcommand)]
        cmd: agents::AgentCmd,
    },
    /// A tenant's announcements (IVR menus, closing times): add, list, remove.
    Prompt {
        #[command(flatten)]
        data: DataDir,
        #[command(subcommand)]
        cmd: prompts::PromptCmd,
    },
    /// Voicemail: list the messages, set a mailbox's PIN.
    Voicemail {
        #[command(flatten)]
        data: DataDir,
        #[command(subcommand)]
        cmd: prompts::VoicemailCmd,
    },
    /// Mail: the SMTP server voicemail mail goes through, the outbox.
    Mail {
        #[command(flatten)]
        data: DataDir,
        #[command(subcommand)]
        cmd: mail::MailCmd,
    },
    /// A tenant's calls from the journal, newest first (a table, or CSV).
    Journal {
        #[command(flatten)]
        data: DataDir,
        #[arg(long)]
        tenant: String,
        /// Only calls started since: a date (2026-11-30) or an RFC 3339 time.
        #[arg(long)]
        since: Option<String>,
        /// At most this many calls.
        #[arg(long, default_value_t = 100)]
        limit: usize,
        /// Comma-separated values with a header line.
        #[arg(long)]
        csv: bool,
        /// Statistics instead of calls: calls per hour, ASR, each line's utilisation
        /// (`--since` defaults to 24 hours ago; with `--csv`, the hours).
        #[arg(long)]
        stats: bool,
        /// With `--stats`: up to this time (default now).
        #[arg(long)]
        until: Option<String>,
    },
    /// SIP capture of a line group's lines to a PCAP file: start, stop, list.
    Capture {
        #[command(flatten)]
        data: DataDir,
        #[command(subcommand)]
        cmd: capture::CaptureCmd,
    },
    /// Sign-ins of the web admin (`/web/`): add (operator, a tenant's administrator,
    /// a line's user), list, remove.
    WebUser {
        #[command(flatten)]
        data: DataDir,
        #[command(subcommand)]
        cmd: web_users::WebUserCmd,
    },
    /// Keys of the HTTP control API: add (printed once), list, remove.
    ApiKey {
        #[command(flatten)]
        data: DataDir,
        #[command(subcommand)]
        cmd: api_keys::ApiKeyCmd,
    },
    /// SIP trunks: add (or change), list with their status, show, remove.
    Trunk {
        #[command(flatten)]
        data: DataDir,
        #[command(subcommand)]
        cmd: trunks::TrunkCmd,
    },
    /// Call queues: stats.
    Queue {
        #[command(flatten)]
        data: DataDir,
        #[command(subcommand)]
        cmd: agents::QueueCmd,
    },
    /// Users (people) who own lines: add, list, set, remove.
    Person {
        #[command(flatten)]
        data: DataDir,
        #[command(subcommand)]
        cmd: admin::PersonCmd,
    },
    /// Devices: further SIP accounts of a line (a DECT handset, a softphone): add,
    /// list, remove; provisioned phones, DECT bases and adapters: provision,
    /// provisioned, unprovision.
    Device {
        #[command(flatten)]
        data: DataDir,
        #[command(subcommand)]
        cmd: admin::DeviceCmd,
    },
    /// Recordings made during calls (feature code `*44`): list.
    Recording {
        #[command(flatten)]
        data: DataDir,
        #[command(subcommand)]
        cmd: admin::RecordingCmd,
    },
    /// A tenant's dialplan: set (from JSON, validated), show.
    Plan {
        #[command(flatten)]
        data: DataDir,
        #[command(subcommand)]
        cmd: route::PlanCmd,
    },
    /// Show how a dialled number is detected, formatted and routed.
    Route {
        #[command(flatten)]
        data: DataDir,
        #[command(flatten)]
        args: route::RouteArgs,
    },
    /// Several nodes behind an edge proxy: check what this node sees (its store,
    /// the nodes in it, its edges).
    Cluster {
        #[command(flatten)]
        data: DataDir,
        #[command(subcommand)]
        cmd: cluster::ClusterCmd,
    },
    /// The load simulator: simulated phones register and call through a switch.
    Sim(sim::SimArgs),
}

/// A failure of a command, with the exit code it maps to.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The input was refused (exit code 2).
    #[error("{0}")]
    Usage(String),
    /// The command could not do its work (exit code 1).
    #[error("{0}")]
    Failed(String),
}

impl CliError {
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_) => 2,
            CliError::Failed(_) => 1,
        }
    }
}

impl From<actors::Error> for CliError {
    fn from(e: actors::Error) -> Self {
        match e {
            actors::Error::Invalid(_)
            | actors::Error::Field { .. }
            | actors::Error::UnknownTenant(_)
            | actors::Error::UnknownLine { .. } => CliError::Usage(e.to_string()),
            other => CliError::Failed(other.to_string()),
        }
    }
}

pub fn run(cli: Cli) -> Result<(), CliError> {
    match cli.command {
        None => serve::run(serve::ServeArgs::default()),
        Some(Command::Serve(a)) => serve::run(a),
        Some(Command::Tenant { data, cmd }) => admin::tenant(&data.store_at()?, &data.files(), cmd),
        Some(Command::Line { data, cmd }) => admin::user(&data.store_at()?, cmd),
        Some(Command::Person { data, cmd }) => admin::person(&data.store_at()?, cmd),
        Some(Command::Agent { data, cmd }) => agents::agent(&data.store_at()?, cmd),
        Some(Command::Cluster { data, cmd }) => {
            cluster::cluster(&data.store_at()?, &data.files(), cmd)
        }
        Some(Command::Queue { data, cmd }) => agents::queue(&data.store_at()?, cmd),
        Some(Command::Prompt { data, cmd }) => {
            prompts::prompt(&data.store_at()?, &data.files(), cmd)
        }
        Some(Command::Mail { data, cmd }) => mail::mail(&data.store_at()?, cmd),
        Some(Command::Trunk { data, cmd }) => trunks::trunk(&data.store_at()?, cmd),
        Some(Command::ApiKey { data, cmd }) => api_keys::api_key(&data.store_at()?, cmd),
        Some(Command::WebUser { data, cmd }) => web_users::web_user(&data.store_at()?, cmd),
        Some(Command::Capture { data, cmd }) => {
            capture::capture(&data.store_at()?, &data.data_dir, cmd)
        }
        Some(Command::Journal {
            data,
            tenant,
            since,
            limit,
            csv,
            stats: false,
            ..
        }) => journal::journal(&data.store_at()?, &tenant, since.as_deref(), limit, csv),
        Some(Command::Journal {
            data,
            tenant,
            since,
            until,
            csv,
            ..
        }) => journal::statistics(
            &data.store_at()?,
            &tenant,
            (since.as_deref(), until.as_deref()),
            csv,
        ),
        Some(Command::Voicemail { data, cmd }) => prompts::voicemail(&data.store_at()?, cmd),
        Some(Command::Device { data, cmd }) => admin::device(&data.store_at()?, cmd),
        Some(Command::Recording { data, cmd }) => {
            admin::recording(&data.store_at()?, &data.files(), cmd)
        }
        Some(Command::Plan { data, cmd }) => route::plan(&data.store_at()?, &data.files(), cmd),
        Some(Command::Route { data, args }) => route::route(&data.store_at()?, args),
        Some(Command::Sim(a)) => sim::run(a),
    }
}

pub fn default_sip_addr() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 5060))
}

/// Prints a report to stdout, ending it with a newline; a closed pipe (`| head`) is
/// not an error.
pub fn print_out(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    if !text.ends_with('\n') {
        let _ = out.write_all(b"\n");
    }
    let _ = out.flush();
}
