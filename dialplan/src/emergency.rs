//! Emergency numbers: reserved per country (configurable), routed on the emergency trunk
//! with the caller's callback number chosen by the caller's subnet.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::number::canonical::Canonical;

/// The announcement a caller hears when no trunk takes an emergency call (the
/// decision's fallback after the emergency target: never a 404).
pub const UNAVAILABLE_PROMPT: &str = "emergency_unavailable";

/// A subnet in CIDR notation (`10.12.13.0/24`, `fe80::1%3/60`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subnet {
    addr: IpAddr,
    len: u8,
}

impl Subnet {
    /// Parses CIDR notation; an IPv6 zone (`%3`) is ignored.
    pub fn parse(s: &str) -> Result<Self, Error> {
        let bad = || Error::InvalidSubnet(s.to_owned());
        let (addr, len) = s.trim().split_once('/').ok_or_else(bad)?;
        let addr = addr.split('%').next().unwrap_or(addr);
        let addr: IpAddr = addr.parse().map_err(|_| bad())?;
        let len: u8 = len.parse().map_err(|_| bad())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        if len > max {
            return Err(bad());
        }
        Ok(Self { addr, len })
    }

    /// Prefix length.
    pub fn len(&self) -> u8 {
        self.len
    }

    /// True for a /0.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Is `ip` inside?
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(a), IpAddr::V4(b)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.len)).unwrap_or(0);
                u32::from(a) & mask == u32::from(b) & mask
            }
            (IpAddr::V6(a), IpAddr::V6(b)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.len))
                    .unwrap_or(0);
                u128::from(a) & mask == u128::from(b) & mask
            }
            _ => false,
        }
    }
}

/// A location-specific callback rule ("Rules emergency numbers").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmergencyRule {
    /// Letters and digits only.
    pub description: String,
    /// Callers in this subnet (CIDR).
    pub subnet: String,
    /// Their callback number, signalled in P-Asserted-Identity.
    pub callback: Canonical,
    /// Digits put in front of the emergency number towards the trunk.
    #[serde(default)]
    pub prefix: String,
}

/// A tenant's emergency configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmergencyConfig {
    /// Reserved numbers; default: the country's (DE: 110, 112).
    #[serde(default)]
    pub numbers: Option<Vec<String>>,
    /// The trunk emergency calls leave on.
    pub trunk: String,
    /// Callback number when no subnet rule matches; default: the caller's own number.
    #[serde(default)]
    pub default_callback: Option<Canonical>,
    /// Subnet rules; the longest matching subnet wins.
    #[serde(default)]
    pub rules: Vec<EmergencyRule>,
}

impl EmergencyConfig {
    /// The rule for a caller at `ip`: the most specific subnet that contains it.
    pub fn rule_for(&self, ip: Option<IpAddr>) -> Option<&EmergencyRule> {
        let ip = ip?;
        self.rules
            .iter()
            .filter_map(|r| Subnet::parse(&r.subnet).ok().map(|s| (s, r)))
            .filter(|(s, _)| s.contains(ip))
            .max_by_key(|(s, _)| s.len())
            .map(|(_, r)| r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subnets() {
        let s = Subnet::parse("10.12.13.0/24").unwrap();
        assert!(s.contains("10.12.13.77".parse().unwrap()));
        assert!(!s.contains("10.12.14.1".parse().unwrap()));
        assert!(Subnet::parse("0.0.0.0/0")
            .unwrap()
            .contains("1.2.3.4".parse().unwrap()));
        let v6 = Subnet::parse("fe80::c91b:d632:2a35:89df%3/60").unwrap();
        assert!(v6.contains("fe80::1".parse().unwrap()));
        assert!(!v6.contains("10.0.0.1".parse().unwrap()));
        assert!(Subnet::parse("10.0.0.0/33").is_err());
        assert!(Subnet::parse("10.0.0.0").is_err());
    }
}
