//! The split-brain rule, checked against a simulation of the mechanics it bounds
//! (heartbeat streams, liveness checks, sequential stops, a watchdog) over random
//! timings and cut moments. The simulation does not use the formula: it plays the
//! events, and the majority's DC starts at "saw the loss" + [`hold`].

use std::time::Duration;

use hactl_model::{AgentSpec, Cib, OpRecord, OpSpec, Primitive, Resource};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::*;

const CASES: u64 = 5_000;

/// Microseconds.
type Us = u64;

fn us(d: Duration) -> Us {
    d.as_micros() as Us
}

/// A value in `lo..=hi`, with the bounds themselves drawn often: the worst cases sit
/// in the corners (every lateness at its bound at once), which uniform draws almost
/// never reach.
fn pick(rng: &mut StdRng, lo: Us, hi: Us) -> Us {
    match rng.gen_range(0..4) {
        0 => lo,
        1 => hi,
        _ => rng.gen_range(lo..=hi),
    }
}

/// A heartbeat stream from one node to another: arrival times. Each send is late
/// by up to `send_late` after the previous send plus one interval (tokio's
/// `MissedTickBehavior::Delay`), each arrival up to `net` after its send.
fn arrivals(rng: &mut StdRng, interval: Us, send_late: Us, net: Us, until: Us) -> Vec<Us> {
    let mut out = Vec::new();
    // Only the last few beats before `until` matter.
    let mut send = until.saturating_sub(10 * interval) + pick(rng, 0, interval - 1);
    while send < until {
        out.push(send + pick(rng, 0, net));
        send += interval + pick(rng, 0, send_late);
    }
    out
}

/// The last heartbeat that arrived before the cut.
fn last_before(arr: &[Us], cut: Us) -> Us {
    arr.iter().copied().filter(|a| *a < cut).max().unwrap_or(0)
}

/// A node's liveness checks: the first check at which `last` is `lost_after` old.
/// Checks run every `check`, each up to `late` late (the next one is due one period
/// after the late one, as with tokio's `Delay`).
fn first_check_after(rng: &mut StdRng, check: Us, late: Us, last: Us, lost_after: Us) -> Us {
    // The checks' phase relative to `last` is anything.
    let mut t = last + pick(rng, 0, check - 1);
    while t < last + lost_after {
        t += check + pick(rng, 0, late);
    }
    t
}

/// How the minority's stops go.
#[derive(Debug, Clone, Copy)]
struct Stop {
    timeout: Us,
    /// How long it ran; longer than `timeout` means the executor gave up at the
    /// timeout and the stop failed (the resource may still run).
    took: Us,
}

struct Case {
    /// The DC's timing.
    l: Liveness,
    /// The minority's (another when a heartbeat profile changed and only some nodes
    /// restarted with the new one).
    m: Liveness,
    stops: Vec<Stop>,
    /// `(stonith-watchdog-timeout, the watchdog device's timeout)`.
    watchdog: Option<(Us, Us)>,
}

fn random_liveness(rng: &mut StdRng) -> Liveness {
    let interval = pick(rng, 10_000, 100_000);
    Liveness::new(
        Duration::from_micros(interval),
        Duration::from_micros(interval * rng.gen_range(3..=8)),
        Duration::from_micros(pick(rng, 0, 25_000)),
    )
}

fn random_case(rng: &mut StdRng, with_watchdog: bool) -> Case {
    let l = random_liveness(rng);
    let stops = (0..rng.gen_range(0..=4))
        .map(|_| {
            let timeout = pick(rng, 10_000, 3_000_000);
            // Without a watchdog the rule only covers stops that end within their
            // timeout; with one, any stop (a failed one, one that never returns).
            let took = if with_watchdog && rng.gen_bool(0.3) {
                pick(rng, timeout + 1, timeout * 3)
            } else {
                pick(rng, 0, timeout)
            };
            Stop { timeout, took }
        })
        .collect();
    let watchdog = with_watchdog.then(|| {
        let wd = pick(rng, 100_000, 5_000_000);
        (wd + pick(rng, 0, 5_000_000), wd)
    });
    Case {
        l,
        m: l,
        stops,
        watchdog,
    }
}

/// A case whose minority runs a timing of its own.
fn mixed_case(rng: &mut StdRng) -> Case {
    let mut c = random_case(rng, false);
    c.m = random_liveness(rng);
    c
}

/// When the minority node has stopped everything, or has been reset by its
/// watchdog, counted from its loss of quorum.
fn minority_clean_or_reset(c: &Case) -> Us {
    let mut t = 0;
    let mut failed_at = None;
    for s in &c.stops {
        if s.took > s.timeout {
            failed_at = Some(t + s.timeout);
            break;
        }
        t += s.took;
    }
    match c.watchdog {
        None => t,
        Some((w, wd)) => {
            let deadline = us(self_fence_after(
                Duration::from_micros(w),
                Duration::from_micros(wd),
            ));
            match failed_at {
                // Clean in time: it keeps feeding, nothing resets it.
                None if t <= deadline => t,
                // The last keepalive was at most when it stopped feeding.
                None => deadline + wd,
                Some(f) => f.min(deadline) + wd,
            }
        }
    }
}

/// One partition: `Some((minority done, majority starts))`, both in µs since the
/// start of the run; `hold_of` gives the DC's hold for the case.
fn play(rng: &mut StdRng, c: &Case, hold_of: impl Fn(&Case) -> Duration) -> (Us, Us) {
    let cut = rng.gen_range(1_000_000..=2_000_000);
    // Each side's lateness budget is split between its two sources.
    let (i_m, slack_m) = (us(c.m.interval), us(c.m.slack));
    let send_late_m = pick(rng, 0, slack_m);
    let net_m = slack_m - send_late_m;
    let check_late = pick(rng, 0, slack_m);
    let react_late = slack_m - check_late;
    let (i_l, slack_l) = (us(c.l.interval), us(c.l.slack));
    let send_late_l = pick(rng, 0, slack_l);
    let net_l = slack_l - send_late_l;

    // The minority hears the majority's nodes (2 to 4 of them); it loses quorum when
    // it has heard none of them for its `lost_after`.
    let peers = rng.gen_range(2..=4);
    let heard_last = (0..peers)
        .map(|_| last_before(&arrivals(rng, i_l, send_late_l, net_l, cut + i_l), cut))
        .max()
        .unwrap_or(0);
    let lost_quorum = first_check_after(
        rng,
        us(c.m.check),
        check_late,
        heard_last,
        us(c.m.lost_after),
    ) + pick(rng, 0, react_late);
    let minority_done = lost_quorum + minority_clean_or_reset(c);

    // The majority's DC: the minority's heartbeats, its own checks, then Raft takes
    // a while to record the loss before the DC sees it.
    let from_minority = arrivals(rng, i_m, send_late_m, net_m, cut + i_m);
    let dc_last = last_before(&from_minority, cut);
    let dc_check_late = pick(rng, 0, slack_l);
    let seen = first_check_after(
        rng,
        us(c.l.check),
        dc_check_late,
        dc_last,
        us(c.l.lost_after),
    ) + pick(rng, 0, 100_000);
    (minority_done, seen + us(hold_of(c)))
}

/// The hold as the DC derives it from the CIB: the chain of stop timeouts, or
/// `stonith-watchdog-timeout`.
fn derived_hold(c: &Case) -> Duration {
    let chain = Duration::from_micros(c.stops.iter().map(|s| s.timeout).sum());
    let w = c.watchdog.map(|(w, _)| Duration::from_micros(w));
    hold_between(&c.l, &c.m, clean_within(chain, w))
}

fn check_property(seed: u64, with_watchdog: bool) {
    check_cases(seed, |rng| random_case(rng, with_watchdog));
}

fn check_cases(seed: u64, case: impl Fn(&mut StdRng) -> Case) {
    let mut rng = StdRng::seed_from_u64(seed);
    for n in 0..CASES {
        let c = case(&mut rng);
        let (done, starts) = play(&mut rng, &c, derived_hold);
        assert!(
            starts > done,
            "case {n} (seed {seed}): the majority starts at {starts} µs, the minority is \
             done only at {done} µs; liveness {:?} / minority {:?}, stops {:?}, watchdog {:?}",
            c.l,
            c.m,
            c.stops,
            c.watchdog
        );
    }
}

/// Stops that end within their timeouts (no watchdog): the majority never starts
/// before the minority has stopped.
#[test]
fn majority_never_starts_before_the_minority_stopped() {
    check_property(0x5b1e_0001, false);
}

/// With a watchdog any stop may fail or hang: the majority never starts before the
/// minority has stopped or been reset.
#[test]
fn majority_never_starts_before_the_minority_stopped_or_was_reset() {
    check_property(0x5b1e_0002, true);
}

/// The DC and the lost node run different timings (a heartbeat profile changed in
/// the CIB; it applies at each daemon's next start): the hold from both timings, as
/// each node records its own (`LIVENESS_ATTR`), still never lets both run.
#[test]
fn majority_never_starts_before_the_minority_stopped_with_mixed_timings() {
    check_cases(0x5b1e_0004, mixed_case);
}

/// And the DC's own timing alone is not enough then: a minority slower to notice
/// than the DC still runs when the DC's hold ends.
#[test]
fn the_dcs_own_timing_is_not_enough_for_a_slower_minority() {
    let mut rng = StdRng::seed_from_u64(0x5b1e_0005);
    let own = |c: &Case| {
        let chain = Duration::from_micros(c.stops.iter().map(|s| s.timeout).sum());
        hold(&c.l, chain)
    };
    let overlaps = (0..CASES)
        .filter(|_| {
            let c = mixed_case(&mut rng);
            let (done, starts) = play(&mut rng, &c, own);
            starts <= done
        })
        .count();
    assert!(overlaps > 0, "no overlap found with the DC's timing alone");
}

/// The simulation has teeth: the old fixed budget (`I + I/4 + 200 ms + 40 ms`) lets
/// the majority start while a slow stop still runs on the minority.
#[test]
fn a_fixed_budget_lets_both_sides_run() {
    let mut rng = StdRng::seed_from_u64(0x5b1e_0003);
    let old = |c: &Case| c.l.interval + c.l.interval / 4 + Duration::from_millis(240);
    let overlaps = (0..CASES)
        .filter(|_| {
            let c = random_case(&mut rng, false);
            let (done, starts) = play(&mut rng, &c, old);
            starts <= done
        })
        .count();
    assert!(overlaps > 0, "no overlap found with the fixed budget");
}

/// The minority's self-fence deadline leaves the watchdog's own timeout inside
/// `stonith-watchdog-timeout`.
#[test]
fn self_fence_deadline_leaves_room_for_the_watchdog() {
    let s = Duration::from_secs;
    assert_eq!(self_fence_after(s(10), s(5)), s(5));
    assert_eq!(self_fence_after(s(4), s(5)), Duration::ZERO);
}

fn prim(id: &str, class: &str, ops: &[(&str, u64)]) -> Resource {
    Resource::Primitive(Primitive {
        id: id.into(),
        agent: AgentSpec {
            class: class.into(),
            provider: (class == "ocf").then(|| "pacemaker".into()),
            kind: "Dummy".into(),
        },
        ops: ops
            .iter()
            .map(|(name, ms)| OpSpec {
                id: format!("{id}-{name}"),
                name: (*name).into(),
                timeout_ms: Some(*ms),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    })
}

fn record(cib: &mut Cib, node: &str, rsc: &str, op: &str, rc: i32, call_id: i64) {
    let st = cib.status.nodes.entry(node.into()).or_default();
    let h = st.resources.entry(rsc.into()).or_default();
    h.ops.push(OpRecord {
        operation: op.into(),
        call_id,
        rc,
        ..Default::default()
    });
}

/// The chain counts what the node's history shows possibly running (a failed stop
/// included), with each resource's own stop timeout or the default; it leaves out
/// what was stopped or probed stopped, other nodes' resources and fence devices; a
/// start in flight adds its start and stop timeouts.
#[test]
fn stop_chain_follows_the_cib() {
    let mut cib = Cib::default();
    cib.config.resources = vec![
        prim("slow", "ocf", &[("stop", 3_000), ("start", 4_000)]),
        prim("plain", "ocf", &[]),
        prim("gone", "ocf", &[("stop", 7_000)]),
        prim("probed", "ocf", &[("stop", 9_000)]),
        prim("stuck", "ocf", &[("stop", 500)]),
        prim("fence", "stonith", &[("stop", 9_000)]),
        prim("new", "ocf", &[("start", 1_000), ("stop", 2_000)]),
    ];
    record(&mut cib, "n1", "slow", "start", 0, 1);
    record(&mut cib, "n1", "plain", "start", 0, 2);
    record(&mut cib, "n1", "gone", "start", 0, 3);
    record(&mut cib, "n1", "gone", "stop", 0, 4);
    record(&mut cib, "n1", "probed", "monitor", 7, 5);
    record(&mut cib, "n1", "stuck", "stop", 1, 6);
    record(&mut cib, "n1", "fence", "start", 0, 7);
    record(&mut cib, "n2", "probed", "start", 0, 1);
    let ms = Duration::from_millis;
    assert_eq!(
        stop_chain(&cib, "n1", []),
        ms(3_000 + crate::ops::DEFAULT_OP_TIMEOUT_MS + 500)
    );
    // "slow" is already counted: its start adds only the start timeout.
    assert_eq!(
        stop_chain(&cib, "n1", ["new", "slow"]),
        ms(3_000 + crate::ops::DEFAULT_OP_TIMEOUT_MS + 500 + 1_000 + 2_000 + 4_000)
    );
    assert_eq!(stop_chain(&cib, "n3", []), Duration::ZERO);

    let l = Liveness::new(ms(50), ms(250), ms(20));
    assert_eq!(
        hold_for(&l, &cib, "n2", []),
        ms(50 + 12 + 40 + 9_000) + ms(1) / 2
    );
    // stonith-watchdog-timeout replaces the chain.
    cib.config
        .properties
        .insert("stonith-watchdog-timeout".into(), "5s".into());
    assert_eq!(watchdog_timeout(&cib), Some(ms(5_000)));
    assert_eq!(
        hold_for(&l, &cib, "n2", []),
        ms(50 + 12 + 40 + 5_000) + ms(1) / 2
    );
}
