//! Times the policy engine on generated clusters (the sizes of the issue's
//! benchmark). Run: `cargo run --release -p hactl-tests --example policy_timing`.

use std::time::Instant;

fn main() {
    // Optional arguments: NODES RESOURCES to time one size only.
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
        // Warm up once, then take the best of five.
        let t = hactl_policy::schedule(&cib, now).expect("schedules");
        let mut best = f64::MAX;
        for _ in 0..5 {
            let start = Instant::now();
            let t = hactl_policy::schedule(&cib, now).expect("schedules");
            best = best.min(start.elapsed().as_secs_f64() * 1000.0);
            std::hint::black_box(t);
        }
        println!(
            "{nodes:>3} nodes x {resources:>6} resources: {best:8.1} ms  ({} actions, {} edges, {} summary lines)",
            t.actions.len(),
            t.edges.len(),
            t.summary.len()
        );
    }
}
