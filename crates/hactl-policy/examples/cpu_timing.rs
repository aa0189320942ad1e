//! Times `schedule()` on the generated benchmark clusters in CPU time of the
//! calling thread (from `/proc/thread-self/schedstat`) as well as wall time, best
//! of ten. On a shared, loaded machine the CPU time is the steadier number: wall
//! time also counts the time the thread waited for a core. Some kernels (this VM's
//! among them) count it in scheduler ticks (4 ms here), so small sizes read coarse.
//!
//! Run: `cargo run --release -p hactl-policy --example cpu_timing [NODES RESOURCES]`.

/// Nanoseconds this thread has run on a CPU (0 when the kernel does not say).
fn cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let sizes = match args.as_slice() {
        [n, r] => vec![(*n, *r)],
        _ => vec![(3, 10_000), (16, 1_000), (16, 5_000), (64, 10_000)],
    };
    for (nodes, resources) in sizes {
        let cib = hactl_cib_xml::generate::large_cib_model(nodes, resources, 42);
        let now = cib.execution_date.unwrap_or(0);
        if let Err(e) = hactl_policy::schedule(&cib, now) {
            eprintln!("cannot schedule the generated CIB: {e}");
            std::process::exit(1);
        }
        let (mut best_cpu, mut best_wall) = (u64::MAX, f64::MAX);
        for _ in 0..10 {
            let wall = std::time::Instant::now();
            let cpu = cpu_ns();
            let t = hactl_policy::schedule(&cib, now);
            best_cpu = best_cpu.min(cpu_ns().saturating_sub(cpu));
            best_wall = best_wall.min(wall.elapsed().as_secs_f64() * 1e3);
            drop(std::hint::black_box(t));
        }
        println!(
            "{nodes:>3} nodes x {resources:>6} resources: cpu {:7.1} ms  wall {best_wall:7.1} ms",
            best_cpu as f64 / 1e6
        );
    }
}
