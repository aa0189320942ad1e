//! `hactl cluster start --all` starts the other nodes' daemons over ssh, end to end:
//! three real `hactl daemon`s in network namespaces, each node also running a real
//! OpenSSH server (Debian's `sshd`) on port 22 of its own address. `cluster stop
//! --all`, then `cluster start --all` from n1: n1's daemon starts here, n2's and n3's
//! through ssh, and the cluster takes a change. With n3's sshd stopped, `start --all`
//! reports n3 unreachable with ssh's reason, exits non-zero, and starts the others;
//! `enable --all` reports each node's own answer the same way.
//!
//! Keys are throwaway: a host key and a client key made in the test's temporary
//! directory; the client reads only the test's ssh config (`HACTL_SSH_CONFIG`, i.e.
//! `ssh -F`), so nothing under /root/.ssh is read or written. sshd gives each node's
//! sessions that node's paths (`SetEnv HACTL_CONFIG_DIR=…`), as a real machine has its
//! own /etc/hactl. Nothing is mocked. Needs root; fails without it unless
//! `HACTL_SKIP_ROOT_TESTS=1`.

use std::path::{Path, PathBuf};
use std::process::{Child, Output, Stdio};
use std::time::Duration;

use anyhow::{Context, Result};
use hactl_tests::cluster::Cluster;
use hactl_tests::controller_lab::{cli, ensure, NsReaper};
use hactl_tests::netns::{require_root, run};

const T: Duration = Duration::from_secs(60);

/// A real sshd on every node, and the client side (keys, known hosts, config).
struct SshLab {
    dir: PathBuf,
    sshd: Vec<Option<Child>>,
}

impl SshLab {
    fn new(c: &Cluster) -> Result<SshLab> {
        let dir = c.root.join("ssh");
        std::fs::create_dir_all(&dir)?;
        for key in ["host_key", "client_key"] {
            let path = dir.join(key).display().to_string();
            run(
                "ssh-keygen",
                &[
                    "-q",
                    "-t",
                    "ed25519",
                    "-N",
                    "",
                    "-C",
                    "hactl-test",
                    "-f",
                    &path,
                ],
            )?;
        }
        let host_pub = std::fs::read_to_string(dir.join("host_key.pub"))?;
        let known: String = (1..=c.net.len())
            .map(|i| format!("{} {}", c.net.ip(i), host_pub.trim()))
            .collect::<Vec<_>>()
            .join("\n");
        std::fs::write(dir.join("known_hosts"), known + "\n")?;
        std::fs::copy(dir.join("client_key.pub"), dir.join("authorized_keys"))?;
        std::fs::write(
            dir.join("ssh_config"),
            format!(
                "Host *\n  IdentityFile {d}/client_key\n  IdentitiesOnly yes\n  \
                 UserKnownHostsFile {d}/known_hosts\n  GlobalKnownHostsFile /dev/null\n  \
                 StrictHostKeyChecking yes\n",
                d = dir.display()
            ),
        )?;
        let mut lab = SshLab {
            dir,
            sshd: Vec::new(),
        };
        for i in 1..=c.net.len() {
            let child = lab.start_sshd(c, i)?;
            lab.sshd.push(Some(child));
        }
        for i in 1..=c.net.len() {
            lab.wait_listening(c, i)?;
        }
        Ok(lab)
    }

    fn log(&self, i: usize) -> PathBuf {
        self.dir.join(format!("sshd-n{i}.log"))
    }

    /// sshd in node `i`'s namespaces, in the foreground, logging to a file.
    fn start_sshd(&self, c: &Cluster, i: usize) -> Result<Child> {
        let ns = c.net.ns(i);
        // Its privilege-separation directory, in the node's own /run.
        let st = hactl_lab::host::command(&ns, "mkdir")?
            .args(["-p", "/run/sshd"])
            .status()?;
        ensure(st.success(), "mkdir /run/sshd in the node")?;
        let f = c.files(i);
        let d = self.dir.display();
        let cfg = self.dir.join(format!("sshd-n{i}.conf"));
        std::fs::write(
            &cfg,
            format!(
                "ListenAddress {ip}:22\nHostKey {d}/host_key\nPidFile none\n\
                 AuthorizedKeysFile {d}/authorized_keys\nPermitRootLogin prohibit-password\n\
                 PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n\
                 StrictModes no\nLogLevel VERBOSE\n\
                 SetEnv HACTL_CONFIG_DIR={} HACTL_SOCKET={} HACTL_STATE_DIR={} \
                 HACTL_LOG_FILE={} HACTL_LOG=info\n",
                f.config_dir.display(),
                f.socket.display(),
                f.state_dir.display(),
                f.log.display(),
                ip = c.net.ip(i),
            ),
        )?;
        let log = std::fs::File::create(self.log(i))?;
        hactl_lab::host::command(&ns, "/usr/sbin/sshd")?
            .args(["-D", "-e", "-f"])
            .arg(&cfg)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("starting sshd (is openssh-server installed?)")
    }

    /// Waits for sshd's own "Server listening" line.
    fn wait_listening(&self, c: &Cluster, i: usize) -> Result<()> {
        c.wait_until(&format!("sshd on n{i} to listen"), T, || {
            let text = std::fs::read_to_string(self.log(i))?;
            Ok(text.contains("Server listening on").then_some(()))
        })
    }

    fn stop(&mut self, i: usize) {
        if let Some(mut child) = self.sshd[i - 1].take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for SshLab {
    fn drop(&mut self) {
        for i in 1..=self.sshd.len() {
            self.stop(i);
        }
    }
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// `hactl cluster ARGS` run on node `i` (in its namespaces), as its administrator
/// would: its paths, and the test's ssh config.
fn on_node(c: &Cluster, ssh: &SshLab, i: usize, args: &[&str]) -> Result<Output> {
    let f = c.files(i);
    hactl_lab::host::command(&c.net.ns(i), &c.bin)?
        .arg("cluster")
        .arg("--dir")
        .arg(&f.config_dir)
        .arg("--socket")
        .arg(&f.socket)
        .arg("--state-dir")
        .arg(&f.state_dir)
        .args(args)
        .env("HACTL_SSH_CONFIG", ssh.dir.join("ssh_config"))
        .env("HACTL_REMOTE_HACTL", &c.bin)
        .env("HACTL_LOG_FILE", &f.log)
        .env("HACTL_LOG", "info")
        .output()
        .context("running hactl cluster")
}

/// Node `i`'s daemon answers on its control socket.
fn answers(c: &Cluster, i: usize) -> bool {
    c.status(i).is_ok()
}

/// `cluster stop --all` from n1, then waits until no daemon answers.
fn stop_all(c: &mut Cluster, ssh: &SshLab, harness_owned: bool) -> Result<()> {
    let o = on_node(c, ssh, 1, &["stop", "--all"])?;
    ensure(o.status.success(), &format!("stop --all: {}", text(&o)))?;
    for i in 1..=3 {
        if harness_owned {
            c.wait_exit(i, T)?;
        }
        c.wait_until(&format!("n{i}'s daemon to exit"), T, || {
            Ok((!answers(c, i)).then_some(()))
        })?;
    }
    Ok(())
}

/// Waits until each of `nodes` has joined the cluster `runs` times (its daemons'
/// "joined the cluster" lines). A `stop --all` committed before a node's join is
/// undone by that join (the join clears the node's shutdown mark), so the test stops
/// only a cluster whose nodes have all joined.
fn wait_joined(c: &Cluster, nodes: &[usize], runs: usize) -> Result<()> {
    for &i in nodes {
        c.wait_until(&format!("n{i} to join (run {runs})"), T, || {
            let n = c.log(i).matches("joined the cluster").count();
            Ok((n >= runs).then_some(()))
        })?;
    }
    Ok(())
}

/// The cluster takes a change through `via` and every running node applies it.
fn takes_a_change(c: &Cluster, via: usize, value: &str, nodes: &[usize]) -> Result<()> {
    cli(
        c,
        via,
        &["property", "set", &format!("no-quorum-policy={value}")],
    )?;
    for &i in nodes {
        c.wait_until(&format!("n{i} to apply the change"), T, || {
            let cib = c.cib(i)?;
            let v = cib.config.properties.get("no-quorum-policy").cloned();
            Ok((v.as_deref() == Some(value)).then_some(()))
        })?;
    }
    Ok(())
}

fn root_ssh_dir_state() -> Option<std::time::SystemTime> {
    std::fs::metadata(Path::new("/root/.ssh"))
        .and_then(|m| m.modified())
        .ok()
}

#[test]
fn netns_start_all_starts_the_other_daemons_over_ssh() {
    if !require_root() {
        return;
    }
    let root_ssh_before = root_ssh_dir_state();
    let mut c = Cluster::setup("hx-sh", 3, "10.89.5", None).expect("lab");
    let _reaper = NsReaper::new(&c);
    // A panic, so that the cluster prints the daemons' logs as it goes.
    if let Err(e) = start_all_over_ssh(&mut c) {
        panic!("{e:#}");
    }
    assert_eq!(
        root_ssh_dir_state(),
        root_ssh_before,
        "the test changed /root/.ssh"
    );
}

fn start_all_over_ssh(c: &mut Cluster) -> Result<()> {
    c.start_all()?;
    c.wait_dc(&[1, 2, 3], T)?;
    wait_joined(c, &[1, 2, 3], 1)?;
    let mut ssh = SshLab::new(c)?;

    // Every daemon down, then all started from n1: n2 and n3 only through ssh.
    stop_all(c, &ssh, true)?;
    let o = on_node(c, &ssh, 1, &["start", "--all", "--wait", "40"])?;
    let out = text(&o);
    ensure(o.status.success(), &format!("start --all failed: {out}"))?;
    for i in [2, 3] {
        ensure(
            out.contains(&format!("n{i}: started over ssh")),
            &format!("n{i} not reported started: {out}"),
        )?;
    }
    c.wait_dc(&[1, 2, 3], T)?;
    takes_a_change(c, 1, "freeze", &[1, 2, 3])?;
    wait_joined(c, &[1, 2, 3], 2)?;

    // n3's sshd is gone: n3 is reported unreachable with ssh's reason, the command
    // fails, and n1 and n2 are started and take a change.
    ssh.stop(3);
    stop_all(c, &ssh, false)?;
    let o = on_node(c, &ssh, 1, &["start", "--all", "--wait", "40"])?;
    let out = text(&o);
    ensure(
        !o.status.success(),
        &format!("start --all succeeded: {out}"),
    )?;
    ensure(
        out.contains("n3: UNREACHABLE over ssh") && out.contains("port 22: Connection refused"),
        &format!("n3 not reported unreachable with ssh's reason: {out}"),
    )?;
    ensure(
        out.contains("n2: started over ssh") && out.contains("not started: n3"),
        &format!("report: {out}"),
    )?;
    ensure(!answers(c, 3), "n3's daemon runs")?;
    c.wait_dc(&[1, 2], T)?;
    takes_a_change(c, 2, "stop", &[1, 2])?;

    // `enable --all` goes the same way: each node answers for itself. These nodes
    // have no systemd as PID 1 (the real enable path: cli/tests/netns_boot.rs).
    let o = on_node(c, &ssh, 1, &["enable", "--all"])?;
    let out = text(&o);
    ensure(o.status.code() == Some(1), &format!("enable --all: {out}"))?;
    for i in [1, 2] {
        let line = out
            .lines()
            .find(|l| l.starts_with(&format!("n{i}: FAILED")))
            .unwrap_or_default();
        ensure(
            line.contains("systemd is not running as init (PID 1)"),
            &format!("n{i} not reported without systemd: {out}"),
        )?;
    }
    ensure(
        out.contains("n3: UNREACHABLE over ssh"),
        &format!("n3 not reported unreachable: {out}"),
    )
}
