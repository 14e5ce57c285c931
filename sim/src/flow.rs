//! A call flow under load (`Mode::Flow`): every caller walks the scenario's steps
//! (`steps.rs`) with one call at a time, each step timed and judged on its own: dial a
//! feature code and hear its confirmation, find a way through an IVR by DTMF, wait in a
//! queue, leave a voicemail and see the MWI NOTIFY, sit in a conference and hear the
//! others. The first step that fails ends the flow (its call hung up) and is counted
//! by its cause, under its name.
//!
//! The answering phones (`answerers`) take what the switch offers them the way the
//! scenario says (answer, busy, ring) and, when a step checks MWI, keep a
//! message-summary subscription whose NOTIFYs the `mwi` steps read.
//!
//! Audio: each leg sends its signature; a flow's legs count any other phone's signature
//! as a phone heard and non-silent unsigned audio as the switch speaking
//! (`media::StreamSpec::listen_any`), which is what a `hear` step waits for.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use engine::auth::client::Challenge;
use engine::sip::{Message, MessageWriter};
use tokio::time::Instant;

use tokio::task::JoinHandle;

use crate::call::{setup, Answered, Dialog};
use crate::media::{Side, Slot, StreamSpec};
use crate::phone::{unique, Inbox, Phone, T1, T2};
use crate::report::Cause;
use crate::run::{Ctx, Expect};
use crate::scenario::{Answering, RtpMode, Scenario};
use crate::stats::Percentiles;
use crate::steps::{event_of, Action, Hear, Step, HEARD_PACKETS};

/// How often a step that waits for audio or a digit looks again (and an answerer
/// whether its flow asks it to hang up).
pub(crate) const POLL: Duration = Duration::from_millis(20);

/// How many NOTIFYs a watched mailbox remembers.
const NOTIFIES_KEPT: usize = 16;

/// What a flow's callers and answerers share: the steps' counts, and what each
/// answerer's mailbox said when.
#[derive(Default)]
pub struct FlowState {
    steps: Mutex<Vec<StepCount>>,
    /// Per answerer: the NOTIFYs its mailbox sent.
    mailboxes: Mutex<HashMap<u32, Vec<Notified>>>,
    /// Per answerer: its calls in progress.
    legs: Mutex<HashMap<u32, Vec<AnswererLeg>>>,
    leg_keys: std::sync::atomic::AtomicU64,
    answerers: Mutex<Answerers>,
    /// The carrier's phone (`Scenario::carrier`).
    carrier: std::sync::OnceLock<Arc<Phone>>,
}

/// The answering phones, and those no flow owns now.
#[derive(Default)]
struct Answerers {
    all: Vec<Arc<Phone>>,
    free: Vec<Arc<Phone>>,
}

/// A leg's stream in the media pool: its socket, where it sends, and its id.
pub type LegStream = (Slot, SocketAddr, u64);

/// An answerer's call as its flow sees it: its stream, and whether the flow asked it
/// to hang up.
struct AnswererLeg {
    key: u64,
    media: Option<LegStream>,
    hang_up: bool,
}

/// A message-summary NOTIFY: when it came, whether it said messages wait, and
/// whether a step has counted it already.
type Notified = (Instant, bool, bool);

#[derive(Default, Clone)]
struct StepCount {
    attempted: u64,
    passed: u64,
    failed: BTreeMap<Cause, u64>,
    ms: Vec<f64>,
}

/// One step's figures in the report.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StepReport {
    pub name: String,
    pub attempted: u64,
    pub passed: u64,
    pub failed: BTreeMap<String, u64>,
    /// How long the step took when it passed.
    pub ms: Percentiles,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl FlowState {
    fn count(&self, i: usize, outcome: Result<Duration, &Cause>) {
        let mut steps = lock(&self.steps);
        if steps.len() <= i {
            steps.resize_with(i + 1, StepCount::default);
        }
        let c = &mut steps[i];
        c.attempted += 1;
        match outcome {
            Ok(d) => {
                c.passed += 1;
                c.ms.push(d.as_secs_f64() * 1000.0);
            }
            Err(cause) => *c.failed.entry(cause.clone()).or_default() += 1,
        }
    }

    /// The figures of every step, in order.
    pub fn report(&self, steps: &[Step]) -> Vec<StepReport> {
        let mut counts = lock(&self.steps);
        counts.resize_with(steps.len(), StepCount::default);
        steps
            .iter()
            .zip(counts.iter_mut())
            .map(|(s, c)| StepReport {
                name: s.name.clone(),
                attempted: c.attempted,
                passed: c.passed,
                failed: c.failed.iter().map(|(k, n)| (k.key(), *n)).collect(),
                ms: crate::report::round_p(Percentiles::of(&mut c.ms)),
            })
            .collect()
    }

    fn notified(&self, ext: u32, waiting: bool) {
        let mut boxes = lock(&self.mailboxes);
        let list = boxes.entry(ext).or_default();
        if list.len() == NOTIFIES_KEPT {
            list.remove(0);
        }
        list.push((Instant::now(), waiting, false));
    }

    /// An answerer's call is up (`media`: its stream); the key for `leg_down`.
    pub fn leg_up(&self, ext: u32, media: Option<LegStream>) -> u64 {
        let key = self
            .leg_keys
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        lock(&self.legs).entry(ext).or_default().push(AnswererLeg {
            key,
            media,
            hang_up: false,
        });
        key
    }

    pub fn leg_down(&self, ext: u32, key: u64) {
        let mut legs = lock(&self.legs);
        if let Some(list) = legs.get_mut(&ext) {
            list.retain(|l| l.key != key);
            if list.is_empty() {
                legs.remove(&ext);
            }
        }
    }

    /// How many calls `ext` has up.
    pub fn legs_of(&self, ext: u32) -> usize {
        lock(&self.legs).get(&ext).map_or(0, Vec::len)
    }

    /// The stream of `ext`'s newest call.
    pub fn media_of(&self, ext: u32) -> Option<LegStream> {
        lock(&self.legs).get(&ext)?.last()?.media
    }

    /// Asks `ext`'s calls to hang up.
    pub fn hang_up(&self, ext: u32) {
        for l in lock(&self.legs).get_mut(&ext).into_iter().flatten() {
            l.hang_up = true;
        }
    }

    /// Whether the flow asked `ext`'s call `key` to hang up.
    pub fn asked_to_hang_up(&self, ext: u32, key: u64) -> bool {
        lock(&self.legs)
            .get(&ext)
            .is_some_and(|list| list.iter().any(|l| l.key == key && l.hang_up))
    }

    /// The phone the scenario's carrier listens on.
    pub fn set_carrier(&self, phone: Arc<Phone>) {
        let _ = self.carrier.set(phone);
    }

    /// The answering phones flows pick from.
    pub fn set_answerers(&self, phones: Vec<Arc<Phone>>) {
        *lock(&self.answerers) = Answerers {
            all: phones.clone(),
            free: phones,
        };
    }

    /// A flow's answering phones, picked at random: `{answerer}`, and `{other}` when
    /// the steps need it. A flow that owns its answerers (every flow with `{other}`)
    /// takes idle ones (`None`: too few idle, the flow is skipped).
    pub fn partners(&self, rng: &mut impl rand::Rng, steps: &[Step]) -> Option<Partners> {
        let mut pool = lock(&self.answerers);
        let Answerers { all, free } = &mut *pool;
        if crate::steps::owns_answerers(steps) {
            let n = 1 + usize::from(crate::steps::needs_other(steps));
            if free.len() < n {
                return None;
            }
            let mut take = || free.swap_remove(rng.gen_range(0..free.len()));
            let answerer = take();
            let other = (n == 2).then(take);
            return Some(Partners {
                answerer: Some(answerer),
                other,
                owned: true,
            });
        }
        let answerer = (!all.is_empty()).then(|| all[rng.gen_range(0..all.len())].clone());
        Some(Partners {
            answerer,
            other: None,
            owned: false,
        })
    }

    /// A flow's owned answerers are idle again.
    fn give_back(&self, p: &Partners) {
        lock(&self.answerers)
            .free
            .extend([&p.answerer, &p.other].into_iter().flatten().cloned());
    }

    /// When `ext`'s mailbox said `waiting`, at or after `since`, in a NOTIFY no
    /// other step has counted; that NOTIFY is then this step's. Two callers leaving
    /// messages in one mailbox at once each need a NOTIFY of their own.
    fn said(&self, ext: u32, waiting: bool, since: Instant) -> Option<Instant> {
        let mut boxes = lock(&self.mailboxes);
        let (at, _, counted) = boxes
            .get_mut(&ext)?
            .iter_mut()
            .find(|(at, w, counted)| *at >= since && *w == waiting && !*counted)?;
        *counted = true;
        Some(*at)
    }
}

/// The longest a flow may take: every step at its limit.
pub fn flow_limit(s: &Scenario) -> Duration {
    s.steps
        .iter()
        .map(|step| match step.action {
            Action::Wait(d) => d,
            Action::Dial { .. } | Action::CallIn(_) | Action::Pickup(_) | Action::Consult(_) => {
                step.within.unwrap_or(s.timeout + s.answer_delay)
            }
            _ => step.within.unwrap_or(s.timeout),
        })
        .sum::<Duration>()
        + s.timeout
}

/// A call of the flow while it is up.
struct Up {
    /// The phone the call is on: the caller's, or the picker's.
    phone: Arc<Phone>,
    d: Dialog,
    inbox: Inbox,
    ack: Vec<u8>,
    invite_cseq: u32,
    slot: Slot,
    /// Where its RTP goes, the far end's telephone-event type, and the stream's id.
    media: Option<(SocketAddr, Option<u8>, u64)>,
    /// The flow's call number (its SDP's session id), and its SDP's version.
    number: u32,
    sdp_version: u32,
    /// The switch hung it up (a BYE, answered); its media runs until the step ends.
    ended: bool,
    /// A REFER's final status, and the last status a NOTIFY of it reported.
    refer_code: Option<u16>,
    notified: Option<u16>,
}

/// A call a `ring` step left ringing: its INVITE's transaction goes on in a task until
/// a final response (the pickup's 200, or a timeout that cancels it).
struct Ringing {
    task: JoinHandle<(Result<Answered, Cause>, Dialog, Inbox)>,
    slot: Slot,
    /// Cancels it.
    give_up: Arc<tokio::sync::Notify>,
}

/// The calls a flow holds between steps.
#[derive(Default)]
struct Legs {
    /// The caller's first call.
    first: Option<Up>,
    /// The caller's consultation: a second call while the first is up.
    consult: Option<Up>,
    /// The picker's call, after a `pickup`.
    picker: Option<Up>,
    ringing: Option<Ringing>,
}

/// Which of a flow's calls a message came in.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Which {
    First,
    Consult,
    Picker,
}

impl Legs {
    fn slot(&mut self, w: Which) -> &mut Option<Up> {
        match w {
            Which::First => &mut self.first,
            Which::Consult => &mut self.consult,
            Which::Picker => &mut self.picker,
        }
    }

    fn get(&mut self, w: Which) -> Option<&mut Up> {
        self.slot(w).as_mut()
    }

    /// The call `dtmf`, `hear` and `hangup` act on: the consultation while one is up.
    fn current(&mut self) -> Option<&mut Up> {
        self.get(self.current_which())
    }

    fn current_which(&self) -> Which {
        if self.consult.is_some() {
            Which::Consult
        } else {
            Which::First
        }
    }
}

/// A flow's answering phones: the one `{answerer}` names and, when the steps need it,
/// `{other}` (the picker of a `pickup`, a consultation's or transfer's target).
#[derive(Default, Clone)]
pub struct Partners {
    pub answerer: Option<Arc<Phone>>,
    pub other: Option<Arc<Phone>>,
    /// Taken from the idle answerers for this flow alone; given back at its end.
    pub owned: bool,
}

/// What a flow's steps share.
struct Flow<'a> {
    ctx: &'a Arc<Ctx>,
    phone: &'a Arc<Phone>,
    number: u32,
    partners: &'a Partners,
}

impl Flow<'_> {
    fn answerer(&self) -> Option<u32> {
        self.partners.answerer.as_ref().map(|p| p.ext)
    }

    /// The extensions of the flow's answering phones.
    fn partner_exts(&self) -> Vec<u32> {
        [&self.partners.answerer, &self.partners.other]
            .into_iter()
            .flatten()
            .map(|p| p.ext)
            .collect()
    }

    /// The caller's call, answered (its setup ran in a task: `ring`).
    fn caller_up(&self, d: Dialog, inbox: Inbox, answered: Answered, slot: Slot) -> Up {
        let phone = self.phone.clone();
        up(
            self.ctx,
            phone,
            d,
            inbox,
            answered,
            slot,
            self.number,
            Side::Caller,
        )
    }

    /// A call of the caller's (from `phone`: its own, or the carrier's) to `(Request-URI,
    /// To)`, answered.
    async fn place(
        &self,
        phone: &Arc<Phone>,
        to: (String, Option<String>),
        deadline: Instant,
    ) -> Result<Up, Cause> {
        call(self.ctx, phone, to, self.number, Side::Caller, deadline).await
    }

    /// A step's number with `{ext}`, `{answerer}` and `{other}` filled in.
    fn expand(&self, template: &str) -> String {
        let ext = |p: &Option<Arc<Phone>>| p.as_ref().map_or(0, |p| p.ext).to_string();
        template
            .replace("{ext}", &self.phone.ext.to_string())
            .replace("{answerer}", &ext(&self.partners.answerer))
            .replace("{other}", &ext(&self.partners.other))
    }
}

/// One caller's flow; the caller is idle again at the end, and answerers taken for
/// the flow are given back once their calls have ended.
pub async fn run_flow(ctx: Arc<Ctx>, phone: Arc<Phone>, number: u32, partners: Partners) {
    ctx.counters.call_started();
    let f = Flow {
        ctx: &ctx,
        phone: &phone,
        number,
        partners: &partners,
    };
    let steps = &ctx.scenario.steps;
    let mut legs = Legs::default();
    let mut previous_start = Instant::now();
    for (i, step) in steps.iter().enumerate() {
        let started = Instant::now();
        let outcome = match step.action {
            // Timed from the step before (the hang-up): its NOTIFY may come before
            // that step's end, when the message is stored before the BYE is answered.
            Action::Mwi { waiting } => mwi_step(&f, step, waiting, &mut legs, previous_start).await,
            _ => do_step(&f, step, &mut legs)
                .await
                .map(|()| started.elapsed()),
        };
        previous_start = started;
        // A call the switch hung up during the step is over once the step is judged.
        for w in [Which::First, Which::Consult, Which::Picker] {
            if let Some(call) = legs.slot(w).take_if(|c| c.ended) {
                end(&ctx, &call);
            }
        }
        match outcome {
            Ok(took) => ctx.flow.count(i, Ok(took)),
            Err(cause) => {
                ctx.flow.count(i, Err(&cause));
                ctx.counters
                    .fail(Cause::Step(step.name.clone(), Box::new(cause)));
                break;
            }
        }
    }
    finish(&f, legs).await;
    ctx.counters.call_ended();
    ctx.board.add_idle(phone.index);
}

/// The flow is over (or failed): what it still holds is hung up; the calls its own
/// answerers still have (a transfer joined them, or the switch left them up) are
/// hung up by one answerer, then the other; then the answerers go back to the pool.
async fn finish(f: &Flow<'_>, mut legs: Legs) {
    let ctx = f.ctx;
    let calls = [legs.consult.take(), legs.first.take(), legs.picker.take()];
    let _ = close(ctx, calls.into_iter().flatten()).await;
    if let Some(r) = legs.ringing.take() {
        // Still ringing: cancelled (hung up if answered meanwhile).
        r.give_up.notify_one();
        if let Ok((Ok(answered), d, inbox)) = r.task.await {
            let _ = hang_up(ctx, f.caller_up(d, inbox, answered, r.slot)).await;
        }
    }
    if !f.partners.owned {
        return;
    }
    // A later flow's `ring` or `hear` must find only its own calls on them. Calls the
    // switch is ending get a moment to end; those left up are hung up, one answerer
    // at a time (two BYEs crossing would be answered 481).
    let exts = f.partner_exts();
    let wait = |until: Instant| {
        let exts = &exts;
        async move {
            while exts.iter().any(|&e| ctx.flow.legs_of(e) > 0) && Instant::now() < until {
                tokio::time::sleep(POLL).await;
            }
        }
    };
    wait(Instant::now() + LEFT_UP).await;
    for &ext in &exts {
        if ctx.flow.legs_of(ext) > 0 {
            ctx.flow.hang_up(ext);
            wait(Instant::now() + ctx.scenario.timeout).await;
        }
    }
    ctx.flow.give_back(f.partners);
}

/// How long a flow's answerers' calls may take to end by themselves before they are
/// hung up at its end.
const LEFT_UP: Duration = Duration::from_millis(300);

/// Hangs up the calls still up and ends those the switch hung up; the first error.
async fn close(ctx: &Ctx, calls: impl Iterator<Item = Up>) -> Result<(), Cause> {
    let mut result = Ok(());
    for call in calls {
        if call.ended {
            end(ctx, &call);
        } else if let Err(e) = hang_up(ctx, call).await {
            result = result.and(Err(e));
        }
    }
    result
}

async fn do_step(f: &Flow<'_>, step: &Step, legs: &mut Legs) -> Result<(), Cause> {
    let ctx = f.ctx;
    let limit = step.within.unwrap_or(ctx.scenario.timeout);
    let deadline = Instant::now() + limit;
    // A call's setup may also take the time the far end waits before answering.
    let setup_deadline = Instant::now()
        + step
            .within
            .unwrap_or(ctx.scenario.timeout + ctx.scenario.answer_delay);
    match &step.action {
        Action::Dial { number, expect } => {
            let to = uri_of(ctx, &f.expand(number));
            let call = f.place(f.phone, to, setup_deadline).await;
            match (call, expect) {
                (Ok(call), None) => {
                    legs.first = Some(call);
                    Ok(())
                }
                (Ok(call), Some(code)) => {
                    let _ = hang_up(ctx, call).await;
                    Err(Cause::NotRefused(*code))
                }
                (Err(Cause::Code(got)), Some(code)) if got == *code => Ok(()),
                (Err(cause), _) => Err(cause),
            }
        }
        Action::CallIn(number) => {
            let carrier = ctx.flow.carrier.get().ok_or(Cause::NoTrunkRegistered)?;
            let contact = ctx.contacts.any().ok_or(Cause::NoTrunkRegistered)?;
            // To the Contact the trunk registered, the number called in To.
            let to = format!("<sip:{}@{}>", f.expand(number), ctx.scenario.domain);
            legs.first = Some(
                f.place(carrier, (contact, Some(to)), setup_deadline)
                    .await?,
            );
            Ok(())
        }
        Action::Ring(number) => ring_step(f, &f.expand(number), legs, deadline).await,
        Action::Pickup(code) => pickup(f, &f.expand(code), legs, setup_deadline).await,
        Action::Hold => {
            let call = legs
                .first
                .as_mut()
                .filter(|c| !c.ended)
                .ok_or(Cause::EarlyBye)?;
            call.sdp_version += 1;
            let sdp = crate::call::sdp_with(
                call.phone.local.ip(),
                call.slot.port,
                call.number,
                call.sdp_version,
                "sendonly",
            );
            let Up {
                phone, d, inbox, ..
            } = call;
            match crate::call::reinvite(ctx, phone, d, inbox, &sdp).await {
                Ok(_) => {
                    // A phone holding the far end sends nothing meanwhile.
                    if let Some((remote, _, _)) = call.media {
                        ctx.media.set_paused(call.slot, remote, true);
                    }
                    Ok(())
                }
                Err(Cause::EarlyBye) => {
                    call.ended = true;
                    Err(Cause::EarlyBye)
                }
                Err(other) => Err(other),
            }
        }
        Action::Consult(number) => {
            if legs.first.as_ref().is_none_or(|c| c.ended) {
                return Err(Cause::EarlyBye);
            }
            let to = uri_of(ctx, &f.expand(number));
            legs.consult = Some(f.place(f.phone, to, setup_deadline).await?);
            Ok(())
        }
        Action::Transfer(number) => transfer(f, &f.expand(number), legs, deadline).await,
        Action::Hear(Hear::Joined) => hear_joined(f, deadline).await,
        Action::Hear(kind) => {
            let call = legs.current().filter(|c| !c.ended).ok_or(Cause::EarlyBye)?;
            let mut heard_on = vec![call.media.map(|(r, _, id)| (call.slot, r, id))];
            // After a pickup the picker hears the caller too.
            if let (Some(p), Hear::Phone | Hear::Audio) = (&legs.picker, kind) {
                heard_on.push(p.media.map(|(r, _, id)| (p.slot, r, id)));
            }
            let heard_on: Vec<_> = heard_on
                .into_iter()
                .collect::<Option<_>>()
                .ok_or(Cause::BadSdp)?;
            let heard = |m: crate::media::LegMedia| match kind {
                Hear::Prompt => m.played,
                Hear::Phone => m.ok,
                Hear::Audio | Hear::Joined => m.played + m.ok,
            };
            let seen = |ctx: &Ctx| -> Vec<_> {
                heard_on
                    .iter()
                    .map(|&(slot, r, id)| ctx.media.seen(slot, r, id))
                    .collect()
            };
            let before = seen(ctx);
            let enough = |now: &[crate::media::LegMedia]| {
                now.iter()
                    .zip(&before)
                    .all(|(n, b)| heard(*n) >= heard(*b) + HEARD_PACKETS)
            };
            loop {
                let now = seen(ctx);
                if now.iter().zip(&before).any(|(n, b)| n.bad > b.bad) {
                    return Err(Cause::WrongRtp);
                }
                if enough(&now) {
                    return Ok(());
                }
                if Instant::now() >= deadline {
                    return Err(Cause::NotHeard(*kind));
                }
                let next = (Instant::now() + POLL).min(deadline);
                if let Err(cause) = pump(ctx, legs, next).await {
                    // Hung up: what came before the BYE may still be enough.
                    return if enough(&seen(ctx)) {
                        Ok(())
                    } else {
                        Err(cause)
                    };
                }
            }
        }
        Action::Dtmf(digits) => {
            let call = legs.current().filter(|c| !c.ended).ok_or(Cause::EarlyBye)?;
            let Some((remote, Some(pt), _)) = call.media else {
                return Err(Cause::NoDtmf);
            };
            let events: Vec<u8> = digits.chars().filter_map(event_of).collect();
            ctx.media.send_digits(call.slot, remote, pt, &events);
            let slot = call.slot;
            loop {
                if ctx.media.digits_sent(slot, remote) {
                    return Ok(());
                }
                if Instant::now() >= deadline {
                    return Err(Cause::NoDtmf);
                }
                pump(ctx, legs, (Instant::now() + POLL).min(deadline)).await?;
            }
        }
        Action::Wait(d) => {
            let until = Instant::now() + *d;
            if legs.current().is_some_and(|c| !c.ended) {
                pump(ctx, legs, until).await
            } else {
                tokio::time::sleep_until(until).await;
                Ok(())
            }
        }
        Action::Hangup => {
            // Ending a consultation leaves the first call as it was (held, if it was).
            let call = legs
                .slot(legs.current_which())
                .take_if(|c| !c.ended)
                .ok_or(Cause::EarlyBye)?;
            let hung_up = hang_up(ctx, call).await;
            // After a pickup the switch hangs up the picker too.
            match legs.picker.take() {
                Some(picker) if legs.first.is_none() => {
                    hung_up.and(hung_up_by_switch(ctx, picker, deadline).await)
                }
                picker => {
                    legs.picker = picker;
                    hung_up
                }
            }
        }
        Action::Bye => match pump_current(ctx, legs, deadline, false).await {
            Err(Cause::EarlyBye) => Ok(()),
            Err(other) => Err(other),
            Ok(()) => Err(Cause::NoBye),
        },
        Action::Mwi { .. } => unreachable!("run_flow gives MWI steps to mwi_step"),
    }
}

/// Waits for the answerer's mailbox to say `waiting`; the time from `since` to the
/// NOTIFY is the step's.
async fn mwi_step(
    f: &Flow<'_>,
    step: &Step,
    waiting: bool,
    legs: &mut Legs,
    since: Instant,
) -> Result<Duration, Cause> {
    let ctx = f.ctx;
    let deadline = Instant::now() + step.within.unwrap_or(ctx.scenario.timeout);
    let ext = f.answerer().ok_or(Cause::NoMwi)?;
    loop {
        if let Some(at) = ctx.flow.said(ext, waiting, since) {
            return Ok(at.saturating_duration_since(since));
        }
        if Instant::now() >= deadline {
            return Err(Cause::NoMwi);
        }
        let next = (Instant::now() + POLL).min(deadline);
        if legs.current().is_some_and(|c| !c.ended) {
            pump(ctx, legs, next).await?;
        } else {
            tokio::time::sleep_until(next).await;
        }
    }
}

/// The Request-URI of a call to `dialled` (and no To of its own: the same URI).
fn uri_of(ctx: &Ctx, dialled: &str) -> (String, Option<String>) {
    let s = &ctx.scenario;
    (format!("sip:{}{dialled}@{}", s.dial_prefix, s.domain), None)
}

/// The call a flow's phone places to `(Request-URI, To)`: its Dialog and SDP offer,
/// its inbox open.
fn new_call(
    ctx: &Ctx,
    phone: &Phone,
    (ruri, to): (String, Option<String>),
    number: u32,
) -> (Dialog, Inbox, Slot, String) {
    let call_id = format!("flow-{number}-{}", unique(ctx));
    let inbox = phone.open(&call_id);
    // A carrier sends to the Request-URI's host (the Contact a trunk registered), not
    // to an outbound proxy.
    if let Some(at) = phone.carrier.then(|| host_port(&ruri)).flatten() {
        phone.send_dialog_to(&call_id, at);
    }
    let mut d = Dialog::new(ctx, &call_id, ruri);
    if let Some(to) = to {
        d.to = to;
    }
    let slot = ctx.media.allocate();
    let offer = crate::call::sdp_offer(phone.local.ip(), slot.port, number);
    (d, inbox, slot, offer)
}

/// The address of a SIP URI with an IP address for host (`sip:user@127.0.0.1:5060;…`;
/// port 5060 when none is given).
fn host_port(uri: &str) -> Option<SocketAddr> {
    let uri = engine::sip::uri::Uri::parse(uri, "Contact").ok()?;
    let ip = uri.host_bare().parse().ok()?;
    Some(SocketAddr::new(ip, uri.port.unwrap_or(5060)))
}

/// Places a call from `phone` to `(Request-URI, To)`: answered, with its media started.
async fn call(
    ctx: &Ctx,
    phone: &Arc<Phone>,
    to: (String, Option<String>),
    number: u32,
    side: Side,
    deadline: Instant,
) -> Result<Up, Cause> {
    let (mut d, mut inbox, slot, offer) = new_call(ctx, phone, to, number);
    let started = Instant::now();
    match setup(ctx, phone, &mut d, &mut inbox, &offer, deadline).await {
        Ok(answered) => {
            ctx.counters.answered(started.elapsed());
            Ok(up(
                ctx,
                phone.clone(),
                d,
                inbox,
                answered,
                slot,
                number,
                side,
            ))
        }
        Err(cause) => {
            phone.close(&d.call_id);
            Err(cause)
        }
    }
}

/// An answered call of the flow, its media started.
#[allow(clippy::too_many_arguments)]
fn up(
    ctx: &Ctx,
    phone: Arc<Phone>,
    d: Dialog,
    inbox: Inbox,
    answered: Answered,
    slot: Slot,
    number: u32,
    side: Side,
) -> Up {
    let Answered {
        answer,
        ack,
        invite_cseq,
    } = answered;
    let mut media = None;
    if let Some((remote, events)) = crate::call::remote_media(&answer) {
        if ctx.scenario.rtp != RtpMode::Off {
            let id = ctx.media.start(slot, leg_spec(ctx, number, side, remote));
            media = Some((remote, events, id));
        }
    }
    Up {
        phone,
        d,
        inbox,
        ack,
        invite_cseq,
        slot,
        media,
        number,
        sdp_version: 1,
        ended: false,
        refer_code: None,
        notified: None,
    }
}

/// `ring`: the call goes out and the step passes when it rings; its setup runs on in
/// a task for the `pickup` that answers it.
async fn ring_step(
    f: &Flow<'_>,
    dialled: &str,
    legs: &mut Legs,
    deadline: Instant,
) -> Result<(), Cause> {
    let ctx = f.ctx;
    let (mut d, mut inbox, slot, offer) = new_call(ctx, f.phone, uri_of(ctx, dialled), f.number);
    let (tell, rang) = tokio::sync::oneshot::channel();
    let give_up = Arc::new(tokio::sync::Notify::new());
    let hook = crate::call::RingHook {
        rang: Some(tell),
        give_up: give_up.clone(),
    };
    // Until the pickup answers it or the flow gives it up (`finish`), bounded by the
    // flow's limit; then the INVITE is cancelled.
    let setup_until = Instant::now() + flow_limit(&ctx.scenario);
    let (c, phone) = (ctx.clone(), f.phone.clone());
    let task = tokio::spawn(async move {
        let r = crate::call::setup_telling(
            &c,
            &phone,
            &mut d,
            &mut inbox,
            &offer,
            setup_until,
            Some(hook),
        )
        .await;
        if r.is_err() {
            phone.close(&d.call_id);
        }
        (r, d, inbox)
    });
    let mut ringing = Ringing {
        task,
        slot,
        give_up,
    };
    match tokio::time::timeout_at(deadline, rang).await {
        Ok(Ok(())) => {
            legs.ringing = Some(ringing);
            Ok(())
        }
        // Over before it rang: refused, or answered at once.
        Ok(Err(_)) => match (&mut ringing.task).await {
            Ok((Ok(answered), d, inbox)) => {
                let _ = hang_up(ctx, f.caller_up(d, inbox, answered, slot)).await;
                Err(Cause::NotRinging)
            }
            Ok((Err(cause), _, _)) => Err(cause),
            Err(_) => Err(Cause::Timeout),
        },
        Err(_) => {
            legs.ringing = Some(ringing);
            Err(Cause::Timeout)
        }
    }
}

/// `pickup`: the other answerer dials the code; its call and the ringing one are
/// both answered.
async fn pickup(f: &Flow<'_>, code: &str, legs: &mut Legs, deadline: Instant) -> Result<(), Cause> {
    let ctx = f.ctx;
    let picker = f.partners.other.as_ref().ok_or(Cause::Timeout)?;
    let mut ringing = legs.ringing.take().ok_or(Cause::Timeout)?;
    let to = uri_of(ctx, code);
    match call(ctx, picker, to, f.number, Side::Callee, deadline).await {
        Ok(call) => legs.picker = Some(call),
        Err(cause) => {
            legs.ringing = Some(ringing);
            return Err(cause);
        }
    }
    match tokio::time::timeout_at(deadline, &mut ringing.task).await {
        Ok(Ok((Ok(answered), d, inbox))) => {
            legs.first = Some(f.caller_up(d, inbox, answered, ringing.slot));
            Ok(())
        }
        Ok(Ok((Err(cause), _, _))) => Err(cause),
        Ok(Err(_)) => Err(Cause::Timeout),
        Err(_) => {
            // Still ringing: the picker got another call, or none.
            legs.ringing = Some(ringing);
            Err(Cause::NotPickedUp)
        }
    }
}

/// How long a transferring phone waits, after the NOTIFY's 2xx, for the switch to
/// hang up its calls before it hangs them up itself.
const HANG_UP_AFTER: Duration = Duration::from_secs(1);

/// `transfer`: REFER in the first call to `target`, replacing the consultation when
/// one is up (attended), blind otherwise. Passes when a NOTIFY reports 2xx and the
/// caller's calls are down: hung up by the switch, or by the phone a second after
/// the NOTIFY (as phones do).
async fn transfer(
    f: &Flow<'_>,
    target: &str,
    legs: &mut Legs,
    deadline: Instant,
) -> Result<(), Cause> {
    let ctx = f.ctx;
    let domain = &ctx.scenario.domain;
    let replaces = legs
        .consult
        .as_ref()
        .filter(|c| !c.ended)
        .map(|c| replaces_of(&c.d));
    let first = legs
        .first
        .as_mut()
        .filter(|c| !c.ended)
        .ok_or(Cause::EarlyBye)?;
    first.d.cseq += 1;
    let cseq = first.d.cseq;
    let branch = format!("z9hG4bK{}", unique(ctx));
    let mut w = first.d.request(ctx, &first.phone, "REFER", &branch, cseq);
    let ext = first.phone.ext;
    match &replaces {
        Some(r) => w.header_fmt(
            "Refer-To",
            format_args!("<sip:{target}@{domain}?Replaces={r}>"),
        ),
        None => w.header_fmt("Refer-To", format_args!("<sip:{target}@{domain}>")),
    };
    w.header_fmt("Referred-By", format_args!("<sip:{ext}@{domain}>"))
        .header_fmt("Contact", format_args!("<sip:{ext}@{}>", first.phone.local));
    let refer = w.finish();
    first.refer_code = None;
    first.notified = None;
    if !first.phone.send(ctx, &refer).await {
        return Err(Cause::SendError);
    }
    let mut wait = T1;
    let mut resend_at = Instant::now() + wait;
    // When a NOTIFY first said 2xx.
    let mut done_at: Option<Instant> = None;
    loop {
        let Some(first) = legs.first.as_ref() else {
            return Err(Cause::TransferFailed);
        };
        if first.refer_code.is_some_and(|c| c >= 300) || first.notified.is_some_and(|c| c >= 300) {
            return Err(Cause::TransferFailed);
        }
        let now = Instant::now();
        if first.notified.is_some_and(|c| (200..300).contains(&c)) {
            done_at.get_or_insert(now);
        }
        let over = first.ended && legs.consult.as_ref().is_none_or(|c| c.ended);
        // Done, and not hung up by the switch within a second (or by the step's end):
        // the phone hangs up itself, as phones do after the NOTIFY's 2xx.
        if let Some(at) = done_at {
            if over || now >= (at + HANG_UP_AFTER).min(deadline) {
                let calls = [legs.first.take(), legs.consult.take()];
                return close(ctx, calls.into_iter().flatten()).await;
            }
        } else if now >= deadline {
            return Err(Cause::TransferFailed);
        }
        if first.refer_code.is_none() && now >= resend_at {
            first.phone.send(ctx, &refer).await;
            wait = (wait * 2).min(T2);
            resend_at = now + wait;
        }
        let until = match (first.refer_code, done_at) {
            (None, _) => resend_at.min(deadline),
            (Some(_), Some(at)) => (at + HANG_UP_AFTER).min(deadline),
            (Some(_), None) => deadline,
        };
        if let Some((w, m)) = next_message(legs, until).await {
            if let Some(call) = legs.get(w) {
                handle(ctx, call, m).await;
            }
        }
    }
}

/// The Replaces of a dialog (RFC 3891), escaped for a Refer-To URI's header.
fn replaces_of(d: &Dialog) -> String {
    let to_tag =
        d.to.split(';')
            .find_map(|p| {
                let (name, value) = p.split_once('=')?;
                name.trim()
                    .eq_ignore_ascii_case("tag")
                    .then(|| value.trim())
            })
            .unwrap_or_default();
    format!(
        "{}%3Bto-tag%3D{}%3Bfrom-tag%3D{}",
        escape(&d.call_id),
        escape(to_tag),
        escape(&d.from_tag)
    )
}

/// `s` percent-encoded for a URI header's value (RFC 3261's hvalue: unreserved
/// characters and a few marks kept).
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.!~*'()[]/:+$".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `hear = "joined"`: the flow's two answerers, joined by its transfer, each get
/// another phone's signature (the caller's streams have stopped).
async fn hear_joined(f: &Flow<'_>, deadline: Instant) -> Result<(), Cause> {
    let ctx = f.ctx;
    let exts = f.partner_exts();
    // Per answerer: its newest call's stream, and what it had seen when first found.
    let mut before: Vec<Option<(LegStream, crate::media::LegMedia)>> = vec![None; exts.len()];
    loop {
        let mut heard = 0;
        for (i, &ext) in exts.iter().enumerate() {
            let Some(leg) = ctx.flow.media_of(ext) else {
                continue;
            };
            let (slot, r, id) = leg;
            let now = ctx.media.seen(slot, r, id);
            // A newer call of the answerer starts its count again.
            let base = match &before[i] {
                Some((l, m)) if *l == leg => *m,
                _ => {
                    before[i] = Some((leg, now));
                    now
                }
            };
            if now.bad > base.bad {
                return Err(Cause::WrongRtp);
            }
            // The other answerer's signature (each signs with its extension).
            let partner = exts.iter().copied().find(|&e| e != ext);
            if now.ok >= base.ok + HEARD_PACKETS && now.heard_from == partner {
                heard += 1;
            }
        }
        if exts.len() == 2 && heard == 2 {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(Cause::NotHeard(Hear::Joined));
        }
        tokio::time::sleep((deadline - Instant::now()).min(POLL)).await;
    }
}

/// The stream of a flow's leg: its signature, listening for anyone.
pub fn leg_spec(ctx: &Ctx, call: u32, side: Side, remote: SocketAddr) -> StreamSpec {
    StreamSpec {
        call,
        side,
        remote,
        send_for: crate::call::send_for(ctx.scenario.rtp),
        dtmf_pt: None,
        dtmf_rx_pt: Some(crate::call::DTMF_PT),
        echo_ok: false,
        hold_audio: false,
        listen_any: true,
        learn: false,
    }
}

/// The next message in any of the flow's calls before `until` (`None`: none came).
async fn next_message(legs: &mut Legs, until: Instant) -> Option<(Which, Message)> {
    async fn recv(call: &mut Option<Up>) -> Option<Message> {
        match call {
            Some(c) => c.inbox.recv().await,
            None => std::future::pending().await,
        }
    }
    let Legs {
        first,
        consult,
        picker,
        ..
    } = legs;
    tokio::select! {
        Some(m) = recv(first) => Some((Which::First, m)),
        Some(m) = recv(consult) => Some((Which::Consult, m)),
        Some(m) = recv(picker) => Some((Which::Picker, m)),
        _ = tokio::time::sleep_until(until) => None,
    }
}

/// What comes in a call: the 2xx again (ACKed again), the switch's requests
/// (answered; a re-INVITE gets our SDP again, a NOTIFY's sipfrag is kept), a REFER's
/// final response kept. Returns whether the call has ended (a BYE).
async fn handle(ctx: &Ctx, call: &mut Up, m: Message) -> bool {
    let method = m.method().map(|x| x.as_str().to_owned());
    match (m.code(), method.as_deref()) {
        (Some(code), _) => {
            let cseq = m.cseq();
            if (200..300).contains(&code)
                && cseq.is_some_and(|c| c.method == "INVITE" && c.seq == call.invite_cseq)
            {
                call.phone.send(ctx, &call.ack).await;
            } else if code >= 200 && cseq.is_some_and(|c| c.method == "REFER") {
                call.refer_code = Some(code);
            }
        }
        (None, Some("BYE")) => {
            call.phone.answer_stray(ctx, &m).await;
            call.ended = true;
        }
        (None, Some("INVITE")) => {
            call.sdp_version += 1;
            let contact = format!("<sip:{}@{}>", call.phone.ext, call.phone.local);
            let ok = crate::call::reinvite_ok(
                &m,
                &contact,
                call.phone.local.ip(),
                call.slot.port,
                call.number,
                call.sdp_version,
            );
            call.phone.send(ctx, &ok).await;
        }
        (None, Some("NOTIFY")) => {
            call.phone.answer_stray(ctx, &m).await;
            if let Some(code) = crate::call::sipfrag_code(m.body()) {
                call.notified = Some(code);
            }
        }
        (None, _) => call.phone.answer_stray(ctx, &m).await,
    }
    call.ended
}

/// Handles what arrives in the flow's calls until `until`; the current call or the
/// picker's ending (a BYE) ends it early (`EarlyBye`).
async fn pump(ctx: &Ctx, legs: &mut Legs, until: Instant) -> Result<(), Cause> {
    pump_current(ctx, legs, until, true).await
}

/// Waits until `until` for the switch to hang `call` up, answering what else comes.
async fn await_bye(ctx: &Ctx, call: &mut Up, until: Instant) {
    while !call.ended {
        match tokio::time::timeout_at(until, call.inbox.recv()).await {
            Ok(Some(m)) => {
                handle(ctx, call, m).await;
            }
            Ok(None) | Err(_) => return,
        }
    }
}

/// Waits for the switch's BYE of `call` (until `deadline`): `NoBye` if it does not
/// come (the phone then hangs up itself).
async fn hung_up_by_switch(ctx: &Ctx, mut call: Up, deadline: Instant) -> Result<(), Cause> {
    await_bye(ctx, &mut call, deadline).await;
    let by_switch = call.ended;
    close(ctx, std::iter::once(call)).await?;
    if by_switch {
        Ok(())
    } else {
        Err(Cause::NoBye)
    }
}

/// `pump`; the picker's ending counts only with `picker_too` (a `bye` step waits for
/// the current call's).
async fn pump_current(
    ctx: &Ctx,
    legs: &mut Legs,
    until: Instant,
    picker_too: bool,
) -> Result<(), Cause> {
    if legs.current().is_none_or(|c| c.ended) {
        return Err(Cause::EarlyBye);
    }
    loop {
        let Some((w, m)) = next_message(legs, until).await else {
            return Ok(());
        };
        let current = legs.current_which();
        let Some(call) = legs.get(w) else { continue };
        if handle(ctx, call, m).await && (w == current || (picker_too && w == Which::Picker)) {
            return Err(Cause::EarlyBye);
        }
    }
}

/// A phone dials a feature code (an agent's `*40` and its queue): the switch answers,
/// confirms aloud and hangs up. `Ok` when its BYE came and, with RTP on, the prompt
/// was heard.
pub async fn feature_code(ctx: &Ctx, phone: &Arc<Phone>, code: &str) -> Result<(), Cause> {
    let to = (format!("sip:{code}@{}", ctx.scenario.domain), None);
    let (mut d, mut inbox, slot, offer) = new_call(ctx, phone, to, 0);
    let deadline = Instant::now() + ctx.scenario.timeout;
    let answered = match setup(ctx, phone, &mut d, &mut inbox, &offer, deadline).await {
        Ok(a) => a,
        Err(cause) => {
            phone.close(&d.call_id);
            return Err(cause);
        }
    };
    let mut call = up(
        ctx,
        phone.clone(),
        d,
        inbox,
        answered,
        slot,
        0,
        Side::Caller,
    );
    await_bye(ctx, &mut call, Instant::now() + ctx.scenario.timeout * 2).await;
    let heard = call
        .media
        .map(|(r, _, id)| ctx.media.seen(call.slot, r, id));
    let by_switch = call.ended;
    close(ctx, std::iter::once(call)).await?;
    match heard {
        _ if !by_switch => Err(Cause::NoBye),
        Some(m) if m.played == 0 => Err(Cause::NotHeard(Hear::Prompt)),
        _ => Ok(()),
    }
}

/// Stops a call's media and its routing; what its stream saw.
fn end(ctx: &Ctx, call: &Up) -> crate::media::LegMedia {
    call.phone.close(&call.d.call_id);
    match call.media {
        Some((remote, _, id)) => ctx.media.stop(call.slot, remote, id),
        None => Default::default(),
    }
}

/// The phone hangs up: BYE, answered 2xx.
async fn hang_up(ctx: &Ctx, mut call: Up) -> Result<(), Cause> {
    call.d.cseq += 1;
    let branch = format!("z9hG4bK{}", unique(ctx));
    let bye = call
        .d
        .request(ctx, &call.phone, "BYE", &branch, call.d.cseq)
        .finish();
    let deadline = Instant::now() + ctx.scenario.timeout;
    let r = call
        .phone
        .transact(ctx, &mut call.inbox, &bye, "BYE", call.d.cseq, deadline)
        .await;
    let heard = end(ctx, &call);
    match r?.code() {
        // Nothing crossed into the call while it was up (its own audio back).
        Some(200..=299) if heard.bad > 0 => Err(Cause::WrongRtp),
        Some(200..=299) => Ok(()),
        code => Err(Cause::ByeCode(code.unwrap_or(0))),
    }
}

/// An answering phone takes what the switch offers it, the way the scenario says.
pub async fn answer(ctx: &Ctx, phone: &Phone, invite: &Message, inbox: &mut Inbox) {
    let tag = unique(ctx);
    match ctx.scenario.answering {
        Answering::Busy => {
            let busy = MessageWriter::response_to(invite, 486, "Busy Here", Some(&tag)).finish();
            phone.send(ctx, &busy).await;
            crate::call::linger(ctx, phone, inbox, &busy).await;
        }
        Answering::Ring => ring(ctx, phone, invite, inbox, &tag).await,
        Answering::Answer => {
            let expect = Expect {
                number: phone.ext,
                dtmf: false,
                transfer: None,
                hang_up: None,
            };
            if let Err(cause) = crate::call::callee(ctx, phone, invite, inbox, expect).await {
                ctx.counters
                    .fail(Cause::Step("answerer".into(), Box::new(cause)));
            }
        }
    }
}

/// Rings until the switch cancels the call (or the flow's time is up).
async fn ring(ctx: &Ctx, phone: &Phone, invite: &Message, inbox: &mut Inbox, tag: &str) {
    let ringing = MessageWriter::response_to(invite, 180, "Ringing", Some(tag)).finish();
    phone.send(ctx, &ringing).await;
    let until = Instant::now() + flow_limit(&ctx.scenario);
    while let Ok(Some(m)) = tokio::time::timeout_at(until, inbox.recv()).await {
        match m.method().map(|x| x.as_str()) {
            Some("INVITE") => {
                phone.send(ctx, &ringing).await;
            }
            Some("CANCEL") => {
                let ok = MessageWriter::response_to(&m, 200, "OK", Some(tag)).finish();
                phone.send(ctx, &ok).await;
                let gone = MessageWriter::response_to(invite, 487, "Request Terminated", Some(tag))
                    .finish();
                phone.send(ctx, &gone).await;
                crate::call::linger(ctx, phone, inbox, &gone).await;
                return;
            }
            _ => {}
        }
    }
    let gone =
        MessageWriter::response_to(invite, 480, "Temporarily Unavailable", Some(tag)).finish();
    phone.send(ctx, &gone).await;
}

/// Keeps an answering phone subscribed to its mailbox's summary (RFC 3842) and records
/// every NOTIFY; reports whether the SUBSCRIBE was accepted through `first`.
pub async fn watch_mailbox(
    ctx: Arc<Ctx>,
    phone: Arc<Phone>,
    first: tokio::sync::oneshot::Sender<Result<(), Cause>>,
) {
    let call_id = format!("mwi-{}-{}", phone.ext, unique(&ctx));
    let mut inbox = phone.open(&call_id);
    let r = subscribe(&ctx, &phone, &call_id, &mut inbox).await;
    let ok = r.is_ok();
    let _ = first.send(r);
    if !ok {
        phone.close(&call_id);
        return;
    }
    // Runs shorter than the hour granted need no refresh.
    while let Some(m) = inbox.recv().await {
        if m.method().map(|x| x.as_str()) == Some("NOTIFY") {
            let ok = MessageWriter::response_to(&m, 200, "OK", None).finish();
            phone.send(&ctx, &ok).await;
            if let Some(waiting) = messages_waiting(m.body()) {
                ctx.flow.notified(phone.ext, waiting);
            }
        } else if m.is_request() {
            phone.answer_stray(&ctx, &m).await;
        }
    }
}

/// The SUBSCRIBE to the phone's own message summary, its challenge answered.
async fn subscribe(
    ctx: &Ctx,
    phone: &Phone,
    call_id: &str,
    inbox: &mut Inbox,
) -> Result<(), Cause> {
    let user = phone.ext.to_string();
    let uri = format!("sip:{user}@{}", ctx.scenario.domain);
    let account = crate::ua::Account {
        user: &user,
        domain: &ctx.scenario.domain,
        local: phone.local,
        transport: "UDP",
    };
    let from_tag = format!("m{}", phone.index);
    let request = |cseq: u32, auth: Option<(&str, String)>| {
        let ids = crate::ua::Ids {
            call_id,
            cseq,
            branch: &format!("z9hG4bK{}", unique(ctx)),
            from_tag: &from_tag,
        };
        let mut w = account.request("SUBSCRIBE", &uri, &format!("<{uri}>"), &ids);
        w.header("Contact", &account.contact())
            .header("Event", "message-summary")
            .header("Accept", "application/simple-message-summary")
            .header("Expires", "3600");
        if let Some((name, value)) = auth {
            w.header(name, &value);
        }
        w.finish()
    };
    let deadline = Instant::now() + ctx.scenario.timeout;
    let timeout = |c: Cause| match c {
        Cause::ByeTimeout => Cause::SubscribeTimeout,
        other => other,
    };
    let mut resp = phone
        .transact(ctx, inbox, &request(1, None), "SUBSCRIBE", 1, deadline)
        .await
        .map_err(timeout)?;
    if let Some(code @ (401 | 407)) = resp.code() {
        let c = Challenge::from_response(&resp).ok_or(Cause::SubscribeCode(code))?;
        let answer = c.answer(&user, &phone.password, "SUBSCRIBE", &uri, &unique(ctx));
        let name = crate::call::auth_header(code);
        resp = phone
            .transact(
                ctx,
                inbox,
                &request(2, Some((name, answer))),
                "SUBSCRIBE",
                2,
                deadline,
            )
            .await
            .map_err(timeout)?;
    }
    match resp.code() {
        Some(200..=299) => Ok(()),
        code => Err(Cause::SubscribeCode(code.unwrap_or(0))),
    }
}

/// `Messages-Waiting: yes|no` of a message-summary body.
fn messages_waiting(body: &[u8]) -> Option<bool> {
    let text = std::str::from_utf8(body).ok()?;
    text.lines().find_map(|l| {
        let (name, value) = l.split_once(':')?;
        if !name.trim().eq_ignore_ascii_case("messages-waiting") {
            return None;
        }
        match value.trim().to_ascii_lowercase().as_str() {
            "yes" => Some(true),
            "no" => Some(false),
            _ => None,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_and_contacts_are_read_and_written_as_sip_has_them() {
        let d = Dialog {
            call_id: "flow-1-ab@h".into(),
            from_tag: "c1".into(),
            to: "<sip:2001@d>;TAG=x;y".into(),
            target_uri: "sip:2001@d".into(),
            routes: None,
            cseq: 1,
        };
        assert_eq!(
            replaces_of(&d),
            "flow-1-ab%40h%3Bto-tag%3Dx%3Bfrom-tag%3Dc1"
        );
        assert_eq!(
            host_port("sip:acme@127.0.0.1:5070;transport=udp"),
            Some("127.0.0.1:5070".parse().unwrap())
        );
        assert_eq!(
            host_port("sip:acme@127.0.0.2"),
            Some("127.0.0.2:5060".parse().unwrap())
        );
        assert_eq!(host_port("sip:acme@switch.example"), None);
    }

    #[test]
    fn each_mwi_step_counts_a_notify_of_its_own() {
        let flow = FlowState::default();
        let since = Instant::now();
        flow.notified(200, true);
        let at = flow.said(200, true, since).expect("the NOTIFY");
        assert!(at >= since);
        assert_eq!(
            flow.said(200, true, since),
            None,
            "a second caller's step needs a second NOTIFY"
        );
        assert_eq!(flow.said(201, true, since), None, "another mailbox's");
        flow.notified(200, false);
        flow.notified(200, true);
        assert!(flow.said(200, true, since).is_some());
        assert!(flow.said(200, false, since).is_some());
        assert_eq!(
            flow.said(200, true, Instant::now() + Duration::from_secs(1)),
            None
        );
    }

    #[test]
    fn message_summaries_say_whether_messages_wait() {
        assert_eq!(
            messages_waiting(
                b"Messages-Waiting: yes\r\nMessage-Account: sip:105@d\r\nVoice-Message: 1/0\r\n"
            ),
            Some(true)
        );
        assert_eq!(messages_waiting(b"messages-waiting:no\r\n"), Some(false));
        assert_eq!(messages_waiting(b"Voice-Message: 1/0\r\n"), None);
    }

    #[test]
    fn the_flow_limit_adds_every_step_at_its_limit() {
        let s = Scenario::parse(
            "[[steps]]\ndial = \"500\"\n[[steps]]\nhear = \"audio\"\nwithin = \"3s\"\n[[steps]]\nwait = \"10s\"\n[[steps]]\nhangup = true\n",
        )
        .unwrap();
        // dial: timeout 8 s; hear 3 s; wait 10 s; hangup 8 s; plus one timeout.
        assert_eq!(flow_limit(&s), Duration::from_secs(8 + 3 + 10 + 8 + 8));
    }

    #[test]
    fn steps_are_counted_by_outcome_and_reported_in_order() {
        let s = Scenario::parse("[[steps]]\ndial = \"*78\"\n[[steps]]\nbye = true\n").unwrap();
        let f = FlowState::default();
        f.count(0, Ok(Duration::from_millis(40)));
        f.count(0, Ok(Duration::from_millis(60)));
        f.count(1, Err(&Cause::NoBye));
        f.count(0, Err(&Cause::Code(404)));
        let r = f.report(&s.steps);
        assert_eq!(r.len(), 2);
        assert_eq!(
            (r[0].name.as_str(), r[0].attempted, r[0].passed),
            ("dial *78", 3, 2)
        );
        assert_eq!(r[0].failed.get("404"), Some(&1));
        assert_eq!(r[0].ms.p50, 40.0);
        assert_eq!(r[1].failed.get("no bye from the switch"), Some(&1));
    }
}
