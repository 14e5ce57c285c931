//! One routing run: a call from a phone or a trunk, through internal targets,
//! schedules, outbound routes with LCR, and emergency calls.

use std::net::IpAddr;

use chrono::{DateTime, Datelike, FixedOffset, Timelike};
use chrono_tz::Tz;

use super::{CallContext, Owner, Router, ScheduleReport, MAX_FORWARD_DEPTH};
use crate::decision::{Target, TrunkDial};
use crate::error::Error;
use crate::number::canonical::Canonical;
use crate::number::classify::{Category, Detection};
use crate::number::location::{Dialled, Source, TrunkFormat};
use crate::plan::TenantPlan;
use crate::route::outbound::{forbidden, PermissionClass};
use crate::schedule::ClosedAction;

/// One routing run.
pub(super) struct Run<'a> {
    pub(super) r: &'a Router,
    pub(super) at: DateTime<FixedOffset>,
    pub(super) local_time: DateTime<Tz>,
    pub(super) schedule: Option<ScheduleReport>,
    /// The number shown for this call, asked by a per-call prefix code.
    pub(super) caller_id: Option<String>,
    /// The call was dialled as private (a per-call prefix code).
    pub(super) private: bool,
    /// The project code the call was dialled with (a per-call prefix code).
    pub(super) project: Option<String>,
    /// The number called behind per-call prefix codes.
    pub(super) dialled: Option<String>,
}

fn clean(input: &str) -> String {
    input
        .trim()
        .trim_start_matches('!')
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '/' | '(' | ')' | '.' | '\t'))
        .collect()
}

impl<'a> Run<'a> {
    pub(super) fn plan(&self) -> &'a TenantPlan {
        &self.r.plan
    }

    fn internal_dialled(
        &self,
        input: &str,
        number: String,
        detection: Detection,
        step: String,
    ) -> Dialled {
        Dialled {
            input: input.to_owned(),
            canonical: self.r.internal_to_canonical(&number),
            number,
            detection,
            category: None,
            rule: None,
            raw: false,
            call_by_call: None,
            steps: vec![step],
        }
    }

    /// Normalises the caller of a call from a phone.
    fn caller_from_phone(&self, from: &str) -> Result<Dialled, Error> {
        let c = clean(from);
        if self.r.is_assigned(&c) {
            return Ok(self.internal_dialled(
                from,
                c,
                Detection::Internal,
                "assigned internal number".into(),
            ));
        }
        let mut d = self
            .plan()
            .location
            .normalise(from, Source::Phone, "caller")?;
        if let Some(ext) = d.canonical.as_ref().and_then(|c| self.r.ddi_to_internal(c)) {
            d.number = ext;
            d.detection = Detection::Internal;
        }
        Ok(d)
    }

    pub(super) fn call_from_phone(
        &mut self,
        call: &CallContext,
    ) -> Result<(Dialled, Dialled, Vec<Target>), Error> {
        let caller = self.caller_from_phone(&call.from)?;
        let owner = self
            .r
            .owners
            .get(&caller.number)
            .filter(|_| caller.detection == Detection::Internal);
        let ext = match owner {
            Some(Owner::Extension(i)) => Some(&self.plan().extensions[*i]),
            _ => None,
        };
        let (class, premium) = match (ext, owner) {
            (Some(e), _) => (e.class, e.premium_allowed),
            // An IVR menu's choice (the menu dials it): the menu's class.
            (None, Some(Owner::Ivr(i))) => (self.plan().ivrs[*i].class, false),
            _ => (PermissionClass::InternalOnly, false),
        };
        // The caller's line group may dial by its own location (a branch elsewhere).
        let loc = match ext {
            Some(e) => self.r.dialling_location(&e.number),
            None => &self.r.plan.location,
        };
        let adhoc = &self.plan().adhoc_conference;
        if !adhoc.is_empty() && call.to.trim().eq_ignore_ascii_case(adhoc) {
            let callee = Dialled::as_is(&call.to, adhoc, Detection::Special);
            return Ok((caller, callee, vec![Target::AdHocConference]));
        }
        let to = clean(&call.to);
        if to.is_empty() {
            return Err(Error::EmptyNumber {
                what: "dialled number",
            });
        }
        // A per-call prefix (caller ID, private, project code): the rest is routed
        // as dialled.
        if let Some(once) = self.caller_id_once(call, &to) {
            return once;
        }
        if let Some(once) = self.tagged_once(call, &to) {
            return once;
        }
        // Feature codes are the switch's own and come first.
        if to.starts_with(['*', '#']) {
            return self.feature(call, caller, &to, class, premium);
        }
        // Emergency numbers skip every rule and permission class.
        let bare = loc
            .access_codes
            .iter()
            .filter_map(|a| to.strip_prefix(a.as_str()))
            .find(|rest| self.r.emergency.iter().any(|e| e == rest));
        if let Some(number) = self
            .r
            .emergency
            .iter()
            .find(|e| **e == to)
            .map(String::as_str)
            .or(bare)
        {
            let callee = Dialled {
                input: call.to.clone(),
                number: number.to_owned(),
                detection: Detection::Emergency,
                canonical: None,
                category: None,
                rule: None,
                raw: false,
                call_by_call: None,
                steps: vec![format!(
                    "reserved emergency number {number}: no formatting, no permission check"
                )],
            };
            let t = self.emergency(number, &caller, call.source_ip);
            let sorry = Target::Announcement {
                announcement: crate::emergency::UNAVAILABLE_PROMPT.into(),
            };
            return Ok((caller, callee, vec![t, sorry]));
        }
        // Assigned internal numbers outside the extension space (e.g. IVR submenus).
        if self.r.is_assigned(&to) {
            let callee = self.internal_dialled(
                &call.to,
                to.clone(),
                Detection::Internal,
                format!("{to}: assigned internal number"),
            );
            let targets = self.internal(&to, MAX_FORWARD_DEPTH);
            return Ok((caller, callee, targets));
        }
        let mut callee = loc.normalise_with(
            &call.to,
            Source::Phone,
            "dialled number",
            &self.r.call_by_call,
        )?;
        let targets = match callee.detection {
            Detection::Internal => self.internal(&callee.number.clone(), MAX_FORWARD_DEPTH),
            Detection::Special => {
                if let Some(why) = forbidden(class, premium, Category::National, false) {
                    vec![Target::Reject {
                        code: 403,
                        reason: why,
                    }]
                } else {
                    self.outbound(
                        &callee.number,
                        None,
                        &callee.number,
                        callee.raw.then(|| raw_digits(loc, &call.to)),
                    )
                }
            }
            _ => {
                let c = callee
                    .canonical
                    .clone()
                    .ok_or_else(|| Error::NotCanonical {
                        input: call.to.clone(),
                    })?;
                if let Some(ext) = self.r.ddi_to_internal(&c) {
                    callee
                        .steps
                        .push(format!("{c} is the tenant's own number: internal {ext}"));
                    callee.detection = Detection::Internal;
                    callee.category = None;
                    callee.number = ext.clone();
                    self.internal(&ext, MAX_FORWARD_DEPTH)
                } else if let Some(why) = forbidden(
                    class,
                    premium,
                    callee.category.unwrap_or(Category::International),
                    callee.detection == Detection::Local,
                ) {
                    vec![Target::Reject {
                        code: 403,
                        reason: format!("{why} (caller class {class})"),
                    }]
                } else {
                    let raw = callee.raw.then(|| raw_digits(loc, &call.to));
                    self.outbound(c.as_str(), Some(&c), c.as_str(), raw)
                }
            }
        };
        Ok((caller, callee, targets))
    }

    pub(super) fn call_from_trunk(
        &mut self,
        call: &CallContext,
    ) -> Result<(Dialled, Dialled, Vec<Target>), Error> {
        let loc = &self.plan().location;
        let caller = if is_anonymous(&call.from) {
            Dialled {
                input: call.from.clone(),
                number: "anonymous".into(),
                detection: Detection::Anonymous,
                canonical: None,
                category: None,
                rule: None,
                raw: false,
                call_by_call: None,
                steps: vec!["caller withheld the number".into()],
            }
        } else {
            loc.normalise(&call.from, Source::Trunk, "caller")?
        };
        let to = clean(&call.to);
        let mut callee = if self.r.is_assigned(&to) {
            self.internal_dialled(
                &call.to,
                to.clone(),
                Detection::Internal,
                format!("{to}: assigned internal number"),
            )
        } else {
            loc.normalise(&call.to, Source::Trunk, "called number")?
        };
        let internal = match callee.detection {
            Detection::Internal => Some(callee.number.clone()),
            _ => callee
                .canonical
                .as_ref()
                .and_then(|c| self.r.ddi_to_internal(c)),
        };
        let Some(number) = internal else {
            let reason = format!("{} is not a number of this tenant", callee.number);
            return Ok((caller, callee, vec![Target::Reject { code: 404, reason }]));
        };
        if callee.detection != Detection::Internal {
            callee
                .steps
                .push(format!("DDI: {} → internal {number}", callee.number));
            callee.detection = Detection::Internal;
            callee.category = None;
            callee.number = number.clone();
        }
        if let Some(name) = self.plan().schedule.clone() {
            if let Some(closed) = self.check_schedule(&name, "tenant".into(), MAX_FORWARD_DEPTH) {
                return Ok((caller, callee, closed));
            }
        }
        let targets = self.internal(&number, MAX_FORWARD_DEPTH);
        Ok((caller, callee, targets))
    }

    /// Consults a schedule; Some(targets) when closed (a closing-time forwarding
    /// counts against `depth`, as forwardings do).
    fn check_schedule(&mut self, name: &str, owner: String, depth: u8) -> Option<Vec<Target>> {
        let s = self.plan().schedules.iter().find(|s| s.name == name)?;
        let state = s.state_at(self.r.tz, self.at);
        let closed = !state.is_open();
        if self.schedule.is_none() {
            self.schedule = Some(ScheduleReport {
                schedule: name.to_owned(),
                owner,
                when_closed: closed.then(|| s.when_closed.clone()),
                state,
            });
        }
        closed.then(|| match &s.when_closed {
            ClosedAction::AnnouncementThenHangup { announcement } => vec![Target::Announcement {
                announcement: announcement.clone(),
            }],
            ClosedAction::Voicemail { mailbox } => vec![Target::Voicemail {
                mailbox: mailbox.clone(),
            }],
            ClosedAction::Forward { target } if depth > 0 => {
                let target = target.clone();
                self.forward(&target, depth - 1)
            }
            ClosedAction::Forward { .. } => vec![Target::Reject {
                code: 482,
                reason: "closing-time forwarding loops".into(),
            }],
        })
    }

    /// Targets for an internal number.
    fn internal(&mut self, number: &str, depth: u8) -> Vec<Target> {
        let Some(&owner) = self.r.owners.get(number) else {
            return self.unassigned(number);
        };
        let plan = &self.r.plan;
        match owner {
            Owner::Extension(i) => {
                let e = &plan.extensions[i];
                let mut t = Vec::new();
                if !e.devices.is_empty() {
                    t.push(Target::Extension {
                        number: e.number.clone(),
                        devices: e.devices.clone(),
                    });
                }
                if e.voicemail {
                    t.push(Target::Voicemail {
                        mailbox: e.number.clone(),
                    });
                }
                if t.is_empty() {
                    t = self.unassigned(number);
                }
                t
            }
            Owner::Group(i) => {
                let g = &plan.groups[i];
                if let Some(s) = &g.schedule {
                    if let Some(closed) =
                        self.check_schedule(s, format!("hunt group {:?}", g.name), depth)
                    {
                        return closed;
                    }
                }
                if let Some(fwd) = &g.forward {
                    if depth > 0 {
                        return self.forward(fwd, depth - 1);
                    }
                }
                let mut t = vec![Target::HuntGroup {
                    number: g.number.clone(),
                    name: g.name.clone(),
                    strategy: g.strategy,
                    members: g.members.clone(),
                }];
                if let Some(vm) = &g.voicemail {
                    t.push(Target::Voicemail {
                        mailbox: vm.clone(),
                    });
                }
                t
            }
            Owner::Queue(i) => {
                let q = &plan.queues[i];
                if let Some(s) = &q.schedule {
                    if let Some(closed) =
                        self.check_schedule(s, format!("queue {:?}", q.name), depth)
                    {
                        return closed;
                    }
                }
                let mut t = vec![Target::Queue {
                    number: q.number.clone(),
                    name: q.name.clone(),
                }];
                if let (Some(o), true) = (&q.overflow, depth > 0) {
                    t.extend(self.forward(o, depth - 1));
                }
                t
            }
            Owner::Ivr(i) => {
                let m = &plan.ivrs[i];
                if let Some(s) = &m.schedule {
                    if let Some(closed) =
                        self.check_schedule(s, format!("IVR menu {:?}", m.name), depth)
                    {
                        return closed;
                    }
                }
                let parent = m
                    .parent
                    .as_ref()
                    .and_then(|p| plan.ivrs.iter().find(|x| &x.number == p));
                vec![Target::IvrMenu {
                    number: m.number.clone(),
                    name: m.name.clone(),
                    timeout_seconds: m.timeout_seconds.or(parent.and_then(|p| p.timeout_seconds)),
                    drop_off: m
                        .drop_off
                        .clone()
                        .or_else(|| parent.and_then(|p| p.drop_off.clone())),
                }]
            }
            Owner::Conference(i) => vec![Target::Conference {
                room: plan.conferences[i].number.clone(),
            }],
        }
    }

    /// A forwarding destination: internal number or canonical external number.
    fn forward(&mut self, to: &str, depth: u8) -> Vec<Target> {
        match Canonical::parse(to) {
            Ok(c) => match self.r.ddi_to_internal(&c) {
                Some(ext) => self.internal(&ext, depth),
                None => self.outbound(c.as_str(), Some(&c), c.as_str(), None),
            },
            Err(_) => self.internal(to, depth),
        }
    }

    fn unassigned(&self, number: &str) -> Vec<Target> {
        match &self.plan().drop_off {
            Some(d) if d != number => vec![Target::DropOff { number: d.clone() }],
            _ => vec![Target::Reject {
                code: 404,
                reason: format!("Not Found: {number} is not assigned"),
            }],
        }
    }

    /// Outbound targets: one per matching route (priority order), each with its trunks.
    fn outbound(
        &self,
        match_on: &str,
        canonical: Option<&Canonical>,
        shown: &str,
        raw: Option<String>,
    ) -> Vec<Target> {
        let plan = self.plan();
        let routes = self.r.outbound.lookup(&plan.outbound, match_on);
        if routes.is_empty() {
            return vec![Target::Reject {
                code: 404,
                reason: format!("no outbound route for {shown}"),
            }];
        }
        let lcr = match (canonical, &raw) {
            (Some(c), None) => {
                let minute = (self.local_time.hour() * 60 + self.local_time.minute()) as u16;
                self.r
                    .lcr
                    .choose(&plan.lcr, c.as_str(), self.local_time.weekday(), minute)
            }
            _ => None,
        };
        let provider = lcr.as_ref().and_then(|l| l.provider);
        // One dial string per trunk format, computed once for all routes.
        let formats = [
            TrunkFormat::E164,
            TrunkFormat::National,
            TrunkFormat::International,
        ];
        let dials: Vec<String> = formats
            .iter()
            .map(|&format| match (&raw, canonical) {
                (Some(r), _) => r.clone(),
                (None, Some(c)) => {
                    let body = plan
                        .location
                        .to_trunk_dialable(c, format)
                        .unwrap_or_else(|_| c.as_str().to_owned());
                    match provider {
                        Some(p) if format != TrunkFormat::E164 => format!("{}{body}", p.prefix),
                        _ => body,
                    }
                }
                (None, None) => match_on.to_owned(),
            })
            .collect();
        let dial_for =
            |f: TrunkFormat| dials[formats.iter().position(|x| *x == f).unwrap_or(0)].clone();
        routes
            .into_iter()
            .map(|i| {
                let route = &plan.outbound[i];
                let mut names: Vec<&str> = route.trunks.iter().map(String::as_str).collect();
                if let Some(t) = provider.and_then(|p| p.trunk.as_deref()) {
                    names.retain(|n| *n != t);
                    names.insert(0, t);
                }
                let trunks = names
                    .into_iter()
                    .filter_map(|name| self.r.trunks.get(name).map(|&t| &plan.trunks[t]))
                    .map(|t| TrunkDial {
                        trunk: t.name.clone(),
                        dial: dial_for(t.format),
                    })
                    .collect();
                Target::Outbound {
                    route: route.name.clone(),
                    number: shown.to_owned(),
                    provider: provider.map(|p| p.name.clone()),
                    trunks,
                }
            })
            .collect()
    }

    fn emergency(&self, number: &str, caller: &Dialled, ip: Option<IpAddr>) -> Target {
        let cfg = &self.plan().emergency;
        let rule = cfg.rule_for(ip);
        let callback = rule
            .map(|r| r.callback.as_str().to_owned())
            .or_else(|| caller.canonical.as_ref().map(|c| c.as_str().to_owned()))
            .or_else(|| cfg.default_callback.as_ref().map(|c| c.as_str().to_owned()));
        Target::Emergency {
            number: number.to_owned(),
            trunk: cfg.trunk.clone(),
            dial: format!("{}{number}", rule.map(|r| r.prefix.as_str()).unwrap_or("")),
            callback,
            rule: rule.map(|r| r.description.clone()),
        }
    }
}

/// Trunks signal a withheld number as `anonymous` (RFC 3325/3323), `unknown`,
/// `restricted` or nothing at all.
fn is_anonymous(from: &str) -> bool {
    let f = from.trim();
    f.is_empty()
        || ["anonymous", "unknown", "restricted", "private"]
            .iter()
            .any(|a| f.eq_ignore_ascii_case(a))
}

/// A `!` number as it goes to the trunk: unformatted, without the access code.
fn raw_digits(loc: &crate::number::location::Location, input: &str) -> String {
    let c = clean(input);
    loc.access_codes
        .iter()
        .filter(|a| !a.is_empty() && c.len() > a.len())
        .find_map(|a| c.strip_prefix(a.as_str()))
        .map(str::to_owned)
        .unwrap_or(c)
}
