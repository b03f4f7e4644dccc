//! Connection state recovery left out: the crate's feature `recovery` is off, so
//! [`Server::new`](super::Server::new) refuses a [`ServerConfig::recovery`](super::ServerConfig::recovery)
//! other than 0 and none of `recovery.rs` is compiled. These stand-ins give the calls of the
//! other layers something to name; every one of them sits behind [`ENABLED`], a constant
//! `false`, so the optimizer drops them with the code around them.

use super::session::SessionIx;
use super::socketio::{SocketIoLayer, SocketIx};
use super::{CommandError, Server, Targets, WireId};
use crate::server::pool::Pool;

/// Whether connection state recovery is compiled in.
pub(crate) const ENABLED: bool = false;

/// No recovery state.
#[derive(Debug)]
pub(crate) struct Recovery;

impl Recovery {
    pub(crate) const fn new(_hash_key: [u64; 2]) -> Self {
        Self
    }

    pub(crate) fn pid(&self, _index: u32, _era: u32) -> WireId {
        WireId::from_raw(&[0; 15])
    }

    pub(crate) const fn take_offset(&mut self) -> u64 {
        0
    }

    /// Parked sockets, log bytes, missed recoveries: none.
    pub(crate) const fn usage(&self) -> (usize, usize, u64) {
        (0, 0, 0)
    }
}

pub(crate) const fn offset_arg(_o: u64, _out: &mut [u8; 24]) -> usize {
    0
}

impl SocketIoLayer<'_> {
    pub(super) const fn expire_recovery(&mut self, _now: u64, _keep: u32, _pool: &mut Pool<'_>) {}

    pub(super) const fn recovery_deadline(&self, _keep: u32, _pool: &Pool<'_>) -> Option<u64> {
        None
    }

    pub(super) const fn save_for_park(
        &self,
        _sock: SocketIx,
        _now: u64,
        _pool: &mut Pool<'_>,
    ) -> Option<u32> {
        None
    }

    pub(super) const fn park(&mut self, _sock: SocketIx) {}

    pub(super) const fn drop_oldest_parked(&mut self, _pool: &mut Pool<'_>) -> bool {
        false
    }

    pub(super) const fn drop_log(&mut self, _pool: &mut Pool<'_>) -> bool {
        false
    }

    pub(super) const fn claim(
        &mut self,
        _ns: u16,
        _auth: &[u8],
        _now: u64,
        _keep: u32,
        _pool: &mut Pool<'_>,
    ) -> Option<SocketIx> {
        None
    }

    pub(super) const fn recovering(&self, _sock: SocketIx) -> Option<u32> {
        None
    }
}

impl Server<'_> {
    pub(super) const fn log_packet(
        &mut self,
        _offset: u64,
        _ns: u16,
        _msgs: &[u32],
        _to: &Targets<'_>,
        _own: Option<SocketIx>,
    ) {
    }

    pub(super) const fn restore(
        &mut self,
        _sess: SessionIx,
        _sock: SocketIx,
        _saved: u32,
    ) -> Result<(), CommandError> {
        Ok(())
    }
}
