//! A running trunk as the rest of the switch sees it: its configuration and resolved
//! address, its status (kept by its actor), the calls it carries (a slot per call,
//! given back on drop); `TrunkMsg`, what its actor is sent; `TrunkEvent`, what it
//! publishes when its status changes.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};

use super::TenantId;
use crate::store::TrunkConfig;

/// What a trunk's actor is sent.
#[derive(Debug)]
pub enum TrunkMsg {
    /// A response to one of its requests (REGISTER, OPTIONS).
    Response(engine::sip::Message),
    /// Time to look at its timers.
    Tick,
}

/// Whether a trunk carries calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrunkStatus {
    /// Just started: not known yet (a fixed-IP trunk is tried meanwhile).
    Starting,
    Up,
    Down,
}

impl TrunkStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Starting => "starting",
            Self::Up => "up",
            Self::Down => "down",
        }
    }

    fn from_u8(v: u8) -> Self {
        match v {
            1 => Self::Up,
            2 => Self::Down,
            _ => Self::Starting,
        }
    }
}

/// A trunk's status changed: published on the trunks' bus (the switch keeps the
/// latest in `trunk_states`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrunkEvent {
    pub tenant: TenantId,
    pub trunk: String,
    pub status: TrunkStatus,
    pub reason: String,
    /// Unix milliseconds.
    pub at: u64,
    /// Registration trunks: unix milliseconds the registration runs until.
    pub registered_until: Option<u64>,
    pub registrations: u32,
}

/// A running trunk: shared by its actor (which keeps the status), its tenant (which
/// routes calls on it) and the dispatcher (which knows its address).
#[derive(Debug)]
pub struct TrunkLive {
    pub tenant: TenantId,
    pub config: TrunkConfig,
    /// The carrier's address: where requests go and where its requests come from.
    pub addr: SocketAddr,
    status: AtomicU8,
    reason: Mutex<String>,
    active: AtomicU32,
    /// Where its messages go: the carrier's address over UDP, or the connection the
    /// trunk opened to it over TCP (none while there is none).
    flow: Mutex<Option<super::Flow>>,
}

impl TrunkLive {
    pub fn new(tenant: TenantId, config: TrunkConfig, addr: SocketAddr) -> Self {
        TrunkLive {
            tenant,
            addr,
            status: AtomicU8::new(0),
            reason: Mutex::new("starting".into()),
            active: AtomicU32::new(0),
            flow: Mutex::new((config.transport == "udp").then_some(super::Flow::Udp(addr))),
            config,
        }
    }

    /// The trunk speaks to its carrier over a connection (TCP or TLS).
    pub fn is_connected(&self) -> bool {
        self.config.transport != "udp"
    }

    /// Where its messages go now (none: a TCP trunk not connected).
    pub fn flow(&self) -> Option<super::Flow> {
        *self.flow.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn set_flow(&self, flow: Option<super::Flow>) {
        *self.flow.lock().unwrap_or_else(|e| e.into_inner()) = flow;
    }

    pub fn status(&self) -> TrunkStatus {
        TrunkStatus::from_u8(self.status.load(Ordering::Relaxed))
    }

    pub fn reason(&self) -> String {
        self.reason
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Sets the status and why; true when the status changed.
    pub fn set(&self, status: TrunkStatus, reason: &str) -> bool {
        let v = match status {
            TrunkStatus::Starting => 0,
            TrunkStatus::Up => 1,
            TrunkStatus::Down => 2,
        };
        let mut r = self.reason.lock().unwrap_or_else(|e| e.into_inner());
        reason.clone_into(&mut r);
        self.status.swap(v, Ordering::Relaxed) != v
    }

    /// Calls on the trunk now.
    pub fn active(&self) -> u32 {
        self.active.load(Ordering::Relaxed)
    }

    /// A place for one more call, or why there is none (the trunk is down, or at its
    /// cap). A registration trunk carries calls only while registered.
    pub fn take(self: &Arc<Self>) -> Result<TrunkSlot, String> {
        let usable = match self.status() {
            TrunkStatus::Up => true,
            TrunkStatus::Starting => !self.config.register,
            TrunkStatus::Down => false,
        };
        if !usable {
            return Err(format!(
                "trunk {} is {}: {}",
                self.config.name,
                self.status().as_str(),
                self.reason()
            ));
        }
        let cap = self.config.max_calls.unwrap_or(u32::MAX);
        let taken = self
            .active
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < cap).then_some(n + 1)
            });
        match taken {
            Ok(_) => Ok(TrunkSlot(self.clone())),
            Err(_) => Err(format!(
                "trunk {} carries its {cap} calls",
                self.config.name
            )),
        }
    }
}

/// A call going out on a trunk, as the tenant prepared it for the call's leg: the
/// INVITE's From, To and identity headers, the account to answer the carrier's
/// challenge with, and the call's place on the trunk (held while the leg lives).
#[derive(Debug)]
pub struct TrunkLeg {
    pub trunk: String,
    /// From without its tag (`<sip:+4930123@carrier>`, or anonymous).
    pub from: String,
    pub to: String,
    /// P-Asserted-Identity, Privacy, Diversion.
    pub headers: Vec<(String, String)>,
    /// The user of the leg's Contact.
    pub contact_user: String,
    /// Answers a 401/407 to the INVITE.
    pub credentials: Option<(String, String)>,
    pub slot: TrunkSlot,
}

/// What a call asks its tenant for a hop on a trunk.
#[derive(Debug, Clone)]
pub struct TrunkHopAsk {
    /// The trunk the walk names and the number as it is sent on it.
    pub trunk: dialplan::TrunkDial,
    /// The outbound or emergency target of the hop.
    pub target: dialplan::Target,
    /// The caller: a line of the tenant, or an external number (canonical) on a call
    /// from a trunk.
    pub caller: String,
    /// The caller withholds its number.
    pub anonymous: bool,
    /// Another number of the caller's user shown instead of its line's.
    pub shown: Option<String>,
    /// The line whose forwarding sent the call out, if one did.
    pub diverted_by: Option<String>,
}

impl TrunkLive {
    /// A place for an emergency call: on any trunk that is not down, whatever its cap.
    pub fn take_for_emergency(self: &Arc<Self>) -> Result<TrunkSlot, String> {
        if self.status() == TrunkStatus::Down
            || (self.config.register && self.status() != TrunkStatus::Up)
        {
            return Err(format!(
                "trunk {} is {}: {}",
                self.config.name,
                self.status().as_str(),
                self.reason()
            ));
        }
        self.active.fetch_add(1, Ordering::AcqRel);
        Ok(TrunkSlot(self.clone()))
    }
}

/// One call's place on a trunk, given back when dropped.
#[derive(Debug)]
pub struct TrunkSlot(Arc<TrunkLive>);

impl TrunkSlot {
    pub fn trunk(&self) -> &Arc<TrunkLive> {
        &self.0
    }
}

impl Drop for TrunkSlot {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn live(max_calls: Option<u32>, register: bool) -> Arc<TrunkLive> {
        let config = TrunkConfig {
            name: "carrier".into(),
            host: "127.0.0.1".into(),
            port: 5070,
            transport: "udp".into(),
            username: None,
            password: None,
            domain: None,
            register,
            expires: 3600,
            keepalive: 30,
            max_calls,
        };
        Arc::new(TrunkLive::new(1, config, "127.0.0.1:5070".parse().unwrap()))
    }

    #[test]
    fn slots_are_capped_and_given_back() {
        let t = live(Some(2), false);
        let a = t.take().unwrap();
        let b = t.take().unwrap();
        assert!(t.take().unwrap_err().contains("carries its 2 calls"));
        drop(a);
        let _c = t.take().unwrap();
        drop(b);
        assert_eq!(t.active(), 1);
    }

    #[test]
    fn a_down_trunk_or_an_unregistered_one_takes_no_call() {
        let t = live(None, false);
        assert!(t.take().is_ok(), "a fixed-IP trunk is tried while starting");
        assert!(t.set(TrunkStatus::Down, "no answer to OPTIONS"));
        assert!(t.take().unwrap_err().contains("no answer to OPTIONS"));
        let r = live(None, true);
        assert!(r.take().is_err(), "not registered yet");
        r.set(TrunkStatus::Up, "registered");
        assert!(r.take().is_ok());
    }
}
