//! A request as it reaches its handler, with the way back to the sender.

use std::net::SocketAddr;

use bytes::Bytes;
use engine::sip::Message;
use engine::transaction::TransactionKey;
use tokio::sync::mpsc;

/// What the UDP task is asked to send.
#[derive(Debug)]
pub struct UdpOut {
    pub dest: SocketAddr,
    pub bytes: Bytes,
    /// The server transaction the response belongs to, and its status code.
    pub txn: Option<(TransactionKey, u16)>,
}

/// The sending end of a TCP connection's write queue.
pub type TcpTx = mpsc::Sender<Bytes>;

/// The way back to whoever sent a request.
#[derive(Debug, Clone)]
pub enum Replier {
    /// Through the UDP task, so that its transaction table keeps the response for
    /// retransmissions.
    Udp {
        tx: mpsc::UnboundedSender<UdpOut>,
        dest: SocketAddr,
        key: Option<TransactionKey>,
    },
    /// On the TCP (or TLS) connection the request came in on.
    Tcp {
        tx: TcpTx,
        conn: u64,
        peer: SocketAddr,
        tls: bool,
    },
}

impl Replier {
    pub fn send(&self, code: u16, bytes: Vec<u8>) {
        let bytes = Bytes::from(bytes);
        let sent = match self {
            Replier::Udp { tx, dest, key } => tx
                .send(UdpOut {
                    dest: *dest,
                    bytes,
                    txn: key.clone().map(|k| (k, code)),
                })
                .is_ok(),
            // A full queue: the peer does not read, and the writer is closing it.
            Replier::Tcp { tx, .. } => tx.try_send(bytes).is_ok(),
        };
        if !sent {
            tracing::debug!(code, "reply dropped: transport gone");
        }
    }

    /// The request will not be answered (dropped on purpose): over UDP its server
    /// transaction is forgotten at once rather than kept until the sweep.
    pub fn forget(&self) {
        if let Replier::Udp {
            tx,
            dest,
            key: Some(key),
        } = self
        {
            let _ = tx.send(UdpOut {
                dest: *dest,
                bytes: Bytes::new(),
                txn: Some((key.clone(), FORGET)),
            });
        }
    }

    /// Whether the request came over TLS.
    pub fn is_tls(&self) -> bool {
        matches!(self, Replier::Tcp { tls: true, .. })
    }

    /// The flow a registration came over (RFC 5626 terms): how to reach the phone.
    pub fn flow(&self) -> String {
        match self {
            Replier::Udp { dest, .. } => format!("udp:{dest}"),
            Replier::Tcp {
                conn,
                peer,
                tls: false,
                ..
            } => format!("tcp:{peer}#{conn}"),
            Replier::Tcp {
                conn,
                peer,
                tls: true,
                ..
            } => format!("tls:{peer}#{conn}"),
        }
    }
}

/// The status "code" of a `UdpOut` that sends nothing and forgets its transaction.
pub const FORGET: u16 = 0;

/// A request for a handler.
#[derive(Debug)]
pub struct Incoming {
    pub msg: Message,
    pub source: SocketAddr,
    pub reply: Replier,
}

impl Incoming {
    /// Answers with a bare response (no extra headers).
    pub fn respond(&self, code: u16, reason: &str) {
        let bytes =
            engine::sip::MessageWriter::response_to(&self.msg, code, reason, Some("pbx")).finish();
        self.reply.send(code, bytes);
    }
}

/// The status code of a response's bytes.
pub fn status_code(bytes: &[u8]) -> Option<u16> {
    if !bytes.starts_with(b"SIP/2.0 ") || bytes.len() < 11 {
        return None;
    }
    std::str::from_utf8(&bytes[8..11]).ok()?.parse().ok()
}
