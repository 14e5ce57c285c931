//! Feeds arbitrary datagrams to SRTP and SRTCP as a leg would send them: checked and
//! decrypted with a fixed key; any panic is a bug. A datagram that is RTP is also
//! protected and unprotected again, which must give it back. Run: `cargo fuzz run
//! srtp` in media/.
#![no_main]

use libfuzzer_sys::fuzz_target;
use media::srtp::{SrtpContext, Suite};

const KEY: [u8; 30] = [7; 30];

fuzz_target!(|data: &[u8]| {
    for suite in [Suite::AesCm128HmacSha1_80, Suite::AesCm128HmacSha1_32] {
        let mut rx = SrtpContext::new(suite, &KEY);
        let mut copy = data.to_vec();
        let _ = rx.unprotect_rtp(&mut copy);
        let mut copy = data.to_vec();
        let _ = rx.unprotect_rtcp(&mut copy);
        let mut tx = SrtpContext::new(suite, &KEY);
        let mut rx = SrtpContext::new(suite, &KEY);
        let mut sealed = Vec::new();
        if tx.protect_rtp(data, &mut sealed).is_ok() {
            let n = rx.unprotect_rtp(&mut sealed).expect("what was protected unprotects");
            assert_eq!(&sealed[..n], data);
        }
    }
});
