//! The systemd class against a real systemd: the host OS booted as a container with
//! systemd-nspawn (copy-on-write overlay of `/` on a tmpfs, in a private mount
//! namespace, private network), real haproxy inside it, driven over the container's
//! D-Bus socket `/proc/LEADER/root/run/dbus/system_bus_socket`.

mod common;

use common::require_root;
use hactl_exec::{params, AgentSpec, ExecConfig, ExecStatus, Executor, SystemdClient};
use std::io::Read;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(30);

const HAPROXY_CFG: &str = "global\n  daemon\ndefaults\n  mode http\n  timeout connect 5s\n  timeout client 5s\n  timeout server 5s\nfrontend web\n  bind 127.0.0.1:8099\n  http-request return status 200 content-type text/plain string \"hello from haproxy\"\n";

/// haproxy's config, and haproxy not started at boot: the test starts it.
const PREPARE: &str = r#"
printf '%s' "$HAPROXY_CFG" > "$R/etc/haproxy/haproxy.cfg"
rm -f "$R/etc/systemd/system/multi-user.target.wants/haproxy.service"
"#;

/// The host OS booted as a systemd container (`hactl_lab::container`).
struct Container(hactl_lab::container::Container);

impl Container {
    fn boot(name: &str) -> Container {
        let c = hactl_lab::container::Container::boot(
            name,
            PREPARE,
            &[("HAPROXY_CFG", HAPROXY_CFG)],
            &[],
        )
        .expect("boot the container");
        Container(c)
    }

    fn leader(&self) -> i32 {
        self.0.leader()
    }

    fn bus(&self) -> String {
        self.0.bus()
    }

    async fn wait_running(&self) -> SystemdClient {
        let deadline = Instant::now() + Duration::from_secs(60);
        let sock = format!("/proc/{}/root/run/dbus/system_bus_socket", self.leader());
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
        let page = fetch_in(c.leader(), 8099).expect("haproxy in the container answers");
        assert!(page.contains("hello from haproxy"), "{page}");
        let restart = exec.execute("lb", &haproxy, &none, "restart", T).await;
        assert!(restart.is_success(), "restart: {restart}");
        let page = fetch_in(c.leader(), 8099).expect("haproxy answers after restart");
        assert!(page.contains("hello from haproxy"), "{page}");
        let stop = exec.execute("lb", &haproxy, &none, "stop", T).await;
        assert!(stop.is_success(), "stop: {stop}");
        let m = exec.execute("lb", &haproxy, &none, "monitor", T).await;
        assert_eq!(m.rc, 7, "monitor after stop: {m}");
        assert!(
            fetch_in(c.leader(), 8099).is_err(),
            "haproxy still answers after stop"
        );

        // A unit whose ExecStart fails: its start job still ends "done"; the
        // executor must look at the unit and report the failure.
        let unit = format!(
            "/proc/{}/root/etc/systemd/system/hx-efail.service",
            c.leader()
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
