//! DTMF: RFC 4733 telephone-events, in-band Goertzel detection, and conversion between
//! the two.

pub mod convert;
pub mod goertzel;
pub mod rfc4733;

pub use convert::{InbandToRfc4733, Rfc4733ToInband};
pub use goertzel::GoertzelDetector;
pub use rfc4733::{DtmfReceiver, DtmfSender, EventPacket, TelephoneEvent};

/// The 16 DTMF digits, in RFC 4733 event-code order (0–15).
pub const DIGITS: [char; 16] = [
    '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '*', '#', 'A', 'B', 'C', 'D',
];

/// Row (low-group) frequencies in Hz.
pub const ROWS: [f32; 4] = [697.0, 770.0, 852.0, 941.0];
/// Column (high-group) frequencies in Hz.
pub const COLUMNS: [f32; 4] = [1209.0, 1336.0, 1477.0, 1633.0];

/// The keypad, row by row.
const KEYPAD: [[char; 4]; 4] = [
    ['1', '2', '3', 'A'],
    ['4', '5', '6', 'B'],
    ['7', '8', '9', 'C'],
    ['*', '0', '#', 'D'],
];

/// A digit's RFC 4733 event code.
pub fn digit_to_event(digit: char) -> Option<u8> {
    let d = digit.to_ascii_uppercase();
    DIGITS.iter().position(|&c| c == d).map(|i| i as u8)
}

/// An event code's digit (codes 0–15 only).
pub fn event_to_digit(event: u8) -> Option<char> {
    DIGITS.get(event as usize).copied()
}

/// A digit's (row, column) frequencies.
pub fn digit_frequencies(digit: char) -> Option<(f32, f32)> {
    let d = digit.to_ascii_uppercase();
    KEYPAD.iter().enumerate().find_map(|(r, row)| {
        row.iter()
            .position(|&c| c == d)
            .map(|c| (ROWS[r], COLUMNS[c]))
    })
}

/// The digit at keypad row `row` and column `col`.
pub(crate) fn keypad(row: usize, col: usize) -> Option<char> {
    KEYPAD.get(row).and_then(|r| r.get(col)).copied()
}

/// A key press or release, from either detector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DtmfEvent {
    /// A digit started.
    Begin {
        /// The digit.
        digit: char,
    },
    /// A digit ended after `duration` samples (timestamp units for RFC 4733).
    End {
        /// The digit.
        digit: char,
        /// How long it lasted.
        duration: u32,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_agree() {
        for (i, &d) in DIGITS.iter().enumerate() {
            assert_eq!(digit_to_event(d), Some(i as u8));
            assert_eq!(event_to_digit(i as u8), Some(d));
            assert!(digit_frequencies(d).is_some());
        }
        assert_eq!(digit_frequencies('5'), Some((770.0, 1336.0)));
        assert_eq!(digit_to_event('x'), None);
        assert_eq!(event_to_digit(16), None);
    }
}
