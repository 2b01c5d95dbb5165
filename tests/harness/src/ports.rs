//! Free loopback ports. The OS hands out a port for `127.0.0.1:0`; this process also remembers every port it
//! handed out so that two servers started concurrently by tests in one binary never get the same one.

use std::collections::HashSet;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::sync::{LazyLock, Mutex};

static HANDED_OUT: LazyLock<Mutex<HashSet<u16>>> = LazyLock::new(|| Mutex::new(HashSet::new()));

/// A port on 127.0.0.1 that was free a moment ago and that this process has not handed out before.
///
/// For servers started as separate processes, which must be told a port. In-process servers bind
/// `127.0.0.1:0` directly instead.
pub fn free_port() -> std::io::Result<u16> {
    let mut handed_out = HANDED_OUT
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    loop {
        let port = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))?
            .local_addr()?
            .port();
        if handed_out.insert(port) {
            return Ok(port);
        }
    }
}
