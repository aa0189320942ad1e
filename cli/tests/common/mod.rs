//! Shared by the CLI's integration tests: the built binary run as an operator runs
//! it, its output as text, temporary directories, refusals that must change nothing.
// Each test binary uses a part of this module.
#![allow(dead_code)]

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

use hactl_model::Cib;

pub const HACTL: &str = env!("CARGO_BIN_EXE_hactl");

/// `hactl ARGS`, with none of the socket and directory variables of the environment
/// the tests run in (a developer's HACTL_SOCKET must not redirect them).
pub fn command(args: &[&str]) -> Command {
    let mut c = Command::new(HACTL);
    c.args(args)
        .env_remove("HACTL_SOCKET")
        .env_remove("HACTL_CONFIG_DIR")
        .env_remove("HACTL_STATE_DIR");
    c
}

pub fn hactl(args: &[&str]) -> Output {
    command(args).output().expect("running the built hactl")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Asserts `o` succeeded; its standard output.
pub fn succeeded(args: &[&str], o: &Output) -> String {
    assert!(
        o.status.success(),
        "hactl {args:?} failed:\n{}\n{}",
        stdout(o),
        stderr(o)
    );
    stdout(o)
}

/// Asserts `o` failed; its standard error.
pub fn failed(args: &[&str], o: &Output) -> String {
    assert!(
        !o.status.success(),
        "hactl {args:?} should fail:\n{}",
        stdout(o)
    );
    stderr(o)
}

/// `hactl ARGS` must succeed; its standard output.
pub fn ok(args: &[&str]) -> String {
    succeeded(args, &hactl(args))
}

/// `hactl ARGS` must fail; its standard error.
pub fn err(args: &[&str]) -> String {
    failed(args, &hactl(args))
}

/// `o` (of `hactl ARGS`) was refused: exit code 1 (refused before anything
/// changed) and a message containing each of `says`.
pub fn assert_refused(args: &[&str], o: &Output, says: &[&str]) {
    let e = stderr(o);
    assert_eq!(
        o.status.code(),
        Some(1),
        "hactl {args:?}:\n{}\n{e}",
        stdout(o)
    );
    for s in says {
        assert!(e.contains(s), "hactl {args:?}: no {s:?} in: {e}");
    }
}

/// `run(args)` must be refused (see [`assert_refused`]) and leave `file` byte for
/// byte as it was.
pub fn refused_unchanged_by(
    run: impl Fn(&[&str]) -> Output,
    args: &[&str],
    says: &[&str],
    file: &Path,
) {
    let before = std::fs::read(file).expect("reading the file before");
    assert_refused(args, &run(args), says);
    assert_eq!(
        std::fs::read(file).expect("reading the file after"),
        before,
        "a refused hactl {args:?} wrote {}",
        file.display()
    );
}

/// `hactl ARGS` must be refused and leave `file` as it was.
pub fn refused_unchanged(args: &[&str], says: &[&str], file: &Path) {
    refused_unchanged_by(hactl, args, says, file)
}

/// A temporary directory, removed when dropped (also when the test fails).
pub fn temp_dir(tag: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("hactl-cli-{tag}-"))
        .tempdir()
        .expect("creating a temporary directory")
}

/// The permission bits of `p`.
pub fn mode(p: &Path) -> u32 {
    std::fs::metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .permissions()
        .mode()
        & 0o777
}

/// A CIB file in hactl's JSON.
pub fn read_cib(p: &Path) -> Cib {
    let text = std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}
