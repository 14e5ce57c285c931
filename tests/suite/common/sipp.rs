//! Running SIPp against the switch.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;

/// One SIPp run's outcome.
#[derive(Debug)]
pub struct SippRun {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

/// Runs SIPp as a UAC with `scenario` (a file under tests/sipp/): one call per line
/// of the injection file, over `transport` ("u1" or "t1") from `local_port`.
pub fn run(
    target: SocketAddr,
    scenario: &str,
    inject: &[String],
    transport: &str,
    local_port: u16,
    work: &Path,
) -> SippRun {
    let calls = inject.len();
    let scen = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/sipp")
        .join(scenario);
    let csv = work.join(format!("inject-{local_port}.csv"));
    let mut body = String::from("SEQUENTIAL\n");
    for l in inject {
        body.push_str(l);
        body.push('\n');
    }
    std::fs::write(&csv, body).unwrap();
    let out = Command::new("sipp")
        .arg(target.to_string())
        .arg("-sf")
        .arg(&scen)
        .arg("-inf")
        .arg(&csv)
        .args(["-m", &calls.to_string(), "-r", "10", "-t", transport])
        .args(["-i", "127.0.0.1", "-p", &local_port.to_string()])
        .args([
            "-timeout",
            "30s",
            "-timeout_error",
            "-nostdin",
            "-trace_err",
        ])
        .arg("-error_file")
        .arg(work.join(format!("sipp-{local_port}-errors.log")))
        .current_dir(work)
        .output()
        .expect("sipp is installed (Debian package sip-tester)");
    let run = SippRun {
        success: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    if !run.success {
        let errors = std::fs::read_to_string(work.join(format!("sipp-{local_port}-errors.log")))
            .unwrap_or_default();
        eprintln!(
            "sipp failed: {}\n{}\n{errors}",
            run.stderr,
            run.stdout
                .lines()
                .rev()
                .take(30)
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
    run
}

/// Starts SIPp as a UAS with `scenario` on `local_port` for `calls` calls.
pub fn spawn_uas(
    scenario: &str,
    calls: u32,
    transport: &str,
    local_port: u16,
    work: &Path,
) -> std::process::Child {
    spawn_uas_with(scenario, calls, transport, local_port, work, &[])
}

/// `spawn_uas` with extra SIPp arguments (e.g. `-rtp_echo -mp PORT`).
pub fn spawn_uas_with(
    scenario: &str,
    calls: u32,
    transport: &str,
    local_port: u16,
    work: &Path,
    extra: &[&str],
) -> std::process::Child {
    let scen = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/sipp")
        .join(scenario);
    Command::new("sipp")
        .args(extra)
        .arg("-sf")
        .arg(&scen)
        .args(["-m", &calls.to_string(), "-t", transport])
        .args(["-i", "127.0.0.1", "-p", &local_port.to_string()])
        .args([
            "-timeout",
            "30s",
            "-timeout_error",
            "-nostdin",
            "-trace_err",
        ])
        .arg("-error_file")
        .arg(work.join(format!("sipp-uas-{local_port}-errors.log")))
        .current_dir(work)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("sipp is installed (Debian package sip-tester)")
}

/// Waits for a SIPp started with `spawn_uas`.
pub fn wait(child: std::process::Child, local_port: u16, work: &Path) -> SippRun {
    let out = child.wait_with_output().unwrap();
    let run = SippRun {
        success: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    if !run.success {
        let errors =
            std::fs::read_to_string(work.join(format!("sipp-uas-{local_port}-errors.log")))
                .unwrap_or_default();
        eprintln!("sipp UAS failed: {}\n{errors}", run.stderr);
    }
    run
}
