//! Busy-lamp fields: the `dialog` event package (RFC 4235). A phone subscribes (as one
//! of its own line's devices) to another line of its tenant; its line's actor keeps the
//! subscription (`mwi.rs`) and asks the tenant to tell it of the watched line's calls
//! (`TenantMsg::Watch`). Calls tell their tenant when the lines they ring or connect
//! change (`TenantMsg::LinesChanged`, from `call::update_record`); the tenant works out
//! each watched line's calls from its call records (`LineView`) and hands them to the
//! watchers, which NOTIFY the whole state (`state="full"`): a dialog `early` while the
//! line rings or calls out unanswered, `confirmed` once answered, none when idle. The
//! `presence` package (RFC 3856) is served the same way with a PIDF document.

/// The event package name.
pub const DIALOG: &str = "dialog";
/// The presence package (RFC 3856), which some phones' keys use instead: the watched
/// line's state as a PIDF document (RFC 3863).
pub const PRESENCE: &str = "presence";

/// True for the packages that watch another line.
pub fn watches_a_line(event: &str) -> bool {
    event == DIALOG || event == PRESENCE
}

/// One call of a watched line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DialogView {
    /// The call's id (the journal's).
    pub id: String,
    /// `early` or `confirmed`.
    pub state: &'static str,
    /// `initiator` (the line calls) or `recipient` (it is called).
    pub direction: &'static str,
    /// The other party as the line sees it.
    pub remote: String,
    /// A ringing line's early dialog with the switch: Call-ID, the line's device's
    /// tag (local), the switch's tag (remote), for a key that picks the call up with
    /// an INVITE with Replaces.
    pub early: Option<(String, String, String)>,
}

/// A watched line's calls now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LineView {
    pub dialogs: Vec<DialogView>,
}

/// `s` with the five XML specials escaped.
fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

/// The `application/dialog-info+xml` document of `view` for `entity`.
pub fn dialog_info(entity: &str, version: u32, view: &LineView, domain: &str) -> String {
    let mut out = format!(
        "<?xml version=\"1.0\"?>\r\n<dialog-info xmlns=\"urn:ietf:params:xml:ns:dialog-info\" version=\"{version}\" state=\"full\" entity=\"{}\">\r\n",
        xml(entity)
    );
    for d in &view.dialogs {
        let remote = if d.remote.contains(':') {
            d.remote.clone()
        } else {
            format!("sip:{}@{domain}", d.remote)
        };
        // A ringing line names its device's dialog: a key picks it up by Replaces.
        let ids = match &d.early {
            Some((call_id, local, remote)) => format!(
                "call-id=\"{}\" local-tag=\"{}\" remote-tag=\"{}\"",
                xml(call_id),
                xml(local),
                xml(remote)
            ),
            None => format!("call-id=\"{}\"", xml(&d.id)),
        };
        out.push_str(&format!(
            "  <dialog id=\"{id}\" {ids} direction=\"{}\">\r\n    <state>{}</state>\r\n    <remote><identity>{}</identity></remote>\r\n  </dialog>\r\n",
            d.direction,
            d.state,
            xml(&remote),
            id = xml(&d.id),
        ));
    }
    out.push_str("</dialog-info>\r\n");
    out
}

/// The `application/pidf+xml` document of `view` for `entity`: open (the line can be
/// reached), with a note saying whether it is ringing, in a call or free.
pub fn pidf(entity: &str, view: &LineView) -> String {
    let note = if view.dialogs.iter().any(|d| d.state == "confirmed") {
        "On the phone"
    } else if view.dialogs.is_empty() {
        "Available"
    } else {
        "Ringing"
    };
    let busy = if view.dialogs.is_empty() {
        ""
    } else {
        "\r\n    <rpid:activities><rpid:on-the-phone/></rpid:activities>"
    };
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n<presence xmlns=\"urn:ietf:params:xml:ns:pidf\" xmlns:rpid=\"urn:ietf:params:xml:ns:pidf:rpid\" entity=\"{e}\">\r\n  <tuple id=\"line\">\r\n    <status><basic>open</basic></status>{busy}\r\n    <note>{note}</note>\r\n  </tuple>\r\n</presence>\r\n",
        e = xml(entity)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ringing_line_is_one_early_dialog() {
        let view = LineView {
            dialogs: vec![DialogView {
                id: "42".into(),
                state: "early",
                direction: "recipient",
                remote: "102".into(),
                early: Some(("abc@pbx".into(), "dev1".into(), "sw1".into())),
            }],
        };
        let doc = dialog_info("sip:101@pbx.test", 3, &view, "pbx.test");
        assert!(doc.contains("version=\"3\" state=\"full\" entity=\"sip:101@pbx.test\""));
        assert!(doc.contains("<state>early</state>"));
        assert!(doc.contains("direction=\"recipient\""));
        assert!(doc.contains("<identity>sip:102@pbx.test</identity>"));
        assert!(doc.contains("call-id=\"abc@pbx\" local-tag=\"dev1\" remote-tag=\"sw1\""));
        let idle = dialog_info("sip:101@pbx.test", 4, &LineView::default(), "pbx.test");
        assert!(!idle.contains("<dialog "), "{idle}");
        assert!(dialog_info("sip:<x>@y", 0, &LineView::default(), "y").contains("sip:&lt;x&gt;@y"));
        assert!(pidf("sip:101@pbx.test", &view).contains("<note>Ringing</note>"));
        assert!(pidf("sip:101@pbx.test", &LineView::default()).contains("<note>Available</note>"));
    }
}
