//! A promotable clone end to end: real `hactl daemon`s in network namespaces, the
//! real `ocf:pacemaker:Stateful` agent (which sets its own promotion score with
//! `crm_attribute --promotion`, here hactl's, and keeps its role in a state file)
//! and the real `ocf:heartbeat:IPaddr2` colocated with the Promoted role.
//!
//! Nothing is mocked. Needs root (network namespaces); fails without it unless
//! `HACTL_SKIP_ROOT_TESTS=1`.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use hactl_model::change::{Change, Constraint};
use hactl_model::transitions::ActionResult;
use hactl_model::{
    AgentSpec, Cib, CloneSet, ColocationConstraint, OpSpec, OrderAction, OrderConstraint,
    Primitive, Resource, Role, Score,
};
use hactl_tests::cluster::Cluster;
use hactl_tests::controller_lab::{
    active_on, cli, ensure, settled, start_nodes, unix_now, varrun, vip_primitive, NsReaper,
};
use hactl_tests::netns::require_root;

const VIP: &str = "10.86.5.100";
const T: Duration = Duration::from_secs(60);

fn propose(c: &Cluster, change: &Change) -> Result<()> {
    c.propose(1, &serde_json::to_value(change)?)?;
    Ok(())
}

/// `db`, Stateful cloned and promotable over the three nodes, with a monitor per
/// role; the vip placed with the promoted instance and started after promotion.
fn configure(c: &Cluster) -> Result<()> {
    c.propose(
        1,
        &serde_json::json!({"change": "set_property", "name": "stonith-enabled", "value": "false"}),
    )?;
    let monitor = |id: &str, ms: u64, role: Role| OpSpec {
        id: id.into(),
        name: "monitor".into(),
        interval_ms: ms,
        timeout_ms: Some(20_000),
        role: Some(role),
        ..Default::default()
    };
    let db = Primitive {
        id: "db".into(),
        agent: AgentSpec::parse("ocf:pacemaker:Stateful")?,
        ops: vec![
            monitor("db-monitor-promoted", 3_000, Role::Promoted),
            monitor("db-monitor-unpromoted", 4_000, Role::Unpromoted),
        ],
        ..Default::default()
    };
    propose(
        c,
        &Change::AddResource {
            resource: Resource::Clone(CloneSet {
                id: "db-clone".into(),
                meta: [("promotable".to_string(), "true".to_string())].into(),
                child: Box::new(Resource::Primitive(db)),
            }),
        },
    )?;
    let mut vip = vip_primitive("ocf:heartbeat:IPaddr2", VIP, "10s");
    vip["kind"] = serde_json::json!("primitive");
    c.propose(
        1,
        &serde_json::json!({"change": "add_resource", "resource": vip}),
    )?;
    propose(
        c,
        &Change::AddConstraint {
            constraint: Constraint::Colocation(ColocationConstraint {
                id: "vip-with-promoted-db".into(),
                rsc: "vip".into(),
                with_rsc: "db-clone".into(),
                score: Score::INFINITY,
                with_rsc_role: Some(Role::Promoted),
                ..Default::default()
            }),
        },
    )?;
    propose(
        c,
        &Change::AddConstraint {
            constraint: Constraint::Order(OrderConstraint {
                id: "promote-db-then-vip".into(),
                first: "db-clone".into(),
                then: "vip".into(),
                first_action: OrderAction::Promote,
                then_action: OrderAction::Start,
                ..Default::default()
            }),
        },
    )
}

/// Per node (1-based), the roles Stateful's state files (in `HA_VARRUN`) record there.
fn state_files(c: &Cluster) -> Result<Vec<Vec<String>>> {
    (1..=3)
        .map(|i| {
            let dir: PathBuf = varrun(c, i);
            let mut roles = Vec::new();
            for e in std::fs::read_dir(&dir)? {
                let p = e?.path();
                let name = p
                    .file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned();
                if name.starts_with("Stateful-db") && name.ends_with(".state") {
                    roles.push(std::fs::read_to_string(&p)?.trim().to_string());
                }
            }
            Ok(roles)
        })
        .collect()
}

/// The node where an instance of `db` runs promoted, once exactly one does, every
/// node runs one, and nothing is left to do.
fn promoted_settled(cib: &Cib, nodes: usize) -> Option<String> {
    let t = hactl_policy::schedule(cib, unix_now() as i64).ok()?;
    let running: Vec<_> = t
        .placements
        .iter()
        .filter(|p| p.clone.as_deref() == Some("db-clone") && p.current.len() == 1)
        .collect();
    let promoted: Vec<&String> = running
        .iter()
        .filter(|p| p.promoted)
        .map(|p| &p.current[0])
        .collect();
    (settled(cib) && running.len() == nodes && promoted.len() == 1).then(|| promoted[0].clone())
}

/// One instance is promoted (where Stateful's own promotion score is highest: the
/// score exists only because the agent set it through hactl's `crm_attribute`), the
/// vip runs with it; standby of that node promotes another instance, the vip
/// follows, and the agents' state files agree with the cluster at each step.
// This failed in about 2 of 5 runs until operations on an anonymous clone instance
// ran under the name of the node's history (see
// crates/hactl-controller/src/clone_history_tests.rs).
#[test]
fn netns_stateful_promotion_follows_standby() -> Result<()> {
    if !require_root() {
        return Ok(());
    }
    let mut c = Cluster::setup("hx-pr", 3, "10.86.5", None)?;
    let _reaper = NsReaper::new(&c);
    start_nodes(&mut c, 3)?;
    c.wait_dc(&[1, 2, 3], T)?;
    configure(&c)?;
    let first = c.wait_until("one db instance promoted, settled", T, || {
        Ok(promoted_settled(&c.cib(1)?, 3))
    })?;
    let cib = c.cib(1)?;
    ensure(
        active_on(&cib, "vip") == vec![first.clone()],
        &format!("vip should run on {first}: {:?}", active_on(&cib, "vip")),
    )?;
    // The agents set their scores themselves (Stateful: 10 promoted, 5 unpromoted).
    for (node, st) in &cib.status.nodes {
        let score = st.attributes.get("master-db").map(String::as_str);
        let want = if *node == first { "10" } else { "5" };
        ensure(
            score == Some(want),
            &format!("master-db on {node}: {score:?}, want {want}"),
        )?;
    }
    let mut files = state_files(&c)?;
    files.iter_mut().for_each(|f| f.sort());
    let idx = |n: &str| n.trim_start_matches('n').parse::<usize>().unwrap_or(0);
    for (i, f) in files.iter().enumerate() {
        let want = if i + 1 == idx(&first) {
            "Promoted"
        } else {
            "Unpromoted"
        };
        ensure(
            f == &vec![want.to_string()],
            &format!("n{}: state files {f:?}, want [{want}]", i + 1),
        )?;
    }

    cli(&c, 1, &["node", "standby", "--no-wait", &first])?;
    let second = c.wait_until("another db instance promoted, settled", T, || {
        Ok(promoted_settled(&c.cib(1)?, 2))
    })?;
    ensure(second != first, "promotion moved off the standby node")?;
    let cib = c.cib(1)?;
    ensure(
        active_on(&cib, "vip") == vec![second.clone()],
        &format!(
            "vip should follow to {second}: {:?}",
            active_on(&cib, "vip")
        ),
    )?;
    let files = state_files(&c)?;
    for (i, f) in files.iter().enumerate() {
        let want: Vec<String> = if i + 1 == idx(&first) {
            vec![] // stopped: Stateful removes its state file
        } else if i + 1 == idx(&second) {
            vec!["Promoted".into()]
        } else {
            vec!["Unpromoted".into()]
        };
        ensure(
            f == &want,
            &format!("n{}: state files {f:?}, want {want:?}", i + 1),
        )?;
    }
    one_history_per_node_and_no_repeated_monitor(&c.cib(1)?)
}

/// Each node records `db` under one name (its instance's), and no recurring
/// monitor was started twice without a change of state in between. Not asserted:
/// no fail count. In 2 of about 40 runs a role monitor of the first promoted
/// instance (`db:0` on n1, once the Promoted and once the Unpromoted one) failed
/// once around its role changes; the standby still promoted another instance.
fn one_history_per_node_and_no_repeated_monitor(cib: &Cib) -> Result<()> {
    for (node, st) in &cib.status.nodes {
        let names: Vec<&String> = st
            .resources
            .keys()
            .filter(|r| r.starts_with("db"))
            .collect();
        ensure(
            names.len() <= 1,
            &format!(
                "{node}: db recorded as {names:?}\n{}",
                transitions_text(cib)
            ),
        )?;
        if !st.failcounts.is_empty() {
            eprintln!(
                "{node}: fail counts {:?}\n{}",
                st.failcounts,
                transitions_text(cib)
            );
        }
    }
    let mut running = std::collections::BTreeSet::new();
    for a in cib.status.transitions.iter().flat_map(|t| &t.actions) {
        if a.result != ActionResult::Ok {
            continue;
        }
        let key = (a.rsc.clone(), a.node.clone(), a.interval_ms);
        if a.task == "monitor" && a.interval_ms > 0 {
            ensure(
                running.insert(key),
                &format!("monitor started twice: {a:?}"),
            )?;
        } else if a.task != "monitor" {
            running.retain(|(r, n, _)| !(r == &a.rsc && n == &a.node));
        }
    }
    Ok(())
}

/// The transitions the DC ran, one action a line (for failure messages).
fn transitions_text(cib: &Cib) -> String {
    let mut out = String::new();
    for t in &cib.status.transitions {
        let why = t.aborted.as_deref().unwrap_or("");
        out.push_str(&format!("{} {:?} aborted: {why}\n", t.id, t.planned));
        for a in &t.actions {
            let rsc = a.rsc.as_deref().unwrap_or("");
            out.push_str(&format!(
                "    {} {rsc} {} {}ms {} rc {:?}\n",
                a.task,
                a.node,
                a.interval_ms,
                a.result.as_str(),
                a.rc
            ));
        }
    }
    out
}
