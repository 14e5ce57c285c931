//! RTCP (RFC 3550 §6): packets, compound packets, the statistics reports carry, and
//! the periodic compound report.

pub mod packet;
pub mod report;
pub mod stats;

pub use packet::{
    parse_compound, write_compound, Bye, ReceiverReport, ReportBlock, RtcpPacket, SdesChunk,
    SdesItem, SenderReport,
};
pub use report::{compound_report, SenderInfo};
pub use stats::{NtpTime, ReceiverStats, SenderStats};
