//! A fence race between two nodes that lost each other, decided the way the real
//! code decides it: each side's view of the CIB (itself online, the peer lost) goes
//! through the real policy engine and the real transition engine, which ask for the
//! peer to be fenced with that side's `priority-fencing-delay`; the device adds its
//! real `pcmk_delay_base`/`pcmk_delay_max` delay (`hactl_fence::device`, drawn at
//! random per fencing as the fencer does). The race itself runs in virtual time: the
//! first fence to land powers the other node off, so its own fence never happens.
//! What is simulated is only the clock and the power switch; end to end with real
//! daemons this needs two-node mode (a two-node cluster has no quorum after a cut
//! today, so neither side fences).

mod common;

use hactl_controller::engine::{Command, Engine, EngineConfig};
use hactl_fence::cluster::devices;
use hactl_model::{AgentSpec, Cib, Group, OpRecord, OpSpec, Primitive, Resource, ResourceHistory};
use hactl_policy::schedule;

const NOW_S: i64 = 1_700_000_000;
/// How long the fence agent itself takes once it runs (fence_xvm to fence_virtd).
const AGENT_MS: u64 = 150;

fn prim(id: &str) -> Primitive {
    Primitive {
        id: id.into(),
        agent: AgentSpec::parse("ocf:heartbeat:Dummy").unwrap(),
        ops: vec![OpSpec {
            name: "monitor".into(),
            interval_ms: 10_000,
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn started(c: &mut Cib, node: &str, rsc: &str, call_id: i64) {
    let st = c.status.nodes.get_mut(node).unwrap();
    st.resources.insert(
        rsc.into(),
        ResourceHistory {
            agent: AgentSpec::parse("ocf:heartbeat:Dummy").unwrap(),
            ops: vec![OpRecord {
                operation: "start".into(),
                call_id,
                rc: 0,
                expected_rc: Some(0),
                last_run: Some(NOW_S - 60),
                last_rc_change: Some(NOW_S - 60),
                ..Default::default()
            }],
            ..Default::default()
        },
    );
}

/// The seed's two-node cluster: one fence_xvm device for both nodes (a random delay
/// of up to `delay_max`), the group vip + web (priority 10) on `holder`, and
/// `priority-fencing-delay` (`None`: unset).
fn cluster(holder: &str, priority_delay: Option<&str>, delay_max: &str) -> Cib {
    let mut c = common::online_cib(&["n1", "n2"]);
    let p = &mut c.config.properties;
    p.insert("stonith-enabled".into(), "true".into());
    if let Some(d) = priority_delay {
        p.insert("priority-fencing-delay".into(), d.into());
    }
    let mut fence = Primitive {
        id: "vmfence".into(),
        agent: AgentSpec::parse("stonith:fence_xvm").unwrap(),
        ..Default::default()
    };
    fence
        .params
        .insert("pcmk_host_map".into(), "n1:n1;n2:n2".into());
    fence
        .params
        .insert("pcmk_delay_max".into(), delay_max.into());
    c.config.resources.push(Resource::Primitive(fence));
    let mut g = Group {
        id: "web".into(),
        children: vec![prim("vip"), prim("haproxy")],
        ..Default::default()
    };
    g.meta.insert("priority".into(), "10".into());
    c.config.resources.push(Resource::Group(g));
    started(&mut c, holder, "vip", 2);
    started(&mut c, holder, "haproxy", 3);
    c
}

/// `me`'s view after the cut: the peer is lost (not a clean leave), `me` is the DC
/// and keeps quorum (what two-node mode grants the side that goes on to fence).
fn view(c: &Cib, me: &str, peer: &str) -> Cib {
    let mut v = c.clone();
    v.status.dc = Some(me.into());
    let st = v.status.nodes.get_mut(peer).unwrap();
    st.member = Some(false);
    st.controller_online = Some(false);
    st.join = Some("down".into());
    v
}

/// What `me`'s DC asks for after the cut: (target, priority delay ms).
fn fence_request(c: &Cib, me: &str, peer: &str) -> (String, u64) {
    let v = view(c, me, peer);
    let t = schedule(&v, NOW_S).expect("schedules");
    let mut e = Engine::new(EngineConfig::new(me));
    let cmds = e.start(&t, &v, 0).expect("starts");
    let fences: Vec<_> = cmds
        .iter()
        .filter_map(|c| match c {
            Command::Fence(f) => Some(f.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(fences.len(), 1, "{me} asks for one fencing: {cmds:?}");
    assert_eq!(fences[0].executor, me);
    (fences[0].target.clone(), fences[0].delay_ms)
}

/// One race: when each side's fence lands (its delays, then the agent); the earlier
/// one powers the other node off before its own lands. Returns the fenced node.
fn race(c: &Cib) -> String {
    let (devs, bad) = devices(&c.config);
    assert!(bad.is_empty(), "{bad:?}");
    let dev = &devs["vmfence"];
    let land = |me: &str, peer: &str| -> (u64, String) {
        let (target, delay) = fence_request(c, me, peer);
        let device = dev.delay("reboot", &target).as_millis() as u64;
        (delay + device + AGENT_MS, target)
    };
    let (t1, victim1) = land("n1", "n2");
    let (t2, victim2) = land("n2", "n1");
    assert_eq!((victim1.as_str(), victim2.as_str()), ("n2", "n1"));
    // A tie would fence both: with a random delay it is one chance in thousands of
    // runs; count it as the worst outcome.
    if t1 == t2 {
        return "both".into();
    }
    if t1 < t2 {
        victim1
    } else {
        victim2
    }
}

#[test]
fn the_node_without_the_priority_group_is_fenced_in_every_race() {
    for holder in ["n1", "n2"] {
        let c = cluster(holder, Some("5s"), "2s");
        let other = if holder == "n1" { "n2" } else { "n1" };
        for run in 0..20 {
            let fenced = race(&c);
            assert_eq!(fenced, other, "run {run}: the group ran on {holder}");
        }
        // The survivor keeps the group where it is: it runs once, nothing moves.
        let mut after = view(&c, holder, other);
        after.status.nodes.get_mut(other).unwrap().fenced_at = Some(NOW_S);
        let t = schedule(&after, NOW_S).expect("schedules");
        let moves: Vec<_> = t
            .summary
            .iter()
            .filter(|l| l.contains("vip") || l.contains("haproxy"))
            .collect();
        assert!(moves.is_empty(), "{moves:?}");
    }
}

#[test]
fn without_priority_fencing_delay_the_random_delay_alone_decides() {
    // The same cluster without the property: the random device delay picks the
    // survivor, so the group's node loses some of the races.
    let c = cluster("n1", None, "2s");
    let fenced: Vec<String> = (0..40).map(|_| race(&c)).collect();
    assert!(
        fenced.iter().any(|f| f == "n1") && fenced.iter().any(|f| f == "n2"),
        "{fenced:?}"
    );
}

#[test]
fn the_delay_applies_only_without_a_majority_and_only_to_the_top_priority_node() {
    let c = cluster("n1", Some("5s"), "0");
    // n2 fencing n1 (which holds the group) waits; n1 fencing n2 does not.
    assert_eq!(fence_request(&c, "n2", "n1").1, 5_000);
    assert_eq!(fence_request(&c, "n1", "n2").1, 0);
    // Equal priorities (nothing runs anywhere): no one waits.
    let mut idle = c.clone();
    for st in idle.status.nodes.values_mut() {
        st.resources.clear();
    }
    assert_eq!(fence_request(&idle, "n2", "n1").1, 0);
    // Three nodes, two of them still together: a majority fences without waiting.
    let mut three = c.clone();
    let n3 = three.config.nodes[1].clone();
    three.config.nodes.push(hactl_model::Node {
        id: "n3".into(),
        name: "n3".into(),
        ..n3
    });
    let st = three.status.nodes["n2"].clone();
    three.status.nodes.insert("n3".into(), st);
    assert_eq!(fence_request(&three, "n2", "n1").1, 0);
}
