//! A real fence_virtd (Debian `fence-virtd`, libvirt backend on libvirt's in-process
//! test driver) in throw-away network namespaces:
//!
//! ```text
//!  netns fx-hN (hypervisor)              netns fx-hN-c1, fx-hN-c2 (cluster nodes)
//!  fence_virtd on bridge fx-hbr0  ──veth──  eth0 192.168.233.11 / .12 (fd5a:e233::11 / 12)
//! ```
//!
//! Nothing touches the root namespace. Everything is removed in `Drop`.
#![allow(dead_code)]

use std::net::IpAddr;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use hactl_fence::xvm::{Client, ClientConfig, FenceKey, HashType};
use hactl_lab::fence_virtd as lab;

static COUNTER: AtomicU32 = AtomicU32::new(0);

const SUBNET: &str = "192.168.233";
const V6PREFIX: &str = "fd5a:e233:0:1";
pub const BRIDGE: &str = "fx-hbr0";

/// How to set fence_virtd up.
#[derive(Clone, Debug)]
pub struct Setup {
    /// Domains (name, running?). Named after test nodes.
    pub domains: Vec<(&'static str, bool)>,
    /// fence_virtd's minimum request hash.
    pub hash: HashType,
    /// fence_virtd's challenge/response hash.
    pub auth: HashType,
    pub ipv6: bool,
    pub clients: usize,
    /// Raw text appended to fence_virt.conf (e.g. a `groups` permission map).
    pub extra_conf: String,
}

impl Default for Setup {
    fn default() -> Self {
        Setup {
            domains: vec![("node1", true), ("node2", true), ("node3", false)],
            hash: HashType::Sha256,
            auth: HashType::Sha256,
            ipv6: false,
            clients: 2,
            extra_conf: String::new(),
        }
    }
}

pub struct FenceVirtd {
    pub ns: String,
    pub clients: Vec<String>,
    pub client_addrs: Vec<IpAddr>,
    pub group: IpAddr,
    pub setup: Setup,
    pub dir: tempfile::TempDir,
    pub key_path: PathBuf,
    pub log_path: PathBuf,
    daemon: Option<lab::FenceVirtd>,
}

/// `true` if the caller should skip (not root and HACTL_SKIP_ROOT_TESTS=1); panics
/// with a clear message if not root otherwise.
pub fn skip_unless_root() -> bool {
    if nix::unistd::Uid::effective().is_root() {
        return false;
    }
    if std::env::var("HACTL_SKIP_ROOT_TESTS").as_deref() == Ok("1") {
        eprintln!("skipping: needs root for network namespaces (HACTL_SKIP_ROOT_TESTS=1)");
        return true;
    }
    panic!("this test needs root (network namespaces); set HACTL_SKIP_ROOT_TESTS=1 to skip");
}

fn ip(args: &[&str]) {
    let out = Command::new("ip")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run ip (install iproute2): {e}"));
    assert!(
        out.status.success(),
        "ip {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl FenceVirtd {
    /// Creates the namespaces, starts fence_virtd, and waits until a native `list`
    /// from the first client succeeds. `None` only when root tests are skipped.
    pub fn start(setup: Setup) -> Option<FenceVirtd> {
        if skip_unless_root() {
            return None;
        }
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let ns = format!("fx-h{}-{}", std::process::id() % 100_000, n);
        let dir = tempfile::Builder::new()
            .prefix("fx-h-fence-virtd")
            .tempdir()
            .expect("tempdir");
        let group: IpAddr = if setup.ipv6 {
            "ff05::3:1".parse().unwrap()
        } else {
            "225.0.0.12".parse().unwrap()
        };
        let mut me = FenceVirtd {
            ns: ns.clone(),
            clients: Vec::new(),
            client_addrs: Vec::new(),
            group,
            setup: setup.clone(),
            key_path: dir.path().join("fence_xvm.key"),
            log_path: dir.path().join("fence_virtd.log"),
            dir,
            daemon: None,
        };
        // From here on Drop cleans up whatever was created.
        ip(&["netns", "add", &ns]);
        ip(&["-n", &ns, "link", "set", "lo", "up"]);
        ip(&["-n", &ns, "link", "add", BRIDGE, "type", "bridge"]);
        ip(&[
            "-n",
            &ns,
            "link",
            "set",
            BRIDGE,
            "type",
            "bridge",
            "mcast_snooping",
            "0",
            "stp_state",
            "0",
            "forward_delay",
            "0",
        ]);
        ip(&[
            "-n",
            &ns,
            "addr",
            "add",
            &format!("{SUBNET}.1/24"),
            "dev",
            BRIDGE,
        ]);
        if setup.ipv6 {
            ip(&[
                "-n",
                &ns,
                "addr",
                "add",
                &format!("{V6PREFIX}::1/64"),
                "dev",
                BRIDGE,
                "nodad",
            ]);
        }
        ip(&["-n", &ns, "link", "set", BRIDGE, "up"]);
        for i in 1..=setup.clients {
            let cns = format!("{ns}-c{i}");
            ip(&["netns", "add", &cns]);
            me.clients.push(cns.clone());
            ip(&["-n", &cns, "link", "set", "lo", "up"]);
            let veth = format!("fx-hv-c{i}");
            ip(&[
                "-n", &ns, "link", "add", &veth, "type", "veth", "peer", "name", "eth0", "netns",
                &cns,
            ]);
            ip(&["-n", &ns, "link", "set", &veth, "master", BRIDGE, "up"]);
            ip(&[
                "-n",
                &cns,
                "addr",
                "add",
                &format!("{SUBNET}.{}/24", 10 + i),
                "dev",
                "eth0",
            ]);
            ip(&["-n", &cns, "link", "set", "eth0", "up"]);
            if setup.ipv6 {
                let a = format!("{V6PREFIX}::{}", 10 + i);
                ip(&[
                    "-n",
                    &cns,
                    "addr",
                    "add",
                    &format!("{a}/64"),
                    "dev",
                    "eth0",
                    "nodad",
                ]);
                ip(&["-n", &cns, "-6", "route", "add", "ff05::/16", "dev", "eth0"]);
                me.client_addrs.push(a.parse().unwrap());
            } else {
                me.client_addrs
                    .push(format!("{SUBNET}.{}", 10 + i).parse().unwrap());
            }
        }

        let mut cfg = lab::Config::new(&ns, BRIDGE, me.dir.path(), &setup.domains);
        cfg.group = group;
        cfg.hash = setup.hash.to_string();
        cfg.auth = setup.auth.to_string();
        cfg.extra_conf = setup.extra_conf.clone();
        let daemon = lab::FenceVirtd::start(&cfg)
            .unwrap_or_else(|e| panic!("cannot start fence_virtd: {e}"));
        me.key_path = daemon.key_path.clone();
        me.log_path = daemon.log_path.clone();
        me.daemon = Some(daemon);
        me.wait_ready();
        Some(me)
    }

    /// Ready = a native `list` from the first client gets an answer.
    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut cfg = self.client_config(self.key());
        cfg.timeout = Duration::from_millis(500);
        cfg.retrans = Duration::from_millis(100);
        loop {
            if let Some(status) = self.daemon.as_mut().and_then(|d| d.exited()) {
                panic!(
                    "fence_virtd exited ({status}) before answering; log:\n{}",
                    self.log()
                );
            }
            let c = cfg.clone();
            let r = self.in_client(0, move || {
                let client = Client::new(c).unwrap();
                block_on(client.list())
            });
            match r {
                Ok(_) => return,
                Err(e) if Instant::now() > deadline => {
                    panic!(
                        "fence_virtd never answered a list: {e}\nlog:\n{}",
                        self.log()
                    )
                }
                Err(_) => {}
            }
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    pub fn key(&self) -> FenceKey {
        FenceKey::load(&self.key_path).unwrap()
    }

    /// A client configuration matching the daemon, with short test timeouts.
    pub fn client_config(&self, key: FenceKey) -> ClientConfig {
        let mut cfg = ClientConfig::new(key);
        cfg.group = self.group;
        cfg.hash = self.setup.hash;
        cfg.auth = self.setup.auth;
        cfg.timeout = Duration::from_secs(5);
        cfg.retrans = Duration::from_millis(500);
        cfg
    }

    /// Runs `f` on a thread that has entered client namespace `idx`: every socket it
    /// opens lives in that namespace.
    pub fn in_client<T: Send + 'static>(
        &self,
        idx: usize,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> T {
        run_in_netns(&self.clients[idx], f)
    }

    /// Same, in the hypervisor namespace.
    pub fn in_hypervisor<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
        run_in_netns(&self.ns, f)
    }

    /// A command that runs `program` inside client namespace `idx`.
    pub fn client_command(&self, idx: usize, program: impl AsRef<Path>) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.clients[idx]])
            .arg(program.as_ref());
        c
    }
}

pub fn run_in_netns<T: Send + 'static>(ns: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let path = format!("/run/netns/{ns}");
    std::thread::spawn(move || {
        let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("open {path}: {e}"));
        nix::sched::setns(file.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET)
            .unwrap_or_else(|e| panic!("setns {path}: {e}"));
        f()
    })
    .join()
    .unwrap_or_else(|p| std::panic::resume_unwind(p))
}

/// Runs a future on a current-thread runtime (so all its sockets stay on this thread,
/// in this thread's namespace).
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

impl Drop for FenceVirtd {
    fn drop(&mut self) {
        // Stop the daemon before its namespace goes away.
        drop(self.daemon.take());
        for ns in self.clients.iter().chain(std::iter::once(&self.ns)) {
            let _ = Command::new("ip")
                .args(["netns", "del", ns])
                .stderr(Stdio::null())
                .status();
        }
    }
}
