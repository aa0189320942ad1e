use super::*;
use hactl_model::{NodeStatus, ResourceHistory};

fn op(name: &str, interval_ms: u64, call_id: i64, rc: i32) -> OpRecord {
    OpRecord {
        operation: name.into(),
        interval_ms,
        call_id,
        rc,
        expected_rc: Some(if interval_ms == 0 && name == "monitor" {
            7
        } else {
            0
        }),
        ..Default::default()
    }
}

fn with_ops(node: &str, ops: Vec<(&str, OpRecord)>) -> Cib {
    let mut cib = Cib::default();
    let st = cib
        .status
        .nodes
        .entry(node.into())
        .or_insert_with(NodeStatus::default);
    for (rsc, o) in ops {
        st.resources
            .entry(rsc.into())
            .or_insert_with(ResourceHistory::default)
            .ops
            .push(o);
    }
    cib
}

fn short(evs: &[AlertEvent]) -> Vec<String> {
    evs.iter()
        .map(|e| {
            format!(
                "{} {} {} {} {}",
                e.kind().as_str(),
                e.node,
                e.rsc,
                e.task,
                e.desc
            )
        })
        .collect()
}

#[test]
fn new_operations_of_this_node_in_call_order_without_quiet_monitors() {
    let old = with_ops("n1", vec![("a", op("start", 0, 3, 0))]);
    let new = with_ops(
        "n1",
        vec![
            ("a", op("start", 0, 3, 0)),
            ("b", op("monitor", 0, 4, 7)), // probe: found stopped, as expected
            ("a", op("monitor", 5000, 5, 0)), // recurring monitor: fine
            ("a", op("monitor", 5000, 7, 7)), // failed
            ("b", op("start", 0, 6, 0)),
            ("a", op("stop", 0, 8, 0)),
        ],
    );
    assert_eq!(
        short(&events(&old, &new, "n1")),
        [
            "resource n1 b start ok",
            "resource n1 a monitor not running",
            "resource n1 a stop ok",
        ]
    );
    // Another node's operations are that node's to report.
    assert!(events(&old, &new, "n2").is_empty());
}

#[test]
fn membership_and_fencing_on_every_node() {
    let mut old = Cib::default();
    old.status.nodes.entry("n3".into()).or_default().member = Some(true);
    let mut new = old.clone();
    new.status.nodes.entry("n3".into()).or_default().member = Some(false);
    new.status.fencing_history.push(FenceEvent {
        target: "n3".into(),
        action: "off".into(),
        ok: true,
        executor: "n1".into(),
        origin: Some("controller".into()),
        ..Default::default()
    });
    assert_eq!(
        short(&events(&old, &new, "n2")),
        [
            "node n3   lost",
            "fencing n3  off Operation off of n3 by n1 for controller: OK",
        ]
    );
    assert!(events(&new, &new, "n2").is_empty());
}

#[test]
fn attributes_of_this_node() {
    let old = Cib::default();
    let mut new = old.clone();
    let st = new.status.nodes.entry("n1".into()).or_default();
    st.attributes.insert("pingd".into(), "100".into());
    st.attributes.insert("hactl-probed".into(), "7".into());
    let evs = events(&old, &new, "n1");
    assert_eq!(evs.len(), 1);
    assert_eq!(
        (
            evs[0].attribute_name.as_str(),
            evs[0].attribute_value.as_str()
        ),
        ("pingd", "100")
    );
}
