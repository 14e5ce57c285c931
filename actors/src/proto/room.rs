//! The way to a conference room's task (`conference.rs`): joining, leaving (a seat
//! dropped), and removing a member by its user.

use std::net::SocketAddr;

use media::conference::MemberId;
use ractor::ActorRef;
use tokio::sync::{mpsc, oneshot};

use super::CallMsg;
use crate::media_relay::Voice;

/// A handle on a room's task (cloned by each call that joins).
#[derive(Debug, Clone)]
pub struct RoomHandle {
    tx: mpsc::UnboundedSender<RoomMsg>,
}

/// Who a member is: the user it is seated as, and its call (told when the member is
/// removed).
#[derive(Debug, Clone)]
pub struct MemberOf {
    pub user: String,
    pub call: ActorRef<CallMsg>,
}

/// What a room's task is asked.
#[derive(Debug)]
pub enum RoomMsg {
    Join {
        voice: Voice,
        /// The only address the member's port takes RTP from and sends it to (the
        /// relay side spliced to it).
        peer: SocketAddr,
        member: MemberOf,
        reply: oneshot::Sender<Option<(MemberId, SocketAddr)>>,
    },
    Leave(MemberId),
    /// Remove the members seated as `user` (their calls are told): whether any was.
    Remove {
        user: String,
        reply: oneshot::Sender<bool>,
    },
}

/// A member's place in a room; dropping it leaves the room.
#[derive(Debug)]
pub struct Seat {
    pub id: MemberId,
    /// The member's RTP port on the switch.
    pub addr: SocketAddr,
    room: RoomHandle,
}

impl Drop for Seat {
    fn drop(&mut self) {
        let _ = self.room.tx.send(RoomMsg::Leave(self.id));
    }
}

impl RoomHandle {
    /// The handle on a task reading `tx`'s other end.
    pub fn new(tx: mpsc::UnboundedSender<RoomMsg>) -> RoomHandle {
        RoomHandle { tx }
    }

    /// True once the room's task has ended (its last member left).
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }

    /// Joins as `member` speaking `voice`, whose RTP comes from (and goes to) `peer`.
    pub async fn join(&self, voice: Voice, peer: SocketAddr, member: MemberOf) -> Option<Seat> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(RoomMsg::Join {
                voice,
                peer,
                member,
                reply,
            })
            .ok()?;
        let (id, addr) = rx.await.ok()??;
        Some(Seat {
            id,
            addr,
            room: self.clone(),
        })
    }

    /// Removes the members seated as `user`: true when there was one.
    pub async fn remove(&self, user: &str) -> bool {
        let (reply, rx) = oneshot::channel();
        let asked = self.tx.send(RoomMsg::Remove {
            user: user.to_owned(),
            reply,
        });
        asked.is_ok() && rx.await.unwrap_or(false)
    }
}
