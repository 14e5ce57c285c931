//! Feeds arbitrary JSON bodies to the store's plan writes, as the administration API
//! hands them on (`PUT /api/v1/plan/{section}/{key}` and `PUT /api/v1/plan`): the
//! first byte picks the section (or the whole plan), the rest is the body. Whatever
//! comes in, the write is applied or refused with an error, and the stored plan
//! afterwards still reads, validates and compiles into a router; a refused write
//! leaves it exactly as it was. Each input starts from the demo plan on a real
//! (in-memory) SQLite store. Run: `cargo fuzz run api_json` in actors/.
#![no_main]

use std::sync::Mutex;

use actors::store::{Store, Tenant, PLAN_SECTIONS};
use dialplan::{Router, TenantPlan};
use libfuzzer_sys::fuzz_target;

struct Fixture {
    store: Store,
    tenant: Tenant,
    base: String,
    dir: std::path::PathBuf,
}

static FIXTURE: Mutex<Option<Fixture>> = Mutex::new(None);

fn fixture() -> Fixture {
    let mut store = Store::in_memory().expect("an in-memory store");
    let tenant = store
        .add_tenant("fuzz", &["fuzz.test".into()])
        .expect("a tenant");
    let dir = std::env::temp_dir().join(format!("pbx-fuzz-api-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a data directory");
    let base = serde_json::to_string(&TenantPlan::demo()).expect("the demo plan as JSON");
    store
        .set_plan(&tenant, &base, &dir)
        .expect("the demo plan is accepted");
    Fixture {
        store,
        tenant,
        base,
        dir,
    }
}

fn stored(f: &Fixture) -> TenantPlan {
    f.store
        .tenant_plan(f.tenant.id)
        .expect("the stored plan reads")
        .expect("a plan is stored")
}

fuzz_target!(|data: &[u8]| {
    let Some((&op, body)) = data.split_first() else {
        return;
    };
    let mut guard = FIXTURE.lock().unwrap_or_else(|e| e.into_inner());
    let f = guard.get_or_insert_with(fixture);
    f.store
        .set_plan(&f.tenant, &f.base, &f.dir)
        .expect("the demo plan is accepted again");
    let before = stored(f);
    let accepted = match PLAN_SECTIONS.get(usize::from(op) % (PLAN_SECTIONS.len() + 1)) {
        Some((section, key_field)) => {
            let Ok(entry) = serde_json::from_slice::<serde_json::Value>(body) else {
                return; // the API's 400: not JSON
            };
            let key = entry
                .get(key_field)
                .and_then(|k| k.as_str())
                .unwrap_or("500")
                .to_owned();
            f.store
                .put_plan_entry(&f.tenant, (section, &key), entry, &f.dir)
                .is_ok()
        }
        None => match std::str::from_utf8(body) {
            Ok(text) => f.store.set_plan(&f.tenant, text, &f.dir).is_ok(),
            Err(_) => return,
        },
    };
    let after = stored(f);
    if !accepted {
        assert_eq!(before, after, "a refused write changed the stored plan");
    }
    assert!(after.validate().is_ok(), "the stored plan no longer validates");
    Router::new(&after).expect("the stored plan compiles into a router");
});
