//! A fence device: an agent, its parameters, and which cluster nodes it can fence
//! under which plug name (`pcmk_host_map`, `pcmk_host_list`, `pcmk_host_check`).

use crate::agent_api::{self, AgentCommand, AgentError, AgentOutcome, AgentResult};
use hactl_model::values::parse_interval_ms;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// How the fencer decides whether a device can fence a node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostCheck {
    /// Only the nodes in `pcmk_host_list` / `pcmk_host_map`.
    StaticList,
    /// Whatever the agent's `list` action prints.
    DynamicList,
    /// Ask the agent's `status` for the node's plug (exit 0 or 2 = known).
    Status,
    /// Every node.
    None,
}

impl HostCheck {
    pub fn parse(s: &str) -> Option<HostCheck> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "static-list" => HostCheck::StaticList,
            "dynamic-list" => HostCheck::DynamicList,
            "status" => HostCheck::Status,
            "none" => HostCheck::None,
            _ => return None,
        })
    }
}

/// A bad device definition.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DeviceError {
    #[error("pcmk_host_map entry {0:?} is not node:plug")]
    HostMap(String),
    #[error("pcmk_host_check {0:?} is not one of static-list, dynamic-list, status, none")]
    HostCheck(String),
    #[error("pcmk_host_check=static-list needs pcmk_host_list or pcmk_host_map")]
    EmptyStaticList,
    #[error("invalid {name} {value:?}: {why}")]
    Value {
        name: String,
        value: String,
        why: String,
    },
    #[error(transparent)]
    Agent(#[from] AgentError),
}

/// A configured fence device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FenceDevice {
    pub id: String,
    /// Agent name (`fence_xvm`) or absolute path.
    pub agent: String,
    /// Parameters passed to the agent (everything except the `pcmk_*` ones).
    pub params: BTreeMap<String, String>,
    pub host_map: BTreeMap<String, String>,
    pub host_list: Vec<String>,
    pub host_check: HostCheck,
    /// Time limit per fencing operation, retries included.
    pub timeout: Duration,
    pub retries: u32,
    /// `port` or `plug`: how this agent wants the target named on stdin.
    pub target_param: &'static str,
    /// `pcmk_delay_base`: a fixed delay before an off or reboot through this device
    /// (per target node where given as `node:delay` entries; others get none).
    pub delay_base: DelayBase,
    /// `pcmk_delay_max`: the delay is drawn at random between the base and this.
    pub delay_max: Duration,
}

/// `pcmk_delay_base`: one delay for every target, or one per node.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum DelayBase {
    #[default]
    None,
    All(Duration),
    PerNode(BTreeMap<String, Duration>),
}

impl DelayBase {
    fn parse(v: &str) -> Option<DelayBase> {
        if !v.contains(':') {
            return parse_duration(v).map(DelayBase::All);
        }
        let map = parse_host_map(v).ok()?;
        let mut out = BTreeMap::new();
        for (node, d) in map {
            out.insert(node, parse_duration(&d)?);
        }
        Some(DelayBase::PerNode(out))
    }

    fn for_node(&self, node: &str) -> Duration {
        match self {
            DelayBase::None => Duration::ZERO,
            DelayBase::All(d) => *d,
            DelayBase::PerNode(m) => m.get(node).copied().unwrap_or_default(),
        }
    }
}

/// Parses `pcmk_host_map`: `node:plug` entries separated by `;`, blanks or commas
/// (`=` also works in place of `:`).
pub fn parse_host_map(s: &str) -> Result<BTreeMap<String, String>, DeviceError> {
    let mut map = BTreeMap::new();
    for entry in s
        .split(|c: char| c == ';' || c == ',' || c.is_whitespace())
        .filter(|e| !e.is_empty())
    {
        let (node, plug) = entry
            .split_once(':')
            .or_else(|| entry.split_once('='))
            .ok_or_else(|| DeviceError::HostMap(entry.into()))?;
        if node.is_empty() || plug.is_empty() {
            return Err(DeviceError::HostMap(entry.into()));
        }
        map.insert(node.to_string(), plug.to_string());
    }
    Ok(map)
}

/// Parses `pcmk_host_list`: names separated by blanks, commas or semicolons.
pub fn parse_host_list(s: &str) -> Vec<String> {
    s.split(|c: char| c == ';' || c == ',' || c.is_whitespace())
        .filter(|e| !e.is_empty())
        .map(str::to_string)
        .collect()
}

fn parse_duration(s: &str) -> Option<Duration> {
    parse_interval_ms(s).map(Duration::from_millis)
}

impl FenceDevice {
    /// A device from `hactl stonith create NAME AGENT k=v...` style parameters.
    pub fn new(
        id: &str,
        agent: &str,
        params: impl IntoIterator<Item = (String, String)>,
    ) -> Result<FenceDevice, DeviceError> {
        let mut agent_params = BTreeMap::new();
        let mut host_map = BTreeMap::new();
        let mut host_list = Vec::new();
        let mut host_check = None;
        let mut timeout = Duration::from_secs(60);
        let mut retries = 2;
        let mut delay_base = DelayBase::None;
        let mut delay_max = Duration::ZERO;
        let bad = |k: &str, v: &str, why: &str| DeviceError::Value {
            name: k.to_string(),
            value: v.to_string(),
            why: why.to_string(),
        };
        for (k, v) in params {
            match k.as_str() {
                "pcmk_delay_base" => {
                    delay_base = DelayBase::parse(&v).ok_or_else(|| {
                        bad(
                            &k,
                            &v,
                            "expected a duration like 5s, or node:duration entries",
                        )
                    })?
                }
                "pcmk_delay_max" => {
                    delay_max = parse_duration(&v)
                        .ok_or_else(|| bad(&k, &v, "expected a duration like 5s"))?
                }
                "pcmk_host_map" => host_map = parse_host_map(&v)?,
                "pcmk_host_list" => host_list = parse_host_list(&v),
                "pcmk_host_check" => {
                    host_check = Some(
                        HostCheck::parse(&v).ok_or_else(|| DeviceError::HostCheck(v.clone()))?,
                    )
                }
                "pcmk_timeout" | "pcmk_off_timeout" | "pcmk_reboot_timeout" => {
                    timeout = parse_duration(&v).filter(|d| !d.is_zero()).ok_or_else(|| {
                        DeviceError::Value {
                            name: k.clone(),
                            value: v.clone(),
                            why: "expected a duration like 60s".into(),
                        }
                    })?
                }
                "pcmk_retries" | "pcmk_off_retries" | "pcmk_reboot_retries" => {
                    retries = v.trim().parse().map_err(|_| DeviceError::Value {
                        name: k.clone(),
                        value: v.clone(),
                        why: "expected a whole number".into(),
                    })?
                }
                // Other pcmk_* settings are the fencer's, never the agent's.
                other if other.starts_with("pcmk_") => {}
                _ => {
                    agent_params.insert(k, v);
                }
            }
        }
        let host_check = host_check.unwrap_or(if host_list.is_empty() && host_map.is_empty() {
            HostCheck::DynamicList
        } else {
            HostCheck::StaticList
        });
        if host_check == HostCheck::StaticList && host_list.is_empty() && host_map.is_empty() {
            return Err(DeviceError::EmptyStaticList);
        }
        Ok(FenceDevice {
            id: id.to_string(),
            agent: agent.to_string(),
            params: agent_params,
            host_map,
            host_list,
            host_check,
            timeout,
            retries,
            target_param: "port",
            delay_base,
            delay_max,
        })
    }

    /// The bounds of the delay before `action` against `node` through this device
    /// (Pacemaker's rule: only off and reboot wait; a maximum below the base is the
    /// base).
    pub fn delay_bounds(&self, action: &str, node: &str) -> (Duration, Duration) {
        if action != "off" && action != "reboot" {
            return (Duration::ZERO, Duration::ZERO);
        }
        let base = self.delay_base.for_node(node);
        (base, self.delay_max.max(base))
    }

    /// The delay before `action` against `node`: the base plus a random part up to
    /// the maximum (`pcmk_delay_max` breaks ties between nodes fencing each other).
    pub fn delay(&self, action: &str, node: &str) -> Duration {
        use rand::Rng;
        let (lo, hi) = self.delay_bounds(action, node);
        if hi <= lo {
            return lo;
        }
        let span = (hi - lo).as_millis() as u64;
        lo + Duration::from_millis(rand::thread_rng().gen_range(0..=span))
    }

    /// The name the device knows `node` by.
    pub fn plug_for(&self, node: &str) -> String {
        self.host_map
            .get(node)
            .cloned()
            .unwrap_or_else(|| node.to_string())
    }

    /// Whether `node` is on the static list (host list or host map).
    pub fn statically_covers(&self, node: &str) -> bool {
        self.host_map.contains_key(node) || self.host_list.iter().any(|n| n == node)
    }

    /// The agent command for `action` against `node` (or no target for list/monitor).
    pub fn command(&self, action: &str, node: Option<&str>) -> Result<AgentCommand, DeviceError> {
        let path: PathBuf = agent_api::resolve_agent(&self.agent)?;
        let mut cmd = AgentCommand::new(path, action);
        cmd.params = self.params.clone();
        cmd.plug = node.map(|n| self.plug_for(n));
        cmd.nodename = node.map(str::to_string);
        cmd.target_param = self.target_param;
        cmd.timeout = self.timeout;
        cmd.retries = self.retries;
        Ok(cmd)
    }

    /// Runs `action` (off, on, reboot, status) against `node`.
    /// `fence_hactl_xvm` devices run in-process (same behaviour, no process start).
    pub async fn run(&self, action: &str, node: Option<&str>) -> AgentOutcome {
        if self.agent == crate::xvm::inproc::AGENT_NAME {
            let plug = node.map(|n| self.plug_for(n));
            // Its monitor checks that every mapped domain is known and answers.
            let mapped: Vec<String> = self.host_map.values().cloned().collect();
            return crate::xvm::inproc::run(
                &self.params,
                action,
                plug.as_deref(),
                &mapped,
                self.timeout,
                self.retries,
            )
            .await;
        }
        match self.command(action, node) {
            Ok(cmd) => agent_api::run(&cmd).await,
            Err(e) => AgentOutcome {
                action: action.to_string(),
                result: AgentResult::CouldNotRun(e.to_string()),
                runs: Vec::new(),
            },
        }
    }

    /// Whether this device can fence `node`, and under which plug name. The
    /// `AgentOutcome` is that of the query, if one was run (for the history).
    pub async fn can_fence(&self, node: &str) -> (Option<String>, Option<AgentOutcome>) {
        let plug = self.plug_for(node);
        match self.host_check {
            HostCheck::None => (Some(plug), None),
            HostCheck::StaticList => (self.statically_covers(node).then_some(plug), None),
            HostCheck::DynamicList => {
                let out = self.run("list", None).await;
                let ok =
                    out.succeeded() && agent_api::parse_list_output(out.stdout()).contains(&plug);
                (ok.then_some(plug), Some(out))
            }
            HostCheck::Status => {
                let out = self.run("status", Some(node)).await;
                let ok = matches!(out.result, AgentResult::Success | AgentResult::Off);
                (ok.then_some(plug), Some(out))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn delays_are_parsed_bounded_and_only_for_off_and_reboot() {
        let d = FenceDevice::new(
            "f",
            "fence_xvm",
            kv(&[
                ("pcmk_host_list", "n1 n2"),
                ("pcmk_delay_base", "2s"),
                ("pcmk_delay_max", "5s"),
            ]),
        )
        .unwrap();
        assert!(!d.params.contains_key("pcmk_delay_base"));
        let two = Duration::from_secs(2);
        let five = Duration::from_secs(5);
        assert_eq!(d.delay_bounds("reboot", "n1"), (two, five));
        assert_eq!(d.delay_bounds("off", "n2"), (two, five));
        assert_eq!(d.delay_bounds("on", "n1"), (Duration::ZERO, Duration::ZERO));
        for _ in 0..50 {
            let x = d.delay("reboot", "n1");
            assert!(x >= two && x <= five, "{x:?}");
        }
        assert_eq!(d.delay("status", "n1"), Duration::ZERO);
        // Per node; a maximum below the base is the base; other nodes wait nothing.
        let d = FenceDevice::new(
            "f",
            "fence_xvm",
            kv(&[
                ("pcmk_host_list", "n1 n2"),
                ("pcmk_delay_base", "n1:3s;n2:0"),
                ("pcmk_delay_max", "1s"),
            ]),
        )
        .unwrap();
        let three = Duration::from_secs(3);
        assert_eq!(d.delay_bounds("reboot", "n1"), (three, three));
        assert_eq!(d.delay("reboot", "n1"), three);
        assert_eq!(
            d.delay_bounds("reboot", "n2"),
            (Duration::ZERO, Duration::from_secs(1))
        );
        assert_eq!(
            d.delay_bounds("reboot", "n3"),
            (Duration::ZERO, Duration::from_secs(1))
        );
        // Bad values are named.
        for (k, v) in [
            ("pcmk_delay_base", "soon"),
            ("pcmk_delay_base", "n1:soon"),
            ("pcmk_delay_max", "-1"),
        ] {
            let e = FenceDevice::new("f", "fence_xvm", kv(&[("pcmk_host_list", "n1"), (k, v)]))
                .unwrap_err()
                .to_string();
            assert!(e.contains(k) && e.contains(v), "{e}");
        }
    }

    #[test]
    fn host_map_and_plugs() {
        let d = FenceDevice::new(
            "vmfence",
            "fence_xvm",
            kv(&[
                ("pcmk_host_map", "server1:dom1;server4:dom4"),
                ("key_file", "/etc/cluster/fence_xvm.key"),
            ]),
        )
        .unwrap();
        assert_eq!(d.host_check, HostCheck::StaticList);
        assert_eq!(d.plug_for("server1"), "dom1");
        assert_eq!(d.plug_for("server9"), "server9");
        assert!(d.statically_covers("server4"));
        assert!(!d.statically_covers("server2"));
        // pcmk_* stay with the fencer; the rest goes to the agent.
        assert_eq!(d.params.keys().collect::<Vec<_>>(), ["key_file"]);
    }

    #[test]
    fn host_map_syntax() {
        let m = parse_host_map(" n1:d1 ; n2=d2,n3:d3 ").unwrap();
        assert_eq!(m.get("n2").unwrap(), "d2");
        assert_eq!(m.len(), 3);
        assert!(matches!(parse_host_map("n1;n2:d2"), Err(DeviceError::HostMap(e)) if e == "n1"));
        assert!(parse_host_map("n1:").is_err());
    }

    #[test]
    fn host_list_and_check_defaults() {
        let d = FenceDevice::new("f", "fence_xvm", kv(&[("pcmk_host_list", "a, b;c d")])).unwrap();
        assert_eq!(d.host_list, ["a", "b", "c", "d"]);
        assert_eq!(d.host_check, HostCheck::StaticList);
        let d = FenceDevice::new("f", "fence_xvm", kv(&[])).unwrap();
        assert_eq!(d.host_check, HostCheck::DynamicList);
        assert_eq!(
            FenceDevice::new("f", "fence_xvm", kv(&[("pcmk_host_check", "static-list")])),
            Err(DeviceError::EmptyStaticList)
        );
        assert!(matches!(
            FenceDevice::new("f", "fence_xvm", kv(&[("pcmk_host_check", "sometimes")])),
            Err(DeviceError::HostCheck(_))
        ));
        let d = FenceDevice::new(
            "f",
            "fence_xvm",
            kv(&[("pcmk_host_check", "none"), ("pcmk_timeout", "90s")]),
        )
        .unwrap();
        assert_eq!(d.timeout, Duration::from_secs(90));
        assert!(FenceDevice::new("f", "fence_xvm", kv(&[("pcmk_timeout", "soon")])).is_err());
    }

    #[tokio::test]
    async fn static_and_none_checks_need_no_agent_run() {
        let d = FenceDevice::new("f", "fence_xvm", kv(&[("pcmk_host_map", "n1:d1")])).unwrap();
        assert_eq!(d.can_fence("n1").await, (Some("d1".to_string()), None));
        assert_eq!(d.can_fence("n2").await, (None, None));
        let d = FenceDevice::new("f", "fence_xvm", kv(&[("pcmk_host_check", "none")])).unwrap();
        assert_eq!(d.can_fence("n2").await, (Some("n2".to_string()), None));
    }

    #[test]
    fn missing_agent_is_reported() {
        let d = FenceDevice::new(
            "f",
            "fence_nonexistent_xyz",
            kv(&[("pcmk_host_check", "none")]),
        )
        .unwrap();
        let e = d.command("off", Some("n1")).unwrap_err();
        assert!(
            e.to_string()
                .contains("fence_nonexistent_xyz is not installed"),
            "{e}"
        );
    }
}
