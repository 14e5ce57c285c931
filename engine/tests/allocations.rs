//! Counts heap allocations of parsing: the header index is the only one (the buffer is
//! the caller's), whatever the number of headers.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use engine::sip::Message;

struct Counting;

static ALLOCS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const REGISTER: &[u8] = b"REGISTER sip:pbx.example.com SIP/2.0\r\n\
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
Content-Length: 0\r\n\r\n";

#[test]
fn parsing_allocates_only_the_header_index() {
    let bytes = bytes::Bytes::from_static(REGISTER);
    let _warm = Message::parse(bytes.clone()).unwrap();
    let before = ALLOCS.load(Ordering::Relaxed);
    let m = Message::parse(bytes.clone()).unwrap();
    let parse = ALLOCS.load(Ordering::Relaxed) - before;
    // Typed reads borrow from the buffer: no allocation either.
    let before = ALLOCS.load(Ordering::Relaxed);
    let branch_len = m.top_via().unwrap().branch().unwrap().len();
    let seq = m.cseq().unwrap().seq;
    let user = m.to().unwrap().uri.user.unwrap().len();
    let reads = ALLOCS.load(Ordering::Relaxed) - before;
    assert_eq!((branch_len, seq, user), (29, 3, 3));
    assert_eq!(parse, 1, "one allocation (the header index) per parse");
    assert_eq!(reads, 0, "typed reads borrow");
}
