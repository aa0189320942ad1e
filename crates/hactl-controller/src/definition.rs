//! The executing node's side of definition changes (the scheduler's is
//! `hactl_policy`'s `digest.rs`): each result carries the digest of the parameters
//! the operation ran with and, for an agent that can reload, which of them a reload
//! cannot apply; a stop runs with what the resource was started with; a reload runs
//! the agent's `reload-agent` (OCF 1.1) or `reload` (older agents).

use hactl_exec::{AgentSpec, Executor};
use hactl_model::digest::{force_restart_list, op_digest, restart_digest};

use crate::ops::OpDetails;

/// `op-digest` of what `d` runs with.
pub(crate) fn digest_of(d: &OpDetails) -> String {
    let params = d.params.iter().chain(d.op_params.iter());
    op_digest(
        params.map(|(k, v)| (k.as_str(), v.as_str())),
        d.interval_ms,
        d.timeout_ms,
    )
}

/// `op-force-restart` and `op-restart-digest` for a one-shot operation of an
/// agent that can reload (Pacemaker records them for the operations whose
/// parameters are the start's); None otherwise, or when the meta-data cannot be
/// read.
pub(crate) async fn restart_of(
    exec: &Executor,
    agent: &AgentSpec,
    d: &OpDetails,
) -> Option<(String, String)> {
    let relevant = matches!(
        d.op.as_str(),
        "start" | "monitor" | "promote" | "demote" | "reload-agent" | "migrate_to" | "migrate_from"
    );
    if d.interval_ms > 0 || !relevant || d.agent.class != "ocf" {
        return None;
    }
    let md = exec.metadata(agent).await.ok()?;
    let list = force_restart_list(md.non_reloadable()?);
    let params = d.params.iter().chain(d.op_params.iter());
    let digest = restart_digest(params.map(|(k, v)| (k.as_str(), v.as_str())), &list);
    Some((list, digest))
}

/// The agent action that carries out a reload.
pub(crate) async fn reload_action(exec: &Executor, agent: &AgentSpec) -> &'static str {
    let ocf_1_1 = exec
        .metadata(agent)
        .await
        .ok()
        .is_some_and(|md| md.supports("reload-agent"));
    if ocf_1_1 {
        "reload-agent"
    } else {
        "reload"
    }
}

/// A stop runs with the agent and parameters of the start it undoes (recorded
/// in `started`), not with the current definition: after `resource update VIP
/// ip=…` the restart must remove the old address, not the new one (Pacemaker's
/// controller keeps the start's parameters for the stop the same way).
pub(crate) fn stop_as_started(d: &OpDetails, started: &[OpDetails]) -> OpDetails {
    let mut out = d.clone();
    if d.op != "stop" {
        return out;
    }
    if let Some(s) = started.iter().find(|s| s.rsc == d.rsc) {
        out.agent = s.agent.clone();
        out.params = s.params.clone();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn details(op: &str, ip: &str) -> OpDetails {
        OpDetails {
            rsc: "vip".into(),
            agent: hactl_model::AgentSpec::parse("ocf:hactl:VIP").unwrap(),
            params: [("ip".to_string(), ip.to_string())].into_iter().collect(),
            op: op.into(),
            interval_ms: 0,
            timeout_ms: 20_000,
            check_level: None,
            op_params: Default::default(),
        }
    }

    #[test]
    fn a_stop_undoes_the_start_it_follows() {
        let started = [details("start", "10.0.0.1")];
        let stop = stop_as_started(&details("stop", "10.0.0.2"), &started);
        assert_eq!(stop.params["ip"], "10.0.0.1");
        // Without a start seen here (the daemon restarted), the definition's.
        let stop = stop_as_started(&details("stop", "10.0.0.2"), &[]);
        assert_eq!(stop.params["ip"], "10.0.0.2");
        // Other operations run with the definition.
        let start = stop_as_started(&details("start", "10.0.0.2"), &started);
        assert_eq!(start.params["ip"], "10.0.0.2");
    }
}
