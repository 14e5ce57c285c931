//! SRTP and SRTCP (RFC 3711) with the AES_CM_128_HMAC_SHA1_80 and _32 suites, keyed
//! by SDES (RFC 4568): one [`SrtpContext`] per direction of a leg, made from the
//! 30-byte master key and salt the sender's SDP carried.
//!
//! Sans-IO: packets in, packets out. The receiving side estimates the rollover
//! counter (RFC 3711 appendix A) and refuses replays with a 64-packet window per
//! stream; the sending side counts rollovers itself. Session keys are derived once
//! (key derivation rate 0).

use aes::cipher::{BlockEncrypt, KeyInit};
use aes::Aes128;
use hmac::{Hmac, Mac};
use sha1::Sha1;

use crate::{MediaError, Result};

/// Master key and salt as SDES carries them: 16 bytes of key, 14 of salt.
pub const MASTER_LEN: usize = 30;

/// The crypto suites the switch speaks, as SDES names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Suite {
    AesCm128HmacSha1_80,
    AesCm128HmacSha1_32,
}

impl Suite {
    pub fn parse(name: &str) -> Option<Suite> {
        match name {
            "AES_CM_128_HMAC_SHA1_80" => Some(Suite::AesCm128HmacSha1_80),
            "AES_CM_128_HMAC_SHA1_32" => Some(Suite::AesCm128HmacSha1_32),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Suite::AesCm128HmacSha1_80 => "AES_CM_128_HMAC_SHA1_80",
            Suite::AesCm128HmacSha1_32 => "AES_CM_128_HMAC_SHA1_32",
        }
    }

    /// Bytes of authentication tag on an SRTP packet. SRTCP always carries 80 bits
    /// (RFC 4568 §6.2.1: the _32 suite shortens SRTP's tag only).
    pub fn rtp_tag_len(self) -> usize {
        match self {
            Suite::AesCm128HmacSha1_80 => 10,
            Suite::AesCm128HmacSha1_32 => 4,
        }
    }
}

const RTCP_TAG_LEN: usize = 10;

/// Session keys for one direction: encryption, salt and authentication, for SRTP and
/// for SRTCP.
struct Keys {
    cipher: Aes128,
    salt: [u8; 14],
    auth: Hmac<Sha1>,
}

impl Keys {
    fn derive(master: &Aes128, master_salt: &[u8; 14], labels: [u8; 3]) -> Keys {
        let mut enc = [0u8; 16];
        let mut salt = [0u8; 14];
        let mut auth = [0u8; 20];
        kdf(master, master_salt, labels[0], &mut enc);
        kdf(master, master_salt, labels[2], &mut salt);
        kdf(master, master_salt, labels[1], &mut auth);
        Keys {
            cipher: Aes128::new(&enc.into()),
            salt,
            auth: <Hmac<Sha1> as Mac>::new_from_slice(&auth).expect("HMAC takes any key length"),
        }
    }

    /// XORs the AES-CM keystream for (`ssrc`, `index`) into `data`.
    fn crypt(&self, ssrc: u32, index: u64, data: &mut [u8]) {
        let mut iv = [0u8; 16];
        iv[..14].copy_from_slice(&self.salt);
        for (b, s) in iv[4..8].iter_mut().zip(ssrc.to_be_bytes()) {
            *b ^= s;
        }
        for (b, s) in iv[8..14].iter_mut().zip(&index.to_be_bytes()[2..]) {
            *b ^= s;
        }
        keystream_xor(&self.cipher, iv, data);
    }

    /// The full HMAC-SHA1 of `parts`.
    fn mac(&self, parts: &[&[u8]]) -> [u8; 20] {
        let mut m = self.auth.clone();
        for p in parts {
            m.update(p);
        }
        m.finalize().into_bytes().into()
    }
}

/// XORs AES-CM keystream starting at counter block `iv` into `data`, blocks in
/// batches so the cipher can use its parallel path.
fn keystream_xor(cipher: &Aes128, iv: [u8; 16], data: &mut [u8]) {
    const BATCH: usize = 8;
    let base = u128::from_be_bytes(iv);
    let mut counter: u128 = 0;
    for chunk in data.chunks_mut(16 * BATCH) {
        let n = chunk.len().div_ceil(16);
        let mut blocks = [aes::Block::default(); BATCH];
        for b in blocks.iter_mut().take(n) {
            // Only the low 16 bits count blocks (RFC 3711 §4.1.1).
            let c = (base & !0xffff) | ((base + counter) & 0xffff);
            *b = c.to_be_bytes().into();
            counter += 1;
        }
        cipher.encrypt_blocks(&mut blocks[..n]);
        for (d, k) in chunk.iter_mut().zip(blocks.iter().flat_map(|b| b.iter())) {
            *d ^= k;
        }
    }
}

/// The key derivation function (RFC 3711 §4.3.1, key derivation rate 0): `out`
/// filled with keystream of the master key at `x = label || 0` XOR the master salt.
fn kdf(master: &Aes128, master_salt: &[u8; 14], label: u8, out: &mut [u8]) {
    let mut iv = [0u8; 16];
    iv[..14].copy_from_slice(master_salt);
    iv[7] ^= label;
    out.fill(0);
    keystream_xor(master, iv, out);
}

/// A 64-packet replay window below the highest index seen.
#[derive(Debug, Default, Clone, Copy)]
struct ReplayWindow {
    top: Option<u64>,
    bits: u64,
}

impl ReplayWindow {
    fn check(&self, index: u64) -> bool {
        match self.top {
            None => true,
            Some(top) if index > top => true,
            Some(top) => {
                let back = top - index;
                back < 64 && self.bits & (1 << back) == 0
            }
        }
    }

    fn accept(&mut self, index: u64) {
        match self.top {
            None => {
                self.top = Some(index);
                self.bits = 1;
            }
            Some(top) if index > top => {
                let shift = index - top;
                self.bits = if shift >= 64 { 0 } else { self.bits << shift };
                self.bits |= 1;
                self.top = Some(index);
            }
            Some(top) => self.bits |= 1 << (top - index),
        }
    }
}

/// What a receiver knows of one SRTP stream (by SSRC).
#[derive(Debug, Clone, Copy)]
struct RtpStream {
    ssrc: u32,
    roc: u32,
    /// The highest sequence number authenticated.
    s_l: u16,
    replay: ReplayWindow,
}

/// Streams one direction follows at most (a leg that changes SSRC on a re-INVITE
/// adds one; the oldest goes).
const STREAMS: usize = 4;

/// One direction of one leg: protects what the switch sends (with its own key) or
/// unprotects what a leg sends (with the key the leg announced).
pub struct SrtpContext {
    suite: Suite,
    rtp: Keys,
    rtcp: Keys,
    streams: Vec<RtpStream>,
    /// SRTCP: the next index to send, or the window of those received.
    rtcp_index: u32,
    rtcp_replay: ReplayWindow,
}

impl std::fmt::Debug for SrtpContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SrtpContext")
            .field("suite", &self.suite)
            .field("streams", &self.streams.len())
            .finish()
    }
}

fn truncated(what: &'static str, need: usize, have: usize) -> MediaError {
    MediaError::Truncated { what, need, have }
}

/// Length of an RTP packet's header: fixed part, CSRCs and extension.
fn rtp_header_len(p: &[u8]) -> Result<usize> {
    if p.len() < 12 {
        return Err(truncated("SRTP packet", 12, p.len()));
    }
    if p[0] >> 6 != 2 {
        return Err(MediaError::BadVersion(p[0] >> 6));
    }
    let mut n = 12 + 4 * usize::from(p[0] & 0x0f);
    if p[0] & 0x10 != 0 {
        if p.len() < n + 4 {
            return Err(truncated("SRTP header extension", n + 4, p.len()));
        }
        n += 4 + 4 * usize::from(u16::from_be_bytes([p[n + 2], p[n + 3]]));
    }
    if p.len() < n {
        return Err(truncated("SRTP header", n, p.len()));
    }
    Ok(n)
}

impl SrtpContext {
    /// A context for the 30-byte master key and salt `master`.
    pub fn new(suite: Suite, master: &[u8; MASTER_LEN]) -> SrtpContext {
        let key = Aes128::new(<&[u8; 16]>::try_from(&master[..16]).expect("16").into());
        let salt: [u8; 14] = master[16..].try_into().expect("14 bytes of salt");
        SrtpContext {
            suite,
            rtp: Keys::derive(&key, &salt, [0, 1, 2]),
            rtcp: Keys::derive(&key, &salt, [3, 4, 5]),
            streams: Vec::new(),
            rtcp_index: 0,
            rtcp_replay: ReplayWindow::default(),
        }
    }

    pub fn suite(&self) -> Suite {
        self.suite
    }

    fn stream(&mut self, ssrc: u32, seq: u16) -> &mut RtpStream {
        let i = match self.streams.iter().position(|s| s.ssrc == ssrc) {
            Some(i) => i,
            None => {
                if self.streams.len() == STREAMS {
                    self.streams.remove(0);
                }
                self.streams.push(RtpStream {
                    ssrc,
                    roc: 0,
                    s_l: seq,
                    replay: ReplayWindow::default(),
                });
                self.streams.len() - 1
            }
        };
        &mut self.streams[i]
    }

    /// Encrypts RTP packet `packet` into `out` (header, encrypted payload, tag).
    pub fn protect_rtp(&mut self, packet: &[u8], out: &mut Vec<u8>) -> Result<()> {
        let header = rtp_header_len(packet)?;
        let seq = u16::from_be_bytes([packet[2], packet[3]]);
        let ssrc = u32::from_be_bytes([packet[8], packet[9], packet[10], packet[11]]);
        let st = self.stream(ssrc, seq);
        // The sender counts a rollover when its sequence number wraps.
        if seq < st.s_l && st.s_l.wrapping_sub(seq) > 0x8000 {
            st.roc = st.roc.wrapping_add(1);
        }
        if seq > st.s_l || st.s_l.wrapping_sub(seq) > 0x8000 {
            st.s_l = seq;
        }
        let roc = st.roc;
        let index = (u64::from(roc) << 16) | u64::from(seq);
        out.clear();
        out.extend_from_slice(packet);
        self.rtp.crypt(ssrc, index, &mut out[header..]);
        let tag = self.rtp.mac(&[out, &roc.to_be_bytes()]);
        out.extend_from_slice(&tag[..self.suite.rtp_tag_len()]);
        Ok(())
    }

    /// Checks and decrypts SRTP packet `packet` in place; the plain RTP packet's
    /// length. A packet that fails authentication or repeats one is refused and
    /// changes nothing.
    pub fn unprotect_rtp(&mut self, packet: &mut [u8]) -> Result<usize> {
        let tag_len = self.suite.rtp_tag_len();
        let header = rtp_header_len(packet)?;
        if packet.len() < header + tag_len {
            return Err(truncated("SRTP packet", header + tag_len, packet.len()));
        }
        let end = packet.len() - tag_len;
        let seq = u16::from_be_bytes([packet[2], packet[3]]);
        let ssrc = u32::from_be_bytes([packet[8], packet[9], packet[10], packet[11]]);
        let known = self.streams.iter().find(|s| s.ssrc == ssrc).copied();
        // RFC 3711 appendix A: the rollover counter this packet most likely has.
        let (roc, s_l) = known.map_or((0, seq), |s| (s.roc, s.s_l));
        let v = if known.is_none() {
            roc
        } else if s_l < 0x8000 {
            if i32::from(seq) - i32::from(s_l) > 0x8000 {
                roc.wrapping_sub(1)
            } else {
                roc
            }
        } else if i32::from(s_l) - 0x8000 > i32::from(seq) {
            roc.wrapping_add(1)
        } else {
            roc
        };
        let index = (u64::from(v) << 16) | u64::from(seq);
        if let Some(s) = &known {
            if !s.replay.check(index) {
                return Err(MediaError::Srtp("replayed packet"));
            }
        }
        let tag = self.rtp.mac(&[&packet[..end], &v.to_be_bytes()]);
        if !constant_eq(&tag[..tag_len], &packet[end..]) {
            return Err(MediaError::Srtp("authentication failed"));
        }
        self.rtp.crypt(ssrc, index, &mut packet[header..end]);
        let st = self.stream(ssrc, seq);
        if index > ((u64::from(st.roc) << 16) | u64::from(st.s_l)) || st.replay.top.is_none() {
            st.roc = v;
            st.s_l = seq;
        }
        st.replay.accept(index);
        Ok(end)
    }

    /// Encrypts RTCP compound packet `packet` into `out` (first header, encrypted
    /// rest, E flag and index, tag).
    pub fn protect_rtcp(&mut self, packet: &[u8], out: &mut Vec<u8>) -> Result<()> {
        if packet.len() < 8 {
            return Err(truncated("SRTCP packet", 8, packet.len()));
        }
        let ssrc = u32::from_be_bytes([packet[4], packet[5], packet[6], packet[7]]);
        let index = self.rtcp_index & 0x7fff_ffff;
        self.rtcp_index = self.rtcp_index.wrapping_add(1) & 0x7fff_ffff;
        out.clear();
        out.extend_from_slice(packet);
        self.rtcp.crypt(ssrc, u64::from(index), &mut out[8..]);
        out.extend_from_slice(&(index | 0x8000_0000).to_be_bytes());
        let tag = self.rtcp.mac(&[out]);
        out.extend_from_slice(&tag[..RTCP_TAG_LEN]);
        Ok(())
    }

    /// Checks and decrypts SRTCP packet `packet` in place; the plain RTCP length.
    pub fn unprotect_rtcp(&mut self, packet: &mut [u8]) -> Result<usize> {
        let need = 8 + 4 + RTCP_TAG_LEN;
        if packet.len() < need {
            return Err(truncated("SRTCP packet", need, packet.len()));
        }
        let end = packet.len() - RTCP_TAG_LEN;
        let tag = self.rtcp.mac(&[&packet[..end]]);
        if !constant_eq(&tag[..RTCP_TAG_LEN], &packet[end..]) {
            return Err(MediaError::Srtp("authentication failed"));
        }
        let e_index = u32::from_be_bytes([
            packet[end - 4],
            packet[end - 3],
            packet[end - 2],
            packet[end - 1],
        ]);
        let index = u64::from(e_index & 0x7fff_ffff);
        if !self.rtcp_replay.check(index) {
            return Err(MediaError::Srtp("replayed packet"));
        }
        self.rtcp_replay.accept(index);
        let plain = end - 4;
        if e_index & 0x8000_0000 != 0 {
            let ssrc = u32::from_be_bytes([packet[4], packet[5], packet[6], packet[7]]);
            self.rtcp.crypt(ssrc, index, &mut packet[8..plain]);
        }
        Ok(plain)
    }
}

fn constant_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn aes_cm_keystream_matches_rfc_3711_b2() {
        let key = Aes128::new(
            <[u8; 16]>::try_from(hex("2B7E151628AED2A6ABF7158809CF4F3C"))
                .unwrap()
                .as_ref()
                .into(),
        );
        let iv: [u8; 16] = hex("F0F1F2F3F4F5F6F7F8F9FAFBFCFD0000").try_into().unwrap();
        let mut ks = [0u8; 48];
        keystream_xor(&key, iv, &mut ks);
        assert_eq!(
            ks.to_vec(),
            hex(
                "E03EAD0935C95E80E166B16DD92B4EB4 D23513162B02D0F72A43A2FE4A5F97AB \
                 41E95B3BB0A2E8DD477901E4FCA894C0"
            )
        );
    }

    #[test]
    fn session_keys_match_rfc_3711_b3() {
        let master = Aes128::new(
            <[u8; 16]>::try_from(hex("E1F97A0D3E018BE0D64FA32C06DE4139"))
                .unwrap()
                .as_ref()
                .into(),
        );
        let salt: [u8; 14] = hex("0EC675AD498AFEEBB6960B3AABE6").try_into().unwrap();
        let mut enc = [0u8; 16];
        kdf(&master, &salt, 0, &mut enc);
        assert_eq!(enc.to_vec(), hex("C61E7A93744F39EE10734AFE3FF7A087"));
        let mut s = [0u8; 14];
        kdf(&master, &salt, 2, &mut s);
        assert_eq!(s.to_vec(), hex("30CBBC08863D8C85D49DB34A9AE1"));
        let mut auth = [0u8; 20];
        kdf(&master, &salt, 1, &mut auth);
        assert_eq!(
            auth.to_vec(),
            hex("CEBE321F6FF7716B6FD4AB49AF256A156D38BAA4")
        );
    }

    fn rtp(seq: u16, payload: &[u8]) -> Vec<u8> {
        let mut p = vec![0x80, 0, 0, 0, 0, 0, 0, 160, 0xca, 0xfe, 0xba, 0xbe];
        p[2..4].copy_from_slice(&seq.to_be_bytes());
        p.extend_from_slice(payload);
        p
    }

    fn pair(suite: Suite) -> (SrtpContext, SrtpContext) {
        let master: [u8; 30] = std::array::from_fn(|i| i as u8 * 7 + 1);
        (
            SrtpContext::new(suite, &master),
            SrtpContext::new(suite, &master),
        )
    }

    #[test]
    fn rtp_round_trips_and_tampering_or_replay_is_refused() {
        for suite in [Suite::AesCm128HmacSha1_80, Suite::AesCm128HmacSha1_32] {
            let (mut tx, mut rx) = pair(suite);
            let plain = rtp(7, &[0x55; 160]);
            let mut out = Vec::new();
            tx.protect_rtp(&plain, &mut out).unwrap();
            assert_eq!(out.len(), plain.len() + suite.rtp_tag_len());
            assert_ne!(&out[12..172], &plain[12..]);
            let mut bad = out.clone();
            bad[20] ^= 1;
            assert!(rx.unprotect_rtp(&mut bad).is_err());
            let mut good = out.clone();
            let n = rx.unprotect_rtp(&mut good).unwrap();
            assert_eq!(&good[..n], &plain[..]);
            let mut again = out.clone();
            assert!(rx.unprotect_rtp(&mut again).is_err(), "a replay is refused");
        }
    }

    #[test]
    fn the_rollover_counter_follows_a_sequence_wrap() {
        let (mut tx, mut rx) = pair(Suite::AesCm128HmacSha1_80);
        let mut out = Vec::new();
        for seq in (65_530u16..=65_535).chain(0..10) {
            let plain = rtp(seq, &[seq as u8; 20]);
            tx.protect_rtp(&plain, &mut out).unwrap();
            let n = rx.unprotect_rtp(&mut out).unwrap();
            assert_eq!(&out[..n], &plain[..], "seq {seq}");
        }
        // Late packets from before the wrap still authenticate.
        let (mut tx, mut rx) = pair(Suite::AesCm128HmacSha1_80);
        let mut sent = Vec::new();
        for seq in [65_534u16, 65_535, 0, 1] {
            let mut o = Vec::new();
            tx.protect_rtp(&rtp(seq, &[1; 20]), &mut o).unwrap();
            sent.push(o);
        }
        for i in [0, 2, 1, 3] {
            let mut p = sent[i].clone();
            assert!(rx.unprotect_rtp(&mut p).is_ok(), "packet {i}");
        }
    }

    #[test]
    fn rtcp_round_trips_with_its_index() {
        let (mut tx, mut rx) = pair(Suite::AesCm128HmacSha1_32);
        let sr: Vec<u8> = [
            0x80, 200, 0, 6, 0xca, 0xfe, 0xba, 0xbe, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 9, 0, 0, 0,
            1, 0, 0, 0, 160,
        ]
        .to_vec();
        let mut out = Vec::new();
        for _ in 0..3 {
            tx.protect_rtcp(&sr, &mut out).unwrap();
            assert_eq!(out.len(), sr.len() + 4 + 10);
            let n = rx.unprotect_rtcp(&mut out).unwrap();
            assert_eq!(&out[..n], &sr[..]);
        }
        tx.protect_rtcp(&sr, &mut out).unwrap();
        let copy = out.clone();
        rx.unprotect_rtcp(&mut out).unwrap();
        let mut replay = copy;
        assert!(rx.unprotect_rtcp(&mut replay).is_err());
    }

    #[test]
    fn short_or_foreign_packets_are_errors_not_panics() {
        let (_, mut rx) = pair(Suite::AesCm128HmacSha1_80);
        for len in 0..40 {
            let mut p = vec![0x80u8; len];
            let _ = rx.unprotect_rtp(&mut p);
            let _ = rx.unprotect_rtcp(&mut p);
            let mut q = vec![0x9fu8; len];
            let _ = rx.unprotect_rtp(&mut q);
        }
    }

    #[test]
    fn a_stream_longer_than_its_sequence_numbers_unprotects_throughout() {
        let master: [u8; 30] = std::array::from_fn(|i| i as u8 * 3 + 1);
        let mut tx = SrtpContext::new(Suite::AesCm128HmacSha1_80, &master);
        let mut rx = SrtpContext::new(Suite::AesCm128HmacSha1_80, &master);
        let mut packet = vec![0x80u8, 0, 0, 1, 0, 0, 0, 160, 1, 2, 3, 4];
        packet.extend(std::iter::repeat_n(0x55u8, 160));
        for i in 0..70_000u32 {
            packet[2..4].copy_from_slice(&(i as u16).to_be_bytes());
            let mut o = Vec::new();
            tx.protect_rtp(&packet, &mut o).unwrap();
            rx.unprotect_rtp(&mut o)
                .unwrap_or_else(|e| panic!("{i}: {e}"));
        }
    }

    proptest::proptest! {
        /// Whatever a leg sends, checking it never panics, and what the switch
        /// protects always unprotects to itself.
        #[test]
        fn any_datagram_is_an_answer_not_a_panic(data in proptest::collection::vec(proptest::num::u8::ANY, 0..300)) {
            let (mut tx, mut rx) = pair(Suite::AesCm128HmacSha1_80);
            let mut copy = data.clone();
            let _ = rx.unprotect_rtp(&mut copy);
            let mut copy = data.clone();
            let _ = rx.unprotect_rtcp(&mut copy);
            let mut sealed = Vec::new();
            if tx.protect_rtp(&data, &mut sealed).is_ok() {
                let (_, mut fresh) = pair(Suite::AesCm128HmacSha1_80);
                let n = fresh.unprotect_rtp(&mut sealed).unwrap();
                proptest::prop_assert_eq!(&sealed[..n], &data[..]);
            }
        }
    }
}
