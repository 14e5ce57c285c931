//! Validation of a tenant's numbering: each error names the entries in conflict.

use dialplan::feature_code::{FeatureCode, FeatureKind};
use dialplan::number::canonical::Canonical;
use dialplan::plan::{Extension, HuntGroup, IvrMenu, Strategy};
use dialplan::route::inbound::DdiRange;
use dialplan::route::outbound::PermissionClass;
use dialplan::{TenantPlan, ValidationError};

fn ext(n: &str) -> Extension {
    Extension {
        number: n.into(),
        name: String::new(),
        devices: vec![],
        voicemail: true,
        class: PermissionClass::National,
        premium_allowed: false,
        line_group: None,
    }
}

fn errors(plan: &TenantPlan) -> Vec<String> {
    plan.validate()
        .unwrap_err()
        .iter()
        .map(ToString::to_string)
        .collect()
}

fn has(errs: &[String], parts: &[&str]) -> bool {
    errs.iter().any(|e| parts.iter().all(|p| e.contains(p)))
}

#[test]
fn table_of_numbering_errors() {
    type Mutate = fn(&mut TenantPlan);
    let cases: &[(&str, Mutate, &[&str])] = &[
        (
            "one digit",
            |p| p.extensions.push(ext("7")),
            &["extension 7", "at least 2 digits"],
        ),
        (
            "letters",
            |p| p.extensions.push(ext("1a")),
            &["extension 1a", "digits only"],
        ),
        (
            "assigned twice",
            |p| {
                p.groups.push(HuntGroup {
                    number: "101".into(),
                    name: "Twice".into(),
                    strategy: Strategy::Parallel,
                    members: vec![],
                    schedule: None,
                    forward: None,
                    voicemail: None,
                    decline: Default::default(),
                    call_waiting: false,
                })
            },
            &[
                "101 is assigned twice",
                "extension 101",
                "hunt group \"Twice\"",
            ],
        ),
        (
            "emergency as extension",
            |p| p.extensions.push(ext("112")),
            &["extension 112", "reserved emergency"],
        ),
        (
            "unknown line group",
            |p| {
                let mut e = ext("150");
                e.line_group = Some("sales".into());
                p.extensions.push(e)
            },
            &["extension 150", "line group", "sales"],
        ),
        (
            "line group twice",
            |p| {
                p.line_groups
                    .push(dialplan::plan::LineGroup::named("default"))
            },
            &["line group \"default\"", "unique"],
        ),
        (
            "submenu outside 99990–99999",
            |p| {
                let mut m = p.ivrs[1].clone();
                m.number = "700".into();
                m.name = "Bad sub".into();
                p.ivrs.push(m);
            },
            &["IVR menu \"Bad sub\"", "outside 99990–99999"],
        ),
        (
            "extension in the submenu range",
            |p| p.extensions.push(ext("99995")),
            &["extension 99995", "reserved for IVR submenus"],
        ),
        (
            "main menu in the submenu range",
            |p| {
                p.ivrs.push(IvrMenu {
                    number: "99999".into(),
                    name: "Orphan".into(),
                    choices: Default::default(),
                    announcement: None,
                    timeout_seconds: None,
                    drop_off: None,
                    parent: None,
                    schedule: None,
                    class: Default::default(),
                })
            },
            &["IVR menu \"Orphan\"", "reserved for submenus"],
        ),
        (
            "overlapping DDI ranges",
            |p| {
                p.ddi_ranges.push(DdiRange {
                    prefix: Canonical::parse("+49301234567").unwrap(),
                    from: "500".into(),
                    to: "599".into(),
                    internal_prefix: "5".into(),
                })
            },
            &[
                "ranges overlap",
                "location range 100–999",
                "DDI range +49301234567{500–599}",
            ],
        ),
        (
            "DDI range with shorter numbers overlapping by prefix",
            |p| {
                p.ddi_ranges.push(DdiRange {
                    prefix: Canonical::parse("+49301234567").unwrap(),
                    from: "10".into(),
                    to: "19".into(),
                    internal_prefix: String::new(),
                })
            },
            &["ranges overlap", "{10–19}"],
        ),
        (
            "feature codes that shadow each other",
            |p| {
                p.feature_codes.codes.push(FeatureCode {
                    code: "*5".into(),
                    kind: FeatureKind::DndOn,
                })
            },
            &["feature code", "*59", "*5"],
        ),
        (
            "unknown trunk",
            |p| p.outbound[0].trunks.push("nowhere".into()),
            &["outbound route \"default\"", "unknown trunk \"nowhere\""],
        ),
        (
            "unknown member",
            |p| p.groups[0].members.push("150".into()),
            &["hunt group \"Sales\"", "member extension \"150\""],
        ),
        (
            "unknown schedule",
            |p| p.queues[0].schedule = Some("never".into()),
            &["queue \"Support\"", "unknown schedule \"never\""],
        ),
        (
            "one external number twice",
            |p| {
                let d = p.ddi_numbers[0].clone();
                p.ddi_numbers.push(d);
            },
            &["+4930123456799 is assigned twice", "DDI number → 400"],
        ),
        (
            "bad time zone",
            |p| p.time_zone = "Mars/Olympus".into(),
            &["time zone", "Mars/Olympus"],
        ),
        (
            "bad extension range",
            |p| {
                p.location.extensions = dialplan::number::ExtensionSpace::Range {
                    from: "99".into(),
                    to: "10".into(),
                }
            },
            &["location extension range 99–10"],
        ),
        (
            "conference PIN with letters",
            |p| p.conferences[0].pin = Some("12ab".into()),
            &["conference \"Team room\"", "PIN must be 1 to 12 digits"],
        ),
        (
            "IVR drop-off into itself",
            |p| p.ivrs[0].drop_off = Some("400".into()),
            &[
                "IVR menu \"Main menu\"",
                "drop_off 400 leads back into the menu",
            ],
        ),
        (
            "IVR timeout of 0",
            |p| p.ivrs[0].timeout_seconds = Some(0),
            &[
                "IVR menu \"Main menu\"",
                "timeout_seconds 0 must be 1 to 60",
            ],
        ),
        (
            "queue overflow to an IVR",
            |p| p.queues[0].overflow = Some("400".into()),
            &[
                "queue \"Support\"",
                "overflow 400 is IVR menu \"Main menu\"",
            ],
        ),
        (
            "queue exit to a conference",
            |p| p.queues[0].exit_target = Some("500".into()),
            &["queue \"Support\"", "exit_target 500 is conference"],
        ),
        (
            "queue skill level out of range",
            |p| {
                p.queues[0].skills.insert("de".into(), 11);
            },
            &["queue \"Support\"", "skill \"de\" level 11 must be 1 to 10"],
        ),
        (
            "empty conference PIN",
            |p| p.conferences[0].pin = Some(String::new()),
            &["conference \"Team room\"", "PIN"],
        ),
    ];
    for (what, mutate, parts) in cases {
        let mut plan = TenantPlan::demo();
        mutate(&mut plan);
        let errs = errors(&plan);
        assert!(has(&errs, parts), "{what}: expected {parts:?} in {errs:#?}");
    }
}

#[test]
fn separate_ranges_are_fine_and_errors_serialise() {
    let mut plan = TenantPlan::demo();
    plan.ddi_ranges.push(DdiRange {
        prefix: Canonical::parse("+49301234568").unwrap(),
        from: "100".into(),
        to: "199".into(),
        internal_prefix: "6".into(),
    });
    plan.validate().unwrap();
    plan.extensions.push(ext("7"));
    plan.extensions.push(ext("7"));
    let errs = plan.validate().unwrap_err();
    assert!(errs.len() >= 3, "{errs:?}");
    let json = serde_json::to_value(&errs).unwrap();
    assert_eq!(json[0]["error"], "bad_internal_number");
    assert!(errs
        .iter()
        .any(|e| matches!(e, ValidationError::Duplicate { number, .. } if number == "7")));
}
