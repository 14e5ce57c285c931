//! The UDP task: receives datagrams in batches, absorbs retransmissions through the
//! server transaction table, and sends every response (so the table can replay it).

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use engine::sip::Message;
use engine::timer::TimerConfig;
use engine::transaction::{IncomingRequest, ServerTransactions};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

use super::{malformed, via_stamp, Dispatcher};
use crate::proto::{Incoming, Replier, UdpOut};

/// How many datagrams are taken per wake-up before yielding.
const BATCH: usize = 64;

/// Requests taken and not yet answered at all past which new out-of-dialog requests
/// are shed with 503 (`--max-waiting`). A REGISTER waits for the group commit of its
/// binding, so at 12,000 registrations a second about a thousand wait at any time
/// (1,000 shed 2 % of them, measured); 4,000 is a backlog of a third of a second
/// at that rate, which only overload makes.
pub const DEFAULT_MAX_WAITING: usize = 4000;

/// How long requests may wait for the switch to begin answering them before new
/// out-of-dialog ones are shed (`--max-delay`): well under T1 (500 ms), so that
/// what is admitted is answered before its sender retransmits it.
pub const DEFAULT_MAX_DELAY: std::time::Duration = std::time::Duration::from_millis(200);

/// When a UDP transport sheds new out-of-dialog requests with 503: more than
/// `max_waiting` requests taken have had no response yet, or even the quickest
/// answered of late (the shortest wait of a 100 ms window) waited longer than
/// `max_delay`.
#[derive(Debug, Clone, Copy)]
pub struct Shedding {
    pub max_waiting: usize,
    pub max_delay: std::time::Duration,
}

/// The switch's room for calls, read by the UDP task to refuse a new INVITE at once,
/// before its authentication, when no call could be admitted: fewer than two media
/// port pairs free (a call anchors two legs) or `--max-calls` calls up. Without it
/// the INVITE would be challenged, authenticated and routed, then refused.
#[derive(Clone)]
pub struct CallCapacity {
    pub ports: Arc<crate::media_relay::PortPool>,
    pub calls: Arc<crate::call::CallLimits>,
}

impl CallCapacity {
    pub fn full(&self) -> bool {
        self.ports.free_pairs() < 2 || self.calls.full()
    }
}

impl std::fmt::Debug for CallCapacity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "CallCapacity {{ free_pairs: {}, calls: {} }}",
            self.ports.free_pairs(),
            self.calls.active()
        )
    }
}

impl Default for Shedding {
    fn default() -> Self {
        Shedding {
            max_waiting: DEFAULT_MAX_WAITING,
            max_delay: DEFAULT_MAX_DELAY,
        }
    }
}

/// How long a shed request's sender is asked to wait (Retry-After, seconds).
const RETRY_AFTER: &str = "2";

/// New requests refused with 503 because the switch was overloaded (metrics).
pub static SHED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Requests received again (a phone's retransmission: its answer was lost or late)
/// and responses sent again by the server transactions' timers (their ACK did not
/// come), since the process started: the metrics' retransmission counters.
pub static RETRANSMITTED_IN: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
pub static RETRANSMITTED_OUT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Serves one UDP socket; `tx`/`rx` is its queue of things to send (the transport
/// hands `tx` to the dispatcher's `SipOut` as well).
pub async fn run(
    sock: Arc<UdpSocket>,
    dispatcher: Arc<Dispatcher>,
    (max_size, shedding, capacity): (usize, Shedding, Option<CallCapacity>),
    tx: mpsc::UnboundedSender<UdpOut>,
    mut rx: mpsc::UnboundedReceiver<UdpOut>,
) {
    let mut txns = ServerTransactions::new(TimerConfig::default());
    let mut buf = vec![0u8; 65_536];
    let local = sock
        .local_addr()
        .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
    let w = Wire {
        sock: &sock,
        local,
        dispatcher: &dispatcher,
        max_size,
        shedding,
        capacity,
    };
    loop {
        let deadline = txns.next_timeout().map(tokio::time::Instant::from_std);
        tokio::select! {
            biased;
            Some(out) = rx.recv() => {
                send_out(&w, &mut txns, out).await;
                for _ in 0..BATCH {
                    match rx.try_recv() {
                        Ok(out) => send_out(&w, &mut txns, out).await,
                        Err(_) => break,
                    }
                }
            }
            r = sock.recv_from(&mut buf) => {
                match r {
                    Ok((n, src)) => on_datagram(&w, &mut txns, &tx, &buf[..n], src).await,
                    Err(e) => tracing::debug!(error = %e, "udp receive error"),
                }
                for _ in 0..BATCH {
                    match sock.try_recv_from(&mut buf) {
                        Ok((n, src)) => on_datagram(&w, &mut txns, &tx, &buf[..n], src).await,
                        Err(_) => break,
                    }
                }
            }
            _ = sleep_until(deadline), if deadline.is_some() => {
                let now = tokio::time::Instant::now().into_std();
                for (dest, bytes) in txns.on_timeout(now) {
                    RETRANSMITTED_OUT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    send(&w, &bytes, dest).await;
                }
            }
        }
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// The socket a UDP task serves, its address, and the dispatcher (for captures).
struct Wire<'a> {
    sock: &'a UdpSocket,
    local: SocketAddr,
    dispatcher: &'a Dispatcher,
    max_size: usize,
    shedding: Shedding,
    capacity: Option<CallCapacity>,
}

impl Wire<'_> {
    /// Whether a new out-of-dialog request is shed (503) at once: too many requests
    /// unanswered, requests waiting too long, or a new call the switch has no room
    /// for.
    fn sheds(
        &self,
        txns: &ServerTransactions<SocketAddr>,
        msg: &Message,
        now: std::time::Instant,
    ) -> bool {
        sheddable(msg)
            && (txns.waiting() > self.shedding.max_waiting
                || txns.delayed(now, self.shedding.max_delay)
                || (msg.method() == Some(&engine::sip::Method::Invite)
                    && self.capacity.as_ref().is_some_and(CallCapacity::full)))
    }
}

async fn send(w: &Wire<'_>, bytes: &[u8], dest: SocketAddr) {
    w.dispatcher.captured(bytes, w.local, dest);
    if let Err(e) = w.sock.send_to(bytes, dest).await {
        tracing::debug!(%dest, error = %e, "udp send failed");
    }
}

async fn send_out(w: &Wire<'_>, txns: &mut ServerTransactions<SocketAddr>, out: UdpOut) {
    let now = tokio::time::Instant::now().into_std();
    match out.txn {
        Some((key, crate::proto::request::FORGET)) => txns.forget(&key),
        Some((key, code)) => {
            for b in txns.on_response(&key, code, out.bytes, now) {
                send(w, &b, out.dest).await;
            }
        }
        None => send(w, &out.bytes, out.dest).await,
    }
}

async fn on_datagram(
    w: &Wire<'_>,
    txns: &mut ServerTransactions<SocketAddr>,
    tx: &mpsc::UnboundedSender<UdpOut>,
    data: &[u8],
    src: SocketAddr,
) {
    let (dispatcher, max_size) = (w.dispatcher, w.max_size);
    if data.iter().all(|&c| c == b'\r' || c == b'\n' || c == 0) {
        return; // keep-alive
    }
    w.dispatcher.captured(data, src, w.local);
    let msg = match Message::parse_with_limit(Bytes::copy_from_slice(data), max_size) {
        Ok(m) => m,
        Err(e) => {
            tracing::debug!(%src, error = %e, "malformed datagram");
            if let Some(resp) = malformed::error_response(data, &e) {
                send(w, &resp, src).await;
            }
            return;
        }
    };
    if !msg.is_request() {
        // Responses belong to client transactions, which live in the call actors.
        dispatcher.on_response(msg, src);
        return;
    }
    let msg = via_stamp::stamp(&msg, src).unwrap_or(msg);
    let dest = via_stamp::response_destination(&msg, src);
    let now = tokio::time::Instant::now().into_std();
    match txns.on_request(&msg, false, now, dest) {
        IncomingRequest::New(key) if w.sheds(txns, &msg, now) => {
            // Overloaded: refused before any work, statelessly: the transaction is
            // forgotten at once (a flood of shed requests holds no memory for Timer
            // J's 32 s), and a retransmission is judged again.
            SHED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            txns.forget(&key);
            send(w, &service_unavailable(&msg), dest).await;
        }
        IncomingRequest::New(key) => dispatcher.on_request(Incoming {
            msg,
            source: src,
            reply: Replier::Udp {
                tx: tx.clone(),
                dest,
                key: Some(key),
            },
        }),
        IncomingRequest::DialogAck => dispatcher.on_request(Incoming {
            msg,
            source: src,
            reply: Replier::Udp {
                tx: tx.clone(),
                dest,
                key: None,
            },
        }),
        IncomingRequest::Retransmission(resend) => {
            RETRANSMITTED_IN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            for b in resend {
                send(w, &b, dest).await;
            }
        }
        IncomingRequest::AckAbsorbed => {}
        IncomingRequest::Overloaded => {
            tracing::warn!(%src, "server transaction table full: 503");
            let resp503 = engine::sip::MessageWriter::response_to(
                &msg,
                503,
                "Service Unavailable",
                Some("pbx"),
            );
            send(w, &resp503.finish(), dest).await;
        }
        IncomingRequest::Unmatchable => {
            if let Some(resp) =
                malformed::error_response(data, &engine::Error::Missing("Via or CSeq"))
            {
                send(w, &resp, dest).await;
            }
        }
    }
}

/// A request that may be shed under overload: one that starts something (no To tag:
/// a call, a registration, a subscription). Requests within a dialog end or change
/// what the switch already carries, and ACKs and CANCELs free what it holds.
pub fn sheddable(msg: &Message) -> bool {
    use engine::sip::Method;
    !matches!(
        msg.method(),
        Some(Method::Ack | Method::Cancel | Method::Bye | Method::Prack)
    ) && msg.to().is_none_or(|t| t.tag().is_none())
}

/// 503 with Retry-After, for a request shed under overload.
pub fn service_unavailable(msg: &Message) -> Bytes {
    let mut w =
        engine::sip::MessageWriter::response_to(msg, 503, "Service Unavailable", Some("pbx"));
    w.header("Retry-After", RETRY_AFTER);
    Bytes::from(w.finish())
}
