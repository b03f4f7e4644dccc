//! TLS for the load generator (`--tls CA`): every connection of the run speaks https/wss,
//! checking the server's certificate against the CA file and the name `localhost`.
//!
//! Session resumption is off: every connection makes a full handshake, as a new client
//! does, so the handshake scenario measures the expensive case.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, OnceLock};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};

static CONFIG: OnceLock<Arc<ClientConfig>> = OnceLock::new();

/// The name the certificates of `scripts/test-certs.sh` are for (and the SNI sent).
const NAME: &str = "localhost";

/// Turns TLS on for every connection of this process, trusting the CAs of the PEM file `ca`.
pub fn enable(ca: &str) -> Result<(), String> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).map_err(|e| format!("{ca}: {e}"))? {
        roots
            .add(cert.map_err(|e| format!("{ca}: {e}"))?)
            .map_err(|e| format!("{ca}: {e}"))?;
    }
    // rustls 0.23.48 deprecated *ring* for its lack of post-quantum key exchange; it is
    // what siocore's `tls` feature uses.
    #[allow(deprecated)]
    let mut provider = rustls::crypto::ring::default_provider();
    // X25519 first, as OpenSSL and the browsers offer it: the ring provider lists P-384
    // first, and a server takes the group of the key share a client sends, so the
    // handshakes would all pay for P-384 (ring's generic bignum code, about four fifths of
    // a rustls server's handshake time) where real clients do not.
    use rustls::crypto::ring::kx_group;
    provider.kx_groups = vec![kx_group::X25519, kx_group::SECP256R1, kx_group::SECP384R1];
    let provider = Arc::new(provider);
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.resumption = rustls::client::Resumption::disabled();
    CONFIG
        .set(Arc::new(config))
        .map_err(|_| "TLS enabled twice".to_string())
}

/// Whether this run speaks TLS.
pub fn enabled() -> bool {
    CONFIG.get().is_some()
}

/// A new client connection, if this run speaks TLS. Its send buffer is unbounded: the
/// scenarios bound what they queue themselves.
pub fn client() -> io::Result<Option<Box<ClientConnection>>> {
    let Some(config) = CONFIG.get() else {
        return Ok(None);
    };
    let name = ServerName::try_from(NAME).expect("a valid name");
    let mut c = ClientConnection::new(Arc::clone(config), name).map_err(io::Error::other)?;
    c.set_buffer_limit(None);
    Ok(Some(Box::new(c)))
}

/// A blocking stream during a connection's setup, plain or TLS.
pub enum Blocking {
    Plain(TcpStream),
    Tls(Box<StreamOwned<ClientConnection, TcpStream>>),
}

impl Blocking {
    pub fn new(s: TcpStream) -> io::Result<Self> {
        Ok(match client()? {
            None => Self::Plain(s),
            Some(c) => Self::Tls(Box::new(StreamOwned::new(*c, s))),
        })
    }

    pub fn tcp(&self) -> &TcpStream {
        match self {
            Self::Plain(s) => s,
            Self::Tls(s) => &s.sock,
        }
    }

    /// The socket, made non-blocking, and the TLS state with the plaintext it still holds
    /// appended to `rbuf`.
    pub fn into_parts(
        self,
        rbuf: &mut Vec<u8>,
    ) -> io::Result<(TcpStream, Option<Box<ClientConnection>>)> {
        match self {
            Self::Plain(s) => {
                s.set_nonblocking(true)?;
                Ok((s, None))
            }
            Self::Tls(s) => {
                let StreamOwned { mut conn, sock } = *s;
                sock.set_nonblocking(true)?;
                let mut chunk = [0u8; 4096];
                loop {
                    match conn.reader().read(&mut chunk) {
                        Ok(0) => return Err(io::Error::other("server closed during setup")),
                        Ok(n) => rbuf.extend_from_slice(&chunk[..n]),
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(e) => return Err(e),
                    }
                }
                conn.set_buffer_limit(None);
                Ok((sock, Some(Box::new(conn))))
            }
        }
    }
}

impl Read for Blocking {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Self::Plain(s) => s.read(buf),
            Self::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Blocking {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Self::Plain(s) => s.write(buf),
            Self::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Self::Plain(s) => s.flush(),
            Self::Tls(s) => s.flush(),
        }
    }
}

/// Reads records from the non-blocking `sock` into `tls` and its plaintext onto the end of
/// `rbuf[..*rlen]` (growing `rbuf` by `chunk` at a time) until the socket would block:
/// `Ok(false)` at the end of the stream.
pub fn fill(
    tls: &mut ClientConnection,
    sock: &mut mio::net::TcpStream,
    rbuf: &mut Vec<u8>,
    rlen: &mut usize,
    chunk: usize,
) -> io::Result<bool> {
    loop {
        // The plaintext rustls holds first: it takes no more records while it is full.
        loop {
            if rbuf.len() < *rlen + chunk {
                rbuf.resize(*rlen + chunk, 0);
            }
            match tls.reader().read(&mut rbuf[*rlen..]) {
                Ok(0) => return Ok(false),
                Ok(n) => *rlen += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e),
            }
        }
        match tls.read_tls(sock) {
            Ok(0) => return Ok(false),
            Ok(_) => {
                tls.process_new_packets().map_err(io::Error::other)?;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(true),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Encrypts `plain` and writes what records the non-blocking `sock` takes; the rest waits
/// in `tls` for the next call.
pub fn flush(
    tls: &mut ClientConnection,
    sock: &mut mio::net::TcpStream,
    plain: &[u8],
) -> io::Result<()> {
    if !plain.is_empty() {
        tls.writer().write_all(plain)?;
    }
    while tls.wants_write() {
        match tls.write_tls(sock) {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
