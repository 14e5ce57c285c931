//! Measurements, run by hand (ignored tests, `--release --ignored --nocapture`): the
//! CPU the RTP worker threads spend per relayed packet, against a bare loop over the
//! same kind of sockets measured in the same run.
//!
//! - `relay_cpu_per_packet`: one call, packets back to back: a blocking
//!   `recv_from`/`send_to` thread against one relay.
//! - `relay_cpu_at_load`: 500 and 2,000 calls, each side of each call sent a 20 ms
//!   packet every 20 ms (100 packets a second relayed per call), against a bare relay
//!   loop (one thread, level-triggered epoll over the same sockets, `recv_from` and
//!   `send_to` to a fixed address, no other work).

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags};

use super::{MediaRelay, PortPool, Side};

const LOCAL: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
/// Clock ticks per second of /proc's utime and stime (`getconf CLK_TCK`).
const TICKS: f64 = 100.0;

/// utime + stime, in ticks, of one /proc stat line.
fn ticks_of(stat: &str) -> u64 {
    // Fields after the command's closing parenthesis start at field 3 (state);
    // utime and stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split(' ').collect();
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

/// CPU ticks of this process's threads whose name starts with `prefix`.
fn thread_ticks(prefix: &str) -> u64 {
    let mut sum = 0;
    for task in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if comm.trim_end().starts_with(prefix) {
            if let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) {
                sum += ticks_of(&stat);
            }
        }
    }
    sum
}

fn rtp_packet(seq: u16, ssrc: u32) -> Vec<u8> {
    let mut p = vec![0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    p[2..4].copy_from_slice(&seq.to_be_bytes());
    p[4..8].copy_from_slice(&(u32::from(seq) * 160).to_be_bytes());
    p[8..12].copy_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(&[0x55; 160]);
    p
}

fn ns_per_packet(ticks: u64, packets: u64) -> f64 {
    ticks as f64 / TICKS / packets.max(1) as f64 * 1e9
}

mod one_call {
    use super::*;

    const PACKETS: usize = 200_000;
    /// Packets in flight at most (keeps the receive buffers from overflowing).
    const WINDOW: usize = 32;

    /// Phone A sends `PACKETS` RTP packets to `to`, phone B receives them, with at
    /// most `WINDOW` in flight. Returns the losses.
    fn drive(a: &UdpSocket, b: &UdpSocket, to: SocketAddr) -> usize {
        b.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let mut packet = rtp_packet(0, 0xA);
        let mut buf = [0u8; 2048];
        let (mut sent, mut done, mut lost) = (0usize, 0usize, 0usize);
        while done < PACKETS {
            while sent < PACKETS && sent - done < WINDOW {
                packet[2..4].copy_from_slice(&(sent as u16).to_be_bytes());
                a.send_to(&packet, to).unwrap();
                sent += 1;
            }
            match b.recv(&mut buf) {
                Ok(_) => done += 1,
                Err(_) => {
                    lost += sent - done;
                    done = sent;
                }
            }
        }
        lost
    }

    fn phones() -> (UdpSocket, UdpSocket) {
        (
            UdpSocket::bind((LOCAL, 0)).unwrap(),
            UdpSocket::bind((LOCAL, 0)).unwrap(),
        )
    }

    /// CPU ns per packet of the relay's worker threads, and the losses.
    fn relay_run(pool: &Arc<PortPool>) -> (f64, usize) {
        let (a, b) = phones();
        let relay = MediaRelay::start(LOCAL, pool).unwrap();
        // As the SDPs would: A sends from its announced address.
        relay.set_remote(Side::A, a.local_addr().unwrap());
        relay.set_remote(Side::B, b.local_addr().unwrap());
        let c0 = thread_ticks("rtp-");
        let lost = drive(&a, &b, relay.ports().0);
        let ticks = thread_ticks("rtp-") - c0;
        drop(relay);
        (ns_per_packet(ticks, PACKETS as u64), lost)
    }

    /// The same through a blocking `recv_from`/`send_to` thread.
    fn bare_run(pool: &Arc<PortPool>) -> (f64, usize) {
        let (a, b) = phones();
        let b_addr = b.local_addr().unwrap();
        let side_a = pool.allocate(LOCAL).unwrap();
        let side_b = pool.allocate(LOCAL).unwrap();
        let to = side_a.rtp.local_addr().unwrap();
        let bare = thread::Builder::new()
            .name("bare".into())
            .spawn(move || {
                let (inp, out) = (&side_a.rtp, &side_b.rtp);
                inp.set_nonblocking(false).unwrap();
                let mut buf = [0u8; 4096];
                loop {
                    let Ok((n, _)) = inp.recv_from(&mut buf) else {
                        continue;
                    };
                    if n == 1 {
                        break;
                    }
                    let _ = out.send_to(&buf[..n], b_addr);
                }
            })
            .unwrap();
        let c0 = thread_ticks("bare");
        let lost = drive(&a, &b, to);
        let ticks = thread_ticks("bare") - c0;
        UdpSocket::bind((LOCAL, 0))
            .unwrap()
            .send_to(&[0], to)
            .unwrap();
        bare.join().unwrap();
        (ns_per_packet(ticks, PACKETS as u64), lost)
    }

    #[test]
    #[ignore = "a measurement: run with --release --ignored --nocapture"]
    fn relay_cpu_per_packet() {
        let pool = Arc::new(PortPool::new(43000..=43099).unwrap());
        let bare = bare_run(&pool);
        let relay = relay_run(&pool);
        println!("one call, back to back: bare {:.0} ns/packet (lost {}), relay workers {:.0} ns/packet (lost {}): {:.2}×",
            bare.0, bare.1, relay.0, relay.1, relay.0 / bare.0);
        let give_up = Instant::now() + Duration::from_secs(2);
        while pool.ports_in_use() != 0 && Instant::now() < give_up {
            thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(pool.ports_in_use(), 0);
    }
}

mod at_load {
    use super::*;

    /// Seconds of traffic before the measurement, and measured.
    const WARM_UP: Duration = Duration::from_secs(2);
    const WINDOW: Duration = Duration::from_secs(6);

    /// The far ends: socket `a` sends to every side-A port and hears side B's
    /// traffic, `b` the other way round.
    struct Phones {
        a: Arc<UdpSocket>,
        b: Arc<UdpSocket>,
    }

    impl Phones {
        fn new() -> Phones {
            let sock = || {
                let s = socket2::Socket::new(
                    socket2::Domain::IPV4,
                    socket2::Type::DGRAM,
                    Some(socket2::Protocol::UDP),
                )
                .unwrap();
                let _ = s.set_recv_buffer_size(8 << 20);
                let _ = s.set_send_buffer_size(8 << 20);
                s.bind(&SocketAddr::new(LOCAL, 0).into()).unwrap();
                let s: UdpSocket = s.into();
                s.set_read_timeout(Some(Duration::from_millis(100)))
                    .unwrap();
                Arc::new(s)
            };
            Phones {
                a: sock(),
                b: sock(),
            }
        }

        fn addrs(&self) -> (SocketAddr, SocketAddr) {
            (self.a.local_addr().unwrap(), self.b.local_addr().unwrap())
        }

        /// Sends a packet every 20 ms to each of `a_ports` (from `a`) and `b_ports`
        /// (from `b`), spread over the 20 ms, and drains what comes back, until
        /// `stop`.
        fn run(&self, a_ports: Vec<SocketAddr>, b_ports: Vec<SocketAddr>, stop: Arc<AtomicBool>) {
            let mut sinks = Vec::new();
            for s in [&self.a, &self.b] {
                let (s, stop) = (Arc::clone(s), Arc::clone(&stop));
                sinks.push(
                    thread::Builder::new()
                        .name("sink".into())
                        .spawn(move || {
                            let mut buf = [0u8; 2048];
                            while !stop.load(Ordering::Relaxed) {
                                let _ = s.recv(&mut buf);
                            }
                        })
                        .unwrap(),
                );
            }
            let (a, b) = (Arc::clone(&self.a), Arc::clone(&self.b));
            let sender = thread::Builder::new()
                .name("phones".into())
                .spawn(move || {
                    let mut packet = rtp_packet(0, 0xCA11);
                    let start = Instant::now();
                    let mut tick = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        // Each millisecond, the ports whose turn it is (index mod 20).
                        let slot = (tick % 20) as usize;
                        let seq = (tick / 20) as u16;
                        packet[2..4].copy_from_slice(&seq.to_be_bytes());
                        for (sock, ports) in [(&a, &a_ports), (&b, &b_ports)] {
                            for p in ports.iter().skip(slot).step_by(20) {
                                let _ = sock.send_to(&packet, p);
                            }
                        }
                        tick += 1;
                        let next = start + Duration::from_millis(tick);
                        thread::sleep(next.saturating_duration_since(Instant::now()));
                    }
                })
                .unwrap();
            sender.join().unwrap();
            for s in sinks {
                s.join().unwrap();
            }
        }
    }

    /// Runs the phones against `ports` for the warm-up and the window; returns the
    /// CPU ticks of the threads named `prefix` and the packets forwarded (by
    /// `forwarded`) in the window.
    fn measure(
        phones: &Phones,
        ports: (Vec<SocketAddr>, Vec<SocketAddr>),
        prefix: &str,
        forwarded: impl Fn() -> u64,
    ) -> (u64, u64) {
        let stop = Arc::new(AtomicBool::new(false));
        thread::scope(|s| {
            let st = Arc::clone(&stop);
            s.spawn(move || phones.run(ports.0, ports.1, st));
            thread::sleep(WARM_UP);
            let (c0, p0) = (thread_ticks(prefix), forwarded());
            thread::sleep(WINDOW);
            let (c1, p1) = (thread_ticks(prefix), forwarded());
            stop.store(true, Ordering::Relaxed);
            (c1 - c0, p1 - p0)
        })
    }

    fn relay_run(pool: &Arc<PortPool>, calls: usize) -> (u64, u64) {
        let phones = Phones::new();
        let (pa, pb) = phones.addrs();
        let relays: Vec<_> = (0..calls)
            .map(|_| {
                let r = MediaRelay::start(LOCAL, pool).unwrap();
                r.set_remote(Side::A, pa);
                r.set_remote(Side::B, pb);
                r
            })
            .collect();
        let ports = relays.iter().map(|r| r.ports()).unzip();
        let forwarded = || {
            relays
                .iter()
                .map(|r| {
                    let s = r.stats();
                    s.a_to_b.rtp_packets + s.b_to_a.rtp_packets
                })
                .sum()
        };
        measure(&phones, ports, "rtp-", forwarded)
    }

    fn bare_run(pool: &Arc<PortPool>, calls: usize) -> (u64, u64) {
        let phones = Phones::new();
        let (pa, pb) = phones.addrs();
        // Per call, side A's pair and side B's, as a relay has them.
        let pairs: Vec<_> = (0..calls * 2)
            .map(|_| pool.allocate(LOCAL).unwrap())
            .collect();
        let ports: (Vec<_>, Vec<_>) = pairs
            .chunks(2)
            .map(|c| {
                (
                    c[0].rtp.local_addr().unwrap(),
                    c[1].rtp.local_addr().unwrap(),
                )
            })
            .unzip();
        let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC).unwrap();
        for (i, p) in pairs.iter().enumerate() {
            epoll
                .add(
                    p.rtp.as_fd(),
                    EpollEvent::new(EpollFlags::EPOLLIN, i as u64),
                )
                .unwrap();
        }
        let count = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let result = thread::scope(|s| {
            let (count2, stop2, pairs) = (Arc::clone(&count), Arc::clone(&stop), &pairs);
            let epoll = &epoll;
            // Named so its CPU is found; one thread, as a bare loop is.
            let bare = thread::Builder::new().name("bare".into());
            bare.spawn_scoped(s, move || {
                let mut events = vec![EpollEvent::empty(); 256];
                let mut buf = [0u8; 4096];
                while !stop2.load(Ordering::Relaxed) {
                    let n = epoll.wait(&mut events, 100u16).unwrap_or(0);
                    for ev in &events[..n] {
                        let i = ev.data() as usize;
                        let Ok((len, _)) = pairs[i].rtp.recv_from(&mut buf) else {
                            continue;
                        };
                        let (out, to) = if i % 2 == 0 { (i + 1, pb) } else { (i - 1, pa) };
                        if pairs[out].rtp.send_to(&buf[..len], to).is_ok() {
                            count2.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            })
            .unwrap();
            let r = measure(&phones, ports, "bare", || count.load(Ordering::Relaxed));
            stop.store(true, Ordering::Relaxed);
            r
        });
        result
    }

    #[test]
    #[ignore = "a measurement: run with --release --ignored --nocapture"]
    fn relay_cpu_at_load() {
        let pool = Arc::new(PortPool::new(20000..=29999).unwrap());
        for calls in [500, 2000] {
            let (bt, bp) = bare_run(&pool, calls);
            let (rt, rp) = relay_run(&pool, calls);
            let (bare, relay) = (ns_per_packet(bt, bp), ns_per_packet(rt, rp));
            let secs = WINDOW.as_secs_f64();
            println!(
                "{calls} calls: bare loop {bare:.0} ns/packet ({:.0} packets/s, {:.0}% of a core); relay workers {relay:.0} ns/packet ({:.0} packets/s, {:.0}% of a core): {:.2}×",
                bp as f64 / secs,
                bt as f64 / TICKS / secs * 100.0,
                rp as f64 / secs,
                rt as f64 / TICKS / secs * 100.0,
                relay / bare,
            );
        }
    }
}
