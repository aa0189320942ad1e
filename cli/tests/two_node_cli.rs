//! `hactl cluster setup` turns two-node mode on for exactly two nodes, a witness is
//! accepted for two or four, and
//! `cluster start --force-alone` is refused outside it (no daemon is started here; the
//! mode itself is tested in tests/tests/netns_two_node.rs).

use std::path::Path;
use std::process::{Command, Output};

const HACTL: &str = env!("CARGO_BIN_EXE_hactl");

fn hactl(dir: &Path, args: &[&str]) -> Output {
    Command::new(HACTL)
        .arg("cluster")
        .arg("--dir")
        .arg(dir)
        .args(args)
        .env_remove("HACTL_SOCKET")
        .env_remove("HACTL_CONFIG_DIR")
        .env_remove("HACTL_STATE_DIR")
        .output()
        .unwrap()
}

fn setup(dir: &Path, nodes: &[&str]) -> String {
    let mut args = vec!["setup", "--name", "lab", "--local", "n1"];
    args.extend_from_slice(nodes);
    let o = hactl(dir, &args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    std::fs::read_to_string(dir.join("cluster.toml")).unwrap()
}

#[test]
fn setup_turns_two_node_mode_on_for_two_nodes_only() {
    let two = tempfile::tempdir().unwrap();
    let toml = setup(two.path(), &["n1=127.0.0.1:7491", "n2=127.0.0.2:7491"]);
    assert!(toml.contains("two_node = true"), "{toml}");
    let three = tempfile::tempdir().unwrap();
    let toml = setup(
        three.path(),
        &[
            "n1=127.0.0.1:7492",
            "n2=127.0.0.2:7492",
            "n3=127.0.0.3:7492",
        ],
    );
    assert!(!toml.contains("two_node"), "{toml}");

    // --force-alone is refused outside two-node mode, before anything starts.
    let state = three.path().join("state");
    let o = hactl(
        three.path(),
        &[
            "--state-dir",
            state.to_str().unwrap(),
            "start",
            "--force-alone",
        ],
    );
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("two-node mode"), "{err}");
    assert!(!state.join("force-alone").exists());
}

#[test]
fn witness_add_sets_both_nodes_and_writes_the_witness_identity_where_the_ca_is() {
    let admin = tempfile::tempdir().unwrap();
    setup(admin.path(), &["n1=127.0.0.1:7493", "n2=127.0.0.2:7493"]);
    let o = hactl(admin.path(), &["witness", "add", "127.0.0.9"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let toml = std::fs::read_to_string(admin.path().join("cluster.toml")).unwrap();
    assert!(toml.contains("witness = \"127.0.0.9:7421\""), "{toml}");
    // The witness host installs the identity written here.
    let id = admin.path().join("bundles/witness/lab");
    let wdir = tempfile::tempdir().unwrap();
    let o = Command::new(HACTL)
        .args(["witness", "add-cluster", "--dir"])
        .arg(wdir.path())
        .arg(&id)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = Command::new(HACTL)
        .args(["witness", "list", "--dir"])
        .arg(wdir.path())
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&o.stdout), "lab\n");
    // A node's identity is not a witness's.
    let o = Command::new(HACTL)
        .args(["witness", "add-cluster", "--dir"])
        .arg(wdir.path())
        .arg(admin.path())
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("not its witness"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let o = hactl(admin.path(), &["witness", "remove"]);
    assert!(o.status.success());
    let toml = std::fs::read_to_string(admin.path().join("cluster.toml")).unwrap();
    assert!(!toml.contains("witness"), "{toml}");
}

#[test]
fn a_witness_serves_four_nodes_not_five_or_six() {
    let four = tempfile::tempdir().unwrap();
    let toml = setup_with(
        four.path(),
        &["--witness", "127.0.0.9"],
        &(1..=4)
            .map(|i| format!("n{i}=127.0.0.{i}:7494"))
            .collect::<Vec<_>>(),
    );
    assert!(toml.contains("witness = \"127.0.0.9:7421\""), "{toml}");
    assert!(!toml.contains("two_node"), "{toml}");
    let nodes = |n: usize| {
        (1..=n)
            .map(|i| format!("n{i}=127.0.0.{i}:7494"))
            .collect::<Vec<_>>()
    };
    let six = tempfile::tempdir().unwrap();
    setup_with(six.path(), &[], &nodes(6));
    let o = hactl(six.path(), &["witness", "add", "127.0.0.9"]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("halves of three or more"), "{err}");
    let five = tempfile::tempdir().unwrap();
    setup_with(five.path(), &[], &nodes(5));
    let o = hactl(five.path(), &["witness", "add", "127.0.0.9"]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("odd number needs no witness"), "{err}");
}

fn setup_with(dir: &Path, flags: &[&str], nodes: &[String]) -> String {
    let mut args = vec!["setup", "--name", "lab", "--local", "n1"];
    args.extend_from_slice(flags);
    args.extend(nodes.iter().map(String::as_str));
    let o = hactl(dir, &args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    std::fs::read_to_string(dir.join("cluster.toml")).unwrap()
}

#[test]
fn a_witness_is_refused_for_three_nodes() {
    let three = tempfile::tempdir().unwrap();
    let nodes = [
        "n1=127.0.0.1:7494",
        "n2=127.0.0.2:7494",
        "n3=127.0.0.3:7494",
    ];
    setup(three.path(), &nodes);
    let o = hactl(three.path(), &["witness", "add", "127.0.0.9"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("odd number needs no witness"));
    let other = tempfile::tempdir().unwrap();
    let mut args = vec![
        "setup",
        "--name",
        "lab",
        "--local",
        "n1",
        "--witness",
        "127.0.0.9",
    ];
    args.extend_from_slice(&nodes);
    let o = hactl(other.path(), &args);
    assert!(!o.status.success());
    assert!(!other.path().join("cluster.toml").exists());
}
