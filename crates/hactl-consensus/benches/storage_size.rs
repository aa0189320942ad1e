//! Size of a node's Raft state directory after many writes against a large CIB.
//!
//! One consensus node (real storage in a temporary directory, default compaction every
//! 1000 entries) gets a CIB of about `CIB_KB` KiB (properties with 1 KiB values), then
//! `N` writes (each replaces one property), with up to 64 in flight. It prints the state
//! directory's size (allocated blocks) and the CIB's size, after the writes and again
//! after a restart.
//!
//! `cargo bench -p hactl-consensus --bench storage_size -- [N] [CIB_KB]`
//! (defaults: 100000 writes, 800 KiB).

use std::path::Path;
use std::time::{Duration, Instant};

use hactl_consensus::testing::MemCluster;
use hactl_consensus::Change;

fn dir_bytes(p: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt as _;
    let mut total = 0;
    for e in std::fs::read_dir(p).expect("read state dir").flatten() {
        let m = e.metadata().expect("metadata");
        total += if m.is_dir() {
            dir_bytes(&e.path())
        } else {
            m.blocks() * 512
        };
    }
    total
}

fn mib(b: u64) -> String {
    format!("{:.2} MiB", b as f64 / (1024.0 * 1024.0))
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let n: u64 = args.first().and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let cib_kb: u64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(800);
    let root = tempfile::tempdir().expect("tempdir").keep();
    let mut c = MemCluster::new(1, root.clone()).expect("cluster");
    let node_dir = root.join("node1");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_time()
        .build()
        .expect("runtime");
    c.wait_leader(&[1], Duration::from_secs(10))
        .expect("leader");
    let h = c.node(1).expect("node");
    let big = "x".repeat(1024);
    let started = Instant::now();
    rt.block_on(async {
        for i in 0..cib_kb {
            h.propose(Change::SetProperty {
                name: format!("fill-{i:05}"),
                value: big.clone(),
            })
            .await
            .expect("fill");
        }
        let mut inflight: tokio::task::JoinSet<Result<u64, hactl_consensus::ProposeError>> =
            tokio::task::JoinSet::new();
        for i in 0..n {
            if inflight.len() >= 64 {
                inflight
                    .join_next()
                    .await
                    .expect("task")
                    .expect("join")
                    .expect("write");
            }
            let h = h.clone();
            inflight.spawn(async move {
                h.propose(Change::SetProperty {
                    name: format!("w{}", i % 100),
                    value: format!("{i}"),
                })
                .await
            });
        }
        while let Some(r) = inflight.join_next().await {
            r.expect("join").expect("write");
        }
    });
    let st = h.status();
    let cib = serde_json::to_vec(&*st.cib).expect("cib").len() as u64;
    let after = dir_bytes(&node_dir);
    println!(
        "writes: {n} (+{cib_kb} fill) in {:.1} s; applied index {}, snapshot index {}",
        started.elapsed().as_secs_f64(),
        st.applied_index,
        st.snapshot_index
    );
    println!("CIB (JSON): {}", mib(cib));
    println!(
        "state dir after writes: {} ({:.1}x the CIB)",
        mib(after),
        after as f64 / cib as f64
    );
    c.stop(1);
    c.restart(1).expect("restart");
    c.wait_leader(&[1], Duration::from_secs(10))
        .expect("leader after restart");
    let restarted = dir_bytes(&node_dir);
    println!(
        "state dir after restart: {} ({:.1}x the CIB)",
        mib(restarted),
        restarted as f64 / cib as f64
    );
}
