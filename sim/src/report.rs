//! What a run measured: counters while it runs, the final report after.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use serde::Serialize;

use crate::media::{LegMedia, Side};
use crate::stats::Percentiles;

/// Why a registration, call or audio check failed: a SIP status code, or a cause.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Cause {
    /// A final response to an INVITE (`"486"`).
    Code(u16),
    /// A REGISTER answered with an error (`"register 403"`).
    RegisterCode(u16),
    /// A BYE answered with an error (`"bye 481"`).
    ByeCode(u16),
    /// No registration within the timeout.
    RegisterTimeout,
    /// No final response to the INVITE within the timeout (the call is cancelled).
    Timeout,
    /// No answer to the BYE.
    ByeTimeout,
    /// The callee got no ACK for its 200.
    NoAck,
    /// The switch hung up an answered call before the caller did.
    EarlyBye,
    /// A phone got an INVITE it was not called with (a misrouted call).
    Misrouted,
    /// An answered call whose legs got no RTP at all.
    NoRtp,
    /// Only one leg got the other's RTP.
    OneWayRtp,
    /// A leg got RTP of another call (or its own).
    WrongRtp,
    /// A leg got under half of what the other side sent.
    RtpLoss,
    /// A DTMF call whose callee got no RFC 4733 event.
    NoDtmf,
    /// The answer had no usable SDP.
    BadSdp,
    /// The sim could not send (socket error).
    SendError,
    /// A hold or resume re-INVITE was refused, unanswered or answered wrongly.
    HoldFailed,
    /// A blind transfer's REFER was refused, or its target did not answer.
    TransferFailed,
    /// A queue's caller hung up after its patience without reaching an agent.
    Abandoned,
    /// A queue's caller who waited heard nothing from the switch (no music, no prompt).
    NoHoldAudio,
    /// A flow's `hear` step heard nothing of its kind in time.
    NotHeard(crate::steps::Hear),
    /// A flow's `dial` expected this refusal and was answered.
    NotRefused(u16),
    /// A flow's `bye` step: the switch did not hang up in time.
    NoBye,
    /// A flow's `mwi` step: no NOTIFY saying so in time.
    NoMwi,
    /// A flow's `ring` step: the call was answered at once, not left ringing.
    NotRinging,
    /// A flow's `pickup` step: the picker was answered, the ringing call was not.
    NotPickedUp,
    /// A flow's `call_in` step: no trunk has registered at the carrier.
    NoTrunkRegistered,
    /// An answering phone's message-summary SUBSCRIBE was refused or unanswered.
    SubscribeCode(u16),
    SubscribeTimeout,
    /// What failed a flow's step (by its name), or an answering phone's call.
    Step(String, Box<Cause>),
}

impl Cause {
    pub fn key(&self) -> String {
        match self {
            Cause::Code(c) => c.to_string(),
            Cause::RegisterCode(c) => format!("register {c}"),
            Cause::ByeCode(c) => format!("bye {c}"),
            Cause::RegisterTimeout => "register timeout".into(),
            Cause::Timeout => "timeout".into(),
            Cause::ByeTimeout => "bye timeout".into(),
            Cause::NoAck => "no ack".into(),
            Cause::EarlyBye => "early bye".into(),
            Cause::Misrouted => "misrouted".into(),
            Cause::NoRtp => "no rtp".into(),
            Cause::OneWayRtp => "one-way rtp".into(),
            Cause::WrongRtp => "wrong rtp".into(),
            Cause::RtpLoss => "rtp loss".into(),
            Cause::NoDtmf => "no dtmf".into(),
            Cause::BadSdp => "bad sdp".into(),
            Cause::SendError => "send error".into(),
            Cause::HoldFailed => "hold failed".into(),
            Cause::TransferFailed => "transfer failed".into(),
            Cause::Abandoned => "abandoned".into(),
            Cause::NoHoldAudio => "no hold audio".into(),
            Cause::NotHeard(h) => format!("no {} heard", h.as_str()),
            Cause::NotRefused(c) => format!("answered, not {c}"),
            Cause::NotRinging => "answered, not ringing".into(),
            Cause::NotPickedUp => "still ringing after the pickup".into(),
            Cause::NoTrunkRegistered => "no trunk registered at the carrier".into(),
            Cause::NoBye => "no bye from the switch".into(),
            Cause::NoMwi => "no mwi notify".into(),
            Cause::SubscribeCode(c) => format!("subscribe {c}"),
            Cause::SubscribeTimeout => "subscribe timeout".into(),
            Cause::Step(step, cause) => format!("{step}: {}", cause.key()),
        }
    }
}

/// Counters shared by every task of a run.
#[derive(Default)]
pub struct Counters {
    pub registered: AtomicU64,
    pub attempted: AtomicU64,
    pub answered: AtomicU64,
    /// Calls not placed because fewer than two registered phones were idle.
    pub skipped: AtomicU64,
    /// Calls put on hold and resumed, and calls blind-transferred.
    pub held: AtomicU64,
    pub transferred: AtomicU64,
    pub active: AtomicU64,
    pub peak: AtomicU64,
    pub failures: AtomicU64,
    /// Only one leg of each call is ours (UAC or UAS mode): each leg is judged alone.
    pub one_leg: std::sync::atomic::AtomicBool,
    /// The calls are a queue's: the caller waits before its agent answers (`judge_queued`).
    pub queued: std::sync::atomic::AtomicBool,
    failed: Mutex<BTreeMap<Cause, u64>>,
    ringing_ms: Mutex<Vec<f64>>,
    answer_ms: Mutex<Vec<f64>>,
    /// How many of `answer_ms` the progress line has already summarised.
    setup_mark: Mutex<usize>,
    legs: Mutex<HashMap<u32, CallAudio>>,
}

/// The two legs of a call's audio, and whether it was a DTMF call.
#[derive(Debug, Default, Clone, Copy)]
struct CallAudio {
    caller: Option<LegMedia>,
    callee: Option<LegMedia>,
    dtmf: bool,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Counters {
    pub fn fail(&self, cause: Cause) {
        self.failures.fetch_add(1, Ordering::Relaxed);
        *lock(&self.failed).entry(cause).or_default() += 1;
    }

    /// Counts `cause` if there is one.
    pub fn fail_opt(&self, cause: Option<Cause>) {
        if let Some(c) = cause {
            self.fail(c);
        }
    }

    pub fn call_started(&self) {
        self.attempted.fetch_add(1, Ordering::Relaxed);
        let now = self.active.fetch_add(1, Ordering::Relaxed) + 1;
        self.peak.fetch_max(now, Ordering::Relaxed);
    }

    pub fn call_ended(&self) {
        self.active.fetch_sub(1, Ordering::Relaxed);
    }

    pub fn ringing(&self, d: Duration) {
        lock(&self.ringing_ms).push(d.as_secs_f64() * 1000.0);
    }

    /// The median setup time of the calls answered since the last call of this.
    pub fn recent_setup_p50(&self) -> f64 {
        let all = lock(&self.answer_ms);
        let mut mark = lock(&self.setup_mark);
        let mut recent = all[(*mark).min(all.len())..].to_vec();
        *mark = all.len();
        Percentiles::of(&mut recent).p50
    }

    pub fn answered(&self, d: Duration) {
        self.answered.fetch_add(1, Ordering::Relaxed);
        lock(&self.answer_ms).push(d.as_secs_f64() * 1000.0);
    }

    /// Records one leg's audio of an answered call.
    pub fn leg_media(&self, call: u32, side: Side, m: LegMedia, dtmf: bool) {
        let mut legs = lock(&self.legs);
        let e = legs.entry(call).or_default();
        match side {
            Side::Caller => e.caller = Some(m),
            // A transferred call has two callee legs (the transferor, then the
            // target): their audio adds up.
            Side::Callee => e.callee = Some(add(e.callee.unwrap_or_default(), m)),
        }
        e.dtmf |= dtmf;
    }

    /// Judges the audio of every call both of whose legs reported, and counts the
    /// failures.
    pub fn judge_audio(&self) -> AudioTally {
        let legs = std::mem::take(&mut *lock(&self.legs));
        let mut t = AudioTally::default();
        let one_leg = self.one_leg.load(Ordering::Relaxed);
        for audio in legs.values() {
            if one_leg {
                if let Some(a) = audio.caller.or(audio.callee) {
                    t.checked += 1;
                    match judge_one(&a) {
                        None => t.ok += 1,
                        Some(cause) => self.fail(cause),
                    }
                }
                continue;
            }
            let (Some(a), Some(b)) = (audio.caller, audio.callee) else {
                continue;
            };
            t.checked += 1;
            let verdict = if self.queued.load(Ordering::Relaxed) {
                judge_queued(&a, &b)
            } else {
                judge(&a, &b, audio.dtmf)
            };
            if audio.dtmf && a.dtmf_sent > 0 {
                t.dtmf_sent += 1;
                if b.dtmf_received > 0 {
                    t.dtmf_ok += 1;
                }
            }
            match verdict {
                None => t.ok += 1,
                Some(cause) => self.fail(cause),
            }
        }
        t
    }

    pub fn failed_map(&self) -> BTreeMap<String, u64> {
        lock(&self.failed)
            .iter()
            .map(|(c, n)| (c.key(), *n))
            .collect()
    }
}

fn add(a: LegMedia, b: LegMedia) -> LegMedia {
    LegMedia {
        sent: a.sent + b.sent,
        ok: a.ok + b.ok,
        played: a.played + b.played,
        first_ok: a.first_ok.or(b.first_ok),
        bad: a.bad + b.bad,
        dtmf_sent: a.dtmf_sent + b.dtmf_sent,
        dtmf_received: a.dtmf_received + b.dtmf_received,
        heard_from: b.heard_from.or(a.heard_from),
    }
}

/// Audio checks of a run.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct AudioTally {
    pub checked: u64,
    pub ok: u64,
    /// DTMF calls whose caller sent a digit, and those whose callee got it.
    pub dtmf_sent: u64,
    pub dtmf_ok: u64,
}

/// What is wrong with a call's audio, if anything: each leg must get at least half of
/// what the other sent, and nothing with a wrong signature.
pub fn judge(caller: &LegMedia, callee: &LegMedia, dtmf: bool) -> Option<Cause> {
    if caller.bad > 0 || callee.bad > 0 {
        return Some(Cause::WrongRtp);
    }
    match (caller.ok, callee.ok) {
        (0, 0) if caller.sent + callee.sent > 0 => return Some(Cause::NoRtp),
        (0, _) | (_, 0) => return Some(Cause::OneWayRtp),
        _ => {}
    }
    if caller.ok * 2 < callee.sent || callee.ok * 2 < caller.sent {
        return Some(Cause::RtpLoss);
    }
    if dtmf && caller.dtmf_sent > 0 && callee.dtmf_received == 0 {
        return Some(Cause::NoDtmf);
    }
    None
}

/// How long a queue's caller may wait without hearing the switch: its first audio
/// comes after the caller's first 20 ms packets and the switch's first prompt packet.
const HEARS_HOLD_AFTER: Duration = Duration::from_millis(300);

/// What is wrong with a queue call's audio: the caller, who sends from the moment the
/// queue answers, hears the switch while it waits (when it waits at all), then the
/// agent; both hear at least half of what the agent sent while they talked, and
/// nothing with a wrong signature.
pub fn judge_queued(caller: &LegMedia, agent: &LegMedia) -> Option<Cause> {
    if caller.bad > 0 || agent.bad > 0 {
        return Some(Cause::WrongRtp);
    }
    match (caller.ok, agent.ok) {
        (0, 0) => return Some(Cause::NoRtp),
        (0, _) | (_, 0) => return Some(Cause::OneWayRtp),
        _ => {}
    }
    if caller.played == 0 && caller.first_ok.is_some_and(|w| w > HEARS_HOLD_AFTER) {
        return Some(Cause::NoHoldAudio);
    }
    if caller.ok * 2 < agent.sent || agent.ok * 2 < agent.sent {
        return Some(Cause::RtpLoss);
    }
    None
}

/// What is wrong with a leg's audio when the far end is not ours: it must get the
/// far side's signature (or its own echoed, for a UAC) for at least half as long as it
/// sent, and nothing else.
pub fn judge_one(leg: &LegMedia) -> Option<Cause> {
    if leg.bad > 0 {
        return Some(Cause::WrongRtp);
    }
    if leg.ok == 0 && leg.sent > 0 {
        return Some(Cause::NoRtp);
    }
    if leg.ok * 2 < leg.sent {
        return Some(Cause::RtpLoss);
    }
    None
}

/// The final report of a run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub target: String,
    pub phones: u64,
    pub registered: u64,
    pub attempted: u64,
    pub answered: u64,
    /// Calls not placed for want of two idle registered phones.
    pub skipped: u64,
    /// Calls put on hold and resumed, and calls blind-transferred (both ways done).
    pub held: u64,
    pub transferred: u64,
    /// Failures by SIP status code or cause (registrations, calls and audio checks).
    pub failed: BTreeMap<String, u64>,
    /// Calls attempted per second over the calling period.
    pub cps: f64,
    pub concurrent_peak: u64,
    /// First INVITE → 200 (includes the 407 round trip and the answer delay).
    pub setup_ms: Percentiles,
    /// First INVITE → 180.
    pub ringing_ms: Percentiles,
    /// Answered calls whose two legs' audio was checked, and those that passed.
    pub audio_checked: u64,
    pub audio_ok: u64,
    /// Calls that sent a DTMF digit (RFC 4733), and those whose callee received it.
    pub dtmf_sent: u64,
    pub dtmf_ok: u64,
    /// RTP packets that arrived for no active call.
    pub rtp_unmatched: u64,
    /// Length of the calling period, and of the whole run (registration to the end).
    pub calling_s: f64,
    pub elapsed_s: f64,
    /// A call centre's queue, when the run was one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub centre: Option<CentreReport>,
    /// A flow's steps, in order, when the run was one.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<crate::flow::StepReport>,
    /// The seconds in which something failed, and by which cause (as it happened;
    /// audio checks, judged after the run, are in `failed` only).
    pub failures_by_second: Vec<crate::timeline::FailureSecond>,
    /// A registration storm: REGISTER → 200 (the 401 round included), and the
    /// registrations sent per second.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub register_ms: Option<Percentiles>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registrations_per_s: Option<f64>,
    /// A storm: REGISTERs started (a phone's first and its challenged second count
    /// once), and those answered 200.
    pub registrations: Option<u64>,
    pub registrations_accepted: Option<u64>,
}

/// What a call centre's callers and agents saw.
#[derive(Debug, Clone, Serialize)]
pub struct CentreReport {
    /// Callers who gave up waiting.
    pub abandoned: u64,
    /// From an agent hanging up while callers waited unoffered to its next offer.
    pub offer_ms: Percentiles,
    /// From the queue answering a caller to the first audio of its agent.
    pub wait_ms: Percentiles,
    /// Agents the switch confirmed logged in to the queue before the calls, and out
    /// after them.
    pub agents_logged_in: u64,
    pub agents_logged_out: u64,
}

impl Report {
    pub fn build(
        target: String,
        phones: u64,
        c: &Counters,
        calling: Duration,
        elapsed: Duration,
        rtp_unmatched: u64,
    ) -> Report {
        let audio = c.judge_audio();
        let attempted = c.attempted.load(Ordering::Relaxed);
        Report {
            target,
            phones,
            registered: c.registered.load(Ordering::Relaxed),
            attempted,
            answered: c.answered.load(Ordering::Relaxed),
            skipped: c.skipped.load(Ordering::Relaxed),
            held: c.held.load(Ordering::Relaxed),
            transferred: c.transferred.load(Ordering::Relaxed),
            failed: c.failed_map(),
            cps: if calling.is_zero() {
                0.0
            } else {
                round2(attempted as f64 / calling.as_secs_f64())
            },
            concurrent_peak: c.peak.load(Ordering::Relaxed),
            setup_ms: round_p(Percentiles::of(&mut lock(&c.answer_ms))),
            ringing_ms: round_p(Percentiles::of(&mut lock(&c.ringing_ms))),
            audio_checked: audio.checked,
            audio_ok: audio.ok,
            dtmf_sent: audio.dtmf_sent,
            dtmf_ok: audio.dtmf_ok,
            rtp_unmatched,
            calling_s: round2(calling.as_secs_f64()),
            elapsed_s: round2(elapsed.as_secs_f64()),
            centre: None,
            steps: Vec::new(),
            failures_by_second: Vec::new(),
            register_ms: None,
            registrations_per_s: None,
            registrations: None,
            registrations_accepted: None,
        }
    }

    /// Adds what a call centre's callers and agents saw.
    pub fn add_centre(&mut self, centre: &crate::centre::Centre) {
        let (offer_ms, wait_ms) = centre.percentiles();
        self.centre = Some(CentreReport {
            abandoned: self
                .failed
                .get(&Cause::Abandoned.key())
                .copied()
                .unwrap_or(0),
            offer_ms: round_p(offer_ms),
            wait_ms: round_p(wait_ms),
            agents_logged_in: centre.logged_in.load(Ordering::Relaxed),
            agents_logged_out: centre.logged_out.load(Ordering::Relaxed),
        });
    }

    /// A storm's report: its registrations were counted as calls while under way;
    /// they are registrations, and no call was made.
    pub fn into_storm(&mut self) {
        self.register_ms = Some(self.setup_ms);
        self.registrations_per_s = Some(self.cps);
        (self.registrations, self.registrations_accepted) =
            (Some(self.attempted), Some(self.answered));
        self.setup_ms = Percentiles::default();
        self.cps = 0.0;
        (self.attempted, self.answered) = (0, 0);
    }

    /// Total failures of every kind.
    pub fn failures(&self) -> u64 {
        self.failed.values().sum()
    }

    /// The human summary.
    pub fn render(&self) -> String {
        let pct = |n: u64, of: u64| {
            if of == 0 {
                0.0
            } else {
                n as f64 * 100.0 / of as f64
            }
        };
        let mut s = String::new();
        s.push_str(&format!(
            "sim report — {} ({:.1} s)\n",
            self.target, self.elapsed_s
        ));
        if self.phones == 0 && self.registered > 0 {
            // A carrier (UAS mode) is a registrar for the switch's trunks.
            s.push_str(&format!(
                "  registrar   {} registrations accepted\n",
                self.registered
            ));
        } else {
            s.push_str(&format!(
                "  phones      {} registered of {} ({:.1}%)\n",
                self.registered,
                self.phones,
                pct(self.registered, self.phones)
            ));
        }
        if let (Some(ms), Some(rate)) = (&self.register_ms, self.registrations_per_s) {
            s.push_str(&format!(
                "  storm       {rate:.1} registrations/s sent, REGISTER→200 p50 {:.1}  p95 {:.1}  p99 {:.1}  max {:.1} ms\n",
                ms.p50, ms.p95, ms.p99, ms.max
            ));
            let (sent, ok) = (
                self.registrations.unwrap_or(0),
                self.registrations_accepted.unwrap_or(0),
            );
            s.push_str(&format!(
                "              {sent} registrations, {ok} accepted ({:.2}%), {} skipped (still under way)\n",
                pct(ok, sent),
                self.skipped
            ));
        } else if self.steps.is_empty() {
            s.push_str(&format!(
                "  calls       {} attempted, {} answered ({:.2}%), {} skipped (no idle phones)\n",
                self.attempted,
                self.answered,
                pct(self.answered, self.attempted),
                self.skipped
            ));
        } else {
            let done = self.steps.last().map_or(0, |l| l.passed);
            s.push_str(&format!(
                "  flows       {} started, {} completed ({:.2}%), {} calls answered, {} skipped (no idle caller or answerer)\n",
                self.attempted,
                done,
                pct(done, self.attempted),
                self.answered,
                self.skipped
            ));
        }
        let p = |x: &Percentiles| {
            format!(
                "p50 {:.1}  p95 {:.1}  p99 {:.1}  max {:.1} ms",
                x.p50, x.p95, x.p99, x.max
            )
        };
        if self.register_ms.is_none() {
            let unit = if self.steps.is_empty() {
                "calls"
            } else {
                "flows"
            };
            s.push_str(&format!(
                "  rate        {:.2} {unit}/s over {:.1} s, concurrent peak {}\n",
                self.cps, self.calling_s, self.concurrent_peak
            ));
            s.push_str(&format!("  INVITE→180  {}\n", p(&self.ringing_ms)));
            s.push_str(&format!("  INVITE→200  {}\n", p(&self.setup_ms)));
        }
        if (self.steps.is_empty() && self.register_ms.is_none()) || self.audio_checked > 0 {
            s.push_str(&format!(
                "  audio       {} of {} checked calls ok ({:.2}%)\n",
                self.audio_ok,
                self.audio_checked,
                pct(self.audio_ok, self.audio_checked)
            ));
        }
        if self.held + self.transferred > 0 {
            s.push_str(&format!(
                "  features    {} held and resumed, {} transferred\n",
                self.held, self.transferred
            ));
        }
        if let Some(c) = &self.centre {
            s.push_str(&format!(
                "  agents      {} logged in to the queue, {} logged out\n",
                c.agents_logged_in, c.agents_logged_out
            ));
            s.push_str(&format!(
                "  queue wait  {}  ({} abandoned)\n",
                p(&c.wait_ms),
                c.abandoned
            ));
            s.push_str(&format!(
                "  agent free→offer  {}  ({} timed)\n",
                p(&c.offer_ms),
                c.offer_ms.count
            ));
        }
        if !self.steps.is_empty() {
            s.push_str("  steps\n");
            let width = self.steps.iter().map(|x| x.name.chars().count()).max();
            for step in &self.steps {
                let failed: Vec<String> = step
                    .failed
                    .iter()
                    .map(|(k, n)| format!("{k}: {n}"))
                    .collect();
                s.push_str(&format!(
                    "    {:<w$}  {} of {} passed  {}{}\n",
                    step.name,
                    step.passed,
                    step.attempted,
                    p(&step.ms),
                    if failed.is_empty() {
                        String::new()
                    } else {
                        format!("  ({})", failed.join(", "))
                    },
                    w = width.unwrap_or(0),
                ));
            }
        }
        if self.dtmf_sent > 0 {
            s.push_str(&format!(
                "  dtmf        {} of {} digits received\n",
                self.dtmf_ok, self.dtmf_sent
            ));
        }
        if self.failed.is_empty() {
            s.push_str("  failures    none\n");
        } else {
            let list: Vec<String> = self
                .failed
                .iter()
                .map(|(k, n)| format!("{k}: {n}"))
                .collect();
            s.push_str(&format!("  failures    {}\n", list.join(", ")));
        }
        s
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

pub(crate) fn round_p(p: Percentiles) -> Percentiles {
    Percentiles {
        count: p.count,
        p50: round2(p.p50),
        p95: round2(p.p95),
        p99: round2(p.p99),
        max: round2(p.max),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leg(sent: u32, ok: u32, bad: u32) -> LegMedia {
        LegMedia {
            sent,
            ok,
            bad,
            ..LegMedia::default()
        }
    }

    #[test]
    fn audio_judgement() {
        assert_eq!(judge(&leg(50, 49, 0), &leg(50, 50, 0), false), None);
        assert_eq!(
            judge(&leg(50, 0, 0), &leg(50, 0, 0), false),
            Some(Cause::NoRtp)
        );
        assert_eq!(
            judge(&leg(50, 0, 0), &leg(50, 48, 0), false),
            Some(Cause::OneWayRtp)
        );
        assert_eq!(
            judge(&leg(50, 40, 1), &leg(50, 48, 0), false),
            Some(Cause::WrongRtp)
        );
        assert_eq!(
            judge(&leg(50, 10, 0), &leg(50, 48, 0), false),
            Some(Cause::RtpLoss)
        );
        let mut callee = leg(50, 50, 0);
        let caller = LegMedia {
            dtmf_sent: 3,
            ..leg(47, 50, 0)
        };
        assert_eq!(judge(&caller, &callee, true), Some(Cause::NoDtmf));
        callee.dtmf_received = 3;
        assert_eq!(judge(&caller, &callee, true), None);
    }

    #[test]
    fn queue_audio_judgement() {
        // The caller sent through its whole wait; the agent only while they talked.
        let waited = |played, ok| LegMedia {
            played,
            first_ok: Some(Duration::from_secs(2)),
            ..leg(150, ok, 0)
        };
        let agent = leg(50, 49, 0);
        assert_eq!(judge_queued(&waited(95, 48), &agent), None);
        assert_eq!(
            judge_queued(&waited(0, 48), &agent),
            Some(Cause::NoHoldAudio)
        );
        assert_eq!(judge_queued(&waited(95, 10), &agent), Some(Cause::RtpLoss));
        assert_eq!(judge_queued(&waited(95, 0), &agent), Some(Cause::OneWayRtp));
        // Offered at once: nothing to hear before the agent.
        let at_once = LegMedia {
            first_ok: Some(Duration::from_millis(60)),
            ..leg(60, 50, 0)
        };
        assert_eq!(judge_queued(&at_once, &agent), None);
        assert_eq!(
            judge_queued(&waited(95, 48), &leg(50, 49, 1)),
            Some(Cause::WrongRtp)
        );
    }

    #[test]
    fn counters_make_the_report() {
        let c = Counters::default();
        c.call_started();
        c.call_started();
        c.call_ended();
        c.answered(Duration::from_millis(12));
        c.fail(Cause::Code(486));
        c.fail(Cause::Timeout);
        c.leg_media(1, Side::Caller, leg(50, 50, 0), false);
        c.leg_media(1, Side::Callee, leg(50, 50, 0), false);
        c.leg_media(2, Side::Caller, leg(50, 50, 0), false);
        let r = Report::build(
            "t".into(),
            10,
            &c,
            Duration::from_secs(2),
            Duration::from_secs(3),
            0,
        );
        assert_eq!((r.attempted, r.answered, r.concurrent_peak), (2, 1, 2));
        assert_eq!(r.cps, 1.0);
        assert_eq!((r.audio_checked, r.audio_ok), (1, 1));
        assert_eq!(r.failed.get("486"), Some(&1));
        assert_eq!(r.failed.get("timeout"), Some(&1));
        assert_eq!(r.setup_ms.p99, 12.0);
        let json = serde_json::to_value(&r).unwrap();
        for key in [
            "phones",
            "registered",
            "attempted",
            "answered",
            "failed",
            "cps",
            "audio_checked",
            "audio_ok",
        ] {
            assert!(json.get(key).is_some(), "{key}");
        }
        for key in ["p50", "p95", "p99"] {
            assert!(json["setup_ms"].get(key).is_some(), "setup_ms.{key}");
        }
        assert!(r.render().contains("486: 1"));
    }
}
