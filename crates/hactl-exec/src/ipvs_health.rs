//! Real-server health checks for `ocf:hactl:ipvs`, run inside the daemon on the node
//! that holds the service: tokio tasks, no process per check (except `misc`, whose
//! point is to run the operator's command).
//!
//! keepalived's semantics: every `check_interval` each real server is checked; a
//! failed attempt is retried `retry` times, `delay_before_retry` apart, each attempt
//! bounded by `connect_timeout`; a server whose attempts all fail is down, one success
//! brings it back. So a dead server is out of rotation within
//! `check_interval + (retry + 1)·connect_timeout + retry·delay_before_retry`.
//! On each transition the service's wanted table is recomputed (the server removed,
//! or kept at weight 0 with `inhibit_on_failure`; the sorry server in while no server
//! with a weight is up) and applied in place.
//!
//! The table is changed by one writer at a time per service: the checker's updates and
//! the agent's own actions (start, monitor repair, stop) take the same lock, held until
//! the blocking netlink work is done, so a stop never races an update that would put
//! the service back.

use hactl_agent_ipvs::{CheckKind, HealthConfig, IpvsConfig, RealServer};
use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, OwnedMutexGuard};
use tokio::task::JoinHandle;

type ServerId = (IpAddr, u16);

/// One service's checker.
struct Checker {
    down: Arc<Mutex<HashSet<ServerId>>>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Checker {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// The checkers and table locks of this executor's ipvs resources.
#[derive(Default)]
pub(crate) struct Registry {
    checkers: Mutex<HashMap<String, Checker>>,
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl Registry {
    /// The lock that orders every change to `rsc`'s kernel table.
    pub(crate) async fn table_lock(&self, rsc: &str) -> OwnedMutexGuard<()> {
        let m = self
            .locks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(rsc.to_string())
            .or_default()
            .clone();
        m.lock_owned().await
    }

    /// The servers `rsc`'s checker currently finds down (none without a checker).
    pub(crate) fn down(&self, rsc: &str) -> HashSet<ServerId> {
        let c = self.checkers.lock().unwrap_or_else(|p| p.into_inner());
        c.get(rsc)
            .map(|c| c.down.lock().unwrap_or_else(|p| p.into_inner()).clone())
            .unwrap_or_default()
    }

    pub(crate) fn is_running(&self, rsc: &str) -> bool {
        self.checkers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains_key(rsc)
    }

    /// Stops `rsc`'s checks (their tasks are aborted; an update in flight still holds
    /// the table lock, which the caller takes next).
    pub(crate) fn stop(&self, rsc: &str) {
        self.checkers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(rsc);
    }

    /// (Re)starts `rsc`'s checks for `cfg`, keeping what is known to be down of the
    /// servers that stay.
    pub(crate) fn start(self: &Arc<Self>, rsc: &str, cfg: IpvsConfig) {
        let kept: HashSet<ServerId> = self
            .down(rsc)
            .into_iter()
            .filter(|id| cfg.real_servers.iter().any(|r| (r.addr, r.port) == *id))
            .collect();
        self.stop(rsc);
        if cfg.health.kind == CheckKind::None || cfg.real_servers.is_empty() {
            return;
        }
        let down = Arc::new(Mutex::new(kept));
        let (tx, rx) = mpsc::unbounded_channel();
        let mut tasks: Vec<JoinHandle<()>> = cfg
            .real_servers
            .iter()
            .map(|rs| {
                let was_down = down
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .contains(&(rs.addr, rs.port));
                tokio::spawn(watch(*rs, cfg.health.clone(), !was_down, tx.clone()))
            })
            .collect();
        tasks.push(tokio::spawn(apply_loop(
            self.clone(),
            rsc.to_string(),
            cfg,
            down.clone(),
            rx,
        )));
        self.checkers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(rsc.to_string(), Checker { down, tasks });
    }
}

/// Checks one real server forever, reporting each change of health.
async fn watch(
    rs: RealServer,
    h: HealthConfig,
    mut up: bool,
    tx: mpsc::UnboundedSender<(RealServer, bool)>,
) {
    loop {
        let ok = check_with_retries(&rs, &h).await;
        if ok != up {
            up = ok;
            if tx.send((rs, ok)).is_err() {
                return;
            }
        }
        tokio::time::sleep(h.interval).await;
    }
}

async fn check_with_retries(rs: &RealServer, h: &HealthConfig) -> bool {
    for attempt in 0..=h.retry {
        if check_once(rs, h).await {
            return true;
        }
        if attempt < h.retry {
            tokio::time::sleep(h.delay_before_retry).await;
        }
    }
    false
}

async fn check_once(rs: &RealServer, h: &HealthConfig) -> bool {
    let target = SocketAddr::new(rs.addr, h.port.unwrap_or(rs.port));
    let attempt = async {
        match &h.kind {
            CheckKind::Tcp => TcpStream::connect(target).await.is_ok(),
            CheckKind::Http { path, status } => http_status(target, path).await == Some(*status),
            CheckKind::Misc { .. } | CheckKind::None => true,
        }
    };
    match &h.kind {
        CheckKind::Misc { command, timeout } => misc(command, target, *timeout).await,
        _ => tokio::time::timeout(h.connect_timeout, attempt)
            .await
            .unwrap_or(false),
    }
}

/// `GET path` over HTTP/1.0; the status code of the answer.
async fn http_status(target: SocketAddr, path: &str) -> Option<u16> {
    let mut s = TcpStream::connect(target).await.ok()?;
    let host = match target.ip() {
        IpAddr::V4(a) => a.to_string(),
        IpAddr::V6(a) => format!("[{a}]"),
    };
    let req = format!("GET {path} HTTP/1.0\r\nHost: {host}\r\nUser-Agent: hactl-check\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.ok()?;
    let mut buf = [0u8; 64];
    let mut n = 0;
    // The status line is all that is needed: "HTTP/1.x NNN".
    while n < 12 {
        let got = s.read(&mut buf[n..]).await.ok()?;
        if got == 0 {
            break;
        }
        n += got;
    }
    let line = std::str::from_utf8(&buf[..n]).ok()?;
    let mut parts = line.split_whitespace();
    parts.next().filter(|v| v.starts_with("HTTP/"))?;
    parts.next()?.parse().ok()
}

/// keepalived's MISC_CHECK: `sh -c command`, healthy on exit 0 within the timeout.
/// One command serves every real server: it finds the one it checks in `RS_ADDR` and
/// `RS_PORT`.
async fn misc(command: &str, target: SocketAddr, timeout: Duration) -> bool {
    // The command's own children go with it at the timeout (its whole process group).
    let spec = hactl_process::Spec::new("/bin/sh", timeout)
        .args(["-c", command])
        .env(hactl_process::Env::Inherit(vec![
            ("RS_ADDR".into(), target.ip().to_string()),
            ("RS_PORT".into(), target.port().to_string()),
        ]))
        .output_cap(0);
    hactl_process::run(&spec)
        .await
        .is_ok_and(|out| out.success())
}

/// Applies each health transition to the kernel's table.
async fn apply_loop(
    reg: Arc<Registry>,
    rsc: String,
    cfg: IpvsConfig,
    down: Arc<Mutex<HashSet<ServerId>>>,
    mut rx: mpsc::UnboundedReceiver<(RealServer, bool)>,
) {
    while let Some((rs, up)) = rx.recv().await {
        let server = hactl_agent_ipvs::SockAddr(rs.addr, rs.port).to_string();
        {
            let mut d = down.lock().unwrap_or_else(|p| p.into_inner());
            if up {
                d.remove(&(rs.addr, rs.port));
            } else {
                d.insert((rs.addr, rs.port));
            }
        }
        if up {
            tracing::info!(resource = %rsc, real_server = %server, "real server passed its health check: back in rotation");
        } else {
            tracing::warn!(resource = %rsc, real_server = %server, "real server failed its health check: out of rotation");
        }
        let now_down = down.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let guard = reg.table_lock(&rsc).await;
        let cfg2 = cfg.clone();
        let job = tokio::task::spawn_blocking(move || {
            let _held = guard; // released when the netlink work is done
            hactl_agent_ipvs::apply(&cfg2, |r| now_down.contains(&(r.addr, r.port)))
        });
        match job.await {
            Ok(Ok(steps)) => {
                for step in steps {
                    tracing::info!(resource = %rsc, change = %step, "ipvs table changed");
                }
            }
            Ok(Err(e)) => {
                tracing::error!(resource = %rsc, error = %e, "applying a health transition failed")
            }
            Err(e) => tracing::error!(resource = %rsc, error = %e, "health update task failed"),
        }
    }
}
