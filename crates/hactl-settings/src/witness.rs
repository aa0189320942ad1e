//! The cluster's witness in `cluster.toml`: `witness = "HOST:PORT"` under `[settings]`
//! (written by `hactl cluster setup --witness` or `hactl cluster witness add`).
//! A property of the membership, like `two_node`, read by the daemons from the file.

use std::net::SocketAddr;

use thiserror::Error;

/// The port a witness listens on unless told otherwise.
pub const DEFAULT_PORT: u16 = 7421;

/// The `[settings]` key.
pub const SETTING: &str = "witness";

#[derive(Debug, Error, PartialEq, Eq)]
#[error("bad witness address {0:?}: expected IP or IP:PORT (port {DEFAULT_PORT} by default)")]
pub struct AddressError(pub String);

/// Parses `IP`, `IP:PORT` or `[IPv6]:PORT`; host names are refused (the address must
/// not depend on DNS, as the nodes' own).
pub fn parse_address(s: &str) -> Result<SocketAddr, AddressError> {
    let bad = || AddressError(s.to_string());
    if let Ok(a) = s.parse::<SocketAddr>() {
        return if a.port() == 0 { Err(bad()) } else { Ok(a) };
    }
    s.parse::<std::net::IpAddr>()
        .map(|ip| SocketAddr::new(ip, DEFAULT_PORT))
        .map_err(|_| bad())
}

/// The witness `cluster.toml`'s `[settings]` name, if any.
pub fn address(settings: &toml::Table) -> Result<Option<SocketAddr>, AddressError> {
    match settings.get(SETTING) {
        None => Ok(None),
        Some(toml::Value::String(s)) => parse_address(s).map(Some),
        Some(v) => Err(AddressError(v.to_string())),
    }
}

/// Sets (or with `None` removes) the witness in `[settings]`.
pub fn set_address(settings: &mut toml::Table, addr: Option<SocketAddr>) {
    match addr {
        Some(a) => settings.insert(SETTING.into(), toml::Value::String(a.to_string())),
        None => settings.remove(SETTING),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_default_their_port_and_refuse_names() {
        assert_eq!(
            parse_address("10.0.0.9").unwrap(),
            "10.0.0.9:7421".parse().unwrap()
        );
        assert_eq!(
            parse_address("[::1]:9000").unwrap(),
            "[::1]:9000".parse().unwrap()
        );
        assert!(parse_address("witness.example:7421").is_err());
        assert!(parse_address("10.0.0.9:0").is_err());
        let mut t = toml::Table::new();
        assert_eq!(address(&t), Ok(None));
        set_address(&mut t, Some("10.0.0.9:7421".parse().unwrap()));
        assert_eq!(address(&t), Ok(Some("10.0.0.9:7421".parse().unwrap())));
        t.insert(SETTING.into(), toml::Value::Integer(3));
        assert!(address(&t).is_err());
    }
}
