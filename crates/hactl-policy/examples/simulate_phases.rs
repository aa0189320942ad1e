//! Where the time of `hactl simulate --xml FILE` goes: the same steps the CLI takes
//! (read the file, import the XML, schedule, format the status block and the
//! summary), each timed in CPU time of this thread and wall time, best of five.
//!
//! Run: `cargo run --release -p hactl-policy --example simulate_phases FILE.xml`
//! (make one with `hactl cib generate --nodes 3 --resources 10000 --seed 1 -o FILE`).

/// Nanoseconds this thread has run on a CPU (0 when the kernel does not say).
fn cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Runs `f` five times; prints the best CPU and wall time and returns its last result.
fn phase<T>(name: &str, mut f: impl FnMut() -> T) -> T {
    let (mut cpu_best, mut wall_best) = (u64::MAX, f64::MAX);
    let mut last = None;
    for _ in 0..5 {
        let wall = std::time::Instant::now();
        let cpu = cpu_ns();
        let v = f();
        cpu_best = cpu_best.min(cpu_ns().saturating_sub(cpu));
        wall_best = wall_best.min(wall.elapsed().as_secs_f64() * 1e3);
        last = Some(v);
    }
    println!(
        "{name:<16} cpu {:8.1} ms  wall {wall_best:8.1} ms",
        cpu_best as f64 / 1e6
    );
    last.expect("ran five times")
}

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: simulate_phases FILE.xml");
        std::process::exit(2);
    };
    let xml = phase("read", || std::fs::read_to_string(&path)).unwrap_or_else(|e| {
        eprintln!("{path}: {e}");
        std::process::exit(1);
    });
    let cib = phase("import", || hactl_cib_xml::import(&xml)).unwrap_or_else(|e| {
        eprintln!("{path}: {e}");
        std::process::exit(1);
    });
    let now = cib.execution_date.unwrap_or(0);
    let t = phase("schedule", || hactl_policy::schedule(&cib, now)).unwrap_or_else(|e| {
        eprintln!("{path}: {e}");
        std::process::exit(1);
    });
    let status = phase("format_status", || {
        hactl_policy::format_status(&cib, &t, hactl_policy::StatusView::Current)
    });
    let summary = phase("summary_text", || t.summary_text());
    let graph = phase("graph_xml", || hactl_policy::graph_xml(&cib, &t));
    println!(
        "{} actions; status {} KB, summary {} KB, graph {} KB",
        t.actions.len(),
        status.len() / 1024,
        summary.len() / 1024,
        graph.len() / 1024
    );
    // What freeing the model and the transition costs at the end of a run.
    let wall = std::time::Instant::now();
    let cpu = cpu_ns();
    drop((t, cib, xml));
    println!(
        "{:<16} cpu {:8.1} ms  wall {:8.1} ms (once)",
        "drop",
        cpu_ns().saturating_sub(cpu) as f64 / 1e6,
        wall.elapsed().as_secs_f64() * 1e3
    );
}
