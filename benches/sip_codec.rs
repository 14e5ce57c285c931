//! Parsing and printing typical SIP messages: ns per message.
//!
//! `cargo bench --bench sip_codec`

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use engine::sip::{Message, MessageWriter};

const INVITE: &str = "INVITE sip:101@pbx.example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.168.1.20:5060;branch=z9hG4bK-524287-1---6f3a2c7e1b;rport\r\n\
Max-Forwards: 70\r\n\
Contact: <sip:100@192.168.1.20:5060;transport=udp>\r\n\
To: <sip:101@pbx.example.com>\r\n\
From: \"Desk 100\" <sip:100@pbx.example.com>;tag=8a1b2c3d\r\n\
Call-ID: Yjc0ZDk1NGQ4ZjVhOWQ0YmI3NjRjMDk5NTM3OTQ2MWQ\r\n\
CSeq: 2 INVITE\r\n\
Allow: INVITE, ACK, CANCEL, BYE, NOTIFY, REFER, MESSAGE, OPTIONS, INFO, SUBSCRIBE\r\n\
Content-Type: application/sdp\r\n\
Supported: replaces, timer\r\n\
User-Agent: Yealink SIP-T46U 108.86.0.20\r\n\
Proxy-Authorization: Digest username=\"100\",realm=\"pbx.example.com\",nonce=\"6b0369a1.2c1f9e0d8b7a6c5d4e3f2a1b\",uri=\"sip:101@pbx.example.com\",response=\"0f5b9e1a7c3d2b4e6f8a0c1d3e5f7a9b\",algorithm=MD5,cnonce=\"d41d8cd9\",qop=auth,nc=00000001\r\n\
Content-Length: 236\r\n\
\r\n\
v=0\r\n\
o=- 1234567890 1234567890 IN IP4 192.168.1.20\r\n\
s=SIP Call\r\n\
c=IN IP4 192.168.1.20\r\n\
t=0 0\r\n\
m=audio 11780 RTP/AVP 0 8 9 101\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:9 G722/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=sendrecv\r\n";

const REGISTER: &str = "REGISTER sip:pbx.example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.168.1.20:5060;branch=z9hG4bK-524287-1---1a2b3c4d5e;rport\r\n\
Max-Forwards: 70\r\n\
Contact: <sip:100@192.168.1.20:5060;transport=udp>;+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-001565123456>\"\r\n\
To: <sip:100@pbx.example.com>\r\n\
From: <sip:100@pbx.example.com>;tag=5e6f7a8b\r\n\
Call-ID: MzYxZTI0NmQ1ZWE4NGJkMWI0MjYzY2Q1NDc5ZjFmNjA\r\n\
CSeq: 3 REGISTER\r\n\
Expires: 3600\r\n\
Allow: INVITE, ACK, CANCEL, BYE, NOTIFY, REFER, MESSAGE, OPTIONS, INFO, SUBSCRIBE\r\n\
User-Agent: Yealink SIP-T46U 108.86.0.20\r\n\
Authorization: Digest username=\"100\",realm=\"pbx.example.com\",nonce=\"6b0369a1.2c1f9e0d8b7a6c5d4e3f2a1b\",uri=\"sip:pbx.example.com\",response=\"0f5b9e1a7c3d2b4e6f8a0c1d3e5f7a9b\",algorithm=MD5,cnonce=\"d41d8cd9\",qop=auth,nc=00000001\r\n\
Content-Length: 0\r\n\
\r\n";

fn codec(c: &mut Criterion) {
    let mut g = c.benchmark_group("sip");
    for (name, text) in [("invite", INVITE), ("register", REGISTER)] {
        let bytes = bytes::Bytes::from_static(text.as_bytes());
        g.throughput(Throughput::Elements(1));
        g.bench_with_input(BenchmarkId::new("parse", name), &bytes, |b, bytes| {
            b.iter(|| Message::parse(bytes.clone()).unwrap())
        });
        let msg = Message::parse(bytes.clone()).unwrap();
        g.bench_with_input(
            BenchmarkId::new("parse+read_typed", name),
            &bytes,
            |b, bytes| {
                b.iter(|| {
                    let m = Message::parse(bytes.clone()).unwrap();
                    (
                        m.top_via().unwrap().branch().map(str::len),
                        m.cseq().unwrap().seq,
                        m.to().unwrap().uri.user.map(str::len),
                    )
                })
            },
        );
        g.bench_with_input(BenchmarkId::new("print", name), &msg, |b, msg| {
            let mut out = Vec::with_capacity(2048);
            b.iter(|| {
                out.clear();
                msg.print(&mut out);
                out.len()
            })
        });
        g.bench_with_input(BenchmarkId::new("response_to", name), &msg, |b, msg| {
            b.iter(|| MessageWriter::response_to(msg, 200, "OK", Some("8c43da88767212cc")).finish())
        });
    }
    g.finish();
}

criterion_group!(benches, codec);
criterion_main!(benches);
