//! The ready client loop for C: `sio_client_loop_*`, the mio client driver with a C
//! callback (not in a bare-metal build).

use core::ffi::{c_char, c_void};
use std::boxed::Box;
use std::vec::Vec;

use siocore::Instant;
use siocore::client::Client;
use siocore::driver::{ClientDriver, ServerUrl, Wake, os_seed};

use crate::client::{
    CLIENT_VIEWS, ClientInner, Leaked, SIO_CLIENT_MAX_ACKS, SIO_CLIENT_MAX_NAMESPACES,
    SIO_RECOVERY_STATE_LEN, build, c_event, restore_recovery, sio_client, sio_client_config,
    sio_client_event,
};
use crate::memory::Buf;
use crate::{
    SIO_INVALID_ARGUMENT, SIO_IO_ERROR, SIO_NULL_ARGUMENT, SIO_OK, SIO_PANIC,
    SIO_UNKNOWN_NAMESPACE, boundary, sio_bytes, sio_result, strings, text, with,
};

/// Called by `sio_client_loop_run` for every event. `client` is valid only during the call:
/// use it for commands (emit, ack, connect, close), never for polling or freeing. Return
/// `false` to end the run.
pub type sio_client_event_cb = Option<
    unsafe extern "C" fn(
        userdata: *mut c_void,
        client: *mut sio_client,
        event: *const sio_client_event,
        now_ms: u64,
    ) -> bool,
>;

/// A ready client loop (opaque): its streams, timers, one thread.
pub struct sio_client_loop {
    driver: ClientDriver<'static, SIO_CLIENT_MAX_NAMESPACES, SIO_CLIENT_MAX_ACKS>,
    /// The host its certificate is checked for, when the URL is `https://` or `wss://`.
    #[cfg_attr(not(feature = "tls"), allow(dead_code))]
    tls_name: Option<std::string::String>,
    // Dropped after the driver (declared after it): the memory its client borrows.
    _leaked: Leaked,
}

impl core::fmt::Debug for sio_client_loop {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("sio_client_loop").finish_non_exhaustive()
    }
}

/// Creates a loop for a client connecting to `url` (`"http://host:port"`, or
/// `"https://host[:port]"` and `"wss://…"` for TLS, checked against Mozilla's roots until
/// `sio_client_loop_set_ca` says otherwise; `SIO_TLS_UNSUPPORTED` from a library built
/// without TLS); `config`'s `host` may be `NULL` (then the URL's is used). Ids and masks are seeded from the
/// operating system. `namespaces` (`namespaces_len` names, `NULL` for just `"/"`) are
/// joined without auth; use `sio_client_connect` in the callback for more.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sio_client_loop_new(
    config: *const sio_client_config,
    url: *const c_char,
    namespaces: *const *const c_char,
    namespaces_len: usize,
    out: *mut *mut sio_client_loop,
) -> sio_result {
    boundary(SIO_PANIC, || {
        if config.is_null() || out.is_null() {
            return SIO_NULL_ARGUMENT;
        }
        // SAFETY: NUL-terminated per the contract.
        let url = match unsafe { text(url) } {
            Ok(u) => u,
            Err(e) => return e,
        };
        let server = match ServerUrl::parse(url) {
            Ok(s) => s,
            Err(e) if e.kind() == std::io::ErrorKind::InvalidInput => return SIO_INVALID_ARGUMENT,
            Err(_) => return crate::SIO_UNRESOLVED_HOST,
        };
        if server.tls && cfg!(not(feature = "tls")) {
            return crate::SIO_TLS_UNSUPPORTED;
        }
        // SAFETY: a caller's configuration.
        let mut c = unsafe { *config };
        let host = std::ffi::CString::new(server.host.clone()).unwrap_or_default();
        if c.host.is_null() {
            c.host = host.as_ptr();
        }
        let Ok(seed) = os_seed() else {
            return SIO_IO_ERROR;
        };
        // SAFETY: the configuration's pointers per the contract; `host` lives until
        // `build` copied it.
        let (mut client, leaked) = match unsafe { build(&c, seed) } {
            Ok(x) => x,
            Err(e) => return e,
        };
        let mut names = Vec::new();
        if !namespaces.is_null() {
            names.resize(namespaces_len, "");
            // SAFETY: `namespaces_len` strings per the contract.
            if let Err(e) = unsafe { strings(namespaces, namespaces_len, &mut names) } {
                return e;
            }
        }
        if names.is_empty() {
            names.push("/");
        }
        for n in names {
            if let Err(e) = client.connect(n, None) {
                return sio_result::from(e);
            }
        }
        let mut driver = match ClientDriver::new(client, server.addr) {
            Ok(d) => d,
            Err(e) => return crate::io_result(&e),
        };
        let tls_name = server.tls.then(|| server.name.clone());
        if let Some(name) = &tls_name
            && let Err(e) = default_tls(&mut driver, name)
        {
            return e;
        }
        let handle = Box::new(sio_client_loop {
            driver,
            tls_name,
            _leaked: leaked,
        });
        // SAFETY: checked non-NULL.
        unsafe { out.write(Box::into_raw(handle)) };
        SIO_OK
    })
}

/// Gives namespace `namespace_index` (the order of `namespaces` in `sio_client_loop_new`)
/// a session to resume, as `sio_client_restore_recovery` does: call it before
/// `sio_client_loop_run`, with a state an earlier client kept. Inside the callback, use
/// `sio_client_recovery_state` and `sio_client_restore_recovery` on its client.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sio_client_loop_restore_recovery(
    lp: *mut sio_client_loop,
    namespace_index: u32,
    state: *const u8,
) -> sio_result {
    with(lp, |l| {
        let ns = u8::try_from(namespace_index)
            .map(siocore::client::NamespaceId::from_index)
            .map_err(|_| SIO_UNKNOWN_NAMESPACE)?;
        if state.is_null() {
            return Err(SIO_NULL_ARGUMENT);
        }
        // SAFETY: `SIO_RECOVERY_STATE_LEN` readable bytes per the contract.
        let state = unsafe { &*state.cast::<[u8; SIO_RECOVERY_STATE_LEN]>() };
        restore_recovery(l.driver.client(), ns, state)
    })
}

type LoopDriver = ClientDriver<'static, SIO_CLIENT_MAX_NAMESPACES, SIO_CLIENT_MAX_ACKS>;

/// An https loop trusts Mozilla's roots to begin with.
#[cfg(feature = "tls")]
fn default_tls(driver: &mut LoopDriver, name: &str) -> Result<(), sio_result> {
    let roots = siocore::driver::ClientTls::webpki_roots();
    driver
        .set_tls(roots, name)
        .map_err(|e| sio_result::from(&e))
}

#[cfg(not(feature = "tls"))]
fn default_tls(_: &mut LoopDriver, _: &str) -> Result<(), sio_result> {
    Err(crate::SIO_TLS_UNSUPPORTED)
}

/// Trusts the certificate authorities in the PEM file at `ca_path` and no others (a private
/// CA, a self-signed server), instead of Mozilla's roots, for a loop made with an
/// `https://` or `wss://` URL (before `sio_client_loop_run`).
///
/// Returns `SIO_TLS_FILE` when the file cannot be read, `SIO_TLS_CERTIFICATE` when it holds
/// no certificate, `SIO_TLS_REJECTED` when one cannot be a trust anchor, `SIO_WRONG_STATE`
/// for a loop on a plain `http://` URL, `SIO_TLS_UNSUPPORTED` from a library built without
/// TLS; the loop is unchanged then.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sio_client_loop_set_ca(
    lp: *mut sio_client_loop,
    ca_path: *const c_char,
) -> sio_result {
    boundary(SIO_PANIC, || {
        // SAFETY: a live loop or NULL.
        let Some(l) = (unsafe { lp.as_mut() }) else {
            return SIO_NULL_ARGUMENT;
        };
        // SAFETY: NUL-terminated per the contract.
        let path = match unsafe { text(ca_path) } {
            Ok(p) => p,
            Err(e) => return e,
        };
        set_ca(l, path)
    })
}

#[cfg(feature = "tls")]
fn set_ca(l: &mut sio_client_loop, path: &str) -> sio_result {
    let Some(name) = &l.tls_name else {
        return crate::SIO_WRONG_STATE;
    };
    let result = siocore::driver::ClientTls::from_ca_file(path)
        .and_then(|trust| l.driver.set_tls(trust, name));
    match result {
        Ok(()) => SIO_OK,
        Err(e) => sio_result::from(&e),
    }
}

#[cfg(not(feature = "tls"))]
fn set_ca(_: &mut sio_client_loop, _: &str) -> sio_result {
    crate::SIO_TLS_UNSUPPORTED
}

/// Destroys a loop (not while it runs); `NULL` is ignored.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sio_client_loop_free(lp: *mut sio_client_loop) {
    // SAFETY: made by `sio_client_loop_new`, freed once, or NULL.
    unsafe { crate::free_box(lp) }
}

/// Runs until the callback returns `false`, or the client is closed for good
/// (`sio_client_close`, or reconnection gave up).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sio_client_loop_run(
    lp: *mut sio_client_loop,
    callback: sio_client_event_cb,
    userdata: *mut c_void,
) -> sio_result {
    boundary(SIO_PANIC, || {
        // SAFETY: a live loop or NULL.
        let Some(l) = (unsafe { lp.as_mut() }) else {
            return SIO_NULL_ARGUMENT;
        };
        let Some(cb) = callback else {
            return SIO_NULL_ARGUMENT;
        };
        let mut views = [sio_bytes::EMPTY; CLIENT_VIEWS];
        let mut handler =
            |client: &mut Client<'_, SIO_CLIENT_MAX_NAMESPACES, SIO_CLIENT_MAX_ACKS>,
             wake: Wake<'_, '_>,
             now: Instant|
             -> bool {
                #[cfg(feature = "tls")]
                let message;
                let ev = match wake {
                    Wake::Event(e) => c_event(e, &mut views),
                    #[cfg(feature = "tls")]
                    Wake::Tls(e) => {
                        message = std::format!("{e}");
                        tls_event(e, &message)
                    }
                    Wake::Woken => return true,
                };
                let mut lent = sio_client {
                    inner: ClientInner::Lent(
                        (client as *mut Client<'_, SIO_CLIENT_MAX_NAMESPACES, SIO_CLIENT_MAX_ACKS>)
                            .cast(),
                    ),
                    events: Buf::empty(),
                    attachments: Buf::empty(),
                };
                // SAFETY: the callback gets pointers valid for the call, as its contract says.
                unsafe { cb(userdata, &mut lent, &ev, now.as_millis()) }
            };
        match l.driver.run(&mut handler) {
            Ok(()) => SIO_OK,
            Err(e) => crate::io_result(&e),
        }
    })
}

/// A TLS failure as a C event: its code, and `message` (its words) as `name`.
#[cfg(feature = "tls")]
fn tls_event(e: &siocore::driver::TlsError, message: &str) -> sio_client_event {
    use siocore::client::{CloseReason, Event};
    // A neutral event to start from, then the TLS fields.
    let mut ev = c_event(
        &Event::Closed {
            reason: CloseReason::TransportError,
        },
        &mut [],
    );
    ev.kind = crate::client::SIO_CLIENT_EVENT_TLS_ERROR;
    ev.name = sio_bytes {
        ptr: message.as_ptr(),
        len: message.len(),
    };
    ev.tls_error = sio_result::from(e.kind());
    ev
}
