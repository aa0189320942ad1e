//! Cluster-core benchmarks; run through `scripts/bench-cluster` (root, release build).
fn main() -> anyhow::Result<()> {
    if !hactl_tests::netns::require_root() {
        return Ok(());
    }
    hactl_tests::bench::run_all("hx-c")
}
