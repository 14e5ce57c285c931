//! Where a call's parties meet its media: the call's relays, the port (relay side)
//! facing each channel, and the operations a bridge and a transfer need.
//!
//! A call starts with one relay: side A faces the caller, side B the callee. A party
//! moved in from another call (attended transfer) brings that call's relays along:
//! the two ports that faced the transferor are spliced back to back (each sends to
//! the other's address), so neither remaining party needs a re-INVITE. Each relay
//! converts between the payload types its two sides speak, so a chain of relays
//! carries G.711 of either law end to end.

use std::net::{IpAddr, SocketAddr};

use engine::sdp::{Crypto, Sdp};

use super::{PortPool, RelayHandle, Side, SrtpKeys, Voice};

pub type RelayId = u32;

/// A relay side: where one party's (or another relay's) media meets the switch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Port {
    pub relay: RelayId,
    pub side: Side,
}

/// One relay of the call and what each side speaks.
pub struct Relay {
    pub id: RelayId,
    pub handle: RelayHandle,
    /// The switch's IP written into SDP for this relay's ports.
    pub ip: IpAddr,
    /// What side A and side B speak, once known.
    pub voice: [Option<Voice>; 2],
    /// The telephone-event payload type of side A and side B, once known.
    pub events: [Option<u8>; 2],
    /// SRTP of side A and side B.
    crypto: std::cell::RefCell<[SideCrypto; 2]>,
}

/// SRTP at one relay side: the switch's own key for the party there, and the key
/// (and profile) the party's last SDP carried.
#[derive(Debug, Clone)]
struct SideCrypto {
    own: [u8; engine::sdp::CRYPTO_KEY_LEN],
    theirs: Option<Crypto>,
    secure_proto: bool,
}

impl SideCrypto {
    fn new() -> SideCrypto {
        SideCrypto {
            own: rand::random(),
            theirs: None,
            secure_proto: false,
        }
    }
}

/// Whether the switch offers SRTP to a party that has not said whether it speaks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SrtpOffer {
    /// No key offered.
    #[default]
    None,
    /// A key on `RTP/AVP`: a party without SRTP ignores it (best effort).
    BestEffort,
    /// `RTP/SAVP` with a key: a party without SRTP refuses the offer.
    Required,
}

impl SrtpOffer {
    /// As `sdp` (an offer from another party) proposes SRTP: passed on in kind.
    pub fn like(sdp: &Sdp) -> SrtpOffer {
        let Some(m) = sdp.active_audio() else {
            return SrtpOffer::None;
        };
        match (
            m.crypto().is_some(),
            engine::sdp::is_secure_proto(m.proto()),
        ) {
            (false, _) => SrtpOffer::None,
            (true, false) => SrtpOffer::BestEffort,
            (true, true) => SrtpOffer::Required,
        }
    }
}

/// Makes `chosen` (the switch's picture of what a party speaks) carry the keys of
/// the party's own SDP `theirs`, so that following it keys that party's SRTP.
pub fn keys_of(chosen: &mut Sdp, theirs: &Sdp) {
    let key = theirs.active_audio().and_then(|m| m.crypto());
    for m in chosen.media_mut() {
        if m.kind() == "audio" {
            m.set_crypto(key.as_ref());
        }
    }
}

fn index(side: Side) -> usize {
    match side {
        Side::A => 0,
        Side::B => 1,
    }
}

impl Relay {
    /// The switch's address of `side` (RTP).
    pub fn addr(&self, side: Side) -> SocketAddr {
        let (a, b) = self.handle.ports();
        let port = match side {
            Side::A => a.port(),
            Side::B => b.port(),
        };
        SocketAddr::new(self.ip, port)
    }

    /// `side` speaks this codec and telephone-event payload type from now on. A new
    /// voice comes with its events (none, when the party negotiated none); with no
    /// voice, `None` keeps what the side had.
    pub fn speak(&mut self, side: Side, voice: Option<Voice>, events: Option<u8>) {
        let i = index(side);
        let (old_voice, old_events) = (self.voice, self.events);
        if voice.is_some() {
            self.voice[i] = voice;
            self.events[i] = events;
        } else if events.is_some() {
            self.events[i] = events;
        }
        if let [Some(a), Some(b)] = self.voice {
            if self.voice != old_voice {
                if a.kind.name() != b.kind.name() {
                    tracing::debug!(a = a.kind.name(), b = b.kind.name(), "relay transcodes");
                }
                self.handle.set_codecs(a, b);
            }
        }
        if self.events != old_events {
            let [a, b] = self.events;
            self.handle.set_event_pts_of(a, b);
        }
    }

    /// The party at `side` sent `sdp`: SRTP with it when it carries a key the switch
    /// speaks (what it sends is protected with that key, what the switch sends with
    /// the switch's own), plain RTP when not.
    fn follow_crypto(&self, side: Side, sdp: &Sdp) {
        let Some(m) = sdp.active_audio() else {
            return;
        };
        let theirs = m.crypto();
        let mut all = self.crypto.borrow_mut();
        let c = &mut all[index(side)];
        c.secure_proto = engine::sdp::is_secure_proto(m.proto());
        if c.theirs == theirs {
            return;
        }
        c.theirs = theirs;
        let keys = c.theirs.as_ref().and_then(|t| {
            Some(SrtpKeys {
                suite: media::srtp::Suite::parse(t.suite)?,
                inbound: t.key,
                outbound: c.own,
            })
        });
        self.handle.set_srtp(side, keys);
    }

    /// Fits an SDP the switch sends the party at `side`: the audio section carries
    /// the switch's own key for that party when the party speaks SRTP (or when
    /// `offer` asks to propose it), and no other party's key ever.
    fn seal(&self, side: Side, sdp: &mut Sdp, offer: SrtpOffer) {
        let all = self.crypto.borrow();
        let c = &all[index(side)];
        let line = match (&c.theirs, offer) {
            (Some(t), _) => Some((
                Crypto {
                    tag: t.tag,
                    suite: t.suite,
                    key: c.own,
                },
                c.secure_proto,
            )),
            (None, SrtpOffer::None) => None,
            (None, o) => Some((
                Crypto {
                    tag: 1,
                    suite: engine::sdp::CRYPTO_SUITES[0],
                    key: c.own,
                },
                o == SrtpOffer::Required,
            )),
        };
        for m in sdp.media_mut() {
            if m.kind() != "audio" || !m.line().is_rtp() {
                continue;
            }
            match &line {
                Some((crypto, savp)) => {
                    m.set_crypto(Some(crypto));
                    m.set_proto(if *savp { "RTP/SAVP" } else { "RTP/AVP" });
                }
                None => {
                    m.set_crypto(None);
                    m.set_proto("RTP/AVP");
                }
            }
        }
    }

    /// True when the party at `side` speaks SRTP (its last SDP carried a key).
    pub fn is_secure(&self, side: Side) -> bool {
        self.crypto.borrow()[index(side)].theirs.is_some()
    }

    pub fn voice(&self, side: Side) -> Option<Voice> {
        self.voice[index(side)]
    }

    pub fn events(&self, side: Side) -> Option<u8> {
        self.events[index(side)]
    }
}

/// The relays of a call.
#[derive(Default)]
pub struct Relays {
    list: Vec<Relay>,
    next: RelayId,
    /// The ports whose party put the call on hold.
    held: std::cell::RefCell<Vec<Port>>,
}

impl Relays {
    pub fn add(&mut self, handle: RelayHandle, ip: IpAddr) -> RelayId {
        self.adopt(Relay {
            id: 0,
            handle,
            ip,
            voice: [None; 2],
            events: [None; 2],
            crypto: std::cell::RefCell::new([SideCrypto::new(), SideCrypto::new()]),
        })
    }

    /// Takes in a relay from another call under a new id.
    pub fn adopt(&mut self, mut relay: Relay) -> RelayId {
        let id = self.next;
        self.next += 1;
        relay.id = id;
        self.list.push(relay);
        id
    }

    pub fn get(&self, id: RelayId) -> Option<&Relay> {
        self.list.iter().find(|r| r.id == id)
    }

    pub fn get_mut(&mut self, id: RelayId) -> Option<&mut Relay> {
        self.list.iter_mut().find(|r| r.id == id)
    }

    /// Gives every relay up (to the call a party moves to).
    pub fn take_all(&mut self) -> Vec<Relay> {
        std::mem::take(&mut self.list)
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The switch's address at `port`.
    pub fn addr(&self, port: Port) -> Option<SocketAddr> {
        Some(self.get(port.relay)?.addr(port.side))
    }

    /// The switch's IP and port number at `port`, for SDP.
    pub fn sdp_at(&self, port: Port) -> Option<(IpAddr, u16)> {
        let a = self.addr(port)?;
        Some((a.ip(), a.port()))
    }

    /// Fits `sdp`, which the switch is about to send the party at `port`, to that
    /// party's SRTP (see `Relay::seal`).
    pub fn seal(&self, port: Port, sdp: &mut Sdp, offer: SrtpOffer) {
        if let Some(r) = self.get(port.relay) {
            r.seal(port.side, sdp, offer);
        }
    }

    /// Takes the keys of `sdp`, which the party at `port` sent, before the switch
    /// answers it (`follow` does the same with the rest of the description).
    pub fn follow_keys(&self, port: Port, sdp: &Sdp) {
        if let Some(r) = self.get(port.relay) {
            r.follow_crypto(port.side, sdp);
        }
    }

    /// True when the party at `port` speaks SRTP.
    pub fn is_secure(&self, port: Port) -> bool {
        self.get(port.relay).is_some_and(|r| r.is_secure(port.side))
    }

    /// Points `port` at what a party's SDP names, when the switch may send there
    /// before hearing from it (`latch::sdp_target_allowed`), and lets the party's
    /// signalling address (`peer`) latch; with no `peer` only the SDP's address may.
    pub fn follow(&self, port: Port, sdp: &Sdp, peer: Option<IpAddr>, pool: &PortPool) {
        let Some(r) = self.get(port.relay) else {
            return;
        };
        match peer {
            Some(ip) => r.handle.set_signalling(port.side, ip),
            None => r.handle.clear_signalling(port.side),
        }
        r.follow_crypto(port.side, sdp);
        let Some(remote) = rtp_target(sdp) else {
            return;
        };
        if super::sdp_target_allowed(remote, r.ip, |p| pool.owns(p)) {
            r.handle.set_remote(port.side, remote);
        } else {
            tracing::debug!(%remote, "SDP names an address media is not sent to before latching");
            r.handle.forget_remote(port.side);
        }
    }

    /// Holds (or resumes) the media towards `port`: the party there put the call on
    /// hold and wants none. The other side of that relay, towards the party left
    /// waiting, hears music on hold meanwhile (`music`, else the default), in the
    /// codec it speaks.
    pub fn hold(&self, port: Port, held: bool, music: Option<&media::wav::Announcement>) {
        let Some(r) = self.get(port.relay) else {
            return;
        };
        {
            let mut list = self.held.borrow_mut();
            list.retain(|p| *p != port);
            if held {
                list.push(port);
            }
        }
        r.handle.set_hold(port.side, held);
        let waiting = port.side.other();
        let music = r
            .voice(waiting)
            .filter(|_| held)
            .and_then(|v| music_on_hold(v, music));
        if held && music.is_none() {
            tracing::debug!("no music on hold: the waiting side's codec is not known");
        }
        r.handle.play(waiting, music);
    }

    /// Plays the prompts named (from `sounds`) to the party at `port`, once, in the
    /// codec it speaks, instead of what the other side sends; the relay reports when
    /// they have played out. False when the port's codec is not known yet.
    pub fn announce(&self, port: Port, prompts: &[&str]) -> bool {
        let list = prompts
            .iter()
            .filter_map(|name| {
                sounds::load(name)
                    .map_err(|e| tracing::error!(error = %e, "prompt not played"))
                    .ok()
            })
            .collect();
        self.play(port, list)
    }

    /// Plays `list` (a tenant's prompts, or built-in ones) to the party at `port`,
    /// once, as `announce` does.
    pub fn play(&self, port: Port, list: Vec<media::wav::Announcement>) -> bool {
        let Some(r) = self.get(port.relay) else {
            return false;
        };
        let Some(voice) = r.voice(port.side) else {
            return false;
        };
        let player = media::wav::Player::new(list, false);
        let ssrc = rand::random::<u32>();
        match media::source::PlaySource::new(player, voice.kind, voice.pt, voice.ptime_ms, ssrc) {
            Ok(s) => {
                r.handle.play(port.side, Some(s));
                true
            }
            Err(e) => {
                tracing::debug!(error = %e, "prompt not played");
                false
            }
        }
    }

    /// Stops what is played to the party at `port`.
    pub fn silence(&self, port: Port) {
        if let Some(r) = self.get(port.relay) {
            r.handle.play(port.side, None);
        }
    }

    /// Sends the party at `port` a key press as telephone-events, when it negotiated
    /// them; false when it did not (the press must reach it another way).
    pub fn dtmf(&self, port: Port, digit: char, duration_ms: u32) -> bool {
        let Some(r) = self.get(port.relay) else {
            return false;
        };
        let Some(pt) = r.events(port.side) else {
            return false;
        };
        r.handle.dtmf(port.side, pt, digit, duration_ms);
        true
    }

    /// True while the party at `port` holds the call.
    pub fn is_held(&self, port: Port) -> bool {
        self.held.borrow().contains(&port)
    }

    /// True while a party holds the call.
    pub fn any_held(&self) -> bool {
        !self.held.borrow().is_empty()
    }

    /// RTP packets `port` has received so far (relayed or dropped).
    pub fn received(&self, port: Port) -> u64 {
        let Some(r) = self.get(port.relay) else {
            return 0;
        };
        let s = r.handle.stats();
        let d = match port.side {
            Side::A => s.a_to_b,
            Side::B => s.b_to_a,
        };
        d.rtp_packets + d.dropped
    }

    /// `port` now faces a party speaking these payload types.
    pub fn speak(&mut self, port: Port, voice: Option<Voice>, events: Option<u8>) {
        if let Some(r) = self.get_mut(port.relay) {
            r.speak(port.side, voice, events);
        }
    }

    /// Connects two ports back to back: each sends to the other, only the other may
    /// latch, neither is held, and `y`'s relay speaks on `y` what `x` speaks.
    pub fn splice(&mut self, x: Port, y: Port) {
        let (Some(xa), Some(ya)) = (self.addr(x), self.addr(y)) else {
            return;
        };
        let (voice, events) = match self.get(x.relay) {
            Some(r) => (r.voice(x.side), r.events(x.side)),
            None => (None, None),
        };
        for (port, to) in [(x, ya), (y, xa)] {
            if let Some(r) = self.get(port.relay) {
                r.handle.clear_signalling(port.side);
                r.handle.set_remote(port.side, to);
                r.handle.set_hold(port.side, false);
            }
        }
        self.speak(y, voice, events);
    }
}

/// Where an SDP wants its (first) audio stream sent.
pub fn rtp_target(sdp: &Sdp) -> Option<SocketAddr> {
    let i = sdp.media().iter().position(|m| m.kind() == "audio")?;
    let port = sdp.media()[i].port();
    let ip: IpAddr = sdp.media_connection(i)?.address.parse().ok()?;
    (port != 0).then_some(SocketAddr::new(ip, port))
}

/// The default music on hold (`sounds`), loaded once and shared by every player.
fn hold_track() -> Option<&'static media::wav::Announcement> {
    static TRACK: std::sync::OnceLock<Option<media::wav::Announcement>> =
        std::sync::OnceLock::new();
    TRACK
        .get_or_init(|| match sounds::hold_music() {
            Ok(t) => Some(t),
            Err(e) => {
                tracing::error!(error = %e, "music on hold does not load");
                None
            }
        })
        .as_ref()
}

/// Music on hold (`track`, else the default) encoded as `voice`.
fn music_on_hold(
    voice: Voice,
    track: Option<&media::wav::Announcement>,
) -> Option<media::source::PlaySource> {
    let track = match track {
        Some(t) => t.clone(),
        None => hold_track()?.clone(),
    };
    let player = media::wav::Player::music_on_hold(track);
    let ssrc = rand::random::<u32>();
    match media::source::PlaySource::new(player, voice.kind, voice.pt, voice.ptime_ms, ssrc) {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::debug!(error = %e, "music on hold not played");
            None
        }
    }
}
