//! `pbx sim`: the load simulator against a switch (this one or another).

use std::path::PathBuf;

use clap::Args;
use sim::scenario::{parse_duration, parse_extensions, parse_numbers, parse_target};
use sim::{Hold, Mode, Rate, RtpMode, Scenario};

use super::{print_out, CliError};

#[derive(Debug, Args)]
#[command(
    after_help = "With no scenario and no flags: the demo tenant (domain 127.0.0.1, \
extensions 100-109, passwords secret{ext}) at 127.0.0.1:5060, 2 calls/s for 10 s, 2 s calls.\n\
Direct mode: `--uac-only --target HOST:PORT --numbers A-B` calls the numbers at the \
target without registering (answering a 401/407 as --caller with --password).\n\
Carrier/UAS mode: `--uas --listen IP:PORT --dids A-B` answers INVITEs for those \
numbers (404 otherwise) with RTP carrying its own signature, for --duration, then reports; \
it is a registrar too: a trunk registers with digest (realm --domain, any user name, \
--password).\n\
Call-centre mode: `--queue N --agents A-B` has the phones of --extensions call queue N while \
the agents answer what it offers them and hang up after --hold (see \
sim/scenarios/call-centre.toml).\n\
Registration storm: `--register-only --extensions A-B --register-rate N` registers every \
extension once over 16 shared sockets (100,000 phones need no more) and reports the rate \
and REGISTER→200 times.\n\
Flow mode: a scenario with [[steps]] (dial, hear, dtmf, wait, hangup, bye, mwi) that every \
caller walks, each step counted and timed (see sim/scenarios/ivr.toml, feature-codes.toml, \
voicemail.toml, conference.toml).\n\
Exit code: 0 when nothing failed, 1 when a registration, call or audio check failed \
(the report says which), 2 for a bad scenario or flag."
)]
pub struct SimArgs {
    /// Direct (UAC-only) and carrier/UAS modes (boxed: `Command` stays small).
    #[command(flatten)]
    modes: Box<ModeArgs>,
    /// The switch's SIP address (UDP).
    #[arg(long)]
    target: Option<String>,
    /// A scenario file (TOML, see sim/scenarios/); flags override its fields.
    #[arg(long)]
    scenario: Option<PathBuf>,
    /// The tenant's domain.
    #[arg(long)]
    domain: Option<String>,
    /// The simulated phones' extensions, e.g. 1000-1199.
    #[arg(long)]
    extensions: Option<String>,
    /// Their password; {ext} stands for the extension, e.g. 'pw{ext}'.
    #[arg(long)]
    password: Option<String>,
    /// Calls per second.
    #[arg(long)]
    rate: Option<f64>,
    /// How long calls are placed, e.g. 30s.
    #[arg(long)]
    duration: Option<String>,
    /// How long each call lasts: 2s, or a uniform range 1s..3s.
    #[arg(long)]
    hold: Option<String>,
    /// How long a called phone rings before answering, e.g. 200ms.
    #[arg(long)]
    answer_delay: Option<String>,
    /// How long a request waits for its final response, e.g. 8s.
    #[arg(long)]
    timeout: Option<String>,
    /// Share (0–1) of calls put on hold and resumed by the caller.
    #[arg(long)]
    hold_share: Option<f64>,
    /// Share (0–1) of calls the callee blind-transfers to another idle phone.
    #[arg(long)]
    transfer_share: Option<f64>,
    /// Seed of the random choices.
    #[arg(long)]
    seed: Option<u64>,
    /// Write the report as JSON to FILE.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Draw rate, concurrency and setup time over the run as SVG to FILE.
    #[arg(long, value_name = "FILE")]
    plot: Option<PathBuf>,
    /// No progress line.
    #[arg(long)]
    quiet: bool,
}

/// The flags of the direct (UAC-only) and carrier/UAS modes.
#[derive(Debug, Args)]
pub struct ModeArgs {
    /// Direct mode: place calls without registering (a plain UAC or trunk client).
    #[arg(long, conflicts_with = "uas")]
    uac_only: bool,
    /// Carrier/UAS mode: answer calls on --listen for --dids.
    #[arg(long, requires = "listen")]
    uas: bool,
    /// UAS mode: the address to listen on, e.g. 127.0.0.1:5070; direct mode: the one
    /// address to call from (a carrier behind a fixed-IP trunk).
    #[arg(long, value_name = "IP:PORT")]
    listen: Option<String>,
    /// Direct mode: the numbers to call; UAS mode: the DIDs answered
    /// (default: --extensions); phones: external numbers they call (through the
    /// switch's trunks) instead of each other, e.g. 4930123400-4930123499.
    #[arg(long, visible_alias = "dids", value_name = "A-B")]
    numbers: Option<String>,
    /// Put in front of each number called: `+` for E.164, or an access code.
    #[arg(long, value_name = "PREFIX")]
    dial_prefix: Option<String>,
    /// Direct mode: the calling number (and digest user name for a 401/407).
    #[arg(long)]
    caller: Option<u32>,
    /// RTP: call (whole call, default), off, or a duration (the first stretch only).
    #[arg(long)]
    rtp: Option<String>,
    /// Share (0–1) of calls with RTP (and an audio check): a sample, for concurrency
    /// past what the machine can relay. Default 1: every call.
    #[arg(long)]
    rtp_share: Option<f64>,
    /// Call centre: the queue's number the phones of --extensions call.
    #[arg(long, requires = "agents", conflicts_with_all = ["uac_only", "uas"])]
    queue: Option<u64>,
    /// Call centre: the agents' extensions, who answer what the queue offers and hang
    /// up after the hold time, e.g. 2000-2199.
    #[arg(long, value_name = "A-B", requires = "queue")]
    agents: Option<String>,
    /// Call centre: how long a caller waits for an agent before hanging up, e.g. 2m.
    #[arg(long)]
    patience: Option<String>,
    /// A registration storm: every extension registers once at --register-rate over a
    /// few shared sockets; no calls.
    #[arg(long, conflicts_with_all = ["uac_only", "uas", "queue"])]
    register_only: bool,
    /// Registrations per second (paced).
    #[arg(long)]
    register_rate: Option<f64>,
    /// With --register-only: keep registering for this long, the extensions in turn
    /// again and again (a REGISTER flood), e.g. 60s.
    #[arg(long, requires = "register_only")]
    register_for: Option<String>,
}

fn usage(field: &str, message: String) -> CliError {
    CliError::Usage(format!("--{field}: {message}"))
}

fn duration_flag(field: &str, v: &str) -> Result<std::time::Duration, CliError> {
    parse_duration(v).map_err(|m| usage(field, m))
}

/// The scenario: the file (or the demo tenant's defaults), then the flags.
fn scenario(a: &SimArgs) -> Result<Scenario, CliError> {
    let mut s = match &a.scenario {
        Some(path) => Scenario::load(path).map_err(|e| CliError::Usage(e.to_string()))?,
        None => Scenario::default(),
    };
    if let Some(t) = &a.target {
        s.target = parse_target(t).map_err(|m| usage("target", m))?;
    }
    if let Some(d) = &a.domain {
        s.domain = d.clone();
    }
    if let Some(e) = &a.extensions {
        s.extensions = parse_extensions(e).map_err(|m| usage("extensions", m))?;
    }
    if let Some(p) = &a.password {
        s.password = p.clone();
    }
    if let Some(r) = a.rate {
        if !(r > 0.0 && r.is_finite()) {
            return Err(usage(
                "rate",
                format!("expected calls per second > 0, got {r}"),
            ));
        }
        s.rate = Rate::Fixed(r);
    }
    if let Some(d) = &a.duration {
        s.duration = duration_flag("duration", d)?;
    }
    if let Some(h) = &a.hold {
        s.hold = match h.split_once("..") {
            Some((min, max)) => Hold::Uniform {
                min: duration_flag("hold", min)?,
                max: duration_flag("hold", max)?,
            },
            None => Hold::Fixed(duration_flag("hold", h)?),
        };
    }
    if let Some(d) = &a.answer_delay {
        s.answer_delay = duration_flag("answer-delay", d)?;
    }
    if let Some(t) = &a.timeout {
        s.timeout = duration_flag("timeout", t)?;
        if s.timeout.is_zero() {
            return Err(usage("timeout", "must be longer than 0s".into()));
        }
    }
    if let Some(h) = a.hold_share {
        s.hold_share = h;
    }
    if let Some(t) = a.transfer_share {
        s.transfer_share = t;
    }
    if a.modes.uac_only {
        s.mode = Mode::Uac;
    }
    if a.modes.uas {
        s.mode = Mode::Uas;
    }
    if let Some(l) = &a.modes.listen {
        let addr = parse_target(l).map_err(|m| usage("listen", m))?;
        match (a.modes.uas, a.modes.uac_only) {
            (true, _) => s.target = addr,
            (false, true) => s.bind = Some(addr),
            (false, false) => return Err(usage("listen", "only with --uas or --uac-only".into())),
        }
    }
    if let Some(p) = &a.modes.dial_prefix {
        s.dial_prefix = p.clone();
    }
    if let Some(n) = &a.modes.numbers {
        s.numbers = Some(parse_numbers(n).map_err(|m| usage("numbers", m))?);
    }
    if let Some(c) = a.modes.caller {
        s.caller = c;
    }
    if let Some(r) = &a.modes.rtp {
        s.rtp = match r.as_str() {
            "call" => RtpMode::Call,
            "off" => RtpMode::Off,
            d => RtpMode::First(duration_flag("rtp", d)?),
        };
    }
    if let Some(r) = a.modes.rtp_share {
        s.rtp_share = r;
    }
    if let Some(q) = a.modes.queue {
        s.queue = Some(q);
        s.mode = Mode::CallCentre;
    }
    if let Some(r) = &a.modes.agents {
        s.agents = Some(parse_extensions(r).map_err(|m| usage("agents", m))?);
        s.mode = Mode::CallCentre;
    }
    if a.modes.register_only {
        s.mode = Mode::Storm;
    }
    if let Some(r) = a.modes.register_rate {
        if !(r > 0.0 && r.is_finite()) {
            return Err(usage(
                "register-rate",
                format!("expected registrations per second > 0, got {r}"),
            ));
        }
        s.register_rate = r;
    }
    if let Some(d) = &a.modes.register_for {
        let d = duration_flag("register-for", d)?;
        if d.is_zero() {
            return Err(usage("register-for", "must be longer than 0s".into()));
        }
        s.register_for = Some(d);
    }
    if let Some(p) = &a.modes.patience {
        s.patience = duration_flag("patience", p)?;
    }
    if let Some(seed) = a.seed {
        s.seed = seed;
    }
    s.check().map_err(|e| CliError::Usage(e.to_string()))?;
    Ok(s)
}

pub fn run(a: SimArgs) -> Result<(), CliError> {
    let s = scenario(&a)?;
    // A socket per phone (and a few more): thousands of phones need more than the
    // usual soft limit of 1,024.
    let limit = super::fd_limit::raise().unwrap_or(u64::MAX);
    let needed = s.phones() as u64 + 64;
    if !matches!(s.mode, Mode::Storm | Mode::Uac | Mode::Uas) && needed > limit {
        return Err(CliError::Usage(format!(
            "{} phones need about {needed} open files; the limit is {limit} (raise the hard limit: ulimit -Hn)",
            s.phones()
        )));
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Failed(format!("cannot start the runtime: {e}")))?;
    if !a.quiet && matches!(s.mode, Mode::Uac | Mode::Uas) {
        let (from, to) = s.numbers();
        eprintln!(
            "sim: {} {from}-{to} at {}",
            if s.mode == Mode::Uac {
                "calling"
            } else {
                "answering"
            },
            s.target
        );
    } else if !a.quiet {
        let agents = match (s.queue, s.agents, s.answerers) {
            (Some(q), Some((x, y)), _) => format!(" calling queue {q}, agents {x}-{y}"),
            (_, _, Some((x, y))) => format!(" walking {} steps, answerers {x}-{y}", s.steps.len()),
            _ if s.mode == Mode::Flow => format!(" walking {} steps", s.steps.len()),
            _ => String::new(),
        };
        eprintln!(
            "sim: {} phones ({}-{}@{}{agents}) against {}, {} for {:.0} s",
            s.phones(),
            s.extensions.0,
            s.extensions.1,
            s.domain,
            s.target,
            match s.rate {
                Rate::Fixed(r) => format!("{r} calls/s"),
                Rate::Ramp { from, to, over } =>
                    format!("{from}→{to} calls/s over {:.0} s", over.as_secs_f64()),
            },
            s.duration.as_secs_f64()
        );
    }
    let (report, timeline) = runtime
        .block_on(sim::run(s, !a.quiet))
        .map_err(|e| CliError::Failed(e.to_string()))?;
    runtime.shutdown_background();
    print_out(&report.render());
    if let Some(path) = &a.json {
        let text =
            serde_json::to_string_pretty(&report).map_err(|e| CliError::Failed(e.to_string()))?;
        std::fs::write(path, text + "\n")
            .map_err(|e| CliError::Failed(format!("cannot write {}: {e}", path.display())))?;
    }
    if let Some(path) = &a.plot {
        std::fs::write(path, timeline.svg())
            .map_err(|e| CliError::Failed(format!("cannot write {}: {e}", path.display())))?;
    }
    match report.failures() {
        0 => Ok(()),
        n => Err(CliError::Failed(format!("{n} failures (see the report)"))),
    }
}
