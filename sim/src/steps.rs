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
//! extension, `{answerer}` the answering phone picked for this call, `{other}` a
//! second one; `expect` a final status other than 2xx, e.g. 486), `hear` (`prompt`,
//! `phone`, `audio`, or `joined`: the two answerers hear each other after a
//! transfer), `dtmf`, `wait`, `hangup`, `bye` (the switch hangs up), `mwi` (`waiting`
//! or `none`: a message-summary NOTIFY reaches the answerer, timed from the start of
//! the step before it, the hang-up that left the message). `within` bounds how long a
//! step may take (default: the scenario's `timeout`); `name` labels it in the report.
//!
//! Line features: `ring` (a number: the call rings, 180 or 183, and is left ringing),
//! `pickup` (a code such as `"*59{answerer}"` or `"*8"`: the other answering phone
//! dials it and takes the ringing call, both ends answered), `hold` (`true`: a
//! sendonly re-INVITE, answered), `consult` (a number: a second call while the first
//! is up, as a phone does before an attended transfer), `transfer` (a number: REFER
//! in the first call, replacing the consultation when one is up, blind otherwise;
//! passes when the switch's NOTIFY reports the transfer done and the caller's calls
//! are down: hung up by the switch, or by the phone a second after that NOTIFY).
//! `dtmf`, `hear` and `hangup` act on the newest call: a `hangup` during a
//! consultation ends the consultation and the first call goes on.
//!
//! Trunks: `call_in` (a number: the scenario's `carrier` calls it into the switch, to
//! the Contact a registration trunk registered at the carrier, the number in To, as
//! carriers do; answered). A `dial` of an external number leaves through the
//! switch's trunk and the carrier answers its DIDs.

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
    /// The flow's two answering phones, joined by its transfer, hear each other.
    Joined,
}

impl Hear {
    pub fn as_str(self) -> &'static str {
        match self {
            Hear::Prompt => "prompt",
            Hear::Phone => "phone",
            Hear::Audio => "audio",
            Hear::Joined => "joined",
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
    /// The caller hangs up: BYE, answered 2xx; the call heard nothing of its own
    /// audio back while it was up (a crossed or looped stream).
    Hangup,
    /// The switch hangs up the call (a feature code's confirmation, a full mailbox).
    Bye,
    /// A message-summary NOTIFY reaches the call's answerer, saying messages wait
    /// (`true`) or not, since the step before began. Callers who share an answerer
    /// share its NOTIFYs: give each its own for a strict count.
    Mwi { waiting: bool },
    /// Call `number`; passes at its first 180 or 183 and leaves it ringing.
    Ring(String),
    /// The flow's other answerer dials `number` (a pickup code) and takes the call
    /// left ringing: its call and the ringing one are both answered.
    Pickup(String),
    /// Hold the call: a sendonly re-INVITE, answered 2xx.
    Hold,
    /// A second call to `number` while the first is up (a consultation).
    Consult(String),
    /// REFER the first call to `number`: attended (Replaces) when a consultation is
    /// up, blind otherwise. Passes when a NOTIFY says 2xx and the caller's calls are
    /// down (the switch's BYEs, or the phone's own a second later).
    Transfer(String),
    /// The carrier calls `number` into the switch, to the Contact its trunk
    /// registered; answered.
    CallIn(String),
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

const ACTIONS: &[&str] = &[
    "dial", "hear", "dtmf", "wait", "hangup", "bye", "mwi", "ring", "pickup", "hold", "consult",
    "transfer", "call_in",
];
const KEYS: &[&str] = &[
    "dial", "hear", "dtmf", "wait", "hangup", "bye", "mwi", "ring", "pickup", "hold", "consult",
    "transfer", "call_in", "expect", "within", "name",
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
    let number = |k: &str| {
        let n = text(k)?.trim().to_owned();
        if n.is_empty() || n.contains(char::is_whitespace) {
            return Err(err(at(k), "expected a number such as \"400\" or \"*78\""));
        }
        Ok(n)
    };
    let action = match key {
        "dial" => Action::Dial {
            number: number(key)?,
            expect: None,
        },
        "ring" => Action::Ring(number(key)?),
        "pickup" => Action::Pickup(number(key)?),
        "consult" => Action::Consult(number(key)?),
        "transfer" => Action::Transfer(number(key)?),
        "call_in" => Action::CallIn(number(key)?),
        "hold" => {
            flag(key)?;
            Action::Hold
        }
        "hear" => Action::Hear(match text(key)? {
            "prompt" => Hear::Prompt,
            "phone" => Hear::Phone,
            "audio" => Hear::Audio,
            "joined" => Hear::Joined,
            other => {
                return Err(err(
                    at(key),
                    format!(
                        "expected \"prompt\", \"phone\", \"audio\" or \"joined\", got \"{other}\""
                    ),
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
        Action::Ring(n) => format!("ring {n}"),
        Action::Pickup(n) => format!("pickup {n}"),
        Action::Hold => "hold".into(),
        Action::Consult(n) => format!("consult {n}"),
        Action::Transfer(n) => format!("transfer {n}"),
        Action::CallIn(n) => format!("call in {n}"),
    }
}

/// Where a flow's calls stand between steps, for `check_order`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Calls {
    None,
    Ringing,
    Up,
    Consulting,
    /// A call the carrier placed (`call_in`): the caller's phone has no part in it.
    CarrierUp,
    /// After a transfer: the caller has no call; its answerers talk.
    Joined,
}

/// Where `hear`, `dtmf`, `hangup` and `bye` may come.
const ANY_CALL: &[Calls] = &[Calls::Up, Calls::Consulting, Calls::CarrierUp];

/// Steps that need a call come while one is up: after an answered `dial` (or a
/// `pickup` of a `ring`), before the `hangup` or `bye` that ends it; a `dial` or a
/// `ring` comes when none is; `consult` and `hold` need the first call, `transfer`
/// a call to hand over, `hear = "joined"` a transfer before it.
fn check_order(steps: &[Step]) -> Result<(), ScenarioError> {
    let mut calls = Calls::None;
    for (i, s) in steps.iter().enumerate() {
        let (key, needs, next): (&str, &[Calls], Calls) = match &s.action {
            Action::Dial { expect, .. } => (
                "dial",
                &[Calls::None, Calls::Joined],
                if expect.is_none() {
                    Calls::Up
                } else {
                    Calls::None
                },
            ),
            Action::Ring(_) => ("ring", &[Calls::None, Calls::Joined], Calls::Ringing),
            Action::CallIn(_) => ("call_in", &[Calls::None, Calls::Joined], Calls::CarrierUp),
            Action::Pickup(_) => ("pickup", &[Calls::Ringing], Calls::Up),
            Action::Hear(Hear::Joined) => ("hear", &[Calls::Joined], Calls::Joined),
            Action::Hear(_) => ("hear", ANY_CALL, calls),
            Action::Dtmf(_) => ("dtmf", ANY_CALL, calls),
            Action::Hold => ("hold", &[Calls::Up], Calls::Up),
            Action::Consult(_) => ("consult", &[Calls::Up], Calls::Consulting),
            Action::Transfer(_) => ("transfer", &[Calls::Up, Calls::Consulting], Calls::Joined),
            Action::Hangup | Action::Bye => (
                if s.action == Action::Hangup {
                    "hangup"
                } else {
                    "bye"
                },
                ANY_CALL,
                if calls == Calls::Consulting {
                    Calls::Up
                } else {
                    Calls::None
                },
            ),
            Action::Wait(_) | Action::Mwi { .. } => continue,
        };
        if !needs.contains(&calls) {
            let message = match calls {
                Calls::Ringing => "the call left ringing comes first: `pickup` it",
                Calls::Up | Calls::Consulting | Calls::CarrierUp
                    if matches!(key, "dial" | "ring" | "call_in") =>
                {
                    "a call is already up: end it with `hangup` or `bye` first"
                }
                Calls::CarrierUp => {
                    "the call came in from the carrier: the caller's phone cannot hold, consult or transfer it"
                }
                Calls::Consulting => "a consultation is up: `transfer` or `hangup` it first",
                Calls::Joined if key == "hear" => {
                    "the caller's calls were transferred: `hear = \"joined\"`, or a new `dial`, `ring` or `call_in`"
                }
                _ if key == "pickup" => "needs a call left ringing: put a `ring` before it",
                _ if key == "hear" && s.action == Action::Hear(Hear::Joined) => {
                    "needs a `transfer` before it"
                }
                _ => "needs a call: put an answered `dial` before it",
            };
            return Err(err(format!("steps[{i}].{key}"), message));
        }
        calls = next;
    }
    if calls == Calls::Ringing {
        return Err(err(
            format!("steps[{}]", steps.len() - 1),
            "the flow ends with its call left ringing: add a `pickup`",
        ));
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

/// The number a step dials, if it dials one.
fn number_of(a: &Action) -> Option<&str> {
    match a {
        Action::Dial { number, .. }
        | Action::Ring(number)
        | Action::Pickup(number)
        | Action::Consult(number)
        | Action::Transfer(number)
        | Action::CallIn(number) => Some(number),
        _ => None,
    }
}

/// Whether a step names the call's answerer.
pub fn needs_answerer(steps: &[Step]) -> bool {
    needs_other(steps)
        || steps.iter().any(|s| {
            matches!(s.action, Action::Mwi { .. })
                || number_of(&s.action).is_some_and(|n| n.contains("{answerer}"))
        })
}

/// Whether a step calls in from the carrier.
pub fn calls_in(steps: &[Step]) -> bool {
    steps.iter().any(|s| matches!(s.action, Action::CallIn(_)))
}

/// Whether a flow needs a second answering phone (`{other}`, the picker of a
/// `pickup`, the pair a transfer joins).
pub fn needs_other(steps: &[Step]) -> bool {
    steps.iter().any(|s| {
        matches!(s.action, Action::Pickup(_) | Action::Hear(Hear::Joined))
            || number_of(&s.action).is_some_and(|n| n.contains("{other}"))
    })
}

/// Whether a flow takes its answering phones for itself while it runs: it names
/// them, and what rings them, picks them up, consults or joins them must be this
/// flow's call, not another's.
pub fn owns_answerers(steps: &[Step]) -> bool {
    needs_answerer(steps)
        && (needs_other(steps)
            || steps.iter().any(|s| {
                matches!(
                    s.action,
                    Action::Ring(_) | Action::Transfer(_) | Action::Consult(_)
                )
            }))
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
    fn line_feature_steps_read_and_come_in_their_order() {
        let s = steps(
            "[[steps]]\nring = \"{answerer}\"\n[[steps]]\npickup = \"*59{answerer}\"\n\
             [[steps]]\nhear = \"phone\"\n[[steps]]\nhold = true\n[[steps]]\nconsult = \"{other}\"\n\
             [[steps]]\nhangup = true\n[[steps]]\nconsult = \"{other}\"\n\
             [[steps]]\ntransfer = \"{other}\"\n[[steps]]\nhear = \"joined\"\n[[steps]]\nwait = 1\n",
        )
        .unwrap();
        assert_eq!(s[0].action, Action::Ring("{answerer}".into()));
        assert_eq!(s[1].name, "pickup *59{answerer}");
        assert_eq!(s[3].action, Action::Hold);
        // A consultation hung up leaves the first call: a second one may follow.
        assert_eq!(s[6].name, "consult {other}");
        assert_eq!(s[7].action, Action::Transfer("{other}".into()));
        assert_eq!(s[8].action, Action::Hear(Hear::Joined));
        assert!(needs_other(&s) && owns_answerers(&s) && needs_answerer(&s));
        // A blind transfer straight from the first call.
        steps("[[steps]]\ndial = \"1\"\n[[steps]]\ntransfer = \"2\"\n[[steps]]\ndial = \"3\"\n[[steps]]\nhangup = true\n").unwrap();
        let plain = steps("[[steps]]\ndial = \"{answerer}\"\n[[steps]]\nhangup = true\n").unwrap();
        assert!(!needs_other(&plain) && !owns_answerers(&plain) && needs_answerer(&plain));

        assert_eq!(field("[[steps]]\npickup = \"*8\"\n"), "steps[0].pickup");
        assert_eq!(
            field("[[steps]]\nring = \"1\"\n[[steps]]\nhear = \"phone\"\n"),
            "steps[1].hear"
        );
        assert_eq!(field("[[steps]]\nring = \"1\"\n"), "steps[0]");
        assert_eq!(
            field("[[steps]]\ndial = \"1\"\n[[steps]]\nhear = \"joined\"\n"),
            "steps[1].hear"
        );
        assert_eq!(field("[[steps]]\nconsult = \"1\"\n"), "steps[0].consult");
        assert_eq!(
            field("[[steps]]\ndial = \"1\"\n[[steps]]\nconsult = \"2\"\n[[steps]]\nhold = true\n"),
            "steps[2].hold"
        );
        assert_eq!(
            field(
                "[[steps]]\ndial = \"1\"\n[[steps]]\ntransfer = \"2\"\n[[steps]]\nhangup = true\n"
            ),
            "steps[2].hangup"
        );
        assert_eq!(field("[[steps]]\nhold = 1\n"), "steps[0].hold");
        assert_eq!(field("[[steps]]\ntransfer = \"\"\n"), "steps[0].transfer");
    }

    #[test]
    fn dtmf_characters_are_rfc_4733_events() {
        let codes: Vec<u8> = "0189*#AD".chars().filter_map(event_of).collect();
        assert_eq!(codes, vec![0, 1, 8, 9, 10, 11, 12, 15]);
        assert_eq!(event_of('x'), None);
    }
}
