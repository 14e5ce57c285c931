//! The store's own thread: the running switch sends it queries and binding changes;
//! changes are written in batches, one transaction per burst (a group commit). What
//! must not go out before its change is on disk (a REGISTER's 200) runs once the
//! batch holding it is committed: a switch killed at any moment has answered no
//! registration it has not kept.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread;

use engine::registrar::BindingChange;
use tokio::sync::oneshot;

use super::{Store, TenantId};
use crate::{Error, Result};

type Job = Box<dyn FnOnce(&mut Store) + Send>;

/// What runs once binding changes are committed (a REGISTER's reply).
pub type AfterWrite = Box<dyn FnOnce() + Send>;

enum Cmd {
    Query(Job),
    Changes(TenantId, String, Vec<BindingChange>, Option<AfterWrite>),
    Stop,
}

/// A cheap, cloneable handle to the store thread.
#[derive(Clone)]
pub struct StoreHandle {
    tx: mpsc::Sender<Cmd>,
    /// Commands queued and not yet taken by the store thread.
    depth: Arc<AtomicUsize>,
}

impl std::fmt::Debug for StoreHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StoreHandle")
    }
}

impl StoreHandle {
    /// Moves `store` onto its own thread.
    pub fn spawn(store: Store) -> (StoreHandle, thread::JoinHandle<()>) {
        let (tx, rx) = mpsc::channel();
        let depth = Arc::new(AtomicUsize::new(0));
        let taken = depth.clone();
        let join = thread::Builder::new()
            .name("pbx-store".into())
            .spawn(move || run(store, rx, &taken))
            .expect("spawning the store thread");
        (StoreHandle { tx, depth }, join)
    }

    /// Commands waiting for the store thread now (the metrics' queue depth).
    pub fn queue_depth(&self) -> usize {
        self.depth.load(Ordering::Relaxed)
    }

    fn send(&self, cmd: Cmd) -> bool {
        self.try_send(cmd).is_ok()
    }

    /// Queues `cmd`; the command back when the store thread is gone.
    fn try_send(&self, cmd: Cmd) -> std::result::Result<(), Cmd> {
        self.depth.fetch_add(1, Ordering::Relaxed);
        self.tx.send(cmd).map_err(|e| {
            self.depth.fetch_sub(1, Ordering::Relaxed);
            e.0
        })
    }

    /// Runs `f` on the store thread and returns its result.
    pub async fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Store) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let (reply, rx) = oneshot::channel();
        let job: Job = Box::new(move |s| {
            let _ = reply.send(f(s));
        });
        if !self.send(Cmd::Query(job)) {
            return Err(Error::StoreGone);
        }
        rx.await.map_err(|_| Error::StoreGone)?
    }

    /// Runs `f` on the store thread without waiting for it; a failure is logged as
    /// `what`.
    pub fn submit(
        &self,
        what: &'static str,
        f: impl FnOnce(&mut Store) -> Result<()> + Send + 'static,
    ) {
        let job: Job = Box::new(move |s| {
            if let Err(e) = f(s) {
                tracing::warn!(error = %e, what, "store write failed");
            }
        });
        if !self.send(Cmd::Query(job)) {
            tracing::error!(what, "store thread is gone; write lost");
        }
    }

    /// Queues binding changes; they are written with the next batch.
    pub fn save_bindings(&self, tenant: TenantId, ext: &str, changes: Vec<BindingChange>) {
        if changes.is_empty() {
            return;
        }
        if !self.send(Cmd::Changes(tenant, ext.to_owned(), changes, None)) {
            tracing::error!("store thread is gone; binding changes lost");
        }
    }

    /// Queues binding changes and runs `after` once the batch holding them is
    /// committed (at once when there are none).
    pub fn save_bindings_then(
        &self,
        tenant: TenantId,
        ext: &str,
        changes: Vec<BindingChange>,
        after: AfterWrite,
    ) {
        if changes.is_empty() {
            return after();
        }
        if let Err(Cmd::Changes(.., Some(after))) =
            self.try_send(Cmd::Changes(tenant, ext.to_owned(), changes, Some(after)))
        {
            tracing::error!("store thread is gone; binding changes lost");
            after();
        }
    }

    /// Waits until everything queued before this call is written.
    pub async fn flush(&self) -> Result<()> {
        self.call(|_| Ok(())).await
    }

    /// Writes what is queued and ends the thread.
    pub fn stop(&self) {
        let _ = self.send(Cmd::Stop);
    }
}

/// Writes the batch in one transaction, then runs what waited for it.
fn write(
    store: &mut Store,
    batch: &mut Vec<(TenantId, String, BindingChange)>,
    after: &mut Vec<AfterWrite>,
) {
    if !batch.is_empty() {
        // Tests widen the time between a binding's change and its commit, so that a
        // reply sent before the commit would be seen (`tests/suite/durability.rs`).
        #[cfg(feature = "test-hooks")]
        if let Some(ms) = std::env::var("PBX_TEST_BINDINGS_DELAY_MS")
            .ok()
            .and_then(|v| v.parse().ok())
        {
            thread::sleep(std::time::Duration::from_millis(ms));
        }
        if let Err(e) = store.apply_binding_changes(batch) {
            tracing::error!(error = %e, n = batch.len(), "writing bindings failed");
        }
        batch.clear();
    }
    for f in after.drain(..) {
        f();
    }
}

fn run(mut store: Store, rx: mpsc::Receiver<Cmd>, depth: &AtomicUsize) {
    let mut batch: Vec<(TenantId, String, BindingChange)> = Vec::new();
    let mut after: Vec<AfterWrite> = Vec::new();
    while let Ok(first) = rx.recv() {
        let mut next = Some(first);
        // Take everything already queued: one transaction for a burst of changes.
        while let Some(cmd) = next.take() {
            depth.fetch_sub(1, Ordering::Relaxed);
            match cmd {
                Cmd::Changes(t, ext, changes, then) => {
                    batch.extend(changes.into_iter().map(|c| (t, ext.clone(), c)));
                    after.extend(then);
                }
                Cmd::Query(job) => {
                    // Queries see every change queued before them.
                    write(&mut store, &mut batch, &mut after);
                    job(&mut store);
                }
                Cmd::Stop => {
                    write(&mut store, &mut batch, &mut after);
                    return;
                }
            }
            if batch.len() < 4096 {
                next = rx.try_recv().ok();
            }
        }
        write(&mut store, &mut batch, &mut after);
    }
    write(&mut store, &mut batch, &mut after);
}
