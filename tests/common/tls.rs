//! TLS for the tests: a certificate authority and a server certificate made with rcgen
//! when the test runs (nothing committed, nothing that expires), and a blocking TLS client
//! stream over a std `TcpStream` for raw requests.

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use siocore::driver::rustls::pki_types::ServerName;
use siocore::driver::rustls::{ClientConfig, ClientConnection, StreamOwned};
use siocore::driver::{ClientTls, ServerTls};

/// A blocking TLS client stream.
pub type TlsStream = StreamOwned<ClientConnection, TcpStream>;

/// A CA and a server certificate it issued, as PEM text and as files in a directory of
/// their own (removed on drop): `ca.pem`, `cert.pem` (the server's certificate, then the
/// CA's, as a `fullchain.pem`), `key.pem`.
pub struct Pki {
    pub dir: PathBuf,
    pub ca_pem: String,
    pub cert_pem: String,
    pub key_pem: String,
}

impl Pki {
    /// A fresh CA, and a certificate for `names` (DNS names or IP addresses) it issued.
    pub fn new(names: &[&str]) -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::SeqCst);
        let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(DnType::CommonName, format!("siocore test CA {n}"));
        ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().expect("CA key"))
            .expect("CA certificate");
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut leaf = CertificateParams::new(names).expect("server params");
        leaf.distinguished_name
            .push(DnType::CommonName, "siocore test server");
        leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let key = KeyPair::generate().expect("server key");
        let cert = leaf.signed_by(&key, &ca).expect("server certificate");
        let dir = std::env::temp_dir().join(format!("siocore-tls-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        let pki = Self {
            dir,
            ca_pem: ca.pem(),
            cert_pem: format!("{}{}", cert.pem(), ca.pem()),
            key_pem: key.serialize_pem(),
        };
        std::fs::write(pki.ca(), &pki.ca_pem).expect("write");
        std::fs::write(pki.cert(), &pki.cert_pem).expect("write");
        std::fs::write(pki.key(), &pki.key_pem).expect("write");
        pki
    }

    pub fn ca(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    pub fn cert(&self) -> PathBuf {
        self.dir.join("cert.pem")
    }

    pub fn key(&self) -> PathBuf {
        self.dir.join("key.pem")
    }

    /// What a server serves with.
    pub fn server_tls(&self) -> ServerTls {
        ServerTls::from_pem(self.cert_pem.as_bytes(), self.key_pem.as_bytes()).expect("server TLS")
    }

    /// A client that trusts this CA alone.
    pub fn client_tls(&self) -> ClientTls {
        ClientTls::from_ca_pem(self.ca_pem.as_bytes()).expect("client TLS")
    }

    /// The rustls configuration of [`client_tls`](Self::client_tls).
    pub fn rustls_client(&self) -> Arc<ClientConfig> {
        Arc::clone(self.client_tls().rustls())
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub fn path(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 path")
}

/// A TLS stream to `addr`, checking the certificate for `name`; reads time out after 10 s.
/// The handshake is done before it returns.
pub fn connect(addr: SocketAddr, config: &Arc<ClientConfig>, name: &str) -> TlsStream {
    let sock = TcpStream::connect(addr).expect("connect");
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let name = ServerName::try_from(name.to_string()).expect("a server name");
    let conn = ClientConnection::new(Arc::clone(config), name).expect("a TLS client");
    let mut stream = StreamOwned::new(conn, sock);
    while stream.conn.is_handshaking() {
        stream
            .conn
            .complete_io(&mut stream.sock)
            .expect("the TLS handshake");
    }
    stream
}
