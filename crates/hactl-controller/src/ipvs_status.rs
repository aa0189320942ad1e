//! Publishes the state of the IPVS services this node holds ([`hactl_exec::ipvs_state`])
//! as transient attributes of this node ([`hactl_model::ipvs_status`]), where
//! `hactl status`, `--output json` and `hactl mon` on any node read it.
//!
//! The executor bounds how often the state changes; here each change becomes at most
//! one Raft entry (a batch of the attributes that differ from the CIB). The CIB is
//! compared again every [`RECHECK`], so state lost with a rejoin (transient
//! attributes are cleared when a node leaves) or left by an earlier run of the daemon
//! is put right.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use hactl_exec::ipvs_state::StatusMap;
use hactl_model::change::Change;
use hactl_model::ipvs_status::{attr_name, resource_of};
use hactl_model::Cib;
use tokio::sync::watch;
use tracing::{debug, warn};

use crate::controller::Host;

const RECHECK: Duration = Duration::from_secs(30);
/// After a failed proposal (no leader yet, no quorum).
const RETRY: Duration = Duration::from_secs(1);

/// The attribute changes that make `me`'s IPVS attributes in `cib` say `want`.
pub fn changes(cib: &Cib, me: &str, want: &StatusMap) -> Vec<Change> {
    let mut wanted: BTreeMap<String, String> = BTreeMap::new();
    for (rsc, st) in want {
        match serde_json::to_string(st) {
            Ok(v) => {
                wanted.insert(attr_name(rsc), v);
            }
            Err(e) => warn!(node = %me, resource = %rsc, error = %e, "ipvs state not encodable"),
        }
    }
    let have: BTreeMap<&String, &String> = cib
        .status
        .nodes
        .get(me)
        .map(|n| {
            n.attributes
                .iter()
                .filter(|(k, _)| resource_of(k).is_some())
                .collect()
        })
        .unwrap_or_default();
    let set = |name: &String, value: Option<String>| Change::SetTransientAttribute {
        node: me.to_string(),
        name: name.clone(),
        value,
    };
    let mut out: Vec<Change> = have
        .keys()
        .filter(|k| !wanted.contains_key(**k))
        .map(|k| set(k, None))
        .collect();
    out.extend(
        wanted
            .iter()
            .filter(|(k, v)| have.get(k) != Some(v))
            .map(|(k, v)| set(k, Some(v.clone()))),
    );
    out
}

/// Runs for the life of the controller.
pub async fn publish(host: Arc<dyn Host>, mut rx: watch::Receiver<StatusMap>) {
    let me = host.me();
    loop {
        let want = rx.borrow_and_update().clone();
        let todo = changes(&host.cib(), &me, &want);
        let mut wait = RECHECK;
        if !todo.is_empty() {
            let n = todo.len();
            match host.propose(Change::Batch { changes: todo }).await {
                Ok(()) => debug!(node = %me, changes = n, "ipvs state published"),
                Err(e) => {
                    debug!(node = %me, error = %e, "ipvs state not published yet");
                    wait = RETRY;
                }
            }
        }
        tokio::select! {
            r = rx.changed() => if r.is_err() { return },
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hactl_model::ipvs_status::IpvsServiceState;

    fn cib_with(attrs: &[(&str, &str)]) -> Cib {
        let mut cib = Cib::default();
        let st = cib.status.nodes.entry("n1".into()).or_default();
        for (k, v) in attrs {
            st.attributes.insert(k.to_string(), v.to_string());
        }
        cib
    }

    #[test]
    fn only_what_differs_is_proposed_and_stale_services_are_cleared() {
        let web = IpvsServiceState {
            service: "10.0.0.100:80/tcp".into(),
            ..Default::default()
        };
        let want: StatusMap = [("web".to_string(), web.clone())].into();
        let json = serde_json::to_string(&web).unwrap();
        let cib = cib_with(&[
            ("hactl-ipvs-status-old", "{}"),
            ("hactl-ipvs-status-web", &json),
            ("rack", "r1"),
        ]);
        let c = changes(&cib, "n1", &want);
        assert_eq!(
            c,
            vec![Change::SetTransientAttribute {
                node: "n1".into(),
                name: "hactl-ipvs-status-old".into(),
                value: None
            }]
        );
        let c = changes(&cib_with(&[]), "n1", &want);
        assert!(
            matches!(&c[..], [Change::SetTransientAttribute { value: Some(v), .. }] if *v == json)
        );
    }
}
