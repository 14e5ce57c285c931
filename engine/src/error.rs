/// Everything that can go wrong in the signalling core.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum Error {
    /// The bytes are not a SIP message; the text says what is wrong with them.
    #[error("malformed SIP message: {0}")]
    Malformed(&'static str),
    /// A header is present but its value does not follow its grammar.
    #[error("bad {header} header: {reason}")]
    BadHeader {
        header: &'static str,
        reason: &'static str,
    },
    /// The message is larger than the configured limit.
    #[error("message too large ({0} bytes)")]
    TooLarge(usize),
    /// A stream holds the start of a message but not all of it yet.
    #[error("incomplete message")]
    Incomplete,
    /// A required header is missing.
    #[error("missing {0} header")]
    Missing(&'static str),
    /// Digest credentials could not be read.
    #[error("bad credentials: {0}")]
    BadCredentials(&'static str),
    /// The bytes are not a session description (RFC 4566).
    #[error("malformed SDP: {0}")]
    BadSdp(&'static str),
    /// A message cannot create or continue a dialog (no tag, no Contact …).
    #[error("dialog: {0}")]
    Dialog(&'static str),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

pub(crate) fn bad(header: &'static str, reason: &'static str) -> Error {
    Error::BadHeader { header, reason }
}
