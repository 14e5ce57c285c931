//! How a switch is started.

use std::net::SocketAddr;
use std::path::PathBuf;

use engine::registrar::Policy;

#[derive(Debug, Clone)]
pub struct SwitchConfig {
    pub data_dir: PathBuf,
    /// Where the store is: SQLite in `data_dir` unless a shared PostgreSQL is named.
    pub store: crate::store::StoreAt,
    /// Where SIP listens, on UDP and TCP alike.
    pub sip_addrs: Vec<SocketAddr>,
    /// The tenant for requests addressed to one of the switch's own IP addresses when no
    /// tenant lists that address as a domain.
    pub default_tenant: Option<String>,
    pub registrar: Policy,
    /// The digest algorithms 401/407 challenges offer, in order. MD5 alone by default:
    /// many deployed phones (baresip 1.0's libre among them) refuse a whole challenge
    /// once any header names an algorithm they lack, even when MD5 is offered too.
    pub digest_offer: Vec<engine::auth::Algorithm>,
    /// Largest SIP message accepted (a larger request gets 513 or is dropped).
    pub max_message_size: usize,
    /// Nonce lifetime in seconds.
    pub nonce_lifetime: u64,
    /// RTP ports for anchored media (even ports; RTCP on the next one).
    pub rtp_ports: std::ops::RangeInclusive<u16>,
    /// How long a callee's devices ring before the caller gets 480.
    pub ring_timeout: std::time::Duration,
    /// Calls at once; a new call over it gets 503 with Retry-After.
    pub max_calls: Option<usize>,
    /// New calls per second; a call over it gets 503 with Retry-After.
    pub max_cps: Option<u32>,
    /// Overload: when too many requests a transport took have had no response yet,
    /// or requests wait too long for one, new out-of-dialog requests (INVITE,
    /// REGISTER, SUBSCRIBE …) get 503 with Retry-After at once, before any work
    /// (authentication included) is spent on them; requests within dialogs (BYE,
    /// re-INVITE, ACK) always go through.
    pub shedding: crate::sip::Shedding,
    /// An answered call in which a party sends no RTP for this long is ended (never
    /// while a party holds); `None` never ends one.
    pub media_timeout: Option<std::time::Duration>,
    /// The wall clock routing reads (office hours). Set only by tests: a switch built
    /// without the `test-hooks` feature refuses to start with a set clock.
    pub wall_clock: crate::clock::WallClock,
    /// SIP over TLS: the certificate files and where to listen; none without it.
    pub tls: Option<TlsListen>,
    /// A line idle for longer than a nonce lives, with no subscription, stops its
    /// actor and keeps only its bindings (on by default). Tests on a paused clock
    /// turn it off where a line's wake-up (a store read, during which the paused
    /// clock jumps) would move their timers.
    pub hibernate_lines: bool,
    /// This node's id when several share a store: written with its registrations
    /// and journal rows.
    pub node_id: Option<String>,
    /// Edge proxies trusted to relay phones' requests: a REGISTER from one of these
    /// addresses keeps its Path (RFC 3327); from anywhere else a Path is ignored.
    pub edges: Vec<std::net::IpAddr>,
    /// The address peers reach this node at, when not the one it listens on (1:1
    /// NAT): written in Via, Contact and SDP.
    pub advertise: Option<std::net::IpAddr>,
    /// Where voicemail, recordings, prompts and music on hold live: a directory
    /// the nodes of a cluster may share (`data_dir` when none is given).
    pub files_dir: Option<PathBuf>,
}

/// SIP over TLS as configured: the files and the addresses to listen on.
#[derive(Debug, Clone)]
pub struct TlsListen {
    pub files: crate::sip::tls::TlsFiles,
    pub addrs: Vec<SocketAddr>,
}

impl SwitchConfig {
    pub fn new(data_dir: PathBuf, sip_addrs: Vec<SocketAddr>) -> Self {
        SwitchConfig {
            store: crate::store::StoreAt::Dir(data_dir.clone()),
            data_dir,
            sip_addrs,
            default_tenant: None,
            registrar: Policy::default(),
            digest_offer: vec![engine::auth::Algorithm::Md5],
            max_message_size: engine::sip::MAX_MESSAGE_SIZE,
            nonce_lifetime: 300,
            rtp_ports: crate::media_relay::DEFAULT_PORTS,
            ring_timeout: crate::call::RING_TIMEOUT,
            max_calls: None,
            max_cps: None,
            shedding: crate::sip::Shedding::default(),
            media_timeout: Some(crate::call::MEDIA_TIMEOUT),
            wall_clock: crate::clock::WallClock::default(),
            tls: None,
            hibernate_lines: true,
            node_id: None,
            edges: Vec::new(),
            advertise: None,
            files_dir: None,
        }
    }

    /// Where the tenants' files live (`files_dir`, else the data directory).
    pub fn files(&self) -> PathBuf {
        self.files_dir
            .clone()
            .unwrap_or_else(|| self.data_dir.clone())
    }
}
