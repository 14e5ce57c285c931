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

use crate::call::{setup, Answered, Dialog};
use crate::media::{Side, Slot, StreamSpec};
use crate::phone::{unique, Inbox, Phone};
use crate::report::Cause;
use crate::run::{Ctx, Expect};
use crate::scenario::{Answering, RtpMode, Scenario};
use crate::stats::Percentiles;
use crate::steps::{event_of, Action, Hear, Step, HEARD_PACKETS};

/// How often a step that waits for audio or a digit looks again.
const POLL: Duration = Duration::from_millis(20);

/// How many NOTIFYs a watched mailbox remembers.
const NOTIFIES_KEPT: usize = 16;

/// What a flow's callers and answerers share: the steps' counts, and what each
/// answerer's mailbox said when.
#[derive(Default)]
pub struct FlowState {
    steps: Mutex<Vec<StepCount>>,
    /// Per answerer: the NOTIFYs its mailbox sent.
    mailboxes: Mutex<HashMap<u32, Vec<Notified>>>,
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
            Action::Dial { .. } => step.within.unwrap_or(s.timeout + s.answer_delay),
            _ => step.within.unwrap_or(s.timeout),
        })
        .sum::<Duration>()
        + s.timeout
}

/// A call of the flow while it is up.
struct Up {
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
}

/// One caller's flow; the caller is idle again at the end.
pub async fn run_flow(ctx: Arc<Ctx>, phone: Arc<Phone>, number: u32, answerer: Option<u32>) {
    ctx.counters.call_started();
    let steps = &ctx.scenario.steps;
    let mut up: Option<Up> = None;
    let mut previous_start = Instant::now();
    for (i, step) in steps.iter().enumerate() {
        let started = Instant::now();
        let outcome = match step.action {
            // Timed from the step before (the hang-up): its NOTIFY may come before
            // that step's end, when the message is stored before the BYE is answered.
            Action::Mwi { waiting } => {
                mwi_step(
                    &ctx,
                    &phone,
                    step,
                    answerer,
                    waiting,
                    &mut up,
                    previous_start,
                )
                .await
            }
            _ => do_step(&ctx, &phone, step, number, answerer, &mut up)
                .await
                .map(|()| started.elapsed()),
        };
        previous_start = started;
        // A call the switch hung up during the step is over once the step is judged.
        if let Some(call) = up.take_if(|c| c.ended) {
            end(&ctx, &phone, &call);
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
    if let Some(call) = up.take() {
        // The flow ended (or failed) with its call up: the caller hangs up.
        if call.ended {
            end(&ctx, &phone, &call);
        } else {
            let _ = hang_up(&ctx, &phone, call).await;
        }
    }
    ctx.counters.call_ended();
    ctx.board.add_idle(phone.index);
}

async fn do_step(
    ctx: &Ctx,
    phone: &Phone,
    step: &Step,
    number: u32,
    answerer: Option<u32>,
    up: &mut Option<Up>,
) -> Result<(), Cause> {
    let limit = step.within.unwrap_or(ctx.scenario.timeout);
    let deadline = Instant::now() + limit;
    match &step.action {
        Action::Dial {
            number: template,
            expect,
        } => {
            let dialled = template
                .replace("{ext}", &phone.ext.to_string())
                .replace("{answerer}", &answerer.unwrap_or_default().to_string());
            let deadline = Instant::now()
                + step
                    .within
                    .unwrap_or(ctx.scenario.timeout + ctx.scenario.answer_delay);
            let call = dial(ctx, phone, &dialled, number, deadline).await;
            match (call, expect) {
                (Ok(call), None) => {
                    *up = Some(call);
                    Ok(())
                }
                (Ok(call), Some(code)) => {
                    let _ = hang_up(ctx, phone, call).await;
                    Err(Cause::NotRefused(*code))
                }
                (Err(Cause::Code(got)), Some(code)) if got == *code => Ok(()),
                (Err(cause), _) => Err(cause),
            }
        }
        Action::Hear(kind) => {
            let call = up.as_ref().filter(|c| !c.ended).ok_or(Cause::EarlyBye)?;
            let Some((remote, _, id)) = call.media else {
                return Err(Cause::BadSdp);
            };
            let slot = call.slot;
            let heard = |m: crate::media::LegMedia| match kind {
                Hear::Prompt => m.played,
                Hear::Phone => m.ok,
                Hear::Audio => m.played + m.ok,
            };
            let before = ctx.media.seen(slot, remote, id);
            loop {
                let now = ctx.media.seen(slot, remote, id);
                if now.bad > before.bad {
                    return Err(Cause::WrongRtp);
                }
                if heard(now) >= heard(before) + HEARD_PACKETS {
                    return Ok(());
                }
                if Instant::now() >= deadline {
                    return Err(Cause::NotHeard(*kind));
                }
                let next = (Instant::now() + POLL).min(deadline);
                if let Err(cause) = pump(ctx, phone, up, next).await {
                    // Hung up: what came before the BYE may still be enough.
                    let last = ctx.media.seen(slot, remote, id);
                    return if heard(last) >= heard(before) + HEARD_PACKETS {
                        Ok(())
                    } else {
                        Err(cause)
                    };
                }
            }
        }
        Action::Dtmf(digits) => {
            let call = up.as_ref().filter(|c| !c.ended).ok_or(Cause::EarlyBye)?;
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
                pump(ctx, phone, up, (Instant::now() + POLL).min(deadline)).await?;
            }
        }
        Action::Wait(d) => {
            let until = Instant::now() + *d;
            if up.as_ref().is_some_and(|c| !c.ended) {
                pump(ctx, phone, up, until).await
            } else {
                tokio::time::sleep_until(until).await;
                Ok(())
            }
        }
        Action::Hangup => {
            let call = up.take_if(|c| !c.ended).ok_or(Cause::EarlyBye)?;
            hang_up(ctx, phone, call).await
        }
        Action::Bye => match pump(ctx, phone, up, deadline).await {
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
    ctx: &Ctx,
    phone: &Phone,
    step: &Step,
    answerer: Option<u32>,
    waiting: bool,
    up: &mut Option<Up>,
    since: Instant,
) -> Result<Duration, Cause> {
    let deadline = Instant::now() + step.within.unwrap_or(ctx.scenario.timeout);
    let ext = answerer.ok_or(Cause::NoMwi)?;
    loop {
        if let Some(at) = ctx.flow.said(ext, waiting, since) {
            return Ok(at.saturating_duration_since(since));
        }
        if Instant::now() >= deadline {
            return Err(Cause::NoMwi);
        }
        let next = (Instant::now() + POLL).min(deadline);
        if up.as_ref().is_some_and(|c| !c.ended) {
            pump(ctx, phone, up, next).await?;
        } else {
            tokio::time::sleep_until(next).await;
        }
    }
}

/// Places a call to `dialled`: answered, with its media started.
async fn dial(
    ctx: &Ctx,
    phone: &Phone,
    dialled: &str,
    number: u32,
    deadline: Instant,
) -> Result<Up, Cause> {
    let s = &ctx.scenario;
    let ruri = format!("sip:{}{dialled}@{}", s.dial_prefix, s.domain);
    let call_id = format!("flow-{number}-{}", unique(ctx));
    let mut inbox = phone.open(&call_id);
    let mut d = Dialog::new(ctx, &call_id, ruri);
    let slot = ctx.media.allocate();
    let offer = crate::call::sdp_offer(phone.local.ip(), slot.port, number);
    let started = Instant::now();
    let answered = setup(ctx, phone, &mut d, &mut inbox, &offer, deadline).await;
    let Answered {
        answer,
        ack,
        invite_cseq,
    } = match answered {
        Ok(a) => a,
        Err(cause) => {
            phone.close(&call_id);
            return Err(cause);
        }
    };
    ctx.counters.answered(started.elapsed());
    let mut media = None;
    if let Some((remote, events)) = crate::call::remote_media(&answer) {
        if s.rtp != RtpMode::Off {
            let id = ctx
                .media
                .start(slot, leg_spec(ctx, number, Side::Caller, remote));
            media = Some((remote, events, id));
        }
    }
    Ok(Up {
        d,
        inbox,
        ack,
        invite_cseq,
        slot,
        media,
        number,
        sdp_version: 1,
        ended: false,
    })
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

/// Handles what arrives in the call until `until`: the 2xx again (ACKed again), the
/// switch's requests (answered); a BYE ends the call (`EarlyBye`).
async fn pump(ctx: &Ctx, phone: &Phone, up: &mut Option<Up>, until: Instant) -> Result<(), Cause> {
    let Some(call) = up.as_mut().filter(|c| !c.ended) else {
        return Err(Cause::EarlyBye);
    };
    loop {
        let m = match tokio::time::timeout_at(until, call.inbox.recv()).await {
            Err(_) => return Ok(()),
            Ok(None) => return Err(Cause::EarlyBye),
            Ok(Some(m)) => m,
        };
        if m.code().is_some_and(|c| (200..300).contains(&c))
            && m.cseq()
                .is_some_and(|c| c.method == "INVITE" && c.seq == call.invite_cseq)
        {
            phone.send(ctx, &call.ack).await;
        } else if m.method().map(|x| x.as_str()) == Some("BYE") {
            phone.answer_stray(ctx, &m).await;
            call.ended = true;
            return Err(Cause::EarlyBye);
        } else if m.method().map(|x| x.as_str()) == Some("INVITE") {
            // The switch re-INVITEs (a merge, a transfer): our SDP again.
            call.sdp_version += 1;
            let contact = format!("<sip:{}@{}>", phone.ext, phone.local);
            let ok = crate::call::reinvite_ok(
                &m,
                &contact,
                phone.local.ip(),
                call.slot.port,
                call.number,
                call.sdp_version,
            );
            phone.send(ctx, &ok).await;
        } else if m.is_request() {
            phone.answer_stray(ctx, &m).await;
        }
    }
}

/// Stops a call's media and its routing.
fn end(ctx: &Ctx, phone: &Phone, call: &Up) {
    if let Some((remote, _, id)) = call.media {
        ctx.media.stop(call.slot, remote, id);
    }
    phone.close(&call.d.call_id);
}

/// The caller hangs up: BYE, answered 2xx.
async fn hang_up(ctx: &Ctx, phone: &Phone, mut call: Up) -> Result<(), Cause> {
    call.d.cseq += 1;
    let branch = format!("z9hG4bK{}", unique(ctx));
    let bye = call
        .d
        .request(ctx, phone, "BYE", &branch, call.d.cseq)
        .finish();
    let deadline = Instant::now() + ctx.scenario.timeout;
    let r = phone
        .transact(ctx, &mut call.inbox, &bye, "BYE", call.d.cseq, deadline)
        .await;
    end(ctx, phone, &call);
    match r?.code() {
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
