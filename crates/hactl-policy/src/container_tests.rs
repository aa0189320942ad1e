//! Resources inside containers (`container.rs`; wave2 cases container-1 and
//! container-2): they follow the container, are not probed, and their failure
//! restarts the container with everything inside it.

use crate::stop_reason_tests::{cib, dummy, running, summary};
use crate::{schedule, ActionKind};

fn inside(id: &str, container: &str) -> String {
    dummy(
        id,
        &format!(
            r##"<meta_attributes id="{id}-m"><nvpair id="{id}-c" name="container" value="{container}"/></meta_attributes>"##
        ),
    )
}

/// The history of `id` started and then failing its monitor (rc 1).
fn failed(id: &str) -> String {
    running(id, 2).replace(
        "</lrm_resource>",
        &format!(
            r##"<lrm_rsc_op id="{id}_last_failure_0" operation_key="{id}_monitor_10000" operation="monitor" call-id="3" rc-code="1" op-status="0" interval="10000"/></lrm_resource>"##
        ),
    )
}

/// A contained resource goes where its container is placed (here pushed to
/// n2 by a location constraint), starts after it, and is never probed.
#[test]
fn a_contained_resource_follows_its_container_unprobed() {
    let rsc = format!("{}{}", dummy("vm", ""), inside("app", "vm"));
    let cons = r##"<rsc_location id="l" rsc="vm" node="n2" score="100"/>"##;
    let t = schedule(&cib(&rsc, cons, "", ""), 0).expect("schedules");
    let find = |rsc: &str, kind: &ActionKind| {
        t.actions.iter().find(|a| {
            a.resource.as_deref() == Some(rsc)
                && std::mem::discriminant(&a.kind) == std::mem::discriminant(kind)
        })
    };
    let vm = find("vm", &ActionKind::Start).expect("vm starts");
    let app = find("app", &ActionKind::Start).expect("app starts");
    assert_eq!(app.node.as_deref(), Some("n2"));
    assert!(
        t.edges
            .iter()
            .any(|e| e.before == vm.id && e.after == app.id),
        "app starts after vm"
    );
    assert!(
        find("app", &ActionKind::Probe).is_none(),
        "app is not probed"
    );
    assert!(find("vm", &ActionKind::Probe).is_some(), "vm is probed");
}

/// A failed contained resource restarts its container where it runs, and the
/// other resource inside restarts with it.
#[test]
fn a_contained_failure_restarts_the_container() {
    let rsc = format!(
        "{}{}{}",
        dummy("vm", ""),
        inside("app", "vm"),
        inside("db", "vm")
    );
    let n1 = format!("{}{}{}", running("vm", 1), failed("app"), running("db", 2));
    let got = summary(&cib(&rsc, "", &n1, ""));
    assert_eq!(
        got,
        [
            "Restart vm ( n1 )",
            "Recover app ( n1 )",
            "Restart db ( n1 ) due to required vm start"
        ]
    );
}
