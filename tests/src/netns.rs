//! A small lab of network namespaces: one "switch" namespace holding a bridge, one
//! namespace per node with a veth into the bridge, partitions as nftables drops in the
//! switch (links stay up, as when a real switch misbehaves). Everything is named with a
//! prefix so labs of different test suites never collide, and torn down on drop.

use std::process::Command;

use anyhow::{bail, Context, Result};

/// Fails the test (or skips it when `HACTL_SKIP_ROOT_TESTS=1`) if not root. Returns
/// false when the caller should skip.
pub fn require_root() -> bool {
    // SAFETY-free check: geteuid via /proc to avoid a libc dependency.
    let uid = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(str::to_string))
        })
        .unwrap_or_default();
    if uid == "0" {
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
    prefix: String,
    n: usize,
    /// First three octets of the node addresses (`10.78.0` → 10.78.0.1, …).
    subnet: String,
}

impl Net {
    /// Creates `{prefix}sw` and `{prefix}1..={prefix}n`. Leftovers of an earlier run
    /// with the same prefix are removed first.
    pub fn new(prefix: &str, n: usize, subnet: &str) -> Result<Net> {
        let net = Net {
            prefix: prefix.to_string(),
            n,
            subnet: subnet.to_string(),
        };
        net.teardown();
        let sw = net.switch();
        run("ip", &["netns", "add", &sw])?;
        run("ip", &["-n", &sw, "link", "set", "lo", "up"])?;
        run(
            "ip",
            &[
                "-n",
                &sw,
                "link",
                "add",
                "br0",
                "type",
                "bridge",
                "stp_state",
                "0",
                "forward_delay",
                "0",
            ],
        )?;
        run("ip", &["-n", &sw, "link", "set", "br0", "up"])?;
        run_nft(&sw, "add table bridge lab")?;
        run_nft(
            &sw,
            "add chain bridge lab filt { type filter hook forward priority 0; policy accept; }",
        )?;
        for i in 1..=n {
            let ns = net.ns(i);
            let port = format!("p{i}");
            run("ip", &["netns", "add", &ns])?;
            // Both veth ends are created directly in their namespaces: no name ever
            // appears in the host namespace.
            run(
                "ip",
                &[
                    "-n", &sw, "link", "add", &port, "type", "veth", "peer", "name", "eth0",
                    "netns", &ns,
                ],
            )?;
            run(
                "ip",
                &["-n", &sw, "link", "set", &port, "master", "br0", "up"],
            )?;
            run("ip", &["-n", &ns, "link", "set", "lo", "up"])?;
            run("ip", &["-n", &ns, "link", "set", "eth0", "up"])?;
            run(
                "ip",
                &[
                    "-n",
                    &ns,
                    "addr",
                    "add",
                    &format!("{}/24", net.ip(i)),
                    "dev",
                    "eth0",
                ],
            )?;
        }
        Ok(net)
    }

    pub fn switch(&self) -> String {
        format!("{}sw", self.prefix)
    }

    /// Namespace of node `i` (1-based).
    pub fn ns(&self, i: usize) -> String {
        format!("{}{i}", self.prefix)
    }

    pub fn ip(&self, i: usize) -> String {
        format!("{}.{i}", self.subnet)
    }

    pub fn len(&self) -> usize {
        self.n
    }

    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// Drops all traffic between every node of `a` and every node of `b`.
    pub fn partition(&self, a: &[usize], b: &[usize]) -> Result<()> {
        let sw = self.switch();
        for &x in a {
            for &y in b {
                for (i, o) in [(x, y), (y, x)] {
                    run_nft(
                        &sw,
                        &format!("add rule bridge lab filt iifname \"p{i}\" oifname \"p{o}\" drop"),
                    )?;
                }
            }
        }
        Ok(())
    }

    /// Removes every partition.
    pub fn heal(&self) -> Result<()> {
        run_nft(&self.switch(), "flush chain bridge lab filt")
    }

    fn teardown(&self) {
        let _ = run("ip", &["netns", "del", &self.switch()]);
        for i in 1..=self.n.max(9) {
            let _ = run("ip", &["netns", "del", &self.ns(i)]);
        }
    }
}

fn run_nft(ns: &str, rule: &str) -> Result<()> {
    run("ip", &["netns", "exec", ns, "nft", rule]).map(|_| ())
}

impl Drop for Net {
    fn drop(&mut self) {
        self.teardown();
    }
}
