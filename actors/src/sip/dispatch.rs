//! The first stop of every request: checks that apply to all of them, answers that need
//! no state (OPTIONS, 400, 416, 420, 483, 501), and hands the rest to the line or the
//! tenant that owns them.

use std::sync::Arc;

use engine::sip::{HeaderName, Method, UriScheme};

use super::Incoming;
use crate::directory::Directory;
use crate::line::LineMsg;
use crate::tenant::TenantMsg;

/// Methods the switch implements today (advertised in Allow).
pub const ALLOW: &str = "REGISTER, OPTIONS, ACK, CANCEL, BYE";

#[derive(Debug)]
pub struct Dispatcher {
    pub directory: Arc<Directory>,
}

impl Dispatcher {
    pub fn new(directory: Arc<Directory>) -> Self {
        Dispatcher { directory }
    }

    pub fn on_request(&self, inc: Incoming) {
        let msg = &inc.msg;
        if let Err(reason) = msg.check_request() {
            return inc.respond(400, reason);
        }
        let Some(method) = msg.method().cloned() else {
            return;
        };
        if method == Method::Ack {
            // An ACK for a 2xx of a dialog we do not have: nothing to do.
            return;
        }
        match msg.uri().map(|u| u.scheme) {
            Some(UriScheme::Sip | UriScheme::Sips | UriScheme::Tel) => {}
            _ => return inc.respond(416, "Unsupported URI Scheme"),
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
            .collect();
        if !required.is_empty() {
            let mut w =
                engine::sip::MessageWriter::response_to(msg, 420, "Bad Extension", Some("pbx"));
            w.header("Unsupported", &required.join(", "));
            return inc.reply.send(420, w.finish());
        }
        match method {
            Method::Register => self.register(inc),
            Method::Options => {
                let mut w = engine::sip::MessageWriter::response_to(msg, 200, "OK", Some("pbx"));
                w.header("Allow", ALLOW)
                    .header("Accept", "application/sdp")
                    .header("Supported", "")
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

    fn register(&self, inc: Incoming) {
        let msg = &inc.msg;
        let (Some(uri), Some(to)) = (msg.uri(), msg.to()) else {
            return inc.respond(400, "Bad Request-URI or To");
        };
        let Some(tenant) = self.directory.tenant_for(uri.host_bare()) else {
            return inc.respond(403, "Domain Not Served");
        };
        let Some(user) = to.uri.user_unescaped() else {
            return inc.respond(404, "Not Found");
        };
        if let Some(line) = self.directory.line(tenant.id, &user) {
            match line.send_message(LineMsg::Register(Box::new(inc))) {
                Ok(()) => return,
                Err(ractor::MessagingErr::SendErr(LineMsg::Register(inc))) => {
                    // The line is restarting; its tenant will route it.
                    let _ = tenant.supervisor.send_message(TenantMsg::Route(inc));
                    return;
                }
                Err(_) => return,
            }
        }
        let user = user.into_owned();
        if let Err(e) = tenant
            .supervisor
            .send_message(TenantMsg::RouteNew(user, Box::new(inc)))
        {
            tracing::warn!(error = %e, "tenant supervisor unavailable");
        }
    }
}
