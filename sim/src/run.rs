//! One run: bind the phones and the RTP pool, register (paced), place calls at the
//! scenario's rate between idle phones, drain, unregister, report.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::call::{place, Plan};
use crate::media::Media;
use crate::phone::{keep_registered, unregister, Phone};
use crate::report::{Counters, Report};
use crate::scenario::Scenario;
use crate::timeline::{Sample, Timeline};

/// How many sockets the RTP pool has.
pub const RTP_SOCKETS: usize = 8;

/// A run that could not start.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("cannot bind a socket on {ip}: {source}")]
    Bind {
        ip: IpAddr,
        #[source]
        source: std::io::Error,
    },
}

/// What every task of a run shares.
pub struct Ctx {
    pub scenario: Scenario,
    pub media: Arc<Media>,
    pub counters: Counters,
    pub board: Board,
    /// Source of unique branches, tags and Call-IDs, mixed with `salt` (per run).
    pub ids: AtomicU64,
    pub salt: u64,
}

/// Which registered phones are idle, and which call each called phone expects.
#[derive(Default)]
pub struct Board {
    inner: Mutex<BoardInner>,
}

#[derive(Default)]
struct BoardInner {
    idle: Vec<usize>,
    /// Called phone → (call number, DTMF call).
    expecting: HashMap<usize, (u32, bool)>,
}

impl Board {
    fn lock(&self) -> std::sync::MutexGuard<'_, BoardInner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn add_idle(&self, phone: usize) {
        self.lock().idle.push(phone);
    }

    /// Two distinct idle phones (caller, callee), now busy; the callee expects `number`.
    pub fn pick(&self, rng: &mut StdRng, number: u32, dtmf: bool) -> Option<(usize, usize)> {
        let mut b = self.lock();
        if b.idle.len() < 2 {
            return None;
        }
        let i = rng.gen_range(0..b.idle.len());
        let caller = b.idle.swap_remove(i);
        let j = rng.gen_range(0..b.idle.len());
        let callee = b.idle.swap_remove(j);
        b.expecting.insert(callee, (number, dtmf));
        Some((caller, callee))
    }

    /// The call a phone's new INVITE should be (taken once).
    pub fn take_expected(&self, phone: usize) -> Option<(u32, bool)> {
        self.lock().expecting.remove(&phone)
    }

    /// Both phones of call `number` are idle again.
    pub fn release(&self, caller: usize, callee: usize, number: u32) {
        let mut b = self.lock();
        if b.expecting.get(&callee).is_some_and(|e| e.0 == number) {
            b.expecting.remove(&callee);
        }
        b.idle.push(caller);
        b.idle.push(callee);
    }
}

/// The local address to send from towards `target` (the route's source address).
fn local_ip_for(target: SocketAddr) -> IpAddr {
    if target.ip().is_loopback() {
        return target.ip();
    }
    let any: SocketAddr = if target.is_ipv6() {
        "[::]:0".parse()
    } else {
        "0.0.0.0:0".parse()
    }
    .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
    std::net::UdpSocket::bind(any)
        .and_then(|s| {
            s.connect(target)?;
            s.local_addr()
        })
        .map(|a| a.ip())
        .unwrap_or(IpAddr::from([127, 0, 0, 1]))
}

/// Runs a scenario; `progress` prints a line on stderr every second.
pub async fn run(scenario: Scenario, progress: bool) -> Result<(Report, Timeline), SimError> {
    let begun = Instant::now();
    let ip = local_ip_for(scenario.target);
    let bind_err = |source| SimError::Bind { ip, source };
    let media = Media::bind(ip, RTP_SOCKETS).await.map_err(bind_err)?;
    let salt = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
        ^ (u64::from(std::process::id()) << 40);
    let ctx = Arc::new(Ctx {
        scenario: scenario.clone(),
        media: media.clone(),
        counters: Counters::default(),
        board: Board::default(),
        ids: AtomicU64::new(1),
        salt,
    });
    let mut tasks: Vec<JoinHandle<()>> = media.spawn();
    let mut phones = Vec::with_capacity(scenario.phones());
    for (i, ext) in (scenario.extensions.0..=scenario.extensions.1).enumerate() {
        let p = Arc::new(
            Phone::bind(i, ext, scenario.password_of(ext), ip)
                .await
                .map_err(bind_err)?,
        );
        tasks.push(tokio::spawn(p.clone().receive(ctx.clone())));
        phones.push(p);
    }
    let timeline = Arc::new(Mutex::new(Timeline::default()));
    let progress_task = tokio::spawn(report_progress(
        ctx.clone(),
        timeline.clone(),
        begun,
        progress,
    ));

    // Registration, paced at `register_rate`.
    let mut pending = Vec::with_capacity(phones.len());
    let reg_start = Instant::now();
    for (i, p) in phones.iter().enumerate() {
        tokio::time::sleep_until(
            reg_start + Duration::from_secs_f64(i as f64 / scenario.register_rate),
        )
        .await;
        let (tx, rx) = tokio::sync::oneshot::channel();
        tasks.push(tokio::spawn(keep_registered(ctx.clone(), p.clone(), tx)));
        pending.push((p.index, rx));
    }
    let mut registered = Vec::new();
    for (index, rx) in pending {
        match rx.await {
            Ok(Ok(())) => {
                ctx.counters.registered.fetch_add(1, Ordering::Relaxed);
                ctx.board.add_idle(index);
                registered.push(index);
            }
            Ok(Err(cause)) => ctx.counters.fail(cause),
            Err(_) => ctx.counters.fail(crate::report::Cause::RegisterTimeout),
        }
    }

    // Calls.
    let calling_start = Instant::now();
    if registered.len() >= 2 {
        place_calls(&ctx, &phones).await;
    }
    let calling = calling_start.elapsed();
    // Drain: let the calls in progress end.
    let drain_until =
        Instant::now() + scenario.hold.max() + scenario.answer_delay + scenario.timeout * 3;
    while ctx.counters.active.load(Ordering::Relaxed) > 0 && Instant::now() < drain_until {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Let the callees take their BYEs and report their audio.
    tokio::time::sleep(Duration::from_millis(300)).await;
    progress_task.abort();

    // Unregister (best effort, all at once, bounded by one timeout).
    let unregs: Vec<_> = registered
        .iter()
        .map(|&i| tokio::spawn(unregister(ctx.clone(), phones[i].clone())))
        .collect();
    for u in unregs {
        let _ = u.await;
    }
    for t in tasks {
        t.abort();
    }
    let report = Report::build(
        scenario.target.to_string(),
        scenario.phones() as u64,
        &ctx.counters,
        calling,
        begun.elapsed(),
        media.unmatched.load(Ordering::Relaxed),
    );
    let timeline = std::mem::take(&mut *timeline.lock().unwrap_or_else(|e| e.into_inner()));
    Ok((report, timeline))
}

/// Places calls at the scenario's rate for its duration.
async fn place_calls(ctx: &Arc<Ctx>, phones: &[Arc<Phone>]) {
    let s = &ctx.scenario;
    let mut rng = StdRng::seed_from_u64(s.seed);
    let start = Instant::now();
    let mut last = start;
    // The first call goes out at once, the next after 1/rate.
    let mut credit = 1.0;
    let mut number = 0u32;
    let mut tick = tokio::time::interval(Duration::from_millis(5));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let now = tick.tick().await;
        let elapsed = now - start;
        if elapsed >= s.duration {
            return;
        }
        credit += s.rate.at(elapsed) * (now - last).as_secs_f64();
        last = now;
        while credit >= 1.0 {
            credit -= 1.0;
            number += 1;
            let dtmf = s.dtmf > 0.0 && rng.gen_bool(s.dtmf);
            let Some((caller, callee)) = ctx.board.pick(&mut rng, number, dtmf) else {
                ctx.counters.skipped.fetch_add(1, Ordering::Relaxed);
                continue;
            };
            let plan = Plan {
                number,
                callee,
                callee_ext: phones[callee].ext,
                hold: s.hold.pick(rng.gen::<f64>()),
                dtmf,
            };
            tokio::spawn(place(ctx.clone(), phones[caller].clone(), plan));
        }
    }
}

/// Prints a progress line every second (when asked) and records the timeline.
async fn report_progress(
    ctx: Arc<Ctx>,
    timeline: Arc<Mutex<Timeline>>,
    begun: Instant,
    print: bool,
) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.tick().await;
    let mut last_attempted = 0;
    let c = &ctx.counters;
    loop {
        tick.tick().await;
        let attempted = c.attempted.load(Ordering::Relaxed);
        let sample = Sample {
            t: begun.elapsed().as_secs_f64(),
            rate: (attempted - last_attempted) as f64,
            active: c.active.load(Ordering::Relaxed),
            setup_p50_ms: c.recent_setup_p50(),
        };
        last_attempted = attempted;
        if print {
            eprintln!(
                "sim {:>5.0}s  reg {}/{}  rate {:>6.1}/s  active {:>5}  attempted {}  answered {}  failed {}",
                sample.t,
                c.registered.load(Ordering::Relaxed),
                ctx.scenario.phones(),
                sample.rate,
                sample.active,
                attempted,
                c.answered.load(Ordering::Relaxed),
                c.failures.load(Ordering::Relaxed),
            );
        }
        timeline
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(sample);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn board_pairs_idle_phones_and_releases_them() {
        let b = Board::default();
        let mut rng = StdRng::seed_from_u64(3);
        for i in 0..3 {
            b.add_idle(i);
        }
        let (a, c) = b.pick(&mut rng, 1, false).unwrap();
        assert_ne!(a, c);
        assert!(b.pick(&mut rng, 2, false).is_none(), "one idle phone left");
        assert_eq!(b.take_expected(c), Some((1, false)));
        assert_eq!(b.take_expected(c), None, "taken once");
        b.release(a, c, 1);
        assert!(b.pick(&mut rng, 3, false).is_some());
    }
}
