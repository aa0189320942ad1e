//! The delivery path with real agents (a shell script that appends what it was told
//! to a file): which alert gets which event, the outcome counters, and the bounded
//! queue. Each test routes one CIB change, then closes the queues and waits for the
//! workers, so nothing here waits on time.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use hactl_model::alerts::AlertKind;

use super::*;

/// An agent at `DIR/ID.sh` that appends `SEQ KIND NODE ATTRIBUTE` to `DIR/ID.out`,
/// then does what its recipient says: `fail` exits 1, `hang` never returns, anything
/// else succeeds.
fn agent(dir: &Path, id: &str) -> String {
    let path = dir.join(format!("{id}.sh"));
    let script = format!(
        "#!/bin/sh\n\
         echo \"$CRM_alert_node_sequence $CRM_alert_kind $CRM_alert_node $CRM_alert_attribute_name\" >> {}\n\
         case \"$CRM_alert_recipient\" in\n\
           fail) echo broken >&2; exit 1 ;;\n\
           hang) exec sleep 600 ;;\n\
         esac\n",
        dir.join(format!("{id}.out")).display()
    );
    std::fs::write(&path, script).expect("write the agent");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    path.display().to_string()
}

/// What the agent of alert `id` was told, in order.
fn told(dir: &Path, id: &str) -> Vec<String> {
    let text = std::fs::read_to_string(dir.join(format!("{id}.out"))).unwrap_or_default();
    text.lines().map(|l| l.trim_end().to_string()).collect()
}

fn alert(dir: &Path, id: &str, kinds: Option<Vec<AlertKind>>, attrs: &[&str]) -> Alert {
    Alert {
        id: id.into(),
        path: agent(dir, id),
        select_kind: kinds,
        select_attributes: attrs.iter().map(|a| a.to_string()).collect(),
        ..Default::default()
    }
}

fn recipient(value: &str) -> AlertRecipient {
    AlertRecipient {
        id: value.into(),
        value: value.into(),
        ..Default::default()
    }
}

/// A CIB change seen on n1: node n3 lost when `lose_n3`, then each of `attrs` set
/// on n1 (events in that order: membership first, attributes by name).
fn change(alerts: Vec<Alert>, lose_n3: bool, attrs: &[&str]) -> (Cib, Cib) {
    let mut old = Cib::default();
    old.status.nodes.entry("n3".into()).or_default().member = Some(true);
    old.config.alerts = alerts;
    let mut new = old.clone();
    if lose_n3 {
        new.status.nodes.entry("n3".into()).or_default().member = Some(false);
    }
    let n1 = new.status.nodes.entry("n1".into()).or_default();
    for a in attrs {
        n1.attributes.insert(a.to_string(), "1".into());
    }
    (old, new)
}

/// Routes the change from n1's point of view with queues of `capacity`, and waits
/// until every worker has delivered what it was given.
async fn deliver_change(old: &Cib, new: &Cib, capacity: usize) -> Arc<AlertCounters> {
    let c = Arc::new(AlertCounters::default());
    let mut r = Router::new("n1".into(), c.clone(), capacity);
    r.route(old, new);
    r.finish().await;
    c
}

/// `select_kind` and `select_attributes` decide, in the watcher's path, which
/// alert's agent runs for which event.
#[tokio::test]
async fn each_alert_gets_the_events_it_selects() {
    let d = tempfile::tempdir().expect("tempdir");
    let dir = d.path();
    let alerts = vec![
        alert(dir, "all", None, &[]),
        alert(dir, "nodes", Some(vec![AlertKind::Node]), &[]),
        alert(dir, "pingd", Some(vec![AlertKind::Attribute]), &["pingd"]),
        alert(dir, "fencing", Some(vec![AlertKind::Fencing]), &[]),
    ];
    let (old, new) = change(alerts, true, &["pingd", "standby"]);
    let c = deliver_change(&old, &new, 16).await;
    assert_eq!(
        told(dir, "all"),
        [
            "1 node n3",
            "2 attribute n1 pingd",
            "3 attribute n1 standby"
        ]
    );
    assert_eq!(told(dir, "nodes"), ["1 node n3"]);
    assert_eq!(told(dir, "pingd"), ["2 attribute n1 pingd"]);
    assert_eq!(told(dir, "fencing"), Vec::<String>::new());
    assert_eq!(c.delivered.load(Ordering::Relaxed), 5);
}

/// One event to three recipients: one run succeeds, one fails, one hangs and is
/// killed at the alert's timeout; each is counted once, under its outcome.
#[tokio::test]
async fn delivered_failed_and_timed_out_runs_are_counted() {
    let d = tempfile::tempdir().expect("tempdir");
    let mut a = alert(d.path(), "a", None, &[]);
    a.recipients = vec![recipient("ok"), recipient("fail"), recipient("hang")];
    a.meta.insert("timeout".into(), "300ms".into());
    let (old, new) = change(vec![a], true, &[]);
    let c = deliver_change(&old, &new, 16).await;
    assert_eq!(told(d.path(), "a").len(), 3);
    let n = |v: &AtomicU64| v.load(Ordering::Relaxed);
    assert_eq!(
        (
            n(&c.delivered),
            n(&c.failed),
            n(&c.timed_out),
            n(&c.dropped)
        ),
        (1, 1, 1, 0)
    );
}

/// Six events reach a queue of four before the worker runs (this runtime has one
/// thread, and routing never yields): the two oldest are dropped and counted, the
/// four newest delivered in order.
#[tokio::test]
async fn a_full_queue_drops_its_oldest_events_and_counts_them() {
    let d = tempfile::tempdir().expect("tempdir");
    let a = alert(d.path(), "a", None, &[]);
    let (old, new) = change(vec![a], false, &["a1", "a2", "a3", "a4", "a5", "a6"]);
    let c = deliver_change(&old, &new, 4).await;
    assert_eq!(
        told(d.path(), "a"),
        [
            "3 attribute n1 a3",
            "4 attribute n1 a4",
            "5 attribute n1 a5",
            "6 attribute n1 a6"
        ]
    );
    assert_eq!(c.dropped.load(Ordering::Relaxed), 2);
    assert_eq!(c.delivered.load(Ordering::Relaxed), 4);
}

/// The variables an event does not have are unset, not empty, as Pacemaker leaves
/// them: Pacemaker's SNMP sample puts "n/a" in a trap only for an unset one, and an
/// empty string makes snmptrap refuse the whole trap (tests/tests/netns_alerts.rs).
#[test]
fn an_event_sets_only_its_own_variables() {
    let names = |e: AlertEvent| -> Vec<String> {
        let job = Job {
            alert: Alert::default(),
            event: e,
            seq: 1,
            at: SystemTime::now(),
        };
        let env = environment("n1", &job, &recipient("r"));
        env.into_iter().map(|(k, _)| k).collect()
    };
    let start = names(AlertEvent {
        kind: Some(AlertKind::Resource),
        node: "n1".into(),
        rsc: "d1".into(),
        task: "start".into(),
        desc: "ok".into(),
        rc: Some(0),
        target_rc: Some(0),
        status: Some(0),
        ..Default::default()
    });
    for k in ["rsc", "task", "interval", "rc", "target_rc", "status"] {
        assert!(
            start.contains(&format!("CRM_alert_{k}")),
            "{k} in {start:?}"
        );
    }
    for k in ["attribute_name", "attribute_value"] {
        assert!(
            !start.contains(&format!("CRM_alert_{k}")),
            "{k} in {start:?}"
        );
    }
    let lost = names(AlertEvent {
        kind: Some(AlertKind::Node),
        node: "n3".into(),
        desc: "lost".into(),
        ..Default::default()
    });
    for k in [
        "rsc",
        "task",
        "interval",
        "rc",
        "target_rc",
        "status",
        "attribute_name",
    ] {
        assert!(!lost.contains(&format!("CRM_alert_{k}")), "{k} in {lost:?}");
    }
    assert!(lost.contains(&"CRM_alert_node".to_string()), "{lost:?}");
}
