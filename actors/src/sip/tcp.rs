//! TCP: one task per connection, framing by Content-Length. Every connection is a
//! flow that can be found again by its id, so requests to a phone reuse the connection
//! it registered over.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::{Buf, Bytes, BytesMut};
use engine::sip::framing::Frame;
use engine::sip::{frame_stream, Message};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use super::{malformed, via_stamp, Dispatcher, Incoming, Replier};

/// Open connections by id.
#[derive(Debug, Default)]
pub struct Flows {
    map: Mutex<HashMap<u64, mpsc::UnboundedSender<Bytes>>>,
}

impl Flows {
    pub fn sender(&self, id: u64) -> Option<mpsc::UnboundedSender<Bytes>> {
        self.map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&id)
            .cloned()
    }

    pub fn len(&self) -> usize {
        self.map.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn insert(&self, id: u64, tx: mpsc::UnboundedSender<Bytes>) {
        self.map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, tx);
    }

    fn remove(&self, id: u64) {
        self.map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id);
    }
}

pub async fn accept_loop(
    listener: TcpListener,
    dispatcher: Arc<Dispatcher>,
    max_size: usize,
    flows: Arc<Flows>,
) {
    let mut next_id: u64 = 1;
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                let _ = stream.set_nodelay(true);
                let id = next_id;
                next_id += 1;
                tokio::spawn(connection(
                    stream,
                    peer,
                    id,
                    dispatcher.clone(),
                    max_size,
                    flows.clone(),
                ));
            }
            Err(e) => {
                tracing::warn!(error = %e, "tcp accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    }
}

async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    id: u64,
    dispatcher: Arc<Dispatcher>,
    max_size: usize,
    flows: Arc<Flows>,
) {
    let (mut rd, mut wr) = stream.into_split();
    let (tx, mut rx) = mpsc::unbounded_channel::<Bytes>();
    flows.insert(id, tx.clone());
    let writer = tokio::spawn(async move {
        while let Some(b) = rx.recv().await {
            if wr.write_all(&b).await.is_err() {
                break;
            }
        }
        let _ = wr.shutdown().await;
    });
    let mut buf = BytesMut::with_capacity(8192);
    'read: loop {
        match rd.read_buf(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        loop {
            match frame_stream(&buf, max_size) {
                Ok(Frame::KeepAlive(n)) => {
                    if buf[..n].windows(4).any(|w| w == b"\r\n\r\n") {
                        let _ = tx.send(Bytes::from_static(b"\r\n"));
                    }
                    buf.advance(n);
                }
                Ok(Frame::Message(n)) => {
                    let data = buf.split_to(n).freeze();
                    on_message(&dispatcher, &tx, data, peer, id, max_size);
                }
                Ok(Frame::Incomplete) => break,
                Err(e) => {
                    tracing::debug!(%peer, error = %e, "tcp stream cannot be framed; closing");
                    if let Some(resp) = malformed::error_response(&buf, &e) {
                        let _ = tx.send(Bytes::from(resp));
                    }
                    break 'read;
                }
            }
        }
    }
    flows.remove(id);
    drop(tx);
    let _ = writer.await;
}

fn on_message(
    dispatcher: &Dispatcher,
    tx: &mpsc::UnboundedSender<Bytes>,
    data: Bytes,
    peer: SocketAddr,
    id: u64,
    max_size: usize,
) {
    let msg = match Message::parse_with_limit(data.clone(), max_size) {
        Ok(m) => m,
        Err(e) => {
            if let Some(resp) = malformed::error_response(&data, &e) {
                let _ = tx.send(Bytes::from(resp));
            }
            return;
        }
    };
    if !msg.is_request() {
        dispatcher.on_response(msg, peer);
        return;
    }
    let msg = match via_stamp::stamp(&msg, peer) {
        Some(b) => match Message::parse_with_limit(b, max_size + 128) {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(%peer, error = %e, "request unreadable after stamping its Via");
                return;
            }
        },
        None => msg,
    };
    dispatcher.on_request(Incoming {
        msg,
        source: peer,
        reply: Replier::Tcp {
            tx: tx.clone(),
            conn: id,
            peer,
        },
    });
}
