//! What a run does: read from a TOML file, every field optional, each error naming its
//! field. The defaults are the demo tenant (domain `127.0.0.1`, extensions 100–109,
//! passwords `secret{ext}`).
//!
//! ```toml
//! target = "127.0.0.1:5060"
//! domain = "127.0.0.1"
//! extensions = "1000-1199"
//! password = "pw{ext}"
//! rate = 20                     # calls per second, or:
//! # ramp = { from = 5, to = 50, over = "20s" }
//! duration = "30s"
//! hold = "2s"                   # or { min = "1s", max = "3s" } (uniform)
//! answer_delay = "100ms"
//! dtmf = 0.1                    # share of calls that send RFC 4733 digits
//! hold_share = 0.1              # share of calls put on hold and resumed
//! transfer_share = 0.05         # share of calls the callee blind-transfers
//! rtp_share = 0.01              # share of calls with RTP (a sample); default 1
//! ```
//!
//! A call centre (`queue` and `agents` together): the phones of `extensions` call the
//! queue's number at the rate and wait (hearing what the switch plays), the phones of
//! `agents` answer what the queue offers them after `answer_delay`, talk for `hold`
//! and hang up; a waiting caller gives up after `patience`.
//!
//! ```toml
//! queue = "300"
//! agents = "2000-2199"
//! patience = "2m"
//! ```

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use serde::Serialize;

use crate::steps::Step;

/// A field of a scenario that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScenarioError {
    /// A field has a wrong value.
    #[error("scenario field `{field}`: {message}")]
    Field { field: String, message: String },
    /// The file is not TOML.
    #[error("scenario file is not valid TOML (line {line}): {message}")]
    Syntax { line: usize, message: String },
    /// The file could not be read.
    #[error("cannot read scenario {path}: {message}")]
    Read { path: String, message: String },
}

fn field_err(field: &str, message: impl Into<String>) -> ScenarioError {
    ScenarioError::Field {
        field: field.to_owned(),
        message: message.into(),
    }
}

/// How fast calls are placed.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rate {
    /// A fixed number of calls per second.
    Fixed(f64),
    /// A straight line from `from` to `to` calls per second over `over`, then `to`.
    Ramp {
        from: f64,
        to: f64,
        #[serde(with = "secs")]
        over: Duration,
    },
}

impl Rate {
    /// The rate `elapsed` into the run.
    pub fn at(&self, elapsed: Duration) -> f64 {
        match *self {
            Rate::Fixed(r) => r,
            Rate::Ramp { from, to, over } => {
                if over.is_zero() {
                    return to;
                }
                let f = (elapsed.as_secs_f64() / over.as_secs_f64()).min(1.0);
                from + (to - from) * f
            }
        }
    }

    /// The highest rate of the run.
    pub fn peak(&self) -> f64 {
        match *self {
            Rate::Fixed(r) => r,
            Rate::Ramp { from, to, .. } => from.max(to),
        }
    }
}

/// How long an answered call lasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Hold {
    Fixed(#[serde(with = "secs")] Duration),
    /// Uniformly distributed between the two bounds.
    Uniform {
        #[serde(with = "secs")]
        min: Duration,
        #[serde(with = "secs")]
        max: Duration,
    },
}

impl Hold {
    /// A hold time; `unit` is a uniform draw in `[0, 1)`.
    pub fn pick(&self, unit: f64) -> Duration {
        match *self {
            Hold::Fixed(d) => d,
            Hold::Uniform { min, max } => min + (max - min).mul_f64(unit.clamp(0.0, 1.0)),
        }
    }

    pub fn max(&self) -> Duration {
        match *self {
            Hold::Fixed(d) => d,
            Hold::Uniform { max, .. } => max,
        }
    }
}

/// How long each side of an answered call sends RTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RtpMode {
    /// For the whole call (the default).
    Call,
    /// For the first stretch of the call only (lighter on the machine at high rates).
    First(#[serde(with = "secs")] Duration),
    /// No RTP and no audio check.
    Off,
}

/// What the simulator plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Phones of a tenant that register and call each other through the switch.
    Phones,
    /// A registration storm: every extension registers once, at `register_rate`,
    /// over a few shared sockets (`storm.rs`), or again and again for
    /// `register_for`; no calls.
    Storm,
    /// A plain UAC ("direct" mode): calls the numbers of `extensions` at the target
    /// without registering, from `caller`, answering a 401/407 with `caller` and its
    /// password.
    Uac,
    /// A UAS or carrier trunk peer on `target`: answers INVITEs for the DIDs of
    /// `extensions` (404 for others) for `duration`, then reports.
    Uas,
    /// A call centre: the phones of `extensions` call `queue`, those of `agents`
    /// answer what it offers them and hang up after the hold time.
    CallCentre,
    /// A call flow: the phones of `extensions` each walk the scenario's `steps` (dial,
    /// hear, DTMF, …), those of `answerers` answer what the switch offers them.
    Flow,
}

/// How a flow's answering phones take what the switch offers them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Answering {
    /// Ring for `answer_delay`, then answer and stay until the call ends.
    Answer,
    /// Refuse with 486 Busy Here.
    Busy,
    /// Ring until the switch gives up (no-answer handling, voicemail).
    Ring,
}

/// One run of the simulator.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scenario {
    pub mode: Mode,
    /// The calling number in UAC mode (also its digest user name).
    pub caller: u32,
    /// UAC mode: the numbers called; UAS mode: the DIDs answered (default: the
    /// extensions); phones: external numbers they call (through the switch's trunks)
    /// instead of each other.
    pub numbers: Option<(u64, u64)>,
    /// Put in front of a number called (`+` for E.164, an access code …).
    pub dial_prefix: String,
    /// UAC mode: the one address it sends from (a carrier behind a fixed-IP trunk);
    /// none: a few sockets on free ports.
    pub bind: Option<SocketAddr>,
    /// The switch's SIP address (UDP).
    pub target: SocketAddr,
    /// The tenant's domain (Request-URI host, From/To host, digest realm's tenant).
    pub domain: String,
    /// First and last extension of the simulated phones (one phone per extension).
    pub extensions: (u32, u32),
    /// The password of each extension; `{ext}` stands for the extension.
    pub password: String,
    pub rate: Rate,
    /// How long new calls are placed.
    #[serde(with = "secs")]
    pub duration: Duration,
    pub hold: Hold,
    /// How long a called phone rings before it answers.
    #[serde(with = "secs")]
    pub answer_delay: Duration,
    /// Share (0–1) of calls in which the caller sends DTMF digits (RFC 4733).
    pub dtmf: f64,
    /// Share (0–1) of calls in which the caller puts the callee on hold (re-INVITE
    /// sendonly) and resumes it.
    pub hold_share: f64,
    /// Share (0–1) of calls the callee blind-transfers (REFER) to another idle phone.
    pub transfer_share: f64,
    /// How long a request waits for its final response (and a phone for its
    /// registration) before it counts as a timeout.
    #[serde(with = "secs")]
    pub timeout: Duration,
    /// Registrations per second at the start (they are paced, not sent all at once).
    pub register_rate: f64,
    /// The `Expires` the phones ask for; they refresh at half of it.
    pub register_expires: u32,
    /// A storm that goes on: the extensions register again and again, in turn, at
    /// `register_rate` for this long (each REGISTER after a phone's first refreshes its
    /// binding), as a flood of REGISTERs would; `None` registers each once.
    #[serde(with = "opt_secs")]
    pub register_for: Option<Duration>,
    pub rtp: RtpMode,
    /// Share (0–1) of calls that send RTP and have their audio checked: a sample
    /// (`rtp_on`), for concurrency past what the machine can relay.
    pub rtp_share: f64,
    /// Seed of the random choices (callers, callees, hold times, DTMF calls).
    pub seed: u64,
    /// Call-centre mode: the queue's number, and the agents' extensions.
    pub queue: Option<u64>,
    pub agents: Option<(u32, u32)>,
    /// Call-centre mode: how long a caller waits for an agent before hanging up.
    #[serde(with = "secs")]
    pub patience: Duration,
    /// Flow mode: what each caller does (`steps.rs`), the phones that answer, and how.
    pub steps: Vec<Step>,
    pub answerers: Option<(u32, u32)>,
    pub answering: Answering,
    /// Flow mode: the sim is also the switch's carrier, listening here: a registrar
    /// for trunk registrations (digest, realm `domain`, password `password`), a UAS
    /// answering `dids`, and the source of `call_in` steps' calls into the switch (to
    /// the Contact a trunk registered).
    pub carrier: Option<SocketAddr>,
    /// The DIDs a flow's carrier answers (`dids`); none: it answers no call.
    pub dids: Option<(u64, u64)>,
}

impl Default for Scenario {
    fn default() -> Self {
        Scenario {
            mode: Mode::Phones,
            caller: 1000,
            numbers: None,
            dial_prefix: String::new(),
            bind: None,
            target: SocketAddr::from(([127, 0, 0, 1], 5060)),
            domain: "127.0.0.1".into(),
            extensions: (100, 109),
            password: "secret{ext}".into(),
            rate: Rate::Fixed(2.0),
            duration: Duration::from_secs(10),
            hold: Hold::Fixed(Duration::from_secs(2)),
            answer_delay: Duration::ZERO,
            dtmf: 0.0,
            hold_share: 0.0,
            transfer_share: 0.0,
            timeout: Duration::from_secs(8),
            register_rate: 200.0,
            register_expires: 600,
            register_for: None,
            rtp: RtpMode::Call,
            rtp_share: 1.0,
            seed: 1,
            queue: None,
            agents: None,
            patience: Duration::from_secs(120),
            steps: Vec::new(),
            answerers: None,
            answering: Answering::Answer,
            carrier: None,
            dids: None,
        }
    }
}

const FIELDS: &[&str] = &[
    "target",
    "domain",
    "extensions",
    "password",
    "rate",
    "ramp",
    "duration",
    "hold",
    "answer_delay",
    "dtmf",
    "hold_share",
    "transfer_share",
    "timeout",
    "register_rate",
    "register_expires",
    "register_for",
    "rtp",
    "rtp_share",
    "seed",
    "queue",
    "agents",
    "patience",
    "steps",
    "answerers",
    "answer",
    "carrier",
    "dids",
    "register_only",
];

impl Scenario {
    /// Reads a scenario file.
    pub fn load(path: &std::path::Path) -> Result<Scenario, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|e| ScenarioError::Read {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        Scenario::parse(&text)
    }

    /// Reads a scenario from TOML text; absent fields keep their defaults.
    pub fn parse(text: &str) -> Result<Scenario, ScenarioError> {
        let table: toml::Table = toml::from_str(text).map_err(|e| {
            let line = e
                .span()
                .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1)
                .unwrap_or(0);
            ScenarioError::Syntax {
                line,
                message: e.message().trim().replace('\n', " "),
            }
        })?;
        let mut s = Scenario::default();
        let fields: BTreeMap<&str, &toml::Value> =
            table.iter().map(|(k, v)| (k.as_str(), v)).collect();
        for key in fields.keys() {
            if !FIELDS.contains(key) {
                return Err(field_err(
                    key,
                    format!("unknown field (known: {})", FIELDS.join(", ")),
                ));
            }
        }
        if fields.contains_key("rate") && fields.contains_key("ramp") {
            return Err(field_err("ramp", "give either `rate` or `ramp`, not both"));
        }
        for (key, v) in fields {
            match key {
                "target" => {
                    s.target = parse_target(str_of(key, v)?).map_err(|m| field_err(key, m))?
                }
                "domain" => {
                    let d = str_of(key, v)?;
                    if d.is_empty() || d.contains(char::is_whitespace) {
                        return Err(field_err(key, "expected a domain such as \"127.0.0.1\""));
                    }
                    s.domain = d.to_owned();
                }
                "extensions" => {
                    s.extensions =
                        parse_extensions(str_of(key, v)?).map_err(|m| field_err(key, m))?
                }
                "password" => s.password = str_of(key, v)?.to_owned(),
                "rate" => s.rate = Rate::Fixed(positive(key, number_of(key, v)?)?),
                "ramp" => s.rate = parse_ramp(v)?,
                "duration" => s.duration = duration_of(key, v)?,
                "hold" => s.hold = parse_hold(v)?,
                "answer_delay" => s.answer_delay = duration_of(key, v)?,
                "dtmf" => s.dtmf = share_of(key, v)?,
                "hold_share" => s.hold_share = share_of(key, v)?,
                "transfer_share" => s.transfer_share = share_of(key, v)?,
                "timeout" => {
                    s.timeout = duration_of(key, v)?;
                    if s.timeout.is_zero() {
                        return Err(field_err(key, "must be longer than 0s"));
                    }
                }
                "register_rate" => s.register_rate = positive(key, number_of(key, v)?)?,
                "register_for" => {
                    let d = duration_of(key, v)?;
                    if d.is_zero() {
                        return Err(field_err(key, "must be longer than 0s"));
                    }
                    s.register_for = Some(d);
                }
                "register_expires" => {
                    let n = number_of(key, v)?;
                    if !(10.0..=86_400.0).contains(&n) || n.fract() != 0.0 {
                        return Err(field_err(
                            key,
                            "expected whole seconds between 10 and 86400",
                        ));
                    }
                    s.register_expires = n as u32;
                }
                "rtp" => s.rtp = parse_rtp(v)?,
                "rtp_share" => s.rtp_share = share_of(key, v)?,
                "queue" => {
                    let n = parse_numbers(str_of(key, v)?).map_err(|m| field_err(key, m))?;
                    if n.0 != n.1 {
                        return Err(field_err(key, "expected one number such as \"300\""));
                    }
                    s.queue = Some(n.0);
                    s.mode = Mode::CallCentre;
                }
                "agents" => {
                    s.agents =
                        Some(parse_extensions(str_of(key, v)?).map_err(|m| field_err(key, m))?);
                    s.mode = Mode::CallCentre;
                }
                "patience" => s.patience = duration_of(key, v)?,
                "register_only" => match v {
                    toml::Value::Boolean(true) => s.mode = Mode::Storm,
                    toml::Value::Boolean(false) => {}
                    _ => return Err(field_err(key, "expected true or false")),
                },
                "steps" => {
                    s.steps = crate::steps::parse(v)?;
                    s.mode = Mode::Flow;
                }
                "answerers" => {
                    s.answerers =
                        Some(parse_extensions(str_of(key, v)?).map_err(|m| field_err(key, m))?)
                }
                "carrier" => {
                    let addr = str_of(key, v)?;
                    s.carrier = Some(addr.parse().map_err(|_| {
                        field_err(
                            key,
                            format!(
                                "expected an address such as \"127.0.0.1:5197\", got \"{addr}\""
                            ),
                        )
                    })?)
                }
                "dids" => {
                    s.dids = Some(parse_numbers(str_of(key, v)?).map_err(|m| field_err(key, m))?)
                }
                "answer" => {
                    s.answering = match str_of(key, v)? {
                        "answer" => Answering::Answer,
                        "busy" => Answering::Busy,
                        "ring" => Answering::Ring,
                        other => {
                            return Err(field_err(
                                key,
                                format!(
                                    "expected \"answer\", \"busy\" or \"ring\", got \"{other}\""
                                ),
                            ))
                        }
                    }
                }
                "seed" => match v {
                    toml::Value::Integer(n) if *n >= 0 => s.seed = *n as u64,
                    _ => return Err(field_err(key, "expected a whole number ≥ 0")),
                },
                _ => unreachable!("checked against FIELDS"),
            }
        }
        s.check()?;
        Ok(s)
    }

    /// Checks the relations between fields (also after command-line overrides).
    pub fn check(&self) -> Result<(), ScenarioError> {
        if self.mode == Mode::Phones && self.phones() < 2 {
            return Err(field_err(
                "extensions",
                "need at least 2 extensions to place calls",
            ));
        }
        if self.mode == Mode::Flow
            && self.rtp == RtpMode::Off
            && self.steps.iter().any(|s| {
                matches!(
                    s.action,
                    crate::steps::Action::Hear(_) | crate::steps::Action::Dtmf(_)
                )
            })
        {
            return Err(field_err(
                "rtp",
                "`hear` and `dtmf` steps need RTP: drop rtp = \"off\"",
            ));
        }
        if self.mode == Mode::Flow
            && matches!(self.rtp, RtpMode::First(_))
            && self
                .steps
                .iter()
                .any(|s| matches!(s.action, crate::steps::Action::Dtmf(_)))
        {
            return Err(field_err(
                "rtp",
                "`dtmf` steps send on the call's RTP: use rtp = \"call\"",
            ));
        }
        if matches!(self.mode, Mode::Flow | Mode::CallCentre) && self.rtp_share < 1.0 {
            return Err(field_err(
                "rtp_share",
                "flows and call centres judge every call by its audio: drop rtp_share",
            ));
        }
        if self.carrier.is_some() && self.mode != Mode::Flow {
            return Err(field_err(
                "carrier",
                "a carrier belongs to a flow: add [[steps]] (or run `pbx sim --uas`)",
            ));
        }
        if self.carrier.is_none() && self.dids.is_some() {
            return Err(field_err(
                "dids",
                "the DIDs a flow's carrier answers: give the carrier's address (`carrier`)",
            ));
        }
        if self.mode == Mode::Flow && self.carrier.is_none() && crate::steps::calls_in(&self.steps)
        {
            return Err(field_err(
                "carrier",
                "a step dials from the carrier: give the carrier's address",
            ));
        }
        if self.answerers.is_some() && self.mode != Mode::Flow {
            return Err(field_err(
                "answerers",
                "answering phones belong to a flow: add [[steps]]",
            ));
        }
        if self.mode == Mode::Flow {
            if self.queue.is_some() || self.agents.is_some() {
                return Err(field_err(
                    "steps",
                    "a flow is not a call centre: drop `queue` and `agents` (a flow dials the queue itself)",
                ));
            }
            match self.answerers {
                None if crate::steps::needs_answerer(&self.steps) => {
                    return Err(field_err(
                        "answerers",
                        "the steps name {answerer} or check MWI: give the answering phones",
                    ))
                }
                Some((a, b)) if b == a && crate::steps::needs_other(&self.steps) => {
                    return Err(field_err(
                        "answerers",
                        "the steps need two answering phones ({other}, a pickup, a joined transfer): give a range of at least two",
                    ))
                }
                Some((a, b)) => {
                    let (c, d) = self.extensions;
                    if a <= d && c <= b {
                        return Err(field_err(
                            "answerers",
                            format!("answerers {a}-{b} overlap the callers' extensions {c}-{d}"),
                        ));
                    }
                }
                None => {}
            }
        }
        if self.mode == Mode::CallCentre {
            let (Some(_), Some((a, b))) = (self.queue, self.agents) else {
                let missing = if self.queue.is_none() {
                    "queue"
                } else {
                    "agents"
                };
                return Err(field_err(
                    missing,
                    "a call centre needs both `queue` and `agents`",
                ));
            };
            let (c, d) = self.extensions;
            if a <= d && c <= b {
                return Err(field_err(
                    "agents",
                    format!("agents {a}-{b} overlap the callers' extensions {c}-{d}"),
                ));
            }
        }
        for (field, share) in [
            ("hold_share", self.hold_share),
            ("transfer_share", self.transfer_share),
            ("rtp_share", self.rtp_share),
        ] {
            if !(0.0..=1.0).contains(&share) {
                return Err(field_err(
                    field,
                    format!("expected a share between 0 and 1, got {share}"),
                ));
            }
        }
        if self.hold_share + self.transfer_share > 1.0 {
            return Err(field_err(
                "transfer_share",
                "hold_share + transfer_share is more than 1",
            ));
        }
        if let Hold::Uniform { min, max } = self.hold {
            if min > max {
                return Err(field_err("hold", "`min` is longer than `max`"));
            }
        }
        Ok(())
    }

    /// The numbers a UAC calls or a UAS answers.
    pub fn numbers(&self) -> (u64, u64) {
        self.numbers
            .unwrap_or((u64::from(self.extensions.0), u64::from(self.extensions.1)))
    }

    /// Whether call `number` sends RTP and has its audio checked: RTP is on, and the
    /// call is in the `rtp_share` sample (the same answer on both of its sides).
    pub fn rtp_on(&self, number: u32) -> bool {
        if self.rtp == RtpMode::Off {
            return false;
        }
        if self.rtp_share >= 1.0 {
            return true;
        }
        let spread = u64::from(number).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40;
        (spread as f64) < self.rtp_share * (1u64 << 24) as f64
    }

    /// How many phones the run simulates (callers, then agents in a call centre).
    pub fn phones(&self) -> usize {
        let count = |r: Option<(u32, u32)>| r.map_or(0, |(a, b)| (b - a + 1) as usize);
        self.callers() + count(self.agents) + count(self.answerers)
    }

    /// How many phones place calls (the extensions).
    pub fn callers(&self) -> usize {
        (self.extensions.1 - self.extensions.0 + 1) as usize
    }

    /// The password of `ext`.
    pub fn password_of(&self, ext: u32) -> String {
        self.password.replace("{ext}", &ext.to_string())
    }
}

fn str_of<'v>(field: &str, v: &'v toml::Value) -> Result<&'v str, ScenarioError> {
    v.as_str()
        .ok_or_else(|| field_err(field, format!("expected a string, got {}", v.type_str())))
}

fn number_of(field: &str, v: &toml::Value) -> Result<f64, ScenarioError> {
    match v {
        toml::Value::Integer(n) => Ok(*n as f64),
        toml::Value::Float(f) if f.is_finite() => Ok(*f),
        other => Err(field_err(
            field,
            format!("expected a number, got {}", describe(other)),
        )),
    }
}

fn share_of(field: &str, v: &toml::Value) -> Result<f64, ScenarioError> {
    let share = number_of(field, v)?;
    if !(0.0..=1.0).contains(&share) {
        return Err(field_err(
            field,
            format!("expected a share between 0 and 1, got {share}"),
        ));
    }
    Ok(share)
}

fn describe(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => format!("\"{s}\""),
        other => other.type_str().to_owned(),
    }
}

fn positive(field: &str, n: f64) -> Result<f64, ScenarioError> {
    if n > 0.0 {
        Ok(n)
    } else {
        Err(field_err(field, format!("expected a number > 0, got {n}")))
    }
}

fn duration_of(field: &str, v: &toml::Value) -> Result<Duration, ScenarioError> {
    match v {
        toml::Value::String(s) => parse_duration(s).map_err(|m| field_err(field, m)),
        toml::Value::Integer(n) if *n >= 0 => Ok(Duration::from_secs(*n as u64)),
        toml::Value::Float(f) if f.is_finite() && *f >= 0.0 => Ok(Duration::from_secs_f64(*f)),
        other => Err(field_err(
            field,
            format!(
                "expected a duration such as \"2s\" or \"500ms\", got {}",
                describe(other)
            ),
        )),
    }
}

/// Reads `"30s"`, `"500ms"`, `"1.5s"`, `"2m"`, or a bare number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let (num, unit) = match t.find(|c: char| !(c.is_ascii_digit() || c == '.')) {
        Some(i) => (&t[..i], t[i..].trim()),
        None => (t, "s"),
    };
    let n: f64 = num
        .parse()
        .map_err(|_| format!("expected a duration such as \"2s\" or \"500ms\", got \"{s}\""))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" | "min" => n * 60.0,
        "h" => n * 3600.0,
        _ => {
            return Err(format!(
                "unknown unit \"{unit}\" in \"{s}\" (use ms, s, m or h)"
            ))
        }
    };
    if !secs.is_finite() || secs > 1e9 {
        return Err(format!("duration \"{s}\" is out of range"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Reads `"1000-1199"` (or a single extension).
pub fn parse_extensions(s: &str) -> Result<(u32, u32), String> {
    let bad = || format!("expected a range such as \"1000-1199\", got \"{s}\"");
    let (a, b) = match s.split_once('-') {
        Some((a, b)) => (a.trim(), b.trim()),
        None => (s.trim(), s.trim()),
    };
    let from: u32 = a.parse().map_err(|_| bad())?;
    let to: u32 = b.parse().map_err(|_| bad())?;
    if from > to {
        return Err(format!("range \"{s}\" ends before it starts"));
    }
    if to - from >= 100_000 {
        return Err(format!("range \"{s}\" has more than 100000 extensions"));
    }
    Ok((from, to))
}

/// Reads a range of numbers such as `"4930123400-4930123499"` (or a single one).
pub fn parse_numbers(s: &str) -> Result<(u64, u64), String> {
    let bad = || format!("expected a range such as \"4930123400-4930123499\", got \"{s}\"");
    let (a, b) = match s.split_once('-') {
        Some((a, b)) => (a.trim(), b.trim()),
        None => (s.trim(), s.trim()),
    };
    let from: u64 = a.parse().map_err(|_| bad())?;
    let to: u64 = b.parse().map_err(|_| bad())?;
    if from > to {
        return Err(format!("range \"{s}\" ends before it starts"));
    }
    Ok((from, to))
}

/// Reads `"127.0.0.1:5060"`, `"[::1]:5060"` or a bare IP (port 5060).
pub fn parse_target(s: &str) -> Result<SocketAddr, String> {
    if let Ok(a) = s.parse::<SocketAddr>() {
        return Ok(a);
    }
    if let Ok(ip) = s.parse::<std::net::IpAddr>() {
        return Ok(SocketAddr::new(ip, 5060));
    }
    Err(format!(
        "expected an IP address and port such as \"127.0.0.1:5060\", got \"{s}\""
    ))
}

fn sub<'v>(parent: &str, t: &'v toml::Table, key: &str) -> Result<&'v toml::Value, ScenarioError> {
    t.get(key)
        .ok_or_else(|| field_err(&format!("{parent}.{key}"), "missing"))
}

fn only_keys(parent: &str, t: &toml::Table, keys: &[&str]) -> Result<(), ScenarioError> {
    match t.keys().find(|k| !keys.contains(&k.as_str())) {
        Some(k) => Err(field_err(
            &format!("{parent}.{k}"),
            format!("unknown field (known: {})", keys.join(", ")),
        )),
        None => Ok(()),
    }
}

fn parse_ramp(v: &toml::Value) -> Result<Rate, ScenarioError> {
    let t = v.as_table().ok_or_else(|| {
        field_err(
            "ramp",
            "expected a table such as { from = 5, to = 50, over = \"20s\" }",
        )
    })?;
    only_keys("ramp", t, &["from", "to", "over"])?;
    let from = number_of("ramp.from", sub("ramp", t, "from")?)?;
    if from < 0.0 {
        return Err(field_err("ramp.from", "expected a number ≥ 0"));
    }
    let to = positive("ramp.to", number_of("ramp.to", sub("ramp", t, "to")?)?)?;
    let over = duration_of("ramp.over", sub("ramp", t, "over")?)?;
    Ok(Rate::Ramp { from, to, over })
}

fn parse_hold(v: &toml::Value) -> Result<Hold, ScenarioError> {
    match v {
        toml::Value::Table(t) => {
            only_keys("hold", t, &["min", "max"])?;
            let min = duration_of("hold.min", sub("hold", t, "min")?)?;
            let max = duration_of("hold.max", sub("hold", t, "max")?)?;
            Ok(Hold::Uniform { min, max })
        }
        other => Ok(Hold::Fixed(duration_of("hold", other)?)),
    }
}

fn parse_rtp(v: &toml::Value) -> Result<RtpMode, ScenarioError> {
    match v.as_str() {
        Some("call") => Ok(RtpMode::Call),
        Some("off") => Ok(RtpMode::Off),
        Some(s) => parse_duration(s).map(RtpMode::First).map_err(|_| {
            field_err(
                "rtp",
                format!("expected \"call\", \"off\" or a duration such as \"1s\", got \"{s}\""),
            )
        }),
        None => Err(field_err(
            "rtp",
            format!("expected a string, got {}", describe(v)),
        )),
    }
}

/// Serialises durations as (fractional) seconds.
mod secs {
    use std::time::Duration;

    pub fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }
}

/// Serialises optional durations as (fractional) seconds, or null.
mod opt_secs {
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

    #[test]
    fn an_rtp_share_samples_calls_the_same_way_on_both_sides() {
        let mut s = Scenario::parse("rtp_share = 0.1\n").unwrap();
        let sampled = (0..10_000).filter(|&n| s.rtp_on(n)).count();
        assert!((900..1100).contains(&sampled), "{sampled} of 10,000");
        assert_eq!(s.rtp_on(4321), s.clone().rtp_on(4321));
        s.rtp_share = 1.0;
        assert!((0..100).all(|n| s.rtp_on(n)));
        s.rtp = RtpMode::Off;
        assert!(!(0..100).any(|n| s.rtp_on(n)));
        assert_eq!(
            match Scenario::parse("rtp_share = 2\n") {
                Err(ScenarioError::Field { field, .. }) => field,
                other => panic!("{other:?}"),
            },
            "rtp_share"
        );
    }

    #[test]
    fn a_carrier_belongs_to_a_flow_and_a_call_in_needs_one() {
        let field = |text: &str| match Scenario::parse(text) {
            Err(ScenarioError::Field { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        let call_in = "[[steps]]\ncall_in = \"+4930555000\"\n[[steps]]\nhangup = true\n";
        assert_eq!(field("carrier = \"127.0.0.1:5197\"\n"), "carrier");
        assert_eq!(field(call_in), "carrier");
        assert_eq!(field(&format!("carrier = \"5197\"\n{call_in}")), "carrier");
        assert_eq!(field(&format!("dids = \"1-9\"\n{call_in}")), "dids");
        assert_eq!(field("dids = \"1-9\"\n"), "dids");
        assert_eq!(
            field("queue = \"300\"\nagents = \"2000-2001\"\nrtp_share = 0.5\n"),
            "rtp_share"
        );
        let s = Scenario::parse(&format!(
            "carrier = \"127.0.0.1:5197\"\ndids = \"4930123400-4930123499\"\n{call_in}"
        ))
        .unwrap();
        assert_eq!(s.carrier, Some("127.0.0.1:5197".parse().unwrap()));
        assert_eq!(s.dids, Some((4930123400, 4930123499)));
        assert_eq!(s.numbers, None);
    }

    #[test]
    fn every_shipped_scenario_reads() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
        let mut read = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "toml") {
                let text = std::fs::read_to_string(&path).unwrap();
                if let Err(e) = Scenario::parse(&text) {
                    panic!("{}: {e}", path.display());
                }
                read += 1;
            }
        }
        assert!(read >= 9, "{read} scenarios in {}", dir.display());
    }

    #[test]
    fn a_call_centre_needs_its_queue_and_agents_apart_from_the_callers() {
        let s = Scenario::parse(
            "extensions = \"1000-1999\"\nqueue = \"310\"\nagents = \"2000-2199\"\npatience = \"90s\"\n",
        )
        .unwrap();
        assert_eq!(s.mode, Mode::CallCentre);
        assert_eq!((s.queue, s.agents), (Some(310), Some((2000, 2199))));
        assert_eq!((s.callers(), s.phones()), (1000, 1200));
        assert_eq!(s.patience, Duration::from_secs(90));
        assert_eq!(field_of("agents = \"2000-2001\"\n"), "queue");
        assert_eq!(
            field_of("queue = \"300-301\"\nagents = \"2000-2001\"\n"),
            "queue"
        );
        assert_eq!(
            field_of("queue = \"300\"\nagents = \"105-110\"\n"),
            "agents"
        );
    }

    fn field_of(text: &str) -> String {
        match Scenario::parse(text) {
            Err(ScenarioError::Field { field, .. }) => field,
            other => panic!("expected a field error, got {other:?}"),
        }
    }

    #[test]
    fn a_storm_goes_on_for_register_for_when_given() {
        let s = Scenario::parse("register_only = true\nregister_for = \"60s\"\n").unwrap();
        assert_eq!(s.mode, Mode::Storm);
        assert_eq!(s.register_for, Some(Duration::from_secs(60)));
        assert_eq!(Scenario::parse("").unwrap().register_for, None);
        assert_eq!(field_of("register_for = \"0s\"\n"), "register_for");
        assert_eq!(field_of("register_for = \"soon\"\n"), "register_for");
    }

    #[test]
    fn empty_file_is_the_demo_tenant() {
        let s = Scenario::parse("").unwrap();
        assert_eq!(s, Scenario::default());
        assert_eq!(s.extensions, (100, 109));
        assert_eq!(s.password_of(103), "secret103");
        assert_eq!(s.phones(), 10);
    }

    #[test]
    fn full_scenario() {
        let s = Scenario::parse(
            r#"
            target = "10.0.0.5:5070"
            domain = "acme.example"
            extensions = "1000-1199"
            password = "pw{ext}"
            ramp = { from = 5, to = 50, over = "20s" }
            duration = "1m"
            hold = { min = "1s", max = "3.5s" }
            answer_delay = "250ms"
            dtmf = 0.25
            hold_share = 0.1
            transfer_share = 0.05
            timeout = 4
            register_rate = 100
            register_expires = 300
            rtp = "1s"
            seed = 42
            "#,
        )
        .unwrap();
        assert_eq!(s.target, "10.0.0.5:5070".parse().unwrap());
        assert_eq!(s.extensions, (1000, 1199));
        assert_eq!(s.phones(), 200);
        assert_eq!(s.password_of(1005), "pw1005");
        assert_eq!(
            s.rate,
            Rate::Ramp {
                from: 5.0,
                to: 50.0,
                over: Duration::from_secs(20)
            }
        );
        assert_eq!(s.rate.at(Duration::from_secs(10)), 27.5);
        assert_eq!(s.rate.at(Duration::from_secs(40)), 50.0);
        assert_eq!(s.duration, Duration::from_secs(60));
        assert_eq!(
            s.hold,
            Hold::Uniform {
                min: Duration::from_secs(1),
                max: Duration::from_millis(3500)
            }
        );
        assert_eq!(s.hold.pick(0.5), Duration::from_millis(2250));
        assert_eq!(s.answer_delay, Duration::from_millis(250));
        assert_eq!(s.timeout, Duration::from_secs(4));
        assert_eq!(s.rtp, RtpMode::First(Duration::from_secs(1)));
        assert_eq!((s.hold_share, s.transfer_share), (0.1, 0.05));
        assert_eq!(s.seed, 42);
    }

    #[test]
    fn errors_name_the_field() {
        assert_eq!(field_of("rate = \"fast\""), "rate");
        assert_eq!(field_of("rate = 0"), "rate");
        assert_eq!(field_of("hold = \"2 parsecs\""), "hold");
        assert_eq!(field_of("hold = { min = \"3s\", max = \"1s\" }"), "hold");
        assert_eq!(field_of("hold = { min = \"1s\" }"), "hold.max");
        assert_eq!(field_of("extensions = \"200-100\""), "extensions");
        assert_eq!(field_of("extensions = \"100\""), "extensions");
        assert_eq!(field_of("target = \"nowhere\""), "target");
        assert_eq!(field_of("dtmf = 2"), "dtmf");
        assert_eq!(field_of("hold_share = -0.1"), "hold_share");
        assert_eq!(field_of("transfer_share = \"a\""), "transfer_share");
        assert_eq!(
            field_of("hold_share = 0.7\ntransfer_share = 0.5"),
            "transfer_share"
        );
        assert_eq!(field_of("ramp = { from = 1, to = 5 }"), "ramp.over");
        assert_eq!(
            field_of("ramp = { from = 1, to = 5, over = 3, x = 1 }"),
            "ramp.x"
        );
        assert_eq!(
            field_of("rate = 1\nramp = { from = 1, to = 5, over = 3 }"),
            "ramp"
        );
        assert_eq!(field_of("rtp = \"sometimes\""), "rtp");
        assert_eq!(field_of("speed = 3"), "speed");
        let msg = Scenario::parse("rate = \"fast\"").unwrap_err().to_string();
        assert_eq!(
            msg,
            "scenario field `rate`: expected a number, got \"fast\""
        );
        assert!(!msg.contains('\n'));
    }

    #[test]
    fn syntax_errors_give_the_line_on_one_line() {
        let e = Scenario::parse("domain = \"a\"\nrate = = 3\n").unwrap_err();
        match &e {
            ScenarioError::Syntax { line, .. } => assert_eq!(*line, 2),
            other => panic!("{other:?}"),
        }
        assert!(!e.to_string().contains('\n'));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("3").unwrap(), Duration::from_secs(3));
        assert!(parse_duration("3 weeks").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn shipped_scenarios_parse() {
        for name in [
            "demo.toml",
            "load-1000.toml",
            "call-centre.toml",
            "feature-codes.toml",
            "ivr.toml",
            "voicemail.toml",
            "conference.toml",
        ] {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("scenarios")
                .join(name);
            Scenario::load(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }
}
