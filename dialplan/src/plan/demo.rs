//! The built-in demo tenant.

use std::collections::BTreeMap;

use chrono::Weekday::*;

use super::*;
use crate::number::canonical::Canonical;
use crate::number::location::{ExtensionSpace, LocationRules, TrunkFormat};
use crate::number::pattern::Pattern;
use crate::route::outbound::PermissionClass;
use crate::schedule::{ClosedAction, ClosingEntry, Holiday, TimeOfDay};

fn t(h: u16, m: u16) -> TimeOfDay {
    TimeOfDay::hm(h, m).expect("valid demo time")
}

fn canon(s: &str) -> Canonical {
    Canonical::parse(s).expect("valid demo number")
}

impl TenantPlan {
    /// The demo tenant: Berlin (+49 30 1234567), extensions 100–109, a sales group 200,
    /// a support queue 300, an IVR 400 with submenu 99990, conference 500, one outbound
    /// route on "demo-trunk", emergency 110/112 on "demo-trunk", drop-off 100.
    pub fn demo() -> Self {
        let extensions = (100..=109)
            .map(|n| Extension {
                number: n.to_string(),
                name: format!("Demo user {n}"),
                devices: vec![format!("sip:{n}@demo")],
                voicemail: true,
                class: if n == 109 {
                    PermissionClass::InternalOnly
                } else {
                    PermissionClass::International
                },
                premium_allowed: false,
                line_group: None,
            })
            .collect();
        let office = Schedule {
            name: "office-hours".into(),
            closed: vec![
                ClosingEntry::range(&[Mon, Tue, Wed, Thu], t(17, 30), t(8, 0)),
                ClosingEntry::range(&[Fri], t(15, 0), t(23, 59)),
                ClosingEntry::all_day(&[Sat, Sun]),
            ],
            holidays: vec![
                Holiday::Yearly { month: 1, day: 1 },
                Holiday::Yearly { month: 12, day: 25 },
                Holiday::Yearly { month: 12, day: 26 },
            ],
            when_closed: ClosedAction::AnnouncementThenHangup {
                announcement: "after_hours".into(),
            },
        };
        let support_closed = Schedule {
            name: "support-hours".into(),
            when_closed: ClosedAction::Voicemail {
                mailbox: "101".into(),
            },
            ..office.clone()
        };
        let main_menu = IvrMenu {
            number: "400".into(),
            name: "Main menu".into(),
            choices: BTreeMap::from([
                ("1".into(), "200".into()),
                ("2".into(), "300".into()),
                ("9".into(), "99990".into()),
            ]),
            announcement: Some("ivr_demo_main".into()),
            timeout_seconds: Some(10),
            drop_off: Some("100".into()),
            parent: None,
            schedule: Some("office-hours".into()),
            class: Default::default(),
        };
        let submenu = IvrMenu {
            number: "99990".into(),
            name: "Languages".into(),
            choices: BTreeMap::from([("1".into(), "101".into()), ("2".into(), "102".into())]),
            announcement: Some("ivr_demo_languages".into()),
            timeout_seconds: Some(10),
            drop_off: Some("100".into()),
            parent: Some("400".into()),
            schedule: None,
            class: Default::default(),
        };
        Self {
            name: "demo".into(),
            time_zone: "Europe/Berlin".into(),
            location: Location {
                country_code: "49".into(),
                area_code: "30".into(),
                base_number: "1234567".into(),
                extensions: ExtensionSpace::Range {
                    from: "100".into(),
                    to: "999".into(),
                },
                access_codes: vec!["0".into()],
                national_prefix: None,
                international_prefix: None,
                always_dial_area_code: false,
                rules: LocationRules::default(),
                area_code_rules: vec![],
                vanity: None,
            },
            extensions,
            groups: vec![HuntGroup {
                number: "200".into(),
                name: "Sales".into(),
                strategy: Strategy::Sequential { ring_seconds: 15 },
                members: vec!["101".into(), "102".into(), "103".into()],
                schedule: Some("office-hours".into()),
                forward: None,
                voicemail: Some("101".into()),
                decline: Default::default(),
                call_waiting: false,
            }],
            queues: vec![Queue {
                number: "300".into(),
                name: "Support".into(),
                schedule: Some("support-hours".into()),
                overflow: Some("200".into()),
                members: vec!["102".into(), "103".into(), "104".into()],
                strategy: Default::default(),
                agent_ring_seconds: None,
                wrap_up_seconds: Some(5),
                pause_on_no_answer: false,
                max_wait_seconds: Some(300),
                max_callers: None,
                announce_seconds: Some(30),
                exit_key: Some("0".into()),
                exit_target: Some("100".into()),
                skills: Default::default(),
                caller_rules: Vec::new(),
            }],
            ivrs: vec![main_menu, submenu],
            conferences: vec![Conference {
                number: "500".into(),
                name: "Team room".into(),
                pin: None,
            }],
            schedules: vec![office, support_closed],
            schedule: None,
            ddi_ranges: vec![],
            ddi_numbers: vec![DdiNumber {
                number: canon("+4930123456799"),
                target: "400".into(),
            }],
            trunks: vec![Trunk {
                name: "demo-trunk".into(),
                format: TrunkFormat::E164,
            }],
            outbound: vec![OutboundRoute {
                name: "default".into(),
                patterns: vec![
                    Pattern::parse("+.").expect("pattern"),
                    Pattern::parse("X.").expect("pattern"),
                ],
                priority: 10,
                trunks: vec!["demo-trunk".into()],
            }],
            lcr: Lcr::default(),
            emergency: EmergencyConfig {
                numbers: Some(vec!["110".into(), "112".into()]),
                trunk: "demo-trunk".into(),
                default_callback: Some(canon("+49301234567100")),
                rules: vec![],
            },
            feature_codes: FeatureCodes::default(),
            drop_off: Some("100".into()),
            line_groups: vec![LineGroup::named(DEFAULT_GROUP)],
            adhoc_conference: "conference".into(),
            pickup_groups: vec![],
            agent_skills: Default::default(),
        }
    }
}
