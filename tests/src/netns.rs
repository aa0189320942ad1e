//! The test suites' view of a [`hactl_lab::Lab`]: nodes `{prefix}1..=n` behind a
//! switch namespace `{prefix}sw`, partitions as nftables drops in the switch (links
//! stay up, as when a real switch misbehaves). Leftovers of an earlier run with the
//! same prefix are removed first; everything is torn down on drop.

use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use hactl_lab::Lab;

/// Fails the test (or skips it when `HACTL_SKIP_ROOT_TESTS=1`) if not root. Returns
/// false when the caller should skip.
pub fn require_root() -> bool {
    if hactl_lab::is_root() {
        return true;
    }
    if std::env::var("HACTL_SKIP_ROOT_TESTS").as_deref() == Ok("1") {
        eprintln!("skipped: needs root (HACTL_SKIP_ROOT_TESTS=1)");
        return false;
    }
    panic!("this test needs root (network namespaces); set HACTL_SKIP_ROOT_TESTS=1 to skip it");
}

/// Runs a command, failing with its stderr.
pub fn run(cmd: &str, args: &[&str]) -> Result<String> {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .with_context(|| format!("running {cmd}"))?;
    if !out.status.success() {
        bail!(
            "{cmd} {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The lab network.
pub struct Net {
    lab: Lab,
}

impl Net {
    /// Creates `{prefix}sw` and `{prefix}1..={prefix}n` at `{subnet}.1..`. Leftovers
    /// of an earlier run with the same prefix are removed first.
    pub fn new(prefix: &str, n: usize, subnet: &str) -> Result<Net> {
        hactl_lab::destroy_prefix(prefix, Duration::from_secs(3))
            .with_context(|| format!("removing leftovers of lab {prefix}"))?;
        let lab = Lab::create(prefix, n, subnet, false)
            .with_context(|| format!("creating lab {prefix}"))?;
        Ok(Net { lab })
    }

    pub fn switch(&self) -> String {
        self.lab.switch_ns()
    }

    /// Namespace of node `i` (1-based).
    pub fn ns(&self, i: usize) -> String {
        self.lab.node_ns(i)
    }

    pub fn ip(&self, i: usize) -> String {
        self.lab.node_addr(i)
    }

    /// Gives every node another network (`ethK` at `{subnet}.I`): a redundant link.
    pub fn add_link(&mut self, subnet: &str) -> Result<usize> {
        Ok(self.lab.add_link(subnet)?)
    }

    /// Node `i`'s addresses, link 0 first.
    pub fn ips(&self, i: usize) -> Vec<String> {
        (0..self.lab.links())
            .filter_map(|k| self.lab.node_addr_on(k, i))
            .collect()
    }

    /// Drops all traffic between `a` and `b` on one link only.
    pub fn partition_on(&self, link: usize, a: &[usize], b: &[usize]) -> Result<()> {
        Ok(self.lab.partition_on(link, a, b)?)
    }

    pub fn len(&self) -> usize {
        self.lab.nodes()
    }

    pub fn is_empty(&self) -> bool {
        self.lab.nodes() == 0
    }

    /// Drops all traffic between every node of `a` and every node of `b`.
    pub fn partition(&self, a: &[usize], b: &[usize]) -> Result<()> {
        Ok(self.lab.partition(a, b)?)
    }

    /// Drops what the nodes of `from` send to the nodes of `to` (IP; ARP passes),
    /// while they still receive: an asymmetric cut ([`Lab::cut_one_way`]).
    pub fn cut_one_way(&self, from: &[usize], to: &[usize]) -> Result<()> {
        Ok(self.lab.cut_one_way(from, to)?)
    }

    /// Removes every partition and one-way cut.
    pub fn heal(&self) -> Result<()> {
        Ok(self.lab.heal()?)
    }
}
