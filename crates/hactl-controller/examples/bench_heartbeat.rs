//! Heartbeat jitter while the DC schedules a large CIB (docs/benchmarks.md,
//! "Heartbeat jitter under scheduling"); run through `scripts/bench-heartbeat`.
//!
//! A tokio runtime with two workers, as the daemon has, runs a heartbeat task like
//! the daemon's (`interval` of the default profile's 50 ms, missed ticks delayed)
//! and records the time between beats while a DC plans the generated 3 × 10,000
//! CIB over and over (each round a new DC: the policy engine run, then the start of
//! its transition of about 10,000 actions, dispatched to nodes that never answer).
//!
//! - `inline`: how the DC planned before — `hactl_policy::schedule` and the
//!   transition's start called on a runtime worker.
//! - `dc`: the DC runtime as it is (`hactl_controller::dc::run`, the policy engine
//!   on its own thread).
//!
//! Usage: bench_heartbeat [inline|dc] [seconds]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hactl_controller::dc::{self, ClusterIo, DcConfig, RunOutcome, ScheduleRun, PROBED_ATTR};
use hactl_controller::messages::ControllerMsg;
use hactl_controller::{Engine, EngineConfig};
use hactl_model::change::Change;
use hactl_model::Cib;
use tokio::sync::{mpsc, watch};

const BEAT: Duration = Duration::from_millis(50);

struct Io {
    cib: Mutex<Arc<Cib>>,
    runs: mpsc::UnboundedSender<ScheduleRun>,
}

impl ClusterIo for Io {
    /// Nodes that never answer: the transition stays in flight.
    fn send(&self, _node: &str, _msg: ControllerMsg) {}

    fn propose(&self, change: Change) -> hactl_controller::Proposal<'_> {
        let r = {
            let mut g = self.cib.lock().expect("not poisoned");
            let mut c = (**g).clone();
            change
                .apply(&mut c)
                .map_err(hactl_controller::ProposeError::from)
                .map(|()| *g = Arc::new(c))
        };
        Box::pin(async move { r })
    }

    fn cib(&self) -> Arc<Cib> {
        self.cib.lock().expect("not poisoned").clone()
    }

    fn scheduled(&self, run: &ScheduleRun) {
        self.runs.send(run.clone()).ok();
    }
}

fn now_s() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The daemon's heartbeat loop, timing itself until `stop`.
async fn heartbeats(stop: Instant) -> Vec<f64> {
    let mut tick = tokio::time::interval(BEAT);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last: Option<Instant> = None;
    let mut gaps = Vec::new();
    while Instant::now() < stop {
        tick.tick().await;
        let now = Instant::now();
        if let Some(l) = last {
            gaps.push((now - l).as_secs_f64() * 1000.0);
        }
        last = Some(now);
    }
    gaps
}

/// Rounds of the old DC's work, on a runtime worker.
async fn inline_rounds(cib: Arc<Cib>, stop: Instant) -> Vec<f64> {
    let mut took = Vec::new();
    let mut term = 1;
    while Instant::now() < stop {
        let started = Instant::now();
        let t = hactl_policy::schedule(&cib, now_s()).expect("schedules");
        let mut cfg = EngineConfig::new("node-1");
        cfg.first_transition = (term << 20) + 1;
        let mut engine = Engine::new(cfg);
        let cmds = engine
            .start(&t, &cib, now_s() as u64 * 1000)
            .expect("idle engine");
        std::hint::black_box(cmds);
        took.push(started.elapsed().as_secs_f64() * 1000.0);
        term += 1;
        tokio::task::yield_now().await;
    }
    took
}

/// Rounds of the DC runtime: a new DC per round, until its transition started.
async fn dc_rounds(cib: Arc<Cib>, stop: Instant) -> Vec<f64> {
    let mut took = Vec::new();
    let mut term = 1;
    while Instant::now() < stop {
        let (runs_tx, mut runs) = mpsc::unbounded_channel();
        let io = Arc::new(Io {
            cib: Mutex::new(cib.clone()),
            runs: runs_tx,
        });
        let (_cib_tx, cib_rx) = watch::channel(cib.clone());
        let (to_dc, inbox) = mpsc::unbounded_channel();
        // Every node has answered the new DC's resync (boot 1, as probed): it plans
        // at once (a node it has not heard from would be probed first).
        for node in dc::online_nodes(&cib) {
            let synced = ControllerMsg::Synced {
                node: node.clone(),
                boot: 1,
                reports: Vec::new(),
            };
            to_dc.send((node, synced)).expect("the DC's inbox is open");
        }
        let cfg = DcConfig::new("node-1", term);
        let task = tokio::spawn(dc::run(cfg, io, cib_rx, inbox));
        let run = runs.recv().await.expect("the DC plans");
        assert!(matches!(run.outcome, RunOutcome::Started { .. }), "{run:?}");
        took.push(run.took.as_secs_f64() * 1000.0);
        task.abort();
        term += 1;
    }
    took
}

fn pct(v: &[f64], p: f64) -> f64 {
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i.min(v.len() - 1)]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mode = args.get(1).map(String::as_str).unwrap_or("dc").to_string();
    let secs: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(10);
    let mut cib = hactl_cib_xml::generate::large_cib_model(3, 10_000, 1);
    for st in cib.status.nodes.values_mut() {
        st.attributes.insert(PROBED_ATTR.into(), "1".into());
    }
    // With fencing, a DC that takes over plans at once (without it, it first holds
    // for the stops the other nodes may still be running).
    cib.config
        .properties
        .insert("stonith-enabled".into(), "true".into());
    cib.config
        .resources
        .push(hactl_model::Resource::Primitive(hactl_model::Primitive {
            id: "fence".into(),
            agent: hactl_model::AgentSpec::parse("stonith:fence_dummy").expect("valid agent"),
            ..Default::default()
        }));
    let cib = Arc::new(cib);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let (gaps, took) = rt.block_on(async {
        let stop = Instant::now() + Duration::from_secs(secs);
        let beats = tokio::spawn(heartbeats(stop));
        let work = match mode.as_str() {
            "inline" => tokio::spawn(inline_rounds(cib, stop)),
            _ => tokio::spawn(dc_rounds(cib, stop)),
        };
        let took = work.await.expect("rounds");
        (beats.await.expect("heartbeats"), took)
    });
    let mut g = gaps;
    g.sort_by(|a, b| a.total_cmp(b));
    let mean_took = took.iter().sum::<f64>() / took.len().max(1) as f64;
    println!(
        "| {mode} | {} | {:.1} ms | {:.1} ms | {:.1} ms | {} | {:.0} ms |",
        g.len(),
        pct(&g, 0.5),
        pct(&g, 0.99),
        g.last().copied().unwrap_or(0.0),
        took.len(),
        mean_took
    );
}
