//! A call flow's steps, read from a scenario's `[[steps]]` tables: what each caller
//! does with its call, one step after the other, each one checked and reported on its
//! own (`flow.rs` runs them).
//!
//! ```toml
//! [[steps]]
//! dial = "400"              # an INVITE, answered (by the switch or a phone)
//! [[steps]]
//! hear = "prompt"           # the switch speaks: audio without a phone's signature
//! [[steps]]
//! dtmf = "2"                # RFC 4733 digits
//! [[steps]]
//! hear = "phone"            # a phone's signature: the call landed at an answerer
//! within = "10s"
//! [[steps]]
//! hangup = true
//! ```
//!
//! Every step is one table with one action: `dial` (a number; `{ext}` is the caller's
//! extension, `{answerer}` the answering phone picked for this call; `expect` a final
//! status other than 2xx, e.g. 486), `hear` (`prompt`, `phone` or `audio`), `dtmf`,
//! `wait`, `hangup`, `bye` (the switch hangs up), `mwi` (`waiting` or `none`: a
//! message-summary NOTIFY reaches the answerer, timed from the start of the step
//! before it, the hang-up that left the message). `within` bounds how long a step may
//! take (default: the scenario's `timeout`); `name` labels it in the report.

use std::time::Duration;

use serde::Serialize;

use crate::scenario::{parse_duration, ScenarioError};

/// What a caller listens for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Hear {
    /// The switch speaking: non-silent audio without a phone's signature (a prompt,
    /// music on hold, a conference's mix of several speakers).
    Prompt,
    /// Another simulated phone: its signature (the call reached it).
    Phone,
    /// Either: someone or something other than the caller itself.
    Audio,
}

impl Hear {
    pub fn as_str(self) -> &'static str {
        match self {
            Hear::Prompt => "prompt",
            Hear::Phone => "phone",
            Hear::Audio => "audio",
        }
    }
}

/// One action of a flow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Call `number` (a template); answered, or refused with `expect`.
    Dial { number: String, expect: Option<u16> },
    /// At least `HEARD_PACKETS` packets of this kind arrive.
    Hear(Hear),
    /// Send these digits (0–9, *, #, A–D) as RFC 4733 events.
    Dtmf(String),
    /// Let the call (or the pause) go on.
    Wait(#[serde(with = "secs")] Duration),
    /// The caller hangs up: BYE, answered 2xx.
    Hangup,
    /// The switch hangs up the call (a feature code's confirmation, a full mailbox).
    Bye,
    /// A message-summary NOTIFY reaches the call's answerer, saying messages wait
    /// (`true`) or not, since the step before began. Callers who share an answerer
    /// share its NOTIFYs: give each its own for a strict count.
    Mwi { waiting: bool },
}

/// One step: its action, its time limit and its report label.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    pub name: String,
    pub action: Action,
    #[serde(with = "secs_opt")]
    pub within: Option<Duration>,
}

/// How many 20 ms packets make a step's `hear` (100 ms of audio).
pub const HEARD_PACKETS: u32 = 5;

const ACTIONS: &[&str] = &["dial", "hear", "dtmf", "wait", "hangup", "bye", "mwi"];
const KEYS: &[&str] = &[
    "dial", "hear", "dtmf", "wait", "hangup", "bye", "mwi", "expect", "within", "name",
];

fn err(field: String, message: impl Into<String>) -> ScenarioError {
    ScenarioError::Field {
        field,
        message: message.into(),
    }
}

/// Reads `steps` (an array of tables); errors name `steps[i].key`.
pub fn parse(v: &toml::Value) -> Result<Vec<Step>, ScenarioError> {
    let list = v.as_array().ok_or_else(|| {
        err(
            "steps".into(),
            "expected an array of tables ([[steps]] sections)",
        )
    })?;
    if list.is_empty() {
        return Err(err("steps".into(), "a flow needs at least one step"));
    }
    let steps = list
        .iter()
        .enumerate()
        .map(|(i, v)| parse_step(i, v))
        .collect::<Result<Vec<_>, _>>()?;
    check_order(&steps)?;
    Ok(steps)
}

fn parse_step(i: usize, v: &toml::Value) -> Result<Step, ScenarioError> {
    let at = |key: &str| format!("steps[{i}].{key}");
    let t = v
        .as_table()
        .ok_or_else(|| err(format!("steps[{i}]"), "expected a table"))?;
    if let Some(k) = t.keys().find(|k| !KEYS.contains(&k.as_str())) {
        return Err(err(
            at(k),
            format!("unknown field (known: {})", KEYS.join(", ")),
        ));
    }
    let actions: Vec<&str> = ACTIONS
        .iter()
        .copied()
        .filter(|a| t.contains_key(*a))
        .collect();
    let key = match actions.as_slice() {
        [one] => *one,
        [] => {
            return Err(err(
                format!("steps[{i}]"),
                format!("give one action: {}", ACTIONS.join(", ")),
            ))
        }
        [_, second, ..] => return Err(err(at(second), "one action per step")),
    };
    let value = &t[key];
    let text = |k: &str| {
        value.as_str().ok_or_else(|| {
            err(
                at(k),
                format!("expected a string, got {}", value.type_str()),
            )
        })
    };
    let flag = |k: &str| match value {
        toml::Value::Boolean(true) => Ok(()),
        _ => Err(err(at(k), "expected `true`")),
    };
    let action = match key {
        "dial" => {
            let number = text(key)?.trim().to_owned();
            if number.is_empty() || number.contains(char::is_whitespace) {
                return Err(err(at(key), "expected a number such as \"400\" or \"*78\""));
            }
            Action::Dial {
                number,
                expect: None,
            }
        }
        "hear" => Action::Hear(match text(key)? {
            "prompt" => Hear::Prompt,
            "phone" => Hear::Phone,
            "audio" => Hear::Audio,
            other => {
                return Err(err(
                    at(key),
                    format!("expected \"prompt\", \"phone\" or \"audio\", got \"{other}\""),
                ))
            }
        }),
        "dtmf" => {
            let digits = text(key)?.to_owned();
            if digits.is_empty() || digits.chars().any(|c| event_of(c).is_none()) {
                return Err(err(
                    at(key),
                    format!("expected digits 0-9, *, #, A-D, got \"{digits}\""),
                ));
            }
            Action::Dtmf(digits)
        }
        "wait" => Action::Wait(duration(&at(key), value)?),
        "hangup" => {
            flag(key)?;
            Action::Hangup
        }
        "bye" => {
            flag(key)?;
            Action::Bye
        }
        "mwi" => Action::Mwi {
            waiting: match text(key)? {
                "waiting" => true,
                "none" => false,
                other => {
                    return Err(err(
                        at(key),
                        format!("expected \"waiting\" or \"none\", got \"{other}\""),
                    ))
                }
            },
        },
        _ => unreachable!("one of ACTIONS"),
    };
    let action = match (action, t.get("expect")) {
        (a, None) => a,
        (Action::Dial { number, .. }, Some(v)) => match v.as_integer() {
            Some(code @ 300..=699) => Action::Dial {
                number,
                expect: Some(code as u16),
            },
            _ => {
                return Err(err(
                    at("expect"),
                    "expected a final status 300-699 (a refusal such as 486)",
                ))
            }
        },
        (_, Some(_)) => return Err(err(at("expect"), "only a `dial` step expects a status")),
    };
    let within = match t.get("within") {
        None => None,
        Some(v) => {
            let d = duration(&at("within"), v)?;
            if d.is_zero() {
                return Err(err(at("within"), "must be longer than 0s"));
            }
            Some(d)
        }
    };
    let name = match t.get("name") {
        None => default_name(&action),
        Some(v) => v
            .as_str()
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| err(at("name"), "expected a non-empty string"))?
            .to_owned(),
    };
    Ok(Step {
        name,
        action,
        within,
    })
}

fn duration(field: &str, v: &toml::Value) -> Result<Duration, ScenarioError> {
    match v {
        toml::Value::String(s) => parse_duration(s).map_err(|m| err(field.into(), m)),
        toml::Value::Integer(n) if *n >= 0 => Ok(Duration::from_secs(*n as u64)),
        _ => Err(err(
            field.into(),
            "expected a duration such as \"2s\" or \"500ms\"",
        )),
    }
}

/// The report's label of a step without a `name`.
fn default_name(a: &Action) -> String {
    match a {
        Action::Dial {
            number,
            expect: None,
        } => format!("dial {number}"),
        Action::Dial {
            number,
            expect: Some(c),
        } => format!("dial {number} ({c})"),
        Action::Hear(h) => format!("hear {}", h.as_str()),
        Action::Dtmf(d) => format!("dtmf {d}"),
        Action::Wait(d) => format!("wait {}s", d.as_secs_f64()),
        Action::Hangup => "hangup".into(),
        Action::Bye => "bye".into(),
        Action::Mwi { waiting: true } => "mwi waiting".into(),
        Action::Mwi { waiting: false } => "mwi none".into(),
    }
}

/// Steps that need a call come while one is up: after an answered `dial`, before the
/// `hangup` or `bye` that ends it; a `dial` comes when none is.
fn check_order(steps: &[Step]) -> Result<(), ScenarioError> {
    let mut up = false;
    for (i, s) in steps.iter().enumerate() {
        let key = match &s.action {
            Action::Dial { expect, .. } => {
                if up {
                    return Err(err(
                        format!("steps[{i}].dial"),
                        "a call is already up: end it with `hangup` or `bye` first",
                    ));
                }
                up = expect.is_none();
                continue;
            }
            Action::Hear(_) => "hear",
            Action::Dtmf(_) => "dtmf",
            Action::Hangup => "hangup",
            Action::Bye => "bye",
            Action::Wait(_) | Action::Mwi { .. } => continue,
        };
        if !up {
            return Err(err(
                format!("steps[{i}].{key}"),
                "needs a call: put an answered `dial` before it",
            ));
        }
        if matches!(s.action, Action::Hangup | Action::Bye) {
            up = false;
        }
    }
    Ok(())
}

/// The RFC 4733 event code of a DTMF character.
pub fn event_of(c: char) -> Option<u8> {
    match c {
        '0'..='9' => Some(c as u8 - b'0'),
        '*' => Some(10),
        '#' => Some(11),
        'A'..='D' => Some(12 + (c as u8 - b'A')),
        _ => None,
    }
}

/// Whether any step needs the answerers' mailboxes watched.
pub fn watches_mwi(steps: &[Step]) -> bool {
    steps.iter().any(|s| matches!(s.action, Action::Mwi { .. }))
}

/// Whether a step names the call's answerer.
pub fn needs_answerer(steps: &[Step]) -> bool {
    steps.iter().any(|s| match &s.action {
        Action::Dial { number, .. } => number.contains("{answerer}"),
        Action::Mwi { .. } => true,
        _ => false,
    })
}

mod secs {
    use std::time::Duration;

    pub fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }
}

mod secs_opt {
    use std::time::Duration;

    pub fn serialize<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_f64(d.as_secs_f64()),
            None => s.serialize_none(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn steps(text: &str) -> Result<Vec<Step>, ScenarioError> {
        let t: toml::Table = toml::from_str(text).unwrap();
        parse(&t["steps"])
    }

    fn field(text: &str) -> String {
        match steps(text) {
            Err(ScenarioError::Field { field, .. }) => field,
            other => panic!("expected a field error, got {other:?}"),
        }
    }

    #[test]
    fn an_ivr_flow_reads_in_order_with_names_and_limits() {
        let s = steps(
            r#"
            [[steps]]
            dial = "400"
            [[steps]]
            hear = "prompt"
            [[steps]]
            dtmf = "2#"
            [[steps]]
            hear = "phone"
            within = "10s"
            name = "landed"
            [[steps]]
            wait = "1s"
            [[steps]]
            hangup = true
            [[steps]]
            dial = "*78"
            expect = 486
            "#,
        )
        .unwrap();
        assert_eq!(s.len(), 7);
        assert_eq!(s[0].name, "dial 400");
        assert_eq!(s[2].action, Action::Dtmf("2#".into()));
        assert_eq!(s[3].name, "landed");
        assert_eq!(s[3].within, Some(Duration::from_secs(10)));
        assert_eq!(s[4].action, Action::Wait(Duration::from_secs(1)));
        assert_eq!(
            s[6].action,
            Action::Dial {
                number: "*78".into(),
                expect: Some(486)
            }
        );
        assert_eq!(s[6].name, "dial *78 (486)");
    }

    #[test]
    fn errors_name_the_step_and_its_field() {
        assert_eq!(field("steps = []"), "steps");
        assert_eq!(field("[[steps]]\nhear = \"music\"\n"), "steps[0].hear");
        assert_eq!(field("[[steps]]\nname = \"x\"\n"), "steps[0]");
        assert_eq!(
            field("[[steps]]\ndial = \"1\"\n[[steps]]\nhear = \"music\"\n"),
            "steps[1].hear"
        );
        assert_eq!(
            field("[[steps]]\ndial = \"1\"\nhear = \"phone\"\n"),
            "steps[0].hear"
        );
        assert_eq!(
            field("[[steps]]\ndial = \"1\"\nvolume = 3\n"),
            "steps[0].volume"
        );
        assert_eq!(
            field("[[steps]]\ndial = \"1\"\nexpect = 200\n"),
            "steps[0].expect"
        );
        assert_eq!(
            field("[[steps]]\nwait = 1\nexpect = 486\n"),
            "steps[0].expect"
        );
        assert_eq!(
            field("[[steps]]\ndial = \"1\"\n[[steps]]\ndtmf = \"12x\"\n"),
            "steps[1].dtmf"
        );
        assert_eq!(field("[[steps]]\nhangup = false\n"), "steps[0].hangup");
        assert_eq!(field("[[steps]]\nmwi = \"maybe\"\n"), "steps[0].mwi");
        assert_eq!(
            field("[[steps]]\ndial = \"1\"\nwithin = \"0s\"\n"),
            "steps[0].within"
        );
    }

    #[test]
    fn steps_that_need_a_call_come_while_one_is_up() {
        assert_eq!(field("[[steps]]\nhear = \"prompt\"\n"), "steps[0].hear");
        assert_eq!(
            field("[[steps]]\ndial = \"1\"\n[[steps]]\ndial = \"2\"\n"),
            "steps[1].dial"
        );
        assert_eq!(
            field("[[steps]]\ndial = \"1\"\n[[steps]]\nbye = true\n[[steps]]\ndtmf = \"1\"\n"),
            "steps[2].dtmf"
        );
        assert_eq!(
            field("[[steps]]\ndial = \"1\"\nexpect = 486\n[[steps]]\nhangup = true\n"),
            "steps[1].hangup"
        );
        // A wait or an MWI check needs no call; a refused dial leaves none up.
        steps("[[steps]]\ndial = \"1\"\nexpect = 486\n[[steps]]\nwait = 1\n[[steps]]\ndial = \"2\"\n[[steps]]\nbye = true\n[[steps]]\nmwi = \"waiting\"\n").unwrap();
    }

    #[test]
    fn dtmf_characters_are_rfc_4733_events() {
        let codes: Vec<u8> = "0189*#AD".chars().filter_map(event_of).collect();
        assert_eq!(codes, vec![0, 1, 8, 9, 10, 11, 12, 15]);
        assert_eq!(event_of('x'), None);
    }
}
