//! Running `baresip` (Debian package, 1.0) headless against the switch: a config
//! directory per instance, audio from a WAV file (`aufile`), what it hears dumped to
//! WAV (`sndfile`), and control over `ctrl_tcp` (netstring JSON).
//!
//! baresip 1.0's SIP stack (libre) gives up on a whole challenge with ENOSYS ("Function
//! not implemented") as soon as one `WWW-Authenticate`/`Proxy-Authenticate` header
//! names an algorithm other than MD5 — which is why the switch offers MD5 alone unless
//! `--digest` says otherwise. These tests run it with the default.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

/// How long a baresip instance may live at most (`-t`), whatever the test does.
const LIFETIME_SECS: u32 = 25;

/// What one instance is set up with.
pub struct Account<'a> {
    /// Extension in the demo tenant (password `secret{ext}`).
    pub ext: &'a str,
    /// Codecs named in full (`PCMU/8000`, `G722/16000/1`, `opus/48000/2`),
    /// comma-separated: baresip ignores a bare `opus`.
    pub codecs: &'a str,
    /// 16-bit WAV it sends, at the codec's rate and channel count (`aufile` does not
    /// convert): 8 kHz mono for G.711, 16 kHz mono for G.722, 48 kHz stereo for Opus.
    pub source: &'a Path,
}

/// SIP over TLS and SRTP for an instance.
#[derive(Default)]
pub struct Secure<'a> {
    /// Registers over TLS to this address, trusting this authority (PEM).
    pub tls: Option<(SocketAddr, &'a Path)>,
    /// baresip's `mediaenc`: `srtp` (best effort, RTP/AVP with keys) or `srtp-mand`
    /// (RTP/SAVP).
    pub mediaenc: Option<&'a str>,
}

/// A running baresip with its control connection.
pub struct Baresip {
    child: Option<Child>,
    pub name: String,
    pub dir: PathBuf,
    ctrl: TcpStream,
    incoming: mpsc::Receiver<Value>,
    /// Events seen while waiting for something else.
    pending: VecDeque<Value>,
    token: u32,
}

impl Baresip {
    /// Writes `dir/config` and `dir/accounts` and starts baresip there; stdout and
    /// stderr go to `dir/stdout.log` and `dir/stderr.log`, recordings to `dir/rec/`.
    pub fn start(name: &str, dir: &Path, pbx: SocketAddr, account: &Account) -> Baresip {
        Self::start_secure(name, dir, pbx, account, &Secure::default())
    }

    /// Like `start`, over TLS and with SRTP as `secure` says.
    pub fn start_secure(
        name: &str,
        dir: &Path,
        pbx: SocketAddr,
        account: &Account,
        secure: &Secure,
    ) -> Baresip {
        std::fs::create_dir_all(dir.join("rec")).unwrap();
        let sip_port = super::free_port();
        let ctrl_port = super::free_port();
        let config = format!(
            "poll_method epoll\n\
             net_interface 127.0.0.1\n\
             sip_listen 127.0.0.1:{sip_port}\n\
             rtp_ports 30000-39998\n\
             rtp_timeout 0\n\
             audio_path /usr/share/baresip\n\
             audio_source aufile,{source}\n\
             audio_player aubridge,{name}-play\n\
             audio_alert aubridge,{name}-alert\n\
             module_path /usr/lib/baresip/modules\n\
             module g711.so\n\
             module g722.so\n\
             module opus.so\n\
             module aufile.so\n\
             module aubridge.so\n\
             module sndfile.so\n\
             module srtp.so\n\
             {cafile}\
             snd_path {rec}\n\
             module_app account.so\n\
             module_app menu.so\n\
             module_app ctrl_tcp.so\n\
             ctrl_tcp_listen 127.0.0.1:{ctrl_port}\n",
            source = account.source.display(),
            rec = dir.join("rec").display(),
            cafile = secure
                .tls
                .map(|(_, ca)| format!("sip_cafile {}\n", ca.display()))
                .unwrap_or_default(),
        );
        std::fs::write(dir.join("config"), config).unwrap();
        let ext = account.ext;
        let (proxy, transport) = match secure.tls {
            Some((addr, _)) => (addr, "tls"),
            None => (pbx, "udp"),
        };
        let mediaenc = secure
            .mediaenc
            .map(|m| format!(";mediaenc={m}"))
            .unwrap_or_default();
        let accounts = format!(
            "<sip:{ext}@127.0.0.1{aor_param}>;auth_pass=secret{ext};\
             outbound=\"sip:{proxy};transport={transport}\";\
             answermode=auto;audio_codecs={codecs};regint=600{mediaenc}\n",
            codecs = account.codecs,
            aor_param = if secure.tls.is_some() {
                ";transport=tls"
            } else {
                ""
            },
        );
        std::fs::write(dir.join("accounts"), accounts).unwrap();

        let child = Command::new("baresip")
            .arg("-f")
            .arg(dir)
            .args(["-t", &LIFETIME_SECS.to_string()])
            .stdin(Stdio::null())
            .stdout(File::create(dir.join("stdout.log")).unwrap())
            .stderr(File::create(dir.join("stderr.log")).unwrap())
            .spawn()
            .expect("baresip is installed (Debian package baresip)");
        let mut child = Some(child);

        let deadline = Instant::now() + Duration::from_secs(10);
        let ctrl = loop {
            if let Ok(s) = TcpStream::connect(("127.0.0.1", ctrl_port)) {
                break s;
            }
            let exited = child.as_mut().unwrap().try_wait().unwrap();
            if exited.is_some() || Instant::now() > deadline {
                let mut c = child.take().unwrap();
                let _ = c.kill();
                let _ = c.wait();
                panic!(
                    "{name}: no ctrl_tcp on port {ctrl_port} ({exited:?})\n{}",
                    logs_of(dir)
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let (tx, incoming) = mpsc::channel();
        let mut reader = ctrl.try_clone().unwrap();
        std::thread::spawn(move || read_netstrings(&mut reader, tx));
        Baresip {
            child,
            name: name.to_owned(),
            dir: dir.to_owned(),
            ctrl,
            incoming,
            pending: VecDeque::new(),
            token: 0,
        }
    }

    /// Sends a command and returns its response's `data`; panics on `ok: false`.
    pub fn command(&mut self, command: &str, params: &str) -> String {
        self.token += 1;
        let token = format!("t{}", self.token);
        let json =
            serde_json::json!({"command": command, "params": params, "token": token}).to_string();
        let frame = format!("{}:{json},", json.len());
        self.ctrl.write_all(frame.as_bytes()).unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let v = match self.incoming.recv_timeout(left) {
                Ok(v) => v,
                Err(_) => panic!("{}: no response to {command}\n{}", self.name, self.logs()),
            };
            if v["response"] == true && v["token"] == token.as_str() {
                assert!(
                    v["ok"] == true,
                    "{}: {command} {params} refused: {v}\n{}",
                    self.name,
                    self.logs()
                );
                return v["data"].as_str().unwrap_or_default().to_owned();
            }
            if v["event"] == true {
                self.pending.push_back(v);
            }
        }
    }

    /// Waits until the account's registration is answered with 2xx.
    pub fn wait_registered(&mut self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            let info = self.command("reginfo", "");
            if info.contains("OK") {
                return;
            }
            if self.take_event("REGISTER_FAIL").is_some() || Instant::now() > deadline {
                panic!("{}: not registered: {info}\n{}", self.name, self.logs());
            }
            // Registration events arrive while we wait; reginfo is asked again after.
            if let Ok(v) = self.incoming.recv_timeout(Duration::from_millis(50)) {
                self.pending.push_back(v);
            }
        }
    }

    /// Waits for an event of type `kind` (e.g. `CALL_ESTABLISHED`) and returns it.
    pub fn wait_event(&mut self, kind: &str, timeout: Duration) -> Value {
        if let Some(v) = self.take_event(kind) {
            return v;
        }
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.incoming.recv_timeout(left) {
                Ok(v) if v["type"] == kind => return v,
                Ok(v) => self.pending.push_back(v),
                Err(_) => panic!(
                    "{}: no {kind} within {timeout:?}; seen {:?}\n{}",
                    self.name,
                    self.pending
                        .iter()
                        .map(|v| v["type"].to_string())
                        .collect::<Vec<_>>(),
                    self.logs()
                ),
            }
        }
    }

    fn take_event(&mut self, kind: &str) -> Option<Value> {
        let i = self.pending.iter().position(|v| v["type"] == kind)?;
        self.pending.remove(i)
    }

    /// The WAV that `sndfile` writes with the decoded received audio.
    pub fn received_wav(&self) -> Option<PathBuf> {
        self.recording("-dec.wav")
    }

    /// The longest recording whose name ends so: baresip's `sndfile` opens a new file
    /// (named by the second) each time a stream restarts, and the directory's order is
    /// not the order of creation.
    fn recording(&self, suffix: &str) -> Option<PathBuf> {
        std::fs::read_dir(self.dir.join("rec"))
            .ok()?
            .flatten()
            .filter(|e| e.path().to_string_lossy().ends_with(suffix))
            .max_by_key(|e| e.metadata().map_or(0, |m| m.len()))
            .map(|e| e.path())
    }

    /// Waits until the received-audio recording holds at least `seconds` of audio at
    /// `rate` Hz and `channels` channels.
    pub fn wait_received(&mut self, seconds: f64, rate: u32, channels: u16, timeout: Duration) {
        let want = 44 + (seconds * f64::from(rate) * 2.0 * f64::from(channels)) as u64;
        let deadline = Instant::now() + timeout;
        loop {
            let len = self
                .received_wav()
                .and_then(|p| std::fs::metadata(p).ok())
                .map_or(0, |m| m.len());
            if len >= want {
                return;
            }
            let recordings: Vec<String> = std::fs::read_dir(self.dir.join("rec"))
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| {
                    let len = e.metadata().map_or(0, |m| m.len());
                    format!("{} ({len} bytes)", e.file_name().to_string_lossy())
                })
                .collect();
            assert!(
                Instant::now() < deadline,
                "{}: only {len} bytes of received audio after {timeout:?} ({recordings:?})\n{}",
                self.name,
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Asks baresip to quit and waits (bounded) for it to exit; kills it otherwise.
    pub fn quit(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let json =
            serde_json::json!({"command": "quit", "params": "", "token": "quit"}).to_string();
        let _ = self
            .ctrl
            .write_all(format!("{}:{json},", json.len()).as_bytes());
        super::wait_or_kill(&mut child);
    }

    /// Its stdout and stderr, for failure messages.
    pub fn logs(&self) -> String {
        logs_of(&self.dir)
    }
}

impl Drop for Baresip {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn logs_of(dir: &Path) -> String {
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap_or_default();
    // The `menu` module redraws a call status line (`[0:00:01] audio=64000/64000
    // (bit/s)`) with carriage returns many times a second; leave those out.
    let stdout: String = read("stdout.log")
        .split(['\r', '\n'])
        .filter(|l| !l.trim().is_empty() && !l.contains("(bit/s)"))
        .map(|l| format!("{l}\n"))
        .collect();
    format!(
        "--- {} stdout ---\n{stdout}\n--- stderr ---\n{}",
        dir.display(),
        read("stderr.log")
    )
}

/// Reads `len:json,` frames and passes each parsed value on, until the socket closes.
fn read_netstrings(stream: &mut TcpStream, tx: mpsc::Sender<Value>) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
        while let Some(colon) = buf.iter().position(|&b| b == b':') {
            let Some(len) = std::str::from_utf8(&buf[..colon])
                .ok()
                .and_then(|s| s.parse::<usize>().ok())
            else {
                return;
            };
            let end = colon + 1 + len;
            if buf.len() <= end {
                break;
            }
            if let Ok(v) = serde_json::from_slice(&buf[colon + 1..end]) {
                if tx.send(v).is_err() {
                    return;
                }
            }
            buf.drain(..=end);
        }
    }
}

/// A WAV's rate and first channel's samples.
pub struct Wav {
    pub rate: u32,
    pub samples: Vec<i16>,
}

/// The 16-bit samples of a WAV file's `data` chunk (its first channel); the chunk's
/// size field is ignored (a recording still being written has not updated it yet).
pub fn wav_samples(path: &Path) -> Wav {
    let bytes = std::fs::read(path).unwrap();
    assert!(
        bytes.len() >= 12 && &bytes[..4] == b"RIFF",
        "{} is no WAV",
        path.display()
    );
    let mut at = 12;
    let (mut channels, mut rate) = (1u16, 8000u32);
    while at + 8 <= bytes.len() {
        let id = &bytes[at..at + 4];
        let size = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().unwrap()) as usize;
        if id == b"fmt " {
            let fmt = &bytes[at + 8..];
            channels = u16::from_le_bytes([fmt[2], fmt[3]]);
            rate = u32::from_le_bytes(fmt[4..8].try_into().unwrap());
            let bits = u16::from_le_bytes([fmt[14], fmt[15]]);
            assert_eq!(bits, 16, "{}: not 16-bit", path.display());
        }
        if id == b"data" {
            // The first channel of each frame.
            let samples = bytes[at + 8..]
                .chunks_exact(2 * usize::from(channels))
                .map(|c| i16::from_le_bytes([c[0], c[1]]))
                .collect();
            return Wav { rate, samples };
        }
        at += 8 + size + (size & 1);
    }
    panic!("{}: no data chunk", path.display());
}
