//! The two-node lab's power switch: fence_virtd's libvirt test driver only flips a
//! domain's state, so the lab cuts the power of a node's namespace itself
//! ([`Machine::power_off`]: link down, VIP gone, every process killed) when fence_virtd
//! turns its domain off. On real hardware the machine is off before fence_virtd answers
//! the fencing node; here the cut must come before the answer too, or the survivor may
//! start the service while the fenced node still holds it — a double start that only
//! the lab made (the CI failure of `netns_witness_partition_with_fencing_...`: the
//! survivor's VIP came up 150 ms after the fence was confirmed, before a watcher that
//! polled fence_virtd's status had cut the power).
//!
//! So the gate sits on the answer's path. fence_virtd answers a request by connecting
//! back to the requesting node over TCP (challenge/response both ways, then the result
//! byte: `hactl_fence::xvm::client`); in fence_virtd's namespace an nftables `redirect` sends those
//! connections to a relay here, which forwards both directions unchanged. Before it
//! passes on any byte from fence_virtd it reads fence_virtd's own log (line-buffered,
//! debug level 3: `[virt:OFF] Success for n1` is written after the domain is destroyed
//! and before the result byte; in a reboot, `[virt:REBOOT] Calling virDomainCreateLinux()
//! for n1` once it is destroyed) and cuts the power of every node turned off since. The
//! result byte therefore reaches the node only after the cut, as on real hardware;
//! fence_virtd and hactl's fence_xvm client are the real ones, only the power is
//! simulated. Cuts happen while a watch is armed ([`PowerGate::arm`]); the relay
//! forwards at all times.

use std::io::{Read, Seek, SeekFrom, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{Context, Result};
use socket2::{Domain, SockAddr, Socket, Type};

use crate::controller_lab::utc_now;
use crate::netns::run;

/// The relay's own connections to the nodes carry this mark, which the redirect skips.
const MARK: u32 = 0x4850;
/// What fence_virtd's libvirt backend logs once a domain is destroyed (at the debug
/// level `hactl_lab::fence_virtd` runs it with).
const OFF_DONE: &str = "[virt:OFF] Success for ";
/// What it logs in a reboot once the domain is destroyed (a failed destroy logs "still
/// exists" and stops before this), just before it creates the domain again: the
/// machine is off here, and the lab boots it ([`crate::two_node_lab::boot`]).
const REBOOT_DESTROYED: &str = "[virt:REBOOT] Calling virDomainCreateLinux() for ";

/// A node as a power cut sees it.
#[derive(Clone, Debug)]
pub struct Machine {
    pub ns: String,
    /// The VIP the node may hold (`addr/prefix`), deleted by the cut.
    pub vip_cidr: String,
    /// Run-time state of its agents (tmpfs on a real machine): emptied by the cut.
    pub volatile_dirs: Vec<PathBuf>,
}

impl Machine {
    /// A power cut as seen from outside: link down (the node stops answering at
    /// once), VIP gone, every process in its namespace killed, volatile state lost.
    /// Best effort: a node already off has nothing left to cut.
    pub fn power_off(&self) {
        let ns = self.ns.as_str();
        let _ = run("ip", &["-n", ns, "link", "set", "eth0", "down"]);
        // Signals, not a `kill` process per pid: the cut holds fence_virtd's answer.
        for pid in hactl_lab::netns_pids(ns) {
            let _ = hactl_lab::signal(pid, hactl_lab::Signal::Kill);
        }
        // After the kills: an agent still running could have added it back.
        let _ = run(
            "ip",
            &["-n", ns, "addr", "del", &self.vip_cidr, "dev", "eth0"],
        );
        for dir in &self.volatile_dirs {
            let _ = std::fs::remove_dir_all(dir);
            let _ = std::fs::create_dir_all(dir);
        }
    }
}

/// Nodes powered off while a watch was armed, in order (node indexes).
pub type Cuts = Arc<Mutex<Vec<usize>>>;

#[derive(Default)]
struct LogState {
    /// How far fence_virtd's log has been read, and an unfinished last line.
    read: u64,
    partial: Vec<u8>,
    /// Where cuts are recorded while a watch is armed; no cuts otherwise.
    armed: Option<Cuts>,
}

struct Shared {
    log: PathBuf,
    /// Node `i` is `machines[i - 1]`, named `n{i}` (its domain's name).
    machines: Vec<Machine>,
    state: Mutex<LogState>,
    stop: AtomicBool,
}

impl Shared {
    /// Reads what fence_virtd logged since the last call and, while armed, cuts the
    /// power of every node whose domain it turned off. Holds the lock through the
    /// cuts: a relay waiting here passes fence_virtd's answer on only after them.
    fn sync(&self) {
        let Ok(mut st) = self.state.lock() else {
            return;
        };
        for line in self.new_lines(&mut st) {
            let Some(domain) = line
                .strip_prefix(OFF_DONE)
                .or_else(|| line.strip_prefix(REBOOT_DESTROYED))
            else {
                continue;
            };
            let i = domain.trim().trim_start_matches('n').parse::<usize>();
            let (Ok(i), Some(cuts)) = (i, st.armed.as_ref()) else {
                continue;
            };
            let Some(m) = self.machines.get(i.wrapping_sub(1)) else {
                continue;
            };
            let mut cuts = cuts.lock().unwrap_or_else(|p| p.into_inner());
            if !cuts.contains(&i) {
                let t = std::time::Instant::now();
                m.power_off();
                cuts.push(i);
                eprintln!(
                    "lab {}: fence_virtd turned n{i} off: power cut (took {:?}, before its answer)",
                    utc_now(),
                    t.elapsed()
                );
            }
        }
    }

    /// The complete lines fence_virtd logged since the last call.
    fn new_lines(&self, st: &mut LogState) -> Vec<String> {
        let mut bytes = Vec::new();
        let read = std::fs::File::open(&self.log).and_then(|mut f| {
            f.seek(SeekFrom::Start(st.read))?;
            f.read_to_end(&mut bytes)
        });
        let Ok(n) = read else {
            return Vec::new();
        };
        st.read += n as u64;
        st.partial.extend_from_slice(&bytes);
        let complete = st
            .partial
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        let done: Vec<u8> = st.partial.drain(..complete).collect();
        String::from_utf8_lossy(&done)
            .lines()
            .map(str::to_string)
            .collect()
    }
}

/// The relay between fence_virtd and the nodes, and the power switch it drives.
pub struct PowerGate {
    shared: Arc<Shared>,
    ns: String,
    listen: SocketAddr,
    accept: Option<JoinHandle<()>>,
}

impl PowerGate {
    /// Starts the relay in fence_virtd's namespace `fence_ns` for the nodes at
    /// `node_ips` (node `i` at `node_ips[i - 1]`, powered by `machines[i - 1]`);
    /// `log` is fence_virtd's (line-buffered, as `hactl_lab::fence_virtd` starts it).
    pub fn start(
        fence_ns: &str,
        log: PathBuf,
        node_ips: &[String],
        machines: Vec<Machine>,
    ) -> Result<PowerGate> {
        let listener = hactl_lab::in_netns(fence_ns, || TcpListener::bind("127.0.0.1:0"))?
            .context("binding the power gate's relay")?;
        let listen = listener.local_addr()?;
        let shared = Arc::new(Shared {
            log,
            machines,
            state: Mutex::new(LogState::default()),
            stop: AtomicBool::new(false),
        });
        let accept = {
            let (shared, ns) = (shared.clone(), fence_ns.to_string());
            std::thread::spawn(move || accept_loop(&listener, &shared, &ns))
        };
        let gate = PowerGate {
            shared,
            ns: fence_ns.to_string(),
            listen,
            accept: Some(accept),
        };
        let nft = |cmd: &str| run("ip", &["netns", "exec", fence_ns, "nft", cmd]);
        nft("add table ip hactl_power")?;
        nft("add chain ip hactl_power out { type nat hook output priority -100 ; }")?;
        nft(&format!(
            "add rule ip hactl_power out meta mark != {MARK} ip daddr {{ {} }} \
             meta l4proto tcp redirect to :{}",
            node_ips.join(", "),
            listen.port()
        ))?;
        Ok(gate)
    }

    /// From now until [`PowerGate::disarm`], a domain fence_virtd turns off is a power
    /// cut of its node, recorded in `cuts`. What it logged before is not acted on.
    pub fn arm(&self, cuts: Cuts) {
        self.shared.sync();
        if let Ok(mut st) = self.shared.state.lock() {
            st.armed = Some(cuts);
        }
    }

    pub fn disarm(&self) {
        self.shared.sync();
        if let Ok(mut st) = self.shared.state.lock() {
            st.armed = None;
        }
    }

    /// Acts on what fence_virtd logged so far (for fencings whose answer went to no
    /// node, e.g. requests from the client namespace).
    pub fn sync(&self) {
        self.shared.sync();
    }
}

impl Drop for PowerGate {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept; it sees the stop flag and returns.
        let to = self.listen;
        let _ = hactl_lab::in_netns(&self.ns, move || TcpStream::connect(to));
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
    }
}

fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>, ns: &str) {
    for conn in listener.incoming() {
        if shared.stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(from_fenced) = conn else { continue };
        let (shared, ns) = (shared.clone(), ns.to_string());
        std::thread::spawn(move || {
            if let Err(e) = relay(from_fenced, &shared, &ns) {
                eprintln!("lab {}: power gate relay: {e:#}", utc_now());
            }
        });
    }
}

/// Connects on to where fence_virtd was connecting and forwards both ways; every
/// chunk from fence_virtd waits for [`Shared::sync`].
fn relay(from_fenced: TcpStream, shared: &Shared, ns: &str) -> Result<()> {
    let dst = Socket::from(from_fenced.try_clone()?)
        .original_dst_v4()
        .context("the redirected connection's destination")?;
    let to_node = hactl_lab::in_netns(ns, move || connect_marked(&dst))??;
    let (mut up_from, mut up_to) = (to_node.try_clone()?, from_fenced.try_clone()?);
    let up = std::thread::spawn(move || {
        let _ = std::io::copy(&mut up_from, &mut up_to);
        let _ = up_to.shutdown(Shutdown::Write);
    });
    let (mut down_from, mut down_to) = (from_fenced, to_node);
    let mut buf = [0u8; 4096];
    loop {
        let n = down_from.read(&mut buf)?;
        if n == 0 {
            break;
        }
        shared.sync();
        down_to.write_all(&buf[..n])?;
    }
    down_to.shutdown(Shutdown::Write)?;
    let _ = up.join();
    Ok(())
}

fn connect_marked(dst: &SockAddr) -> std::io::Result<TcpStream> {
    let s = Socket::new(Domain::IPV4, Type::STREAM, None)?;
    s.set_mark(MARK)?;
    s.connect_timeout(dst, Duration::from_secs(3))?;
    Ok(s.into())
}
