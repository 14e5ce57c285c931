//! Stateless nonces: the issue time plus a keyed hash of it, the realm, the method and
//! the source address, so any actor can check a nonce and tell "expired"
//! (stale=true) from "forged", and a nonce works only for the request kind and the
//! address it was issued to.

use std::net::IpAddr;

use sha2::{Digest, Sha256};

use super::hex;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonceCheck {
    Valid,
    /// Genuine but older than the lifetime: challenge again with `stale=true`.
    Stale,
    Invalid,
}

/// What a nonce is bound to besides its issue time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NonceScope<'a> {
    pub realm: &'a str,
    /// The method of the request challenged (REGISTER, INVITE …).
    pub method: &'a str,
    /// The address the challenge went to.
    pub source: IpAddr,
}

/// Issues and checks nonces with a secret that lives as long as the process.
#[derive(Debug, Clone)]
pub struct Nonces {
    secret: [u8; 32],
    lifetime_secs: u64,
}

impl Nonces {
    pub fn new(secret: [u8; 32], lifetime_secs: u64) -> Self {
        Nonces {
            secret,
            lifetime_secs,
        }
    }

    /// How long a nonce is good for, in seconds.
    pub fn lifetime_secs(&self) -> u64 {
        self.lifetime_secs
    }

    fn mac(&self, issued: u64, salt: &str, scope: &NonceScope<'_>) -> String {
        let mut h = Sha256::new();
        h.update(self.secret);
        h.update(issued.to_be_bytes());
        h.update(salt.as_bytes());
        h.update([0]);
        h.update(scope.realm.as_bytes());
        h.update([0]);
        h.update(scope.method.as_bytes());
        h.update([0]);
        match scope.source {
            IpAddr::V4(a) => h.update(a.octets()),
            IpAddr::V6(a) => h.update(a.octets()),
        }
        hex(&h.finalize()[..12])
    }

    /// A nonce for `scope`, issued at `now_unix` (seconds). `salt` makes nonces
    /// issued in the same second differ (their counts are tracked apart).
    pub fn issue(&self, now_unix: u64, salt: u32, scope: &NonceScope<'_>) -> String {
        let salt = format!("{salt:x}");
        format!("{now_unix:x}.{salt}.{}", self.mac(now_unix, &salt, scope))
    }

    /// The issue time of a nonce that is genuine for `scope`.
    pub fn check(&self, nonce: &str, scope: &NonceScope<'_>, now_unix: u64) -> NonceCheck {
        let mut parts = nonce.splitn(3, '.');
        let (Some(ts), Some(salt), Some(mac)) = (parts.next(), parts.next(), parts.next()) else {
            return NonceCheck::Invalid;
        };
        let Ok(issued) = u64::from_str_radix(ts, 16) else {
            return NonceCheck::Invalid;
        };
        if !constant_time_eq(self.mac(issued, salt, scope).as_bytes(), mac.as_bytes())
            || issued > now_unix + 5
        {
            return NonceCheck::Invalid;
        }
        if now_unix - issued.min(now_unix) > self.lifetime_secs {
            NonceCheck::Stale
        } else {
            NonceCheck::Valid
        }
    }
}

/// Compares two byte strings in time that depends on their length only.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope<'a>(realm: &'a str, method: &'a str, ip: &str) -> NonceScope<'a> {
        NonceScope {
            realm,
            method,
            source: ip.parse().unwrap(),
        }
    }

    #[test]
    fn nonces_expire_and_cannot_be_forged() {
        let n = Nonces::new([7; 32], 300);
        let s = scope("pbx", "REGISTER", "192.0.2.1");
        let nonce = n.issue(1_000, 1, &s);
        assert_ne!(nonce, n.issue(1_000, 2, &s));
        assert_eq!(n.check(&nonce, &s, 1_200), NonceCheck::Valid);
        assert_eq!(n.check(&nonce, &s, 1_301), NonceCheck::Stale);
        let other = scope("other", "REGISTER", "192.0.2.1");
        assert_eq!(n.check(&nonce, &other, 1_200), NonceCheck::Invalid);
        assert_eq!(n.check("3e8.0000", &s, 1_200), NonceCheck::Invalid);
        assert_eq!(n.check("zz", &s, 1_200), NonceCheck::Invalid);
    }

    #[test]
    fn nonces_are_bound_to_method_and_source() {
        let n = Nonces::new([7; 32], 300);
        let nonce = n.issue(1_000, 9, &scope("pbx", "REGISTER", "192.0.2.1"));
        let invite = scope("pbx", "INVITE", "192.0.2.1");
        assert_eq!(n.check(&nonce, &invite, 1_001), NonceCheck::Invalid);
        let elsewhere = scope("pbx", "REGISTER", "192.0.2.2");
        assert_eq!(n.check(&nonce, &elsewhere, 1_001), NonceCheck::Invalid);
        let v6 = scope("pbx", "REGISTER", "::1");
        assert_eq!(n.check(&nonce, &v6, 1_001), NonceCheck::Invalid);
    }

    #[test]
    fn constant_time_eq_compares() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
