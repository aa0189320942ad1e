//! Several histories of one resource on one node (an imported status section with
//! two `<lrm_resource>` entries of one id, CTS case inc6): each is read, and the
//! resource keeps the highest role any of them gives it, as Pacemaker does.

use hactl_model::{OpRecord, Resource, ResourceHistory};

use crate::tests::{base, dummy, running, summary};

/// A probe that found the resource stopped.
fn probed_stopped(call_id: i64) -> ResourceHistory {
    let mut h = running(call_id);
    h.ops = vec![OpRecord {
        operation: "monitor".into(),
        call_id,
        rc: 7,
        expected_rc: Some(7),
        ..Default::default()
    }];
    h
}

fn one_dummy(first: ResourceHistory, repeated: ResourceHistory) -> Vec<String> {
    let mut cib = base(&["n1", "n2"]);
    cib.config.resources.push(Resource::Primitive(dummy("d")));
    let st = cib.status.nodes.get_mut("n1").unwrap();
    st.resources.insert("d".into(), first);
    st.repeated_histories.push(("d".into(), repeated));
    summary(&cib)
}

/// The running one is the repeated history: it is not started again.
#[test]
fn a_repeated_history_that_finds_it_running_keeps_it_running() {
    assert_eq!(
        one_dummy(probed_stopped(1), running(1)),
        Vec::<String>::new()
    );
}

/// Two histories that both find it running on one node are one active copy, not
/// two (which would be "multiple active" and a restart).
#[test]
fn two_running_histories_on_one_node_are_one_active_copy() {
    assert_eq!(one_dummy(running(1), running(2)), Vec::<String>::new());
}
