//! TCP and TLS: one task per connection, framing by Content-Length. Every connection
//! is a flow that can be found again by its id and peer, so requests to a phone reuse
//! the connection it registered over. A TLS connection is a TCP one whose stream went
//! through a handshake first (`tls.rs`); it is a flow of its own kind, so what the
//! switch sends a phone that registered over TLS never leaves unencrypted.
//!
//! Defences (SECURITY.md): flow ids start at a random value and never repeat, so a
//! binding stored before a restart can never name someone else's new connection, and
//! a flow is only used when its peer address matches too; connections are capped in
//! total and per source address; a connection must deliver a whole message within
//! `READ_TIMEOUT` of its first byte (and its first message that soon after opening),
//! and is closed after `IDLE_TIMEOUT` without one; what the switch writes to a
//! connection waits in a bounded queue, and a peer that stops reading is dropped.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use engine::sip::framing::Frame;
use engine::sip::{frame_stream, Message};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use super::{malformed, via_stamp, Dispatcher};
pub use crate::proto::TcpTx;
use crate::proto::{Incoming, Replier};

/// Messages waiting to be written to one connection at most.
pub const WRITE_QUEUE: usize = 256;
/// A message must arrive whole within this time of its first byte (and the first
/// message within this time of the connection opening).
pub const READ_TIMEOUT: Duration = Duration::from_secs(30);
/// A connection that carries no message for this long is closed: longer than the
/// longest registration, so a phone that refreshes over it keeps it.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(3_900);
/// A write that does not finish in this time means the peer does not read.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// How many connections the switch holds open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpLimits {
    pub total: usize,
    pub per_source: usize,
}

impl Default for TcpLimits {
    fn default() -> Self {
        TcpLimits {
            total: 16_384,
            per_source: 128,
        }
    }
}

#[derive(Debug)]
struct Open {
    peer: SocketAddr,
    tx: TcpTx,
    tls: bool,
}

/// Open connections by id.
#[derive(Debug)]
pub struct Flows {
    map: Mutex<HashMap<u64, Open>>,
    /// Open connections per source address, and in all.
    per_ip: Mutex<(HashMap<IpAddr, usize>, usize)>,
    next_id: AtomicU64,
    limits: TcpLimits,
}

impl Default for Flows {
    fn default() -> Self {
        Self::new(TcpLimits::default())
    }
}

impl Flows {
    pub fn new(limits: TcpLimits) -> Self {
        Flows {
            map: Mutex::default(),
            per_ip: Mutex::default(),
            // A random start: ids never repeat across restarts of the switch.
            next_id: AtomicU64::new(rand::random::<u64>() >> 2),
            limits,
        }
    }

    /// The write queue of connection `id`, when it is open, its peer is `peer` and it
    /// is (or is not) over TLS as `tls` says.
    pub fn sender(&self, id: u64, peer: SocketAddr, tls: bool) -> Option<TcpTx> {
        self.map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&id)
            .filter(|o| o.peer == peer && o.tls == tls)
            .map(|o| o.tx.clone())
    }

    /// True when connection `id` is open to `peer` over TLS or not, as `tls` says.
    pub fn is_open(&self, id: u64, peer: SocketAddr, tls: bool) -> bool {
        self.sender(id, peer, tls).is_some()
    }

    pub fn len(&self) -> usize {
        self.map.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Takes a place for a new connection from `peer`, or says which limit it hits.
    fn admit(&self, peer: SocketAddr) -> Result<(), &'static str> {
        let mut guard = self.per_ip.lock().unwrap_or_else(|p| p.into_inner());
        let (per_ip, total) = &mut *guard;
        if *total >= self.limits.total {
            return Err("total");
        }
        let n = per_ip.entry(source_key(peer.ip())).or_insert(0);
        if *n >= self.limits.per_source {
            return Err("per source");
        }
        *n += 1;
        *total += 1;
        Ok(())
    }

    fn release(&self, peer: SocketAddr) {
        let mut guard = self.per_ip.lock().unwrap_or_else(|p| p.into_inner());
        let (per_ip, total) = &mut *guard;
        let key = source_key(peer.ip());
        if let Some(n) = per_ip.get_mut(&key) {
            *n -= 1;
            *total -= 1;
            if *n == 0 {
                per_ip.remove(&key);
            }
        }
    }

    fn insert(&self, peer: SocketAddr, tx: TcpTx, tls: bool) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, Open { peer, tx, tls });
        id
    }

    fn remove(&self, id: u64) {
        self.map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id);
    }
}

/// What counts as one source for the per-source cap: an IPv4 address, or an IPv6
/// /64 (one host holds a whole /64).
fn source_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(a) => {
            let s = a.segments();
            IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
    }
}

/// Accepts connections on `listener`: plain TCP, or TLS when `tls` is given (the
/// handshake then runs in the connection's task, under its place in the limits).
pub async fn accept_loop(
    listener: TcpListener,
    dispatcher: Arc<Dispatcher>,
    max_size: usize,
    flows: Arc<Flows>,
    tls: Option<tokio_rustls::TlsAcceptor>,
) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                if let Err(limit) = flows.admit(peer) {
                    tracing::debug!(%peer, limit, "tcp connection refused: limit reached");
                    drop(stream);
                    continue;
                }
                let _ = stream.set_nodelay(true);
                let local = local_of(&stream);
                let (dispatcher, flows) = (dispatcher.clone(), flows.clone());
                match tls.clone() {
                    None => {
                        tokio::spawn(connection(
                            stream, local, peer, dispatcher, max_size, flows, None, false,
                        ));
                    }
                    Some(acceptor) => {
                        tokio::spawn(async move {
                            let shaken = tokio::time::timeout(
                                super::tls::HANDSHAKE_TIMEOUT,
                                acceptor.accept(stream),
                            )
                            .await;
                            match shaken {
                                Ok(Ok(stream)) => {
                                    connection(
                                        stream, local, peer, dispatcher, max_size, flows, None,
                                        true,
                                    )
                                    .await
                                }
                                Ok(Err(e)) => {
                                    tracing::debug!(%peer, error = %e, "TLS handshake failed");
                                    flows.release(peer);
                                }
                                Err(_) => {
                                    tracing::debug!(%peer, "TLS handshake timed out");
                                    flows.release(peer);
                                }
                            }
                        });
                    }
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "tcp accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    }
}

/// How long connecting to a trunk's carrier may take.
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

fn local_of(stream: &TcpStream) -> SocketAddr {
    stream
        .local_addr()
        .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)))
}

/// Opens a connection to `peer` (a trunk's carrier) under the same limits and
/// framing as the connections phones open, over TLS when `tls` names the switch's
/// TLS sides and the carrier's host name; its id once it is in `Flows`.
pub async fn connect(
    peer: SocketAddr,
    dispatcher: Arc<Dispatcher>,
    max_size: usize,
    flows: Arc<Flows>,
    tls: Option<(&super::tls::Tls, &str)>,
) -> std::io::Result<u64> {
    let stream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(peer))
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out"))??;
    flows
        .admit(peer)
        .map_err(|limit| std::io::Error::other(format!("tcp {limit} limit reached")))?;
    let _ = stream.set_nodelay(true);
    let local = local_of(&stream);
    let (ready, id) = tokio::sync::oneshot::channel();
    match tls {
        None => {
            tokio::spawn(connection(
                stream,
                local,
                peer,
                dispatcher,
                max_size,
                flows,
                Some(ready),
                false,
            ));
        }
        Some((tls, host)) => {
            let stream = match tls.connect(stream, host, peer).await {
                Ok(s) => s,
                Err(e) => {
                    flows.release(peer);
                    return Err(e);
                }
            };
            tokio::spawn(connection(
                stream,
                local,
                peer,
                dispatcher,
                max_size,
                flows,
                Some(ready),
                true,
            ));
        }
    }
    id.await
        .map_err(|_| std::io::Error::other("connection ended at once"))
}

#[allow(clippy::too_many_arguments)]
async fn connection<S>(
    stream: S,
    local: SocketAddr,
    peer: SocketAddr,
    dispatcher: Arc<Dispatcher>,
    max_size: usize,
    flows: Arc<Flows>,
    ready: Option<tokio::sync::oneshot::Sender<u64>>,
    tls: bool,
) where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let (mut rd, mut wr) = tokio::io::split(stream);
    let (tx, mut rx) = mpsc::channel::<Bytes>(WRITE_QUEUE);
    let id = flows.insert(peer, tx.clone(), tls);
    if let Some(r) = ready {
        let _ = r.send(id);
    }
    // The connection's place is given back however this task ends (a panic too).
    let _place = Place {
        flows: flows.clone(),
        id,
        peer,
    };
    // The reader says when the connection is over: the writer then stops even while
    // repliers elsewhere (a call's pending response) still hold a sender.
    let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
    let out = dispatcher.clone();
    let writer = tokio::spawn(async move {
        loop {
            let b = tokio::select! {
                b = rx.recv() => match b {
                    Some(b) => b,
                    None => break,
                },
                _ = &mut stopped => break,
            };
            out.captured(&b, local, peer);
            match tokio::time::timeout(WRITE_TIMEOUT, wr.write_all(&b)).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => break,
                Err(_) => {
                    tracing::debug!(%peer, "tcp peer does not read; closing");
                    break;
                }
            }
        }
        let _ = wr.shutdown().await;
    });
    let mut buf = BytesMut::with_capacity(8192);
    // No message yet: the first must come within the read timeout of connecting; a
    // message must be whole within the read timeout of its first byte; between
    // messages (after a first one) the connection may idle.
    let opened = tokio::time::Instant::now();
    let mut message_started: Option<tokio::time::Instant> = None;
    let mut had_message = false;
    let mut deadline = opened + READ_TIMEOUT;
    'read: loop {
        let read = tokio::select! {
            r = rd.read_buf(&mut buf) => r,
            _ = tokio::time::sleep_until(deadline) => {
                tracing::debug!(%peer, partial = !buf.is_empty(), "tcp connection timed out");
                break;
            }
            // The writer gave up on the peer.
            _ = tx.closed() => break,
        };
        match read {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        loop {
            match frame_stream(&buf, max_size) {
                Ok(Frame::KeepAlive(n)) => {
                    if buf[..n].windows(4).any(|w| w == b"\r\n\r\n") {
                        let _ = tx.try_send(Bytes::from_static(b"\r\n"));
                    }
                    buf.advance(n);
                }
                Ok(Frame::Message(n)) => {
                    let data = buf.split_to(n).freeze();
                    had_message = true;
                    message_started = None;
                    dispatcher.captured(&data, peer, local);
                    on_message(&dispatcher, &tx, data, (peer, id, tls), max_size);
                }
                Ok(Frame::Incomplete) => break,
                Err(e) => {
                    tracing::debug!(%peer, error = %e, "tcp stream cannot be framed; closing");
                    if let Some(resp) = malformed::error_response(&buf, &e) {
                        let _ = tx.try_send(Bytes::from(resp));
                    }
                    break 'read;
                }
            }
        }
        let now = tokio::time::Instant::now();
        deadline = if !buf.is_empty() {
            // A message under way: its clock started with its first byte, and more
            // bytes do not restart it.
            *message_started.get_or_insert(now) + READ_TIMEOUT
        } else if had_message {
            now + IDLE_TIMEOUT
        } else {
            // Keep-alives alone do not earn the idle time.
            opened + READ_TIMEOUT
        };
    }
    flows.remove(id);
    drop(tx);
    let _ = stop.send(());
    let _ = writer.await;
}

/// A connection's entry in `Flows` and its place under the limits, given back on drop.
struct Place {
    flows: Arc<Flows>,
    id: u64,
    peer: SocketAddr,
}

impl Drop for Place {
    fn drop(&mut self) {
        self.flows.remove(self.id);
        self.flows.release(self.peer);
    }
}

fn on_message(
    dispatcher: &Dispatcher,
    tx: &TcpTx,
    data: Bytes,
    (peer, id, tls): (SocketAddr, u64, bool),
    max_size: usize,
) {
    let msg = match Message::parse_with_limit(data.clone(), max_size) {
        Ok(m) => m,
        Err(e) => {
            if let Some(resp) = malformed::error_response(&data, &e) {
                let _ = tx.try_send(Bytes::from(resp));
            }
            return;
        }
    };
    if !msg.is_request() {
        dispatcher.on_response(msg, peer);
        return;
    }
    if dispatcher.no_room_for(&msg) {
        // No room for a call: refused before its challenge, as over UDP.
        super::udp::SHED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let _ = tx.try_send(super::udp::service_unavailable(&msg));
        return;
    }
    let msg = via_stamp::stamp(&msg, peer).unwrap_or(msg);
    dispatcher.on_request(Incoming {
        msg,
        source: peer,
        reply: Replier::Tcp {
            tx: tx.clone(),
            conn: id,
            peer,
            tls,
        },
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::SipOut;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn a_flow_answers_only_for_its_own_peer() {
        let flows = Flows::default();
        let (tx, _rx) = mpsc::channel(1);
        let peer: SocketAddr = "192.0.2.1:5060".parse().unwrap();
        let id = flows.insert(peer, tx, false);
        assert!(flows.is_open(id, peer, false));
        assert!(!flows.is_open(id, "192.0.2.9:5060".parse().unwrap(), false));
        assert!(!flows.is_open(id + 1, peer, false));
        // A plain connection is never taken for a TLS one.
        assert!(!flows.is_open(id, peer, true));
        // Another switch start numbers its connections elsewhere.
        let again = Flows::default();
        let (tx, _rx) = mpsc::channel(1);
        assert_ne!(again.insert(peer, tx, true), id);
    }

    #[test]
    fn connections_are_counted_per_source_and_in_all() {
        let flows = Flows::new(TcpLimits {
            total: 3,
            per_source: 2,
        });
        let a: SocketAddr = "192.0.2.1:1000".parse().unwrap();
        let a2: SocketAddr = "192.0.2.1:1001".parse().unwrap();
        let b: SocketAddr = "192.0.2.2:1000".parse().unwrap();
        let c: SocketAddr = "192.0.2.3:1000".parse().unwrap();
        assert!(flows.admit(a).is_ok());
        assert!(flows.admit(a2).is_ok());
        assert_eq!(flows.admit(a), Err("per source"));
        assert!(flows.admit(b).is_ok());
        assert_eq!(flows.admit(c), Err("total"));
        flows.release(a);
        assert!(flows.admit(c).is_ok());
        for p in [a2, b, c] {
            flows.release(p);
        }
        assert!(flows.admit(a).is_ok() && flows.admit(a2).is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn connections_without_a_whole_message_are_closed_on_time() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let flows = Arc::new(Flows::default());
        let out = Arc::new(SipOut::new(flows.clone()));
        let dispatcher = Arc::new(Dispatcher::new(Arc::default(), out, Arc::default()));
        tokio::spawn(accept_loop(
            listener,
            dispatcher,
            65_535,
            flows.clone(),
            None,
        ));
        let mut idle = TcpStream::connect(addr).await.unwrap();
        let mut partial = TcpStream::connect(addr).await.unwrap();
        partial
            .write_all(b"REGISTER sip:x SIP/2.0\r\nVia: ")
            .await
            .unwrap();
        let t0 = tokio::time::Instant::now();
        // A byte now and then does not keep a half message open.
        let trickle = tokio::spawn(async move {
            for _ in 0..5 {
                tokio::time::sleep(READ_TIMEOUT / 3).await;
                if partial.write_all(b"x").await.is_err() {
                    break;
                }
            }
            let mut buf = [0u8; 64];
            partial.read(&mut buf).await.unwrap_or(0)
        });
        let mut buf = [0u8; 64];
        assert_eq!(idle.read(&mut buf).await.unwrap(), 0);
        assert_eq!(trickle.await.unwrap(), 0);
        assert!(t0.elapsed() >= READ_TIMEOUT);
        assert!(t0.elapsed() < IDLE_TIMEOUT);
    }
}
