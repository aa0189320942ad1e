//! Bundles of containers (`bundle.rs`): replicas placed as instances, one per
//! host, running ones staying; addresses with their containers; container
//! parameters as Pacemaker builds them.

use crate::stop_reason_tests::{cib, summary};
use crate::{schedule, ActionKind};

const WEB: &str = r##"<bundle id="web"><docker image="img" replicas="2"/>
<network ip-range-start="10.0.0.1" host-interface="eth0" host-netmask="24"/></bundle>"##;

/// The history of a container started on a node (no digest: not compared).
fn running_container(id: &str) -> String {
    format!(
        r##"<lrm_resource id="{id}" class="ocf" provider="heartbeat" type="docker">
<lrm_rsc_op id="{id}_last_0" operation_key="{id}_start_0" operation="start" call-id="3" rc-code="0" op-status="0" interval="0"/>
</lrm_resource>"##
    )
}

/// A running container stays where it is; the other replica goes to the other
/// node (one per host), its address with it and started before it.
#[test]
fn replicas_spread_one_per_host_and_running_ones_stay() {
    let n2 = running_container("web-docker-0");
    let t = schedule(&cib(WEB, "", "", &n2), 0).expect("schedules");
    let mut got = summary(&cib(WEB, "", "", &n2));
    got.sort();
    assert_eq!(
        got,
        [
            "Start web-docker-1 ( n1 )",
            "Start web-ip-10.0.0.1 ( n2 )",
            "Start web-ip-10.0.0.2 ( n1 )"
        ],
        "{got:?}"
    );
    let find = |rsc: &str| {
        t.actions
            .iter()
            .find(|a| a.resource.as_deref() == Some(rsc) && matches!(a.kind, ActionKind::Start))
            .map(|a| a.id)
    };
    let (ip, docker) = (find("web-ip-10.0.0.2"), find("web-docker-1"));
    assert!(
        t.edges
            .iter()
            .any(|e| Some(e.before) == ip && Some(e.after) == docker),
        "the address starts before its container"
    );
}

/// A location ban on the bundle applies to its containers: the banned replica
/// cannot move onto the node its peer holds (one per host), so it stops.
#[test]
fn a_banned_replica_stops_rather_than_displace_another() {
    let n1 = running_container("web-docker-0");
    let n2 = running_container("web-docker-1");
    let ban = r##"<rsc_location id="ban" rsc="web" node="n1" score="-INFINITY"/>"##;
    let got = summary(&cib(WEB, ban, &n1, &n2));
    assert!(
        got.contains(&"Stop web-docker-0 ( n1 ) due to node availability".to_string()),
        "{got:?}"
    );
    assert!(!got.iter().any(|l| l.contains("web-docker-1")), "{got:?}");
}

/// Each container is probed on a node before another replica's container
/// starts there (they would share the port mappings).
#[test]
fn a_container_probe_comes_before_other_replicas_start_on_the_node() {
    let t = schedule(&cib(WEB, "", "", ""), 0).expect("schedules");
    let id = |rsc: &str, kind: fn(&ActionKind) -> bool, node: &str| {
        t.actions
            .iter()
            .find(|a| {
                a.resource.as_deref() == Some(rsc)
                    && kind(&a.kind)
                    && a.node.as_deref() == Some(node)
            })
            .map(|a| a.id)
    };
    let start1 = t
        .actions
        .iter()
        .find(|a| {
            a.resource.as_deref() == Some("web-docker-1") && matches!(a.kind, ActionKind::Start)
        })
        .expect("web-docker-1 starts");
    let node = start1.node.as_deref().expect("a node");
    let probe0 = id("web-docker-0", |k| matches!(k, ActionKind::Probe), node).expect("probed");
    assert!(
        t.edges
            .iter()
            .any(|e| e.before == probe0 && e.after == start1.id),
        "web-docker-0's probe on {node} comes before web-docker-1 starts there"
    );
}

/// The container parameters are Pacemaker's, to the space (their digest must
/// match the recorded one or running containers restart).
#[test]
fn container_parameters_are_built_as_pacemaker_builds_them() {
    let mut c = cib(WEB, "", "", "");
    let b = &mut c.config.bundles[0];
    b.ports.push(hactl_model::bundle::PortMapping {
        id: "p".into(),
        source: "80".into(),
        target: None,
    });
    b.storage.push(hactl_model::bundle::StorageMapping {
        id: "s".into(),
        source_dir_root: Some("/logs".into()),
        target_dir: "/var/x".into(),
        options: Some("rw".into()),
        ..Default::default()
    });
    let expanded = crate::bundle::expand(&c);
    let p = expanded
        .config
        .resources
        .iter()
        .flat_map(|r| r.primitives())
        .find(|p| p.id == "web-docker-1")
        .expect("container 1");
    assert_eq!(
        p.params["run_opts"],
        " --restart=no -h web-1 -e PCMK_stderr=1 -e PCMK_remote_port=3121 \
         -v /logs/web-1:/var/x:rw -p 10.0.0.2:80:80  \
         --add-host=web-0:10.0.0.1 --add-host=web-1:10.0.0.2"
    );
    assert_eq!(p.params["mount_points"], "/logs/web-1");
    assert_eq!(p.params["monitor_cmd"], "/bin/true");
    assert!(!p.params.contains_key("run_cmd"));
    let ip = expanded
        .config
        .resources
        .iter()
        .flat_map(|r| r.primitives())
        .find(|p| p.id == "web-ip-10.0.0.2")
        .expect("address 1");
    assert_eq!(ip.params["nic"], "eth0");
    assert_eq!(ip.params["cidr_netmask"], "24");
}
