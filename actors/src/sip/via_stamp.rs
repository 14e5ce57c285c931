//! RFC 3581 / RFC 3261 §18.2.1: stamping `received` and `rport` on the top Via, and
//! choosing where a response goes (§18.2.2).

use std::net::{IpAddr, SocketAddr};

use engine::sip::{HeaderName, Message};

/// Returns the request with its top Via stamped, when it needs stamping.
pub fn stamp(msg: &Message, source: SocketAddr) -> Option<Message> {
    let via = msg.top_via()?;
    let wants_rport = via.params.get("rport").is_some_and(|v| v.is_empty());
    let host_ip: Option<IpAddr> = via.host_bare().parse().ok();
    let needs_received = host_ip != Some(source.ip()) && via.params.get("received").is_none();
    if !wants_rport && !needs_received {
        return None;
    }
    let raw = msg.as_bytes();
    let value = msg.header(HeaderName::Via)?;
    // The first Via value ends at the first comma outside quotes, or the line's end.
    let first_len = first_value_len(value);
    let start = value.as_ptr() as usize - raw.as_ptr() as usize;
    let first = value[..first_len].trim_end();
    // Drop an empty `rport` and write it back with the port.
    let mut stamped = String::with_capacity(first.len() + 40);
    for (i, part) in first.split(';').enumerate() {
        if i > 0 && part.trim().eq_ignore_ascii_case("rport") {
            continue;
        }
        if i > 0 {
            stamped.push(';');
        }
        stamped.push_str(part);
    }
    if needs_received || wants_rport {
        stamped.push_str(";received=");
        stamped.push_str(&source.ip().to_string());
    }
    if wants_rport {
        stamped.push_str(";rport=");
        stamped.push_str(&source.port().to_string());
    }
    // A folded Via keeps its line break inside the value: unfolded here.
    let stamped = stamped.replace(['\r', '\n'], " ");
    msg.spliced(start..start + first.len(), &stamped)
}

fn first_value_len(v: &str) -> usize {
    let mut quoted = false;
    for (i, c) in v.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => return i,
            _ => {}
        }
    }
    v.len()
}

/// Where a response to `msg` received over UDP from `source` goes (§18.2.2, RFC 3581):
/// to the source port when rport was asked for, else to the Via port at the source IP.
pub fn response_destination(msg: &Message, source: SocketAddr) -> SocketAddr {
    match msg.top_via() {
        Some(v) if v.params.get("rport").is_some() => source,
        Some(v) => SocketAddr::new(source.ip(), v.port.unwrap_or(5060)),
        None => source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(via: &str) -> Message {
        Message::parse(format!("OPTIONS sip:a@b SIP/2.0\r\nVia: {via}\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\nl: 0\r\n\r\n").into_bytes()).unwrap()
    }

    #[test]
    fn rport_and_received_are_stamped() {
        let src: SocketAddr = "192.0.2.7:40000".parse().unwrap();
        let m = req("SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKa;rport, SIP/2.0/UDP x");
        let stamped = stamp(&m, src).unwrap();
        let again = Message::parse(stamped.as_bytes().to_vec()).unwrap();
        assert_eq!(format!("{stamped:?}"), format!("{again:?}"));
        let v = stamped.top_via().unwrap();
        assert_eq!(v.params.get("received"), Some("192.0.2.7"));
        assert_eq!(v.params.get("rport"), Some("40000"));
        assert_eq!(v.branch(), Some("z9hG4bKa"));
        assert_eq!(stamped.vias().len(), 2);
        assert_eq!(response_destination(&stamped, src), src);
    }

    #[test]
    fn ipv6_received_is_readable() {
        let src: SocketAddr = "[2001:db8::7]:40000".parse().unwrap();
        let m = req("SIP/2.0/UDP [2001:db8::1]:5060;branch=z9hG4bKa;rport");
        let stamped = stamp(&m, src).unwrap();
        let again = Message::parse(stamped.as_bytes().to_vec()).unwrap();
        assert_eq!(format!("{stamped:?}"), format!("{again:?}"));
        assert_eq!(
            stamped.top_via().unwrap().params.get("received"),
            Some("2001:db8::7")
        );
    }

    #[test]
    fn a_folded_via_is_stamped_too() {
        let src: SocketAddr = "192.0.2.7:40000".parse().unwrap();
        let m = req("SIP/2.0/UDP\r\n    10.0.0.1:5060;branch=z9hG4bKa;rport");
        let stamped = stamp(&m, src).expect("stamped");
        let again = Message::parse(stamped.as_bytes().to_vec()).unwrap();
        assert_eq!(format!("{stamped:?}"), format!("{again:?}"));
        assert_eq!(
            stamped.top_via().unwrap().params.get("rport"),
            Some("40000")
        );
    }

    #[test]
    fn matching_host_without_rport_is_left_alone() {
        let src: SocketAddr = "127.0.0.1:5062".parse().unwrap();
        let m = req("SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bKa");
        assert!(stamp(&m, src).is_none());
        assert_eq!(response_destination(&m, src), src);
    }
}
