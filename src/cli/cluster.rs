//! `pbx cluster check`: what a node of several sees. Its store (reachable, and at
//! which schema), the nodes that write to the same store (their live registrations
//! and recent calls), its files directory (writable), and each edge proxy it trusts,
//! probed with an OPTIONS through the edge (answered by a node behind it).

use actors::store::StoreAt;
use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::time::{Duration, Instant};

use clap::Subcommand;

use super::CliError;

#[derive(Debug, Subcommand)]
pub enum ClusterCmd {
    /// Report the store, the nodes seen in it, and each edge's answer to an OPTIONS
    /// sent through it; exit code 1 when the store cannot be read or an edge does
    /// not answer 200.
    Check {
        /// This node's id (`pbx serve --node-id`): said whether the store knows it.
        #[arg(long, value_parser = super::serve::parse_node_id)]
        node_id: Option<String>,
        /// An edge proxy, IP or IP:PORT (port 5060 by default); repeat for more.
        #[arg(long = "edge")]
        edges: Vec<String>,
        /// How long each edge may take to answer, in milliseconds.
        #[arg(long, default_value_t = 2000)]
        timeout_ms: u64,
    },
}

pub fn cluster(at: &StoreAt, files: &Path, cmd: ClusterCmd) -> Result<(), CliError> {
    let ClusterCmd::Check {
        node_id,
        edges,
        timeout_ms,
    } = cmd;
    let mut failed = Vec::new();
    let store = match at {
        // A check makes no database where there is none (a mistyped directory).
        StoreAt::Dir(dir) if !dir.join(actors::store::DB_FILE).exists() => {
            Err(CliError::Failed("no database there".into()))
        }
        _ => super::admin::open(at).and_then(|s| Ok((s.schema_version()?, s))),
    };
    let now = actors::clock::unix_now();
    match store.and_then(|(v, s)| Ok((v, s.nodes_seen(now, now.saturating_sub(3600) * 1000)?))) {
        Ok((version, seen)) => {
            println!(
                "store {}: reachable, schema version {version}",
                at.describe()
            );
            for n in &seen {
                println!(
                    "node {}: {} live registrations, {} calls in the last hour",
                    n.node.as_deref().unwrap_or("(no id)"),
                    n.live_bindings,
                    n.recent_calls
                );
            }
            if let Some(id) = &node_id {
                if !seen.iter().any(|n| n.node.as_deref() == Some(id)) {
                    println!("node {id}: nothing of it in the store yet");
                }
            }
        }
        Err(e) => {
            println!("store {}: {e}", at.describe());
            failed.push("the store".to_owned());
        }
    }
    match writable(files) {
        Ok(()) => println!("files {}: writable", files.display()),
        Err(e) => {
            println!("files {}: {e}", files.display());
            failed.push("the files directory".to_owned());
        }
    }
    for edge in &edges {
        let addr = parse_edge(edge)?;
        match probe(addr, Duration::from_millis(timeout_ms)) {
            Ok((status, took)) => {
                println!("edge {addr}: {status} in {} ms", took.as_millis());
                if !status.starts_with("200") {
                    failed.push(format!("edge {addr}"));
                }
            }
            Err(why) => {
                println!("edge {addr}: {why}");
                failed.push(format!("edge {addr}"));
            }
        }
    }
    match failed.is_empty() {
        true => Ok(()),
        false => Err(CliError::Failed(format!(
            "not ready: {}",
            failed.join(", ")
        ))),
    }
}

/// Whether a file can be made (and removed) in `dir`, as voicemail will be.
fn writable(dir: &Path) -> std::io::Result<()> {
    let probe = dir.join(format!(".pbx-check-{}", std::process::id()));
    std::fs::write(&probe, b"check")?;
    std::fs::remove_file(&probe)
}

fn parse_edge(s: &str) -> Result<SocketAddr, CliError> {
    s.parse::<SocketAddr>()
        .or_else(|_| {
            s.parse::<std::net::IpAddr>()
                .map(|ip| SocketAddr::new(ip, 5060))
        })
        .map_err(|_| CliError::Usage(format!("--edge {s:?}: an IP address, or IP:PORT")))
}

/// Sends an OPTIONS to `edge` and returns the status line's code and reason, and
/// how long the answer took.
fn probe(edge: SocketAddr, timeout: Duration) -> Result<(String, Duration), String> {
    let bind = if edge.is_ipv4() {
        "0.0.0.0:0"
    } else {
        "[::]:0"
    };
    let sock = UdpSocket::bind(bind).map_err(|e| format!("cannot open a socket: {e}"))?;
    sock.connect(edge)
        .map_err(|e| format!("unreachable: {e}"))?;
    let local = sock.local_addr().map_err(|e| e.to_string())?;
    let tag: u64 = rand::random();
    let options = format!(
        "OPTIONS sip:{host} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bKcheck{tag:x};rport\r\n\
         Max-Forwards: 70\r\nFrom: <sip:check@{host}>;tag={tag:x}\r\nTo: <sip:{host}>\r\n\
         Call-ID: check-{tag:x}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
        host = match edge.ip() {
            std::net::IpAddr::V6(ip) => format!("[{ip}]"),
            ip => ip.to_string(),
        }
    );
    let started = Instant::now();
    sock.send(options.as_bytes())
        .map_err(|e| format!("cannot send: {e}"))?;
    let mut buf = [0u8; 4096];
    loop {
        let left = timeout.saturating_sub(started.elapsed());
        if left.is_zero() {
            return Err(format!("no answer within {} ms", timeout.as_millis()));
        }
        sock.set_read_timeout(Some(left))
            .map_err(|e| e.to_string())?;
        let n = match sock.recv(&mut buf) {
            Ok(n) => n,
            Err(_) => return Err(format!("no answer within {} ms", timeout.as_millis())),
        };
        let Ok(m) = engine::sip::Message::parse(buf[..n].to_vec()) else {
            continue;
        };
        match m.code() {
            // A provisional answer: the final one follows.
            Some(code) if code >= 200 => {
                return Ok((
                    format!("{code} {}", m.reason().unwrap_or("")),
                    started.elapsed(),
                ))
            }
            _ => continue,
        }
    }
}
