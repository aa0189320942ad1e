//! Cluster properties read into types. Both the old (`stonith-*`) and the Pacemaker 3
//! (`fencing-*`) spellings are accepted; when both are set, the newer one wins.

use serde::{Deserialize, Serialize};

use crate::values::{parse_bool, parse_interval_ms};
use crate::{Attrs, ModelError, NoQuorumPolicy};

/// Typed cluster options with Pacemaker's defaults.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClusterOptions {
    pub stonith_enabled: bool,
    /// `reboot` or `off`.
    pub stonith_action: String,
    pub stonith_timeout_ms: u64,
    /// Pacemaker's `stonith-watchdog-timeout`: 0 = off; else every node runs a
    /// watchdog, and a node lost this long has stopped its resources or been reset by
    /// its watchdog (the split-brain hold derives from it).
    pub stonith_watchdog_timeout_ms: u64,
    pub no_quorum_policy: NoQuorumPolicy,
    pub symmetric_cluster: bool,
    pub maintenance_mode: bool,
    pub stop_all_resources: bool,
    pub start_failure_is_fatal: bool,
    pub cluster_recheck_interval_ms: u64,
    /// Fence nodes whose state is unknown at startup (Pacemaker's `startup-fencing`).
    pub startup_fencing: bool,
    pub stop_orphan_resources: bool,
    /// Cancel recurring operations removed from the configuration where they still
    /// run (`cancel-removed-actions`, formerly `stop-orphan-actions`).
    pub stop_orphan_actions: bool,
    /// Heartbeat profile for the membership layer (`default`, `fast`).
    pub heartbeat_profile: String,
    /// Pacemaker's `priority-fencing-delay`: 0 = off; else fencing of a lost node
    /// that holds the highest-priority resources waits this long, when the fencing
    /// side has no majority (a two-node split), so that node wins the race.
    pub priority_fencing_delay_ms: u64,
    /// How many transitions `hactl cluster history` keeps (hactl's own property,
    /// [`crate::transitions::LIMIT_PROPERTY`]).
    pub transition_history_limit: usize,
    /// Pacemaker's `shutdown-lock`: a resource active on a node that shuts down
    /// cleanly stays locked to it (stopped, not recovered elsewhere) until the node
    /// returns or `shutdown-lock-limit` passes. The scheduler honours it for
    /// imported CIBs; a running hactl cluster refuses it
    /// (`live.rs`).
    #[serde(default)]
    pub shutdown_lock: bool,
    /// `shutdown-lock-limit`: 0 = a lock lasts until the node returns.
    #[serde(default)]
    pub shutdown_lock_limit_ms: u64,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        ClusterOptions {
            stonith_enabled: true,
            stonith_action: "reboot".into(),
            stonith_timeout_ms: 60_000,
            stonith_watchdog_timeout_ms: 0,
            no_quorum_policy: NoQuorumPolicy::Stop,
            symmetric_cluster: true,
            maintenance_mode: false,
            stop_all_resources: false,
            start_failure_is_fatal: true,
            cluster_recheck_interval_ms: 15 * 60_000,
            startup_fencing: true,
            stop_orphan_resources: true,
            stop_orphan_actions: true,
            heartbeat_profile: "default".into(),
            priority_fencing_delay_ms: 0,
            transition_history_limit: crate::transitions::DEFAULT_LIMIT,
            shutdown_lock: false,
            shutdown_lock_limit_ms: 0,
        }
    }
}

/// Known property names, for validation and `property list`.
pub const KNOWN_PROPERTIES: &[&str] = &[
    "stonith-enabled",
    "fencing-enabled",
    "stonith-action",
    "fencing-action",
    "stonith-timeout",
    "fencing-timeout",
    "stonith-watchdog-timeout",
    "fencing-watchdog-timeout",
    "no-quorum-policy",
    "symmetric-cluster",
    "maintenance-mode",
    "stop-all-resources",
    "start-failure-is-fatal",
    "cluster-recheck-interval",
    "startup-fencing",
    "stop-orphan-resources",
    "stop-removed-resources",
    "stop-orphan-actions",
    "cancel-removed-actions",
    "heartbeat-profile",
    "priority-fencing-delay",
    crate::transitions::LIMIT_PROPERTY,
    "shutdown-lock",
    "shutdown-lock-limit",
];

impl ClusterOptions {
    /// Property `name` as these options have it, spelled the way an operator writes
    /// it (`true`, `60s`, `stop`); None for a name hactl does not know. With
    /// [`ClusterOptions::default`] these are the defaults `property list --all` shows.
    pub fn property_value(&self, name: &str) -> Option<String> {
        let b = |v: bool| v.to_string();
        let ms = crate::values::format_interval_ms;
        Some(match name {
            "stonith-enabled" | "fencing-enabled" => b(self.stonith_enabled),
            "stonith-action" | "fencing-action" => self.stonith_action.clone(),
            "stonith-timeout" | "fencing-timeout" => ms(self.stonith_timeout_ms),
            "stonith-watchdog-timeout" | "fencing-watchdog-timeout" => {
                ms(self.stonith_watchdog_timeout_ms)
            }
            "no-quorum-policy" => self.no_quorum_policy.to_string(),
            "symmetric-cluster" => b(self.symmetric_cluster),
            "maintenance-mode" => b(self.maintenance_mode),
            "stop-all-resources" => b(self.stop_all_resources),
            "start-failure-is-fatal" => b(self.start_failure_is_fatal),
            "cluster-recheck-interval" => ms(self.cluster_recheck_interval_ms),
            "startup-fencing" => b(self.startup_fencing),
            "stop-orphan-resources" | "stop-removed-resources" => b(self.stop_orphan_resources),
            "stop-orphan-actions" | "cancel-removed-actions" => b(self.stop_orphan_actions),
            "heartbeat-profile" => self.heartbeat_profile.clone(),
            "priority-fencing-delay" => ms(self.priority_fencing_delay_ms),
            crate::transitions::LIMIT_PROPERTY => self.transition_history_limit.to_string(),
            "shutdown-lock" => b(self.shutdown_lock),
            "shutdown-lock-limit" => ms(self.shutdown_lock_limit_ms),
            _ => return None,
        })
    }

    pub fn from_properties(p: &Attrs) -> Result<ClusterOptions, ModelError> {
        let mut o = ClusterOptions::default();
        let get = |old: &str, new: &str| p.get(new).or_else(|| p.get(old));
        let boolean = |name: &str, v: &String| {
            parse_bool(v).ok_or_else(|| ModelError::BadValue {
                what: "boolean property",
                value: format!("{name}={v}"),
                expected: "true, false, yes, no, on, off, 1, 0".into(),
            })
        };
        let interval = |name: &str, v: &String| {
            parse_interval_ms(v).ok_or_else(|| ModelError::BadInterval {
                context: format!("property {name}"),
                value: v.clone(),
            })
        };
        if let Some(v) = get("stonith-enabled", "fencing-enabled") {
            o.stonith_enabled = boolean("stonith-enabled", v)?;
        }
        if let Some(v) = get("stonith-action", "fencing-action") {
            let v = v.trim().to_ascii_lowercase();
            o.stonith_action = match v.as_str() {
                "reboot" | "off" => v,
                "poweroff" => "off".into(),
                _ => {
                    return Err(ModelError::BadValue {
                        what: "stonith-action",
                        value: v,
                        expected: "reboot, off".into(),
                    })
                }
            };
        }
        if let Some(v) = get("stonith-timeout", "fencing-timeout") {
            o.stonith_timeout_ms = interval("stonith-timeout", v)?;
        }
        if let Some(v) = p.get("priority-fencing-delay") {
            o.priority_fencing_delay_ms = interval("priority-fencing-delay", v)?;
        }
        if let Some(v) = get("stonith-watchdog-timeout", "fencing-watchdog-timeout") {
            o.stonith_watchdog_timeout_ms = interval("stonith-watchdog-timeout", v)?;
        }
        if let Some(v) = p.get("no-quorum-policy") {
            o.no_quorum_policy = v.parse()?;
        }
        if let Some(v) = p.get("symmetric-cluster") {
            o.symmetric_cluster = boolean("symmetric-cluster", v)?;
        }
        if let Some(v) = p.get("maintenance-mode") {
            o.maintenance_mode = boolean("maintenance-mode", v)?;
        }
        if let Some(v) = p.get("stop-all-resources") {
            o.stop_all_resources = boolean("stop-all-resources", v)?;
        }
        if let Some(v) = p.get("start-failure-is-fatal") {
            o.start_failure_is_fatal = boolean("start-failure-is-fatal", v)?;
        }
        if let Some(v) = p.get("cluster-recheck-interval") {
            o.cluster_recheck_interval_ms = interval("cluster-recheck-interval", v)?;
        }
        if let Some(v) = p.get("startup-fencing") {
            o.startup_fencing = boolean("startup-fencing", v)?;
        }
        // Pacemaker 3 renamed it stop-removed-resources.
        if let Some(v) = get("stop-orphan-resources", "stop-removed-resources") {
            o.stop_orphan_resources = boolean("stop-orphan-resources", v)?;
        }
        if let Some(v) = get("stop-orphan-actions", "cancel-removed-actions") {
            o.stop_orphan_actions = boolean("stop-orphan-actions", v)?;
        }
        if let Some(v) = p.get("shutdown-lock") {
            o.shutdown_lock = boolean("shutdown-lock", v)?;
        }
        if let Some(v) = p.get("shutdown-lock-limit") {
            o.shutdown_lock_limit_ms = interval("shutdown-lock-limit", v)?;
        }
        if let Some(v) = p.get(crate::transitions::LIMIT_PROPERTY) {
            o.transition_history_limit = history_limit(v)?;
        }
        if let Some(v) = p.get("heartbeat-profile") {
            o.heartbeat_profile = match v.as_str() {
                "default" | "fast" => v.clone(),
                _ => {
                    return Err(ModelError::BadValue {
                        what: "heartbeat-profile",
                        value: v.clone(),
                        expected: "default, fast".into(),
                    })
                }
            };
        }
        Ok(o)
    }
}

/// `transition-history-limit`: a count up to [`crate::transitions::MAX_LIMIT`].
fn history_limit(v: &str) -> Result<usize, ModelError> {
    let max = crate::transitions::MAX_LIMIT;
    match v.trim().parse::<usize>() {
        Ok(n) if n <= max => Ok(n),
        _ => Err(ModelError::BadValue {
            what: "transition-history-limit",
            value: v.to_string(),
            expected: format!("a number of transitions from 0 to {max}"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(kv: &[(&str, &str)]) -> Attrs {
        kv.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_and_both_spellings() {
        let o = ClusterOptions::from_properties(&Attrs::new()).unwrap();
        assert!(o.stonith_enabled);
        assert_eq!(o.no_quorum_policy, NoQuorumPolicy::Stop);
        let o = ClusterOptions::from_properties(&props(&[("fencing-enabled", "false")])).unwrap();
        assert!(!o.stonith_enabled);
        let o = ClusterOptions::from_properties(&props(&[("stonith-enabled", "no")])).unwrap();
        assert!(!o.stonith_enabled);
        let o = ClusterOptions::from_properties(&props(&[
            ("stonith-enabled", "false"),
            ("fencing-enabled", "true"),
        ]))
        .unwrap();
        assert!(o.stonith_enabled);
        let o = ClusterOptions::from_properties(&props(&[("stop-removed-resources", "false")]))
            .unwrap();
        assert!(!o.stop_orphan_resources, "Pacemaker 3's name for it");
    }

    /// `property list --all` printed "(default)" instead of the defaults: every
    /// known property has its default spelled out, and reading those spellings back
    /// gives the defaults again.
    #[test]
    fn every_known_property_has_a_default_that_reads_back() {
        let d = ClusterOptions::default();
        let spelled: Attrs = KNOWN_PROPERTIES
            .iter()
            .map(|k| {
                let v = d.property_value(k).unwrap_or_else(|| panic!("{k}"));
                (k.to_string(), v)
            })
            .collect();
        assert_eq!(spelled["stonith-timeout"], "1m");
        assert_eq!(spelled["cluster-recheck-interval"], "15m");
        assert_eq!(ClusterOptions::from_properties(&spelled).unwrap(), d);
        assert_eq!(d.property_value("no-such-property"), None);
    }

    #[test]
    fn bad_values_are_named() {
        let e = ClusterOptions::from_properties(&props(&[("no-quorum-policy", "panic")]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("panic") && e.contains("freeze"), "{e}");
        let e = ClusterOptions::from_properties(&props(&[("stonith-timeout", "soon")]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("stonith-timeout"), "{e}");
        let e = ClusterOptions::from_properties(&props(&[("stonith-watchdog-timeout", "-1")]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("stonith-watchdog-timeout"), "{e}");
        let o = ClusterOptions::from_properties(&props(&[("fencing-watchdog-timeout", "10s")]))
            .unwrap();
        assert_eq!(o.stonith_watchdog_timeout_ms, 10_000);
    }
}
