//! Fencing benchmark: `status` round trips against a real fence_virtd in network
//! namespaces (needs root), measured three ways from a client namespace:
//! the native client in-process, the `fence_hactl_xvm` process, and the C
//! `fence_xvm -o status` process. Run through `scripts/bench-fence`.
//!
//! usage: xvm_status_bench [N] [path/to/fence_hactl_xvm]

#[path = "../tests/testbed/mod.rs"]
mod testbed;

use hactl_fence::xvm::{Client, PowerState};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use testbed::{block_on, FenceVirtd, Setup};

fn stats(name: &str, mut v: Vec<Duration>) {
    v.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let pct = |p: f64| v[((v.len() as f64 - 1.0) * p).round() as usize];
    println!(
        "{name:<34} n={:<3} median {:>7.3} ms   p95 {:>7.3} ms   min {:>7.3} ms   max {:>7.3} ms",
        v.len(),
        ms(pct(0.5)),
        ms(pct(0.95)),
        ms(v[0]),
        ms(v[v.len() - 1])
    );
}

/// Times `n` runs of an agent process started from inside the client namespace.
fn time_process(fv: &FenceVirtd, n: usize, program: String, key: String) -> Vec<Duration> {
    fv.in_client(0, move || {
        let mut out = Vec::with_capacity(n);
        for i in 0..n + 3 {
            let t = Instant::now();
            let status = Command::new(&program)
                .args(["-o", "status", "-H", "node1", "-k", &key, "-t", "5"])
                .stdout(Stdio::null())
                .status()
                .unwrap_or_else(|e| panic!("{program}: {e}"));
            let d = t.elapsed();
            assert_eq!(status.code(), Some(0), "{program} status failed");
            if i >= 3 {
                out.push(d); // the first runs warm caches
            }
        }
        out
    })
}

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(50);
    let ours = args.next();
    let Some(fv) = FenceVirtd::start(Setup {
        clients: 1,
        ..Setup::default()
    }) else {
        eprintln!("skipped: not root");
        return;
    };
    let cfg = fv.client_config(fv.key());
    let native = fv.in_client(0, move || {
        block_on(async move {
            let client = Client::new(cfg).expect("client");
            let mut out = Vec::with_capacity(n);
            for i in 0..n + 3 {
                let t = Instant::now();
                let s = client.status("node1").await.expect("native status");
                let d = t.elapsed();
                assert_eq!(s, PowerState::On);
                if i >= 3 {
                    out.push(d);
                }
            }
            out
        })
    });
    println!("fence_xvm status round trip against fence_virtd 4.12 (libvirt test driver), sha256/sha256:");
    stats("native (hactl_fence::xvm, in-process)", native);
    let key = fv.key_path.display().to_string();
    if let Some(ours) = ours {
        stats(
            "fence_hactl_xvm -o status (process)",
            time_process(&fv, n, ours, key.clone()),
        );
    }
    stats(
        "C fence_xvm -o status (process)",
        time_process(&fv, n, "fence_xvm".into(), key),
    );
}
