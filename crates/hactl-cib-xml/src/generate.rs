//! Large synthetic CIBs for benchmarks, deterministic from a seed.
//!
//! The shape is a busy cluster just after an operator added a batch of services:
//! `resources` `ocf:pacemaker:Dummy` primitives in groups of 4; every group prefers
//! one node, one in ten is also banned from another node, some groups are colocated
//! with and ordered after their neighbour, some are kept apart. Half of the groups
//! are already running (probed everywhere, started with a recurring monitor, call
//! ids counting up per node), the other half was just added and has no history. The
//! last eighth of the nodes (at least one) are in standby, so groups running there
//! must move, and one in fifty running groups has a failed monitor to recover.

use hactl_model::{
    AgentSpec, Attrs, Cib, CloneSet, ColocationConstraint, FailCount, Group, LocationConstraint,
    Node, NodeStatus, OpRecord, OpSpec, OrderConstraint, Primitive, Resource, ResourceHistory,
    Score,
};

/// Members per group.
pub const GROUP_SIZE: usize = 4;

/// The time the generated history happened at; the CIB's execution date is a little
/// later so that results do not depend on the clock.
const BASE_TIME: i64 = 1_700_000_000;

/// Pacemaker's `op-digest` of the parameters an op ran with: MD5 of the sorted
/// `<parameters …/>` element as text (`" <parameters/>\n"`), where recurring ops also
/// carry their timeout. The generated Dummies have no parameters and a 20 s timeout,
/// so two constants cover every op; without them Pacemaker would restart every
/// running resource "due to resource definition change".
const DIGEST_ONE_SHOT: &str = "f2317cad3d54cec5d7d7aa7d0bf35cf8";
/// `" <parameters CRM_meta_timeout=\"20000\"/>\n"`
const DIGEST_RECURRING_20S: &str = "4811cef7f7f94e3a35a70be7916cb2fd";

/// splitmix64: tiny, good enough to spread choices, and stable across platforms.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn node_name(i: usize, width: usize) -> String {
    format!("node-{:0width$}", i + 1)
}

/// A generated CIB as Pacemaker XML (readable by `crm_simulate` 2.1 and by
/// [`crate::import`]).
pub fn large_cib(nodes: usize, resources: usize, seed: u64) -> String {
    crate::export(&large_cib_model(nodes, resources, seed))
}

/// The same CIB as a model value. `nodes` is at least 1; `resources` is rounded up to
/// a whole number of groups.
pub fn large_cib_model(nodes: usize, resources: usize, seed: u64) -> Cib {
    let nodes = nodes.max(1);
    let groups = resources.div_ceil(GROUP_SIZE);
    let mut rng = Rng(seed);
    let width = nodes.to_string().len();
    let names: Vec<String> = (0..nodes).map(|i| node_name(i, width)).collect();
    let standby_from = nodes - (nodes / 8).max(1);

    let mut cib = Cib {
        epoch: 1,
        execution_date: Some(BASE_TIME + 3600),
        ..Default::default()
    };
    cib.status.have_quorum = true;
    cib.status.dc = Some(names[0].clone());
    let c = &mut cib.config;
    for (k, v) in [
        ("stonith-enabled", "false"),
        ("no-quorum-policy", "stop"),
        ("symmetric-cluster", "true"),
        ("cluster-name", "bench"),
    ] {
        c.properties.insert(k.into(), v.into());
    }
    c.rsc_defaults
        .insert("resource-stickiness".into(), "100".into());
    c.rsc_defaults
        .insert("migration-threshold".into(), "3".into());
    c.op_defaults.insert("timeout".into(), "20s".into());
    for (i, name) in names.iter().enumerate() {
        let mut attributes = Attrs::new();
        attributes.insert("rack".into(), format!("r{}", i % 4));
        let standby = i >= standby_from && nodes > 1;
        if standby {
            attributes.insert("standby".into(), "on".into());
        }
        c.nodes.push(Node {
            id: (i + 1).to_string(),
            name: name.clone(),
            address: None,
            attributes,
            standby,
            maintenance: false,
            utilization: Attrs::new(),
        });
    }

    let agent = AgentSpec {
        class: "ocf".into(),
        provider: Some("pacemaker".into()),
        kind: "Dummy".into(),
    };
    let ops = |id: &str| {
        vec![
            OpSpec {
                id: format!("{id}-start-0"),
                name: "start".into(),
                interval_ms: 0,
                timeout_ms: Some(20_000),
                ..Default::default()
            },
            OpSpec {
                id: format!("{id}-stop-0"),
                name: "stop".into(),
                interval_ms: 0,
                timeout_ms: Some(20_000),
                ..Default::default()
            },
            OpSpec {
                id: format!("{id}-monitor-10s"),
                name: "monitor".into(),
                interval_ms: 10_000,
                timeout_ms: Some(20_000),
                ..Default::default()
            },
        ]
    };

    let mut status: Vec<NodeStatus> = names
        .iter()
        .map(|_| NodeStatus {
            member: Some(true),
            controller_online: Some(true),
            join: Some("member".into()),
            expected: Some("member".into()),
            ..Default::default()
        })
        .collect();
    let mut call_ids = vec![0i64; nodes];
    let mut record =
        |node: usize, op: &str, interval_ms: u64, rc: i32, expected: i32, rng: &mut Rng| {
            call_ids[node] += 1;
            let call_id = call_ids[node];
            OpRecord {
                operation: op.into(),
                interval_ms,
                call_id,
                rc,
                op_status: 0,
                expected_rc: Some(expected),
                last_rc_change: Some(BASE_TIME + call_id),
                last_run: Some(BASE_TIME + call_id),
                exec_time_ms: Some(5 + rng.below(60) as u64),
                queue_time_ms: Some(0),
                exit_reason: None,
                op_digest: Some(
                    if interval_ms == 0 {
                        DIGEST_ONE_SHOT
                    } else {
                        DIGEST_RECURRING_20S
                    }
                    .to_string(),
                ),
                ..OpRecord::default()
            }
        };

    let mut running_groups = 0usize;
    for g in 0..groups {
        let gid = format!("grp-{g:05}");
        let members = GROUP_SIZE.min(resources - g * GROUP_SIZE);
        let children: Vec<Primitive> = (0..members)
            .map(|m| {
                let id = format!("{gid}-d{m}");
                Primitive {
                    ops: ops(&id),
                    id,
                    agent: agent.clone(),
                    ..Default::default()
                }
            })
            .collect();

        let preferred = rng.below(nodes);
        c.constraints.location.push(LocationConstraint {
            id: format!("loc-{gid}"),
            rsc: gid.clone(),
            node: Some(names[preferred].clone()),
            score: Some(Score::new(50 + 10 * rng.below(16) as i64)),
            ..Default::default()
        });
        if g % 10 == 3 && nodes > 2 {
            let banned = (preferred + 1 + rng.below(nodes - 1)) % nodes;
            c.constraints.location.push(LocationConstraint {
                id: format!("ban-{gid}"),
                rsc: gid.clone(),
                node: Some(names[banned].clone()),
                score: Some(Score::NEG_INFINITY),
                ..Default::default()
            });
        }
        if g > 0 && g % 10 == 1 {
            let prev = format!("grp-{:05}", g - 1);
            c.constraints.colocation.push(ColocationConstraint {
                id: format!("col-{gid}"),
                rsc: gid.clone(),
                with_rsc: prev.clone(),
                score: Score::INFINITY,
                ..Default::default()
            });
            c.constraints.order.push(OrderConstraint {
                id: format!("ord-{gid}"),
                first: prev,
                then: gid.clone(),
                ..Default::default()
            });
        }
        if g > 0 && g % 10 == 6 {
            c.constraints.colocation.push(ColocationConstraint {
                id: format!("apart-{gid}"),
                rsc: gid.clone(),
                with_rsc: format!("grp-{:05}", g - 1),
                score: Score::new(-500),
                ..Default::default()
            });
        }

        // Every other group is already running, mostly where it prefers to be.
        if g.is_multiple_of(2) {
            running_groups += 1;
            let on = if rng.below(4) == 0 {
                rng.below(nodes)
            } else {
                preferred
            };
            let failed = running_groups.is_multiple_of(50);
            for (m, p) in children.iter().enumerate() {
                for (n, st) in status.iter_mut().enumerate() {
                    let mut ops = vec![record(n, "monitor", 0, 7, 7, &mut rng)];
                    if n == on {
                        ops.push(record(n, "start", 0, 0, 0, &mut rng));
                        let mon_failed = failed && m == 0;
                        let rc = if mon_failed { 7 } else { 0 };
                        let mon = record(n, "monitor", 10_000, rc, 0, &mut rng);
                        if mon_failed {
                            st.failcounts.push(FailCount {
                                rsc: p.id.clone(),
                                op: Some("monitor".into()),
                                interval_ms: Some(10_000),
                                count: Score::new(1),
                                last_failure: mon.last_rc_change,
                            });
                        }
                        ops.push(mon);
                    }
                    let position = u32::try_from(st.resources.len()).ok();
                    st.resources.insert(
                        p.id.clone(),
                        ResourceHistory {
                            agent: agent.clone(),
                            ops,
                            position,
                            ..Default::default()
                        },
                    );
                }
            }
        }
        c.resources.push(Resource::Group(Group {
            id: gid,
            meta: Attrs::new(),
            children,
        }));
    }
    cib.status.nodes = names.into_iter().zip(status).collect();
    cib
}

/// Adds `clones` anonymous clones (`cln-00000` of the Dummy `cd-00000`, …) to a
/// generated CIB: one instance per node, every other clone already running on
/// every node that is not in standby (probed everywhere, started, monitored; the
/// history names the primitive, as Pacemaker records anonymous instances), the
/// rest just added; one in five running clones is ordered before the group of the
/// same number, as "a cloned daemon on every node, then the service" is.
pub fn add_clones(cib: &mut Cib, clones: usize) {
    let agent = AgentSpec {
        class: "ocf".into(),
        provider: Some("pacemaker".into()),
        kind: "Dummy".into(),
    };
    let standby: Vec<bool> = cib.config.nodes.iter().map(|n| n.standby).collect();
    let names: Vec<String> = cib.config.nodes.iter().map(|n| n.name.clone()).collect();
    for k in 0..clones {
        let pid = format!("cd-{k:05}");
        let cid = format!("cln-{k:05}");
        let ops = vec![OpSpec {
            id: format!("{pid}-monitor-10s"),
            name: "monitor".into(),
            interval_ms: 10_000,
            timeout_ms: Some(20_000),
            ..Default::default()
        }];
        if k.is_multiple_of(2) {
            for (n, name) in names.iter().enumerate() {
                let Some(st) = cib.status.nodes.get_mut(name) else {
                    continue;
                };
                let next = st
                    .resources
                    .values()
                    .flat_map(|h| h.ops.iter().map(|o| o.call_id))
                    .max()
                    .unwrap_or(0);
                let rec = |i: i64, op: &str, interval_ms: u64, rc: i32| OpRecord {
                    operation: op.into(),
                    interval_ms,
                    call_id: next + i,
                    rc,
                    op_status: 0,
                    expected_rc: Some(if op == "monitor" && interval_ms == 0 {
                        7
                    } else {
                        0
                    }),
                    last_rc_change: Some(BASE_TIME + next + i),
                    last_run: Some(BASE_TIME + next + i),
                    exec_time_ms: Some(10),
                    queue_time_ms: Some(0),
                    exit_reason: None,
                    op_digest: Some(
                        if interval_ms == 0 {
                            DIGEST_ONE_SHOT
                        } else {
                            DIGEST_RECURRING_20S
                        }
                        .to_string(),
                    ),
                    ..OpRecord::default()
                };
                let mut ops = vec![rec(1, "monitor", 0, 7)];
                if !standby[n] {
                    ops.push(rec(2, "start", 0, 0));
                    ops.push(rec(3, "monitor", 10_000, 0));
                }
                let position = u32::try_from(st.resources.len()).ok();
                st.resources.insert(
                    pid.clone(),
                    ResourceHistory {
                        agent: agent.clone(),
                        ops,
                        position,
                        ..Default::default()
                    },
                );
            }
            let group = format!("grp-{k:05}");
            if k.is_multiple_of(5) && cib.config.resources.iter().any(|r| r.id() == group) {
                cib.config.constraints.order.push(OrderConstraint {
                    id: format!("ord-{cid}"),
                    first: cid.clone(),
                    then: group,
                    ..Default::default()
                });
            }
        }
        cib.config.resources.push(Resource::Clone(CloneSet {
            id: cid,
            meta: Attrs::new(),
            child: Box::new(Resource::Primitive(Primitive {
                id: pid,
                agent: agent.clone(),
                ops,
                ..Default::default()
            })),
        }));
    }
}

/// A small CIB that is hard to schedule: `nodes` online nodes (`node1`, …), no
/// fencing, and `resources` Dummies (`r0`, …), each preferring a node and each
/// colocated with every other one with `score` (`resources`·(`resources`-1)
/// constraints). Merging colocated resources' preferences walks every simple path
/// of the colocation graph, which here is factorial in `resources`.
pub fn dense_colocations_model(nodes: usize, resources: usize, score: Score) -> Cib {
    let mut cib = Cib::default();
    cib.status.have_quorum = true;
    let c = &mut cib.config;
    c.properties
        .insert("stonith-enabled".into(), "false".into());
    for i in 1..=nodes.max(1) {
        let name = format!("node{i}");
        c.nodes.push(Node {
            id: i.to_string(),
            name: name.clone(),
            ..Default::default()
        });
        cib.status.nodes.insert(
            name,
            NodeStatus {
                member: Some(true),
                controller_online: Some(true),
                join: Some("member".into()),
                expected: Some("member".into()),
                ..Default::default()
            },
        );
    }
    let agent = AgentSpec {
        class: "ocf".into(),
        provider: Some("pacemaker".into()),
        kind: "Dummy".into(),
    };
    for i in 0..resources {
        c.resources.push(Resource::Primitive(Primitive {
            id: format!("r{i}"),
            agent: agent.clone(),
            ..Default::default()
        }));
        c.constraints.location.push(LocationConstraint {
            id: format!("l{i}"),
            rsc: format!("r{i}"),
            node: Some(format!("node{}", 1 + i % nodes.max(1))),
            score: Some(Score::new(10 + i as i64)),
            ..Default::default()
        });
        for j in (0..resources).filter(|&j| j != i) {
            c.constraints.colocation.push(ColocationConstraint {
                id: format!("c{i}-{j}"),
                rsc: format!("r{i}"),
                with_rsc: format!("r{j}"),
                score,
                ..Default::default()
            });
        }
    }
    cib
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_valid_and_importable() {
        let a = large_cib(5, 42, 7);
        assert_eq!(a, large_cib(5, 42, 7), "same seed, same CIB");
        assert_ne!(a, large_cib(5, 42, 8), "the seed matters");
        let cib = crate::import(&a).expect("generated XML imports");
        assert_eq!(cib, large_cib_model(5, 42, 7));
        assert_eq!(crate::import_reader(a.as_bytes()).expect("streamed"), cib);
        cib.config.validate().expect("generated CIB validates");
        let prims: usize = cib
            .config
            .resources
            .iter()
            .map(|r| r.primitives().count())
            .sum();
        assert_eq!(prims, 42);
        assert_eq!(cib.config.resources.len(), 11);
        assert_eq!(cib.config.nodes.iter().filter(|n| n.standby).count(), 1);
        // Half of the groups have history: probed on every node, running on one.
        let running: Vec<&str> = cib
            .config
            .resources
            .iter()
            .flat_map(|r| r.primitives())
            .filter(|p| {
                cib.status.nodes.values().any(|n| {
                    n.resources
                        .get(&p.id)
                        .is_some_and(|h| h.ops.iter().any(|o| o.operation == "start"))
                })
            })
            .map(|p| p.id.as_str())
            .collect();
        assert_eq!(
            running.len(),
            5 * 4 + 2,
            "groups 0,2,..,10; the last has 2 members"
        );
        let mut with_clones = cib.clone();
        add_clones(&mut with_clones, 3);
        with_clones
            .config
            .validate()
            .expect("CIB with clones validates");
        let xml = crate::export(&with_clones);
        assert_eq!(crate::import(&xml).expect("imports"), with_clones);
        for st in cib.status.nodes.values() {
            let mut ids: Vec<i64> = st
                .resources
                .values()
                .flat_map(|h| h.ops.iter().map(|o| o.call_id))
                .collect();
            ids.sort_unstable();
            ids.dedup();
            let total: usize = st.resources.values().map(|h| h.ops.len()).sum();
            assert_eq!(ids.len(), total, "call ids are unique per node");
        }
    }
}
