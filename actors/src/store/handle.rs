//! The store's own thread: the running switch sends it queries and binding changes;
//! changes are written in batches, one transaction per burst.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread;

use engine::registrar::BindingChange;
use tokio::sync::oneshot;

use super::{Store, TenantId};
use crate::{Error, Result};

type Job = Box<dyn FnOnce(&mut Store) + Send>;

enum Cmd {
    Query(Job),
    Changes(TenantId, String, Vec<BindingChange>),
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
        self.depth.fetch_add(1, Ordering::Relaxed);
        let sent = self.tx.send(cmd).is_ok();
        if !sent {
            self.depth.fetch_sub(1, Ordering::Relaxed);
        }
        sent
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
        if !self.send(Cmd::Changes(tenant, ext.to_owned(), changes)) {
            tracing::error!("store thread is gone; binding changes lost");
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

fn run(mut store: Store, rx: mpsc::Receiver<Cmd>, depth: &AtomicUsize) {
    let mut batch: Vec<(TenantId, String, BindingChange)> = Vec::new();
    let write = |store: &mut Store, batch: &mut Vec<(TenantId, String, BindingChange)>| {
        if batch.is_empty() {
            return;
        }
        if let Err(e) = store.apply_binding_changes(batch) {
            tracing::error!(error = %e, n = batch.len(), "writing bindings failed");
        }
        batch.clear();
    };
    while let Ok(first) = rx.recv() {
        let mut next = Some(first);
        // Take everything already queued: one transaction for a burst of changes.
        while let Some(cmd) = next.take() {
            depth.fetch_sub(1, Ordering::Relaxed);
            match cmd {
                Cmd::Changes(t, ext, changes) => {
                    batch.extend(changes.into_iter().map(|c| (t, ext.clone(), c)));
                }
                Cmd::Query(job) => {
                    // Queries see every change queued before them.
                    write(&mut store, &mut batch);
                    job(&mut store);
                }
                Cmd::Stop => {
                    write(&mut store, &mut batch);
                    return;
                }
            }
            if batch.len() < 4096 {
                next = rx.try_recv().ok();
            }
        }
        write(&mut store, &mut batch);
    }
    write(&mut store, &mut batch);
}
