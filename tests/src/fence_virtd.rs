//! A real fence_virtd (Debian `fence-virtd`, multicast listener, libvirt backend on
//! libvirt's `test://` driver, so no VM is needed) inside one of the lab's
//! namespaces, with domains named after the cluster nodes. Stopped on drop.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};

/// The multicast group and port fence_virtd listens on (fence_xvm's defaults).
pub const GROUP: &str = "225.0.0.12";
pub const PORT: u16 = 1229;

pub struct FenceVirtd {
    pub ns: String,
    pub key_path: PathBuf,
    pub log_path: PathBuf,
    child: Option<Child>,
}

fn plugin_dir() -> Result<PathBuf> {
    let mut candidates = vec![PathBuf::from("/usr/lib64/fence-virt")];
    if let Ok(rd) = std::fs::read_dir("/usr/lib") {
        for e in rd.flatten() {
            candidates.push(e.path().join("fence-virt"));
        }
    }
    candidates
        .into_iter()
        .find(|d| d.join("virt.so").exists() && d.join("multicast.so").exists())
        .ok_or_else(|| {
            anyhow!("fence_virtd plugins (virt.so, multicast.so) not found: install fence-virtd")
        })
}

/// libvirt test-driver domains, all running.
fn domains_xml(domains: &[&str]) -> String {
    let mut s = String::from("<node>\n");
    for (i, name) in domains.iter().enumerate() {
        s.push_str(&format!(
            "  <domain type='test'>\n    <name>{name}</name>\n    \
             <uuid>6695eb01-f6a4-8304-79aa-{:012}</uuid>\n    <memory>65536</memory>\n    \
             <vcpu>1</vcpu>\n    <os><type>hvm</type></os>\n  </domain>\n",
            i + 1
        ));
    }
    s.push_str("</node>\n");
    s
}

/// Writes a random 4 KiB key file.
pub fn write_key(path: &Path) -> Result<()> {
    let mut key = vec![0u8; 4096];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut key))
        .context("reading /dev/urandom")?;
    std::fs::write(path, key).with_context(|| format!("writing {}", path.display()))
}

impl FenceVirtd {
    /// Starts fence_virtd in namespace `ns` listening on `iface`, files under `dir`.
    pub fn start(ns: &str, iface: &str, dir: &Path, domains: &[&str]) -> Result<FenceVirtd> {
        let key_path = dir.join("fence_xvm.key");
        write_key(&key_path)?;
        let xml = dir.join("domains.xml");
        std::fs::write(&xml, domains_xml(domains))?;
        let conf = dir.join("fence_virt.conf");
        std::fs::write(
            &conf,
            format!(
                "fence_virtd {{\n\tlistener = \"multicast\";\n\tbackend = \"libvirt\";\n\tmodule_path = \"{plugins}\";\n}}\n\
                 listeners {{\n\tmulticast {{\n\t\tkey_file = \"{key}\";\n\t\taddress = \"{GROUP}\";\n\t\tport = \"{PORT}\";\n\
                 \t\tfamily = \"ipv4\";\n\t\tinterface = \"{iface}\";\n\t\thash = \"sha256\";\n\t\tauth = \"sha256\";\n\t}}\n}}\n\
                 backends {{\n\tlibvirt {{\n\t\turi = \"test://{xml}\";\n\t}}\n}}\n",
                plugins = plugin_dir()?.display(),
                key = key_path.display(),
                xml = xml.display(),
            ),
        )?;
        let log_path = dir.join("fence_virtd.log");
        let log = std::fs::File::create(&log_path)?;
        let child = Command::new("ip")
            .args(["netns", "exec", ns, "fence_virtd", "-F", "-d", "1", "-f"])
            .arg(&conf)
            // Its own pid file: the default /run/fence_virtd.pid makes a second
            // fence_virtd on the machine exit at once.
            .arg("-p")
            .arg(dir.join("fence_virtd.pid"))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("cannot start fence_virtd (install fence-virtd)")?;
        Ok(FenceVirtd {
            ns: ns.to_string(),
            key_path,
            log_path,
            child: Some(child),
        })
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// Power state of `domain` as the C `fence_xvm -o status` run in namespace
    /// `from_ns` sees it: `Some(true)` on, `Some(false)` off, `None` no answer.
    pub fn status_from(&self, from_ns: &str, domain: &str) -> Result<Option<bool>> {
        let out = Command::new("ip")
            // The C client can wait forever for an answer: bound it.
            .args(["netns", "exec", from_ns, "timeout", "5", "fence_xvm"])
            .args(["-o", "status", "-H", domain])
            .args(["-k"])
            .arg(&self.key_path)
            .args(["-t", "2", "-c", "sha256", "-a", GROUP])
            .output()
            .context("running fence_xvm (install fence-virt)")?;
        Ok(match out.status.code() {
            Some(0) => Some(true),
            Some(2) => Some(false),
            _ => None,
        })
    }

    /// Waits until fence_virtd answers a status query from `from_ns`.
    pub fn wait_ready(&mut self, from_ns: &str, domain: &str, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(c) = self.child.as_mut() {
                if let Ok(Some(st)) = c.try_wait() {
                    bail!("fence_virtd exited ({st}); log:\n{}", self.log());
                }
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

impl Drop for FenceVirtd {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            // `ip netns exec` execs fence_virtd: the child is fence_virtd itself.
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
