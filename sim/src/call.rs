//! The two ends of a simulated call, as sequential async state machines on the engine's
//! codec: the caller (INVITE, 407 answered, ringing, 200, ACK, hold, BYE) and the
//! callee (180, answer after the delay, 200 until ACKed, BYE answered). Both send and
//! check RTP through the media pool while the call is up.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use engine::sdp::Sdp;
use engine::sip::{HeaderName, Message, MessageWriter};
use tokio::time::Instant;

use crate::media::{Side, Slot, StreamSpec};
use crate::phone::{header, unique, Inbox, Phone, T1, T2};
use crate::report::Cause;
use crate::run::{Ctx, Expect};
use crate::scenario::{Mode, RtpMode};
use engine::auth::client::Challenge;

/// The payload type the sim offers for telephone-event.
pub(crate) const DTMF_PT: u8 = 101;

/// One call to place.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    pub number: u32,
    /// The called phone's index and extension.
    pub callee: usize,
    pub callee_ext: u64,
    /// The phone the callee transfers the call to, if it does.
    pub target: Option<usize>,
    pub hold: Duration,
    pub dtmf: bool,
    /// Put the callee on hold and resume it during the call.
    pub on_hold: bool,
}

pub(crate) fn sdp_offer(ip: IpAddr, port: u16, id: u32) -> String {
    sdp_with(ip, port, id, 1, "sendrecv")
}

/// An SDP of version `version` with direction `dir` (sendrecv, sendonly, recvonly).
pub(crate) fn sdp_with(ip: IpAddr, port: u16, id: u32, version: u32, dir: &str) -> String {
    let mut out = Vec::with_capacity(256);
    write_sdp(
        &mut out,
        &ip.to_string(),
        ip.is_ipv6(),
        port,
        id,
        version,
        dir,
    );
    String::from_utf8(out).unwrap_or_default()
}

/// Writes the sim's SDP (`sdp_with`) into `out`; `ip` is the address as text.
pub(crate) fn write_sdp(
    out: &mut Vec<u8>,
    ip: &str,
    ipv6: bool,
    port: u16,
    id: u32,
    version: u32,
    dir: &str,
) {
    let v = if ipv6 { "IP6" } else { "IP4" };
    let pt = u64::from(DTMF_PT);
    let mut w = crate::wire::Bytes(out);
    w.s("v=0\r\no=sim ")
        .dec(id.into())
        .s(" ")
        .dec(version.into())
        .s(" IN ")
        .s(v);
    w.s(" ").s(ip).s("\r\ns=pbx-sim\r\nc=IN ").s(v).s(" ").s(ip);
    w.s("\r\nt=0 0\r\nm=audio ")
        .dec(port.into())
        .s(" RTP/AVP 0 ")
        .dec(pt);
    w.s("\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:")
        .dec(pt)
        .s(" telephone-event/8000");
    w.s("\r\na=fmtp:")
        .dec(pt)
        .s(" 0-15\r\na=ptime:20\r\na=")
        .s(dir)
        .s("\r\n");
}

/// The header that answers a challenge: `Authorization` for a 401,
/// `Proxy-Authorization` for a 407.
pub(crate) fn auth_header(code: u16) -> &'static str {
    if code == 401 {
        "Authorization"
    } else {
        "Proxy-Authorization"
    }
}

/// The 200 to a re-INVITE in a call (the switch's merge or transfer): the leg's
/// Contact and its SDP again, version `version`, sending and receiving.
pub(crate) fn reinvite_ok(
    m: &Message,
    contact: &str,
    ip: IpAddr,
    port: u16,
    id: u32,
    version: u32,
) -> Vec<u8> {
    let mut w = MessageWriter::response_to(m, 200, "OK", None);
    w.header("Contact", contact);
    w.body(
        "application/sdp",
        sdp_with(ip, port, id, version, "sendrecv").as_bytes(),
    )
}

/// Whether an SDP body does not want to receive (the sender holds us) or does not
/// send (our hold offer was accepted): a=sendonly, a=recvonly or a=inactive.
fn direction_of(body: &[u8]) -> &'static str {
    let text = String::from_utf8_lossy(body);
    for dir in ["sendonly", "recvonly", "inactive"] {
        if text.contains(&format!("a={dir}")) {
            return dir;
        }
    }
    "sendrecv"
}

/// Where the SDP of `m` wants audio, and its telephone-event payload type.
pub(crate) fn remote_media(m: &Message) -> Option<(SocketAddr, Option<u8>)> {
    let sdp = Sdp::parse(m.body()).ok()?;
    let audio = sdp.media().iter().position(|s| s.kind() == "audio")?;
    let ip = sdp.media_connection(audio)?.ip()?;
    let section = &sdp.media()[audio];
    let port = section.port();
    if port == 0 {
        return None;
    }
    let dtmf = section.telephone_event().map(|c| c.pt);
    Some((SocketAddr::new(ip, port), dtmf))
}

pub(crate) fn send_for(mode: RtpMode) -> Option<Duration> {
    match mode {
        RtpMode::First(d) => Some(d),
        _ => None,
    }
}

/// The caller's side of one call; releases both phones at the end.
pub async fn place(ctx: Arc<Ctx>, phone: Arc<Phone>, plan: Plan) {
    ctx.counters.call_started();
    let outcome = caller(&ctx, &phone, plan).await;
    if let Err(cause) = outcome {
        ctx.counters.fail(cause);
    }
    ctx.counters.call_ended();
    match ctx.scenario.mode {
        // A call out to an external number: only the caller was taken.
        Mode::Phones if plan.callee == usize::MAX => ctx.board.add_idle(phone.index),
        Mode::Phones => ctx
            .board
            .release(phone.index, plan.callee, plan.target, plan.number),
        Mode::CallCentre => {
            ctx.centre.ended(phone.ext, plan.number);
            ctx.board.add_idle(phone.index);
        }
        Mode::Uac | Mode::Uas | Mode::Flow | Mode::Storm => {}
    }
}

/// The caller's side of a dialog: what its requests carry.
pub(crate) struct Dialog {
    pub call_id: String,
    pub from_tag: String,
    pub to: String,
    pub target_uri: String,
    /// The route set a record-routing proxy (the switch's edge) asked for: the Route
    /// of the requests in the dialog.
    pub routes: Option<String>,
    pub cseq: u32,
}

impl Dialog {
    /// A new dialog calling `ruri`, before its INVITE.
    pub fn new(ctx: &Ctx, call_id: &str, ruri: String) -> Dialog {
        Dialog {
            call_id: call_id.to_owned(),
            from_tag: format!("c{}", unique(ctx)),
            to: format!("<{ruri}>"),
            target_uri: ruri,
            routes: None,
            cseq: 1,
        }
    }

    /// The dialog as the 2xx `answer` sets it up: its To (with the tag), the far
    /// end's Contact as the target, and the route set (RFC 3261 §12.1.2: the
    /// Record-Route in reverse order).
    pub fn answered(&mut self, answer: &Message) {
        self.to = header(answer, HeaderName::To).to_owned();
        if let Some(c) = answer
            .contacts()
            .and_then(|c| c.first().map(|c| c.uri.raw.to_owned()))
        {
            self.target_uri = c;
        }
        self.routes = crate::ua::route_set(answer);
    }

    pub fn request(
        &self,
        ctx: &Ctx,
        phone: &Phone,
        method: &str,
        branch: &str,
        cseq: u32,
    ) -> MessageWriter {
        let user = phone.ext.to_string();
        let account = crate::ua::Account {
            user: &user,
            domain: &ctx.scenario.domain,
            local: phone.local,
            transport: "UDP",
        };
        let ids = crate::ua::Ids {
            call_id: &self.call_id,
            cseq,
            branch,
            from_tag: &self.from_tag,
        };
        let mut w = account.request(method, &self.target_uri, &self.to, &ids);
        if let Some(routes) = &self.routes {
            w.header("Route", routes);
        }
        w
    }
}

async fn caller(ctx: &Ctx, phone: &Phone, plan: Plan) -> Result<(), Cause> {
    let domain = ctx.scenario.domain.clone();
    let call_id = format!("sim-{}-{}", plan.number, unique(ctx));
    let mut inbox = phone.open(&call_id);
    let result = caller_dialog(ctx, phone, plan, &domain, &call_id, &mut inbox).await;
    phone.close(&call_id);
    result
}

async fn caller_dialog(
    ctx: &Ctx,
    phone: &Phone,
    plan: Plan,
    domain: &str,
    call_id: &str,
    inbox: &mut Inbox,
) -> Result<(), Cause> {
    let ruri = format!(
        "sip:{}{}@{domain}",
        ctx.scenario.dial_prefix, plan.callee_ext
    );
    let mut d = Dialog::new(ctx, call_id, ruri);
    let slot = ctx.media.allocate();
    let offer = sdp_offer(phone.local.ip(), slot.port, plan.number);
    let started = Instant::now();
    let deadline = started + ctx.scenario.timeout + ctx.scenario.answer_delay;
    let Answered {
        answer,
        ack,
        invite_cseq,
    } = setup(ctx, phone, &mut d, inbox, &offer, deadline).await?;
    ctx.counters.answered(started.elapsed());
    // A queue answers its caller at once; the agent comes later, and the switch hangs
    // up when the agent does.
    let queue = ctx.scenario.mode == Mode::CallCentre;
    if queue {
        ctx.centre.admitted(phone.ext);
    }
    let remote = remote_media(&answer);
    let media_on = ctx.scenario.rtp_on(plan.number);
    let mut stream_id = 0;
    if media_on {
        if let Some((addr, dtmf_pt)) = remote {
            stream_id = ctx.media.start(
                slot,
                StreamSpec {
                    call: plan.number,
                    side: Side::Caller,
                    remote: addr,
                    send_for: send_for(ctx.scenario.rtp),
                    dtmf_pt: dtmf_pt.filter(|_| plan.dtmf),
                    dtmf_rx_pt: Some(DTMF_PT),
                    echo_ok: ctx.scenario.mode == Mode::Uac,
                    // A queue's caller hears the switch until its agent comes; a
                    // transferred caller may hear music while the transfer goes on.
                    hold_audio: queue || plan.target.is_some(),
                    listen_any: false,
                    learn: false,
                },
            );
        }
    }
    // The call: answer the 200's retransmissions with ACK; a BYE from the switch ends
    // early. A hold call goes on hold a quarter in and resumes at half time.
    let answered_at = Instant::now();
    // A queue's caller gives up after its patience unless its agent is talking by
    // then; it then waits for the agent to hang up.
    let mut hang_up_at = answered_at
        + if queue {
            ctx.scenario.patience
        } else {
            plan.hold
        };
    let mut patient = queue;
    let mut hold_steps = if plan.on_hold {
        vec![
            (answered_at + plan.hold / 2, "sendrecv"),
            (answered_at + plan.hold / 4, "sendonly"),
        ]
    } else {
        Vec::new()
    };
    let mut early_bye = false;
    let mut result = Ok(());
    let mut sdp_version = 1;
    loop {
        let until = hold_steps
            .last()
            .map_or(hang_up_at, |s| s.0.min(hang_up_at));
        match tokio::time::timeout_at(until, inbox.recv()).await {
            Ok(None) => break,
            Err(_) => {
                if patient && Instant::now() >= hang_up_at {
                    patient = false;
                    let connected = remote.is_some_and(|(addr, _)| {
                        ctx.media.seen(slot, addr, stream_id).first_ok.is_some()
                    });
                    if connected {
                        hang_up_at += ctx.scenario.hold.max() + ctx.scenario.timeout * 3;
                        continue;
                    }
                }
                let Some((_, dir)) = hold_steps.pop() else {
                    break;
                };
                sdp_version += 1;
                let sdp = sdp_with(phone.local.ip(), slot.port, plan.number, sdp_version, dir);
                match reinvite(ctx, phone, &mut d, inbox, &sdp).await {
                    Ok(answer) => {
                        let got = direction_of(answer.body());
                        let want_hold = dir == "sendonly";
                        if want_hold != (got == "recvonly" || got == "inactive") {
                            result = Err(Cause::HoldFailed);
                            hold_steps.clear();
                        } else if !want_hold {
                            ctx.counters.held.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    Err(Cause::EarlyBye) => {
                        early_bye = true;
                        break;
                    }
                    Err(_) => {
                        result = Err(Cause::HoldFailed);
                        hold_steps.clear();
                    }
                }
            }
            Ok(Some(m)) => {
                if m.code().is_some_and(|c| (200..300).contains(&c))
                    && m.cseq()
                        .is_some_and(|c| c.method == "INVITE" && c.seq == invite_cseq)
                {
                    phone.send(ctx, &ack).await;
                } else if m.method().map(|x| x.as_str()) == Some("BYE") {
                    phone.answer_stray(ctx, &m).await;
                    early_bye = true;
                    break;
                } else if m.is_request() {
                    phone.answer_stray(ctx, &m).await;
                }
            }
        }
    }
    let served = queue
        && remote.is_some_and(|(addr, _)| ctx.media.seen(slot, addr, stream_id).first_ok.is_some());
    if early_bye && served {
        // The agent hung up: the caller was served.
    } else if early_bye {
        result = Err(Cause::EarlyBye);
    } else {
        if queue {
            // Nobody took the call within the caller's patience.
            result = Err(Cause::Abandoned);
        }
        d.cseq += 1;
        let bye = d
            .request(
                ctx,
                phone,
                "BYE",
                &format!("z9hG4bK{}", unique(ctx)),
                d.cseq,
            )
            .finish();
        let deadline = Instant::now() + ctx.scenario.timeout;
        match phone
            .transact(ctx, inbox, &bye, "BYE", d.cseq, deadline)
            .await
        {
            Ok(m) if m.code().is_some_and(|c| (200..300).contains(&c)) => {}
            Ok(m) => {
                ctx.counters.fail_opt(result.err());
                result = Err(Cause::ByeCode(m.code().unwrap_or(0)));
            }
            Err(c) => {
                ctx.counters.fail_opt(result.err());
                result = Err(c);
            }
        }
    }
    if media_on {
        match remote {
            Some((addr, _)) => {
                let m = ctx.media.stop(slot, addr, stream_id);
                if let (true, Some(waited)) = (queue, m.first_ok) {
                    ctx.centre.waited(waited);
                }
                // A caller who gave up is not judged on audio it did not wait for.
                if result != Err(Cause::Abandoned) {
                    ctx.counters
                        .leg_media(plan.number, Side::Caller, m, plan.dtmf);
                }
            }
            None => ctx.counters.fail(Cause::BadSdp),
        }
    }
    result
}

/// An INVITE answered: its 2xx, and the ACK sent for it (sent again for the 2xx's
/// retransmissions).
pub(crate) struct Answered {
    pub answer: Message,
    pub ack: Vec<u8>,
    pub invite_cseq: u32,
}

/// Sends the dialog's INVITE with `offer` to its target and sees it through: resent
/// until a provisional response, a 401/407 answered once, ringing timed, a failure
/// ACKed and returned as its code, the call cancelled at `deadline`. On a 2xx the
/// dialog takes the answer's To tag and Contact, and the ACK is sent.
pub(crate) async fn setup(
    ctx: &Ctx,
    phone: &Phone,
    d: &mut Dialog,
    inbox: &mut Inbox,
    offer: &str,
    deadline: Instant,
) -> Result<Answered, Cause> {
    setup_telling(ctx, phone, d, inbox, offer, deadline, None).await
}

/// What a call left ringing tells, and is told: `rang` when it first rings (180 or
/// 183); `give_up` cancels it at once.
pub(crate) struct RingHook {
    pub rang: Option<tokio::sync::oneshot::Sender<()>>,
    pub give_up: Arc<tokio::sync::Notify>,
}

/// `setup` of a call that may be left ringing (`hook`).
pub(crate) async fn setup_telling(
    ctx: &Ctx,
    phone: &Phone,
    d: &mut Dialog,
    inbox: &mut Inbox,
    offer: &str,
    mut deadline: Instant,
    mut hook: Option<RingHook>,
) -> Result<Answered, Cause> {
    let ruri = d.target_uri.clone();
    let invite = |d: &Dialog, branch: &str, auth: Option<(&str, &str)>| {
        let mut w = d.request(ctx, phone, "INVITE", branch, d.cseq);
        w.header_fmt(
            "Contact",
            format_args!("<sip:{}@{}>", phone.ext, phone.local),
        )
        .header("User-Agent", "pbx-sim");
        if let Some((name, value)) = auth {
            w.header(name, value);
        }
        w.body("application/sdp", offer.as_bytes())
    };
    let started = Instant::now();
    let mut branch = format!("z9hG4bK{}", unique(ctx));
    let mut req = invite(d, &branch, None);
    if !phone.send(ctx, &req).await {
        return Err(Cause::SendError);
    }
    let mut wait = T1;
    let mut resend_at = Some(started + wait);
    let mut ringing = false;
    let mut provisional = false;
    let mut answered = 0;
    let answer = loop {
        let until = resend_at.map_or(deadline, |r| r.min(deadline));
        let give_up = async {
            match &hook {
                Some(h) => h.give_up.notified().await,
                None => std::future::pending().await,
            }
        };
        let got = tokio::select! {
            got = tokio::time::timeout_at(until, inbox.recv()) => Some(got),
            () = give_up => None,
        };
        let Some(got) = got else {
            // Given up: cancelled as at the deadline.
            deadline = Instant::now();
            continue;
        };
        let m = match got {
            Ok(Some(m)) => m,
            Ok(None) => return Err(Cause::Timeout),
            Err(_) if Instant::now() >= deadline => {
                if provisional {
                    cancel(ctx, phone, d, inbox, &branch).await;
                }
                return Err(Cause::Timeout);
            }
            Err(_) => {
                phone.send(ctx, &req).await;
                wait = (wait * 2).min(T2);
                resend_at = Some(Instant::now() + wait);
                continue;
            }
        };
        let Some(code) = m.code() else {
            phone.answer_stray(ctx, &m).await;
            continue;
        };
        let Some(cseq) = m.cseq() else { continue };
        if cseq.method != "INVITE" || cseq.seq != d.cseq {
            continue;
        }
        match code {
            100..=199 => {
                resend_at = None;
                provisional = true;
                if (code == 180 || code == 183) && !ringing {
                    ringing = true;
                    ctx.counters.ringing(started.elapsed());
                    if let Some(tell) = hook.as_mut().and_then(|h| h.rang.take()) {
                        let _ = tell.send(());
                    }
                }
            }
            200..=299 => break m,
            401 | 407 if crate::ua::may_answer(answered, &m) => {
                answered += 1;
                ack_failure(ctx, phone, d, &branch, &m).await;
                let c = Challenge::from_response(&m).ok_or(Cause::Code(code))?;
                let auth = c.answer(
                    &phone.ext.to_string(),
                    &phone.password,
                    "INVITE",
                    &ruri,
                    &unique(ctx),
                );
                d.cseq += 1;
                branch = format!("z9hG4bK{}", unique(ctx));
                req = invite(d, &branch, Some((auth_header(code), &auth)));
                // A new transaction: resent until its own provisional response.
                provisional = false;
                phone.send(ctx, &req).await;
                wait = T1;
                resend_at = Some(Instant::now() + wait);
            }
            _ => {
                ack_failure(ctx, phone, d, &branch, &m).await;
                return Err(Cause::Code(code));
            }
        }
    };
    d.answered(&answer);
    let invite_cseq = d.cseq;
    let ack = d
        .request(
            ctx,
            phone,
            "ACK",
            &format!("z9hG4bK{}", unique(ctx)),
            invite_cseq,
        )
        .finish();
    phone.send(ctx, &ack).await;
    Ok(Answered {
        answer,
        ack,
        invite_cseq,
    })
}

/// A re-INVITE in the caller's dialog with `sdp`: its 2xx answer (ACKed), or
/// `EarlyBye` when the switch hangs up meanwhile, or another cause.
pub(crate) async fn reinvite(
    ctx: &Ctx,
    phone: &Phone,
    d: &mut Dialog,
    inbox: &mut Inbox,
    sdp: &str,
) -> Result<Message, Cause> {
    d.cseq += 1;
    let branch = format!("z9hG4bK{}", unique(ctx));
    let mut w = d.request(ctx, phone, "INVITE", &branch, d.cseq);
    w.header_fmt(
        "Contact",
        format_args!("<sip:{}@{}>", phone.ext, phone.local),
    );
    let req = w.body("application/sdp", sdp.as_bytes());
    if !phone.send(ctx, &req).await {
        return Err(Cause::SendError);
    }
    let deadline = Instant::now() + ctx.scenario.timeout;
    let mut wait = T1;
    let mut resend_at = Some(Instant::now() + wait);
    loop {
        let until = resend_at.map_or(deadline, |r| r.min(deadline));
        let m = match tokio::time::timeout_at(until, inbox.recv()).await {
            Ok(Some(m)) => m,
            Ok(None) => return Err(Cause::HoldFailed),
            Err(_) if Instant::now() >= deadline => return Err(Cause::HoldFailed),
            Err(_) => {
                phone.send(ctx, &req).await;
                wait = (wait * 2).min(T2);
                resend_at = Some(Instant::now() + wait);
                continue;
            }
        };
        let Some(code) = m.code() else {
            phone.answer_stray(ctx, &m).await;
            if m.method().map(|x| x.as_str()) == Some("BYE") {
                return Err(Cause::EarlyBye);
            }
            continue;
        };
        if !m
            .cseq()
            .is_some_and(|c| c.method == "INVITE" && c.seq == d.cseq)
        {
            continue;
        }
        match code {
            100..=199 => resend_at = None,
            200..=299 => {
                let ack = d
                    .request(
                        ctx,
                        phone,
                        "ACK",
                        &format!("z9hG4bK{}", unique(ctx)),
                        d.cseq,
                    )
                    .finish();
                phone.send(ctx, &ack).await;
                return Ok(m);
            }
            _ => {
                ack_failure(ctx, phone, d, &branch, &m).await;
                return Err(Cause::HoldFailed);
            }
        }
    }
}

/// ACKs a non-2xx final response (same branch, the response's To).
async fn ack_failure(ctx: &Ctx, phone: &Phone, d: &Dialog, branch: &str, resp: &Message) {
    let mut w = MessageWriter::request("ACK", &d.target_uri);
    w.header_fmt(
        "Via",
        format_args!("SIP/2.0/UDP {};branch={branch};rport", phone.local),
    )
    .header("Max-Forwards", "70")
    .header_fmt(
        "From",
        format_args!(
            "<sip:{}@{}>;tag={}",
            phone.ext, ctx.scenario.domain, d.from_tag
        ),
    )
    .header("To", header(resp, HeaderName::To))
    .header("Call-ID", &d.call_id)
    .header_fmt("CSeq", format_args!("{} ACK", d.cseq));
    phone.send(ctx, &w.finish()).await;
}

/// CANCELs the pending INVITE (best effort: the answer is not awaited).
/// CANCELs the pending INVITE and waits (one timeout at most) for the INVITE's final
/// response: a 487 (or any refusal) is ACKed; a 2xx that crossed the CANCEL is ACKed
/// and hung up (its BYE not awaited).
async fn cancel(ctx: &Ctx, phone: &Phone, d: &mut Dialog, inbox: &mut Inbox, branch: &str) {
    let w = d.request(ctx, phone, "CANCEL", branch, d.cseq);
    phone.send(ctx, &w.finish()).await;
    let until = Instant::now() + ctx.scenario.timeout;
    while let Ok(Some(m)) = tokio::time::timeout_at(until, inbox.recv()).await {
        let Some(code) = m.code().filter(|c| *c >= 200) else {
            continue;
        };
        if !m
            .cseq()
            .is_some_and(|c| c.method == "INVITE" && c.seq == d.cseq)
        {
            continue;
        }
        if code >= 300 {
            ack_failure(ctx, phone, d, branch, &m).await;
            return;
        }
        d.answered(&m);
        let ack = d.request(
            ctx,
            phone,
            "ACK",
            &format!("z9hG4bK{}", unique(ctx)),
            d.cseq,
        );
        phone.send(ctx, &ack.finish()).await;
        d.cseq += 1;
        let bye = d.request(
            ctx,
            phone,
            "BYE",
            &format!("z9hG4bK{}", unique(ctx)),
            d.cseq,
        );
        phone.send(ctx, &bye.finish()).await;
        return;
    }
}

/// The callee's side of a call the switch offers: spawned by the phone's reader for a
/// new INVITE.
pub async fn answer(ctx: Arc<Ctx>, phone: Arc<Phone>, invite: Message, mut inbox: Inbox) {
    let call_id = invite.call_id().unwrap_or("").to_owned();
    if phone.carrier {
        carrier_answer(&ctx, &phone, &invite, &mut inbox).await;
        phone.close(&call_id);
        return;
    }
    if ctx.scenario.mode == Mode::Uas {
        uas_answer(&ctx, &phone, &invite, &mut inbox).await;
        phone.close(&call_id);
        return;
    }
    if ctx.scenario.mode == Mode::Flow {
        crate::flow::answer(&ctx, &phone, &invite, &mut inbox).await;
        phone.close(&call_id);
        return;
    }
    let expected = if ctx.scenario.mode == Mode::CallCentre {
        offered_to_agent(&ctx, &phone, &invite)
    } else {
        ctx.board.take_expected(phone.index)
    };
    match expected {
        // An offer that crossed its caller's hang-up: turned down, not a misroute.
        None if ctx.scenario.mode == Mode::CallCentre && from_sim_caller(&ctx, &invite) => {
            let resp = MessageWriter::response_to(&invite, 480, "Caller Gone", Some(&unique(&ctx)))
                .finish();
            phone.send(&ctx, &resp).await;
            linger(&ctx, &phone, &mut inbox, &resp).await;
        }
        None => {
            // Not called by the sim (or a retransmission of a finished call).
            let resp = MessageWriter::response_to(
                &invite,
                480,
                "Not Expecting Calls",
                Some(&unique(&ctx)),
            )
            .finish();
            phone.send(&ctx, &resp).await;
            ctx.counters.fail(Cause::Misrouted);
            linger(&ctx, &phone, &mut inbox, &resp).await;
        }
        Some(expect) => {
            if let Err(cause) = callee(&ctx, &phone, &invite, &mut inbox, expect).await {
                ctx.counters.fail(cause);
            }
        }
    }
    phone.close(&call_id);
}

/// Whether an INVITE comes from one of the sim's callers (its From user).
fn from_sim_caller(ctx: &Ctx, invite: &Message) -> bool {
    let (a, b) = ctx.scenario.extensions;
    invite
        .from()
        .and_then(|f| f.uri.user_unescaped()?.parse::<u32>().ok())
        .is_some_and(|ext| (a..=b).contains(&ext))
}

/// The call an agent is offered: the call its caller (the INVITE's From user) has in
/// the queue; the agent talks for the call's hold time, then hangs up.
fn offered_to_agent(ctx: &Ctx, phone: &Phone, invite: &Message) -> Option<Expect> {
    let caller = invite.from()?.uri.user_unescaped()?.parse().ok()?;
    let w = ctx.centre.offered(phone.index, caller)?;
    Some(Expect {
        number: w.number,
        dtmf: false,
        transfer: None,
        hang_up: Some(w.talk),
    })
}

/// UAS mode: answers an INVITE for one of the DIDs (`extensions`), 404 otherwise.
async fn uas_answer(ctx: &Ctx, phone: &Phone, invite: &Message, inbox: &mut Inbox) {
    ctx.counters.call_started();
    match answer_did(ctx, phone, invite, inbox, ctx.scenario.numbers()).await {
        Ok(true) => {}
        Ok(false) => ctx.counters.fail(Cause::Code(404)),
        Err(cause) => ctx.counters.fail(cause),
    }
    ctx.counters.call_ended();
}

/// A flow's carrier answers an INVITE for one of its DIDs (`dids`), 404 otherwise;
/// the flow's caller judges the audio.
async fn carrier_answer(ctx: &Ctx, phone: &Phone, invite: &Message, inbox: &mut Inbox) {
    let dids = ctx.scenario.dids.unwrap_or((1, 0));
    if let Err(cause) = answer_did(ctx, phone, invite, inbox, dids).await {
        ctx.counters
            .fail(Cause::Step("carrier".into(), Box::new(cause)));
    }
}

/// A carrier's answer: an INVITE for one of `dids` is answered (`Ok(true)`, or the
/// callee's failure), any other refused 404 (`Ok(false)`).
async fn answer_did(
    ctx: &Ctx,
    phone: &Phone,
    invite: &Message,
    inbox: &mut Inbox,
    (from, to): (u64, u64),
) -> Result<bool, Cause> {
    match invite.uri_str().and_then(uri_user) {
        Some(did) if (from..=to).contains(&did) => {
            if ctx.scenario.mode == Mode::Uas {
                ctx.counters.answered(ctx.scenario.answer_delay);
            }
            let expect = Expect {
                number: sim_number(invite.body()).unwrap_or(0),
                dtmf: false,
                transfer: None,
                hang_up: None,
            };
            callee(ctx, phone, invite, inbox, expect)
                .await
                .map(|()| true)
        }
        _ => {
            let resp =
                MessageWriter::response_to(invite, 404, "Not Found", Some(&unique(ctx))).finish();
            phone.send(ctx, &resp).await;
            linger(ctx, phone, inbox, &resp).await;
            Ok(false)
        }
    }
}

/// The numeric user part of a SIP URI (`sip:4930123400@host;…`).
fn uri_user(uri: &str) -> Option<u64> {
    let rest = uri
        .strip_prefix("sip:")
        .or_else(|| uri.strip_prefix("sips:"))
        .or_else(|| uri.strip_prefix("tel:"))?;
    let user = rest.split(['@', ';', '?']).next()?;
    user.trim_start_matches('+').parse().ok()
}

/// The call number a simulated caller put in its SDP (`o=sim NUMBER …`).
fn sim_number(body: &[u8]) -> Option<u32> {
    let text = std::str::from_utf8(body).ok()?;
    let line = text.lines().find(|l| l.starts_with("o=sim "))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Answers retransmissions of an INVITE with `resp` for a while, ACKs ignored.
pub(crate) async fn linger(ctx: &Ctx, phone: &Phone, inbox: &mut Inbox, resp: &[u8]) {
    let until = Instant::now() + T1 * 4;
    while let Ok(Some(m)) = tokio::time::timeout_at(until, inbox.recv()).await {
        match m.method().map(|x| x.as_str()) {
            Some("INVITE") => {
                phone.send(ctx, resp).await;
            }
            Some("ACK") => return,
            _ => {}
        }
    }
}

pub(crate) async fn callee(
    ctx: &Ctx,
    phone: &Phone,
    invite: &Message,
    inbox: &mut Inbox,
    expect: Expect,
) -> Result<(), Cause> {
    let Expect { number, dtmf, .. } = expect;
    let tag = format!("e{}", unique(ctx));
    let contact = format!("<sip:{}@{}>", phone.ext, phone.local);
    let mut ringing = MessageWriter::response_to(invite, 180, "Ringing", Some(&tag));
    ringing.header("Contact", &contact);
    let ringing = ringing.finish();
    phone.send(ctx, &ringing).await;
    // A socket of the pool that has no stream from the caller's address yet: a sim
    // calling this one directly sends from a pool too, and two calls between the same
    // two sockets could not be told apart.
    let slot = match remote_media(invite) {
        Some((from, _)) => ctx.media.allocate_apart_from(from),
        None => ctx.media.allocate(),
    };
    // Ring for the answer delay; a CANCEL ends the call.
    let answer_at = Instant::now() + ctx.scenario.answer_delay;
    loop {
        match tokio::time::timeout_at(answer_at, inbox.recv()).await {
            Err(_) => break,
            Ok(None) => return Ok(()),
            Ok(Some(m)) => match m.method().map(|x| x.as_str()) {
                Some("INVITE") => {
                    phone.send(ctx, &ringing).await;
                }
                Some("CANCEL") => {
                    let ok = MessageWriter::response_to(&m, 200, "OK", Some(&tag)).finish();
                    phone.send(ctx, &ok).await;
                    let terminated =
                        MessageWriter::response_to(invite, 487, "Request Terminated", Some(&tag))
                            .finish();
                    phone.send(ctx, &terminated).await;
                    linger(ctx, phone, inbox, &terminated).await;
                    return Ok(());
                }
                _ => {}
            },
        }
    }
    let remote = remote_media(invite);
    let mut ok = MessageWriter::response_to(invite, 200, "OK", Some(&tag));
    ok.header("Contact", &contact);
    let ok = ok.body(
        "application/sdp",
        sdp_offer(phone.local.ip(), slot.port, number).as_bytes(),
    );
    phone.send(ctx, &ok).await;
    // A callee that learns the call's number from the caller's audio sends once it
    // hears some: the caller's sample decides.
    let learns = (ctx.scenario.mode == Mode::Uas || phone.carrier) && number == 0;
    let media_on = if learns {
        ctx.scenario.rtp != RtpMode::Off
    } else {
        ctx.scenario.rtp_on(number)
    };
    let mut stream_id = 0;
    if let (true, Some((addr, dtmf_pt))) = (media_on, remote) {
        stream_id = ctx.media.start(
            slot,
            StreamSpec {
                call: number,
                side: Side::Callee,
                remote: addr,
                send_for: send_for(ctx.scenario.rtp),
                dtmf_pt: None,
                dtmf_rx_pt: dtmf_pt.or(Some(DTMF_PT)),
                echo_ok: false,
                // A held callee hears the switch's music on hold; the switch starts
                // it before the callee has seen the re-INVITE that holds it.
                hold_audio: true,
                listen_any: ctx.scenario.mode == Mode::Flow,
                learn: learns,
            },
        );
    }
    let sends_to = remote.filter(|_| media_on).map(|r| r.0);
    // The answerer of a flow that owns its answerers: the flow knows its call (a
    // transfer's `hear = "joined"` listens to it; the flow may ask it to hang up).
    let owned = ctx.scenario.mode == Mode::Flow
        && !phone.carrier
        && crate::steps::owns_answerers(&ctx.scenario.steps);
    let flow_key = owned.then(|| {
        let media = sends_to.map(|r| (slot, r, stream_id));
        ctx.flow.leg_up(phone.ext, media)
    });
    let leg = CalleeLeg {
        invite,
        tag: &tag,
        contact: &contact,
        slot,
        remote: sends_to,
        number,
        transfer: expect.transfer,
        hang_up: expect.hang_up,
        flow_key,
    };
    let result = callee_until_bye(ctx, phone, inbox, &ok, &leg).await;
    if let Some(key) = flow_key {
        ctx.flow.leg_down(phone.ext, key);
    }
    if media_on {
        match remote {
            Some((addr, _)) => {
                let m = ctx.media.stop(slot, addr, stream_id);
                // A UAS called by something other than the sim cannot check what it
                // got; a flow's callers judge their steps themselves.
                let unjudged = ctx.scenario.mode == Mode::Flow || learns;
                if !unjudged {
                    ctx.counters.leg_media(number, Side::Callee, m, dtmf);
                } else if ctx.scenario.mode == Mode::Flow && m.bad > 0 {
                    // Whoever it heard, never its own audio back.
                    return result.and(Err(Cause::WrongRtp));
                }
            }
            None => return Err(Cause::BadSdp),
        }
    }
    result
}

/// An answered callee leg, for what it does after the 200.
struct CalleeLeg<'a> {
    invite: &'a Message,
    tag: &'a str,
    contact: &'a str,
    slot: Slot,
    /// Where this leg sends RTP (none: no media).
    remote: Option<SocketAddr>,
    number: u32,
    transfer: Option<(u32, Duration)>,
    /// Hang up this long after answering (an agent).
    hang_up: Option<Duration>,
    /// A flow's answerer that hangs up when its flow asks: its key there.
    flow_key: Option<u64>,
}

/// How far a blind transfer got.
#[derive(Default)]
struct Transfer {
    refer: Option<Vec<u8>>,
    accepted: bool,
    notified_ok: bool,
    failed: bool,
}

/// Resends the 200 until the ACK (T1 doubling to T2), then waits for the BYE: answers
/// hold and resume re-INVITEs (pausing its RTP while held), and blind-transfers the
/// call when asked to.
async fn callee_until_bye(
    ctx: &Ctx,
    phone: &Phone,
    inbox: &mut Inbox,
    ok: &[u8],
    leg: &CalleeLeg<'_>,
) -> Result<(), Cause> {
    let mut acked = false;
    let mut wait = T1;
    let mut resend_at = Instant::now() + wait;
    let ack_deadline = Instant::now() + ctx.scenario.timeout;
    let call_limit = match ctx.scenario.mode {
        Mode::Flow => crate::flow::flow_limit(&ctx.scenario),
        _ => ctx.scenario.hold.max(),
    };
    let bye_deadline = Instant::now() + call_limit + ctx.scenario.timeout * 3;
    let invite_cseq = leg.invite.cseq().map_or(0, |c| c.seq);
    let mut transfer_at = leg.transfer.map(|(_, after)| Instant::now() + after);
    let hang_up_at = leg.hang_up.map(|after| Instant::now() + after);
    let mut tr = Transfer::default();
    let mut refer_resend = Instant::now();
    let mut refer_wait = T1;
    // The last re-INVITE's CSeq and our answer to it (resent for its retransmissions).
    let mut last_reinvite: Option<(u32, Vec<u8>)> = None;
    let mut sdp_version = 1;
    let mut result = Ok(());
    loop {
        let mut until = if acked {
            bye_deadline
        } else {
            resend_at.min(ack_deadline)
        };
        if acked {
            if let Some(t) = transfer_at.or(hang_up_at) {
                until = until.min(t);
            }
            if leg.flow_key.is_some() {
                until = until.min(Instant::now() + crate::flow::POLL);
            }
            if tr.refer.is_some() && !tr.accepted && !tr.failed {
                until = until.min(refer_resend);
            }
        }
        match tokio::time::timeout_at(until, inbox.recv()).await {
            Ok(None) => return result,
            Err(_) if Instant::now() >= bye_deadline => {
                if tr.refer.is_some() && !tr.failed && !tr.notified_ok {
                    ctx.counters.fail(Cause::TransferFailed);
                }
                return Err(Cause::ByeTimeout);
            }
            Err(_) if !acked && Instant::now() >= ack_deadline => {
                // The call may still be up; count it and wait for the BYE.
                acked = true;
                result = Err(Cause::NoAck);
            }
            Err(_) if !acked => {
                phone.send(ctx, ok).await;
                wait = (wait * 2).min(T2);
                resend_at = Instant::now() + wait;
            }
            Err(_) => {
                if leg
                    .flow_key
                    .is_some_and(|key| ctx.flow.asked_to_hang_up(phone.ext, key))
                {
                    return hang_up(ctx, phone, inbox, leg).await.and(result);
                }
                if hang_up_at.is_some_and(|t| Instant::now() >= t) {
                    return hang_up(ctx, phone, inbox, leg).await.and(result);
                }
                if transfer_at.is_some_and(|t| Instant::now() >= t) {
                    transfer_at = None;
                    let (ext, _) = leg.transfer.unwrap_or_default();
                    let refer = refer_request(ctx, phone, leg, ext);
                    phone.send(ctx, &refer).await;
                    tr.refer = Some(refer);
                    refer_resend = Instant::now() + refer_wait;
                } else if let Some(refer) = &tr.refer {
                    if Instant::now() >= refer_resend && !tr.accepted {
                        phone.send(ctx, refer).await;
                        refer_wait = (refer_wait * 2).min(T2);
                        refer_resend = Instant::now() + refer_wait;
                    }
                }
            }
            Ok(Some(m)) => {
                if let Some(code) = m.code() {
                    if m.cseq().is_some_and(|c| c.method == "REFER") && code >= 200 {
                        if code < 300 {
                            tr.accepted = true;
                        } else if !tr.failed {
                            tr.failed = true;
                            ctx.counters.fail(Cause::TransferFailed);
                        }
                    }
                    continue;
                }
                match m.method().map(|x| x.as_str()) {
                    Some("ACK") => acked = true,
                    Some("INVITE") => {
                        let seq = m.cseq().map_or(0, |c| c.seq);
                        if seq == invite_cseq {
                            if !acked {
                                phone.send(ctx, ok).await;
                            }
                        } else if let Some((_, resp)) =
                            last_reinvite.as_ref().filter(|r| r.0 == seq)
                        {
                            phone.send(ctx, resp).await;
                        } else {
                            // Hold (sendonly or inactive offer) or resume.
                            acked = true;
                            let held = direction_of(m.body()) != "sendrecv";
                            if let Some(r) = leg.remote {
                                ctx.media.set_paused(leg.slot, r, held);
                            }
                            sdp_version += 1;
                            let dir = if held { "recvonly" } else { "sendrecv" };
                            let mut w = MessageWriter::response_to(&m, 200, "OK", None);
                            w.header("Contact", leg.contact);
                            let resp = w.body(
                                "application/sdp",
                                sdp_with(
                                    phone.local.ip(),
                                    leg.slot.port,
                                    leg.number,
                                    sdp_version,
                                    dir,
                                )
                                .as_bytes(),
                            );
                            phone.send(ctx, &resp).await;
                            last_reinvite = Some((seq, resp));
                        }
                    }
                    Some("NOTIFY") => {
                        phone.answer_stray(ctx, &m).await;
                        match sipfrag_code(m.body()) {
                            Some(200..=299) => tr.notified_ok = true,
                            Some(300..) if !tr.failed => {
                                tr.failed = true;
                                ctx.counters.fail(Cause::TransferFailed);
                            }
                            _ => {}
                        }
                    }
                    Some("BYE") => {
                        let resp = MessageWriter::response_to(&m, 200, "OK", None).finish();
                        phone.send(ctx, &resp).await;
                        if tr.refer.is_some() && !tr.failed {
                            if tr.notified_ok {
                                ctx.counters.transferred.fetch_add(1, Ordering::Relaxed);
                            } else {
                                ctx.counters.fail(Cause::TransferFailed);
                            }
                        }
                        return result;
                    }
                    Some(_) => phone.answer_stray(ctx, &m).await,
                    None => {}
                }
            }
        }
    }
}

/// The status code of a NOTIFY's message/sipfrag body ("SIP/2.0 200 OK").
pub(crate) fn sipfrag_code(body: &[u8]) -> Option<u16> {
    let text = std::str::from_utf8(body).ok()?;
    let line = text.trim_start().lines().next()?;
    let mut parts = line.split_whitespace();
    if parts.next()? != "SIP/2.0" {
        return None;
    }
    parts.next()?.parse().ok()
}

/// The agent hangs up: a BYE in its dialog, answered with a 2xx. The agent counts as
/// free from the moment it sends it (the switch frees it when the BYE arrives).
async fn hang_up(
    ctx: &Ctx,
    phone: &Phone,
    inbox: &mut Inbox,
    leg: &CalleeLeg<'_>,
) -> Result<(), Cause> {
    const BYE_CSEQ: u32 = 2;
    let bye = callee_request(ctx, phone, leg, "BYE", BYE_CSEQ).finish();
    ctx.centre.agent_free(phone.index, Instant::now());
    let deadline = Instant::now() + ctx.scenario.timeout;
    match phone
        .transact(ctx, inbox, &bye, "BYE", BYE_CSEQ, deadline)
        .await?
        .code()
    {
        Some(200..=299) => Ok(()),
        code => Err(Cause::ByeCode(code.unwrap_or(0))),
    }
}

/// A request from the callee's side of its dialog (to the caller's Contact).
fn callee_request(
    ctx: &Ctx,
    phone: &Phone,
    leg: &CalleeLeg<'_>,
    method: &str,
    cseq: u32,
) -> MessageWriter {
    let invite = leg.invite;
    let target = invite
        .contacts()
        .and_then(|c| c.first().map(|c| c.uri.raw.to_owned()))
        .unwrap_or_else(|| format!("sip:{}", ctx.scenario.target));
    let mut w = MessageWriter::request(method, &target);
    w.header_fmt(
        "Via",
        format_args!(
            "SIP/2.0/UDP {};branch=z9hG4bK{};rport",
            phone.local,
            unique(ctx)
        ),
    )
    .header("Max-Forwards", "70")
    .header_fmt(
        "From",
        format_args!("{};tag={}", header(invite, HeaderName::To), leg.tag),
    )
    .header("To", header(invite, HeaderName::From))
    .header("Call-ID", invite.call_id().unwrap_or(""))
    .header_fmt("CSeq", format_args!("{cseq} {method}"));
    // The callee's route set: the INVITE's Record-Route, in order (§12.1.1).
    if let Ok(routes) = engine::dialog::record_routes(invite) {
        if !routes.is_empty() {
            w.header("Route", &routes.join(", "));
        }
    }
    w
}

/// A REFER from the callee's side of its dialog, transferring the call to `ext`.
fn refer_request(ctx: &Ctx, phone: &Phone, leg: &CalleeLeg<'_>, ext: u32) -> Vec<u8> {
    let domain = &ctx.scenario.domain;
    let mut w = callee_request(ctx, phone, leg, "REFER", 1);
    w.header("Contact", leg.contact)
        .header_fmt("Refer-To", format_args!("<sip:{ext}@{domain}>"))
        .header_fmt("Referred-By", format_args!("<sip:{}@{domain}>", phone.ext));
    w.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offer_parses_and_points_at_the_slot() {
        let text = sdp_offer("127.0.0.1".parse().unwrap(), 40000, 7);
        let msg = format!(
            "INVITE sip:1@h SIP/2.0\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK1\r\nFrom: <sip:1@h>;tag=f\r\nTo: <sip:2@h>\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{text}",
            text.len()
        );
        let m = Message::parse(msg.into_bytes()).unwrap();
        let (addr, dtmf) = remote_media(&m).unwrap();
        assert_eq!(addr, "127.0.0.1:40000".parse().unwrap());
        assert_eq!(dtmf, Some(DTMF_PT));
        assert_eq!(direction_of(text.as_bytes()), "sendrecv");
        let hold = sdp_with("127.0.0.1".parse().unwrap(), 40000, 7, 2, "sendonly");
        assert!(hold.contains("o=sim 7 2 IN IP4"));
        assert_eq!(direction_of(hold.as_bytes()), "sendonly");
    }

    #[test]
    fn uri_users_and_sim_numbers() {
        assert_eq!(
            uri_user("sip:4930123400@10.0.0.1;user=phone"),
            Some(4930123400)
        );
        assert_eq!(uri_user("sip:+49301@h"), Some(49301));
        assert_eq!(uri_user("sip:alice@h"), None);
        let offer = sdp_offer("127.0.0.1".parse().unwrap(), 4000, 77);
        assert_eq!(sim_number(offer.as_bytes()), Some(77));
        assert_eq!(sim_number(b"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\n"), None);
    }

    #[test]
    fn sipfrag_status() {
        assert_eq!(sipfrag_code(b"SIP/2.0 100 Trying\r\n"), Some(100));
        assert_eq!(sipfrag_code(b"SIP/2.0 200 OK"), Some(200));
        assert_eq!(sipfrag_code(b"SIP/2.0 486 Busy Here\r\n"), Some(486));
        assert_eq!(sipfrag_code(b"garbage"), None);
    }
}
