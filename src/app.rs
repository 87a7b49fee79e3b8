//! The App: everything a person uses to drive a node, on top of [`Node`](crate::node::Node)'s
//! methods.
//!
//! - [`cli`]: the command line, parsed by hand.
//! - [`console`]: the commands typed at a running node (`mine`, `chain`, `peers`, ...).
//! - [`http`]: a small HTTP/1.1 server by hand, bounded like the P2P side.
//! - [`api`]: the JSON API and the explorer page on top of it.
//!
//! Nothing below this module imports it: the node runs the same with or without an App (the
//! tests drive it through `Node` alone).

use std::net::{IpAddr, Ipv4Addr, SocketAddr, ToSocketAddrs};

pub mod api;
pub mod cli;
pub mod console;
pub mod http;

/// Turns a peer argument into an address: a bare port means this machine.
pub fn resolve_peer(peer: &str) -> Result<SocketAddr, String> {
    if let Ok(port) = peer.parse::<u16>() {
        return Ok(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port));
    }
    peer.to_socket_addrs()
        .map_err(|e| format!("cannot resolve peer {peer:?}: {e}"))?
        .next()
        .ok_or_else(|| format!("peer {peer:?} has no address"))
}

#[cfg(test)]
mod tests {
    /// A bare port is this machine; host:port is taken as it is.
    #[test]
    fn resolves_peers() {
        let resolve = |text| super::resolve_peer(text).unwrap().to_string();
        assert_eq!(resolve("8555"), "127.0.0.1:8555");
        assert_eq!(resolve("127.0.0.1:9"), "127.0.0.1:9");
    }
}
