//! The opening handshake (RFC 6455 section 4): key, accept value, header checks, writers.
//!
//! The HTTP heads themselves are parsed and written by the caller (the `http` module); this
//! module only sees header values as bytes and writes header lines.

use core::fmt;

use super::sha1::Sha1;
use crate::http::{has_token, trim};
use crate::write::Writer;
use crate::{BufferTooSmall, base64};

/// The GUID appended to the client's key before hashing (RFC 6455 section 1.3).
pub const ACCEPT_GUID: &[u8; 36] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// The `Sec-WebSocket-Key` value: base64 of 16 random bytes (24 ASCII bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientKey([u8; 24]);

impl ClientKey {
    /// The key for 16 bytes from the caller's random source (fresh for each connection).
    pub fn from_random(random: [u8; 16]) -> Self {
        let mut text = [0u8; 24];
        // 16 bytes always encode to exactly 24.
        let _ = base64::encode(&random, &mut text);
        Self(text)
    }

    /// The key text.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The key text.
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// The `Sec-WebSocket-Accept` value a server must answer this key with.
    pub fn accept(&self) -> AcceptKey {
        AcceptKey::for_key(&self.0)
    }
}

/// The `Sec-WebSocket-Accept` value: base64 of a SHA-1 digest (28 ASCII bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AcceptKey([u8; 28]);

impl AcceptKey {
    /// Computes base64(SHA-1(`key` + GUID)) for a `Sec-WebSocket-Key` value, taken as is.
    pub fn for_key(key: &[u8]) -> Self {
        let mut h = Sha1::new();
        h.update(key);
        h.update(ACCEPT_GUID);
        let mut text = [0u8; 28];
        // 20 bytes always encode to exactly 28.
        let _ = base64::encode(&h.finalize(), &mut text);
        Self(text)
    }

    /// The accept text.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The accept text.
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(&self.0).unwrap_or_default()
    }
}

/// The parts of a client's upgrade request the server checks; header values as received
/// (`None` when the header is absent). A header sent on several lines must be joined with
/// `", "` first (RFC 9110 section 5.3) or checked line by line with [`has_token`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ClientHandshake<'a> {
    /// The request method; must be `GET`.
    pub method: &'a [u8],
    /// `Upgrade`; its token list must contain `websocket` (any case).
    pub upgrade: Option<&'a [u8]>,
    /// `Connection`; its token list must contain `upgrade` (any case).
    pub connection: Option<&'a [u8]>,
    /// `Sec-WebSocket-Version`; must be `13`.
    pub version: Option<&'a [u8]>,
    /// `Sec-WebSocket-Key`; must be base64 of 16 bytes (24 characters).
    pub key: Option<&'a [u8]>,
}

impl ClientHandshake<'_> {
    /// Checks the request (in the order of the fields) and returns the accept value to
    /// answer with. Surrounding spaces and tabs in values are ignored.
    #[must_use = "the accept key or error is the result"]
    pub fn validate(&self) -> Result<AcceptKey, HandshakeError> {
        if self.method != b"GET" {
            return Err(HandshakeError::MethodNotGet);
        }
        upgrade_headers(self.upgrade, self.connection)?;
        let version = self.version.ok_or(HandshakeError::VersionMissing)?;
        if trim(version) != b"13" {
            return Err(HandshakeError::VersionUnsupported);
        }
        let key = trim(self.key.ok_or(HandshakeError::KeyMissing)?);
        let mut raw = [0u8; 18];
        match base64::decode(key, &mut raw) {
            Ok(16) if key.len() == 24 => Ok(AcceptKey::for_key(key)),
            _ => Err(HandshakeError::KeyInvalid),
        }
    }
}

/// The `Upgrade: websocket` and `Connection: upgrade` checks both sides make.
fn upgrade_headers(
    upgrade: Option<&[u8]>,
    connection: Option<&[u8]>,
) -> Result<(), HandshakeError> {
    let upgrade = upgrade.ok_or(HandshakeError::UpgradeMissing)?;
    if !has_token(upgrade, b"websocket") {
        return Err(HandshakeError::UpgradeNotWebSocket);
    }
    let connection = connection.ok_or(HandshakeError::ConnectionMissing)?;
    if !has_token(connection, b"upgrade") {
        return Err(HandshakeError::ConnectionNotUpgrade);
    }
    Ok(())
}

/// The parts of a server's answer the client checks; header values as received.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ServerHandshake<'a> {
    /// The status code; must be 101.
    pub status: u16,
    /// `Upgrade`; its token list must contain `websocket` (any case).
    pub upgrade: Option<&'a [u8]>,
    /// `Connection`; its token list must contain `upgrade` (any case).
    pub connection: Option<&'a [u8]>,
    /// `Sec-WebSocket-Accept`; must match the key the client sent.
    pub accept: Option<&'a [u8]>,
}

impl ServerHandshake<'_> {
    /// Checks the response to a request that carried `key`.
    #[must_use = "the error is the result"]
    pub fn validate(&self, key: &ClientKey) -> Result<(), HandshakeError> {
        if self.status != 101 {
            return Err(HandshakeError::StatusNot101(self.status));
        }
        upgrade_headers(self.upgrade, self.connection)?;
        let accept = self.accept.ok_or(HandshakeError::AcceptMissing)?;
        if trim(accept) != key.accept().as_bytes() {
            return Err(HandshakeError::AcceptMismatch);
        }
        Ok(())
    }
}

/// Writes the server's whole `101 Switching Protocols` head (status line, `Upgrade`,
/// `Connection`, `Sec-WebSocket-Accept`, blank line) into `out`; returns its length.
pub fn write_server_response(accept: &AcceptKey, out: &mut [u8]) -> Result<usize, BufferTooSmall> {
    let mut w = Writer::new(out);
    w.put(b"HTTP/1.1 101 Switching Protocols\r\n");
    put_server_headers(accept, &mut w);
    w.put(b"\r\n");
    w.finish()
}

/// Writes only the server's three upgrade header lines (each ending in CRLF), for a caller
/// that writes the status line, other headers and the blank line itself.
pub fn write_server_headers(accept: &AcceptKey, out: &mut [u8]) -> Result<usize, BufferTooSmall> {
    let mut w = Writer::new(out);
    put_server_headers(accept, &mut w);
    w.finish()
}

fn put_server_headers(accept: &AcceptKey, w: &mut Writer<'_>) {
    w.put(b"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ");
    w.put(accept.as_bytes());
    w.put(b"\r\n");
}

/// Writes the client's four upgrade header lines (`Upgrade`, `Connection`,
/// `Sec-WebSocket-Key`, `Sec-WebSocket-Version: 13`, each ending in CRLF); the caller writes
/// the request line, `Host`, other headers and the blank line.
pub fn write_client_headers(key: &ClientKey, out: &mut [u8]) -> Result<usize, BufferTooSmall> {
    let mut w = Writer::new(out);
    put_client_headers(key, &mut w);
    w.finish()
}

/// The four lines of [`write_client_headers`], into a writer.
pub(crate) fn put_client_headers(key: &ClientKey, w: &mut Writer<'_>) {
    w.put(b"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ");
    w.put(key.as_bytes());
    w.put(b"\r\nSec-WebSocket-Version: 13\r\n");
}

/// Why an opening handshake was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum HandshakeError {
    /// The request method is not `GET`.
    MethodNotGet,
    /// No `Upgrade` header.
    UpgradeMissing,
    /// `Upgrade` does not list `websocket`.
    UpgradeNotWebSocket,
    /// No `Connection` header.
    ConnectionMissing,
    /// `Connection` does not list `upgrade`.
    ConnectionNotUpgrade,
    /// No `Sec-WebSocket-Version` header.
    VersionMissing,
    /// `Sec-WebSocket-Version` is not `13` (answer 426 with `Sec-WebSocket-Version: 13`,
    /// or 400).
    VersionUnsupported,
    /// No `Sec-WebSocket-Key` header.
    KeyMissing,
    /// `Sec-WebSocket-Key` is not base64 of 16 bytes.
    KeyInvalid,
    /// The server answered with another status than 101.
    StatusNot101(u16),
    /// No `Sec-WebSocket-Accept` header.
    AcceptMissing,
    /// `Sec-WebSocket-Accept` does not match the key sent.
    AcceptMismatch,
}

impl fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MethodNotGet => f.write_str("websocket handshake method is not GET"),
            Self::UpgradeMissing => f.write_str("missing Upgrade header"),
            Self::UpgradeNotWebSocket => f.write_str("Upgrade header does not list websocket"),
            Self::ConnectionMissing => f.write_str("missing Connection header"),
            Self::ConnectionNotUpgrade => f.write_str("Connection header does not list upgrade"),
            Self::VersionMissing => f.write_str("missing Sec-WebSocket-Version header"),
            Self::VersionUnsupported => f.write_str("Sec-WebSocket-Version is not 13"),
            Self::KeyMissing => f.write_str("missing Sec-WebSocket-Key header"),
            Self::KeyInvalid => f.write_str("Sec-WebSocket-Key is not base64 of 16 bytes"),
            Self::StatusNot101(s) => write!(f, "websocket handshake answered with status {s}"),
            Self::AcceptMissing => f.write_str("missing Sec-WebSocket-Accept header"),
            Self::AcceptMismatch => f.write_str("Sec-WebSocket-Accept does not match the key"),
        }
    }
}

impl core::error::Error for HandshakeError {}

#[cfg(test)]
mod tests {
    use super::*;

    const RFC_KEY: &[u8] = b"dGhlIHNhbXBsZSBub25jZQ==";
    const RFC_ACCEPT: &[u8] = b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

    fn good() -> ClientHandshake<'static> {
        ClientHandshake {
            method: b"GET",
            upgrade: Some(b"websocket"),
            connection: Some(b"Upgrade"),
            version: Some(b"13"),
            key: Some(RFC_KEY),
        }
    }

    #[test]
    fn rfc_6455_accept_example() {
        assert_eq!(AcceptKey::for_key(RFC_KEY).as_bytes(), RFC_ACCEPT);
        assert_eq!(
            AcceptKey::for_key(RFC_KEY).as_str(),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
        // The RFC's nonce is the 16 bytes "the sample nonce".
        let key = ClientKey::from_random(*b"the sample nonce");
        assert_eq!(key.as_bytes(), RFC_KEY);
        assert_eq!(key.as_str(), "dGhlIHNhbXBsZSBub25jZQ==");
        assert_eq!(key.accept().as_bytes(), RFC_ACCEPT);
    }

    #[test]
    fn server_accepts_and_writes_101() {
        let accept = good().validate().unwrap();
        assert_eq!(accept.as_bytes(), RFC_ACCEPT);
        let mut out = [0u8; 256];
        let n = write_server_response(&accept, &mut out).unwrap();
        assert_eq!(
            &out[..n],
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
        );
        assert_eq!(
            write_server_response(&accept, &mut out[..n - 1]),
            Err(BufferTooSmall { required: n })
        );
        let m = write_server_headers(&accept, &mut out).unwrap();
        assert_eq!(
            &out[..m],
            b"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
        );
    }

    #[test]
    fn server_tolerates_lists_case_and_spaces() {
        let hs = ClientHandshake {
            upgrade: Some(b"h2c, WebSocket"),
            connection: Some(b"keep-alive,\tUPGRADE "),
            version: Some(b" 13 "),
            key: Some(b" dGhlIHNhbXBsZSBub25jZQ== "),
            ..good()
        };
        assert_eq!(
            hs.validate().map(|a| a.0),
            Ok(*b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
        );
    }

    #[test]
    fn server_refusals() {
        use HandshakeError as E;
        let cases: [(ClientHandshake<'static>, HandshakeError); 14] = [
            (
                ClientHandshake {
                    method: b"POST",
                    ..good()
                },
                E::MethodNotGet,
            ),
            (
                ClientHandshake {
                    method: b"get",
                    ..good()
                },
                E::MethodNotGet,
            ),
            (
                ClientHandshake {
                    upgrade: None,
                    ..good()
                },
                E::UpgradeMissing,
            ),
            (
                ClientHandshake {
                    upgrade: Some(b"websockets"),
                    ..good()
                },
                E::UpgradeNotWebSocket,
            ),
            (
                ClientHandshake {
                    upgrade: Some(b""),
                    ..good()
                },
                E::UpgradeNotWebSocket,
            ),
            (
                ClientHandshake {
                    connection: None,
                    ..good()
                },
                E::ConnectionMissing,
            ),
            (
                ClientHandshake {
                    connection: Some(b"keep-alive"),
                    ..good()
                },
                E::ConnectionNotUpgrade,
            ),
            (
                ClientHandshake {
                    connection: Some(b"upgrade-ish"),
                    ..good()
                },
                E::ConnectionNotUpgrade,
            ),
            (
                ClientHandshake {
                    version: None,
                    ..good()
                },
                E::VersionMissing,
            ),
            (
                ClientHandshake {
                    version: Some(b"8"),
                    ..good()
                },
                E::VersionUnsupported,
            ),
            (
                ClientHandshake {
                    version: Some(b"13, 8"),
                    ..good()
                },
                E::VersionUnsupported,
            ),
            (
                ClientHandshake {
                    key: None,
                    ..good()
                },
                E::KeyMissing,
            ),
            // 15 bytes of base64.
            (
                ClientHandshake {
                    key: Some(b"dGhlIHNhbXBsZSBub25jZQ="),
                    ..good()
                },
                E::KeyInvalid,
            ),
            // 16 bytes, but unpadded (22 characters).
            (
                ClientHandshake {
                    key: Some(b"dGhlIHNhbXBsZSBub25jZQ"),
                    ..good()
                },
                E::KeyInvalid,
            ),
        ];
        for (hs, want) in cases {
            assert_eq!(hs.validate(), Err(want), "{hs:?}");
        }
        let not_b64 = ClientHandshake {
            key: Some(b"dGhlIHNhbXBsZSBub25jZ*=="),
            ..good()
        };
        assert_eq!(not_b64.validate(), Err(E::KeyInvalid));
        let too_long = ClientHandshake {
            key: Some(b"dGhlIHNhbXBsZSBub25jZQ==AAAA"),
            ..good()
        };
        assert_eq!(too_long.validate(), Err(E::KeyInvalid));
    }

    #[test]
    fn client_writes_headers_and_checks_answer() {
        let key = ClientKey::from_random(*b"the sample nonce");
        let mut out = [0u8; 160];
        let n = write_client_headers(&key, &mut out).unwrap();
        assert_eq!(
            &out[..n],
            b"Upgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        );
        assert_eq!(
            write_client_headers(&key, &mut out[..10]),
            Err(BufferTooSmall { required: n })
        );

        let ok = ServerHandshake {
            status: 101,
            upgrade: Some(b"websocket"),
            connection: Some(b"Upgrade"),
            accept: Some(RFC_ACCEPT),
        };
        assert_eq!(ok.validate(&key), Ok(()));
        use HandshakeError as E;
        assert_eq!(
            ServerHandshake { status: 200, ..ok }.validate(&key),
            Err(E::StatusNot101(200))
        );
        assert_eq!(
            ServerHandshake {
                upgrade: None,
                ..ok
            }
            .validate(&key),
            Err(E::UpgradeMissing)
        );
        assert_eq!(
            ServerHandshake {
                upgrade: Some(b"h2"),
                ..ok
            }
            .validate(&key),
            Err(E::UpgradeNotWebSocket)
        );
        assert_eq!(
            ServerHandshake {
                connection: None,
                ..ok
            }
            .validate(&key),
            Err(E::ConnectionMissing)
        );
        assert_eq!(
            ServerHandshake {
                connection: Some(b"close"),
                ..ok
            }
            .validate(&key),
            Err(E::ConnectionNotUpgrade)
        );
        assert_eq!(
            ServerHandshake { accept: None, ..ok }.validate(&key),
            Err(E::AcceptMissing)
        );
        let other = ClientKey::from_random([7; 16]);
        assert_eq!(ok.validate(&other), Err(E::AcceptMismatch));
        assert_eq!(
            ServerHandshake {
                accept: Some(b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo"),
                ..ok
            }
            .validate(&key),
            Err(E::AcceptMismatch)
        );
    }

    #[test]
    fn token_lists() {
        assert!(has_token(b"Upgrade", b"upgrade"));
        assert!(has_token(b"a, b ,upgrade", b"upgrade"));
        assert!(!has_token(b"", b"upgrade"));
        assert!(!has_token(b"up grade", b"upgrade"));
        assert!(!has_token(b",,", b"upgrade"));
    }
}
