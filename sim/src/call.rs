//! The two ends of a simulated call, as sequential async state machines on the engine's
//! codec: the caller (INVITE, 407 answered, ringing, 200, ACK, hold, BYE) and the
//! callee (180, answer after the delay, 200 until ACKed, BYE answered). Both send and
//! check RTP through the media pool while the call is up.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use engine::sdp::Sdp;
use engine::sip::{HeaderName, Message, MessageWriter};
use tokio::time::Instant;

use crate::digest::Challenge;
use crate::media::{Side, StreamSpec};
use crate::phone::{header, unique, Inbox, Phone, T1, T2};
use crate::report::Cause;
use crate::run::Ctx;
use crate::scenario::RtpMode;

/// The payload type the sim offers for telephone-event.
const DTMF_PT: u8 = 101;

/// One call to place.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    pub number: u32,
    /// The called phone's index and extension.
    pub callee: usize,
    pub callee_ext: u32,
    pub hold: Duration,
    pub dtmf: bool,
}

fn sdp_offer(ip: IpAddr, port: u16, id: u32) -> String {
    let v = if ip.is_ipv6() { "IP6" } else { "IP4" };
    format!(
        "v=0\r\no=sim {id} 1 IN {v} {ip}\r\ns=pbx-sim\r\nc=IN {v} {ip}\r\nt=0 0\r\nm=audio {port} RTP/AVP 0 {DTMF_PT}\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:{DTMF_PT} telephone-event/8000\r\na=fmtp:{DTMF_PT} 0-15\r\na=ptime:20\r\na=sendrecv\r\n"
    )
}

/// Where the SDP of `m` wants audio, and its telephone-event payload type.
fn remote_media(m: &Message) -> Option<(SocketAddr, Option<u8>)> {
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

fn send_for(mode: RtpMode) -> Option<Duration> {
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
    ctx.board.release(phone.index, plan.callee, plan.number);
}

struct Dialog {
    call_id: String,
    from_tag: String,
    to: String,
    target_uri: String,
    cseq: u32,
}

impl Dialog {
    fn request(
        &self,
        ctx: &Ctx,
        phone: &Phone,
        method: &str,
        branch: &str,
        cseq: u32,
    ) -> MessageWriter {
        let domain = &ctx.scenario.domain;
        let mut w = MessageWriter::request(method, &self.target_uri);
        w.header_fmt(
            "Via",
            format_args!("SIP/2.0/UDP {};branch={branch};rport", phone.local),
        )
        .header("Max-Forwards", "70")
        .header_fmt(
            "From",
            format_args!("<sip:{}@{domain}>;tag={}", phone.ext, self.from_tag),
        )
        .header("To", &self.to)
        .header("Call-ID", &self.call_id)
        .header_fmt("CSeq", format_args!("{cseq} {method}"));
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
    let ruri = format!("sip:{}@{domain}", plan.callee_ext);
    let mut d = Dialog {
        call_id: call_id.to_owned(),
        from_tag: format!("c{}", unique(ctx)),
        to: format!("<{ruri}>"),
        target_uri: ruri.clone(),
        cseq: 1,
    };
    let slot = ctx.media.allocate();
    let offer = sdp_offer(phone.local.ip(), slot.port, plan.number);
    let invite = |d: &Dialog, branch: &str, auth: Option<&str>| {
        let mut w = d.request(ctx, phone, "INVITE", branch, d.cseq);
        w.header_fmt(
            "Contact",
            format_args!("<sip:{}@{}>", phone.ext, phone.local),
        )
        .header("User-Agent", "pbx-sim");
        if let Some(a) = auth {
            w.header("Proxy-Authorization", a);
        }
        w.body("application/sdp", offer.as_bytes())
    };
    let started = Instant::now();
    let mut branch = format!("z9hG4bK{}", unique(ctx));
    let mut req = invite(&d, &branch, None);
    if !phone.send(ctx, &req).await {
        return Err(Cause::SendError);
    }
    let deadline = started + ctx.scenario.timeout + ctx.scenario.answer_delay;
    let mut wait = T1;
    let mut resend_at = Some(started + wait);
    let mut ringing = false;
    let mut provisional = false;
    let mut challenged = false;
    let answer = loop {
        let until = resend_at.map_or(deadline, |r| r.min(deadline));
        let m = match tokio::time::timeout_at(until, inbox.recv()).await {
            Ok(Some(m)) => m,
            Ok(None) => return Err(Cause::Timeout),
            Err(_) if Instant::now() >= deadline => {
                if provisional {
                    cancel(ctx, phone, &d, &branch).await;
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
                }
            }
            200..=299 => break m,
            401 | 407 if !challenged => {
                challenged = true;
                ack_failure(ctx, phone, &d, &branch, &m).await;
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
                req = invite(&d, &branch, Some(&auth));
                if code == 401 {
                    // A 401 asks for Authorization, not Proxy-Authorization.
                    let text = String::from_utf8_lossy(&req).replacen(
                        "Proxy-Authorization:",
                        "Authorization:",
                        1,
                    );
                    req = text.into_bytes();
                }
                phone.send(ctx, &req).await;
                wait = T1;
                resend_at = Some(Instant::now() + wait);
            }
            _ => {
                ack_failure(ctx, phone, &d, &branch, &m).await;
                return Err(Cause::Code(code));
            }
        }
    };
    ctx.counters.answered(started.elapsed());
    d.to = header(&answer, HeaderName::To).to_owned();
    if let Some(c) = answer
        .contacts()
        .and_then(|c| c.first().map(|c| c.uri.raw.to_owned()))
    {
        d.target_uri = c;
    }
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
    let remote = remote_media(&answer);
    let media_on = ctx.scenario.rtp != RtpMode::Off;
    if media_on {
        if let Some((addr, dtmf_pt)) = remote {
            ctx.media.start(
                slot,
                StreamSpec {
                    call: plan.number,
                    side: Side::Caller,
                    remote: addr,
                    send_for: send_for(ctx.scenario.rtp),
                    dtmf_pt: dtmf_pt.filter(|_| plan.dtmf),
                    dtmf_rx_pt: Some(DTMF_PT),
                },
            );
        }
    }
    // Hold: answer the 200's retransmissions with ACK; a BYE from the switch ends early.
    let hang_up_at = Instant::now() + plan.hold;
    let mut early_bye = false;
    while let Ok(Some(m)) = tokio::time::timeout_at(hang_up_at, inbox.recv()).await {
        if m.code().is_some_and(|c| (200..300).contains(&c))
            && m.cseq().is_some_and(|c| c.method == "INVITE")
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
    let mut result = Ok(());
    if early_bye {
        result = Err(Cause::EarlyBye);
    } else {
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
            Ok(m) => result = Err(Cause::ByeCode(m.code().unwrap_or(0))),
            Err(c) => result = Err(c),
        }
    }
    if media_on {
        match remote {
            Some((addr, _)) => {
                let m = ctx.media.stop(slot, addr);
                ctx.counters
                    .leg_media(plan.number, Side::Caller, m, plan.dtmf);
            }
            None => ctx.counters.fail(Cause::BadSdp),
        }
    }
    result
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
async fn cancel(ctx: &Ctx, phone: &Phone, d: &Dialog, branch: &str) {
    let w = d.request(ctx, phone, "CANCEL", branch, d.cseq);
    phone.send(ctx, &w.finish()).await;
}

/// The callee's side of a call the switch offers: spawned by the phone's reader for a
/// new INVITE.
pub async fn answer(ctx: Arc<Ctx>, phone: Arc<Phone>, invite: Message, mut inbox: Inbox) {
    let call_id = invite.call_id().unwrap_or("").to_owned();
    match ctx.board.take_expected(phone.index) {
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
        Some((number, dtmf)) => {
            if let Err(cause) = callee(&ctx, &phone, &invite, &mut inbox, number, dtmf).await {
                ctx.counters.fail(cause);
            }
        }
    }
    phone.close(&call_id);
}

/// Answers retransmissions of an INVITE with `resp` for a while, ACKs ignored.
async fn linger(ctx: &Ctx, phone: &Phone, inbox: &mut Inbox, resp: &[u8]) {
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

async fn callee(
    ctx: &Ctx,
    phone: &Phone,
    invite: &Message,
    inbox: &mut Inbox,
    number: u32,
    dtmf: bool,
) -> Result<(), Cause> {
    let tag = format!("e{}", unique(ctx));
    let contact = format!("<sip:{}@{}>", phone.ext, phone.local);
    let mut ringing = MessageWriter::response_to(invite, 180, "Ringing", Some(&tag));
    ringing.header("Contact", &contact);
    let ringing = ringing.finish();
    phone.send(ctx, &ringing).await;
    let slot = ctx.media.allocate();
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
    let media_on = ctx.scenario.rtp != RtpMode::Off;
    if let (true, Some((addr, dtmf_pt))) = (media_on, remote) {
        ctx.media.start(
            slot,
            StreamSpec {
                call: number,
                side: Side::Callee,
                remote: addr,
                send_for: send_for(ctx.scenario.rtp),
                dtmf_pt: None,
                dtmf_rx_pt: dtmf_pt.or(Some(DTMF_PT)),
            },
        );
    }
    let result = callee_until_bye(ctx, phone, inbox, &ok).await;
    if media_on {
        match remote {
            Some((addr, _)) => {
                let m = ctx.media.stop(slot, addr);
                ctx.counters.leg_media(number, Side::Callee, m, dtmf);
            }
            None => return Err(Cause::BadSdp),
        }
    }
    result
}

/// Resends the 200 until the ACK (T1 doubling to T2), then waits for the BYE.
async fn callee_until_bye(
    ctx: &Ctx,
    phone: &Phone,
    inbox: &mut Inbox,
    ok: &[u8],
) -> Result<(), Cause> {
    let mut acked = false;
    let mut wait = T1;
    let mut resend_at = Instant::now() + wait;
    let ack_deadline = Instant::now() + ctx.scenario.timeout;
    let bye_deadline = Instant::now() + ctx.scenario.hold.max() + ctx.scenario.timeout * 3;
    let mut result = Ok(());
    loop {
        let until = if acked {
            bye_deadline
        } else {
            resend_at.min(ack_deadline)
        };
        match tokio::time::timeout_at(until, inbox.recv()).await {
            Ok(None) => return result,
            Err(_) if Instant::now() >= bye_deadline => return Err(Cause::ByeTimeout),
            Err(_) if !acked && Instant::now() >= ack_deadline => {
                // The call may still be up; count it and wait for the BYE.
                acked = true;
                result = Err(Cause::NoAck);
            }
            Err(_) => {
                if !acked {
                    phone.send(ctx, ok).await;
                    wait = (wait * 2).min(T2);
                    resend_at = Instant::now() + wait;
                }
            }
            Ok(Some(m)) => match m.method().map(|x| x.as_str()) {
                Some("ACK") => acked = true,
                Some("INVITE") if !acked => {
                    phone.send(ctx, ok).await;
                }
                Some("BYE") => {
                    let resp = MessageWriter::response_to(&m, 200, "OK", None).finish();
                    phone.send(ctx, &resp).await;
                    return result;
                }
                Some(_) => phone.answer_stray(ctx, &m).await,
                None => {}
            },
        }
    }
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
    }
}
