//! The bag of switch-wide services, one named type handed to the actors that need it.

use std::sync::Arc;

use engine::auth::Nonces;
use engine::registrar::Policy;

use crate::store::StoreHandle;

/// The switch-wide services every tenant, line and call draws on: the store, the
/// nonces and the guessing guard, the registrar policy, the way out to the network,
/// the event bus, the RTP port pool and the call limits.
#[derive(Debug, Clone)]
pub struct Services {
    pub store: StoreHandle,
    pub nonces: Arc<Nonces>,
    /// Sources that keep failing to authenticate (password guessing).
    pub guard: Arc<crate::auth_guard::AuthGuard>,
    pub policy: Policy,
    pub out: Arc<crate::sip::SipOut>,
    /// The digest algorithms challenges offer, in order (the first is preferred).
    pub digest_offer: Vec<engine::auth::Algorithm>,
    /// Where calls publish their events (the journal listens).
    pub bus: crate::journal::EventBus,
    /// Waits until the journal has written what was published on `bus`.
    pub journal: crate::journal::JournalBarrier,
    /// Where queues publish their agents' states (`agent_states` keeps the latest).
    pub agent_bus: crate::journal::EventBus<crate::proto::events::AgentEvent>,
    /// Where trunks publish their status (`trunk_states` keeps the latest).
    pub trunk_bus: crate::journal::EventBus<crate::proto::trunk::TrunkEvent>,
    /// The running SIP captures (`pbx capture`), which the transports feed.
    pub capture: Arc<crate::sip::capture::Capture>,
    /// Where lines' calls, settings and mailboxes are published (the API listens).
    pub line_bus: crate::journal::EventBus<crate::proto::events::LineEvent>,
    /// RTP ports for the calls' media relays.
    pub ports: Arc<crate::media_relay::PortPool>,
    /// Ring time and capacity for calls, shared by every tenant.
    pub calls: Arc<crate::call::CallLimits>,
    /// Where the tenants' files live (voicemail, recordings, prompts, music on
    /// hold): `SwitchConfig::files_dir`, a directory nodes may share.
    pub files_dir: Arc<std::path::Path>,
    /// The wall clock routing reads (office hours, holidays).
    pub clock: crate::clock::WallClock,
    /// Wakes the mailer: a mail was put in the outbox.
    pub mail: Arc<tokio::sync::Notify>,
    /// New calls refused because they came from no line of their tenant and from no
    /// trunk (a stranger's INVITE gets the challenge it cannot answer).
    pub strangers: Arc<std::sync::atomic::AtomicU64>,
    /// Accounts whose last registration was refused (shared with the directory).
    pub refused: Arc<crate::directory::RefusedAccounts>,
    /// Idle lines hibernate (`SwitchConfig::hibernate_lines`).
    pub hibernate_lines: bool,
    /// Edge proxies whose REGISTERs keep their Path (`SwitchConfig::edges`).
    pub edges: Arc<crate::sip::Edges>,
}
