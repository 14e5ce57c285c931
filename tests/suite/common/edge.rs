//! Debian's Kamailio as the edge proxy in front of the switch's nodes, with the
//! configuration the project ships (`deploy/kamailio/edge.cfg`); stopped on drop.

use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Edge {
    child: Child,
    /// Where phones send to.
    pub addr: SocketAddr,
}

impl Edge {
    /// Starts the edge on 127.0.0.1 (a free port) in `dir`. `nodes`: (dispatcher set,
    /// node address, priority: the higher first); `tenants`: (domain, set).
    pub fn start(dir: &Path, nodes: &[(u32, SocketAddr, u32)], tenants: &[(&str, u32)]) -> Edge {
        std::fs::create_dir_all(dir).unwrap();
        let port = super::free_port();
        let list = dir.join("dispatcher.list");
        let lines: String = nodes
            .iter()
            .map(|(set, node, priority)| format!("{set} sip:{node} 0 {priority}\n"))
            .collect();
        std::fs::write(&list, lines).unwrap();
        let map: String = tenants
            .iter()
            .map(|(domain, set)| format!("$sht(tenants=>{domain}) = {set};\n    "))
            .collect();
        let cfg = include_str!("../../../deploy/kamailio/edge.cfg")
            .replace("EDGE_IP", "127.0.0.1")
            .replace("EDGE_PORT", &port.to_string())
            .replace("DISPATCHER_LIST", list.to_str().unwrap())
            .replace("#TENANT-MAP", &map);
        let file = dir.join("edge.cfg");
        std::fs::write(&file, cfg).unwrap();
        let child = Command::new("kamailio")
            .arg("-f")
            .arg(&file)
            .args(["-DD", "-E", "-m", "64", "-M", "8", "-w"])
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("kamailio.log")).unwrap())
            .spawn()
            .expect("kamailio starts (Debian package kamailio, scripts/deps.sh)");
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let edge = Edge { child, addr };
        // Up once an OPTIONS through it reaches a node and comes back.
        let probe = UdpSocket::bind("127.0.0.1:0").unwrap();
        probe
            .set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        let local = probe.local_addr().unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut buf = [0u8; 4096];
        for n in 0.. {
            assert!(
                Instant::now() < deadline,
                "the edge did not come up: {}",
                std::fs::read_to_string(dir.join("kamailio.log")).unwrap_or_default()
            );
            let options = format!(
                "OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bKedgeup{n};rport\r\nMax-Forwards: 70\r\nFrom: <sip:probe@127.0.0.1>;tag=p\r\nTo: <sip:127.0.0.1>\r\nCall-ID: edge-up-{n}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
            );
            probe.send_to(options.as_bytes(), addr).unwrap();
            if let Ok((len, _)) = probe.recv_from(&mut buf) {
                if buf[..len].starts_with(b"SIP/2.0 200") {
                    break;
                }
            }
        }
        edge
    }
}

impl Drop for Edge {
    fn drop(&mut self) {
        super::terminate(&mut self.child);
    }
}
