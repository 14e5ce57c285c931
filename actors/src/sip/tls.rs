//! SIP over TLS: the certificate the switch presents to phones (and to carriers that
//! ask for one), the authorities it trusts when it connects to a carrier, and the
//! handshakes. What follows a handshake is the TCP connection code: the same framing,
//! limits and timeouts, only the stream differs.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::{TlsAcceptor, TlsConnector};

use crate::error::{Error, Result};

/// A handshake that does not finish in this time is abandoned (a peer that opens a
/// connection and says nothing holds a place for no longer).
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Where the switch's TLS material is, as given on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The certificate chain (PEM), the switch's own first.
    pub cert: PathBuf,
    /// Its private key (PEM: PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    /// Authorities trusted for carriers' certificates (PEM); the Mozilla roots when
    /// none is given.
    pub ca: Option<PathBuf>,
}

/// The switch's TLS sides, loaded once at start.
#[derive(Clone)]
pub struct Tls {
    pub acceptor: TlsAcceptor,
    pub connector: TlsConnector,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Tls")
    }
}

fn read_err(what: &str, path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Invalid(format!("TLS {what} {}: {e}", path.display()))
}

impl Tls {
    /// Reads the certificate chain, the key and the trusted authorities; an error
    /// names the file and what is wrong with it.
    pub fn load(files: &TlsFiles) -> Result<Tls> {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.cert)
            .map_err(|e| read_err("certificate", &files.cert, e))?
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| read_err("certificate", &files.cert, e))?;
        if certs.is_empty() {
            return Err(read_err("certificate", &files.cert, "no certificate in it"));
        }
        let key =
            PrivateKeyDer::from_pem_file(&files.key).map_err(|e| read_err("key", &files.key, e))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let server = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::Invalid(format!("TLS: {e}")))?
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .map_err(|e| read_err("certificate and key", &files.cert, e))?;
        let mut roots = rustls::RootCertStore::empty();
        match &files.ca {
            Some(ca) => {
                for c in CertificateDer::pem_file_iter(ca).map_err(|e| read_err("CA", ca, e))? {
                    let c = c.map_err(|e| read_err("CA", ca, e))?;
                    roots.add(c).map_err(|e| read_err("CA", ca, e))?;
                }
            }
            None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        }
        let client = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::Invalid(format!("TLS: {e}")))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Tls {
            acceptor: TlsAcceptor::from(Arc::new(server)),
            connector: TlsConnector::from(Arc::new(client)),
        })
    }

    /// Connects to a carrier at `peer`, checking its certificate against `host` (its
    /// name, or its address when it has none).
    pub async fn connect(
        &self,
        stream: TcpStream,
        host: &str,
        peer: SocketAddr,
    ) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
        let name = ServerName::try_from(host.to_owned())
            .unwrap_or_else(|_| ServerName::IpAddress(peer.ip().into()));
        tokio::time::timeout(HANDSHAKE_TIMEOUT, self.connector.connect(name, stream))
            .await
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "TLS handshake"))?
    }
}
