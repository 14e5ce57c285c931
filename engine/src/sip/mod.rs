//! The SIP message codec (RFC 3261 §7, §20, §25): parsing into byte ranges of one
//! buffer, typed views of the headers the switch reads, and a writer for new messages.

pub mod framing;
pub mod header_name;
pub mod headers;
pub mod message;
pub mod method;
pub mod refer;
pub mod scan;
pub mod uri;
pub mod writer;

pub use framing::frame_stream;
pub use header_name::HeaderName;
pub use headers::{CSeq, Contact, ContactList, NameAddr, Params, Via};
pub use message::{Message, StartLine, MAX_MESSAGE_SIZE};
pub use method::Method;
pub use refer::{ReferTo, Replaces};
pub use uri::{Uri, UriScheme};
pub use writer::MessageWriter;
