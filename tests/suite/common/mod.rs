//! Shared pieces of the black-box tests: the real `pbx` binary on a free loopback
//! port, a small SIP client for assertions, and SIPp runs.

pub mod api_client;
pub mod baresip;
pub mod browser;
pub mod call_helpers;
pub mod carrier;
pub mod edge;
pub mod paused;
pub mod postgres;
pub mod sip_client;
pub mod sipp;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `pbx serve`.
pub struct Pbx {
    child: Option<Child>,
    pub addr: SocketAddr,
    /// Where it listens for SIP over TLS, when started with a certificate.
    pub tls: Option<SocketAddr>,
    /// The HTTP API's address.
    pub http: Option<SocketAddr>,
    pub data_dir: PathBuf,
    /// The extra `pbx serve` arguments, kept for restarts.
    extra: Vec<String>,
}

impl Pbx {
    /// Starts the switch on a free loopback port over `data_dir`.
    pub fn start(data_dir: &Path) -> Pbx {
        Self::start_on(data_dir, "127.0.0.1:0")
    }

    pub fn start_on(data_dir: &Path, sip_addr: &str) -> Pbx {
        Self::start_with(data_dir, sip_addr, &[])
    }

    /// Starts with extra `pbx serve` arguments.
    pub fn start_with(data_dir: &Path, sip_addr: &str, extra: &[&str]) -> Pbx {
        Self::start_full(data_dir, sip_addr, extra, &[])
    }

    /// Starts with extra environment variables (the test hooks' settings).
    pub fn start_env(data_dir: &Path, env: &[(&str, &str)]) -> Pbx {
        Self::start_full(data_dir, "127.0.0.1:0", &[], env)
    }

    /// Starts with extra `pbx serve` arguments and environment variables.
    pub fn start_full_env(data_dir: &Path, extra: &[&str], env: &[(&str, &str)]) -> Pbx {
        Self::start_full(data_dir, "127.0.0.1:0", extra, env)
    }

    /// Starts on `sip_addr` with extra arguments and environment variables.
    pub fn start_full(
        data_dir: &Path,
        sip_addr: &str,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Pbx {
        // The API on a free port unless the test says otherwise.
        let http = if extra.contains(&"--http-addr") {
            &[][..]
        } else {
            &["--http-addr", "127.0.0.1:0"][..]
        };
        let mut child = Command::new(env!("CARGO_BIN_EXE_pbx"))
            .args(["serve", "--data-dir"])
            .arg(data_dir)
            .args(["--sip-addr", sip_addr])
            .args(http)
            .args(extra)
            .env(
                "RUST_LOG",
                std::env::var("PBX_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("pbx binary starts");
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut http = None;
        let (addr, tls) = loop {
            assert!(Instant::now() < deadline, "pbx did not report its address");
            let line = lines.next().expect("pbx printed its address").unwrap();
            if let Some(rest) = line.strip_prefix("pbx: http on ") {
                http = rest.trim().parse().ok();
            }
            if let Some(rest) = line.strip_prefix("pbx: listening on udp ") {
                let tls = rest
                    .split(", ")
                    .find_map(|p| p.strip_prefix("tls "))
                    .and_then(|a| a.trim().parse().ok());
                break (rest.split(',').next().unwrap().trim().parse().unwrap(), tls);
            }
        };
        // Keep draining stdout so the child never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Pbx {
            child: Some(child),
            addr,
            tls,
            http,
            data_dir: data_dir.to_owned(),
            extra: extra.iter().map(|a| a.to_string()).collect(),
        }
    }

    /// Sends SIGINT (stop now; SIGTERM would let calls still up end first) and waits
    /// for a clean exit.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-INT", &child.id().to_string()])
                .status();
            let status = child.wait().unwrap();
            assert!(status.success(), "pbx exited with {status}");
        }
    }

    /// Sends `signal` (e.g. "TERM") and goes on.
    pub fn signal(&self, signal: &str) {
        if let Some(child) = &self.child {
            let _ = Command::new("kill")
                .args([&format!("-{signal}"), &child.id().to_string()])
                .status();
        }
    }

    /// Waits up to `limit` for the switch to exit by itself; its exit status.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Some(status) = self.child.as_mut()?.try_wait().unwrap() {
                self.child = None;
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    /// Kills the switch (SIGKILL): nothing is finished or written on the way out.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops and starts again on the same port and data, with the same arguments.
    pub fn restart(&mut self) {
        self.stop();
        let extra: Vec<&str> = self.extra.iter().map(String::as_str).collect();
        let again = Pbx::start_with(&self.data_dir.clone(), &self.addr.to_string(), &extra);
        *self = again;
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.child.as_mut().map(|c| c.try_wait()), Some(Ok(None)))
    }
}

impl Drop for Pbx {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

pub fn temp_dir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

/// A free UDP+TCP port on loopback for a peer (SIPp) to bind.
/// Stops a peer (Kamailio) with SIGTERM, so that its main process stops its workers
/// too (SIGKILL would orphan them); kills it if it has not exited within 3 s.
pub fn terminate(child: &mut Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    wait_or_kill(child);
}

/// Waits up to 3 s for `child`, asked to stop, to exit; kills it after that.
pub fn wait_or_kill(child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

pub fn free_port() -> u16 {
    // Handed out from 10000–19999, below the kernel's ephemeral range (32768+) and the
    // switch's RTP ports (20000+): a port given to a test is never also picked by a
    // `bind(…:0)` of a parallel test, SIPp or the switch in the moment before it is used.
    // Every eighth port only: peers bind neighbours too (baresip TLS on +1, SIPp's
    // `-mp` echo on +2 for video).
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let _ = NEXT.compare_exchange(
        0,
        std::process::id() % 1250 * 8,
        Ordering::Relaxed,
        Ordering::Relaxed,
    );
    loop {
        let port = 10_000 + (NEXT.fetch_add(8, Ordering::Relaxed) % 10_000) as u16;
        let udp = std::net::UdpSocket::bind(("127.0.0.1", port));
        let tcp = std::net::TcpListener::bind(("127.0.0.1", port));
        if udp.is_ok() && tcp.is_ok() {
            return port;
        }
    }
}

/// A certificate for 127.0.0.1 and the authority that signed it, made with the
/// `openssl` command (PEM files in `dir`).
pub struct TestCertificate {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub ca: PathBuf,
}

pub fn test_certificate(dir: &Path) -> TestCertificate {
    let run = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("openssl is installed (Debian package openssl)");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=pbx test CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign",
    ]);
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "key.pem",
        "-out",
        "switch.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n\
         basicConstraints=CA:FALSE\n",
    )
    .unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        "switch.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "cert.pem",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
    ]);
    TestCertificate {
        cert: dir.join("cert.pem"),
        key: dir.join("key.pem"),
        ca: dir.join("ca.pem"),
    }
}
