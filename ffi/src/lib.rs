//! The C ABI of siocore (`libsiocore`, header `include/siocore.h`).
//!
//! # Conventions
//!
//! These hold for every function of the header (they are repeated at its top):
//!
//! * Names start with `sio_` (types, functions) or `SIO_` (constants).
//! * Objects are opaque handles made by a `*_new` function (on the heap) or a `*_new_in` one
//!   (in a block the caller lends, aligned to `SIO_MEMORY_ALIGN`) and destroyed by its
//!   `*_free`, exactly once; `*_free` accepts `NULL`.
//! * Every fallible function returns a `sio_result` with a stable number; `SIO_OK` is 0.
//!   Outputs go through pointer arguments, after the inputs, and are written only when the
//!   result is `SIO_OK` (or where a result says otherwise, such as `SIO_BUFFER_TOO_SMALL`
//!   writing the size needed). `sio_result_str` names a result.
//! * Every pointer argument is checked: `NULL` where a value is needed gives
//!   `SIO_NULL_ARGUMENT`. A `(pointer, length)` pair with length 0 may have a `NULL`
//!   pointer.
//! * Names (events, rooms, namespaces, messages) are NUL-terminated UTF-8 strings; payloads
//!   are `(pointer, length)` byte ranges. Ids (`sio_stream`, `sio_session`, `sio_socket`)
//!   are 64-bit values, stale once their object ended.
//! * Borrowed views (`sio_bytes` in a `sio_event`) stay valid until the next poll for an
//!   event on the same handle, or its free (a command may take them as arguments); in a
//!   loop callback, during the call.
//! * Output buffers belong to the caller; one too small gives `SIO_BUFFER_TOO_SMALL` and the
//!   size needed, and nothing is lost. The strings and arrays a configuration or a call
//!   points to are copied or read before it returns: none needs to outlive it (memory lent
//!   to a `*_new_in` handle must).
//! * A handle is used by one thread at a time (no internal locking); only
//!   `sio_server_loop_stop` may be called from another thread.
//! * A Rust panic never crosses into C: it is caught and returned as `SIO_PANIC` (the
//!   handle should then be freed). Without `std` (a bare-metal build) nothing unwinds: a
//!   panic calls the C library's `abort`.
//!
//! # Builds
//!
//! The default feature `std` brings the heap constructors and the ready loops (mio).
//! Without it (`--no-default-features`) the crate is `no_std`, uses no allocator and builds
//! for bare-metal targets such as `thumbv7em-none-eabihf`: handles live in lent memory
//! (`sio_server_new_in`, `sio_client_new_in`). Connection state recovery comes with `std`;
//! a bare-metal build adds it with the feature `recovery` (without it, its calls and
//! settings give `SIO_UNSUPPORTED`).

#![no_std]
#![allow(non_camel_case_types, non_snake_case)]
// The C boundary is raw pointers; every unsafe block says why it holds.
#![allow(unsafe_code)]
// Every function's safety contract is the same, written once: the conventions above (and at
// the top of the header): live handles or NULL, pointers valid for what they say.
#![allow(clippy::missing_safety_doc)]
#![deny(clippy::undocumented_unsafe_blocks)]

#[cfg(feature = "std")]
extern crate std;

mod client;
#[cfg(feature = "std")]
mod client_loop;
mod cluster;
mod memory;
#[cfg(feature = "std")]
mod ready;
mod server;

pub use client::*;
#[cfg(feature = "std")]
pub use client_loop::*;
pub use cluster::*;
pub use memory::SIO_MEMORY_ALIGN;
#[cfg(feature = "std")]
pub use ready::*;
pub use server::*;

use core::ffi::{CStr, c_char};

use siocore::server::{CommandError, Resource};

/// The result of every fallible call. The numbers are stable.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum sio_result {
    /// Done.
    SIO_OK = 0,
    /// Nothing to report (a poll found nothing).
    SIO_EMPTY = 1,
    /// The output buffer is too short: the size needed was written.
    SIO_BUFFER_TOO_SMALL = 2,
    /// A pointer argument was `NULL`.
    SIO_NULL_ARGUMENT = 100,
    /// An argument is not acceptable: not UTF-8, an invalid configuration, an address that
    /// does not parse.
    SIO_INVALID_ARGUMENT = 101,
    /// A panic was caught; free the handle.
    SIO_PANIC = 102,
    /// The library was built without what the call or setting needs (connection state
    /// recovery in a bare-metal build without the feature `recovery`).
    SIO_UNSUPPORTED = 103,
    /// The stream id is stale or unknown.
    SIO_UNKNOWN_STREAM = 200,
    /// The session id is stale or the session ended.
    SIO_UNKNOWN_SESSION = 201,
    /// The socket id is stale or the socket left.
    SIO_UNKNOWN_SOCKET = 202,
    /// The call does not fit the state of its target.
    SIO_WRONG_STATE = 203,
    /// The arguments are not a valid JSON list.
    SIO_INVALID_JSON = 204,
    /// Placeholders and attachments do not match.
    SIO_ATTACHMENT_MISMATCH = 205,
    /// A name is too long or holds what it may not.
    SIO_INVALID_NAME = 206,
    /// A response head that cannot be written.
    SIO_INVALID_RESPONSE = 207,
    /// The client's queue was full: its session was closed.
    SIO_SLOW_READER = 208,
    /// The namespace does not exist.
    SIO_UNKNOWN_NAMESPACE = 209,
    /// A cluster message that cannot be read, or names too many rooms or attachments.
    SIO_MALFORMED_MESSAGE = 210,
    /// A table of the server is full (sessions, streams, sockets, …).
    SIO_TABLE_FULL = 300,
    /// The byte pool is full.
    SIO_POOL_FULL = 301,
    /// The socket already holds its configured share of a table: `max_rooms_per_socket`
    /// rooms, or `max_acks_per_socket` awaited acks.
    SIO_SOCKET_LIMIT = 302,
    /// The cluster's outbox cannot take the message for the other servers (the pub/sub is
    /// slow or away): it was dropped and counted; what was local is done.
    SIO_OUTBOX_FULL = 303,
    /// An operating-system error in a ready loop (bind, poll, connect); `errno` holds the
    /// system's code (`strerror(errno)` says it), as for the four below.
    SIO_IO_ERROR = 400,
    /// The address to listen on is in use (`EADDRINUSE`): another program has the port.
    SIO_ADDRESS_IN_USE = 401,
    /// The address to listen on is not one of this machine's (`EADDRNOTAVAIL`).
    SIO_ADDRESS_NOT_AVAILABLE = 402,
    /// The system refused (`EACCES`): a port below 1024 without the privilege, say.
    SIO_PERMISSION_DENIED = 403,
    /// The URL's host name does not resolve (no such host, or no resolver answered); a
    /// malformed URL is `SIO_INVALID_ARGUMENT`.
    SIO_UNRESOLVED_HOST = 404,
    /// This libsiocore was built without TLS (the feature `tls`).
    SIO_TLS_UNSUPPORTED = 500,
    /// A certificate, key or CA file cannot be read.
    SIO_TLS_FILE = 501,
    /// The certificate PEM holds no certificate, or one that is not well-formed.
    SIO_TLS_CERTIFICATE = 502,
    /// The key PEM holds no private key (PKCS #8, PKCS #1 or SEC1), or one that is not
    /// well-formed.
    SIO_TLS_PRIVATE_KEY = 503,
    /// The key does not suit the certificate, or a CA certificate cannot be a trust anchor.
    SIO_TLS_REJECTED = 504,
    /// The server's certificate does not chain to a trusted CA (`SIO_CLIENT_EVENT_TLS_ERROR`).
    SIO_TLS_UNTRUSTED_CERTIFICATE = 510,
    /// The server's certificate is not valid for the URL's host.
    SIO_TLS_NAME_MISMATCH = 511,
    /// The server's certificate expired, or is not valid yet.
    SIO_TLS_EXPIRED_CERTIFICATE = 512,
    /// Another problem with the server's certificate (revoked, bad signature, wrong purpose).
    SIO_TLS_BAD_CERTIFICATE = 513,
    /// The peer refused the handshake with an alert.
    SIO_TLS_HANDSHAKE_REFUSED = 514,
    /// Bytes that are not TLS, or TLS that breaks the protocol.
    SIO_TLS_PROTOCOL = 515,
}

pub use sio_result::*;

impl From<CommandError> for sio_result {
    fn from(e: CommandError) -> Self {
        match e {
            CommandError::UnknownStream => SIO_UNKNOWN_STREAM,
            CommandError::UnknownSession => SIO_UNKNOWN_SESSION,
            CommandError::UnknownSocket => SIO_UNKNOWN_SOCKET,
            CommandError::WrongState => SIO_WRONG_STATE,
            CommandError::InvalidJson(_) => SIO_INVALID_JSON,
            CommandError::AttachmentMismatch { .. } => SIO_ATTACHMENT_MISMATCH,
            CommandError::InvalidName => SIO_INVALID_NAME,
            CommandError::InvalidResponse => SIO_INVALID_RESPONSE,
            CommandError::SlowReader => SIO_SLOW_READER,
            CommandError::Full(Resource::Pool) => SIO_POOL_FULL,
            CommandError::Full(_) => SIO_TABLE_FULL,
            CommandError::SocketLimit(_) => SIO_SOCKET_LIMIT,
            _ => SIO_WRONG_STATE,
        }
    }
}

#[cfg(feature = "tls")]
impl From<&siocore::driver::TlsConfigError> for sio_result {
    fn from(e: &siocore::driver::TlsConfigError) -> Self {
        use siocore::driver::TlsConfigError as E;
        match e {
            E::Read { .. } => SIO_TLS_FILE,
            E::Certificate(_) => SIO_TLS_CERTIFICATE,
            E::PrivateKey(_) => SIO_TLS_PRIVATE_KEY,
            E::ServerName(_) => SIO_INVALID_ARGUMENT,
            _ => SIO_TLS_REJECTED,
        }
    }
}

#[cfg(feature = "tls")]
impl From<siocore::driver::TlsErrorKind> for sio_result {
    fn from(kind: siocore::driver::TlsErrorKind) -> Self {
        use siocore::driver::TlsErrorKind as K;
        match kind {
            K::UntrustedCertificate => SIO_TLS_UNTRUSTED_CERTIFICATE,
            K::NameMismatch => SIO_TLS_NAME_MISMATCH,
            K::Expired => SIO_TLS_EXPIRED_CERTIFICATE,
            K::BadCertificate => SIO_TLS_BAD_CERTIFICATE,
            K::Refused => SIO_TLS_HANDSHAKE_REFUSED,
            _ => SIO_TLS_PROTOCOL,
        }
    }
}

/// A static, NUL-terminated description of a result (never `NULL`).
#[unsafe(no_mangle)]
pub extern "C" fn sio_result_str(result: sio_result) -> *const c_char {
    let s: &'static CStr = match result {
        SIO_OK => c"ok",
        SIO_EMPTY => c"nothing to report",
        SIO_BUFFER_TOO_SMALL => c"output buffer too small",
        SIO_NULL_ARGUMENT => c"NULL argument",
        SIO_INVALID_ARGUMENT => c"invalid argument",
        SIO_PANIC => c"internal panic (a bug); free the handle",
        SIO_UNSUPPORTED => c"not compiled into this build of the library",
        SIO_UNKNOWN_STREAM => c"unknown or closed stream",
        SIO_UNKNOWN_SESSION => c"unknown or closed session",
        SIO_UNKNOWN_SOCKET => c"unknown or disconnected socket",
        SIO_WRONG_STATE => c"call not allowed in this state",
        SIO_INVALID_JSON => c"invalid JSON arguments",
        SIO_ATTACHMENT_MISMATCH => c"placeholders do not match the attachments",
        SIO_INVALID_NAME => c"invalid or too long name",
        SIO_INVALID_RESPONSE => c"invalid HTTP response head",
        SIO_SLOW_READER => c"client queue full: session closed",
        SIO_UNKNOWN_NAMESPACE => c"unknown namespace",
        SIO_MALFORMED_MESSAGE => c"malformed cluster message",
        SIO_TABLE_FULL => c"server table full",
        SIO_POOL_FULL => c"server byte pool full",
        SIO_SOCKET_LIMIT => c"the socket's share of a table is used up",
        SIO_OUTBOX_FULL => c"cluster outbox full: message for the other servers dropped",
        SIO_IO_ERROR => c"operating system error",
        SIO_ADDRESS_IN_USE => c"address already in use",
        SIO_ADDRESS_NOT_AVAILABLE => c"address not available on this machine",
        SIO_PERMISSION_DENIED => c"permission denied",
        SIO_UNRESOLVED_HOST => c"the host name does not resolve",
        SIO_TLS_UNSUPPORTED => c"this libsiocore was built without TLS",
        SIO_TLS_FILE => c"a TLS certificate, key or CA file cannot be read",
        SIO_TLS_CERTIFICATE => c"no usable certificate in the PEM",
        SIO_TLS_PRIVATE_KEY => c"no usable private key in the PEM",
        SIO_TLS_REJECTED => c"the key does not suit the certificate, or the CA is unusable",
        SIO_TLS_UNTRUSTED_CERTIFICATE => c"the server's certificate is not trusted",
        SIO_TLS_NAME_MISMATCH => c"the server's certificate is not valid for its name",
        SIO_TLS_EXPIRED_CERTIFICATE => c"the server's certificate is expired or not yet valid",
        SIO_TLS_BAD_CERTIFICATE => c"the server's certificate was refused",
        SIO_TLS_HANDSHAKE_REFUSED => c"the peer refused the TLS handshake",
        SIO_TLS_PROTOCOL => c"TLS protocol error",
    };
    s.as_ptr()
}

/// The library version, `"MAJOR.MINOR.PATCH"`, the same as `SIOCORE_VERSION` in the header
/// the program was compiled with when both come from the same release.
#[unsafe(no_mangle)]
pub extern "C" fn sio_version() -> *const c_char {
    const VERSION: &CStr =
        match CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
            Ok(v) => v,
            Err(_) => c"?",
        };
    VERSION.as_ptr()
}

/// A borrowed byte range. Where it comes from the library, it is valid until the next call
/// on the same handle.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct sio_bytes {
    /// The first byte (may be `NULL` when `len` is 0).
    pub ptr: *const u8,
    /// How many bytes.
    pub len: usize,
}

impl sio_bytes {
    const EMPTY: Self = Self {
        ptr: core::ptr::null(),
        len: 0,
    };

    fn of(bytes: &[u8]) -> Self {
        Self {
            ptr: bytes.as_ptr(),
            len: bytes.len(),
        }
    }
}

/// Runs `body`, turning a panic into `on_panic`.
#[cfg(feature = "std")]
fn boundary<T>(on_panic: T, body: impl FnOnce() -> T) -> T {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)).unwrap_or(on_panic)
}

/// Runs `body`. Without `std` nothing unwinds: a panic (a bug) ends in the panic handler
/// below, which calls the C library's `abort`.
#[cfg(not(feature = "std"))]
fn boundary<T>(_on_panic: T, body: impl FnOnce() -> T) -> T {
    body()
}

#[cfg(not(feature = "std"))]
unsafe extern "C" {
    fn abort() -> !;
}

/// Without `std`, a panic (a bug: the library is written not to panic) calls `abort` from
/// the C library the firmware links (newlib has one).
#[cfg(not(feature = "std"))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    // SAFETY: `abort` takes nothing and does not return.
    unsafe { abort() }
}

/// The bytes of a `(ptr, len)` pair, `None` for `NULL` with a length.
///
/// # Safety
/// `ptr` must be `NULL` or point to `len` readable bytes that stay valid and unchanged for
/// `'a`.
unsafe fn bytes<'a>(ptr: *const u8, len: usize) -> Option<&'a [u8]> {
    if len == 0 {
        return Some(&[]);
    }
    if ptr.is_null() {
        return None;
    }
    // SAFETY: the caller promises `len` readable bytes at `ptr`.
    Some(unsafe { core::slice::from_raw_parts(ptr, len) })
}

/// The text of a NUL-terminated C string, if it is one and is UTF-8.
///
/// # Safety
/// `ptr` must be `NULL` or a NUL-terminated string valid for `'a`.
unsafe fn text<'a>(ptr: *const c_char) -> Result<&'a str, sio_result> {
    if ptr.is_null() {
        return Err(SIO_NULL_ARGUMENT);
    }
    // SAFETY: the caller promises a NUL-terminated string.
    let c = unsafe { CStr::from_ptr(ptr) };
    c.to_str().map_err(|_| SIO_INVALID_ARGUMENT)
}

/// The result for an operating-system error of a ready loop, with `errno` set to the
/// system's code (when there is one) so that C can `strerror(errno)` it.
#[cfg(feature = "std")]
pub(crate) fn io_result(e: &std::io::Error) -> sio_result {
    use std::io::ErrorKind;
    #[cfg(target_os = "linux")]
    if let Some(code) = e.raw_os_error() {
        unsafe extern "C" {
            fn __errno_location() -> *mut core::ffi::c_int;
        }
        // SAFETY: glibc and musl give the calling thread's `errno`, always valid.
        unsafe { *__errno_location() = code };
    }
    match e.kind() {
        ErrorKind::AddrInUse => SIO_ADDRESS_IN_USE,
        ErrorKind::AddrNotAvailable => SIO_ADDRESS_NOT_AVAILABLE,
        ErrorKind::PermissionDenied => SIO_PERMISSION_DENIED,
        ErrorKind::InvalidInput => SIO_INVALID_ARGUMENT,
        _ => SIO_IO_ERROR,
    }
}

/// Runs a command body on a handle (a server or a client): NULL check and panic boundary.
fn with<H>(handle: *mut H, f: impl FnOnce(&mut H) -> Result<sio_result, sio_result>) -> sio_result {
    boundary(SIO_PANIC, || {
        // SAFETY: the C caller passes a live handle or NULL.
        let Some(h) = (unsafe { handle.as_mut() }) else {
            return SIO_NULL_ARGUMENT;
        };
        f(h).unwrap_or_else(|e| e)
    })
}

/// Runs a getter's body on a handle it does not change: NULL check and panic boundary.
fn with_ref<H>(
    handle: *const H,
    f: impl FnOnce(&H) -> Result<sio_result, sio_result>,
) -> sio_result {
    boundary(SIO_PANIC, || {
        // SAFETY: the C caller passes a live handle or NULL.
        let Some(h) = (unsafe { handle.as_ref() }) else {
            return SIO_NULL_ARGUMENT;
        };
        f(h).unwrap_or_else(|e| e)
    })
}

/// Drops a handle made by `Box::into_raw`; `NULL` is ignored. A panic in its drop stops at
/// the C boundary.
///
/// # Safety
/// `ptr` must be `NULL` or come from `Box::into_raw` and not be used after.
#[cfg(feature = "std")]
unsafe fn free_box<T>(ptr: *mut T) {
    boundary((), || {
        if !ptr.is_null() {
            // SAFETY: per the contract.
            drop(unsafe { std::boxed::Box::from_raw(ptr) });
        }
    });
}

/// The 32 seed bytes at `seed`.
///
/// # Safety
/// `seed` must point to 32 readable bytes.
unsafe fn seed(seed: *const u8) -> [u8; 32] {
    let mut key = [0u8; 32];
    // SAFETY: per the contract.
    key.copy_from_slice(unsafe { core::slice::from_raw_parts(seed, 32) });
    key
}

/// The strings of a C string array, copied into `out` (which must have room for `len`);
/// `SIO_INVALID_ARGUMENT` when it has not.
///
/// # Safety
/// `list` must point to `len` NUL-terminated strings (or be `NULL` with `len` 0).
unsafe fn strings<'a, 'o>(
    list: *const *const c_char,
    len: usize,
    out: &'o mut [&'a str],
) -> Result<&'o [&'a str], sio_result> {
    if len == 0 {
        return Ok(&[]);
    }
    if list.is_null() {
        return Err(SIO_NULL_ARGUMENT);
    }
    let out = out.get_mut(..len).ok_or(SIO_INVALID_ARGUMENT)?;
    for (i, slot) in out.iter_mut().enumerate() {
        // SAFETY: `len` pointers, each NUL-terminated, per the contract.
        *slot = unsafe { text(*list.add(i)) }?;
    }
    Ok(out)
}

/// Writes `value` through `out` when it is not `NULL`.
///
/// # Safety
/// `out` must be `NULL` or valid for writing a `T`.
unsafe fn put<T>(out: *mut T, value: T) -> sio_result {
    if out.is_null() {
        return SIO_NULL_ARGUMENT;
    }
    // SAFETY: checked non-NULL; the caller promises it is writable.
    unsafe { out.write(value) };
    SIO_OK
}
