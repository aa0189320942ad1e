//! An in-memory network of consensus nodes, for tests: real nodes with real redb
//! storage in temporary directories, connected by function calls instead of QUIC, with
//! links that can be cut (partitions) and nodes that can be stopped and restarted from
//! their data directory. A stop closes the store cleanly; what a crash or a power cut
//! leaves (only what was fsynced) is tested in tests/power_loss.rs. A node can also be
//! wiped (the disk is lost).
//!
//! The daemon's heartbeats carry each node's [`PeerReport`]; here a reporter thread
//! stands in for them and delivers every node's report to every peer it can reach,
//! every two ticks.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use protobuf::Message as _;

use crate::format::ENTRY_FORMAT;
use crate::{start, Config, Error, Handle, NodeId, PeerReport, Status, Timing, Transport};

#[derive(Default)]
struct Router {
    nodes: BTreeMap<NodeId, Handle>,
    /// Directed links that drop everything.
    cut: HashSet<(NodeId, NodeId)>,
    /// The highest entry format each node was started with.
    formats: BTreeMap<NodeId, u32>,
    /// Nodes whose reports reach no peer (their heartbeats are late), while their
    /// Raft messages still flow.
    withheld: HashSet<NodeId>,
    /// Snapshots lost in a cut, per directed link (what a test waits for before it
    /// heals a cut that must have eaten one).
    dropped_snapshots: Mutex<BTreeMap<(NodeId, NodeId), usize>>,
}

impl Router {
    /// Delivers every running node's report to every peer it can reach.
    fn exchange_reports(&self) {
        for (&from, h) in &self.nodes {
            if self.withheld.contains(&from) {
                continue;
            }
            let s = h.status();
            let report = PeerReport {
                max_format: self.formats.get(&from).copied().unwrap_or(ENTRY_FORMAT),
                rejoin: s.rejoin,
                last_term: s.last_term,
                last_index: s.last_index,
            };
            for (&to, peer) in &self.nodes {
                if to != from && !self.cut.contains(&(from, to)) {
                    peer.peer_report(from, report);
                }
            }
        }
    }
}

/// A cluster of nodes in one process.
pub struct MemCluster {
    router: Arc<RwLock<Router>>,
    dirs: BTreeMap<NodeId, PathBuf>,
    pub timing: Timing,
    pub compact_after: u64,
    /// The nodes' [`Config::format_wait`].
    pub format_wait: Option<Duration>,
    founders: Vec<NodeId>,
    reporter_stop: Arc<AtomicBool>,
    _root: Option<tempfile_root::Root>,
}

/// Keeps the temporary root directory alive while the cluster exists.
mod tempfile_root {
    pub struct Root(pub std::path::PathBuf);
    impl Drop for Root {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

impl MemCluster {
    /// A cluster of `n` founding voters (ids 1..=n) under `root` (created; removed on
    /// drop), with fast timing so tests run quickly.
    pub fn new(n: u64, root: PathBuf) -> Result<MemCluster, Error> {
        Self::with_reports_withheld(n, root, &[], None)
    }

    /// As [`MemCluster::new`], but the reports of the nodes in `withheld` reach no
    /// peer until [`MemCluster::release_reports`] (a member whose heartbeats come
    /// late: its peers have never heard which format it reads); `format_wait`: the
    /// nodes' [`Config::format_wait`].
    pub fn with_reports_withheld(
        n: u64,
        root: PathBuf,
        withheld: &[NodeId],
        format_wait: Option<Duration>,
    ) -> Result<MemCluster, Error> {
        let timing = Timing {
            tick: Duration::from_millis(5),
            heartbeat_ticks: 2,
            election_ticks: 10,
        };
        let mut c = MemCluster {
            router: Arc::default(),
            dirs: BTreeMap::new(),
            timing,
            compact_after: 1000,
            format_wait,
            founders: (1..=n).collect(),
            reporter_stop: Arc::default(),
            _root: Some(tempfile_root::Root(root.clone())),
        };
        for id in 1..=n {
            c.dirs.insert(id, root.join(format!("node{id}")));
        }
        if let Ok(mut r) = c.router.write() {
            r.withheld.extend(withheld);
        }
        for id in 1..=n {
            c.boot(id, true)?;
        }
        c.start_reporter();
        Ok(c)
    }

    fn start_reporter(&self) {
        let router = self.router.clone();
        let stop = self.reporter_stop.clone();
        let every = self.timing.tick * 2;
        std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                if let Ok(r) = router.read() {
                    r.exchange_reports();
                }
                std::thread::sleep(every);
            }
        });
    }

    /// Node `id`'s reports reach its peers again.
    pub fn release_reports(&self, id: NodeId) {
        if let Ok(mut r) = self.router.write() {
            r.withheld.remove(&id);
        }
    }

    /// The highest entry format node `id` reads and writes from its next start on
    /// (lower than [`ENTRY_FORMAT`]: the node acts as an older build).
    pub fn set_max_format(&self, id: NodeId, format: u32) {
        if let Ok(mut r) = self.router.write() {
            r.formats.insert(id, format);
        }
    }

    fn transport(&self, from: NodeId) -> Transport {
        let router = self.router.clone();
        Arc::new(move |to, bytes| {
            let r = match router.read() {
                Ok(r) => r,
                Err(_) => return,
            };
            if r.cut.contains(&(from, to)) {
                let snapshot = raft::eraftpb::Message::parse_from_bytes(&bytes)
                    .is_ok_and(|m| m.get_msg_type() == raft::eraftpb::MessageType::MsgSnapshot);
                if snapshot {
                    if let Ok(mut d) = r.dropped_snapshots.lock() {
                        *d.entry((from, to)).or_default() += 1;
                    }
                }
                return;
            }
            if let Some(h) = r.nodes.get(&to) {
                h.step(from, bytes);
            }
        })
    }

    /// Starts node `id` from its directory; `may_found`: a founder (its first start).
    fn boot(&mut self, id: NodeId, may_found: bool) -> Result<(), Error> {
        let dir = self
            .dirs
            .get(&id)
            .cloned()
            .ok_or_else(|| Error::Config(format!("unknown node {id}")))?;
        let max_format = self
            .router
            .read()
            .ok()
            .and_then(|r| r.formats.get(&id).copied())
            .unwrap_or(ENTRY_FORMAT);
        let members = if may_found {
            self.founders.clone()
        } else {
            self.ids()
        };
        let cfg = Config {
            timing: self.timing,
            compact_after: self.compact_after,
            may_found,
            max_format,
            format_wait: self.format_wait,
            ..Config::new(id, members, dir)
        };
        let h = start(cfg, self.transport(id))?;
        if let Ok(mut r) = self.router.write() {
            r.nodes.insert(id, h);
        }
        Ok(())
    }

    /// Adds a brand-new node (empty storage, not yet a voter) with its data under the
    /// cluster's root; make it a voter with [`Handle::add_voter`] on the leader.
    pub fn add_node(&mut self, id: NodeId) -> Result<(), Error> {
        let root = self
            ._root
            .as_ref()
            .map(|r| r.0.clone())
            .ok_or_else(|| Error::Config("no root".into()))?;
        self.dirs.insert(id, root.join(format!("node{id}")));
        self.boot(id, false)
    }

    pub fn node(&self, id: NodeId) -> Option<Handle> {
        self.router.read().ok()?.nodes.get(&id).cloned()
    }

    pub fn ids(&self) -> Vec<NodeId> {
        self.dirs.keys().copied().collect()
    }

    /// Stops a node (its thread ends; its storage stays as the last flush left it).
    pub fn stop(&self, id: NodeId) {
        let h = self
            .router
            .write()
            .ok()
            .and_then(|mut r| r.nodes.remove(&id));
        if let Some(h) = h {
            h.stop();
        }
    }

    /// Starts a stopped node again from its data directory.
    pub fn restart(&mut self, id: NodeId) -> Result<(), Error> {
        self.boot(id, false)
    }

    /// Stops node `id`, deletes its state (a lost disk) and starts it again, as a
    /// member (not a founder).
    pub fn wipe(&mut self, id: NodeId) -> Result<(), Error> {
        self.wipe_stopped(id)?;
        self.restart(id)
    }

    /// Stops node `id` and deletes its state, leaving it stopped.
    pub fn wipe_stopped(&mut self, id: NodeId) -> Result<(), Error> {
        self.stop(id);
        let dir = self
            .dirs
            .get(&id)
            .ok_or_else(|| Error::Config(format!("unknown node {id}")))?;
        match std::fs::remove_dir_all(dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::Storage(format!("wiping {}: {e}", dir.display()))),
        }
    }

    /// Starts node `id` as a founder would on its first start (for tests of what
    /// founding would do).
    pub fn start_as_founder(&mut self, id: NodeId) -> Result<(), Error> {
        self.boot(id, true)
    }

    /// Cuts both directions between every node of `a` and every node of `b`.
    pub fn partition(&self, a: &[NodeId], b: &[NodeId]) {
        if let Ok(mut r) = self.router.write() {
            for &x in a {
                for &y in b {
                    r.cut.insert((x, y));
                    r.cut.insert((y, x));
                }
            }
        }
    }

    /// Undoes [`MemCluster::partition`] between `a` and `b` only.
    pub fn join(&self, a: &[NodeId], b: &[NodeId]) {
        if let Ok(mut r) = self.router.write() {
            for &x in a {
                for &y in b {
                    r.cut.remove(&(x, y));
                    r.cut.remove(&(y, x));
                }
            }
        }
    }

    /// Cuts the one direction `from` → `to` (a peer that looks alive to `from`, whose
    /// messages still arrive, while everything sent to it is lost).
    pub fn cut(&self, from: NodeId, to: NodeId) {
        if let Ok(mut r) = self.router.write() {
            r.cut.insert((from, to));
        }
    }

    /// How many snapshots `from` sent to `to` were lost in a cut.
    pub fn dropped_snapshots(&self, from: NodeId, to: NodeId) -> usize {
        self.router
            .read()
            .ok()
            .and_then(|r| {
                r.dropped_snapshots
                    .lock()
                    .ok()
                    .map(|d| d.get(&(from, to)).copied())
            })
            .flatten()
            .unwrap_or(0)
    }

    pub fn heal(&self) {
        if let Ok(mut r) = self.router.write() {
            r.cut.clear();
        }
    }

    /// Statuses of the running nodes.
    pub fn statuses(&self) -> BTreeMap<NodeId, Arc<Status>> {
        self.router
            .read()
            .map(|r| r.nodes.iter().map(|(id, h)| (*id, h.status())).collect())
            .unwrap_or_default()
    }

    /// Polls until `cond` holds for the running nodes' statuses, or `timeout` passes.
    pub fn wait_for(
        &self,
        timeout: Duration,
        mut cond: impl FnMut(&BTreeMap<NodeId, Arc<Status>>) -> bool,
    ) -> Result<BTreeMap<NodeId, Arc<Status>>, BTreeMap<NodeId, Arc<Status>>> {
        let deadline = Instant::now() + timeout;
        loop {
            let s = self.statuses();
            if cond(&s) {
                return Ok(s);
            }
            if Instant::now() >= deadline {
                return Err(s);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Waits until the nodes in `among` agree on one leader that is one of them.
    pub fn wait_leader(&self, among: &[NodeId], timeout: Duration) -> Option<NodeId> {
        let r = self.wait_for(timeout, |s| {
            let leaders: HashSet<Option<NodeId>> = among
                .iter()
                .map(|id| s.get(id).and_then(|st| st.leader))
                .collect();
            leaders.len() == 1
                && leaders.iter().next().copied().flatten().is_some_and(|l| {
                    among.contains(&l) && s.get(&l).is_some_and(|st| st.is_leader())
                })
        });
        r.ok().and_then(|s| {
            among
                .first()
                .and_then(|id| s.get(id))
                .and_then(|st| st.leader)
        })
    }
}

impl Drop for MemCluster {
    fn drop(&mut self) {
        self.reporter_stop.store(true, Ordering::SeqCst);
        let nodes: Vec<Handle> = self
            .router
            .write()
            .map(|mut r| std::mem::take(&mut r.nodes).into_values().collect())
            .unwrap_or_default();
        for h in nodes {
            h.stop();
        }
    }
}
