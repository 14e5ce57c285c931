//! SDES keys (RFC 4568): the `a=crypto` attribute of an audio section, read and
//! written. Only what the switch's SRTP speaks is taken: the AES_CM_128 suites with
//! one inline key and no MKI.

use base64::Engine as _;

use super::media::MediaSection;

/// The suites the switch accepts, in its order of preference.
pub const SUITES: [&str; 2] = ["AES_CM_128_HMAC_SHA1_80", "AES_CM_128_HMAC_SHA1_32"];

/// Master key (16 bytes) and salt (14) as one inline key carries them.
pub const KEY_LEN: usize = 30;

/// One `a=crypto` line the switch can use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Crypto {
    pub tag: u32,
    pub suite: &'static str,
    pub key: [u8; KEY_LEN],
}

impl Crypto {
    /// Reads the value of an `a=crypto:` attribute; `None` for a suite or key form
    /// the switch does not speak (several keys, an MKI, session parameters that
    /// change the packets).
    pub fn parse(value: &str) -> Option<Crypto> {
        let mut parts = value.split_ascii_whitespace();
        let tag: u32 = parts.next()?.parse().ok()?;
        let suite_name = parts.next()?;
        let suite = *SUITES.iter().find(|s| **s == suite_name)?;
        let keys = parts.next()?;
        // Session parameters such as UNENCRYPTED_SRTP or a KDR change what goes on
        // the wire: a line with any is not taken.
        if parts.next().is_some() || keys.contains(';') {
            return None;
        }
        let inline = keys.strip_prefix("inline:")?;
        let mut fields = inline.split('|');
        let b64 = fields.next()?;
        for f in fields {
            // A lifetime is fine; an MKI (`n:len`) is not.
            if f.contains(':') {
                return None;
            }
        }
        let raw = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(b64))
            .ok()?;
        let key: [u8; KEY_LEN] = raw.try_into().ok()?;
        Some(Crypto { tag, suite, key })
    }

    /// The attribute's value, e.g. `1 AES_CM_128_HMAC_SHA1_80 inline:…`.
    pub fn value(&self) -> String {
        format!(
            "{} {} inline:{}",
            self.tag,
            self.suite,
            base64::engine::general_purpose::STANDARD.encode(self.key)
        )
    }
}

/// True for the profiles whose media is SRTP (`RTP/SAVP`, `RTP/SAVPF`).
pub fn is_secure_proto(proto: &str) -> bool {
    proto.to_ascii_uppercase().starts_with("RTP/SAVP")
}

impl MediaSection {
    /// The first `a=crypto` line of this section the switch can use.
    pub fn crypto(&self) -> Option<Crypto> {
        self.attributes("crypto").find_map(Crypto::parse)
    }

    /// Drops every `a=crypto` line and adds `c` (when given) as the only one.
    pub fn set_crypto(&mut self, c: Option<&Crypto>) {
        self.lines
            .retain(|l| !(l.kind == b'a' && l.value.starts_with("crypto:")));
        if let Some(c) = c {
            self.push(b'a', format!("crypto:{}", c.value()));
        }
    }

    /// Sets the `m=` line's transport profile (`RTP/AVP`, `RTP/SAVP`).
    pub fn set_proto(&mut self, proto: &str) {
        self.m.proto = proto.into();
        self.sync_m();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sdp::Sdp;

    #[test]
    fn sdes_lines_are_read_and_written() {
        let key = "WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz";
        let c = Crypto::parse(&format!("1 AES_CM_128_HMAC_SHA1_80 inline:{key}|2^20")).unwrap();
        assert_eq!((c.tag, c.suite), (1, "AES_CM_128_HMAC_SHA1_80"));
        assert_eq!(c.value(), format!("1 AES_CM_128_HMAC_SHA1_80 inline:{key}"));
        assert!(
            Crypto::parse(&format!("1 AES_CM_128_HMAC_SHA1_32 inline:{key}|2^20|1:4")).is_none()
        );
        assert!(Crypto::parse(&format!("1 F8_128_HMAC_SHA1_80 inline:{key}")).is_none());
        assert!(Crypto::parse(&format!(
            "1 AES_CM_128_HMAC_SHA1_80 inline:{key} UNENCRYPTED_SRTP"
        ))
        .is_none());
        assert!(Crypto::parse("1 AES_CM_128_HMAC_SHA1_80 inline:c2hvcnQ=").is_none());
        assert!(Crypto::parse("x AES_CM_128_HMAC_SHA1_80").is_none());
    }

    #[test]
    fn a_section_takes_its_first_usable_key_and_can_be_rekeyed() {
        let text = "v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
                    m=audio 4000 RTP/SAVP 0\r\n\
                    a=crypto:1 F8_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz\r\n\
                    a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz\r\n";
        let mut sdp = Sdp::parse(text.as_bytes()).unwrap();
        let m = &mut sdp.media_mut()[0];
        assert!(is_secure_proto(m.proto()));
        let c = m.crypto().unwrap();
        assert_eq!((c.tag, c.suite), (2, "AES_CM_128_HMAC_SHA1_32"));
        let own = Crypto {
            tag: 2,
            suite: c.suite,
            key: [7; KEY_LEN],
        };
        m.set_crypto(Some(&own));
        m.set_proto("RTP/AVP");
        assert_eq!(m.attributes("crypto").count(), 1);
        assert_eq!(m.crypto(), Some(own));
        let out = String::from_utf8(sdp.to_bytes()).unwrap();
        assert!(out.contains("m=audio 4000 RTP/AVP 0"), "{out}");
    }

    proptest::proptest! {
        /// Whatever an `a=crypto` line says, reading it is an answer, and a key read
        /// is written back so that it reads the same.
        #[test]
        fn any_crypto_line_reads_or_is_refused(value in "[ -~]{0,120}") {
            if let Some(c) = Crypto::parse(&value) {
                proptest::prop_assert_eq!(Crypto::parse(&c.value()), Some(c));
            }
        }
    }
}
