//! The watcher task and one worker task per alert; see the module documentation.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hactl_consensus::Status;
use hactl_model::alerts::{Alert, AlertKind, AlertRecipient};
use hactl_model::Cib;
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;
use tracing::{debug, warn};

use super::events::{events, AlertEvent};
use super::timestamp;

/// The `CRM_alert_version` agents see: the Pacemaker release whose alert
/// interface this follows (agents check that it is set, some compare it).
const PACEMAKER_VERSION: &str = "2.1.5";

/// Events one alert's worker holds while its agent runs. An agent that hangs (up
/// to its timeout, every time) in an event storm would otherwise queue without
/// limit. Past this the oldest waiting event is dropped, counted and logged: the
/// newest events say what the cluster is now, which is what a recipient acts on,
/// and the jump in `CRM_alert_node_sequence` shows the agent that some are missing.
const QUEUE_CAPACITY: usize = 1024;

/// Agent runs, by outcome, on this node, and events dropped from a full queue
/// (read by the metrics endpoint).
#[derive(Debug, Default)]
pub struct AlertCounters {
    pub delivered: AtomicU64,
    pub failed: AtomicU64,
    pub timed_out: AtomicU64,
    pub dropped: AtomicU64,
}

/// One event for one alert, with its place in this node's sequence.
#[derive(Clone)]
struct Job {
    alert: Alert,
    event: AlertEvent,
    seq: u64,
    at: SystemTime,
}

/// This node's alert service.
pub struct Alerts {
    pub counters: Arc<AlertCounters>,
}

impl Alerts {
    /// Starts the watcher on `status` (the applied CIB) for node `me`.
    pub fn spawn(me: String, status: watch::Receiver<Arc<Status>>) -> Alerts {
        let counters = Arc::new(AlertCounters::default());
        tokio::spawn(watch_cib(me, status, counters.clone()));
        Alerts { counters }
    }
}

async fn watch_cib(me: String, mut status: watch::Receiver<Arc<Status>>, c: Arc<AlertCounters>) {
    let mut last: Arc<Cib> = status.borrow_and_update().cib.clone();
    let mut router = Router::new(me, c, QUEUE_CAPACITY);
    while status.changed().await.is_ok() {
        let cib = status.borrow_and_update().cib.clone();
        if Arc::ptr_eq(&cib, &last) {
            continue;
        }
        router.route(&last, &cib);
        last = cib;
    }
}

/// A worker: its queue's sending side and its task.
struct Worker {
    tx: broadcast::Sender<Job>,
    // Awaited by the tests only (`Router::finish`); a worker ends by itself once
    // its sender is dropped.
    #[cfg_attr(not(test), allow(dead_code))]
    task: JoinHandle<()>,
}

/// Hands each event of a CIB change to the workers of the alerts that select it.
struct Router {
    me: String,
    counters: Arc<AlertCounters>,
    capacity: usize,
    workers: HashMap<String, Worker>,
    seq: u64,
}

impl Router {
    fn new(me: String, counters: Arc<AlertCounters>, capacity: usize) -> Router {
        Router {
            me,
            counters,
            capacity,
            workers: HashMap::new(),
            seq: 0,
        }
    }

    /// Queues the events between `last` and `cib` (never waits on a worker).
    fn route(&mut self, last: &Cib, cib: &Cib) {
        // A deleted alert's worker finishes what it has queued, then ends.
        self.workers
            .retain(|id, _| cib.config.alerts.iter().any(|a| &a.id == id));
        for event in events(last, cib, &self.me) {
            self.seq += 1;
            let at = SystemTime::now();
            let attr = Some(event.attribute_name.as_str());
            let chosen = cib.config.alerts.iter();
            for alert in chosen.filter(|a| a.selects(event.kind(), attr)) {
                let (me, c, cap) = (&self.me, &self.counters, self.capacity);
                let w = self
                    .workers
                    .entry(alert.id.clone())
                    .or_insert_with(|| spawn_worker(&alert.id, me.clone(), c.clone(), cap));
                let job = Job {
                    alert: alert.clone(),
                    event: event.clone(),
                    seq: self.seq,
                    at,
                };
                // Fails only when the worker is gone (it ends when its sender is
                // dropped, so only by a panic).
                if w.tx.send(job).is_err() {
                    warn!(alert = %alert.id, seq = self.seq, "alert worker gone: event not delivered");
                }
            }
        }
    }

    /// Closes every queue and waits until the workers have delivered what they hold.
    #[cfg(test)]
    async fn finish(self) {
        for (_, w) in self.workers {
            drop(w.tx);
            let _ = w.task.await;
        }
    }
}

/// A worker task: delivers its alert's events in order, one at a time. Its queue
/// holds `capacity` events (a power of two); when the agent falls further behind
/// the oldest are dropped (see [`QUEUE_CAPACITY`]).
fn spawn_worker(alert: &str, me: String, c: Arc<AlertCounters>, capacity: usize) -> Worker {
    let (tx, mut rx) = broadcast::channel::<Job>(capacity);
    let alert = alert.to_string();
    let task = tokio::spawn(async move {
        loop {
            match rx.recv().await {
                Ok(job) => deliver(&me, &job, &c).await,
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    c.dropped.fetch_add(n, Ordering::Relaxed);
                    warn!(alert = %alert, dropped = n, capacity,
                        "alert agent too slow: its oldest queued events dropped");
                }
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    });
    Worker { tx, task }
}

/// Runs the agent once per recipient (once with no recipient when it has none),
/// in parallel, and waits for all.
async fn deliver(me: &str, job: &Job, c: &AlertCounters) {
    let nobody = [AlertRecipient::default()];
    let recipients = if job.alert.recipients.is_empty() {
        &nobody[..]
    } else {
        &job.alert.recipients[..]
    };
    let mut runs = tokio::task::JoinSet::new();
    for r in recipients {
        let env = environment(me, job, r);
        let timeout = Duration::from_millis(job.alert.timeout_ms(r));
        let (path, alert, recipient) = (job.alert.path.clone(), job.alert.id.clone(), r.id.clone());
        debug!(alert = %alert, recipient = %recipient, value = %r.value, "alert recipient");
        runs.spawn(async move { (alert, recipient, run_agent(&path, env, timeout).await) });
    }
    while let Some(done) = runs.join_next().await {
        let Ok((alert, recipient, outcome)) = done else {
            continue;
        };
        let ev = &job.event;
        let kind = ev.kind().as_str();
        match outcome {
            Outcome::Ok => {
                c.delivered.fetch_add(1, Ordering::Relaxed);
                debug!(alert = %alert, recipient = %recipient, kind, node = %ev.node, rsc = %ev.rsc, "alert delivered");
            }
            Outcome::TimedOut(t) => {
                c.timed_out.fetch_add(1, Ordering::Relaxed);
                warn!(alert = %alert, recipient = %recipient, kind, node = %ev.node, rsc = %ev.rsc,
                    timeout_ms = t.as_millis() as u64, "alert agent timed out: killed");
            }
            Outcome::Failed(why) => {
                c.failed.fetch_add(1, Ordering::Relaxed);
                warn!(alert = %alert, recipient = %recipient, kind, node = %ev.node, rsc = %ev.rsc,
                    error = %why, "alert agent failed");
            }
        }
    }
}

/// The `CRM_alert_*` environment of one run, plus the alert's instance attributes
/// (the recipient's override them), as Pacemaker passes them.
fn environment(me: &str, job: &Job, r: &AlertRecipient) -> Vec<(String, String)> {
    let e = &job.event;
    let d = job.at.duration_since(UNIX_EPOCH).unwrap_or_default();
    let mut env: Vec<(String, String)> = job
        .alert
        .params
        .iter()
        .chain(r.params.iter())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let mut set = |k: &str, v: String| env.push((format!("CRM_alert_{k}"), v));
    set("version", PACEMAKER_VERSION.into());
    set("kind", e.kind().as_str().into());
    set("recipient", r.value.clone());
    set("node_sequence", job.seq.to_string());
    set(
        "timestamp",
        timestamp::format(job.alert.timestamp_format(r), job.at),
    );
    set("timestamp_epoch", d.as_secs().to_string());
    set("timestamp_usec", d.subsec_micros().to_string());
    set("local_node", me.into());
    set("select_kind", e.kind().as_str().into());
    event_fields(e, &mut env);
    env
}

/// The event's own variables. As Pacemaker, only those the event has: an agent
/// tells "not given" by the variable being unset (Pacemaker's SNMP sample sends its
/// "n/a" placeholder then, while an empty string makes snmptrap reject the trap).
fn event_fields(e: &AlertEvent, env: &mut Vec<(String, String)>) {
    let mut set = |k: &str, v: &str| {
        if !v.is_empty() {
            env.push((format!("CRM_alert_{k}"), v.to_string()));
        }
    };
    set("node", &e.node);
    set("nodeid", &e.node);
    set("desc", &e.desc);
    set("task", &e.task);
    set("rsc", &e.rsc);
    if e.kind() == AlertKind::Resource {
        set("interval", &e.interval_ms.to_string());
    }
    set("attribute_name", &e.attribute_name);
    set("attribute_value", &e.attribute_value);
    let num = |v: Option<i32>| v.map(|v| v.to_string()).unwrap_or_default();
    set("rc", &num(e.rc));
    set("target_rc", &num(e.target_rc));
    set("status", &num(e.status));
}

enum Outcome {
    Ok,
    TimedOut(Duration),
    Failed(String),
}

/// Output of an alert agent kept for the log (its stderr says why it failed).
const ALERT_OUTPUT_CAP: usize = 4096;

/// Runs one agent in its own process group, killed whole at `timeout`.
async fn run_agent(path: &str, mut env: Vec<(String, String)>, timeout: Duration) -> Outcome {
    // First: the variables of the event come later and win.
    env.insert(0, ("PATH".into(), "/usr/sbin:/usr/bin:/sbin:/bin".into()));
    let spec = hactl_process::Spec::new(path, timeout)
        .env(hactl_process::Env::Clean(env))
        .output_cap(ALERT_OUTPUT_CAP);
    match hactl_process::run(&spec).await {
        Ok(out) if out.timed_out => Outcome::TimedOut(timeout),
        Ok(out) if out.success() => Outcome::Ok,
        Ok(out) => Outcome::Failed(match (out.code, out.signal) {
            (Some(code), _) => format!("exit status {code}: {}", out.stderr.trim()),
            (None, sig) => format!(
                "killed by signal {}: {}",
                sig.unwrap_or(0),
                out.stderr.trim()
            ),
        }),
        Err(e) => Outcome::Failed(format!("cannot run {path}: {e}")),
    }
}

#[cfg(test)]
#[path = "run_tests.rs"]
mod tests;
