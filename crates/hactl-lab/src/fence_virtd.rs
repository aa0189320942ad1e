//! A real fence_virtd (Debian `fence-virtd`: multicast listener, libvirt backend on
//! libvirt's `test://` driver, so no VM is needed) in a network namespace, for tests
//! of the fence_xvm client and of fencing in a lab. [`FenceVirtd::start`] writes the
//! key, the domains XML and `fence_virt.conf` into a directory the caller owns, and
//! starts `fence_virtd -F` with its own pid file; drop stops it.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::LabError;

/// fence_xvm's default IPv4 multicast group and port.
pub const GROUP_V4: &str = "225.0.0.12";
pub const PORT: u16 = 1229;

/// What to start.
#[derive(Clone, Debug)]
pub struct Config {
    /// Network namespace to run in.
    pub ns: String,
    /// Interface the multicast listener joins the group on.
    pub iface: String,
    /// Where the key, config, domains XML, log and pid file go.
    pub dir: PathBuf,
    /// Multicast group; its family picks `family = ipv4|ipv6`.
    pub group: IpAddr,
    /// `hash` (minimum request hash) and `auth` (challenge/response), e.g. "sha256".
    pub hash: String,
    pub auth: String,
    /// libvirt test-driver domains: (name, running?).
    pub domains: Vec<(String, bool)>,
    /// Raw text appended to `fence_virt.conf` (e.g. a `groups` permission map).
    pub extra_conf: String,
}

impl Config {
    /// IPv4 group 225.0.0.12, sha256 for both hashes, no extra config.
    pub fn new(ns: &str, iface: &str, dir: &Path, domains: &[(&str, bool)]) -> Config {
        Config {
            ns: ns.into(),
            iface: iface.into(),
            dir: dir.into(),
            group: IpAddr::V4(std::net::Ipv4Addr::new(225, 0, 0, 12)),
            hash: "sha256".into(),
            auth: "sha256".into(),
            domains: domains.iter().map(|(n, on)| (n.to_string(), *on)).collect(),
            extra_conf: String::new(),
        }
    }
}

/// A running fence_virtd; stopped (SIGTERM, then SIGKILL) on drop.
#[derive(Debug)]
pub struct FenceVirtd {
    pub ns: String,
    pub key_path: PathBuf,
    pub log_path: PathBuf,
    child: Option<Child>,
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> LabError {
    let what = what.into();
    move |source| LabError::Io { what, source }
}

/// The directory holding fence_virtd's `virt.so` and `multicast.so` plugins
/// (`/usr/lib64/fence-virt` or Debian's `/usr/lib/<triplet>/fence-virt`).
pub fn plugin_dir() -> Result<PathBuf, LabError> {
    let mut candidates = vec![PathBuf::from("/usr/lib64/fence-virt")];
    if let Ok(rd) = std::fs::read_dir("/usr/lib") {
        for e in rd.flatten() {
            candidates.push(e.path().join("fence-virt"));
        }
    }
    candidates.push(PathBuf::from("/usr/lib/fence-virt"));
    candidates
        .into_iter()
        .find(|d| d.join("virt.so").exists() && d.join("multicast.so").exists())
        .ok_or_else(|| {
            LabError::NotInstalled(
                "fence_virtd plugins (virt.so, multicast.so) not found: install fence-virtd".into(),
            )
        })
}

/// Writes a random 4 KiB key file (fence_xvm's key size).
pub fn write_key(path: &Path) -> Result<(), LabError> {
    let mut key = vec![0u8; 4096];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut key))
        .map_err(io("reading /dev/urandom"))?;
    std::fs::write(path, key).map_err(io(format!("writing {}", path.display())))
}

/// libvirt test-driver domains; a domain not running gets runstate 5 (shut off).
pub fn domains_xml(domains: &[(String, bool)]) -> String {
    let mut s = String::from("<node>\n");
    for (i, (name, on)) in domains.iter().enumerate() {
        s.push_str(&format!(
            "  <domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>\n    \
             <name>{name}</name>\n    <uuid>6695eb01-f6a4-8304-79aa-{:012}</uuid>\n    \
             <memory>65536</memory>\n    <vcpu>1</vcpu>\n    <os><type>hvm</type></os>\n{}  </domain>\n",
            i + 1,
            if *on { "" } else { "    <test:runstate>5</test:runstate>\n" }
        ));
    }
    s.push_str("</node>\n");
    s
}

/// The `fence_virt.conf` text for `cfg`, with key, domains XML and plugins at the
/// paths given.
pub fn config_text(cfg: &Config, plugins: &Path, key: &Path, xml: &Path) -> String {
    format!(
        "fence_virtd {{\n\tlistener = \"multicast\";\n\tbackend = \"libvirt\";\n\tmodule_path = \"{plugins}\";\n}}\n\
         listeners {{\n\tmulticast {{\n\t\tkey_file = \"{key}\";\n\t\taddress = \"{group}\";\n\t\tport = \"{PORT}\";\n\
         \t\tfamily = \"{family}\";\n\t\tinterface = \"{iface}\";\n\t\thash = \"{hash}\";\n\t\tauth = \"{auth}\";\n\t}}\n}}\n\
         backends {{\n\tlibvirt {{\n\t\turi = \"test://{xml}\";\n\t}}\n}}\n{extra}\n",
        plugins = plugins.display(),
        key = key.display(),
        group = cfg.group,
        family = if cfg.group.is_ipv6() { "ipv6" } else { "ipv4" },
        iface = cfg.iface,
        hash = cfg.hash,
        auth = cfg.auth,
        xml = xml.display(),
        extra = cfg.extra_conf,
    )
}

impl FenceVirtd {
    /// Writes a fresh key, the domains XML and the config under `cfg.dir`, and starts
    /// `fence_virtd -F` in `cfg.ns` with its own pid file (the default
    /// `/run/fence_virtd.pid` makes a second fence_virtd on the machine exit at once).
    /// Output goes to `log_path`. Readiness is the caller's to check (a status or
    /// list request that gets an answer).
    pub fn start(cfg: &Config) -> Result<FenceVirtd, LabError> {
        let key_path = cfg.dir.join("fence_xvm.key");
        write_key(&key_path)?;
        let xml = cfg.dir.join("domains.xml");
        std::fs::write(&xml, domains_xml(&cfg.domains))
            .map_err(io(format!("writing {}", xml.display())))?;
        let conf = cfg.dir.join("fence_virt.conf");
        std::fs::write(&conf, config_text(cfg, &plugin_dir()?, &key_path, &xml))
            .map_err(io(format!("writing {}", conf.display())))?;
        let log_path = cfg.dir.join("fence_virtd.log");
        let log = std::fs::File::create(&log_path)
            .map_err(io(format!("creating {}", log_path.display())))?;
        let log2 = log
            .try_clone()
            .map_err(io(format!("opening {}", log_path.display())))?;
        // Line-buffered at debug level 3, so that the log, read while it runs, holds
        // every request and outcome as it happens (`[virt:OFF] Success for n1` after
        // the domain is off and before the answer): the two-node lab's power gate acts
        // on it. Block-buffered, the last lines came out only at exit.
        let child = Command::new("ip")
            .args([
                "netns",
                "exec",
                &cfg.ns,
                "stdbuf",
                "-oL",
                "fence_virtd",
                "-F",
                "-d",
                "3",
                "-f",
            ])
            .arg(&conf)
            .arg("-p")
            .arg(cfg.dir.join("fence_virtd.pid"))
            .stdin(Stdio::null())
            .stdout(log2)
            .stderr(log)
            .spawn()
            .map_err(|source| LabError::Spawn {
                cmd: "ip netns exec … fence_virtd".into(),
                source,
            })?;
        Ok(FenceVirtd {
            ns: cfg.ns.clone(),
            key_path,
            log_path,
            child: Some(child),
        })
    }

    /// Its output so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// `Some(status)` once the daemon has exited (e.g. on a bad config).
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }
}

impl Drop for FenceVirtd {
    fn drop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        // `ip netns exec` execs fence_virtd, so this pid is the daemon itself.
        if let Ok(pid) = i32::try_from(child.id()) {
            // SAFETY: kill(2) on our own unreaped child; it cannot be a reused pid.
            unsafe {
                libc::kill(pid, libc::SIGTERM);
            }
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            match child.try_wait() {
                Ok(Some(_)) | Err(_) => return,
                Ok(None) if Instant::now() > deadline => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return;
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    }
}
