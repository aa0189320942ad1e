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

use crate::ipvs_state::{self, Health, StatusMap};
use hactl_agent_ipvs::{CheckKind, HealthConfig, IpvsConfig, RealServer};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch, Notify, OwnedMutexGuard};
use tokio::task::JoinHandle;

pub(crate) type ServerId = (IpAddr, u16);

/// One service's checker and state reporter.
struct Checker {
    health: Arc<Mutex<Health>>,
    /// False once the service is stopped: its reporter publishes nothing more.
    alive: Arc<AtomicBool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Checker {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// The checkers, table locks and published state of this executor's ipvs resources.
pub(crate) struct Registry {
    checkers: Mutex<HashMap<String, Checker>>,
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Each running service's state, for `hactl status` ([`crate::ipvs_state`]).
    pub(crate) status: watch::Sender<StatusMap>,
}

impl Default for Registry {
    fn default() -> Self {
        Registry {
            checkers: Mutex::default(),
            locks: Mutex::default(),
            status: watch::channel(StatusMap::new()).0,
        }
    }
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
    pub(crate) fn down(&self, rsc: &str) -> std::collections::HashSet<ServerId> {
        self.health(rsc).down
    }

    fn health(&self, rsc: &str) -> Health {
        let c = self.checkers.lock().unwrap_or_else(|p| p.into_inner());
        c.get(rsc)
            .map(|c| c.health.lock().unwrap_or_else(|p| p.into_inner()).clone())
            .unwrap_or_default()
    }

    pub(crate) fn is_running(&self, rsc: &str) -> bool {
        self.checkers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains_key(rsc)
    }

    /// Stops `rsc`'s checks and withdraws its published state (their tasks are
    /// aborted; an update in flight still holds the table lock, which the caller
    /// takes next).
    pub(crate) fn stop(&self, rsc: &str) {
        let gone = self
            .checkers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(rsc);
        if let Some(c) = gone {
            // Under the channel's lock, so a reporter mid-publication cannot put the
            // state back after this.
            self.status.send_if_modified(|m| {
                c.alive.store(false, Ordering::SeqCst);
                m.remove(rsc).is_some()
            });
        }
    }

    /// Publishes `rsc`'s state unless the service was stopped meanwhile.
    pub(crate) fn publish(
        &self,
        rsc: &str,
        alive: &AtomicBool,
        st: hactl_model::ipvs_status::IpvsServiceState,
    ) {
        self.status.send_if_modified(|m| {
            if !alive.load(Ordering::SeqCst) {
                return false;
            }
            m.insert(rsc.to_string(), st);
            true
        });
    }

    /// (Re)starts `rsc`'s checks and state reporter for `cfg`, keeping what is known
    /// of the health of the servers that stay.
    pub(crate) fn start(self: &Arc<Self>, rsc: &str, cfg: IpvsConfig) {
        let kept = self.health(rsc).keep_only(&cfg, ipvs_state::unix_now());
        self.stop(rsc);
        let health = Arc::new(Mutex::new(kept));
        let alive = Arc::new(AtomicBool::new(true));
        let kick = Arc::new(Notify::new());
        let mut tasks = vec![tokio::spawn(ipvs_state::report_loop(
            self.clone(),
            rsc.to_string(),
            cfg.clone(),
            health.clone(),
            alive.clone(),
            kick.clone(),
        ))];
        if cfg.health.kind != CheckKind::None {
            let (tx, rx) = mpsc::unbounded_channel();
            for rs in &cfg.real_servers {
                let was_down = health
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .down
                    .contains(&(rs.addr, rs.port));
                tasks.push(tokio::spawn(watch(
                    *rs,
                    cfg.health.clone(),
                    !was_down,
                    tx.clone(),
                )));
            }
            tasks.push(tokio::spawn(apply_loop(
                self.clone(),
                rsc.to_string(),
                cfg,
                health.clone(),
                kick,
                rx,
            )));
        }
        self.checkers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(
                rsc.to_string(),
                Checker {
                    health,
                    alive,
                    tasks,
                },
            );
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
    match &h.kind {
        CheckKind::Tcp => tokio::time::timeout(h.connect_timeout, TcpStream::connect(target))
            .await
            .is_ok_and(|c| c.is_ok()),
        CheckKind::Http {
            path,
            status,
            digest,
            tls,
        } => {
            let (path, tls, timeout) = (path.clone(), *tls, h.connect_timeout);
            // Blocking I/O bounded by the timeout (crate::ipvs_http).
            let answer = tokio::task::spawn_blocking(move || {
                crate::ipvs_http::get(target, &path, tls, timeout)
            })
            .await
            .ok()
            .flatten();
            answer.is_some_and(|a| {
                a.status == *status && digest.as_ref().is_none_or(|d| *d == a.digest)
            })
        }
        CheckKind::Misc { command, timeout } => misc(command, target, *timeout).await,
        CheckKind::None => true,
    }
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

/// Applies each health transition to the kernel's table, then has the service's
/// state published.
async fn apply_loop(
    reg: Arc<Registry>,
    rsc: String,
    cfg: IpvsConfig,
    health: Arc<Mutex<Health>>,
    kick: Arc<Notify>,
    mut rx: mpsc::UnboundedReceiver<(RealServer, bool)>,
) {
    while let Some((rs, up)) = rx.recv().await {
        let server = hactl_agent_ipvs::SockAddr(rs.addr, rs.port).to_string();
        let now_down = {
            let mut h = health.lock().unwrap_or_else(|p| p.into_inner());
            h.set((rs.addr, rs.port), up, ipvs_state::unix_now());
            h.down.clone()
        };
        if up {
            tracing::info!(resource = %rsc, real_server = %server, "real server passed its health check: back in rotation");
        } else {
            tracing::warn!(resource = %rsc, real_server = %server, "real server failed its health check: out of rotation");
        }
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
        kick.notify_one();
    }
}
