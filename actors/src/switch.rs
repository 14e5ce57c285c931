//! The root of the supervision tree: it opens the store, starts one supervisor per
//! tenant and the transport, and restarts them when they fail.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use engine::auth::Nonces;
use ractor::{Actor, ActorId, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent};
use rand::RngCore;

use crate::clock::unix_now;
use crate::config::SwitchConfig;
use crate::directory::Directory;
use crate::journal::{EventBus, JournalActor, JournalArgs, JournalMsg};
use crate::media_relay::PortPool;
use crate::proto::{LineMsg, TenantEntry, TenantMsg};
use crate::services::Services;
use crate::sip::tcp::Flows;
use crate::sip::transport::{Transport, TransportArgs, TransportMsg};
use crate::sip::{Dispatcher, SipOut};
use crate::store::{Store, StoreHandle, Tenant};
use crate::tenant::{TenantArgs, TenantSupervisor};
use crate::{Error, Result};

pub enum SwitchMsg {
    LocalAddrs(RpcReplyPort<Vec<(&'static str, SocketAddr)>>),
    Journal(RpcReplyPort<Option<ActorRef<JournalMsg>>>),
    /// Picks up tenants an administrator added while the switch runs.
    SyncTenants,
    /// Another node (or an admin command) changed the configuration in the shared
    /// store: the tenant's (or, with `None`, every tenant's) is read again now.
    ConfigChanged(Option<crate::store::TenantId>),
}

/// How often the switch looks for tenants added by the admin commands.
const TENANT_SYNC: std::time::Duration = std::time::Duration::from_secs(5);

pub struct SwitchState {
    config: SwitchConfig,
    shared: Services,
    directory: Arc<Directory>,
    transport: Option<ActorRef<TransportMsg>>,
    journal: Option<ActorRef<JournalMsg>>,
    tenants: HashMap<ActorId, Tenant>,
    bound: Vec<(&'static str, SocketAddr)>,
}

pub struct SwitchActor;

/// Arguments of the root actor: the configuration and the already opened store.
/// The switch's event buses, for listeners outside the actors (the API's live events).
#[derive(Debug, Clone, Default)]
pub struct SwitchEvents {
    pub calls: EventBus,
    pub agents: EventBus<crate::proto::events::AgentEvent>,
    pub trunks: EventBus<crate::proto::trunk::TrunkEvent>,
    pub lines: EventBus<crate::proto::events::LineEvent>,
}

pub struct SwitchArgs {
    pub events: SwitchEvents,
    pub config: SwitchConfig,
    pub store: StoreHandle,
    pub tenants: Vec<Tenant>,
    pub registered: Vec<(i64, String)>,
    pub directory: Arc<Directory>,
    /// Ring time and capacity for calls (`Switch::drain` drains them).
    pub calls: Arc<crate::call::CallLimits>,
}

impl SwitchActor {
    /// Starts tenants added while the switch ran and stops those removed.
    async fn sync_tenants(myself: &ActorRef<SwitchMsg>, state: &mut SwitchState) -> Result<()> {
        let stored = state.shared.store.call(|s| s.tenants()).await?;
        // Removed while the switch ran (by the API, which stops them itself, or by
        // the CLI): their supervisors end, and stay ended.
        for (_, t) in state.tenants.iter() {
            if !stored.iter().any(|s| s.id == t.id) {
                if let Some(entry) = state.directory.remove_tenant(t.id) {
                    entry.supervisor.stop(Some("tenant removed".into()));
                }
            }
        }
        for t in stored {
            if !state.tenants.values().any(|known| known.id == t.id) {
                tracing::info!(tenant = %t.name, "new tenant");
                Self::start_tenant(myself, state, t, Vec::new()).await?;
            }
        }
        Ok(())
    }

    async fn start_tenant(
        myself: &ActorRef<SwitchMsg>,
        state: &mut SwitchState,
        t: Tenant,
        registered: Vec<String>,
    ) -> Result<()> {
        let args = TenantArgs {
            id: t.id,
            directory: state.directory.clone(),
            shared: state.shared.clone(),
        };
        let (sup, _) = Actor::spawn_linked(None, TenantSupervisor, args, myself.get_cell())
            .await
            .map_err(|e| Error::Actor(e.to_string()))?;
        let entry = TenantEntry {
            id: t.id,
            name: Arc::from(t.name.as_str()),
            realm: Arc::from(t.realm.as_str()),
            supervisor: sup.clone(),
        };
        let _ = sup.send_message(TenantMsg::SetEntry(entry.clone()));
        if !registered.is_empty() {
            let _ = sup.send_message(TenantMsg::StartRegistered(registered));
        }
        state.directory.add_tenant(&t.domains, entry.clone());
        if state.config.default_tenant.as_deref() == Some(t.name.as_str()) {
            state.directory.set_default_tenant(Some(entry));
        }
        state.tenants.insert(sup.get_id(), t);
        Ok(())
    }

    async fn start_journal(
        myself: &ActorRef<SwitchMsg>,
        state: &mut SwitchState,
        repair: bool,
    ) -> Result<()> {
        let args = JournalArgs {
            repair,
            bus: state.shared.bus.clone(),
            store: state.shared.store.clone(),
            now: crate::clock::unix_now() * 1000,
            mail: state.shared.mail.clone(),
        };
        let (j, _) = Actor::spawn_linked(None, JournalActor, args, myself.get_cell())
            .await
            .map_err(|e| Error::Actor(e.to_string()))?;
        state.shared.journal.set(j.clone());
        state.journal = Some(j);
        Ok(())
    }

    async fn start_transport(myself: &ActorRef<SwitchMsg>, state: &mut SwitchState) -> Result<()> {
        let tls = match &state.config.tls {
            Some(listen) => Some((
                crate::sip::tls::Tls::load(&listen.files)?,
                listen.addrs.clone(),
            )),
            None => None,
        };
        let capacity = crate::sip::CallCapacity {
            ports: state.shared.ports.clone(),
            calls: state.shared.calls.clone(),
        };
        let args = TransportArgs {
            tls,
            addrs: state.config.sip_addrs.clone(),
            dispatcher: Arc::new(
                Dispatcher::new(
                    state.directory.clone(),
                    state.shared.out.clone(),
                    state.shared.guard.clone(),
                )
                .with_capture(state.shared.capture.clone())
                .with_capacity(capacity.clone()),
            ),
            max_size: state.config.max_message_size,
            shedding: state.config.shedding,
            capacity: Some(capacity),
            flows: state.shared.out.flows.clone(),
        };
        let (t, _) = Actor::spawn_linked(None, Transport, args, myself.get_cell())
            .await
            .map_err(|e| Error::Actor(e.to_string()))?;
        let bound =
            ractor::call!(t, TransportMsg::LocalAddrs).map_err(|e| Error::Actor(e.to_string()))?;
        state
            .directory
            .set_local_ips(bound.iter().map(|(_, a)| a.ip()).collect());
        // Later restarts bind the very ports the first start got.
        state.config.sip_addrs = bound
            .iter()
            .filter(|(p, _)| *p == "udp")
            .map(|(_, a)| *a)
            .collect();
        if let Some(listen) = &mut state.config.tls {
            listen.addrs = bound
                .iter()
                .filter(|(p, _)| *p == "tls")
                .map(|(_, a)| *a)
                .collect();
        }
        state.bound = bound;
        state.transport = Some(t);
        Ok(())
    }
}

/// Hands the shared store's changes to the switch while it runs: configuration to
/// the tenants, registrations other nodes took to the lines this node serves.
fn listen_for_changes(
    url: String,
    switch: ActorRef<SwitchMsg>,
    directory: Arc<Directory>,
    me: Option<String>,
) -> Result<()> {
    use crate::store::db::listen::{spawn, Heard};
    spawn(url, move |heard| {
        let running = !matches!(
            switch.get_status(),
            ractor::ActorStatus::Stopping | ractor::ActorStatus::Stopped
        );
        running
            && match heard {
                Heard::Quiet => true,
                Heard::Tenant(id) => switch.cast(SwitchMsg::ConfigChanged(Some(id))).is_ok(),
                Heard::Line(id, ext) => {
                    // A running line reads its password and devices again; a
                    // hibernating one reads them when it wakes.
                    if let Some(line) = directory.line(id, &ext) {
                        let _ = line.send_message(crate::proto::LineMsg::DevicesChanged);
                    }
                    switch.cast(SwitchMsg::ConfigChanged(Some(id))).is_ok()
                }
                Heard::Everything => {
                    // Whatever changed while nobody listened: lines read their
                    // bindings again too.
                    directory.all_bindings_changed_elsewhere();
                    switch.cast(SwitchMsg::ConfigChanged(None)).is_ok()
                }
                Heard::Bindings { tenant, ext, node } => {
                    if me.is_none() || node != me {
                        directory.bindings_changed_elsewhere(tenant, &ext);
                    }
                    true
                }
            }
    })?;
    Ok(())
}

/// Voicemail messages whose recording this node did not finish (it was killed): their
/// WAVs keep what was recorded (the header repaired) and they count as new.
fn keep_cut_short_messages(store: &Store) -> Result<()> {
    for (id, file) in store.recordings_cut_short()? {
        let ms = match media::wav::repair(std::path::Path::new(&file)) {
            Ok(ms) => ms,
            Err(e) => {
                tracing::warn!(error = %e, %file, "voicemail message not repaired");
                0
            }
        };
        tracing::info!(%file, ms, "voicemail message cut short kept");
        store.voicemail_done(id, ms)?;
        store.queue_voicemail_mail(&file, crate::clock::unix_millis())?;
    }
    Ok(())
}

/// Keeps the latest state of every queue's agent in the store (`agent_states`, read
/// by `pbx agent list`), starting from none: a starting switch has nobody ringing.
fn keep_agent_states(shared: &Services) {
    shared
        .store
        .submit("clearing agent states", |s| s.clear_agent_states());
    let store = shared.store.clone();
    shared.agent_bus.subscribe_with(move |e| {
        let e = e.clone();
        store.submit("keeping an agent state", move |s| {
            s.set_agent_state(e.tenant, &e.queue, &e.agent, e.status.as_str(), e.at)
        });
        true
    });
}

/// Deletes, at start and then once a day, the journal rows each tenant's retention no
/// longer keeps.
fn purge_journal_daily(shared: &Services) {
    let store = shared.store.clone();
    tokio::spawn(async move {
        loop {
            let now = crate::clock::unix_millis();
            match store.call(move |s| s.purge_journal(now)).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(calls = n, "journal rows past their retention deleted"),
                Err(crate::Error::StoreGone) => return,
                Err(e) => tracing::warn!(error = %e, "journal retention not applied"),
            }
            tokio::time::sleep(std::time::Duration::from_secs(86_400)).await;
        }
    });
}

/// Keeps the latest status of every trunk in the store (`trunk_states`, read by `pbx
/// trunk list|show`).
fn keep_trunk_states(shared: &Services) {
    let store = shared.store.clone();
    shared.trunk_bus.subscribe_with(move |e| {
        let state = crate::store::TrunkState {
            name: e.trunk.clone(),
            status: e.status.as_str().to_owned(),
            reason: e.reason.clone(),
            since: e.at,
            registered_until: e.registered_until,
            registrations: e.registrations,
        };
        let tenant = e.tenant;
        store.submit("keeping a trunk state", move |s| {
            s.set_trunk_state(tenant, &state)
        });
        true
    });
}

impl Actor for SwitchActor {
    type Msg = SwitchMsg;
    type State = SwitchState;
    type Arguments = SwitchArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<SwitchMsg>,
        args: SwitchArgs,
    ) -> Result<SwitchState, ActorProcessingErr> {
        let edges = Arc::new(crate::sip::Edges::new(args.config.edges.clone()));
        let mut secret = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut secret);
        let shared = Services {
            store: args.store,
            nonces: Arc::new(Nonces::new(secret, args.config.nonce_lifetime)),
            guard: Arc::new(crate::auth_guard::AuthGuard::trusting(edges.clone())),
            policy: args.config.registrar,
            out: Arc::new(
                SipOut::new(Arc::new(Flows::default())).advertising(args.config.advertise),
            ),
            bus: args.events.calls.clone(),
            journal: Default::default(),
            agent_bus: args.events.agents.clone(),
            trunk_bus: args.events.trunks.clone(),
            line_bus: args.events.lines.clone(),
            capture: Arc::default(),
            digest_offer: args.config.digest_offer.clone(),
            ports: Arc::new(PortPool::new(args.config.rtp_ports.clone())?),
            calls: args.calls,
            files_dir: args.config.files().into(),
            clock: args.config.wall_clock,
            mail: Arc::new(tokio::sync::Notify::new()),
            strangers: Arc::default(),
            refused: args.directory.refused.clone(),
            hibernate_lines: args.config.hibernate_lines,
            edges,
        };
        let mut state = SwitchState {
            config: args.config,
            shared,
            directory: args.directory,
            transport: None,
            journal: None,
            tenants: HashMap::new(),
            bound: Vec::new(),
        };
        // The journal first, so that it hears every call.
        Self::start_journal(&myself, &mut state, true).await?;
        keep_agent_states(&state.shared);
        keep_trunk_states(&state.shared);
        purge_journal_daily(&state.shared);
        tokio::spawn(crate::sip::capture::sync(
            state.shared.store.clone(),
            state.shared.capture.clone(),
        ));
        crate::mail::spawn(state.shared.store.clone(), state.shared.mail.clone());
        for t in args.tenants {
            let regs = args
                .registered
                .iter()
                .filter(|(tid, _)| *tid == t.id)
                .map(|(_, e)| e.clone())
                .collect();
            Self::start_tenant(&myself, &mut state, t, regs).await?;
        }
        Self::start_transport(&myself, &mut state).await?;
        myself.send_interval(TENANT_SYNC, || SwitchMsg::SyncTenants);
        Ok(state)
    }

    async fn handle(
        &self,
        myself: ActorRef<SwitchMsg>,
        msg: SwitchMsg,
        state: &mut SwitchState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            SwitchMsg::LocalAddrs(reply) => {
                let _ = reply.send(state.bound.clone());
            }
            SwitchMsg::Journal(reply) => {
                let _ = reply.send(state.journal.clone());
            }
            // A store that cannot be read now (a PostgreSQL restarting) is read
            // again at the next sync; the switch goes on with what it has.
            SwitchMsg::SyncTenants => {
                if let Err(e) = Self::sync_tenants(&myself, state).await {
                    tracing::warn!(error = %e, "tenants not read again");
                }
            }
            SwitchMsg::ConfigChanged(tenant) => {
                if let Err(e) = Self::sync_tenants(&myself, state).await {
                    tracing::warn!(error = %e, "tenants not read again");
                }
                for t in state.tenants.values() {
                    if tenant.is_none_or(|id| id == t.id) {
                        if let Some(entry) = state.directory.tenant(t.id) {
                            let _ = entry
                                .supervisor
                                .cast(crate::proto::TenantMsg::ConfigChanged);
                        }
                    }
                }
            }
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<SwitchMsg>,
        evt: SupervisionEvent,
        state: &mut SwitchState,
    ) -> Result<(), ActorProcessingErr> {
        let (cell, why) = match evt {
            SupervisionEvent::ActorFailed(cell, err) => (cell, err.to_string()),
            SupervisionEvent::ActorTerminated(cell, _, reason) => {
                (cell, reason.unwrap_or_default())
            }
            _ => return Ok(()),
        };
        let id = cell.get_id();
        if state.journal.as_ref().is_some_and(|j| j.get_id() == id) {
            tracing::error!(reason = %why, "journal ended; restarting it");
            state.journal = None;
            Self::start_journal(&myself, state, false).await?;
        } else if state.transport.as_ref().is_some_and(|t| t.get_id() == id) {
            tracing::error!(reason = %why, "transport ended; restarting it");
            state.transport = None;
            Self::start_transport(&myself, state).await?;
        } else if let Some(t) = state.tenants.remove(&id) {
            let (tid, store) = (t.id, state.shared.store.clone());
            let gone = store
                .call(move |s| Ok(s.tenants()?.iter().all(|x| x.id != tid)))
                .await
                .unwrap_or(false);
            if gone {
                tracing::info!(tenant = %t.name, "tenant removed; its supervisor ended");
                state.directory.remove_tenant(tid);
                return Ok(());
            }
            tracing::error!(tenant = %t.name, reason = %why, "tenant supervisor ended; restarting it");
            let registered = store
                .call(move |s| {
                    Ok(s.registered_lines()?
                        .into_iter()
                        .filter(|(x, _)| *x == tid)
                        .map(|(_, e)| e)
                        .collect())
                })
                .await
                .unwrap_or_default();
            Self::start_tenant(&myself, state, t, registered).await?;
        }
        Ok(())
    }
}

/// A running switch.
pub struct Switch {
    pub actor: ActorRef<SwitchMsg>,
    /// What calls, queues and trunks publish.
    pub events: SwitchEvents,
    join: tokio::task::JoinHandle<()>,
    pub store: StoreHandle,
    store_thread: Option<std::thread::JoinHandle<()>>,
    pub directory: Arc<Directory>,
    pub local_addrs: Vec<(&'static str, SocketAddr)>,
    /// The calls up and the admission of new ones.
    pub calls: Arc<crate::call::CallLimits>,
}

impl Switch {
    /// Opens the data directory and starts everything.
    pub async fn start(config: SwitchConfig) -> Result<Switch> {
        if config.wall_clock.is_set() && !cfg!(feature = "test-hooks") {
            return Err(Error::Invalid(
                "a set wall clock is for test builds only".into(),
            ));
        }
        // PostgreSQL's client blocks: the store is opened off the runtime's threads.
        let (at, node) = (config.store.clone(), config.node_id.clone());
        let node_id = node.clone();
        let shared_store = match &at {
            crate::store::StoreAt::Postgres(url) => Some(url.clone()),
            crate::store::StoreAt::Dir(_) => None,
        };
        let opened = tokio::task::spawn_blocking(move || -> Result<_> {
            let mut store = Store::open_at(&at)?;
            store.set_node(node)?;
            keep_cut_short_messages(&store)?;
            let purged = store.purge_expired_bindings(unix_now())?;
            let tenants = store.tenants()?;
            let registered = store.registered_lines()?;
            Ok((store, purged, tenants, registered))
        })
        .await
        .map_err(|e| Error::Actor(format!("opening the store: {e}")))?;
        let (store, purged, tenants, registered) = opened?;
        tracing::info!(
            tenants = tenants.len(),
            restored = registered.len(),
            purged,
            "store opened"
        );
        let (handle, thread) = StoreHandle::spawn(store);
        let directory = Arc::new(Directory::default());
        let events = SwitchEvents::default();
        let calls = Arc::new(
            crate::call::CallLimits::new(config.ring_timeout, config.max_calls, config.max_cps)
                .with_media_timeout(config.media_timeout),
        );
        let args = SwitchArgs {
            calls: calls.clone(),
            events: events.clone(),
            config,
            store: handle.clone(),
            tenants,
            registered,
            directory: directory.clone(),
        };
        let (actor, join) = match Actor::spawn(None, SwitchActor, args).await {
            Ok(x) => x,
            Err(e) => {
                handle.stop();
                let _ = thread.join();
                return Err(Error::Actor(e.to_string()));
            }
        };
        if let Some(url) = shared_store {
            listen_for_changes(url, actor.clone(), directory.clone(), node_id)?;
        }
        let local_addrs =
            ractor::call!(actor, SwitchMsg::LocalAddrs).map_err(|e| Error::Actor(e.to_string()))?;
        Ok(Switch {
            calls,
            actor,
            join,
            events,
            store: handle,
            store_thread: Some(thread),
            directory,
            local_addrs,
        })
    }

    /// The bindings a line holds right now.
    pub async fn bindings(
        &self,
        tenant: &str,
        ext: &str,
    ) -> Option<Vec<engine::registrar::Binding>> {
        let entry = self.directory.tenant_for(tenant)?;
        match self.directory.line(entry.id, ext) {
            Some(line) => ractor::call!(line, LineMsg::Bindings).ok(),
            // Hibernating: what it published last is what it holds.
            None => self.directory.bindings(entry.id, ext).map(|b| b.to_vec()),
        }
    }

    /// Stops taking new calls (503, and 503 to OPTIONS so that an edge proxy sends
    /// them to another node) and waits until the calls in progress have ended, at
    /// most `limit`. Returns how many are still up.
    pub async fn drain(&self, limit: std::time::Duration) -> usize {
        self.calls.drain();
        let up = self.calls.active();
        tracing::info!(calls = up, "draining: no new calls");
        let _ = tokio::time::timeout(limit, self.calls.all_ended()).await;
        self.calls.active()
    }

    /// Stops every actor, then writes what the store has queued and closes it.
    pub async fn shutdown(mut self) {
        // Every journal row is written before the store closes.
        if let Ok(Some(journal)) = ractor::call!(self.actor, SwitchMsg::Journal) {
            if let Err(e) = JournalActor::flush(&journal).await {
                tracing::error!(error = %e, "journal flush at shutdown failed");
            }
        }
        self.actor.stop(Some("shutdown".into()));
        let _ = (&mut self.join).await;
        let _ = self.store.flush().await;
        self.store.stop();
        if let Some(t) = self.store_thread.take() {
            let _ = tokio::task::spawn_blocking(move || t.join()).await;
        }
    }
}
