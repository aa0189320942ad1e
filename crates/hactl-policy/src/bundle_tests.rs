//! Bundles of containers (`bundle.rs`): replicas placed as instances, one per
//! host, running ones staying; addresses with their containers; container
//! parameters as Pacemaker builds them.

use crate::stop_reason_tests::{cib, summary};
use crate::tests::promotable_tests::reaches;
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

/// A CIB of two nodes and bundle `web` (podman, two replicas, control port)
/// with `app` inside; `meta` goes into the bundle's meta attributes, `n1`/`n2`
/// into the nodes' histories and `guests` after the nodes' states.
fn guest_cib(meta: &str, n1: &str, n2: &str, guests: &str) -> hactl_model::Cib {
    let xml = format!(
        r##"<cib have-quorum="true" dc-uuid="1"><configuration><crm_config>
<cluster_property_set id="opts"><nvpair id="o1" name="stonith-enabled" value="false"/>
</cluster_property_set></crm_config>
<nodes><node id="1" uname="n1"/><node id="2" uname="n2"/></nodes>
<resources><bundle id="web"><meta_attributes id="web-m">{meta}</meta_attributes>
<podman image="img" replicas="2"/><network control-port="3121"/>
<primitive id="app" class="ocf" provider="pacemaker" type="Stateful">
<operations><op id="app-m15" name="monitor" interval="15s" role="Promoted"/>
<op id="app-m16" name="monitor" interval="16s" role="Unpromoted"/></operations>
</primitive></bundle></resources><constraints/></configuration><status>
<node_state id="1" uname="n1" in_ccm="true" crmd="online" join="member" expected="member">
<lrm id="1"><lrm_resources>{n1}</lrm_resources></lrm></node_state>
<node_state id="2" uname="n2" in_ccm="true" crmd="online" join="member" expected="member">
<lrm id="2"><lrm_resources>{n2}</lrm_resources></lrm></node_state>{guests}
</status></cib>"##
    );
    hactl_cib_xml::import(&xml).expect("imports")
}

/// The history of `id` (agent `class:provider:type`) started (call 3).
fn started(id: &str, provider: &str, kind: &str) -> String {
    format!(
        r##"<lrm_resource id="{id}" class="ocf" provider="{provider}" type="{kind}">
<lrm_rsc_op id="{id}_last_0" operation_key="{id}_start_0" operation="start" call-id="3" rc-code="0" op-status="0" interval="0"/>
</lrm_resource>"##
    )
}

/// Replica `i` running on its host: container and connection.
fn replica_on_host(i: u32) -> String {
    format!(
        "{}{}",
        started(&format!("web-podman-{i}"), "heartbeat", "podman"),
        started(&format!("web-{i}"), "pacemaker", "remote")
    )
}

/// Guest node `web-{i}` running `app`, with `attrs` as its transient attributes.
fn guest_running_app(i: u32) -> String {
    format!(
        r##"<node_state remote_node="true" id="web-{i}" uname="web-{i}" in_ccm="true">
<lrm id="web-{i}"><lrm_resources>{}</lrm_resources></lrm></node_state>"##,
        started("app", "pacemaker", "Stateful")
    )
}

/// The hosts' promotion scores for `app`: n2 (10) over n1 (5).
fn prefer_n2_for_promotion(c: &mut hactl_model::Cib) {
    for (n, v) in [("n1", "5"), ("n2", "10")] {
        let st = c.status.nodes.get_mut(n).expect("node state");
        st.attributes.insert("master-app".into(), v.into());
    }
}

/// `guest_cib` with both replicas and their instances of `app` running.
fn both_replicas_running(meta: &str) -> hactl_model::Cib {
    let guests = format!("{}{}", guest_running_app(0), guest_running_app(1));
    guest_cib(meta, &replica_on_host(0), &replica_on_host(1), &guests)
}

/// Each replica's instance of the bundled primitive starts on that replica's
/// guest node, after its container and connection; the connection is probed
/// on the cluster nodes once the container runs, the primitive nowhere (its
/// guest node is not up yet); a non-promotable primitive gets no Unpromoted
/// monitor.
#[test]
fn bundled_instances_start_on_their_own_replica_nodes() {
    let t = schedule(&guest_cib("", "", "", ""), 0).expect("schedules");
    let mut got: Vec<String> = t
        .summary
        .iter()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    got.sort();
    let host = |i: u32| {
        t.actions
            .iter()
            .find(|a| {
                a.resource.as_deref() == Some(&format!("web-podman-{i}"))
                    && matches!(a.kind, ActionKind::Start)
            })
            .and_then(|a| a.node.clone())
            .expect("container starts")
    };
    let (h0, h1) = (host(0), host(1));
    assert_ne!(h0, h1, "one replica per host");
    let mut want = vec![
        format!("Start web-podman-0 ( {h0} )"),
        format!("Start web-0 ( {h0} )"),
        "Start app:0 ( web-0 )".to_string(),
        format!("Start web-podman-1 ( {h1} )"),
        format!("Start web-1 ( {h1} )"),
        "Start app:1 ( web-1 )".to_string(),
    ];
    want.sort();
    assert_eq!(got, want);
    let of = |rsc: &str, kind: fn(&ActionKind) -> bool| -> Vec<&crate::Action> {
        t.actions
            .iter()
            .filter(|a| a.resource.as_deref() == Some(rsc) && kind(&a.kind))
            .collect()
    };
    let probes = of("web-0", |k| matches!(k, ActionKind::Probe));
    assert_eq!(probes.len(), 2, "the connection is probed on both nodes");
    let container_start = of("web-podman-0", |k| matches!(k, ActionKind::Start))[0].id;
    for p in probes {
        assert!(t
            .edges
            .iter()
            .any(|e| e.before == container_start && e.after == p.id));
    }
    assert!(of("app:0", |k| matches!(k, ActionKind::Probe)).is_empty());
    let monitors = of("app:0", |k| matches!(k, ActionKind::Monitor { .. }));
    assert!(monitors.is_empty(), "{monitors:?}");
}

/// With container-attribute-target=host, a bundled instance's promotion
/// score is read on its container's host: the replica on n2 (score 10)
/// is promoted, not the one on n1 (5), whatever the guest nodes say.
#[test]
fn promotion_scores_are_read_on_the_replica_host() {
    let meta = r##"<nvpair id="web-p" name="promotable" value="true"/>
<nvpair id="web-t" name="container-attribute-target" value="host"/>"##;
    let attrs = |node: &str, v: u32| {
        format!(
            r##"<transient_attributes id="{node}"><instance_attributes id="s-{node}">
<nvpair id="s-{node}-m" name="master-app" value="{v}"/></instance_attributes></transient_attributes>"##
        )
    };
    let guests = format!(
        "{}{}",
        guest_running_app(0).replace(
            "</node_state>",
            &format!("{}</node_state>", attrs("web-0", 100))
        ),
        guest_running_app(1)
    );
    let mut c = guest_cib(meta, &replica_on_host(0), &replica_on_host(1), &guests);
    prefer_n2_for_promotion(&mut c);
    let got = summary(&c);
    assert_eq!(
        got,
        ["Promote app:1 ( Unpromoted -> Promoted web-1 )"],
        "{got:?}"
    );
}

/// A location limited to the Promoted role on a bundle applies to its
/// bundled clone on the replicas' nodes: the replica named gets promoted.
#[test]
fn a_role_location_on_a_bundle_applies_to_the_bundled_clone() {
    let meta = r##"<nvpair id="web-p" name="promotable" value="true"/>"##;
    let mut c = both_replicas_running(meta);
    c.config
        .constraints
        .location
        .push(hactl_model::LocationConstraint {
            id: "prefer-1".into(),
            rsc: "web".into(),
            node: Some("web-1".into()),
            score: Some(hactl_model::Score::new(100)),
            role: Some(hactl_model::Role::Promoted),
            ..Default::default()
        });
    let got = summary(&c);
    assert_eq!(
        got,
        ["Promote app:1 ( Unpromoted -> Promoted web-1 )"],
        "{got:?}"
    );
}

/// A replica whose container cannot run anywhere stops whole, each part
/// naming the container's start as the reason, as Pacemaker does (the
/// instance inside too, not its connection).
#[test]
fn a_replica_that_cannot_run_stops_naming_its_container() {
    let mut c = both_replicas_running("");
    c.config
        .constraints
        .location
        .push(hactl_model::LocationConstraint {
            id: "ban".into(),
            rsc: "web".into(),
            node: Some("n1".into()),
            score: Some(hactl_model::Score::NEG_INFINITY),
            ..Default::default()
        });
    let mut got = summary(&c);
    got.sort();
    assert_eq!(
        got,
        [
            "Stop app:0 ( web-0 ) due to unrunnable web-podman-0 start",
            "Stop web-0 ( n1 ) due to unrunnable web-podman-0 start",
            "Stop web-podman-0 ( n1 ) due to node availability",
        ],
        "{got:?}"
    );
}

/// A primitive colocated with a bundle in the Promoted role is placed
/// against the host of the replica whose instance is promoted.
#[test]
fn a_colocation_with_the_promoted_bundle_uses_the_replica_host() {
    let meta = r##"<nvpair id="web-p" name="promotable" value="true"/>
<nvpair id="web-t" name="container-attribute-target" value="host"/>"##;
    let guests = format!("{}{}", guest_running_app(0), guest_running_app(1));
    let n2 = format!(
        "{}{}",
        replica_on_host(1),
        started("vip", "pacemaker", "Dummy")
    );
    let mut c = guest_cib(meta, &replica_on_host(0), &n2, &guests);
    prefer_n2_for_promotion(&mut c);
    add_vip(&mut c);
    c.config
        .constraints
        .colocation
        .push(hactl_model::ColocationConstraint {
            id: "vip-away".into(),
            rsc: "vip".into(),
            with_rsc: "web".into(),
            with_rsc_role: Some(hactl_model::Role::Promoted),
            score: hactl_model::Score::new(-5000),
            ..Default::default()
        });
    let mut got = summary(&c);
    got.sort();
    assert_eq!(
        got,
        [
            "Move vip ( n2 -> n1 )",
            "Promote app:1 ( Unpromoted -> Promoted web-1 )"
        ],
        "{got:?}"
    );
}

/// Adds `vip`, a stopped Dummy, for the tests that colocate or order it with
/// the bundle.
fn add_vip(c: &mut hactl_model::Cib) {
    c.config
        .resources
        .push(hactl_model::Resource::Primitive(hactl_model::Primitive {
            id: "vip".into(),
            agent: hactl_model::AgentSpec::parse("ocf:pacemaker:Dummy").expect("agent"),
            ..Default::default()
        }));
}

/// `guest_cib` with a promotable `app` whose promotion scores are read on
/// the hosts (n2 preferred), nothing running yet, a stopped primitive `vip`
/// and the ordering `order` between them.
fn promoting_with(order: hactl_model::OrderConstraint) -> crate::Transition {
    let meta = r##"<nvpair id="web-p" name="promotable" value="true"/>
<nvpair id="web-t" name="container-attribute-target" value="host"/>"##;
    let mut c = guest_cib(meta, "", "", "");
    prefer_n2_for_promotion(&mut c);
    add_vip(&mut c);
    c.config.constraints.order.push(order);
    schedule(&c, 0).expect("schedules")
}

/// The id of `rsc`'s action of `kind`.
fn action_id(t: &crate::Transition, rsc: &str, kind: fn(&ActionKind) -> bool) -> usize {
    t.actions
        .iter()
        .find(|a| a.resource.as_deref() == Some(rsc) && kind(&a.kind))
        .unwrap_or_else(|| panic!("{rsc}: no such action"))
        .id
}

fn is_start(k: &ActionKind) -> bool {
    matches!(k, ActionKind::Start)
}

fn is_promote(k: &ActionKind) -> bool {
    matches!(k, ActionKind::Promote)
}

/// An ordering after a bundle's promote waits for what Pacemaker's promote
/// pseudo action of the bundle waits for: the bundle running (its bundled
/// instances started), not the promotion itself.
#[test]
fn an_ordering_after_a_bundle_promote_waits_for_the_bundle_running() {
    let t = promoting_with(hactl_model::OrderConstraint {
        id: "o".into(),
        first: "web".into(),
        first_action: hactl_model::OrderAction::Promote,
        then: "vip".into(),
        ..Default::default()
    });
    let vip = action_id(&t, "vip", is_start);
    for app in ["app:0", "app:1"] {
        assert!(reaches(&t, action_id(&t, app, is_start), vip), "{app}");
    }
    let promote = action_id(&t, "app:1", is_promote);
    assert!(!reaches(&t, promote, vip));
}

/// An ordering before a bundle's promote (or demote) holds back the bundled
/// clone's promotions, not the bundle's containers.
#[test]
fn an_ordering_before_a_bundle_promote_holds_back_the_promotion() {
    let t = promoting_with(hactl_model::OrderConstraint {
        id: "o".into(),
        first: "vip".into(),
        then: "web".into(),
        then_action: hactl_model::OrderAction::Promote,
        ..Default::default()
    });
    let vip = action_id(&t, "vip", is_start);
    assert!(reaches(&t, vip, action_id(&t, "app:1", is_promote)));
    assert!(!reaches(&t, vip, action_id(&t, "web-podman-0", is_start)));
}

/// An ordering before a bundle's demote holds back the bundled clone's
/// demotion.
#[test]
fn an_ordering_before_a_bundle_demote_holds_back_the_demotion() {
    let meta = r##"<nvpair id="web-p" name="promotable" value="true"/>"##;
    let promoted = r##"<node_state remote_node="true" id="web-1" uname="web-1" in_ccm="true">
<lrm id="web-1"><lrm_resources><lrm_resource id="app" class="ocf" provider="pacemaker" type="Stateful">
<lrm_rsc_op id="app_last_0" operation_key="app_promote_0" operation="promote" call-id="4" rc-code="0" op-status="0" interval="0"/>
</lrm_resource></lrm_resources></lrm></node_state>"##;
    let guests = format!("{}{promoted}", guest_running_app(0));
    let mut c = guest_cib(meta, &replica_on_host(0), &replica_on_host(1), &guests);
    add_vip(&mut c);
    c.config
        .constraints
        .location
        .push(hactl_model::LocationConstraint {
            id: "no-promoted".into(),
            rsc: "web".into(),
            node: Some("web-1".into()),
            score: Some(hactl_model::Score::NEG_INFINITY),
            role: Some(hactl_model::Role::Promoted),
            ..Default::default()
        });
    c.config
        .constraints
        .order
        .push(hactl_model::OrderConstraint {
            id: "o".into(),
            first: "vip".into(),
            then: "web".into(),
            then_action: hactl_model::OrderAction::Demote,
            ..Default::default()
        });
    let t = schedule(&c, 0).expect("schedules");
    let demote = action_id(&t, "app:1", |k| matches!(k, ActionKind::Demote));
    assert!(reaches(&t, action_id(&t, "vip", is_start), demote));
}
