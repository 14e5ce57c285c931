//! Building requests inside a dialog (RFC 3261 §12.2.1.1): Request-URI and Route from
//! the remote target and route set (loose or strict routing), our tags, the next CSeq,
//! and a Via with the branch the caller chose.

use super::state::Dialog;
use crate::sip::{MessageWriter, Method, NameAddr};

/// The Via the switch puts on a request it sends: transport and sent-by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalVia<'a> {
    /// `UDP`, `TCP`, `TLS` …
    pub transport: &'a str,
    /// `host[:port]`.
    pub sent_by: &'a str,
}

impl LocalVia<'_> {
    /// The Via header value with `branch` (which must start with `z9hG4bK`).
    pub fn value(&self, branch: &str) -> String {
        format!(
            "SIP/2.0/{} {};branch={branch};rport",
            self.transport, self.sent_by
        )
    }
}

impl Dialog {
    /// Starts a request of `method` in this dialog: the next local CSeq (ACK and CANCEL
    /// never take one; use [`Dialog::ack`]), a fresh Via, From/To with tags, Call-ID,
    /// Route, and Contact for the methods that carry one. Add headers and finish with
    /// `body` or `finish`.
    pub fn request(&mut self, method: &Method, via: LocalVia<'_>, branch: &str) -> MessageWriter {
        self.local_seq = self.local_seq.wrapping_add(1);
        if *method == Method::Invite {
            self.invite_seq = self.local_seq;
            self.local_invite_pending = true;
        }
        let mut w = self.start(method.as_str(), via, branch, self.local_seq);
        if matches!(
            method,
            Method::Invite | Method::Update | Method::Refer | Method::Notify | Method::Subscribe
        ) {
            w.header("Contact", &self.local_contact);
        }
        w
    }

    /// The ACK of a 2xx to our INVITE (RFC 3261 §13.2.2.4): its own branch, the
    /// INVITE's CSeq number. Add an SDP body for a late offer.
    pub fn ack(&self, via: LocalVia<'_>, branch: &str) -> MessageWriter {
        self.start("ACK", via, branch, self.invite_seq)
    }

    /// The INVITE's CSeq number the ACK carries.
    pub fn invite_seq(&self) -> u32 {
        self.invite_seq
    }

    /// True while a re-INVITE of ours waits for its final response.
    pub fn local_invite_pending(&self) -> bool {
        self.local_invite_pending
    }

    /// The Request-URI and Route values of the next request (§12.2.1.1).
    pub fn request_target(&self) -> (String, Vec<String>) {
        let Some(first) = self.route_set.first() else {
            return (self.remote_target.clone(), Vec::new());
        };
        let loose = NameAddr::parse(first, "Route")
            .map(|na| na.uri.param("lr").is_some())
            .unwrap_or(true);
        if loose {
            return (self.remote_target.clone(), self.route_set.clone());
        }
        // Strict routing: the first route becomes the Request-URI and the remote target
        // goes last in the Route header.
        let uri = NameAddr::parse(first, "Route")
            .map(|na| na.uri.raw.to_owned())
            .unwrap_or_else(|_| first.clone());
        let mut routes: Vec<String> = self.route_set[1..].to_vec();
        routes.push(format!("<{}>", self.remote_target));
        (uri, routes)
    }

    fn start(&self, method: &str, via: LocalVia<'_>, branch: &str, seq: u32) -> MessageWriter {
        let (uri, routes) = self.request_target();
        let mut w = MessageWriter::request(method, &uri);
        w.header("Via", &via.value(branch));
        w.header("Max-Forwards", "70");
        w.header("From", &self.local_party);
        w.header("To", &self.remote_party);
        w.header("Call-ID", &self.id.call_id);
        w.header_fmt("CSeq", format_args!("{seq} {method}"));
        for r in &routes {
            w.header("Route", r);
        }
        w
    }
}
