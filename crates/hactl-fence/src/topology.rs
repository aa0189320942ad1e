//! Fencing topology: levels tried in order; a level succeeds only if every one of its
//! devices succeeds. The result says what each device did.

use crate::agent_api::{AgentOutcome, AgentResult};
use crate::device::FenceDevice;
use std::collections::BTreeMap;

/// One fencing level for a target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Level {
    /// Levels run in ascending index order.
    pub index: u32,
    /// Device ids; all are needed.
    pub devices: Vec<String>,
}

/// What one device did within a level.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceOutcome {
    pub device: String,
    pub action: String,
    /// The target's name at the device.
    pub plug: Option<String>,
    pub ok: bool,
    /// Summary line (result and the agent's last words).
    pub message: String,
    /// The runs, with their output, for the history.
    pub outcome: Option<AgentOutcome>,
}

/// What one level did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LevelOutcome {
    pub index: u32,
    pub ok: bool,
    pub devices: Vec<DeviceOutcome>,
}

/// The result of fencing one target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FenceResult {
    pub target: String,
    pub action: String,
    pub ok: bool,
    /// The level that succeeded.
    pub level: Option<u32>,
    pub levels: Vec<LevelOutcome>,
}

impl FenceResult {
    /// Why fencing failed (or that it succeeded), in one line.
    pub fn summary(&self) -> String {
        if self.ok {
            return format!(
                "{} of {} succeeded at level {}",
                self.action,
                self.target,
                self.level.unwrap_or(0)
            );
        }
        if self.levels.is_empty() {
            return format!(
                "{} of {} failed: no fence device can fence it",
                self.action, self.target
            );
        }
        let why: Vec<String> = self
            .levels
            .iter()
            .flat_map(|l| {
                l.devices
                    .iter()
                    .filter(|d| !d.ok)
                    .map(move |d| format!("level {} {}: {}", l.index, d.device, d.message))
            })
            .collect();
        format!(
            "{} of {} failed: {}",
            self.action,
            self.target,
            why.join("; ")
        )
    }
}

/// Fences `target` with `action` (off, reboot, on). With no `levels`, every device
/// that can fence the target is tried on its own, in id order.
///
/// A reboot at a level with several devices is done as off on all of them, then on on
/// all of them (a reboot of each in turn would leave the node powered through the
/// others); the level counts as done once every off succeeded, and failed ons are
/// reported in the outcome.
pub async fn fence(
    target: &str,
    action: &str,
    levels: &[Level],
    devices: &BTreeMap<String, FenceDevice>,
) -> FenceResult {
    let mut result = FenceResult {
        target: target.to_string(),
        action: action.to_string(),
        ok: false,
        level: None,
        levels: Vec::new(),
    };
    let mut plan: Vec<Level> = levels.to_vec();
    plan.sort_by_key(|l| l.index);
    let implicit = plan.is_empty();
    if implicit {
        plan = devices
            .keys()
            .enumerate()
            .map(|(i, id)| Level {
                index: i as u32 + 1,
                devices: vec![id.clone()],
            })
            .collect();
    }
    // The first device that acts waits its pcmk_delay (once per operation, as in
    // Pacemaker: a later level or device is already late).
    let mut delayed = false;
    for level in &plan {
        let mut lo = LevelOutcome {
            index: level.index,
            ok: true,
            devices: Vec::new(),
        };
        // Resolve devices and their plugs first: a level with a device that cannot
        // reach the target cannot succeed.
        let mut members = Vec::new();
        for id in &level.devices {
            let Some(dev) = devices.get(id) else {
                lo.ok = false;
                lo.devices
                    .push(failed(id, action, None, "no such fence device".into()));
                continue;
            };
            let (plug, query) = dev.can_fence(target).await;
            match plug {
                Some(p) => members.push((dev, p)),
                None => {
                    lo.ok = false;
                    let msg = match &query {
                        Some(q) if !q.succeeded() => format!("cannot tell: {}", q.summary()),
                        _ => format!("cannot fence {target}"),
                    };
                    lo.devices.push(DeviceOutcome {
                        device: id.clone(),
                        action: action.to_string(),
                        plug: None,
                        ok: false,
                        message: msg,
                        outcome: query,
                    });
                }
            }
        }
        if implicit && !lo.ok {
            // Devices that do not cover the target are not attempts.
            continue;
        }
        if lo.ok {
            let steps: Vec<&str> = if action == "reboot" && members.len() > 1 {
                vec!["off", "on"]
            } else {
                vec![action]
            };
            for step in steps {
                for (dev, plug) in &members {
                    if !delayed && step != "on" {
                        delayed = true;
                        let d = dev.delay(step, target);
                        if !d.is_zero() {
                            tracing::info!(node = target, device = %dev.id, op = step,
                                delay_ms = d.as_millis() as u64, "fencing delay (pcmk_delay_base/max)");
                            tokio::time::sleep(d).await;
                        }
                    }
                    let out = dev.run(step, Some(target)).await;
                    let ok = out.result == AgentResult::Success;
                    tracing::info!(
                        node = target,
                        device = %dev.id,
                        op = step,
                        level = level.index,
                        ok,
                        "fence device run"
                    );
                    // In a remapped reboot only the offs decide.
                    let decides = step != "on" || action == "on";
                    if !ok && decides {
                        lo.ok = false;
                    }
                    lo.devices.push(DeviceOutcome {
                        device: dev.id.clone(),
                        action: step.to_string(),
                        plug: Some(plug.clone()),
                        ok,
                        message: out.summary(),
                        outcome: Some(out),
                    });
                    if !lo.ok {
                        break;
                    }
                }
                if !lo.ok {
                    break;
                }
            }
        }
        let ok = lo.ok;
        result.levels.push(lo);
        if ok {
            result.ok = true;
            result.level = Some(level.index);
            break;
        }
    }
    result
}

fn failed(device: &str, action: &str, plug: Option<String>, message: String) -> DeviceOutcome {
    DeviceOutcome {
        device: device.to_string(),
        action: action.to_string(),
        plug,
        ok: false,
        message,
        outcome: None,
    }
}
