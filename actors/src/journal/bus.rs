//! The call event bus: call actors publish, subscribers (the journal now; metrics,
//! MWI and the API later) each get every event, in publishing order.
//!
//! A fan-out over unbounded deliveries rather than a `broadcast` ring: a slow
//! subscriber never makes the publisher wait and never misses events (a ring would
//! drop them as "lagged"), which the journal's "a row is never lost" needs.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::sync::mpsc;

use crate::proto::events::{CallEvent, CallEventKind, CallId, UnixMillis};
use crate::proto::TenantId;

/// Delivers one event; `false` means the subscriber is gone and is dropped.
type Sink = Box<dyn Fn(&CallEvent) -> bool + Send + Sync>;

#[derive(Default)]
struct Inner {
    sinks: RwLock<Vec<(u64, Sink)>>,
    next_id: AtomicU64,
}

/// A cheap, cloneable handle to the bus.
#[derive(Clone, Default)]
pub struct EventBus {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for EventBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventBus")
            .field("subscribers", &self.subscriber_count())
            .finish()
    }
}

impl EventBus {
    pub fn new() -> EventBus {
        EventBus::default()
    }

    /// Hands `event` to every subscriber. Never blocks on a subscriber and never
    /// fails; subscribers that went away are forgotten.
    pub fn publish(&self, event: CallEvent) {
        let mut dead = Vec::new();
        {
            let sinks = self.inner.sinks.read().unwrap_or_else(|e| e.into_inner());
            if sinks.is_empty() {
                tracing::trace!(call = %event.call, kind = event.kind.name(), "no subscriber");
            }
            for (id, sink) in sinks.iter() {
                if !sink(&event) {
                    dead.push(*id);
                }
            }
        }
        if !dead.is_empty() {
            let mut sinks = self.inner.sinks.write().unwrap_or_else(|e| e.into_inner());
            sinks.retain(|(id, _)| !dead.contains(id));
            tracing::debug!(n = dead.len(), "call event subscribers gone");
        }
    }

    /// Stamps the event with the wall clock and publishes it. The only place the
    /// journal's side reads the clock; publishers that keep their own time (tests, the
    /// simulator) use `publish`.
    pub fn publish_now(&self, call: CallId, tenant: TenantId, kind: CallEventKind) {
        self.publish(CallEvent::new(call, tenant, unix_millis(), kind));
    }

    /// The end of a call the switch failed or refused: `code` and `reason` as the
    /// journal row keeps them, ended by the switch.
    pub fn publish_failed(&self, call: CallId, tenant: TenantId, code: u16, reason: String) {
        self.publish_now(
            call,
            tenant,
            CallEventKind::CallEnded {
                disposition: crate::proto::events::Disposition::Failed,
                hangup_side: crate::proto::events::Side::Switch,
                code,
                reason,
            },
        );
    }

    /// A new subscriber: every event published from now on, in order.
    pub fn subscribe(&self) -> Subscription {
        let (tx, rx) = mpsc::unbounded_channel();
        self.subscribe_with(move |e| tx.send(e.clone()).is_ok());
        Subscription { rx }
    }

    /// A subscriber given as a function, called on the publisher's task; it must not
    /// block nor use the bus. It returns `false` once its receiver is gone, and is then
    /// dropped.
    pub fn subscribe_with(&self, deliver: impl Fn(&CallEvent) -> bool + Send + Sync + 'static) {
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let mut sinks = self.inner.sinks.write().unwrap_or_else(|e| e.into_inner());
        sinks.push((id, Box::new(deliver)));
    }

    pub fn subscriber_count(&self) -> usize {
        self.inner
            .sinks
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .len()
    }
}

/// The receiving end of `EventBus::subscribe`.
#[derive(Debug)]
pub struct Subscription {
    rx: mpsc::UnboundedReceiver<CallEvent>,
}

impl Subscription {
    /// The next event; `None` once every `EventBus` handle is dropped.
    pub async fn recv(&mut self) -> Option<CallEvent> {
        self.rx.recv().await
    }

    /// The next event if one is waiting.
    pub fn try_recv(&mut self) -> Option<CallEvent> {
        self.rx.try_recv().ok()
    }
}

fn unix_millis() -> UnixMillis {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(at: UnixMillis) -> CallEvent {
        CallEvent::new(CallId(7), 1, at, CallEventKind::LegRinging { leg: 0 })
    }

    #[tokio::test]
    async fn every_subscriber_gets_every_event_in_order() {
        let bus = EventBus::new();
        let mut a = bus.subscribe();
        let mut b = bus.subscribe();
        for at in 0..100 {
            bus.clone().publish(ev(at));
        }
        for at in 0..100 {
            assert_eq!(a.recv().await.map(|e| e.at), Some(at));
            assert_eq!(b.try_recv().map(|e| e.at), Some(at));
        }
        assert!(a.try_recv().is_none());
    }

    #[test]
    fn dropped_subscribers_are_forgotten_and_publishing_never_fails() {
        let bus = EventBus::new();
        bus.publish(ev(1));
        let a = bus.subscribe();
        let mut b = bus.subscribe();
        assert_eq!(bus.subscriber_count(), 2);
        drop(a);
        bus.publish(ev(2));
        assert_eq!(bus.subscriber_count(), 1);
        assert_eq!(b.try_recv().map(|e| e.at), Some(2));
    }
}
