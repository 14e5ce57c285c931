//! The call event bus: call actors publish, subscribers (the journal now; metrics,
//! MWI and the API later) each get every event, in publishing order.
//!
//! A fan-out over unbounded deliveries rather than a `broadcast` ring: a slow
//! subscriber never makes the publisher wait and never misses events (a ring would
//! drop them as "lagged"), which the journal's "a row is never lost" needs.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use tokio::sync::mpsc;

use crate::proto::events::{CallEvent, CallEventKind, CallId};
use crate::proto::TenantId;

/// Delivers one event; `false` means the subscriber is gone and is dropped.
type Sink<E> = Box<dyn Fn(&E) -> bool + Send + Sync>;

struct Inner<E> {
    sinks: RwLock<Vec<(u64, Sink<E>)>>,
    next_id: AtomicU64,
}

impl<E> Default for Inner<E> {
    fn default() -> Self {
        Inner {
            sinks: RwLock::new(Vec::new()),
            next_id: AtomicU64::new(0),
        }
    }
}

/// A cheap, cloneable handle to a bus: of call events by default, or of another kind
/// of event (the queues' agent states).
pub struct EventBus<E = CallEvent> {
    inner: Arc<Inner<E>>,
}

impl<E> Clone for EventBus<E> {
    fn clone(&self) -> Self {
        EventBus {
            inner: self.inner.clone(),
        }
    }
}

impl<E> Default for EventBus<E> {
    fn default() -> Self {
        EventBus {
            inner: Arc::new(Inner::default()),
        }
    }
}

impl<E> std::fmt::Debug for EventBus<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventBus")
            .field("subscribers", &self.subscriber_count())
            .finish()
    }
}

impl<E: Clone + Send + 'static> EventBus<E> {
    pub fn new() -> Self {
        EventBus::default()
    }

    /// Hands `event` to every subscriber. Never blocks on a subscriber and never
    /// fails; subscribers that went away are forgotten.
    pub fn publish(&self, event: E) {
        let mut dead = Vec::new();
        {
            let sinks = self.inner.sinks.read().unwrap_or_else(|e| e.into_inner());
            for (id, sink) in sinks.iter() {
                if !sink(&event) {
                    dead.push(*id);
                }
            }
        }
        if !dead.is_empty() {
            let mut sinks = self.inner.sinks.write().unwrap_or_else(|e| e.into_inner());
            sinks.retain(|(id, _)| !dead.contains(id));
            tracing::debug!(n = dead.len(), "event subscribers gone");
        }
    }

    /// A new subscriber: every event published from now on, in order.
    pub fn subscribe(&self) -> Subscription<E> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.subscribe_with(move |e: &E| tx.send(e.clone()).is_ok());
        Subscription { rx }
    }

    /// A subscriber given as a function, called on the publisher's task; it must not
    /// block nor use the bus. It returns `false` once its receiver is gone, and is then
    /// dropped.
    pub fn subscribe_with(&self, deliver: impl Fn(&E) -> bool + Send + Sync + 'static) {
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let mut sinks = self.inner.sinks.write().unwrap_or_else(|e| e.into_inner());
        sinks.push((id, Box::new(deliver)));
    }
}

impl<E> EventBus<E> {
    pub fn subscriber_count(&self) -> usize {
        self.inner
            .sinks
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .len()
    }
}

impl EventBus<CallEvent> {
    /// Stamps the event with the wall clock and publishes it. The only place the
    /// journal's side reads the clock; publishers that keep their own time (tests, the
    /// simulator) use `publish`.
    pub fn publish_now(&self, call: CallId, tenant: TenantId, kind: CallEventKind) {
        self.publish(CallEvent::new(
            call,
            tenant,
            crate::clock::unix_millis(),
            kind,
        ));
    }

    /// The end of a call the switch failed or refused: `code` and `reason` as the
    /// journal row keeps them, ended by the switch.
    pub fn publish_failed(&self, call: CallId, tenant: TenantId, code: u16, reason: String) {
        let failed = crate::proto::events::Disposition::Failed;
        self.publish_refused(call, tenant, failed, (code, reason));
    }

    /// A call the switch refused before ringing anyone, as `disposition` (busy for a
    /// callee on do not disturb …) with its status.
    pub fn publish_refused(
        &self,
        call: CallId,
        tenant: TenantId,
        disposition: crate::proto::events::Disposition,
        (code, reason): (u16, String),
    ) {
        self.publish_now(
            call,
            tenant,
            CallEventKind::CallEnded {
                disposition,
                hangup_side: crate::proto::events::Side::Switch,
                code,
                reason,
            },
        );
    }
}

/// The receiving end of `EventBus::subscribe`.
#[derive(Debug)]
pub struct Subscription<E = CallEvent> {
    rx: mpsc::UnboundedReceiver<E>,
}

impl<E> Subscription<E> {
    /// The next event; `None` once every `EventBus` handle is dropped.
    pub async fn recv(&mut self) -> Option<E> {
        self.rx.recv().await
    }

    /// The next event if one is waiting.
    pub fn try_recv(&mut self) -> Option<E> {
        self.rx.try_recv().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::events::UnixMillis;

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
