//! A line's subscriptions (RFC 6665), kept by its actor: message waiting indication
//! (RFC 3842: a phone SUBSCRIBEs to its line's `message-summary`, NOTIFYed with the
//! mailbox's new and old counts at once and whenever they change: a message left,
//! heard or deleted, `LineMsg::MailboxChanged`) and busy-lamp fields (`dialog`, RFC
//! 4235: a phone watches another line of its tenant, `blf.rs`). Each is refreshed by
//! a SUBSCRIBE in its dialog and ended by `Expires: 0` or by running out.
//!
//! NOTIFYs go along the flow the SUBSCRIBE came over, once: a lost one over UDP is
//! made good by the phone's next refresh.

use std::time::Duration;

use bytes::Bytes;
use engine::sip::{HeaderName, MessageWriter};
use tokio::time::Instant;

use crate::proto::{Flow, Incoming};
use crate::sip::SipOut;

/// The longest subscription granted, and the one granted without an `Expires`.
pub const MAX_EXPIRES: u32 = 3600;
/// The shortest (a shorter request gets 423 with this as `Min-Expires`).
pub const MIN_EXPIRES: u32 = 60;
/// Subscriptions one line keeps; a new one beyond replaces the one nearest its end.
pub const MAX_PER_LINE: usize = 8;

/// One phone's subscription.
#[derive(Debug, Clone)]
pub struct Subscription {
    call_id: String,
    /// The subscriber's tag and ours.
    their_tag: String,
    our_tag: String,
    /// The subscriber's From URI: the NOTIFY's To.
    subscriber: String,
    /// Where NOTIFYs are addressed (its Contact) and the way to it.
    contact: String,
    flow: Flow,
    /// The domain the phone subscribed at (the NOTIFY's From host).
    domain: String,
    expires_at: Instant,
    cseq: u32,
    /// `message-summary` (the line's own mailbox) or `dialog` (line `watched`'s calls).
    pub event: &'static str,
    /// The line it is about.
    pub watched: String,
    /// The dialog-info document's version (RFC 4235: one more each NOTIFY).
    version: u32,
}

/// What a SUBSCRIBE did.
pub enum Subscribed {
    /// Accepted (new or refreshed): NOTIFY it when the counts are known.
    Active,
    /// Ended by `Expires: 0`: this subscription gets a last NOTIFY.
    Ended(Box<Subscription>),
    /// Refused (the response was sent).
    Refused,
}

/// A line's subscriptions.
#[derive(Debug, Default)]
pub struct Mwi {
    subs: Vec<Subscription>,
}

fn flow_of(inc: &Incoming) -> Flow {
    Flow::parse(&inc.reply.flow()).unwrap_or(Flow::Udp(inc.source))
}

impl Mwi {
    /// The event package a SUBSCRIBE asks for, when the switch offers it (others get
    /// 489 here).
    pub fn event_of(inc: &Incoming) -> Option<&'static str> {
        let event = inc.msg.header(HeaderName::Event).unwrap_or("");
        let name = event.split(';').next().map(str::trim).unwrap_or("");
        let known = [MESSAGE_SUMMARY, crate::blf::DIALOG, crate::blf::PRESENCE]
            .into_iter()
            .find(|e| e.eq_ignore_ascii_case(name));
        if known.is_none() {
            let mut w = MessageWriter::response_to(&inc.msg, 489, "Bad Event", Some("pbx"));
            w.header("Allow-Events", "message-summary, dialog, presence");
            inc.reply.send(489, w.finish());
        }
        known
    }

    /// A SUBSCRIBE already authenticated, to `event` about line `watched`: answered
    /// here (200, 423, 481).
    pub fn subscribe(
        &mut self,
        inc: &Incoming,
        watched: &str,
        event: &'static str,
        now: Instant,
    ) -> Subscribed {
        let m = &inc.msg;
        let asked = m
            .header(HeaderName::Expires)
            .and_then(|v| v.trim().parse::<u32>().ok())
            .unwrap_or(MAX_EXPIRES);
        if asked != 0 && asked < MIN_EXPIRES {
            let mut w = MessageWriter::response_to(m, 423, "Interval Too Brief", Some("pbx"));
            w.header("Min-Expires", &MIN_EXPIRES.to_string());
            inc.reply.send(423, w.finish());
            return Subscribed::Refused;
        }
        let expires = asked.min(MAX_EXPIRES);
        let (Some(call_id), Some(from), Some(to), Some(uri)) =
            (m.call_id(), m.from(), m.to(), m.uri())
        else {
            inc.respond(400, "Bad Request");
            return Subscribed::Refused;
        };
        let index = match to.tag() {
            Some(ours) => {
                let found = self
                    .subs
                    .iter()
                    .position(|s| s.call_id == call_id && s.our_tag == ours);
                let Some(i) = found else {
                    inc.respond(481, "Subscription Does Not Exist");
                    return Subscribed::Refused;
                };
                i
            }
            None => {
                // A new subscription (or a phone starting over with its Call-ID).
                self.subs.retain(|s| s.call_id != call_id);
                if self.subs.len() >= MAX_PER_LINE {
                    if let Some(i) = (0..self.subs.len()).min_by_key(|&i| self.subs[i].expires_at) {
                        self.subs.remove(i);
                    }
                }
                let contact = m
                    .contacts()
                    .and_then(|c| c.first().map(|c| c.uri.raw.to_owned()))
                    .unwrap_or_else(|| from.uri.raw.to_owned());
                self.subs.push(Subscription {
                    event,
                    watched: watched.to_owned(),
                    version: 0,
                    call_id: call_id.to_owned(),
                    their_tag: from.tag().unwrap_or_default().to_owned(),
                    our_tag: format!("{:016x}", rand::random::<u64>()),
                    subscriber: from.uri.raw.to_owned(),
                    contact,
                    flow: flow_of(inc),
                    domain: uri.host.to_owned(),
                    expires_at: now,
                    cseq: 0,
                });
                self.subs.len() - 1
            }
        };
        let sub = &mut self.subs[index];
        sub.expires_at = now + Duration::from_secs(u64::from(expires));
        sub.flow = flow_of(inc);
        let mut w = MessageWriter::response_to(m, 200, "OK", Some(&sub.our_tag));
        w.header("Expires", &expires.to_string())
            .header_fmt("Contact", format_args!("<sip:{watched}@{}>", sub.domain));
        inc.reply.send(200, w.finish());
        if expires == 0 {
            return Subscribed::Ended(Box::new(self.subs.remove(index)));
        }
        Subscribed::Active
    }

    /// The subscriptions run out by `now`, taken away (each gets a last NOTIFY).
    pub fn expired(&mut self, now: Instant) -> Vec<Subscription> {
        let (gone, kept) = std::mem::take(&mut self.subs)
            .into_iter()
            .partition(|s| s.expires_at <= now);
        self.subs = kept;
        gone
    }

    /// When the next subscription runs out.
    pub fn next_expiry(&self) -> Option<Instant> {
        self.subs.iter().map(|s| s.expires_at).min()
    }

    pub fn is_empty(&self) -> bool {
        self.subs.is_empty()
    }

    /// NOTIFYs every mailbox subscription with `counts` (new, old).
    pub fn notify_all(&mut self, out: &SipOut, ext: &str, counts: (u32, u32), now: Instant) {
        for s in self.subs.iter_mut().filter(|s| s.event == MESSAGE_SUMMARY) {
            notify(out, s, ext, counts, now, false);
        }
    }

    /// NOTIFYs every subscription to line `watched`'s calls with `view`.
    pub fn notify_watchers(
        &mut self,
        out: &SipOut,
        watched: &str,
        view: &crate::blf::LineView,
        now: Instant,
    ) {
        for s in self
            .subs
            .iter_mut()
            .filter(|s| crate::blf::watches_a_line(s.event) && s.watched == watched)
        {
            notify_dialog(out, s, view, now, false);
        }
    }

    /// True while a subscription watches line `watched`'s calls.
    pub fn watches(&self, watched: &str) -> bool {
        self.subs
            .iter()
            .any(|s| crate::blf::watches_a_line(s.event) && s.watched == watched)
    }
}

/// The mailbox event package (RFC 3842).
pub const MESSAGE_SUMMARY: &str = "message-summary";

/// The `message-summary` body (RFC 3842) for `counts` (new, old).
pub fn summary(account: &str, (new, old): (u32, u32)) -> String {
    format!(
        "Messages-Waiting: {}\r\nMessage-Account: {account}\r\nVoice-Message: {new}/{old} (0/0)\r\n",
        if new > 0 { "yes" } else { "no" }
    )
}

/// Sends `sub` a NOTIFY with `counts`; `last`: the subscription has ended.
pub fn notify(
    out: &SipOut,
    sub: &mut Subscription,
    ext: &str,
    counts: (u32, u32),
    now: Instant,
    last: bool,
) {
    if sub.event != MESSAGE_SUMMARY {
        return notify_dialog(out, sub, &crate::blf::LineView::default(), now, last);
    }
    let account = format!("sip:{ext}@{}", sub.domain);
    let body = summary(&account, counts);
    send_notify(
        out,
        sub,
        ("application/simple-message-summary", body.as_bytes()),
        now,
        last,
    );
}

/// Sends `sub` (a `dialog` or `presence` subscription) a NOTIFY with line `view`.
pub fn notify_dialog(
    out: &SipOut,
    sub: &mut Subscription,
    view: &crate::blf::LineView,
    now: Instant,
    last: bool,
) {
    let entity = format!("sip:{}@{}", sub.watched, sub.domain);
    let (content_type, body) = if sub.event == crate::blf::PRESENCE {
        ("application/pidf+xml", crate::blf::pidf(&entity, view))
    } else {
        let doc = crate::blf::dialog_info(&entity, sub.version, view, &sub.domain);
        sub.version += 1;
        ("application/dialog-info+xml", doc)
    };
    send_notify(out, sub, (content_type, body.as_bytes()), now, last);
}

fn send_notify(
    out: &SipOut,
    sub: &mut Subscription,
    (content_type, body): (&str, &[u8]),
    now: Instant,
    last: bool,
) {
    sub.cseq += 1;
    let transport = sub.flow.transport();
    let Some(local) = out.sent_by(sub.flow) else {
        return;
    };
    let state = if last {
        "terminated;reason=timeout".to_owned()
    } else {
        let left = sub.expires_at.saturating_duration_since(now).as_secs();
        format!("active;expires={left}")
    };
    let account = format!("sip:{}@{}", sub.watched, sub.domain);
    let mut w = MessageWriter::request("NOTIFY", &sub.contact);
    w.header_fmt(
        "Via",
        format_args!(
            "SIP/2.0/{transport} {local};branch=z9hG4bK{:016x};rport",
            rand::random::<u64>()
        ),
    )
    .header("Max-Forwards", "70")
    .header_fmt("From", format_args!("<{account}>;tag={}", sub.our_tag))
    .header_fmt(
        "To",
        format_args!("<{}>;tag={}", sub.subscriber, sub.their_tag),
    )
    .header("Call-ID", &sub.call_id)
    .header_fmt("CSeq", format_args!("{} NOTIFY", sub.cseq))
    .header_fmt("Contact", format_args!("<sip:{}@{local}>", sub.watched))
    .header("Event", sub.event)
    .header("Subscription-State", &state);
    let bytes = w.body(content_type, body);
    if !out.send(sub.flow, Bytes::from(bytes)) {
        tracing::debug!(call_id = %sub.call_id, "NOTIFY not sent: no way to the phone");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_says_whether_messages_wait() {
        let s = summary("sip:105@pbx", (2, 1));
        assert!(s.starts_with("Messages-Waiting: yes\r\n"), "{s}");
        assert!(s.contains("Message-Account: sip:105@pbx\r\n"));
        assert!(s.contains("Voice-Message: 2/1 (0/0)\r\n"));
        assert!(summary("sip:105@pbx", (0, 3)).starts_with("Messages-Waiting: no"));
    }
}
