//! The ready server loop for C: `sio_loop_*`, the mio driver with a C callback.

use core::ffi::{c_char, c_void};
use std::boxed::Box;
use std::net::SocketAddr;
use std::vec::Vec;

use siocore::driver::{Driver, Handler, Shutdown};
use siocore::server::{Event, Server, Storage};

use crate::server::{c_event, config, sio_event, sio_server};
use crate::{
    SIO_INVALID_ARGUMENT, SIO_IO_ERROR, SIO_NULL_ARGUMENT, SIO_OK, SIO_PANIC, boundary, sio_bytes,
    sio_result, text,
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
}

/// Creates a loop listening on `addr` (`"127.0.0.1:3000"`; port 0 picks a free one) with
/// `config` (`NULL`: the defaults), ids seeded from the operating system.
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
            unsafe { defaults.assume_init() }
        } else {
            // SAFETY: a caller's `sio_server_config`.
            unsafe { *config }
        };
        // SAFETY: the configuration's pointers per the contract.
        let (config, capacity, strings) = match unsafe { self::config(&c) } {
            Ok(x) => x,
            Err(e) => return e,
        };
        let driver = match Driver::bind(addr, config, Storage::growable(capacity)) {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::InvalidInput => return SIO_INVALID_ARGUMENT,
            Err(_) => return SIO_IO_ERROR,
        };
        let shutdown = driver.shutdown_handle();
        let handle = Box::new(sio_server_loop {
            driver,
            shutdown,
            _strings: strings,
        });
        // SAFETY: checked non-NULL.
        unsafe { out.write(Box::into_raw(handle)) };
        SIO_OK
    })
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
}

impl Handler for CHandler {
    fn event(&mut self, server: &mut Server<'_>, event: &Event<'_>) {
        let ev = c_event(event, &mut self.views);
        let mut lent = sio_server::lent(server);
        // SAFETY: the C callback gets pointers valid for the call, as its contract says.
        unsafe { (self.cb)(self.userdata, &mut lent, &ev) };
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
        };
        match l.driver.run(&mut handler) {
            Ok(()) => SIO_OK,
            Err(_) => SIO_IO_ERROR,
        }
    })
}
