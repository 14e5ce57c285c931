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
        // A proxy's stamp on the top Via: the moved ranges read as the bytes parsed again.
        if let Some(via) = m.header(HeaderName::Via) {
            let end = via.as_ptr() as usize - m.as_bytes().as_ptr() as usize + via.len();
            if let Some(stamped) = m.spliced(end..end, ";received=192.0.2.1;rport=5060") {
                if let Ok(again) = Message::parse(stamped.as_bytes().to_vec()) {
                    assert_eq!(format!("{stamped:?}"), format!("{again:?}"));
                }
            }
        }
        let mut out = Vec::new();
        m.print(&mut out);
        let again = Message::parse(out).expect("a printed message parses again");
        assert_eq!(m.header_lines().count(), again.header_lines().count());
    }
});
