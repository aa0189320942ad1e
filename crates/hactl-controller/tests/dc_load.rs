//! The DC runtime under load: the policy engine must not hold up the async runtime
//! the daemon's heartbeats share, must be held to its deadline, results that
//! arrive together must be recorded in one proposal, and results that cannot be
//! recorded must not make the DC re-plan in a busy loop.
//!
//! The nodes here are scripted: the test answers the DC's messages itself, so it
//! decides when results arrive (several at once) — real executors cannot be made to
//! answer at the same instant. Everything runs on one thread (`current_thread`), as
//! a stand-in for the daemon's few busy tokio workers: anything the DC does inline
//! delays every other task, which a ticker task measures like a heartbeat.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

mod common;

use hactl_controller::dc::{self, ClusterIo, DcConfig, RunOutcome, ScheduleRun, PROBED_ATTR};
use hactl_controller::messages::{ControllerMsg, Report};
use hactl_controller::{Dispatch, Outcome};
use hactl_model::change::Change;
use hactl_model::{AgentSpec, Cib, Primitive, Resource, Score};
use tokio::sync::{mpsc, watch};

type Msgs = mpsc::UnboundedReceiver<(String, ControllerMsg)>;

struct Io {
    cib: Mutex<Arc<Cib>>,
    cib_tx: watch::Sender<Arc<Cib>>,
    sent: mpsc::UnboundedSender<(String, ControllerMsg)>,
    proposals: Mutex<Vec<Change>>,
    runs: mpsc::UnboundedSender<ScheduleRun>,
    /// Every proposal fails, not committed (no quorum behind the leader yet).
    refuse: std::sync::atomic::AtomicBool,
}

impl ClusterIo for Io {
    fn send(&self, node: &str, msg: ControllerMsg) {
        // The test may have stopped listening; the DC does not care.
        self.sent.send((node.to_string(), msg)).ok();
    }

    fn propose(&self, change: Change) -> hactl_controller::Proposal<'_> {
        if self.refuse.load(std::sync::atomic::Ordering::SeqCst) {
            let e = hactl_controller::ProposeError::NotCommitted("no quorum yet".into());
            return Box::pin(async move { Err(e) });
        }
        let r = {
            let mut g = self.cib.lock().unwrap();
            let mut c = (**g).clone();
            match change.apply(&mut c) {
                Ok(()) => {
                    *g = Arc::new(c);
                    self.cib_tx.send_replace(g.clone());
                    self.proposals.lock().unwrap().push(change);
                    Ok(())
                }
                Err(e) => Err(e.into()),
            }
        };
        Box::pin(async move { r })
    }

    fn cib(&self) -> Arc<Cib> {
        self.cib.lock().unwrap().clone()
    }

    fn scheduled(&self, run: &ScheduleRun) {
        self.runs.send(run.clone()).ok();
    }
}

struct Cluster {
    io: Arc<Io>,
    to_dc: mpsc::UnboundedSender<(String, ControllerMsg)>,
    from_dc: Msgs,
    runs: mpsc::UnboundedReceiver<ScheduleRun>,
    seq: u64,
    _dc: tokio::task::JoinHandle<()>,
}

/// Marks every node as probed under boot 1 (what the scripted nodes answer), so
/// the DC plans right away instead of reprobing.
fn probed(mut cib: Cib) -> Cib {
    for st in cib.status.nodes.values_mut() {
        st.attributes.insert(PROBED_ATTR.into(), "1".into());
    }
    cib
}

impl Cluster {
    fn start(cib: Cib, cfg: DcConfig) -> Cluster {
        let cib = Arc::new(probed(cib));
        let (cib_tx, cib_rx) = watch::channel(cib.clone());
        let (sent, from_dc) = mpsc::unbounded_channel();
        let (runs_tx, runs) = mpsc::unbounded_channel();
        let io = Arc::new(Io {
            cib: Mutex::new(cib),
            cib_tx,
            sent,
            proposals: Mutex::new(Vec::new()),
            runs: runs_tx,
            refuse: Default::default(),
        });
        let (to_dc, inbox) = mpsc::unbounded_channel();
        let dc = tokio::spawn(dc::run(cfg, io.clone(), cib_rx, inbox));
        Cluster {
            io,
            to_dc,
            from_dc,
            runs,
            seq: 0,
            _dc: dc,
        }
    }

    /// The next message the DC sends that needs an answer; answers resyncs on
    /// the way (no backlog, boot 1).
    async fn next_request(&mut self) -> (String, ControllerMsg) {
        loop {
            let (node, msg) = self.next_msg().await;
            match msg {
                ControllerMsg::Resync => self.synced(&node),
                ControllerMsg::Ack { .. } => {}
                other => return (node, other),
            }
        }
    }

    /// Answers the DC's requests as nodes where nothing runs yet (probes: not
    /// running; anything else: done) until `until`; returns the starts it answered.
    async fn answer_until(&mut self, until: Instant) -> usize {
        let mut starts = 0;
        while let Ok((_, msg)) = tokio::time::timeout_at(until.into(), self.next_request()).await {
            let ControllerMsg::Execute(d) = msg else {
                panic!("unexpected {msg:?}");
            };
            starts += usize::from(d.details.op == "start");
            let rc = if d.details.op == "monitor" && d.details.interval_ms == 0 {
                7
            } else {
                0
            };
            let r = self.report(&d, rc);
            self.tell(&d.node, r);
        }
        starts
    }

    async fn next_msg(&mut self) -> (String, ControllerMsg) {
        tokio::time::timeout(Duration::from_secs(60), self.from_dc.recv())
            .await
            .expect("the DC sends something")
            .expect("DC running")
    }

    fn synced(&self, node: &str) {
        self.tell(
            node,
            ControllerMsg::Synced {
                node: node.to_string(),
                boot: 1,
                reports: Vec::new(),
            },
        );
    }

    /// Answers the `Resync` a starting DC sends each online node (a node silent
    /// past `sync_timeout` would be probed before anything is planned).
    async fn answer_resyncs(&mut self) {
        for _ in 0..dc::online_nodes(&self.io.cib()).len() {
            match self.next_msg().await {
                (node, ControllerMsg::Resync) => self.synced(&node),
                other => panic!("a starting DC asks for resyncs first, not {other:?}"),
            }
        }
    }

    fn tell(&self, from: &str, msg: ControllerMsg) {
        self.to_dc
            .send((from.to_string(), msg))
            .expect("DC running");
    }

    fn report(&mut self, d: &Dispatch, rc: i32) -> ControllerMsg {
        self.seq += 1;
        ControllerMsg::Report(Report {
            seq: self.seq,
            node: d.node.clone(),
            boot: 1,
            transition: Some(d.transition),
            action: Some(d.action),
            details: d.details.clone(),
            outcome: Outcome {
                rc,
                op_status: 0,
                exit_reason: None,
                exec_ms: 1,
                queue_ms: 0,
                started_at: 1_700_000_000,
                digest: None,
                restart: None,
            },
        })
    }

    async fn next_run(&mut self) -> ScheduleRun {
        tokio::time::timeout(Duration::from_secs(120), self.runs.recv())
            .await
            .expect("a policy engine run within two minutes")
            .expect("DC running")
    }

    fn set_cib(&self, cib: Cib) {
        let cib = Arc::new(probed(cib));
        *self.io.cib.lock().unwrap() = cib.clone();
        self.io.cib_tx.send_replace(cib);
    }
}

/// A task ticking every 5 ms on the DC's runtime, like a heartbeat.
struct Heartbeat {
    /// Per tick: when it ran and how long since the one before.
    ticks: mpsc::UnboundedReceiver<(Instant, u64)>,
    worst_ms: u64,
}

impl Heartbeat {
    fn start() -> Heartbeat {
        let (tx, ticks) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut last = Instant::now();
            loop {
                tokio::time::sleep(Duration::from_millis(5)).await;
                let now = Instant::now();
                if tx.send((now, (now - last).as_millis() as u64)).is_err() {
                    return;
                }
                last = now;
            }
        });
        Heartbeat { ticks, worst_ms: 0 }
    }

    /// The longest gap between ticks up to now (waits for a tick after now, so
    /// a gap that is still running is counted).
    async fn worst_until_now(&mut self) -> u64 {
        let now = Instant::now();
        while let Some((at, gap)) = self.ticks.recv().await {
            self.worst_ms = self.worst_ms.max(gap);
            if at > now {
                break;
            }
        }
        self.worst_ms
    }
}

fn dummy(id: &str) -> Primitive {
    Primitive {
        id: id.into(),
        agent: AgentSpec::parse("ocf:heartbeat:Dummy").unwrap(),
        ..Default::default()
    }
}

fn two_resources() -> Cib {
    let mut cib = common::online_cib(&["n1", "n2", "n3"]);
    for r in ["a", "b"] {
        cib.config.resources.push(Resource::Primitive(dummy(r)));
    }
    cib
}

/// With fencing configured: a DC that takes over then plans at once (without
/// fencing it first holds for the stops the other nodes may still be running —
/// hours' worth of timeouts on a CIB this size).
fn with_fencing(mut cib: Cib) -> Cib {
    cib.config
        .properties
        .insert("stonith-enabled".into(), "true".into());
    cib.config.resources.push(Resource::Primitive(Primitive {
        id: "fence".into(),
        agent: AgentSpec::parse("stonith:fence_dummy").unwrap(),
        ..Default::default()
    }));
    cib
}

fn flatten(c: &Change) -> Vec<&Change> {
    match c {
        Change::Batch { changes } => changes.iter().flat_map(flatten).collect(),
        other => vec![other],
    }
}

/// Resources whose start a proposal records.
fn starts_in(c: &Change) -> Vec<String> {
    flatten(c)
        .into_iter()
        .filter_map(|c| match c {
            Change::RecordOp { rsc, op, .. } if op.operation == "start" => Some(rsc.clone()),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "current_thread")]
async fn results_arriving_together_are_recorded_in_one_proposal() {
    let mut c = Cluster::start(two_resources(), DcConfig::new("n1", 1));
    let mut starts: Vec<Dispatch> = Vec::new();
    while starts.len() < 2 {
        match c.next_request().await {
            (_, ControllerMsg::Execute(d)) if d.details.op == "start" => starts.push(d),
            (_, ControllerMsg::Execute(d)) => {
                // Probes: nothing runs anywhere yet.
                let rc = if d.details.interval_ms == 0 { 7 } else { 0 };
                let r = c.report(&d, rc);
                c.tell(&d.node, r);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    // Both starts finish at the same moment: both reports reach the DC together.
    for d in &starts {
        let r = c.report(d, 0);
        c.tell(&d.node, r);
    }
    // The DC records them, finishes the transition and plans again: nothing left.
    loop {
        if c.next_run().await.outcome == RunOutcome::Idle {
            break;
        }
    }
    let proposals = c.io.proposals.lock().unwrap().clone();
    let with_starts: Vec<Vec<String>> = proposals
        .iter()
        .map(starts_in)
        .filter(|s| !s.is_empty())
        .collect();
    assert_eq!(
        with_starts,
        vec![vec!["a".to_string(), "b".to_string()]],
        "both start results in one proposal"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_slow_policy_run_neither_stalls_the_runtime_nor_runs_past_its_deadline() {
    // 3 nodes × 10,000 resources: about half a second of policy engine work in
    // the test build, against a deadline of 200 ms (a two-resource CIB must still fit
    // in it on a loaded 2-core CI machine: 50 ms did not, once).
    let big = with_fencing(hactl_cib_xml::generate::large_cib_model(3, 10_000, 1));
    let mut cfg = DcConfig::new("node1", 1);
    cfg.schedule_deadline = Duration::from_millis(200);
    let mut c = Cluster::start(big, cfg);
    c.answer_resyncs().await;
    let mut beat = Heartbeat::start();
    let run = c.next_run().await;
    assert_eq!(run.outcome, RunOutcome::Overran, "{run:?}");
    assert!(run.took > Duration::from_millis(200));
    let gap = Duration::from_millis(beat.worst_until_now().await);
    // The number, for the record (a timing goal is a benchmark's: bench_heartbeat).
    eprintln!(
        "policy engine run {:?}; longest wait of a task on the DC's runtime {gap:?}",
        run.took
    );
    // The behaviour, on a machine of any speed: the ticker ran while the policy
    // engine did. Run inline on this one thread, the engine would hold the ticker
    // for the whole run (a gap at least as long as the run, 867 ms measured).
    assert!(
        gap < run.took,
        "a task on the DC's runtime waited {gap:?}, as long as the policy engine ran ({:?}): \
         the run held up the runtime",
        run.took
    );
    // The overrun transition was discarded: nothing was dispatched.
    while let Ok((node, msg)) = c.from_dc.try_recv() {
        assert!(
            !matches!(msg, ControllerMsg::Execute(_)),
            "dispatched to {node} from a discarded transition: {msg:?}"
        );
    }
    // The DC is still there and plans a CIB it can handle in time.
    c.set_cib(two_resources());
    loop {
        let run = c.next_run().await;
        if matches!(run.outcome, RunOutcome::Started { .. }) {
            break;
        }
        assert_ne!(run.outcome, RunOutcome::Overran, "{run:?}");
    }
}

#[tokio::test(flavor = "current_thread")]
async fn densely_colocated_resources_are_planned_within_the_deadline() {
    // 12 resources each colocated with all the others: minutes of work for an
    // unbounded colocation walk (crm_simulate's included), past the DC's deadline
    // (20 s), which would discard the run (`Overran`) rather than start it.
    let cib = hactl_cib_xml::generate::dense_colocations_model(3, 12, Score::new(100));
    let mut c = Cluster::start(cib, DcConfig::new("node1", 1));
    c.answer_resyncs().await;
    let run = c.next_run().await;
    eprintln!("dense colocations planned in {:?}", run.took);
    assert!(matches!(run.outcome, RunOutcome::Started { .. }), "{run:?}");
}

/// Results the DC cannot commit (no quorum behind it yet) leave the CIB as it was:
/// planning again at once plans the same probes, answered at once, not recorded
/// again: a busy loop (CI: a new transition every 5 ms for seconds, two log lines
/// each). The DC must wait before it plans again, and go on once proposals commit.
#[tokio::test(flavor = "current_thread")]
async fn results_that_cannot_be_recorded_are_not_replanned_in_a_busy_loop() {
    let mut c = Cluster::start(two_resources(), DcConfig::new("n1", 1));
    c.io.refuse.store(true, std::sync::atomic::Ordering::SeqCst);
    c.answer_until(Instant::now() + Duration::from_secs(2))
        .await;
    let mut runs = 0;
    while c.runs.try_recv().is_ok() {
        runs += 1;
    }
    // With a wait doubling from 100 ms: about five runs in two seconds. A busy
    // loop makes hundreds.
    assert!(
        runs <= 10,
        "{runs} policy runs in 2 s while nothing could be recorded"
    );
    c.io.refuse
        .store(false, std::sync::atomic::Ordering::SeqCst);
    let mut starts = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    while starts < 2 && Instant::now() < deadline {
        starts += c
            .answer_until(Instant::now() + Duration::from_secs(1))
            .await;
    }
    assert_eq!(starts, 2, "the DC went on once its proposals committed");
}
