//! Dialog state (RFC 3261 §12.1, §12.2.1.2): created by the UAC from a 1xx/2xx with a
//! To tag, by the UAS from the INVITE it answers; updated by target refreshes.

use super::id::DialogId;
use crate::error::{Error, Result};
use crate::sip::{HeaderName, Message, Method, NameAddr, UriScheme};

/// Which side of the dialog the switch is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The switch sent the INVITE (and owns the Call-ID for RFC 3261 §14.1).
    Uac,
    /// The switch received the INVITE.
    Uas,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DialogState {
    Early,
    Confirmed,
    Terminated,
}

/// One dialog's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dialog {
    pub(crate) id: DialogId,
    pub(crate) role: Role,
    pub(crate) state: DialogState,
    /// The CSeq of the last request the switch sent in the dialog.
    pub(crate) local_seq: u32,
    /// The CSeq of the last request the peer sent (none yet for a UAC).
    pub(crate) remote_seq: Option<u32>,
    /// The CSeq of the INVITE the next ACK acknowledges.
    pub(crate) invite_seq: u32,
    /// Our From (UAC) or To (UAS) header value, with our tag.
    pub(crate) local_party: String,
    /// The peer's header value, with its tag.
    pub(crate) remote_party: String,
    /// Our Contact header value (`<sip:…>`).
    pub(crate) local_contact: String,
    /// The peer's Contact URI, where in-dialog requests go.
    pub(crate) remote_target: String,
    /// Route header values, in the order they are sent.
    pub(crate) route_set: Vec<String>,
    pub(crate) secure: bool,
    /// A re-INVITE of ours waits for its final response.
    pub(crate) local_invite_pending: bool,
    /// A re-INVITE of the peer waits for our final response.
    pub(crate) remote_invite_pending: bool,
}

impl Dialog {
    /// The UAC dialog a 101–299 response with a To tag creates (RFC 3261 §12.1.2).
    pub fn uac(invite: &Message, resp: &Message, local_contact: &str) -> Result<Dialog> {
        let code = resp.code().ok_or(Error::Dialog("not a response"))?;
        if !(101..300).contains(&code) {
            return Err(Error::Dialog("only 101-299 responses create dialogs"));
        }
        let id = DialogId::of_response(resp).ok_or(Error::Dialog("response without tags"))?;
        let request_uri = invite.uri().ok_or(Error::Missing("Request-URI"))?;
        let target = first_contact(resp).unwrap_or_else(|| request_uri.raw.to_owned());
        let mut route_set = record_routes(resp)?;
        route_set.reverse();
        let seq = invite.cseq().ok_or(Error::Missing("CSeq"))?.seq;
        Ok(Dialog {
            id,
            role: Role::Uac,
            state: if code < 200 {
                DialogState::Early
            } else {
                DialogState::Confirmed
            },
            local_seq: seq,
            remote_seq: None,
            invite_seq: seq,
            local_party: header(invite, HeaderName::From)?,
            remote_party: header(resp, HeaderName::To)?,
            local_contact: local_contact.into(),
            remote_target: target,
            route_set,
            secure: request_uri.scheme == UriScheme::Sips,
            local_invite_pending: false,
            remote_invite_pending: false,
        })
    }

    /// The UAS dialog for an INVITE the switch answers with `local_tag` (§12.1.1).
    pub fn uas(invite: &Message, local_tag: &str, local_contact: &str) -> Result<Dialog> {
        let from = invite.from().ok_or(Error::Missing("From"))?;
        let remote_tag = from.tag().ok_or(Error::Dialog("INVITE without From tag"))?;
        let call_id = invite.call_id().ok_or(Error::Missing("Call-ID"))?;
        let target = first_contact(invite).ok_or(Error::Missing("Contact"))?;
        let to = header(invite, HeaderName::To)?;
        let local_party = match invite.to().and_then(|t| t.tag().map(str::to_owned)) {
            Some(_) => to,
            None => format!("{to};tag={local_tag}"),
        };
        let seq = invite.cseq().ok_or(Error::Missing("CSeq"))?.seq;
        Ok(Dialog {
            id: DialogId::new(call_id, local_tag, remote_tag),
            role: Role::Uas,
            state: DialogState::Early,
            local_seq: 0,
            remote_seq: Some(seq),
            invite_seq: 0,
            local_party,
            remote_party: header(invite, HeaderName::From)?,
            local_contact: local_contact.into(),
            remote_target: target,
            route_set: record_routes(invite)?,
            secure: invite.uri().is_some_and(|u| u.scheme == UriScheme::Sips),
            local_invite_pending: false,
            remote_invite_pending: true,
        })
    }

    // ----- getters -----

    pub fn id(&self) -> &DialogId {
        &self.id
    }

    pub fn role(&self) -> Role {
        self.role
    }

    pub fn state(&self) -> DialogState {
        self.state
    }

    pub fn local_seq(&self) -> u32 {
        self.local_seq
    }

    pub fn remote_seq(&self) -> Option<u32> {
        self.remote_seq
    }

    pub fn remote_target(&self) -> &str {
        &self.remote_target
    }

    pub fn route_set(&self) -> &[String] {
        &self.route_set
    }

    pub fn local_party(&self) -> &str {
        &self.local_party
    }

    pub fn remote_party(&self) -> &str {
        &self.remote_party
    }

    pub fn is_secure(&self) -> bool {
        self.secure
    }

    // ----- handling responses to our requests -----

    /// Feeds a response to a request the switch sent in this dialog (or to the INVITE
    /// that created it): a 2xx confirms an early dialog (route set recomputed, RFC 3261
    /// §13.2.2.4) and refreshes the target; 481 and 408 end the dialog (§12.2.1.2).
    pub fn on_response(&mut self, resp: &Message) {
        let (Some(code), Some(cseq)) = (resp.code(), resp.cseq()) else {
            return;
        };
        let is_invite = cseq.method == "INVITE";
        if is_invite && code >= 200 {
            self.local_invite_pending = false;
        }
        match code {
            200..=299 if is_invite || cseq.method == "UPDATE" => {
                if self.state == DialogState::Early && self.role == Role::Uac {
                    if let Ok(mut routes) = record_routes(resp) {
                        routes.reverse();
                        self.route_set = routes;
                    }
                    if let Some(to) = resp.header(HeaderName::To) {
                        self.remote_party = to.to_owned();
                    }
                }
                if let Some(c) = first_contact(resp) {
                    self.remote_target = c;
                }
                if self.state == DialogState::Early {
                    self.state = DialogState::Confirmed;
                }
            }
            101..=199 if is_invite => {
                if let Some(c) = first_contact(resp) {
                    self.remote_target = c;
                }
            }
            481 | 408 => self.state = DialogState::Terminated,
            _ => {}
        }
    }

    /// The switch sent a 2xx to the dialog-creating INVITE (UAS).
    pub fn confirm(&mut self) {
        if self.state == DialogState::Early {
            self.state = DialogState::Confirmed;
        }
        self.remote_invite_pending = false;
    }

    /// The switch sent the final response to the peer's re-INVITE.
    pub fn remote_invite_answered(&mut self) {
        self.remote_invite_pending = false;
    }

    pub fn terminate(&mut self) {
        self.state = DialogState::Terminated;
    }

    /// Target refresh requests replace the remote target (RFC 3261 §12.2.2).
    pub(crate) fn refresh_target(&mut self, req: &Message) {
        let refresh = matches!(
            req.method(),
            Some(Method::Invite | Method::Update | Method::Subscribe | Method::Notify)
        );
        if refresh {
            if let Some(c) = first_contact(req) {
                self.remote_target = c;
            }
        }
    }
}

fn header(m: &Message, name: HeaderName) -> Result<String> {
    m.header(name)
        .map(str::to_owned)
        .ok_or(Error::Missing(name.as_str()))
}

/// The URI of the first Contact.
fn first_contact(m: &Message) -> Option<String> {
    m.contacts()?.first().map(|c| c.uri.raw.to_owned())
}

/// Every Record-Route value of a message, in order, as written.
pub fn record_routes(m: &Message) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for v in m.values(HeaderName::RecordRoute) {
        let mut sc = crate::sip::scan::Scanner::new(v, "Record-Route");
        loop {
            sc.skip_ws();
            let start = sc.pos();
            NameAddr::scan(&mut sc)?;
            out.push(sc.slice(start).trim().to_owned());
            if !sc.eat_sep(b',') {
                break;
            }
        }
    }
    Ok(out)
}
