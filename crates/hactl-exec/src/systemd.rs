//! The systemd class over D-Bus (`org.freedesktop.systemd1`), with zbus.
//!
//! start/stop/restart: `Subscribe` (once per connection), open the `JobRemoved`
//! signal stream *before* calling `StartUnit`/`StopUnit`/`RestartUnit` with mode
//! `replace` (so the signal cannot be missed), wait for `JobRemoved` of that job, then
//! read the unit's `ActiveState`, `SubState` and `Result`. The job result alone is
//! not enough: a `Type=simple` unit whose ExecStart fails still ends its job as
//! `done`, and only the unit state shows `failed`. For such units start also waits
//! [`crate::ExecConfig::systemd_settle`] and re-reads the state.
//! monitor = the unit's `ActiveState`; a unit systemd cannot find is "not installed".

use crate::types::{rc, ExecStatus, OpResult};
use futures::StreamExt;
use std::time::{Duration, Instant, SystemTime};
use zbus::zvariant::{OwnedObjectPath, OwnedValue};
use zbus::{Connection, Proxy};

const DEST: &str = "org.freedesktop.systemd1";
const MANAGER_PATH: &str = "/org/freedesktop/systemd1";
const MANAGER: &str = "org.freedesktop.systemd1.Manager";

/// `haproxy` → `haproxy.service`; names with a unit suffix stay as they are.
pub fn unit_name(kind: &str) -> String {
    const SUFFIXES: [&str; 11] = [
        ".service",
        ".socket",
        ".target",
        ".mount",
        ".timer",
        ".path",
        ".slice",
        ".scope",
        ".swap",
        ".device",
        ".automount",
    ];
    if SUFFIXES.iter().any(|s| kind.ends_with(s)) {
        kind.to_string()
    } else {
        format!("{kind}.service")
    }
}

/// Meta-data for agents that have none of their own (systemd units, LSB scripts).
pub(crate) fn synthetic_metadata(name: &str, what: &str) -> String {
    format!(
        r#"<?xml version="1.0"?>
<resource-agent name="{name}" version="1.0">
<version>1.1</version>
<longdesc lang="en">{what} {name}</longdesc>
<shortdesc lang="en">{what} {name}</shortdesc>
<parameters/>
<actions>
<action name="start" timeout="100s"/>
<action name="stop" timeout="100s"/>
<action name="monitor" timeout="100s" interval="60s"/>
<action name="meta-data" timeout="5s"/>
</actions>
</resource-agent>
"#
    )
}

/// What went wrong talking to systemd over D-Bus.
#[derive(Debug, thiserror::Error)]
pub enum SystemdError {
    #[error("connecting to {address}: {source}")]
    Connect {
        address: String,
        source: zbus::Error,
    },
    #[error("{method}: {source}")]
    Call { method: String, source: zbus::Error },
    #[error("{prop}: {source}")]
    Property { prop: String, source: zbus::Error },
    #[error("{prop} is not a string: {source}")]
    NotAString {
        prop: String,
        source: zbus::zvariant::Error,
    },
    #[error("bus connection closed while waiting for the job")]
    Closed,
}

fn call_err(method: &str) -> impl FnOnce(zbus::Error) -> SystemdError + '_ {
    move |source| SystemdError::Call {
        method: method.to_string(),
        source,
    }
}

/// A connection to one systemd instance.
#[derive(Clone, Debug)]
pub struct SystemdClient {
    conn: Connection,
}

/// A unit's state after an operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnitState {
    pub load_state: String,
    pub active_state: String,
    pub sub_state: String,
    /// `Result` of a service (`success`, `exit-code`, `signal`, …); empty otherwise.
    pub result: String,
    pub service_type: String,
}

impl SystemdClient {
    /// Connects to the bus at `address` and subscribes to manager signals.
    pub async fn connect(address: &str) -> Result<Self, SystemdError> {
        let connect_err = |source| SystemdError::Connect {
            address: address.to_string(),
            source,
        };
        let conn = zbus::connection::Builder::address(address)
            .map_err(connect_err)?
            .build()
            .await
            .map_err(connect_err)?;
        let c = SystemdClient { conn };
        c.manager()
            .await?
            .call_method("Subscribe", &())
            .await
            .map_err(call_err("Subscribe"))?;
        Ok(c)
    }

    async fn manager(&self) -> Result<Proxy<'static>, SystemdError> {
        Proxy::new(&self.conn, DEST, MANAGER_PATH, MANAGER)
            .await
            .map_err(call_err("the systemd manager"))
    }

    async fn get(
        &self,
        path: &OwnedObjectPath,
        iface: &str,
        prop: &str,
    ) -> Result<OwnedValue, SystemdError> {
        let prop_err = |source| SystemdError::Property {
            prop: prop.to_string(),
            source,
        };
        let props = Proxy::new(
            &self.conn,
            DEST,
            path.clone(),
            "org.freedesktop.DBus.Properties",
        )
        .await
        .map_err(prop_err)?;
        props.call("Get", &(iface, prop)).await.map_err(prop_err)
    }

    async fn get_str(
        &self,
        path: &OwnedObjectPath,
        iface: &str,
        prop: &str,
    ) -> Result<String, SystemdError> {
        let v = self.get(path, iface, prop).await?;
        String::try_from(v).map_err(|source| SystemdError::NotAString {
            prop: prop.to_string(),
            source,
        })
    }

    /// The manager's `SystemState` (`initializing`, `starting`, `running`, `degraded`, …).
    pub async fn system_state(&self) -> Result<String, SystemdError> {
        let p = OwnedObjectPath::from(zbus::zvariant::ObjectPath::from_static_str_unchecked(
            MANAGER_PATH,
        ));
        self.get_str(&p, MANAGER, "SystemState").await
    }

    /// Asks systemd to re-read unit files (`Manager.Reload`).
    pub async fn reload(&self) -> Result<(), SystemdError> {
        self.manager()
            .await?
            .call_method("Reload", &())
            .await
            .map_err(call_err("Reload"))?;
        Ok(())
    }

    async fn load_unit(&self, unit: &str) -> Result<OwnedObjectPath, SystemdError> {
        self.manager()
            .await?
            .call("LoadUnit", &(unit,))
            .await
            .map_err(call_err("LoadUnit"))
    }

    pub async fn unit_state(&self, unit: &str) -> Result<UnitState, SystemdError> {
        let path = self.load_unit(unit).await?;
        let u = "org.freedesktop.systemd1.Unit";
        let mut st = UnitState {
            load_state: self.get_str(&path, u, "LoadState").await?,
            active_state: self.get_str(&path, u, "ActiveState").await?,
            sub_state: self.get_str(&path, u, "SubState").await?,
            result: String::new(),
            service_type: String::new(),
        };
        if unit.ends_with(".service") && st.load_state == "loaded" {
            let s = "org.freedesktop.systemd1.Service";
            st.result = self.get_str(&path, s, "Result").await.unwrap_or_default();
            st.service_type = self.get_str(&path, s, "Type").await.unwrap_or_default();
        }
        Ok(st)
    }

    /// Names of the service units systemd knows (`ListUnitFiles`), for discovery.
    pub async fn list_services(&self) -> Result<Vec<String>, SystemdError> {
        let files: Vec<(String, String)> = self
            .manager()
            .await?
            .call("ListUnitFiles", &())
            .await
            .map_err(call_err("ListUnitFiles"))?;
        let mut names: Vec<String> = files
            .into_iter()
            .filter_map(|(path, _)| {
                let name = path.rsplit('/').next()?.to_string();
                let base = name.strip_suffix(".service")?;
                (!base.ends_with('@')).then(|| base.to_string())
            })
            .collect();
        names.sort();
        names.dedup();
        Ok(names)
    }

    /// Runs `method` (StartUnit/StopUnit/RestartUnit) and waits for its JobRemoved.
    /// Returns the job result (`done`, `failed`, `canceled`, `timeout`, …).
    async fn job(
        &self,
        method: &str,
        unit: &str,
        timeout: Duration,
    ) -> Result<Option<String>, SystemdError> {
        let mgr = self.manager().await?;
        // Open the stream first: a fast job can finish before the call returns.
        let mut removed = mgr
            .receive_signal("JobRemoved")
            .await
            .map_err(call_err("JobRemoved"))?;
        let job: OwnedObjectPath = mgr
            .call(method, &(unit, "replace"))
            .await
            .map_err(call_err(method))?;
        let wait = async {
            while let Some(msg) = removed.next().await {
                let body = msg.body();
                if let Ok((_id, path, _unit, result)) =
                    body.deserialize::<(u32, OwnedObjectPath, String, String)>()
                {
                    if path == job {
                        return Some(result);
                    }
                }
            }
            None
        };
        match tokio::time::timeout(timeout, wait).await {
            Ok(Some(r)) => Ok(Some(r)),
            Ok(None) => Err(SystemdError::Closed),
            Err(_) => Ok(None),
        }
    }

    /// Runs one action on `unit` and maps the outcome to an OCF-style result.
    pub async fn execute(
        &self,
        unit: &str,
        action: &str,
        timeout: Duration,
        settle: Duration,
    ) -> OpResult {
        let started_at = SystemTime::now();
        let t0 = Instant::now();
        let res =
            |code: i32, status: ExecStatus| OpResult::new(code, status, started_at, t0.elapsed());
        let state = match self.unit_state(unit).await {
            Ok(s) => s,
            Err(e) => return res(rc::ERR_GENERIC, ExecStatus::Error).with_reason(e.to_string()),
        };
        if state.load_state == "not-found" {
            return res(rc::ERR_INSTALLED, ExecStatus::NotInstalled)
                .with_reason(format!("systemd unit {unit} is not installed"));
        }
        if state.load_state == "masked" && action != "stop" && action != "monitor" {
            return res(rc::ERR_CONFIGURED, ExecStatus::Done)
                .with_reason(format!("systemd unit {unit} is masked"));
        }
        let method = match action {
            "monitor" | "status" => return monitor_result(&state, res(0, ExecStatus::Done)),
            "meta-data" => {
                let mut r = res(rc::SUCCESS, ExecStatus::Done);
                r.output = synthetic_metadata(unit, "systemd unit");
                return r;
            }
            "validate-all" => return res(rc::SUCCESS, ExecStatus::Done),
            "start" => "StartUnit",
            "stop" => "StopUnit",
            "restart" => "RestartUnit",
            _ => {
                return res(rc::ERR_UNIMPLEMENTED, ExecStatus::NotSupported)
                    .with_reason(format!("systemd units have no '{action}' action"))
            }
        };
        let job = match self.job(method, unit, timeout).await {
            Ok(Some(j)) => j,
            Ok(None) => {
                return res(rc::ERR_GENERIC, ExecStatus::Timeout).with_reason(format!(
                    "{action} of {unit} timed out after {} ms",
                    timeout.as_millis()
                ))
            }
            Err(e) => return res(rc::ERR_GENERIC, ExecStatus::Error).with_reason(e.to_string()),
        };
        let mut st = match self.unit_state(unit).await {
            Ok(s) => s,
            Err(e) => return res(rc::ERR_GENERIC, ExecStatus::Error).with_reason(e.to_string()),
        };
        if action != "stop" {
            // Wait out activation (bounded by the op timeout), then, for Type=simple,
            // give a process that dies at once the settle time to show it.
            while st.active_state == "activating" && t0.elapsed() < timeout {
                tokio::time::sleep(Duration::from_millis(20)).await;
                match self.unit_state(unit).await {
                    Ok(s) => st = s,
                    Err(e) => {
                        return res(rc::ERR_GENERIC, ExecStatus::Error).with_reason(e.to_string())
                    }
                }
            }
            if st.active_state == "active" && st.service_type == "simple" && !settle.is_zero() {
                tokio::time::sleep(settle).await;
                if let Ok(s) = self.unit_state(unit).await {
                    st = s;
                }
            }
        }
        let describe = |st: &UnitState| {
            format!(
                "job {job}, unit {}/{}{}",
                st.active_state,
                st.sub_state,
                if st.result.is_empty() || st.result == "success" {
                    String::new()
                } else {
                    format!(", result {}", st.result)
                }
            )
        };
        let ok = match action {
            "stop" => job == "done" && matches!(st.active_state.as_str(), "inactive" | "failed"),
            _ => job == "done" && matches!(st.active_state.as_str(), "active" | "reloading"),
        };
        if ok {
            res(rc::SUCCESS, ExecStatus::Done)
        } else {
            res(rc::ERR_GENERIC, ExecStatus::Done)
                .with_reason(format!("{action} of {unit} failed: {}", describe(&st)))
        }
    }
}

fn monitor_result(st: &UnitState, base: OpResult) -> OpResult {
    let mut r = base;
    match st.active_state.as_str() {
        "active" | "reloading" => r.rc = rc::SUCCESS,
        "inactive" | "deactivating" => r.rc = rc::NOT_RUNNING,
        "failed" => {
            r.rc = rc::NOT_RUNNING;
            r.exit_reason = Some(format!("unit failed ({})", st.result));
        }
        other => {
            r.rc = rc::ERR_GENERIC;
            r.exit_reason = Some(format!("unit is {other}/{}", st.sub_state));
        }
    }
    r
}

#[cfg(test)]
mod tests {
    #[test]
    fn unit_names() {
        assert_eq!(super::unit_name("haproxy"), "haproxy.service");
        assert_eq!(super::unit_name("web.socket"), "web.socket");
    }
}
