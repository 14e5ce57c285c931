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
use crate::centre::Centre;
use crate::media::Media;
use crate::phone::{keep_registered, unregister, Phone};
use crate::report::{Counters, Report};
use crate::scenario::{Mode, Scenario};
use crate::timeline::{Sample, Timeline};

/// How many sockets the RTP pool has.
pub const RTP_SOCKETS: usize = 8;

/// How many SIP sockets a UAC spreads its calls over (calls are told apart by
/// Call-ID, not by socket).
pub const UAC_SOCKETS: usize = 4;

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
    pub centre: Centre,
    pub flow: crate::flow::FlowState,
    /// What trunks registered at the sim as their carrier (UAS mode, a flow's carrier).
    pub contacts: crate::registrar::Contacts,
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
    /// Called phone → the call it expects.
    expecting: HashMap<usize, Expect>,
}

/// The call a phone expects an INVITE for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expect {
    pub number: u32,
    pub dtmf: bool,
    /// Blind-transfer the call to this extension this long after answering.
    pub transfer: Option<(u32, Duration)>,
    /// Hang up this long after answering (an agent of a call centre).
    pub hang_up: Option<Duration>,
}

/// The phones of a call: caller, callee, and the transfer target if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Picked {
    pub caller: usize,
    pub callee: usize,
    pub target: Option<usize>,
}

impl Board {
    fn lock(&self) -> std::sync::MutexGuard<'_, BoardInner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn add_idle(&self, phone: usize) {
        self.lock().idle.push(phone);
    }

    /// One idle phone, now busy (a call centre's caller).
    pub fn pick_one(&self, rng: &mut StdRng) -> Option<usize> {
        let mut b = self.lock();
        if b.idle.is_empty() {
            return None;
        }
        let i = rng.gen_range(0..b.idle.len());
        Some(b.idle.swap_remove(i))
    }

    /// Two distinct idle phones (caller, callee), now busy; the callee expects `number`.
    /// With `transfer` (the delay after answering) and a third idle phone, the callee
    /// transfers the call to it (`first_ext`: the extension of phone 0); without a third
    /// idle phone the call is not transferred.
    pub fn pick(
        &self,
        rng: &mut StdRng,
        number: u32,
        dtmf: bool,
        transfer: Option<(u32, Duration)>,
    ) -> Option<Picked> {
        let mut b = self.lock();
        if b.idle.len() < 2 {
            return None;
        }
        let i = rng.gen_range(0..b.idle.len());
        let caller = b.idle.swap_remove(i);
        let j = rng.gen_range(0..b.idle.len());
        let callee = b.idle.swap_remove(j);
        let mut target = None;
        let mut expect = Expect {
            number,
            dtmf,
            transfer: None,
            hang_up: None,
        };
        if let (Some((first_ext, after)), false) = (transfer, b.idle.is_empty()) {
            let k = rng.gen_range(0..b.idle.len());
            let t = b.idle.swap_remove(k);
            b.expecting.insert(
                t,
                Expect {
                    number,
                    dtmf: false,
                    transfer: None,
                    hang_up: None,
                },
            );
            expect.transfer = Some((first_ext + t as u32, after));
            target = Some(t);
        }
        b.expecting.insert(callee, expect);
        Some(Picked {
            caller,
            callee,
            target,
        })
    }

    /// The call a phone's new INVITE should be (taken once).
    pub fn take_expected(&self, phone: usize) -> Option<Expect> {
        self.lock().expecting.remove(&phone)
    }

    /// The phones of call `number` are idle again.
    pub fn release(&self, caller: usize, callee: usize, target: Option<usize>, number: u32) {
        let mut b = self.lock();
        for p in std::iter::once(callee).chain(target) {
            if b.expecting.get(&p).is_some_and(|e| e.number == number) {
                b.expecting.remove(&p);
            }
            b.idle.push(p);
        }
        b.idle.push(caller);
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
    // A UAC and a UAS calling each other directly tell calls apart by the pair of
    // pool sockets: more sockets, more calls with RTP at once.
    let pool = match scenario.mode {
        Mode::Uac | Mode::Uas => RTP_SOCKETS * 4,
        _ => RTP_SOCKETS,
    };
    let media = Media::bind(ip, pool).await.map_err(bind_err)?;
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
        centre: Centre::default(),
        flow: Default::default(),
        contacts: Default::default(),
        ids: AtomicU64::new(1),
        salt,
    });
    let mut tasks: Vec<JoinHandle<()>> = media.spawn();
    let mut phones = Vec::with_capacity(scenario.phones());
    let mode = scenario.mode;
    ctx.counters.one_leg.store(
        matches!(mode, Mode::Uac | Mode::Uas)
            || (mode == Mode::Phones && scenario.numbers.is_some()),
        Ordering::Relaxed,
    );
    ctx.counters
        .queued
        .store(mode == Mode::CallCentre, Ordering::Relaxed);
    match mode {
        Mode::Phones | Mode::CallCentre | Mode::Flow => {
            let agents = scenario.agents.map(|(a, b)| a..=b).into_iter().flatten();
            let answerers = scenario.answerers.map(|(a, b)| a..=b).into_iter().flatten();
            let exts = (scenario.extensions.0..=scenario.extensions.1)
                .chain(agents)
                .chain(answerers);
            for (i, ext) in exts.enumerate() {
                phones.push(Arc::new(
                    Phone::bind(i, ext, scenario.password_of(ext), ip)
                        .await
                        .map_err(bind_err)?,
                ));
            }
        }
        Mode::Storm => {
            for i in 0..crate::storm::STORM_SOCKETS {
                phones.push(Arc::new(
                    Phone::bind_polled(i, 0, String::new(), SocketAddr::new(ip, 0))
                        .map_err(bind_err)?,
                ));
            }
        }
        Mode::Uac if scenario.bind.is_some() => {
            let ext = scenario.caller;
            let at = scenario.bind.unwrap_or(scenario.target);
            phones.push(Arc::new(
                Phone::bind_polled(0, ext, scenario.password_of(ext), at).map_err(bind_err)?,
            ));
        }
        Mode::Uac => {
            let ext = scenario.caller;
            for i in 0..UAC_SOCKETS {
                phones.push(Arc::new(
                    Phone::bind_polled(i, ext, scenario.password_of(ext), SocketAddr::new(ip, 0))
                        .map_err(bind_err)?,
                ));
            }
        }
        Mode::Uas => {
            let p = Phone::bind_addr(0, 0, String::new(), scenario.target)
                .await
                .map_err(bind_err)?;
            let (a, b) = scenario.numbers();
            eprintln!("sim: UAS listening on {} for {a}-{b}", p.local);
            phones.push(Arc::new(p));
        }
    }
    // A flow's carrier: its own socket at the carrier's address, not registered.
    if let (Mode::Flow, Some(at)) = (mode, scenario.carrier) {
        let carrier = Arc::new(
            Phone::bind_addr(usize::MAX, scenario.caller, String::new(), at)
                .await
                .map_err(bind_err)?
                .into_carrier(),
        );
        tasks.push(tokio::spawn(carrier.clone().receive(ctx.clone())));
        ctx.flow.set_carrier(carrier);
    }
    let (polled, waited): (Vec<_>, Vec<_>) = phones.iter().cloned().partition(|p| p.is_polled());
    for p in waited {
        tasks.push(tokio::spawn(p.receive(ctx.clone())));
    }
    // A UAC's plain calls run on the table engine (`uac.rs`), which reads its sockets
    // itself; calls that hold or transfer need the task-per-call path.
    let table_engine = mode == Mode::Storm
        || (mode == Mode::Uac && scenario.hold_share == 0.0 && scenario.transfer_share == 0.0);
    if !polled.is_empty() && !table_engine {
        tasks.push(tokio::spawn(Phone::receive_polled(polled, ctx.clone())));
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
    let to_register = match mode {
        Mode::Phones | Mode::CallCentre | Mode::Flow => &phones[..],
        Mode::Uac | Mode::Uas | Mode::Storm => &[],
    };
    for (i, p) in to_register.iter().enumerate() {
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
                // A call centre's agents only answer.
                if index < scenario.callers() {
                    ctx.board.add_idle(index);
                }
                registered.push(index);
            }
            Ok(Err(cause)) => ctx.counters.fail(cause),
            Err(_) => ctx.counters.fail(crate::report::Cause::RegisterTimeout),
        }
    }

    // A flow's answering phones, and their mailboxes watched when a step checks MWI.
    let answerers: Vec<Arc<Phone>> = registered
        .iter()
        .filter(|&&i| mode == Mode::Flow && i >= scenario.callers())
        .map(|&i| phones[i].clone())
        .collect();
    ctx.flow.set_answerers(answerers);
    if mode == Mode::Flow && crate::steps::watches_mwi(&scenario.steps) {
        let mut watching = Vec::new();
        for &i in registered.iter().filter(|&&i| i >= scenario.callers()) {
            let (tx, rx) = tokio::sync::oneshot::channel();
            tasks.push(tokio::spawn(crate::flow::watch_mailbox(
                ctx.clone(),
                phones[i].clone(),
                tx,
            )));
            watching.push(rx);
        }
        for rx in watching {
            match rx.await {
                Ok(Ok(())) => {}
                Ok(Err(cause)) => ctx.counters.fail(cause),
                Err(_) => ctx.counters.fail(crate::report::Cause::SubscribeTimeout),
            }
        }
    }

    // A call centre's agents log in to the queue first (each hears the switch confirm
    // it), and out again at the end.
    let agents: Vec<Arc<Phone>> = registered
        .iter()
        .filter(|&&i| mode == Mode::CallCentre && i >= scenario.callers())
        .map(|&i| phones[i].clone())
        .collect();
    let queue = scenario.queue.unwrap_or_default();
    crate::centre::agents_dial(
        &ctx,
        &agents,
        &format!("*40{queue}"),
        "agent login",
        &ctx.centre.logged_in,
    )
    .await;

    // Calls into the switch go to the Contact its trunk registers at the carrier: the
    // flows wait for it (up to three timeouts; then their `call_in` steps fail).
    if mode == Mode::Flow && crate::steps::calls_in(&scenario.steps) {
        let until = Instant::now() + scenario.timeout * 3;
        while ctx.contacts.any().is_none() && Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    // Calls.
    let calling_start = Instant::now();
    let mut calling = None;
    match mode {
        Mode::Phones if registered.len() >= 2 => place_calls(&ctx, &phones).await,
        Mode::Phones => {}
        // The table engine returns once its calls are over: it says when it stopped
        // placing them.
        Mode::Uac if table_engine => {
            calling = Some(crate::uac::run(ctx.clone(), phones.clone()).await)
        }
        Mode::Uac | Mode::CallCentre | Mode::Flow => place_calls(&ctx, &phones).await,
        Mode::Uas => tokio::time::sleep(scenario.duration).await,
        Mode::Storm => calling = Some(crate::storm::run(ctx.clone(), phones.clone()).await),
    }
    let calling = calling.unwrap_or_else(|| calling_start.elapsed());
    // Drain: let the calls in progress end.
    let mut drain = drain_time(&scenario);
    if mode == Mode::CallCentre {
        drain += scenario.patience;
    }
    if mode == Mode::Flow {
        drain = crate::flow::flow_limit(&scenario) + scenario.timeout;
    }
    let drain_until = Instant::now() + drain;
    while ctx.counters.active.load(Ordering::Relaxed) > 0 && Instant::now() < drain_until {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Let the callees take their BYEs and report their audio.
    tokio::time::sleep(Duration::from_millis(300)).await;
    progress_task.abort();
    // Failures since the last second's sample (the end of the drain) make a last one.
    {
        let mut tl = timeline.lock().unwrap_or_else(|e| e.into_inner());
        let mut seen: std::collections::BTreeMap<String, u64> = Default::default();
        for sample in &tl.samples {
            for (cause, n) in &sample.failed {
                *seen.entry(cause.clone()).or_default() += n;
            }
        }
        let failed: std::collections::BTreeMap<String, u64> = ctx
            .counters
            .failed_map()
            .into_iter()
            .filter_map(|(cause, n)| {
                let new = n - seen.get(&cause).copied().unwrap_or(0);
                (new > 0).then_some((cause, new))
            })
            .collect();
        if !failed.is_empty() {
            tl.push(Sample {
                t: begun.elapsed().as_secs_f64(),
                rate: 0.0,
                active: ctx.counters.active.load(Ordering::Relaxed),
                setup_p50_ms: 0.0,
                failed,
            });
        }
    }

    crate::centre::agents_dial(
        &ctx,
        &agents,
        &format!("*41{queue}"),
        "agent logout",
        &ctx.centre.logged_out,
    )
    .await;

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
    let mut report = Report::build(
        scenario.target.to_string(),
        match mode {
            Mode::Phones | Mode::CallCentre | Mode::Flow | Mode::Storm => scenario.phones() as u64,
            Mode::Uac | Mode::Uas => 0,
        },
        &ctx.counters,
        calling,
        begun.elapsed(),
        media.unmatched.load(Ordering::Relaxed),
    );
    if mode == Mode::CallCentre {
        report.add_centre(&ctx.centre);
    }
    if mode == Mode::Flow {
        report.steps = ctx.flow.report(&scenario.steps);
    }
    if mode == Mode::Storm {
        report.into_storm();
    }
    let timeline = std::mem::take(&mut *timeline.lock().unwrap_or_else(|e| e.into_inner()));
    report.failures_by_second = timeline.failures();
    Ok((report, timeline))
}

/// How long the calls still up when calling stops may take to end.
pub fn drain_time(s: &Scenario) -> Duration {
    s.hold.max() + s.answer_delay + s.timeout * 3
}

/// Places calls at the scenario's rate for its duration (a flow picks its answering
/// phones, `FlowState::partners`).
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
            let hold = s.hold.pick(rng.gen::<f64>());
            // One draw decides hold (first share) or transfer (the next).
            let feature = rng.gen::<f64>();
            let on_hold = feature < s.hold_share;
            let transfer = (!on_hold && feature < s.hold_share + s.transfer_share)
                .then_some((s.extensions.0, hold / 4));
            if s.mode == Mode::Flow {
                let Some(caller) = ctx.board.pick_one(&mut rng) else {
                    ctx.counters.skipped.fetch_add(1, Ordering::Relaxed);
                    continue;
                };
                let Some(partners) = ctx.flow.partners(&mut rng, &s.steps) else {
                    // Every answerer is in another flow's call.
                    ctx.board.add_idle(caller);
                    ctx.counters.skipped.fetch_add(1, Ordering::Relaxed);
                    continue;
                };
                tokio::spawn(crate::flow::run_flow(
                    ctx.clone(),
                    phones[caller].clone(),
                    number,
                    partners,
                ));
                continue;
            }
            if s.mode == Mode::CallCentre {
                let Some(caller) = ctx.board.pick_one(&mut rng) else {
                    ctx.counters.skipped.fetch_add(1, Ordering::Relaxed);
                    continue;
                };
                let phone = phones[caller].clone();
                ctx.centre.calling(phone.ext, number, hold);
                let plan = Plan {
                    number,
                    callee: usize::MAX,
                    callee_ext: s.queue.unwrap_or_default(),
                    target: None,
                    hold,
                    dtmf: false,
                    on_hold: false,
                };
                tokio::spawn(place(ctx.clone(), phone, plan));
                continue;
            }
            if s.mode == Mode::Uac || s.numbers.is_some() {
                // A number of `numbers` (a UAC's, or phones calling out through the
                // switch's trunks: an idle caller).
                let caller = match s.mode {
                    Mode::Uac => Some(number as usize % phones.len()),
                    _ => ctx.board.pick_one(&mut rng),
                };
                let Some(caller) = caller else {
                    ctx.counters.skipped.fetch_add(1, Ordering::Relaxed);
                    continue;
                };
                let (a, b) = s.numbers();
                let plan = Plan {
                    number,
                    callee: usize::MAX,
                    callee_ext: rng.gen_range(a..=b),
                    target: None,
                    hold,
                    dtmf,
                    on_hold,
                };
                tokio::spawn(place(ctx.clone(), phones[caller].clone(), plan));
                continue;
            }
            let Some(p) = ctx.board.pick(&mut rng, number, dtmf, transfer) else {
                ctx.counters.skipped.fetch_add(1, Ordering::Relaxed);
                continue;
            };
            let plan = Plan {
                number,
                callee: p.callee,
                callee_ext: u64::from(phones[p.callee].ext),
                target: p.target,
                hold,
                dtmf,
                on_hold,
            };
            tokio::spawn(place(ctx.clone(), phones[p.caller].clone(), plan));
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
    let mut last_failed = std::collections::BTreeMap::new();
    let c = &ctx.counters;
    loop {
        tick.tick().await;
        let attempted = c.attempted.load(Ordering::Relaxed);
        let failed_now = c.failed_map();
        let failed = failed_now
            .iter()
            .filter_map(|(cause, n)| {
                let new = n - last_failed.get(cause).copied().unwrap_or(0);
                (new > 0).then(|| (cause.clone(), new))
            })
            .collect();
        last_failed = failed_now;
        let sample = Sample {
            t: begun.elapsed().as_secs_f64(),
            rate: (attempted - last_attempted) as f64,
            active: c.active.load(Ordering::Relaxed),
            setup_p50_ms: c.recent_setup_p50(),
            failed,
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
        let p = b.pick(&mut rng, 1, false, None).unwrap();
        let (a, c) = (p.caller, p.callee);
        assert_ne!(a, c);
        assert_eq!(p.target, None);
        assert!(
            b.pick(&mut rng, 2, false, None).is_none(),
            "one idle phone left"
        );
        assert_eq!(b.take_expected(c).map(|e| e.number), Some(1));
        assert_eq!(b.take_expected(c), None, "taken once");
        b.release(a, c, None, 1);
        assert!(b.pick(&mut rng, 3, false, None).is_some());
    }

    #[test]
    fn a_transfer_takes_a_third_idle_phone_when_there_is_one() {
        let b = Board::default();
        let mut rng = StdRng::seed_from_u64(5);
        for i in 0..3 {
            b.add_idle(i);
        }
        let after = Duration::from_millis(100);
        let p = b.pick(&mut rng, 7, false, Some((1000, after))).unwrap();
        let t = p.target.expect("a target");
        assert!(t != p.caller && t != p.callee);
        let e = b.take_expected(p.callee).unwrap();
        assert_eq!(e.transfer, Some((1000 + t as u32, after)));
        assert_eq!(b.take_expected(t).map(|e| e.number), Some(7));
        b.release(p.caller, p.callee, p.target, 7);
        let p = b.pick(&mut rng, 8, false, None).unwrap();
        b.release(p.caller, p.callee, None, 8);
        // Two idle phones only: the call goes ahead without a transfer.
        let b = Board::default();
        b.add_idle(0);
        b.add_idle(1);
        let p = b.pick(&mut rng, 9, false, Some((1000, after))).unwrap();
        assert_eq!(p.target, None);
        assert_eq!(b.take_expected(p.callee).unwrap().transfer, None);
    }
}
