//! A tenant's trunks: their actors, started from the store (and again when one fails,
//! or when its configuration changes), and what a call needs of them: a hop out on
//! one (outbound or emergency: the INVITE's number, caller ID and the account the
//! carrier challenges), and the routing of a call that comes in on one.

use std::sync::Arc;
use std::time::Duration;

use dialplan::number::location::{Source, TrunkFormat};
use dialplan::{Canonical, Target};
use ractor::{Actor, ActorRef};

use super::{TenantState, TenantSupervisor};
use crate::proto::trunk::{TrunkHopAsk, TrunkLeg, TrunkLive, TrunkMsg, TrunkSlot};
use crate::proto::{CallTarget, HopDevices, TenantMsg};
use crate::store::TrunkConfig;
use crate::trunk::{token, TrunkActor, TrunkArgs};

/// Trunks starting together register this far apart (one account carrying many lines
/// is not hit by all of them at once).
const REGISTER_SPREAD: Duration = Duration::from_millis(200);

/// A call that came in on a trunk.
pub struct InboundCall {
    pub trunk: Arc<TrunkLive>,
    /// The caller's number as the carrier sent it (routing normalises it).
    pub from: String,
    /// The number called (the DDI).
    pub called: String,
    /// The caller withholds its number.
    pub anonymous: bool,
}

/// A trunk's running actor.
pub struct RunningTrunk {
    pub live: Arc<TrunkLive>,
    pub actor: ActorRef<TrunkMsg>,
    call_id: String,
}

/// Watches the tenant's view and asks the supervisor to start or stop trunks when
/// their configuration changed.
pub fn watch(
    myself: ActorRef<TenantMsg>,
    mut view: tokio::sync::watch::Receiver<super::routing::TenantView>,
) {
    tokio::spawn(async move {
        let mut last: Option<Arc<Vec<TrunkConfig>>> = None;
        loop {
            let now = view.borrow_and_update().trunks.clone();
            if last.as_ref() != Some(&now) {
                last = Some(now);
                if myself.send_message(TenantMsg::SyncTrunks).is_err() {
                    return;
                }
            }
            if view.changed().await.is_err() {
                return;
            }
        }
    });
}

impl TenantSupervisor {
    /// Starts the trunks the store has and this tenant does not run (or runs with
    /// another configuration), and stops those the store no longer has.
    pub(super) async fn sync_trunks(myself: &ActorRef<TenantMsg>, state: &mut TenantState) {
        let Some(entry) = state.entry.clone() else {
            return;
        };
        let wanted = state.view.borrow().trunks.clone();
        let stale: Vec<String> = state
            .trunks
            .iter()
            .filter(|(name, t)| {
                !wanted
                    .iter()
                    .any(|c| &c.name == *name && *c == t.live.config)
            })
            .map(|(name, _)| name.clone())
            .collect();
        for name in stale {
            if let Some(t) = state.trunks.remove(&name) {
                state.trunk_actors.remove(&t.actor.get_id());
                t.actor.stop(Some("trunk changed or removed".into()));
                state.args.directory.remove_trunk(&t.live, &t.call_id);
                tracing::info!(trunk = %name, "trunk stopped");
            }
        }
        let mut k = 0u32;
        for config in wanted.iter() {
            if state.trunks.contains_key(&config.name) {
                continue;
            }
            let addr = match tokio::net::lookup_host((config.host.as_str(), config.port)).await {
                Ok(mut addrs) => addrs.next(),
                Err(e) => {
                    tracing::warn!(trunk = %config.name, error = %e, "trunk host not resolved");
                    None
                }
            };
            let Some(addr) = addr else {
                continue;
            };
            let live = Arc::new(TrunkLive::new(entry.id, config.clone(), addr));
            let call_id = format!("{}@trunk.pbx", token());
            let args = TrunkArgs {
                live: live.clone(),
                entry: entry.clone(),
                out: state.args.shared.out.clone(),
                directory: state.args.directory.clone(),
                bus: state.args.shared.trunk_bus.clone(),
                delay: REGISTER_SPREAD * k,
                call_id: call_id.clone(),
            };
            k += 1;
            match Actor::spawn_linked(None, TrunkActor, args, myself.get_cell()).await {
                Ok((actor, _)) => {
                    tracing::info!(trunk = %config.name, %addr, register = config.register, "trunk started");
                    state
                        .trunk_actors
                        .insert(actor.get_id(), config.name.clone());
                    state.trunks.insert(
                        config.name.clone(),
                        RunningTrunk {
                            live,
                            actor,
                            call_id,
                        },
                    );
                }
                Err(e) => tracing::error!(trunk = %config.name, error = %e, "trunk not started"),
            }
        }
    }

    /// A trunk's actor ended: it is started again from the store (unless it was
    /// stopped on purpose, which removed it already).
    pub(super) async fn trunk_ended(
        myself: &ActorRef<TenantMsg>,
        state: &mut TenantState,
        id: ractor::ActorId,
    ) -> bool {
        let Some(name) = state.trunk_actors.remove(&id) else {
            return false;
        };
        if let Some(t) = state.trunks.remove(&name) {
            state.args.directory.remove_trunk(&t.live, &t.call_id);
            tracing::warn!(trunk = %name, "trunk actor ended; started again");
        }
        Self::sync_trunks(myself, state).await;
        true
    }

    /// A hop of a call out on a trunk: the trunk the walk names (for an emergency
    /// call, any other trunk that is up when it cannot), the INVITE made for it.
    pub(super) fn trunk_hop(
        state: &TenantState,
        ask: &TrunkHopAsk,
    ) -> Result<HopDevices, (u16, String)> {
        let emergency = matches!(ask.target, Target::Emergency { .. });
        let view = state.view.borrow();
        let router = view.router.clone();
        let plan = router.as_ref().map(|r| r.plan());
        let mut names = vec![ask.trunk.trunk.clone()];
        if emergency {
            // The tenant's emergency trunk first, then every other trunk, plan order.
            let others = plan
                .map(|p| p.trunks.iter().map(|t| t.name.clone()).collect())
                .unwrap_or_else(|| {
                    let mut n: Vec<String> = state.trunks.keys().cloned().collect();
                    n.sort();
                    n
                });
            names.extend(others.into_iter().filter(|n| *n != ask.trunk.trunk));
        }
        let mut why = Vec::new();
        for name in &names {
            let Some(running) = state.trunks.get(name) else {
                why.push(format!("trunk {name} is not configured (pbx trunk add)"));
                continue;
            };
            let slot = match emergency {
                true => running.live.take_for_emergency(),
                false => running.live.take(),
            };
            match slot {
                Ok(slot) => {
                    if emergency && *name != ask.trunk.trunk {
                        tracing::error!(
                            trunk = %ask.trunk.trunk, used = %name, why = %why.join("; "),
                            "emergency call on another trunk: the emergency trunk cannot take it"
                        );
                    }
                    let format = plan
                        .and_then(|p| p.trunks.iter().find(|t| t.name == *name))
                        .map(|t| t.format)
                        .unwrap_or_default();
                    let Some(flow) = running.live.flow() else {
                        why.push(format!("trunk {name} has no connection to its carrier"));
                        continue;
                    };
                    let leg = Self::trunk_leg(router.as_deref(), ask, format, slot);
                    let param = flow.uri_param();
                    let target = CallTarget {
                        line: name.clone(),
                        contact: format!(
                            "sip:{}@{}:{}{param}",
                            ask.trunk.dial, running.live.config.host, running.live.config.port
                        ),
                        flow,
                        trunk: Some(Arc::new(leg)),
                        route: None,
                    };
                    return Ok(HopDevices::of(vec![target]));
                }
                Err(e) => why.push(e),
            }
        }
        let why = why.join("; ");
        if emergency {
            tracing::error!(caller = %ask.caller, number = %ask.trunk.dial, %why, "EMERGENCY call: no trunk can take it");
        } else {
            tracing::info!(number = %ask.trunk.dial, %why, "trunk cannot take the call");
        }
        Err((503, why))
    }

    /// The INVITE's identity for `ask` on a trunk sending numbers in `format`: From and
    /// P-Asserted-Identity with the caller's number (its canonical number, or the one
    /// it shows, or for an emergency call the callback number of its location),
    /// Privacy when it withholds it, Diversion naming the line that forwarded the call.
    fn trunk_leg(
        router: Option<&dialplan::Router>,
        ask: &TrunkHopAsk,
        format: TrunkFormat,
        slot: TrunkSlot,
    ) -> TrunkLeg {
        let config = &slot.trunk().config;
        let domain = config.domain().to_owned();
        // A line's number, or an external caller's (as phones show it).
        let canonical = |n: &str| -> Option<Canonical> {
            Canonical::parse(n).ok().or_else(|| {
                let r = router?;
                r.internal_to_canonical(n).or_else(|| {
                    let loc = &r.plan().location;
                    loc.normalise(n, Source::Phone, "caller").ok()?.canonical
                })
            })
        };
        let own = |n: &str| router.is_some_and(|r| r.is_assigned(n));
        let as_sent = |c: &Canonical| -> String {
            router
                .and_then(|r| r.plan().location.to_trunk_dialable(c, format).ok())
                .unwrap_or_else(|| c.as_str().to_owned())
        };
        let emergency = match &ask.target {
            Target::Emergency { callback, .. } => Some(callback.clone()),
            _ => None,
        };
        let number = match &emergency {
            Some(callback) => callback
                .as_deref()
                .and_then(|c| Canonical::parse(c).ok())
                .or_else(|| canonical(&ask.caller)),
            None => canonical(ask.shown.as_deref().unwrap_or(&ask.caller)),
        };
        let sent = number.as_ref().map(as_sent);
        let anonymous = ask.anonymous && emergency.is_none();
        let diverted = ask
            .diverted_by
            .as_deref()
            .and_then(canonical)
            .map(|c| as_sent(&c));
        // The identity the tenant asserts is one of its own numbers: the caller's,
        // or for an external caller forwarded out, the forwarding line's.
        let asserted = match (&diverted, own(&ask.caller) || emergency.is_some()) {
            (Some(d), false) => Some(d.clone()),
            _ => sent.clone(),
        };
        let mut headers = Vec::new();
        if let Some(n) = &asserted {
            headers.push((
                "P-Asserted-Identity".to_owned(),
                format!("<sip:{n}@{domain}>"),
            ));
        }
        if anonymous {
            headers.push(("Privacy".to_owned(), "id".to_owned()));
        }
        if let Some(d) = &diverted {
            headers.push((
                "Diversion".to_owned(),
                format!("<sip:{d}@{domain}>;reason=unconditional"),
            ));
        }
        let from = match (&sent, anonymous) {
            (Some(n), false) => format!("<sip:{n}@{domain}>"),
            (None, false) => format!(
                "<sip:{}@{domain}>",
                config.username.as_deref().unwrap_or("pbx")
            ),
            (_, true) => "\"Anonymous\" <sip:anonymous@anonymous.invalid>".to_owned(),
        };
        let credentials = match (&config.username, &config.password) {
            (Some(u), Some(p)) => Some((u.clone(), p.clone())),
            _ => None,
        };
        TrunkLeg {
            trunk: config.name.clone(),
            from,
            to: format!("<sip:{}@{domain}>", ask.trunk.dial),
            headers,
            contact_user: config
                .username
                .clone()
                .or(sent)
                .unwrap_or_else(|| "pbx".into()),
            credentials,
            slot,
        }
    }

    /// A new call from a trunk's carrier: routed by the number it calls (the plan's
    /// DDI numbers and ranges; an unknown one goes to the drop-off or gets 404), the
    /// caller shown to phones in the form they redial it (`to_phone_dialable`).
    pub(super) async fn start_inbound(
        myself: &ActorRef<TenantMsg>,
        state: &mut TenantState,
        trunk: Arc<TrunkLive>,
        inc: Box<crate::proto::Incoming>,
    ) {
        let Some(called) = Self::called_number(&trunk, &inc.msg) else {
            return inc.respond(404, "Not Found");
        };
        let from = inc
            .msg
            .from()
            .and_then(|f| f.uri.user_unescaped().map(|u| u.into_owned()))
            .unwrap_or_default();
        let anonymous = from.is_empty()
            || from.eq_ignore_ascii_case("anonymous")
            || crate::call::asks_privacy(&inc.msg);
        let router = state.view.borrow().router.clone();
        // The caller as phones show it: redialable through the plan (access code,
        // national or international prefix), else as sent.
        let caller = match (&router, anonymous) {
            (_, true) => "anonymous".to_owned(),
            (Some(r), false) => {
                let loc = &r.plan().location;
                loc.normalise(&from, dialplan::number::location::Source::Trunk, "caller")
                    .ok()
                    .and_then(|d| d.canonical)
                    .and_then(|c| loc.to_phone_dialable(&c).ok())
                    .unwrap_or_else(|| from.clone())
            }
            (None, false) => from.clone(),
        };
        tracing::info!(trunk = %trunk.config.name, %from, %called, "call from a trunk");
        let inbound = InboundCall {
            trunk,
            from,
            called,
            anonymous,
        };
        Self::start_call(myself, state, caller, inc, Some(inbound)).await;
    }

    /// The number an INVITE from a trunk calls: its Request-URI's user, unless that is
    /// the trunk's own account (a carrier calls the Contact a registration trunk
    /// registered; the number called is then in To).
    pub(super) fn called_number(trunk: &TrunkLive, msg: &engine::sip::Message) -> Option<String> {
        let ruri = msg
            .uri()
            .and_then(|u| u.user_unescaped().map(|u| u.into_owned()));
        let to = msg
            .to()
            .and_then(|t| t.uri.user_unescaped().map(|u| u.into_owned()));
        match ruri {
            Some(u) if Some(&u) != trunk.config.username.as_ref() => Some(u),
            _ => to,
        }
    }
}
