//! A real systemd for tests where the host has none as PID 1: the host's own OS booted
//! as a container with systemd-nspawn, copy-on-write (an overlay of `/` whose upper
//! layer is a tmpfs), in a private mount namespace, so everything the container
//! changes or mounts vanishes with it. Services the host enables that must not run in
//! it are masked. See /work/shared/netlab/README.md ("systemd-nspawn: works") for why
//! `--keep-unit --register=no` and the tmpfs on `/run/systemd` are needed here.

use std::ffi::OsStr;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::LabError;

/// Units the host may enable that have no business in a test container.
const MASKED: &str = "corosync pacemaker keepalived fence_virtd libvirtd virtlogd virtlockd \
    postgresql logd ssh e2scrub_reap getty@tty1 systemd-timesyncd systemd-pstore \
    apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer e2scrub_all.timer \
    fstrim.timer man-db.timer";

/// Runs in its own mount namespace: `$0` the scratch dir, `$1` the machine name, `$2`
/// the masked units, `$3` the caller's preparation (shell, with `$R` the root), then
/// nspawn's extra arguments.
const BOOT: &str = r#"
set -e
d=$0; name=$1; masked=$2; prepare=$3; shift 4
mount -t tmpfs hx-lab-nspawn /run/systemd
mount -t tmpfs hx-lab-ovl "$d"
mkdir -p "$d/upper" "$d/work" "$d/root"
mount -t overlay hx-lab-root -o "lowerdir=/,upperdir=$d/upper,workdir=$d/work" "$d/root"
R=$d/root
echo "$name" > "$R/etc/hostname"
for u in $masked; do
  case $u in *.*) ;; *) u=$u.service;; esac
  ln -sf /dev/null "$R/etc/systemd/system/$u"
done
eval "$prepare"
exec systemd-nspawn -D "$R" --keep-unit --register=no --private-network -M "$name" \
  --console=read-only "$@" -b systemd.unit=multi-user.target
"#;

/// The container; powered off (its PID 1 killed, which ends every process in its PID
/// namespace) and nspawn reaped on drop.
pub struct Container {
    nspawn: Child,
    leader: i32,
    dir: PathBuf,
}

impl Container {
    /// Boots the host's OS as container `name`. `prepare` is shell run before the boot
    /// with `$R` the container's root (write files, unmask or remove units) and `env`
    /// in its environment; `nspawn_args` are added to systemd-nspawn's (e.g.
    /// `--bind-ro=HOST:PATH`). Returns once the container's PID 1 exists.
    pub fn boot(
        name: &str,
        prepare: &str,
        env: &[(&str, &str)],
        nspawn_args: &[&str],
    ) -> Result<Container, LabError> {
        crate::require_root("booting a systemd container")?;
        let dir = std::env::temp_dir().join(format!("hactl-lab-ct-{name}-{}", std::process::id()));
        let io = |what: &str| {
            let what = format!("{what} {}", dir.display());
            move |source| LabError::Io { what, source }
        };
        std::fs::create_dir_all(dir.join("ovl")).map_err(io("creating"))?;
        let log = std::fs::File::create(dir.join("boot.log")).map_err(io("creating a log in"))?;
        let mut cmd = Command::new("unshare");
        cmd.args(["-m", "--propagation", "private", "bash", "-c", BOOT])
            .arg(dir.join("ovl"))
            .args([name, MASKED, prepare, "--"])
            .args(nspawn_args)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(io("logging in"))?)
            .stderr(log)
            .process_group(0);
        let nspawn = cmd.spawn().map_err(|source| LabError::Spawn {
            cmd: "unshare … systemd-nspawn (is systemd-container installed?)".into(),
            source,
        })?;
        let mut c = Container {
            nspawn,
            leader: 0,
            dir,
        };
        c.leader = c.wait_leader(Duration::from_secs(30))?;
        Ok(c)
    }

    /// The container's PID 1 once it exists: nspawn's child whose program is systemd
    /// (nspawn's short-lived outer child is systemd-nspawn itself).
    fn wait_leader(&mut self, limit: Duration) -> Result<i32, LabError> {
        let pid = self.nspawn.id();
        let deadline = Instant::now() + limit;
        loop {
            let kids = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
                .unwrap_or_default();
            if let Some(l) = kids.split_whitespace().next().and_then(|s| s.parse().ok()) {
                let exe = std::fs::read_link(format!("/proc/{l}/exe")).unwrap_or_default();
                if exe.file_name().is_some_and(|n| n == "systemd") {
                    return Ok(l);
                }
            }
            if let Ok(Some(st)) = self.nspawn.try_wait() {
                return Err(LabError::Invalid(format!(
                    "systemd-nspawn exited early ({st}); see {}",
                    self.dir.join("boot.log").display()
                )));
            }
            if Instant::now() >= deadline {
                return Err(LabError::Invalid(
                    "the container's PID 1 did not appear".into(),
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The container's PID 1.
    pub fn leader(&self) -> i32 {
        self.leader
    }

    /// D-Bus address of the container's system bus, from the host.
    pub fn bus(&self) -> String {
        format!(
            "unix:path=/proc/{}/root/run/dbus/system_bus_socket",
            self.leader
        )
    }

    /// A host path inside the container's file system.
    pub fn path(&self, inside: &str) -> PathBuf {
        PathBuf::from(format!(
            "/proc/{}/root/{}",
            self.leader,
            inside.trim_start_matches('/')
        ))
    }

    /// `program` run inside the container: all its namespaces and its root.
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut c = Command::new("nsenter");
        c.args(["-t", &self.leader.to_string(), "-a", "-r", "-w"])
            .arg(program);
        c
    }

    /// Waits until systemd in the container says the system is up (running or
    /// degraded: a masked unit's dependants may fail, which is no concern here).
    pub fn wait_running(&self, limit: Duration) -> Result<(), LabError> {
        let deadline = Instant::now() + limit;
        let mut last = String::new();
        loop {
            if let Ok(o) = self
                .command("systemctl")
                .arg("is-system-running")
                .stdin(Stdio::null())
                .output()
            {
                last = String::from_utf8_lossy(&o.stdout).trim().to_string();
                if last == "running" || last == "degraded" {
                    return Ok(());
                }
            }
            if Instant::now() >= deadline {
                return Err(LabError::Invalid(format!(
                    "systemd in the container is not up after {limit:?}: {last:?}"
                )));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        if self.leader > 0 {
            // SAFETY: kill(2) of the container's PID 1, which this value started.
            unsafe { libc::kill(self.leader, libc::SIGKILL) };
        }
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.nspawn.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        if !matches!(self.nspawn.try_wait(), Ok(Some(_))) {
            let _ = self.nspawn.kill();
            let _ = self.nspawn.wait();
        }
        if let Err(e) = std::fs::remove_dir_all(&self.dir) {
            tracing::warn!(dir = %self.dir.display(), error = %e, "cannot remove the container's scratch dir");
        }
    }
}
