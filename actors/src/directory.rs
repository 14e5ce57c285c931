//! Who handles what: tenants by domain, and the running line actors. Read on every
//! request (a read lock and a hash lookup), written when tenants or lines start and stop.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::RwLock;

use ractor::ActorRef;

use std::sync::Arc;

use crate::proto::trunk::{TrunkLive, TrunkMsg};
use crate::proto::TenantId;
use crate::proto::{BindingsView, CallMsg, LineMsg, TenantEntry};

/// Line actors by tenant, then extension (looked up by `&str`, no allocation), with
/// the bindings each published; a hibernating line keeps its bindings here and has
/// no actor until a request or its next expiry wakes it.
type LineMap = HashMap<TenantId, HashMap<Box<str>, (Option<ActorRef<LineMsg>>, BindingsView)>>;

/// Running calls by tenant, then Call-ID: a Call-ID is only looked for within the
/// tenant a message names, so calls of two tenants never meet by their Call-IDs.
type CallMap = HashMap<TenantId, HashMap<Box<str>, ActorRef<CallMsg>>>;

/// Accounts (a line's own or a device's) whose last registration was refused for a
/// wrong password, with when (unix milliseconds): a phone provisioned with a stale
/// password shows as in error until it registers again. Only accounts the tenant has
/// get here (strangers are answered before a line is involved), so it stays small.
#[derive(Default, Debug)]
pub struct RefusedAccounts {
    map: std::sync::Mutex<HashMap<(TenantId, Box<str>), u64>>,
    /// Whether the map has any entry: a good registration (the common case) takes
    /// no lock while nobody is in it.
    any: std::sync::atomic::AtomicBool,
}

impl RefusedAccounts {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<(TenantId, Box<str>), u64>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn refused(&self, tenant: TenantId, account: &str, at: u64) {
        let mut map = self.map();
        map.insert((tenant, account.into()), at);
        self.any.store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// A registration of `account` went through.
    pub fn accepted(&self, tenant: TenantId, account: &str) {
        if !self.any.load(std::sync::atomic::Ordering::Relaxed) {
            return;
        }
        let mut map = self.map();
        map.remove(&(tenant, Box::from(account)));
        self.any
            .store(!map.is_empty(), std::sync::atomic::Ordering::Relaxed);
    }

    /// When `account`'s last registration was refused, if it was.
    pub fn refused_at(&self, tenant: TenantId, account: &str) -> Option<u64> {
        self.map().get(&(tenant, Box::from(account))).copied()
    }
}

#[derive(Default)]
pub struct Directory {
    /// Accounts whose registration was last refused (a device's status).
    pub refused: Arc<RefusedAccounts>,
    /// Running calls by tenant, then the Call-ID of each of their legs.
    calls: RwLock<CallMap>,
    domains: RwLock<HashMap<String, TenantEntry>>,
    lines: RwLock<LineMap>,
    /// The tenant for requests addressed to one of the switch's own IP addresses.
    default_tenant: RwLock<Option<TenantEntry>>,
    local_ips: RwLock<Vec<IpAddr>>,
    /// Running trunks by the carrier's address (its requests come from there), with
    /// their tenant.
    trunks: RwLock<HashMap<std::net::SocketAddr, (TenantEntry, Arc<TrunkLive>)>>,
    /// Trunk actors by the Call-ID of their requests (REGISTER, OPTIONS).
    trunk_clients: RwLock<HashMap<Box<str>, ActorRef<TrunkMsg>>>,
}

impl std::fmt::Debug for Directory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Directory")
    }
}

fn read<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|p| p.into_inner())
}

fn write<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|p| p.into_inner())
}

impl Directory {
    pub fn add_tenant(&self, domains: &[String], entry: TenantEntry) {
        let mut map = write(&self.domains);
        for d in domains {
            map.insert(d.to_ascii_lowercase(), entry.clone());
        }
    }

    /// Forgets tenant `id` (removed): its domains, its running lines and calls. Its
    /// supervisor is stopped by the caller.
    pub fn remove_tenant(&self, id: TenantId) -> Option<TenantEntry> {
        let mut map = write(&self.domains);
        let entry = map.values().find(|t| t.id == id).cloned();
        map.retain(|_, t| t.id != id);
        drop(map);
        let mut default = write(&self.default_tenant);
        if default.as_ref().is_some_and(|t| t.id == id) {
            *default = None;
        }
        drop(default);
        write(&self.lines).remove(&id);
        write(&self.calls).remove(&id);
        entry
    }

    pub fn set_default_tenant(&self, entry: Option<TenantEntry>) {
        *write(&self.default_tenant) = entry;
    }

    pub fn set_local_ips(&self, ips: Vec<IpAddr>) {
        *write(&self.local_ips) = ips;
    }

    /// The tenant a request for `host` belongs to.
    pub fn tenant_for(&self, host: &str) -> Option<TenantEntry> {
        let map = read(&self.domains);
        if let Some(t) = map.get(host) {
            return Some(t.clone());
        }
        if host.bytes().any(|c| c.is_ascii_uppercase()) {
            if let Some(t) = map.get(&host.to_ascii_lowercase()) {
                return Some(t.clone());
            }
        }
        drop(map);
        let ip: IpAddr = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse()
            .ok()?;
        let local = read(&self.local_ips);
        if local.contains(&ip) || local.iter().any(|l| l.is_unspecified()) {
            return read(&self.default_tenant).clone();
        }
        None
    }

    /// The running tenant `id` (the API reaches its supervisor so).
    pub fn tenant(&self, id: TenantId) -> Option<TenantEntry> {
        read(&self.domains).values().find(|t| t.id == id).cloned()
    }

    pub fn line(&self, tenant: TenantId, ext: &str) -> Option<ActorRef<LineMsg>> {
        read(&self.lines)
            .get(&tenant)?
            .get(ext)
            .and_then(|(a, _)| a.clone())
    }

    /// The bindings a line published last (running or hibernating).
    pub fn bindings(
        &self,
        tenant: TenantId,
        ext: &str,
    ) -> Option<std::sync::Arc<[engine::registrar::Binding]>> {
        read(&self.lines)
            .get(&tenant)?
            .get(ext)
            .map(|(_, view)| view.get())
    }

    /// Line `ext` runs as `actor` (`None`: it starts hibernating, its bindings read
    /// from the store at start).
    pub fn set_line(
        &self,
        tenant: TenantId,
        ext: &str,
        actor: Option<ActorRef<LineMsg>>,
        bindings: BindingsView,
    ) {
        write(&self.lines)
            .entry(tenant)
            .or_default()
            .insert(Box::from(ext), (actor, bindings));
    }

    /// Tells line `ext` of a change it must act on now (its device accounts): its
    /// actor when it runs, else its tenant wakes it (a hibernating line) to be told.
    pub fn tell_line(&self, tenant: TenantId, ext: &str, msg: LineMsg) {
        let msg = match self.line(tenant, ext) {
            Some(line) => match line.send_message(msg) {
                Ok(()) => return,
                Err(ractor::MessagingErr::SendErr(m)) => m,
                Err(_) => return,
            },
            None => msg,
        };
        if self.bindings(tenant, ext).is_none() {
            return; // neither running nor hibernating: it reads everything at start
        }
        if let Some(t) = self.tenant(tenant) {
            let _ = t
                .supervisor
                .send_message(crate::proto::TenantMsg::WakeLine(ext.to_owned(), msg));
        }
    }

    /// Another node changed line `ext`'s bindings in the shared store: its running
    /// actor reads them again; a hibernating line is forgotten, so that its next
    /// request or call starts it from the store, as a line never seen.
    pub fn bindings_changed_elsewhere(&self, tenant: TenantId, ext: &str) {
        if let Some(line) = self.line(tenant, ext) {
            if line.send_message(LineMsg::BindingsChanged).is_ok() {
                return;
            }
        }
        let mut lines = write(&self.lines);
        if let Some(m) = lines.get_mut(&tenant) {
            let stopped = m.get(ext).is_some_and(|(actor, _)| {
                actor
                    .as_ref()
                    .is_none_or(|a| a.get_status() >= ractor::ActorStatus::Draining)
            });
            if stopped {
                m.remove(ext);
            }
        }
    }

    /// `bindings_changed_elsewhere` for every line this node knows.
    pub fn all_bindings_changed_elsewhere(&self) {
        let known: Vec<(TenantId, Box<str>)> = read(&self.lines)
            .iter()
            .flat_map(|(t, m)| m.keys().map(move |e| (*t, e.clone())))
            .collect();
        for (tenant, ext) in known {
            self.bindings_changed_elsewhere(tenant, &ext);
        }
    }

    /// Line `ext`'s actor `id` ended: the line hibernates, its bindings stay
    /// readable. False (nothing changed) when another actor serves the line now.
    pub fn hibernate_line(&self, tenant: TenantId, ext: &str, id: ractor::ActorId) -> bool {
        let mut lines = write(&self.lines);
        let Some((actor, _)) = lines.get_mut(&tenant).and_then(|m| m.get_mut(ext)) else {
            return false;
        };
        match actor {
            Some(a) if a.get_id() != id => false,
            _ => {
                *actor = None;
                true
            }
        }
    }

    pub fn remove_line(&self, tenant: TenantId, ext: &str) {
        if let Some(m) = write(&self.lines).get_mut(&tenant) {
            m.remove(ext);
        }
    }

    /// A trunk runs: requests from its address are its tenant's, and responses to
    /// its actor's requests (by their Call-ID) go to `actor`.
    pub fn add_trunk(
        &self,
        entry: TenantEntry,
        live: Arc<TrunkLive>,
        call_id: &str,
        actor: ActorRef<TrunkMsg>,
    ) {
        write(&self.trunks).insert(live.addr, (entry, live));
        write(&self.trunk_clients).insert(Box::from(call_id), actor);
    }

    /// The trunk stopped (removed, or replaced by a changed one).
    pub fn remove_trunk(&self, live: &Arc<TrunkLive>, call_id: &str) {
        let mut trunks = write(&self.trunks);
        if trunks
            .get(&live.addr)
            .is_some_and(|(_, l)| Arc::ptr_eq(l, live))
        {
            trunks.remove(&live.addr);
        }
        write(&self.trunk_clients).remove(call_id);
    }

    /// The trunk whose carrier sends from `source`: matched by address and port, never
    /// by anything the message says.
    pub fn trunk_at(&self, source: std::net::SocketAddr) -> Option<(TenantEntry, Arc<TrunkLive>)> {
        let trunks = read(&self.trunks);
        if trunks.is_empty() {
            return None;
        }
        trunks.get(&source).cloned()
    }

    /// The trunk actor a response with this Call-ID is for.
    pub fn trunk_client(&self, call_id: &str) -> Option<ActorRef<TrunkMsg>> {
        read(&self.trunk_clients).get(call_id).cloned()
    }

    /// The call a message from a trunk's carrier belongs to (its Call-ID within the
    /// trunk's tenant): for dialogs whose From and To name the carrier's domain.
    pub fn call_from_trunk(
        &self,
        msg: &engine::sip::Message,
        source: std::net::SocketAddr,
    ) -> Option<ActorRef<CallMsg>> {
        let call_id = msg.call_id()?;
        let (entry, _) = self.trunk_at(source)?;
        self.call(entry.id, call_id)
    }

    pub fn call(&self, tenant: TenantId, call_id: &str) -> Option<ActorRef<CallMsg>> {
        read(&self.calls).get(&tenant)?.get(call_id).cloned()
    }

    /// The call a message inside a dialog belongs to: its Call-ID within the tenant of
    /// its From host, or of its To host (a request from the switch's side of a leg
    /// names the tenant's domain in one of them). The call then checks the dialog's
    /// tags and the transaction's branch: a Call-ID alone never acts on a call.
    pub fn call_of(&self, msg: &engine::sip::Message) -> Option<ActorRef<CallMsg>> {
        let call_id = msg.call_id()?;
        let calls = read(&self.calls);
        if calls.is_empty() {
            return None;
        }
        drop(calls);
        [msg.from(), msg.to()]
            .into_iter()
            .flatten()
            .filter_map(|h| self.tenant_for(h.uri.host_bare()))
            .find_map(|t| self.call(t.id, call_id))
    }

    pub fn add_call(&self, tenant: TenantId, call_id: &str, actor: ActorRef<CallMsg>) {
        write(&self.calls)
            .entry(tenant)
            .or_default()
            .insert(Box::from(call_id), actor);
    }

    pub fn remove_call(&self, tenant: TenantId, call_id: &str) {
        let mut calls = write(&self.calls);
        if let Some(m) = calls.get_mut(&tenant) {
            m.remove(call_id);
            if m.is_empty() {
                calls.remove(&tenant);
            }
        }
    }

    pub fn call_count(&self) -> usize {
        read(&self.calls)
            .values()
            .flat_map(|m| m.values().map(|a| a.get_id()))
            .collect::<std::collections::HashSet<_>>()
            .len()
    }

    /// Bindings the lines published (running or hibernating), all tenants.
    pub fn binding_count(&self) -> usize {
        read(&self.lines)
            .values()
            .flat_map(|m| m.values())
            .map(|(_, view)| view.get().len())
            .sum()
    }

    /// Line actors running (hibernating lines not counted).
    pub fn line_count(&self) -> usize {
        read(&self.lines)
            .values()
            .flat_map(|m| m.values())
            .filter(|(a, _)| a.is_some())
            .count()
    }
}
