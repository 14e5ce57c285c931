//! Phone messages from `tests/data/calls` for the unit tests.

use crate::sip::{HeaderName, Message};

pub const YEALINK_INVITE: &str = include_str!("../tests/data/calls/yealink_invite.sip");
pub const SNOM_180: &str = include_str!("../tests/data/calls/snom_180.sip");
pub const SNOM_200: &str = include_str!("../tests/data/calls/snom_200.sip");

/// Fills a response template with the dialog headers of the request it answers.
pub fn answer(template: &str, req: &Message) -> Message {
    let vias: Vec<&str> = req.values(HeaderName::Via).collect();
    let text = template
        .replace("{via}", &vias.join(", "))
        .replace("{from}", req.header(HeaderName::From).unwrap_or(""))
        .replace("{to}", req.header(HeaderName::To).unwrap_or(""))
        .replace("{call_id}", req.call_id().unwrap_or(""))
        .replace("{cseq}", req.header(HeaderName::CSeq).unwrap_or(""));
    Message::parse(text.into_bytes()).expect("fixture parses")
}

pub fn parse(text: &str) -> Message {
    Message::parse(text.as_bytes().to_vec()).expect("fixture parses")
}
