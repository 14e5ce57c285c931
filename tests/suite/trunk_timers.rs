//! A registration trunk's timers on a paused clock (no real time passes): it
//! registers again at three quarters of the time the carrier granted, and backs off
//! (5 s, then 10 s …) while the carrier refuses.

use std::time::Duration;

use actors::store::{Store, TrunkConfig};
use engine::sip::{Message, MessageWriter};
use tokio::net::UdpSocket;
use tokio::time::Instant;

/// The next REGISTER the carrier gets (CRLF keep-alives and OPTIONS skipped), and
/// where it came from.
async fn next_register(carrier: &UdpSocket) -> (Message, std::net::SocketAddr) {
    let mut buf = vec![0u8; 65536];
    loop {
        let (n, from) = carrier.recv_from(&mut buf).await.unwrap();
        let Ok(m) = Message::parse(buf[..n].to_vec()) else {
            continue;
        };
        if m.method().map(|x| x.as_str()) == Some("REGISTER") {
            return (m, from);
        }
    }
}

async fn answer(
    carrier: &UdpSocket,
    req: &Message,
    to: std::net::SocketAddr,
    code: u16,
    extra: &[(&str, &str)],
) {
    let mut w = MessageWriter::response_to(req, code, "Answer", Some("reg"));
    for (name, value) in extra {
        w.header(name, value);
    }
    carrier.send_to(&w.finish(), to).await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_registration_trunk_registers_again_before_expiry_and_backs_off() {
    let dir = crate::common::temp_dir();
    let switch = crate::common::paused::switch_on_lines(dir.path(), None, &[], None).await;
    let carrier = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let port = carrier.local_addr().unwrap().port();
    let store = Store::open(dir.path()).unwrap();
    let tenant = store.tenant("demo").unwrap().id;
    store
        .set_trunk(
            tenant,
            &TrunkConfig {
                name: "carrier".into(),
                host: "127.0.0.1".into(),
                port,
                transport: "udp".into(),
                username: Some("acme".into()),
                password: Some("secret".into()),
                domain: Some("carrier.test".into()),
                register: true,
                expires: 600,
                keepalive: 30,
                max_calls: None,
            },
        )
        .unwrap();
    drop(store);
    // Challenged, answered with the account, granted 600 s.
    let (reg, from) = next_register(&carrier).await;
    assert_eq!(reg.expires(), Some(600));
    let challenge = "Digest realm=\"carrier.test\", nonce=\"abc\", algorithm=MD5";
    answer(
        &carrier,
        &reg,
        from,
        401,
        &[("WWW-Authenticate", challenge)],
    )
    .await;
    let (reg, from) = next_register(&carrier).await;
    assert!(reg.values_named("Authorization").next().is_some());
    answer(&carrier, &reg, from, 200, &[("Expires", "600")]).await;
    let granted = Instant::now();
    // Again at three quarters of the time granted, before it runs out.
    let (reg, from) = next_register(&carrier).await;
    let after = granted.elapsed();
    assert!(
        after >= Duration::from_secs(440) && after <= Duration::from_secs(460),
        "registered again after {after:?}"
    );
    // The carrier refuses: the trunk tries again after 5 s, then after 10 s.
    answer(&carrier, &reg, from, 503, &[]).await;
    let refused = Instant::now();
    let (reg, from) = next_register(&carrier).await;
    let first = refused.elapsed();
    answer(&carrier, &reg, from, 503, &[]).await;
    let refused = Instant::now();
    let _ = next_register(&carrier).await;
    let second = refused.elapsed();
    assert!(
        first >= Duration::from_secs(5) && first < Duration::from_secs(7),
        "{first:?}"
    );
    assert!(
        second >= Duration::from_secs(10) && second < Duration::from_secs(12),
        "{second:?}"
    );
    switch.shutdown().await;
}
