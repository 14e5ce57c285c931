//! Sans-IO media engine for the switch.
//!
//! Frames and packets go in, frames and packets come out; time is always an argument
//! (a [`std::time::Duration`] since an arbitrary epoch chosen by the caller). Nothing in
//! this crate reads a clock or opens a socket.
//!
//! - [`codec`]: the [`codec::Codec`] trait, G.711 A-law/µ-law (table-driven), G.722, Opus,
//!   and the [`codec::transcode::Transcoder`] between any two of them.
//! - [`resample`]: polyphase resampling between 8, 16 and 48 kHz.
//! - [`rtp`]: RTP packets (through `rtp-rs`) and RTP/RTCP demultiplexing (RFC 5761).
//! - [`rtcp`]: RTCP SR, RR, SDES, BYE and compound packets; receiver statistics (RFC 3550).
//! - [`rewriter`]: keeps a B2BUA leg's SSRC, sequence and timestamps continuous.
//! - [`jitter`]: adaptive jitter buffer and packet-loss concealment.
//! - [`playout`]: jitter buffer + decoder + concealment: one PCM frame per packet time.
//! - [`dtmf`]: RFC 4733 telephone-events, Goertzel in-band detection, conversion.
//! - [`mixer`]: N-party conference mixing, O(N) per frame.
//! - [`wav`]: announcements, playlists, music on hold and the call recorder.
//! - [`srtp`]: SRTP and SRTCP (RFC 3711), AES-CM with HMAC-SHA1, SDES-keyed.
//! - [`tone`]: call-progress tones per country, beeps and DTMF tones.

pub mod codec;
pub mod conference;
pub mod dtmf;
pub mod error;
pub mod jitter;
pub mod mixer;
pub mod path;
pub mod playout;
pub mod record;
pub mod resample;
pub mod rewriter;
pub mod rtcp;
pub mod rtp;
pub mod source;
pub mod srtp;
pub mod tone;
pub mod wav;

pub use codec::{Codec, CodecKind};
pub use error::MediaError;

/// Result type of this crate.
pub type Result<T, E = MediaError> = std::result::Result<T, E>;
