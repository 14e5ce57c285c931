//! The RFC 4475 torture-test corpus: every `parse` message parses, every `reject`
//! message is refused, none panics.

use engine::sip::{frame_stream, Message};

fn corpus() -> Vec<(String, String, Vec<u8>)> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/rfc4475");
    let manifest = std::fs::read_to_string(format!("{dir}/MANIFEST.tsv")).unwrap();
    manifest
        .lines()
        .skip(1)
        .map(|line| {
            let cols: Vec<&str> = line.split('\t').collect();
            let bytes = std::fs::read(format!("{dir}/{}", cols[0])).unwrap();
            (cols[0].to_owned(), cols[3].to_owned(), bytes)
        })
        .collect()
}

#[test]
fn every_message_gets_the_rfc_verdict() {
    let mut wrong = Vec::new();
    let cases = corpus();
    assert_eq!(cases.len(), 50);
    for (file, verdict, bytes) in cases {
        let result = Message::parse(bytes);
        let ok = match verdict.as_str() {
            "parse" => result.is_ok(),
            "reject" => result.is_err(),
            other => panic!("unknown verdict {other}"),
        };
        if !ok {
            wrong.push(format!("{file} ({verdict}): {:?}", result.err()));
        }
    }
    assert!(wrong.is_empty(), "wrong verdicts:\n{}", wrong.join("\n"));
}

#[test]
fn no_message_panics_the_stream_framer() {
    for (_, _, bytes) in corpus() {
        let _ = frame_stream(&bytes, 65_535);
        for cut in [1, bytes.len() / 2, bytes.len().saturating_sub(1)] {
            let _ = frame_stream(&bytes[..cut], 65_535);
            let _ = Message::parse(bytes[..cut].to_vec());
        }
    }
}

#[test]
fn valid_messages_round_trip_through_print() {
    for (file, verdict, bytes) in corpus() {
        if verdict != "parse" {
            continue;
        }
        let m = Message::parse(bytes).unwrap();
        let mut out = Vec::new();
        m.print(&mut out);
        let again = Message::parse(out).unwrap_or_else(|e| panic!("{file}: {e}"));
        let a: Vec<_> = m.header_lines().collect();
        let b: Vec<_> = again.header_lines().collect();
        assert_eq!(a, b, "{file}");
        assert_eq!(m.body(), again.body(), "{file}");
    }
}
