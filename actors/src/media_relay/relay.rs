//! The relay task and its handle.
//!
//! One tokio task per relay owns four sockets (RTP and RTCP on side A, the same on
//! side B). It sleeps until one of them is readable or a control message arrives, then
//! drains each readable socket with `try_recv_from` and forwards with `try_send_to`
//! from the other side's socket. The per-packet path takes no lock and allocates
//! nothing: one receive buffer, rewritten in place when transcoding; counters are
//! plain integers published to the handle once per wake-up.

use std::future::{poll_fn, Future};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::latch::{Latch, Verdict};
use super::packet::{inspect, Datagram, G711Convert, PT_PCMA, PT_PCMU};
use super::port_pool::{PortLease, PortPool};
use crate::{Error, Result};

/// Datagrams taken from one socket per wake-up before the others get their turn.
const BATCH: usize = 64;
/// Receive buffer size. A datagram that fills it may have been cut and is dropped.
const BUF_SIZE: usize = 4096;

/// A side of the relay: `A` faces leg A, `B` faces leg B.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    A,
    B,
}

impl Side {
    fn index(self) -> usize {
        match self {
            Side::A => 0,
            Side::B => 1,
        }
    }

    /// The side facing the other leg.
    pub fn other(self) -> Side {
        match self {
            Side::A => Side::B,
            Side::B => Side::A,
        }
    }
}

/// Counters of one direction (packets received on one side, sent from the other).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DirectionStats {
    pub rtp_packets: u64,
    pub rtp_bytes: u64,
    pub rtcp_packets: u64,
    pub rtcp_bytes: u64,
    /// Received but not forwarded: malformed, from a source other than the latched
    /// one, towards a held side, with no destination known yet, or refused by the OS.
    pub dropped: u64,
}

/// What a relay has done so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RelayStats {
    pub a_to_b: DirectionStats,
    pub b_to_a: DirectionStats,
    /// The RTP source latched on side A (leg A's real address), if any.
    pub latched_a: Option<SocketAddr>,
    /// The RTP source latched on side B.
    pub latched_b: Option<SocketAddr>,
}

/// Requests from the handle to the task.
#[derive(Debug)]
enum Control {
    Remote {
        side: Side,
        rtp: Option<SocketAddr>,
    },
    Signalling {
        side: Side,
        ip: Option<IpAddr>,
    },
    RemoteRtcp {
        side: Side,
        rtcp: SocketAddr,
    },
    /// What leg A and leg B speak (`None`: not known, passed as sent).
    Codecs([Option<Voice>; 2]),
    /// Telephone-event payload types of leg A and leg B, where known.
    Events(Option<u8>, Option<u8>),
    /// Who hears of the keys each leg presses (RFC 4733).
    OnKey(KeyListener),
    Hold {
        side: Side,
        held: bool,
    },
    /// Tap both sides into a recording (`None` stops it).
    Record(Option<Box<super::recording::Recording>>),
    /// A key press to send to a side as telephone-events (RFC 4733) on payload
    /// type `pt` (a press that came as SIP INFO from the other leg).
    Dtmf {
        side: Side,
        pt: u8,
        digit: char,
        duration_ms: u32,
    },
    /// What the switch plays towards a side instead of the other leg's audio.
    Play {
        side: Side,
        source: Option<Box<media::source::PlaySource>>,
    },
}

/// Who hears of the keys pressed: side, key, duration (ms), and whether the key came
/// as tones in the audio (in-band) rather than as telephone-events.
pub struct KeyListener(Box<dyn Fn(Side, char, u32, bool) + Send>);

impl std::fmt::Debug for KeyListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyListener")
    }
}

/// What one leg speaks: its voice payload type and codec, and its packet time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Voice {
    pub pt: u8,
    pub kind: media::CodecKind,
    pub ptime_ms: u32,
}

impl Voice {
    /// PCMU (0) or PCMA (8) at 20 ms.
    pub fn g711(pt: u8) -> Option<Voice> {
        let kind = match pt {
            PT_PCMU => media::CodecKind::Pcmu,
            PT_PCMA => media::CodecKind::Pcma,
            _ => return None,
        };
        Some(Voice {
            pt,
            kind,
            ptime_ms: 20,
        })
    }
}

/// Counters the task publishes and the handle reads.
#[derive(Debug, Default)]
struct Shared {
    dirs: [SharedDirection; 2],
    latched: Mutex<[Option<SocketAddr>; 2]>,
}

#[derive(Debug, Default)]
struct SharedDirection {
    rtp_packets: AtomicU64,
    rtp_bytes: AtomicU64,
    rtcp_packets: AtomicU64,
    rtcp_bytes: AtomicU64,
    dropped: AtomicU64,
}

impl SharedDirection {
    fn store(&self, d: &DirectionStats) {
        self.rtp_packets.store(d.rtp_packets, Ordering::Relaxed);
        self.rtp_bytes.store(d.rtp_bytes, Ordering::Relaxed);
        self.rtcp_packets.store(d.rtcp_packets, Ordering::Relaxed);
        self.rtcp_bytes.store(d.rtcp_bytes, Ordering::Relaxed);
        self.dropped.store(d.dropped, Ordering::Relaxed);
    }

    fn load(&self) -> DirectionStats {
        DirectionStats {
            rtp_packets: self.rtp_packets.load(Ordering::Relaxed),
            rtp_bytes: self.rtp_bytes.load(Ordering::Relaxed),
            rtcp_packets: self.rtcp_packets.load(Ordering::Relaxed),
            rtcp_bytes: self.rtcp_bytes.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
        }
    }
}

/// The handle a call keeps on its relay. Dropping it ends the relay too (the task
/// sees its control channel close), returning the ports once the task has ended.
#[derive(Debug)]
pub struct RelayHandle {
    ctl: mpsc::UnboundedSender<Control>,
    shared: Arc<Shared>,
    local: (SocketAddr, SocketAddr),
    task: JoinHandle<()>,
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

    /// Calls `f(side, key, duration_ms, in_band)` for each key a leg presses (once per
    /// press, when it ends): as telephone-events, or, from a G.711 leg that negotiated
    /// none, as tones in its audio (Goertzel).
    pub fn on_key(&self, f: impl Fn(Side, char, u32, bool) + Send + 'static) {
        self.send(Control::OnKey(KeyListener(Box::new(f))));
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

    /// Counters as of the task's last wake-up.
    pub fn stats(&self) -> RelayStats {
        let latched = *self
            .shared
            .latched
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        RelayStats {
            a_to_b: self.shared.dirs[0].load(),
            b_to_a: self.shared.dirs[1].load(),
            latched_a: latched[0],
            latched_b: latched[1],
        }
    }

    /// Ends the relay and waits for its task to finish: when this returns, the
    /// sockets are closed and the ports are back in the pool.
    pub async fn stop(self) {
        let Self { ctl, task, .. } = self;
        drop(ctl);
        if let Err(e) = task.await {
            tracing::warn!(error = %e, "media relay task failed");
        }
    }

    fn send(&self, c: Control) {
        if self.ctl.send(c).is_err() {
            tracing::debug!("media relay already ended");
        }
    }
}

/// The sockets of one side. The lease is declared last so it drops last: the sockets
/// are closed before their ports return to the pool.
#[derive(Debug)]
struct SideIo {
    rtp: UdpSocket,
    rtcp: UdpSocket,
    _lease: PortLease,
}

/// What the relay knows of one leg.
#[derive(Debug, Default)]
struct SideState {
    remote_rtp: Option<SocketAddr>,
    remote_rtcp: Option<SocketAddr>,
    rtp_latch: Latch,
    rtcp_latch: Latch,
    /// RTCP towards this leg goes to its RTP address from our RTP socket.
    mux: bool,
    held: bool,
    /// Conversion of the RTP this leg sends, before it goes to the other leg: G.711
    /// law to law in place, a payload type relabelled, or transcoded.
    convert: Option<G711Convert>,
    relabel: Option<(u8, u8)>,
    path: Option<Box<media::path::TranscodePath>>,
    /// What the switch plays towards this leg (music on hold), instead of the other
    /// leg's audio.
    playing: Option<Box<media::source::PlaySource>>,
    /// The telephone-event payload type this leg sends, and the other leg's.
    events: Option<(u8, u8)>,
    /// The telephone-event payload type this leg sends, and the presses in it.
    event_pt: Option<u8>,
    keys: media::dtmf::rfc4733::DtmfReceiver,
    /// What this leg speaks, and, for a G.711 leg without telephone-events, the
    /// detector of the keys in its audio.
    voice: Option<Voice>,
    inband: Option<Box<media::dtmf::goertzel::GoertzelDetector>>,
    /// The stream this leg hears, kept continuous across sources.
    stream: Continuity,
}

/// The stream a leg hears, kept continuous across the sources behind it (the other
/// leg, music on hold, the other leg again): one SSRC, running sequence numbers and
/// timestamps, so that its jitter buffer never takes the next source's packets for
/// late ones and drops them. Until the first change, packets pass untouched.
#[derive(Debug, Default)]
struct Continuity {
    /// The last packet the leg was sent: SSRC, sequence number, timestamp, when.
    last: Option<(u32, u16, u32, Instant)>,
    /// Added to what is forwarded since a source change: the incoming SSRC it was
    /// made for, SSRC written, sequence and timestamp offsets.
    remap: Option<(u32, u32, u16, u32)>,
    /// The next forwarded packet starts a new source.
    resync: bool,
    /// The leg's RTP clock (8000 until its codec is known).
    clock: u32,
}

impl Continuity {
    fn header(d: &[u8]) -> Option<(u32, u16, u32)> {
        let h = d.get(..12)?;
        Some((
            u32::from_be_bytes([h[8], h[9], h[10], h[11]]),
            u16::from_be_bytes([h[2], h[3]]),
            u32::from_be_bytes([h[4], h[5], h[6], h[7]]),
        ))
    }

    /// RTP timestamp units elapsed since the last packet.
    fn elapsed(&self, since: Instant, now: Instant) -> u32 {
        let clock = if self.clock == 0 { 8000 } else { self.clock };
        (now.saturating_duration_since(since).as_micros() as u64 * u64::from(clock) / 1_000_000)
            as u32
    }

    /// A packet went to the leg as it is (a played one).
    fn sent(&mut self, d: &[u8], now: Instant) {
        if let Some((ssrc, seq, ts)) = Self::header(d) {
            self.last = Some((ssrc, seq, ts, now));
        }
    }

    /// A packet of the other leg goes to this one: rewritten in place after a change.
    fn forward(&mut self, d: &mut [u8], now: Instant) {
        let Some((ssrc, seq, ts)) = Self::header(d) else {
            return;
        };
        // A new incoming stream (another phone, a restarted one) needs new offsets.
        let stale = self.remap.is_some_and(|(src, ..)| src != ssrc);
        if std::mem::take(&mut self.resync) || stale {
            self.remap = self.last.map(|(out_ssrc, last_seq, last_ts, at)| {
                let next_ts = last_ts.wrapping_add(self.elapsed(at, now).max(1));
                (
                    ssrc,
                    out_ssrc,
                    last_seq.wrapping_add(1).wrapping_sub(seq),
                    next_ts.wrapping_sub(ts),
                )
            });
        }
        if let Some((_, out_ssrc, dseq, dts)) = self.remap {
            d[2..4].copy_from_slice(&seq.wrapping_add(dseq).to_be_bytes());
            d[4..8].copy_from_slice(&ts.wrapping_add(dts).to_be_bytes());
            d[8..12].copy_from_slice(&out_ssrc.to_be_bytes());
        }
        self.sent(d, now);
    }

    /// Where a played source continues the leg's stream.
    fn continue_at(&self, now: Instant) -> Option<(u32, u16, u32)> {
        let (ssrc, seq, ts, at) = self.last?;
        Some((
            ssrc,
            seq.wrapping_add(1),
            ts.wrapping_add(self.elapsed(at, now).max(1)),
        ))
    }
}

impl SideState {
    /// How what this leg sends (`from`) becomes what the other leg takes (`to`).
    fn set_codecs(&mut self, from: Option<Voice>, to: Option<Voice>) {
        self.convert = None;
        self.relabel = None;
        self.path = None;
        let (Some(f), Some(t)) = (from, to) else {
            return;
        };
        if f.kind.name() == t.kind.name() {
            self.relabel = (f.pt != t.pt).then_some((f.pt, t.pt));
            return;
        }
        if let (Some(_), Some(_)) = (Voice::g711(f.pt), Voice::g711(t.pt)) {
            self.convert = G711Convert::new(f.pt, t.pt);
            return;
        }
        match media::path::TranscodePath::new(f.kind, f.pt, t.kind, t.pt, t.ptime_ms) {
            Ok(p) => self.path = Some(Box::new(p)),
            Err(e) => {
                tracing::warn!(error = %e, from = f.kind.name(), to = t.kind.name(), "no transcoding path")
            }
        }
    }

    fn rtp_dst(&self) -> Option<SocketAddr> {
        self.rtp_latch.addr().or(self.remote_rtp)
    }

    /// Where RTCP towards this leg goes, and whether from our RTP socket.
    fn rtcp_dst(&self) -> Option<(SocketAddr, bool)> {
        if self.mux {
            return self.rtcp_latch.addr().or(self.rtp_dst()).map(|a| (a, true));
        }
        if let Some(a) = self.rtcp_latch.addr() {
            return Some((a, false));
        }
        let rtp = self.rtp_dst()?;
        // The SDP's RTCP address holds unless the RTP source turned out elsewhere
        // (NAT): then the best guess is the port after the latched one.
        if Some(rtp) == self.remote_rtp {
            if let Some(a) = self.remote_rtcp {
                return Some((a, false));
            }
        }
        let port = rtp.port().checked_add(1)?;
        Some((SocketAddr::new(rtp.ip(), port), false))
    }
}

/// An anchored-media relay between two legs: the task's state. Start one with
/// [`MediaRelay::start`] and drive it through the returned [`RelayHandle`].
#[derive(Debug)]
pub struct MediaRelay {
    io: [SideIo; 2],
    sides: [SideState; 2],
    counters: [DirectionStats; 2],
    latch_dirty: bool,
    buf: Box<[u8]>,
    /// The datagrams a transcoding path made of one received.
    transcoded: Vec<Vec<u8>>,
    /// Who hears of the keys pressed.
    on_key: Option<KeyListener>,
    /// The recording under way, if any.
    recording: Option<Box<super::recording::Recording>>,
    /// The clock the play sources run on, and the wake-up for the next packet due.
    epoch: Instant,
    play_timer: Option<std::pin::Pin<Box<tokio::time::Sleep>>>,
    ctl: mpsc::UnboundedReceiver<Control>,
    shared: Arc<Shared>,
}

/// Why the task woke up.
struct Wake {
    /// Bit `2 * side + k` is set when side's RTP (k = 0) or RTCP (k = 1) socket is
    /// readable.
    ready: u8,
    /// A control message, `Some(None)` when the handle is gone.
    control: Option<Option<Control>>,
    /// A played packet is due.
    play: bool,
}

impl MediaRelay {
    /// Takes two port pairs from `pool` on `local_ip` and spawns the relay's task.
    /// Must be called within a tokio runtime.
    pub fn start(local_ip: IpAddr, pool: &Arc<PortPool>) -> Result<RelayHandle> {
        let a = pool.allocate(local_ip)?;
        let b = pool.allocate(local_ip)?;
        let a = SideIo {
            rtp: UdpSocket::from_std(a.rtp)?,
            rtcp: UdpSocket::from_std(a.rtcp)?,
            _lease: a.lease,
        };
        let b = SideIo {
            rtp: UdpSocket::from_std(b.rtp)?,
            rtcp: UdpSocket::from_std(b.rtcp)?,
            _lease: b.lease,
        };
        let local = (a.rtp.local_addr()?, b.rtp.local_addr()?);
        let (tx, rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared::default());
        let relay = MediaRelay {
            io: [a, b],
            sides: Default::default(),
            counters: Default::default(),
            latch_dirty: false,
            buf: vec![0; BUF_SIZE].into_boxed_slice(),
            transcoded: Vec::new(),
            on_key: None,
            recording: None,
            epoch: Instant::now(),
            play_timer: None,
            ctl: rx,
            shared: Arc::clone(&shared),
        };
        tracing::debug!(a = %local.0, b = %local.1, "media relay started");
        let task = tokio::spawn(relay.run());
        Ok(RelayHandle {
            ctl: tx,
            shared,
            local,
            task,
        })
    }

    async fn run(mut self) {
        'run: loop {
            let wake = poll_fn(|cx| self.poll_wake(cx)).await;
            let controlled = wake.control.is_some();
            match wake.control {
                Some(Some(c)) => {
                    self.on_control(c);
                    // Apply every queued change before the next packet.
                    loop {
                        match self.ctl.try_recv() {
                            Ok(c) => self.on_control(c),
                            Err(mpsc::error::TryRecvError::Empty) => break,
                            Err(mpsc::error::TryRecvError::Disconnected) => break 'run,
                        }
                    }
                }
                Some(None) => break 'run,
                None => {}
            }
            let playing = self.sides.iter().any(|s| s.playing.is_some());
            // Due packets, a source just set (its first packet is due at once), or the
            // last one gone (its timer goes too).
            if wake.play || (playing && controlled) || (!playing && self.play_timer.is_some()) {
                self.play(Instant::now());
            }
            if wake.ready != 0 {
                let now = Instant::now();
                for side in [Side::A, Side::B] {
                    for rtcp_port in [false, true] {
                        let bit = 1 << (2 * side.index() + usize::from(rtcp_port));
                        if wake.ready & bit != 0 {
                            self.drain(side, rtcp_port, now);
                        }
                    }
                }
            }
            self.publish();
        }
        tracing::debug!(a = ?self.io[0].rtp.local_addr().ok(), "media relay ended");
    }

    fn poll_wake(&mut self, cx: &mut Context<'_>) -> Poll<Wake> {
        let mut ready = 0u8;
        let socks = self.io.iter().flat_map(|io| [&io.rtp, &io.rtcp]);
        for (bit, sock) in socks.enumerate() {
            match sock.poll_recv_ready(cx) {
                Poll::Ready(Ok(())) => ready |= 1 << bit,
                // The IO driver is gone (runtime shutting down): end as if stopped.
                Poll::Ready(Err(_)) => {
                    return Poll::Ready(Wake {
                        ready: 0,
                        control: Some(None),
                        play: false,
                    })
                }
                Poll::Pending => {}
            }
        }
        let control = match self.ctl.poll_recv(cx) {
            Poll::Ready(c) => Some(c),
            Poll::Pending => None,
        };
        let play = self
            .play_timer
            .as_mut()
            .is_some_and(|t| t.as_mut().poll(cx).is_ready());
        if ready == 0 && control.is_none() && !play {
            return Poll::Pending;
        }
        Poll::Ready(Wake {
            ready,
            control,
            play,
        })
    }

    fn on_control(&mut self, c: Control) {
        match c {
            Control::Remote { side, rtp } => {
                let s = &mut self.sides[side.index()];
                s.remote_rtp = rtp;
                s.remote_rtcp = None;
                s.mux = false;
                s.rtp_latch.expect(rtp);
                let rtcp =
                    rtp.and_then(|a| Some(SocketAddr::new(a.ip(), a.port().checked_add(1)?)));
                s.rtcp_latch.expect(rtcp);
                self.latch_dirty = true;
            }
            Control::RemoteRtcp { side, rtcp } => {
                let s = &mut self.sides[side.index()];
                s.remote_rtcp = Some(rtcp);
                s.mux = s.remote_rtp == Some(rtcp);
                s.rtcp_latch.expect(Some(rtcp));
            }
            Control::Signalling { side, ip } => {
                let s = &mut self.sides[side.index()];
                s.rtp_latch.set_signalling(ip);
                s.rtcp_latch.set_signalling(ip);
            }
            Control::Codecs([a, b]) => {
                self.sides[0].set_codecs(a, b);
                self.sides[1].set_codecs(b, a);
                for (side, voice) in self.sides.iter_mut().zip([a, b]) {
                    side.stream.clock = voice.map_or(8000, |v| v.kind.clock_rate());
                    side.voice = voice;
                }
                self.update_inband();
            }
            Control::Events(a, b) => {
                let relabel = match (a, b) {
                    (Some(a), Some(b)) if a != b => Some((a, b)),
                    _ => None,
                };
                self.sides[0].events = relabel;
                self.sides[1].events = relabel.map(|(a, b)| (b, a));
                self.sides[0].event_pt = a;
                self.sides[1].event_pt = b;
                self.update_inband();
            }
            Control::OnKey(l) => {
                self.on_key = Some(l);
                self.update_inband();
            }
            Control::Record(r) => self.recording = r,
            Control::Hold { side, held } => self.sides[side.index()].held = held,
            Control::Dtmf {
                side,
                pt,
                digit,
                duration_ms,
            } => self.send_dtmf(side, pt, digit, duration_ms),
            Control::Play { side, source } => {
                let s = &mut self.sides[side.index()];
                match source {
                    Some(mut source) => {
                        // The music continues the stream the leg was hearing.
                        if let Some((ssrc, seq, ts)) = s.stream.continue_at(Instant::now()) {
                            source.continue_stream(ssrc, seq, ts);
                        }
                        s.stream.resync = false;
                        s.playing = Some(source);
                    }
                    None if s.playing.is_some() => {
                        s.playing = None;
                        s.stream.resync = true;
                    }
                    None => {}
                }
            }
        }
    }

    /// Listens for in-band keys on the G.711 sides that negotiated no telephone-events
    /// (only when somebody hears of keys).
    fn update_inband(&mut self) {
        let listening = self.on_key.is_some();
        for s in &mut self.sides {
            let g711 = s.voice.is_some_and(|v| Voice::g711(v.pt).is_some());
            let wanted = listening && g711 && s.event_pt.is_none();
            match (wanted, s.inband.is_some()) {
                (true, false) => s.inband = Some(Box::default()),
                (false, true) => s.inband = None,
                _ => {}
            }
        }
    }

    /// Sends a whole key press to `side` at once (its duration field says how long),
    /// continuing the leg's stream; what is forwarded next follows on from it.
    fn send_dtmf(&mut self, side: Side, pt: u8, digit: char, duration_ms: u32) {
        let now = Instant::now();
        let i = side.index();
        let (ssrc, mut seq, ts) = self.sides[i].stream.continue_at(now).unwrap_or((
            rand::random(),
            rand::random(),
            rand::random(),
        ));
        let mut sender = media::dtmf::rfc4733::DtmfSender::new(8000);
        let packets = match sender.press(digit, ts, duration_ms.clamp(40, 2000), 20) {
            Ok(p) => p,
            Err(e) => return tracing::debug!(error = %e, "no such key"),
        };
        let Some(dst) = self.sides[i].rtp_dst() else {
            return;
        };
        for p in packets {
            let mut d = Vec::with_capacity(16);
            d.extend_from_slice(&[0x80, if p.marker { 0x80 | pt } else { pt }]);
            d.extend_from_slice(&seq.to_be_bytes());
            d.extend_from_slice(&p.timestamp.to_be_bytes());
            d.extend_from_slice(&ssrc.to_be_bytes());
            d.extend_from_slice(&p.event.to_bytes());
            seq = seq.wrapping_add(1);
            self.sides[i].stream.sent(&d, now);
            let _ = self.io[i].rtp.try_send_to(&d, dst);
        }
        // The other leg's packets go on after these.
        self.sides[i].stream.resync = true;
    }

    /// Sends the played packets due now and sets the wake-up for the next one.
    fn play(&mut self, now: Instant) {
        let at = now.duration_since(self.epoch);
        let mut next: Option<std::time::Duration> = None;
        for i in 0..2 {
            let Some(source) = self.sides[i].playing.as_mut() else {
                continue;
            };
            self.transcoded.clear();
            if let Err(e) = source.poll(at, &mut self.transcoded) {
                tracing::debug!(error = %e, "played packet not encoded");
            }
            next = match (next, source.deadline()) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let dst = self.sides[i].rtp_dst();
            for d in &self.transcoded {
                self.sides[i].stream.sent(d, now);
                let sent = dst.and_then(|dst| self.io[i].rtp.try_send_to(d, dst).ok());
                // Counted with the direction that would have carried the other leg.
                let c = &mut self.counters[1 - i];
                match sent {
                    Some(n) => {
                        c.rtp_packets += 1;
                        c.rtp_bytes += n as u64;
                    }
                    None => c.dropped += 1,
                }
            }
        }
        match next {
            Some(d) => {
                let when = self.epoch + d;
                match self.play_timer.as_mut() {
                    Some(t) => t.as_mut().reset(when),
                    None => self.play_timer = Some(Box::pin(tokio::time::sleep_until(when))),
                }
            }
            None => self.play_timer = None,
        }
    }

    /// Takes up to [`BATCH`] datagrams from one socket.
    fn drain(&mut self, side: Side, rtcp_port: bool, now: Instant) {
        let io = &self.io[side.index()];
        let sock = if rtcp_port { &io.rtcp } else { &io.rtp };
        for _ in 0..BATCH {
            match sock.try_recv_from(&mut self.buf) {
                Ok((n, src)) => {
                    if n >= self.buf.len() {
                        self.counters[side.index()].dropped += 1;
                        continue;
                    }
                    let (io, buf) = (&self.io, &mut self.buf[..n]);
                    relay_one(
                        io,
                        &mut self.sides,
                        &mut self.counters[side.index()],
                        (
                            &mut self.latch_dirty,
                            &mut self.transcoded,
                            &self.on_key,
                            &mut self.recording,
                        ),
                        Incoming {
                            side,
                            rtcp_port,
                            src,
                            now,
                        },
                        buf,
                    );
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                // Errors queued on the socket (ICMP reports): consumed, go on.
                Err(e) => tracing::trace!(error = %e, "media receive error"),
            }
        }
    }

    /// Makes the counters and latched addresses visible to the handle.
    fn publish(&mut self) {
        self.shared.dirs[0].store(&self.counters[0]);
        self.shared.dirs[1].store(&self.counters[1]);
        if self.latch_dirty {
            self.latch_dirty = false;
            let mut latched = self
                .shared
                .latched
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            *latched = [
                self.sides[0].rtp_latch.addr(),
                self.sides[1].rtp_latch.addr(),
            ];
        }
    }
}

/// Where a datagram arrived.
#[derive(Debug, Clone, Copy)]
struct Incoming {
    side: Side,
    rtcp_port: bool,
    src: SocketAddr,
    now: Instant,
}

/// What a packet passes besides the other leg: the latch's news, the transcoder's
/// output, the key listener, the recording.
type Taps<'a> = (
    &'a mut bool,
    &'a mut Vec<Vec<u8>>,
    &'a Option<KeyListener>,
    &'a mut Option<Box<super::recording::Recording>>,
);

/// A telephone-event packet from `side`: a press that ended goes to the listener.
fn key_pressed(
    s: &mut SideState,
    side: Side,
    payload: &[u8],
    packet: &[u8],
    on_key: &Option<KeyListener>,
) {
    let Some(l) = on_key else { return };
    let ts = u32::from_be_bytes([packet[4], packet[5], packet[6], packet[7]]);
    let Ok(events) = s.keys.on_packet(ts, payload) else {
        return;
    };
    for e in events {
        if let media::dtmf::DtmfEvent::End { digit, duration } = e {
            (l.0)(side, digit, duration / 8, false);
        }
    }
}

/// The audio of a G.711 leg without telephone-events: keys heard in it go to the
/// listener.
fn inband_key(
    s: &mut SideState,
    side: Side,
    payload_type: u8,
    payload: &[u8],
    on_key: &Option<KeyListener>,
) {
    let (Some(l), Some(v), Some(det)) = (on_key, s.voice, s.inband.as_mut()) else {
        return;
    };
    if payload_type != v.pt {
        return;
    }
    let mut pcm = [0i16; 480];
    let n = payload.len().min(pcm.len());
    let decode = match payload_type {
        PT_PCMA => media::codec::g711::alaw_decode,
        _ => media::codec::g711::ulaw_decode,
    };
    for (o, &b) in pcm.iter_mut().zip(&payload[..n]) {
        *o = decode(b);
    }
    for e in det.push(&pcm[..n]) {
        if let media::dtmf::DtmfEvent::End { digit, duration } = e {
            (l.0)(side, digit, duration / 8, true);
        }
    }
}

/// Forwards one datagram received on `at.side` to the other leg, or drops it.
fn relay_one(
    io: &[SideIo; 2],
    sides: &mut [SideState; 2],
    counters: &mut DirectionStats,
    (latch_dirty, transcoded, on_key, recording): Taps<'_>,
    at: Incoming,
    buf: &mut [u8],
) {
    let (from, to) = (at.side.index(), at.side.other().index());
    let sent = match inspect(buf) {
        Some(Datagram::Rtp {
            payload_type,
            payload,
            ..
        }) if !at.rtcp_port => {
            let verdict = sides[from].rtp_latch.on_packet(at.src, at.now);
            if verdict == Verdict::Latched {
                *latch_dirty = true;
                tracing::debug!(side = ?at.side, src = %at.src, "rtp latched");
            }
            if verdict != Verdict::Reject && sides[from].event_pt == Some(payload_type) {
                key_pressed(
                    &mut sides[from],
                    at.side,
                    &buf[payload.clone()],
                    buf,
                    on_key,
                );
            }
            if let Some(r) = recording.as_mut().filter(|_| verdict != Verdict::Reject) {
                r.push(from, buf);
            }
            if verdict != Verdict::Reject && sides[from].inband.is_some() {
                let p = &buf[payload.clone()];
                inband_key(&mut sides[from], at.side, payload_type, p, on_key);
            }
            // A leg the switch plays to hears that instead.
            let held = sides[to].held || sides[to].playing.is_some();
            let dst = sides[to].rtp_dst();
            let source = &mut sides[from];
            match dst {
                Some(dst) if verdict != Verdict::Reject && !held => {
                    if let Some(path) = source.path.as_mut().filter(|p| p.in_pt() == payload_type) {
                        // Transcoded: zero or more packets of the other leg's codec.
                        match path.push(buf, transcoded) {
                            Ok(()) => transcoded
                                .iter_mut()
                                .map(|d| {
                                    sides[to].stream.forward(d, at.now);
                                    io[to].rtp.try_send_to(d, dst).ok()
                                })
                                .try_fold(0, |n, sent| Some(n + sent?))
                                .map(|n| (n, false)),
                            Err(_) => None,
                        }
                    } else {
                        if let Some(c) = source.convert {
                            if c.from_pt == payload_type {
                                c.apply(buf, payload);
                            }
                        }
                        if let Some((mine, theirs)) = source.relabel {
                            if payload_type == mine {
                                buf[1] = (buf[1] & 0x80) | theirs;
                            }
                        }
                        if let Some((mine, theirs)) = source.events {
                            if payload_type == mine {
                                buf[1] = (buf[1] & 0x80) | theirs;
                            }
                        }
                        // Beside a transcoded voice, events join its sequence.
                        if let Some(path) = source.path.as_mut() {
                            if source.event_pt == Some(payload_type) {
                                path.pass(buf);
                            }
                        }
                        sides[to].stream.forward(buf, at.now);
                        io[to].rtp.try_send_to(buf, dst).ok().map(|n| (n, false))
                    }
                }
                _ => None,
            }
        }
        Some(Datagram::Rtcp { .. }) => {
            // RTCP multiplexed on the RTP port comes from the RTP source.
            let verdict = if at.rtcp_port {
                sides[from].rtcp_latch.on_packet(at.src, at.now)
            } else {
                sides[from].rtp_latch.on_packet(at.src, at.now)
            };
            if verdict != Verdict::Reject && !at.rtcp_port {
                sides[from].mux = true;
            }
            match sides[to].rtcp_dst() {
                Some((dst, via_rtp)) if verdict != Verdict::Reject => {
                    let sock = if via_rtp { &io[to].rtp } else { &io[to].rtcp };
                    sock.try_send_to(buf, dst).ok().map(|n| (n, true))
                }
                _ => None,
            }
        }
        _ => None,
    };
    match sent {
        Some((n, false)) => {
            counters.rtp_packets += 1;
            counters.rtp_bytes += n as u64;
        }
        Some((n, true)) => {
            counters.rtcp_packets += 1;
            counters.rtcp_bytes += n as u64;
        }
        None => counters.dropped += 1,
    }
}
