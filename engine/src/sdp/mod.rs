//! Session descriptions (RFC 4566) and offer/answer (RFC 3264) for a B2BUA that
//! anchors media: parse and print byte-exact, read the fields that matter, rewrite
//! addresses and ports, hold, negotiate codecs, and SDES keys for SRTP.

mod codec;
mod crypto;
mod fields;
mod media;
mod negotiate;
mod session;

pub use codec::{static_codec, Codec, CodecSpec, RtpMap, TELEPHONE_EVENT};
pub use crypto::{is_secure_proto, Crypto, KEY_LEN as CRYPTO_KEY_LEN, SUITES as CRYPTO_SUITES};
pub use fields::{addrtype_of, Connection, Direction, MediaLine, Origin};
pub use media::MediaSection;
pub use negotiate::{answer, common_codecs, AnswerOptions};
pub use session::{Line, Sdp, MAX_SDP_SIZE};

#[cfg(test)]
mod tests;
