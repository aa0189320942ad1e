//! A monitor for the Stopped role watches that a resource stays stopped: the
//! controller expects "not running" (rc 7) from it, and "running" from the others.

mod common;

use hactl_controller::ops::{expected_rc, rc};
use hactl_model::{AgentSpec, OpSpec, Primitive, Resource, Role};

#[test]
fn a_stopped_role_monitor_expects_not_running() {
    let mut cib = common::online_cib(&["n1"]);
    let monitor = |interval_ms, role| OpSpec {
        name: "monitor".into(),
        interval_ms,
        role,
        ..Default::default()
    };
    cib.config.resources.push(Resource::Primitive(Primitive {
        id: "r".into(),
        agent: AgentSpec::parse("ocf:heartbeat:Dummy").unwrap(),
        ops: vec![
            monitor(10_000, None),
            monitor(20_000, Some(Role::Stopped)),
            monitor(30_000, Some(Role::Promoted)),
        ],
        ..Default::default()
    }));
    assert_eq!(expected_rc(&cib, "r", "monitor", 10_000), rc::OK);
    assert_eq!(expected_rc(&cib, "r", "monitor", 20_000), rc::NOT_RUNNING);
    assert_eq!(
        expected_rc(&cib, "r", "monitor", 30_000),
        rc::RUNNING_PROMOTED
    );
}
