//! A call queue: one actor per queue of the tenant's plan, started by the tenant on
//! its first call. Callers wait in arrival order; the queue offers the longest-waiting
//! caller to free, logged-in agents by its strategy (`pick.rs`) the moment one is
//! free: a call joining, an agent's call ending (after its wrap-up), an offer ending
//! unanswered, a login: events, never a poll. The call does the ringing, the music
//! and the announcements (`call/queue.rs`); the queue only matches callers to agents.

pub mod pick;

use std::sync::Arc;
use std::time::{Duration, Instant};

use ractor::{Actor, ActorId, ActorProcessingErr, ActorRef};
use tokio::sync::watch;

use crate::journal::EventBus;
use crate::proto::events::{AgentEvent, AgentStatus};
use crate::proto::{CallMsg, QueueEvent, QueueMsg, WaitRules};
use crate::store::{StoreHandle, TenantId};
use crate::tenant::routing::TenantView;
use pick::Candidate;

/// How long an agent the switch could not ring (busy elsewhere, do not disturb, no
/// device) is left out of offers.
pub const UNREACHABLE_PAUSE: Duration = Duration::from_secs(5);

/// Seconds an offer rings, unless the queue says otherwise.
pub const AGENT_RING_SECS: u32 = 15;

pub struct QueueArgs {
    pub tenant: TenantId,
    pub number: String,
    pub view: watch::Receiver<TenantView>,
    pub store: StoreHandle,
    /// Wakes the tenant's view to read logins again (an agent paused).
    pub reread: Arc<tokio::sync::Notify>,
    /// Where the agents' states are published as they change.
    pub events: EventBus<AgentEvent>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AgentState {
    Free,
    /// Offered to this call, ringing.
    Offered(ActorId),
    /// In a call from the queue.
    Busy(ActorId),
    /// Wrap-up after a call (`true`), or left out for a while, until then.
    Resting(Instant, bool),
}

#[derive(Debug)]
struct Agent {
    ext: String,
    state: AgentState,
    idle_since: Instant,
    calls: u32,
    /// The status last published for it.
    shown: Option<AgentStatus>,
}

struct Waiter {
    call: ActorRef<CallMsg>,
    /// Waiting since (callers of one priority are offered in this order).
    since: Instant,
    /// Callers of a higher priority are offered first (the queue's caller rules).
    priority: u8,
    /// The skills an agent needs for it: skill → minimum level.
    needs: std::collections::BTreeMap<String, u8>,
    /// The agents ringing for it now.
    offered: Vec<String>,
    /// The agents that let it ring out; offered again only when nobody else is free.
    passed: Vec<String>,
}

pub struct QueueState {
    args: QueueArgs,
    agents: Vec<Agent>,
    waiters: Vec<Waiter>,
    /// The member offered last (round robin goes on after it).
    last: Option<usize>,
    watcher: Option<tokio::task::JoinHandle<()>>,
}

pub struct QueueActor;

fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

impl QueueState {
    fn config(&self) -> Option<dialplan::plan::Queue> {
        let view = self.args.view.borrow();
        view.router.as_ref()?.plan().queue(&self.args.number)
    }

    /// The agents follow the plan's member list (a new member starts free).
    fn sync(&mut self, cfg: &dialplan::plan::Queue, t: Instant) {
        if self.agents.len() == cfg.members.len()
            && self
                .agents
                .iter()
                .zip(&cfg.members)
                .all(|(a, m)| &a.ext == m)
        {
            return;
        }
        let mut old: Vec<Agent> = std::mem::take(&mut self.agents);
        self.agents = cfg
            .members
            .iter()
            .map(|m| match old.iter().position(|a| &a.ext == m) {
                Some(i) => old.swap_remove(i),
                None => Agent {
                    ext: m.clone(),
                    state: AgentState::Free,
                    idle_since: t,
                    calls: 0,
                    shown: None,
                },
            })
            .collect();
        self.last = None;
    }

    /// Puts a caller in line behind every caller of a higher priority, and of its
    /// priority waiting since before it; returns its place (0: first).
    fn insert(&mut self, w: Waiter) -> usize {
        let at = self
            .waiters
            .iter()
            .position(|o| {
                o.priority < w.priority || (o.priority == w.priority && o.since > w.since)
            })
            .unwrap_or(self.waiters.len());
        self.waiters.insert(at, w);
        at
    }

    fn waiter(&self, call: &ActorId) -> Option<usize> {
        self.waiters.iter().position(|w| &w.call.get_id() == call)
    }

    fn agent_mut(&mut self, ext: &str) -> Option<&mut Agent> {
        self.agents.iter_mut().find(|a| a.ext == ext)
    }

    /// Agents offered to or busy with `call` become free (or rest after a call).
    fn release(&mut self, call: &ActorId, wrap_up: Duration, t: Instant) -> Option<Instant> {
        let mut wake = None;
        for a in &mut self.agents {
            match a.state {
                AgentState::Offered(c) if &c == call => a.state = AgentState::Free,
                AgentState::Busy(c) if &c == call => {
                    a.idle_since = t + wrap_up;
                    if wrap_up.is_zero() {
                        a.state = AgentState::Free;
                    } else {
                        a.state = AgentState::Resting(t + wrap_up, true);
                        wake = Some(t + wrap_up);
                    }
                }
                _ => {}
            }
        }
        wake
    }

    /// Offers every waiting caller without an offer (longest waiting first) to the
    /// free agents its strategy picks, while there are any.
    fn dispatch(&mut self, t: Instant) {
        let Some(cfg) = self.config() else {
            // The queue left the plan: its callers go on (to their overflow).
            for w in self.waiters.drain(..) {
                let _ = w.call.send_message(CallMsg::Queue(QueueEvent::Full));
            }
            return;
        };
        self.sync(&cfg, t);
        let view = self.args.view.borrow().clone();
        let ring =
            Duration::from_secs(u64::from(cfg.agent_ring_seconds.unwrap_or(AGENT_RING_SECS)));
        let number = self.args.number.clone();
        let available = |a: &Agent| {
            a.state == AgentState::Free
                && !view.logged_out.contains(&(number.clone(), a.ext.clone()))
                && !view.features.get(&a.ext).is_some_and(|f| f.dnd)
        };
        let skills = view
            .router
            .as_ref()
            .map(|r| r.plan().agent_skills.clone())
            .unwrap_or_default();
        // How well an agent matches a caller's needs (`None`: it lacks a skill).
        let score = |ext: &str, needs: &std::collections::BTreeMap<String, u8>| {
            let have = skills.get(ext);
            needs.iter().try_fold(0u32, |sum, (skill, min)| {
                let level = have.and_then(|h| h.get(skill)).copied().unwrap_or(0);
                (level >= *min).then_some(sum + u32::from(level))
            })
        };
        let mut gone = Vec::new();
        for w in 0..self.waiters.len() {
            if !self.waiters[w].offered.is_empty() {
                continue;
            }
            let needs = &self.waiters[w].needs;
            let candidates = |passed: &[String]| -> Vec<Candidate> {
                self.agents
                    .iter()
                    .enumerate()
                    .filter(|(_, a)| available(a) && !passed.contains(&a.ext))
                    .filter_map(|(index, a)| {
                        Some(Candidate {
                            index,
                            idle_since: a.idle_since,
                            calls: a.calls,
                            score: score(&a.ext, needs)?,
                        })
                    })
                    .collect()
            };
            let mut free = candidates(&self.waiters[w].passed);
            if free.is_empty() {
                // Everyone free let this caller ring out once: round again.
                free = candidates(&[]);
                if free.is_empty() {
                    // Nobody free can take this caller; a later one may fit another.
                    continue;
                }
                self.waiters[w].passed.clear();
            }
            let picked = pick::pick(cfg.strategy, &free, self.last);
            self.last = picked.last().copied().or(self.last);
            let call = self.waiters[w].call.clone();
            let agents: Vec<String> = picked
                .iter()
                .map(|&i| {
                    self.agents[i].state = AgentState::Offered(call.get_id());
                    self.agents[i].ext.clone()
                })
                .collect();
            tracing::debug!(queue = %number, ?agents, "call offered");
            self.waiters[w].offered.clone_from(&agents);
            if call
                .send_message(CallMsg::Queue(QueueEvent::Offer { agents, ring }))
                .is_err()
            {
                gone.push(call.get_id());
            }
        }
        for call in gone {
            self.leave(&call, t);
        }
    }

    /// The call left the line (or its agent's call ended).
    fn leave(&mut self, call: &ActorId, t: Instant) -> Option<Instant> {
        if let Some(w) = self.waiter(call) {
            self.waiters.remove(w);
        }
        let wrap = self
            .config()
            .and_then(|c| c.wrap_up_seconds)
            .map_or(Duration::ZERO, |s| Duration::from_secs(u64::from(s)));
        self.release(call, wrap, t)
    }

    /// Publishes the agents whose status changed since it was last published.
    fn publish(&mut self) {
        let view = self.args.view.borrow();
        for a in &mut self.agents {
            let logged_out = !view.logged_out.is_empty()
                && view
                    .logged_out
                    .contains(&(self.args.number.clone(), a.ext.clone()));
            let status = if logged_out {
                AgentStatus::LoggedOut
            } else {
                match a.state {
                    AgentState::Offered(_) => AgentStatus::Ringing,
                    AgentState::Busy(_) => AgentStatus::Busy,
                    AgentState::Resting(_, true) => AgentStatus::WrapUp,
                    AgentState::Resting(_, false) => AgentStatus::Paused,
                    AgentState::Free if view.features.get(&a.ext).is_some_and(|f| f.dnd) => {
                        AgentStatus::Paused
                    }
                    AgentState::Free => AgentStatus::Free,
                }
            };
            if a.shown == Some(status) {
                continue;
            }
            a.shown = Some(status);
            self.args.events.publish(AgentEvent {
                tenant: self.args.tenant,
                queue: self.args.number.clone(),
                agent: a.ext.clone(),
                status,
                at: crate::clock::unix_millis(),
            });
        }
    }

    fn rules(cfg: &dialplan::plan::Queue) -> WaitRules {
        let secs = |s: Option<u32>| s.map(|s| Duration::from_secs(u64::from(s)));
        WaitRules {
            max_wait: secs(cfg.max_wait_seconds),
            overflow: cfg.overflow.clone(),
            announce_every: secs(cfg.announce_seconds),
            exit_key: cfg.exit_key.as_deref().and_then(|k| k.chars().next()),
            exit_target: cfg.exit_target.clone(),
        }
    }
}

impl QueueArgs {
    /// An agent who let an offer ring out is paused: logged out of the queue (as
    /// `*41` would), until it logs in again.
    fn pause_agent(&self, ext: &str) {
        let (store, tenant, number, ext) = (
            self.store.clone(),
            self.tenant,
            self.number.clone(),
            ext.to_owned(),
        );
        let reread = self.reread.clone();
        tokio::spawn(async move {
            let done = store
                .call(move |s| s.set_agent_login(tenant, &ext, Some(&number), false))
                .await;
            if let Err(e) = done {
                tracing::warn!(error = %e, "agent not paused");
            }
            reread.notify_one();
        });
    }
}

fn wake_at(myself: &ActorRef<QueueMsg>, at: Option<Instant>, t: Instant) {
    if let Some(at) = at {
        myself.send_after(at.saturating_duration_since(t), || QueueMsg::Wake);
    }
}

impl Actor for QueueActor {
    type Msg = QueueMsg;
    type State = QueueState;
    type Arguments = QueueArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<QueueMsg>,
        args: QueueArgs,
    ) -> Result<QueueState, ActorProcessingErr> {
        // Logins and plan changes reach the queue as they happen.
        let mut changes = args.view.clone();
        let me = myself.clone();
        let watcher = tokio::spawn(async move {
            while changes.changed().await.is_ok() {
                if me.cast(QueueMsg::ViewChanged).is_err() {
                    return;
                }
            }
        });
        let mut state = QueueState {
            args,
            agents: Vec::new(),
            waiters: Vec::new(),
            last: None,
            watcher: Some(watcher),
        };
        if let Some(cfg) = state.config() {
            state.sync(&cfg, now());
        }
        state.publish();
        Ok(state)
    }

    async fn post_stop(
        &self,
        _: ActorRef<QueueMsg>,
        state: &mut QueueState,
    ) -> Result<(), ActorProcessingErr> {
        if let Some(w) = state.watcher.take() {
            w.abort();
        }
        Ok(())
    }

    async fn handle(
        &self,
        myself: ActorRef<QueueMsg>,
        msg: QueueMsg,
        s: &mut QueueState,
    ) -> Result<(), ActorProcessingErr> {
        let t = now();
        match msg {
            QueueMsg::Join { call, caller } => {
                let full = match s.config() {
                    None => true,
                    Some(cfg) => cfg
                        .max_callers
                        .is_some_and(|max| s.waiters.len() >= max as usize),
                };
                let event = match s.config() {
                    Some(cfg) if !full => {
                        let (priority, needs) = cfg.caller_needs(&caller);
                        let at = s.insert(Waiter {
                            call: call.clone(),
                            since: t,
                            priority,
                            needs,
                            offered: Vec::new(),
                            passed: Vec::new(),
                        });
                        tracing::debug!(queue = %s.args.number, %caller, priority, waiting = s.waiters.len(), "caller waits");
                        QueueEvent::Admitted {
                            position: at + 1,
                            rules: QueueState::rules(&cfg),
                        }
                    }
                    _ => QueueEvent::Full,
                };
                let _ = call.send_message(CallMsg::Queue(event));
            }
            QueueMsg::Rejoin {
                call,
                caller,
                since,
                ringing,
                agent,
            } => {
                let id = call.get_id();
                match (agent, s.config()) {
                    (Some(agent), _) => {
                        if let Some(a) = s.agent_mut(&agent) {
                            a.state = AgentState::Busy(id);
                        }
                    }
                    (None, Some(cfg)) if s.waiter(&id).is_none() => {
                        let (priority, needs) = cfg.caller_needs(&caller);
                        for a in s.agents.iter_mut().filter(|a| ringing.contains(&a.ext)) {
                            a.state = AgentState::Offered(id);
                        }
                        s.insert(Waiter {
                            call,
                            since,
                            priority,
                            needs,
                            offered: ringing,
                            passed: Vec::new(),
                        });
                    }
                    _ => {}
                }
            }
            QueueMsg::Position { call } => {
                if let Some(w) = s.waiter(&call) {
                    let event = QueueEvent::Position(w + 1);
                    let _ = s.waiters[w].call.send_message(CallMsg::Queue(event));
                }
            }
            QueueMsg::OfferEnded {
                call,
                no_answer,
                unreachable,
            } => {
                let pause = s.config().is_some_and(|c| c.pause_on_no_answer);
                if let Some(w) = s.waiter(&call) {
                    s.waiters[w].offered.clear();
                    s.waiters[w].passed.extend(no_answer.iter().cloned());
                }
                // Only the agents still offered this call change: one freed meanwhile
                // (and offered another caller) is left as it is.
                let mut rest = false;
                for a in &mut s.agents {
                    if a.state != AgentState::Offered(call) {
                        continue;
                    }
                    let left_out =
                        unreachable.contains(&a.ext) || (pause && no_answer.contains(&a.ext));
                    a.state = if left_out {
                        rest = true;
                        AgentState::Resting(t + UNREACHABLE_PAUSE, false)
                    } else {
                        AgentState::Free
                    };
                    if pause && no_answer.contains(&a.ext) {
                        s.args.pause_agent(&a.ext);
                    }
                }
                if rest {
                    wake_at(&myself, Some(t + UNREACHABLE_PAUSE), t);
                }
            }
            QueueMsg::Connected { call, agent } => {
                if let Some(w) = s.waiter(&call) {
                    s.waiters.remove(w);
                }
                s.release(&call, Duration::ZERO, t);
                if let Some(a) = s.agent_mut(&agent) {
                    a.state = AgentState::Busy(call);
                    a.calls += 1;
                }
            }
            QueueMsg::Gone { call } => {
                let wake = s.leave(&call, t);
                wake_at(&myself, wake, t);
            }
            QueueMsg::Wake => {
                for a in &mut s.agents {
                    if matches!(a.state, AgentState::Resting(until, _) if until <= t) {
                        a.state = AgentState::Free;
                    }
                }
            }
            QueueMsg::ViewChanged => {}
            #[cfg(feature = "test-hooks")]
            QueueMsg::Panic => panic!("QueueMsg::Panic"),
        }
        s.dispatch(t);
        s.publish();
        Ok(())
    }
}
