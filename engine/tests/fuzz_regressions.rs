//! Inputs the fuzzer (`engine/fuzz`, target `sip_message`) once crashed the codec with.
//! Each must now parse or be refused, without a panic.

use engine::sip::{frame_stream, Message};

#[test]
fn every_fuzzer_finding_is_handled() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/fuzz");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        let _ = frame_stream(&bytes, 65_535);
        if let Ok(m) = Message::parse(bytes) {
            let mut out = Vec::new();
            m.print(&mut out);
            Message::parse(out).expect("printed message parses");
        }
        n += 1;
    }
    assert!(n >= 1);
}
