//! An IP network (address and prefix length) and whether it holds an address: all
//! the VIP check needs, without a crate for it.

use serde::Serialize;
use std::net::IpAddr;

/// A local interface's network: its address and prefix length (`10.0.0.5/24`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Network {
    pub addr: IpAddr,
    pub prefix: u8,
}

impl Network {
    /// Whether `ip` lies in this network (never across address families).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                same_prefix(u32::from(n).into(), u32::from(a).into(), self.prefix, 32)
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                same_prefix(u128::from(n), u128::from(a), self.prefix, 128)
            }
            _ => false,
        }
    }
}

impl std::fmt::Display for Network {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// Whether the first `prefix` of `bits` bits of `a` and `b` agree.
fn same_prefix(a: u128, b: u128, prefix: u8, bits: u32) -> bool {
    let prefix = u32::from(prefix).min(bits);
    if prefix == 0 {
        return true;
    }
    let shift = bits - prefix;
    (a >> shift) == (b >> shift)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str, prefix: u8) -> Network {
        Network {
            addr: s.parse().unwrap(),
            prefix,
        }
    }

    #[test]
    fn contains_by_prefix() {
        let n = net("10.0.0.5", 24);
        assert!(n.contains("10.0.0.200".parse().unwrap()));
        assert!(!n.contains("10.0.1.1".parse().unwrap()));
        assert!(!n.contains("::1".parse().unwrap()));
        assert!(net("0.0.0.0", 0).contains("192.0.2.1".parse().unwrap()));
        assert!(net("10.0.0.5", 32).contains("10.0.0.5".parse().unwrap()));
        assert!(!net("10.0.0.5", 32).contains("10.0.0.6".parse().unwrap()));
        let v6 = net("fd00:1::5", 64);
        assert!(v6.contains("fd00:1::ffff".parse().unwrap()));
        assert!(!v6.contains("fd00:2::1".parse().unwrap()));
    }
}
