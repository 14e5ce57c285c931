//! The RTP worker threads: a few threads (one per core) own every relay's sockets.
//!
//! Each worker waits on one level-triggered epoll set holding the four sockets of each
//! of its relays and an eventfd that says "commands waiting". A readiness report
//! carries the relay's slot and the socket's number, so a datagram reaches its relay
//! with an index, not a lookup; the relay takes one datagram per report (level
//! triggering reports a socket again while it has more), so no read is wasted on
//! `WouldBlock`, and one `epoll_wait` serves every socket that became readable
//! meanwhile: the more calls, the more datagrams per wake-up. Played sources (music
//! on hold, prompts) and the switch's own RTCP reports wake the worker through its
//! wait's timeout, earliest deadline first.
//!
//! Nothing on the packet path locks or allocates: commands (a relay added, a control,
//! a relay dropped) come through a channel, read only when the eventfd fires; a
//! handle wakes its worker only when no wake-up is pending already.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
use nix::sys::eventfd::{EfdFlags, EventFd};

use super::relay::{Control, MediaRelay, Scratch};

/// Readiness reports taken per `epoll_wait`.
const EVENTS: usize = 256;
/// The epoll data of the eventfd (a relay's is `slot << 2 | socket`).
const WAKE: u64 = u64::MAX;

/// What a handle asks of its relay's worker.
pub(super) enum Command {
    /// A new relay, under the handle's id.
    Add(u64, Box<MediaRelay>),
    Control(u64, Control),
    /// Drop the relay (closing its sockets, returning its ports), then say so.
    Remove(u64, Option<tokio::sync::oneshot::Sender<()>>),
}

/// The way to one worker thread.
pub(super) struct Worker {
    commands: mpsc::Sender<Command>,
    wake: EventFd,
    /// A wake-up is written and the worker has not read the commands since.
    pending: AtomicBool,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Worker")
    }
}

impl Worker {
    pub(super) fn send(&self, c: Command) {
        if self.commands.send(c).is_err() {
            tracing::error!("RTP worker thread gone");
            return;
        }
        if !self.pending.swap(true, Ordering::AcqRel) {
            if let Err(e) = self.wake.write(1) {
                tracing::error!(error = %e, "RTP worker not woken");
            }
        }
    }
}

/// The process's RTP workers, started on first use.
struct Workers {
    list: Vec<&'static Worker>,
    next_worker: AtomicUsize,
    next_id: AtomicU64,
}

fn workers() -> &'static Workers {
    static WORKERS: OnceLock<Workers> = OnceLock::new();
    WORKERS.get_or_init(|| {
        let n = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
        let list = (0..n)
            .map(|i| match spawn(i) {
                Ok(w) => w,
                Err(e) => panic!("cannot start RTP worker thread {i}: {e}"),
            })
            .collect();
        Workers {
            list,
            next_worker: AtomicUsize::new(0),
            next_id: AtomicU64::new(1),
        }
    })
}

/// A new relay's id and the worker it goes to (in turn).
pub(super) fn assign() -> (u64, &'static Worker) {
    let w = workers();
    let id = w.next_id.fetch_add(1, Ordering::Relaxed);
    let i = w.next_worker.fetch_add(1, Ordering::Relaxed) % w.list.len();
    (id, w.list[i])
}

fn spawn(i: usize) -> std::io::Result<&'static Worker> {
    let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC)?;
    let wake = EventFd::from_flags(EfdFlags::EFD_CLOEXEC | EfdFlags::EFD_NONBLOCK)?;
    epoll.add(wake.as_fd(), EpollEvent::new(EpollFlags::EPOLLIN, WAKE))?;
    let (commands, inbox) = mpsc::channel();
    let worker: &'static Worker = Box::leak(Box::new(Worker {
        commands,
        wake,
        pending: AtomicBool::new(false),
    }));
    let mut state = Thread {
        epoll,
        worker,
        inbox,
        slots: Vec::new(),
        free: Vec::new(),
        ids: HashMap::new(),
        timers: BinaryHeap::new(),
        scratch: Scratch::new(),
    };
    std::thread::Builder::new()
        .name(format!("rtp-{i}"))
        .spawn(move || state.run())?;
    Ok(worker)
}

/// A relay in its slot, with the id its handle knows it by.
struct Slot {
    id: u64,
    relay: Box<MediaRelay>,
}

/// A worker thread's own state.
struct Thread {
    epoll: Epoll,
    worker: &'static Worker,
    inbox: mpsc::Receiver<Command>,
    slots: Vec<Option<Slot>>,
    free: Vec<usize>,
    /// Handle id → slot, for commands (never on the packet path).
    ids: HashMap<u64, usize>,
    /// Wake-ups due (played packets, own RTCP reports): when, slot, relay id. An entry whose relay has since
    /// moved its deadline (or gone) is skipped when it comes up.
    timers: BinaryHeap<Reverse<(Instant, usize, u64)>>,
    scratch: Scratch,
}

impl Thread {
    fn run(&mut self) {
        let mut events = vec![EpollEvent::empty(); EVENTS];
        loop {
            let timeout = self.timeout(Instant::now());
            let n = match self.epoll.wait(&mut events, timeout) {
                Ok(n) => n,
                Err(Errno::EINTR) => continue,
                Err(e) => {
                    tracing::error!(error = %e, "RTP worker cannot wait");
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                }
            };
            let now = Instant::now();
            // Controls first: a handle's change was made before the datagrams that
            // came with it. A slot emptied (or refilled) by them may still be named
            // below: its relay is gone, or the new one finds nothing to read.
            if events[..n].iter().any(|ev| ev.data() == WAKE) {
                self.commands(now);
            }
            for ev in &events[..n] {
                let data = ev.data();
                if data == WAKE {
                    continue;
                }
                let (slot, k) = ((data >> 2) as usize, (data & 3) as usize);
                self.guarded(slot, |r, scratch| r.readable(k, scratch, now));
            }
            self.wake_due(Instant::now());
        }
    }

    /// How long to wait: until the next relay's wake-up is due, or for ever.
    fn timeout(&mut self, now: Instant) -> EpollTimeout {
        let Some(Reverse((at, ..))) = self.timers.peek() else {
            return EpollTimeout::NONE;
        };
        // Rounded up, so the wait never ends just before the deadline.
        let ms = at.saturating_duration_since(now).as_micros().div_ceil(1000);
        EpollTimeout::try_from(ms).unwrap_or(EpollTimeout::MAX)
    }

    fn commands(&mut self, now: Instant) {
        let _ = self.worker.wake.read();
        self.worker.pending.store(false, Ordering::Release);
        while let Ok(c) = self.inbox.try_recv() {
            match c {
                Command::Add(id, relay) => self.add(id, relay),
                Command::Control(id, c) => {
                    let Some(&slot) = self.ids.get(&id) else {
                        continue;
                    };
                    let mut wakes = (None, None);
                    self.guarded(slot, |r, scratch| {
                        let before = r.next_wake();
                        r.control(c, scratch, now);
                        wakes = (before, r.next_wake());
                    });
                    let (before, after) = wakes;
                    if let Some(at) = after.filter(|_| after != before) {
                        self.timers.push(Reverse((at, slot, id)));
                    }
                }
                Command::Remove(id, done) => {
                    self.remove(id);
                    if let Some(done) = done {
                        let _ = done.send(());
                    }
                }
            }
        }
    }

    /// Runs `f` on the relay in `slot`. A relay that panics (a defect in a codec,
    /// a listener, a recording) is dropped, its sockets closed; the worker and its
    /// other relays go on.
    fn guarded(&mut self, slot: usize, f: impl FnOnce(&mut MediaRelay, &mut Scratch)) {
        let Some(Some(s)) = self.slots.get_mut(slot) else {
            return;
        };
        let scratch = &mut self.scratch;
        let ran =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&mut s.relay, scratch)));
        if ran.is_err() {
            let id = s.id;
            tracing::error!(relay = id, "media relay panicked: dropped");
            self.remove(id);
        }
    }

    fn add(&mut self, id: u64, relay: Box<MediaRelay>) {
        let slot = self.free.pop().unwrap_or_else(|| {
            self.slots.push(None);
            self.slots.len() - 1
        });
        for (k, sock) in relay.sockets().into_iter().enumerate() {
            let data = ((slot as u64) << 2) | k as u64;
            if let Err(e) = self
                .epoll
                .add(sock.as_fd(), EpollEvent::new(EpollFlags::EPOLLIN, data))
            {
                tracing::error!(error = %e, "RTP socket not watched");
            }
        }
        self.ids.insert(id, slot);
        self.slots[slot] = Some(Slot { id, relay });
    }

    fn remove(&mut self, id: u64) {
        let Some(slot) = self.ids.remove(&id) else {
            return;
        };
        if let Some(s) = self.slots[slot].take() {
            for sock in s.relay.sockets() {
                let _ = self.epoll.delete(sock.as_fd());
            }
            drop(s);
            tracing::debug!("media relay ended");
        }
        self.free.push(slot);
    }

    /// Wakes the relays whose deadline came: each sends its played packets and
    /// reports due, and says when it needs waking next.
    fn wake_due(&mut self, now: Instant) {
        while let Some(&Reverse((at, slot, id))) = self.timers.peek() {
            if at > now {
                break;
            }
            self.timers.pop();
            let due = matches!(self.slots.get(slot), Some(Some(s)) if s.id == id && s.relay.next_wake() == Some(at));
            if !due {
                continue;
            }
            let mut next = None;
            self.guarded(slot, |r, scratch| {
                r.wake(scratch, now);
                next = r.next_wake();
            });
            if let Some(next) = next {
                self.timers.push(Reverse((next, slot, id)));
            }
        }
    }
}
