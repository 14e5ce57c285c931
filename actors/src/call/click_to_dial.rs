//! Click-to-dial (the API's "make call"): the switch rings the user's own phones first
//! (`Call-Info: answer-after=0` for phones that answer by themselves), and once one
//! answers it asks that phone by REFER (RFC 3515) to call the number. The phone then
//! places the call itself: authenticated as its line, routed by the plan, checked
//! against the line's permission class and journalled like any call it dials, and it
//! shows in the phone's own call list. The switch's short dialog with the phone
//! carries no media (`a=inactive`) and ends once the phone reports how its call went
//! (the REFER's NOTIFY with a final status), or after `REFER_WAIT`.
//!
//! The actor speaks `CallMsg` so the dispatcher hands it the responses and in-dialog
//! requests of its dialogs like a call's (found by Call-ID in the directory).

use std::sync::Arc;
use std::time::{Duration, Instant};

use engine::call::{Fork, Leg, LegEvent, OutgoingInvite, Output};
use engine::sip::{Message, Method};
use ractor::{Actor, ActorProcessingErr, ActorRef};

use super::route::Pending;
use super::{device_invite_headers, leg_config, now, random_token};
use crate::directory::Directory;
use crate::proto::{CallMsg, CallTarget, Flow};
use crate::sip::SipOut;
use crate::store::TenantId;

/// How long the user's phones ring before the switch gives up.
pub const RING: Duration = Duration::from_secs(30);

/// How long the phone may take to report the outcome of the call it was asked to make.
pub const REFER_WAIT: Duration = Duration::from_secs(60);

pub struct ClickToDialArgs {
    pub tenant: TenantId,
    pub domain: String,
    /// The user's line: its registered devices ring.
    pub line: String,
    pub devices: Vec<CallTarget>,
    /// The number the phone is asked to call, as the user would dial it.
    pub to: String,
    pub out: Arc<SipOut>,
    pub directory: Arc<Directory>,
}

pub struct ClickToDial;

pub struct State {
    args: ClickToDialArgs,
    fork: Fork,
    flows: Vec<Flow>,
    call_ids: Vec<String>,
    pending: Pending,
    /// The REFER went out (and when), to the fork's winner.
    referred: Option<Instant>,
    timer_gen: u64,
}

/// An SDP offer without media: the phone neither sends nor expects any on this
/// dialog (RFC 3264 `a=inactive`); its own call to the number carries the audio.
fn silent_offer(ip: std::net::IpAddr) -> Option<engine::sdp::Sdp> {
    let family = if ip.is_ipv6() { "IP6" } else { "IP4" };
    let session = rand::random::<u32>();
    let text = format!(
        "v=0\r\no=pbx {session} 1 IN {family} {ip}\r\ns=pbx\r\nc=IN {family} {ip}\r\nt=0 0\r\n\
         m=audio 9 RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n\
         a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=inactive\r\n"
    );
    engine::sdp::Sdp::parse(text.as_bytes()).ok()
}

impl State {
    fn legs(args: &ClickToDialArgs, t: Instant) -> (Vec<Leg>, Vec<Flow>, Vec<String>) {
        let (mut legs, mut flows, mut ids) = (Vec::new(), Vec::new(), Vec::new());
        for d in &args.devices {
            let call_id = format!("{}@pbx", random_token());
            let ip = args
                .out
                .sent_by(d.flow)
                .map(|a| a.ip())
                .unwrap_or(std::net::Ipv4Addr::LOCALHOST.into());
            let mut leg = Leg::outgoing(leg_config(&args.out, d.flow, &args.to, Some(RING)));
            let mut headers = device_invite_headers(d);
            // Phones that offer it answer at once: the user asked for this call.
            headers.push((
                "Call-Info".into(),
                format!("<sip:{}>;answer-after=0", args.domain),
            ));
            leg.send_invite(
                &OutgoingInvite {
                    request_uri: d.contact.clone(),
                    // The phone shows whom it is about to call.
                    from: format!(
                        "\"Call {}\" <sip:{}@{}>;tag={}",
                        args.to,
                        args.to,
                        args.domain,
                        random_token()
                    ),
                    to: format!("<sip:{}@{}>", args.line, args.domain),
                    call_id: call_id.clone(),
                    cseq: 1,
                    max_forwards: 70,
                    headers,
                    sdp: silent_offer(ip),
                },
                t,
            );
            legs.push(leg);
            flows.push(d.flow);
            ids.push(call_id);
        }
        (legs, flows, ids)
    }

    /// Sends what the legs produced and acts on their events.
    fn settle(&mut self, myself: &ActorRef<CallMsg>) {
        let t = now();
        while let Some((i, o)) = self.fork.poll_output() {
            match o {
                Output::Event(e) => self.event(i, e, t),
                Output::Send(bytes) => {
                    self.args.out.send(self.flows[i], bytes);
                }
                Output::Respond(r) => {
                    let reply = r
                        .request
                        .as_ref()
                        .and_then(|k| self.pending.take(k, r.code));
                    match reply {
                        Some(reply) => reply.send(r.code, r.bytes.to_vec()),
                        None => {
                            self.args.out.send(self.flows[i], r.bytes);
                        }
                    }
                }
            }
        }
        if self.fork.is_ended() {
            return myself.stop(None);
        }
        let refer_deadline = self.referred.map(|at| at + REFER_WAIT);
        if let Some(at) = self
            .fork
            .next_timeout()
            .into_iter()
            .chain(refer_deadline)
            .min()
        {
            self.timer_gen += 1;
            let gen = self.timer_gen;
            myself.send_after(at.saturating_duration_since(t), move || CallMsg::Wake(gen));
        }
    }

    fn event(&mut self, i: usize, e: LegEvent, t: Instant) {
        match e {
            LegEvent::Answered(_) => {
                // The phone answered: ask it to call the number.
                let refer_to = format!("<sip:{}@{}>", self.args.to, self.args.domain);
                let by = format!("<sip:{}@{}>", self.args.line, self.args.domain);
                self.fork.with_leg(i, t, |l| {
                    l.send_request_with(
                        &Method::Refer,
                        &[("Refer-To", &refer_to), ("Referred-By", &by)],
                        None,
                        t,
                    );
                });
                self.referred = Some(t);
                tracing::info!(line = %self.args.line, to = %self.args.to, "click-to-dial: phone answered, asked to call");
            }
            LegEvent::Response(resp) if resp.code().is_some_and(|c| c >= 300) => {
                // The phone will not make the call (REFER refused).
                tracing::info!(code = ?resp.code(), "click-to-dial: the phone refused the REFER");
                self.fork.hangup(200, "Done", t);
            }
            LegEvent::Request(req) => self.request(i, &req, t),
            _ => {}
        }
    }

    /// A NOTIFY of the REFER's subscription: a final status in its sipfrag ends the
    /// switch's dialog with the phone.
    fn request(&mut self, i: usize, req: &Message, t: Instant) {
        let is_notify = req.method() == Some(&Method::Notify);
        let code = if is_notify { 200 } else { 405 };
        self.fork.with_leg(i, t, |l| {
            l.respond(
                req,
                code,
                if is_notify {
                    "OK"
                } else {
                    "Method Not Allowed"
                },
                None,
                t,
            )
        });
        if !is_notify {
            return;
        }
        let status = std::str::from_utf8(req.body())
            .ok()
            .and_then(|b| b.split_whitespace().nth(1))
            .and_then(|c| c.parse::<u16>().ok());
        let terminated = req.header_lines().any(|(_, n, v)| {
            n.eq_ignore_ascii_case("Subscription-State") && v.trim_start().starts_with("terminated")
        });
        if status.is_some_and(|c| c >= 200) || terminated {
            tracing::info!(
                ?status,
                "click-to-dial: the phone's call is set up or failed"
            );
            self.fork.hangup(200, "Done", t);
        }
    }
}

impl Actor for ClickToDial {
    type Msg = CallMsg;
    type State = State;
    type Arguments = ClickToDialArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<CallMsg>,
        args: ClickToDialArgs,
    ) -> Result<State, ActorProcessingErr> {
        let t = now();
        let (legs, flows, call_ids) = State::legs(&args, t);
        for id in &call_ids {
            args.directory.add_call(args.tenant, id, myself.clone());
        }
        let mut state = State {
            fork: Fork::new(legs, t),
            args,
            flows,
            call_ids,
            pending: Pending::default(),
            referred: None,
            timer_gen: 0,
        };
        state.settle(&myself);
        Ok(state)
    }

    async fn handle(
        &self,
        myself: ActorRef<CallMsg>,
        msg: CallMsg,
        state: &mut State,
    ) -> Result<(), ActorProcessingErr> {
        let t = now();
        match msg {
            CallMsg::Request(inc) => {
                if state.fork.on_request(&inc.msg, t) {
                    state.pending.push(&inc.msg, inc.reply.clone());
                } else if inc.msg.method() != Some(&Method::Ack) {
                    inc.respond(481, "Call/Transaction Does Not Exist");
                }
            }
            CallMsg::Response(m) => {
                state.fork.on_response(&m, t);
            }
            CallMsg::Wake(gen) if gen == state.timer_gen => {
                if state.referred.is_some_and(|at| t >= at + REFER_WAIT) {
                    state.referred = None;
                    state.fork.hangup(200, "Done", t);
                }
                state.fork.on_timeout(t);
            }
            CallMsg::Control(.., reply) => {
                let _ = reply.send(false);
            }
            CallMsg::DialogOf { reply, .. } => {
                let _ = reply.send(None);
            }
            _ => {}
        }
        state.settle(&myself);
        Ok(())
    }

    async fn post_stop(
        &self,
        _: ActorRef<CallMsg>,
        state: &mut State,
    ) -> Result<(), ActorProcessingErr> {
        for id in &state.call_ids {
            state.args.directory.remove_call(state.args.tenant, id);
        }
        Ok(())
    }
}
