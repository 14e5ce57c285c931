//! RTP for every simulated call from a small pool of sockets.
//!
//! Socket choice: the pool has a fixed number of UDP sockets (8 by default), shared by
//! all calls. Each call leg advertises one pool socket's port in its SDP; the switch
//! anchors media and sends each leg's RTP from that leg's own relay port (symmetric
//! RTP), so a pool socket tells its streams apart by the packet's source address. One
//! task per socket receives; one task sends every stream's next 20 ms packet on a
//! 20 ms tick. No task or socket per call: 1,000 concurrent calls are 8 sockets and 9
//! tasks.
//!
//! Each leg's PCMU payload starts with a signature — `SIM1`, the call number and the
//! side (caller 0, callee 1) — followed by a tone. A leg counts packets from its relay
//! port that carry the far side's signature (`ok`) and those that carry another one
//! (`bad`: a crossed call). Silence and one-way audio show as too few `ok` packets.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// Samples (and payload bytes) of a 20 ms PCMU packet.
pub const SAMPLES: usize = 160;
const HEADER: usize = 12;
const MAGIC: &[u8; 4] = b"SIM1";

/// Which end of a call a leg is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    Caller = 0,
    Callee = 1,
}

impl Side {
    pub fn other(self) -> Side {
        match self {
            Side::Caller => Side::Callee,
            Side::Callee => Side::Caller,
        }
    }
}

/// What a leg sent and received.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LegMedia {
    pub sent: u32,
    /// Packets with the far side's signature.
    pub ok: u32,
    /// Audio the switch played itself (no signature: music on hold, prompts), counted
    /// only by a leg that waits in a queue (`StreamSpec::hold_audio`).
    pub played: u32,
    /// How long after the stream started the first packet with the far side's
    /// signature came (a queue caller's wait for its agent).
    pub first_ok: Option<Duration>,
    /// Packets with a wrong signature (another call's audio, or our own echoed).
    pub bad: u32,
    /// A flow's leg (`listen_any`): the call number in the last phone's signature it
    /// heard (an answering phone signs with its extension).
    pub heard_from: Option<u32>,
    /// RFC 4733 event packets sent and received.
    pub dtmf_sent: u32,
    pub dtmf_received: u32,
}

/// A pool socket chosen for a leg, and its port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    pub socket: usize,
    pub port: u16,
}

/// What a leg sends and expects.
#[derive(Debug, Clone, Copy)]
pub struct StreamSpec {
    pub call: u32,
    pub side: Side,
    /// Where the switch wants this leg's RTP (from its SDP).
    pub remote: SocketAddr,
    /// Stop sending after this long (`None`: until stopped).
    pub send_for: Option<Duration>,
    /// Send a DTMF digit with this payload type after the first 200 ms.
    pub dtmf_pt: Option<u8>,
    /// The telephone-event payload type this leg accepts.
    pub dtmf_rx_pt: Option<u8>,
    /// Its own signature echoed back counts as good audio (a UAC against an echoing
    /// UAS).
    pub echo_ok: bool,
    /// Audio without a signature is the switch playing (a caller waiting in a queue),
    /// not a crossed call.
    pub hold_audio: bool,
    /// A flow's caller or answerer: any phone's signature but its own counts as `ok`
    /// (whoever the call reached), non-silent audio without one as `played`, silence
    /// as nothing, its own signature as `bad`.
    pub listen_any: bool,
    /// The call's number is not known here (a B2BUA between rewrote the SDP that
    /// names it, as a switch does on its way to a trunk's carrier): it is taken from
    /// the first signed packet the other side sends, and nothing is sent until then.
    pub learn: bool,
}

struct Stream {
    /// Told apart from a later stream to the same address (see `Media::start`).
    id: u64,
    spec: StreamSpec,
    started: Instant,
    until: Option<Instant>,
    /// Not sending for now (on hold, recvonly).
    paused: bool,
    seq: u16,
    ts: u32,
    ssrc: u32,
    media: LegMedia,
    /// Digits still to send (payload type, RFC 4733 event), and how far the first one is.
    digits: VecDeque<(u8, u8)>,
    digit_at: u8,
}

struct PoolSocket {
    sock: Arc<UdpSocket>,
    port: u16,
    streams: Mutex<HashMap<SocketAddr, Stream>>,
}

/// The RTP pool.
pub struct Media {
    sockets: Vec<PoolSocket>,
    next: AtomicUsize,
    /// Packets from addresses no active stream expects (late, early, or stray).
    pub unmatched: AtomicU64,
    tone: [u8; SAMPLES],
    ids: AtomicU64,
    /// What streams replaced by a newer one to the same address saw, until stopped.
    replaced: Mutex<HashMap<u64, LegMedia>>,
}

impl Media {
    /// Binds `count` sockets on `ip`.
    pub async fn bind(ip: IpAddr, count: usize) -> std::io::Result<Arc<Media>> {
        let mut sockets = Vec::with_capacity(count);
        for _ in 0..count.max(1) {
            let sock = UdpSocket::bind(SocketAddr::new(ip, 0)).await?;
            let port = sock.local_addr()?.port();
            sockets.push(PoolSocket {
                sock: Arc::new(sock),
                port,
                streams: Mutex::new(HashMap::new()),
            });
        }
        Ok(Arc::new(Media {
            sockets,
            next: AtomicUsize::new(0),
            unmatched: AtomicU64::new(0),
            tone: tone(),
            ids: AtomicU64::new(1),
            replaced: Mutex::new(HashMap::new()),
        }))
    }

    /// Starts the receive tasks and the 20 ms sender.
    pub fn spawn(self: &Arc<Self>) -> Vec<JoinHandle<()>> {
        let mut tasks = Vec::new();
        for i in 0..self.sockets.len() {
            let me = self.clone();
            tasks.push(tokio::spawn(async move { me.receive(i).await }));
        }
        let me = self.clone();
        tasks.push(tokio::spawn(async move { me.send_loop().await }));
        tasks
    }

    /// A socket for a new leg (round robin).
    pub fn allocate(&self) -> Slot {
        let socket = self.next.fetch_add(1, Ordering::Relaxed) % self.sockets.len();
        Slot {
            socket,
            port: self.sockets[socket].port,
        }
    }

    /// A socket for a new leg that has no stream to `remote` (round robin from the
    /// next one; any socket when every one has).
    pub fn allocate_apart_from(&self, remote: SocketAddr) -> Slot {
        let n = self.sockets.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let socket = (0..n)
            .map(|k| (start + k) % n)
            .find(|&i| !lock(&self.sockets[i].streams).contains_key(&remote))
            .unwrap_or(start % n);
        Slot {
            socket,
            port: self.sockets[socket].port,
        }
    }

    /// Starts a leg's stream.
    ///
    /// Returns the stream's id for `stop`. A stream to the same address on the same
    /// socket (a transfer target answered at the relay port that faced the transferor)
    /// replaces the older one, whose counts are kept for its `stop`.
    pub fn start(&self, slot: Slot, spec: StreamSpec) -> u64 {
        let id = self.ids.fetch_add(1, Ordering::Relaxed);
        let stream = Stream {
            id,
            started: Instant::now(),
            until: spec.send_for.map(|d| Instant::now() + d),
            paused: false,
            seq: (spec.call as u16).wrapping_mul(7),
            ts: spec.call.wrapping_mul(1000),
            ssrc: (spec.call << 1) | spec.side as u32,
            spec,
            media: LegMedia::default(),
            digits: VecDeque::new(),
            digit_at: 0,
        };
        let old = lock(&self.sockets[slot.socket].streams).insert(spec.remote, stream);
        if let Some(old) = old {
            lock(&self.replaced).insert(old.id, old.media);
        }
        id
    }

    /// Pauses (recvonly, on hold) or resumes a leg's sending; false if it has no stream.
    pub fn set_paused(&self, slot: Slot, remote: SocketAddr, paused: bool) -> bool {
        match lock(&self.sockets[slot.socket].streams).get_mut(&remote) {
            Some(s) => {
                s.paused = paused;
                true
            }
            None => false,
        }
    }

    /// Queues RFC 4733 `events` on payload type `pt` for a leg to send, one every
    /// 120 ms (60 ms of event, 60 ms of audio); false if it has no stream.
    pub fn send_digits(&self, slot: Slot, remote: SocketAddr, pt: u8, events: &[u8]) -> bool {
        match lock(&self.sockets[slot.socket].streams).get_mut(&remote) {
            Some(s) => {
                s.digits.extend(events.iter().map(|&e| (pt, e)));
                true
            }
            None => false,
        }
    }

    /// Whether a leg has sent the events of every digit queued (true once it has no
    /// stream); the pause after the last one need not have passed.
    pub fn digits_sent(&self, slot: Slot, remote: SocketAddr) -> bool {
        lock(&self.sockets[slot.socket].streams)
            .get(&remote)
            .is_none_or(|s| s.digits.is_empty() || (s.digits.len() == 1 && s.digit_at >= 3))
    }

    /// What stream `id` has seen so far (nothing once stopped or replaced).
    pub fn seen(&self, slot: Slot, remote: SocketAddr, id: u64) -> LegMedia {
        lock(&self.sockets[slot.socket].streams)
            .get(&remote)
            .filter(|s| s.id == id)
            .map(|s| s.media)
            .unwrap_or_default()
    }

    /// Stops stream `id` and returns what it saw.
    pub fn stop(&self, slot: Slot, remote: SocketAddr, id: u64) -> LegMedia {
        let mut streams = lock(&self.sockets[slot.socket].streams);
        if streams.get(&remote).is_some_and(|s| s.id == id) {
            return streams.remove(&remote).map(|s| s.media).unwrap_or_default();
        }
        drop(streams);
        lock(&self.replaced).remove(&id).unwrap_or_default()
    }

    async fn receive(&self, i: usize) {
        let ps = &self.sockets[i];
        let mut buf = vec![0u8; 2048];
        loop {
            let (n, src) = match ps.sock.recv_from(&mut buf).await {
                Ok(x) => x,
                // ICMP errors surface here; the socket stays usable.
                Err(_) => continue,
            };
            let pkt = &buf[..n];
            let mut streams = lock(&ps.streams);
            let Some(s) = streams.get_mut(&src) else {
                self.unmatched.fetch_add(1, Ordering::Relaxed);
                continue;
            };
            if s.spec.learn && s.spec.call == 0 {
                if let Some(call) = signer(pkt, s.spec.side.other()) {
                    s.spec.call = call;
                }
            }
            if s.spec.listen_any {
                match classify(pkt, s.spec.call, s.spec.side, s.spec.dtmf_rx_pt) {
                    Heard::Phone(from) => {
                        s.media.heard_from = Some(from);
                        s.media.ok += 1;
                        if s.media.first_ok.is_none() {
                            s.media.first_ok = Some(s.started.elapsed());
                        }
                    }
                    Heard::Played => s.media.played += 1,
                    Heard::Own => s.media.bad += 1,
                    Heard::Dtmf => s.media.dtmf_received += 1,
                    Heard::Nothing => {}
                }
                continue;
            }
            match check(pkt, s.spec.call, s.spec.side.other(), s.spec.dtmf_rx_pt) {
                Check::Ok => {
                    s.media.ok += 1;
                    if s.media.first_ok.is_none() {
                        s.media.first_ok = Some(s.started.elapsed());
                    }
                }
                Check::Bad if s.spec.hold_audio && !signed(pkt) => s.media.played += 1,
                Check::Bad
                    if s.spec.echo_ok
                        && check(pkt, s.spec.call, s.spec.side, None) == Check::Ok =>
                {
                    s.media.ok += 1
                }
                Check::Dtmf => s.media.dtmf_received += 1,
                Check::Bad => s.media.bad += 1,
                Check::Ignore => {}
            }
        }
    }

    async fn send_loop(&self) {
        let mut tick = tokio::time::interval(Duration::from_millis(20));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut out: Vec<(SocketAddr, [u8; HEADER + SAMPLES], usize)> = Vec::new();
        loop {
            let now = tick.tick().await;
            for ps in &self.sockets {
                out.clear();
                {
                    let mut streams = lock(&ps.streams);
                    for s in streams.values_mut() {
                        if s.paused
                            || s.until.is_some_and(|u| now >= u)
                            || (s.spec.learn && s.spec.call == 0)
                        {
                            continue;
                        }
                        let mut pkt = [0u8; HEADER + SAMPLES];
                        let len = next_packet(s, &self.tone, &mut pkt);
                        out.push((s.spec.remote, pkt, len));
                    }
                }
                for (to, pkt, len) in &out {
                    let _ = ps.sock.send_to(&pkt[..*len], *to).await;
                }
            }
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A 400 Hz tone in µ-law: the audio after the signature.
fn tone() -> [u8; SAMPLES] {
    let mut t = [0u8; SAMPLES];
    for (i, b) in t.iter_mut().enumerate() {
        let x = (i as f64 * 2.0 * std::f64::consts::PI * 400.0 / 8000.0).sin();
        *b = media::codec::g711::ulaw_encode((x * 8000.0) as i16);
    }
    t
}

/// Packets of a queued digit: its three event packets, then audio until the next.
const DIGIT_PACKETS: u8 = 6;

/// Writes the stream's next packet into `pkt`; returns its length.
fn next_packet(s: &mut Stream, tone: &[u8; SAMPLES], pkt: &mut [u8; HEADER + SAMPLES]) -> usize {
    // A DTMF digit ('5') as three event packets, at packets 10–12 of the stream; or
    // the first digit queued by `send_digits`.
    let n = s.media.sent + s.media.dtmf_sent;
    let mut event = 5;
    let mut dtmf = s.spec.dtmf_pt.filter(|_| (10..13).contains(&n));
    let mut step = n.wrapping_sub(10);
    if let Some(&(pt, code)) = s.digits.front() {
        let at = s.digit_at;
        s.digit_at += 1;
        if s.digit_at == DIGIT_PACKETS {
            s.digits.pop_front();
            s.digit_at = 0;
        }
        if at < 3 {
            (dtmf, event, step) = (Some(pt), code, u32::from(at));
        }
    }
    let (pt, marker) = match dtmf {
        Some(pt) => (pt, step == 0),
        None => (0, n == 0),
    };
    pkt[0] = 0x80;
    pkt[1] = (u8::from(marker) << 7) | pt;
    pkt[2..4].copy_from_slice(&s.seq.to_be_bytes());
    pkt[4..8].copy_from_slice(&s.ts.to_be_bytes());
    pkt[8..12].copy_from_slice(&s.ssrc.to_be_bytes());
    s.seq = s.seq.wrapping_add(1);
    if dtmf.is_some() {
        // The event, volume 10, end bit on the last; one timestamp for the event.
        let end = step == 2;
        let duration = ((step + 1) as u16) * SAMPLES as u16;
        pkt[12] = event;
        pkt[13] = (u8::from(end) << 7) | 10;
        pkt[14..16].copy_from_slice(&duration.to_be_bytes());
        s.media.dtmf_sent += 1;
        if end {
            s.ts = s.ts.wrapping_add(3 * SAMPLES as u32);
        }
        return HEADER + 4;
    }
    s.ts = s.ts.wrapping_add(SAMPLES as u32);
    let p = &mut pkt[HEADER..];
    p.copy_from_slice(tone);
    p[..4].copy_from_slice(MAGIC);
    p[4..8].copy_from_slice(&s.spec.call.to_be_bytes());
    p[8] = s.spec.side as u8;
    s.media.sent += 1;
    HEADER + SAMPLES
}

/// Whether an RTP packet's payload carries a simulator's signature (any call's).
fn signed(pkt: &[u8]) -> bool {
    let csrc = (pkt[0] & 0x0f) as usize * 4;
    pkt.get(HEADER + csrc..HEADER + csrc + 4) == Some(MAGIC.as_slice())
}

/// What a flow's leg made of a packet (`StreamSpec::listen_any`).
#[derive(Debug, PartialEq, Eq)]
enum Heard {
    /// Another phone's signature, and its call number.
    Phone(u32),
    /// Audio the switch made: no signature, not silent.
    Played,
    /// The leg's own signature back.
    Own,
    Dtmf,
    /// Silence, comfort noise, RTCP, or not RTP.
    Nothing,
}

/// The mean magnitude above which PCMU audio is not silence (about −40 dBFS).
const SILENT_BELOW: u32 = 300;

fn classify(pkt: &[u8], call: u32, side: Side, dtmf_pt: Option<u8>) -> Heard {
    if pkt.len() < HEADER || pkt[0] >> 6 != 2 || (192..=223).contains(&pkt[1]) {
        return Heard::Nothing;
    }
    let pt = pkt[1] & 0x7f;
    if Some(pt) == dtmf_pt {
        return Heard::Dtmf;
    }
    let csrc = (pkt[0] & 0x0f) as usize * 4;
    let payload = pkt.get(HEADER + csrc..).unwrap_or_default();
    if pt != 0 || payload.is_empty() {
        return Heard::Nothing;
    }
    if payload.len() >= 9 && &payload[..4] == MAGIC {
        let from = u32::from_be_bytes([payload[4], payload[5], payload[6], payload[7]]);
        let own = from == call && payload[8] == side as u8;
        return if own { Heard::Own } else { Heard::Phone(from) };
    }
    let sum: u32 = payload
        .iter()
        .map(|&b| u32::from(media::codec::g711::ulaw_decode(b).unsigned_abs()))
        .sum();
    if sum / payload.len() as u32 >= SILENT_BELOW {
        Heard::Played
    } else {
        Heard::Nothing
    }
}

/// The call number in the signature of a packet sent by `from`, if it is signed.
fn signer(pkt: &[u8], from: Side) -> Option<u32> {
    if pkt.len() < HEADER || pkt[0] >> 6 != 2 || pkt[1] & 0x7f != 0 {
        return None;
    }
    let csrc = (pkt[0] & 0x0f) as usize * 4;
    let payload = pkt.get(HEADER + csrc..)?;
    (payload.len() >= 9 && &payload[..4] == MAGIC && payload[8] == from as u8)
        .then(|| u32::from_be_bytes([payload[4], payload[5], payload[6], payload[7]]))
}

#[derive(Debug, PartialEq, Eq)]
enum Check {
    Ok,
    Bad,
    Dtmf,
    Ignore,
}

/// Judges a received packet against the signature a leg expects.
fn check(pkt: &[u8], call: u32, from: Side, dtmf_pt: Option<u8>) -> Check {
    if pkt.len() < HEADER || pkt[0] >> 6 != 2 {
        return Check::Ignore;
    }
    let pt = pkt[1] & 0x7f;
    // RTCP (RFC 5761: packet types 192–223 where RTP's marker+PT would be).
    if (192..=223).contains(&pkt[1]) {
        return Check::Ignore;
    }
    let csrc = (pkt[0] & 0x0f) as usize * 4;
    let payload = pkt.get(HEADER + csrc..).unwrap_or_default();
    if Some(pt) == dtmf_pt {
        return Check::Dtmf;
    }
    if pt != 0 {
        return Check::Bad;
    }
    if payload.len() >= 9
        && &payload[..4] == MAGIC
        && payload[4..8] == call.to_be_bytes()
        && payload[8] == from as u8
    {
        Check::Ok
    } else {
        Check::Bad
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(call: u32, side: Side, dtmf: Option<u8>) -> Stream {
        Stream {
            spec: StreamSpec {
                call,
                side,
                remote: "127.0.0.1:4000".parse().unwrap(),
                send_for: None,
                dtmf_pt: dtmf,
                dtmf_rx_pt: dtmf,
                echo_ok: false,
                hold_audio: false,
                listen_any: false,
                learn: false,
            },
            id: 0,
            started: Instant::now(),
            until: None,
            paused: false,
            seq: 0,
            ts: 0,
            ssrc: 1,
            media: LegMedia::default(),
            digits: VecDeque::new(),
            digit_at: 0,
        }
    }

    #[test]
    fn signature_tells_calls_and_sides_apart() {
        let tone = tone();
        let mut s = stream(42, Side::Caller, None);
        let mut pkt = [0u8; HEADER + SAMPLES];
        let len = next_packet(&mut s, &tone, &mut pkt);
        assert_eq!(len, 172);
        assert_eq!(check(&pkt[..len], 42, Side::Caller, None), Check::Ok);
        assert_eq!(
            check(&pkt[..len], 43, Side::Caller, None),
            Check::Bad,
            "another call"
        );
        assert_eq!(
            check(&pkt[..len], 42, Side::Callee, None),
            Check::Bad,
            "own echo"
        );
        let silence = [
            0x80, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
            0xff, 0xff,
        ];
        assert_eq!(check(&silence, 42, Side::Caller, None), Check::Bad);
        // A callee that could not read the call's number learns it from this.
        assert_eq!(signer(&pkt[..len], Side::Caller), Some(42));
        assert_eq!(
            signer(&pkt[..len], Side::Callee),
            None,
            "not the other side's"
        );
        assert_eq!(signer(&silence, Side::Caller), None);
    }

    #[test]
    fn dtmf_is_three_event_packets_with_one_timestamp() {
        let tone = tone();
        let mut s = stream(1, Side::Caller, Some(101));
        let mut pkt = [0u8; HEADER + SAMPLES];
        let mut events = Vec::new();
        for _ in 0..20 {
            let len = next_packet(&mut s, &tone, &mut pkt);
            if len == HEADER + 4 {
                events.push((
                    pkt[1],
                    u32::from_be_bytes(pkt[4..8].try_into().unwrap()),
                    pkt[13] >> 7,
                ));
                assert_eq!(check(&pkt[..len], 1, Side::Caller, Some(101)), Check::Dtmf);
            }
        }
        assert_eq!(events.len(), 3);
        assert_eq!(events[0].0, 0x80 | 101, "marker on the first");
        assert!(events.iter().all(|e| e.1 == events[0].1));
        assert_eq!(
            events.iter().map(|e| e.2).collect::<Vec<_>>(),
            vec![0, 0, 1]
        );
        assert_eq!((s.media.sent, s.media.dtmf_sent), (17, 3));
    }

    #[test]
    fn queued_digits_go_out_as_events_with_audio_between() {
        let tone = tone();
        let mut s = stream(1, Side::Caller, None);
        s.digits.extend([(101, 2), (101, 11)]);
        let mut pkt = [0u8; HEADER + SAMPLES];
        let mut seen = Vec::new();
        for _ in 0..14 {
            let len = next_packet(&mut s, &tone, &mut pkt);
            seen.push(if len == HEADER + 4 {
                (pkt[1] & 0x7f, pkt[12], pkt[13] >> 7)
            } else {
                (pkt[1] & 0x7f, 0xff, 0)
            });
        }
        let events: Vec<_> = seen.iter().filter(|e| e.0 == 101).collect();
        assert_eq!(events.len(), 6);
        assert_eq!(
            events.iter().map(|e| (e.1, e.2)).collect::<Vec<_>>(),
            vec![(2, 0), (2, 0), (2, 1), (11, 0), (11, 0), (11, 1)]
        );
        assert_eq!(seen[3].0, 0, "audio after a digit");
        assert!(s.digits.is_empty());
        assert_eq!((s.media.dtmf_sent, s.media.sent), (6, 8));
    }

    #[test]
    fn a_flow_leg_tells_phones_prompts_silence_and_its_own_echo_apart() {
        let tone = tone();
        let mut pkt = [0u8; HEADER + SAMPLES];
        let mut other = stream(9, Side::Callee, None);
        let len = next_packet(&mut other, &tone, &mut pkt);
        assert_eq!(
            classify(&pkt[..len], 1, Side::Caller, None),
            Heard::Phone(9)
        );
        assert_eq!(classify(&pkt[..len], 9, Side::Callee, None), Heard::Own);
        let mut played = pkt;
        played[HEADER..HEADER + SAMPLES].copy_from_slice(&tone);
        assert_eq!(
            classify(&played[..len], 1, Side::Caller, None),
            Heard::Played
        );
        let mut silent = pkt;
        silent[HEADER..HEADER + SAMPLES].fill(0xff);
        assert_eq!(
            classify(&silent[..len], 1, Side::Caller, None),
            Heard::Nothing
        );
    }
}
