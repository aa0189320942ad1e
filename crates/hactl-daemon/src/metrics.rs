//! The opt-in Prometheus endpoint: `metrics_listen` in cluster.toml's `[settings]`
//! (off unless set; a bare port, or `:PORT`, binds 127.0.0.1). Plain HTTP, `GET
//! /metrics`, served by tiny_http on a thread of its own (a scrape never runs on the
//! daemon's tokio workers, which carry heartbeats); the text format is
//! prometheus-client's.
//!
//! Two sources: a snapshot at scrape time (membership, quorum, DC, Raft indexes,
//! heartbeat ages, resources by state, fail counts, alert deliveries) and counters
//! kept by a task that watches the applied CIB (this node's operations by agent and
//! op with their durations, fencing attempts by result).
//!
//! Tested in cli/tests/cluster_cli.rs (`metrics_endpoint_...`) with the Python
//! client's parser.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Instant;

use hactl_model::Cib;
use prometheus_client::encoding::{text::encode, EncodeLabelSet};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use tracing::{info, warn};

use crate::alerts::{new_fencing, new_ops};
use crate::{Daemon, DaemonError};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OpLabels {
    agent: String,
    op: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OpResult {
    agent: String,
    op: String,
    result: String,
}

/// A node (`node_member`, `dc`, a peer's heartbeat age).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct NodeLabel {
    node: String,
}

/// What a resource is doing (`resources`).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabel {
    state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Labels2 {
    rsc: String,
    node: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LinkLabels {
    node: String,
    link: String,
}

/// Links asked for a round-trip time per peer.
const MAX_LINKS: u8 = 8;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabel {
    result: String,
}

/// Policy engine run times while this node is DC (told by the controller).
#[derive(Clone)]
pub(crate) struct SchedulerTimes(Histogram);

impl Default for SchedulerTimes {
    fn default() -> Self {
        // 0.5 ms … ~16 s (runs past `schedule_deadline`, 20 s, land in +Inf).
        SchedulerTimes(Histogram::new(exponential_buckets(0.0005, 2.0, 16)))
    }
}

impl SchedulerTimes {
    pub(crate) fn observe(&self, took: std::time::Duration) {
        self.0.observe(took.as_secs_f64());
    }
}

fn op_duration() -> Histogram {
    // 1 ms … ~65 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 17))
}

/// Counters kept since the daemon started.
pub(crate) struct Counters {
    ops: Family<OpResult, Counter>,
    op_seconds: Family<OpLabels, Histogram, fn() -> Histogram>,
    fencing: Family<ResultLabel, Counter>,
    transitions: Family<ResultLabel, Counter>,
    transition_seconds: Histogram,
}

impl Counters {
    fn new() -> Counters {
        let c = Counters {
            ops: Family::default(),
            op_seconds: Family::new_with_constructor(op_duration),
            fencing: Family::default(),
            transitions: Family::default(),
            transition_seconds: op_duration(),
        };
        // Every result from the start, at 0: a rate() or an alert rule on a series
        // that appears only with the first fencing would miss that first one.
        for r in FENCING_RESULTS {
            // The guard is dropped at once: creating the series is the point.
            let _ = c.fencing.get_or_create(&result(r));
        }
        c
    }

    /// Counts what `new` adds to `old`: this node's operations, fencing attempts.
    fn observe(&self, old: &Cib, new: &Cib, me: &str) {
        for (rsc, o) in new_ops(old, new, me) {
            let agent = new
                .config
                .find_primitive(rsc)
                .map(|p| p.agent.to_string())
                .or_else(|| {
                    let h = new.status.nodes.get(me)?.resources.get(rsc)?;
                    Some(h.agent.to_string())
                })
                .unwrap_or_default();
            let result = if o.is_failure() { "failed" } else { "ok" };
            self.ops
                .get_or_create(&OpResult {
                    agent: agent.clone(),
                    op: o.operation.clone(),
                    result: result.into(),
                })
                .inc();
            if let Some(ms) = o.exec_time_ms {
                self.op_seconds
                    .get_or_create(&OpLabels {
                        agent,
                        op: o.operation.clone(),
                    })
                    .observe(ms as f64 / 1000.0);
            }
        }
        self.observe_transitions(old, new, me);
        for e in new_fencing(old, new) {
            let r = if e.ok { "ok" } else { "failed" };
            self.fencing.get_or_create(&result(r)).inc();
        }
    }
}

impl Counters {
    /// Counts the transitions this node ran as DC that `new` adds to the history.
    fn observe_transitions(&self, old: &Cib, new: &Cib, me: &str) {
        let seen = old.status.transitions.last().map_or(0, |r| r.id);
        let added = new.status.transitions.iter().filter(|r| r.id > seen);
        for r in added.filter(|r| r.dc == me) {
            let outcome = if r.aborted.is_some() {
                "aborted"
            } else {
                "complete"
            };
            self.transitions.get_or_create(&result(outcome)).inc();
            self.transition_seconds
                .observe(r.duration_ms as f64 / 1000.0);
        }
    }
}

/// Where `metrics_listen` says to listen: `ADDR:PORT`, or a port alone (`9664`,
/// `:9664`) on localhost. `None` when it is not set (off).
pub(crate) fn listen_address(settings: &toml::Table) -> Result<Option<SocketAddr>, DaemonError> {
    let Some(v) = settings.get("metrics_listen") else {
        return Ok(None);
    };
    let bad = || {
        DaemonError::Config(format!(
        "settings.metrics_listen {v} is not an address: \"127.0.0.1:9664\", \"[::1]:9664\" or a port alone"
    ))
    };
    let text = match v {
        toml::Value::String(s) => s.trim().to_string(),
        toml::Value::Integer(i) => i.to_string(),
        _ => return Err(bad()),
    };
    if let Ok(a) = text.parse::<SocketAddr>() {
        return Ok(Some(a));
    }
    let port: u16 = text.trim_start_matches(':').parse().map_err(|_| bad())?;
    Ok(Some(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port)))
}

/// Starts the endpoint when configured: the CIB watcher task and the HTTP thread.
pub(crate) fn start(d: &Arc<Daemon>) -> Result<(), DaemonError> {
    let Some(addr) = listen_address(&d.cluster.settings)? else {
        return Ok(());
    };
    let server = tiny_http::Server::http(addr)
        .map_err(|e| DaemonError::Config(format!("metrics_listen {addr}: {e}")))?;
    info!(addr = %addr, "metrics endpoint listening (GET /metrics)");
    let counters = Arc::new(Counters::new());
    tokio::spawn(watch_cib(
        d.me_name.clone(),
        d.consensus.watch(),
        counters.clone(),
    ));
    let weak = Arc::downgrade(d);
    let spawned = std::thread::Builder::new()
        .name("hactl-metrics".into())
        .spawn(move || serve(server, weak, counters));
    spawned.map_err(|e| DaemonError::Config(format!("metrics thread: {e}")))?;
    Ok(())
}

async fn watch_cib(
    me: String,
    mut status: tokio::sync::watch::Receiver<Arc<hactl_consensus::Status>>,
    counters: Arc<Counters>,
) {
    let mut last = status.borrow_and_update().cib.clone();
    while status.changed().await.is_ok() {
        let cib = status.borrow_and_update().cib.clone();
        counters.observe(&last, &cib, &me);
        last = cib;
    }
}

fn serve(server: tiny_http::Server, d: Weak<Daemon>, counters: Arc<Counters>) {
    for req in server.incoming_requests() {
        let Some(d) = d.upgrade() else { return };
        let path = req.url().split('?').next().unwrap_or("");
        let response = if path == "/metrics" && *req.method() == tiny_http::Method::Get {
            let started = Instant::now();
            let body = render(&d, &counters);
            tracing::debug!(ms = started.elapsed().as_millis() as u64, "metrics scraped");
            let ct = "application/openmetrics-text; version=1.0.0; charset=utf-8";
            let resp = tiny_http::Response::from_string(body);
            match tiny_http::Header::from_bytes("Content-Type", ct) {
                Ok(h) => resp.with_header(h),
                Err(()) => resp,
            }
        } else {
            tiny_http::Response::from_string("GET /metrics\n").with_status_code(404)
        };
        if let Err(e) = req.respond(response) {
            warn!(error = %e, "metrics response not sent");
        }
    }
}

fn gauge(reg: &mut Registry, name: &str, help: &str, v: i64) {
    let g: Gauge = Gauge::default();
    g.set(v);
    reg.register(name, help, g);
}

fn family<L>(reg: &mut Registry, name: &str, help: &str, values: impl IntoIterator<Item = (L, i64)>)
where
    L: EncodeLabelSet + Clone + std::hash::Hash + Eq + std::fmt::Debug + Send + Sync + 'static,
{
    let f: Family<L, Gauge> = Family::default();
    for (l, v) in values {
        f.get_or_create(&l).set(v);
    }
    reg.register(name, help, f);
}

const FENCING_RESULTS: [&str; 2] = ["ok", "failed"];

fn node(n: &str) -> NodeLabel {
    NodeLabel {
        node: n.to_string(),
    }
}

fn result(r: &str) -> ResultLabel {
    ResultLabel {
        result: r.to_string(),
    }
}

/// The text of one scrape.
fn render(d: &Daemon, counters: &Counters) -> String {
    let mut reg = Registry::with_prefix("hactl");
    let st = d.consensus.status();
    let cib = &st.cib;
    membership(&mut reg, d, cib);
    raft(&mut reg, &st);
    resources(&mut reg, cib);
    reg.register(
        "operations",
        "Operations this node ran, by agent, op and result",
        counters.ops.clone(),
    );
    reg.register(
        "operation_duration_seconds",
        "How long this node's operations ran, by agent and op",
        counters.op_seconds.clone(),
    );
    reg.register(
        "fencing_attempts",
        "Fencing attempts recorded while this daemon ran, by result",
        counters.fencing.clone(),
    );
    reg.register(
        "transitions",
        "Transitions this node ran as DC, by result (complete, aborted)",
        counters.transitions.clone(),
    );
    reg.register(
        "transition_duration_seconds",
        "How long the transitions this node ran as DC took, start to last result",
        counters.transition_seconds.clone(),
    );
    reg.register(
        "scheduler_duration_seconds",
        "How long each policy engine run took while this node was DC",
        d.scheduler_seconds.0.clone(),
    );
    let a = &d.alerts.counters;
    let deliveries: Family<ResultLabel, Counter> = Family::default();
    for (n, c) in [
        ("delivered", &a.delivered),
        ("failed", &a.failed),
        ("timed_out", &a.timed_out),
    ] {
        deliveries
            .get_or_create(&result(n))
            .inc_by(c.load(Ordering::Relaxed));
    }
    reg.register(
        "alert_deliveries",
        "Alert agent runs on this node, by result",
        deliveries,
    );
    let dropped: Counter = Counter::default();
    dropped.inc_by(a.dropped.load(Ordering::Relaxed));
    reg.register(
        "alert_events_dropped",
        "Alert events dropped, oldest first, from the queue of an agent too slow to keep up",
        dropped,
    );
    let mut out = String::new();
    if let Err(e) = encode(&mut out, &reg) {
        warn!(error = %e, "metrics not encoded");
    }
    out
}

fn membership(reg: &mut Registry, d: &Daemon, cib: &Cib) {
    let members = cib
        .status
        .nodes
        .iter()
        .map(|(n, s)| (node(n), i64::from(s.member == Some(true))));
    family(
        reg,
        "node_member",
        "1 when the node is in the membership",
        members,
    );
    gauge(
        reg,
        "quorum",
        "1 when this node's partition has quorum",
        i64::from(d.quorum.borrow().have),
    );
    let dc = cib.status.dc.clone().unwrap_or_default();
    family(
        reg,
        "dc",
        "1 for the node that is DC (Raft leader)",
        std::iter::once((node(&dc), 1)).filter(|_| !dc.is_empty()),
    );
    gauge(
        reg,
        "is_dc",
        "1 when this node is the DC",
        i64::from(dc == d.me_name),
    );
    let now = Instant::now();
    let ages: Vec<(NodeLabel, i64)> = d
        .cluster
        .nodes
        .iter()
        .filter(|n| n.id != d.me)
        .filter_map(|n| {
            Some((
                node(n.name.as_str()),
                d.silent_for(n.id, now)?.as_millis() as i64,
            ))
        })
        .collect();
    family(
        reg,
        "peer_heartbeat_age_milliseconds",
        "Time since the last heartbeat from each peer",
        ages,
    );
    let rtt: Family<LinkLabels, Gauge<f64, AtomicU64>> = Family::default();
    for n in d.cluster.nodes.iter().filter(|n| n.id != d.me) {
        // A peer has a few links at most (their addresses); one connection each.
        for k in 0..MAX_LINKS {
            if let Some(t) = d.transport.link_rtt(&n.name, k) {
                let l = LinkLabels {
                    node: n.name.to_string(),
                    link: k.to_string(),
                };
                rtt.get_or_create(&l).set(t.as_secs_f64());
            }
        }
    }
    reg.register(
        "peer_rtt_seconds",
        "Round-trip time to each peer per link, QUIC's estimate on the connection heartbeats use",
        rtt,
    );
}

fn raft(reg: &mut Registry, st: &hactl_consensus::Status) {
    let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    gauge(reg, "raft_term", "Raft term", n(st.term));
    gauge(
        reg,
        "raft_commit_index",
        "Raft commit index",
        n(st.commit_index),
    );
    gauge(
        reg,
        "raft_applied_index",
        "Raft index applied to the CIB",
        n(st.applied_index),
    );
    gauge(
        reg,
        "raft_apply_lag_entries",
        "Committed entries not applied yet",
        n(st.commit_index.saturating_sub(st.applied_index)),
    );
    gauge(
        reg,
        "raft_last_index",
        "Last Raft log index",
        n(st.last_index),
    );
}

/// Resources by state as the CIB shows them: started (the newest result on some
/// node is a successful start or monitor), failed (not started, with a failure
/// recorded), else stopped.
fn resources(reg: &mut Registry, cib: &Cib) {
    let (mut started, mut failed, mut stopped) = (0, 0, 0);
    let mut fails = Vec::new();
    for p in cib.config.resources.iter().flat_map(|r| r.primitives()) {
        let hist = cib
            .status
            .nodes
            .values()
            .filter_map(|s| s.resources.get(&p.id));
        let running = hist.clone().any(|h| {
            h.ops.iter().max_by_key(|o| o.call_id).is_some_and(|o| {
                !o.is_failure() && o.rc == 0 && (o.operation == "start" || o.operation == "monitor")
            })
        });
        let failure = hist.clone().any(|h| !h.last_failures.is_empty());
        match (running, failure) {
            (true, _) => started += 1,
            (false, true) => failed += 1,
            (false, false) => stopped += 1,
        }
    }
    for (node, s) in &cib.status.nodes {
        for f in &s.failcounts {
            let v = f.count.to_string().parse::<i64>().unwrap_or(1_000_000);
            fails.push((
                Labels2 {
                    rsc: f.rsc.clone(),
                    node: node.clone(),
                },
                v,
            ));
        }
    }
    let states = [
        ("started", started),
        ("failed", failed),
        ("stopped", stopped),
    ];
    family(
        reg,
        "resources",
        "Configured primitives by state",
        states.map(|(n, v)| (StateLabel { state: n.into() }, v)),
    );
    family(
        reg,
        "fail_count",
        "Fail counts per resource and node (INFINITY: 1000000)",
        fails,
    );
}
