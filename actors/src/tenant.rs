//! One supervisor per tenant: it starts line actors when their first request comes
//! (or at start when they have stored registrations) and restarts a line that fails,
//! from the store, so its registrations survive.
//!
//! It also decides a call's outcome before any device rings (SPEC F-CALL), from the
//! tenant's dialplan (`routing.rs`) and the rung line's line group (or, for a tenant
//! without a plan, `store/settings.rs`, `pbx tenant set`): an unknown number goes to
//! the drop-off extension or gets 404; a callee already in a call gets 486 when
//! busy-on-busy is on; a line without a registered device goes to the drop-off
//! extension, or gets the decline code (486 by default, 480, 603) or keeps ringing
//! (`ringer.rs`). Settings, quotas and the compiled dialplan are read by a task of
//! their own when the supervisor starts and every two seconds after
//! (`routing::refresh`), so a change made while the switch runs is in force within
//! two seconds and no call waits on SQLite in the supervisor's mailbox.

mod cti;
pub mod music;
pub mod prompts;
mod quota;
mod ringer;
pub mod routing;
mod trunks;

use std::collections::HashMap;
use std::time::Duration;

use ractor::{Actor, ActorCell, ActorId, ActorProcessingErr, ActorRef, SupervisionEvent};
use std::sync::Arc;

use crate::call::refusal::{served, Refusal};
use crate::call::{CallActor, CallArgs, CallPermit, FirstHop, FirstStep, SharedRecord};
use crate::directory::Directory;
use crate::line::{LineActor, LineArgs};
use crate::proto::Flow;
use crate::proto::{
    BindingsView, CallMsg, CallTarget, Forwarded, HopDevices, Incoming, LineMsg, TenantEntry,
    TenantMsg,
};
use crate::services::Services;
use crate::store::{CallerKind, ForwardReason, TenantId, TenantLimits, TenantSettings};
use dialplan::feature_code::{FeatureAction, FeatureCodes, FeatureKind};
use dialplan::WalkStep;

#[derive(Debug, Clone)]
pub struct TenantArgs {
    pub id: TenantId,
    pub directory: Arc<Directory>,
    pub shared: Services,
}

pub struct TenantState {
    args: TenantArgs,
    entry: Option<TenantEntry>,
    by_actor: HashMap<ActorId, String>,
    restarts: HashMap<String, u32>,
    /// The calls this supervisor started, by actor (add and remove them with
    /// `add_call` / `remove_call`, which keep `line_calls` in step).
    calls: HashMap<ActorId, CallEntry>,
    /// How many of those calls each line is a party of (quotas).
    line_calls: HashMap<String, usize>,
    /// The tenant's settings, quotas and compiled plan, as last read.
    view: tokio::sync::watch::Receiver<routing::TenantView>,
    /// The task reading them (`routing::refresh`), and its early wake-up (a line's
    /// features changed).
    refresher: Option<tokio::task::JoinHandle<()>>,
    reread: Arc<tokio::sync::Notify>,
    /// Calls started per second, by tenant and line.
    quota: quota::Quota,
    /// The start of the quota's seconds.
    epoch: tokio::time::Instant,
    /// The tenant's extensions, so that a request for an unknown one costs no query.
    known: KnownLines,
    /// What the lines' bus last heard of each line's calls (only lines not free,
    /// and only while someone listens).
    line_states: HashMap<String, &'static str>,
    /// Stands in for the HA1 of a line that does not exist (`line::answer_stranger`).
    phantom_ha1: String,
    /// The tenant's conference rooms in use.
    rooms: HashMap<String, crate::proto::RoomHandle>,
    /// Ad-hoc rooms opened so far (their names' numbers).
    adhoc_rooms: u64,
    /// The running queue actors, by number.
    queues: HashMap<String, ActorRef<crate::proto::QueueMsg>>,
    /// The tenant's prompts as last read (IVR announcements, closing messages).
    prompts: prompts::PromptCache,
    /// Queue actors' failures: how many since when (`QUEUE_RESTARTS`).
    queue_failures: HashMap<String, (u32, tokio::time::Instant)>,
    /// The running trunks by name, and their actors' names by id.
    trunks: HashMap<String, trunks::RunningTrunk>,
    trunk_actors: HashMap<ActorId, String>,
    /// The lines whose subscriptions watch each line's calls (busy-lamp fields).
    watchers: HashMap<String, Vec<ActorRef<LineMsg>>>,
    /// Hibernating lines by the time (unix seconds) their first binding expires: one
    /// timer for the tenant wakes them then (`line::HIBERNATE`).
    hibernating: std::collections::BTreeSet<(u64, Box<str>)>,
    wake_timer: Option<(u64, tokio::task::JoinHandle<()>)>,
    /// Requests for lines whose actor is draining to hibernate, delivered once it
    /// has ended (to the line woken again).
    parked: HashMap<String, Vec<Incoming>>,
}

/// The extensions of the tenant as last read from the store. A miss reads them again
/// at most once per `KNOWN_LINES_TTL`, so lines added while the switch runs are found
/// and a flood of requests for unknown users reaches SQLite once per period.
#[derive(Default)]
struct KnownLines {
    exts: std::collections::HashSet<Box<str>>,
    /// Device accounts and the line each belongs to.
    devices: HashMap<Box<str>, Box<str>>,
    read_at: Option<tokio::time::Instant>,
}

impl KnownLines {
    fn has(&self, user: &str) -> bool {
        self.exts.contains(user) || self.devices.contains_key(user)
    }

    /// The line `user` is: itself, or the line of the device account.
    fn line_of<'a>(&'a self, user: &'a str) -> Option<&'a str> {
        if self.exts.contains(user) {
            return Some(user);
        }
        self.devices.get(user).map(|e| &**e)
    }
}

/// How many forwardings a call follows before it is refused as a loop.
const FORWARD_HOPS: usize = 5;

/// How long the copy of the tenant's extension list answers misses.
const KNOWN_LINES_TTL: Duration = Duration::from_secs(2);

/// What the supervisor keeps of a running call: its place in the switch's capacity,
/// given back when the call's actor ends (however it ends), and the record it ends
/// the call from if the actor fails.
struct CallEntry {
    _permit: CallPermit,
    /// A call from a trunk: its place on the trunk.
    _trunk: Option<crate::proto::trunk::TrunkSlot>,
    record: SharedRecord,
    /// The caller's and the dialled extension: both are in a call until the call's
    /// journal row is closed (busy-on-busy).
    parties: [String; 2],
    /// The call's actor (a merge finds a line's other call).
    call: ActorRef<CallMsg>,
}

/// How many times a queue's actor is started again after failing within
/// `QUEUE_FAILURE_WINDOW`; after that its callers go on as from a full queue.
const QUEUE_RESTARTS: u32 = 3;
const QUEUE_FAILURE_WINDOW: Duration = Duration::from_secs(60);

/// Where a call to a line goes.
enum Outcome<T = Vec<CallTarget>> {
    /// These devices ring.
    Ring(T),
    /// The caller gets this final response.
    Refuse(u16, &'static str),
    /// Nobody to ring: the caller hears ringing until it gives up or the ring time
    /// is over.
    KeepRinging,
}

pub struct TenantSupervisor;

impl TenantSupervisor {
    /// The actor of the line `user` names: a line's number, or a device account of a
    /// line; started when not running. `None` for a user the tenant does not have.
    async fn ensure_line(
        myself: &ActorRef<TenantMsg>,
        state: &mut TenantState,
        user: &str,
    ) -> Option<ActorRef<LineMsg>> {
        let entry = state.entry.clone()?;
        if let Some(l) = state.args.directory.line(entry.id, user) {
            if l.get_status() < ractor::ActorStatus::Stopped {
                return Some(l);
            }
        }
        if !state.known.has(user) {
            let now = tokio::time::Instant::now();
            let fresh = state
                .known
                .read_at
                .is_some_and(|at| now.duration_since(at) < KNOWN_LINES_TTL);
            if fresh {
                return None;
            }
            let tid = entry.id;
            let (exts, devices) = state
                .args
                .shared
                .store
                .call(move |s| Ok((s.extensions(tid)?, s.devices(tid, None)?)))
                .await
                .ok()?;
            state.known = KnownLines {
                exts: exts.into_iter().map(String::into_boxed_str).collect(),
                devices: devices
                    .into_iter()
                    .map(|d| (d.username.into_boxed_str(), d.ext.into_boxed_str()))
                    .collect(),
                read_at: Some(now),
            };
            if !state.known.has(user) {
                return None;
            }
        }
        let ext = state.known.line_of(user)?.to_owned();
        if let Some(l) = state.args.directory.line(entry.id, &ext) {
            if l.get_status() < ractor::ActorStatus::Stopped {
                return Some(l);
            }
        }
        Self::spawn_line(myself, state, entry, &ext).await
    }

    async fn spawn_line(
        myself: &ActorRef<TenantMsg>,
        state: &mut TenantState,
        entry: TenantEntry,
        ext: &str,
    ) -> Option<ActorRef<LineMsg>> {
        let view = BindingsView::default();
        let args = LineArgs {
            tenant: entry.clone(),
            ext: ext.to_owned(),
            shared: state.args.shared.clone(),
            view: view.clone(),
        };
        match Actor::spawn_linked(None, LineActor, args, myself.get_cell()).await {
            Ok((actor, _)) => {
                state.by_actor.insert(actor.get_id(), ext.to_owned());
                state
                    .args
                    .directory
                    .set_line(entry.id, ext, Some(actor.clone()), view);
                Some(actor)
            }
            Err(e) => {
                tracing::error!(ext, error = %e, "line actor failed to start");
                None
            }
        }
    }
}

impl TenantSupervisor {
    /// Line `ext` stopped to hibernate: its bindings stay in the directory, and it is
    /// woken when the first of them expires (none: it stays asleep until a request).
    fn hibernated(
        myself: &ActorRef<TenantMsg>,
        state: &mut TenantState,
        tenant: crate::proto::TenantId,
        ext: String,
        actor: ActorId,
    ) {
        let directory = &state.args.directory;
        if !directory.hibernate_line(tenant, &ext, actor) {
            return; // another actor serves the line already
        }
        let first = directory
            .bindings(tenant, &ext)
            .and_then(|b| b.iter().map(|b| b.expires_at).min());
        if let Some(at) = first {
            state.hibernating.insert((at, ext.into_boxed_str()));
            Self::arm_wake(myself, state);
        }
    }

    /// One timer for the tenant: the earliest expiry of a hibernating line.
    fn arm_wake(myself: &ActorRef<TenantMsg>, state: &mut TenantState) {
        let Some(&(at, _)) = state.hibernating.first() else {
            if let Some((_, t)) = state.wake_timer.take() {
                t.abort();
            }
            return;
        };
        if state
            .wake_timer
            .as_ref()
            .is_some_and(|(armed, _)| *armed <= at)
        {
            return;
        }
        if let Some((_, t)) = state.wake_timer.take() {
            t.abort();
        }
        let wait = Duration::from_secs(at.saturating_sub(crate::clock::unix_now()));
        let me = myself.clone();
        let task = tokio::spawn(async move {
            tokio::time::sleep(wait).await;
            let _ = me.send_message(TenantMsg::WakeDue);
        });
        state.wake_timer = Some((at, task));
    }
}

impl TenantState {
    fn add_call(&mut self, id: ActorId, entry: CallEntry) {
        for p in unique_parties(&entry.parties) {
            *self.line_calls.entry(p.to_owned()).or_insert(0) += 1;
        }
        self.calls.insert(id, entry);
    }

    fn remove_call(&mut self, id: &ActorId) -> Option<CallEntry> {
        let entry = self.calls.remove(id)?;
        for p in unique_parties(&entry.parties) {
            if let Some(n) = self.line_calls.get_mut(p) {
                *n -= 1;
                if *n == 0 {
                    self.line_calls.remove(p);
                }
            }
        }
        Some(entry)
    }
}

/// What the caller asked for one call by prefix codes: the number to show, a
/// private call, a project code.
#[derive(Debug, Clone, Default)]
pub(crate) struct Once {
    shown: Option<String>,
    private: bool,
    project: Option<String>,
    /// The number called behind the prefix codes.
    dialled: Option<String>,
}

/// The parties of a call, each once (a line calling itself is in the call once).
fn unique_parties(parties: &[String; 2]) -> impl Iterator<Item = &str> {
    let second = (parties[1] != parties[0]).then_some(parties[1].as_str());
    std::iter::once(parties[0].as_str()).chain(second)
}

impl TenantSupervisor {
    /// The registered devices of a running line that can be reached, from the
    /// bindings it published (no round trip to its actor): a TCP binding whose
    /// connection is gone (or now belongs to another peer) is not used.
    fn devices(state: &TenantState, ext: &str) -> Vec<CallTarget> {
        let Some(entry) = &state.entry else {
            return Vec::new();
        };
        let out = &state.args.shared.out;
        let bindings = state
            .args
            .directory
            .bindings(entry.id, ext)
            .unwrap_or_default();
        bindings
            .iter()
            .filter_map(|b| {
                let flow = Flow::parse(&b.flow).filter(|f| out.is_usable(*f))?;
                Some(CallTarget {
                    line: ext.to_owned(),
                    flow,
                    contact: b.contact.clone(),
                    trunk: None,
                    route: b.path.clone(),
                })
            })
            .collect()
    }

    /// The plan's feature code of `kind` (the default codes without a plan): the
    /// in-call ones (recording `*44`, merge `*33`) are matched by the call.
    fn feature_code(view: &routing::TenantView, kind: FeatureKind) -> Option<String> {
        let find = |codes: &FeatureCodes| {
            codes
                .codes
                .iter()
                .find(|c| c.kind == kind)
                .map(|c| c.code.clone())
        };
        match &view.router {
            Some(r) => find(&r.plan().feature_codes),
            None => find(&FeatureCodes::default()),
        }
    }

    /// True when line `ext` may only place calls with SRTP (its line group's setting).
    fn requires_srtp(view: &routing::TenantView, ext: &str) -> bool {
        view.router
            .as_ref()
            .is_some_and(|r| r.plan().line_group_of(ext).srtp)
    }

    /// True when calls of line `ext` are journalled (its line group's setting).
    fn journals(view: &routing::TenantView, ext: &str) -> bool {
        view.router
            .as_ref()
            .is_none_or(|r| r.plan().line_group_of(ext).journal)
    }

    /// The routing walk of a call from line `from` to `dialled` (a tenant without a
    /// plan rings the extension dialled).
    fn walk(
        (view, clock): (&routing::TenantView, &crate::clock::WallClock),
        from: &str,
        dialled: &str,
        (source, trunk): (Option<std::net::IpAddr>, Option<&str>),
        ring: Duration,
    ) -> Result<(dialplan::Walk, Once), String> {
        let decision = match &view.router {
            Some(router) => {
                let origin = match trunk {
                    Some(t) => dialplan::Origin::Trunk {
                        trunk: t.to_owned(),
                    },
                    None => dialplan::Origin::Internal,
                };
                let ctx = dialplan::CallContext {
                    from: from.to_owned(),
                    to: dialled.to_owned(),
                    origin,
                    source_ip: source,
                };
                router.route(&ctx, clock.now()).map_err(|e| e.to_string())?
            }
            None => dialplan::Decision::single(dialplan::Target::Extension {
                number: dialled.to_owned(),
                devices: Vec::new(),
            }),
        };
        let once = Once {
            shown: decision.caller_id.clone(),
            private: decision.private,
            project: decision.project.clone(),
            dialled: decision.dialled.clone(),
        };
        Ok((dialplan::Walk::new(decision, ring), once))
    }

    /// The devices a hop of a routing walk rings: every registered device of each of
    /// its lines, under the line's group rules (busy-on-busy, drop-off, decline).
    /// `alone`: the hop is the walk's first and rings one line, so a line group that
    /// keeps ringing a line with no device may do so.
    async fn hop_devices(
        myself: &ActorRef<TenantMsg>,
        state: &mut TenantState,
        view: &routing::TenantView,
        (lines, alone): (&[String], bool),
        caller: &str,
        group: Option<&str>,
    ) -> Outcome<HopDevices> {
        if let Some(g) = group {
            return Self::member_devices(myself, state, view, lines, (g, alone)).await;
        }
        let mut found = HopDevices::of(Vec::new());
        let mut first_refusal = None;
        for (k, line) in lines.iter().enumerate() {
            // The rung line's group decides decline, reject, busy-on-busy, codecs and
            // journalling (one source: the plan, when the tenant has one).
            let settings = match &view.router {
                Some(router) => {
                    let plan = router.plan();
                    let group = plan.line_group_of(line);
                    if k == 0 {
                        found.codecs = group.codec_priority();
                        found.srtp = group.srtp;
                    }
                    found.journal &= group.journal;
                    TenantSettings::of_group(group, plan.drop_off.clone())
                }
                None => view.settings.clone(),
            };
            if k == 0 {
                found.reject = settings.reject;
            }
            let (outcome, last) =
                Self::outcome(myself, state, &settings, line, caller, &mut found.forwarded).await;
            match outcome {
                Outcome::Ring(t) => {
                    // A hop ringing one line follows the forwarding on no answer of
                    // the line that rings in the end.
                    if lines.len() == 1 {
                        found.no_answer = view
                            .features
                            .get(&last)
                            .and_then(|f| f.on_no_answer(CallerKind::Internal));
                    }
                    found.targets.extend(t)
                }
                Outcome::KeepRinging if alone => return Outcome::KeepRinging,
                Outcome::KeepRinging => {
                    first_refusal.get_or_insert((480, "Temporarily Unavailable"));
                }
                Outcome::Refuse(code, reason) => {
                    first_refusal.get_or_insert((code, reason));
                }
            }
        }
        if !found.targets.is_empty() {
            return Outcome::Ring(found);
        }
        let (code, reason) = first_refusal.unwrap_or((480, "Temporarily Unavailable"));
        Outcome::Refuse(code, reason)
    }

    /// The devices of the members of hunt group (or queue) `group` that a hop rings:
    /// members logged out, on do not disturb or busy (unless the group offers calls
    /// to members in a call) are skipped, and a member's own forwarding is not
    /// followed. Nobody logged in: the group's decline code.
    async fn member_devices(
        myself: &ActorRef<TenantMsg>,
        state: &mut TenantState,
        view: &routing::TenantView,
        lines: &[String],
        (group, alone): (&str, bool),
    ) -> Outcome<HopDevices> {
        let plan = view.router.as_ref().map(|r| r.plan());
        let hunt = plan.and_then(|p| p.groups.iter().find(|g| g.number == group));
        let waiting = hunt.is_some_and(|g| g.call_waiting);
        let mut found = HopDevices::of(Vec::new());
        let (mut logged_in, mut first_refusal) = (0, None);
        for line in lines {
            if view.logged_out.contains(&(group.to_owned(), line.clone())) {
                continue;
            }
            logged_in += 1;
            if let Some(p) = plan {
                let g = p.line_group_of(line);
                if found.codecs.is_empty() {
                    found.codecs = g.codec_priority();
                }
                found.journal &= g.journal;
            }
            let dnd = view.features.get(line).is_some_and(|f| f.dnd);
            if dnd || (!waiting && Self::in_call(state, line)) {
                first_refusal.get_or_insert((486, "Busy Here"));
                continue;
            }
            if Self::ensure_line(myself, state, line).await.is_none() {
                continue;
            }
            let devices = Self::devices(state, line);
            if devices.is_empty() {
                first_refusal.get_or_insert((480, "Temporarily Unavailable"));
            }
            found.targets.extend(devices);
        }
        if !found.targets.is_empty() {
            return Outcome::Ring(found);
        }
        if logged_in == 0 {
            let decline = hunt.map(|g| g.decline).unwrap_or_default();
            return match decline {
                dialplan::plan::Decline::Busy => Outcome::Refuse(486, "Busy Here"),
                dialplan::plan::Decline::Unavailable => {
                    Outcome::Refuse(480, "Temporarily Unavailable")
                }
                dialplan::plan::Decline::Decline => Outcome::Refuse(603, "Decline"),
                dialplan::plan::Decline::Ring if alone => Outcome::KeepRinging,
                dialplan::plan::Decline::Ring => Outcome::Refuse(480, "Temporarily Unavailable"),
            };
        }
        let (code, reason) = first_refusal.unwrap_or((480, "Temporarily Unavailable"));
        Outcome::Refuse(code, reason)
    }

    /// Where a transfer from line `from` to `dialled` goes: routed by the plan like a
    /// call, to the devices of the first hop that has any (a target the switch does
    /// not ring fails the transfer with its refusal).
    async fn targets(
        myself: &ActorRef<TenantMsg>,
        state: &mut TenantState,
        from: &str,
        dialled: &str,
    ) -> Result<Vec<CallTarget>, (u16, &'static str)> {
        let view = state.view.borrow().clone();
        let ring = state.args.shared.calls.ring_timeout;
        let (mut walk, _) = Self::walk(
            (&view, &state.args.shared.clock),
            from,
            dialled,
            (None, None),
            ring,
        )
        .map_err(|_| (404, "Not Found"))?;
        loop {
            match walk.next_step() {
                WalkStep::Ring { lines, target, .. } => {
                    // A group's members ring under its rules (logins, busy, DND).
                    let group = group_of(&target);
                    let hop = (&lines[..], false);
                    match Self::hop_devices(myself, state, &view, hop, from, group).await {
                        Outcome::Ring(d) => return Ok(d.targets),
                        Outcome::Refuse(code, reason) => walk.failed(code, reason),
                        Outcome::KeepRinging => walk.failed(480, "Temporarily Unavailable"),
                    }
                }
                WalkStep::Trunk { trunk, target, .. } => {
                    match Self::trunk_hop(state, &trunk_ask(from, trunk, target)) {
                        Ok(d) => return Ok(d.targets),
                        Err((code, reason)) => walk.failed(code, reason),
                    }
                }
                WalkStep::Serve(t) => {
                    let r = served(&t, walk.last_failure());
                    return Err((r.code, r.reason));
                }
                WalkStep::Exhausted { code, .. } => {
                    let r = Refusal::exhausted(code, String::new());
                    return Err((r.code, r.reason));
                }
            }
        }
    }

    /// Line `ext`'s calls now, from the records of the calls in progress: ringing it
    /// (early, it is the recipient), answered by it (confirmed), or placed by it
    /// (early until answered, then confirmed).
    fn line_view(state: &TenantState, ext: &str) -> crate::blf::LineView {
        use crate::blf::DialogView;
        let state_view = state.view.borrow();
        let mut dialogs = Vec::new();
        for c in state.calls.values() {
            let r = c.record.lock().unwrap_or_else(|e| e.into_inner());
            if r.closed {
                continue;
            }
            let id = r
                .journal
                .map(|(call, _)| call.0.to_string())
                .unwrap_or_else(|| c.call.get_id().to_string());
            let (state, direction, remote) = if r.answered_lines.iter().any(|l| l == ext) {
                ("confirmed", "recipient", &c.parties[0])
            } else if r.ringing_lines.iter().any(|l| l == ext) {
                ("early", "recipient", &c.parties[0])
            } else if c.parties[0] == ext {
                let answered = !r.answered_lines.is_empty();
                let state = if answered { "confirmed" } else { "early" };
                (state, "initiator", &c.parties[1])
            } else {
                continue;
            };
            let early = (state == "early" && direction == "recipient")
                .then(|| r.ringing_dialogs.iter().find(|d| d.line == ext))
                .flatten()
                .map(|d| {
                    (
                        d.call_id.clone(),
                        d.device_tag.clone(),
                        d.switch_tag.clone(),
                    )
                });
            // A line that hides its callers: its keys see that it rings, not who.
            let hidden = direction == "recipient"
                && state_view.features.get(ext).is_some_and(|f| f.blf_private);
            dialogs.push(DialogView {
                id,
                state,
                direction,
                remote: if hidden {
                    "sip:anonymous@anonymous.invalid".to_owned()
                } else {
                    remote.clone()
                },
                early,
            });
        }
        crate::blf::LineView { dialogs }
    }

    /// Where line `by`'s forwarding to `to` (no line of the tenant) leads: routed as
    /// `by` dialling it (its permission class applies), out on a trunk showing the
    /// caller, with `by` in Diversion.
    fn forwarded_out(
        state: &mut TenantState,
        (caller, by): (&str, &str),
        to: &str,
    ) -> Result<Vec<CallTarget>, (u16, &'static str)> {
        let view = state.view.borrow().clone();
        let ring = state.args.shared.calls.ring_timeout;
        let clock = state.args.shared.clock;
        let (mut walk, _) = Self::walk((&view, &clock), by, to, (None, None), ring)
            .map_err(|_| (404, "Not Found"))?;
        loop {
            match walk.next_step() {
                WalkStep::Trunk { trunk, target, .. } => {
                    let mut ask = trunk_ask(caller, trunk, target);
                    ask.diverted_by = Some(by.to_owned());
                    match Self::trunk_hop(state, &ask) {
                        Ok(d) => return Ok(d.targets),
                        Err((code, reason)) => walk.failed(code, reason),
                    }
                }
                WalkStep::Serve(t) => {
                    let r = served(&t, walk.last_failure());
                    tracing::info!(%by, %to, code = r.code, warning = ?r.warning, "forwarding refused");
                    return Err((r.code, r.reason));
                }
                WalkStep::Exhausted { code, .. } => {
                    let r = Refusal::exhausted(code, String::new());
                    return Err((r.code, r.reason));
                }
                // Not a line (the caller checked), yet internal: a group or the like,
                // which a line's forwarding does not reach.
                WalkStep::Ring { .. } => return Err((404, "Not Found")),
            }
        }
    }

    /// IVR menu `number` of the plan, ready to serve (its announcement loaded; a
    /// submenu inherits the timeout and drop-off its main menu sets).
    fn ivr_menu(state: &mut TenantState, number: &str) -> Option<crate::proto::IvrMenu> {
        use crate::proto::ivr::{MENU_PLAYS, MENU_TIMEOUT_SECS};
        let view = state.view.borrow();
        let plan = view.router.as_ref()?.plan();
        let m = plan.ivrs.iter().find(|m| m.number == number)?;
        let parent = m
            .parent
            .as_ref()
            .and_then(|p| plan.ivrs.iter().find(|x| &x.number == p));
        let tenant = state.entry.as_ref()?.name.clone();
        let prompt = m.announcement.as_ref().and_then(|a| {
            let found = state.prompts.load(&state.args.shared.files_dir, &tenant, a);
            if found.is_none() {
                tracing::warn!(menu = number, prompt = %a, "IVR announcement missing");
            }
            found
        });
        let timeout = m
            .timeout_seconds
            .or(parent.and_then(|p| p.timeout_seconds))
            .unwrap_or(MENU_TIMEOUT_SECS);
        Some(crate::proto::IvrMenu {
            number: m.number.clone(),
            name: m.name.clone(),
            prompt,
            choices: m
                .choices
                .iter()
                .filter_map(|(k, v)| Some((k.chars().next()?, v.clone())))
                .collect(),
            timeout: Duration::from_secs(u64::from(timeout)),
            drop_off: m
                .drop_off
                .clone()
                .or_else(|| parent.and_then(|p| p.drop_off.clone())),
            plays: MENU_PLAYS,
        })
    }

    /// Mailbox `mailbox`, ready for a caller's message, when its line has one.
    fn mailbox(state: &mut TenantState, mailbox: &str) -> Option<crate::proto::VoicemailBox> {
        if !state.view.borrow().mailboxes.contains(mailbox) {
            return None;
        }
        let entry = state.entry.clone()?;
        let data_dir = state.args.shared.files_dir.clone();
        let own = format!("greeting-{mailbox}");
        let greeting_path = prompts::dir(&data_dir, &entry.name).join(format!("{own}.wav"));
        let greeting = greeting_path
            .exists()
            .then(|| state.prompts.load(&data_dir, &entry.name, &own))
            .flatten();
        Some(crate::proto::VoicemailBox {
            tenant: entry.id,
            mailbox: mailbox.to_owned(),
            greeting,
            dir: crate::call::voicemail_dir(&data_dir, &entry.name, mailbox),
            greeting_path,
            store: state.args.shared.store.clone(),
            mail: state.args.shared.mail.clone(),
        })
    }

    /// The tenant's announcement `name` (its own prompt, or a built-in one).
    fn message(state: &mut TenantState, name: &str) -> Option<media::wav::Announcement> {
        let tenant = state.entry.as_ref()?.name.clone();
        state
            .prompts
            .load(&state.args.shared.files_dir, &tenant, name)
    }

    /// Where a caller in an IVR menu goes for number `to`: the routing walk from line
    /// `from`, up to the first step that is a ring, a queue, a menu or a message.
    async fn ivr_step(
        myself: &ActorRef<TenantMsg>,
        state: &mut TenantState,
        from: &str,
        to: &str,
    ) -> crate::proto::IvrStep {
        use crate::proto::IvrStep;
        let view = state.view.borrow().clone();
        let ring = state.args.shared.calls.ring_timeout;
        let clock = state.args.shared.clock;
        let Ok((mut walk, _)) = Self::walk((&view, &clock), from, to, (None, None), ring) else {
            return IvrStep::Refuse(404, "Not Found");
        };
        loop {
            match walk.next_step() {
                WalkStep::Ring { lines, target, .. } => {
                    let group = group_of(&target);
                    let hop = (&lines[..], false);
                    match Self::hop_devices(myself, state, &view, hop, from, group).await {
                        Outcome::Ring(d) => return IvrStep::Ring(d.targets),
                        Outcome::Refuse(code, reason) => walk.failed(code, reason),
                        Outcome::KeepRinging => walk.failed(480, "Temporarily Unavailable"),
                    }
                }
                WalkStep::Trunk { trunk, target, .. } => {
                    match Self::trunk_hop(state, &trunk_ask(from, trunk, target)) {
                        Ok(d) => return IvrStep::Ring(d.targets),
                        Err((code, reason)) => walk.failed(code, reason),
                    }
                }
                WalkStep::Serve(dialplan::Target::Queue { number, .. }) => {
                    let handle = Self::queue(myself, state, &number).await;
                    return IvrStep::Queue(number, handle);
                }
                WalkStep::Serve(dialplan::Target::IvrMenu { number, .. }) => {
                    return match Self::ivr_menu(state, &number) {
                        Some(m) => IvrStep::Menu(Box::new(m)),
                        None => IvrStep::Refuse(404, "Not Found"),
                    };
                }
                WalkStep::Serve(dialplan::Target::Voicemail { mailbox })
                    if state.view.borrow().mailboxes.contains(&mailbox) =>
                {
                    return match Self::mailbox(state, &mailbox) {
                        Some(b) => IvrStep::Voicemail(Box::new(b)),
                        None => IvrStep::Refuse(480, "Temporarily Unavailable"),
                    };
                }
                WalkStep::Serve(dialplan::Target::Announcement { announcement }) => {
                    return match Self::message(state, &announcement) {
                        Some(a) => IvrStep::Message(vec![a]),
                        None => IvrStep::Refuse(480, "Temporarily Unavailable"),
                    };
                }
                WalkStep::Serve(t) => {
                    let r = served(&t, walk.last_failure());
                    return IvrStep::Refuse(r.code, r.reason);
                }
                WalkStep::Exhausted { code, .. } => {
                    let r = Refusal::exhausted(code, String::new());
                    return IvrStep::Refuse(r.code, r.reason);
                }
            }
        }
    }

    /// Admits a new call (or an INVITE with Replaces) placed by `caller` against the
    /// switch's capacity and the tenant's quotas; a refusal is answered 503 here.
    fn admit(
        state: &mut TenantState,
        limits: &TenantLimits,
        caller: Option<&str>,
        inc: &Incoming,
    ) -> Option<CallPermit> {
        let calls = state.args.shared.calls.clone();
        let retry = |why: &str, after: u32| {
            let mut w = engine::sip::MessageWriter::response_to(
                &inc.msg,
                503,
                "Service Unavailable",
                Some("pbx"),
            );
            w.header_fmt("Retry-After", after);
            w.header_fmt("Warning", format_args!("399 pbx \"{why}\""));
            inc.reply.send(503, w.finish());
        };
        let permit = match calls.admit(tokio::time::Instant::now()) {
            Ok(p) => p,
            Err(refusal) => {
                tracing::warn!(active = calls.active(), "call refused: switch at capacity");
                retry("switch at capacity", refusal.retry_after);
                return None;
            }
        };
        let second = state.epoch.elapsed().as_secs();
        let tenant_calls = state.calls.len();
        let line_calls = caller
            .and_then(|c| state.line_calls.get(c).copied())
            .unwrap_or(0);
        if let Err(why) = state
            .quota
            .admit(limits, tenant_calls, caller, line_calls, second)
        {
            tracing::info!(?caller, why, "call refused by the tenant's quota");
            retry(why, 1);
            return None;
        }
        Some(permit)
    }

    /// True while `ext` is the caller or the dialled number of a call whose journal
    /// row is still open.
    fn in_call(state: &TenantState, ext: &str) -> bool {
        state.calls.values().any(|c| {
            let r = c.record.lock().unwrap_or_else(|e| e.into_inner());
            !r.closed
                && (c.parties.iter().any(|p| p == ext) || r.answered_lines.iter().any(|l| l == ext))
        })
    }

    /// Where a call from `caller` to `callee` goes under `settings`, and the line it
    /// reaches after the forwardings it follows (written to `forwarded`).
    async fn outcome(
        myself: &ActorRef<TenantMsg>,
        state: &mut TenantState,
        settings: &TenantSettings,
        callee: &str,
        caller: &str,
        forwarded: &mut Vec<Forwarded>,
    ) -> (Outcome, String) {
        let features = state.view.borrow().features.clone();
        let mut line = callee.to_owned();
        // A forwarding chain is followed a few lines deep; a loop ends it.
        for _ in 0..=FORWARD_HOPS {
            let f = features.get(&line);
            match Self::line_outcome(myself, state, settings, (&line, caller), f).await {
                Ok(o) => return (o, line),
                // Forwarded back to the caller, who is in this very call: busy.
                Err((to, _)) if to == caller => {
                    tracing::debug!(from = %line, %to, "call forwarded back to its caller");
                    return (Outcome::Refuse(486, "Busy Here"), line);
                }
                // Forwarded to its mailbox: the hop ends at once and the walk goes on
                // to the dialled line's mailbox.
                Err((to, reason)) if to == crate::store::VOICEMAIL => {
                    tracing::debug!(from = %line, ?reason, "call forwarded to voicemail");
                    forwarded.push(Forwarded {
                        from: line.clone(),
                        to,
                        reason,
                    });
                    return (Outcome::Refuse(480, "Forwarded to Voicemail"), line);
                }
                Err((to, reason)) => {
                    tracing::debug!(from = %line, %to, ?reason, "call forwarded");
                    let by = line.clone();
                    forwarded.push(Forwarded {
                        from: std::mem::replace(&mut line, to.clone()),
                        to: to.clone(),
                        reason,
                    });
                    // Forwarded to an external number: out on a trunk as the
                    // forwarding line dialling it, under that line's class.
                    if Self::ensure_line(myself, state, &to).await.is_none()
                        && !state
                            .view
                            .borrow()
                            .router
                            .as_ref()
                            .is_some_and(|r| r.is_assigned(&to))
                    {
                        let out = match Self::forwarded_out(state, (caller, &by), &to) {
                            Ok(targets) => Outcome::Ring(targets),
                            Err((code, reason)) => Outcome::Refuse(code, reason),
                        };
                        return (out, line);
                    }
                }
            }
        }
        (Outcome::Refuse(482, "Loop Detected"), line)
    }

    /// What a call to `callee` gets under its own features `f`: an outcome, or the
    /// number it is forwarded to and why (`Err`).
    async fn line_outcome(
        myself: &ActorRef<TenantMsg>,
        state: &mut TenantState,
        settings: &TenantSettings,
        (callee, caller): (&str, &str),
        f: Option<&crate::store::LineFeatures>,
    ) -> Result<Outcome, (String, ForwardReason)> {
        let drop_off = settings.drop_off.as_deref().filter(|d| *d != callee);
        if Self::ensure_line(myself, state, callee).await.is_none() {
            return Ok(match drop_off {
                Some(d) => Self::drop_off(myself, state, settings, d).await,
                None => Outcome::Refuse(404, "Not Found"),
            });
        }
        let f = f.cloned().unwrap_or_default();
        // A caller that is no line of the tenant came in on a trunk.
        let internal = state.known.has(caller)
            || state
                .entry
                .as_ref()
                .is_some_and(|e| state.args.directory.line(e.id, caller).is_some());
        let from = match internal {
            true => CallerKind::Internal,
            false => CallerKind::External,
        };
        if let Some((to, why)) = f.forwards_every_call(from) {
            return Err((to.to_owned(), why));
        }
        let fw = f.forwards(from);
        let in_call = Self::in_call(state, callee);
        if f.dnd || in_call {
            if let Some(to) = &fw.busy {
                return Err((to.clone(), ForwardReason::Busy));
            }
        }
        if f.dnd || (in_call && (settings.busy_on_busy || f.no_call_waiting)) {
            return Ok(Outcome::Refuse(486, "Busy Here"));
        }
        let targets = Self::devices(state, callee);
        if !targets.is_empty() {
            return Ok(Outcome::Ring(targets));
        }
        if let Some(to) = &fw.unregistered {
            return Err((to.clone(), ForwardReason::Unregistered));
        }
        Ok(match drop_off {
            Some(d) => Self::drop_off(myself, state, settings, d).await,
            None => declined(settings),
        })
    }

    /// The drop-off extension's devices, or the decline code when it has none (or
    /// is no longer an extension).
    async fn drop_off(
        myself: &ActorRef<TenantMsg>,
        state: &mut TenantState,
        settings: &TenantSettings,
        ext: &str,
    ) -> Outcome {
        let targets = match Self::ensure_line(myself, state, ext).await {
            Some(_) => Self::devices(state, ext),
            None => Vec::new(),
        };
        if targets.is_empty() {
            return declined(settings);
        }
        Outcome::Ring(targets)
    }

    /// Refuses a call the plan sends where the switch cannot take it (yet), or rejects:
    /// the status with a `Warning` naming why, and a journal row with that status
    /// (a busy or do-not-disturb callee has missed the call).
    fn refuse(
        state: &TenantState,
        tenant: TenantId,
        caller: &str,
        callee: &str,
        inc: &Incoming,
        r: Refusal,
    ) {
        let mut w =
            engine::sip::MessageWriter::response_to(&inc.msg, r.code, r.reason, Some("pbx"));
        if let Some(text) = &r.warning {
            w.header_fmt(
                "Warning",
                format_args!("399 pbx \"{}\"", text.replace('"', "'")),
            );
        }
        inc.reply.send(r.code, w.finish());
        if !r.is_journalled() || !Self::journals(&state.view.borrow(), caller) {
            return;
        }
        use crate::journal::{CallEventKind, CallId, Direction};
        let (bus, call) = (&state.args.shared.bus, CallId::random());
        bus.publish_now(
            call,
            tenant,
            CallEventKind::CallStarted {
                from: caller.to_owned(),
                to: callee.to_owned(),
                direction: Direction::Internal,
                caller_line: Some(caller.to_owned()),
            },
        );
        use crate::proto::events::Disposition;
        // A callee that was busy (or on do not disturb) missed a call; a target not
        // built yet is the switch's failure.
        let disposition = match r.code {
            _ if r.is_missing_target() => Disposition::Failed,
            486 | 600 => Disposition::Busy,
            603 => Disposition::Rejected,
            408 | 480 => Disposition::NoAnswer,
            _ => Disposition::Failed,
        };
        let why = r.warning.unwrap_or_else(|| r.reason.to_owned());
        bus.publish_refused(call, tenant, disposition, (r.code, why));
        tracing::info!(
            caller,
            callee,
            code = r.code,
            "call refused: its target is not available yet"
        );
    }

    /// Routes a call to an extension of this tenant: every registered contact rings.
    async fn start_call(
        myself: &ActorRef<TenantMsg>,
        state: &mut TenantState,
        caller: String,
        inc: Box<Incoming>,
        inbound: Option<trunks::InboundCall>,
    ) {
        let Some(entry) = state.entry.clone() else {
            return inc.respond(503, "Service Unavailable");
        };
        let view = state.view.borrow().clone();
        let limits = view.limits;
        let line = inbound.is_none().then_some(caller.as_str());
        let Some(permit) = Self::admit(state, &limits, line, &inc) else {
            return;
        };
        // A call from a trunk takes one of its places for as long as it lasts.
        let trunk_slot = match inbound.as_ref().map(|i| i.trunk.take()) {
            Some(Err(why)) => {
                tracing::info!(%why, "call from a trunk refused");
                return inc.respond(503, "Service Unavailable");
            }
            Some(Ok(slot)) => Some(slot),
            None => None,
        };
        // An INVITE with Replaces (RFC 3891) goes to the call owning that dialog, which
        // honours it only for one of its parties.
        if let Some(replaces) = inc.msg.replaces().filter(|_| inbound.is_none()) {
            drop(permit);
            let call = replaces
                .ok()
                .and_then(|r| state.args.directory.call(entry.id, &r.call_id));
            let Some(call) = call else {
                return inc.respond(481, "Call/Transaction Does Not Exist");
            };
            let msg = crate::proto::CallMsg::Replace {
                tenant: entry.id,
                by: caller,
                inc,
            };
            if let Err(ractor::MessagingErr::SendErr(crate::proto::CallMsg::Replace {
                inc, ..
            })) = call.send_message(msg)
            {
                inc.respond(481, "Call/Transaction Does Not Exist");
            }
            return;
        }
        let calls = state.args.shared.calls.clone();
        let callee = match &inbound {
            Some(i) => Some(i.called.clone()),
            None => inc
                .msg
                .uri()
                .and_then(|u| u.user_unescaped().map(|u| u.into_owned())),
        };
        let Some(callee) = callee else {
            return inc.respond(404, "Not Found");
        };
        // The dialplan decides; the walk's first hop with a device starts the call.
        let source = Some(inc.source.ip());
        let trunk = inbound.as_ref().map(|i| i.trunk.config.name.as_str());
        let routed_from = inbound
            .as_ref()
            .map_or(caller.as_str(), |i| i.from.as_str());
        let (mut walk, once) = match Self::walk(
            (&view, &state.args.shared.clock),
            routed_from,
            &callee,
            (source, trunk),
            calls.ring_timeout,
        ) {
            Ok(w) => w,
            Err(e) => {
                let r = Refusal {
                    code: 404,
                    reason: "Not Found",
                    warning: Some(e),
                    missing: false,
                    journal: false,
                };
                return Self::refuse(state, entry.id, &caller, &callee, &inc, r);
            }
        };
        let own = view.features.get(&caller);
        let anonymous = own.is_some_and(|f| f.anonymous)
            || inbound.as_ref().is_some_and(|i| i.anonymous)
            || crate::call::asks_privacy(&inc.msg);
        // A per-call choice of caller ID is the user's (refused where the
        // administrator fixed it); the line's setting is shown while the number is
        // still its user's (a line given to another user shows its own again).
        let fixed = own.is_some_and(|f| f.caller_id_fixed);
        // Private and the project code: dialled for this call, else the line's own.
        let private = once.private || own.is_some_and(|f| f.private);
        let project = once
            .project
            .clone()
            .or_else(|| own.and_then(|f| f.project.clone()));
        let dialled = once.dialled.clone();
        let shown = match (once.shown, own.and_then(|f| f.caller_id.clone())) {
            (Some(n), _) => {
                let allowed = match fixed {
                    true => Err(format!(
                        "the caller ID of line {caller} is fixed by the administrator"
                    )),
                    false => Self::owns(state, entry.id, &caller, &n).await,
                };
                if let Err(why) = allowed {
                    let r = Refusal {
                        code: 403,
                        reason: "Forbidden",
                        warning: Some(why),
                        missing: false,
                        journal: false,
                    };
                    return Self::refuse(state, entry.id, &caller, &callee, &inc, r);
                }
                Some(n).filter(|n| *n != caller)
            }
            (None, Some(n)) => match Self::owns(state, entry.id, &caller, &n).await {
                Ok(()) => Some(n),
                Err(why) => {
                    tracing::warn!(line = %caller, %why, "stored caller ID not shown");
                    None
                }
            },
            (None, None) => None,
        };
        let (first, journal, line) = loop {
            match walk.next_step() {
                WalkStep::Ring {
                    hop,
                    lines,
                    ring,
                    target,
                } => {
                    let group = group_of(&target);
                    let alone = hop == 1 && (lines.len() == 1 || group.is_some());
                    let hop = (&lines[..], alone);
                    match Self::hop_devices(myself, state, &view, hop, &caller, group).await {
                        Outcome::Ring(devices) => {
                            let journal = devices.journal;
                            let first = FirstStep::Hop(FirstHop { devices, ring });
                            // A group's members are not in the call until one answers.
                            let party = group.unwrap_or(&lines[0]).to_owned();
                            break (first, journal, party);
                        }
                        Outcome::Refuse(code, reason) => walk.failed(code, reason),
                        Outcome::KeepRinging => {
                            return Self::keep_ringing(
                                myself, state, entry, caller, callee, inc, permit,
                            )
                            .await
                        }
                    }
                }
                WalkStep::Trunk {
                    trunk: dial,
                    target,
                    ..
                } => {
                    let ask = crate::proto::trunk::TrunkHopAsk {
                        trunk: dial,
                        target: target.clone(),
                        caller: caller.clone(),
                        anonymous,
                        shown: shown.clone(),
                        diverted_by: None,
                    };
                    match Self::trunk_hop(state, &ask) {
                        Ok(devices) => {
                            let ring = calls.ring_timeout;
                            let first = FirstStep::Hop(FirstHop { devices, ring });
                            let party = trunk_party(&target);
                            break (first, true, party);
                        }
                        Err((code, reason)) => walk.failed(code, reason),
                    }
                }
                WalkStep::Serve(dialplan::Target::Conference { room }) => {
                    let handle = Self::room(state, &room, inc.source);
                    let pin = view.router.as_ref().and_then(|r| {
                        let plan = r.plan();
                        let c = plan.conferences.iter().find(|c| c.number == room)?;
                        c.pin.clone()
                    });
                    break (
                        FirstStep::Room {
                            room: room.clone(),
                            handle,
                            pin,
                            organiser: false,
                        },
                        true,
                        room,
                    );
                }
                WalkStep::Serve(dialplan::Target::Feature {
                    action: dialplan::feature_code::FeatureAction::DirectedPickup { target },
                }) => {
                    return Self::pick_up(state, caller, inc, |line| line == target);
                }
                WalkStep::Serve(dialplan::Target::Feature {
                    action: dialplan::feature_code::FeatureAction::GroupPickup,
                }) => {
                    // Any line sharing a pickup group with the picker.
                    let mates: Vec<String> = view
                        .router
                        .as_ref()
                        .map(|r| {
                            r.plan()
                                .pickup_groups
                                .iter()
                                .filter(|g| g.members.contains(&caller))
                                .flat_map(|g| g.members.clone())
                                .collect()
                        })
                        .unwrap_or_default();
                    return Self::pick_up(state, caller, inc, |line| {
                        mates.iter().any(|m| m == line)
                    });
                }
                WalkStep::Serve(dialplan::Target::Feature {
                    action:
                        action @ (FeatureAction::AgentLogin { .. } | FeatureAction::AgentLogout { .. }),
                }) => {
                    let prompt = Self::set_login(state, entry.id, &caller, &action).await;
                    let first = FirstStep::Announce(vec![prompt], format!("feature code {action}"));
                    break (first, true, callee.clone());
                }
                WalkStep::Serve(dialplan::Target::Feature {
                    action: FeatureAction::VoicemailAccess,
                }) => match Self::mailbox(state, &caller) {
                    Some(b) => break (FirstStep::MailboxAccess(Box::new(b)), true, caller.clone()),
                    None => {
                        let first = FirstStep::Announce(
                            vec!["feature_refused"],
                            "feature code voicemail access".into(),
                        );
                        break (first, true, callee.clone());
                    }
                },
                WalkStep::Serve(dialplan::Target::Feature { action })
                    if Self::line_feature(&action).is_some() =>
                {
                    let change = Self::line_feature(&action).unwrap_or_default();
                    let prompt = Self::set_features(state, entry.id, &caller, change).await;
                    let first = FirstStep::Announce(vec![prompt], format!("feature code {action}"));
                    break (first, true, callee.clone());
                }
                WalkStep::Serve(dialplan::Target::Queue { number, .. }) => {
                    let handle = Self::queue(myself, state, &number).await;
                    break (FirstStep::Queue(number.clone(), handle), true, number);
                }
                WalkStep::Serve(dialplan::Target::IvrMenu { number, .. }) => {
                    match Self::ivr_menu(state, &number) {
                        Some(menu) => break (FirstStep::Ivr(Box::new(menu)), true, number),
                        None => walk.failed(404, "Not Found"),
                    }
                }
                WalkStep::Serve(dialplan::Target::Voicemail { mailbox })
                    if view.mailboxes.contains(&mailbox) =>
                {
                    match Self::mailbox(state, &mailbox) {
                        Some(b) => break (FirstStep::Voicemail(Box::new(b)), true, mailbox),
                        None => walk.failed(480, "Temporarily Unavailable"),
                    }
                }
                WalkStep::Serve(dialplan::Target::Announcement { announcement }) => {
                    match Self::message(state, &announcement) {
                        Some(a) => {
                            let what = format!("announcement {announcement}");
                            break (FirstStep::Message(vec![a], what), true, callee.clone());
                        }
                        None => walk.failed(480, "Temporarily Unavailable"),
                    }
                }
                WalkStep::Serve(dialplan::Target::AdHocConference) => {
                    // Not kept by name: the room closes with its last member, or
                    // when the call that opened it never joins.
                    state.adhoc_rooms += 1;
                    let room = format!("ad-hoc {}", state.adhoc_rooms);
                    let ip = Self::local_ip(state, inc.source);
                    let handle =
                        crate::conference::open(&room, ip, state.args.shared.ports.clone());
                    break (
                        FirstStep::Room {
                            room: room.clone(),
                            handle,
                            pin: None,
                            organiser: true,
                        },
                        true,
                        room,
                    );
                }
                WalkStep::Serve(t) => {
                    let r = served(&t, walk.last_failure());
                    return Self::refuse(state, entry.id, &caller, &callee, &inc, r);
                }
                WalkStep::Exhausted { code, reason } => {
                    let r = Refusal::exhausted(code, reason);
                    return Self::refuse(state, entry.id, &caller, &callee, &inc, r);
                }
            }
        };
        let record = SharedRecord::default();
        // Journalled unless the caller's line group or the rung lines' say otherwise.
        let journal = journal && Self::journals(&view, &caller);
        let srtp_required = inbound.is_none() && Self::requires_srtp(&view, &caller);
        // The lines in the call: the caller and the (first) line rung.
        let parties = [caller.clone(), line];
        let args = CallArgs {
            trunk: inbound.as_ref().map(|i| i.trunk.config.name.clone()),
            anonymous,
            shown,
            private,
            project,
            journal_rules: view.journal_rules,
            bus: state.args.shared.bus.clone(),
            journal_barrier: state.args.shared.journal.clone(),
            ports: state.args.shared.ports.clone(),
            tenant: entry,
            caller,
            // The journal and the callees see the number behind prefix codes.
            callee: dialled.unwrap_or(callee),
            inc,
            walk,
            first,
            journal,
            srtp_required,
            music: view.music.clone(),
            media_timeout: state.args.shared.calls.media_timeout,
            record_code: Self::feature_code(&view, FeatureKind::RecordingToggle),
            merge_code: Self::feature_code(&view, FeatureKind::ConferenceMerge),
            data_dir: state.args.shared.files_dir.clone(),
            out: state.args.shared.out.clone(),
            directory: state.args.directory.clone(),
            record: record.clone(),
        };
        match Actor::spawn_linked(None, CallActor, args, myself.get_cell()).await {
            Ok((call, _)) => {
                state.add_call(
                    call.get_id(),
                    CallEntry {
                        _permit: permit,
                        _trunk: trunk_slot,
                        record,
                        parties,
                        call: call.clone(),
                    },
                );
            }
            // The call refused itself in `pre_start` (400, 422, 482, 503 …) and has
            // answered the caller already: not a fault of the switch.
            Err(e) => tracing::debug!(error = %e, "call not started"),
        }
    }

    /// Conference room `room` of the tenant: its running task, or a new one (on the
    /// switch's address facing `source`) when nobody is in it.
    /// Hands `picker`'s INVITE to a call ringing a line `wanted` accepts (not one the
    /// picker placed); nothing ringing there: 404.
    fn pick_up(
        state: &TenantState,
        picker: String,
        inc: Box<Incoming>,
        wanted: impl Fn(&str) -> bool,
    ) {
        // The lines ringing now (after any forwarding), not the number dialled.
        let ringing = state
            .calls
            .values()
            .filter(|c| c.parties[0] != picker)
            .find(|c| {
                let r = c.record.lock().unwrap_or_else(|e| e.into_inner());
                r.ringing
                    && !r.closed
                    && r.ringing_lines.iter().any(|l| wanted(l))
                    && !r.ringing_lines.contains(&picker)
            })
            .map(|c| c.call.clone());
        match ringing {
            Some(call) => {
                tracing::debug!(%picker, "pickup");
                // The call may have ended meanwhile: the INVITE still gets its answer.
                if let Err(ractor::MessagingErr::SendErr(CallMsg::PickUp { inc, .. })) =
                    call.send_message(CallMsg::PickUp { by: picker, inc })
                {
                    inc.respond(481, "Call/Transaction Does Not Exist");
                }
            }
            None => inc.respond(404, "No Ringing Call"),
        }
    }

    /// The change to a line's own features a feature code asks for, if it is one the
    /// switch carries out: do not disturb, forwarding always and when busy.
    fn line_feature(
        action: &dialplan::feature_code::FeatureAction,
    ) -> Option<crate::store::FeatureChange> {
        use dialplan::feature_code::FeatureAction;
        use dialplan::feature_code::ForwardKind;
        let mut c = crate::store::FeatureChange::default();
        match action {
            FeatureAction::Dnd { on } => c.dnd = Some(*on),
            FeatureAction::CallWaiting { on } => c.call_waiting = Some(*on),
            FeatureAction::Anonymous { on } => c.anonymous = Some(*on),
            FeatureAction::CallerId { number } => c.caller_id = Some(number.clone()),
            FeatureAction::Forward {
                kind: ForwardKind::Unconditional,
                to,
            } => c.forwards.always = Some(to.clone()),
            FeatureAction::Forward {
                kind: ForwardKind::Busy,
                to,
            } => c.forwards.busy = Some(to.clone()),
            FeatureAction::Forward {
                kind: ForwardKind::NoAnswer,
                to,
            } => c.forwards.no_answer = Some(to.clone()),
            _ => return None,
        }
        // From the phone: what the administrator fixed stays.
        c.by_user = true;
        Some(c)
    }

    /// Applies a feature code's `change` to `line` (checked as `pbx line set` checks
    /// it), has the view read again at once, and names the prompt that confirms it.
    async fn set_features(
        state: &TenantState,
        tenant: TenantId,
        line: &str,
        change: crate::store::FeatureChange,
    ) -> &'static str {
        let on = change.dnd == Some(true)
            || change.call_waiting == Some(true)
            || change.anonymous == Some(true)
            || change.forwards.sets_any()
            || matches!(change.caller_id, Some(Some(_)));
        let ext = line.to_owned();
        let done = state
            .args
            .shared
            .store
            .call(move |s| s.change_line_features(tenant, &ext, &change))
            .await;
        if let Ok(f) = &done {
            state
                .args
                .shared
                .line_bus
                .publish(crate::proto::events::LineEvent::settings(tenant, line, f));
        }
        Self::confirmation(state, line, on, done.map(|_| ()))
    }

    /// The prompt confirming a feature code's change (`on` or off), or its refusal;
    /// a change has the view read again at once.
    fn confirmation(
        state: &TenantState,
        line: &str,
        on: bool,
        done: crate::Result<()>,
    ) -> &'static str {
        match done {
            Ok(()) => {
                state.reread.notify_one();
                tracing::info!(line, on, "feature code carried out");
                if on {
                    "feature_on"
                } else {
                    "feature_off"
                }
            }
            Err(e) => {
                tracing::info!(line, error = %e, "feature code refused");
                "feature_refused"
            }
        }
    }

    /// Logs `line` in to or out of a hunt group or queue (all of its own when the
    /// code named none), has the view read again, and names the confirming prompt.
    async fn set_login(
        state: &TenantState,
        tenant: TenantId,
        line: &str,
        action: &FeatureAction,
    ) -> &'static str {
        let (group, on) = match action {
            FeatureAction::AgentLogin { group } => (group.clone(), true),
            FeatureAction::AgentLogout { group } => (group.clone(), false),
            _ => return "feature_refused",
        };
        let ext = line.to_owned();
        let done = state
            .args
            .shared
            .store
            .call(move |s| s.set_agent_login(tenant, &ext, group.as_deref(), on))
            .await;
        Self::confirmation(state, line, on, done.map(|_| ()))
    }

    /// Is `shown` a number of `line`'s user (its own, or another of its lines)?
    /// `Err` says why not.
    async fn owns(
        state: &TenantState,
        tenant: TenantId,
        line: &str,
        shown: &str,
    ) -> Result<(), String> {
        let (line, shown) = (line.to_owned(), shown.to_owned());
        state
            .args
            .shared
            .store
            .call(move |s| s.check_caller_id(tenant, &line, &shown))
            .await
            .map_err(|e| e.to_string())
    }

    /// Queue `number`'s actor, started (under this supervisor) when it is not running;
    /// `None` when the plan has no such queue.
    async fn queue(
        myself: &ActorRef<TenantMsg>,
        state: &mut TenantState,
        number: &str,
    ) -> Option<ActorRef<crate::proto::QueueMsg>> {
        if let Some(q) = state.queues.get(number) {
            return Some(q.clone());
        }
        let known = state
            .view
            .borrow()
            .router
            .as_ref()
            .is_some_and(|r| r.plan().queue(number).is_some());
        let entry = state.entry.clone().filter(|_| known)?;
        let args = crate::queue::QueueArgs {
            tenant: entry.id,
            number: number.to_owned(),
            view: state.view.clone(),
            store: state.args.shared.store.clone(),
            reread: state.reread.clone(),
            events: state.args.shared.agent_bus.clone(),
        };
        match Actor::spawn_linked(None, crate::queue::QueueActor, args, myself.get_cell()).await {
            Ok((q, _)) => {
                state.queues.insert(number.to_owned(), q.clone());
                Some(q)
            }
            Err(e) => {
                tracing::error!(queue = number, error = %e, "queue did not start");
                None
            }
        }
    }

    /// The switch's address towards `source` (for the media ports it hands out).
    fn local_ip(state: &TenantState, source: std::net::SocketAddr) -> std::net::IpAddr {
        state
            .args
            .shared
            .out
            .local_for(source)
            .map_or(source.ip(), |a| a.ip())
    }

    fn room(
        state: &mut TenantState,
        room: &str,
        source: std::net::SocketAddr,
    ) -> crate::proto::RoomHandle {
        state.rooms.retain(|_, h| !h.is_closed());
        if let Some(h) = state.rooms.get(room) {
            return h.clone();
        }
        let ip = Self::local_ip(state, source);
        let h = crate::conference::open(room, ip, state.args.shared.ports.clone());
        state.rooms.insert(room.to_owned(), h.clone());
        h
    }

    /// A line group's "keep ringing" for a line with no device: the caller hears
    /// ringing until it gives up or the ring time is over (`ringer.rs`).
    async fn keep_ringing(
        myself: &ActorRef<TenantMsg>,
        state: &mut TenantState,
        tenant: TenantEntry,
        caller: String,
        callee: String,
        inc: Box<Incoming>,
        permit: CallPermit,
    ) {
        let record = SharedRecord::default();
        let parties = [caller.clone(), callee.clone()];
        let caller_line = caller.clone();
        let args = ringer::RingerArgs {
            tenant,
            caller,
            callee,
            inc,
            ring_timeout: state.args.shared.calls.ring_timeout,
            directory: state.args.directory.clone(),
            bus: state.args.shared.bus.clone(),
            out: state.args.shared.out.clone(),
            record: record.clone(),
            journal: Self::journals(&state.view.borrow(), &caller_line),
        };
        match Actor::spawn_linked(None, ringer::Ringer, args, myself.get_cell()).await {
            Ok((r, _)) => {
                state.add_call(
                    r.get_id(),
                    CallEntry {
                        _permit: permit,
                        _trunk: None,
                        record,
                        parties,
                        call: r.clone(),
                    },
                );
            }
            Err(e) => tracing::error!(error = %e, "ringing call failed to start"),
        }
    }
}

impl Actor for TenantSupervisor {
    type Msg = TenantMsg;
    type State = TenantState;
    type Arguments = TenantArgs;

    async fn pre_start(
        &self,
        _: ActorRef<TenantMsg>,
        args: TenantArgs,
    ) -> Result<TenantState, ActorProcessingErr> {
        // The first view is read before the first call is taken; later ones arrive by
        // themselves.
        let (tx, mut view) = tokio::sync::watch::channel(routing::TenantView::default());
        let reread = Arc::new(tokio::sync::Notify::new());
        let refresher = tokio::spawn(routing::refresh(
            args.shared.store.clone(),
            args.id,
            args.shared.files_dir.clone(),
            tx,
            reread.clone(),
        ));
        let _ = view.changed().await;
        Ok(TenantState {
            args,
            entry: None,
            by_actor: HashMap::new(),
            restarts: HashMap::new(),
            calls: HashMap::new(),
            line_calls: HashMap::new(),
            view,
            refresher: Some(refresher),
            reread,
            quota: quota::Quota::default(),
            epoch: tokio::time::Instant::now(),
            known: KnownLines::default(),
            line_states: HashMap::new(),
            phantom_ha1: format!("{:032x}", rand::random::<u128>()),
            rooms: HashMap::new(),
            adhoc_rooms: 0,
            queues: HashMap::new(),
            queue_failures: HashMap::new(),
            prompts: prompts::PromptCache::default(),
            trunks: HashMap::new(),
            trunk_actors: HashMap::new(),
            hibernating: std::collections::BTreeSet::new(),
            wake_timer: None,
            parked: HashMap::new(),
            watchers: HashMap::new(),
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<TenantMsg>,
        msg: TenantMsg,
        state: &mut TenantState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            TenantMsg::SetEntry(e) => {
                state.entry = Some(e);
                trunks::watch(myself.clone(), state.view.clone());
            }
            TenantMsg::SyncTrunks => Self::sync_trunks(&myself, state).await,
            TenantMsg::Watch {
                watched,
                watcher,
                reply,
            } => {
                let is_line = Self::ensure_line(&myself, state, &watched).await.is_some();
                if is_line {
                    let list = state.watchers.entry(watched.clone()).or_default();
                    if !list.iter().any(|w| w.get_id() == watcher.get_id()) {
                        list.push(watcher);
                    }
                }
                let _ = reply.send(is_line.then(|| Self::line_view(state, &watched)));
            }
            TenantMsg::LinesChanged(lines) => {
                Self::publish_line_states(state, &lines);
                for ext in lines {
                    if !state.watchers.contains_key(&ext) {
                        continue;
                    }
                    let view = Self::line_view(state, &ext);
                    if let Some(list) = state.watchers.get_mut(&ext) {
                        list.retain(|w| {
                            w.send_message(LineMsg::Watched(ext.clone(), view.clone()))
                                .is_ok()
                        });
                        if list.is_empty() {
                            state.watchers.remove(&ext);
                        }
                    }
                }
            }
            TenantMsg::ConfigChanged => {
                state.known = KnownLines::default();
                state.reread.notify_one();
            }
            TenantMsg::LineRemoved(ext) => {
                // Read again at the next request for a number it does not know.
                state.known = KnownLines::default();
                if let Some(entry) = &state.entry {
                    if let Some(line) = state.args.directory.line(entry.id, &ext) {
                        tracing::info!(tenant = %entry.name, %ext, "line removed; its actor stops");
                        line.stop(Some(crate::line::REMOVED.into()));
                    }
                    // A hibernating line has only its bindings here.
                    state.args.directory.remove_line(entry.id, &ext);
                    state.hibernating.retain(|(_, e)| **e != *ext);
                }
            }
            TenantMsg::Prompt { name, reply } => {
                let _ = reply.send(Self::message(state, &name));
            }
            TenantMsg::TrunkHop { hop, reply } => {
                let _ = reply.send(Self::trunk_hop(state, &hop));
            }
            TenantMsg::Inbound { trunk, inc } => {
                Self::start_inbound(&myself, state, trunk, inc).await
            }
            TenantMsg::RouteNew(ext, inc) => match Self::ensure_line(&myself, state, &ext).await {
                Some(line) => {
                    // A line going to sleep refuses it: it waits here for the line's
                    // end, then goes to the line woken again.
                    if let Err(ractor::MessagingErr::SendErr(LineMsg::Request(inc))) =
                        line.send_message(LineMsg::Request(inc))
                    {
                        match state.by_actor.get(&line.get_id()) {
                            Some(ext) => state.parked.entry(ext.clone()).or_default().push(*inc),
                            None => inc.respond(503, "Service Unavailable"),
                        }
                    }
                }
                None => match &state.entry {
                    Some(entry) => crate::line::answer_stranger(
                        &state.args.shared,
                        entry,
                        &ext,
                        &state.phantom_ha1,
                        inc,
                    ),
                    None => inc.respond(503, "Service Unavailable"),
                },
            },
            TenantMsg::Route(inc) => {
                let ext = inc
                    .msg
                    .to()
                    .and_then(|t| t.uri.user_unescaped().map(|u| u.into_owned()));
                match ext {
                    Some(ext) => {
                        let _ = myself.send_message(TenantMsg::RouteNew(ext, inc));
                    }
                    None => inc.respond(404, "Not Found"),
                }
            }
            TenantMsg::ClickToDial {
                line,
                to,
                domain,
                private,
                project,
                pickup,
                reply,
            } => {
                let tags = (private, project, pickup);
                let r = Self::click_to_dial(state, &line, &to, domain, tags).await;
                let _ = reply.send(r);
            }
            TenantMsg::LineStates(reply) => {
                let _ = reply.send(Self::busy_lines(state));
            }
            TenantMsg::CallsOf { line, reply } => {
                let _ = reply.send(Self::calls_of(state, &line));
            }
            TenantMsg::StartCall { caller, inc } => {
                Self::start_call(&myself, state, caller, inc, None).await
            }
            TenantMsg::Targets { from, ext, reply } => {
                let _ = reply.send(Self::targets(&myself, state, &from, &ext).await);
            }
            TenantMsg::OtherCalls { line, from, reply } => {
                let other = state
                    .calls
                    .iter()
                    .filter(|(id, c)| {
                        **id != from
                            && c.parties.contains(&line)
                            && !c.record.lock().unwrap_or_else(|e| e.into_inner()).closed
                    })
                    .map(|(_, c)| c.call.clone())
                    .collect();
                let _ = reply.send(other);
            }
            TenantMsg::Room {
                name,
                source,
                reply,
            } => {
                let _ = reply.send(Self::room(state, &name, source));
            }
            TenantMsg::OpenRoom { source, reply } => {
                state.adhoc_rooms += 1;
                let room = format!("ad-hoc {}", state.adhoc_rooms);
                let ip = Self::local_ip(state, source);
                let _ = reply.send(crate::conference::open(
                    &room,
                    ip,
                    state.args.shared.ports.clone(),
                ));
            }
            TenantMsg::Queue { number, reply } => {
                let _ = reply.send(Self::queue(&myself, state, &number).await);
            }
            TenantMsg::Mailbox { mailbox, reply } => {
                let _ = reply.send(Self::mailbox(state, &mailbox).map(Box::new));
            }
            TenantMsg::IvrChoice { by, to, reply } => {
                let _ = reply.send(Self::ivr_step(&myself, state, &by, &to).await);
            }
            TenantMsg::HopDevices {
                lines,
                caller,
                group,
                reply,
            } => {
                let view = state.view.borrow().clone();
                let hop = (&lines[..], false);
                let group = group.as_deref();
                let found =
                    match Self::hop_devices(&myself, state, &view, hop, &caller, group).await {
                        Outcome::Ring(d) => Ok(d),
                        Outcome::Refuse(code, reason) => Err((code, reason)),
                        Outcome::KeepRinging => Err((480, "Temporarily Unavailable")),
                    };
                let _ = reply.send(found);
            }
            TenantMsg::WakeLine(ext, msg) => {
                if let Some(line) = Self::ensure_line(&myself, state, &ext).await {
                    let _ = line.send_message(msg);
                }
            }
            TenantMsg::WakeDue => {
                state.wake_timer = None;
                let now = crate::clock::unix_now();
                while let Some(first) = state.hibernating.first() {
                    if first.0 > now {
                        break;
                    }
                    let (_, ext) = state.hibernating.pop_first().expect("first");
                    let Some(entry) = state.entry.clone() else {
                        break;
                    };
                    // A line woken meanwhile (a request) expires on its own; an entry
                    // from before a refresh (nothing expired yet) is stale: the line's
                    // latest sleep put its own.
                    let due = state
                        .args
                        .directory
                        .bindings(entry.id, &ext)
                        .is_some_and(|b| b.iter().any(|b| b.expires_at <= now));
                    if due && state.args.directory.line(entry.id, &ext).is_none() {
                        Self::spawn_line(&myself, state, entry, &ext).await;
                    }
                }
                Self::arm_wake(&myself, state);
            }
            TenantMsg::StartRegistered(exts) => {
                // Lines with stored registrations start hibernating: their bindings
                // are read in one query and wait in the directory; an actor starts
                // for a line's first request or its first expiry.
                if let Some(entry) = state.entry.clone() {
                    let tid = entry.id;
                    let stored = state
                        .args
                        .shared
                        .store
                        .call(move |s| s.tenant_bindings(tid))
                        .await;
                    let stored = match stored {
                        Ok(b) => b,
                        Err(e) => {
                            tracing::error!(error = %e, "stored registrations unreadable");
                            Default::default()
                        }
                    };
                    let wanted: std::collections::HashSet<String> = exts.into_iter().collect();
                    for (ext, bindings) in stored {
                        if !wanted.contains(&ext) || bindings.is_empty() {
                            continue;
                        }
                        let view = BindingsView::default();
                        view.publish(&bindings);
                        state.args.directory.set_line(tid, &ext, None, view);
                        if let Some(at) = bindings.iter().map(|b| b.expires_at).min() {
                            state.hibernating.insert((at, ext.into_boxed_str()));
                        }
                    }
                    Self::arm_wake(&myself, state);
                }
            }
        }
        Ok(())
    }

    async fn post_stop(
        &self,
        _: ActorRef<TenantMsg>,
        state: &mut TenantState,
    ) -> Result<(), ActorProcessingErr> {
        if let Some(r) = state.refresher.take() {
            r.abort();
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<TenantMsg>,
        evt: SupervisionEvent,
        state: &mut TenantState,
    ) -> Result<(), ActorProcessingErr> {
        if let SupervisionEvent::ActorFailed(cell, _)
        | SupervisionEvent::ActorTerminated(cell, ..) = &evt
        {
            let id = cell.get_id();
            if Self::trunk_ended(&myself, state, id).await {
                return Ok(());
            }
            let ended = state
                .queues
                .iter()
                .find(|(_, q)| q.get_id() == id)
                .map(|(n, _)| n.clone());
            if let Some(number) = ended {
                // Started again from the plan and the logins; the calls waiting in it
                // (or served by its agents) tell the new one where they stand.
                state.queues.remove(&number);
                if state.calls.is_empty() {
                    return Ok(());
                }
                // A queue that keeps failing (the same messages again after each
                // restart) is not started again for a while: its callers go on.
                let now = tokio::time::Instant::now();
                let failures = state
                    .queue_failures
                    .entry(number.clone())
                    .or_insert((0, now));
                if now.duration_since(failures.1) > QUEUE_FAILURE_WINDOW {
                    *failures = (0, now);
                }
                failures.0 += 1;
                let q = if failures.0 <= QUEUE_RESTARTS {
                    tracing::warn!(queue = %number, "queue actor ended; restarted");
                    Self::queue(&myself, state, &number).await
                } else {
                    tracing::error!(queue = %number, "queue actor keeps failing; its callers go on");
                    None
                };
                // Oldest call first: callers who joined at the same instant rejoin in
                // the order their calls began.
                let mut calls: Vec<&ActorRef<CallMsg>> =
                    state.calls.values().map(|c| &c.call).collect();
                calls.sort_by_key(|c| c.get_id().pid());
                for c in calls {
                    let _ = c.send_message(CallMsg::QueueRestarted(number.clone(), q.clone()));
                }
                return Ok(());
            }
        }
        match evt {
            SupervisionEvent::ActorFailed(cell, err)
                if state.calls.contains_key(&cell.get_id()) =>
            {
                // A call waiting in (or served by) a queue is gone from it too.
                for q in state.queues.values() {
                    let _ = q.cast(crate::proto::QueueMsg::Gone {
                        call: cell.get_id(),
                    });
                }
                if let Some(call) = state.remove_call(&cell.get_id()) {
                    tracing::error!(error = %err, "call actor failed; ending its call");
                    let shared = &state.args.shared;
                    crate::call::supervision::end_failed_call(
                        &call.record,
                        &shared.out,
                        &state.args.directory,
                        &shared.bus,
                        state.args.id,
                    );
                }
            }
            SupervisionEvent::ActorTerminated(cell, ..)
                if state.calls.contains_key(&cell.get_id()) =>
            {
                state.remove_call(&cell.get_id());
            }
            SupervisionEvent::ActorFailed(cell, err) => {
                let Some(ext) = state.by_actor.remove(&cell.get_id()) else {
                    return Ok(());
                };
                let Some(entry) = state.entry.clone() else {
                    return Ok(());
                };
                state.args.directory.remove_line(entry.id, &ext);
                let n = state.restarts.entry(ext.clone()).or_insert(0);
                *n += 1;
                tracing::error!(tenant = %entry.name, %ext, error = %err, restarts = *n, "line actor failed; restarting from the store");
                Self::spawn_line(&myself, state, entry, &ext).await;
            }
            SupervisionEvent::ActorTerminated(cell, _, reason) => {
                if let (Some(ext), Some(entry)) =
                    (state.by_actor.remove(&cell.get_id()), state.entry.clone())
                {
                    if reason.as_deref() == Some(crate::line::REMOVED) {
                        state.args.directory.remove_line(entry.id, &ext);
                        state.parked.remove(&ext);
                    } else {
                        let id = cell.get_id();
                        Self::hibernated(&myself, state, entry.id, ext.clone(), id);
                        if let Some(parked) = state.parked.remove(&ext) {
                            let line = Self::spawn_line(&myself, state, entry, &ext).await;
                            for inc in parked {
                                match &line {
                                    Some(l) => {
                                        let _ = l.send_message(LineMsg::Request(Box::new(inc)));
                                    }
                                    None => inc.respond(503, "Service Unavailable"),
                                }
                            }
                        }
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// The cell of a tenant supervisor, for linking.
pub fn cell(r: &ActorRef<TenantMsg>) -> ActorCell {
    r.get_cell()
}

/// A hop out on a trunk for a call line `from` places (a transfer, a deflection, an
/// IVR choice), showing the line's own number.
fn trunk_ask(
    from: &str,
    trunk: dialplan::TrunkDial,
    target: dialplan::Target,
) -> crate::proto::trunk::TrunkHopAsk {
    crate::proto::trunk::TrunkHopAsk {
        trunk,
        target,
        caller: from.to_owned(),
        anonymous: false,
        shown: None,
        diverted_by: None,
    }
}

/// The number a hop out on a trunk calls (the call's party in the tenant's records).
fn trunk_party(target: &dialplan::Target) -> String {
    match target {
        dialplan::Target::Outbound { number, .. } | dialplan::Target::Emergency { number, .. } => {
            number.clone()
        }
        other => other.to_string(),
    }
}

/// The registered devices of a line.
/// The outcome for a line nobody is logged in on.
/// The hunt group (or queue) a hop's target rings the members of.
fn group_of(target: &dialplan::Target) -> Option<&str> {
    match target {
        dialplan::Target::HuntGroup { number, .. } | dialplan::Target::Queue { number, .. } => {
            Some(number)
        }
        _ => None,
    }
}

fn declined(settings: &TenantSettings) -> Outcome {
    match settings.decline.response() {
        Some((code, reason)) => Outcome::Refuse(code, reason),
        None => Outcome::KeepRinging,
    }
}
