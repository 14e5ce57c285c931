//! One relay: what it knows of its two legs and how a datagram from one becomes what
//! the other hears.
//!
//! A relay owns four sockets (RTP and RTCP on side A, the same on side B) and lives on
//! an RTP worker thread (`worker.rs`), which hands it each datagram its sockets
//! receive. It forwards with `send_to` from the other side's socket. The per-packet
//! path takes no lock and allocates nothing: the worker's one receive buffer,
//! rewritten in place when transcoding; counters are plain integers published to the
//! handle with relaxed atomic stores.

use std::io;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use super::continuity::Continuity;
use super::latch::{Latch, Verdict};
use super::packet::{inspect, Datagram, G711Convert, PT_PCMA, PT_PCMU};
use super::port_pool::{PortLease, PortPair};
use super::reports::OwnReports;

/// Receive buffer size. A datagram that fills it may have been cut and is dropped.
const BUF_SIZE: usize = 4096;

/// A side of the relay: `A` faces leg A, `B` faces leg B.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    A,
    B,
}

impl Side {
    pub(super) fn index(self) -> usize {
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
    /// one, towards a held side, with no destination known yet, refused by the OS,
    /// or RTCP towards a leg the switch sends its own reports.
    pub dropped: u64,
    /// RTP packets the sender's sequence numbers say never arrived (gaps of up to
    /// 1,000 in one stream; a new SSRC starts over).
    pub lost: u64,
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
pub(super) enum Control {
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
    /// Who hears of the keys each leg presses and of played sources ending.
    Listen(Listener),
    Hold {
        side: Side,
        held: bool,
    },
    /// The switch reports on the stream `side`'s leg hears as its own (it comes from
    /// a conference room's mix, which sends no RTCP of its own).
    OwnReports {
        side: Side,
        on: bool,
    },
    /// SRTP towards and from `side`'s leg with these keys (`None`: plain RTP).
    Srtp {
        side: Side,
        keys: Option<SrtpKeys>,
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

/// What a relay tells its call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaEvent {
    /// A key pressed on `side`'s leg (once per press, when it ends), and whether it
    /// came as tones in the audio (in-band) rather than as telephone-events.
    Key {
        side: Side,
        key: char,
        duration_ms: u32,
        in_band: bool,
    },
    /// What the switch played towards `side` (a prompt, not looping) has played out;
    /// the other leg's audio reaches it again.
    Played { side: Side },
}

/// Who hears of a relay's [`MediaEvent`]s.
pub struct Listener(pub(super) Box<dyn Fn(MediaEvent) + Send>);

impl std::fmt::Debug for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Listener")
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
pub(super) struct Shared {
    dirs: [SharedDirection; 2],
    latched: Mutex<[Option<SocketAddr>; 2]>,
}

impl Shared {
    /// Counters as of the relay's last datagram or control.
    pub(super) fn stats(&self) -> RelayStats {
        let latched = *self.latched.lock().unwrap_or_else(|e| e.into_inner());
        RelayStats {
            a_to_b: self.dirs[0].load(),
            b_to_a: self.dirs[1].load(),
            latched_a: latched[0],
            latched_b: latched[1],
        }
    }
}

#[derive(Debug, Default)]
struct SharedDirection {
    rtp_packets: AtomicU64,
    rtp_bytes: AtomicU64,
    rtcp_packets: AtomicU64,
    rtcp_bytes: AtomicU64,
    dropped: AtomicU64,
    lost: AtomicU64,
}

impl SharedDirection {
    fn store(&self, d: &DirectionStats) {
        self.rtp_packets.store(d.rtp_packets, Ordering::Relaxed);
        self.rtp_bytes.store(d.rtp_bytes, Ordering::Relaxed);
        self.rtcp_packets.store(d.rtcp_packets, Ordering::Relaxed);
        self.rtcp_bytes.store(d.rtcp_bytes, Ordering::Relaxed);
        self.dropped.store(d.dropped, Ordering::Relaxed);
        self.lost.store(d.lost, Ordering::Relaxed);
    }

    fn load(&self) -> DirectionStats {
        DirectionStats {
            rtp_packets: self.rtp_packets.load(Ordering::Relaxed),
            rtp_bytes: self.rtp_bytes.load(Ordering::Relaxed),
            rtcp_packets: self.rtcp_packets.load(Ordering::Relaxed),
            rtcp_bytes: self.rtcp_bytes.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
            lost: self.lost.load(Ordering::Relaxed),
        }
    }
}

/// The SDES keys of one leg: the one it announced (what it sends is protected with
/// it) and the switch's own for that leg (what the switch sends it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SrtpKeys {
    pub suite: media::srtp::Suite,
    pub inbound: [u8; media::srtp::MASTER_LEN],
    pub outbound: [u8; media::srtp::MASTER_LEN],
}

/// One leg's SRTP: a context per direction, and room for a protected packet.
struct SideSrtp {
    keys: SrtpKeys,
    rx: media::srtp::SrtpContext,
    tx: media::srtp::SrtpContext,
    sealed: Vec<u8>,
}

impl std::fmt::Debug for SideSrtp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SideSrtp")
            .field("suite", &self.keys.suite)
            .finish()
    }
}

impl SideSrtp {
    fn new(keys: SrtpKeys) -> SideSrtp {
        SideSrtp {
            keys,
            rx: media::srtp::SrtpContext::new(keys.suite, &keys.inbound),
            tx: media::srtp::SrtpContext::new(keys.suite, &keys.outbound),
            sealed: Vec::with_capacity(BUF_SIZE),
        }
    }
}

/// Sends `packet` (RTP, or RTCP when `rtcp`) to a leg from `sock`, protected first
/// when the leg speaks SRTP; the bytes sent.
fn emit(
    sock: &UdpSocket,
    srtp: &mut Option<Box<SideSrtp>>,
    packet: &[u8],
    dst: SocketAddr,
    rtcp: bool,
) -> Option<usize> {
    let Some(s) = srtp.as_mut() else {
        return sock.send_to(packet, dst).ok();
    };
    let sealed = if rtcp {
        s.tx.protect_rtcp(packet, &mut s.sealed)
    } else {
        s.tx.protect_rtp(packet, &mut s.sealed)
    };
    sealed.ok()?;
    sock.send_to(&s.sealed, dst).ok()
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
    /// The SSRC and sequence number of the newest RTP packet this leg sent (loss).
    last_seq: Option<(u32, u16)>,
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
    /// The switch's own RTCP towards this leg, while what it hears is the switch's
    /// stream (transcoded or played) rather than the other leg's.
    reports: Option<Box<OwnReports>>,
    /// Own reports whatever the stream (the leg hears a room's mix).
    force_reports: bool,
    /// SRTP with this leg, when its SDP and the switch's carried keys.
    srtp: Option<Box<SideSrtp>>,
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

/// An anchored-media relay between two legs: its sockets and what it knows of each
/// leg. It lives on one of the RTP worker threads (`worker.rs`), which hands it each
/// datagram its sockets receive, the controls of its [`RelayHandle`] and the wake-ups
/// of its played sources. Start one with [`MediaRelay::start`].
#[derive(Debug)]
pub struct MediaRelay {
    io: [SideIo; 2],
    sides: [SideState; 2],
    counters: [DirectionStats; 2],
    /// The counters as last added to the process's totals.
    totalled: [DirectionStats; 2],
    latch_dirty: bool,
    /// Who hears of keys pressed and sources played out.
    listener: Option<Listener>,
    /// The recording under way, if any.
    recording: Option<Box<super::recording::Recording>>,
    /// The clock the play sources run on; when the next played packet is due; when
    /// the relay needs its worker next (a played packet or an own RTCP report).
    epoch: Instant,
    play_at: Option<Instant>,
    next_wake: Option<Instant>,
    shared: Arc<Shared>,
}

/// What a worker lends a relay while it handles a datagram: the receive buffer and
/// room for the packets a transcoding path or a played source makes.
pub(super) struct Scratch {
    pub buf: Box<[u8]>,
    pub out: Vec<Vec<u8>>,
}

impl Scratch {
    pub fn new() -> Scratch {
        Scratch {
            buf: vec![0; BUF_SIZE].into_boxed_slice(),
            out: Vec::new(),
        }
    }
}

impl MediaRelay {
    /// A relay on two port pairs, and the counters its handle reads.
    pub(super) fn new(a: PortPair, b: PortPair, shared: Arc<Shared>) -> MediaRelay {
        let side = |p: PortPair| SideIo {
            rtp: p.rtp,
            rtcp: p.rtcp,
            _lease: p.lease,
        };
        MediaRelay {
            io: [side(a), side(b)],
            sides: Default::default(),
            counters: Default::default(),
            totalled: Default::default(),
            latch_dirty: false,
            listener: None,
            recording: None,
            epoch: Instant::now(),
            play_at: None,
            next_wake: None,
            shared,
        }
    }

    /// The four sockets, in the order `readable` numbers them: side A's RTP and
    /// RTCP, side B's RTP and RTCP.
    pub(super) fn sockets(&self) -> [&UdpSocket; 4] {
        let [a, b] = &self.io;
        [&a.rtp, &a.rtcp, &b.rtp, &b.rtcp]
    }

    /// When the relay needs its worker next (a played packet, an own RTCP report).
    pub(super) fn next_wake(&self) -> Option<Instant> {
        self.next_wake
    }

    /// Socket `k` (see [`MediaRelay::sockets`]) is readable: takes one datagram from
    /// it and forwards it. One per readiness: the worker's epoll is level-triggered,
    /// so a socket with more waiting is reported again, and no read ends in
    /// `WouldBlock`.
    pub(super) fn readable(&mut self, k: usize, scratch: &mut Scratch, now: Instant) {
        let side = if k < 2 { Side::A } else { Side::B };
        let rtcp_port = k % 2 == 1;
        let sock = self.sockets()[k];
        match sock.recv_from(&mut scratch.buf) {
            Ok((n, src)) => {
                let n = match self.sides[side.index()].srtp.as_mut() {
                    _ if n >= scratch.buf.len() => None,
                    None => Some(n),
                    Some(s) => {
                        let packet = &mut scratch.buf[..n];
                        let rtcp = rtcp_port || matches!(packet.get(1), Some(200..=204));
                        let plain = if rtcp {
                            s.rx.unprotect_rtcp(packet)
                        } else {
                            s.rx.unprotect_rtp(packet)
                        };
                        plain
                            .map_err(|e| tracing::trace!(error = %e, "SRTP packet refused"))
                            .ok()
                    }
                };
                if let Some(n) = n {
                    relay_one(
                        &self.io,
                        &mut self.sides,
                        &mut self.counters[side.index()],
                        (
                            &mut self.latch_dirty,
                            &mut scratch.out,
                            &self.listener,
                            &mut self.recording,
                        ),
                        Incoming {
                            side,
                            rtcp_port,
                            src,
                            now,
                            epoch: self.epoch,
                        },
                        &mut scratch.buf[..n],
                    );
                } else {
                    self.counters[side.index()].dropped += 1;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
            // Errors queued on the socket (ICMP reports): consumed, go on.
            Err(e) => tracing::trace!(error = %e, "media receive error"),
        }
        self.publish();
    }

    /// Applies a control from the handle; a source just set plays its first packet
    /// at once.
    pub(super) fn control(&mut self, c: Control, scratch: &mut Scratch, now: Instant) {
        let play = matches!(c, Control::Play { .. });
        self.on_control(c, now);
        self.update_reports(now);
        if play {
            self.wake(scratch, now);
        } else {
            self.schedule();
        }
        self.publish();
    }

    /// Own RTCP towards each leg whose stream the switch makes (the other side
    /// transcodes into it, or a source plays to it); none towards the others.
    fn update_reports(&mut self, now: Instant) {
        for i in 0..2 {
            let own = self.sides[1 - i].path.is_some()
                || self.sides[i].playing.is_some()
                || self.sides[i].force_reports;
            let s = &mut self.sides[i];
            match (own, s.reports.is_some()) {
                (true, false) => s.reports = Some(Box::new(OwnReports::new(now))),
                (false, true) => s.reports = None,
                _ => {}
            }
        }
    }

    /// When the worker wakes the relay next: its next played packet or own report.
    fn schedule(&mut self) {
        let reports = self
            .sides
            .iter()
            .filter_map(|s| s.reports.as_ref().map(|r| r.next));
        self.next_wake = self.play_at.into_iter().chain(reports).min();
    }

    /// The worker's wake-up: played packets and own reports due now.
    pub(super) fn wake(&mut self, scratch: &mut Scratch, now: Instant) {
        self.play(scratch, now);
        self.update_reports(now);
        for i in 0..2 {
            let s = &mut self.sides[i];
            let Some(r) = s.reports.as_mut().filter(|r| r.next <= now) else {
                continue;
            };
            let stream = s.stream.continue_at(now).map(|(ssrc, _, ts)| (ssrc, ts));
            let bytes = r.report(stream, now.duration_since(self.epoch));
            if let Some((dst, via_rtp)) = s.rtcp_dst() {
                let io = &self.io[i];
                let sock = if via_rtp { &io.rtp } else { &io.rtcp };
                let _ = emit(sock, &mut s.srtp, &bytes, dst, true);
            }
        }
        self.schedule();
        self.publish();
    }

    pub(super) fn on_control(&mut self, c: Control, now: Instant) {
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
            Control::Listen(l) => {
                self.listener = Some(l);
                self.update_inband();
            }
            Control::Record(r) => self.recording = r,
            Control::OwnReports { side, on } => self.sides[side.index()].force_reports = on,
            Control::Hold { side, held } => self.sides[side.index()].held = held,
            Control::Srtp { side, keys } => {
                let s = &mut self.sides[side.index()];
                // The same keys again (a re-INVITE) keep the contexts' counters.
                if s.srtp.as_ref().map(|x| x.keys) != keys {
                    s.srtp = keys.map(|k| Box::new(SideSrtp::new(k)));
                }
            }
            Control::Dtmf {
                side,
                pt,
                digit,
                duration_ms,
            } => self.send_dtmf(side, pt, digit, duration_ms, now),
            Control::Play { side, source } => {
                let s = &mut self.sides[side.index()];
                match source {
                    Some(mut source) => {
                        // The music continues the stream the leg was hearing.
                        if let Some((ssrc, seq, ts)) = s.stream.continue_at(now) {
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
        let listening = self.listener.is_some();
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
    fn send_dtmf(&mut self, side: Side, pt: u8, digit: char, duration_ms: u32, now: Instant) {
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
            if let Some(r) = self.sides[i].reports.as_mut() {
                r.sent(&d);
            }
            let _ = emit(&self.io[i].rtp, &mut self.sides[i].srtp, &d, dst, false);
        }
        // The other leg's packets go on after these.
        self.sides[i].stream.resync = true;
    }

    /// Sends the played packets due now and notes when the next one is. A source that
    /// has played out ends (the other leg is heard again) and is reported.
    fn play(&mut self, scratch: &mut Scratch, now: Instant) {
        let at = now.duration_since(self.epoch);
        let mut next: Option<std::time::Duration> = None;
        for i in 0..2 {
            let Some(source) = self.sides[i].playing.as_mut() else {
                continue;
            };
            scratch.out.clear();
            if let Err(e) = source.poll(at, &mut scratch.out) {
                tracing::debug!(error = %e, "played packet not encoded");
            }
            let finished = source.is_finished();
            if !finished {
                next = match (next, source.deadline()) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
            }
            let dst = self.sides[i].rtp_dst();
            for d in &scratch.out {
                self.sides[i].stream.sent(d, now);
                if let Some(r) = self.sides[i].reports.as_mut() {
                    r.sent(d);
                }
                let srtp = &mut self.sides[i].srtp;
                let sent = dst.and_then(|dst| emit(&self.io[i].rtp, srtp, d, dst, false));
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
            if finished {
                self.sides[i].playing = None;
                self.sides[i].stream.resync = true;
                if let Some(l) = &self.listener {
                    let side = if i == 0 { Side::A } else { Side::B };
                    (l.0)(MediaEvent::Played { side });
                }
            }
        }
        self.play_at = next.map(|d| self.epoch + d);
    }

    /// Makes the counters and latched addresses visible to the handle.
    fn publish(&mut self) {
        if self.counters != self.totalled {
            let sum = |c: &[DirectionStats; 2]| {
                (
                    c[0].rtp_packets + c[1].rtp_packets,
                    c[0].dropped + c[1].dropped,
                    c[0].lost + c[1].lost,
                )
            };
            let (now, before) = (sum(&self.counters), sum(&self.totalled));
            super::TOTALS
                .relayed
                .fetch_add(now.0 - before.0, Ordering::Relaxed);
            super::TOTALS
                .dropped
                .fetch_add(now.1 - before.1, Ordering::Relaxed);
            super::TOTALS
                .lost
                .fetch_add(now.2 - before.2, Ordering::Relaxed);
            self.totalled = self.counters;
        }
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
    /// The relay's clock origin (arrival times for RTCP statistics).
    epoch: Instant,
}

/// What a packet passes besides the other leg: the latch's news, the transcoder's
/// output, the key listener, the recording.
type Taps<'a> = (
    &'a mut bool,
    &'a mut Vec<Vec<u8>>,
    &'a Option<Listener>,
    &'a mut Option<Box<super::recording::Recording>>,
);

/// A telephone-event packet from `side`: a press that ended goes to the listener.
fn key_pressed(
    s: &mut SideState,
    side: Side,
    payload: &[u8],
    packet: &[u8],
    listener: &Option<Listener>,
) {
    let Some(l) = listener else { return };
    let ts = u32::from_be_bytes([packet[4], packet[5], packet[6], packet[7]]);
    let Ok(events) = s.keys.on_packet(ts, payload) else {
        return;
    };
    for e in events {
        if let media::dtmf::DtmfEvent::End { digit, duration } = e {
            (l.0)(MediaEvent::Key {
                side,
                key: digit,
                duration_ms: duration / 8,
                in_band: false,
            });
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
    listener: &Option<Listener>,
) {
    let (Some(l), Some(v), Some(det)) = (listener, s.voice, s.inband.as_mut()) else {
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
            (l.0)(MediaEvent::Key {
                side,
                key: digit,
                duration_ms: duration / 8,
                in_band: true,
            });
        }
    }
}

/// The packets missing before this one (`buf`, of stream `ssrc`) by its sequence
/// number; `last` is brought up to date. Late and repeated packets count nothing.
fn lost_before(last: &mut Option<(u32, u16)>, ssrc: u32, buf: &[u8]) -> u64 {
    let seq = u16::from_be_bytes([buf[2], buf[3]]);
    match *last {
        Some((s, prev)) if s == ssrc => {
            let ahead = seq.wrapping_sub(prev);
            if ahead == 0 || ahead >= 0x8000 {
                return 0; // a repeat, or late
            }
            *last = Some((ssrc, seq));
            let gap = u64::from(ahead - 1);
            if gap <= 1_000 {
                gap
            } else {
                0 // a jump, not loss
            }
        }
        _ => {
            *last = Some((ssrc, seq));
            0
        }
    }
}

/// Forwards one datagram received on `at.side` to the other leg, or drops it.
fn relay_one(
    io: &[SideIo; 2],
    sides: &mut [SideState; 2],
    counters: &mut DirectionStats,
    (latch_dirty, transcoded, listener, recording): Taps<'_>,
    at: Incoming,
    buf: &mut [u8],
) {
    let (from, to) = (at.side.index(), at.side.other().index());
    let sent = match inspect(buf) {
        Some(Datagram::Rtp {
            payload_type,
            payload,
            ssrc,
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
                    listener,
                );
            }
            if let Some(r) = recording.as_mut().filter(|_| verdict != Verdict::Reject) {
                r.push(from, buf);
            }
            if verdict != Verdict::Reject {
                counters.lost += lost_before(&mut sides[from].last_seq, ssrc, buf);
                let clock = sides[from].stream.clock;
                if let Some(r) = sides[from].reports.as_mut() {
                    r.heard(buf, clock, at.now.duration_since(at.epoch));
                }
            }
            if verdict != Verdict::Reject && sides[from].inband.is_some() {
                let p = &buf[payload.clone()];
                inband_key(&mut sides[from], at.side, payload_type, p, listener);
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
                                    if let Some(r) = sides[to].reports.as_mut() {
                                        r.sent(d);
                                    }
                                    emit(&io[to].rtp, &mut sides[to].srtp, d, dst, false)
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
                        if let Some(r) = sides[to].reports.as_mut() {
                            r.sent(buf);
                        }
                        emit(&io[to].rtp, &mut sides[to].srtp, buf, dst, false).map(|n| (n, false))
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
            if verdict != Verdict::Reject {
                if let Some(r) = sides[from].reports.as_mut() {
                    r.leg_report(buf, at.now.duration_since(at.epoch));
                }
            }
            // A leg hearing the switch's own stream gets the switch's reports, not
            // the other leg's.
            let own = sides[to].reports.is_some();
            match sides[to].rtcp_dst() {
                Some((dst, via_rtp)) if verdict != Verdict::Reject && !own => {
                    let sock = if via_rtp { &io[to].rtp } else { &io[to].rtcp };
                    emit(sock, &mut sides[to].srtp, buf, dst, true).map(|n| (n, true))
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
