//! A line's own settings as a form (do not disturb, call waiting, forwardings, the
//! number shown, anonymity), used on the administrator's user page and the user's
//! own page. Saving goes through the API's `apply_features`, so the checks (and the
//! live settings event) are the API's; a refusal lands next to its field.

use std::collections::HashMap;

use actors::store::{LineFeatures, TenantId, NO_ANSWER_SECS};
use maud::{html, Markup};
use serde_json::{Map, Value};

use super::i18n::Lang;
use super::layout::{field, refusal, Errors, WebError};
use crate::api::ApiState;

fn check(lang: Lang, (label, name): (&'static str, &'static str), on: bool) -> Markup {
    html! {
        label.check { input type="checkbox" name=(name) value="on" checked[on]; (lang.t(label)) }
    }
}

/// The settings fields of `f`, with `errors` next to them.
pub fn line_settings(lang: Lang, f: &LineFeatures, errors: &Errors) -> Markup {
    let fw = &f.forwards;
    let v = |o: &Option<String>| o.clone().unwrap_or_default();
    html! {
        input type="hidden" name="settings" value="1";
        (check(lang, ("Do not disturb", "dnd"), f.dnd))
        (check(lang, ("Call waiting", "call_waiting"), !f.no_call_waiting))
        (field(lang, ("Forward always to", "forward_always"), &v(&fw.always), "text", errors))
        (field(lang, ("Forward when busy to", "forward_busy"), &v(&fw.busy), "text", errors))
        (field(lang, ("Forward on no answer to", "forward_no_answer"), &v(&fw.no_answer), "text", errors))
        (field(lang, ("Forward when offline to", "forward_unregistered"), &v(&fw.unregistered), "text", errors))
        (field(lang, ("Seconds before no answer", "no_answer_secs"),
            &f.no_answer_secs.unwrap_or(NO_ANSWER_SECS).to_string(), "number", errors))
        @if !f.caller_id_fixed {
            (field(lang, ("Number shown", "caller_id"), &v(&f.caller_id), "text", errors))
            (check(lang, ("Hide my number", "anonymous"), f.anonymous))
        }
    }
}

/// Saves the settings a form posted for line `ext` (as its user with `by_user`):
/// the refusals by field, empty when saved.
pub async fn save_line_settings(
    state: &ApiState,
    tenant: TenantId,
    ext: &str,
    by_user: bool,
    form: &HashMap<String, String>,
) -> Result<Errors, WebError> {
    if !form.contains_key("settings") {
        return Ok(Errors::new());
    }
    let on = |k: &str| Value::Bool(form.get(k).is_some_and(|v| v == "on"));
    let target = |k: &str| match form.get(k).map(|v| v.trim()) {
        Some(t) if !t.is_empty() => Value::String(t.to_owned()),
        _ => Value::Null,
    };
    let mut b = Map::new();
    b.insert("dnd".into(), on("dnd"));
    b.insert("call_waiting".into(), on("call_waiting"));
    for k in [
        "forward_always",
        "forward_busy",
        "forward_no_answer",
        "forward_unregistered",
    ] {
        b.insert(k.into(), target(k));
    }
    let secs = form.get("no_answer_secs").map(|v| v.trim()).unwrap_or("");
    if !secs.is_empty() {
        match secs.parse::<u64>() {
            Ok(n) => b.insert("no_answer_secs".into(), Value::from(n)),
            Err(_) => {
                return Ok(Errors::from([(
                    "no_answer_secs",
                    "seconds, 5 to 120".to_owned(),
                )]))
            }
        };
    }
    if form.contains_key("caller_id") {
        b.insert("caller_id".into(), target("caller_id"));
        b.insert("anonymous".into(), on("anonymous"));
    }
    // The form shows the forwardings for internal callers; a line that forwards
    // external callers elsewhere keeps those.
    let line = ext.to_owned();
    let current = state
        .store
        .call(move |st| st.line_features(tenant, &line))
        .await?;
    if current.external.is_some() {
        b.insert("callers".into(), Value::from("internal"));
    }
    match crate::api::admin::apply_features(state, tenant, ext, by_user, b).await {
        Ok(_) => Ok(Errors::new()),
        Err(e) => refusal(e),
    }
}
