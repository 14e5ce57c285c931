//! The journal actor over a real SQLite file: a full call read back exactly, a clean
//! drain, and a crash repaired at the next start.

use std::path::PathBuf;

use ractor::{Actor, ActorRef};

use super::*;
use crate::store::{CallRecord, LegRecord, Store, StoreHandle, TenantId};

const T: TenantId = 7;

/// A fresh data directory under the system's temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!(
            "pbx-journal-{name}-{}-{:x}",
            std::process::id(),
            rand::random::<u64>()
        ));
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

struct Running {
    store: StoreHandle,
    store_thread: std::thread::JoinHandle<()>,
    journal: ActorRef<JournalMsg>,
    journal_task: tokio::task::JoinHandle<()>,
}

async fn start(dir: &TempDir, bus: &EventBus, now: UnixMillis) -> Running {
    let (store, store_thread) = StoreHandle::spawn(Store::open(&dir.0).unwrap());
    let (journal, journal_task) = Actor::spawn(
        None,
        JournalActor,
        JournalArgs {
            bus: bus.clone(),
            store: store.clone(),
            now,
            repair: true,
            mail: Default::default(),
        },
    )
    .await
    .unwrap();
    Running {
        store,
        store_thread,
        journal,
        journal_task,
    }
}

impl Running {
    async fn stop(self) {
        self.journal.drain_and_wait(None).await.unwrap();
        self.journal_task.await.unwrap();
        self.store.stop();
        self.store_thread.join().unwrap();
    }
}

fn publish(bus: &EventBus, call: CallId, at: UnixMillis, kind: CallEventKind) {
    bus.publish(CallEvent::new(call, T, at, kind));
}

/// 201 calls 202, whose two phones ring; the desk phone answers, the softphone is
/// cancelled (487), the caller hangs up after 45 s.
fn full_call(bus: &EventBus, call: CallId) {
    use CallEventKind::*;
    let t0 = 1_763_850_000_000;
    publish(
        bus,
        call,
        t0,
        CallStarted {
            from: "201".into(),
            to: "202".into(),
            direction: Direction::Internal,
            caller_line: Some("201".into()),
        },
    );
    let desk = "sip:202@192.0.2.10:5060".to_string();
    let soft = "sip:202@198.51.100.7:49152;transport=tcp".to_string();
    publish(
        bus,
        call,
        t0 + 20,
        LegCreated {
            leg: 0,
            target: desk.clone(),
        },
    );
    publish(
        bus,
        call,
        t0 + 21,
        LegCreated {
            leg: 1,
            target: soft,
        },
    );
    publish(bus, call, t0 + 180, LegRinging { leg: 0 });
    publish(
        bus,
        call,
        t0 + 4_000,
        LegAnswered {
            leg: 0,
            answered_by: desk,
        },
    );
    publish(
        bus,
        call,
        t0 + 4_000,
        CallAnswered {
            answered_by: "202".into(),
        },
    );
    publish(
        bus,
        call,
        t0 + 4_030,
        LegEnded {
            leg: 1,
            code: 487,
            reason: "Request Terminated".into(),
            side: Side::Switch,
        },
    );
    publish(
        bus,
        call,
        t0 + 49_000,
        LegEnded {
            leg: 0,
            code: 200,
            reason: "BYE".into(),
            side: Side::Caller,
        },
    );
    publish(
        bus,
        call,
        t0 + 49_000,
        CallEnded {
            disposition: Disposition::Answered,
            hangup_side: Side::Caller,
            code: 200,
            reason: "BYE".into(),
        },
    );
}

#[tokio::test]
async fn a_full_call_is_journalled_exactly() {
    let dir = TempDir::new("full");
    let bus = EventBus::new();
    let run = start(&dir, &bus, 1).await;
    let call = CallId(0x1234_5678_9abc);
    full_call(&bus, call);
    JournalActor::flush(&run.journal).await.unwrap();

    let (calls, legs) = run
        .store
        .call(move |s| Ok((s.calls(T, 10)?, s.call_legs(call)?)))
        .await
        .unwrap();
    let t0 = 1_763_850_000_000;
    assert_eq!(
        calls,
        vec![CallRecord {
            id: 1,
            tenant: T,
            call,
            from: "201".into(),
            to: "202".into(),
            direction: Direction::Internal,
            caller_line: Some("201".into()),
            started_at: t0,
            ring_at: Some(t0 + 180),
            answered_at: Some(t0 + 4_000),
            ended_at: Some(t0 + 49_000),
            disposition: Some(Disposition::Answered),
            hangup_side: Some(Side::Caller),
            cause_code: Some(200),
            cause_text: Some("BYE".into()),
            duration_ms: Some(45_000),
            answered_by: Some("202".into()),
            transferred_to: None,
            state: CallState::Done,
            repaired_at: None,
            recording: None,
            forwarded_from: None,
            forward_reason: None,
            picked_up_by: None,
            caller_shown: None,
            missed_by: Vec::new(),
            queue: None,
            queued_at: None,
            trunk: None,
            private: false,
            project: None,
        }]
    );
    assert_eq!(
        legs,
        vec![
            LegRecord {
                call,
                leg: 0,
                target: "sip:202@192.0.2.10:5060".into(),
                created_at: t0 + 20,
                ring_at: Some(t0 + 180),
                answered_at: Some(t0 + 4_000),
                answered_by: Some("sip:202@192.0.2.10:5060".into()),
                ended_at: Some(t0 + 49_000),
                code: Some(200),
                reason: Some("BYE".into()),
                side: Some(Side::Caller),
            },
            LegRecord {
                call,
                leg: 1,
                target: "sip:202@198.51.100.7:49152;transport=tcp".into(),
                created_at: t0 + 21,
                ring_at: None,
                answered_at: None,
                answered_by: None,
                ended_at: Some(t0 + 4_030),
                code: Some(487),
                reason: Some("Request Terminated".into()),
                side: Some(Side::Switch),
            },
        ]
    );
    run.stop().await;
}

#[tokio::test]
async fn a_drained_journal_writes_everything_it_was_sent() {
    let dir = TempDir::new("drain");
    let bus = EventBus::new();
    let run = start(&dir, &bus, 1).await;
    let calls: Vec<CallId> = (1..=300).map(CallId).collect();
    for &call in &calls {
        full_call(&bus, call);
    }
    run.stop().await;
    assert_eq!(bus.subscriber_count(), 1, "forgotten at the next publish");
    bus.publish_now(CallId(999), T, CallEventKind::LegRinging { leg: 0 });
    assert_eq!(bus.subscriber_count(), 0);

    let store = Store::open(&dir.0).unwrap();
    let rows = store.calls(T, 1_000).unwrap();
    assert_eq!(rows.len(), calls.len());
    assert!(rows
        .iter()
        .all(|r| r.state == CallState::Done && r.duration_ms == Some(45_000)));
    assert_eq!(store.call_legs(CallId(300)).unwrap().len(), 2);
}

#[tokio::test]
async fn a_crash_leaves_the_call_unfinished_and_the_next_start_repairs_it() {
    use CallEventKind::*;
    let dir = TempDir::new("crash");
    let bus = EventBus::new();
    let run = start(&dir, &bus, 1).await;
    let (call, t0) = (CallId(42), 1_000_000);
    publish(
        &bus,
        call,
        t0,
        CallStarted {
            from: "+4930123456".into(),
            to: "202".into(),
            direction: Direction::Inbound,
            caller_line: None,
        },
    );
    publish(
        &bus,
        call,
        t0 + 10,
        LegCreated {
            leg: 0,
            target: "sip:202@192.0.2.10".into(),
        },
    );
    // What the journal had written by the time of the crash.
    JournalActor::flush(&run.journal).await.unwrap();
    // In flight when the switch died: may or may not reach the file.
    publish(&bus, call, t0 + 200, LegRinging { leg: 0 });

    // The crash: the journal is killed with its mailbox, nobody flushes.
    run.journal.kill();
    run.journal_task.await.unwrap();
    drop(run.store);
    run.store_thread.join().unwrap();

    let row = Store::open(&dir.0)
        .unwrap()
        .call_record(call)
        .unwrap()
        .unwrap();
    assert_eq!((row.state, row.ended_at), (CallState::Active, None));

    // The next start repairs before it journals anything new.
    let bus = EventBus::new();
    let run = start(&dir, &bus, 9_000_000).await;
    let fresh = CallId(43);
    publish(
        &bus,
        fresh,
        9_000_100,
        CallStarted {
            from: "201".into(),
            to: "202".into(),
            direction: Direction::Internal,
            caller_line: Some("201".into()),
        },
    );
    JournalActor::flush(&run.journal).await.unwrap();
    let (old, new, legs) = run
        .store
        .call(move |s| {
            Ok((
                s.call_record(call)?,
                s.call_record(fresh)?,
                s.call_legs(call)?,
            ))
        })
        .await
        .unwrap();
    let old = old.unwrap();
    assert_eq!(old.state, CallState::Unfinished);
    assert_eq!(old.disposition, None);
    assert_eq!(old.ended_at, None);
    assert_eq!(old.duration_ms, None);
    assert_eq!(old.repaired_at, Some(9_000_000));
    assert_eq!(
        (old.from.as_str(), old.direction),
        ("+4930123456", Direction::Inbound)
    );
    assert_eq!(legs.len(), 1);
    assert_eq!(new.unwrap().state, CallState::Active);
    run.stop().await;
}
