//! Hears the shared store's configuration changes (`NOTIFY pbx_config`, sent by the
//! triggers of `postgres_schema.rs`) on a connection and a thread of its own, so that
//! a change made on one node is in force on the others within a second, not at their
//! next periodic read.

use std::time::Duration;

use postgres::fallible_iterator::FallibleIterator;

use super::postgres_schema::{BINDINGS_CHANNEL, CONFIG_CHANNEL};
use crate::store::TenantId;

/// How long a lost connection waits before connecting again; also how often the
/// thread asks `on_change` whether it is still wanted.
const RETRY: Duration = Duration::from_secs(1);

/// What the thread tells its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Heard {
    /// This tenant's configuration changed.
    Tenant(TenantId),
    /// The configuration of one line of this tenant changed (its password, its
    /// devices, its features).
    Line(TenantId, String),
    /// A line's registrations changed, written by `node`.
    Bindings {
        tenant: TenantId,
        ext: String,
        node: Option<String>,
    },
    /// Anything may have changed (a change not of one tenant, or the thread has just
    /// connected and may have missed some).
    Everything,
    /// Nothing for a while.
    Quiet,
}

/// Starts the thread: `on` for every change, and at least every second, until it
/// returns false.
pub fn spawn(
    url: String,
    on: impl Fn(Heard) -> bool + Send + 'static,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("store-listen".into())
        .spawn(move || {
            while listen(&url, &on) {
                std::thread::sleep(RETRY);
            }
        })
}

/// Listens until the connection fails (true: connect again) or `on` says stop
/// (false).
fn listen(url: &str, on: &impl Fn(Heard) -> bool) -> bool {
    let mut client = match postgres::Client::connect(url, postgres::NoTls) {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(store = %super::redact(url), error = %e, "store: cannot listen for changes");
            return on(Heard::Quiet);
        }
    };
    if let Err(e) = client.batch_execute(&format!(
        "LISTEN {CONFIG_CHANNEL}; LISTEN {BINDINGS_CHANNEL}"
    )) {
        tracing::warn!(error = %e, "store: LISTEN refused");
        return on(Heard::Quiet);
    }
    // Changes missed while not listening are read now.
    if !on(Heard::Everything) {
        return false;
    }
    loop {
        let next = client.notifications().timeout_iter(RETRY).next();
        let heard = match next {
            Ok(Some(n)) if n.channel() == BINDINGS_CHANNEL => match bindings_of(n.payload()) {
                Some(heard) => heard,
                None => continue,
            },
            Ok(Some(n)) => config_of(n.payload()),
            Ok(None) if client.is_closed() => {
                tracing::warn!("store: the connection that listens for changes closed");
                return true;
            }
            Ok(None) => Heard::Quiet,
            Err(e) => {
                tracing::warn!(error = %e, "store: lost the connection that listens for changes");
                return true;
            }
        };
        if !on(heard) {
            return false;
        }
    }
}

/// `<tenant id>` or `<tenant id>:<ext>`; anything else may be anything.
fn config_of(payload: &str) -> Heard {
    let (tenant, ext) = match payload.split_once(':') {
        Some((t, e)) => (t, Some(e)),
        None => (payload, None),
    };
    match (tenant.parse(), ext) {
        (Ok(t), None) => Heard::Tenant(t),
        (Ok(t), Some(e)) => Heard::Line(t, e.to_owned()),
        (Err(_), _) => Heard::Everything,
    }
}

/// `<tenant id>:<ext>:<node>` (an extension has no colon).
fn bindings_of(payload: &str) -> Option<Heard> {
    let mut parts = payload.splitn(3, ':');
    let tenant = parts.next()?.parse().ok()?;
    let ext = parts.next()?.to_owned();
    let node = parts.next().filter(|n| !n.is_empty()).map(str::to_owned);
    Some(Heard::Bindings { tenant, ext, node })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binding_changes_name_their_line_and_node() {
        assert_eq!(
            bindings_of("7:1001:n2"),
            Some(Heard::Bindings {
                tenant: 7,
                ext: "1001".into(),
                node: Some("n2".into())
            })
        );
        assert_eq!(
            bindings_of("7:1001:"),
            Some(Heard::Bindings {
                tenant: 7,
                ext: "1001".into(),
                node: None
            })
        );
        assert_eq!(bindings_of("x:1001:n2"), None);
    }

    #[test]
    fn configuration_changes_name_their_tenant_and_line() {
        assert_eq!(config_of("7"), Heard::Tenant(7));
        assert_eq!(config_of("7:1001"), Heard::Line(7, "1001".into()));
        assert_eq!(config_of(""), Heard::Everything);
    }
}
