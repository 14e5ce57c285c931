//! Typed readers for call transfer: Refer-To (RFC 3515 §2.1), with the Replaces an
//! attended transfer embeds in its URI headers, and Replaces (RFC 3891 §6.1).

use super::headers::NameAddr;
use super::message::Message;
use super::uri::{find_param, unescape};
use super::HeaderName;
use crate::error::{bad, Error};

/// The dialog a Replaces names: Call-ID and the two tags as written. RFC 3891 gives
/// them from the point of view of the dialog's other end; a switch that sits in the
/// middle may match either way round ([`Replaces::matches`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replaces {
    pub call_id: String,
    pub to_tag: String,
    pub from_tag: String,
    /// `early-only`: replace only a dialog that is not confirmed yet.
    pub early_only: bool,
}

impl Replaces {
    /// Parses a Replaces value: `callid;to-tag=X;from-tag=Y[;early-only]`.
    pub fn parse(value: &str) -> Result<Replaces, Error> {
        let value = value.trim();
        let end = value.find(';').unwrap_or(value.len());
        let call_id = value[..end].trim();
        if call_id.is_empty() {
            return Err(bad("Replaces", "no Call-ID"));
        }
        let params = &value[end..];
        let to_tag = find_param(params, "to-tag").ok_or(bad("Replaces", "no to-tag"))?;
        let from_tag = find_param(params, "from-tag").ok_or(bad("Replaces", "no from-tag"))?;
        Ok(Replaces {
            call_id: call_id.to_owned(),
            to_tag: to_tag.to_owned(),
            from_tag: from_tag.to_owned(),
            early_only: find_param(params, "early-only").is_some(),
        })
    }

    /// True when this names the dialog `call_id` with tags `a` and `b` (either order).
    pub fn matches(&self, call_id: &str, a: &str, b: &str) -> bool {
        self.call_id == call_id
            && ((self.to_tag == a && self.from_tag == b)
                || (self.to_tag == b && self.from_tag == a))
    }
}

/// A Refer-To: where to send the party that stays, and for an attended transfer the
/// dialog the new call replaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferTo {
    /// The target URI without its headers part.
    pub uri: String,
    /// The user part, unescaped (an extension or a number).
    pub user: Option<String>,
    pub host: String,
    /// `?Replaces=…` in the URI (escaped there, decoded here).
    pub replaces: Option<Replaces>,
    /// The URI's `method` parameter: what the referred party is asked to send
    /// (`BYE` removes a participant from a conference, RFC 4579 §5.8); INVITE when
    /// absent.
    pub method: Option<String>,
}

impl ReferTo {
    pub fn parse(value: &str) -> Result<ReferTo, Error> {
        let na = NameAddr::parse(value.trim(), "Refer-To")?;
        let uri = &na.uri;
        let base = match uri.raw.find('?') {
            Some(q) => &uri.raw[..q],
            None => uri.raw,
        };
        let mut replaces = None;
        for h in uri.headers.unwrap_or("").split('&') {
            let Some((name, v)) = h.split_once('=') else {
                continue;
            };
            if name.trim().eq_ignore_ascii_case("Replaces") {
                replaces = Some(Replaces::parse(&unescape(v))?);
            }
        }
        Ok(ReferTo {
            uri: base.to_owned(),
            user: uri.user_unescaped().map(|u| u.into_owned()),
            host: uri.host_bare().to_owned(),
            replaces,
            method: uri.param("method").map(str::to_ascii_uppercase),
        })
    }
}

impl Message {
    /// The Refer-To of a REFER; `None` when absent, an error when it does not parse.
    pub fn refer_to(&self) -> Option<Result<ReferTo, Error>> {
        self.header(HeaderName::ReferTo).map(ReferTo::parse)
    }

    /// The Replaces of an INVITE (RFC 3891); `None` when absent.
    pub fn replaces(&self) -> Option<Result<Replaces, Error>> {
        self.header(HeaderName::Replaces).map(Replaces::parse)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blind_refer_to() {
        let r = ReferTo::parse("<sip:203@pbx.example.com>").unwrap();
        assert_eq!(r.uri, "sip:203@pbx.example.com");
        assert_eq!(r.user.as_deref(), Some("203"));
        assert_eq!(r.host, "pbx.example.com");
        assert!(r.replaces.is_none());
        assert_eq!(r.method, None);
        let bye = ReferTo::parse("<sip:203@pbx;method=bye>").unwrap();
        assert_eq!(bye.method.as_deref(), Some("BYE"));
        assert_eq!(bye.user.as_deref(), Some("203"));
        let bare = ReferTo::parse("\"Carol\" <sip:%32%30%33@10.0.0.1;transport=udp>").unwrap();
        assert_eq!(bare.user.as_deref(), Some("203"));
        assert_eq!(bare.uri, "sip:%32%30%33@10.0.0.1;transport=udp");
    }

    #[test]
    fn attended_refer_to_carries_replaces() {
        let r = ReferTo::parse(
            "<sip:203@pbx?Replaces=abc%40host%3Bto-tag%3D111%3Bfrom-tag%3D222&Require=replaces>",
        )
        .unwrap();
        assert_eq!(r.uri, "sip:203@pbx");
        let rep = r.replaces.unwrap();
        assert_eq!(rep.call_id, "abc@host");
        assert_eq!((rep.to_tag.as_str(), rep.from_tag.as_str()), ("111", "222"));
        assert!(!rep.early_only);
        assert!(rep.matches("abc@host", "222", "111"));
        assert!(rep.matches("abc@host", "111", "222"));
        assert!(!rep.matches("abc@host", "111", "333"));
    }

    #[test]
    fn replaces_header() {
        let r =
            Replaces::parse("98732@sip.example.com;from-tag=r33th4x0r ;to-tag=ff87ff;early-only")
                .unwrap();
        assert_eq!(r.call_id, "98732@sip.example.com");
        assert_eq!(r.to_tag, "ff87ff");
        assert_eq!(r.from_tag, "r33th4x0r");
        assert!(r.early_only);
        assert!(Replaces::parse("only-a-call-id").is_err());
        assert!(Replaces::parse(";to-tag=1;from-tag=2").is_err());
        assert!(ReferTo::parse("<sip:1@h?Replaces=x%3Bto-tag%3D1>").is_err());
        assert!(ReferTo::parse("not a uri").is_err());
    }

    #[test]
    fn message_readers() {
        let text = "REFER sip:pbx@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK1\r\nFrom: <sip:101@pbx>;tag=1\r\nTo: <sip:100@pbx>;tag=2\r\nCall-ID: c1\r\nCSeq: 2 REFER\r\nRefer-To: <sip:203@pbx>\r\nContent-Length: 0\r\n\r\n";
        let m = Message::parse(bytes::Bytes::from(text)).unwrap();
        assert_eq!(m.refer_to().unwrap().unwrap().user.as_deref(), Some("203"));
        assert!(m.replaces().is_none());
    }
}
