//! Feeds arbitrary bytes to the SDP parser and the rewrites a B2BUA applies,
//! SRTP keys (`a=crypto`) included.
#![no_main]

use engine::sdp::Sdp;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(mut sdp) = Sdp::parse(data) {
        let _ = sdp.to_bytes();
        sdp.set_connection_address("127.0.0.1".parse().unwrap());
        sdp.bump_version();
        sdp.set_hold(true);
        for m in sdp.media_mut() {
            // A key read is written back the same, and replaces every other line.
            if let Some(c) = m.crypto() {
                m.set_crypto(Some(&c));
                assert_eq!(m.crypto(), Some(c));
                m.set_proto("RTP/SAVP");
            }
        }
        let printed = sdp.to_bytes();
        Sdp::parse(&printed).expect("a printed SDP parses again");
    }
});
