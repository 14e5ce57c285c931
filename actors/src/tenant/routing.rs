//! The dialplan in the call path: the tenant's plan compiled into a
//! `dialplan::Router` and kept in step with the store.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use dialplan::Router;

use crate::store::{
    JournalRules, LineFeatures, Membership, PlanVersion, StoreHandle, TenantId, TenantLimits,
    TenantSettings,
};

/// How often the tenant's settings, quotas and plan are read again.
pub const REFRESH: Duration = Duration::from_secs(2);

/// What a tenant routes and admits calls with, read from the store off the
/// supervisor's mailbox: calls never wait on SQLite.
#[derive(Clone, Default)]
pub struct TenantView {
    pub settings: TenantSettings,
    pub limits: TenantLimits,
    /// The compiled plan (`None`: the tenant has no plan, or it does not compile).
    pub router: Option<Arc<Router>>,
    /// The tenant's own music on hold (`None`: the default).
    pub music: Option<media::wav::Announcement>,
    /// The lines that set do not disturb or forwarding, by extension.
    pub features: Arc<HashMap<String, LineFeatures>>,
    /// Which lines count a call as missed.
    pub journal_rules: JournalRules,
    /// The members logged out of hunt groups and queues: (group, extension).
    pub logged_out: Arc<HashSet<Membership>>,
    /// The lines that have a mailbox (those of a person).
    pub mailboxes: Arc<HashSet<String>>,
    /// The tenant's trunks as the store has them.
    pub trunks: Arc<Vec<crate::store::TrunkConfig>>,
}

/// Reads the tenant's view now and then every `REFRESH`, compiling the plan only when
/// it or the lines changed and reading its music on hold only when the file changed,
/// and publishes each new view until nobody watches.
pub async fn refresh(
    store: StoreHandle,
    tenant: TenantId,
    data_dir: Arc<std::path::Path>,
    views: tokio::sync::watch::Sender<TenantView>,
    wake: Arc<tokio::sync::Notify>,
) {
    let name = store
        .call(move |s| Ok(s.tenants()?.into_iter().find(|t| t.id == tenant)))
        .await
        .ok()
        .flatten()
        .map(|t| t.name);
    let music_file = name.map(|n| super::music::path(&data_dir, &n));
    let mut version: Option<PlanVersion> = None;
    let mut router: Option<Arc<Router>> = None;
    let mut music = super::music::Watched::default();
    loop {
        let known = version.clone();
        let read = store
            .call(move |s| {
                let v = s.plan_version(tenant)?;
                let plan = (Some(&v) != known.as_ref())
                    .then(|| s.tenant_plan(tenant))
                    .transpose()?;
                Ok((
                    (s.effective_settings(tenant)?, s.tenant_limits(tenant)?),
                    v,
                    plan,
                    (
                        s.all_line_features(tenant)?,
                        s.journal_rules(tenant)?,
                        s.logged_out(tenant)?,
                        s.mailboxes(tenant)?,
                    ),
                    s.trunks(tenant)?,
                ))
            })
            .await;
        match read {
            Ok((
                (settings, limits),
                v,
                plan,
                (features, journal_rules, logged_out, mailboxes),
                trunks,
            )) => {
                if let Some(plan) = plan {
                    router = compile(plan);
                    version = Some(v);
                }
                if let Some(file) = &music_file {
                    music.refresh(file);
                }
                let view = TenantView {
                    settings,
                    limits,
                    router: router.clone(),
                    music: music.music.clone(),
                    features: Arc::new(features),
                    journal_rules,
                    logged_out: Arc::new(logged_out),
                    mailboxes: Arc::new(mailboxes),
                    trunks: Arc::new(trunks),
                };
                if views.send(view).is_err() {
                    return;
                }
            }
            Err(crate::Error::StoreGone) => return,
            Err(e) => tracing::warn!(error = %e, "tenant settings not read; keeping the last ones"),
        }
        tokio::select! {
            _ = tokio::time::sleep(REFRESH) => {}
            _ = wake.notified() => {}
        }
    }
}

fn compile(plan: Option<dialplan::TenantPlan>) -> Option<Arc<Router>> {
    match plan.map(|p| Router::new(&p)) {
        Some(Ok(r)) => Some(Arc::new(r)),
        Some(Err(e)) => {
            tracing::error!(error = %e, "stored dialplan does not compile; routing to extensions only");
            None
        }
        None => None,
    }
}
