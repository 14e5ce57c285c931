//! Validation of a tenant's numbering. Every error names the entries involved.

use std::collections::HashMap;
use std::fmt;

use serde::Serialize;

use crate::emergency::Subnet;
use crate::number::location::ExtensionSpace;
use crate::plan::TenantPlan;
use crate::schedule::parse_zone;

/// First and last number reserved for IVR submenus.
pub const SUBMENU_RANGE: (u32, u32) = (99990, 99999);

/// One problem in a tenant plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "error", rename_all = "snake_case")]
pub enum ValidationError {
    /// Internal numbers need at least 2 digits, digits only.
    BadInternalNumber {
        /// The entry ("extension 7").
        entry: String,
        /// What is wrong.
        reason: String,
    },
    /// One number assigned twice.
    Duplicate {
        /// The number.
        number: String,
        /// The entry that had it first.
        first: String,
        /// The entry that has it too.
        second: String,
    },
    /// An emergency number used as an internal number.
    ReservedEmergency {
        /// The emergency number.
        number: String,
        /// The entry using it.
        entry: String,
    },
    /// IVR submenus take 99990–99999, and only they do.
    SubmenuRange {
        /// The entry.
        entry: String,
        /// What is wrong.
        reason: String,
    },
    /// Two number ranges overlap.
    Overlap {
        /// One range.
        first: String,
        /// The other.
        second: String,
    },
    /// A range that is not `from <= to` with equal lengths.
    BadRange {
        /// The range.
        entry: String,
    },
    /// A reference to something that does not exist.
    UnknownReference {
        /// The entry holding the reference.
        entry: String,
        /// What kind of thing is referenced.
        kind: &'static str,
        /// The missing name or number.
        name: String,
    },
    /// One feature code is a prefix of another, or does not start with * or #.
    FeatureCode {
        /// The code.
        code: String,
        /// What is wrong.
        reason: String,
    },
    /// Any other bad setting (time zone, country, subnet).
    Setting {
        /// The setting.
        entry: String,
        /// What is wrong.
        reason: String,
    },
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadInternalNumber { entry, reason } => write!(f, "{entry}: {reason}"),
            Self::Duplicate {
                number,
                first,
                second,
            } => {
                write!(f, "number {number} is assigned twice: {first} and {second}")
            }
            Self::ReservedEmergency { number, entry } => {
                write!(f, "{entry}: {number} is a reserved emergency number")
            }
            Self::SubmenuRange { entry, reason } => write!(f, "{entry}: {reason}"),
            Self::Overlap { first, second } => write!(f, "ranges overlap: {first} and {second}"),
            Self::BadRange { entry } => write!(
                f,
                "{entry}: from and to must have the same length and from <= to"
            ),
            Self::UnknownReference { entry, kind, name } => {
                write!(f, "{entry}: unknown {kind} {name:?}")
            }
            Self::FeatureCode { code, reason } => write!(f, "feature code {code}: {reason}"),
            Self::Setting { entry, reason } => write!(f, "{entry}: {reason}"),
        }
    }
}

fn in_submenu_range(n: &str) -> bool {
    n.len() == 5
        && n.parse::<u32>()
            .is_ok_and(|v| (SUBMENU_RANGE.0..=SUBMENU_RANGE.1).contains(&v))
}

/// Every assigned internal number with a description of its owner.
pub fn assigned_numbers(plan: &TenantPlan) -> Vec<(String, String)> {
    let mut v = Vec::new();
    v.extend(
        plan.extensions
            .iter()
            .map(|e| (e.number.clone(), format!("extension {}", e.number))),
    );
    v.extend(
        plan.groups
            .iter()
            .map(|g| (g.number.clone(), format!("hunt group {:?}", g.name))),
    );
    v.extend(
        plan.queues
            .iter()
            .map(|q| (q.number.clone(), format!("queue {:?}", q.name))),
    );
    v.extend(
        plan.ivrs
            .iter()
            .map(|i| (i.number.clone(), format!("IVR menu {:?}", i.name))),
    );
    v.extend(
        plan.conferences
            .iter()
            .map(|c| (c.number.clone(), format!("conference {:?}", c.name))),
    );
    v
}

/// All problems of `plan` (empty when valid).
pub fn validate(plan: &TenantPlan) -> Vec<ValidationError> {
    let mut errs = Vec::new();
    let assigned = assigned_numbers(plan);
    let mut seen: HashMap<&str, &str> = HashMap::new();
    let emergency = plan.emergency_numbers().unwrap_or_default();
    for (number, entry) in &assigned {
        if number.len() < 2 || !number.bytes().all(|b| b.is_ascii_digit()) {
            errs.push(ValidationError::BadInternalNumber {
                entry: entry.clone(),
                reason: format!(
                    "internal number {number:?} must be at least 2 digits, digits only"
                ),
            });
        }
        if let Some(first) = seen.insert(number, entry) {
            errs.push(ValidationError::Duplicate {
                number: number.clone(),
                first: first.to_owned(),
                second: entry.clone(),
            });
            seen.insert(number, first);
        }
        if emergency.contains(number) {
            errs.push(ValidationError::ReservedEmergency {
                number: number.clone(),
                entry: entry.clone(),
            });
        }
    }
    check_submenus(plan, &assigned, &mut errs);
    check_ranges(plan, &mut errs);
    check_references(plan, &seen, &mut errs);
    check_feature_codes(plan, &mut errs);
    check_settings(plan, &mut errs);
    check_line_groups(plan, &mut errs);
    check_conferences(plan, &mut errs);
    check_queues(plan, &mut errs);
    check_agent_skills(plan, &mut errs);
    errs
}

/// Skills belong to extensions, at levels 1 to 10.
fn check_agent_skills(plan: &TenantPlan, errs: &mut Vec<ValidationError>) {
    for (ext, skills) in &plan.agent_skills {
        let entry = format!("agent {ext}");
        if !plan.extensions.iter().any(|e| &e.number == ext) {
            errs.push(ValidationError::UnknownReference {
                entry: entry.clone(),
                kind: "extension",
                name: ext.clone(),
            });
        }
        for (skill, level) in skills.iter().filter(|(_, l)| !(1..=10).contains(*l)) {
            errs.push(ValidationError::Setting {
                entry: entry.clone(),
                reason: format!("skill {skill:?} level {level} must be 1 to 10"),
            });
        }
    }
}

/// A queue's times are whole seconds in sensible ranges and its exit key is one key
/// that comes with a target.
fn check_queues(plan: &TenantPlan, errs: &mut Vec<ValidationError>) {
    for q in &plan.queues {
        let entry = format!("queue {:?}", q.name);
        let mut bad = |reason: String| {
            errs.push(ValidationError::Setting {
                entry: entry.clone(),
                reason,
            })
        };
        for (name, value, range) in [
            ("agent_ring_seconds", q.agent_ring_seconds, 5..=120),
            ("wrap_up_seconds", q.wrap_up_seconds, 0..=600),
            ("max_wait_seconds", q.max_wait_seconds, 10..=7200),
            ("max_callers", q.max_callers, 1..=10_000),
            ("announce_seconds", q.announce_seconds, 10..=600),
        ] {
            if let Some(v) = value.filter(|v| !range.contains(v)) {
                bad(format!(
                    "{name} {v} must be {} to {}",
                    range.start(),
                    range.end()
                ));
            }
        }
        let levels = q
            .skills
            .iter()
            .chain(q.caller_rules.iter().flat_map(|r| r.skills.iter()));
        for (skill, level) in levels {
            if !(1..=10).contains(level) {
                bad(format!("skill {skill:?} level {level} must be 1 to 10"));
            }
        }
        for r in &q.caller_rules {
            let digits = r.prefix.strip_prefix('+').unwrap_or(&r.prefix);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                bad(format!("caller rule prefix {:?} must be digits (with a leading + for canonical numbers)", r.prefix));
            }
            if r.priority > 9 {
                bad(format!(
                    "caller rule {:?}: priority {} must be 0 to 9",
                    r.prefix, r.priority
                ));
            }
        }
        match (&q.exit_key, &q.exit_target) {
            (Some(k), Some(_)) if k.len() == 1 && k.chars().all(|c| "0123456789*#".contains(c)) => {
            }
            (Some(k), Some(_)) => bad(format!("exit_key {k:?} must be one of 0-9, * or #")),
            (Some(_), None) => bad("exit_key needs an exit_target".into()),
            (None, Some(_)) => bad("exit_target needs an exit_key".into()),
            (None, None) => {}
        }
    }
}

/// A conference PIN is 1–12 digits (typed on a keypad, ended by #).
fn check_conferences(plan: &TenantPlan, errs: &mut Vec<ValidationError>) {
    for c in &plan.conferences {
        if let Some(pin) = &c.pin {
            if pin.is_empty() || pin.len() > 12 || !pin.bytes().all(|b| b.is_ascii_digit()) {
                errs.push(ValidationError::Setting {
                    entry: format!("conference {:?}", c.name),
                    reason: "the PIN must be 1 to 12 digits".into(),
                });
            }
        }
    }
}

/// Line group names are unique and every line names an existing one.
fn check_line_groups(plan: &TenantPlan, errs: &mut Vec<ValidationError>) {
    let mut names = std::collections::HashSet::new();
    for g in &plan.line_groups {
        if g.name.is_empty() || !names.insert(g.name.as_str()) {
            errs.push(ValidationError::Setting {
                entry: format!("line group {:?}", g.name),
                reason: "line group names must be given and unique".into(),
            });
        }
        let known = crate::plan::line_group::CODECS;
        for c in &g.codecs {
            if !known.iter().any(|k| k.eq_ignore_ascii_case(c)) {
                errs.push(ValidationError::Setting {
                    entry: format!("line group {:?}", g.name),
                    reason: format!("unknown codec {c:?} (known: {})", known.join(", ")),
                });
            }
        }
    }
    for e in &plan.extensions {
        if let Some(g) = &e.line_group {
            if g != crate::plan::DEFAULT_GROUP && !names.contains(g.as_str()) {
                errs.push(ValidationError::UnknownReference {
                    entry: format!("extension {}", e.number),
                    kind: "line group",
                    name: g.clone(),
                });
            }
        }
    }
}

fn check_submenus(
    plan: &TenantPlan,
    assigned: &[(String, String)],
    errs: &mut Vec<ValidationError>,
) {
    for ivr in &plan.ivrs {
        let entry = format!("IVR menu {:?}", ivr.name);
        match &ivr.parent {
            Some(parent) => {
                if !in_submenu_range(&ivr.number) {
                    errs.push(ValidationError::SubmenuRange {
                        entry: entry.clone(),
                        reason: format!("submenu number {} is outside 99990–99999", ivr.number),
                    });
                }
                if !plan
                    .ivrs
                    .iter()
                    .any(|p| &p.number == parent && p.parent.is_none())
                {
                    errs.push(ValidationError::UnknownReference {
                        entry,
                        kind: "main menu",
                        name: parent.clone(),
                    });
                }
            }
            None if in_submenu_range(&ivr.number) => errs.push(ValidationError::SubmenuRange {
                entry,
                reason: format!(
                    "{} is reserved for submenus; give the menu a parent",
                    ivr.number
                ),
            }),
            None => {}
        }
    }
    for (number, entry) in assigned {
        if in_submenu_range(number) && !entry.starts_with("IVR") {
            errs.push(ValidationError::SubmenuRange {
                entry: entry.clone(),
                reason: format!("{number} is reserved for IVR submenus (99990–99999)"),
            });
        }
    }
}

fn check_ranges(plan: &TenantPlan, errs: &mut Vec<ValidationError>) {
    let mut ranges: Vec<(String, String, String)> = Vec::new();
    let loc = &plan.location;
    match &loc.extensions {
        ExtensionSpace::Range { from, to } => {
            let ok = from.len() == to.len()
                && from.len() >= 2
                && from <= to
                && from.bytes().chain(to.bytes()).all(|b| b.is_ascii_digit());
            if ok {
                let p = loc.ddi_prefix();
                ranges.push((
                    format!("{p}{from}"),
                    format!("{p}{to}"),
                    format!("location range {from}–{to}"),
                ));
            } else {
                errs.push(ValidationError::BadRange {
                    entry: format!("location extension range {from}–{to}"),
                });
            }
        }
        ExtensionSpace::Prefixes {
            first_min,
            first_max,
            min_len,
            max_len,
        } => {
            if first_min > first_max || *first_max > 9 || *min_len < 2 || min_len > max_len {
                errs.push(ValidationError::BadRange {
                    entry: format!("location extension prefixes {first_min}–{first_max}, length {min_len}–{max_len}"),
                });
            }
        }
    }
    for r in &plan.ddi_ranges {
        let entry = format!("DDI range {}{{{}–{}}}", r.prefix, r.from, r.to);
        if r.from.len() != r.to.len()
            || r.from > r.to
            || !r
                .from
                .bytes()
                .chain(r.to.bytes())
                .all(|b| b.is_ascii_digit())
        {
            errs.push(ValidationError::BadRange { entry });
            continue;
        }
        let (lo, hi) = r.bounds();
        ranges.push((lo, hi, entry));
    }
    for (i, a) in ranges.iter().enumerate() {
        for b in &ranges[i + 1..] {
            // Equal lengths: the intervals meet. Different lengths: a number of one
            // range starts a number of the other.
            if prefix_overlap(a, b) {
                errs.push(ValidationError::Overlap {
                    first: a.2.clone(),
                    second: b.2.clone(),
                });
            }
        }
    }
    let mut external: HashMap<&str, usize> = HashMap::new();
    for (i, d) in plan.ddi_numbers.iter().enumerate() {
        if let Some(first) = external.insert(d.number.as_str(), i) {
            errs.push(ValidationError::Duplicate {
                number: d.number.to_string(),
                first: format!("DDI number → {}", plan.ddi_numbers[first].target),
                second: format!("DDI number → {}", d.target),
            });
        }
        if let Some(r) = plan.ddi_ranges.iter().find(|r| r.map(&d.number).is_some()) {
            errs.push(ValidationError::Overlap {
                first: format!("DDI number {}", d.number),
                second: format!("DDI range {}{{{}–{}}}", r.prefix, r.from, r.to),
            });
        }
        if let Some(ext) = loc.canonical_to_internal(&d.number) {
            errs.push(ValidationError::Overlap {
                first: format!("DDI number {}", d.number),
                second: format!("location range (it is extension {ext})"),
            });
        }
    }
}

/// Do two ranges of canonical numbers overlap? Compared on the shorter length, so a
/// range whose numbers start numbers of the other counts as overlapping.
fn prefix_overlap(a: &(String, String, String), b: &(String, String, String)) -> bool {
    let n = a.0.len().min(b.0.len());
    let (a0, a1, b0, b1) = (&a.0[..n], &a.1[..n], &b.0[..n], &b.1[..n]);
    a0 <= b1 && b0 <= a1
}

fn check_references(
    plan: &TenantPlan,
    numbers: &HashMap<&str, &str>,
    errs: &mut Vec<ValidationError>,
) {
    let is_number = |n: &str| numbers.contains_key(n) || n.starts_with('+');
    fn missing<'p>(plan: &TenantPlan, s: &'p Option<String>) -> Option<&'p String> {
        s.as_ref()
            .filter(|s| !plan.schedules.iter().any(|x| &x.name == *s))
    }
    let schedule = |s| missing(plan, s);
    let mut refs = Vec::new();
    let mut unknown = |entry: String, kind: &'static str, name: &str| {
        refs.push(ValidationError::UnknownReference {
            entry,
            kind,
            name: name.to_owned(),
        })
    };
    for g in &plan.pickup_groups {
        let entry = format!("pickup group {:?}", g.name);
        for m in g
            .members
            .iter()
            .filter(|m| !plan.extensions.iter().any(|e| &e.number == *m))
        {
            unknown(entry.clone(), "member extension", m);
        }
    }
    for g in &plan.groups {
        let entry = format!("hunt group {:?}", g.name);
        for m in g
            .members
            .iter()
            .filter(|m| !plan.extensions.iter().any(|e| &e.number == *m))
        {
            unknown(entry.clone(), "member extension", m);
        }
        if let Some(s) = schedule(&g.schedule) {
            unknown(entry.clone(), "schedule", s);
        }
        for n in [&g.forward, &g.voicemail]
            .into_iter()
            .flatten()
            .filter(|n| !is_number(n))
        {
            unknown(entry.clone(), "number", n);
        }
    }
    for q in &plan.queues {
        let entry = format!("queue {:?}", q.name);
        if let Some(s) = schedule(&q.schedule) {
            unknown(entry.clone(), "schedule", s);
        }
        if let Some(n) = q.overflow.as_ref().filter(|n| !is_number(n)) {
            unknown(entry.clone(), "overflow number", n);
        }
        if let Some(n) = q.exit_target.as_ref().filter(|n| !is_number(n)) {
            unknown(entry.clone(), "exit target", n);
        }
        // A caller who leaves the line is rung onwards: a person or a group of them.
        for (field, n) in [("overflow", &q.overflow), ("exit_target", &q.exit_target)] {
            let Some((n, what)) = n.as_deref().and_then(|n| Some((n, *numbers.get(n)?))) else {
                continue;
            };
            if !(what.starts_with("extension") || what.starts_with("hunt group")) {
                errs.push(ValidationError::Setting {
                    entry: entry.clone(),
                    reason: format!(
                        "{field} {n} is {what}: a caller leaving a queue goes on to an extension, a hunt group or an external number"
                    ),
                });
            }
        }
        for m in q
            .members
            .iter()
            .filter(|m| !plan.extensions.iter().any(|e| &e.number == *m))
        {
            unknown(entry.clone(), "member extension", m);
        }
    }
    for i in &plan.ivrs {
        let entry = format!("IVR menu {:?}", i.name);
        if let Some(s) = schedule(&i.schedule) {
            unknown(entry.clone(), "schedule", s);
        }
        for (digit, n) in &i.choices {
            if digit.len() != 1 || !digit.as_bytes()[0].is_ascii_digit() {
                unknown(entry.clone(), "choice digit", digit);
            }
            if !is_number(n) {
                unknown(entry.clone(), "choice target", n);
            }
        }
        if let Some(t) = i.timeout_seconds.filter(|t| !(1..=60).contains(t)) {
            errs.push(ValidationError::Setting {
                entry: entry.clone(),
                reason: format!("timeout_seconds {t} must be 1 to 60"),
            });
        }
        // A menu's own number (or, for a submenu, its main menu's) as its drop-off
        // would keep a caller who chooses nothing in the menu forever.
        let own = [Some(&i.number), i.parent.as_ref()];
        if let Some(n) = i.drop_off.as_ref().filter(|n| own.contains(&Some(*n))) {
            errs.push(ValidationError::Setting {
                entry: entry.clone(),
                reason: format!("drop_off {n} leads back into the menu"),
            });
        }
        if let Some(n) = i.drop_off.as_ref().filter(|n| !is_number(n)) {
            unknown(entry, "drop-off number", n);
        }
    }
    if let Some(s) = schedule(&plan.schedule) {
        unknown("tenant".into(), "schedule", s);
    }
    if let Some(n) = plan.drop_off.as_ref().filter(|n| !is_number(n)) {
        unknown("tenant".into(), "drop-off number", n);
    }
    for d in plan.ddi_numbers.iter().filter(|d| !is_number(&d.target)) {
        unknown(format!("DDI number {}", d.number), "target", &d.target);
    }
    let trunk = |t: &str| plan.trunks.iter().any(|x| x.name == t);
    for r in &plan.outbound {
        for t in r.trunks.iter().filter(|t| !trunk(t)) {
            unknown(format!("outbound route {:?}", r.name), "trunk", t);
        }
    }
    if !trunk(&plan.emergency.trunk) {
        unknown("emergency".into(), "trunk", &plan.emergency.trunk);
    }
    for p in &plan.lcr.providers {
        if let Some(t) = p.trunk.as_ref().filter(|t| !trunk(t)) {
            unknown(format!("LCR provider {:?}", p.name), "trunk", t);
        }
    }
    for a in &plan.lcr.assignments {
        let entry = format!("LCR assignment {} {:?}", a.zone, a.day);
        if !plan.lcr.zones.iter().any(|z| z.name == a.zone) {
            unknown(entry.clone(), "zone", &a.zone);
        }
        if !plan.lcr.providers.iter().any(|p| p.name == a.provider) {
            unknown(entry.clone(), "provider", &a.provider);
        }
        if a.from_slot >= a.to_slot || a.to_slot > 48 {
            let slots = format!("{}..{} (need from < to <= 48)", a.from_slot, a.to_slot);
            unknown(entry, "slot range", &slots);
        }
    }
    for s in &plan.schedules {
        match &s.when_closed {
            crate::schedule::ClosedAction::Voicemail { mailbox } if !is_number(mailbox) => {
                unknown(format!("schedule {:?}", s.name), "mailbox", mailbox);
            }
            crate::schedule::ClosedAction::Forward { target } if !is_number(target) => {
                unknown(
                    format!("schedule {:?}", s.name),
                    "closing-time target",
                    target,
                );
            }
            _ => {}
        }
    }
    errs.extend(refs);
}

fn check_feature_codes(plan: &TenantPlan, errs: &mut Vec<ValidationError>) {
    let codes = &plan.feature_codes.codes;
    for (i, a) in codes.iter().enumerate() {
        if a.code.len() < 2
            || !a.code.starts_with(['*', '#'])
            || !a.code[1..]
                .bytes()
                .all(|b| b.is_ascii_digit() || b == b'*' || b == b'#')
        {
            errs.push(ValidationError::FeatureCode {
                code: a.code.clone(),
                reason: "must be * or # followed by digits, * or #".into(),
            });
        }
        for b in &codes[i + 1..] {
            if a.code.starts_with(&b.code) || b.code.starts_with(&a.code) {
                errs.push(ValidationError::FeatureCode {
                    code: a.code.clone(),
                    reason: format!("conflicts with {} ({:?} vs {:?})", b.code, a.kind, b.kind),
                });
            }
        }
    }
}

fn check_settings(plan: &TenantPlan, errs: &mut Vec<ValidationError>) {
    if let Err(e) = parse_zone(&plan.time_zone) {
        errs.push(ValidationError::Setting {
            entry: "time zone".into(),
            reason: e.to_string(),
        });
    }
    if let Err(e) = plan.location.country() {
        errs.push(ValidationError::Setting {
            entry: "location".into(),
            reason: e.to_string(),
        });
    }
    for r in &plan.emergency.rules {
        if let Err(e) = Subnet::parse(&r.subnet) {
            errs.push(ValidationError::Setting {
                entry: format!("emergency rule {:?}", r.description),
                reason: e.to_string(),
            });
        }
        if !r.description.chars().all(|c| c.is_ascii_alphanumeric()) {
            errs.push(ValidationError::Setting {
                entry: format!("emergency rule {:?}", r.description),
                reason: "description may only hold letters and digits".into(),
            });
        }
    }
}
