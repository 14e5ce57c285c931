//! The crate's single error type.

/// Everything that can go wrong in the media engine.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    /// A packet was shorter than its headers say it must be.
    #[error("{what} truncated: need {need} bytes, have {have}")]
    Truncated {
        what: &'static str,
        need: usize,
        have: usize,
    },
    /// A packet's version field was not 2.
    #[error("unsupported RTP/RTCP version {0}")]
    BadVersion(u8),
    /// An RTP packet that `rtp-rs` refused.
    #[error("malformed RTP packet: {0}")]
    Rtp(String),
    /// An RTCP packet that breaks RFC 3550's rules.
    #[error("malformed RTCP packet: {0}")]
    Rtcp(&'static str),
    /// An SRTP or SRTCP packet refused (forged, replayed, or keyed otherwise).
    #[error("SRTP: {0}")]
    Srtp(&'static str),
    /// A telephone-event payload that breaks RFC 4733's rules.
    #[error("malformed telephone-event: {0}")]
    TelephoneEvent(&'static str),
    /// A character that is not a DTMF digit.
    #[error("not a DTMF digit: {0:?}")]
    NotADigit(char),
    /// A sample rate the engine does not handle.
    #[error("unsupported sample rate {0} Hz")]
    UnsupportedRate(u32),
    /// A packet time the codec or transcoder does not handle.
    #[error("unsupported packet time {ptime_ms} ms for {codec}")]
    UnsupportedPtime { codec: &'static str, ptime_ms: u32 },
    /// A frame whose length does not fit what the codec expects.
    #[error("{codec}: frame of {got} samples where a multiple of {unit} was expected")]
    FrameSize {
        codec: &'static str,
        unit: usize,
        got: usize,
    },
    /// libopus reported an error.
    #[error("opus: {0}")]
    Opus(#[from] audiopus::Error),
    /// Opus frames could not be joined into one packet.
    #[error("opus packet: {0}")]
    Repacketize(&'static str),
    /// The G.722 codec reported an error.
    #[error("g722: {0}")]
    G722(String),
    /// An announcement file that is not mono 8 kHz 16-bit PCM, or unreadable.
    #[error("announcement {name:?} refused: {reason}")]
    BadAnnouncement { name: String, reason: String },
    /// Writing or reading WAV data failed.
    #[error("wav: {0}")]
    Wav(#[from] hound::Error),
    /// A mixer participant that does not exist.
    #[error("unknown mixer participant {0}")]
    UnknownParticipant(u32),
    /// A codec name or payload type the engine does not know.
    #[error("unknown codec {0:?}")]
    UnknownCodec(String),
}
