//! docs/status-json.md lists every field `hactl status --output json` prints: a
//! field added to the report without a line in the page fails here.

use hactl_model::change::Change;
use hactl_model::FenceEvent;
use hactl_view::{DaemonView, MemberInfo, Snapshot, View};

const DOC: &str = include_str!("../../../docs/status-json.md");
const EXAMPLE: &str = include_str!("../../../examples/web-cluster.xml");
const CLONES: &str = include_str!("clones.xml");

/// Dotted paths of every object key (arrays add no segment).
fn paths(v: &serde_json::Value, prefix: &str, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, val) in m {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                out.push(p.clone());
                paths(val, &p, out);
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|x| paths(x, prefix, out)),
        _ => {}
    }
}

#[test]
fn every_json_field_is_documented() {
    let mut cib = hactl_cib_xml::import(EXAMPLE).unwrap();
    Change::RecordFenceEvent {
        event: FenceEvent {
            target: "web3".into(),
            action: "off".into(),
            reason: Some("no answer".into()),
            executor: "web1".into(),
            ..Default::default()
        },
    }
    .apply(&mut cib)
    .unwrap();
    let daemon = DaemonView {
        cluster_name: "web".into(),
        local_node: "web1".into(),
        dc: Some("web2".into()),
        have_quorum: true,
        term: 3,
        commit_index: 10,
        applied_index: 10,
        members: vec![MemberInfo {
            name: "web1".into(),
            address: "10.0.0.1:7000".into(),
            state: "online".into(),
            last_seen_ms: None,
            links: vec![hactl_view::LinkView {
                index: 0,
                address: "10.0.0.2:7420".into(),
                state: "up".into(),
                active: true,
                last_heard_ms: Some(40),
                rtt_us: Some(350),
            }],
        }],
    };
    // An IPVS service as its node publishes it, with a real server and a sorry server.
    let rs = hactl_model::ipvs_status::IpvsRealServerState {
        address: "10.0.0.11:80".into(),
        since: Some(1),
        weight: Some(1),
        ..Default::default()
    };
    let ipvs = hactl_model::ipvs_status::IpvsServiceState {
        real_servers: vec![rs],
        ..Default::default()
    };
    Change::SetTransientAttribute {
        node: "web1".into(),
        name: hactl_model::ipvs_status::attr_name("lb"),
        value: Some(serde_json::to_string(&ipvs).unwrap()),
    }
    .apply(&mut cib)
    .unwrap();
    let v = view(cib, Some(daemon));
    documented(&v);
}

/// A CIB with clones: the `clones` entries and the instances' fields.
#[test]
fn every_clone_field_is_documented() {
    let v = view(hactl_cib_xml::import(CLONES).unwrap(), None);
    let json: serde_json::Value = serde_json::from_str(&v.json().unwrap()).unwrap();
    assert_eq!(json["clones"][1]["promoted_on"], serde_json::json!(["n1"]));
    documented(&v);
}

/// A CIB with operations in flight (Pacemaker's regression input 726): the
/// instances' `pending_task`.
#[test]
fn every_pending_operation_field_is_documented() {
    let xml = include_str!("../../../tests/data/pacemaker-cts/wave2/726.xml");
    let v = view(hactl_cib_xml::import(xml).unwrap(), None);
    let json: serde_json::Value = serde_json::from_str(&v.json().unwrap()).unwrap();
    let pending = json["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["pending_task"].is_string())
        .count();
    assert!(pending >= 3, "{json:#}");
    documented(&v);
}

/// The view of `cib` at its own execution date (fixed times in the report).
fn view(cib: hactl_model::Cib, daemon: Option<DaemonView>) -> View {
    let now = cib.execution_date.unwrap_or(0);
    View::new(Snapshot { cib, daemon, now }).unwrap()
}

/// Fails naming every field of `v`'s JSON that docs/status-json.md does not list.
fn documented(v: &View) {
    let json: serde_json::Value = serde_json::from_str(&v.json().unwrap()).unwrap();
    assert_eq!(json["schema_version"], hactl_view::SCHEMA_VERSION);
    let mut all = Vec::new();
    paths(&json, "", &mut all);
    all.sort();
    all.dedup();
    // Fence events and pending fences are described in one row each.
    let nested = ["fencing.failed.", "fencing.pending."];
    let missing: Vec<&String> = all
        .iter()
        .filter(|p| !nested.iter().any(|n| p.starts_with(n)))
        .filter(|p| !DOC.contains(&format!("`{p}`")))
        .collect();
    assert!(
        missing.is_empty(),
        "not in docs/status-json.md: {missing:?}"
    );
}
