//! The cluster tests that run in the ipvs-vm guest (Debian's kernel under qemu,
//! `tests/ipvs-vm`: the only LVS kernel here). Each test binary has a host half, which
//! boots the guest with the binary itself as `/t` and a `hactl` as `/bin/hactl`, and
//! a guest half (an ignored test) that a script in `tests/tests/guest/` runs inside.

use std::path::Path;

#[path = "../../agents/ipvs/tests/support/guest.rs"]
mod kit;

/// The host half: runs `tests/tests/guest/SCRIPT` in the guest with the calling test
/// binary as `/t`, `hactl` as `/bin/hactl` and `extra` (host path, guest path) copied
/// in, and the kit's options `opts` (`--smp 2`, `--mem MB`, `--timeout S`). Panics
/// unless the guest's test passed. Without root: skipped when
/// `HACTL_SKIP_ROOT_TESTS=1`, else a panic.
pub fn run_guest_half(script: &str, hactl: &Path, extra: &[(&str, &str)], opts: &[&str]) {
    if !kit::require_root() {
        return;
    }
    let me = std::env::current_exe().expect("the test binary's own path");
    let mut bins = vec![
        (me.to_str().expect("a utf-8 path"), "/t"),
        (hactl.to_str().expect("a utf-8 path"), "/bin/hactl"),
    ];
    bins.extend_from_slice(extra);
    let (ok, out) = kit::run_guest_with(script, &bins, opts);
    assert!(
        ok && out.contains("test result: ok. 1 passed"),
        "the guest run failed"
    );
}
