//! The ready server loop for C: `sio_loop_*`, the mio driver with a C callback.

use core::ffi::{c_char, c_void};
use std::boxed::Box;
use std::net::SocketAddr;
use std::vec::Vec;

use siocore::adapter::{Cluster, ClusterConfig, ClusterEvent, Done};
use siocore::driver::{Driver, Handler, Shutdown, default_max_sessions};
use siocore::server::{Capacity, Event, Server, Storage};

use crate::cluster::{
    SIO_MAX_CLUSTER_NAME, cluster_c_event, done_event, read_config, sio_cluster_config,
};
use crate::server::{Handed, c_event, config, sio_event, sio_server};
use crate::{
    SIO_INVALID_ARGUMENT, SIO_NULL_ARGUMENT, SIO_OK, SIO_PANIC, SIO_WRONG_STATE, boundary,
    sio_bytes, sio_result, text,
};

/// Called by `sio_server_loop_run` for every event. `server` is valid only during the call: use
/// it for commands (emit, accept, respond, …), never for polling or freeing. `event` and its
/// views are valid only during the call too.
pub type sio_event_cb = Option<
    unsafe extern "C" fn(userdata: *mut c_void, server: *mut sio_server, event: *const sio_event),
>;

/// A ready server loop (opaque): listening socket, connections, timers, one thread.
pub struct sio_server_loop {
    driver: Driver<'static>,
    shutdown: Shutdown,
    // Dropped after the driver (declared after it): the strings its config borrows.
    _strings: Box<dyn core::any::Any>,
    // Likewise: the cluster's key prefix (`sio_server_loop_join_cluster`).
    _prefix: Option<Box<str>>,
}

/// Creates a loop listening on `addr` (`"127.0.0.1:3000"`; port 0 picks a free one) with
/// `config` (`NULL`: the defaults, but for room for as many sessions as the process may open
/// descriptors for: `max_sessions` 0), ids seeded from the operating system.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sio_server_loop_new(
    config: *const crate::sio_server_config,
    addr: *const c_char,
    out: *mut *mut sio_server_loop,
) -> sio_result {
    boundary(SIO_PANIC, || {
        if out.is_null() {
            return SIO_NULL_ARGUMENT;
        }
        // SAFETY: NUL-terminated per the contract.
        let addr = match unsafe { text(addr) } {
            Ok(a) => a,
            Err(e) => return e,
        };
        let Ok(addr) = addr.parse::<SocketAddr>() else {
            return SIO_INVALID_ARGUMENT;
        };
        let mut defaults = core::mem::MaybeUninit::<crate::sio_server_config>::uninit();
        let c = if config.is_null() {
            // SAFETY: writing the defaults into local storage.
            unsafe { crate::sio_server_config_default(defaults.as_mut_ptr()) };
            // SAFETY: just initialized.
            let mut c = unsafe { defaults.assume_init() };
            c.max_sessions = 0;
            c
        } else {
            // SAFETY: a caller's `sio_server_config`.
            unsafe { *config }
        };
        // SAFETY: the configuration's pointers per the contract.
        let (config, mut capacity, strings) = match unsafe { self::config(&c) } {
            Ok(x) => x,
            Err(e) => return e,
        };
        if c.max_sessions == 0 {
            // As many as the descriptor limit allows; the pool as configured.
            capacity = Capacity {
                blocks: capacity.blocks,
                big_blocks: capacity.big_blocks,
                ..Capacity::for_sessions(default_max_sessions(), 0)
            };
        }
        let driver = match Driver::bind(addr, config, Storage::growable(capacity)) {
            Ok(d) => d,
            Err(e) => return crate::io_result(&e),
        };
        let shutdown = driver.shutdown_handle();
        let handle = Box::new(sio_server_loop {
            driver,
            shutdown,
            _strings: strings,
            _prefix: None,
        });
        // SAFETY: checked non-NULL.
        unsafe { out.write(Box::into_raw(handle)) };
        SIO_OK
    })
}

/// Serves `https` and `wss` (before `sio_server_loop_run`): every connection accepted from
/// then on speaks TLS with the PEM certificate chain at `cert_path` (the server's
/// certificate first, then the intermediates) and the private key at `key_path` (PKCS #8,
/// PKCS #1 or SEC1). The plain HTTP requests share the TLS port as they share a plain one.
/// A peer that stalls in the handshake is closed by the configuration's `headers_timeout_ms`.
///
/// Returns `SIO_TLS_FILE` when a file cannot be read, `SIO_TLS_CERTIFICATE` or
/// `SIO_TLS_PRIVATE_KEY` when it holds none, `SIO_TLS_REJECTED` when the key does not suit
/// the certificate, `SIO_TLS_UNSUPPORTED` from a library built without TLS; the loop is
/// unchanged then.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sio_server_loop_set_tls(
    lp: *mut sio_server_loop,
    cert_path: *const c_char,
    key_path: *const c_char,
) -> sio_result {
    boundary(SIO_PANIC, || {
        // SAFETY: a live loop or NULL.
        let Some(l) = (unsafe { lp.as_mut() }) else {
            return SIO_NULL_ARGUMENT;
        };
        // SAFETY: NUL-terminated per the contract.
        let (cert, key) = match unsafe { (text(cert_path), text(key_path)) } {
            (Ok(c), Ok(k)) => (c, k),
            (Err(e), _) | (_, Err(e)) => return e,
        };
        set_tls(l, cert, key)
    })
}

#[cfg(feature = "tls")]
fn set_tls(l: &mut sio_server_loop, cert: &str, key: &str) -> sio_result {
    match siocore::driver::ServerTls::from_pem_files(cert, key) {
        Ok(tls) => {
            l.driver.set_tls(tls);
            SIO_OK
        }
        Err(e) => sio_result::from(&e),
    }
}

#[cfg(not(feature = "tls"))]
fn set_tls(_: &mut sio_server_loop, _: &str, _: &str) -> sio_result {
    crate::SIO_TLS_UNSUPPORTED
}

/// Destroys a loop (not while it runs); `NULL` is ignored.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sio_server_loop_free(lp: *mut sio_server_loop) {
    // SAFETY: made by `sio_server_loop_new`, freed once, or NULL.
    unsafe { crate::free_box(lp) }
}

/// Writes the port the loop listens on.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sio_server_loop_port(
    lp: *const sio_server_loop,
    out: *mut u16,
) -> sio_result {
    boundary(SIO_PANIC, || {
        // SAFETY: a live loop or NULL.
        let Some(l) = (unsafe { lp.as_ref() }) else {
            return SIO_NULL_ARGUMENT;
        };
        // SAFETY: a caller's `uint16_t` or NULL.
        unsafe { crate::put(out, l.driver.local_addr().port()) }
    })
}

/// Makes the loop's server a member of the Redis cluster at `redis_url`
/// (`redis://[[user]:password@]host[:port]`) with `config` (`NULL`: the defaults; the loop
/// takes its `prefix` and `request_timeout_ms`, and sizes its own tables: 256 pending
/// requests, 4096 owed acknowledgements, an 8 MiB outbox, a scratch buffer of the largest
/// event): Node's `@socket.io/redis-adapter` 8.3.0 servers on the same Redis and prefix,
/// and other siocore servers, form one cluster with it. The loop connects when it runs
/// (and again, with a backoff, after Redis goes away; local delivery goes on meanwhile).
/// In the callback, the lent server carries the cluster: `sio_server_broadcast` and the
/// other commands on many sockets reach every server, `sio_server_fetch_sockets` and
/// `sio_server_server_side_emit` ask them, and their answers come as
/// `SIO_EVENT_SERVER_SIDE_EMIT`, `SIO_EVENT_CLUSTER_SOCKETS`, `SIO_EVENT_CLUSTER_ANSWER`
/// and `SIO_EVENT_CLUSTER_DONE`; the loop moves the messages. Before `sio_server_loop_run`;
/// `SIO_WRONG_STATE` when the loop joined already, `SIO_INVALID_ARGUMENT` for a URL that is
/// not `redis://`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sio_server_loop_join_cluster(
    lp: *mut sio_server_loop,
    redis_url: *const c_char,
    config: *const sio_cluster_config,
) -> sio_result {
    boundary(SIO_PANIC, || {
        // SAFETY: a live loop or NULL.
        let Some(l) = (unsafe { lp.as_mut() }) else {
            return SIO_NULL_ARGUMENT;
        };
        // SAFETY: NUL-terminated per the contract.
        let url = match unsafe { text(redis_url) } {
            Ok(u) => u,
            Err(e) => return e,
        };
        // SAFETY: NULL or a caller's configuration.
        let (c, prefix) = match unsafe { read_config(config) } {
            Ok(x) => x,
            Err(e) => return e,
        };
        if l.driver.cluster().is_some() {
            return SIO_WRONG_STATE;
        }
        let prefix: Box<str> = prefix.into();
        // SAFETY: the box is kept in the loop, unmoved in the heap, and dropped after the
        // driver (field order).
        let borrowed: &'static str = unsafe { &*(&*prefix as *const str) };
        let config = ClusterConfig {
            prefix: borrowed,
            request_timeout: c.request_timeout_ms,
        };
        match l.driver.join_cluster(url, config) {
            Ok(()) => {
                l._prefix = Some(prefix);
                SIO_OK
            }
            Err(e) => crate::io_result(&e),
        }
    })
}

/// Writes whether the loop's Redis connections are up (both connected and subscribed);
/// `false` before the loop joined a cluster or first ran. Not while the loop runs on
/// another thread (a handle is used by one thread at a time).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sio_server_loop_cluster_connected(
    lp: *const sio_server_loop,
    out: *mut bool,
) -> sio_result {
    boundary(SIO_PANIC, || {
        // SAFETY: a live loop or NULL.
        let Some(l) = (unsafe { lp.as_ref() }) else {
            return SIO_NULL_ARGUMENT;
        };
        // SAFETY: a caller's `bool` or NULL.
        unsafe { crate::put(out, l.driver.cluster_connected()) }
    })
}

/// Asks a running loop to close every session gracefully and return from
/// `sio_server_loop_run`. The one call that may come from another thread (or a signal handler:
/// it only sets a flag and writes to an eventfd).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sio_server_loop_stop(lp: *const sio_server_loop) -> sio_result {
    boundary(SIO_PANIC, || {
        // SAFETY: a live loop or NULL.
        let Some(l) = (unsafe { lp.as_ref() }) else {
            return SIO_NULL_ARGUMENT;
        };
        l.shutdown.shutdown();
        SIO_OK
    })
}

impl core::fmt::Debug for sio_server_loop {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("sio_server_loop")
            .field("driver", &self.driver)
            .finish_non_exhaustive()
    }
}

struct CHandler {
    cb: unsafe extern "C" fn(*mut c_void, *mut sio_server, *const sio_event),
    userdata: *mut c_void,
    views: Vec<sio_bytes>,
    /// A server-side emit's event name, decoded when it has escapes.
    name: [u8; SIO_MAX_CLUSTER_NAME],
}

impl CHandler {
    /// Calls back with `ev`, the server (and its cluster) lent for the call, with the
    /// attachments `ev` shows.
    fn call<'a>(
        &self,
        server: &mut Server<'a>,
        cluster: Option<&mut Cluster<'a>>,
        ev: &sio_event,
        handed: Option<Handed>,
    ) {
        let mut lent = sio_server::lent(server, cluster);
        lent.hand(handed);
        // SAFETY: the C callback gets pointers valid for the call, as its contract says.
        unsafe { (self.cb)(self.userdata, &mut lent, ev) };
    }
}

impl Handler for CHandler {
    fn event(&mut self, server: &mut Server<'_>, event: &Event<'_>) {
        self.event_in(server, None, event);
    }

    fn event_in<'a>(
        &mut self,
        server: &mut Server<'a>,
        cluster: Option<&mut Cluster<'a>>,
        event: &Event<'_>,
    ) {
        let ev = c_event(event, &mut self.views);
        // SAFETY: the lent handle, which keeps it, lives for the call, `event` longer.
        let handed = unsafe { Handed::of(event, ev.attachments) };
        self.call(server, cluster, &ev, handed);
    }

    fn cluster_event<'a>(
        &mut self,
        server: &mut Server<'a>,
        cluster: &mut Cluster<'a>,
        event: &ClusterEvent<'_>,
    ) {
        // A server-side emit that is not `[name, ...]`, or whose name is too long, is
        // dropped (its sender, if it waits, times out).
        if let Ok(ev) = cluster_c_event(event, &mut self.name) {
            self.call(server, Some(cluster), &ev, None);
        }
    }

    fn cluster_done<'a>(
        &mut self,
        server: &mut Server<'a>,
        cluster: &mut Cluster<'a>,
        done: &Done,
    ) {
        self.call(server, Some(cluster), &done_event(done), None);
    }
}

/// Serves until `sio_server_loop_stop`: `callback` gets every event with `userdata`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sio_server_loop_run(
    lp: *mut sio_server_loop,
    callback: sio_event_cb,
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
        // Room for a view of every attachment an event may carry.
        let views = usize::from(l.driver.server().config().max_attachments);
        let mut handler = CHandler {
            cb,
            userdata,
            views: std::vec![sio_bytes::EMPTY; views],
            name: [0; SIO_MAX_CLUSTER_NAME],
        };
        match l.driver.run(&mut handler) {
            Ok(()) => SIO_OK,
            Err(e) => crate::io_result(&e),
        }
    })
}
