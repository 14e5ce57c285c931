//! SIP capture to PCAP files: the transports hand every message they receive and send
//! to [`Capture::packet`], which costs one atomic load while nothing is captured. A
//! running capture (`store::captures`, applied by [`sync`]) takes the messages whose
//! From or To names one of its lines in its tenant, and a thread of its own writes
//! them to the file as UDP datagrams over IP (link type RAW), which Wireshark and
//! tshark read as SIP (a TCP message is written as one datagram too).

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::directory::Directory;
use crate::store::{ActiveCapture, StoreHandle, TenantId};

/// How often the switch reads which captures run.
pub const SYNC: Duration = Duration::from_secs(2);

/// One captured message.
struct Record {
    at: SystemTime,
    src: SocketAddr,
    dst: SocketAddr,
    bytes: Vec<u8>,
}

/// A capture being written.
struct Tap {
    id: i64,
    tenant: TenantId,
    lines: HashSet<String>,
    tx: mpsc::Sender<Record>,
}

/// The switch's running captures.
#[derive(Default)]
pub struct Capture {
    on: AtomicBool,
    taps: RwLock<Vec<Tap>>,
}

impl std::fmt::Debug for Capture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Capture")
    }
}

impl Capture {
    /// A message the switch received from `src` at `local`, or sent from `local` to
    /// `dst` (`src` and `dst` as on the wire).
    pub fn packet(&self, directory: &Directory, bytes: &[u8], src: SocketAddr, dst: SocketAddr) {
        if !self.on.load(Ordering::Relaxed) {
            return;
        }
        let Ok(msg) = engine::sip::Message::parse(bytes::Bytes::copy_from_slice(bytes)) else {
            return;
        };
        let parties: Vec<(TenantId, String)> = [msg.from(), msg.to()]
            .into_iter()
            .flatten()
            .filter_map(|h| {
                let tenant = directory.tenant_for(h.uri.host_bare())?.id;
                Some((tenant, h.uri.user?.to_owned()))
            })
            .collect();
        let taps = self.taps.read().unwrap_or_else(|e| e.into_inner());
        for tap in taps.iter() {
            let ours = parties
                .iter()
                .any(|(t, user)| *t == tap.tenant && tap.lines.contains(user));
            if ours {
                let _ = tap.tx.send(Record {
                    at: SystemTime::now(),
                    src,
                    dst,
                    bytes: bytes.to_vec(),
                });
            }
        }
    }

    /// Makes `active` the running captures: new ones open their file, stopped ones
    /// close it (their writer ends once its last message is written), and the lines
    /// of those going on follow the plan.
    pub fn apply(&self, active: Vec<ActiveCapture>) {
        let mut taps = self.taps.write().unwrap_or_else(|e| e.into_inner());
        let mut old: HashMap<i64, Tap> = taps.drain(..).map(|t| (t.id, t)).collect();
        for a in active {
            let lines: HashSet<String> = a.lines.into_iter().collect();
            match old.remove(&a.id) {
                Some(mut tap) => {
                    tap.lines = lines;
                    taps.push(tap);
                }
                None => match open(&a.file) {
                    Ok(tx) => {
                        tracing::info!(file = %a.file, lines = lines.len(), "SIP capture started");
                        taps.push(Tap {
                            id: a.id,
                            tenant: a.tenant,
                            lines,
                            tx,
                        });
                    }
                    Err(e) => {
                        tracing::warn!(file = %a.file, error = %e, "SIP capture file not opened")
                    }
                },
            }
        }
        for tap in old.values() {
            tracing::info!(capture = tap.id, "SIP capture stopped");
        }
        self.on.store(!taps.is_empty(), Ordering::Relaxed);
    }
}

/// Reads the running captures every `SYNC` and applies them, until the store is gone.
pub async fn sync(store: StoreHandle, capture: Arc<Capture>) {
    loop {
        match store.call(|s| s.active_captures()).await {
            Ok(active) => capture.apply(active),
            Err(crate::Error::StoreGone) => return,
            Err(e) => tracing::warn!(error = %e, "captures not read"),
        }
        tokio::time::sleep(SYNC).await;
    }
}

/// Creates `file` with its PCAP header and a thread that appends what it is sent.
fn open(file: &str) -> std::io::Result<mpsc::Sender<Record>> {
    let path = std::path::Path::new(file);
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    out.write_all(&header())?;
    out.flush()?;
    let (tx, rx) = mpsc::channel::<Record>();
    std::thread::Builder::new()
        .name("pbx-capture".into())
        .spawn(move || {
            while let Ok(first) = rx.recv() {
                let mut next = Some(first);
                while let Some(r) = next {
                    if let Err(e) = out.write_all(&record(&r)) {
                        tracing::warn!(error = %e, "SIP capture write failed");
                        return;
                    }
                    next = rx.try_recv().ok();
                }
                // Readable as it grows: each burst reaches the file.
                let _ = out.flush();
            }
        })?;
    Ok(tx)
}

/// The PCAP global header: microsecond timestamps, link type RAW (IP first).
fn header() -> Vec<u8> {
    let mut h = Vec::with_capacity(24);
    h.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    h.extend_from_slice(&2u16.to_le_bytes());
    h.extend_from_slice(&4u16.to_le_bytes());
    h.extend_from_slice(&0i32.to_le_bytes());
    h.extend_from_slice(&0u32.to_le_bytes());
    h.extend_from_slice(&65_535u32.to_le_bytes());
    h.extend_from_slice(&101u32.to_le_bytes());
    h
}

/// One PCAP record: the message in a UDP datagram in an IPv4 or IPv6 packet.
fn record(r: &Record) -> Vec<u8> {
    let udp_len = 8 + r.bytes.len();
    let mut udp = Vec::with_capacity(udp_len);
    udp.extend_from_slice(&r.src.port().to_be_bytes());
    udp.extend_from_slice(&r.dst.port().to_be_bytes());
    udp.extend_from_slice(&(udp_len.min(65_535) as u16).to_be_bytes());
    udp.extend_from_slice(&0u16.to_be_bytes()); // no checksum (allowed over IPv4)
    udp.extend_from_slice(&r.bytes);
    let ip = match (r.src.ip(), r.dst.ip()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let total = (20 + udp.len()).min(65_535) as u16;
            let mut h = vec![0x45, 0];
            h.extend_from_slice(&total.to_be_bytes());
            h.extend_from_slice(&[0, 0, 0x40, 0, 64, 17, 0, 0]);
            h.extend_from_slice(&s.octets());
            h.extend_from_slice(&d.octets());
            let sum = checksum(&h);
            h[10..12].copy_from_slice(&sum.to_be_bytes());
            h
        }
        (s, d) => {
            let v6 = |a: IpAddr| match a {
                IpAddr::V6(a) => a,
                IpAddr::V4(a) => a.to_ipv6_mapped(),
            };
            let mut h = vec![0x60, 0, 0, 0];
            h.extend_from_slice(&(udp.len().min(65_535) as u16).to_be_bytes());
            h.extend_from_slice(&[17, 64]);
            h.extend_from_slice(&v6(s).octets());
            h.extend_from_slice(&v6(d).octets());
            h
        }
    };
    let len = (ip.len() + udp.len()) as u32;
    let since = r.at.duration_since(UNIX_EPOCH).unwrap_or_default();
    let mut out = Vec::with_capacity(16 + len as usize);
    out.extend_from_slice(&(since.as_secs() as u32).to_le_bytes());
    out.extend_from_slice(&since.subsec_micros().to_le_bytes());
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&ip);
    out.extend_from_slice(&udp);
    out
}

/// The IPv4 header checksum.
fn checksum(h: &[u8]) -> u16 {
    let mut sum: u32 = h
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ipv4_record_has_a_valid_header_checksum_and_lengths() {
        let r = Record {
            at: UNIX_EPOCH + Duration::from_micros(1_500_000),
            src: "127.0.0.1:5062".parse().unwrap(),
            dst: "127.0.0.1:5060".parse().unwrap(),
            bytes: b"OPTIONS sip:x SIP/2.0\r\n\r\n".to_vec(),
        };
        let b = record(&r);
        assert_eq!(u32::from_le_bytes(b[0..4].try_into().unwrap()), 1);
        assert_eq!(u32::from_le_bytes(b[4..8].try_into().unwrap()), 500_000);
        let ip = &b[16..36];
        assert_eq!(checksum(ip), 0, "a header with its checksum sums to zero");
        assert_eq!(
            usize::from(u16::from_be_bytes([ip[2], ip[3]])),
            20 + 8 + r.bytes.len()
        );
        assert_eq!(&b[36..38], &5062u16.to_be_bytes());
    }
}
