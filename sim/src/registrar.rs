//! The carrier's registrar (UAS mode): a switch's registration trunk registers here
//! with digest (RFC 3261 §22, MD5 with qop=auth), as it would at a carrier. Accounts
//! are any user name with the scenario's password (`{ext}` stands for the user name);
//! the realm is the scenario's domain. Accepted registrations count as `registered`,
//! refused ones as `register 403`. The Contact each account registered is kept
//! (`Contacts`): a carrier calls the switch there.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Mutex;

use engine::auth::{challenge, ha1, verify, Algorithm, Credentials};
use engine::sip::{HeaderName, Message, MessageWriter};

use crate::phone::{unique, Phone};
use crate::report::Cause;
use crate::run::Ctx;

/// The Expires granted when the REGISTER asks for none.
const DEFAULT_EXPIRES: u32 = 3600;

/// The Contact URI each account registered, by account.
#[derive(Default)]
pub struct Contacts(Mutex<BTreeMap<String, String>>);

impl Contacts {
    fn set(&self, user: &str, contact: Option<String>) {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match contact {
            Some(c) => map.insert(user.to_owned(), c),
            None => map.remove(user),
        };
    }

    /// A registered Contact URI (the first account's, by name), if any.
    pub fn any(&self) -> Option<String> {
        let map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.values().next().cloned()
    }
}

/// Answers a REGISTER: 401 with a challenge, 200 for good credentials to a nonce of
/// this run, 403 for bad ones.
pub async fn register(ctx: &Ctx, phone: &Phone, m: &Message) {
    let realm = &ctx.scenario.domain;
    let credentials = m
        .header(HeaderName::Authorization)
        .and_then(|v| Credentials::parse(v).ok());
    // Credentials to a nonce of another run (the sim restarted): challenged again,
    // stale, not refused.
    let stale = credentials.as_ref().is_some_and(|c| !ours(ctx, c.nonce));
    let resp = match credentials.filter(|_| !stale) {
        None => {
            let nonce = format!("{:x}{}", ctx.salt, unique(ctx));
            let mut w = MessageWriter::response_to(m, 401, "Unauthorized", Some(&unique(ctx)));
            w.header(
                "WWW-Authenticate",
                &challenge(realm, &nonce, Algorithm::Md5, stale),
            );
            w.finish()
        }
        Some(c) if accepted(ctx, &c) => {
            let expires = m
                .header(HeaderName::Expires)
                .and_then(|e| e.trim().parse::<u32>().ok())
                .unwrap_or(DEFAULT_EXPIRES);
            let mut w = MessageWriter::response_to(m, 200, "OK", Some(&unique(ctx)));
            if let (Some(contact), true) = (m.header(HeaderName::Contact), expires > 0) {
                w.header_fmt("Contact", format_args!("{contact};expires={expires}"));
            }
            w.header_fmt("Expires", expires);
            // A flow's carrier: its phones' registrations are the ones counted.
            if expires > 0 && ctx.scenario.mode == crate::scenario::Mode::Uas {
                ctx.counters.registered.fetch_add(1, Ordering::Relaxed);
            }
            let uri = m
                .contacts()
                .and_then(|l| l.first().map(|c| c.uri.raw.to_owned()));
            ctx.contacts.set(c.username, uri.filter(|_| expires > 0));
            w.finish()
        }
        Some(_) => {
            ctx.counters.fail(Cause::RegisterCode(403));
            MessageWriter::response_to(m, 403, "Forbidden", Some(&unique(ctx))).finish()
        }
    };
    phone.send(ctx, &resp).await;
}

/// Credentials for the scenario's realm, to a nonce this run issued, answering with
/// the account's password.
fn accepted(ctx: &Ctx, c: &Credentials<'_>) -> bool {
    let password = ctx.scenario.password.replace("{ext}", c.username);
    let key = ha1(Algorithm::Md5, c.username, c.realm, &password);
    ours(ctx, c.nonce)
        && c.realm == ctx.scenario.domain
        && verify(Algorithm::Md5, &key, "REGISTER", c)
}

/// Whether this run issued `nonce`.
fn ours(ctx: &Ctx, nonce: &str) -> bool {
    nonce.starts_with(&format!("{:x}", ctx.salt))
}
