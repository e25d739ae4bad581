//! Where a subscriber connects to reach its own server, from the server's `port`, `bind` and
//! `unixsocket` settings: the Unix socket when there is one (no TCP stack, no bind rules),
//! else the plain TCP port on the first bind address (a wildcard becomes loopback). TLS needs
//! a TLS client the module does not have, so a server with neither a plain port nor a Unix
//! socket cannot be subscribed to; that is an error that names the settings.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    Unix(PathBuf),
    Tcp(SocketAddr),
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Endpoint::Unix(path) => write!(f, "unix:{}", path.display()),
            Endpoint::Tcp(address) => write!(f, "{address}"),
        }
    }
}

/// The server's settings as `CONFIG GET port bind unixsocket` gives them (empty when unset).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerSettings {
    pub port: String,
    pub bind: String,
    pub unixsocket: String,
}

/// Endpoints to try, best first.
pub fn endpoints(settings: &ServerSettings) -> Result<Vec<Endpoint>, String> {
    let mut found = Vec::new();
    let socket = settings.unixsocket.trim();
    if !socket.is_empty() {
        found.push(Endpoint::Unix(PathBuf::from(socket)));
    }
    let port = settings.port.trim().parse::<u16>().unwrap_or(0);
    if port != 0 {
        let mut addresses: Vec<IpAddr> = settings
            .bind
            .split_whitespace()
            .filter_map(bind_address)
            .collect();
        let loopback = IpAddr::V4(Ipv4Addr::LOCALHOST);
        if !addresses.contains(&loopback) {
            // No bind line binds all IPv4 interfaces; a listed address may be gone (`-addr`).
            addresses.push(loopback);
        }
        found.extend(
            addresses
                .into_iter()
                .map(|ip| Endpoint::Tcp(SocketAddr::new(ip, port))),
        );
    }
    if found.is_empty() {
        return Err(
            "CHANNELS sources subscribe over a plain connection to this server, and it has none: \
             port is 0 (TLS only?) and unixsocket is not set; set unixsocket (or a plain port)"
                .to_string(),
        );
    }
    Ok(found)
}

/// A `bind` entry as an address to connect to: `-` (optional) dropped, wildcards as loopback.
fn bind_address(entry: &str) -> Option<IpAddr> {
    let entry = entry.strip_prefix('-').unwrap_or(entry);
    match entry {
        "*" | "0.0.0.0" => Some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        "::*" | "::" => Some(IpAddr::V6(Ipv6Addr::LOCALHOST)),
        other => other.parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(port: &str, bind: &str, unixsocket: &str) -> ServerSettings {
        ServerSettings {
            port: port.into(),
            bind: bind.into(),
            unixsocket: unixsocket.into(),
        }
    }

    fn shown(list: &[Endpoint]) -> Vec<String> {
        list.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn unix_socket_first_then_bind_addresses_then_loopback() {
        let list = endpoints(&settings("6379", "10.0.0.5 -::1", "/tmp/r.sock")).unwrap();
        assert_eq!(
            shown(&list),
            [
                "unix:/tmp/r.sock",
                "10.0.0.5:6379",
                "[::1]:6379",
                "127.0.0.1:6379"
            ]
        );
        let list = endpoints(&settings("7000", "127.0.0.1", "")).unwrap();
        assert_eq!(shown(&list), ["127.0.0.1:7000"]);
        let list = endpoints(&settings("7000", "* -::*", "")).unwrap();
        assert_eq!(shown(&list), ["127.0.0.1:7000", "[::1]:7000"]);
        let list = endpoints(&settings("7000", "", "")).unwrap();
        assert_eq!(shown(&list), ["127.0.0.1:7000"]);
        let list = endpoints(&settings("0", "127.0.0.1", "/s")).unwrap();
        assert_eq!(shown(&list), ["unix:/s"]);
    }

    #[test]
    fn tls_only_servers_are_an_error_naming_the_settings() {
        for port in ["0", "", "x"] {
            let err = endpoints(&settings(port, "127.0.0.1", " ")).unwrap_err();
            assert!(
                err.contains("port is 0") && err.contains("unixsocket"),
                "{err}"
            );
        }
    }
}
