//! RFC 4733 telephone-events: the 4-byte payload, a sender that produces the packet
//! sequence of a key press (marker on the first, updates every packet time, three
//! redundant end packets), and a receiver that turns packets back into presses.

use super::{digit_to_event, event_to_digit, DtmfEvent};
use crate::{MediaError, Result};

/// One telephone-event payload (RFC 4733 §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TelephoneEvent {
    /// Event code (0–15 are DTMF digits).
    pub event: u8,
    /// The E bit: this is an end packet.
    pub end: bool,
    /// Power level in −dBm0, 0–63.
    pub volume: u8,
    /// Duration so far, in timestamp units.
    pub duration: u16,
}

impl TelephoneEvent {
    /// Parses the first event of a payload (further events, from RFC 4733's multiple
    /// events per packet, are ignored).
    pub fn parse(payload: &[u8]) -> Result<Self> {
        let Some(&[event, flags, d0, d1]) = payload.first_chunk::<4>() else {
            return Err(MediaError::Truncated {
                what: "telephone-event",
                need: 4,
                have: payload.len(),
            });
        };
        Ok(Self {
            event,
            end: flags & 0x80 != 0,
            volume: flags & 0x3F,
            duration: u16::from_be_bytes([d0, d1]),
        })
    }

    /// Prints the payload (the R bit is zero).
    pub fn to_bytes(&self) -> [u8; 4] {
        let d = self.duration.to_be_bytes();
        [
            self.event,
            (if self.end { 0x80 } else { 0 }) | (self.volume & 0x3F),
            d[0],
            d[1],
        ]
    }
}

/// A telephone-event to send: all packets of one press share its start timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventPacket {
    /// Marker bit: set on the first packet of the event.
    pub marker: bool,
    /// RTP timestamp: the event's start.
    pub timestamp: u32,
    /// The payload.
    pub event: TelephoneEvent,
}

#[derive(Debug, Clone, Copy)]
struct Active {
    event: u8,
    start: u32,
    duration: u32,
    sent_first: bool,
}

/// Produces telephone-event packets for key presses.
#[derive(Debug, Clone)]
pub struct DtmfSender {
    clock_rate: u32,
    volume: u8,
    active: Option<Active>,
}

impl DtmfSender {
    /// A sender for a stream clocked at `clock_rate`, at volume −10 dBm0.
    pub fn new(clock_rate: u32) -> Self {
        Self {
            clock_rate: clock_rate.max(1),
            volume: 10,
            active: None,
        }
    }

    /// True while a press is being sent.
    pub fn is_active(&self) -> bool {
        self.active.is_some()
    }

    /// Starts sending `digit`, whose first packet carries RTP timestamp `start`. An
    /// unfinished previous press is dropped (call [`DtmfSender::end`] first).
    pub fn begin(&mut self, digit: char, start: u32) -> Result<()> {
        let event = digit_to_event(digit).ok_or(MediaError::NotADigit(digit))?;
        self.active = Some(Active {
            event,
            start,
            duration: 0,
            sent_first: false,
        });
        Ok(())
    }

    /// The press has lasted `elapsed` more timestamp units: the update packet to send.
    pub fn tick(&mut self, elapsed: u32) -> Option<EventPacket> {
        let volume = self.volume;
        let a = self.active.as_mut()?;
        a.duration = a.duration.saturating_add(elapsed);
        let marker = !a.sent_first;
        a.sent_first = true;
        Some(EventPacket {
            marker,
            timestamp: a.start,
            event: TelephoneEvent {
                event: a.event,
                end: false,
                volume,
                duration: a.duration.min(u16::MAX as u32) as u16,
            },
        })
    }

    /// Ends the press: the three redundant end packets (RFC 4733 §2.5.1.4).
    pub fn end(&mut self) -> Vec<EventPacket> {
        let Some(a) = self.active.take() else {
            return Vec::new();
        };
        let packet = EventPacket {
            marker: !a.sent_first,
            timestamp: a.start,
            event: TelephoneEvent {
                event: a.event,
                end: true,
                volume: self.volume,
                duration: a.duration.min(u16::MAX as u32) as u16,
            },
        };
        vec![
            packet,
            EventPacket {
                marker: false,
                ..packet
            },
            EventPacket {
                marker: false,
                ..packet
            },
        ]
    }

    /// Every packet of a whole press of `duration_ms`, one update per `ptime_ms`.
    pub fn press(
        &mut self,
        digit: char,
        start: u32,
        duration_ms: u32,
        ptime_ms: u32,
    ) -> Result<Vec<EventPacket>> {
        self.begin(digit, start)?;
        let step = self.clock_rate / 1000 * ptime_ms.max(1);
        let total = self.clock_rate / 1000 * duration_ms;
        let mut packets = Vec::new();
        let mut sent = 0;
        while sent < total {
            let elapsed = step.min(total - sent);
            sent += elapsed;
            packets.extend(self.tick(elapsed));
        }
        packets.extend(self.end());
        Ok(packets)
    }
}

/// How far back (timestamp units) a packet counts as a reordered older event.
const REORDER_WINDOW: u32 = 65536;

#[derive(Debug, Clone, Copy)]
struct Current {
    timestamp: u32,
    digit: char,
    duration: u16,
    ended: bool,
}

/// Turns received telephone-event packets into key presses, once each despite the
/// redundant packets.
#[derive(Debug, Clone, Default)]
pub struct DtmfReceiver {
    current: Option<Current>,
}

impl DtmfReceiver {
    /// A receiver with no press in progress.
    pub fn new() -> Self {
        Self::default()
    }

    /// Handles a telephone-event packet with RTP timestamp `timestamp`. Events that are
    /// not DTMF digits (flash, tones) are ignored.
    pub fn on_packet(&mut self, timestamp: u32, payload: &[u8]) -> Result<Vec<DtmfEvent>> {
        let te = TelephoneEvent::parse(payload)?;
        let Some(digit) = event_to_digit(te.event) else {
            return Ok(Vec::new());
        };
        let mut events = Vec::new();
        match self.current.as_mut() {
            Some(c) if c.timestamp == timestamp => {
                c.duration = c.duration.max(te.duration);
                if te.end && !c.ended {
                    c.ended = true;
                    events.push(DtmfEvent::End {
                        digit: c.digit,
                        duration: c.duration as u32,
                    });
                }
                return Ok(events);
            }
            // A packet of a slightly older event (reordered): ignore. Much older
            // timestamps mean the source restarted its clock: a new event.
            Some(c)
                if (-(REORDER_WINDOW as i64)..0)
                    .contains(&(timestamp.wrapping_sub(c.timestamp) as i32 as i64)) =>
            {
                return Ok(events)
            }
            Some(c) if !c.ended => {
                // The previous press's end packets were all lost.
                events.push(DtmfEvent::End {
                    digit: c.digit,
                    duration: c.duration as u32,
                });
            }
            _ => {}
        }
        events.push(DtmfEvent::Begin { digit });
        if te.end {
            events.push(DtmfEvent::End {
                digit,
                duration: te.duration as u32,
            });
        }
        self.current = Some(Current {
            timestamp,
            digit,
            duration: te.duration,
            ended: te.end,
        });
        Ok(events)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_round_trip() {
        let te = TelephoneEvent {
            event: 11,
            end: true,
            volume: 10,
            duration: 1280,
        };
        let bytes = te.to_bytes();
        assert_eq!(bytes, [11, 0x8A, 0x05, 0x00]);
        assert_eq!(TelephoneEvent::parse(&bytes).unwrap(), te);
        assert!(TelephoneEvent::parse(&bytes[..3]).is_err());
    }

    #[test]
    fn press_has_marker_updates_and_three_ends() {
        let mut s = DtmfSender::new(8000);
        let packets = s.press('5', 1000, 100, 20).unwrap();
        assert_eq!(packets.len(), 5 + 3);
        assert!(packets[0].marker);
        assert!(packets[1..]
            .iter()
            .all(|p| !p.marker && p.timestamp == 1000));
        assert_eq!(packets[4].event.duration, 800);
        assert!(packets[5..]
            .iter()
            .all(|p| p.event.end && p.event.duration == 800));
        assert!(packets[..5].iter().all(|p| !p.event.end));
    }

    #[test]
    fn receiver_reports_each_press_once() {
        let mut s = DtmfSender::new(8000);
        let mut r = DtmfReceiver::new();
        let mut events = Vec::new();
        for (i, d) in ['1', '1', '#'].into_iter().enumerate() {
            for p in s.press(d, i as u32 * 4000, 80, 20).unwrap() {
                events.extend(r.on_packet(p.timestamp, &p.event.to_bytes()).unwrap());
            }
        }
        let expect = |d| {
            [
                DtmfEvent::Begin { digit: d },
                DtmfEvent::End {
                    digit: d,
                    duration: 640,
                },
            ]
        };
        let want: Vec<_> = ['1', '1', '#'].into_iter().flat_map(expect).collect();
        assert_eq!(events, want);
    }

    #[test]
    fn lost_end_packets_still_end_the_press() {
        let mut r = DtmfReceiver::new();
        let start = TelephoneEvent {
            event: 3,
            end: false,
            volume: 10,
            duration: 160,
        };
        assert_eq!(
            r.on_packet(0, &start.to_bytes()).unwrap(),
            vec![DtmfEvent::Begin { digit: '3' }]
        );
        let next = TelephoneEvent {
            event: 4,
            end: true,
            volume: 10,
            duration: 320,
        };
        let ev = r.on_packet(5000, &next.to_bytes()).unwrap();
        assert_eq!(
            ev,
            vec![
                DtmfEvent::End {
                    digit: '3',
                    duration: 160
                },
                DtmfEvent::Begin { digit: '4' },
                DtmfEvent::End {
                    digit: '4',
                    duration: 320
                }
            ]
        );
        // Flash (16) is not a digit.
        let flash = TelephoneEvent {
            event: 16,
            end: false,
            volume: 0,
            duration: 0,
        };
        assert!(r.on_packet(9000, &flash.to_bytes()).unwrap().is_empty());
    }
}
