//! The first stop of every request: checks that apply to all of them, answers that need
//! no state (OPTIONS, 400, 416, 420, 483, 501), and hands the rest to the line or the
//! tenant that owns them.

use std::sync::Arc;

use engine::sip::{HeaderName, Message, Method, UriScheme};

use super::SipOut;
use crate::auth_guard::AuthGuard;
use crate::directory::Directory;
use crate::proto::CallMsg;
use crate::proto::Incoming;
use crate::proto::LineMsg;
use crate::proto::TenantMsg;

/// Methods the switch implements today (advertised in Allow).
pub const ALLOW: &str =
    "INVITE, ACK, CANCEL, BYE, PRACK, UPDATE, INFO, REFER, NOTIFY, REGISTER, OPTIONS, SUBSCRIBE";

/// Option tags a Require may name (the rest get 420).
const SUPPORTED_OPTIONS: [&str; 3] = ["100rel", "timer", "replaces"];

#[derive(Debug)]
pub struct Dispatcher {
    pub directory: Arc<Directory>,
    pub out: Arc<SipOut>,
    pub guard: Arc<AuthGuard>,
    /// SIP captures: the transports hand it every message in and out.
    pub capture: Arc<super::capture::Capture>,
    /// Room for calls: the stream transports refuse a new INVITE with 503 at once
    /// when there is none (the UDP task checks its own copy).
    pub capacity: Option<super::udp::CallCapacity>,
}

impl Dispatcher {
    pub fn new(directory: Arc<Directory>, out: Arc<SipOut>, guard: Arc<AuthGuard>) -> Self {
        Dispatcher {
            directory,
            out,
            guard,
            capture: Arc::default(),
            capacity: None,
        }
    }

    /// The dispatcher with the switch's room for calls.
    pub fn with_capacity(mut self, capacity: super::udp::CallCapacity) -> Self {
        self.capacity = Some(capacity);
        self
    }

    /// Whether `msg` is a new call the switch has no room for (a stream transport's
    /// check before any work; UDP's is in its task).
    pub fn no_room_for(&self, msg: &Message) -> bool {
        msg.method() == Some(&Method::Invite)
            && msg.to().is_some_and(|t| t.tag().is_none())
            && self
                .capacity
                .as_ref()
                .is_some_and(super::udp::CallCapacity::full)
    }

    /// Whether the switch is stopping (it takes no new call).
    fn draining(&self) -> bool {
        self.capacity.as_ref().is_some_and(|c| c.calls.draining())
    }

    /// The dispatcher with the switch's captures.
    pub fn with_capture(mut self, capture: Arc<super::capture::Capture>) -> Self {
        self.capture = capture;
        self
    }

    /// A message in (`local` the switch's address) or out, for the captures.
    pub fn captured(&self, bytes: &[u8], src: std::net::SocketAddr, dst: std::net::SocketAddr) {
        self.capture.packet(&self.directory, bytes, src, dst);
    }

    /// A response: it belongs to a call's client transaction, found by Call-ID (within
    /// the tenant its From or To names, or the tenant of the trunk it comes from), or
    /// to a trunk's own request (REGISTER, OPTIONS).
    pub fn on_response(&self, msg: engine::sip::Message, source: std::net::SocketAddr) {
        let call = self
            .directory
            .call_of(&msg)
            .or_else(|| self.directory.call_from_trunk(&msg, source));
        if let Some(call) = call {
            let _ = call.send_message(CallMsg::Response(msg));
            return;
        }
        let trunk = msg.call_id().and_then(|id| self.directory.trunk_client(id));
        match trunk {
            Some(t) => {
                let _ = t.send_message(crate::proto::trunk::TrunkMsg::Response(msg));
            }
            None => tracing::debug!("response for no call dropped"),
        }
    }

    pub fn on_request(&self, inc: Incoming) {
        let msg = &inc.msg;
        if let Err(reason) = msg.check_request() {
            return inc.respond(400, reason);
        }
        let Some(method) = msg.method().cloned() else {
            return;
        };
        // Anything inside a call (ACK, BYE, CANCEL, re-INVITE …) goes to its actor.
        let call = self
            .directory
            .call_of(msg)
            .or_else(|| self.directory.call_from_trunk(msg, inc.source));
        if let Some(call) = call {
            if let Err(ractor::MessagingErr::SendErr(CallMsg::Request(inc))) =
                call.send_message(CallMsg::Request(Box::new(inc)))
            {
                if method != Method::Ack {
                    inc.respond(481, "Call/Transaction Does Not Exist");
                }
            }
            return;
        }
        if method == Method::Ack {
            // An ACK for a 2xx of a dialog we do not have: nothing to do.
            return;
        }
        match msg.uri().map(|u| u.scheme) {
            Some(UriScheme::Sip | UriScheme::Sips | UriScheme::Tel) => {}
            _ => return inc.respond(416, "Unsupported URI Scheme"),
        }
        // A sips: Request-URI asks for TLS on every hop (RFC 5630): one that came over
        // plain UDP or TCP has already been sent in the clear, and is refused.
        if msg.uri().is_some_and(|u| u.scheme == UriScheme::Sips) && !inc.reply.is_tls() {
            let mut w = engine::sip::MessageWriter::response_to(
                msg,
                416,
                "Unsupported URI Scheme",
                Some("pbx"),
            );
            w.header("Warning", "399 pbx \"sips: only over TLS\"");
            return inc.reply.send(416, w.finish());
        }
        if msg.max_forwards() == Some(0) {
            return inc.respond(483, "Too Many Hops");
        }
        let required: Vec<&str> = msg
            .values(HeaderName::Require)
            .chain(msg.values(HeaderName::ProxyRequire))
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|o| !o.is_empty())
            // Reliable provisional responses (RFC 3262) and session timers (RFC 4028).
            .filter(|o| !SUPPORTED_OPTIONS.iter().any(|s| s.eq_ignore_ascii_case(o)))
            .collect();
        if !required.is_empty() {
            let mut w =
                engine::sip::MessageWriter::response_to(msg, 420, "Bad Extension", Some("pbx"));
            w.header("Unsupported", &required.join(", "));
            return inc.reply.send(420, w.finish());
        }
        // A new call from a trunk's carrier (known by its address, not by anything the
        // message says): its tenant routes it by the number called, without a line's
        // authentication.
        if method == Method::Invite && msg.to().is_some_and(|t| t.tag().is_none()) {
            if let Some((tenant, trunk)) = self.directory.trunk_at(inc.source) {
                let inbound = TenantMsg::Inbound {
                    trunk,
                    inc: Box::new(inc),
                };
                if let Err(ractor::MessagingErr::SendErr(TenantMsg::Inbound { inc, .. })) =
                    tenant.supervisor.send_message(inbound)
                {
                    inc.respond(503, "Service Unavailable");
                }
                return;
            }
        }
        if matches!(
            method,
            Method::Register | Method::Invite | Method::Subscribe
        ) && self.guard.refuses(&inc)
        {
            tracing::debug!(source = %inc.source, "credentials from a penalised source ignored");
            return inc.reply.forget();
        }
        match method {
            Method::Register => self.register(inc),
            Method::Invite if msg.to().is_some_and(|t| t.tag().is_none()) => self.invite(inc),
            // A phone's subscription to its mailbox (new or in its dialog): its line's.
            Method::Subscribe => self.invite(inc),
            // A draining switch tells an edge proxy's probes to send calls elsewhere.
            Method::Options if self.draining() => {
                let mut w = engine::sip::MessageWriter::response_to(
                    msg,
                    503,
                    "Service Unavailable",
                    Some("pbx"),
                );
                w.header(
                    "Retry-After",
                    &crate::call::DRAINING_RETRY_AFTER.to_string(),
                );
                let bytes = w.finish();
                inc.reply.send(503, bytes);
            }
            Method::Options => {
                let mut w = engine::sip::MessageWriter::response_to(msg, 200, "OK", Some("pbx"));
                w.header("Allow", ALLOW)
                    .header("Accept", "application/sdp")
                    .header("Supported", "100rel, timer, replaces")
                    .header("Accept-Language", "en");
                let bytes = w.finish();
                inc.reply.send(200, bytes);
            }
            Method::Bye | Method::Cancel => inc.respond(481, "Call/Transaction Does Not Exist"),
            _ => {
                let mut w = engine::sip::MessageWriter::response_to(
                    msg,
                    501,
                    "Not Implemented",
                    Some("pbx"),
                );
                w.header("Allow", ALLOW);
                let bytes = w.finish();
                inc.reply.send(501, bytes);
            }
        }
    }

    /// A new call (or a subscription): the From user's line authenticates it, then its
    /// tenant starts the call (or the line keeps the subscription).
    fn invite(&self, inc: Incoming) {
        let msg = &inc.msg;
        let (Some(uri), Some(from)) = (msg.uri(), msg.from()) else {
            return inc.respond(400, "Bad Request-URI or From");
        };
        let Some(tenant) = self.directory.tenant_for(uri.host_bare()) else {
            return inc.respond(404, "Domain Not Served");
        };
        let Some(caller) = from.uri.user_unescaped().map(|u| u.into_owned()) else {
            return inc.respond(403, "Forbidden");
        };
        self.to_line(tenant, caller, inc);
    }

    /// Hands a request to the line it is for, starting the line's actor if needed.
    fn to_line(&self, tenant: crate::proto::TenantEntry, ext: String, inc: Incoming) {
        if let Some(line) = self.directory.line(tenant.id, &ext) {
            match line.send_message(LineMsg::Request(Box::new(inc))) {
                Ok(()) => return,
                Err(ractor::MessagingErr::SendErr(LineMsg::Request(inc))) => {
                    let _ = tenant
                        .supervisor
                        .send_message(TenantMsg::RouteNew(ext, inc));
                    return;
                }
                Err(_) => return,
            }
        }
        if let Err(e) = tenant
            .supervisor
            .send_message(TenantMsg::RouteNew(ext, Box::new(inc)))
        {
            tracing::warn!(error = %e, "tenant supervisor unavailable");
        }
    }

    fn register(&self, inc: Incoming) {
        let msg = &inc.msg;
        let (Some(uri), Some(to)) = (msg.uri(), msg.to()) else {
            return inc.respond(400, "Bad Request-URI or To");
        };
        let Some(tenant) = self.directory.tenant_for(uri.host_bare()) else {
            return inc.respond(403, "Domain Not Served");
        };
        let Some(user) = to.uri.user_unescaped().map(|u| u.into_owned()) else {
            return inc.respond(404, "Not Found");
        };
        self.to_line(tenant, user, inc);
    }
}
