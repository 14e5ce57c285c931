//! Where requests to a registered device go (RFC 3261 §10 and §12, RFC 5626's `;ob`):
//! to the Contact it registered, unless something between it and the switch rewrites
//! addresses (NAT) or it asked to be reached along its flow. Only then do requests
//! follow the REGISTER's source. A phone registered by another host, or one that
//! sends from another port than it listens on, is reached at its Contact.

use std::net::{IpAddr, SocketAddr};

use crate::sip::{Contact, Via};

/// `Some(address)`: send to the Contact's own address; `None`: along the flow the
/// REGISTER came over (its source address, its TCP connection).
///
/// The flow is used when the transport is reliable (the connection is reused), the
/// Contact asks for it (`;ob`) or names a transport other than UDP or a host name
/// (the switch resolves no names taken from messages), or when there is a NAT: the
/// top Via's sent-by is not the packet's source, or the Contact names a private
/// address other than the source's.
pub fn contact_address(
    contact: &Contact<'_>,
    top_via: Option<&Via<'_>>,
    source: SocketAddr,
    reliable: bool,
) -> Option<SocketAddr> {
    let uri = &contact.uri;
    if reliable || uri.param("ob").is_some() {
        return None;
    }
    if uri
        .param("transport")
        .is_some_and(|t| !t.eq_ignore_ascii_case("udp"))
    {
        return None;
    }
    let ip: IpAddr = uri.host_bare().parse().ok()?;
    let via = top_via?;
    let via_ip: IpAddr = via.host_bare().parse().ok()?;
    if via_ip != source.ip() || via.port.unwrap_or(5060) != source.port() {
        return None;
    }
    if ip.is_unspecified() || ip.is_multicast() || (is_private(ip) && ip != source.ip()) {
        return None;
    }
    // The switch's own host (or a broadcast) only for a phone on that host itself.
    let broadcast = matches!(ip, IpAddr::V4(a) if a.is_broadcast());
    if broadcast || (ip.is_loopback() && !source.ip().is_loopback()) {
        return None;
    }
    Some(SocketAddr::new(ip, uri.port.unwrap_or(5060)))
}

/// RFC 1918, RFC 6598 (carrier-grade NAT), link-local, and IPv6 unique-local.
fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => {
            let o = a.octets();
            a.is_private() || a.is_link_local() || (o[0] == 100 && (64..128).contains(&o[1]))
        }
        IpAddr::V6(a) => {
            let s = a.segments()[0];
            (s & 0xfe00) == 0xfc00 || (s & 0xffc0) == 0xfe80
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::NameAddr;

    fn reach(contact: &str, via: &str, source: &str) -> Option<SocketAddr> {
        let c = NameAddr::parse(contact, "Contact").unwrap();
        let v = Via::parse_first(via).unwrap();
        contact_address(&c, Some(&v), source.parse().unwrap(), false)
    }

    #[test]
    fn a_device_not_behind_nat_is_reached_at_its_contact() {
        // Registers from 5070, listens on 5080.
        assert_eq!(
            reach(
                "<sip:100@192.0.2.7:5080>",
                "SIP/2.0/UDP 192.0.2.7:5070;rport=5070",
                "192.0.2.7:5070"
            ),
            Some("192.0.2.7:5080".parse().unwrap())
        );
        // Registered by another host (third-party registration).
        assert_eq!(
            reach(
                "<sip:101@192.0.2.9>",
                "SIP/2.0/UDP 192.0.2.7:5070",
                "192.0.2.7:5070"
            ),
            Some("192.0.2.9:5060".parse().unwrap())
        );
    }

    #[test]
    fn nat_or_a_request_for_the_flow_keeps_the_flow() {
        // The Via's sent-by is not the source: a NAT rewrote it.
        assert_eq!(
            reach(
                "<sip:100@192.168.1.5:5060>",
                "SIP/2.0/UDP 192.168.1.5:5060;received=198.51.100.4",
                "198.51.100.4:40000"
            ),
            None
        );
        // Only the port was rewritten.
        assert_eq!(
            reach(
                "<sip:100@198.51.100.4:5060>",
                "SIP/2.0/UDP 198.51.100.4:5060",
                "198.51.100.4:40000"
            ),
            None
        );
        // A private Contact from a public source.
        assert_eq!(
            reach(
                "<sip:100@10.0.0.8:5060>",
                "SIP/2.0/UDP 198.51.100.4:5060",
                "198.51.100.4:5060"
            ),
            None
        );
        assert_eq!(
            reach(
                "<sip:100@198.51.100.4:5062;ob>",
                "SIP/2.0/UDP 198.51.100.4:5060",
                "198.51.100.4:5060"
            ),
            None
        );
        assert_eq!(
            reach(
                "<sip:100@phone.example:5062>",
                "SIP/2.0/UDP 198.51.100.4:5060",
                "198.51.100.4:5060"
            ),
            None
        );
        assert_eq!(
            reach(
                "<sip:100@198.51.100.4:5062;transport=tcp>",
                "SIP/2.0/UDP 198.51.100.4:5060",
                "198.51.100.4:5060"
            ),
            None
        );
    }
}
