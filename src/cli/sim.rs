//! `pbx sim`: the load simulator against a switch (this one or another).

use std::path::PathBuf;

use clap::Args;
use sim::scenario::{parse_duration, parse_extensions, parse_target};
use sim::{Hold, Rate, Scenario};

use super::{print_out, CliError};

#[derive(Debug, Args)]
#[command(
    after_help = "With no scenario and no flags: the demo tenant (domain 127.0.0.1, \
extensions 100-109, passwords secret{ext}) at 127.0.0.1:5060, 2 calls/s for 10 s, 2 s calls.\n\
Exit code: 0 when nothing failed, 1 when a registration, call or audio check failed \
(the report says which), 2 for a bad scenario or flag."
)]
pub struct SimArgs {
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
    if let Some(seed) = a.seed {
        s.seed = seed;
    }
    s.check().map_err(|e| CliError::Usage(e.to_string()))?;
    Ok(s)
}

pub fn run(a: SimArgs) -> Result<(), CliError> {
    let s = scenario(&a)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Failed(format!("cannot start the runtime: {e}")))?;
    if !a.quiet {
        eprintln!(
            "sim: {} phones ({}-{}@{}) against {}, {} for {:.0} s",
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
