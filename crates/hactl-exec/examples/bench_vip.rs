//! Benchmark: start-to-first-GARP of the native VIP agent vs `ocf:heartbeat:IPaddr2`.
//!
//! A node and a client namespace on a bridge (names `hx-ebn…`). For each trial the
//! executor in the node namespace starts a fresh VIP (a different address per trial,
//! so a late frame of one trial cannot be taken for the next one's) while a raw
//! AF_PACKET socket in the client namespace waits for the first gratuitous ARP; the
//! time is from just before the start request to the frame's arrival in the client.
//!
//! Variants: `ocf:heartbeat:IPaddr2` (real agent), `ocf:hactl:VIP` in-process, and,
//! when `HACTL_VIP_BIN` names the built `hactl-vip`, the same agent as an OCF
//! executable through the normal fork/exec path. Run with `scripts/bench-vip`.
//! Needs root.

#[path = "../tests/common/mod.rs"]
mod common;

use common::{in_netns, ArpCapture, Lab};
use hactl_exec::{params, AgentSpec, ExecConfig, Executor};
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

const TRIALS: usize = 10;

fn main() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("bench-vip needs root (network namespaces)");
        std::process::exit(2);
    }
    let trials: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(TRIALS);
    let lab = Lab::new("bn");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = ExecConfig {
        rsctmp: dir.path().to_path_buf(),
        ..ExecConfig::default()
    };
    let mut variants = vec![
        ("ocf:heartbeat:IPaddr2", "IPaddr2 (real agent)"),
        ("ocf:hactl:VIP", "native VIP, in-process"),
    ];
    if let Ok(bin) = std::env::var("HACTL_VIP_BIN") {
        let pdir = dir.path().join("provider");
        std::fs::create_dir_all(&pdir).expect("provider dir");
        let bin = std::fs::canonicalize(&bin).expect("HACTL_VIP_BIN");
        std::os::unix::fs::symlink(bin, pdir.join("VIP")).expect("symlink");
        cfg.provider_dirs.insert("hactlbin".into(), pdir);
        variants.push(("ocf:hactlbin:VIP", "native VIP, OCF executable"));
    }
    let cap = std::sync::Arc::new(ArpCapture::open(&lab.client, &lab.client_if));
    let nic = lab.node_if.clone();
    let results = in_netns(&lab.node.clone(), move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let (exec, _ev) = Executor::new(cfg);
            let mut out = Vec::new();
            let mut host = 100u8;
            for (agent, label) in variants {
                let spec = AgentSpec::parse(agent).expect("agent");
                let mut garp_ms = Vec::new();
                let mut op_ms = Vec::new();
                for _ in 0..trials {
                    host += 1;
                    let vip = Ipv4Addr::new(10, 66, 0, host);
                    let p = params([
                        ("ip", vip.to_string()),
                        ("cidr_netmask", "24".to_string()),
                        ("nic", nic.clone()),
                    ]);
                    cap.flush();
                    let c = cap.clone();
                    let t0 = Instant::now();
                    let waiter =
                        std::thread::spawn(move || c.next_garp(vip, t0 + Duration::from_secs(5)));
                    let r = exec
                        .execute("bench", &spec, &p, "start", Duration::from_secs(20))
                        .await;
                    let op = t0.elapsed();
                    assert!(r.is_success(), "{agent} start: {r}");
                    let g = waiter.join().expect("capture").expect("no GARP within 5 s");
                    garp_ms.push((g.at - t0).as_secs_f64() * 1000.0);
                    op_ms.push(op.as_secs_f64() * 1000.0);
                    let s = exec
                        .execute("bench", &spec, &p, "stop", Duration::from_secs(20))
                        .await;
                    assert!(s.is_success(), "{agent} stop: {s}");
                }
                out.push((label, garp_ms, op_ms));
            }
            out
        })
    });
    println!("start-to-first-GARP, {trials} trials each (ms, seen in the client namespace)");
    println!(
        "{:<30} {:>8} {:>8} {:>8}   {:>14}",
        "agent", "median", "min", "max", "start op median"
    );
    for (label, mut g, mut o) in results {
        g.sort_by(f64::total_cmp);
        o.sort_by(f64::total_cmp);
        let med = |v: &[f64]| {
            if v.len() % 2 == 1 {
                v[v.len() / 2]
            } else {
                (v[v.len() / 2 - 1] + v[v.len() / 2]) / 2.0
            }
        };
        println!(
            "{:<30} {:>8.2} {:>8.2} {:>8.2}   {:>14.2}",
            label,
            med(&g),
            g[0],
            g[g.len() - 1],
            med(&o)
        );
    }
    drop(lab);
}
