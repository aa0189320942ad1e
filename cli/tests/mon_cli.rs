//! `hactl mon`'s options as crm_mon users type them, on a CIB file (`--once`), no
//! daemon needed.

mod common;
use common::ok;

const CIB: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/web-cluster.xml");

/// Whether `hactl mon --once ARGS` shows the fail-count section (the example has a
/// failed haproxy monitor, so its fail count is there to show).
fn shows_failcounts(args: &[&str]) -> bool {
    let mut a = vec!["mon", "--once", "--cib", CIB];
    a.extend_from_slice(args);
    let out = ok(&a);
    out.contains("haproxy on web1: fail-count=1")
}

/// crm_mon's `-f` is accepted; fail counts show by default, `--no-failcounts` hides
/// them, and of the two the last given wins.
#[test]
fn dash_f_shows_fail_counts_and_the_last_of_f_and_no_failcounts_wins() {
    assert!(shows_failcounts(&[]));
    assert!(shows_failcounts(&["-f"]));
    assert!(shows_failcounts(&["--failcounts"]));
    assert!(!shows_failcounts(&["--no-failcounts"]));
    assert!(shows_failcounts(&["--no-failcounts", "-f"]));
    assert!(!shows_failcounts(&["-f", "--no-failcounts"]));
}
