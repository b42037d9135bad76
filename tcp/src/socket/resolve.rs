//! Host names to addresses: `getaddrinfo(3)` through `std::net::ToSocketAddrs`.
//!
//! Java's `InetAddress.getAllByName`. A name can map to several addresses (IPv6 and
//! IPv4, several hosts); clients try each in turn.

use std::net::{SocketAddr, ToSocketAddrs};

use super::SocketError;

/// Resolves `target` (`host:port`, `1.2.3.4:port` or `[::1]:port`) to its addresses.
///
/// # Errors
/// [`SocketError::Resolve`] if the name is unknown or malformed,
/// [`SocketError::NoAddress`] if it has no address.
pub fn resolve(target: &str) -> Result<Vec<SocketAddr>, SocketError> {
    let addrs: Vec<SocketAddr> = target
        .to_socket_addrs()
        .map_err(|source| SocketError::Resolve {
            target: target.to_owned(),
            source,
        })?
        .collect();
    if addrs.is_empty() {
        return Err(SocketError::NoAddress {
            target: target.to_owned(),
        });
    }
    Ok(addrs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_addresses_resolve_to_themselves() {
        assert_eq!(
            resolve("127.0.0.1:7007").unwrap(),
            vec!["127.0.0.1:7007".parse::<SocketAddr>().unwrap()]
        );
        assert_eq!(
            resolve("[::1]:7").unwrap(),
            vec!["[::1]:7".parse::<SocketAddr>().unwrap()]
        );
    }

    #[test]
    fn a_missing_port_is_an_error() {
        assert!(matches!(
            resolve("127.0.0.1"),
            Err(SocketError::Resolve { .. })
        ));
    }
}
