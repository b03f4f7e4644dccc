//! TLS for the mio drivers (feature `tls`): rustls between the socket and the sans-IO
//! server or client, which never see it.
//!
//! [`ServerTls`] is what a [`Driver`](super::Driver) (or [`app::Io::tls`](crate::app::Io::tls))
//! serves `https` and `wss` with: a certificate chain and its private key, from PEM files
//! or bytes. [`ClientTls`] is what a [`ClientDriver`](super::ClientDriver) trusts: Mozilla's
//! root certificates as the `webpki-roots` crate carries them (the list Node.js builds in
//! too), or the certificate authorities of a PEM file only (a private CA). Both can be made
//! from a rustls configuration of your own (client certificates, the operating system's
//! trust store, other protocol versions). The crypto provider is *ring*.
//!
//! A TLS connection is bounded like a plain one: rustls keeps at most 64 KiB of records
//! waiting for the socket ([`rustls::Connection::set_buffer_limit`]) and about one record
//! of plaintext (16 KiB) that was not handed on yet; a handshake message may be up to
//! 64 KiB. On the server, a peer that stalls in the handshake sends no request head, so the
//! server's [`headers_timeout`](crate::server::ServerConfig::headers_timeout) closes it; bytes
//! that are not TLS close that connection alone.

use std::boxed::Box;
use std::fmt;
use std::io::{self, ErrorKind, Read, Write};
use std::path::{Path, PathBuf};
use std::string::{String, ToString};
use std::sync::Arc;
use std::vec::Vec;

use super::sock::Sock;
use mio::net::TcpStream;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{CertificateError, ClientConfig, Connection, RootCertStore, ServerConfig};

/// The most bytes of TLS records rustls keeps for a connection while the socket is full.
pub(super) const TLS_BUFFER_LIMIT: usize = 64 * 1024;

/// rustls' *ring* provider. rustls 0.23.48 deprecated it for having no post-quantum key
/// exchange; its classical ones (X25519, P-256, P-384) are what it negotiates. It stays
/// the provider here because it cross-builds for the small boards with nothing but their
/// gcc; `from_rustls` takes a configuration on another provider.
///
/// Its groups with X25519 first, as OpenSSL and the browsers offer it: the provider
/// lists P-384 first, and a client sends its key share for its first group, which the
/// servers take (rustls and OpenSSL follow the client's order). P-384 is ring's generic
/// bignum code: with it, a rustls server spent about 4.5 times as much CPU per handshake
/// in the TLS benchmark (BENCHMARKS.md), and the client pays the same kind of cost.
#[allow(deprecated)]
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    use rustls::crypto::ring::kx_group;
    let mut provider = rustls::crypto::ring::default_provider();
    provider.kx_groups = std::vec![kx_group::X25519, kx_group::SECP256R1, kx_group::SECP384R1];
    Arc::new(provider)
}

/// Why a TLS configuration could not be made.
#[derive(Debug)]
#[non_exhaustive]
pub enum TlsConfigError {
    /// A file could not be read.
    Read {
        /// The file.
        path: PathBuf,
        /// The error reading it.
        error: io::Error,
    },
    /// The certificate PEM holds no certificate, or one that is not well-formed PEM.
    Certificate(String),
    /// The key PEM holds no private key (PKCS #8, PKCS #1 or SEC1), or one that is not
    /// well-formed PEM.
    PrivateKey(String),
    /// rustls refused the key for the certificate, or the certificate authorities.
    Rejected(rustls::Error),
    /// The server name is neither a DNS name nor an IP address.
    ServerName(String),
}

impl fmt::Display for TlsConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Read { path, error } => write!(f, "reading {}: {error}", path.display()),
            Self::Certificate(why) => write!(f, "certificate PEM: {why}"),
            Self::PrivateKey(why) => write!(f, "private key PEM: {why}"),
            Self::Rejected(e) => write!(f, "TLS configuration refused: {e}"),
            Self::ServerName(name) => write!(f, "not a DNS name or an IP address: {name:?}"),
        }
    }
}

impl std::error::Error for TlsConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Read { error, .. } => Some(error),
            Self::Rejected(e) => Some(e),
            _ => None,
        }
    }
}

impl From<TlsConfigError> for io::Error {
    fn from(e: TlsConfigError) -> Self {
        let kind = match &e {
            TlsConfigError::Read { error, .. } => error.kind(),
            _ => ErrorKind::InvalidInput,
        };
        Self::new(kind, e)
    }
}

fn read_file(path: &Path) -> Result<Vec<u8>, TlsConfigError> {
    std::fs::read(path).map_err(|error| TlsConfigError::Read {
        path: path.to_path_buf(),
        error,
    })
}

fn pem_error(e: &pem::Error) -> String {
    match e {
        pem::Error::NoItemsFound => "none found".to_string(),
        e => e.to_string(),
    }
}

/// Every certificate of a PEM text, in order.
fn certificates(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, TlsConfigError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsConfigError::Certificate(pem_error(&e)))?;
    if certs.is_empty() {
        return Err(TlsConfigError::Certificate("none found".to_string()));
    }
    Ok(certs)
}

/// What a server serves `https` and `wss` with: its certificate chain and private key.
///
/// A TLS connection is bounded as a plain one is: rustls keeps at most 64 KiB of records
/// waiting for the socket and about one record (16 KiB) of plaintext not handed on yet;
/// a handshake message may be up to 64 KiB. A peer that stalls in the handshake sends no
/// request head, so the server's
/// [`headers_timeout`](crate::server::ServerConfig::headers_timeout) closes it; bytes that
/// are not TLS close that connection alone, at once.
#[derive(Debug, Clone)]
pub struct ServerTls {
    config: Arc<ServerConfig>,
}

impl ServerTls {
    /// From PEM text: `cert_chain` holds the server's certificate first, then the
    /// intermediate ones (as `fullchain.pem` does), `key` its private key (PKCS #8,
    /// PKCS #1 or SEC1). TLS 1.2 and 1.3 with rustls' safe defaults, no client
    /// certificates.
    ///
    /// # Errors
    /// No certificate or key in the PEM, or a key that does not suit the certificate.
    pub fn from_pem(cert_chain: &[u8], key: &[u8]) -> Result<Self, TlsConfigError> {
        let certs = certificates(cert_chain)?;
        let key = PrivateKeyDer::from_pem_slice(key)
            .map_err(|e| TlsConfigError::PrivateKey(pem_error(&e)))?;
        let config = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(TlsConfigError::Rejected)?
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .map_err(TlsConfigError::Rejected)?;
        Ok(Self::from_rustls(Arc::new(config)))
    }

    /// [`from_pem`](Self::from_pem) with the text of two files.
    ///
    /// # Errors
    /// A file that cannot be read, and those of `from_pem`.
    pub fn from_pem_files(
        cert_chain: impl AsRef<Path>,
        key: impl AsRef<Path>,
    ) -> Result<Self, TlsConfigError> {
        let certs = read_file(cert_chain.as_ref())?;
        let key = read_file(key.as_ref())?;
        Self::from_pem(&certs, &key)
    }

    /// A rustls configuration made elsewhere (client certificates, session tickets, ALPN).
    pub fn from_rustls(config: Arc<ServerConfig>) -> Self {
        Self { config }
    }

    /// The rustls configuration.
    pub fn rustls(&self) -> &Arc<ServerConfig> {
        &self.config
    }

    /// A connection for a stream just accepted.
    pub(super) fn accept(&self, sock: TcpStream) -> Result<Sock, (TcpStream, rustls::Error)> {
        match rustls::ServerConnection::new(Arc::clone(&self.config)) {
            Ok(conn) => Ok(Tls::sock(sock, conn.into())),
            Err(e) => Err((sock, e)),
        }
    }
}

/// Which servers a client trusts: the certificate authorities its server certificates
/// must chain to.
#[derive(Debug, Clone)]
pub struct ClientTls {
    config: Arc<ClientConfig>,
}

impl ClientTls {
    /// Mozilla's root certificates (the `webpki-roots` crate): what a browser, and Node.js,
    /// trust out of the box.
    pub fn webpki_roots() -> Self {
        let mut roots = RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        Self::with_roots(roots).expect("ring supports the safe default protocol versions")
    }

    /// The certificate authorities in `pem` and no others (a private CA, a self-signed
    /// server certificate).
    ///
    /// # Errors
    /// No certificate in the PEM, or one rustls cannot use as a trust anchor.
    pub fn from_ca_pem(pem: &[u8]) -> Result<Self, TlsConfigError> {
        let mut roots = RootCertStore::empty();
        for cert in certificates(pem)? {
            roots.add(cert).map_err(TlsConfigError::Rejected)?;
        }
        Self::with_roots(roots)
    }

    /// [`from_ca_pem`](Self::from_ca_pem) with the text of a file.
    ///
    /// # Errors
    /// A file that cannot be read, and those of `from_ca_pem`.
    pub fn from_ca_file(path: impl AsRef<Path>) -> Result<Self, TlsConfigError> {
        Self::from_ca_pem(&read_file(path.as_ref())?)
    }

    /// A rustls configuration made elsewhere (the operating system's trust store through
    /// `rustls-native-certs`, client certificates).
    pub fn from_rustls(config: Arc<ClientConfig>) -> Self {
        Self { config }
    }

    /// The rustls configuration.
    pub fn rustls(&self) -> &Arc<ClientConfig> {
        &self.config
    }

    fn with_roots(roots: RootCertStore) -> Result<Self, TlsConfigError> {
        let config = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(TlsConfigError::Rejected)?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Self::from_rustls(Arc::new(config)))
    }
}

/// The name a client checks the server's certificate against (and sends as SNI when it is
/// a DNS name): a host name, or an IP address, with or without the brackets of a URL.
pub(super) fn server_name(host: &str) -> Result<ServerName<'static>, TlsConfigError> {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    ServerName::try_from(bare.to_string()).map_err(|_| TlsConfigError::ServerName(host.into()))
}

/// A TLS failure on a client's stream, as [`Wake::Tls`](super::Wake::Tls) reports it.
#[derive(Debug, Clone)]
pub struct TlsError {
    server: String,
    error: rustls::Error,
}

/// What kind of TLS failure a [`TlsError`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TlsErrorKind {
    /// The server's certificate does not chain to a trusted authority (a self-signed or
    /// private-CA certificate the client was not given the CA of).
    UntrustedCertificate,
    /// The server's certificate is not valid for the name the client connected to.
    NameMismatch,
    /// The server's certificate expired, or is not valid yet.
    Expired,
    /// Another problem with the server's certificate (revoked, a bad signature, the wrong
    /// purpose, an encoding error).
    BadCertificate,
    /// The server ended the handshake with an alert (it supports no protocol version or
    /// cipher suite the client offers, say).
    Refused,
    /// Bytes that are not TLS, or TLS that breaks the protocol.
    Protocol,
}

impl TlsError {
    pub(super) fn new(server: &str, error: rustls::Error) -> Self {
        Self {
            server: server.into(),
            error,
        }
    }

    /// The TLS error of a failed read or write, if it was one.
    pub(super) fn from_io(server: &str, e: &io::Error) -> Option<Self> {
        let error = e.get_ref()?.downcast_ref::<rustls::Error>()?;
        Some(Self::new(server, error.clone()))
    }

    /// What kind of failure.
    pub fn kind(&self) -> TlsErrorKind {
        use rustls::Error as E;
        match &self.error {
            E::InvalidCertificate(c) => match c {
                CertificateError::UnknownIssuer => TlsErrorKind::UntrustedCertificate,
                CertificateError::NotValidForName
                | CertificateError::NotValidForNameContext { .. } => TlsErrorKind::NameMismatch,
                CertificateError::Expired
                | CertificateError::ExpiredContext { .. }
                | CertificateError::NotValidYet
                | CertificateError::NotValidYetContext { .. } => TlsErrorKind::Expired,
                _ => TlsErrorKind::BadCertificate,
            },
            E::AlertReceived(_) | E::PeerIncompatible(_) | E::NoCertificatesPresented => {
                TlsErrorKind::Refused
            }
            _ => TlsErrorKind::Protocol,
        }
    }

    /// Whether the server's certificate was refused (retrying will not help until the
    /// server's certificate or the client's trust changes).
    pub fn is_certificate(&self) -> bool {
        matches!(
            self.kind(),
            TlsErrorKind::UntrustedCertificate
                | TlsErrorKind::NameMismatch
                | TlsErrorKind::Expired
                | TlsErrorKind::BadCertificate
        )
    }

    /// The host name or address the client connected to.
    pub fn server_name(&self) -> &str {
        &self.server
    }

    /// The error as rustls gave it.
    pub fn rustls(&self) -> &rustls::Error {
        &self.error
    }
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let server = &self.server;
        let e = &self.error;
        match self.kind() {
            TlsErrorKind::UntrustedCertificate => write!(
                f,
                "TLS: the certificate of {server} is not trusted: no trusted certificate \
                 authority issued it ({e})"
            ),
            TlsErrorKind::NameMismatch => write!(
                f,
                "TLS: the certificate {server} presented is not valid for the name {server} ({e})"
            ),
            TlsErrorKind::Expired => write!(
                f,
                "TLS: the certificate of {server} is expired or not valid yet ({e})"
            ),
            TlsErrorKind::BadCertificate => {
                write!(f, "TLS: the certificate of {server} was refused ({e})")
            }
            TlsErrorKind::Refused => write!(f, "TLS: {server} refused the handshake ({e})"),
            TlsErrorKind::Protocol => write!(f, "TLS with {server} failed ({e})"),
        }
    }
}

impl std::error::Error for TlsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

/// TLS over a connection's TCP stream.
#[derive(Debug)]
pub(super) struct Tls {
    sock: TcpStream,
    conn: Connection,
    /// The peer closed the TCP stream.
    eof: bool,
    /// A `close_notify` was queued.
    notified: bool,
}

impl Tls {
    pub(super) fn sock(sock: TcpStream, mut conn: Connection) -> Sock {
        conn.set_buffer_limit(Some(TLS_BUFFER_LIMIT));
        Sock::Tls(Box::new(Self {
            sock,
            conn,
            eof: false,
            notified: false,
        }))
    }

    pub(super) fn tcp(&mut self) -> &mut TcpStream {
        &mut self.sock
    }

    pub(super) fn wants_write(&self) -> bool {
        self.conn.wants_write()
    }

    pub(super) fn close_notify(&mut self) {
        if !self.notified {
            self.notified = true;
            self.conn.send_close_notify();
            if let Err(e) = self.push() {
                log::debug!("close_notify: {e}");
            }
        }
    }

    pub(super) fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.conn.reader().read(buf) {
                Ok(n) => return Ok(n),
                // The peer closed TCP without `close_notify`: an end of stream all the same
                // (HTTP and WebSocket frame their own messages).
                Err(e) if e.kind() == ErrorKind::UnexpectedEof => return Ok(0),
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
            if self.eof {
                return Ok(0);
            }
            match self.conn.read_tls(&mut self.sock) {
                Ok(0) => self.eof = true,
                Ok(_) => {}
                Err(e) => return Err(e),
            }
            self.process()?;
        }
    }

    /// Decrypts what was read; sends what that produced (handshake messages, alerts).
    fn process(&mut self) -> io::Result<()> {
        match self.conn.process_new_packets() {
            Ok(_) => self.push(),
            Err(e) => {
                // The alert rustls queued for the peer, if the socket takes it.
                let _ = self.push();
                Err(io::Error::new(ErrorKind::InvalidData, e))
            }
        }
    }

    /// Writes queued TLS records until the socket would block.
    fn push(&mut self) -> io::Result<()> {
        while self.conn.wants_write() {
            match self.conn.write_tls(&mut Send(&mut self.sock)) {
                Ok(0) => return Err(ErrorKind::WriteZero.into()),
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    pub(super) fn write(&mut self, mut bytes: &[u8]) -> io::Result<usize> {
        let mut done = 0;
        loop {
            self.push()?;
            if bytes.is_empty() {
                return Ok(done);
            }
            // Takes nothing once `TLS_BUFFER_LIMIT` bytes of records wait.
            let n = self.conn.writer().write(bytes)?;
            if n == 0 {
                return Ok(done);
            }
            done += n;
            bytes = &bytes[n..];
        }
    }

    pub(super) fn handshake(&mut self) -> io::Result<bool> {
        loop {
            self.push()?;
            if !self.conn.is_handshaking() {
                return Ok(true);
            }
            match self.conn.read_tls(&mut self.sock) {
                Ok(0) => {
                    return Err(io::Error::new(
                        ErrorKind::UnexpectedEof,
                        "the server closed the connection during the TLS handshake",
                    ));
                }
                Ok(_) => self.process()?,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

/// The socket as rustls writes to it: one `send` per buffer, never `writev`. On Linux the
/// standard library's `send` passes `MSG_NOSIGNAL`, while `writev` raises `SIGPIPE` when
/// the peer is gone, which ends a C program (the Rust runtime ignores the signal, a C one
/// does not) through the ready loops of `libsiocore`.
struct Send<'s>(&'s mut TcpStream);

impl Write for Send<'_> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0.write(bytes)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}
