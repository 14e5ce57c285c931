//! The UAC mode's engine (`--uac-only`): every call a row of one table, all of them
//! driven by one task, no task or channel per call.
//!
//! Each tick (`TICK`) it places the calls the rate allows, reads every datagram waiting
//! on the UAC's sockets (non-blocking and not registered with the runtime's poller, so
//! a datagram does not wake the process: one wake-up a tick however many calls), hands
//! each to its call by the row its Call-ID names, and fires the timers that are due (a
//! timer wheel of one slot per tick: INVITE and BYE retransmissions at T1 doubling to
//! T2, the ring timeout that cancels, the hold time that hangs up). Requests are
//! written straight into one reused buffer; a call's identifiers (Call-ID, tags,
//! branches) are derived from one number.
//!
//! Times (setup, ringing) are taken from the kernel's arrival stamp of the response
//! (`SO_TIMESTAMPNS`), not from when the tick read it; the time the engine took to
//! answer a challenge is left out of the setup.
//!
//! The calls are plain ones: INVITE (a 401/407 answered once, again if it says the
//! nonce was stale), 180 timed, 200 ACKed,
//! RTP when asked (the media pool), BYE after the hold time; a BYE from the far end
//! ends a call early. Calls that hold or transfer are the task-per-call path's
//! (`call.rs`), which `run.rs` uses when the scenario asks for them.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use engine::auth::client::Challenge;
use engine::sip::{Message, MessageWriter};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::time::Instant;

use crate::call::{remote_media, write_sdp, DTMF_PT};
use crate::media::{Side, Slot, StreamSpec};
use crate::phone::{unique, Clocks, Phone, T1, T2};
use crate::report::Cause;
use crate::run::Ctx;
use crate::wire::Bytes;

/// How often the engine wakes: reads its sockets, places calls, fires timers. Each
/// wake-up costs this VM about as much as a call's own work does at 1,000 calls/s:
/// 4 ms rather than 2 cut the generator's CPU by a sixth there. Responses are timed
/// by their kernel arrival stamps, so the tick does not coarsen the figures.
pub const TICK: Duration = Duration::from_millis(4);

/// Slots of the timer wheel (at 4 ms a tick, about 131 s; later deadlines wait in
/// `Wheel::far`).
const WHEEL_SLOTS: usize = 1 << 15;

/// Where a call is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// INVITE sent, no final response yet.
    Inviting,
    /// Answered and ACKed, until `until`.
    Up { until: Instant },
    /// BYE sent, until its final response or `deadline`.
    Leaving { deadline: Instant },
    /// Unanswered at its deadline: CANCEL sent, until the INVITE's final response
    /// (ACKed; a 2xx that crossed the CANCEL is ACKed and hung up) or `deadline`.
    Cancelling { deadline: Instant },
}

/// One call of the table.
struct Call {
    /// Told apart from the row's earlier calls (a late response finds no call).
    generation: u32,
    /// What its Call-ID, tags and branches are made of.
    id: u64,
    number: u32,
    callee: u64,
    /// The socket (phone) it uses.
    phone: usize,
    hold: Duration,
    dtmf: bool,
    state: State,
    /// The far end's To tag and Contact (the target of requests in the dialog).
    to_tag: Option<String>,
    target: Option<String>,
    /// The dialog's route set (a proxy that record-routed: the switch's edge), as
    /// the Route of requests in the dialog; none without one.
    routes: Option<String>,
    cseq: u32,
    /// Which branch of the call's transactions is the current one.
    branch: u32,
    /// The last request, sent again by the retransmission timer; the ACK of the 2xx.
    request: Vec<u8>,
    ack: Vec<u8>,
    wait: Duration,
    started: Instant,
    /// The INVITE's deadline (then it is cancelled).
    deadline: Instant,
    /// The 401/407s it answered (`ua::may_answer`).
    challenges: u8,
    provisional: bool,
    ringing: bool,
    slot: Slot,
    media: Option<(SocketAddr, u64)>,
    /// Only the newest timer entry of a call counts.
    timer: u32,
    /// Its SDP's version (a re-INVITE's answer is the next).
    sdp_version: u32,
    /// Why it failed, when it goes on after failing (a cancelled call).
    failed: Option<Cause>,
}

/// A call's timer entry: row, generation, timer number.
pub(crate) type Entry = (usize, u32, u32);

/// Deadlines by tick: a slot per tick for the next `WHEEL_SLOTS` ticks.
pub(crate) struct Wheel {
    start: Instant,
    /// The next tick whose slot has not been fired.
    cursor: u64,
    slots: Vec<Vec<Entry>>,
    far: Vec<(u64, Entry)>,
}

impl Wheel {
    pub(crate) fn new(start: Instant) -> Wheel {
        Wheel {
            start,
            cursor: 0,
            slots: (0..WHEEL_SLOTS).map(|_| Vec::new()).collect(),
            far: Vec::new(),
        }
    }

    fn tick_of(&self, at: Instant) -> u64 {
        let d = at.saturating_duration_since(self.start);
        d.as_nanos().div_ceil(TICK.as_nanos()) as u64
    }

    pub(crate) fn push(&mut self, at: Instant, e: Entry) {
        let t = self.tick_of(at).max(self.cursor);
        if t - self.cursor < WHEEL_SLOTS as u64 {
            self.slots[(t % WHEEL_SLOTS as u64) as usize].push(e);
        } else {
            self.far.push((t, e));
        }
    }

    /// The entries due at `now` (their slots emptied into `due`): those of the ticks
    /// that have fully begun (`push` rounds up, this down: never early).
    pub(crate) fn due(&mut self, now: Instant, due: &mut Vec<Entry>) {
        let d = now.saturating_duration_since(self.start);
        let until = (d.as_nanos() / TICK.as_nanos()) as u64;
        while self.cursor <= until {
            if self.cursor % WHEEL_SLOTS as u64 == 0 && !self.far.is_empty() {
                let cursor = self.cursor;
                let (near, far): (Vec<_>, Vec<_>) = std::mem::take(&mut self.far)
                    .into_iter()
                    .partition(|(t, _)| t - cursor < WHEEL_SLOTS as u64);
                self.far = far;
                for (t, e) in near {
                    self.slots[(t % WHEEL_SLOTS as u64) as usize].push(e);
                }
            }
            let slot = (self.cursor % WHEEL_SLOTS as u64) as usize;
            due.append(&mut self.slots[slot]);
            self.cursor += 1;
        }
    }
}

/// The engine's state.
struct Engine<'a> {
    ctx: &'a Ctx,
    phones: &'a [Arc<Phone>],
    /// Each phone's address and extension as text, written into every request.
    locals: Vec<String>,
    /// Each phone's address without its port (the SDP's).
    ips: Vec<String>,
    exts: Vec<String>,
    rows: Vec<Option<Call>>,
    free: Vec<usize>,
    generations: Vec<u32>,
    wheel: Wheel,
    out: Vec<u8>,
    body: Vec<u8>,
}

/// Places the scenario's calls from `phones` (polled sockets) and sees them through;
/// returns once none is left or the drain time is over, with how long it placed calls.
pub async fn run(ctx: Arc<Ctx>, phones: Vec<Arc<Phone>>) -> Duration {
    let s = &ctx.scenario;
    let mut rng = StdRng::seed_from_u64(s.seed);
    let start = Instant::now();
    let mut e = Engine {
        ctx: &ctx,
        phones: &phones,
        locals: phones.iter().map(|p| p.local.to_string()).collect(),
        ips: phones.iter().map(|p| p.local.ip().to_string()).collect(),
        exts: phones.iter().map(|p| p.ext.to_string()).collect(),
        rows: Vec::new(),
        free: Vec::new(),
        generations: Vec::new(),
        wheel: Wheel::new(start),
        out: Vec::with_capacity(2048),
        body: Vec::with_capacity(512),
    };
    let mut buf = vec![0u8; 65536];
    let mut cmsg = crate::phone::arrival_space();
    for phone in &phones {
        phone.stamp_arrivals();
    }
    let mut due = Vec::new();
    let mut last = start;
    let mut credit = 1.0;
    let mut number = 0u32;
    let drain = crate::run::drain_time(s);
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        let now = tick.tick().await;
        let elapsed = now - start;
        if elapsed < s.duration {
            credit += s.rate.at(elapsed) * (now - last).as_secs_f64();
            last = now;
            while credit >= 1.0 {
                credit -= 1.0;
                number += 1;
                let (a, b) = s.numbers();
                let callee = rng.gen_range(a..=b);
                let hold = s.hold.pick(rng.gen::<f64>());
                let dtmf = s.dtmf > 0.0 && rng.gen_bool(s.dtmf);
                // Timed from when it is sent, not from when the tick was due.
                e.place(number, callee, hold, dtmf, Instant::now());
            }
        } else if e.free.len() == e.rows.len() {
            return s.duration;
        } else if elapsed >= s.duration + drain {
            // Calls that never ended (a far end that went silent): counted and freed.
            for row in 0..e.rows.len() {
                let cause = match e.rows[row].as_ref().map(|c| c.state) {
                    Some(State::Inviting) => Cause::Timeout,
                    Some(_) => Cause::ByeTimeout,
                    None => continue,
                };
                e.finish(row, Some(cause));
            }
            return s.duration;
        }
        let clocks = Clocks::read();
        for (i, phone) in phones.iter().enumerate() {
            while let Some((n, stamp)) = phone.try_recv_stamped(&mut buf, &mut cmsg) {
                e.receive(i, &buf[..n], clocks.arrival(stamp));
            }
        }
        let now = Instant::now();
        e.wheel.due(now, &mut due);
        for (row, generation, timer) in due.drain(..) {
            let current = e.rows[row]
                .as_ref()
                .is_some_and(|c| c.generation == generation && c.timer == timer);
            if current {
                e.expire(row, now);
            }
        }
    }
}

impl Engine<'_> {
    fn schedule(&mut self, row: usize, at: Instant) {
        if let Some(c) = self.rows[row].as_mut() {
            c.timer = c.timer.wrapping_add(1);
            self.wheel.push(at, (row, c.generation, c.timer));
        }
    }

    /// Starts call `number` to `callee`.
    fn place(&mut self, number: u32, callee: u64, hold: Duration, dtmf: bool, now: Instant) {
        let ctx = self.ctx;
        let s = &ctx.scenario;
        ctx.counters.call_started();
        let row = self.free.pop().unwrap_or_else(|| {
            self.rows.push(None);
            self.generations.push(0);
            self.rows.len() - 1
        });
        self.generations[row] = self.generations[row].wrapping_add(1);
        let call = Call {
            generation: self.generations[row],
            id: ctx.ids.fetch_add(1, Ordering::Relaxed) ^ ctx.salt,
            number,
            callee,
            phone: number as usize % self.phones.len(),
            hold,
            dtmf,
            state: State::Inviting,
            to_tag: None,
            target: None,
            routes: None,
            cseq: 1,
            branch: 0,
            request: Vec::new(),
            ack: Vec::new(),
            wait: T1,
            started: now,
            deadline: now + s.timeout + s.answer_delay,
            challenges: 0,
            provisional: false,
            ringing: false,
            slot: ctx.media.allocate(),
            media: None,
            timer: 0,
            sdp_version: 1,
            failed: None,
        };
        self.rows[row] = Some(call);
        self.send_invite(row, None);
        self.schedule(row, now + T1);
    }

    /// The request line and the headers every request of call `row` carries, into
    /// `out`: to the dialog's target (`to_target`) or the Request-URI, with the far
    /// end's To tag when the dialog has one (or `to_tag`).
    fn head(&mut self, row: usize, method: &str, to_target: bool, to_tag: Option<&str>) {
        let Some(c) = self.rows[row].as_ref() else {
            return;
        };
        let s = &self.ctx.scenario;
        let (local, ext) = (&self.locals[c.phone], &self.exts[c.phone]);
        // Written piece by piece: `write!`'s formatting machinery was about 7 % of
        // the engine's CPU in a profile at 1,000 calls/s.
        let mut w = Bytes(&mut self.out);
        w.0.clear();
        w.s(method).s(" ");
        match (&c.target, to_target) {
            (Some(t), true) => w.s(t),
            _ => w
                .s("sip:")
                .s(&s.dial_prefix)
                .dec(c.callee)
                .s("@")
                .s(&s.domain),
        };
        w.s(" SIP/2.0\r\nVia: SIP/2.0/UDP ")
            .s(local)
            .s(";branch=z9hG4bK");
        w.hex(c.id).s(".").dec(c.branch.into());
        w.s(";rport\r\nMax-Forwards: 70\r\n");
        if let (Some(routes), true) = (&c.routes, to_target) {
            w.s("Route: ").s(routes).s("\r\n");
        }
        w.s("From: <sip:")
            .s(ext)
            .s("@")
            .s(&s.domain)
            .s(">;tag=c")
            .hex(c.id);
        w.s("\r\nTo: <sip:")
            .s(&s.dial_prefix)
            .dec(c.callee)
            .s("@")
            .s(&s.domain)
            .s(">");
        if let Some(tag) = to_tag.or(c.to_tag.as_deref()) {
            w.s(";tag=").s(tag);
        }
        w.s("\r\nCall-ID: u")
            .hex(row as u64)
            .s("-")
            .hex(c.generation.into());
        w.s("-")
            .hex(c.id)
            .s("\r\nCSeq: ")
            .dec(c.cseq.into())
            .s(" ")
            .s(method);
        w.s("\r\n");
    }

    fn send_out(&self, row: usize) {
        if let Some(c) = self.rows[row].as_ref() {
            self.phones[c.phone].send_now(self.ctx.scenario.target, &self.out);
        }
    }

    /// Writes and sends the row's INVITE (with `auth`: header name and value), kept
    /// for its retransmissions.
    fn send_invite(&mut self, row: usize, auth: Option<(&str, &str)>) {
        self.head(row, "INVITE", false, None);
        let Some(c) = self.rows[row].as_mut() else {
            return;
        };
        let ip = self.phones[c.phone].local.ip();
        self.body.clear();
        write_sdp(
            &mut self.body,
            &self.ips[c.phone],
            ip.is_ipv6(),
            c.slot.port,
            c.number,
            1,
            "sendrecv",
        );
        let mut w = Bytes(&mut self.out);
        w.s("Contact: <sip:")
            .s(&self.exts[c.phone])
            .s("@")
            .s(&self.locals[c.phone]);
        w.s(">\r\nUser-Agent: pbx-sim\r\n");
        if let Some((name, value)) = auth {
            w.s(name).s(": ").s(value).s("\r\n");
        }
        w.s("Content-Type: application/sdp\r\nContent-Length: ");
        w.dec(self.body.len() as u64).s("\r\n\r\n");
        self.out.extend_from_slice(&self.body);
        c.request.clear();
        c.request.extend_from_slice(&self.out);
        self.send_out(row);
    }

    /// A datagram on socket `phone`, arrived `at`: to its call by the row in its
    /// Call-ID.
    fn receive(&mut self, phone: usize, bytes: &[u8], at: Instant) {
        // Most of what comes is a provisional response or a BYE's answer: read at a
        // glance, without parsing the whole message.
        if let Some(g) = glance(bytes) {
            let row = self.row_named(g.call_id).map(|(row, _)| row);
            if g.code < 200 || g.method == "BYE" {
                if let Some(row) = row {
                    self.progress(row, g.code, g.seq, g.method, at);
                }
                return;
            }
            // So is the INVITE's 2xx when its SDP is not wanted (no RTP on the call)
            // and it sets no route.
            let plain_ok = g.method == "INVITE" && (200..300).contains(&g.code);
            if let (true, Some(row), Some(answer)) = (plain_ok, row, g.answer()) {
                if !self.wants_sdp(row) {
                    return self.invite_ok(row, g.seq, answer, at);
                }
            }
        }
        let Ok(m) = Message::parse(bytes.to_vec()) else {
            return;
        };
        let found = m.call_id().and_then(|id| self.row_named(id));
        let Some((row, _)) = found else {
            // A call that ended (or never was ours): requests get 481.
            if m.is_request() && m.method().map(|x| x.as_str()) != Some("ACK") {
                let resp = MessageWriter::response_to(
                    &m,
                    481,
                    "Call/Transaction Does Not Exist",
                    Some("sim"),
                )
                .finish();
                self.phones[phone].send_now(self.ctx.scenario.target, &resp);
            }
            return;
        };
        match m.code() {
            Some(code) => self.response(row, code, &m, at),
            None => self.request(row, &m),
        }
    }

    /// The row of the call a Call-ID names, if that call is still in it.
    fn row_named(&self, call_id: &str) -> Option<(usize, u32)> {
        row_of(call_id).filter(|&(row, generation)| {
            self.rows
                .get(row)
                .and_then(Option::as_ref)
                .is_some_and(|c| c.generation == generation)
        })
    }

    /// A response that needs nothing but its status and CSeq: a provisional response
    /// (ringing) or the final response to a BYE.
    fn progress(&mut self, row: usize, code: u16, seq: u32, method: &str, at: Instant) {
        let ctx = self.ctx;
        let Some(c) = self.rows[row].as_mut() else {
            return;
        };
        match c.state {
            State::Inviting if method == "INVITE" && seq == c.cseq && code < 200 => {
                c.provisional = true;
                if (code == 180 || code == 183) && !c.ringing {
                    c.ringing = true;
                    ctx.counters
                        .ringing(at.saturating_duration_since(c.started));
                }
            }
            State::Leaving { .. } if method == "BYE" && seq == c.cseq && code >= 200 => {
                let cause = (code >= 300).then_some(Cause::ByeCode(code));
                self.finish(row, cause);
            }
            _ => {}
        }
    }

    fn response(&mut self, row: usize, code: u16, m: &Message, at: Instant) {
        let ctx = self.ctx;
        let Some(cseq) = m.cseq() else { return };
        if code < 200 || cseq.method == "BYE" {
            return self.progress(row, code, cseq.seq, cseq.method, at);
        }
        if cseq.method == "INVITE" && (200..300).contains(&code) {
            return self.invite_ok(row, cseq.seq, Answer::parsed(m), at);
        }
        let Some(c) = self.rows[row].as_mut() else {
            return;
        };
        match c.state {
            State::Inviting if cseq.method == "INVITE" && cseq.seq == c.cseq => match code {
                401 | 407 if crate::ua::may_answer(c.challenges, m) => {
                    c.challenges += 1;
                    self.ack_failure(row, m);
                    let Some(c) = self.rows[row].as_mut() else {
                        return;
                    };
                    let Some(ch) = Challenge::from_response(m) else {
                        return self.finish(row, Some(Cause::Code(code)));
                    };
                    let s = &ctx.scenario;
                    let ruri = format!("sip:{}{}@{}", s.dial_prefix, c.callee, s.domain);
                    let auth = ch.answer(
                        &self.exts[c.phone],
                        &self.phones[c.phone].password,
                        "INVITE",
                        &ruri,
                        &unique(ctx),
                    );
                    c.cseq += 1;
                    c.branch += 1;
                    c.wait = T1;
                    // A new transaction: resent until its own provisional response.
                    c.provisional = false;
                    // Setup is the switch's time: what this engine took to answer
                    // the challenge (up to a tick) is not counted.
                    c.started += Instant::now().saturating_duration_since(at);
                    self.send_invite(row, Some((crate::call::auth_header(code), &auth)));
                    self.schedule(row, Instant::now() + T1);
                }
                _ => {
                    self.ack_failure(row, m);
                    self.finish(row, Some(Cause::Code(code)));
                }
            },
            State::Cancelling { .. } if cseq.method == "INVITE" && cseq.seq == c.cseq => {
                self.ack_failure(row, m);
                self.finish(row, None);
            }
            _ => {}
        }
    }

    /// Whether the call in `row` reads the SDP of its answer (it has RTP).
    fn wants_sdp(&self, row: usize) -> bool {
        self.rows[row]
            .as_ref()
            .is_some_and(|c| self.ctx.scenario.rtp_on(c.number))
    }

    /// A 2xx to the INVITE (CSeq number `seq`): the call answered, or a 2xx that
    /// crossed the CANCEL (ACKed, then hung up), or the 2xx again (its ACK again).
    fn invite_ok(&mut self, row: usize, seq: u32, answer: Answer<'_>, at: Instant) {
        let Some(c) = self.rows[row].as_mut() else {
            return;
        };
        match c.state {
            State::Inviting if seq == c.cseq => self.answered(row, answer, at),
            State::Cancelling { .. } if seq == c.cseq => {
                c.failed = Some(Cause::Timeout);
                self.answered(row, answer, at);
                self.hang_up(row, Instant::now());
            }
            State::Up { .. } | State::Leaving { .. } => {
                self.phones[c.phone].send_now(self.ctx.scenario.target, &c.ack);
            }
            _ => {}
        }
    }

    /// The INVITE's 2xx: ACK, media, the hold time.
    fn answered(&mut self, row: usize, answer: Answer<'_>, at: Instant) {
        let ctx = self.ctx;
        let Some(c) = self.rows[row].as_mut() else {
            return;
        };
        if c.failed.is_none() {
            ctx.counters
                .answered(at.saturating_duration_since(c.started));
        }
        c.to_tag = answer.to_tag.map(str::to_owned);
        c.target = answer.target.map(str::to_owned);
        c.routes = answer.routes;
        // The ACK of a 2xx is a transaction of its own.
        c.branch += 1;
        if ctx.scenario.rtp_on(c.number) {
            if let Some((remote, events)) = answer.sdp.and_then(remote_media) {
                let id = ctx.media.start(
                    c.slot,
                    StreamSpec {
                        call: c.number,
                        side: Side::Caller,
                        remote,
                        send_for: crate::call::send_for(ctx.scenario.rtp),
                        dtmf_pt: events.filter(|_| c.dtmf),
                        dtmf_rx_pt: Some(DTMF_PT),
                        echo_ok: true,
                        hold_audio: false,
                        listen_any: false,
                        learn: false,
                    },
                );
                c.media = Some((remote, id));
            } else {
                ctx.counters.fail(Cause::BadSdp);
            }
        }
        let until = Instant::now() + c.hold;
        c.state = State::Up { until };
        self.head(row, "ACK", true, None);
        self.out.extend_from_slice(b"Content-Length: 0\r\n\r\n");
        if let Some(c) = self.rows[row].as_mut() {
            c.ack.clear();
            c.ack.extend_from_slice(&self.out);
        }
        self.send_out(row);
        self.schedule(row, until);
    }

    /// A request in a call: a BYE ends it early; anything else is answered 200.
    fn request(&mut self, row: usize, m: &Message) {
        let Some(c) = self.rows[row].as_ref() else {
            return;
        };
        let method = m.method().map(|x| x.as_str());
        if method == Some("ACK") {
            return;
        }
        let phone = &self.phones[c.phone];
        let ok = if method == Some("INVITE") {
            // A re-INVITE: our SDP again, its next version.
            let Some(c) = self.rows[row].as_mut() else {
                return;
            };
            c.sdp_version += 1;
            let contact = format!("<sip:{}@{}>", self.exts[c.phone], self.locals[c.phone]);
            crate::call::reinvite_ok(
                m,
                &contact,
                phone.local.ip(),
                c.slot.port,
                c.number,
                c.sdp_version,
            )
        } else {
            MessageWriter::response_to(m, 200, "OK", None).finish()
        };
        phone.send_now(self.ctx.scenario.target, &ok);
        let Some(c) = self.rows[row].as_ref() else {
            return;
        };
        if method == Some("BYE") && matches!(c.state, State::Up { .. }) {
            self.finish(row, Some(Cause::EarlyBye));
        }
    }

    /// A call's timer: retransmit, cancel at the deadline, hang up after the hold time.
    fn expire(&mut self, row: usize, now: Instant) {
        let ctx = self.ctx;
        let target = ctx.scenario.target;
        let Some(c) = self.rows[row].as_mut() else {
            return;
        };
        let phone = &self.phones[c.phone];
        match c.state {
            State::Inviting if now >= c.deadline => {
                if !c.provisional {
                    return self.finish(row, Some(Cause::Timeout));
                }
                // The CANCEL (the INVITE's branch and CSeq number); the call waits for
                // the INVITE's final response to ACK it.
                c.failed = Some(Cause::Timeout);
                let deadline = now + ctx.scenario.timeout;
                c.state = State::Cancelling { deadline };
                self.head(row, "CANCEL", false, None);
                self.out.extend_from_slice(b"Content-Length: 0\r\n\r\n");
                self.send_out(row);
                self.schedule(row, deadline);
            }
            State::Cancelling { deadline } if now >= deadline => self.finish(row, None),
            State::Cancelling { deadline } => self.schedule(row, deadline),
            State::Inviting => {
                // Resent until a provisional response, then left to its deadline.
                let next = if c.provisional {
                    c.deadline
                } else {
                    phone.send_now(target, &c.request);
                    c.wait = (c.wait * 2).min(T2);
                    (now + c.wait).min(c.deadline)
                };
                self.schedule(row, next);
            }
            State::Up { until } if now >= until => self.hang_up(row, now),
            State::Up { until } => self.schedule(row, until),
            State::Leaving { deadline } if now >= deadline => {
                self.finish(row, Some(Cause::ByeTimeout))
            }
            State::Leaving { deadline } => {
                phone.send_now(target, &c.request);
                c.wait = (c.wait * 2).min(T2);
                let next = (now + c.wait).min(deadline);
                self.schedule(row, next);
            }
        }
    }

    /// Sends the call's BYE (kept for its retransmissions).
    fn hang_up(&mut self, row: usize, now: Instant) {
        let timeout = self.ctx.scenario.timeout;
        let Some(c) = self.rows[row].as_mut() else {
            return;
        };
        c.cseq += 1;
        c.branch += 1;
        c.wait = T1;
        c.state = State::Leaving {
            deadline: now + timeout,
        };
        self.head(row, "BYE", true, None);
        self.out.extend_from_slice(b"Content-Length: 0\r\n\r\n");
        if let Some(c) = self.rows[row].as_mut() {
            c.request.clear();
            c.request.extend_from_slice(&self.out);
        }
        self.send_out(row);
        self.schedule(row, now + T1);
    }

    /// ACKs a non-2xx final response to the INVITE (its branch, the response's To tag).
    fn ack_failure(&mut self, row: usize, resp: &Message) {
        let tag = resp.to().and_then(|t| t.tag());
        self.head(row, "ACK", false, tag);
        self.out.extend_from_slice(b"Content-Length: 0\r\n\r\n");
        self.send_out(row);
    }

    /// The call is over: its media judged, its row free.
    fn finish(&mut self, row: usize, cause: Option<Cause>) {
        let ctx = self.ctx;
        let Some(c) = self.rows[row].take() else {
            return;
        };
        ctx.counters.fail_opt(c.failed.or(cause));
        if let Some((remote, id)) = c.media {
            let m = ctx.media.stop(c.slot, remote, id);
            ctx.counters.leg_media(c.number, Side::Caller, m, c.dtmf);
        }
        ctx.counters.call_ended();
        self.free.push(row);
    }
}

/// What a 2xx to the INVITE tells the call: the far end's tag and Contact, the route
/// set, and the message to read the SDP from (parsed ones only).
struct Answer<'a> {
    to_tag: Option<&'a str>,
    target: Option<&'a str>,
    routes: Option<String>,
    sdp: Option<&'a Message>,
}

impl<'a> Answer<'a> {
    fn parsed(m: &'a Message) -> Answer<'a> {
        Answer {
            to_tag: m.to().and_then(|t| t.tag()),
            target: m.contacts().and_then(|l| l.first().map(|x| x.uri.raw)),
            routes: crate::ua::route_set(m),
            sdp: Some(m),
        }
    }
}

/// What the engine reads of a response at a glance: its status, Call-ID and CSeq;
/// for a 2xx, the To tag, the first Contact's URI and whether it sets a route.
#[derive(Debug, PartialEq, Eq)]
struct Glance<'a> {
    code: u16,
    call_id: &'a str,
    seq: u32,
    method: &'a str,
    to: Option<&'a str>,
    contact: Option<&'a str>,
    record_route: bool,
}

impl<'a> Glance<'a> {
    /// The answer a 2xx read at a glance gives, when its fields are the plain kind
    /// (a To with a tag, a Contact in angle brackets, no Record-Route); otherwise
    /// the full parse's.
    fn answer(&self) -> Option<Answer<'a>> {
        if self.record_route {
            return None;
        }
        let to_tag = tag_of(self.to?)?;
        let target = match self.contact {
            None => None,
            Some(c) => {
                let uri = c.strip_prefix('<')?.split_once('>')?.0;
                // Only a URI the parser would take: not empty, no spaces inside.
                if uri.is_empty() || uri.contains(char::is_whitespace) {
                    return None;
                }
                Some(uri)
            }
        };
        Some(Answer {
            to_tag: Some(to_tag),
            target,
            routes: None,
            sdp: None,
        })
    }
}

/// The `tag` parameter of a From or To value (after the URI's closing `>`, if any).
fn tag_of(value: &str) -> Option<&str> {
    let params = value.rsplit_once('>').map_or(value, |(_, p)| p);
    params.split(';').skip(1).find_map(|p| {
        let (name, v) = p.split_once('=')?;
        name.trim().eq_ignore_ascii_case("tag").then(|| v.trim())
    })
}

/// A response's status, Call-ID (or `i`) and CSeq, read line by line; `None` for a
/// request, or anything unusual (a folded line, a field missing or malformed): that
/// goes to the full parse.
fn glance(bytes: &[u8]) -> Option<Glance<'_>> {
    let rest = bytes.strip_prefix(b"SIP/2.0 ")?;
    let code = std::str::from_utf8(rest.get(..3)?).ok()?.parse().ok()?;
    let (mut call_id, mut cseq, mut to, mut contact) = (None, None, None, None);
    let mut record_route = false;
    let is = |name: &str, long: &str, short: &str| {
        name.eq_ignore_ascii_case(long) || name.eq_ignore_ascii_case(short)
    };
    for field in crate::phone::head_fields(bytes) {
        let (name, value) = field?;
        if is(name, "call-id", "i") {
            call_id = Some(value);
        } else if name.eq_ignore_ascii_case("cseq") {
            let (seq, method) = value.split_once(|c: char| c.is_ascii_whitespace())?;
            cseq = Some((seq.parse().ok()?, method.trim()));
        } else if is(name, "to", "t") {
            to = to.or(Some(value));
        } else if is(name, "contact", "m") {
            contact = contact.or(Some(value));
        } else if name.eq_ignore_ascii_case("record-route") {
            record_route = true;
        }
    }
    let (seq, method) = cseq?;
    Some(Glance {
        code,
        call_id: call_id?,
        seq,
        method,
        to,
        contact,
        record_route,
    })
}

/// The row and generation a Call-ID of this engine names (`u{row}-{generation}-…`).
fn row_of(call_id: &str) -> Option<(usize, u32)> {
    let rest = call_id.strip_prefix('u')?;
    let mut parts = rest.splitn(3, '-');
    let row = usize::from_str_radix(parts.next()?, 16).ok()?;
    let generation = u32::from_str_radix(parts.next()?, 16).ok()?;
    Some((row, generation))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_glance_reads_status_call_id_and_cseq_or_leaves_it_to_the_parse() {
        let ringing = b"SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK1\r\ni: u1f-3-abc\r\nCSeq:  2 INVITE\r\nContent-Length: 0\r\n\r\n";
        assert_eq!(
            glance(ringing),
            Some(Glance {
                code: 180,
                call_id: "u1f-3-abc",
                seq: 2,
                method: "INVITE",
                to: None,
                contact: None,
                record_route: false,
            })
        );
        let bye = b"SIP/2.0 200 OK\r\ncall-ID: x\r\ncseq: 3 BYE\r\n\r\nbody: no\r\n";
        assert_eq!(
            glance(bye).map(|g| (g.code, g.seq, g.method)),
            Some((200, 3, "BYE"))
        );
        // A request, a folded header, a missing CSeq: the full parse's.
        assert_eq!(
            glance(b"BYE sip:a SIP/2.0\r\nCall-ID: x\r\nCSeq: 3 BYE\r\n\r\n"),
            None
        );
        assert_eq!(
            glance(b"SIP/2.0 180 R\r\nCall-ID: x\r\n y\r\nCSeq: 1 INVITE\r\n\r\n"),
            None
        );
        assert_eq!(glance(b"SIP/2.0 180 R\r\nCall-ID: x\r\n\r\n"), None);
        assert_eq!(glance(b"SIP/2.0 18"), None);
    }

    #[test]
    fn a_plain_2xx_is_answered_at_a_glance_and_a_routed_one_is_parsed() {
        let ok = b"SIP/2.0 200 OK\r\nt: <sip:1001@x;tag=uri>;TAG = far\r\nCall-ID: u1-1-a\r\nCSeq: 1 INVITE\r\nm: <sip:1001@127.0.0.1:5062;transport=udp>;expires=60\r\nContact: <sip:other@h>\r\n\r\nv=0\r\n";
        let g = glance(ok).expect("glanced");
        let a = g.answer().expect("a plain answer");
        assert_eq!(a.to_tag, Some("far"));
        assert_eq!(a.target, Some("sip:1001@127.0.0.1:5062;transport=udp"));
        assert!(a.routes.is_none() && a.sdp.is_none());
        // No Contact: the ACK goes to the Request-URI, as after a full parse.
        let bare =
            b"SIP/2.0 200 OK\r\nTo: sip:1001@x;tag=t\r\nCall-ID: u\r\nCSeq: 1 INVITE\r\n\r\n";
        let a = glance(bare).and_then(|g| g.answer()).expect("plain");
        assert_eq!((a.to_tag, a.target), (Some("t"), None));
        // A route set, a Contact without angle brackets, a To without a tag: parsed.
        let routed = b"SIP/2.0 200 OK\r\nRecord-Route: <sip:p;lr>\r\nTo: <sip:a@b>;tag=t\r\nCall-ID: u\r\nCSeq: 1 INVITE\r\nContact: <sip:a@h>\r\n\r\n";
        assert!(glance(routed).is_some_and(|g| g.answer().is_none()));
        let bare_contact = b"SIP/2.0 200 OK\r\nTo: <sip:a@b>;tag=t\r\nCall-ID: u\r\nCSeq: 1 INVITE\r\nContact: sip:a@h\r\n\r\n";
        assert!(glance(bare_contact).is_some_and(|g| g.answer().is_none()));
        let empty = b"SIP/2.0 200 OK\r\nTo: <sip:a@b>;tag=t\r\nCall-ID: u\r\nCSeq: 1 INVITE\r\nContact: <>\r\n\r\n";
        assert!(glance(empty).is_some_and(|g| g.answer().is_none()));
        let spaced = b"SIP/2.0 200 OK\r\nTo: <sip:a@b>;tag=t\r\nCall-ID: u\r\nCSeq: 1 INVITE\r\nContact: < sip:a@h >\r\n\r\n";
        assert!(glance(spaced).is_some_and(|g| g.answer().is_none()));
        // Two To lines: the first, as the parser reads it.
        let two = b"SIP/2.0 200 OK\r\nTo: <sip:a@b>;tag=first\r\nt: <sip:a@b>;tag=second\r\nCall-ID: u\r\nCSeq: 1 INVITE\r\n\r\n";
        let a = glance(two).and_then(|g| g.answer()).expect("plain");
        assert_eq!(a.to_tag, Some("first"));
        let untagged =
            b"SIP/2.0 200 OK\r\nTo: <sip:a@b;tag=in-uri>\r\nCall-ID: u\r\nCSeq: 1 INVITE\r\n\r\n";
        assert!(glance(untagged).is_some_and(|g| g.answer().is_none()));
    }

    #[test]
    fn call_ids_name_their_row_and_generation() {
        assert_eq!(row_of("u1f-3-abc"), Some((31, 3)));
        assert_eq!(row_of("u0-ffffffff-x"), Some((0, u32::MAX)));
        assert_eq!(row_of("sim-1-abc"), None);
        assert_eq!(row_of("u-1-x"), None);
    }

    #[test]
    fn the_wheel_gives_each_entry_once_at_its_tick_near_or_far() {
        let start = Instant::now();
        let mut w = Wheel::new(start);
        w.push(start + TICK * 3, (1, 1, 1));
        w.push(start + TICK, (2, 1, 1));
        // Beyond the wheel's turn: kept aside, then due at its own tick.
        let far = TICK * (WHEEL_SLOTS as u32 + 10);
        w.push(start + far, (3, 1, 1));
        // In the past: due at the next look.
        let mut due = Vec::new();
        w.due(start + TICK, &mut due);
        assert_eq!(due, vec![(2, 1, 1)]);
        due.clear();
        w.push(start, (4, 1, 1));
        w.due(start + TICK * 3, &mut due);
        assert_eq!(due, vec![(4, 1, 1), (1, 1, 1)]);
        due.clear();
        w.due(start + far - TICK, &mut due);
        assert!(due.is_empty());
        w.due(start + far, &mut due);
        assert_eq!(due, vec![(3, 1, 1)]);
        w.due(start + far * 2, &mut due);
        assert_eq!(due.len(), 1, "each entry once");
    }
}
