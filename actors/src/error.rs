/// Everything that can go wrong in the runtime and the store.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("database: {0}")]
    Db(#[from] rusqlite::Error),
    /// The shared PostgreSQL store refused or could not be reached.
    #[error("postgres: {0}")]
    Postgres(String),
    /// A stored value the store cannot read.
    #[error("database: unexpected stored value: {0}")]
    Stored(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// Input an administrator gave that cannot be accepted; the text says why.
    #[error("{0}")]
    Invalid(String),
    /// Like `Invalid`, naming the field of the request that is wrong (the API
    /// answers with it).
    #[error("{why}")]
    Field { field: &'static str, why: String },
    #[error("unknown tenant {0:?}")]
    UnknownTenant(String),
    #[error("tenant {tenant:?} has no extension {ext}")]
    UnknownLine { tenant: String, ext: String },
    #[error("the store has stopped")]
    StoreGone,
    #[error("actor: {0}")]
    Actor(String),
    /// Every RTP/RTCP port pair of the media range is taken (or refused by the OS).
    #[error("no free media port pair")]
    PortsExhausted,
}

impl Error {
    /// A refusal that names the `field` of the request at fault.
    pub fn field(field: &'static str, why: impl Into<String>) -> Self {
        Error::Field {
            field,
            why: why.into(),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
