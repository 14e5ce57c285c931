//! Inputs the fuzzer (`engine/fuzz`, target `sdp`) once broke the SDP code with: after
//! the rewrites a B2BUA applies, the description must still parse.

use engine::sdp::Sdp;

#[test]
fn rewritten_descriptions_parse_again() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/fuzz_sdp");
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        if let Ok(mut sdp) = Sdp::parse(&bytes) {
            sdp.set_connection_address("127.0.0.1".parse().unwrap());
            sdp.bump_version();
            sdp.set_hold(true);
            let printed = sdp.to_bytes();
            if let Err(e) = Sdp::parse(&printed) {
                panic!(
                    "{}: {e}\n{}",
                    path.display(),
                    String::from_utf8_lossy(&printed)
                );
            }
        }
    }
}
