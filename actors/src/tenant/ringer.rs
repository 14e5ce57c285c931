//! A call to a line with no registered device in a tenant whose decline setting is
//! "ring" (SPEC F-CALL: keep ringing): the caller hears 180 until it gives up
//! (CANCEL → 487) or the ring time is over (480). No device is called and no media is
//! anchored. It takes the place of a call actor: registered in the directory under
//! the caller's Call-ID (so its CANCEL comes here), journalled, and supervised by the
//! tenant like a call.

use std::time::Instant;

use engine::call::{Leg, LegEvent, Output};
use ractor::{Actor, ActorProcessingErr, ActorRef};
use std::sync::Arc;

use crate::call::journal::Journal;
use crate::call::SharedRecord;
use crate::directory::Directory;
use crate::journal::{CallEventKind, CallId, Direction, EventBus, Side};
use crate::proto::CallMsg;
use crate::proto::TenantEntry;
use crate::proto::{Incoming, Replier};
use crate::sip::SipOut;

pub struct RingerArgs {
    pub tenant: TenantEntry,
    pub caller: String,
    pub callee: String,
    pub inc: Box<Incoming>,
    pub ring_timeout: std::time::Duration,
    pub directory: Arc<Directory>,
    pub bus: EventBus,
    pub out: Arc<SipOut>,
    pub record: SharedRecord,
    /// The call is written to the journal (the lines' groups say so).
    pub journal: bool,
}

pub struct RingerState {
    leg: Leg,
    invite_reply: Replier,
    /// The way back for the request being handled (a CANCEL, a stray BYE).
    request_reply: Option<Replier>,
    call_id: String,
    directory: Arc<Directory>,
    journal: Journal,
    record: SharedRecord,
    /// The call's tracing span (its journal id and tenant).
    span: tracing::Span,
}

pub struct Ringer;

fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

impl RingerState {
    fn close(&mut self) {
        self.journal.close();
        self.record.lock().unwrap_or_else(|e| e.into_inner()).closed = true;
    }

    /// Sends what the leg produced and notes how it ended; stops once it has.
    fn settle(&mut self, myself: &ActorRef<CallMsg>) {
        while let Some(o) = self.leg.poll_output() {
            match o {
                Output::Respond(r) => {
                    let invite = r
                        .request
                        .as_ref()
                        .is_some_and(|k| k.method == engine::sip::Method::Invite);
                    let reply = if invite {
                        Some(&self.invite_reply)
                    } else {
                        self.request_reply.as_ref()
                    };
                    if let Some(reply) = reply {
                        reply.send(r.code, r.bytes.to_vec());
                    }
                }
                // The ringer sends no requests of its own.
                Output::Send(_) => {}
                Output::Event(LegEvent::Ended(c)) => self.journal.ended(&c, Side::Caller),
                Output::Event(_) => {}
            }
        }
        if self.leg.is_ended() {
            self.close();
            if self.leg.next_timeout().is_none() {
                myself.stop(None);
            }
        }
    }
}

impl Actor for Ringer {
    type Msg = CallMsg;
    type State = RingerState;
    type Arguments = RingerArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<CallMsg>,
        args: RingerArgs,
    ) -> Result<RingerState, ActorProcessingErr> {
        let call = CallId::random();
        let span = tracing::info_span!("call", call = %call, tenant = %args.tenant.name);
        let _entered = span.clone().entered();
        let inc = args.inc;
        let flow = crate::call::flow_of(&inc);
        let cfg = crate::call::leg_config(&args.out, flow, &args.callee, None);
        let tag = format!("{:016x}", rand::random::<u64>());
        let mut leg = match Leg::incoming(cfg, &inc.msg, &tag) {
            Ok(leg) => leg,
            Err(e) => {
                inc.respond(400, "Bad Request");
                return Err(format!("cannot start the caller's leg: {e}").into());
            }
        };
        leg.ring_at(None, now());
        let call_id = inc.msg.call_id().unwrap_or_default().to_owned();
        args.directory
            .add_call(args.tenant.id, &call_id, myself.clone());
        {
            let mut rec = args.record.lock().unwrap_or_else(|e| e.into_inner());
            rec.call_ids.push(call_id.clone());
            rec.journal = Some((call, args.tenant.id));
        }
        let mut state = RingerState {
            leg,
            invite_reply: inc.reply.clone(),
            request_reply: None,
            call_id,
            directory: args.directory,
            // A line ringing another of its own: nothing it answers waits for the
            // journal.
            journal: Journal::new(
                (args.bus, Default::default()),
                call,
                args.tenant.id,
                args.journal,
                crate::store::JournalRules::default(),
            ),
            record: args.record,
            span: span.clone(),
        };
        state.journal.publish(CallEventKind::CallStarted {
            from: args.caller.clone(),
            to: args.callee,
            direction: Direction::Internal,
            caller_line: Some(args.caller),
        });
        myself.send_after(args.ring_timeout, || CallMsg::Wake(0));
        state.settle(&myself);
        Ok(state)
    }

    async fn handle(
        &self,
        myself: ActorRef<CallMsg>,
        msg: CallMsg,
        state: &mut RingerState,
    ) -> Result<(), ActorProcessingErr> {
        let _entered = state.span.clone().entered();
        let t = now();
        match msg {
            CallMsg::Request(inc) => {
                state.request_reply = Some(inc.reply.clone());
                state.leg.on_request(&inc.msg, t);
            }
            CallMsg::Response(_)
            | CallMsg::TransferTargets(_)
            | CallMsg::Joined(_)
            | CallMsg::Hop(..)
            | CallMsg::Key { .. }
            | CallMsg::Played { .. }
            | CallMsg::Removed(_)
            | CallMsg::Merge(..)
            | CallMsg::RoomReferDone(..)
            | CallMsg::EnterQueue(..)
            | CallMsg::Queue(_)
            | CallMsg::QueueRestarted(..)
            | CallMsg::IvrStep(_)
            | CallMsg::Mailbox(..)
            | CallMsg::Message(..)
            | CallMsg::MailboxRead(..)
            | CallMsg::AgentDevices { .. }
            | CallMsg::Release
            | CallMsg::Onward(_) => {}
            CallMsg::Control(.., reply) => {
                let _ = reply.send(false);
            }
            CallMsg::DialogOf { reply, .. } => {
                let _ = reply.send(None);
            }
            CallMsg::EnterRoom { reply, .. } => {
                let _ = reply.send(false);
            }
            CallMsg::RoomOf { reply, .. } => {
                let _ = reply.send(None);
            }
            CallMsg::PickUp { inc, .. } => inc.respond(481, "Call/Transaction Does Not Exist"),
            // The ring time is over (or a retransmission timer of the leg is due).
            CallMsg::Wake(_) => {
                if !state.leg.is_ended() {
                    state.leg.hangup(480, "Temporarily Unavailable", t);
                } else {
                    state.leg.on_timeout(t);
                }
            }
            CallMsg::GiveUp(_, _, _, reply) => {
                let _ = reply.send(None);
            }
            CallMsg::Replace { inc, .. } => inc.respond(481, "Call/Transaction Does Not Exist"),
        }
        state.settle(&myself);
        if let Some(at) = state.leg.next_timeout().filter(|_| state.leg.is_ended()) {
            myself.send_after(at.saturating_duration_since(t), || CallMsg::Wake(1));
        }
        Ok(())
    }

    async fn post_stop(
        &self,
        _: ActorRef<CallMsg>,
        state: &mut RingerState,
    ) -> Result<(), ActorProcessingErr> {
        state.close();
        state
            .directory
            .remove_call(state.journal.tenant, &state.call_id);
        Ok(())
    }
}
