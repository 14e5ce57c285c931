//! A simulated phone: one UDP socket for SIP, a task reading it that hands each
//! message to the dialog (registration or call leg) its Call-ID belongs to, and the
//! registration with digest auth.
//!
//! Every phone sends to the switch (its outbound proxy); in-dialog requests carry the
//! remote Contact as Request-URI.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use engine::sip::{HeaderName, Message, MessageWriter};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::report::Cause;
use crate::run::Ctx;
use engine::auth::client::Challenge;

/// RFC 3261's T1 and T2.
pub const T1: Duration = Duration::from_millis(500);
pub const T2: Duration = Duration::from_secs(4);

/// Messages of one dialog (by Call-ID).
pub type Inbox = mpsc::UnboundedReceiver<Message>;

/// How often polled sockets are read where the reading is timed as read: a UAC's calls
/// on the task-per-call path (`receive_polled`) and a registration storm's sockets.
/// Shorter than the table engine's tick (`uac::TICK`), which times responses by
/// their kernel arrival stamps instead.
pub const POLL_TICK: Duration = Duration::from_millis(2);

/// How many ended Call-IDs a phone remembers, to drop their late retransmissions.
const ENDED_MEMORY: usize = 32;

pub struct Phone {
    pub index: usize,
    pub ext: u32,
    pub password: String,
    sock: Sock,
    pub local: SocketAddr,
    routes: Mutex<HashMap<String, mpsc::UnboundedSender<Message>>>,
    /// UAS mode: where each dialog's messages come from (by Call-ID); what it sends
    /// goes there, not to the target.
    peers: Mutex<HashMap<String, SocketAddr>>,
    ended: Mutex<VecDeque<String>>,
    /// A flow's carrier (`Scenario::carrier`): a registrar for the switch's trunks, a
    /// UAS for its DIDs, the source of calls into the switch; it answers where each
    /// request came from, as a UAS does.
    pub carrier: bool,
}

/// A phone's SIP socket: read by its own task, woken by every datagram (a phone among
/// thousands), or polled in batches with the other polled sockets (a UAC's few busy
/// sockets: one wake-up a tick however many datagrams came).
enum Sock {
    Async(UdpSocket),
    Polled(std::net::UdpSocket),
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A branch, tag or Call-ID part no other message of the run has.
pub fn unique(ctx: &Ctx) -> String {
    format!(
        "{:x}",
        ctx.ids.fetch_add(1, std::sync::atomic::Ordering::Relaxed) ^ ctx.salt
    )
}

impl Phone {
    pub async fn bind(
        index: usize,
        ext: u32,
        password: String,
        ip: std::net::IpAddr,
    ) -> std::io::Result<Phone> {
        Phone::bind_addr(index, ext, password, SocketAddr::new(ip, 0)).await
    }

    /// A phone on the socket address `addr`.
    pub async fn bind_addr(
        index: usize,
        ext: u32,
        password: String,
        addr: SocketAddr,
    ) -> std::io::Result<Phone> {
        let sock = UdpSocket::bind(addr).await?;
        let local = sock.local_addr()?;
        Ok(Phone::with(index, ext, password, Sock::Async(sock), local))
    }

    /// A phone on `addr` whose socket is polled (`receive_polled`), not waited on.
    pub fn bind_polled(
        index: usize,
        ext: u32,
        password: String,
        addr: SocketAddr,
    ) -> std::io::Result<Phone> {
        let sock = std::net::UdpSocket::bind(addr)?;
        sock.set_nonblocking(true)?;
        let local = sock.local_addr()?;
        Ok(Phone::with(index, ext, password, Sock::Polled(sock), local))
    }

    fn with(index: usize, ext: u32, password: String, sock: Sock, local: SocketAddr) -> Phone {
        Phone {
            index,
            ext,
            password,
            sock,
            local,
            routes: Mutex::new(HashMap::new()),
            peers: Mutex::new(HashMap::new()),
            ended: Mutex::new(VecDeque::new()),
            carrier: false,
        }
    }

    /// This phone as a flow's carrier.
    pub fn into_carrier(mut self) -> Phone {
        self.carrier = true;
        self
    }

    /// Whether the phone answers each dialog where its requests come from (a UAS, a
    /// carrier) rather than sending everything to the switch.
    fn answers_peers(&self, ctx: &Ctx) -> bool {
        self.carrier || ctx.scenario.mode == crate::scenario::Mode::Uas
    }

    /// The socket, when it is polled (not waited on).
    fn polled_socket(&self) -> Option<&std::net::UdpSocket> {
        match &self.sock {
            Sock::Polled(s) => Some(s),
            Sock::Async(_) => None,
        }
    }

    /// Sends `bytes` to `to` at once from a polled socket (false if it is not one, or
    /// the send failed).
    pub fn send_now(&self, to: SocketAddr, bytes: &[u8]) -> bool {
        self.polled_socket()
            .is_some_and(|s| s.send_to(bytes, to).is_ok())
    }

    /// The next datagram waiting on a polled socket and its source; `None` once there
    /// is none (or the socket is not a polled one). ICMP errors (port unreachable and
    /// the like) are read past.
    pub fn try_recv(&self, buf: &mut [u8]) -> Option<(usize, SocketAddr)> {
        let sock = self.polled_socket()?;
        loop {
            match sock.recv_from(buf) {
                Ok(got) => return Some(got),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return None,
                Err(_) => continue,
            }
        }
    }

    /// As `try_recv`, with the datagram's arrival time as the kernel stamped it
    /// (`None` where it did not); `cmsg` is the reused control-message buffer
    /// (`arrival_space`).
    pub fn try_recv_stamped(
        &self,
        buf: &mut [u8],
        cmsg: &mut [u8],
    ) -> Option<(usize, Option<SystemTime>)> {
        use nix::errno::Errno;
        use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
        use std::os::fd::AsRawFd;
        let fd = self.polled_socket()?.as_raw_fd();
        loop {
            let mut iov = [std::io::IoSliceMut::new(buf)];
            match recvmsg::<()>(fd, &mut iov, Some(cmsg), MsgFlags::empty()) {
                Ok(msg) => {
                    let at = msg.cmsgs().ok().and_then(|mut all| {
                        all.find_map(|c| match c {
                            ControlMessageOwned::ScmTimestampns(ts) => {
                                let since = Duration::new(
                                    u64::try_from(ts.tv_sec()).ok()?,
                                    u32::try_from(ts.tv_nsec()).ok()?,
                                );
                                SystemTime::UNIX_EPOCH.checked_add(since)
                            }
                            _ => None,
                        })
                    });
                    return Some((msg.bytes, at));
                }
                Err(Errno::EINTR) => continue,
                // EAGAIN: nothing more; anything else is not retried (no spinning).
                Err(_) => return None,
            }
        }
    }

    /// Asks the kernel to stamp each datagram this phone's polled socket receives with
    /// its arrival time (read by `try_recv_stamped`); where it cannot, datagrams are
    /// timed when read.
    pub fn stamp_arrivals(&self) {
        use nix::sys::socket::{setsockopt, sockopt::ReceiveTimestampns};
        if let Some(sock) = self.polled_socket() {
            if let Err(e) = setsockopt(sock, ReceiveTimestampns, &true) {
                tracing::debug!(error = %e, "no arrival stamps: datagrams timed when read");
            }
        }
    }

    /// Whether the socket is read by `receive_polled`.
    pub fn is_polled(&self) -> bool {
        matches!(self.sock, Sock::Polled(_))
    }

    /// Sends to the switch.
    pub async fn send(&self, ctx: &Ctx, bytes: &[u8]) -> bool {
        let mut to = ctx.scenario.target;
        if self.answers_peers(ctx) {
            if let Some(peer) = call_id_of(bytes).and_then(|c| lock(&self.peers).get(c).copied()) {
                to = peer;
            }
        }
        match &self.sock {
            Sock::Async(s) => s.send_to(bytes, to).await.is_ok(),
            Sock::Polled(s) => s.send_to(bytes, to).is_ok(),
        }
    }

    /// Sends what belongs to dialog `call_id` to `to` (a carrier's call to a Contact).
    pub fn send_dialog_to(&self, call_id: &str, to: SocketAddr) {
        lock(&self.peers).insert(call_id.to_owned(), to);
    }

    /// Routes the messages of `call_id` to the returned inbox until `close`.
    pub fn open(&self, call_id: &str) -> Inbox {
        let (tx, rx) = mpsc::unbounded_channel();
        lock(&self.routes).insert(call_id.to_owned(), tx);
        rx
    }

    pub fn close(&self, call_id: &str) {
        lock(&self.routes).remove(call_id);
        lock(&self.peers).remove(call_id);
        let mut ended = lock(&self.ended);
        if ended.len() == ENDED_MEMORY {
            ended.pop_front();
        }
        ended.push_back(call_id.to_owned());
    }

    /// Reads the socket until the task is aborted (an `Async` socket).
    pub async fn receive(self: Arc<Self>, ctx: Arc<Ctx>) {
        let Sock::Async(sock) = &self.sock else {
            return;
        };
        let mut buf = vec![0u8; 65536];
        loop {
            match sock.recv_from(&mut buf).await {
                Ok((n, src)) => self.deliver(&ctx, &buf[..n], src).await,
                Err(_) => {
                    // ICMP port unreachable and the like: keep reading, but do not spin.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        }
    }

    /// Reads every polled socket of `phones` each tick (`POLL_TICK`), each until it
    /// has nothing more, until the task is aborted.
    pub async fn receive_polled(phones: Vec<Arc<Phone>>, ctx: Arc<Ctx>) {
        let mut buf = vec![0u8; 65536];
        let mut tick = tokio::time::interval(POLL_TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tick.tick().await;
            for phone in &phones {
                while let Some((n, src)) = phone.try_recv(&mut buf) {
                    phone.deliver(&ctx, &buf[..n], src).await;
                }
            }
        }
    }

    /// Hands a datagram to the dialog its Call-ID belongs to; a new INVITE starts a
    /// callee; a request for no dialog gets 481.
    async fn deliver(self: &Arc<Self>, ctx: &Arc<Ctx>, bytes: &[u8], src: SocketAddr) {
        if self.answers_peers(ctx) {
            if let Some(c) = call_id_of(bytes) {
                lock(&self.peers).insert(c.to_owned(), src);
            }
        }
        let Ok(msg) = Message::parse(bytes.to_vec()) else {
            return;
        };
        // A carrier is a registrar too: a trunk's REGISTER.
        if self.answers_peers(ctx) && msg.method().map(|m| m.as_str()) == Some("REGISTER") {
            // Answered where it came from (`peers`), then forgotten.
            crate::registrar::register(ctx, self, &msg).await;
            lock(&self.peers).remove(msg.call_id().unwrap_or_default());
            return;
        }
        let Some(call_id) = msg.call_id().map(str::to_owned) else {
            return;
        };
        let route = lock(&self.routes).get(&call_id).cloned();
        if let Some(tx) = route {
            let _ = tx.send(msg);
            return;
        }
        if lock(&self.ended).contains(&call_id) {
            return;
        }
        let is_new_invite = msg.method().map(|m| m.as_str()) == Some("INVITE")
            && msg.to().is_some_and(|t| t.tag().is_none());
        if is_new_invite {
            let inbox = self.open(&call_id);
            tokio::spawn(crate::call::answer(ctx.clone(), self.clone(), msg, inbox));
        } else if msg.is_request() && msg.method().map(|m| m.as_str()) != Some("ACK") {
            let resp = MessageWriter::response_to(
                &msg,
                481,
                "Call/Transaction Does Not Exist",
                Some("sim"),
            )
            .finish();
            self.send(ctx, &resp).await;
        }
    }

    /// The REGISTER request (`auth`: an Authorization value).
    fn register_request(
        &self,
        ctx: &Ctx,
        call_id: &str,
        cseq: u32,
        expires: u32,
        auth: Option<&str>,
    ) -> Vec<u8> {
        let user = self.ext.to_string();
        let account = crate::ua::Account {
            user: &user,
            domain: &ctx.scenario.domain,
            local: self.local,
            transport: "UDP",
        };
        let ids = crate::ua::Ids {
            call_id,
            cseq,
            branch: &format!("z9hG4bK{}", unique(ctx)),
            from_tag: &format!("r{}", self.index),
        };
        let mut w = account.register(&ids, None, Some(expires));
        w.header("User-Agent", "pbx-sim");
        if let Some(a) = auth {
            w.header("Authorization", a);
        }
        w.finish()
    }

    /// Registers (or, with `expires` 0, unregisters), answering the 401; `Ok` on 2xx.
    pub async fn register(
        &self,
        ctx: &Ctx,
        inbox: &mut Inbox,
        call_id: &str,
        cseq: &mut u32,
        expires: u32,
    ) -> Result<(), Cause> {
        let deadline = Instant::now() + ctx.scenario.timeout;
        *cseq += 1;
        let req = self.register_request(ctx, call_id, *cseq, expires, None);
        let mut resp = self
            .transact(ctx, inbox, &req, "REGISTER", *cseq, deadline)
            .await?;
        if resp.code() == Some(401) {
            let challenge = Challenge::from_response(&resp).ok_or(Cause::RegisterCode(401))?;
            let uri = format!("sip:{}", ctx.scenario.domain);
            let auth = challenge.answer(
                &self.ext.to_string(),
                &self.password,
                "REGISTER",
                &uri,
                &unique(ctx),
            );
            *cseq += 1;
            let req = self.register_request(ctx, call_id, *cseq, expires, Some(&auth));
            resp = self
                .transact(ctx, inbox, &req, "REGISTER", *cseq, deadline)
                .await?;
        }
        match resp.code() {
            Some(200..=299) => Ok(()),
            Some(c) => Err(Cause::RegisterCode(c)),
            None => Err(Cause::RegisterTimeout),
        }
    }

    /// A non-INVITE client transaction (RFC 3261 §17.1.2): sends `req`, resends it at
    /// T1, 2·T1, … T2 until a final response to (`method`, `cseq`) or `deadline`.
    pub async fn transact(
        &self,
        ctx: &Ctx,
        inbox: &mut Inbox,
        req: &[u8],
        method: &str,
        cseq: u32,
        deadline: Instant,
    ) -> Result<Message, Cause> {
        let timeout_cause = if method == "REGISTER" {
            Cause::RegisterTimeout
        } else {
            Cause::ByeTimeout
        };
        if !self.send(ctx, req).await {
            return Err(Cause::SendError);
        }
        let mut wait = T1;
        let mut resend_at = Instant::now() + wait;
        loop {
            let until = resend_at.min(deadline);
            match tokio::time::timeout_at(until, inbox.recv()).await {
                Ok(Some(m)) => {
                    let matches = m
                        .cseq()
                        .is_some_and(|c| c.seq == cseq && c.method == method);
                    match m.code() {
                        Some(code) if matches && code >= 200 => return Ok(m),
                        Some(_) => {}
                        None => self.answer_stray(ctx, &m).await,
                    }
                }
                Ok(None) => return Err(timeout_cause),
                Err(_) if Instant::now() >= deadline => return Err(timeout_cause),
                Err(_) => {
                    self.send(ctx, req).await;
                    wait = (wait * 2).min(T2);
                    resend_at = Instant::now() + wait;
                }
            }
        }
    }

    /// Answers a request that arrived in a dialog that does not expect one now.
    pub async fn answer_stray(&self, ctx: &Ctx, m: &Message) {
        if m.method().map(|x| x.as_str()) != Some("ACK") {
            let resp = MessageWriter::response_to(m, 200, "OK", None).finish();
            self.send(ctx, &resp).await;
        }
    }
}

/// Keeps a phone registered: registers, then refreshes at half the expiry until the
/// task is aborted. Reports the first attempt's outcome through `first`.
pub async fn keep_registered(
    ctx: Arc<Ctx>,
    phone: Arc<Phone>,
    first: tokio::sync::oneshot::Sender<Result<(), Cause>>,
) {
    let call_id = format!("reg-{}-{}", phone.ext, unique(&ctx));
    let mut inbox = phone.open(&call_id);
    let mut cseq = 0;
    let expires = ctx.scenario.register_expires;
    let r = phone
        .register(&ctx, &mut inbox, &call_id, &mut cseq, expires)
        .await;
    let ok = r.is_ok();
    let _ = first.send(r);
    if !ok {
        phone.close(&call_id);
        return;
    }
    loop {
        tokio::time::sleep(Duration::from_secs(u64::from(expires) / 2)).await;
        // A failed refresh is retried at the next one (the binding is still valid).
        let _ = phone
            .register(&ctx, &mut inbox, &call_id, &mut cseq, expires)
            .await;
    }
}

/// Removes a phone's binding at the end of a run (best effort, one timeout).
pub async fn unregister(ctx: Arc<Ctx>, phone: Arc<Phone>) -> bool {
    let call_id = format!("unreg-{}-{}", phone.ext, unique(&ctx));
    let mut inbox = phone.open(&call_id);
    let mut cseq = 0;
    let r = phone
        .register(&ctx, &mut inbox, &call_id, &mut cseq, 0)
        .await;
    phone.close(&call_id);
    r.is_ok()
}

/// The Call-ID of a SIP message's bytes (long or compact form), without parsing it.
pub fn call_id_of(bytes: &[u8]) -> Option<&str> {
    head_fields(bytes)
        .flatten()
        .find(|(name, _)| name.eq_ignore_ascii_case("call-id") || name.eq_ignore_ascii_case("i"))
        .map(|(_, value)| value)
}

/// The header fields of a message's head, read line by line without parsing it: each
/// `(name, value)` trimmed, up to the blank line; `None` for a line that is folded,
/// has no colon or is not UTF-8.
pub fn head_fields(bytes: &[u8]) -> impl Iterator<Item = Option<(&str, &str)>> {
    bytes
        .split(|&b| b == b'\n')
        .skip(1)
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
        .take_while(|line| !line.is_empty())
        .map(|line| {
            if matches!(line[0], b' ' | b'\t') {
                return None;
            }
            let (name, value) = std::str::from_utf8(line).ok()?.split_once(':')?;
            Some((name.trim(), value.trim()))
        })
}

/// The value of a header of `m`, or "".
pub fn header(m: &Message, name: HeaderName) -> &str {
    m.header(name).unwrap_or("")
}

/// A control-message buffer that holds an arrival stamp.
pub fn arrival_space() -> Vec<u8> {
    nix::cmsg_space!(nix::sys::time::TimeSpec)
}

/// A moment read from both clocks at once: turns the kernel's wall-clock arrival
/// stamps into the runtime's `Instant`s.
#[derive(Debug, Clone, Copy)]
pub struct Clocks {
    pub now: Instant,
    wall: SystemTime,
}

impl Clocks {
    pub fn read() -> Clocks {
        Clocks {
            now: Instant::now(),
            wall: SystemTime::now(),
        }
    }

    /// When a datagram stamped `at` arrived: unstamped, or stamped after these clocks
    /// were read (it came while the sockets were being read, or the wall clock
    /// stepped), it is timed now.
    pub fn arrival(&self, at: Option<SystemTime>) -> Instant {
        let ago = at.and_then(|at| self.wall.duration_since(at).ok());
        ago.and_then(|ago| self.now.checked_sub(ago))
            .unwrap_or_else(Instant::now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn call_id_of_raw_messages() {
        let m =
            b"SIP/2.0 200 OK\r\nVia: x\r\nCall-ID: abc@h\r\nCSeq: 1 INVITE\r\n\r\nCall-ID: body";
        assert_eq!(call_id_of(m), Some("abc@h"));
        assert_eq!(
            call_id_of(b"BYE sip:a SIP/2.0\r\ni: xyz\r\n\r\n"),
            Some("xyz")
        );
        assert_eq!(call_id_of(b"BYE sip:a SIP/2.0\r\nTo: x\r\n\r\n"), None);
    }
}
