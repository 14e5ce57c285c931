//! `/metrics`: the switch's gauges in Prometheus' text format (operator key).

use std::fmt::Write;
use std::net::SocketAddr;
use std::sync::Arc;

use actors::store::ApiScope;
use axum::extract::{ConnectInfo, State};
use axum::http::HeaderMap;
use axum::response::IntoResponse;

use super::{ApiError, ApiState};

/// A label value with `\`, `"` and newlines escaped.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

pub async fn metrics(
    State(state): State<Arc<ApiState>>,
    ConnectInfo(from): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    if state.principal(&headers, from).await? != ApiScope::Operator {
        return Err(ApiError::forbidden("this needs the operator's key"));
    }
    let counts = state.store.call(|s| s.call_counts()).await?;
    let trunks = state
        .store
        .call(|s| {
            let mut out = Vec::new();
            for t in s.tenants()? {
                for c in s.trunks(t.id)? {
                    let status = s.trunk_state(t.id, &c.name)?.map(|st| st.status);
                    out.push((t.name.clone(), c.name, status));
                }
            }
            Ok(out)
        })
        .await?;
    let d = &state.directory;
    let mut text = String::new();
    let mut gauge = |name: &str, help: &str, value: usize| {
        let _ = writeln!(
            text,
            "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
        );
    };
    gauge(
        "pbx_registered_devices",
        "Devices registered to running lines, all tenants.",
        d.binding_count(),
    );
    gauge("pbx_lines_running", "Line actors running.", d.line_count());
    gauge("pbx_calls_active", "Calls in progress.", d.call_count());
    gauge(
        "pbx_store_queue_depth",
        "Commands waiting for the store's thread.",
        state.store.queue_depth(),
    );
    let mut counter = |name: &str, help: &str, value: u64| {
        let _ = writeln!(
            text,
            "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
        );
    };
    use std::sync::atomic::Ordering::Relaxed;
    let relay = &actors::media_relay::TOTALS;
    counter(
        "pbx_rtp_relayed_packets_total",
        "RTP packets the media relays passed on.",
        relay.relayed.load(Relaxed),
    );
    counter(
        "pbx_rtp_dropped_packets_total",
        "RTP packets the media relays dropped (another source than the party's, a held party, malformed).",
        relay.dropped.load(Relaxed),
    );
    counter(
        "pbx_rtp_lost_packets_total",
        "RTP packets the senders' sequence numbers say never reached the switch.",
        relay.lost.load(Relaxed),
    );
    let _ = writeln!(
        text,
        "# HELP pbx_sip_retransmissions_total SIP messages over UDP seen again (in: requests a peer sent again) or sent again by the server transactions' timers (out).\n# TYPE pbx_sip_retransmissions_total counter"
    );
    for (direction, n) in [
        ("in", &actors::sip::udp::RETRANSMITTED_IN),
        ("out", &actors::sip::udp::RETRANSMITTED_OUT),
    ] {
        let _ = writeln!(
            text,
            "pbx_sip_retransmissions_total{{direction=\"{direction}\"}} {}",
            n.load(Relaxed)
        );
    }
    let _ = writeln!(
        text,
        "# HELP pbx_sip_shed_total New requests answered 503 at once because the switch was overloaded (too many requests unanswered).\n# TYPE pbx_sip_shed_total counter\npbx_sip_shed_total {}",
        actors::sip::udp::SHED.load(Relaxed)
    );
    let _ = writeln!(
        text,
        "# HELP pbx_journal_calls Finished calls the journal keeps, by disposition (all tenants; retention deletes old ones).\n# TYPE pbx_journal_calls gauge"
    );
    for (disposition, n) in counts {
        let _ = writeln!(
            text,
            "pbx_journal_calls{{disposition=\"{}\"}} {n}",
            label(&disposition)
        );
    }
    let _ = writeln!(
        text,
        "# HELP pbx_trunk_up 1 while a trunk is up, 0 while it is down or starting.\n# TYPE pbx_trunk_up gauge"
    );
    for (tenant, trunk, status) in trunks {
        let up = u8::from(status.as_deref() == Some("up"));
        let _ = writeln!(
            text,
            "pbx_trunk_up{{tenant=\"{}\",trunk=\"{}\"}} {up}",
            label(&tenant),
            label(&trunk)
        );
    }
    Ok((
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    ))
}
