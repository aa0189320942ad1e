//! Which nodes hold a VIP, read from their own namespaces (`ip addr`), and a watcher
//! that reads it every 10 ms while a test runs: the "never up on two nodes at once"
//! check, and the timeline of who held it (printed as it changes, in UTC like the
//! daemons' logs, and kept for measuring how long two nodes held it).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::controller_lab::{unix_now, utc_now};
use crate::netns::run;

/// Whether namespace `ns` has `vip` on an interface that is up.
pub fn holds(ns: &str, vip: &str) -> bool {
    run("ip", &["-n", ns, "-o", "addr", "show", "up"])
        .map(|o| o.contains(&format!("inet {vip}/")))
        .unwrap_or(false)
}

/// From when (unix time, s) the VIP was up on exactly `holders` (node indexes).
#[derive(Debug, Clone, PartialEq)]
pub struct Held {
    pub since: f64,
    pub holders: Vec<usize>,
}

/// Reads every node's addresses every 10 ms on a thread of its own until dropped.
pub struct VipWatch {
    stop: Arc<AtomicBool>,
    timeline: Arc<Mutex<Vec<Held>>>,
    thread: Option<JoinHandle<()>>,
}

impl VipWatch {
    /// Watches `vip` on the nodes `nodes`, each `(index, namespace)`.
    pub fn start(vip: &str, nodes: Vec<(usize, String)>) -> VipWatch {
        let stop = Arc::new(AtomicBool::new(false));
        let timeline = Arc::new(Mutex::new(Vec::new()));
        let (s, tl, vip) = (stop.clone(), timeline.clone(), vip.to_string());
        let thread = std::thread::spawn(move || {
            let mut last: Option<Vec<usize>> = None;
            while !s.load(Ordering::SeqCst) {
                let since = unix_now();
                let holders: Vec<usize> = nodes
                    .iter()
                    .filter(|(_, ns)| holds(ns, &vip))
                    .map(|(i, _)| *i)
                    .collect();
                if last.as_ref() != Some(&holders) {
                    eprintln!("watch {}: VIP up on {holders:?}", utc_now());
                    if let Ok(mut v) = tl.lock() {
                        v.push(Held {
                            since,
                            holders: holders.clone(),
                        });
                    }
                    last = Some(holders);
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        });
        VipWatch {
            stop,
            timeline,
            thread: Some(thread),
        }
    }

    /// Every change seen so far, oldest first.
    pub fn timeline(&self) -> Vec<Held> {
        self.timeline.lock().map(|v| v.clone()).unwrap_or_default()
    }

    /// Most nodes seen holding the VIP at once.
    pub fn max_holders(&self) -> usize {
        self.timeline()
            .iter()
            .map(|h| h.holders.len())
            .max()
            .unwrap_or(0)
    }

    /// How long, in all, two or more nodes held the VIP at once (up to now if they
    /// still do); the resolution is one round of reads (10 ms plus the `ip` runs).
    pub fn doubled(&self) -> Duration {
        let tl = self.timeline();
        let secs: f64 = tl
            .iter()
            .enumerate()
            .filter(|(_, h)| h.holders.len() > 1)
            .map(|(n, h)| tl.get(n + 1).map_or_else(unix_now, |next| next.since) - h.since)
            .sum();
        Duration::from_secs_f64(secs.max(0.0))
    }
}

impl Drop for VipWatch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
