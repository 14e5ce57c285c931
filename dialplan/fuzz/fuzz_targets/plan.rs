//! Feeds arbitrary text to the tenant plan's reader, as `pbx plan set` and the API's
//! `PUT /plan` hand it on: a plan that reads and validates must compile into a router,
//! and routing any call on it (its own extensions, trunk numbers, feature codes,
//! emergency and garbage) must give a decision or an error, never a panic. Run:
//! `cargo fuzz run plan` in dialplan/.
#![no_main]

use chrono::{DateTime, FixedOffset};
use dialplan::{explain_on, CallContext, Origin, Router, TenantPlan};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(plan) = TenantPlan::from_json(text) else {
        return;
    };
    let _ = plan.emergency_numbers();
    if plan.validate().is_err() {
        return;
    }
    let Ok(router) = Router::new(&plan) else {
        return;
    };
    let at: DateTime<FixedOffset> = DateTime::parse_from_rfc3339("2026-11-30T21:30:00+01:00")
        .expect("a fixed instant");
    let mut numbers: Vec<String> = plan
        .extensions
        .iter()
        .take(4)
        .map(|e| e.number.clone())
        .collect();
    numbers.extend(
        ["112", "911", "0", "00", "0049301234567", "+4930123456", "*72100", "#", "9", ""]
            .map(String::from),
    );
    let from = plan
        .extensions
        .first()
        .map(|e| e.number.clone())
        .unwrap_or_else(|| "100".into());
    for to in &numbers {
        let mut origins = vec![Origin::Internal];
        origins.extend(plan.trunks.iter().take(2).map(|t| Origin::Trunk {
            trunk: t.name.clone(),
        }));
        for origin in origins {
            let call = CallContext {
                from: from.clone(),
                to: to.clone(),
                origin,
                source_ip: Some("127.0.0.1".parse().expect("an address")),
            };
            let _ = router.route(&call, at);
        }
        let _ = explain_on(&plan, &router, (&from, to), at);
        if let Ok(c) = dialplan::Canonical::parse(to) {
            let _ = router.ddi_to_internal(&c);
        }
    }
});
