//! Administration commands on the data directory: tenants and users.

use actors::store::StoreAt;
use std::path::{Path, PathBuf};

use actors::store::{Decline, LimitsChange, NewLine, Reject, SettingsChange, Store};
use clap::Subcommand;

use super::CliError;

#[derive(Debug, Subcommand)]
pub enum TenantCmd {
    /// Add a tenant with the SIP domains that select it.
    Add {
        name: String,
        /// A domain (or IP address) whose requests belong to this tenant; repeatable.
        #[arg(long = "domain", required = true)]
        domains: Vec<String>,
    },
    /// List tenants with their domains and line counts.
    List,
    /// Remove a tenant with everything it has but its journal (a running switch
    /// stops serving it within seconds).
    Remove { name: String },
    /// Change a tenant's call outcome settings (SPEC F-CALL); prints them all.
    Set {
        /// The tenant's name or one of its domains.
        tenant: String,
        /// The callee has no registered device: 486 (default), 480, 603, or ring
        /// (180 until the caller gives up or the ring time is over, then 480).
        #[arg(long, value_name = "486|480|603|ring")]
        decline: Option<String>,
        /// A device's own reject (486/600/603) reaches the caller as: 486, 603, or
        /// device (as the device sent it, the default).
        #[arg(long, value_name = "486|603|device")]
        reject: Option<String>,
        /// The extension taking calls to unknown numbers and to lines without a
        /// device; none to clear.
        #[arg(long, value_name = "EXT|none")]
        drop_off: Option<String>,
        /// A callee already in a call gets 486 at once (no call waiting).
        #[arg(long, value_name = "on|off")]
        busy_on_busy: Option<String>,
    },
    /// Show or change a tenant's quotas: calls at once and calls started per second,
    /// for the tenant and for each of its lines (over them a call gets 503). With no
    /// option it prints them.
    Limits {
        /// The tenant's name or one of its domains.
        tenant: String,
        #[arg(long, value_name = "N|none")]
        max_calls: Option<String>,
        #[arg(long, value_name = "N|none")]
        max_cps: Option<String>,
        #[arg(long, value_name = "N|none")]
        line_max_calls: Option<String>,
        #[arg(long, value_name = "N|none")]
        line_max_cps: Option<String>,
    },
    /// Show or change which lines the journal counts a call as missed for (SPEC
    /// F-CDR): `nobody`, `first`, `last` or `all` of the lines that rang (a call nobody
    /// answered), and of those it reached before the line that answered (a call
    /// forwarded, deflected or picked up).
    JournalRules {
        /// The tenant's name or one of its domains.
        tenant: String,
        #[arg(long, value_name = "nobody|first|last|all")]
        unanswered: Option<String>,
        #[arg(long, value_name = "nobody|first|last|all")]
        forwarded: Option<String>,
        /// How a private call's number is kept: in full, its last three digits as
        /// XXX (the default), or not at all.
        #[arg(long, value_name = "full|masked|omitted")]
        private_numbers: Option<String>,
    },
    /// Show or change how long the journal keeps the tenant's internal and external
    /// calls (days, or `none`: for ever); older ones are deleted once a day.
    Retention {
        /// The tenant's name or one of its domains.
        tenant: String,
        #[arg(long, value_name = "DAYS|none")]
        internal_days: Option<String>,
        #[arg(long, value_name = "DAYS|none")]
        external_days: Option<String>,
    },
    /// Show a tenant's call outcome settings.
    Show {
        /// The tenant's name or one of its domains.
        tenant: String,
    },
    /// Set the music a held caller of the tenant hears: a mono 8 kHz 16-bit PCM WAV
    /// (copied into the data directory; a running switch plays it within two
    /// seconds), or `--default` for the switch's own melody.
    Music {
        /// The tenant's name or one of its domains.
        tenant: String,
        #[arg(required_unless_present = "default")]
        file: Option<PathBuf>,
        #[arg(long, conflicts_with = "file")]
        default: bool,
    },
}

// Parsed once per command line: the size of `Set` costs nothing worth a box.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum UserCmd {
    /// Remove an extension with its devices, settings, registrations and voicemail;
    /// refused while the plan routes to it (a member of a group, a menu's target…).
    Remove {
        #[arg(long)]
        tenant: String,
        ext: String,
    },
    /// Add one extension.
    Add {
        #[arg(long)]
        tenant: String,
        /// The extension number (at least 2 digits).
        ext: String,
        #[arg(long)]
        password: String,
        #[arg(long)]
        name: Option<String>,
    },
    /// Add a range of extensions; `{ext}` in the password is replaced by the number.
    AddRange {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        from: u64,
        #[arg(long)]
        to: u64,
        #[arg(long)]
        password: String,
    },
    /// List a tenant's extensions.
    List {
        #[arg(long)]
        tenant: String,
    },
    /// Put an extension in a line group of the tenant's dialplan (`default` for none).
    SetGroup {
        #[arg(long)]
        tenant: String,
        ext: String,
        /// The line group's name.
        group: String,
    },
    /// Set a new password.
    Passwd {
        #[arg(long)]
        tenant: String,
        ext: String,
        #[arg(long)]
        password: String,
    },
    /// Set a line's do not disturb and forwarding (each target an extension of the
    /// tenant, or `off`).
    Set {
        #[arg(long)]
        tenant: String,
        ext: String,
        /// Do not disturb: `on` or `off`.
        #[arg(long)]
        dnd: Option<String>,
        /// Call waiting: `on` (a second call rings) or `off` (it gets busy).
        #[arg(long)]
        call_waiting: Option<String>,
        /// Anonymous calls: `on` withholds the line's caller ID, `off` shows it.
        #[arg(long)]
        anonymous: Option<String>,
        /// Forward every call to this extension (`off` clears it).
        #[arg(long)]
        forward_always: Option<String>,
        /// Forward calls while the line is in a call or on do not disturb.
        #[arg(long)]
        forward_busy: Option<String>,
        /// Forward calls while no device of the line is registered.
        #[arg(long)]
        forward_unregistered: Option<String>,
        /// Forward calls nobody answers within the no-answer delay.
        #[arg(long)]
        forward_no_answer: Option<String>,
        /// The no-answer delay in seconds (5–120; `default` for 20).
        #[arg(long)]
        no_answer_secs: Option<String>,
        /// Which callers the `--forward-*` options are for: `all` (default),
        /// `internal` or `external` (those two keep the callers' forwardings apart).
        #[arg(long, value_name = "all|internal|external", default_value = "all")]
        callers: String,
        /// External callers are forwarded as internal ones again.
        #[arg(long)]
        external_as_internal: bool,
        /// The administrator's forwarding of every call, over the user's own
        /// (`off` clears it).
        #[arg(long, value_name = "EXT|off")]
        admin_forward: Option<String>,
        /// The number the line's calls show: another line of its user, or `own`.
        #[arg(long, value_name = "EXT|own")]
        caller_id: Option<String>,
        /// `on`: the caller ID (and anonymity) is the administrator's; the user's
        /// feature codes cannot change it.
        #[arg(long, value_name = "on|off")]
        caller_id_fixed: Option<String>,
        /// `on`: the calls the line places are private (the journal keeps their
        /// number as `pbx tenant journal-rules --private-numbers` says).
        #[arg(long, value_name = "on|off")]
        private: Option<String>,
        /// The project code (digits) the line's calls are tagged with, or `off`.
        #[arg(long, value_name = "CODE|off")]
        project: Option<String>,
        /// `on`: busy-lamp keys watching the line see that it rings, not who calls.
        #[arg(long, value_name = "on|off")]
        blf_private: Option<String>,
    },
    /// Show a line's do not disturb and forwarding.
    Show {
        #[arg(long)]
        tenant: String,
        ext: String,
    },
    /// Give a line to a user (person), or with `--none` make it device-only.
    SetUser {
        #[arg(long)]
        tenant: String,
        ext: String,
        /// The user's name (`pbx person add`).
        #[arg(required_unless_present = "none")]
        user: Option<String>,
        #[arg(long, conflicts_with = "user")]
        none: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum PersonCmd {
    /// Add a user (person); names are unique within the tenant.
    Add {
        #[arg(long)]
        tenant: String,
        name: String,
        #[arg(long)]
        email: Option<String>,
    },
    /// List a tenant's users with their lines.
    List {
        #[arg(long)]
        tenant: String,
    },
    /// Remove a person; their lines stay, without one.
    Remove {
        #[arg(long)]
        tenant: String,
        name: String,
    },
    /// Show or change a person's missed-call mail: `on` mails each call their lines
    /// missed (not internal calls, hidden numbers, calls that rang under 2 s, a caller
    /// already mailed about that day, or the numbers excluded).
    Set {
        #[arg(long)]
        tenant: String,
        name: String,
        #[arg(long, value_name = "on|off")]
        missed_call_mail: Option<String>,
        /// Callers never mailed about, comma-separated (`none` clears the list).
        #[arg(long, value_name = "NUMBER,…|none")]
        exclude: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum RecordingCmd {
    /// List a tenant's recordings (of one line with `--user`): line, file, seconds.
    List {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        user: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum DeviceCmd {
    /// Add a device account for a line: it registers and calls as the line.
    Add {
        #[arg(long)]
        tenant: String,
        /// The line it belongs to.
        #[arg(long)]
        line: String,
        /// Its SIP username (not all digits: numbers are lines').
        username: String,
        #[arg(long)]
        password: String,
        /// What it is ("DECT handset in the lobby").
        #[arg(long)]
        name: Option<String>,
    },
    /// List a tenant's devices (of one line with `--line`).
    List {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        line: Option<String>,
    },
    /// Remove a device account.
    Remove {
        #[arg(long)]
        tenant: String,
        username: String,
    },
    /// Provision a phone by its MAC: it fetches its configuration from the switch's
    /// HTTP server (`/provision/…`), with new passwords each time. A desk phone has
    /// one line (`--line`); a DECT base (`--kind dect`) a handset per `--handset
    /// IPUI=LINE`; an analog adapter (`--kind ata`, grandstream) a `--port LINE` each.
    Provision {
        #[arg(long)]
        tenant: String,
        #[arg(long, required_unless_present_any = ["handsets", "ports"])]
        line: Option<String>,
        #[arg(long)]
        mac: String,
        /// yealink, snom, gigaset or grandstream.
        #[arg(long)]
        vendor: String,
        #[arg(long, default_value = "phone", value_name = "phone|dect|ata")]
        kind: String,
        /// A DECT handset: its IPUI (10 hex digits) and its line; repeatable.
        #[arg(long = "handset", value_name = "IPUI=LINE")]
        handsets: Vec<String>,
        /// An adapter's port, by its line; repeatable, in port order.
        #[arg(long = "port", value_name = "LINE")]
        ports: Vec<String>,
        /// Lines shown on its busy-lamp keys, e.g. 101,102.
        #[arg(long, value_delimiter = ',')]
        blf: Vec<String>,
        #[arg(long, default_value = "en")]
        language: String,
        /// Serve its file only under a per-device token (printed once).
        #[arg(long)]
        token: bool,
    },
    /// Forget a provisioned phone and its device accounts.
    Unprovision {
        #[arg(long)]
        tenant: String,
        mac: String,
    },
    /// The tenant's provisioned phones: MAC, vendor, line, device account, last fetch.
    Provisioned {
        #[arg(long)]
        tenant: String,
    },
}

pub fn person(at: &StoreAt, cmd: PersonCmd) -> Result<(), CliError> {
    let mut store = open(at)?;
    match cmd {
        PersonCmd::Add {
            tenant,
            name,
            email,
        } => {
            let t = store.tenant(&tenant)?;
            store.add_user(t.id, &name, email.as_deref())?;
            println!("added user {name:?} to tenant {}", t.name);
        }
        PersonCmd::Remove { tenant, name } => {
            let t = store.tenant(&tenant)?;
            store.remove_user(t.id, &name)?;
            println!("removed user {name:?} of tenant {}", t.name);
        }
        PersonCmd::Set {
            tenant,
            name,
            missed_call_mail,
            exclude,
        } => {
            let t = store.tenant(&tenant)?;
            let on = match missed_call_mail.as_deref() {
                None => None,
                Some("on") => Some(true),
                Some("off") => Some(false),
                Some(other) => {
                    return Err(CliError::Usage(format!(
                        "--missed-call-mail {other:?} must be on or off"
                    )))
                }
            };
            let list: Option<Vec<String>> = exclude.map(|e| match e.as_str() {
                "none" => Vec::new(),
                e => e.split(',').map(|n| n.trim().to_owned()).collect(),
            });
            let m = store.set_missed_call_mail(t.id, &name, on, list.as_deref())?;
            println!(
                "{name}: missed-call mail {}, excluded: {}",
                if m.on { "on" } else { "off" },
                if m.exclude.is_empty() {
                    "none".to_owned()
                } else {
                    m.exclude.join(",")
                }
            );
        }
        PersonCmd::List { tenant } => {
            let t = store.tenant(&tenant)?;
            for u in store.users(t.id)? {
                println!(
                    "{}\t{}\t{}",
                    u.name,
                    u.email.unwrap_or_default(),
                    u.lines.join(",")
                );
            }
        }
    }
    Ok(())
}

pub fn device(at: &StoreAt, cmd: DeviceCmd) -> Result<(), CliError> {
    let mut store = open(at)?;
    match cmd {
        DeviceCmd::Add {
            tenant,
            line,
            username,
            password,
            name,
        } => {
            let t = store.tenant(&tenant)?;
            store.add_device(
                &t,
                &actors::store::NewDevice {
                    username: username.clone(),
                    ext: line.clone(),
                    name,
                    password,
                },
            )?;
            println!(
                "added device {username} to line {line} of tenant {}",
                t.name
            );
        }
        DeviceCmd::List { tenant, line } => {
            let t = store.tenant(&tenant)?;
            for d in store.devices(t.id, line.as_deref())? {
                println!("{}\t{}\t{}", d.username, d.ext, d.name.unwrap_or_default());
            }
        }
        DeviceCmd::Remove { tenant, username } => {
            let t = store.tenant(&tenant)?;
            store.remove_device(t.id, &username)?;
            println!("removed device {username} of tenant {}", t.name);
        }
        DeviceCmd::Provision {
            tenant,
            line,
            mac,
            vendor,
            kind,
            handsets,
            ports,
            blf,
            language,
            token,
        } => {
            let t = store.tenant(&tenant)?;
            let accounts = match kind.as_str() {
                "dect" => handsets
                    .iter()
                    .map(|h| match h.split_once('=') {
                        Some((ipui, line)) => Ok((Some(ipui.to_owned()), line.to_owned())),
                        None => Err(CliError::Usage(format!(
                            "--handset {h}: IPUI=LINE, e.g. 0283D9A2B1=101"
                        ))),
                    })
                    .collect::<Result<Vec<_>, _>>()?,
                "ata" => ports.into_iter().map(|l| (None, l)).collect(),
                _ => line.into_iter().map(|l| (None, l)).collect(),
            };
            let order = actors::store::PhoneOrder {
                mac: mac.clone(),
                vendor: vendor.to_ascii_lowercase(),
                kind,
                accounts,
                blf,
                language,
                token,
            };
            let made = store.provision_phone(&t, &order, actors::clock::unix_millis())?;
            let url = match &made.token {
                Some(token) => format!("/provision/{token}/<its file>"),
                None => "/provision/<its file>".into(),
            };
            println!(
                "phone {mac} ({vendor}, {}) provisioned as device {}; it fetches {url} from the switch's HTTP address",
                order.kind,
                made.devices.join(", ")
            );
        }
        DeviceCmd::Unprovision { tenant, mac } => {
            let t = store.tenant(&tenant)?;
            let lines = store.remove_phone(t.id, &mac)?;
            println!("forgot phone {mac} (lines {})", lines.join(", "));
        }
        DeviceCmd::Provisioned { tenant } => {
            let t = store.tenant(&tenant)?;
            for p in store.provisioned(t.id)? {
                let fetched = p
                    .fetched_at
                    .and_then(|ms| chrono::DateTime::from_timestamp_millis(ms as i64))
                    .map(|t| t.format("fetched %Y-%m-%d %H:%M").to_string())
                    .unwrap_or_else(|| "never fetched".into());
                let lines = if p.accounts.is_empty() {
                    format!("line {}", p.line)
                } else {
                    p.accounts
                        .iter()
                        .map(|a| match &a.ipui {
                            Some(i) => format!("{}={}", i, a.line),
                            None => format!("port {}={}", a.slot, a.line),
                        })
                        .collect::<Vec<_>>()
                        .join(" ")
                };
                println!(
                    "{}\t{}\t{}\t{lines}\t{}\tblf {}\t{fetched}{}",
                    p.mac,
                    p.vendor,
                    p.kind,
                    p.device,
                    p.blf.join(","),
                    if p.token { "\ttoken" } else { "" }
                );
            }
        }
    }
    Ok(())
}

pub fn recording(at: &StoreAt, files: &Path, cmd: RecordingCmd) -> Result<(), CliError> {
    let store = open(at)?;
    let RecordingCmd::List { tenant, user } = cmd;
    let t = store.tenant(&tenant)?;
    let lines = match user {
        Some(u) => vec![u],
        None => store.extensions(t.id)?,
    };
    let mut rows = Vec::new();
    for line in lines {
        let folder = actors::call::recording::directory(files, &t.name, &line);
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        for e in entries.flatten() {
            let path = e.path();
            if path.extension().and_then(|x| x.to_str()) != Some("wav") {
                continue;
            }
            // Stereo 16-bit at 8 kHz: 32,000 bytes a second after the header.
            let len = e.metadata().map_or(0, |m| m.len());
            let secs = len.saturating_sub(44) as f64 / 32000.0;
            rows.push((line.clone(), path.display().to_string(), secs));
        }
    }
    rows.sort_by(|x, y| (&x.0, &x.1).cmp(&(&y.0, &y.1)));
    for (line, path, secs) in rows {
        println!("{line}\t{path}\t{secs:.1}");
    }
    Ok(())
}

pub(super) fn open(at: &StoreAt) -> Result<Store, CliError> {
    Ok(Store::open_at(at)?)
}

pub fn tenant(at: &StoreAt, files: &Path, cmd: TenantCmd) -> Result<(), CliError> {
    let mut store = open(at)?;
    match cmd {
        TenantCmd::Add { name, domains } => {
            let t = store.add_tenant(&name, &domains)?;
            println!("added tenant {} (domains {})", t.name, t.domains.join(", "));
        }
        TenantCmd::Remove { name } => {
            store.remove_tenant(&name)?;
            println!("removed tenant {name}");
        }
        TenantCmd::List => {
            for t in store.tenants()? {
                let n = store.lines(t.id)?.len();
                println!("{}\tdomains={}\tlines={n}", t.name, t.domains.join(","));
            }
        }
        TenantCmd::Set {
            tenant,
            decline,
            reject,
            drop_off,
            busy_on_busy,
        } => {
            let change = SettingsChange {
                decline: decline.as_deref().map(Decline::parse).transpose()?,
                reject: reject
                    .as_deref()
                    .map(|r| match r.trim() {
                        "device" => Ok(None),
                        r => Reject::parse(r).map(Some),
                    })
                    .transpose()?,
                drop_off: drop_off.map(|d| match d.trim() {
                    "none" | "" => None,
                    d => Some(d.to_owned()),
                }),
                busy_on_busy: busy_on_busy
                    .as_deref()
                    .map(|b| match b.trim() {
                        "on" => Ok(true),
                        "off" => Ok(false),
                        other => Err(CliError::Usage(format!(
                            "busy-on-busy {other:?} must be on or off"
                        ))),
                    })
                    .transpose()?,
            };
            if change.decline.is_none()
                && change.reject.is_none()
                && change.drop_off.is_none()
                && change.busy_on_busy.is_none()
            {
                return Err(CliError::Usage(
                    "nothing to set: give --decline, --reject, --drop-off or --busy-on-busy".into(),
                ));
            }
            let t = store.tenant(&tenant)?;
            let s = store.set_tenant_settings(t.id, &change)?;
            println!("{}\t{s}", t.name);
        }
        TenantCmd::Music { tenant, file, .. } => {
            let t = store.tenant(&tenant)?;
            let dest = actors::tenant::music::path(files, &t.name);
            match file {
                Some(file) => {
                    let music = actors::tenant::music::install(&file, &dest)?;
                    println!(
                        "tenant {} plays {} ({} s) to held callers",
                        t.name,
                        file.display(),
                        music.duration_ms() / 1000
                    );
                }
                None => {
                    if dest.exists() {
                        std::fs::remove_file(&dest).map_err(actors::Error::from)?;
                    }
                    println!("tenant {} plays the default music on hold", t.name);
                }
            }
        }
        TenantCmd::Limits {
            tenant,
            max_calls,
            max_cps,
            line_max_calls,
            line_max_cps,
        } => {
            let change = LimitsChange {
                max_calls: limit("max-calls", max_calls)?,
                max_cps: limit("max-cps", max_cps)?,
                line_max_calls: limit("line-max-calls", line_max_calls)?,
                line_max_cps: limit("line-max-cps", line_max_cps)?,
            };
            let t = store.tenant(&tenant)?;
            let l = if change.is_empty() {
                store.tenant_limits(t.id)?
            } else {
                store.set_tenant_limits(t.id, &change)?
            };
            println!("{}\t{l}", t.name);
        }
        TenantCmd::JournalRules {
            tenant,
            unanswered,
            forwarded,
            private_numbers,
        } => {
            use actors::store::{Attribution, PrivateNumbers};
            let t = store.tenant(&tenant)?;
            let unanswered = unanswered.as_deref().map(Attribution::parse).transpose()?;
            let forwarded = forwarded.as_deref().map(Attribution::parse).transpose()?;
            let private = private_numbers
                .as_deref()
                .map(PrivateNumbers::parse)
                .transpose()?;
            let r = if unanswered.is_none() && forwarded.is_none() && private.is_none() {
                store.journal_rules(t.id)?
            } else {
                store.set_journal_rules(t.id, (unanswered, forwarded), private)?
            };
            println!("{}	{r}", t.name);
        }
        TenantCmd::Retention {
            tenant,
            internal_days,
            external_days,
        } => {
            let t = store.tenant(&tenant)?;
            let days = |v: &str, what: &str| -> Result<Option<u32>, CliError> {
                match v {
                    "none" => Ok(None),
                    d => d.parse().map(Some).map_err(|_| {
                        CliError::Usage(format!("--{what}-days {d:?}: a number of days, or none"))
                    }),
                }
            };
            let mut r = store.journal_retention(t.id)?;
            if let Some(v) = &internal_days {
                r.internal_days = days(v, "internal")?;
            }
            if let Some(v) = &external_days {
                r.external_days = days(v, "external")?;
            }
            if internal_days.is_some() || external_days.is_some() {
                store.set_journal_retention(t.id, r)?;
            }
            println!("{}\t{r}", t.name);
        }
        TenantCmd::Show { tenant } => {
            let t = store.tenant(&tenant)?;
            println!("{}\t{}", t.name, store.effective_settings(t.id)?);
        }
    }
    Ok(())
}

/// A limit as given on the command line: a positive number, or `none`.
fn limit(name: &str, value: Option<String>) -> Result<Option<Option<u32>>, CliError> {
    let Some(v) = value else { return Ok(None) };
    match v.trim() {
        "none" => Ok(Some(None)),
        n => match n.parse::<u32>() {
            Ok(n) if n > 0 => Ok(Some(Some(n))),
            _ => Err(CliError::Usage(format!(
                "--{name} {n:?} must be a positive number or none"
            ))),
        },
    }
}

fn print_features(ext: &str, f: &actors::store::LineFeatures) {
    use actors::store::CallerKind;
    let to = |t: &Option<String>| t.clone().unwrap_or_else(|| "off".into());
    let on = |b: bool| if b { "on" } else { "off" };
    println!("line {ext}");
    println!("  do not disturb:        {}", on(f.dnd));
    println!("  call waiting:          {}", on(!f.no_call_waiting));
    println!("  anonymous calls:       {}", on(f.anonymous));
    println!(
        "  caller ID:             {}{}",
        f.caller_id.as_deref().unwrap_or("own number"),
        if f.caller_id_fixed {
            " (fixed by the administrator)"
        } else {
            ""
        }
    );
    if let Some(admin) = &f.admin_forward {
        println!("  administrator forwards every call to {admin}");
    }
    println!("  private calls:         {}", on(f.private));
    println!(
        "  callers hidden from busy-lamp keys: {}",
        on(f.blf_private)
    );
    if let Some(p) = &f.project {
        println!("  project code:          {p}");
    }
    let mut sets = vec![("", CallerKind::Internal)];
    if f.external.is_some() {
        sets = vec![
            (" (internal callers)", CallerKind::Internal),
            (" (external callers)", CallerKind::External),
        ];
    }
    for (who, kind) in sets {
        let fw = f.forwards(kind);
        println!("  forward always{who}:        {}", to(&fw.always));
        println!("  forward when busy{who}:     {}", to(&fw.busy));
        println!("  forward when offline{who}:  {}", to(&fw.unregistered));
        println!(
            "  forward on no answer{who}:  {}",
            match &fw.no_answer {
                Some(n) => format!(
                    "{n} after {} s",
                    f.no_answer_secs.unwrap_or(actors::store::NO_ANSWER_SECS)
                ),
                None => "off".into(),
            }
        );
    }
}

pub fn user(at: &StoreAt, cmd: UserCmd) -> Result<(), CliError> {
    let mut store = open(at)?;
    match cmd {
        UserCmd::Remove { tenant, ext } => {
            let t = store.tenant(&tenant)?;
            store.remove_line(t.id, &ext)?;
            println!("removed extension {ext} of tenant {}", t.name);
        }
        UserCmd::Add {
            tenant,
            ext,
            password,
            name,
        } => {
            let t = store.tenant(&tenant)?;
            store.add_line(
                &t,
                &NewLine {
                    ext: ext.clone(),
                    display_name: name,
                    password,
                },
            )?;
            println!("added extension {ext} to tenant {}", t.name);
        }
        UserCmd::AddRange {
            tenant,
            from,
            to,
            password,
        } => {
            let t = store.tenant(&tenant)?;
            let n = store.add_line_range(&t, from, to, &password)?;
            println!("added {n} extensions ({from}-{to}) to tenant {}", t.name);
        }
        UserCmd::SetGroup { tenant, ext, group } => {
            let t = store.tenant(&tenant)?;
            store.set_line_group(t.id, &ext, &group)?;
            println!(
                "extension {ext} of tenant {} is in line group {group}",
                t.name
            );
        }
        UserCmd::List { tenant } => {
            let t = store.tenant(&tenant)?;
            for l in store.lines(t.id)? {
                let user = store.line_user(t.id, &l.ext)?;
                println!(
                    "{}\t{}\t{}",
                    l.ext,
                    l.display_name.unwrap_or_default(),
                    user.unwrap_or_else(|| "(device-only)".into())
                );
            }
        }
        UserCmd::SetUser {
            tenant,
            ext,
            user,
            none: _,
        } => {
            let t = store.tenant(&tenant)?;
            store.set_line_user(t.id, &ext, user.as_deref())?;
            match user {
                Some(u) => println!("line {ext} of tenant {} belongs to {u}", t.name),
                None => println!("line {ext} of tenant {} is device-only", t.name),
            }
        }
        UserCmd::Set {
            tenant,
            ext,
            dnd,
            call_waiting,
            anonymous,
            forward_always,
            forward_busy,
            forward_unregistered,
            forward_no_answer,
            no_answer_secs,
            callers,
            external_as_internal,
            admin_forward,
            caller_id,
            caller_id_fixed,
            private,
            project,
            blf_private,
        } => {
            use actors::store::{ForwardScope, ForwardsChange};
            let t = store.tenant(&tenant)?;
            let switch = |name: &str, v: Option<String>| match v.as_deref() {
                None => Ok(None),
                Some("on") => Ok(Some(true)),
                Some("off") => Ok(Some(false)),
                Some(other) => Err(CliError::Usage(format!(
                    "--{name} {other:?} must be on or off"
                ))),
            };
            let dnd = switch("dnd", dnd)?;
            let call_waiting = switch("call-waiting", call_waiting)?;
            let anonymous = switch("anonymous", anonymous)?;
            let caller_id_fixed = switch("caller-id-fixed", caller_id_fixed)?;
            let private = switch("private", private)?;
            let blf_private = switch("blf-private", blf_private)?;
            let target = |v: Option<String>| v.map(|v| (v != "off").then_some(v));
            let scope = match callers.as_str() {
                "all" => ForwardScope::All,
                "internal" => ForwardScope::Internal,
                "external" => ForwardScope::External,
                other => {
                    return Err(CliError::Usage(format!(
                        "--callers {other:?} must be all, internal or external"
                    )))
                }
            };
            let change = actors::store::FeatureChange {
                dnd,
                call_waiting,
                anonymous,
                forwards: ForwardsChange {
                    always: target(forward_always),
                    busy: target(forward_busy),
                    unregistered: target(forward_unregistered),
                    no_answer: target(forward_no_answer),
                },
                scope,
                same_for_external: external_as_internal,
                admin_forward: target(admin_forward),
                caller_id: caller_id.map(|n| (n != "own").then_some(n)),
                caller_id_fixed,
                by_user: false,
                private,
                project: target(project),
                blf_private,
                no_answer_secs: match no_answer_secs.as_deref() {
                    None => None,
                    Some("default") => Some(None),
                    Some(s) => Some(Some(s.parse::<u32>().map_err(|_| {
                        CliError::Usage(format!(
                            "--no-answer-secs {s:?} must be a number of seconds"
                        ))
                    })?)),
                },
            };
            let f = store.change_line_features(t.id, &ext, &change)?;
            print_features(&ext, &f);
        }
        UserCmd::Show { tenant, ext } => {
            let t = store.tenant(&tenant)?;
            if store.line(t.id, &ext)?.is_none() {
                return Err(CliError::Usage(format!(
                    "no extension {ext} in tenant {}",
                    t.name
                )));
            }
            print_features(&ext, &store.line_features(t.id, &ext)?);
        }
        UserCmd::Passwd {
            tenant,
            ext,
            password,
        } => {
            let t = store.tenant(&tenant)?;
            store.set_password(&t, &ext, &password)?;
            println!("password of {ext} changed");
        }
    }
    Ok(())
}
