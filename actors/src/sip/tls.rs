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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::tcp::{accept_loop, Flows, TcpLimits};
    use crate::sip::{Dispatcher, SipOut};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    fn fixture(name: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("src/sip/testdata")
            .join(name)
    }

    /// The fixture's certificate (127.0.0.1, self-signed) as the switch's, trusted as
    /// the only authority.
    fn tls() -> Tls {
        Tls::load(&TlsFiles {
            cert: fixture("cert.pem"),
            key: fixture("key.pem"),
            ca: Some(fixture("cert.pem")),
        })
        .unwrap()
    }

    /// A TLS listener whose connections are capped at `per_source` from one address.
    async fn listening(per_source: usize) -> (SocketAddr, Arc<Flows>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let flows = Arc::new(Flows::new(TcpLimits {
            total: 16,
            per_source,
        }));
        let out = Arc::new(SipOut::new(flows.clone()));
        let dispatcher = Arc::new(Dispatcher::new(Arc::default(), out, Arc::default()));
        let acceptor = Some(tls().acceptor);
        tokio::spawn(accept_loop(
            listener,
            dispatcher,
            65_535,
            flows.clone(),
            acceptor,
        ));
        (addr, flows)
    }

    /// A client trusting the fixture sends an OPTIONS no tenant serves: the answer's
    /// first line, over the same TLS stream.
    async fn answered_over_tls(addr: SocketAddr) -> String {
        let stream = TcpStream::connect(addr).await.unwrap();
        let mut s = tls().connect(stream, "127.0.0.1", addr).await.unwrap();
        s.write_all(
            b"OPTIONS sip:nobody@unknown.test SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1:5999;branch=z9hG4bKt1\r\n\
              From: <sip:a@unknown.test>;tag=1\r\nTo: <sip:nobody@unknown.test>\r\n\
              Call-ID: tls-1\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
        )
        .await
        .unwrap();
        let mut buf = vec![0u8; 4096];
        let n = s.read(&mut buf).await.unwrap();
        let text = String::from_utf8_lossy(&buf[..n]).into_owned();
        text.lines().next().unwrap_or_default().to_owned()
    }

    #[test]
    fn bad_files_are_named_in_the_error() {
        let missing = TlsFiles {
            cert: fixture("nonexistent.pem"),
            key: fixture("key.pem"),
            ca: None,
        };
        let e = Tls::load(&missing).unwrap_err().to_string();
        assert!(e.contains("nonexistent.pem"), "{e}");
        let swapped = TlsFiles {
            cert: fixture("key.pem"),
            key: fixture("cert.pem"),
            ca: None,
        };
        let e = Tls::load(&swapped).unwrap_err().to_string();
        assert!(e.contains("certificate"), "{e}");
    }

    #[tokio::test]
    async fn a_client_that_trusts_the_certificate_gets_a_tls_flow_answered() {
        let (addr, flows) = listening(128).await;
        let first = answered_over_tls(addr).await;
        assert!(first.starts_with("SIP/2.0 "), "{first}");
        assert_eq!(flows.len(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn plain_text_or_silence_on_the_tls_port_closes_the_connection() {
        // One connection at a time from this address: each failed one must give its
        // place back for the next to be taken.
        let (addr, _) = listening(1).await;
        let mut plain = TcpStream::connect(addr).await.unwrap();
        plain
            .write_all(b"REGISTER sip:x SIP/2.0\r\n\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 64];
        // Whatever alert comes back, the connection ends.
        while plain.read(&mut buf).await.unwrap_or(0) > 0 {}
        // Admitted (not refused at once): it is closed only when the handshake
        // times out.
        let mut silent = TcpStream::connect(addr).await.unwrap();
        let t0 = tokio::time::Instant::now();
        assert_eq!(silent.read(&mut buf).await.unwrap_or(0), 0);
        assert!(t0.elapsed() >= HANDSHAKE_TIMEOUT);
        // And a client that speaks TLS is served after them.
        let first = answered_over_tls(addr).await;
        assert!(first.starts_with("SIP/2.0 "), "{first}");
    }
}
