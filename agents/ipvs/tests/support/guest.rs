//! Runs a bash script inside the IPVS guest kernel (`tests/ipvs-vm/ipvs-vm.sh`: Debian's
//! kernel under qemu, ip_vs and every scheduler loaded) with this crate's agents
//! installed as the `hactl` OCF provider. The guest is a real LVS kernel; nothing of
//! IPVS is mocked. Its output is printed; the script's exit status is returned.

use std::path::PathBuf;
use std::process::Command;

/// The workspace holding the kit: the including crate's directory or one above it.
fn workspace_root() -> PathBuf {
    let crate_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    crate_dir
        .ancestors()
        .find(|d| d.join("tests/ipvs-vm/ipvs-vm.sh").exists())
        .unwrap_or(&crate_dir)
        .to_path_buf()
}

/// The guest script `tests/guest/NAME` (of the crate whose test includes this file) with `bins` (host path, guest path) copied in.
/// Callers hold no lock: a developer machine serialises qemu runs with
/// `flock /tmp/hactl-netns.lock cargo nextest run ...`; nextest's netns group does in CI.
#[allow(dead_code)] // each test that includes this file uses one of the two
pub fn run_guest(name: &str, bins: &[(&str, &str)]) -> (bool, String) {
    run_guest_with(name, bins, &[])
}

/// [`run_guest`] with more options for the kit (`--smp 2`, `--mem MB`, `--timeout S`).
#[allow(dead_code)]
pub fn run_guest_with(name: &str, bins: &[(&str, &str)], opts: &[&str]) -> (bool, String) {
    let root = workspace_root();
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/guest")
        .join(name);
    let mut cmd = Command::new(root.join("tests/ipvs-vm/ipvs-vm.sh"));
    for (host, guest) in bins {
        cmd.arg("--bin").arg(format!("{host}:{guest}"));
    }
    let out = cmd
        .args(opts)
        .arg(&script)
        .output()
        .expect("run tests/ipvs-vm/ipvs-vm.sh");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    println!("{text}");
    (out.status.success(), text)
}

/// Root is needed for apt (the kit installs qemu if missing) and is what CI runs as.
pub fn require_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        return true;
    }
    if std::env::var("HACTL_SKIP_ROOT_TESTS").as_deref() == Ok("1") {
        eprintln!("skipped: needs root (HACTL_SKIP_ROOT_TESTS=1)");
        return false;
    }
    panic!("this test needs root; set HACTL_SKIP_ROOT_TESTS=1 to skip");
}
