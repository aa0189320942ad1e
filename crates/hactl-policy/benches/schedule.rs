//! The policy engine on large generated CIBs (the sizes Pacemaker was measured at in
//! issue 2). `cargo bench -p hactl-policy --bench schedule`; scripts/bench-scheduler
//! times the whole `hactl simulate` (XML parse included) next to crm_simulate.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};

const SIZES: &[(usize, usize)] = &[(3, 10_000), (16, 5_000), (16, 1_000), (64, 10_000)];

fn schedule(c: &mut Criterion) {
    let mut g = c.benchmark_group("schedule");
    // Each run is tens of milliseconds; a few samples are plenty and keep the whole
    // bench within minutes on a 2-core machine.
    g.sample_size(10);
    g.warm_up_time(Duration::from_secs(1));
    g.measurement_time(Duration::from_secs(5));
    for &(nodes, resources) in SIZES {
        let cib = hactl_cib_xml::generate::large_cib_model(nodes, resources, 1);
        let now = cib.execution_date.unwrap_or(0);
        // Fail loudly here rather than benchmark an error path.
        let t = hactl_policy::schedule(&cib, now).expect("generated CIB schedules");
        eprintln!(
            "{nodes}x{resources}: {} actions, {} summary lines",
            t.actions.len(),
            t.summary.len()
        );
        g.bench_function(format!("{nodes}x{resources}"), |b| {
            b.iter(|| hactl_policy::schedule(black_box(&cib), now))
        });
    }
    g.finish();
}

criterion_group!(benches, schedule);
criterion_main!(benches);
