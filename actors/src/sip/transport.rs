//! The transport actor: binds the SIP sockets (UDP and TCP on each address, TLS on
//! each TLS address) and owns the tasks that serve them.

use std::net::SocketAddr;
use std::sync::Arc;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::{TcpListener, UdpSocket};
use tokio::task::JoinHandle;

use super::tcp::{self, Flows};
use super::{udp, Dispatcher};

#[derive(Debug, Clone)]
pub struct TransportArgs {
    pub addrs: Vec<SocketAddr>,
    pub dispatcher: Arc<Dispatcher>,
    pub max_size: usize,
    pub flows: Arc<Flows>,
    /// When new out-of-dialog requests are shed (503).
    pub shedding: super::udp::Shedding,
    /// The switch's room for calls (a new INVITE is shed when there is none).
    pub capacity: Option<super::udp::CallCapacity>,
    /// SIP over TLS: the loaded certificate and where to listen.
    pub tls: Option<(super::tls::Tls, Vec<SocketAddr>)>,
}

pub enum TransportMsg {
    /// Where the transport listens, as `("udp"|"tcp"|"tls", address)`.
    LocalAddrs(RpcReplyPort<Vec<(&'static str, SocketAddr)>>),
}

pub struct TransportState {
    tasks: Vec<JoinHandle<()>>,
    bound: Vec<(&'static str, SocketAddr)>,
}

pub struct Transport;

fn udp_socket(addr: SocketAddr) -> std::io::Result<UdpSocket> {
    let s = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if addr.is_ipv6() {
        s.set_only_v6(true)?;
    }
    // Room for bursts: a registration storm must not overflow the kernel queue.
    let _ = s.set_recv_buffer_size(8 << 20);
    let _ = s.set_send_buffer_size(8 << 20);
    s.set_nonblocking(true)?;
    s.bind(&addr.into())?;
    UdpSocket::from_std(s.into())
}

fn tcp_listener(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let s = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    if addr.is_ipv6() {
        s.set_only_v6(true)?;
    }
    s.set_reuse_address(true)?;
    s.set_nonblocking(true)?;
    s.bind(&addr.into())?;
    s.listen(1024)?;
    TcpListener::from_std(s.into())
}

/// Binds UDP and TCP on the same port (a free one when the port is 0).
fn bind_pair(addr: SocketAddr) -> std::io::Result<(UdpSocket, TcpListener)> {
    let mut last = None;
    for _ in 0..20 {
        let udp = udp_socket(addr)?;
        let port = udp.local_addr()?.port();
        let tcp_addr = SocketAddr::new(addr.ip(), port);
        let s = Socket::new(
            Domain::for_address(tcp_addr),
            Type::STREAM,
            Some(Protocol::TCP),
        )?;
        if tcp_addr.is_ipv6() {
            s.set_only_v6(true)?;
        }
        s.set_reuse_address(true)?;
        s.set_nonblocking(true)?;
        match s.bind(&tcp_addr.into()) {
            Ok(()) => {
                s.listen(1024)?;
                return Ok((udp, TcpListener::from_std(s.into())?));
            }
            Err(e) if addr.port() == 0 => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("no free port")))
}

impl Actor for Transport {
    type Msg = TransportMsg;
    type State = TransportState;
    type Arguments = TransportArgs;

    async fn pre_start(
        &self,
        _: ActorRef<TransportMsg>,
        args: TransportArgs,
    ) -> Result<TransportState, ActorProcessingErr> {
        let mut tasks = Vec::new();
        let mut bound = Vec::new();
        args.dispatcher
            .out
            .set_connector(&args.dispatcher, args.max_size);
        for addr in &args.addrs {
            let (udp_sock, listener) =
                bind_pair(*addr).map_err(|e| format!("cannot listen on {addr}: {e}"))?;
            bound.push(("udp", udp_sock.local_addr()?));
            bound.push(("tcp", listener.local_addr()?));
            let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
            args.dispatcher
                .out
                .add_udp(udp_sock.local_addr()?, tx.clone());
            tasks.push(tokio::spawn(udp::run(
                Arc::new(udp_sock),
                args.dispatcher.clone(),
                (args.max_size, args.shedding, args.capacity.clone()),
                tx,
                rx,
            )));
            tasks.push(tokio::spawn(tcp::accept_loop(
                listener,
                args.dispatcher.clone(),
                args.max_size,
                args.flows.clone(),
                None,
            )));
        }
        if let Some((tls, addrs)) = &args.tls {
            for addr in addrs {
                let listener =
                    tcp_listener(*addr).map_err(|e| format!("cannot listen on {addr}: {e}"))?;
                let local = listener.local_addr()?;
                bound.push(("tls", local));
                args.dispatcher.out.add_tls(local);
                tasks.push(tokio::spawn(tcp::accept_loop(
                    listener,
                    args.dispatcher.clone(),
                    args.max_size,
                    args.flows.clone(),
                    Some(tls.acceptor.clone()),
                )));
            }
            args.dispatcher.out.set_tls(tls.clone());
        }
        for (proto, a) in &bound {
            tracing::info!(%proto, addr = %a, "SIP listening");
        }
        Ok(TransportState { tasks, bound })
    }

    async fn handle(
        &self,
        _: ActorRef<TransportMsg>,
        msg: TransportMsg,
        state: &mut TransportState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            TransportMsg::LocalAddrs(reply) => {
                let _ = reply.send(state.bound.clone());
            }
        }
        Ok(())
    }

    async fn post_stop(
        &self,
        _: ActorRef<TransportMsg>,
        state: &mut TransportState,
    ) -> Result<(), ActorProcessingErr> {
        for t in state.tasks.drain(..) {
            t.abort();
        }
        Ok(())
    }
}
