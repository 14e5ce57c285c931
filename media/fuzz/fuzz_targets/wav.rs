//! Feeds arbitrary bytes to the WAV reader, as a prompt uploaded through the API or
//! `pbx prompt add` reaches it, and to the header repair that runs on recordings cut
//! off by a kill: a refusal is an error with its reason, never a panic, and never an
//! allocation sized by what a header claims rather than by what the file holds. Run:
//! `cargo fuzz run wav -- -rss_limit_mb=512` in media/.
#![no_main]

use libfuzzer_sys::fuzz_target;
use media::wav::{repair, Announcement};

fuzz_target!(|data: &[u8]| {
    if let Ok(a) = Announcement::from_bytes("fuzz", data) {
        assert!(!a.samples().is_empty());
        let _ = a.duration_ms();
    }
    // The repair works on a file: a per-process one in memory-backed /dev/shm.
    thread_local! {
        static PATH: std::path::PathBuf =
            std::path::PathBuf::from(format!("/dev/shm/pbx-fuzz-wav-{}", std::process::id()));
    }
    PATH.with(|path| {
        std::fs::write(path, data).expect("/dev/shm is writable");
        if repair(path).is_ok() {
            // A repaired file's header matches what it holds.
            let fixed = std::fs::read(path).expect("read back");
            let _ = Announcement::from_bytes("repaired", &fixed);
        }
    });
});
