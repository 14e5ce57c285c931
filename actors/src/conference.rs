//! Conference rooms: one tokio task per room in use, owning the room's media
//! (`media::conference::Conference`) and one RTP port per member. A caller who dials a
//! room of the plan is answered by its call, whose relay side B is spliced to the
//! member's port (so the caller keeps its latching, NAT handling and codec); the task
//! decodes what each member sends, mixes every 20 ms and sends each member the mix of
//! everyone else in its own codec. The last member leaving ends the task; a room
//! nobody is in costs nothing. The tenant keeps the handles of its rooms in use.

use std::future::{poll_fn, Future};
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;

use media::conference::{Conference, MemberId};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::media_relay::{PortLease, PortPool, Voice};
use crate::proto::{CallMsg, MemberOf, RoomHandle, RoomMsg};

/// Starts a room's task on `ip`, taking ports from `pool`.
pub fn open(name: &str, ip: IpAddr, pool: Arc<PortPool>) -> RoomHandle {
    let (tx, rx) = mpsc::unbounded_channel();
    let task = RoomTask {
        name: name.to_owned(),
        ip,
        pool,
        room: Conference::new(),
        members: Vec::new(),
        ctl: rx,
        epoch: Instant::now(),
        timer: None,
        out: Vec::new(),
        buf: vec![0; 2048],
        started: false,
    };
    tokio::spawn(task.run());
    RoomHandle::new(tx)
}

struct Member {
    id: MemberId,
    of: MemberOf,
    sock: UdpSocket,
    peer: SocketAddr,
    _rtcp: std::net::UdpSocket,
    _lease: PortLease,
}

struct RoomTask {
    name: String,
    ip: IpAddr,
    pool: Arc<PortPool>,
    room: Conference,
    members: Vec<Member>,
    ctl: mpsc::UnboundedReceiver<RoomMsg>,
    epoch: Instant,
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
    out: Vec<(MemberId, Vec<u8>)>,
    buf: Vec<u8>,
    /// Somebody joined once: the room ends when it is empty again.
    started: bool,
}

impl RoomTask {
    async fn run(mut self) {
        tracing::debug!(room = %self.name, "conference room opened");
        loop {
            let (control, readable, due) = poll_fn(|cx| {
                let control = match self.ctl.poll_recv(cx) {
                    Poll::Ready(c) => Some(c),
                    Poll::Pending => None,
                };
                let readable: Vec<usize> = self
                    .members
                    .iter()
                    .enumerate()
                    .filter(|(_, m)| m.sock.poll_recv_ready(cx).is_ready())
                    .map(|(i, _)| i)
                    .collect();
                let due = self
                    .timer
                    .as_mut()
                    .is_some_and(|t| t.as_mut().poll(cx).is_ready());
                if control.is_none() && readable.is_empty() && !due {
                    return Poll::Pending;
                }
                Poll::Ready((control, readable, due))
            })
            .await;
            match control {
                Some(Some(m)) => self.on_control(m),
                Some(None) => break,
                None => {}
            }
            let now = Instant::now();
            for i in readable {
                self.drain(i, now);
            }
            if due || self.timer.is_none() {
                self.tick(now);
            }
            if self.started && self.members.is_empty() {
                // A caller may be joining right now: take what is queued first.
                while let Ok(m) = self.ctl.try_recv() {
                    self.on_control(m);
                }
                if self.members.is_empty() {
                    break;
                }
            }
        }
        tracing::debug!(room = %self.name, "conference room closed");
    }

    fn on_control(&mut self, m: RoomMsg) {
        match m {
            RoomMsg::Join {
                voice,
                peer,
                member,
                reply,
            } => {
                let seat = self.seat(voice, peer, member);
                // Even a failed join opens the room: empty, it ends.
                self.started = true;
                if let Some((id, _)) = seat {
                    tracing::debug!(room = %self.name, member = id, members = self.members.len(), "member joined");
                }
                let _ = reply.send(seat);
            }
            RoomMsg::Remove { user, reply } => {
                let mut any = false;
                for m in self.members.iter().filter(|m| m.of.user == user) {
                    any = true;
                    let _ = m.of.call.send_message(CallMsg::Removed(m.id));
                }
                tracing::debug!(room = %self.name, user, removed = any, "member removal asked");
                let _ = reply.send(any);
            }
            RoomMsg::Leave(id) => {
                self.room.leave(id);
                self.members.retain(|m| m.id != id);
                tracing::debug!(room = %self.name, member = id, members = self.members.len(), "member left");
            }
        }
    }

    fn seat(
        &mut self,
        voice: Voice,
        peer: SocketAddr,
        of: MemberOf,
    ) -> Option<(MemberId, SocketAddr)> {
        let pair = self.pool.allocate(self.ip).ok()?;
        let sock = UdpSocket::from_std(pair.rtp).ok()?;
        let addr = sock.local_addr().ok()?;
        let id = self
            .room
            .join(voice.kind, voice.pt, rand::random())
            .map_err(|e| tracing::warn!(error = %e, "cannot join the conference"))
            .ok()?;
        self.members.push(Member {
            id,
            of,
            sock,
            peer,
            _rtcp: pair.rtcp,
            _lease: pair.lease,
        });
        Some((id, addr))
    }

    /// Takes what member `i` sent; only its peer's packets count.
    fn drain(&mut self, i: usize, now: Instant) {
        let at = now.duration_since(self.epoch);
        let Some(m) = self.members.get(i) else {
            return;
        };
        for _ in 0..64 {
            match m.sock.try_recv_from(&mut self.buf) {
                Ok((n, src)) if src == m.peer => self.room.receive(m.id, at, &self.buf[..n]),
                Ok(_) => {}
                Err(_) => break,
            }
        }
    }

    /// Mixes the rounds due, sends them, and sets the timer for the next.
    fn tick(&mut self, now: Instant) {
        self.out.clear();
        if let Err(e) = self
            .room
            .tick(now.duration_since(self.epoch), &mut self.out)
        {
            tracing::debug!(error = %e, "conference round not encoded");
        }
        for (id, d) in &self.out {
            if let Some(m) = self.members.iter().find(|m| m.id == *id) {
                let _ = m.sock.try_send_to(d, m.peer);
            }
        }
        self.timer = self.room.deadline().map(|d| {
            let when = self.epoch + d;
            match self.timer.take() {
                Some(mut t) => {
                    t.as_mut().reset(when);
                    t
                }
                None => Box::pin(tokio::time::sleep_until(when)),
            }
        });
    }
}
