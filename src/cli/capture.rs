//! `pbx capture`: the SIP messages of a line group's lines written to a PCAP file
//! (Wireshark, tshark). The running switch starts and stops writing within a few
//! seconds of the command.

use actors::store::StoreAt;
use std::path::Path;

use clap::Subcommand;

use super::CliError;

#[derive(Debug, Subcommand)]
pub enum CaptureCmd {
    /// Start capturing line group GROUP (its plan entry must say `"capture": true`)
    /// to FILE (default: DATA_DIR/captures/TENANT-GROUP-TIME.pcap).
    Start {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        group: String,
        #[arg(long)]
        file: Option<std::path::PathBuf>,
    },
    /// Stop capturing line group GROUP; prints the file.
    Stop {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        group: String,
    },
    /// Every capture, newest first: tenant, group, file, running or when it stopped.
    List,
}

pub fn capture(at: &StoreAt, dir: &Path, cmd: CaptureCmd) -> Result<(), CliError> {
    let store = super::admin::open(at)?;
    let now = actors::clock::unix_millis();
    match cmd {
        CaptureCmd::Start {
            tenant,
            group,
            file,
        } => {
            let t = store.tenant(&tenant)?;
            let file = match file {
                Some(f) => std::path::absolute(&f).unwrap_or(f),
                None => std::path::absolute(dir)
                    .unwrap_or_else(|_| dir.to_path_buf())
                    .join("captures")
                    .join(format!("{}-{group}-{}.pcap", t.name, now / 1000)),
            };
            let name = file.to_string_lossy().into_owned();
            store.start_capture(t.id, &group, &name, now)?;
            println!("{name}");
        }
        CaptureCmd::Stop { tenant, group } => {
            let t = store.tenant(&tenant)?;
            println!("{}", store.stop_capture(t.id, &group, now)?);
        }
        CaptureCmd::List => {
            for c in store.captures()? {
                let state = match c.stopped_at {
                    None => "running".to_owned(),
                    Some(at) => format!("stopped at {at}"),
                };
                println!("{}\t{}\t{}\t{state}", c.tenant, c.line_group, c.file);
            }
        }
    }
    Ok(())
}
