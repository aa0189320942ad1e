//! A real fence_virtd (Debian `fence-virtd`, multicast listener, libvirt backend on
//! libvirt's `test://` driver, so no VM is needed) inside one of the lab's
//! namespaces, with domains named after the cluster nodes. Stopped on drop. The launcher
//! is [`hactl_lab::fence_virtd`]; this adds the C `fence_xvm` status probe.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use hactl_lab::fence_virtd as lab;

/// The multicast group and port fence_virtd listens on (fence_xvm's defaults).
pub const GROUP: &str = lab::GROUP_V4;
pub const PORT: u16 = lab::PORT;

pub struct FenceVirtd {
    pub ns: String,
    pub key_path: PathBuf,
    pub log_path: PathBuf,
    daemon: lab::FenceVirtd,
}

/// Writes a random 4 KiB key file.
pub fn write_key(path: &Path) -> Result<()> {
    Ok(lab::write_key(path)?)
}

impl FenceVirtd {
    /// Starts fence_virtd in namespace `ns` listening on `iface`, files under `dir`.
    pub fn start(ns: &str, iface: &str, dir: &Path, domains: &[&str]) -> Result<FenceVirtd> {
        let running: Vec<(&str, bool)> = domains.iter().map(|d| (*d, true)).collect();
        let daemon = lab::FenceVirtd::start(&lab::Config::new(ns, iface, dir, &running))
            .context("starting fence_virtd")?;
        Ok(FenceVirtd {
            ns: ns.to_string(),
            key_path: daemon.key_path.clone(),
            log_path: daemon.log_path.clone(),
            daemon,
        })
    }

    pub fn log(&self) -> String {
        self.daemon.log()
    }

    /// Power state of `domain` as the C `fence_xvm -o status` run in namespace
    /// `from_ns` sees it: `Some(true)` on, `Some(false)` off, `None` no answer.
    pub fn status_from(&self, from_ns: &str, domain: &str) -> Result<Option<bool>> {
        Ok(match self.xvm_from(from_ns, "status", domain)? {
            Some(0) => Some(true),
            Some(2) => Some(false),
            _ => None,
        })
    }

    /// `fence_xvm -o off` of `domain` run in namespace `from_ns`: whether it succeeded.
    pub fn off_from(&self, from_ns: &str, domain: &str) -> Result<bool> {
        Ok(self.xvm_from(from_ns, "off", domain)? == Some(0))
    }

    /// `fence_xvm -o reboot` of `domain` run in namespace `from_ns` (the domain off,
    /// then on again): whether it succeeded.
    pub fn reboot_from(&self, from_ns: &str, domain: &str) -> Result<bool> {
        Ok(self.xvm_from(from_ns, "reboot", domain)? == Some(0))
    }

    /// The C `fence_xvm -o op -H domain` from namespace `from_ns`: its exit code.
    fn xvm_from(&self, from_ns: &str, op: &str, domain: &str) -> Result<Option<i32>> {
        let out = Command::new("ip")
            // The C client can wait forever for an answer: bound it.
            .args(["netns", "exec", from_ns, "timeout", "5", "fence_xvm"])
            .args(["-o", op, "-H", domain])
            .args(["-k"])
            .arg(&self.key_path)
            .args(["-t", "2", "-c", "sha256", "-a", GROUP])
            .output()
            .context("running fence_xvm (install fence-virt)")?;
        Ok(out.status.code())
    }

    /// Waits until fence_virtd answers a status query from `from_ns`.
    pub fn wait_ready(&mut self, from_ns: &str, domain: &str, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(st) = self.daemon.exited() {
                bail!("fence_virtd exited ({st}); log:\n{}", self.log());
            }
            if self.status_from(from_ns, domain)?.is_some() {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("fence_virtd never answered; log:\n{}", self.log());
            }
        }
    }
}

/// The fencing lab: a 3-node cluster (no daemon started yet) plus a real fence_virtd
/// in a fourth namespace on the same switch, with domains n1..n3, multicast routed on
/// every node's eth0; returns once fence_virtd answers (within `ready_within`).
pub fn fencing_lab(
    prefix: &str,
    subnet: &str,
    ready_within: Duration,
) -> Result<(crate::cluster::Cluster, FenceVirtd)> {
    fencing_lab_of(prefix, subnet, 3, 0, ready_within)
}

/// [`fencing_lab`] with `members` nodes (domains n1..n`members`), fence_virtd in
/// namespace `members + 1`, and `clients` more namespaces after it (not in the cluster).
pub fn fencing_lab_of(
    prefix: &str,
    subnet: &str,
    members: usize,
    clients: usize,
    ready_within: Duration,
) -> Result<(crate::cluster::Cluster, FenceVirtd)> {
    fencing_lab_with(prefix, subnet, members, clients, None, ready_within)
}

/// [`fencing_lab_of`] with the daemons' heartbeat profile.
pub fn fencing_lab_with(
    prefix: &str,
    subnet: &str,
    members: usize,
    clients: usize,
    profile: Option<&str>,
    ready_within: Duration,
) -> Result<(crate::cluster::Cluster, FenceVirtd)> {
    let c =
        crate::cluster::Cluster::setup_with_spares(prefix, members, 1 + clients, subnet, profile)?;
    for i in 1..=members + 1 + clients {
        let ns = c.net.ns(i);
        crate::netns::run(
            "ip",
            &["-n", &ns, "route", "add", "224.0.0.0/4", "dev", "eth0"],
        )?;
    }
    let dir = c.root.join("fence_virtd");
    std::fs::create_dir_all(&dir)?;
    let domains: Vec<String> = (1..=members).map(|i| format!("n{i}")).collect();
    let domains: Vec<&str> = domains.iter().map(String::as_str).collect();
    let mut fv = FenceVirtd::start(&c.net.ns(members + 1), "eth0", &dir, &domains)?;
    fv.wait_ready(&c.net.ns(1), "n1", ready_within)?;
    Ok((c, fv))
}

/// Stonith on (action off, so the fenced domain stays off) and one fence_hactl_xvm
/// device with `key_file` for nodes n1..n`members`.
pub fn enable_fencing(c: &crate::cluster::Cluster, key_file: &str, members: usize) -> Result<()> {
    crate::controller_lab::set_properties(
        c,
        1,
        &[
            "stonith-enabled=true",
            "stonith-action=off",
            "stonith-timeout=20s",
            "no-quorum-policy=stop",
        ],
        Duration::from_secs(60),
    )?;
    let map: Vec<String> = (1..=members).map(|i| format!("n{i}:n{i}")).collect();
    crate::controller_lab::cli(
        c,
        1,
        &[
            "stonith",
            "create",
            "--no-wait",
            "xvm",
            "fence_hactl_xvm",
            &format!("pcmk_host_map={}", map.join(";")),
            &format!("key_file={key_file}"),
            &format!("multicast_address={GROUP}"),
            "hash=sha256",
            "timeout=3",
        ],
    )?;
    Ok(())
}

/// [`enable_fencing`] for n1..n3 and group `g` of two Dummy resources; returns where
/// it runs.
pub fn configure_fenced_group(c: &crate::cluster::Cluster, key_file: &str) -> Result<String> {
    enable_fencing(c, key_file, 3)?;
    for r in ["d1", "d2"] {
        crate::controller_lab::cli(
            c,
            1,
            &[
                "resource",
                "create",
                "--no-wait",
                r,
                "ocf:heartbeat:Dummy",
                "--group",
                "g",
                "op",
                "monitor",
                "interval=5s",
            ],
        )?;
    }
    crate::controller_lab::wait_group_on(c, 1, &["d1", "d2"], Duration::from_secs(60), |_| true)
}
