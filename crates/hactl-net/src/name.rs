use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A node name: a DNS host name (letters, digits, `-`, dot-separated labels, at most
/// 253 characters, not an IP address). It is the DNS SAN of the node's certificate, so
/// the name a peer has is proven by TLS, not claimed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct NodeName(String);

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("invalid node name {name:?}: {why}")]
pub struct NameError {
    pub name: String,
    pub why: &'static str,
}

impl NodeName {
    pub fn new(name: impl Into<String>) -> Result<Self, NameError> {
        let name = name.into();
        let err = |why| {
            Err(NameError {
                name: name.clone(),
                why,
            })
        };
        if name.is_empty() {
            return err("empty");
        }
        if name.len() > 253 {
            return err("longer than 253 characters");
        }
        if name.parse::<std::net::IpAddr>().is_ok() {
            return err("an IP address is not a node name");
        }
        for label in name.split('.') {
            if label.is_empty() || label.len() > 63 {
                return err("each dot-separated part must have 1 to 63 characters");
            }
            if !label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            {
                return err("only letters, digits, '-' and '.' are allowed");
            }
            if label.starts_with('-') || label.ends_with('-') {
                return err("a part may not start or end with '-'");
            }
        }
        if name.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
            return err("all-numeric names are not allowed");
        }
        // Names compare case-insensitively in certificates; keep one spelling.
        Ok(NodeName(name.to_ascii_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for NodeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for NodeName {
    type Err = NameError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        NodeName::new(s)
    }
}

impl TryFrom<String> for NodeName {
    type Error = NameError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        NodeName::new(s)
    }
}

impl From<NodeName> for String {
    fn from(n: NodeName) -> String {
        n.0
    }
}

impl AsRef<str> for NodeName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(NodeName::new("Node-1").unwrap().as_str(), "node-1");
        assert!(NodeName::new("db1.example.com").is_ok());
        for bad in [
            "", "-a", "a-", "a..b", "a_b", "10.0.0.1", "::1", "123", "a b",
        ] {
            assert!(NodeName::new(bad).is_err(), "{bad:?} accepted");
        }
    }
}
