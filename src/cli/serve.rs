//! `pbx serve`: runs the switch until SIGINT or SIGTERM.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;

use actors::store::Store;
use actors::{Switch, SwitchConfig};
use clap::Args;

use super::CliError;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Where the switch keeps its SQLite database (created on first start).
    #[arg(long, default_value = "./pbx-data")]
    pub data_dir: PathBuf,
    /// A PostgreSQL database that several nodes share, in place of SQLite in the
    /// data directory: postgres://user[:password]@host[:port]/database (created
    /// tables on first start; configuration changes reach every node within a second).
    #[arg(long, value_name = "URL")]
    pub store: Option<String>,
    /// Address for SIP over UDP and TCP; repeat for more (IPv6 as [::1]:5060). Port 0
    /// picks a free port.
    #[arg(long = "sip-addr", default_values_t = vec![super::default_sip_addr()])]
    pub sip_addrs: Vec<SocketAddr>,
    /// Tenant for requests addressed to the switch's own IP address.
    #[arg(long)]
    pub default_tenant: Option<String>,
    /// Shortest registration accepted, in seconds (shorter ones get 423).
    #[arg(long, default_value_t = 60)]
    pub min_expires: u32,
    /// Seconds a callee's devices ring before the caller gets 480.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    pub ring_timeout: u64,
    /// Seconds without RTP from a party after which an answered call is ended (never
    /// while a party holds); 0 never ends one.
    #[arg(long, default_value_t = 60)]
    pub media_timeout: u64,
    /// Calls at once; further INVITEs get 503 with Retry-After.
    #[arg(long)]
    pub max_calls: Option<usize>,
    /// New calls per second; further INVITEs get 503 with Retry-After.
    #[arg(long)]
    pub max_cps: Option<u32>,
    /// Overload: once this many requests wait unanswered, new out-of-dialog
    /// requests (INVITE, REGISTER, SUBSCRIBE …) get 503 with Retry-After at once,
    /// before any work; requests within calls always go through.
    #[arg(long, default_value_t = actors::sip::DEFAULT_MAX_WAITING)]
    pub max_waiting: usize,
    /// Overload: once requests wait longer than this (milliseconds) for the switch
    /// to begin answering them (even the quickest of a 100 ms window), new
    /// out-of-dialog requests get 503 with Retry-After at once.
    #[arg(long, default_value_t = actors::sip::DEFAULT_MAX_DELAY.as_millis() as u64)]
    pub max_delay: u64,
    /// RTP ports for anchored media, `FROM-TO` (even ports; RTCP on the next one).
    #[arg(long, default_value = "20000-29999", value_parser = parse_ports)]
    pub rtp_ports: std::ops::RangeInclusive<u16>,
    /// Digest algorithms offered in challenges, in order: `md5`, `sha-256`, or both
    /// (`md5,sha-256`). Credentials of either are accepted when offered.
    #[arg(long, value_delimiter = ',', default_value = "md5", value_parser = parse_algorithm)]
    pub digest: Vec<engine::auth::Algorithm>,
    /// Create the demo tenant (published passwords) on an empty data directory even
    /// when the switch listens beyond loopback.
    #[arg(long)]
    pub demo: bool,
    /// Test builds only: the switch's routing clock (office hours, holidays) starts at
    /// this time, e.g. 2026-11-29T22:00:00+01:00, and runs on from there.
    #[arg(long, hide = true, value_parser = parse_time)]
    pub wall_clock: Option<chrono::DateTime<chrono::FixedOffset>>,
    /// SIP over TLS: the switch's certificate chain (PEM). With `--tls-key`, the
    /// switch also listens for TLS (`--tls-addr`) and TLS trunks can connect.
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The private key of `--tls-cert` (PEM).
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Authorities (PEM) that TLS trunks' carriers must be certified by; the Mozilla
    /// roots when none is given.
    #[arg(long, requires = "tls_cert")]
    pub tls_ca: Option<PathBuf>,
    /// Address for SIP over TLS; repeat for more. By default each `--sip-addr` with
    /// the next port (5061 beside 5060; port 0 picks a free one).
    #[arg(long = "tls-addr", requires = "tls_cert")]
    pub tls_addrs: Vec<SocketAddr>,
    /// Address of the HTTP control API (`pbx api-key add` makes its keys); port 0
    /// picks a free port; `off` serves none.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub http_addr: String,
    /// On SIGTERM the switch drains: new calls and OPTIONS probes get 503 (an edge
    /// proxy sends them to another node) while the calls in progress go on, for at
    /// most this many seconds; then it stops. SIGINT, or a second signal, stops it
    /// at once.
    #[arg(long, default_value_t = 60)]
    pub drain_timeout: u64,
    /// This node's id when several switches share a store (behind an edge proxy):
    /// written with its registrations and journal rows.
    #[arg(long, value_parser = parse_node_id)]
    pub node_id: Option<String>,
    /// An edge proxy (IP address) trusted to relay phones' requests; repeat for more.
    /// Its REGISTERs keep their Path (RFC 3327), so calls to those phones go back
    /// through it; a Path from any other address is ignored.
    #[arg(long = "edge")]
    pub edges: Vec<std::net::IpAddr>,
    /// The address phones and peers reach this node at, when it is not the one it
    /// listens on (a node behind 1:1 NAT): written in Via, Contact and SDP instead.
    #[arg(long)]
    pub advertise: Option<std::net::IpAddr>,
    /// Where voicemail, recordings, prompts and music on hold live, when not in the
    /// data directory: a directory the nodes of a cluster share.
    #[arg(long)]
    pub files_dir: Option<PathBuf>,
}

pub(super) fn parse_node_id(s: &str) -> Result<String, String> {
    let ok = !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    ok.then(|| s.to_owned())
        .ok_or_else(|| format!("{s:?}: a node id is 1-64 letters, digits, '-', '_' or '.'"))
}

fn parse_time(s: &str) -> Result<chrono::DateTime<chrono::FixedOffset>, String> {
    chrono::DateTime::parse_from_rfc3339(s.trim())
        .map_err(|e| format!("{s:?}: expected a time such as 2026-11-29T22:00:00+01:00 ({e})"))
}

fn parse_ports(s: &str) -> Result<std::ops::RangeInclusive<u16>, String> {
    let (a, b) = s
        .split_once('-')
        .ok_or_else(|| format!("{s:?}: expected FROM-TO, e.g. 20000-29999"))?;
    let (a, b): (u16, u16) = (
        a.trim()
            .parse()
            .map_err(|_| format!("{a:?} is not a port"))?,
        b.trim()
            .parse()
            .map_err(|_| format!("{b:?} is not a port"))?,
    );
    if a < 1024 || b <= a {
        return Err(format!("{s:?}: need 1024 <= FROM < TO"));
    }
    Ok(a..=b)
}

fn parse_algorithm(s: &str) -> Result<engine::auth::Algorithm, String> {
    engine::auth::Algorithm::parse(Some(s.trim()))
        .ok_or_else(|| format!("{s:?} is not a digest algorithm (md5, sha-256)"))
}

impl Default for ServeArgs {
    fn default() -> Self {
        ServeArgs {
            data_dir: PathBuf::from("./pbx-data"),
            store: None,
            sip_addrs: vec![super::default_sip_addr()],
            default_tenant: None,
            min_expires: 60,
            ring_timeout: 30,
            media_timeout: 60,
            max_calls: None,
            max_cps: None,
            max_waiting: actors::sip::DEFAULT_MAX_WAITING,
            max_delay: actors::sip::DEFAULT_MAX_DELAY.as_millis() as u64,
            digest: vec![engine::auth::Algorithm::Md5],
            rtp_ports: 20000..=29999,
            demo: false,
            wall_clock: None,
            http_addr: "127.0.0.1:8080".into(),
            tls_cert: None,
            tls_key: None,
            tls_ca: None,
            tls_addrs: Vec::new(),
            drain_timeout: 60,
            node_id: None,
            edges: Vec::new(),
            advertise: None,
            files_dir: None,
        }
    }
}

pub fn run(args: ServeArgs) -> Result<(), CliError> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    {
        let at = actors::store::StoreAt::new(args.store.as_deref(), &args.data_dir)?;
        let mut store = Store::open_at(&at)?;
        // The demo's passwords are published: it is made only where nobody else can
        // reach it, unless asked for.
        if crate::demo::wanted(&args.sip_addrs, args.demo) {
            if let Some(made) = crate::demo::ensure(&mut store)? {
                println!("pbx: {made}");
            }
        } else if store.tenants()?.is_empty() {
            println!(
                "pbx: no tenant yet; the demo tenant (published passwords) is only made when \
                 listening on loopback or with --demo; add one with `pbx tenant add`"
            );
        }
        if let Some(t) = &args.default_tenant {
            store.tenant(t)?;
        }
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("pbx")
        .build()
        .map_err(|e| CliError::Failed(e.to_string()))?;
    runtime.block_on(serve(args))
}

async fn serve(args: ServeArgs) -> Result<(), CliError> {
    // Signal handlers go in before the switch says it is listening, so that a SIGTERM
    // right after that line still stops it cleanly.
    let mut stop =
        StopSignals::install().map_err(|e| CliError::Failed(format!("signal handlers: {e}")))?;
    if let Some(n) = super::fd_limit::raise() {
        tracing::info!(open_files = n, "open-file limit");
    }
    let mut tls = None;
    if let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) {
        let addrs = if args.tls_addrs.is_empty() {
            args.sip_addrs
                .iter()
                .map(|a| match a.port() {
                    0 => *a,
                    p => SocketAddr::new(a.ip(), p.saturating_add(1)),
                })
                .collect()
        } else {
            args.tls_addrs.clone()
        };
        tls = Some(actors::TlsListen {
            files: actors::sip::tls::TlsFiles {
                cert: cert.clone(),
                key: key.clone(),
                ca: args.tls_ca.clone(),
            },
            addrs,
        });
    }
    let mut config = SwitchConfig::new(args.data_dir.clone(), args.sip_addrs);
    config.store = actors::store::StoreAt::new(args.store.as_deref(), &args.data_dir)?;
    config.tls = tls;
    config.default_tenant = args.default_tenant;
    config.node_id = args.node_id;
    config.edges = args.edges;
    config.advertise = args.advertise;
    config.files_dir = args.files_dir;
    config.registrar.min_expires = args.min_expires;
    config.digest_offer = args.digest;
    config.rtp_ports = args.rtp_ports;
    config.ring_timeout = std::time::Duration::from_secs(args.ring_timeout);
    config.max_calls = args.max_calls;
    config.max_cps = args.max_cps;
    config.shedding = actors::sip::Shedding {
        max_waiting: args.max_waiting.max(1),
        max_delay: std::time::Duration::from_millis(args.max_delay.max(1)),
    };
    if let Some(start) = args.wall_clock {
        config.wall_clock = actors::clock::WallClock::starting_at(start);
    }
    config.media_timeout =
        (args.media_timeout > 0).then(|| std::time::Duration::from_secs(args.media_timeout));
    let http = match args.http_addr.as_str() {
        "off" => None,
        a => {
            let addr: SocketAddr = a.parse().map_err(|_| {
                CliError::Usage(format!(
                    "--http-addr {a:?}: an address such as 127.0.0.1:8080, or off"
                ))
            })?;
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|e| CliError::Failed(format!("cannot serve the API on {addr}: {e}")))?;
            Some(listener)
        }
    };
    // The API and the web admin keep the tenants' files where the switch does.
    let files = config.files();
    let switch = Switch::start(config)
        .await
        .map_err(|e| CliError::Failed(e.to_string()))?;
    let api = match http {
        Some(listener) => {
            if let Ok(a) = listener.local_addr() {
                println!("pbx: http on {a}");
            }
            let state = crate::api::ApiState::new(
                switch.store.clone(),
                switch.directory.clone(),
                files,
                switch
                    .local_addrs
                    .iter()
                    .find(|(p, _)| *p == "udp")
                    .map_or(5060, |(_, a)| a.port()),
                Some(switch.events.clone()),
            );
            Some(tokio::spawn(crate::api::serve(listener, state)))
        }
        None => None,
    };
    let listening: Vec<String> = switch
        .local_addrs
        .iter()
        .map(|(p, a)| format!("{p} {a}"))
        .collect();
    println!("pbx: listening on {}", listening.join(", "));
    let _ = std::io::stdout().flush();
    let drain = std::time::Duration::from_secs(args.drain_timeout);
    if stop.wait().await == Stop::Drain && !drain.is_zero() {
        println!("pbx: draining ({} calls up)", switch.calls.active());
        let _ = std::io::stdout().flush();
        tokio::select! {
            left = switch.drain(drain) => {
                if left > 0 {
                    tracing::warn!(calls = left, "drain time over: ending the calls still up");
                }
            }
            _ = stop.wait() => tracing::info!("stopped while draining"),
        }
    }
    tracing::info!("shutting down");
    if let Some(api) = api {
        api.abort();
    }
    switch.shutdown().await;
    println!("pbx: stopped");
    Ok(())
}

/// How the switch was asked to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    /// SIGTERM: let the calls in progress end first.
    Drain,
    /// SIGINT: stop now.
    Now,
}

/// SIGINT and SIGTERM, registered up front.
struct StopSignals {
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
}

impl StopSignals {
    fn install() -> std::io::Result<StopSignals> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Ok(StopSignals {
                int: signal(SignalKind::interrupt())?,
                term: signal(SignalKind::terminate())?,
            })
        }
        #[cfg(not(unix))]
        Ok(StopSignals {})
    }

    /// The next signal: SIGTERM asks for a drain, SIGINT for a stop now.
    async fn wait(&mut self) -> Stop {
        #[cfg(unix)]
        tokio::select! {
            _ = self.int.recv() => Stop::Now,
            _ = self.term.recv() => Stop::Drain,
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            Stop::Now
        }
    }
}
