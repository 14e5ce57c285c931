//! Feeds arbitrary bytes to the SDP parser and the rewrites a B2BUA applies.
#![no_main]

use engine::sdp::Sdp;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(mut sdp) = Sdp::parse(data) {
        let _ = sdp.to_bytes();
        sdp.set_connection_address("127.0.0.1".parse().unwrap());
        sdp.bump_version();
        sdp.set_hold(true);
        let printed = sdp.to_bytes();
        Sdp::parse(&printed).expect("a printed SDP parses again");
    }
});
