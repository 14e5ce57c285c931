//! Session timers (RFC 4028) of one leg: the interval and refresher negotiated with its
//! device, the switch's refreshes (UPDATE, or re-INVITE with the last SDP sent, at half
//! the interval) and the end of a session nobody refreshed (BYE, "Session Expired").
//! Each leg keeps its own session with its own device, as a B2BUA does.

use std::time::{Duration, Instant};

use super::event::{Cause, Side};
use super::leg::Leg;
use crate::sip::{HeaderName, Message, MessageWriter, Method};
use crate::timer::Timer;

/// The smallest session interval the switch accepts (RFC 4028 §5: at least 90 s).
pub const MIN_SE: u32 = 90;
/// The interval the switch asks for when nobody named one.
pub const DEFAULT_SE: u32 = 1800;

/// Who refreshes the session, as the `refresher` parameter says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refresher {
    Uac,
    Uas,
}

impl Refresher {
    fn as_str(self) -> &'static str {
        match self {
            Refresher::Uac => "uac",
            Refresher::Uas => "uas",
        }
    }
}

/// A Session-Expires header: delta-seconds and an optional refresher.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionExpires {
    pub interval: u32,
    pub refresher: Option<Refresher>,
}

impl SessionExpires {
    /// The Session-Expires of a message, if it has one that parses.
    pub fn of(m: &Message) -> Option<SessionExpires> {
        let v = m.header(HeaderName::SessionExpires)?;
        let mut parts = v.split(';');
        let interval = parts.next()?.trim().parse().ok()?;
        let refresher = parts
            .filter_map(|p| p.split_once('='))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case("refresher"))
            .and_then(|(_, v)| match v.trim().to_ascii_lowercase().as_str() {
                "uac" => Some(Refresher::Uac),
                "uas" => Some(Refresher::Uas),
                _ => None,
            });
        Some(SessionExpires {
            interval,
            refresher,
        })
    }
}

/// The Min-SE of a message.
pub fn min_se(m: &Message) -> Option<u32> {
    m.header(HeaderName::MinSe)?
        .split(';')
        .next()?
        .trim()
        .parse()
        .ok()
}

/// True when a Supported or Require header of `m` names `option`.
pub fn has_option(m: &Message, option: &str) -> bool {
    m.values(HeaderName::Supported)
        .chain(m.values(HeaderName::Require))
        .flat_map(|v| v.split(','))
        .any(|o| o.trim().eq_ignore_ascii_case(option))
}

/// True when a Require header of `m` names `option`.
pub fn requires(m: &Message, option: &str) -> bool {
    m.values(HeaderName::Require)
        .flat_map(|v| v.split(','))
        .any(|o| o.trim().eq_ignore_ascii_case(option))
}

/// True when the Allow header of `m` lists `method`.
fn allows(m: &Message, method: &str) -> bool {
    m.values(HeaderName::Allow)
        .flat_map(|v| v.split(','))
        .any(|o| o.trim().eq_ignore_ascii_case(method))
}

/// The 422 for a request whose Session-Expires is below `min` (RFC 4028 §8.1), with
/// the Min-SE the switch accepts; `None` when the request is acceptable.
pub fn interval_too_small(req: &Message, min: u32) -> Option<Vec<u8>> {
    let se = SessionExpires::of(req)?;
    if se.interval >= min {
        return None;
    }
    let mut w = MessageWriter::response_to(req, 422, "Session Interval Too Small", Some("pbx"));
    w.header_fmt("Min-SE", min);
    Some(w.finish())
}

/// A leg's running session timer.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    pub(crate) interval: u32,
    /// The switch refreshes (else the device does).
    pub(crate) we_refresh: bool,
    /// The device said it supports timers (then 2xx carry `Require: timer`).
    pub(crate) peer_supports: bool,
    /// The device accepts UPDATE: refreshes are UPDATEs without a body.
    pub(crate) update: bool,
    /// The branch of the switch's refresh in flight.
    pub(crate) refreshing: Option<String>,
}

impl Session {
    /// The Session-Expires value in a message where the switch is the transaction's
    /// UAS (a 2xx) or UAC (a request): `refresher` names whoever refreshes.
    fn header(&self, we_are_uac: bool) -> String {
        let r = if self.we_refresh == we_are_uac {
            Refresher::Uac
        } else {
            Refresher::Uas
        };
        format!("{};refresher={}", self.interval, r.as_str())
    }
}

/// Who refreshes, from the `refresher` of a message: `true` when the switch does.
/// `switch_is_uac`: the switch is the UAC of the transaction the message is part of.
fn switch_refreshes(r: Refresher, switch_is_uac: bool) -> bool {
    (r == Refresher::Uac) == switch_is_uac
}

impl Leg {
    /// The session the switch's 2xx to the caller's INVITE `req` sets up: the
    /// interval asked for (never below `MIN_SE` nor the caller's Min-SE), the
    /// refresher asked for, else the caller when it supports timers, else the switch.
    pub(crate) fn negotiate_as_uas(&mut self, req: &Message) {
        let peer_supports = has_option(req, "timer");
        let se = SessionExpires::of(req);
        let interval = se
            .map_or(DEFAULT_SE, |s| s.interval)
            .max(MIN_SE)
            .max(min_se(req).unwrap_or(0));
        let we_refresh = match se.and_then(|s| s.refresher) {
            Some(r) if peer_supports => switch_refreshes(r, false),
            _ => !peer_supports,
        };
        self.session = Some(Session {
            interval,
            we_refresh,
            peer_supports,
            update: allows(req, "UPDATE"),
            refreshing: None,
        });
    }

    /// The session a 2xx from the callee's device sets up (RFC 4028 §7.2): its
    /// Session-Expires and refresher, or — when it has none — the switch refreshes.
    pub(crate) fn negotiate_as_uac(&mut self, resp: &Message) {
        let asked = self
            .invite
            .as_ref()
            .and_then(SessionExpires::of)
            .map_or(DEFAULT_SE, |s| s.interval);
        let se = SessionExpires::of(resp);
        let interval = se.map_or(asked, |s| s.interval).max(MIN_SE);
        let we_refresh = se
            .and_then(|s| s.refresher)
            .is_none_or(|r| switch_refreshes(r, true));
        self.session = Some(Session {
            interval,
            we_refresh,
            peer_supports: has_option(resp, "timer"),
            update: allows(resp, "UPDATE"),
            refreshing: None,
        });
    }

    /// Headers for a 2xx of this leg that sets or refreshes the session.
    pub(crate) fn session_headers(&self) -> Vec<(&'static str, String)> {
        let Some(s) = &self.session else {
            return Vec::new();
        };
        let mut h = vec![("Session-Expires", s.header(false))];
        if s.peer_supports {
            h.push(("Require", "timer".into()));
        }
        h
    }

    /// (Re)starts the session's deadlines from `now`: a refresh at half the interval
    /// when the switch refreshes, and the expiry (RFC 4028 §10: the interval less a
    /// third of it, at most 32 s) in any case.
    pub(crate) fn arm_session(&mut self, now: Instant) {
        let Some(s) = &self.session else { return };
        let interval = Duration::from_secs(u64::from(s.interval));
        if s.we_refresh {
            self.timers.set(Timer::SessionRefresh, now + interval / 2);
        } else {
            self.timers.cancel(&Timer::SessionRefresh);
        }
        let margin = Duration::from_secs(u64::from((s.interval / 3).min(32)));
        self.timers
            .set(Timer::SessionExpiry, now + interval - margin);
    }

    /// The refresh timer fired: UPDATE without a body when the device takes UPDATE,
    /// else a re-INVITE with the last SDP the leg sent.
    pub(crate) fn send_refresh(&mut self, now: Instant) {
        let Some(s) = self.session.clone() else {
            return;
        };
        let se = s.header(true);
        let headers = [("Session-Expires", se.as_str()), ("Supported", "timer")];
        let method = if s.update {
            Method::Update
        } else {
            Method::Invite
        };
        let sdp = self.local_sdp.clone();
        let body = match (&method, &sdp) {
            (Method::Invite, Some(b)) => Some(("application/sdp", b.as_ref())),
            _ => None,
        };
        if self
            .send_request_with(&method, &headers, body, now)
            .is_none()
        {
            // A re-INVITE of ours is pending: try again shortly.
            self.timers
                .set(Timer::SessionRefresh, now + Duration::from_secs(2));
            return;
        }
        // The branch `send_request_with` just took.
        let branch = format!("z9hG4bK{}.{}", self.cfg.branch_seed, self.branches);
        if let Some(s) = &mut self.session {
            s.refreshing = Some(branch);
        }
    }

    /// A response to a request of ours: when it answers the switch's refresh, a 2xx
    /// restarts the session (with the interval it names); true when it was one.
    pub(crate) fn on_refresh_response(&mut self, resp: &Message, now: Instant) -> bool {
        let branch = resp.top_via().and_then(|v| v.branch()).unwrap_or("");
        let Some(s) = &mut self.session else {
            return false;
        };
        if s.refreshing.as_deref() != Some(branch) {
            return false;
        }
        let code = resp.code().unwrap_or(0);
        if code < 200 {
            return true;
        }
        s.refreshing = None;
        if (200..300).contains(&code) {
            if let Some(se) = SessionExpires::of(resp) {
                s.interval = se.interval.max(MIN_SE);
                if let Some(r) = se.refresher {
                    s.we_refresh = switch_refreshes(r, true);
                }
            }
            self.arm_session(now);
        }
        // Otherwise the expiry ends the session if nobody refreshes it by then.
        true
    }

    /// The device refreshed the session (the switch answers its re-INVITE/UPDATE with
    /// a 2xx): the interval and refresher it names (the device itself when it names
    /// none), and the deadlines start again.
    pub(crate) fn on_peer_refresh(&mut self, req: &Message, now: Instant) {
        let se = SessionExpires::of(req);
        let supports = has_option(req, "timer");
        let Some(s) = &mut self.session else { return };
        if let Some(se) = se {
            s.interval = se.interval.max(MIN_SE);
        }
        s.peer_supports |= supports;
        match se.and_then(|s| s.refresher) {
            Some(r) => s.we_refresh = switch_refreshes(r, false),
            None if s.peer_supports => s.we_refresh = false,
            None => {}
        }
        self.arm_session(now);
    }

    /// The session expired without a refresh: BYE, "Session Expired".
    pub(crate) fn session_expired(&mut self, now: Instant) {
        self.session = None;
        self.timers.cancel(&Timer::SessionRefresh);
        self.cause = Some(Cause::new(408, "Session Expired", Side::Local));
        self.send_bye(now);
    }
}
