//! Data-driven scheduler scenarios: `tests/scenarios/*.txt`.
//!
//! Each file is a sequence of commands that build a CIB step by step; a `schedule`
//! line is followed by `----` and the expected Transition Summary lines (whitespace
//! and order do not matter), ended by a blank line. `apply` then makes the last
//! transition's placement the current state, as if every action succeeded, so a
//! file can tell a story: fail a node, schedule, bring it back, schedule again.
//!
//! Commands (one per line, `#` starts a comment):
//!
//! ```text
//! node N...                       online cluster members
//! property NAME=VALUE...          cluster properties
//! defaults NAME=VALUE...          rsc_defaults
//! primitive ID CLASS:PROV:TYPE [NAME=VALUE...]   meta attributes
//! op ID NAME INTERVAL [on-fail=X]
//! group ID MEMBER...              members are earlier primitives, in order
//! meta ID NAME=VALUE...           meta attributes of a primitive or group
//! location ID RSC NODE SCORE
//! colocation ID RSC WITH SCORE
//! order ID FIRST THEN [Mandatory|Optional|Serialize]
//! standby N / unstandby N
//! shutdown N                      N asks to stop (the daemon's first step of a
//!                                 clean stop: the `shutdown` node attribute)
//! down N                          N left the membership cleanly (`expected=down`);
//!                                 its history stays: the daemon leaves only once
//!                                 its resources are stopped, so a story first
//!                                 says `shutdown N`, schedules, applies
//! lost N                          left the membership while expected up
//! left-running N RSC...           N left by force, saying these may still run there
//! up N
//! running RSC N                   a successful start in the history
//! fail RSC N OP [INTERVAL]        a failed operation (rc 1) and a fail count
//! forget RSC [N]                  cleanup: its history is forgotten (on N, or everywhere)
//! probe RSC N running|stopped     a probe's answer (rc 0 or 7) in the history
//! quorum yes|no
//! now SECONDS
//! schedule                        then ---- and the expected lines
//! ordered KIND RSC N KIND RSC N   in the last transition, every action matching the
//!                                 first (KIND probe|start|stop|monitor, N may be *)
//!                                 runs before every action matching the second
//! apply
//! ```

use std::path::{Path, PathBuf};

use hactl_model::{
    AgentSpec, Cib, ColocationConstraint, FailCount, Group, LocationConstraint, Node, NodeStatus,
    OpRecord, OpSpec, OrderConstraint, Primitive, Resource, ResourceHistory, Score,
};

struct World {
    cib: Cib,
    now: i64,
    call_id: i64,
    last: Option<hactl_policy::Transition>,
}

fn online() -> NodeStatus {
    NodeStatus {
        member: Some(true),
        controller_online: Some(true),
        join: Some("member".into()),
        expected: Some("member".into()),
        ..Default::default()
    }
}

fn kv(args: &[&str]) -> Result<Vec<(String, String)>, String> {
    args.iter()
        .map(|a| {
            a.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .ok_or_else(|| format!("expected NAME=VALUE, got {a:?}"))
        })
        .collect()
}

fn score(s: &str) -> Result<Score, String> {
    s.parse().map_err(|e| format!("{e}"))
}

impl World {
    fn new() -> World {
        let mut cib = Cib::default();
        cib.status.have_quorum = true;
        World {
            cib,
            now: 1_700_000_000,
            call_id: 1,
            last: None,
        }
    }

    fn primitive_mut(&mut self, id: &str) -> Result<&mut Primitive, String> {
        for r in &mut self.cib.config.resources {
            match r {
                Resource::Primitive(p) if p.id == id => return Ok(p),
                Resource::Group(g) => {
                    if let Some(p) = g.children.iter_mut().find(|c| c.id == id) {
                        return Ok(p);
                    }
                }
                _ => {}
            }
        }
        Err(format!("no primitive {id:?}"))
    }

    fn node_status(&mut self, n: &str) -> Result<&mut NodeStatus, String> {
        self.cib
            .status
            .nodes
            .get_mut(n)
            .ok_or_else(|| format!("no node {n:?}"))
    }

    fn record(&mut self, rsc: &str, node: &str, op: OpRecord) -> Result<(), String> {
        let agent = self
            .cib
            .config
            .find_primitive(rsc)
            .map(|p| p.agent.clone())
            .ok_or_else(|| format!("no primitive {rsc:?}"))?;
        let st = self.node_status(node)?;
        let h = st
            .resources
            .entry(rsc.to_string())
            .or_insert_with(|| ResourceHistory {
                agent,
                ..Default::default()
            });
        h.ops.push(op);
        Ok(())
    }

    fn op(&mut self, name: &str, interval_ms: u64, rc: i32) -> OpRecord {
        self.call_id += 1;
        OpRecord {
            operation: name.into(),
            interval_ms,
            call_id: self.call_id,
            rc,
            expected_rc: Some(0),
            last_rc_change: Some(self.now),
            ..Default::default()
        }
    }

    fn command(&mut self, words: &[&str]) -> Result<(), String> {
        let need = |n: usize| {
            if words.len() < n {
                Err(format!("{:?} needs {} arguments", words[0], n - 1))
            } else {
                Ok(())
            }
        };
        match words[0] {
            "node" => {
                for n in &words[1..] {
                    self.cib.config.nodes.push(Node {
                        id: n.to_string(),
                        name: n.to_string(),
                        ..Default::default()
                    });
                    self.cib.status.nodes.insert(n.to_string(), online());
                }
            }
            "property" => {
                for (k, v) in kv(&words[1..])? {
                    self.cib.config.properties.insert(k, v);
                }
            }
            "defaults" => {
                for (k, v) in kv(&words[1..])? {
                    self.cib.config.rsc_defaults.insert(k, v);
                }
            }
            "primitive" => {
                need(3)?;
                let agent = AgentSpec::parse(words[2]).map_err(|e| e.to_string())?;
                self.cib
                    .config
                    .resources
                    .push(Resource::Primitive(Primitive {
                        id: words[1].into(),
                        agent,
                        meta: kv(&words[3..])?.into_iter().collect(),
                        ..Default::default()
                    }));
            }
            "op" => {
                need(4)?;
                let interval_ms = hactl_model::values::parse_interval_ms(words[3])
                    .ok_or_else(|| format!("bad interval {:?}", words[3]))?;
                let mut spec = OpSpec {
                    id: format!("{}-{}-{}", words[1], words[2], words[3]),
                    name: words[2].into(),
                    interval_ms,
                    ..Default::default()
                };
                for (k, v) in kv(&words[4..])? {
                    match k.as_str() {
                        "on-fail" => spec.on_fail = Some(v.parse().map_err(|e| format!("{e}"))?),
                        _ => {
                            spec.extra.insert(k, v);
                        }
                    }
                }
                self.primitive_mut(words[1])?.ops.push(spec);
            }
            "group" => {
                need(3)?;
                let mut children = Vec::new();
                for m in &words[2..] {
                    let pos = self
                        .cib
                        .config
                        .resources
                        .iter()
                        .position(|r| matches!(r, Resource::Primitive(p) if p.id == *m))
                        .ok_or_else(|| format!("no top-level primitive {m:?}"))?;
                    match self.cib.config.resources.remove(pos) {
                        Resource::Primitive(p) => children.push(p),
                        Resource::Group(_) | Resource::Clone(_) => {
                            unreachable!("matched a primitive")
                        }
                    }
                }
                self.cib.config.resources.push(Resource::Group(Group {
                    id: words[1].into(),
                    children,
                    ..Default::default()
                }));
            }
            "meta" => {
                need(3)?;
                let pairs = kv(&words[2..])?;
                let target = words[1];
                let mut found = false;
                for r in &mut self.cib.config.resources {
                    if let Resource::Group(g) = r {
                        if g.id == target {
                            g.meta.extend(pairs.clone());
                            found = true;
                        }
                    }
                }
                if !found {
                    self.primitive_mut(target)?.meta.extend(pairs);
                }
            }
            "location" => {
                need(5)?;
                self.cib
                    .config
                    .constraints
                    .location
                    .push(LocationConstraint {
                        id: words[1].into(),
                        rsc: words[2].into(),
                        node: Some(words[3].into()),
                        score: Some(score(words[4])?),
                        ..Default::default()
                    });
            }
            "colocation" => {
                need(5)?;
                self.cib
                    .config
                    .constraints
                    .colocation
                    .push(ColocationConstraint {
                        id: words[1].into(),
                        rsc: words[2].into(),
                        with_rsc: words[3].into(),
                        score: score(words[4])?,
                        ..Default::default()
                    });
            }
            "order" => {
                need(4)?;
                let mut o = OrderConstraint {
                    id: words[1].into(),
                    first: words[2].into(),
                    then: words[3].into(),
                    ..Default::default()
                };
                if let Some(k) = words.get(4) {
                    o.kind = k.parse().map_err(|e| format!("{e}"))?;
                }
                self.cib.config.constraints.order.push(o);
            }
            "standby" | "unstandby" => {
                need(2)?;
                let on = words[0] == "standby";
                let n = self
                    .cib
                    .config
                    .nodes
                    .iter_mut()
                    .find(|n| n.name == words[1])
                    .ok_or_else(|| format!("no node {:?}", words[1]))?;
                n.standby = on;
            }
            "down" | "lost" => {
                need(2)?;
                let clean = words[0] == "down";
                let st = self.node_status(words[1])?;
                st.member = Some(false);
                st.controller_online = Some(false);
                st.join = Some("down".into());
                st.expected = Some(if clean { "down" } else { "member" }.into());
            }
            "left-running" => {
                need(3)?;
                let list = words[2..].join(",");
                let st = self.node_status(words[1])?;
                st.attributes
                    .insert(hactl_policy::LEFT_RUNNING_ATTR.into(), list);
            }
            "shutdown" => {
                need(2)?;
                let now = self.now;
                let st = self.node_status(words[1])?;
                st.attributes.insert("shutdown".into(), now.to_string());
            }
            "up" => {
                need(2)?;
                let st = self.node_status(words[1])?;
                let keep = std::mem::take(&mut st.resources);
                // Back, so no longer shutting down (the daemon clears the mark on join).
                *st = online();
                st.resources = keep;
            }
            "running" => {
                need(3)?;
                let op = self.op("start", 0, 0);
                self.record(words[1], words[2], op)?;
            }
            "fail" => {
                need(4)?;
                let interval_ms = match words.get(4) {
                    Some(i) => hactl_model::values::parse_interval_ms(i)
                        .ok_or_else(|| format!("bad interval {i:?}"))?,
                    None => 0,
                };
                let op = self.op(words[3], interval_ms, 1);
                self.record(words[1], words[2], op)?;
                let now = self.now;
                let st = self.node_status(words[2])?;
                let key = (words[1].to_string(), words[3].to_string(), interval_ms);
                match st.failcounts.iter_mut().find(|f| {
                    (
                        f.rsc.clone(),
                        f.op.clone().unwrap_or_default(),
                        f.interval_ms.unwrap_or(0),
                    ) == key
                }) {
                    Some(f) => {
                        f.count += Score::new(1);
                        f.last_failure = Some(now);
                    }
                    None => st.failcounts.push(FailCount {
                        rsc: key.0,
                        op: Some(key.1),
                        interval_ms: Some(interval_ms),
                        count: Score::new(1),
                        last_failure: Some(now),
                    }),
                }
            }
            "forget" => {
                need(2)?;
                for (n, st) in self.cib.status.nodes.iter_mut() {
                    if words.get(2).is_none_or(|x| x == n) {
                        st.resources.remove(words[1]);
                    }
                }
            }
            "probe" => {
                need(4)?;
                let rc = match words[3] {
                    "running" => 0,
                    "stopped" => 7,
                    other => return Err(format!("probe answer {other:?}: running or stopped")),
                };
                let mut op = self.op("monitor", 0, rc);
                op.expected_rc = Some(7);
                self.record(words[1], words[2], op)?;
            }
            "ordered" => {
                need(7)?;
                let t = self.last.as_ref().ok_or("ordered before schedule")?;
                check_ordered(t, &words[1..4], &words[4..7])?;
            }
            "quorum" => {
                need(2)?;
                self.cib.status.have_quorum = words[1] == "yes";
            }
            "now" => {
                need(2)?;
                self.now = words[1]
                    .parse()
                    .map_err(|_| "now needs seconds".to_string())?;
            }
            "apply" => self.apply()?,
            other => return Err(format!("unknown command {other:?}")),
        }
        Ok(())
    }

    /// Makes the last transition's placement the current state.
    fn apply(&mut self) -> Result<(), String> {
        let t = self.last.take().ok_or("apply before schedule")?;
        for p in &t.placements {
            let blocked = p.unmanaged || p.blocked;
            if blocked {
                continue;
            }
            for n in &p.current {
                if Some(n) != p.target.as_ref() {
                    let op = self.op("stop", 0, 0);
                    self.record(&p.resource, n, op)?;
                }
            }
            if let Some(n) = &p.target {
                if !p.current.contains(n) || p.failed {
                    let op = self.op("start", 0, 0);
                    self.record(&p.resource, n, op)?;
                }
            }
        }
        for n in t.nodes.iter().filter(|n| n.unclean) {
            if t.summary
                .iter()
                .any(|l| l.starts_with("Fence") && l.contains(&n.name))
            {
                let st = self.node_status(&n.name)?;
                st.resources.clear();
                st.expected = Some("down".into());
            }
        }
        self.last = Some(t);
        Ok(())
    }
}

/// The actions of `t` matching `KIND RSC NODE` (NODE `*`: any node).
fn matching(t: &hactl_policy::Transition, spec: &[&str]) -> Result<Vec<usize>, String> {
    use hactl_policy::ActionKind;
    let kind_ok = |k: &ActionKind| match spec[0] {
        "probe" => *k == ActionKind::Probe,
        "start" => *k == ActionKind::Start,
        "stop" => *k == ActionKind::Stop,
        "monitor" => matches!(k, ActionKind::Monitor { .. }),
        _ => false,
    };
    if !["probe", "start", "stop", "monitor"].contains(&spec[0]) {
        return Err(format!(
            "action kind {:?}: probe, start, stop or monitor",
            spec[0]
        ));
    }
    let found: Vec<usize> = t
        .actions
        .iter()
        .filter(|a| {
            kind_ok(&a.kind)
                && a.resource.as_deref() == Some(spec[1])
                && (spec[2] == "*" || a.node.as_deref() == Some(spec[2]))
        })
        .map(|a| a.id)
        .collect();
    if found.is_empty() {
        return Err(format!("no action {} in the transition", spec.join(" ")));
    }
    Ok(found)
}

/// Every action matching `first` precedes (through the edges) every one matching `then`.
fn check_ordered(
    t: &hactl_policy::Transition,
    first: &[&str],
    then: &[&str],
) -> Result<(), String> {
    let befores = matching(t, first)?;
    let afters = matching(t, then)?;
    for &b in &befores {
        let mut reach = vec![false; t.actions.len()];
        let mut stack = vec![b];
        while let Some(a) = stack.pop() {
            for e in t.edges.iter().filter(|e| e.before == a) {
                if !reach[e.after] {
                    reach[e.after] = true;
                    stack.push(e.after);
                }
            }
        }
        if let Some(&a) = afters.iter().find(|&&a| !reach[a]) {
            let n = |i: usize| {
                let x = &t.actions[i];
                format!(
                    "{:?} {} on {}",
                    x.kind,
                    x.resource.as_deref().unwrap_or("-"),
                    x.node.as_deref().unwrap_or("-")
                )
            };
            return Err(format!("{} is not ordered before {}", n(b), n(a)));
        }
    }
    Ok(())
}

fn normalize(l: &str) -> String {
    l.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Runs one scenario file; returns the failures as readable text.
fn run_file(path: &Path) -> Vec<String> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => return vec![format!("cannot read: {e}")],
    };
    let mut w = World::new();
    let mut failures = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        let lineno = i + 1;
        let line = lines[i].split('#').next().unwrap_or("").trim();
        i += 1;
        if line.is_empty() {
            continue;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        if words[0] != "schedule" {
            if let Err(e) = w.command(&words) {
                failures.push(format!("line {lineno}: {e}"));
                return failures;
            }
            continue;
        }
        if lines.get(i).map(|l| l.trim()) != Some("----") {
            failures.push(format!("line {lineno}: schedule must be followed by ----"));
            return failures;
        }
        i += 1;
        let mut want = Vec::new();
        while i < lines.len() && !lines[i].trim().is_empty() {
            let l = lines[i].trim();
            if l != "(nothing)" {
                want.push(normalize(l.strip_prefix("* ").unwrap_or(l)));
            }
            i += 1;
        }
        let t = match hactl_policy::schedule(&w.cib, w.now) {
            Ok(t) => t,
            Err(e) => {
                failures.push(format!("line {lineno}: schedule failed: {e}"));
                return failures;
            }
        };
        let mut got: Vec<String> = t.summary.iter().map(|l| normalize(l)).collect();
        let mut want_sorted = want.clone();
        got.sort();
        want_sorted.sort();
        if got != want_sorted {
            let mut msg =
                format!("line {lineno}: schedule gave a different summary\n  expected:\n");
            for l in &want {
                msg.push_str(&format!("    {l}\n"));
            }
            msg.push_str("  got:\n");
            for l in &t.summary {
                msg.push_str(&format!("    {}\n", normalize(l)));
            }
            msg.push_str(&t.explain_text());
            failures.push(msg);
        }
        w.last = Some(t);
    }
    failures
}

#[test]
fn scheduler_scenarios() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/scenarios exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    files.sort();
    assert!(files.len() >= 6, "expected at least 6 scenarios in {dir:?}");
    let mut all = Vec::new();
    for f in &files {
        for failure in run_file(f) {
            all.push(format!(
                "{}: {failure}",
                f.file_name().unwrap().to_string_lossy()
            ));
        }
    }
    println!("{} scenario files", files.len());
    assert!(all.is_empty(), "\n{}", all.join("\n"));
}
