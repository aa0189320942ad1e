//! The systemd class against a real systemd: the host OS booted as a container with
//! systemd-nspawn (copy-on-write overlay of `/` on a tmpfs, in a private mount
//! namespace, private network), real haproxy inside it, driven over the container's
//! D-Bus socket `/proc/LEADER/root/run/dbus/system_bus_socket`.

mod common;

use common::require_root;
use hactl_exec::{params, AgentSpec, ExecConfig, ExecStatus, Executor, SystemdClient};
use std::io::Read;
use std::os::fd::AsRawFd;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(30);

/// The container; powered off (its PID 1 killed, which ends every process in its PID
/// namespace) and nspawn reaped on drop.
struct Container {
    nspawn: Child,
    leader: i32,
    _dir: tempfile::TempDir,
}

const HAPROXY_CFG: &str = "global\n  daemon\ndefaults\n  mode http\n  timeout connect 5s\n  timeout client 5s\n  timeout server 5s\nfrontend web\n  bind 127.0.0.1:8099\n  http-request return status 200 content-type text/plain string \"hello from haproxy\"\n";

/// Boots the host root as a container; the script runs in its own mount namespace so
/// the overlay, the tmpfs on /run/systemd and everything nspawn mounts vanish with it.
const BOOT: &str = r#"
set -e
d=$0; name=$1; cfg=$2
mount -t tmpfs hx-e-nspawn /run/systemd
mount -t tmpfs hx-e-ovl "$d"
mkdir -p "$d/upper" "$d/work" "$d/root"
mount -t overlay hx-e-root -o "lowerdir=/,upperdir=$d/upper,workdir=$d/work" "$d/root"
R=$d/root
echo "$name" > "$R/etc/hostname"
printf '%s' "$cfg" > "$R/etc/haproxy/haproxy.cfg"
for u in corosync pacemaker keepalived fence_virtd libvirtd virtlogd virtlockd postgresql logd \
         e2scrub_reap getty@tty1 systemd-timesyncd systemd-pstore haproxy apt-daily.timer \
         apt-daily-upgrade.timer dpkg-db-backup.timer e2scrub_all.timer fstrim.timer man-db.timer; do
  case $u in *.*) ;; *) u=$u.service;; esac
  # Disabled on boot only: the test starts haproxy itself.
  [ "$u" = haproxy.service ] && { rm -f "$R/etc/systemd/system/multi-user.target.wants/haproxy.service"; continue; }
  ln -sf /dev/null "$R/etc/systemd/system/$u"
done
exec systemd-nspawn -D "$R" --keep-unit --register=no --private-network -M "$name" \
  --console=read-only -b systemd.unit=multi-user.target
"#;

impl Container {
    fn boot(name: &str) -> Container {
        let dir = tempfile::tempdir().unwrap();
        let log = std::fs::File::create(dir.path().join("..").join(format!("{name}.log")))
            .or_else(|_| std::fs::File::create("/dev/null"))
            .unwrap();
        let ovl = dir.path().join("ovl");
        std::fs::create_dir_all(&ovl).unwrap();
        let mut cmd = Command::new("unshare");
        cmd.args(["-m", "--propagation", "private", "bash", "-c", BOOT])
            .arg(&ovl)
            .arg(name)
            .arg(HAPROXY_CFG)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
        let nspawn = cmd.spawn().expect("spawn systemd-nspawn");
        let pid = nspawn.id();
        let mut c = Container {
            nspawn,
            leader: 0,
            _dir: dir,
        };
        // The leader is nspawn's child once the container's PID 1 exists.
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let kids = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
                .unwrap_or_default();
            if let Some(l) = kids.split_whitespace().next().and_then(|s| s.parse().ok()) {
                let exe = std::fs::read_link(format!("/proc/{l}/exe")).unwrap_or_default();
                // nspawn's short-lived outer child is systemd-nspawn itself.
                if exe.file_name().is_some_and(|n| n == "systemd") {
                    c.leader = l;
                    break;
                }
            }
            if let Ok(Some(st)) = c.nspawn.try_wait() {
                panic!("systemd-nspawn exited early: {st}");
            }
            assert!(Instant::now() < deadline, "container PID 1 did not appear");
            std::thread::sleep(Duration::from_millis(20));
        }
        c
    }

    fn bus(&self) -> String {
        format!(
            "unix:path=/proc/{}/root/run/dbus/system_bus_socket",
            self.leader
        )
    }

    /// Waits (bounded) until the bus answers and systemd reports the system running.
    async fn wait_running(&self) -> SystemdClient {
        let deadline = Instant::now() + Duration::from_secs(60);
        let sock = format!("/proc/{}/root/run/dbus/system_bus_socket", self.leader);
        let mut last = String::new();
        loop {
            if std::path::Path::new(&sock).exists() {
                match SystemdClient::connect(&self.bus()).await {
                    Ok(c) => loop {
                        match c.system_state().await {
                            Ok(s) if s == "running" || s == "degraded" => return c,
                            Ok(s) => last = s,
                            Err(e) => {
                                last = e.to_string();
                                break;
                            }
                        }
                        assert!(Instant::now() < deadline, "systemd not running: {last}");
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    },
                    Err(e) => last = e.to_string(),
                }
            }
            assert!(
                Instant::now() < deadline,
                "container bus never answered: {last}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        if self.leader > 0 {
            // SAFETY: the container's PID 1, which we started.
            unsafe { libc::kill(self.leader, libc::SIGKILL) };
        }
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.nspawn.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.nspawn.kill();
        let _ = self.nspawn.wait();
    }
}

/// Connects to 127.0.0.1:port inside the container's network namespace.
fn fetch_in(leader: i32, port: u16) -> std::io::Result<String> {
    std::thread::spawn(move || {
        let ns = std::fs::File::open(format!("/proc/{leader}/ns/net"))?;
        // SAFETY: joins the container's network namespace on this thread only.
        if unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port))?;
        s.set_read_timeout(Some(Duration::from_secs(5)))?;
        use std::io::Write;
        s.write_all(b"GET / HTTP/1.0\r\n\r\n")?;
        let mut out = String::new();
        s.read_to_string(&mut out)?;
        Ok(out)
    })
    .join()
    .expect("fetch thread")
}

#[test]
fn netns_systemd_haproxy_and_failing_unit() {
    if !require_root() {
        return;
    }
    let c = Container::boot("hx-esd");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let client = c.wait_running().await;
        let cfg = ExecConfig {
            systemd_bus: c.bus(),
            ..ExecConfig::default()
        };
        let (exec, _ev) = Executor::new(cfg);
        let none = params::<_, String, String>([]);
        let haproxy = AgentSpec::parse("systemd:haproxy").unwrap();

        let probe = exec.probe("lb", &haproxy, &none, T).await;
        assert_eq!(probe.rc, 7, "haproxy should be stopped at boot: {probe}");
        let start = exec.execute("lb", &haproxy, &none, "start", T).await;
        assert!(start.is_success(), "start: {start}");
        let m = exec.execute("lb", &haproxy, &none, "monitor", T).await;
        assert_eq!(m.rc, 0, "monitor while running: {m}");
        let page = fetch_in(c.leader, 8099).expect("haproxy in the container answers");
        assert!(page.contains("hello from haproxy"), "{page}");
        let restart = exec.execute("lb", &haproxy, &none, "restart", T).await;
        assert!(restart.is_success(), "restart: {restart}");
        let page = fetch_in(c.leader, 8099).expect("haproxy answers after restart");
        assert!(page.contains("hello from haproxy"), "{page}");
        let stop = exec.execute("lb", &haproxy, &none, "stop", T).await;
        assert!(stop.is_success(), "stop: {stop}");
        let m = exec.execute("lb", &haproxy, &none, "monitor", T).await;
        assert_eq!(m.rc, 7, "monitor after stop: {m}");
        assert!(
            fetch_in(c.leader, 8099).is_err(),
            "haproxy still answers after stop"
        );

        // A unit whose ExecStart fails: its start job still ends "done"; the
        // executor must look at the unit and report the failure.
        let unit = format!(
            "/proc/{}/root/etc/systemd/system/hx-efail.service",
            c.leader
        );
        std::fs::write(
            &unit,
            "[Unit]\nDescription=fails at once\n[Service]\nType=simple\nExecStart=/bin/false\n",
        )
        .unwrap();
        client.reload().await.unwrap();
        let failing = AgentSpec::parse("systemd:hx-efail").unwrap();
        let r = exec.execute("bad", &failing, &none, "start", T).await;
        assert_eq!(r.status, ExecStatus::Done);
        assert_eq!(r.rc, 1, "a failed ExecStart must not be success: {r}");
        assert!(
            r.exit_reason.as_deref().unwrap_or("").contains("failed"),
            "{r}"
        );
        let m = exec.execute("bad", &failing, &none, "monitor", T).await;
        assert_eq!(m.rc, 7, "{m}");
        assert_eq!(exec.fail_count("bad", "start", Duration::ZERO), 1);

        let missing = AgentSpec::parse("systemd:hx-enothere").unwrap();
        let r = exec.execute("x", &missing, &none, "start", T).await;
        assert_eq!((r.rc, r.status), (5, ExecStatus::NotInstalled), "{r}");
        assert!(r.exit_reason.unwrap().contains("hx-enothere"));

        // service: picks systemd when its bus answers.
        let svc = AgentSpec::parse("service:haproxy").unwrap();
        let m = exec.execute("lb2", &svc, &none, "monitor", T).await;
        assert_eq!(m.rc, 7, "{m}");
        let names = exec
            .agents(Some(hactl_exec::Class::Systemd), None)
            .await
            .unwrap();
        assert!(names.contains(&"systemd:haproxy".to_string()), "{names:?}");
    });
    drop(c);
}
