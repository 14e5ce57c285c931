//! A registration storm (`--register-only`): every extension of the scenario registers
//! once, paced at `register_rate`, answering its 401, and the run reports how many
//! were accepted, how fast, and the REGISTER → 200 times. With `register_for` the
//! storm goes on for that long, the extensions in turn again and again (a flood: a
//! phone whose last REGISTER is still under way when its turn comes is skipped).
//!
//! Phones share sockets: `STORM_SOCKETS` non-blocking sockets carry them all (each
//! phone's Contact is its extension at its socket's address), so 100,000 phones need
//! neither 100,000 file descriptors nor more ports than one address has. One task
//! drives them the way the UAC engine drives calls (`uac.rs`): the sockets read each
//! tick, a row per phone named by its Call-ID, the timer wheel for retransmissions.

use std::io::Write;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use engine::auth::client::Challenge;
use engine::sip::Message;
use tokio::time::Instant;

use crate::phone::{Phone, POLL_TICK, T1, T2};
use crate::report::Cause;
use crate::run::Ctx;
use crate::uac::Wheel;

/// How many sockets the phones of a storm share.
pub const STORM_SOCKETS: usize = 16;

/// One phone's registration while it is under way.
struct Pending {
    cseq: u32,
    challenged: bool,
    request: Vec<u8>,
    wait: Duration,
    started: Instant,
    deadline: Instant,
    timer: u32,
}

/// Registers the scenario's extensions over `sockets` (polled); returns how long it
/// took to send every first REGISTER.
pub async fn run(ctx: Arc<Ctx>, sockets: Vec<Arc<Phone>>) -> Duration {
    let s = &ctx.scenario;
    let (first, last) = s.extensions;
    let count = (last - first + 1) as usize;
    let start = Instant::now();
    let mut wheel = Wheel::new(start);
    let mut rows: Vec<Option<Pending>> = (0..count).map(|_| None).collect();
    // Each phone's last CSeq, and whether it was ever registered.
    let mut cseqs = vec![0u32; count];
    let mut ever = vec![false; count];
    let until = s.register_for.map(|d| start + d);
    let mut out = Vec::with_capacity(1024);
    let mut buf = vec![0u8; 65536];
    let mut due = Vec::new();
    let mut next = 0usize;
    let mut open = 0usize;
    let mut placed = Duration::ZERO;
    let mut tick = tokio::time::interval(POLL_TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let register = |out: &mut Vec<u8>, i: usize, cseq: u32, auth: Option<&str>| {
        let ext = first + i as u32;
        let sock = &sockets[i % sockets.len()];
        out.clear();
        let _ = write!(
            out,
            "REGISTER sip:{d} SIP/2.0\r\nVia: SIP/2.0/UDP {l};branch=z9hG4bK{salt:x}.{i:x}.{cseq};rport\r\nMax-Forwards: 70\r\nFrom: <sip:{ext}@{d}>;tag=s{i:x}\r\nTo: <sip:{ext}@{d}>\r\nCall-ID: s{i:x}-{salt:x}\r\nCSeq: {cseq} REGISTER\r\nContact: <sip:{ext}@{l}>\r\nExpires: {e}\r\nUser-Agent: pbx-sim\r\n",
            d = s.domain,
            l = sock.local,
            salt = ctx.salt,
            e = s.register_expires,
        );
        if let Some(a) = auth {
            let _ = write!(out, "Authorization: {a}\r\n");
        }
        out.extend_from_slice(b"Content-Length: 0\r\n\r\n");
        sock.send_now(s.target, out);
    };
    loop {
        let now = tick.tick().await;
        // New registrations at the rate.
        let allowed = ((now - start).as_secs_f64() * s.register_rate).ceil() as usize + 1;
        let placing = |next: usize| match until {
            Some(until) => now < until,
            None => next < count,
        };
        while placing(next) && next < allowed {
            let i = next % count;
            next += 1;
            if rows[i].is_some() {
                ctx.counters.skipped.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            cseqs[i] += 1;
            register(&mut out, i, cseqs[i], None);
            ctx.counters.call_started();
            rows[i] = Some(Pending {
                cseq: cseqs[i],
                challenged: false,
                request: out.clone(),
                wait: T1,
                started: now,
                deadline: now + s.timeout,
                timer: 0,
            });
            wheel.push(now + T1, (i, 0, 0));
            open += 1;
        }
        if !placing(next) {
            if placed.is_zero() {
                placed = start.elapsed();
            }
            if open == 0 {
                return placed;
            }
        }
        // Responses.
        for sock in &sockets {
            while let Some((n, _)) = sock.try_recv(&mut buf) {
                let Ok(m) = Message::parse(buf[..n].to_vec()) else {
                    continue;
                };
                let Some(i) = m.call_id().and_then(|c| row_of(c, ctx.salt)) else {
                    continue;
                };
                let (Some(code), Some(cseq)) = (m.code(), m.cseq().map(|c| c.seq)) else {
                    continue;
                };
                let Some(p) = rows.get_mut(i).and_then(Option::as_mut) else {
                    continue;
                };
                if cseq != p.cseq || code < 200 {
                    continue;
                }
                let outcome = match code {
                    200..=299 => Some(Ok(())),
                    401 if !p.challenged => {
                        let ext = (first + i as u32).to_string();
                        let uri = format!("sip:{}", s.domain);
                        match Challenge::from_response(&m) {
                            Some(c) => {
                                let cnonce = format!("{:x}{i:x}", ctx.salt);
                                let password = s.password_of(first + i as u32);
                                let auth = c.answer(&ext, &password, "REGISTER", &uri, &cnonce);
                                p.challenged = true;
                                p.cseq += 1;
                                p.wait = T1;
                                register(&mut out, i, p.cseq, Some(&auth));
                                p.request.clone_from(&out);
                                p.timer += 1;
                                wheel.push(Instant::now() + T1, (i, 0, p.timer));
                                None
                            }
                            None => Some(Err(Cause::RegisterCode(code))),
                        }
                    }
                    _ => Some(Err(Cause::RegisterCode(code))),
                };
                if let Some(result) = outcome {
                    match result {
                        Ok(()) => {
                            if !std::mem::replace(&mut ever[i], true) {
                                ctx.counters.registered.fetch_add(1, Ordering::Relaxed);
                            }
                            ctx.counters.answered(p.started.elapsed());
                        }
                        Err(cause) => ctx.counters.fail(cause),
                    }
                    cseqs[i] = p.cseq;
                    rows[i] = None;
                    open -= 1;
                    ctx.counters.call_ended();
                }
            }
        }
        // Retransmissions, timeouts.
        let now = Instant::now();
        wheel.due(now, &mut due);
        for (i, _, timer) in due.drain(..) {
            let Some(p) = rows[i].as_mut().filter(|p| p.timer == timer) else {
                continue;
            };
            if now >= p.deadline {
                cseqs[i] = p.cseq;
                rows[i] = None;
                open -= 1;
                ctx.counters.fail(Cause::RegisterTimeout);
                ctx.counters.call_ended();
                continue;
            }
            sockets[i % sockets.len()].send_now(s.target, &p.request);
            p.wait = (p.wait * 2).min(T2);
            p.timer += 1;
            wheel.push((now + p.wait).min(p.deadline), (i, 0, p.timer));
        }
    }
}

/// The phone a storm's Call-ID names (`s{index}-{salt}`), if it is this run's.
fn row_of(call_id: &str, salt: u64) -> Option<usize> {
    let (index, rest) = call_id.strip_prefix('s')?.split_once('-')?;
    (u64::from_str_radix(rest, 16).ok()? == salt).then_some(())?;
    usize::from_str_radix(index, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn call_ids_name_the_phone_of_this_run() {
        assert_eq!(row_of("s1f-abc", 0xabc), Some(31));
        assert_eq!(row_of("s1f-abd", 0xabc), None, "another run's");
        assert_eq!(row_of("u1-2-abc", 0xabc), None);
    }
}
