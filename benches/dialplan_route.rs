//! Routing decisions per second for a large tenant: 1,000 extensions, 50 hunt groups,
//! 200 outbound patterns and 5,000 LCR prefixes.
//!
//! `cargo bench --bench dialplan_route -- --warm-up-time 1 --measurement-time 3`

use chrono::DateTime;
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use dialplan::number::location::{ExtensionSpace, TrunkFormat};
use dialplan::number::pattern::Pattern;
use dialplan::plan::{Extension, HuntGroup, Strategy};
use dialplan::route::lcr::{Assignment, DayType, Lcr, Provider, Zone};
use dialplan::route::outbound::{OutboundRoute, PermissionClass, Trunk};
use dialplan::{CallContext, Origin, Router, TenantPlan};

fn big_plan() -> TenantPlan {
    let mut plan = TenantPlan::demo();
    plan.location.extensions = ExtensionSpace::Range {
        from: "1000".into(),
        to: "9999".into(),
    };
    plan.ivrs.clear();
    plan.queues.clear();
    plan.conferences.clear();
    plan.schedules.retain(|s| s.name == "office-hours");
    plan.ddi_numbers.clear();
    plan.drop_off = Some("1000".into());
    plan.emergency.default_callback = None;
    plan.extensions = (0..1000)
        .map(|i| Extension {
            number: (1000 + i).to_string(),
            name: format!("User {i}"),
            devices: vec![
                format!("sip:{}@bench", 1000 + i),
                format!("sip:{}-dect@bench", 1000 + i),
            ],
            voicemail: true,
            class: PermissionClass::International,
            premium_allowed: false,
            line_group: None,
        })
        .collect();
    plan.groups = (0..50)
        .map(|g| HuntGroup {
            number: (5000 + g).to_string(),
            name: format!("Group {g}"),
            strategy: if g % 2 == 0 {
                Strategy::Parallel
            } else {
                Strategy::Sequential { ring_seconds: 15 }
            },
            members: (0..10).map(|m| (1000 + g * 20 + m).to_string()).collect(),
            schedule: (g % 5 == 0).then(|| "office-hours".to_owned()),
            forward: None,
            voicemail: None,
            decline: Default::default(),
            call_waiting: false,
        })
        .collect();
    plan.trunks = (0..8)
        .map(|t| Trunk {
            name: if t == 0 {
                "demo-trunk".into()
            } else {
                format!("trunk-{t}")
            },
            format: if t % 2 == 0 {
                TrunkFormat::E164
            } else {
                TrunkFormat::National
            },
        })
        .collect();
    // 200 outbound patterns: 180 plain prefixes, 20 with wildcards.
    let mut routes = Vec::new();
    for i in 0..180u32 {
        let prefix = if i < 90 {
            format!("+49{}", 20 + i)
        } else {
            format!(
                "+{}",
                [33, 34, 39, 41, 43, 44, 31, 1, 45, 46][(i % 10) as usize] * 10 + i % 7
            )
        };
        routes.push(OutboundRoute {
            name: format!("r{i}"),
            patterns: vec![Pattern::parse(&format!("{prefix}.")).expect("pattern")],
            priority: i % 5,
            trunks: vec![format!("trunk-{}", 1 + i % 7), "demo-trunk".into()],
        });
    }
    for i in 0..20u32 {
        routes.push(OutboundRoute {
            name: format!("w{i}"),
            patterns: vec![Pattern::parse(&format!("+4{}[1-5]XX.", i % 10)).expect("pattern")],
            priority: 7,
            trunks: vec!["demo-trunk".into()],
        });
    }
    routes.push(OutboundRoute {
        name: "fallback".into(),
        patterns: vec![Pattern::parse("+.").expect("pattern")],
        priority: 99,
        trunks: vec!["demo-trunk".into()],
    });
    plan.outbound = routes;
    // 5,000 LCR prefixes in 50 zones; 4 providers by time of week.
    let providers: Vec<Provider> = (0..4)
        .map(|p| Provider {
            name: format!("p{p}"),
            prefix: format!("0107{p}"),
            trunk: Some(format!("trunk-{}", 1 + p)),
        })
        .collect();
    let zones: Vec<Zone> = (0..50)
        .map(|z| Zone {
            name: format!("z{z}"),
            prefixes: (0..100)
                .map(|k| format!("+49{}{:02}", 150 + z, k))
                .collect(),
        })
        .collect();
    let assignments = (0..50)
        .flat_map(|z| {
            [DayType::Weekday, DayType::Saturday]
                .into_iter()
                .map(move |day| Assignment {
                    zone: format!("z{z}"),
                    day,
                    from_slot: 16,
                    to_slot: 40,
                    provider: format!("p{}", z % 4),
                })
        })
        .collect();
    plan.lcr = Lcr {
        providers,
        zones,
        assignments,
    };
    plan
}

fn calls() -> Vec<CallContext> {
    (0..1000u32)
        .map(|i| {
            let from = (1000 + (i * 7) % 1000).to_string();
            let to = match i % 10 {
                0..=3 => (1000 + (i * 13) % 1000).to_string(),
                4 => (5000 + i % 50).to_string(),
                5 | 6 => format!("00{}{:02}{:05}", 150 + i % 50, i % 100, i),
                7 => format!("00{}{:07}", 20 + i % 90, i),
                8 => format!("000{}{:08}", [33, 34, 39, 44][(i % 4) as usize], i),
                _ => "112".to_owned(),
            };
            let origin = if i % 20 == 19 {
                Origin::Trunk {
                    trunk: "demo-trunk".into(),
                }
            } else {
                Origin::Internal
            };
            let (from, to) = match origin {
                Origin::Trunk { .. } => (
                    "+491711234567".to_owned(),
                    format!("+49301234567{}", 1000 + i % 1000),
                ),
                Origin::Internal => (from, to),
            };
            CallContext {
                from,
                to,
                origin,
                source_ip: None,
            }
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let plan = big_plan();
    let router = Router::new(&plan).expect("bench plan is valid");
    let calls = calls();
    let at = DateTime::parse_from_rfc3339("2026-11-24T10:15:00+01:00").expect("time");
    // Every call must route (no errors) before we time it.
    for call in &calls {
        router.route(call, at).expect("routes");
    }
    let mut g = c.benchmark_group("dialplan_route");
    g.throughput(Throughput::Elements(calls.len() as u64));
    g.bench_function("route_1000_calls_big_tenant", |b| {
        b.iter(|| {
            for call in &calls {
                black_box(router.route(black_box(call), at).expect("routes"));
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
