//! Stateless nonces: the issue time plus a keyed hash of it, so any actor can check a
//! nonce and tell "expired" (stale=true) from "forged".

use sha2::{Digest, Sha256};

use super::hex;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonceCheck {
    Valid,
    /// Genuine but older than the lifetime: challenge again with `stale=true`.
    Stale,
    Invalid,
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

    fn mac(&self, issued: u64, realm: &str) -> String {
        let mut h = Sha256::new();
        h.update(self.secret);
        h.update(issued.to_be_bytes());
        h.update(realm.as_bytes());
        hex(&h.finalize()[..12])
    }

    /// A nonce for `realm`, issued at `now_unix` (seconds).
    pub fn issue(&self, now_unix: u64, realm: &str) -> String {
        format!("{now_unix:x}.{}", self.mac(now_unix, realm))
    }

    pub fn check(&self, nonce: &str, realm: &str, now_unix: u64) -> NonceCheck {
        let Some((ts, mac)) = nonce.split_once('.') else {
            return NonceCheck::Invalid;
        };
        let Ok(issued) = u64::from_str_radix(ts, 16) else {
            return NonceCheck::Invalid;
        };
        if self.mac(issued, realm) != mac || issued > now_unix + 5 {
            return NonceCheck::Invalid;
        }
        if now_unix - issued.min(now_unix) > self.lifetime_secs {
            NonceCheck::Stale
        } else {
            NonceCheck::Valid
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonces_expire_and_cannot_be_forged() {
        let n = Nonces::new([7; 32], 300);
        let nonce = n.issue(1_000, "pbx");
        assert_eq!(n.check(&nonce, "pbx", 1_200), NonceCheck::Valid);
        assert_eq!(n.check(&nonce, "pbx", 1_301), NonceCheck::Stale);
        assert_eq!(n.check(&nonce, "other", 1_200), NonceCheck::Invalid);
        assert_eq!(n.check("3e8.0000", "pbx", 1_200), NonceCheck::Invalid);
        assert_eq!(n.check("zz", "pbx", 1_200), NonceCheck::Invalid);
    }
}
