//! `hactl cluster enable/disable` (start at boot through `hactl.service`) against a
//! real systemd: the host's OS booted as a container (`hactl_lab::container`), the
//! built `hactl` bound in at `/usr/sbin/hactl` (the unit's ExecStart) and the unit file
//! from `packaging/systemd/` installed the way the docs say. Before the unit is
//! installed `enable` refuses with exit 5; then `enable` makes systemd report the unit
//! enabled, `cluster start` starts the daemon through the unit and the node takes a
//! change, `disable` makes it disabled. On a host where systemd is not PID 1 (this
//! machine), `enable` refuses with exit 6 and says why. Needs root.

use std::process::{Command, Output, Stdio};
use std::time::Duration;

use hactl_lab::container::Container;

const HACTL: &str = env!("CARGO_BIN_EXE_hactl");
const UNIT: &str = include_str!("../../packaging/systemd/hactl.service");

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn run(mut c: Command) -> Output {
    c.stdin(Stdio::null()).output().expect("run")
}

/// `hactl ARGS` inside the container, with its default paths.
fn hactl_in(ct: &Container, args: &[&str]) -> Output {
    let mut c = ct.command("/usr/sbin/hactl");
    c.args(args);
    run(c)
}

fn systemctl_in(ct: &Container, args: &[&str]) -> String {
    let mut c = ct.command("systemctl");
    c.args(args);
    String::from_utf8_lossy(&run(c).stdout).trim().to_string()
}

fn root_or_skip() -> bool {
    if hactl_lab::is_root() {
        return true;
    }
    if std::env::var("HACTL_SKIP_ROOT_TESTS").as_deref() == Ok("1") {
        eprintln!("skipped: needs root (HACTL_SKIP_ROOT_TESTS=1)");
        return false;
    }
    panic!("this test needs root (a systemd container); set HACTL_SKIP_ROOT_TESTS=1 to skip it");
}

#[test]
fn netns_enable_and_disable_start_hactl_at_boot_through_systemd() {
    if !root_or_skip() {
        return;
    }
    let bind = format!("--bind-ro={HACTL}:/usr/sbin/hactl");
    let ct = Container::boot("hx-boot", "", &[], &[&bind]).expect("boot the container");
    ct.wait_running(Duration::from_secs(60))
        .expect("systemd up in the container");
    let o = hactl_in(
        &ct,
        &[
            "cluster",
            "setup",
            "--name",
            "boot",
            "--local",
            "n1",
            "n1=127.0.0.1",
        ],
    );
    assert!(o.status.success(), "setup: {}", text(&o));

    // The unit is not installed yet: said, with its own exit code.
    let o = hactl_in(&ct, &["cluster", "enable"]);
    assert_eq!(o.status.code(), Some(5), "{}", text(&o));
    assert!(
        text(&o).contains("hactl.service is not installed"),
        "{}",
        text(&o)
    );

    std::fs::write(ct.path("/etc/systemd/system/hactl.service"), UNIT).expect("install unit");
    assert_eq!(systemctl_in(&ct, &["daemon-reload"]), "");
    assert_eq!(
        systemctl_in(&ct, &["is-enabled", "hactl.service"]),
        "disabled"
    );
    let o = hactl_in(&ct, &["cluster", "enable"]);
    assert!(o.status.success(), "enable: {}", text(&o));
    assert!(
        text(&o).contains("n1: hactl.service enabled"),
        "{}",
        text(&o)
    );
    assert_eq!(
        systemctl_in(&ct, &["is-enabled", "hactl.service"]),
        "enabled"
    );

    // What boot would do: the unit starts the daemon, which takes a change.
    let o = hactl_in(&ct, &["cluster", "start"]);
    assert!(o.status.success(), "start: {}", text(&o));
    assert!(text(&o).contains("started hactl.service"), "{}", text(&o));
    assert_eq!(systemctl_in(&ct, &["is-active", "hactl.service"]), "active");
    let o = hactl_in(&ct, &["property", "set", "stonith-enabled=false"]);
    assert!(o.status.success(), "property set: {}", text(&o));

    let o = hactl_in(&ct, &["cluster", "disable"]);
    assert!(o.status.success(), "disable: {}", text(&o));
    assert_eq!(
        systemctl_in(&ct, &["is-enabled", "hactl.service"]),
        "disabled"
    );
}

#[test]
fn enable_without_systemd_as_init_says_so_with_exit_6() {
    if std::path::Path::new("/run/systemd/system").is_dir() {
        // Here systemd runs; the container test covers this machine's real path.
        eprintln!("skipped: systemd is PID 1 on this machine");
        return;
    }
    let dir = std::env::temp_dir().join(format!("hactl-boot-nosd-{}", std::process::id()));
    let d = dir.display().to_string();
    let o = run({
        let mut c = Command::new(HACTL);
        c.args([
            "cluster", "--dir", &d, "setup", "--name", "t", "--local", "n1",
        ])
        .arg("n1=127.0.0.1:17999");
        c
    });
    assert!(o.status.success(), "setup: {}", text(&o));
    for verb in ["enable", "disable"] {
        let o = run({
            let mut c = Command::new(HACTL);
            c.args(["cluster", "--dir", &d, verb]);
            c
        });
        assert_eq!(o.status.code(), Some(6), "{verb}: {}", text(&o));
        assert!(
            text(&o).contains("systemd is not running as init (PID 1)"),
            "{verb}: {}",
            text(&o)
        );
    }
    std::fs::remove_dir_all(&dir).expect("remove the temp dir");
}
