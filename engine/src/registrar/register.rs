//! Handling REGISTER: authentication, expiry negotiation, adding, refreshing,
//! removing and fetching bindings.

use std::fmt::Write;

use super::{Binding, BindingChange};
use std::net::IpAddr;

use crate::auth::{
    challenge_response, check, AuthFailure, AuthKind, AuthRequest, LineCredentials, NonceCounts,
    Nonces,
};
use crate::sip::{Contact, HeaderName, Message, MessageWriter};

/// Limits of the registrar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    pub min_expires: u32,
    pub max_expires: u32,
    pub default_expires: u32,
    pub max_contacts: usize,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            min_expires: 60,
            max_expires: 3600,
            default_expires: 3600,
            max_contacts: 10,
        }
    }
}

/// The outcome of one REGISTER.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterOutcome {
    pub code: u16,
    pub response: Vec<u8>,
    pub changes: Vec<BindingChange>,
    /// True when the credentials were checked and wrong (to be throttled).
    pub auth_failed: bool,
}

/// The bindings of one address of record.
#[derive(Debug, Clone, Default)]
pub struct Registrar {
    bindings: Vec<Binding>,
    pub policy: Policy,
    /// The nonce counts accepted for this address of record (replay protection),
    /// for REGISTER and for the calls it places alike.
    pub counts: NonceCounts,
}

impl Registrar {
    pub fn new(policy: Policy, bindings: Vec<Binding>) -> Self {
        Registrar {
            bindings,
            policy,
            counts: NonceCounts::default(),
        }
    }

    pub fn bindings(&self) -> &[Binding] {
        &self.bindings
    }

    /// Takes the bindings another registrar of the same address of record stored
    /// (another node sharing the store); the nonce counts stay.
    pub fn replace_bindings(&mut self, bindings: Vec<Binding>) {
        self.bindings = bindings;
    }

    /// The earliest expiry, for the owner's timer.
    pub fn next_expiry(&self) -> Option<u64> {
        self.bindings.iter().map(|b| b.expires_at).min()
    }

    /// Drops bindings that ran out; returns their removal for the store.
    pub fn expire(&mut self, now_unix: u64) -> Vec<BindingChange> {
        let mut out = Vec::new();
        self.bindings.retain(|b| {
            let live = b.expires_at > now_unix;
            if !live {
                out.push(BindingChange::Remove {
                    contact: b.contact.clone(),
                });
            }
            live
        });
        out
    }

    /// Drops the bindings registered by accounts `gone` says are gone (a removed
    /// device); returns their removal for the store.
    pub fn drop_accounts(&mut self, gone: impl Fn(&str) -> bool) -> Vec<BindingChange> {
        let mut out = Vec::new();
        self.bindings.retain(|b| {
            let keep = !b.account.as_deref().is_some_and(&gone);
            if !keep {
                out.push(BindingChange::Remove {
                    contact: b.contact.clone(),
                });
            }
            keep
        });
        out
    }

    /// Handles a REGISTER whose To user is this line, from `source`. `flow` says, per
    /// Contact, how the device is reached (see `reach::contact_address`); `path` is
    /// the request's Path when it came from a trusted edge proxy (stored with its
    /// bindings and echoed in the 200, RFC 3327 §5.3), `None` otherwise.
    #[allow(clippy::too_many_arguments)]
    pub fn handle(
        &mut self,
        req: &Message,
        creds: &LineCredentials,
        nonces: &Nonces,
        source: IpAddr,
        flow: &dyn Fn(&Contact<'_>) -> String,
        path: Option<&str>,
        now_unix: u64,
    ) -> RegisterOutcome {
        let auth = AuthRequest {
            msg: req,
            kind: AuthKind::Www,
            source,
            now_unix,
        };
        match check(&auth, creds, nonces, &mut self.counts) {
            Ok(()) => {}
            Err(AuthFailure::Challenge { stale }) => {
                let bytes = challenge_response(&auth, creds, nonces, stale, &tag_for(req));
                return outcome(401, bytes, Vec::new(), false);
            }
            Err(AuthFailure::Forbidden(reason)) => {
                let w = MessageWriter::response_to(req, 403, reason, Some(&tag_for(req)));
                return outcome(403, w.finish(), Vec::new(), true);
            }
            Err(AuthFailure::Refused(reason)) => {
                let w = MessageWriter::response_to(req, 403, reason, Some(&tag_for(req)));
                return outcome(403, w.finish(), Vec::new(), false);
            }
        }
        match self.update(req, flow, &creds.username, path, now_unix) {
            Ok(changes) => {
                let mut w = MessageWriter::response_to(req, 200, "OK", Some(&tag_for(req)));
                if let Some(path) = path {
                    w.header("Path", path);
                }
                for b in &self.bindings {
                    let mut v = String::with_capacity(b.contact.len() + 20);
                    let _ = write!(v, "<{}>;expires={}", b.contact, b.remaining(now_unix));
                    w.header("Contact", &v);
                }
                outcome(200, w.finish(), changes, false)
            }
            Err(Reject::TooBrief) => {
                let mut w =
                    MessageWriter::response_to(req, 423, "Interval Too Brief", Some(&tag_for(req)));
                w.header_fmt("Min-Expires", self.policy.min_expires);
                outcome(423, w.finish(), Vec::new(), false)
            }
            Err(Reject::Other(code, reason)) => {
                let w = MessageWriter::response_to(req, code, reason, Some(&tag_for(req)));
                outcome(code, w.finish(), Vec::new(), false)
            }
        }
    }

    fn update(
        &mut self,
        req: &Message,
        flow: &dyn Fn(&Contact<'_>) -> String,
        account: &str,
        path: Option<&str>,
        now_unix: u64,
    ) -> Result<Vec<BindingChange>, Reject> {
        let call_id = req.call_id().unwrap_or("");
        let cseq = req.cseq().map(|c| c.seq).unwrap_or(0);
        let header_expires = req.expires();
        if req.is_contact_star() {
            if header_expires != Some(0) || req.count(HeaderName::Contact) != 1 {
                return Err(Reject::Other(
                    400,
                    "Contact * needs Expires 0 and no other contact",
                ));
            }
            let changes = self
                .bindings
                .drain(..)
                .map(|b| BindingChange::Remove { contact: b.contact })
                .collect();
            return Ok(changes);
        }
        let Some(contacts) = req.contacts() else {
            return Err(Reject::Other(400, "Bad Contact"));
        };
        // Validate everything before changing anything (§10.3 steps 6–8).
        let mut plan = Vec::with_capacity(contacts.len());
        for c in &contacts {
            let expires = match c.params.get("expires") {
                Some(e) => e
                    .parse::<u32>()
                    .map_err(|_| Reject::Other(400, "Bad expires"))?,
                None => header_expires.unwrap_or(self.policy.default_expires),
            };
            if expires != 0 && expires < self.policy.min_expires {
                return Err(Reject::TooBrief);
            }
            let instance = c
                .params
                .get("+sip.instance")
                .map(|i| i.trim_matches('"').to_owned());
            if let Some(existing) = self
                .bindings
                .iter()
                .find(|b| b.matches(c.uri.raw, instance.as_deref()))
            {
                if existing.call_id == call_id && existing.cseq >= cseq {
                    return Err(Reject::Other(400, "Out of order REGISTER"));
                }
            }
            plan.push((
                c.uri.raw.to_owned(),
                instance,
                c.params.get("q").map(str::to_owned),
                expires.min(self.policy.max_expires),
                flow(c),
            ));
        }
        // The bindings there would be afterwards: refuse before changing any.
        let added = plan
            .iter()
            .filter(|(contact, instance, _, expires, _)| {
                *expires != 0
                    && !self
                        .bindings
                        .iter()
                        .any(|b| b.matches(contact, instance.as_deref()))
            })
            .count();
        let removed = plan
            .iter()
            .filter(|(contact, instance, _, expires, _)| {
                *expires == 0
                    && self
                        .bindings
                        .iter()
                        .any(|b| b.matches(contact, instance.as_deref()))
            })
            .count();
        if (self.bindings.len() + added).saturating_sub(removed) > self.policy.max_contacts {
            return Err(Reject::Other(403, "Too Many Contacts"));
        }
        let mut changes = Vec::with_capacity(plan.len());
        let user_agent = req.header(HeaderName::UserAgent).map(str::to_owned);
        for (contact, instance, q, expires, flow) in plan {
            let pos = self
                .bindings
                .iter()
                .position(|b| b.matches(&contact, instance.as_deref()));
            if expires == 0 {
                if let Some(i) = pos {
                    let b = self.bindings.remove(i);
                    changes.push(BindingChange::Remove { contact: b.contact });
                }
                continue;
            }
            let binding = Binding {
                contact,
                instance,
                q,
                call_id: call_id.to_owned(),
                cseq,
                expires_at: now_unix + expires as u64,
                flow,
                user_agent: user_agent.clone(),
                account: Some(account.to_owned()),
                path: path.map(str::to_owned),
            };
            match pos {
                Some(i) => {
                    if self.bindings[i].contact != binding.contact {
                        changes.push(BindingChange::Remove {
                            contact: self.bindings[i].contact.clone(),
                        });
                    }
                    self.bindings[i] = binding.clone();
                }
                None => self.bindings.push(binding.clone()),
            }
            changes.push(BindingChange::Upsert(binding));
        }
        Ok(changes)
    }
}

enum Reject {
    TooBrief,
    Other(u16, &'static str),
}

fn outcome(
    code: u16,
    response: Vec<u8>,
    changes: Vec<BindingChange>,
    auth_failed: bool,
) -> RegisterOutcome {
    RegisterOutcome {
        code,
        response,
        changes,
        auth_failed,
    }
}

/// A To tag stable for one registration dialog (FNV-1a of the Call-ID).
fn tag_for(req: &Message) -> String {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in req.call_id().unwrap_or("").bytes() {
        h = (h ^ b as u64).wrapping_mul(0x100000001b3);
    }
    format!("{h:016x}")
}
