//! Clone notifications (`notify=true`), as Pacemaker schedules them
//! (`lib/pengine/pe_notif.c`): around each of a clone's start, stop, promote and
//! demote, four pseudo actions (`pre_notify`, `confirmed-pre_notify`, `post_notify`,
//! `confirmed-post_notify`) and, in between, the agent's `notify` action on every
//! instance concerned, with the `notify_*` lists ("Pacemaker Explained", clone
//! notifications) telling the agent which instances start, stop, promote or demote
//! where, and which are active, promoted, unpromoted or inactive.
//!
//! Notifications are added once every other action's flags are final (Pacemaker
//! creates them while writing the graph): whether a notification is needed, and
//! what it says, depends on which instance actions really run.

use std::collections::HashMap;

use hactl_model::{OrderAction, Role};
use serde::Serialize;

use crate::actions::{Act, Graph, Task, FIRST_IMPLIES_THEN, ORDERED};
use crate::sched::{RscRef, Sched};

/// When a notification happens relative to the clone's action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum NotifyPhase {
    Pre,
    ConfirmedPre,
    Post,
    ConfirmedPost,
}

impl NotifyPhase {
    /// Pacemaker's spelling (`notify_type`, and in operation keys).
    pub fn name(self) -> &'static str {
        match self {
            NotifyPhase::Pre => "pre",
            NotifyPhase::ConfirmedPre => "confirmed-pre",
            NotifyPhase::Post => "post",
            NotifyPhase::ConfirmedPost => "confirmed-post",
        }
    }

    /// The notification the agent gets (a confirmation is never sent).
    pub fn notify_type(self) -> &'static str {
        match self {
            NotifyPhase::Pre | NotifyPhase::ConfirmedPre => "pre",
            NotifyPhase::Post | NotifyPhase::ConfirmedPost => "post",
        }
    }
}

/// The clone action a notification is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NotifyOf {
    Start,
    Stop,
    Promote,
    Demote,
}

impl NotifyOf {
    /// `notify_operation`.
    pub fn action(self) -> &'static str {
        match self {
            NotifyOf::Start => "start",
            NotifyOf::Stop => "stop",
            NotifyOf::Promote => "promote",
            NotifyOf::Demote => "demote",
        }
    }

    /// The clone's pseudo action that marks the action done (post notifications
    /// of the clone are keyed by it: `clone_post_notify_running_0`).
    pub fn completed(self) -> &'static str {
        match self {
            NotifyOf::Start => "running",
            NotifyOf::Stop => "stopped",
            NotifyOf::Promote => "promoted",
            NotifyOf::Demote => "demoted",
        }
    }
}

/// Per notify action (index in the scheduler's graph): its `notify_*` values.
pub(crate) type NotifyEnv = HashMap<usize, Vec<(String, String)>>;

/// The pseudo actions around one clone action.
struct Set {
    of: NotifyOf,
    /// The clone's pseudo action that marks the action done.
    complete: usize,
    pre: usize,
    pre_done: usize,
    post: usize,
    post_done: usize,
}

/// The clones that ask for notifications (their meta, else `rsc_defaults`) and
/// have actions.
fn notifying(s: &Sched<'_>, g: &Graph) -> Vec<usize> {
    if s.clones.is_empty() {
        return Vec::new();
    }
    let default = s.cib.config.rsc_defaults.get("notify");
    let asks: HashMap<&str, bool> = s
        .cib
        .config
        .resources
        .iter()
        .filter_map(|r| match r {
            hactl_model::Resource::Clone(c) => Some((c.id.as_str(), c.meta.get("notify"))),
            _ => None,
        })
        .map(|(id, v)| {
            let on = v
                .or(default)
                .and_then(|v| hactl_model::values::parse_bool(v));
            (id, on.unwrap_or(false))
        })
        .collect();
    (0..s.clones.len())
        .filter(|&ci| g.clone_acts[ci][0] != usize::MAX)
        .filter(|&ci| asks.get(s.clones[ci].id).copied().unwrap_or(false))
        .collect()
}

/// Adds the notifications of every clone that asks for them; returns what each
/// notify action tells the agent.
pub(crate) fn add_notifications(s: &Sched<'_>, g: &mut Graph) -> NotifyEnv {
    let mut env = NotifyEnv::new();
    let notifying = notifying(s, g);
    if notifying.is_empty() {
        return env;
    }
    let all_sets: Vec<(usize, Vec<Set>)> = notifying
        .iter()
        .map(|&ci| (ci, boundaries(s, ci, g)))
        .collect();
    wait_for_notifications(s, &all_sets, g);
    let monitors = recurring_monitors(s, g);
    for (ci, sets) in &all_sets {
        let ci = *ci;
        let data = Data::collect(s, ci, g);
        for set in sets {
            if !data.entries(set.of).is_empty() {
                // An instance really does it: the notifications are required.
                for a in [set.pre, set.pre_done, set.post, set.post_done] {
                    g.acts[a].optional = false;
                }
            }
            let mut keys = data.keys(s, ci);
            keys.push(("notify_type".into(), String::new()));
            keys.push(("notify_operation".into(), set.of.action().into()));
            for p in s.instance_prims(ci) {
                let mut n = Notifier {
                    s,
                    g: &mut *g,
                    set,
                    keys: &keys,
                    monitors: &monitors[p],
                    env: &mut env,
                };
                n.instance(p, &data);
            }
        }
    }
    env
}

/// Per primitive: its recurring monitors (post notifications come before them).
fn recurring_monitors(s: &Sched<'_>, g: &Graph) -> Vec<Vec<usize>> {
    let mut out = vec![Vec::new(); s.prims.len()];
    for (i, a) in g.acts.iter().enumerate() {
        if let (Some(RscRef::P(p)), Task::Monitor(iv)) = (a.rsc, a.task) {
            if iv > 0 {
                out[p].push(i);
            }
        }
    }
    out
}

/// The pseudo actions of every notified clone action, ordered around the
/// clone's own pseudo actions and after one another as Pacemaker orders them.
fn boundaries(s: &Sched<'_>, ci: usize, g: &mut Graph) -> Vec<Set> {
    let [start, running, stop, stopped] = g.clone_acts[ci];
    let st = pseudo_set(ci, NotifyOf::Start, start, running, g);
    let sp = pseudo_set(ci, NotifyOf::Stop, stop, stopped, g);
    g.order(sp.post_done, st.pre, ORDERED);
    let mut sets = vec![st, sp];
    if s.clones[ci].promotable {
        let [promote, promoted, demote, demoted] = g.promo_acts[ci];
        let pr = pseudo_set(ci, NotifyOf::Promote, promote, promoted, g);
        let de = pseudo_set(ci, NotifyOf::Demote, demote, demoted, g);
        for before in [sets[1].post_done, sets[0].post_done, de.post_done] {
            g.order(before, pr.pre, ORDERED);
        }
        g.order(de.post_done, sets[0].pre, ORDERED);
        g.order(de.post_done, sets[1].pre, ORDERED);
        sets.push(pr);
        sets.push(de);
    }
    sets
}

/// What is ordered after one of the clone's actions (other than the clone's own
/// instances) waits for its post notifications too: Pacemaker orders it after
/// `confirmed-post_notify_*` instead of the clone's `running`, `stopped`, ...
fn wait_for_notifications(s: &Sched<'_>, all_sets: &[(usize, Vec<Set>)], g: &mut Graph) {
    // Each clone's "done" pseudo actions, with the clone and what to wait for
    // instead; one pass over the edges for all clones.
    let done: HashMap<usize, (usize, usize)> = all_sets
        .iter()
        .flat_map(|(ci, sets)| sets.iter().map(|set| (set.complete, (*ci, set.post_done))))
        .collect();
    let own = |ci: usize, a: &Act| match a.rsc {
        Some(RscRef::C(c)) => c == ci,
        Some(RscRef::P(p)) => s.prims[p].clone == Some(ci),
        _ => false,
    };
    let extra: Vec<(usize, usize, u32)> = g
        .edges
        .iter()
        .filter_map(|e| {
            let &(ci, post_done) = done.get(&e.first)?;
            (!own(ci, &g.acts[e.then])).then_some((post_done, e.then, e.flags))
        })
        .collect();
    for (first, then, flags) in extra {
        g.order(first, then, flags);
    }
    // Interleaved orderings have no edge between the clones' own actions; with
    // notifications Pacemaker adds one from the first clone's confirmed post
    // notification to the then clone's action.
    for (fc, fa, tc, ta, flags) in g.interleaved_orders.clone() {
        let Some((_, sets)) = all_sets.iter().find(|(ci, _)| *ci == fc) else {
            continue;
        };
        let of = notify_of(fa, s.clones[fc].promotable);
        let Some(set) = sets.iter().find(|set| set.of == of) else {
            continue;
        };
        let then = match notify_of(ta, s.clones[tc].promotable) {
            NotifyOf::Start => g.clone_acts[tc][0],
            NotifyOf::Stop => g.clone_acts[tc][2],
            NotifyOf::Promote => g.promo_acts[tc][0],
            NotifyOf::Demote => g.promo_acts[tc][2],
        };
        g.order(set.post_done, then, flags);
    }
}

/// The clone action an ordering names (promote and demote only on promotable
/// clones; on others they mean start and stop).
fn notify_of(a: OrderAction, promotable: bool) -> NotifyOf {
    match (a, promotable) {
        (OrderAction::Promote, true) => NotifyOf::Promote,
        (OrderAction::Demote, true) => NotifyOf::Demote,
        (OrderAction::Start | OrderAction::Promote, _) => NotifyOf::Start,
        (OrderAction::Stop | OrderAction::Demote, _) => NotifyOf::Stop,
    }
}

/// pre → confirmed-pre → `action` … `complete` → post → confirmed-post.
fn pseudo_set(ci: usize, of: NotifyOf, action: usize, complete: usize, g: &mut Graph) -> Set {
    let (a, c) = (&g.acts[action], &g.acts[complete]);
    let (pre_optional, post_optional, post_runnable) = (a.optional, c.optional, c.runnable);
    let mut mk = |phase, optional, runnable| {
        g.add(Act {
            rsc: Some(RscRef::C(ci)),
            task: Task::NotifyMarker(phase, of),
            node: None,
            optional,
            runnable,
            pseudo: true,
            reason: None,
        })
    };
    let set = Set {
        of,
        complete,
        pre: mk(NotifyPhase::Pre, pre_optional, true),
        pre_done: mk(NotifyPhase::ConfirmedPre, pre_optional, true),
        post: mk(NotifyPhase::Post, post_optional, post_runnable),
        post_done: mk(NotifyPhase::ConfirmedPost, post_optional, post_runnable),
    };
    g.order(set.pre, set.pre_done, ORDERED);
    g.order(set.pre_done, action, ORDERED);
    g.order(complete, set.post, FIRST_IMPLIES_THEN);
    g.order(set.post, set.post_done, FIRST_IMPLIES_THEN);
    g.order(set.pre_done, set.post, ORDERED);
    set
}

/// An instance and the node it is on (or goes to).
type Entry = (usize, Option<usize>);

/// What the notifications of one clone say: the instances by state now, and those
/// that start, stop, promote or demote (and where).
#[derive(Default)]
struct Data {
    start: Vec<Entry>,
    stop: Vec<Entry>,
    promote: Vec<Entry>,
    demote: Vec<Entry>,
    active: Vec<Entry>,
    promoted: Vec<Entry>,
    unpromoted: Vec<Entry>,
    inactive: Vec<Entry>,
}

impl Data {
    fn collect(s: &Sched<'_>, ci: usize, g: &Graph) -> Data {
        let mut d = Data::default();
        for p in s.instance_prims(ci) {
            let prim = &s.prims[p];
            let here = (p, prim.active.first().copied());
            match prim.orig_role {
                Role::Stopped => d.inactive.push(here),
                Role::Promoted => d.promoted.push(here),
                Role::Unpromoted => d.unpromoted.push(here),
                _ => {}
            }
            if prim.orig_role != Role::Stopped {
                d.active.push(here);
            }
            let acts = g.start_of[p]
                .iter()
                .map(|&a| (a, NotifyOf::Start))
                .chain(g.stops_of[p].iter().map(|&a| (a, NotifyOf::Stop)))
                .chain(g.promote_of[p].iter().map(|&a| (a, NotifyOf::Promote)))
                .chain(g.demote_of[p].iter().map(|&a| (a, NotifyOf::Demote)));
            for (a, of) in acts {
                let act = &g.acts[a];
                let Some(n) = act.node.filter(|_| !act.optional) else {
                    continue;
                };
                // A stop on a node to be fenced counts even though it cannot run.
                let counts = act.runnable || (of == NotifyOf::Stop && s.nodes[n].unclean);
                if counts {
                    d.list_mut(of).push((p, Some(n)));
                }
            }
        }
        d
    }

    fn list_mut(&mut self, of: NotifyOf) -> &mut Vec<Entry> {
        match of {
            NotifyOf::Start => &mut self.start,
            NotifyOf::Stop => &mut self.stop,
            NotifyOf::Promote => &mut self.promote,
            NotifyOf::Demote => &mut self.demote,
        }
    }

    fn entries(&self, of: NotifyOf) -> &[Entry] {
        match of {
            NotifyOf::Start => &self.start,
            NotifyOf::Stop => &self.stop,
            NotifyOf::Promote => &self.promote,
            NotifyOf::Demote => &self.demote,
        }
    }

    /// The `notify_*` meta attributes, as Pacemaker fills them: each list sorted
    /// by instance, one entry per instance, words separated by a space, an empty
    /// list a single space.
    fn keys(&self, s: &Sched<'_>, ci: usize) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut lists = |name: &str, entries: &[Entry], with_nodes: bool| {
            let (rscs, nodes) = expand(s, entries);
            out.push((format!("notify_{name}_resource"), rscs));
            if with_nodes {
                out.push((format!("notify_{name}_uname"), nodes));
            }
        };
        lists("start", &self.start, true);
        lists("stop", &self.stop, true);
        lists("promote", &self.promote, true);
        lists("demote", &self.demote, true);
        lists("active", &self.active, true);
        lists("promoted", &self.promoted, true);
        lists("unpromoted", &self.unpromoted, true);
        lists("inactive", &self.inactive, false);
        // The old names, still read by agents written for them.
        let copies: Vec<(String, String)> = out
            .iter()
            .filter_map(|(k, v)| {
                let old = k
                    .replace("notify_promoted_", "notify_master_")
                    .replace("notify_unpromoted_", "notify_slave_");
                (old != *k).then(|| (old, v.clone()))
            })
            .collect();
        out.extend(copies);
        let mut allowed: Vec<&str> = (0..s.nodes.len())
            .filter(|&n| s.notify_available(ci, n))
            .map(|n| s.nodes[n].name)
            .collect();
        allowed.sort_unstable();
        out.push(("notify_available_uname".into(), words(allowed)));
        let all: Vec<&str> = s.nodes.iter().map(|n| n.name).collect();
        out.push(("notify_all_uname".into(), words(all)));
        out
    }
}

/// Space-separated, or a single space when empty (as Pacemaker sends them).
fn words<'w>(list: impl IntoIterator<Item = &'w str>) -> String {
    let joined = list.into_iter().collect::<Vec<_>>().join(" ");
    if joined.is_empty() {
        " ".into()
    } else {
        joined
    }
}

/// The instance and node lists of `entries`, sorted by instance id then node,
/// each instance once.
fn expand(s: &Sched<'_>, entries: &[Entry]) -> (String, String) {
    let mut sorted: Vec<(&str, Option<&str>)> = entries
        .iter()
        .map(|&(p, n)| (s.prims[p].id.as_str(), n.map(|n| s.nodes[n].name)))
        .collect();
    sorted.sort_unstable();
    sorted.dedup_by_key(|(r, _)| *r);
    let rscs = words(sorted.iter().map(|(r, _)| *r));
    let nodes = words(sorted.iter().filter_map(|(_, n)| *n));
    (rscs, nodes)
}

/// Creates one instance's notify actions for one clone action.
struct Notifier<'n, 's> {
    s: &'n Sched<'s>,
    g: &'n mut Graph,
    set: &'n Set,
    keys: &'n [(String, String)],
    monitors: &'n [usize],
    env: &'n mut NotifyEnv,
}

impl Notifier<'_, '_> {
    fn instance(&mut self, p: usize, data: &Data) {
        let of = self.set.of;
        // Nothing to tell when no instance does it (a stop may still be implied
        // by fencing, so stops are always looked at).
        if of != NotifyOf::Stop && data.entries(of).is_empty() {
            return;
        }
        let prim = &self.s.prims[p];
        if prim.orig_role != Role::Stopped && matches!(of, NotifyOf::Stop | NotifyOf::Demote) {
            let stop = self.g.stops_of[p].first().copied();
            let stop_pseudo = stop.is_some_and(|a| self.g.acts[a].pseudo);
            let stop_optional = stop.is_none_or(|a| self.g.acts[a].optional);
            for &n in &prim.active {
                // The node being fenced is not told about its own implied stop.
                if stop_pseudo && self.s.nodes[n].unclean {
                    continue;
                }
                self.notify(p, n, NotifyPhase::Pre);
                if of == NotifyOf::Demote || stop_optional {
                    self.post_notify(p, n);
                }
            }
        }
        let goes_on = self.s.full_next_role(p) != Role::Stopped;
        if let (true, Some(n)) = (goes_on, prim.assigned) {
            if matches!(of, NotifyOf::Start | NotifyOf::Promote) {
                let start_optional = self.g.start_of[p].is_none_or(|a| self.g.acts[a].optional);
                if of != NotifyOf::Start || start_optional {
                    self.notify(p, n, NotifyPhase::Pre);
                }
                self.post_notify(p, n);
            }
        }
    }

    /// A post notification; the instance's recurring monitors wait for all of them.
    fn post_notify(&mut self, p: usize, n: usize) {
        self.notify(p, n, NotifyPhase::Post);
        for &m in self.monitors {
            self.g.order(self.set.post_done, m, ORDERED);
        }
    }

    fn notify(&mut self, p: usize, n: usize, phase: NotifyPhase) {
        let (parent, done) = match phase {
            NotifyPhase::Pre => (self.set.pre, self.set.pre_done),
            _ => (self.set.post, self.set.post_done),
        };
        if !self.s.nodes[n].online || !self.g.acts[parent].runnable {
            return;
        }
        let a = self.g.add(Act {
            rsc: Some(RscRef::P(p)),
            task: Task::Notify(phase, self.set.of),
            node: Some(n),
            optional: self.g.acts[parent].optional,
            runnable: true,
            pseudo: false,
            reason: None,
        });
        self.g.order(parent, a, ORDERED);
        self.g.order(a, done, ORDERED);
        let mut env = self.keys.to_vec();
        for (k, v) in &mut env {
            if k == "notify_type" {
                *v = phase.notify_type().into();
            }
        }
        self.env.insert(a, env);
    }
}
