//! The switch-wide record of sources that fail to authenticate (`engine`'s
//! `AuthThrottle` behind a lock). Lines report failures; the dispatcher, and the lines
//! again before checking, drop the credentials of a penalised source. A success does
//! not wipe a source's failures (else a guesser with one valid account, or behind the
//! same NAT as a phone, would reset its count); they fade with the window. With no
//! source on record (the normal case) the check is one atomic load, no lock.
//!
//! Behind an edge proxy every phone's request comes from the edge: for a request
//! from a trusted edge (`--edge`) the source that counts is the one the edge recorded
//! in its client's Via (`received`/`rport`), so a guesser behind the edge is
//! penalised, not the edge and every phone with it.

use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use engine::auth::AuthThrottle;

fn now() -> std::time::Instant {
    tokio::time::Instant::now().into_std()
}

#[derive(Debug, Default)]
pub struct AuthGuard {
    table: Mutex<AuthThrottle>,
    /// How many sources the table holds, read without the lock.
    tracked: AtomicUsize,
    /// Edge proxies whose requests count for the client they relay.
    edges: std::sync::Arc<crate::sip::Edges>,
}

impl AuthGuard {
    /// A guard that takes the client's address from requests relayed by `edges`.
    pub fn trusting(edges: std::sync::Arc<crate::sip::Edges>) -> Self {
        AuthGuard {
            edges,
            ..AuthGuard::default()
        }
    }

    /// Wrong credentials in `inc` (counted for its origin, `Edges::origin`).
    pub fn failure_of(&self, inc: &crate::proto::Incoming) {
        self.failure(self.edges.origin(inc));
    }

    fn with<T>(&self, f: impl FnOnce(&mut AuthThrottle) -> T) -> T {
        let mut t = self.table.lock().unwrap_or_else(|p| p.into_inner());
        let out = f(&mut t);
        self.tracked.store(t.len(), Ordering::Relaxed);
        out
    }

    /// True while `ip` is penalised for failing to authenticate.
    pub fn is_penalised(&self, ip: IpAddr) -> bool {
        if self.tracked.load(Ordering::Relaxed) == 0 {
            return false;
        }
        self.with(|t| t.is_penalised(ip, now()))
    }

    /// Wrong credentials from `ip`.
    pub fn failure(&self, ip: IpAddr) {
        let penalty = self.with(|t| t.on_failure(ip, now()));
        if penalty > Duration::ZERO {
            tracing::info!(%ip, ?penalty, "repeated authentication failures: source penalised");
        }
    }

    /// True for a request carrying credentials from a penalised source: it is to be
    /// dropped unanswered (`Replier::forget`), right or wrong.
    pub fn refuses(&self, inc: &crate::proto::Incoming) -> bool {
        use engine::sip::HeaderName;
        (inc.msg.header(HeaderName::Authorization).is_some()
            || inc.msg.header(HeaderName::ProxyAuthorization).is_some())
            && self.is_penalised(self.edges.origin(inc))
    }
}
