//! The switch's spoken prompts, embedded in the binary so it needs no sound files at
//! run time.
//!
//! Each prompt is a mono 8 kHz 16-bit PCM WAV made by `make-prompts.sh` (espeak-ng and
//! sox) from `prompts.txt`; this catalogue maps its name to those bytes, and
//! [`load`] turns it into a [`media::wav::Announcement`] ready to play.

use media::wav::Announcement;
use std::sync::OnceLock;

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
pub enum SoundsError {
    /// No prompt has that name.
    #[error("no prompt named {0:?}")]
    Unknown(String),
    /// The embedded WAV did not load (a build defect).
    #[error(transparent)]
    Media(#[from] media::MediaError),
}

/// One catalogued prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prompt {
    /// Its name, as dialplans and applications refer to it.
    pub name: &'static str,
    /// What it says.
    pub text: &'static str,
    /// The WAV file's bytes.
    pub wav: &'static [u8],
}

macro_rules! prompt {
    ($name:literal, $text:literal) => {
        Prompt {
            name: $name,
            text: $text,
            wav: include_bytes!(concat!("../prompts/", $name, ".wav")),
        }
    };
}

/// Every prompt, in `prompts.txt` order.
pub static CATALOGUE: &[Prompt] = &[
    prompt!(
        "vm_greeting",
        "The person you are calling is not available. Please leave a message after the tone."
    ),
    prompt!(
        "vm_record_after_tone",
        "Please record your message after the tone. When you are finished, hang up."
    ),
    prompt!(
        "vm_enter_pin",
        "Please enter your PIN, followed by the pound key."
    ),
    prompt!("vm_new_messages", "You have new messages."),
    prompt!("vm_no_messages", "You have no new messages."),
    prompt!("vm_goodbye", "Goodbye."),
    prompt!(
        "ivr_invalid_choice",
        "That is not a valid choice. Please try again."
    ),
    prompt!("ivr_no_input", "We did not receive your selection."),
    prompt!("queue_you_are_caller", "You are caller number"),
    prompt!(
        "queue_please_hold",
        "Please hold. Your call is important to us."
    ),
    prompt!("queue_transfer", "Please hold while we transfer your call."),
    prompt!(
        "after_hours",
        "Our office is now closed. Please call again during business hours."
    ),
    prompt!(
        "number_unavailable",
        "The number you have dialed is not available."
    ),
    prompt!("digit_0", "zero"),
    prompt!("digit_1", "one"),
    prompt!("digit_2", "two"),
    prompt!("digit_3", "three"),
    prompt!("digit_4", "four"),
    prompt!("digit_5", "five"),
    prompt!("digit_6", "six"),
    prompt!("digit_7", "seven"),
    prompt!("digit_8", "eight"),
    prompt!("digit_9", "nine"),
    prompt!(
        "conf_enter_pin",
        "Please enter the conference PIN, followed by the pound key."
    ),
    prompt!("conf_wrong_pin", "That PIN is not correct."),
    prompt!("feature_on", "The feature is now on."),
    prompt!("feature_off", "The feature is now off."),
    prompt!("feature_refused", "That cannot be done."),
    prompt!(
        "ivr_demo_main",
        "Welcome. For sales, press 1. For support, press 2. For other languages, press 9."
    ),
    prompt!(
        "ivr_demo_languages",
        "For English, press 1. For German, press 2."
    ),
    prompt!(
        "vm_options",
        "To record your greeting, press 8. To change your PIN, press 0."
    ),
    prompt!(
        "vm_record_greeting",
        "Record your greeting after the tone. Press the pound key when you are done."
    ),
    prompt!("vm_greeting_saved", "Your greeting is saved."),
    prompt!(
        "vm_new_pin",
        "Please enter your new PIN, followed by the pound key."
    ),
    prompt!("vm_pin_changed", "Your PIN is changed."),
    prompt!(
        "emergency_unavailable",
        "Emergency calls cannot be connected right now. Please use another phone."
    ),
];

/// The default music on hold: a plucked melody of eight seconds that loops cleanly,
/// synthesised by `make-prompts.sh` (sox), in the prompts' format.
pub static HOLD_MUSIC: Prompt = prompt!("hold_music", "(music)");

/// The default music on hold, loaded for playing.
pub fn hold_music() -> Result<Announcement, SoundsError> {
    Ok(Announcement::from_bytes(HOLD_MUSIC.name, HOLD_MUSIC.wav)?)
}

/// The prompt named `name`.
pub fn get(name: &str) -> Option<&'static Prompt> {
    CATALOGUE.iter().find(|p| p.name == name)
}

/// The prompt named `name`, ready to play. Each prompt is decoded once per process and
/// shared (an `Announcement` holds its samples behind an `Arc`): a thousand callers
/// waiting in a queue hear one copy of "please hold", not a thousand.
pub fn load(name: &str) -> Result<Announcement, SoundsError> {
    static LOADED: OnceLock<Vec<OnceLock<Announcement>>> = OnceLock::new();
    let index = CATALOGUE
        .iter()
        .position(|p| p.name == name)
        .ok_or_else(|| SoundsError::Unknown(name.to_owned()))?;
    let slot = &LOADED.get_or_init(|| CATALOGUE.iter().map(|_| OnceLock::new()).collect())[index];
    if let Some(a) = slot.get() {
        return Ok(a.clone());
    }
    let prompt = &CATALOGUE[index];
    let announcement = Announcement::from_bytes(prompt.name, prompt.wav)?;
    tracing::debug!(name, ms = announcement.duration_ms(), "prompt loaded");
    Ok(slot.get_or_init(|| announcement).clone())
}

/// The prompt that speaks digit `d` (0–9), for queue positions and numbers.
pub fn digit(d: u8) -> Option<&'static Prompt> {
    const NAMES: [&str; 10] = [
        "digit_0", "digit_1", "digit_2", "digit_3", "digit_4", "digit_5", "digit_6", "digit_7",
        "digit_8", "digit_9",
    ];
    NAMES.get(d as usize).and_then(|n| get(n))
}

/// "You are caller number" followed by the digits of `position`.
pub fn queue_position(position: u32) -> Result<Vec<Announcement>, SoundsError> {
    let mut list = vec![load("queue_you_are_caller")?];
    for c in position.to_string().bytes() {
        let p = digit(c - b'0').ok_or_else(|| SoundsError::Unknown(format!("digit {c}")))?;
        list.push(load(p.name)?);
    }
    Ok(list)
}

#[cfg(test)]
mod tests {
    use super::*;
    use media::wav::Player;

    #[test]
    fn hold_music_is_eight_seconds_of_sound() {
        let a = hold_music().unwrap();
        assert_eq!(a.duration_ms(), 8000);
        let loud = a
            .samples()
            .iter()
            .filter(|s| s.unsigned_abs() > 1000)
            .count();
        assert!(loud > a.samples().len() / 4, "{loud} loud samples");
    }

    #[test]
    fn a_prompt_is_decoded_once_and_shared() {
        let a = load("queue_please_hold").unwrap();
        let b = load("queue_please_hold").unwrap();
        assert_eq!(a.samples().as_ptr(), b.samples().as_ptr());
        assert!(matches!(
            load("no_such_prompt"),
            Err(SoundsError::Unknown(_))
        ));
    }

    #[test]
    fn every_prompt_loads_through_the_player() {
        for p in CATALOGUE {
            let a = load(p.name).unwrap_or_else(|e| panic!("{}: {e}", p.name));
            // A few seconds at most, and not silent.
            assert!(
                a.duration_ms() > 200 && a.duration_ms() < 8000,
                "{}",
                p.name
            );
            let mut player = Player::new(vec![a], false);
            let mut frame = [0i16; 160];
            let mut peak = 0u16;
            while player.fill(&mut frame) {
                peak = peak.max(frame.iter().map(|s| s.unsigned_abs()).max().unwrap_or(0));
            }
            assert!(peak > 8000, "{} is too quiet: {peak}", p.name);
        }
    }

    #[test]
    fn catalogue_matches_the_script_input() {
        let listed: Vec<(&str, &str)> = include_str!("../prompts.txt")
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .filter_map(|l| l.split_once('|'))
            .collect();
        let catalogued: Vec<(&str, &str)> = CATALOGUE.iter().map(|p| (p.name, p.text)).collect();
        assert_eq!(listed, catalogued);
    }

    #[test]
    fn lookups() {
        assert!(get("ivr_invalid_choice").is_some());
        assert!(matches!(load("nope"), Err(SoundsError::Unknown(_))));
        assert_eq!(queue_position(12).unwrap().len(), 3);
        assert_eq!(digit(7).unwrap().text, "seven");
    }
}
