//! Feeds arbitrary bytes to every parser a datagram or a stream reaches.
#![no_main]

use engine::auth::Credentials;
use engine::sip::{frame_stream, HeaderName, Message};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = frame_stream(data, 65_535);
    if let Ok(m) = Message::parse(data.to_vec()) {
        let _ = (m.top_via(), m.vias(), m.from(), m.to(), m.cseq(), m.contacts(), m.expires(), m.uri(), m.max_forwards());
        let _ = m.check_request();
        for v in m.values(HeaderName::Authorization) {
            let _ = Credentials::parse(v);
        }
        let mut out = Vec::new();
        m.print(&mut out);
        let again = Message::parse(out).expect("a printed message parses again");
        assert_eq!(m.header_lines().count(), again.header_lines().count());
    }
});
