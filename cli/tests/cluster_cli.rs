//! `hactl cluster ...` as an operator runs it: the real binary, real files, real
//! sockets, and (in the last test) the real daemon on loopback.

use std::net::UdpSocket;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod common;
use common::{hactl, mode, stderr, stdout, temp_dir, HACTL};

/// `hactl cluster --dir ETC --socket SOCK --state-dir STATE EXTRA…`.
fn cluster(etc: &Path, sock: &Path, state: &Path, extra: &[&str]) -> Output {
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let (etc, sock, state) = (s(etc), s(sock), s(state));
    let mut a = vec![
        "cluster",
        "--dir",
        &etc,
        "--socket",
        &sock,
        "--state-dir",
        &state,
    ];
    a.extend_from_slice(extra);
    hactl(&a)
}

/// `hactl cluster …` against one local node's directories. Dropping it stops the
/// node's daemon, so a failed assertion leaves nothing running.
struct LocalNode {
    etc: PathBuf,
    sock: PathBuf,
    state: PathBuf,
}

impl LocalNode {
    fn new(etc: &Path, sock: &Path, state: &Path) -> LocalNode {
        LocalNode {
            etc: etc.into(),
            sock: sock.into(),
            state: state.into(),
        }
    }

    fn cluster(&self, extra: &[&str]) -> Output {
        cluster(&self.etc, &self.sock, &self.state, extra)
    }
}

/// Two local nodes under `root`: n1 and n2 (directories `nN`, sockets `sockN`,
/// state `stateN`, logs `logN`). Dropping it stops n2, then n1.
struct TwoNodes<'a> {
    root: &'a Path,
}

impl TwoNodes<'_> {
    fn path(&self, what: &str, n: u32) -> PathBuf {
        self.root.join(format!("{what}{n}"))
    }

    /// `path` as the string an argument wants.
    fn arg(&self, what: &str, n: u32) -> String {
        self.path(what, n).to_str().unwrap().to_string()
    }

    fn run(&self, n: u32, extra: &[&str]) -> Output {
        let p = |what| self.path(what, n);
        cluster(&p("n"), &p("sock"), &p("state"), extra)
    }
}

impl Drop for TwoNodes<'_> {
    fn drop(&mut self) {
        for n in [2, 1] {
            // Best effort: the test's own assertion already failed or passed.
            let _ = self.run(n, &["stop", "--wait", "10"]);
        }
    }
}

impl Drop for LocalNode {
    fn drop(&mut self) {
        // Best effort: the test's own assertion already failed or passed.
        let _ = self.cluster(&["stop", "--wait", "10"]);
    }
}

/// A UDP port that is free on 127.0.0.1 right now.
fn free_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn setup(dir: &Path, extra: &[&str], nodes: &[String]) -> Output {
    let d = dir.to_str().unwrap();
    let mut args = vec!["cluster", "--dir", d, "setup", "--name", "lab"];
    args.extend_from_slice(extra);
    args.extend(nodes.iter().map(|s| s.as_str()));
    hactl(&args)
}

fn three_nodes() -> Vec<String> {
    let p = free_port();
    vec![
        format!("n1=127.0.0.1:{p}"),
        format!("n2=127.0.0.2:{p}"),
        format!("n3=127.0.0.3:{p}"),
    ]
}

#[test]
fn setup_creates_the_identity_with_private_files_0600() {
    let t = temp_dir("perm");
    // Reachable by everyone, as /var/lib is: only the state directory's own mode
    // may keep others out.
    std::fs::set_permissions(t.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let etc = t.path().join("etc");
    let nodes = three_nodes();
    let o = setup(&etc, &["--local", "n1"], &nodes);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("hactl cluster join n2.bundle"),
        "{}",
        stdout(&o)
    );
    for (f, m) in [
        ("ca.key", 0o600),
        ("node.key", 0o600),
        ("ca.pem", 0o644),
        ("node.pem", 0o644),
        ("cluster.toml", 0o644),
        ("bundles", 0o700),
        ("bundles/n1.bundle", 0o600),
        ("bundles/n2.bundle", 0o600),
        ("bundles/n3.bundle", 0o600),
    ] {
        assert_eq!(mode(&etc.join(f)), m, "{f}");
    }
    let cfg = hactl_net::ClusterConfig::load(&etc.join("cluster.toml")).unwrap();
    assert_eq!(cfg.name, "lab");
    let names: Vec<_> = cfg.nodes.iter().map(|n| n.name.to_string()).collect();
    assert_eq!(names, ["n1", "n2", "n3"]);
    assert_eq!(
        cfg.nodes.iter().map(|n| n.id).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    // The local identity is n1's, and each bundle holds its node's certificate.
    assert_eq!(
        hactl_net::NodeIdentity::load(&etc).unwrap().node.as_str(),
        "n1"
    );
    for n in ["n1", "n2", "n3"] {
        let b = hactl_net::Bundle::load(&etc.join(format!("bundles/{n}.bundle"))).unwrap();
        assert_eq!(b.node.as_str(), n);
        assert_eq!(b.cluster, cfg);
    }
}

#[test]
fn setup_is_idempotent_and_refuses_changes_without_force() {
    let t = temp_dir("idem");
    let etc = t.path().join("etc");
    let nodes = three_nodes();
    assert!(setup(&etc, &["--local", "n1"], &nodes).status.success());
    let ca1 = std::fs::read(etc.join("ca.pem")).unwrap();
    let b2 = std::fs::read(etc.join("bundles/n2.bundle")).unwrap();

    // Same arguments: nothing changes.
    let o = setup(&etc, &["--local", "n1"], &nodes);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("nothing changed"), "{}", stdout(&o));
    assert_eq!(std::fs::read(etc.join("ca.pem")).unwrap(), ca1);
    assert_eq!(std::fs::read(etc.join("bundles/n2.bundle")).unwrap(), b2);

    // Same members but another local node: refused.
    let o = setup(&etc, &["--local", "n2"], &nodes);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("for node n1, not n2"), "{}", stderr(&o));

    // Different members: refused, nothing touched.
    let two = nodes[..2].to_vec();
    let o = setup(&etc, &["--local", "n1"], &two);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("without --force"), "{}", stderr(&o));
    assert_eq!(std::fs::read(etc.join("ca.pem")).unwrap(), ca1);

    // --force: a new CA, and n3's bundle is gone.
    let o = setup(&etc, &["--local", "n1", "--force"], &two);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_ne!(std::fs::read(etc.join("ca.pem")).unwrap(), ca1);
    assert!(!etc.join("bundles/n3.bundle").exists());
    assert!(etc.join("bundles/n2.bundle").exists());
}

#[test]
fn setup_rejects_bad_input_with_clear_errors() {
    let t = temp_dir("bad");
    let etc = t.path().join("etc");
    let p = free_port();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec![format!("n1=127.0.0.1:{p}"), format!("n1=127.0.0.2:{p}")],
            "listed twice",
        ),
        (
            vec![format!("n1=127.0.0.1:{p}"), format!("n2=127.0.0.1:{p}")],
            "more than one node",
        ),
        (vec!["n1=10.0.0.300".into()], "bad address"),
        (vec!["n1=db.example.com".into()], "bad address"),
        (vec!["n1".into()], "expected NODE=ADDR"),
        (vec!["n_1=127.0.0.1".into()], "invalid node name"),
    ];
    for (nodes, want) in cases {
        let o = setup(&etc, &["--local", "n1"], &nodes);
        assert!(!o.status.success(), "{nodes:?} accepted");
        assert!(stderr(&o).contains(want), "{nodes:?}: {}", stderr(&o));
        assert!(!etc.join("cluster.toml").exists(), "{nodes:?} wrote files");
    }
    let o = hactl(&[
        "cluster",
        "--dir",
        etc.to_str().unwrap(),
        "setup",
        "--name",
        "bad name",
        &format!("n1=127.0.0.1:{p}"),
    ]);
    assert!(
        stderr(&o).contains("invalid cluster name"),
        "{}",
        stderr(&o)
    );

    // The local node's port is taken.
    let busy = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port();
    let o = setup(&etc, &["--local", "n1"], &[format!("n1=127.0.0.1:{port}")]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("already in use"), "{}", stderr(&o));
    assert!(!etc.join("cluster.toml").exists());

    // Several local addresses and no --local.
    let o = setup(&etc, &[], &three_nodes());
    assert!(stderr(&o).contains("--local NODE"), "{}", stderr(&o));
}

#[test]
fn join_installs_a_bundle_once_and_refuses_another_cluster() {
    let t = temp_dir("join");
    let etc1 = t.path().join("n1");
    let etc2 = t.path().join("n2");
    let nodes = three_nodes();
    assert!(setup(&etc1, &["--local", "n1"], &nodes).status.success());
    let b2 = etc1.join("bundles/n2.bundle");
    let b3 = etc1.join("bundles/n3.bundle");
    let join = |b: &Path, extra: &[&str]| {
        let mut args = vec![
            "cluster",
            "--dir",
            etc2.to_str().unwrap(),
            "join",
            b.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        hactl(&args)
    };
    let o = join(&b2, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(mode(&etc2.join("node.key")), 0o600);
    assert_eq!(
        hactl_net::NodeIdentity::load(&etc2).unwrap().node.as_str(),
        "n2"
    );
    let o = join(&b2, &[]);
    assert!(o.status.success());
    assert!(stdout(&o).contains("nothing changed"), "{}", stdout(&o));
    // setup on a joined node points to where the CA key lives.
    let o = setup(&etc2, &["--local", "n2"], &nodes);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("joined cluster lab from a bundle"),
        "{}",
        stderr(&o)
    );
    // Another node's (or cluster's) bundle over it: refused without --force.
    let o = join(&b3, &[]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("without --force"), "{}", stderr(&o));
    // A corrupted bundle is refused with the file named.
    let bad = t.path().join("bad.bundle");
    std::fs::write(&bad, "node = \"n2\"\n").unwrap();
    let o = join(&bad, &["--force"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("bad.bundle"), "{}", stderr(&o));
}

#[test]
fn status_without_a_daemon_says_so_and_fails() {
    let t = temp_dir("nodaemon");
    let sock = t.path().join("hactl.sock");
    let o = hactl(&["cluster", "status", "--socket", sock.to_str().unwrap()]);
    assert!(!o.status.success());
    assert_eq!(
        stderr(&o).trim(),
        format!(
            "error: cannot reach the hactl daemon at {}: is it running? (start it with \
             `hactl cluster start`, or name another daemon's socket with --socket PATH or \
             HACTL_SOCKET=PATH)",
            sock.display()
        )
    );
    // The environment variable works the same.
    let o = Command::new(HACTL)
        .args(["cluster", "status", "--output", "json"])
        .env("HACTL_SOCKET", &sock)
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("cannot reach the hactl daemon"),
        "{}",
        stderr(&o)
    );
}

/// Needs root (to drop to `nobody`); the CI runs as root.
#[test]
fn non_root_user_is_told_the_socket_is_root_only() {
    if unsafe_geteuid() != 0 {
        if std::env::var("HACTL_SKIP_ROOT_TESTS").as_deref() == Ok("1") {
            return;
        }
        panic!("this test needs root (set HACTL_SKIP_ROOT_TESTS=1 to skip)");
    }
    let t = temp_dir("perm-denied");
    std::fs::set_permissions(t.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let sock = t.path().join("hactl.sock");
    let _listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    std::fs::set_permissions(&sock, std::fs::Permissions::from_mode(0o600)).unwrap();
    let o = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", HACTL])
        .args(["cluster", "status", "--socket", sock.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("the control socket is root-only"),
        "{}",
        stderr(&o)
    );
}

fn unsafe_geteuid() -> u32 {
    // /proc/self/status avoids a libc dependency in this test.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(str::to_string))
        })
        .and_then(|u| u.parse().ok())
        .unwrap_or(u32::MAX)
}

/// The pid `cluster start` reports for the daemon it started.
fn started_pid(o: &Output) -> u32 {
    let out = stdout(o);
    out.split_once("started the hactl daemon (pid ")
        .and_then(|(_, rest)| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no daemon pid in {out:?}"))
}

/// The TCP addresses process `pid` listens on: its socket inodes (/proc/PID/fd)
/// matched against the LISTEN rows of its namespace's /proc/PID/net/tcp and tcp6.
fn tcp_listeners(pid: u32) -> Vec<String> {
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).expect("daemon's fds");
    let inodes: Vec<String> = fds
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter_map(|l| {
            let l = l.to_string_lossy().into_owned();
            Some(l.strip_prefix("socket:[")?.strip_suffix(']')?.to_string())
        })
        .collect();
    let mut out = Vec::new();
    for table in ["tcp", "tcp6"] {
        let text = std::fs::read_to_string(format!("/proc/{pid}/net/{table}")).unwrap();
        for row in text.lines().skip(1) {
            let f: Vec<&str> = row.split_whitespace().collect();
            // local_address, state (0A: LISTEN), inode.
            if f.len() > 9 && f[3] == "0A" && inodes.iter().any(|i| i == f[9]) {
                out.push(proc_net_address(f[1]));
            }
        }
    }
    out
}

/// `0100007F:25E4` (or 32 hex digits for IPv6): 32-bit words in host order, then
/// the port.
fn proc_net_address(a: &str) -> String {
    let (ip, port) = a.split_once(':').expect("ADDR:PORT");
    let port = u16::from_str_radix(port, 16).expect("hex port");
    let bytes: Vec<u8> = (0..ip.len() / 8)
        .flat_map(|w| {
            let word = u32::from_str_radix(&ip[w * 8..w * 8 + 8], 16).expect("hex address");
            word.to_ne_bytes()
        })
        .collect();
    let ip: std::net::IpAddr = match bytes.len() {
        4 => <[u8; 4]>::try_from(bytes).unwrap().into(),
        _ => <[u8; 16]>::try_from(bytes).unwrap().into(),
    };
    std::net::SocketAddr::new(ip, port).to_string()
}

/// A one-node cluster on loopback with the real daemon: start, status (text and JSON),
/// stop. Exercises the CLI's spawning of `hactl daemon` without systemd. With
/// `metrics_listen` unset the daemon listens on no TCP port (the metrics endpoint is
/// off; its UDP/QUIC port carries the cluster).
#[test]
fn start_status_stop_a_one_node_cluster() {
    let t = temp_dir("life");
    let etc = t.path().join("etc");
    let state = t.path().join("state");
    let sock = t.path().join("hactl.sock");
    let log = t.path().join("daemon.log");
    let port = free_port();
    let o = setup(&etc, &["--local", "n1"], &[format!("n1=127.0.0.1:{port}")]);
    assert!(o.status.success(), "{}", stderr(&o));
    let node = LocalNode::new(&etc, &sock, &state);
    let run = |extra: &[&str]| node.cluster(extra);

    let o = run(&[
        "start",
        "--all",
        "--wait",
        "20",
        "--log-file",
        log.to_str().unwrap(),
    ]);
    let logtext = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        o.status.success(),
        "{}\n{}\nlog:\n{logtext}",
        stdout(&o),
        stderr(&o)
    );
    assert!(
        stdout(&o).contains("started the hactl daemon"),
        "{}",
        stdout(&o)
    );
    let pid = started_pid(&o);
    assert_eq!(tcp_listeners(pid), Vec::<String>::new(), "daemon {pid}");

    let o = run(&["start", "--log-file", log.to_str().unwrap()]);
    assert!(stdout(&o).contains("already running"), "{}", stdout(&o));

    let o = run(&["status", "--output", "json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["cluster"], "lab");
    assert_eq!(v["dc"], "n1");
    assert_eq!(v["quorum"], true);
    assert_eq!(v["nodes"][0]["name"], "n1");
    assert_eq!(v["nodes"][0]["state"], "online");
    assert!(v["term"].as_u64().unwrap() >= 1);

    let o = run(&["status"]);
    assert!(stdout(&o).contains("DC: n1"), "{}", stdout(&o));

    // Replacing the identity under a running daemon is refused.
    let o = run(&[
        "setup",
        "--name",
        "lab",
        "--local",
        "n1",
        "--force",
        &format!("n1=127.0.0.1:{port}"),
    ]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("daemon is running"), "{}", stderr(&o));

    // Garbage on the control socket (an oversized length prefix, a body that is not
    // protobuf, a truncated frame) does not take the daemon down.
    for junk in [
        &u32::MAX.to_be_bytes()[..],
        &[0, 0, 0, 3, 0x0f, 0xff, 0xff][..],
        &[0, 0, 0, 9, 1][..],
    ] {
        use std::io::{Read, Write};
        let mut s = std::os::unix::net::UnixStream::connect(&sock).unwrap();
        s.set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .unwrap();
        let _ = s.write_all(junk);
        let _ = s.shutdown(std::net::Shutdown::Write);
        // Either an error answer or a closed connection; reading ends either way.
        let mut answer = Vec::new();
        let _ = s.read_to_end(&mut answer);
    }
    let o = run(&["status"]);
    assert!(
        o.status.success(),
        "daemon gone after garbage: {}",
        stderr(&o)
    );

    // destroy refuses while the daemon runs.
    let o = run(&["destroy"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("stop it first"), "{}", stderr(&o));
    assert!(etc.join("node.key").exists());

    // Starting another node from here is refused with an explanation.
    let o = run(&["start", "n2"]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("this machine is node n1"),
        "{}",
        stderr(&o)
    );

    let o = run(&["stop"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("stopped"), "{}", stdout(&o));
    let o = run(&["status"]);
    assert!(
        stderr(&o).contains("cannot reach the hactl daemon"),
        "{}",
        stderr(&o)
    );

    // destroy removes the files and the state dir.
    let o = run(&["destroy"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!etc.join("cluster.toml").exists());
    assert!(!etc.join("node.key").exists());
    assert!(!state.exists());
}

/// A node whose Raft store was damaged while it was down (here: the file lost its last
/// 4 KiB) must not start from it: the daemon refuses with a clear error, exits
/// non-zero, and `cluster start` fails and shows why.
#[test]
fn start_refuses_a_damaged_store_and_says_why() {
    let t = temp_dir("damaged");
    let etc = t.path().join("etc");
    let state = t.path().join("state");
    let sock = t.path().join("hactl.sock");
    let log = t.path().join("daemon.log");
    let o = setup(
        &etc,
        &["--local", "n1"],
        &[format!("n1=127.0.0.1:{}", free_port())],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let node = LocalNode::new(&etc, &sock, &state);
    let run = |extra: &[&str]| node.cluster(extra);
    let start = [
        "start",
        "--all",
        "--wait",
        "20",
        "--log-file",
        log.to_str().unwrap(),
    ];
    let o = run(&start);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(&["stop"]);
    assert!(o.status.success(), "{}", stderr(&o));

    let store = state.join("raft").join("raft.redb");
    let len = std::fs::metadata(&store).unwrap().len();
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&store)
        .unwrap();
    f.set_len(len - 4096).unwrap();
    drop(f);

    let o = run(&start);
    assert!(
        !o.status.success(),
        "start succeeded on a damaged store: {}",
        stdout(&o)
    );
    assert!(
        stderr(&o).contains("is damaged") && stderr(&o).contains("Refusing to start"),
        "{}",
        stderr(&o)
    );
    // A distinct exit status, which hactl.service does not restart on.
    assert!(stderr(&o).contains("exit status: 78"), "{}", stderr(&o));
    let o = run(&["status"]);
    assert!(
        !o.status.success(),
        "a daemon is still running: {}",
        stdout(&o)
    );
}

/// When the daemon's consensus dies under it (here: the disk holding its Raft store
/// fills up, so a commit fails), the node can no longer follow the cluster: the
/// daemon stops every resource it runs, then exits non-zero. Root only (mounts a small
/// tmpfs as the state dir); a real ocf:heartbeat:Dummy is the resource.
#[test]
fn consensus_failure_stops_local_resources_and_exits_non_zero() {
    if unsafe_geteuid() != 0 {
        eprintln!("SKIPPED: needs root to mount a small tmpfs");
        return;
    }
    let t = temp_dir("fatal");
    let etc = t.path().join("etc");
    let state = t.path().join("state");
    let sock = t.path().join("hactl.sock");
    let dummy_state = t.path().join("dummy.state");
    std::fs::create_dir_all(&state).unwrap();
    let mounted = Command::new("mount")
        .args([
            "-t",
            "tmpfs",
            "-o",
            "size=16m",
            "hactl-test",
            state.to_str().unwrap(),
        ])
        .status()
        .unwrap();
    assert!(mounted.success(), "mounting a tmpfs");
    struct Umount(PathBuf);
    impl Drop for Umount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        }
    }
    let _umount = Umount(state.clone());
    let o = setup(
        &etc,
        &["--local", "n1"],
        &[format!("n1=127.0.0.1:{}", free_port())],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let log = std::fs::File::create(t.path().join("daemon.log")).unwrap();
    let mut daemon = Command::new(HACTL)
        .args([
            "--log",
            "info",
            "daemon",
            "--config-dir",
            etc.to_str().unwrap(),
        ])
        .args(["--state-dir", state.to_str().unwrap()])
        .args(["--socket", sock.to_str().unwrap()])
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    struct Kill<'a>(&'a mut std::process::Child);
    impl Drop for Kill<'_> {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let daemon = Kill(&mut daemon);
    let s = sock.to_str().unwrap();
    let until = |what: &str, mut cond: Box<dyn FnMut() -> bool + '_>| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while !cond() {
            assert!(std::time::Instant::now() < deadline, "timed out: {what}");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    };
    until(
        "the daemon elects itself DC",
        Box::new(|| {
            let o = hactl(&["cluster", "status", "--output", "json", "--socket", s]);
            serde_json::from_slice::<serde_json::Value>(&o.stdout).is_ok_and(|v| v["dc"] == "n1")
        }),
    );
    let o = hactl(&["property", "set", "stonith-enabled=false", "--socket", s]);
    assert!(o.status.success(), "{}", stderr(&o));
    let state_param = format!("state={}", dummy_state.display());
    let o = hactl(&[
        "resource",
        "create",
        "d",
        "ocf:heartbeat:Dummy",
        &state_param,
        "--socket",
        s,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    until(
        "the Dummy runs (its state file exists)",
        Box::new(|| dummy_state.exists()),
    );

    // Fill the disk, then write until a commit needs space it cannot get.
    let mut filler = std::fs::File::create(state.join("filler")).unwrap();
    let chunk = vec![0u8; 1 << 20];
    while std::io::Write::write_all(&mut filler, &chunk).is_ok() {}
    let big = "x".repeat(64 * 1024);
    let mut status = None;
    let mut last = String::new();
    for i in 0..200 {
        let fake = format!("fake={i}-{big}");
        let o = hactl(&["resource", "update", "d", &fake, "--no-wait", "--socket", s]);
        last = stderr(&o);
        if let Some(st) = daemon.0.try_wait().unwrap() {
            status = Some(st);
            break;
        }
    }
    let status = match status {
        Some(st) => st,
        None => {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
            loop {
                if let Some(st) = daemon.0.try_wait().unwrap() {
                    break st;
                }
                assert!(
                    std::time::Instant::now() < deadline,
                    "the daemon kept running on a full disk; last write: {last}; log:\n{}",
                    std::fs::read_to_string(t.path().join("daemon.log")).unwrap_or_default()
                );
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
        }
    };
    let logtext = std::fs::read_to_string(t.path().join("daemon.log")).unwrap_or_default();
    assert!(!status.success(), "exit status {status}; log:\n{logtext}");
    assert!(
        !dummy_state.exists(),
        "the Dummy still runs after the daemon exited; log:\n{logtext}"
    );
    assert!(
        logtext.contains("stopping every local resource"),
        "log:\n{logtext}"
    );
}

/// Growing a running one-node cluster with `node add` (issues the bundle on the node
/// holding the CA key, Raft membership change through the daemon), `join` + `start` on
/// the "other machine" (a second loopback address), then `node remove`.
#[test]
fn node_add_join_start_and_remove_on_a_running_cluster() {
    let t = temp_dir("grow");
    let nodes = TwoNodes { root: t.path() };
    let p = |n: u32| nodes.path("n", n);
    let arg = |n: u32, what: &str| nodes.arg(what, n);
    let run = |n: u32, extra: &[&str]| nodes.run(n, extra);
    let (p1, p2) = (free_port(), free_port());

    let o = run(
        1,
        &[
            "setup",
            "--name",
            "lab",
            "--local",
            "n1",
            &format!("n1=127.0.0.1:{p1}"),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let log1 = arg(1, "log");
    let o = run(1, &["start", "--all", "--wait", "20", "--log-file", &log1]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));

    let o = run(1, &["node", "add", &format!("n2=127.0.0.2:{p2}")]);
    assert!(o.status.success(), "{}", stderr(&o));
    let bundle = p(1).join("bundles/n2.bundle");
    assert_eq!(mode(&bundle), 0o600);
    let cfg = hactl_net::ClusterConfig::load(&p(1).join("cluster.toml")).unwrap();
    assert_eq!(cfg.nodes.len(), 2);
    assert_eq!(cfg.nodes[1].id, 2);

    let o = run(2, &["join", bundle.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let log2 = arg(2, "log");
    let o = run(2, &["start", "--log-file", &log2]);
    assert!(o.status.success(), "{}", stderr(&o));
    // Both daemons see both nodes online (each view polled until then) and a DC.
    // --no-ssh: both daemons run already; this is about the wait, not about ssh.
    let o = run(
        1,
        &[
            "start",
            "--all",
            "--no-ssh",
            "--wait",
            "20",
            "--log-file",
            &log1,
        ],
    );
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let o = run(
        2,
        &[
            "start",
            "--all",
            "--no-ssh",
            "--wait",
            "20",
            "--log-file",
            &log2,
        ],
    );
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("already running"), "{}", stdout(&o));
    // Wait until both views agree (same DC, term and commit index): the new node has
    // caught up and any election its arrival caused is over.
    let view = |n: u32| -> serde_json::Value {
        serde_json::from_slice(&run(n, &["status", "--output", "json"]).stdout)
            .unwrap_or(serde_json::Value::Null)
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let v = loop {
        let (a, b) = (view(1), view(2));
        let same = |k: &str| a[k] == b[k] && !a[k].is_null();
        if same("dc") && same("term") && same("commit_index") {
            break b;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "views never agreed: {a} {b}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    let states: Vec<_> = v["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["name"].as_str().unwrap().to_string(),
                n["state"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        states,
        [
            ("n1".to_string(), "online".to_string()),
            ("n2".to_string(), "online".to_string())
        ]
    );

    // Adding a name or address that exists is refused before anything is asked.
    let o = run(1, &["node", "add", &format!("n2=127.0.0.3:{p2}")]);
    assert!(stderr(&o).contains("listed twice"), "{}", stderr(&o));

    let o = run(1, &["node", "remove", "n2"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!bundle.exists());
    let cfg = hactl_net::ClusterConfig::load(&p(1).join("cluster.toml")).unwrap();
    assert_eq!(cfg.nodes.len(), 1);
    let o = run(1, &["status", "--output", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["nodes"].as_array().unwrap().len(), 1, "{v}");

    // stop --all returns once the local daemon has exited.
    let o = run(1, &["stop", "--all", "--wait", "20"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("the local daemon has stopped"),
        "{}",
        stdout(&o)
    );
    let o = run(1, &["status"]);
    assert!(
        stderr(&o).contains("cannot reach the hactl daemon"),
        "{}",
        stderr(&o)
    );
}

/// Every regular file under `dir`.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(p) = todo.pop() {
        let m = std::fs::symlink_metadata(&p).unwrap();
        if m.is_dir() {
            todo.extend(std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
        } else if m.is_file() {
            files.push(p);
        }
    }
    files
}

/// An adversarial run found the state directory and its database world-readable
/// (a fence password was read from it), a shared 1777 socket directory turned into
/// 0700, and a regular file at the socket path deleted. The real daemon, started
/// with a default umask: the state it creates is private, a shared directory keeps
/// its mode, and a file that is not a stale socket is left alone.
#[test]
fn daemon_state_is_private_and_the_socket_path_is_respected() {
    let t = temp_dir("perm");
    // Reachable by everyone, as /var/lib is: only the state directory's own mode
    // may keep others out.
    std::fs::set_permissions(t.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let etc = t.path().join("etc");
    let state = t.path().join("state");
    let shared = t.path().join("shared");
    std::fs::create_dir(&shared).unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o1777)).unwrap();
    let sock = shared.join("hactl.sock");
    std::fs::write(&sock, "someone's file").unwrap();
    let log = t.path().join("daemon.log");
    let port = free_port();
    let o = setup(&etc, &["--local", "n1"], &[format!("n1=127.0.0.1:{port}")]);
    assert!(o.status.success(), "{}", stderr(&o));
    let log_s = log.to_str().unwrap();
    let node = LocalNode::new(&etc, &sock, &state);
    let run = |extra: &[&str]| node.cluster(extra);

    let o = run(&["start", "--wait", "10", "--log-file", log_s]);
    let logtext = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(!o.status.success(), "{}", stdout(&o));
    assert!(
        logtext.contains("is not a socket") || stderr(&o).contains("is not a socket"),
        "{}\nlog:\n{logtext}",
        stderr(&o)
    );
    assert_eq!(std::fs::read_to_string(&sock).unwrap(), "someone's file");

    std::fs::remove_file(&sock).unwrap();
    let o = run(&["start", "--wait", "20", "--log-file", log_s]);
    let logtext = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(o.status.success(), "{}\nlog:\n{logtext}", stderr(&o));
    assert_eq!(
        std::fs::metadata(&shared).unwrap().permissions().mode() & 0o7777,
        0o1777,
        "the shared directory keeps its mode"
    );
    assert_eq!(mode(&sock), 0o600);
    assert_eq!(mode(&state), 0o700);
    // The CIB (fence passwords included) is out of reach of other users, the
    // database files the store creates later included.
    let files = files_under(&state);
    assert!(!files.is_empty(), "the daemon wrote its state");
    if unsafe_geteuid() == 0 {
        for f in &files {
            let o = Command::new("setpriv")
                .args(["--reuid=65534", "--regid=65534", "--clear-groups", "cat"])
                .arg(f)
                .output()
                .unwrap();
            assert!(!o.status.success(), "nobody read {}", f.display());
        }
    }
}

/// `cluster start` of a one-node cluster returns only once the node can take
/// commands: it knows the leader (itself) at once, and a change made right after is
/// committed (it used to fail with "no leader (election in progress)").
#[test]
fn a_change_right_after_a_one_node_start_is_committed() {
    let t = temp_dir("ready");
    let etc = t.path().join("etc");
    let (sock, state, log) = (
        t.path().join("hactl.sock"),
        t.path().join("state"),
        t.path().join("daemon.log"),
    );
    let o = setup(
        &etc,
        &["--local", "n1"],
        &[format!("n1=127.0.0.1:{}", free_port())],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let (etc, sock, state, log) = (
        etc.to_str().unwrap(),
        sock.to_str().unwrap(),
        state.to_str().unwrap(),
        log.to_str().unwrap(),
    );
    let node = LocalNode::new(Path::new(etc), Path::new(sock), Path::new(state));
    let cluster = |extra: &[&str]| node.cluster(extra);

    let o = cluster(&["start", "--log-file", log]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    // Read without waiting for anything: the leader is known when start returns.
    let o = cluster(&["status", "--output", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["dc"], "n1", "{v}");
    let o = hactl(&[
        "property",
        "set",
        "no-quorum-policy=ignore",
        "--no-wait",
        "--socket",
        sock,
    ]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    assert!(!stderr(&o).contains("waiting"), "{}", stderr(&o));
    let o = hactl(&["property", "list", "--socket", sock]);
    assert!(stdout(&o).contains("no-quorum-policy"), "{}", stdout(&o));
}

/// A change sent while the cluster has no leader (here: one of two nodes started, so
/// no quorum) waits for the election and is committed once the other node starts.
#[test]
fn a_change_sent_without_a_leader_waits_for_the_election() {
    use std::io::BufRead;
    let t = temp_dir("elect");
    // Daemons listen on every address: two ports for two daemons on one machine.
    let (p1, p2) = (free_port(), free_port());
    let nodes = TwoNodes { root: t.path() };
    let dir = |n: u32| nodes.path("n", n);
    let arg = |n: u32, what: &str| nodes.arg(what, n);
    let o = setup(
        &dir(1),
        &["--local", "n1"],
        &[format!("n1=127.0.0.1:{p1}"), format!("n2=127.0.0.2:{p2}")],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let run = |n: u32, extra: &[&str]| nodes.run(n, extra);
    let bundle = dir(1).join("bundles/n2.bundle");
    let o = run(2, &["join", bundle.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));

    let o = run(1, &["start", "--log-file", &arg(1, "log")]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let mut set = Command::new(HACTL)
        .args(["property", "set", "no-quorum-policy=ignore", "--no-wait"])
        .args(["--socket", &arg(1, "sock")])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The command says it waits: only then start the second node.
    let mut err = std::io::BufReader::new(set.stderr.take().unwrap());
    let mut line = String::new();
    err.read_line(&mut line).unwrap();
    assert!(line.contains("no leader yet"), "{line:?}");
    let o = run(2, &["start", "--log-file", &arg(2, "log")]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let o = set.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", stdout(&o));
    assert!(stdout(&o).contains("committed at index"), "{}", stdout(&o));
}

/// `metrics_listen` set to a bare port: the daemon serves Prometheus metrics on
/// 127.0.0.1 only. The scrape parses with the Python client's parser (Debian
/// python3-prometheus-client) and carries membership, quorum, DC, Raft, resources
/// by state, the start of a real ocf:heartbeat:Dummy with its duration, the fail
/// count of a resource whose start fails, and the fencing and alert counters (at 0)
/// with their labels.
#[test]
fn metrics_endpoint_serves_parseable_prometheus_text_on_localhost() {
    let t = temp_dir("metrics");
    let etc = t.path().join("etc");
    let (sock, state, log) = (
        t.path().join("hactl.sock"),
        t.path().join("state"),
        t.path().join("daemon.log"),
    );
    let o = setup(
        &etc,
        &["--local", "n1"],
        &[format!("n1=127.0.0.1:{}", free_port())],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let port = free_port();
    let toml = etc.join("cluster.toml");
    let mut text = std::fs::read_to_string(&toml).unwrap();
    assert!(!text.contains("[settings]"), "{text}");
    text.push_str(&format!("\n[settings]\nmetrics_listen = \"{port}\"\n"));
    std::fs::write(&toml, text).unwrap();
    let (etc, sock, state, log) = (
        etc.to_str().unwrap(),
        sock.to_str().unwrap(),
        state.to_str().unwrap(),
        log.to_str().unwrap(),
    );
    let node = LocalNode::new(Path::new(etc), Path::new(sock), Path::new(state));
    let cluster = |extra: &[&str]| node.cluster(extra);
    let started = cluster(&["start", "--log-file", log]);
    assert!(
        started.status.success(),
        "{}{}",
        stdout(&started),
        stderr(&started)
    );
    let o = hactl(&["property", "set", "stonith-enabled=false", "--socket", sock]);
    assert!(o.status.success(), "{}", stderr(&o));
    let dummy_state = t.path().join("dummy.state");
    let state_param = format!("state={}", dummy_state.display());
    let o = hactl(&[
        "resource",
        "create",
        "d",
        "ocf:heartbeat:Dummy",
        &state_param,
        "--socket",
        sock,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    // Its start fails: a fail count (INFINITY, start-failure-is-fatal) on n1.
    let o = hactl(&[
        "resource",
        "create",
        "bad",
        "ocf:hactl:Dummy",
        "fail_start=true",
        "--no-wait",
        "--socket",
        sock,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));

    let scrape = || -> String {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("metrics port");
        s.write_all(b"GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n")
            .unwrap();
        let mut body = String::new();
        s.read_to_string(&mut body).unwrap();
        body.split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let mut body = scrape();
    while !body.contains("agent=\"ocf:heartbeat:Dummy\",op=\"start\",result=\"ok\"")
        || !body.contains("hactl_fail_count{")
    {
        assert!(
            std::time::Instant::now() < deadline,
            "no Dummy start in:\n{body}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
        body = scrape();
    }
    // The daemon's only TCP listener is this one (the endpoint is the daemon's).
    let pid = started_pid(&started);
    assert_eq!(
        tcp_listeners(pid),
        vec![format!("127.0.0.1:{port}")],
        "daemon {pid}"
    );
    // Not on any other address of this machine.
    let others = Command::new("hostname").arg("-I").output().unwrap();
    for ip in String::from_utf8_lossy(&others.stdout).split_whitespace() {
        if let Ok(ip) = ip.parse::<std::net::IpAddr>() {
            assert!(
                std::net::TcpStream::connect((ip, port)).is_err(),
                "listening on {ip}"
            );
        }
    }
    // The Python client's parser reads it; print the samples it found.
    let parse = "import sys\nfrom prometheus_client.openmetrics.parser import text_string_to_metric_families as p\n\
                 for f in p(sys.stdin.read()):\n    for s in f.samples:\n        print(s.name, sorted(s.labels.items()), float(s.value))\n";
    // Debian's interpreter, where python3-prometheus-client installs.
    let mut py = Command::new("/usr/bin/python3")
        .args(["-c", parse])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3 with python3-prometheus-client (scripts/test-packages.txt)");
    std::io::Write::write_all(py.stdin.as_mut().unwrap(), body.as_bytes()).unwrap();
    let out = py.wait_with_output().unwrap();
    let samples = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "parser: {}\n{body}",
        String::from_utf8_lossy(&out.stderr)
    );
    for want in [
        "hactl_node_member [('node', 'n1')] 1.0",
        "hactl_quorum [] 1.0",
        "hactl_dc [('node', 'n1')] 1.0",
        "hactl_resources [('state', 'started')] 1.0",
        "hactl_resources [('state', 'failed')] 1.0",
        "hactl_resources [('state', 'stopped')] 0.0",
        "hactl_fail_count [('node', 'n1'), ('rsc', 'bad')] 1000000.0",
        "hactl_fencing_attempts_total [('result', 'ok')] 0.0",
        "hactl_fencing_attempts_total [('result', 'failed')] 0.0",
        "hactl_operations_total [('agent', 'ocf:heartbeat:Dummy'), ('op', 'start'), ('result', 'ok')] 1.0",
        "hactl_operation_duration_seconds_count [('agent', 'ocf:heartbeat:Dummy'), ('op', 'start')] 1.0",
        "hactl_is_dc [] 1.0",
        "hactl_raft_term [] ",
        "hactl_raft_commit_index [] ",
        "hactl_raft_applied_index [] ",
        "hactl_raft_last_index [] ",
        "hactl_raft_apply_lag_entries [] ",
        "hactl_alert_deliveries_total [('result', 'delivered')] 0.0",
        "hactl_alert_deliveries_total [('result', 'failed')] 0.0",
        "hactl_alert_deliveries_total [('result', 'timed_out')] 0.0",
        "hactl_alert_events_dropped_total [] 0.0",
        // The Dummy's start ran in a transition of this node's, planned by a
        // policy engine run (counts depend on how many runs there were).
        "hactl_transitions_total [('result', 'complete')] ",
        "hactl_transition_duration_seconds_count [] ",
        "hactl_scheduler_duration_seconds_count [] ",
    ] {
        assert!(samples.contains(want), "{want:?} not in:\n{samples}");
    }
    let value = |name: &str| -> f64 {
        let line = samples.lines().find(|l| l.starts_with(name));
        line.and_then(|l| l.rsplit(' ').next()?.parse().ok())
            .unwrap_or(0.0)
    };
    assert!(
        value("hactl_transitions_total [('result', 'complete')]") >= 1.0,
        "{samples}"
    );
    assert!(
        value("hactl_scheduler_duration_seconds_count") >= 1.0,
        "{samples}"
    );
}
