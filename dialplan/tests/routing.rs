//! Routing decisions on the demo tenant and variations of it.

mod common;

use common::at;
use dialplan::emergency::EmergencyRule;
use dialplan::feature_code::{FeatureAction, ForwardKind};
use dialplan::number::canonical::Canonical;
use dialplan::number::location::TrunkFormat;
use dialplan::number::pattern::Pattern;
use dialplan::route::lcr::{Assignment, DayType, Lcr, Provider, Zone};
use dialplan::route::outbound::{OutboundRoute, PermissionClass, Trunk};
use dialplan::{explain, route, CallContext, Detection, Origin, Router, Target, TenantPlan};

const MONDAY_NOON: &str = "2026-11-23T12:00:00+01:00";
const MONDAY_EVENING: &str = "2026-11-23T18:30:00+01:00";

fn phone(from: &str, to: &str) -> CallContext {
    CallContext {
        from: from.into(),
        to: to.into(),
        origin: Origin::Internal,
        source_ip: None,
    }
}

fn trunk(from: &str, to: &str) -> CallContext {
    CallContext {
        from: from.into(),
        to: to.into(),
        origin: Origin::Trunk {
            trunk: "demo-trunk".into(),
        },
        source_ip: None,
    }
}

fn targets(plan: &TenantPlan, call: &CallContext, when: &str) -> Vec<Target> {
    route(plan, call, at(when)).unwrap().targets
}

#[test]
fn demo_is_valid_and_json_round_trips() {
    let plan = TenantPlan::demo();
    plan.validate().unwrap();
    let json = serde_json::to_string_pretty(&plan).unwrap();
    let back = TenantPlan::from_json(&json).unwrap();
    assert_eq!(back, plan);
    assert_eq!(plan.extensions.len(), 10);
    assert_eq!(plan.emergency_numbers().unwrap(), ["110", "112"]);
}

#[test]
fn internal_targets() {
    let plan = TenantPlan::demo();
    let t = targets(&plan, &phone("100", "101"), MONDAY_NOON);
    assert!(matches!(&t[0], Target::Extension { number, .. } if number == "101"));
    assert!(matches!(&t[1], Target::Voicemail { mailbox } if mailbox == "101"));
    let t = targets(&plan, &phone("100", "200"), MONDAY_NOON);
    assert!(
        matches!(&t[0], Target::HuntGroup { members, strategy, .. } if members.len() == 3 && *strategy == dialplan::plan::Strategy::Sequential { ring_seconds: 15 })
    );
    let t = targets(&plan, &phone("100", "300"), MONDAY_NOON);
    assert!(matches!(&t[0], Target::Queue { .. }));
    assert!(
        matches!(&t[1], Target::HuntGroup { .. }),
        "overflow to the group: {t:?}"
    );
    let t = targets(&plan, &phone("100", "400"), MONDAY_NOON);
    assert!(matches!(&t[0], Target::IvrMenu { number, .. } if number == "400"));
    let t = targets(&plan, &phone("100", "99990"), MONDAY_EVENING);
    assert!(matches!(&t[0], Target::IvrMenu { number, .. } if number == "99990"));
    let t = targets(&plan, &phone("100", "500"), MONDAY_NOON);
    assert_eq!(t, [Target::Conference { room: "500".into() }]);
    // Unassigned → the drop-off number; without one → 404.
    let t = targets(&plan, &phone("101", "150"), MONDAY_NOON);
    assert_eq!(
        t,
        [Target::DropOff {
            number: "100".into()
        }]
    );
    let mut no_drop = plan.clone();
    no_drop.drop_off = None;
    let t = targets(&no_drop, &phone("101", "150"), MONDAY_NOON);
    assert!(matches!(&t[0], Target::Reject { code: 404, .. }));
    // The tenant's own external number dialled from inside is shortened.
    let t = targets(&plan, &phone("100", "0030 1234567 105"), MONDAY_NOON);
    assert!(matches!(&t[0], Target::Extension { number, .. } if number == "105"));
}

#[test]
fn off_hours_announcement_or_voicemail() {
    let plan = TenantPlan::demo();
    let t = targets(&plan, &phone("100", "200"), MONDAY_EVENING);
    assert_eq!(
        t,
        [Target::Announcement {
            announcement: "after_hours".into()
        }]
    );
    let t = targets(&plan, &phone("100", "300"), MONDAY_EVENING);
    assert_eq!(
        t,
        [Target::Voicemail {
            mailbox: "101".into()
        }]
    );
    // Christmas (yearly holiday) on a Friday morning.
    let t = targets(&plan, &phone("100", "200"), "2026-12-25T10:00:00+01:00");
    assert!(matches!(&t[0], Target::Announcement { .. }));
    // The same instant written in another offset gives the same answer.
    let t = targets(&plan, &phone("100", "200"), "2026-11-23T11:00:00+00:00");
    assert!(matches!(&t[0], Target::HuntGroup { .. }));
    let e = explain(&plan, "100", "200", at(MONDAY_EVENING)).unwrap();
    let s = e.schedule.unwrap();
    assert!(!s.state.is_open());
    assert!(s.when_closed.is_some());
}

#[test]
fn closing_time_can_forward_and_a_forwarding_loop_ends() {
    use dialplan::schedule::ClosedAction;
    let mut plan = TenantPlan::demo();
    let support = plan
        .schedules
        .iter_mut()
        .find(|s| s.name == "support-hours")
        .unwrap();
    support.when_closed = ClosedAction::Forward {
        target: "101".into(),
    };
    let t = targets(&plan, &phone("100", "300"), MONDAY_EVENING);
    assert!(
        matches!(&t[0], Target::Extension { number, .. } if number == "101"),
        "{t:?}"
    );
    // Open, the queue itself.
    let t = targets(&plan, &phone("100", "300"), MONDAY_NOON);
    assert!(matches!(&t[0], Target::Queue { .. }), "{t:?}");
    // A closed queue forwarding to itself ends in a refusal, not a loop.
    let support = plan
        .schedules
        .iter_mut()
        .find(|s| s.name == "support-hours")
        .unwrap();
    support.when_closed = ClosedAction::Forward {
        target: "300".into(),
    };
    let t = targets(&plan, &phone("100", "300"), MONDAY_EVENING);
    assert!(
        matches!(t.last(), Some(Target::Reject { code: 482, .. })),
        "{t:?}"
    );
}

#[test]
fn inbound_ddi() {
    let plan = TenantPlan::demo();
    for called in [
        "+49301234567105",
        "0301234567105",
        "004930 1234567105",
        "1234567105",
        "105",
    ] {
        let t = targets(&plan, &trunk("+491711234567", called), MONDAY_NOON);
        assert!(
            matches!(&t[0], Target::Extension { number, .. } if number == "105"),
            "{called}: {t:?}"
        );
    }
    // The main number (single DDI) reaches the IVR.
    let t = targets(
        &plan,
        &trunk("+491711234567", "+4930123456799"),
        MONDAY_NOON,
    );
    assert!(matches!(&t[0], Target::IvrMenu { number, .. } if number == "400"));
    // Not ours → 404.
    let t = targets(&plan, &trunk("+491711234567", "+4989123456"), MONDAY_NOON);
    assert!(matches!(&t[0], Target::Reject { code: 404, .. }));
    let e = explain(&plan, "+491711234567", "0301234567105", at(MONDAY_NOON)).unwrap();
    assert_eq!(e.callee, "+49301234567105");
    assert_eq!(e.callee_internal.as_deref(), Some("105"));
    assert!(matches!(e.origin, Origin::Trunk { .. }));
    // A tenant-wide schedule closes the whole tenant for outside callers.
    let mut closed = plan.clone();
    closed.schedule = Some("office-hours".into());
    let t = targets(&closed, &trunk("+491711234567", "105"), MONDAY_EVENING);
    assert!(matches!(&t[0], Target::Announcement { .. }));
}

#[test]
fn emergency_skips_rules_and_classes() {
    let mut plan = TenantPlan::demo();
    plan.emergency.rules = vec![
        EmergencyRule {
            description: "Munich".into(),
            subnet: "10.20.0.0/16".into(),
            callback: Canonical::parse("+4989998877").unwrap(),
            prefix: "*81".into(),
        },
        EmergencyRule {
            description: "MunichFloor3".into(),
            subnet: "10.20.3.0/24".into(),
            callback: Canonical::parse("+4989998800").unwrap(),
            prefix: "*82".into(),
        },
    ];
    // 109 is internal only, and still reaches 110/112 (with or without access code).
    for dialled in ["110", "112", "0112", "0 110"] {
        let t = targets(&plan, &phone("109", dialled), MONDAY_NOON);
        match &t[..] {
            // The announcement when no trunk takes it: never a 404.
            [Target::Emergency {
                trunk, callback, ..
            }, Target::Announcement { announcement }] => {
                assert_eq!(announcement, dialplan::emergency::UNAVAILABLE_PROMPT);
                assert_eq!(trunk, "demo-trunk");
                assert_eq!(callback.as_deref(), Some("+49301234567109"));
            }
            other => panic!("{dialled}: {other:?}"),
        }
    }
    let mut call = phone("109", "112");
    call.source_ip = Some("10.20.3.9".parse().unwrap());
    let t = route(&plan, &call, at(MONDAY_NOON)).unwrap().targets;
    assert_eq!(
        t[0],
        Target::Emergency {
            number: "112".into(),
            trunk: "demo-trunk".into(),
            dial: "*82112".into(),
            callback: Some("+4989998800".into()),
            rule: Some("MunichFloor3".into()),
        }
    );
    call.source_ip = Some("10.20.4.1".parse().unwrap());
    let t = route(&plan, &call, at(MONDAY_NOON)).unwrap().targets;
    assert!(matches!(&t[0], Target::Emergency { rule: Some(r), .. } if r == "Munich"));
    // A `!` does not stop an emergency call either, nor does a closed schedule.
    let t = targets(&plan, &phone("109", "!112"), MONDAY_EVENING);
    assert!(matches!(&t[0], Target::Emergency { .. }));
    let e = explain(&plan, "100", "110", at(MONDAY_NOON)).unwrap();
    assert_eq!(e.detected, Detection::Emergency);
}

#[test]
fn permission_classes() {
    let mut plan = TenantPlan::demo();
    plan.extensions[1].class = PermissionClass::National; // 101
                                                          // 109 internal only: no external calls.
    let t = targets(&plan, &phone("109", "00301234567"), MONDAY_NOON);
    assert!(matches!(&t[0], Target::Reject { code: 403, .. }), "{t:?}");
    // 101 national: national yes, international no.
    let t = targets(&plan, &phone("101", "0040123456"), MONDAY_NOON);
    assert!(matches!(&t[0], Target::Outbound { .. }));
    let t = targets(&plan, &phone("101", "000441234567890"), MONDAY_NOON);
    assert!(matches!(&t[0], Target::Reject { code: 403, .. }));
    // 100 international: yes; premium (0900) blocked for everyone without the flag.
    let t = targets(&plan, &phone("100", "000441234567890"), MONDAY_NOON);
    assert!(matches!(&t[0], Target::Outbound { .. }));
    let t = targets(&plan, &phone("100", "00900123456"), MONDAY_NOON);
    assert!(matches!(&t[0], Target::Reject { code: 403, reason } if reason.contains("premium")));
    let t = targets(&plan, &phone("100", "00044 909 123 4567"), MONDAY_NOON);
    assert!(
        matches!(&t[0], Target::Reject { code: 403, .. }),
        "foreign premium: {t:?}"
    );
    plan.extensions[0].premium_allowed = true;
    let t = targets(&plan, &phone("100", "00900123456"), MONDAY_NOON);
    assert!(matches!(&t[0], Target::Outbound { .. }));
    // Forwarding to an external number is checked against the class too.
    let t = targets(&plan, &phone("109", "*2100171123456"), MONDAY_NOON);
    assert!(matches!(&t[0], Target::Reject { code: 403, .. }));
    // The local class: the own area only.
    plan.extensions[1].class = PermissionClass::Local;
    let t = targets(&plan, &phone("101", "0987654"), MONDAY_NOON);
    assert!(matches!(&t[0], Target::Outbound { .. }), "local: {t:?}");
    let t = targets(&plan, &phone("101", "0089123456"), MONDAY_NOON);
    assert!(
        matches!(&t[0], Target::Reject { code: 403, reason } if reason.contains("local")),
        "national: {t:?}"
    );
    // An IVR menu's choice is dialled by the menu, under the menu's class.
    let t = targets(&plan, &phone("400", "+4930999999"), MONDAY_NOON);
    assert!(matches!(&t[0], Target::Outbound { .. }), "{t:?}");
    plan.ivrs[0].class = PermissionClass::InternalOnly;
    let t = targets(&plan, &phone("400", "+4930999999"), MONDAY_NOON);
    assert!(matches!(&t[0], Target::Reject { code: 403, .. }), "{t:?}");
}

#[test]
fn outbound_priorities_failover_and_lcr() {
    let mut plan = TenantPlan::demo();
    plan.trunks.push(Trunk {
        name: "backup".into(),
        format: TrunkFormat::National,
    });
    plan.trunks.push(Trunk {
        name: "mobile-gw".into(),
        format: TrunkFormat::National,
    });
    plan.outbound.push(OutboundRoute {
        name: "mobile".into(),
        patterns: vec![Pattern::parse("+491[5-7].").unwrap()],
        priority: 1,
        trunks: vec!["mobile-gw".into(), "backup".into()],
    });
    plan.lcr = Lcr {
        providers: vec![Provider {
            name: "Arcor".into(),
            prefix: "01070".into(),
            trunk: Some("backup".into()),
        }],
        zones: vec![Zone {
            name: "mobile".into(),
            prefixes: vec!["+4917".into()],
        }],
        assignments: vec![Assignment {
            zone: "mobile".into(),
            day: DayType::Weekday,
            from_slot: 16,
            to_slot: 36,
            provider: "Arcor".into(),
        }],
    };
    plan.validate().unwrap();
    // Monday noon: LCR picks Arcor, whose trunk goes first with its prefix.
    let t = targets(&plan, &phone("100", "0 0171 1234567"), MONDAY_NOON);
    assert_eq!(t.len(), 2, "{t:?}");
    match &t[0] {
        Target::Outbound {
            route,
            provider,
            trunks,
            ..
        } => {
            assert_eq!(route, "mobile");
            assert_eq!(provider.as_deref(), Some("Arcor"));
            assert_eq!(trunks[0].trunk, "backup");
            assert_eq!(trunks[0].dial, "0107001711234567");
            assert_eq!(trunks[1].trunk, "mobile-gw");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(&t[1], Target::Outbound { route, .. } if route == "default"));
    // Monday evening: no provider, plain national format.
    let t = targets(&plan, &phone("100", "0 0171 1234567"), MONDAY_EVENING);
    match &t[0] {
        Target::Outbound {
            provider, trunks, ..
        } => {
            assert_eq!(*provider, None);
            assert_eq!(trunks[0].trunk, "mobile-gw");
            assert_eq!(trunks[0].dial, "01711234567");
        }
        other => panic!("{other:?}"),
    }
    // A dialled call-by-call prefix is removed before canonicalisation.
    let e = explain(&plan, "100", "0 01070 0171 1234567", at(MONDAY_EVENING)).unwrap();
    assert_eq!(e.callee, "+491711234567");
    // `!` sends the digits unformatted.
    let t = targets(&plan, &phone("100", "!0 0171 1234567"), MONDAY_EVENING);
    assert!(matches!(&t[0], Target::Outbound { trunks, .. } if trunks[0].dial == "01711234567"));
}

#[test]
fn feature_codes() {
    let plan = TenantPlan::demo();
    let table: &[(&str, FeatureAction)] = &[
        (
            "*59101",
            FeatureAction::DirectedPickup {
                target: "101".into(),
            },
        ),
        ("*8", FeatureAction::GroupPickup),
        (
            "*40200",
            FeatureAction::AgentLogin {
                group: Some("200".into()),
            },
        ),
        ("*41", FeatureAction::AgentLogout { group: None }),
        ("*78", FeatureAction::Dnd { on: true }),
        ("*79", FeatureAction::Dnd { on: false }),
        (
            "*21102",
            FeatureAction::Forward {
                kind: ForwardKind::Unconditional,
                to: Some("102".into()),
            },
        ),
        (
            "*6100171123456#",
            FeatureAction::Forward {
                kind: ForwardKind::NoAnswer,
                to: Some("+49171123456".into()),
            },
        ),
        (
            "#67",
            FeatureAction::Forward {
                kind: ForwardKind::Busy,
                to: None,
            },
        ),
        ("*97", FeatureAction::VoicemailAccess),
        ("*44", FeatureAction::RecordingToggle),
        (
            "*42105",
            FeatureAction::CallerId {
                number: Some("105".into()),
            },
        ),
        ("#42", FeatureAction::CallerId { number: None }),
    ];
    for (dialled, action) in table {
        let t = targets(&plan, &phone("100", dialled), MONDAY_NOON);
        assert_eq!(
            t,
            [Target::Feature {
                action: action.clone()
            }],
            "{dialled}"
        );
    }
    for (dialled, code) in [
        ("*59", 484),
        ("*78 1", 484),
        ("*00", 404),
        ("*59150", 404),
        ("*40999", 404),
        ("*42150", 404),
        ("*46105", 484),
        ("*46105*", 484),
        ("*46150*101", 404),
    ] {
        let t = targets(&plan, &phone("100", dialled), MONDAY_NOON);
        assert!(
            matches!(&t[0], Target::Reject { code: c, .. } if *c == code),
            "{dialled}: {t:?}"
        );
    }
    // Per tenant: directed pickup moved to **.
    let mut custom = plan.clone();
    custom.feature_codes.codes[0].code = "**".into();
    custom.validate().unwrap();
    let t = targets(&custom, &phone("100", "**101"), MONDAY_NOON);
    assert_eq!(
        t,
        [Target::Feature {
            action: FeatureAction::DirectedPickup {
                target: "101".into()
            }
        }]
    );
}

#[test]
fn a_per_call_caller_id_prefix_routes_the_rest_and_names_the_number_shown() {
    let plan = TenantPlan::demo();
    let plain = route(&plan, &phone("100", "101"), at(MONDAY_NOON)).unwrap();
    let once = route(&plan, &phone("100", "*46105*101"), at(MONDAY_NOON)).unwrap();
    assert_eq!(once.targets, plain.targets);
    assert_eq!(once.caller_id.as_deref(), Some("105"));
    assert_eq!(plain.caller_id, None);
    let text = explain(&plan, "100", "*46105*101", at(MONDAY_NOON))
        .unwrap()
        .to_string();
    assert!(text.contains("shows:    105 as the caller"), "{text}");
    assert!(text.contains("caller ID 105 for this call"), "{text}");
}

#[test]
fn private_and_project_prefixes_route_the_rest_and_mark_the_call() {
    let plan = TenantPlan::demo();
    let plain = route(&plan, &phone("100", "101"), at(MONDAY_NOON)).unwrap();
    let private = route(&plan, &phone("100", "*48101"), at(MONDAY_NOON)).unwrap();
    assert_eq!(private.targets, plain.targets);
    assert!(private.private && private.project.is_none());
    assert_eq!(private.dialled.as_deref(), Some("101"));
    // Prefixes follow one another; the innermost number is the one called.
    let both = route(&plan, &phone("100", "*494711**48101"), at(MONDAY_NOON)).unwrap();
    assert_eq!(both.targets, plain.targets);
    assert!(both.private);
    assert_eq!(both.project.as_deref(), Some("4711"));
    assert_eq!(both.dialled.as_deref(), Some("101"));
    assert!(!plain.private && plain.project.is_none() && plain.dialled.is_none());
    // No number, or a project code that is no digits: refused.
    for dialled in ["*48", "*494711*", "*49abc*101"] {
        let t = targets(&plan, &phone("100", dialled), MONDAY_NOON);
        assert!(
            matches!(
                &t[0],
                Target::Reject {
                    code: 484 | 404,
                    ..
                }
            ),
            "{dialled}: {t:?}"
        );
    }
    let text = explain(&plan, "100", "*494711**48101", at(MONDAY_NOON))
        .unwrap()
        .to_string();
    assert!(text.contains("journal:  a private call"), "{text}");
    assert!(text.contains("journal:  project code 4711"), "{text}");
}

#[test]
fn explain_report_and_errors() {
    let plan = TenantPlan::demo();
    let e = explain(&plan, "100", "00301234567", at(MONDAY_NOON)).unwrap();
    assert_eq!(e.caller, "+49301234567100");
    assert_eq!(e.callee, "+49301234567");
    assert_eq!(e.detected, Detection::Local);
    let text = e.to_string();
    for needle in [
        "caller:",
        "dialled:",
        "detected: local",
        "decision:",
        "demo-trunk",
    ] {
        assert!(text.contains(needle), "{needle} missing in\n{text}");
    }
    let json = serde_json::to_value(&e).unwrap();
    assert_eq!(json["detected"], "local");
    assert_eq!(json["decision"]["targets"][0]["target"], "outbound");
    // Malformed input.
    for (from, to) in [
        ("100", ""),
        ("100", "0HANS"),
        ("100", "12;3"),
        ("+49 30 12x", "101"),
        ("abc", "101"),
    ] {
        let err = explain(&plan, from, to, at(MONDAY_NOON)).unwrap_err();
        assert!(!err.to_string().is_empty());
    }
    // An invalid plan is refused with the validation errors.
    let mut bad = plan.clone();
    bad.extensions[0].number = "110".into();
    let err = Router::new(&bad).unwrap_err();
    assert!(
        err.to_string().contains("reserved emergency number"),
        "{err}"
    );
}

#[test]
fn anonymous_callers_extra_ddi_blocks_and_forwarding() {
    let mut plan = TenantPlan::demo();
    // A withheld number from a trunk still routes.
    for from in ["anonymous", "Anonymous", "", "unknown"] {
        let e = explain(&plan, from, "+49301234567101", at(MONDAY_NOON)).unwrap();
        assert_eq!(e.caller, "anonymous");
        assert!(
            matches!(&e.decision.targets[0], Target::Extension { number, .. } if number == "101")
        );
    }
    // A second DDI block: +49 30 1234568 100–199 reaches 6100–6199.
    plan.ddi_ranges.push(dialplan::route::inbound::DdiRange {
        prefix: Canonical::parse("+49301234568").unwrap(),
        from: "100".into(),
        to: "199".into(),
        internal_prefix: "6".into(),
    });
    plan.conferences.push(dialplan::plan::Conference {
        number: "6150".into(),
        name: "Board".into(),
        pin: None,
    });
    plan.validate().unwrap();
    let t = targets(
        &plan,
        &trunk("+491711234567", "+49301234568150"),
        MONDAY_NOON,
    );
    assert_eq!(
        t,
        [Target::Conference {
            room: "6150".into()
        }]
    );
    let e = explain(&plan, "100", "6150", at(MONDAY_NOON)).unwrap();
    assert_eq!(e.callee, "+49301234568150");
    // Fixed forwarding of a group to an external number goes out on a route.
    plan.groups[0].forward = Some("+4940123456".into());
    let t = targets(&plan, &phone("100", "200"), MONDAY_NOON);
    assert!(
        matches!(&t[0], Target::Outbound { number, .. } if number == "+4940123456"),
        "{t:?}"
    );
    // …or to an internal number (its own number in canonical form is shortened).
    plan.groups[0].forward = Some("+49301234567105".into());
    let t = targets(&plan, &phone("100", "200"), MONDAY_NOON);
    assert!(matches!(&t[0], Target::Extension { number, .. } if number == "105"));
    // An extension without devices or mailbox goes to the drop-off number.
    plan.extensions[5].devices.clear();
    plan.extensions[5].voicemail = false;
    let t = targets(&plan, &phone("101", "105"), MONDAY_NOON);
    assert_eq!(
        t,
        [Target::DropOff {
            number: "100".into()
        }]
    );
    // The IVR submenu inherits the main menu's drop-off and timeout.
    plan.ivrs[1].drop_off = None;
    plan.ivrs[1].timeout_seconds = None;
    let t = targets(&plan, &phone("101", "99990"), MONDAY_NOON);
    assert!(matches!(
        &t[0],
        Target::IvrMenu { timeout_seconds: Some(10), drop_off: Some(d), .. } if d == "100"
    ));
}

#[test]
fn a_line_group_with_its_own_location_dials_by_it() {
    let mut plan = TenantPlan::demo();
    // Lines of the "munich" group sit in Munich (area 89): a local number they dial is
    // a Munich number; everyone else still dials Berlin's (area 30).
    let mut munich = dialplan::plan::line_group::LineGroup::named("munich");
    let mut loc = plan.location.clone();
    loc.area_code = "89".into();
    munich.location = Some(loc);
    plan.line_groups.push(munich);
    plan.extensions
        .iter_mut()
        .find(|e| e.number == "104")
        .unwrap()
        .line_group = Some("munich".into());
    plan.validate().unwrap();
    let outbound_number =
        |from: &str| match &targets(&plan, &phone(from, "05551234"), MONDAY_NOON)[0] {
            Target::Outbound { number, .. } => number.clone(),
            other => panic!("{other:?}"),
        };
    assert_eq!(outbound_number("104"), "+49895551234");
    assert_eq!(outbound_number("103"), "+49305551234");
}

#[test]
fn line_group_codecs_are_checked() {
    let mut plan = TenantPlan::demo();
    plan.line_groups[0].codecs = vec!["PCMU".into(), "speex".into()];
    let errs = plan.validate().unwrap_err();
    assert!(
        errs.iter()
            .any(|e| e.to_string().contains("unknown codec \"speex\"")),
        "{errs:?}"
    );
}
