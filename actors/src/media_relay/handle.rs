//! The handle a call keeps on its relay: controls go to the relay's worker thread,
//! counters come back through shared atomics.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use super::port_pool::PortPool;
use super::relay::{Control, Listener, MediaEvent, MediaRelay, RelayStats, Shared, Side, Voice};
use super::worker::{self, Command, Worker};
use crate::{Error, Result};

/// The handle a call keeps on its relay. Dropping it ends the relay too (its worker
/// drops it, closing the sockets and returning the ports).
#[derive(Debug)]
pub struct RelayHandle {
    id: u64,
    worker: &'static Worker,
    shared: Arc<Shared>,
    local: (SocketAddr, SocketAddr),
    /// The worker was told to drop the relay already.
    removed: bool,
}

impl MediaRelay {
    /// Takes two port pairs from `pool` on `local_ip` and hands the relay to an RTP
    /// worker thread (started on first use).
    pub fn start(local_ip: IpAddr, pool: &Arc<PortPool>) -> Result<RelayHandle> {
        let a = pool.allocate(local_ip)?;
        let b = pool.allocate(local_ip)?;
        let local = (a.rtp.local_addr()?, b.rtp.local_addr()?);
        let shared = Arc::new(Shared::default());
        let relay = MediaRelay::new(a, b, Arc::clone(&shared));
        let (id, worker) = worker::assign();
        worker.send(Command::Add(id, Box::new(relay)));
        tracing::debug!(a = %local.0, b = %local.1, "media relay started");
        Ok(RelayHandle {
            id,
            worker,
            shared,
            local,
            removed: false,
        })
    }
}

impl RelayHandle {
    /// The local RTP addresses of side A and side B (RTCP on the next port each), to
    /// write into the SDP sent to leg A and leg B.
    pub fn ports(&self) -> (SocketAddr, SocketAddr) {
        self.local
    }

    /// Where `side`'s leg said (in its SDP) it receives RTP. RTCP goes to the next
    /// port unless [`RelayHandle::set_remote_rtcp`] says otherwise afterwards. Forgets
    /// what the side had latched: it latches again (see `latch.rs` for which sources
    /// may).
    pub fn set_remote(&self, side: Side, rtp: SocketAddr) {
        self.send(Control::Remote {
            side,
            rtp: Some(rtp),
        });
    }

    /// `side`'s SDP named no address the switch sends to before hearing from it: its
    /// media waits for the latch.
    pub fn forget_remote(&self, side: Side) {
        self.send(Control::Remote { side, rtp: None });
    }

    /// `side`'s SIP comes from `ip`: RTP from another port on that address may latch
    /// (a NAT in front of the phone).
    pub fn set_signalling(&self, side: Side, ip: IpAddr) {
        self.send(Control::Signalling { side, ip: Some(ip) });
    }

    /// No signalling address for `side` (another relay, or a party that left): only
    /// the SDP's address may latch.
    pub fn clear_signalling(&self, side: Side) {
        self.send(Control::Signalling { side, ip: None });
    }

    /// Where `side`'s leg receives RTCP (SDP `a=rtcp`); the RTP address itself means
    /// RTCP multiplexed on the RTP port (RFC 5761).
    pub fn set_remote_rtcp(&self, side: Side, rtcp: SocketAddr) {
        self.send(Control::RemoteRtcp { side, rtcp });
    }

    /// Leg A sends and receives payload type `a_pt`, leg B `b_pt`; each is PCMU (0) or
    /// PCMA (8). When they differ, G.711 payloads are converted both ways (sequence
    /// numbers and timestamps kept); other payload types pass unchanged.
    pub fn set_transcode(&self, a_pt: u8, b_pt: u8) -> Result<()> {
        let voice = |pt| {
            Voice::g711(pt).ok_or_else(|| {
                Error::Invalid(format!(
                    "set_transcode takes PCMU (0) and PCMA (8) only, not payload type {pt}"
                ))
            })
        };
        self.set_codecs(voice(a_pt)?, voice(b_pt)?);
        Ok(())
    }

    /// Leg A speaks `a`, leg B `b`. The same codec passes untouched (its payload type
    /// relabelled when the legs numbered it differently); G.711 laws convert in place;
    /// any other pair is transcoded (decoded, resampled, encoded: `media::path`).
    pub fn set_codecs(&self, a: Voice, b: Voice) {
        self.send(Control::Codecs([Some(a), Some(b)]));
    }

    /// Leg A sends and receives telephone-events (RFC 4733) as payload type `a_pt`,
    /// leg B as `b_pt`: each event packet is relabelled on its way across.
    pub fn set_event_pts(&self, a_pt: u8, b_pt: u8) {
        self.send(Control::Events(Some(a_pt), Some(b_pt)));
    }

    /// Like [`RelayHandle::set_event_pts`] where a leg may have negotiated none.
    pub fn set_event_pts_of(&self, a_pt: Option<u8>, b_pt: Option<u8>) {
        self.send(Control::Events(a_pt, b_pt));
    }

    /// Calls `f` with each [`MediaEvent`]: each key a leg presses (once per press,
    /// when it ends) as telephone-events, or, from a G.711 leg that negotiated none,
    /// as tones in its audio (Goertzel); each played source that has played out.
    pub fn listen(&self, f: impl Fn(MediaEvent) + Send + 'static) {
        self.send(Control::Listen(Listener(Box::new(f))));
    }

    /// Stops transcoding.
    pub fn clear_transcode(&self) {
        self.send(Control::Codecs([None, None]));
    }

    /// Holds (or resumes) `side`: RTP towards it is dropped while held. RTCP still
    /// flows, so the session stays alive; what the held side sends is still relayed.
    pub fn set_hold(&self, side: Side, held: bool) {
        self.send(Control::Hold { side, held });
    }

    /// SRTP with `side`'s leg under these keys, or plain RTP (`None`).
    pub fn set_srtp(&self, side: Side, keys: Option<super::relay::SrtpKeys>) {
        self.send(Control::Srtp { side, keys });
    }

    /// The switch sends `side`'s leg RTCP reports of its own on what it hears (a
    /// conference room's mix, which reports nothing), and keeps the other side's
    /// reports from it.
    pub fn own_reports(&self, side: Side, on: bool) {
        self.send(Control::OwnReports { side, on });
    }

    /// Records what both legs send (`None` stops, completing the file).
    pub fn record(&self, recording: Option<super::recording::Recording>) {
        self.send(Control::Record(recording.map(Box::new)));
    }

    /// Sends `side` a press of `digit` lasting `duration_ms` as telephone-events of
    /// payload type `pt`, in the stream the leg hears (its SSRC, the next sequence
    /// numbers).
    pub fn dtmf(&self, side: Side, pt: u8, digit: char, duration_ms: u32) {
        self.send(Control::Dtmf {
            side,
            pt,
            digit,
            duration_ms,
        });
    }

    /// Plays `source` towards `side` (music on hold) in place of what the other leg
    /// sends, until `None`.
    pub fn play(&self, side: Side, source: Option<media::source::PlaySource>) {
        self.send(Control::Play {
            side,
            source: source.map(Box::new),
        });
    }

    /// Counters as of the relay's last datagram or control.
    pub fn stats(&self) -> RelayStats {
        self.shared.stats()
    }

    /// Ends the relay and waits for its worker to drop it: when this returns, the
    /// sockets are closed and the ports are back in the pool.
    pub async fn stop(mut self) {
        let (done, dropped) = tokio::sync::oneshot::channel();
        self.removed = true;
        self.worker.send(Command::Remove(self.id, Some(done)));
        if dropped.await.is_err() {
            tracing::warn!("media relay worker gone");
        }
    }

    fn send(&self, c: Control) {
        self.worker.send(Command::Control(self.id, c));
    }
}

impl Drop for RelayHandle {
    fn drop(&mut self) {
        if !self.removed {
            self.worker.send(Command::Remove(self.id, None));
        }
    }
}
