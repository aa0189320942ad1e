//! A clone instance (`web:1`) runs its clone's primitive, and its agent learns
//! which instance it is through Pacemaker's meta parameters.

use hactl_controller::ops::op_details;
use hactl_model::{AgentSpec, Cib, CloneSet, Node, Primitive, Resource};

fn cib() -> Cib {
    let mut c = Cib::default();
    for n in ["n1", "n2", "n3"] {
        c.config.nodes.push(Node {
            id: n.into(),
            name: n.into(),
            ..Default::default()
        });
    }
    let mut web = Primitive {
        id: "web".into(),
        agent: AgentSpec::parse("ocf:heartbeat:Dummy").unwrap(),
        ..Default::default()
    };
    web.params.insert("state".into(), "/run/web.state".into());
    c.config.resources.push(Resource::Clone(CloneSet {
        id: "web-clone".into(),
        meta: Default::default(),
        child: Box::new(Resource::Primitive(web)),
    }));
    c
}

#[test]
fn a_clone_instance_runs_its_primitive_with_the_instance_meta() {
    let d = op_details(&cib(), "web:1", "n2", "start", 0).expect("an instance is runnable");
    assert_eq!(d.agent.to_string(), "ocf:heartbeat:Dummy");
    assert_eq!(d.rsc, "web:1");
    let get = |k: &str| d.params.get(k).map(String::as_str);
    assert_eq!(get("state"), Some("/run/web.state"));
    assert_eq!(get("CRM_meta_clone"), Some("1"));
    assert_eq!(get("CRM_meta_clone_max"), Some("3"));
    assert_eq!(get("CRM_meta_clone_node_max"), Some("1"));
    assert_eq!(get("CRM_meta_globally_unique"), Some("false"));
    assert_eq!(get("CRM_meta_notify"), Some("false"));
    // Not an instance: a number past the primitive's id only.
    assert!(op_details(&cib(), "nosuch:1", "n2", "start", 0).is_none());
}
