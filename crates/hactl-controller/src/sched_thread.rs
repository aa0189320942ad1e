//! The policy engine off the async runtime: `schedule()` is pure CPU work that can
//! take seconds on a large CIB, and the daemon's few tokio workers also carry its
//! heartbeats, Raft and peer traffic. The DC hands each run to a dedicated thread
//! and keeps serving events while it computes; it holds the run to a deadline (see
//! `DcConfig::schedule_deadline`).

use std::sync::mpsc as std_mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hactl_model::Cib;
use hactl_policy::{LiveFacts, PolicyError, Transition};
use tokio::sync::mpsc;
use tracing::{debug, error};

/// One run asked of the thread.
struct Job {
    id: u64,
    cib: Arc<Cib>,
    now_s: i64,
    live: LiveFacts,
}

/// One run's answer.
pub struct Scheduled {
    pub id: u64,
    pub result: Result<Transition, PolicyError>,
    /// How long the run took on the thread.
    pub took: Duration,
}

/// The DC's handle on its scheduler thread. The thread ends when the handle is
/// dropped (after finishing the run it is on, whose answer then goes nowhere).
pub struct SchedThread {
    jobs: std_mpsc::Sender<Job>,
    next_id: u64,
}

impl SchedThread {
    /// Starts the thread; answers arrive on the returned receiver.
    pub fn spawn(name: &str) -> std::io::Result<(SchedThread, mpsc::UnboundedReceiver<Scheduled>)> {
        let (jobs, rx) = std_mpsc::channel::<Job>();
        let (done_tx, done_rx) = mpsc::unbounded_channel();
        std::thread::Builder::new()
            .name("hactl-sched".into())
            .spawn({
                let node = name.to_string();
                move || {
                    for job in rx {
                        let started = Instant::now();
                        let result = hactl_policy::schedule_live(&job.cib, job.now_s, job.live);
                        let done = Scheduled {
                            id: job.id,
                            result,
                            took: started.elapsed(),
                        };
                        if done_tx.send(done).is_err() {
                            // The DC is gone (this node stopped leading).
                            debug!(node = %node, "scheduler thread: no DC to answer");
                            return;
                        }
                    }
                }
            })?;
        Ok((SchedThread { jobs, next_id: 1 }, done_rx))
    }

    /// Queues a run of the policy engine on `cib`, with what the cluster knows of
    /// itself (`live`); returns its id, or `None` when the thread is gone (it
    /// panicked: logged, the DC cannot plan any more).
    pub fn submit(&mut self, cib: Arc<Cib>, now_s: i64, live: LiveFacts) -> Option<u64> {
        let id = self.next_id;
        self.next_id += 1;
        match self.jobs.send(Job {
            id,
            cib,
            now_s,
            live,
        }) {
            Ok(()) => Some(id),
            Err(_) => {
                error!("scheduler thread is gone: no new transitions can be planned");
                None
            }
        }
    }
}
