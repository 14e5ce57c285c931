//! One contact bound to an address of record.

/// A registered contact. Times are wall-clock seconds since the Unix epoch, so
/// bindings can be stored and restored across restarts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    /// The contact URI as the phone sent it.
    pub contact: String,
    /// `+sip.instance` (RFC 5626) when the phone sent one: a stable device identity.
    pub instance: Option<String>,
    pub q: Option<String>,
    pub call_id: String,
    pub cseq: u32,
    pub expires_at: u64,
    /// How to reach the phone: transport and source address the REGISTER came from
    /// (`udp:127.0.0.1:5062`, `tcp:[::1]:40000#7` with the connection id).
    pub flow: String,
    pub user_agent: Option<String>,
    /// The account that registered it: the line's own number or one of its device
    /// accounts (the credentials the REGISTER was authenticated with).
    pub account: Option<String>,
    /// The Path (RFC 3327) of a REGISTER relayed by a trusted edge proxy: requests to
    /// the device carry it as their Route set (the edge knows how to reach it).
    pub path: Option<String>,
}

impl Binding {
    pub fn remaining(&self, now_unix: u64) -> u64 {
        self.expires_at.saturating_sub(now_unix)
    }

    fn same_contact(&self, contact: &str, instance: Option<&str>) -> bool {
        match (self.instance.as_deref(), instance) {
            (Some(a), Some(b)) => a == b,
            _ => self.contact.eq_ignore_ascii_case(contact),
        }
    }

    pub(crate) fn matches(&self, contact: &str, instance: Option<&str>) -> bool {
        self.same_contact(contact, instance)
    }
}

/// What changed, for the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BindingChange {
    Upsert(Binding),
    Remove { contact: String },
}
