//! The journal actor: subscribed to the event bus, it turns call events into journal
//! rows through the store thread, a batch per burst.
//!
//! Events reach its mailbox straight from `EventBus::publish` (an unbounded ractor
//! mailbox, so publishing never waits). The first event of a burst queues a `Write`
//! behind itself; by the time `Write` is handled, the whole burst is pending and goes
//! to the store in one transaction. While a batch is being written, new events queue
//! in the mailbox and form the next batch.
//!
//! Shutdown: the switch calls `JournalActor::flush` once call actors have published
//! their last events, then stops the actor (or `drain_and_wait`s it, which writes
//! everything still in the mailbox; a plain `stop` drops what is queued). A crash leaves at most the unwritten events
//! missing; the rows they belonged to stay 'active' and `Store::repair_unfinished_calls`
//! (run here at start) marks them 'unfinished'.

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};

use super::bus::EventBus;
use crate::proto::events::{CallEvent, UnixMillis};
use crate::store::StoreHandle;
use crate::Result;

/// A batch is written once this many events are pending, even mid-burst.
const MAX_BATCH: usize = 1024;

pub enum JournalMsg {
    Event(CallEvent),
    /// Writes what is pending (queued by the actor itself).
    Write,
    /// Answers once everything received so far is in the database: at once when
    /// nothing is pending, else with the batch that writes it (flushes that arrive
    /// during a burst share its one transaction).
    Flush(RpcReplyPort<Result<()>>),
}

impl std::fmt::Debug for JournalMsg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JournalMsg::Event(e) => write!(f, "Event({}, {})", e.call, e.kind.name()),
            JournalMsg::Write => f.write_str("Write"),
            JournalMsg::Flush(_) => f.write_str("Flush"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct JournalArgs {
    pub bus: EventBus,
    pub store: StoreHandle,
    /// The wall clock at start, recorded on the rows repaired from an earlier run.
    pub now: UnixMillis,
    /// Repair the rows an earlier run left active: at the switch's start only, not
    /// when the journal actor is restarted (its calls are still in progress).
    pub repair: bool,
    /// Wakes the mailer when a batch queued missed-call mails.
    pub mail: std::sync::Arc<tokio::sync::Notify>,
}

pub struct JournalState {
    store: StoreHandle,
    pending: Vec<CallEvent>,
    /// Flushes answered by the next write.
    waiting: Vec<RpcReplyPort<Result<()>>>,
    mail: std::sync::Arc<tokio::sync::Notify>,
}

/// Start it before any call actor, so that it sees every event:
/// `Actor::spawn(Some("journal".into()), JournalActor, args)`.
pub struct JournalActor;

/// How long a call waits for the journal at most before it confirms its end anyway.
const BARRIER_TIMEOUT_MS: u64 = 5000;

/// Lets a call wait until the journal has written what the call published (its end,
/// before the response that confirms the end goes out); a no-op until the journal runs.
#[derive(Debug, Clone, Default)]
pub struct JournalBarrier(std::sync::Arc<std::sync::RwLock<Option<ActorRef<JournalMsg>>>>);

impl JournalBarrier {
    /// The journal to wait for (set when it starts, again when it is restarted).
    pub fn set(&self, journal: ActorRef<JournalMsg>) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = Some(journal);
    }

    /// Waits until everything published so far is written (at most 5 s).
    pub async fn wait(&self) -> Result<()> {
        let Some(j) = self.0.read().unwrap_or_else(|e| e.into_inner()).clone() else {
            return Ok(());
        };
        // Under a paused clock (the timer tests) time must not jump ahead while the
        // store's thread writes: a running blocking task holds auto-advance off.
        #[cfg(feature = "test-hooks")]
        {
            let rt = tokio::runtime::Handle::current();
            tokio::task::spawn_blocking(move || rt.block_on(flush_within(&j)))
                .await
                .map_err(|e| crate::Error::Actor(format!("journal flush: {e}")))?
        }
        #[cfg(not(feature = "test-hooks"))]
        flush_within(&j).await
    }
}

/// `JournalActor::flush`, given up after `BARRIER_TIMEOUT_MS`.
async fn flush_within(journal: &ActorRef<JournalMsg>) -> Result<()> {
    match ractor::call_t!(journal, JournalMsg::Flush, BARRIER_TIMEOUT_MS) {
        Ok(done) => done,
        Err(e) => Err(crate::Error::Actor(format!("journal flush: {e}"))),
    }
}

impl JournalActor {
    /// Asks `journal` to write everything it got and waits until it is written.
    pub async fn flush(journal: &ActorRef<JournalMsg>) -> Result<()> {
        ractor::call!(journal, JournalMsg::Flush)
            .map_err(|e| crate::Error::Actor(format!("journal flush: {e}")))?
    }
}

impl Actor for JournalActor {
    type Msg = JournalMsg;
    type State = JournalState;
    type Arguments = JournalArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<JournalMsg>,
        args: JournalArgs,
    ) -> Result<JournalState, ActorProcessingErr> {
        let now = args.now;
        let repaired = match args.repair {
            true => {
                args.store
                    .call(move |s| s.repair_unfinished_calls(now))
                    .await?
            }
            false => 0,
        };
        if repaired > 0 {
            tracing::warn!(
                repaired,
                "journal: calls left active by an earlier run marked unfinished"
            );
        }
        // Subscribed only now: rows from this run are never taken for stale ones.
        args.bus
            .subscribe_with(move |e| myself.cast(JournalMsg::Event(e.clone())).is_ok());
        Ok(JournalState {
            store: args.store,
            pending: Vec::new(),
            waiting: Vec::new(),
            mail: args.mail,
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<JournalMsg>,
        msg: JournalMsg,
        state: &mut JournalState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            JournalMsg::Event(e) => {
                if state.pending.is_empty() {
                    // Refused only while draining for a stop; `post_stop` writes then.
                    let _ = myself.cast(JournalMsg::Write);
                }
                state.pending.push(e);
                if state.pending.len() >= MAX_BATCH {
                    state.write_and_answer().await;
                }
            }
            JournalMsg::Write => state.write_and_answer().await,
            // Events pending means a `Write` is queued behind them: it answers.
            JournalMsg::Flush(reply) if !state.pending.is_empty() => state.waiting.push(reply),
            JournalMsg::Flush(reply) => {
                let _ = reply.send(Ok(()));
            }
        }
        Ok(())
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<JournalMsg>,
        state: &mut JournalState,
    ) -> Result<(), ActorProcessingErr> {
        state.write_and_answer().await;
        Ok(())
    }
}

impl JournalState {
    /// Writes what is pending and answers the flushes waiting for it.
    async fn write_and_answer(&mut self) {
        let done = self.write().await;
        for reply in self.waiting.drain(..) {
            let _ = reply.send(match &done {
                Ok(()) => Ok(()),
                Err(e) => Err(crate::Error::Actor(format!("journal write: {e}"))),
            });
        }
    }

    /// Sends the pending events to the store thread and waits for the transaction.
    async fn write(&mut self) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        // Tests widen the time between a call's end and its row's commit, so that a
        // confirmation sent before the commit would be seen (`tests/suite/durability.rs`).
        #[cfg(feature = "test-hooks")]
        if let Some(ms) = std::env::var("PBX_TEST_JOURNAL_DELAY_MS")
            .ok()
            .and_then(|v| v.parse().ok())
        {
            tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
        }
        let batch = std::mem::take(&mut self.pending);
        let n = batch.len();
        match self
            .store
            .call(move |s| s.record_call_events_and_mail(&batch))
            .await
        {
            Ok((applied, mails)) => {
                tracing::trace!(n, applied, mails, "journal batch written");
                if mails > 0 {
                    self.mail.notify_one();
                }
                Ok(())
            }
            Err(e) => {
                tracing::error!(n, error = %e, "journal: writing call events failed; events lost");
                Err(e)
            }
        }
    }
}
