//! Executor settings (paths are overridable so tests and simulated nodes keep their
//! state apart).

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Clone, Debug)]
pub struct ExecConfig {
    /// `OCF_ROOT` (default `/usr/lib/ocf`).
    pub ocf_root: PathBuf,
    /// Provider directories used instead of `<OCF_ROOT>/resource.d/<provider>`, e.g.
    /// `hactl` → a directory holding `VIP` and `Dummy` links to the built binaries.
    pub provider_dirs: HashMap<String, PathBuf>,
    /// `HA_RSCTMP` for agents (default `/run/resource-agents`).
    pub rsctmp: PathBuf,
    /// `HA_VARRUN` for agents, if set (pacemaker:Dummy keeps its state there).
    pub varrun: Option<PathBuf>,
    /// Where `lsb:` scripts live (default `/etc/init.d`).
    pub initd_dir: PathBuf,
    /// D-Bus address of systemd's bus (default the system bus socket).
    pub systemd_bus: String,
    /// Run `ocf:hactl:*` agents in-process (default). When false they run through the
    /// normal OCF path like any other agent.
    pub native_hactl: bool,
    /// `PATH` given to agents.
    pub path: String,
    /// This node's name (for logs and `OCF_RESKEY_CRM_meta_on_node`).
    pub node_name: Option<String>,
    /// `HA_SBIN_DIR` for agents: where they find `crm_attribute` (hactl's, which
    /// sets node attributes through the daemon at `client_socket`).
    pub sbin_dir: Option<PathBuf>,
    /// The local daemon's socket, for the tools agents call (`HACTL_SOCKET`).
    pub client_socket: Option<PathBuf>,
    /// Op records kept per resource.
    pub history_limit: usize,
    /// How long a systemd `Type=simple` service must stay up after its start job
    /// completed before start reports success: such a job is "done" as soon as the
    /// process is forked, even if it exits with an error a moment later.
    pub systemd_settle: Duration,
}

impl Default for ExecConfig {
    fn default() -> Self {
        ExecConfig {
            ocf_root: PathBuf::from("/usr/lib/ocf"),
            provider_dirs: HashMap::new(),
            rsctmp: PathBuf::from("/run/resource-agents"),
            varrun: None,
            initd_dir: PathBuf::from("/etc/init.d"),
            systemd_bus: "unix:path=/run/dbus/system_bus_socket".into(),
            native_hactl: true,
            path: "/usr/sbin:/usr/bin:/sbin:/bin".into(),
            node_name: None,
            sbin_dir: None,
            client_socket: None,
            history_limit: 50,
            systemd_settle: Duration::from_millis(100),
        }
    }
}
