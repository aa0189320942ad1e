//! `hactl-exec`: the executor that runs on every node (Pacemaker's execd).
//!
//! It runs resource agents of four classes with per-op timeouts, one operation at a
//! time per resource, recurring monitors that report only changes, probes, and keeps
//! each resource's op history and fail counts for the CIB status.
//!
//! - [`ocf`]: agents under `OCF_ROOT` (default `/usr/lib/ocf`) with a clean
//!   environment (`OCF_ROOT`, `OCF_RESOURCE_INSTANCE`, `OCF_RESKEY_<param>`,
//!   `OCF_RESKEY_CRM_meta_timeout`/`_interval` in ms, `OCF_CHECK_LEVEL`, `HA_RSCTMP`).
//!   Completion is the agent's exit, not EOF on its pipes; a timeout kills the agent's
//!   process group. Exit codes 0–9 keep their OCF meaning, others are generic errors;
//!   the last `ocf-exit-reason:` line on stderr becomes the exit reason.
//! - [`systemd`]: units over D-Bus (zbus) on a configurable bus address.
//! - [`lsb`]: init scripts (directory configurable); `service:` picks systemd when a
//!   systemd bus answers, else LSB.
//! - [`native`]: the project's own agents (`agents/vip`, `agents/ipvs`,
//!   `agents/dummy`) called in-process as `ocf:hactl:VIP`, `ocf:hactl:ipvs` and
//!   `ocf:hactl:Dummy`.
//!
//! # The `hactl` OCF provider
//!
//! By default `ocf:hactl:*` runs in-process (no fork/exec: the VIP agent's first
//! gratuitous ARP leaves within a millisecond or two of the start request). The same
//! agents are also OCF executables (`hactl-vip`, `hactl-dummy`), so Pacemaker — or
//! this executor with [`ExecConfig::native_hactl`] set to false — can run them through
//! the normal OCF path. They are installed as a provider directory, one documented
//! step (nothing is written under `/usr/lib/ocf` by the build):
//!
//! ```text
//! install -D -m 0755 target/release/hactl-vip   /usr/lib/ocf/resource.d/hactl/VIP
//! install -D -m 0755 target/release/hactl-dummy /usr/lib/ocf/resource.d/hactl/Dummy
//! install -D -m 0755 target/release/hactl-ipvs  /usr/lib/ocf/resource.d/hactl/ipvs
//! ```
//!
//! Or, without installing, point the provider at a directory holding links named
//! `VIP`/`Dummy` to the built binaries with [`ExecConfig::provider_dirs`]
//! (`"hactl" → dir`). This was chosen over hard-wiring a binary path: OCF finds agents
//! by provider directory, so both Pacemaker and hactl find the agents the same way,
//! and tests can use the freshly built binaries without touching the host.
//!
//! # Use
//!
//! ```no_run
//! # async fn demo() {
//! use hactl_exec::{AgentSpec, ExecConfig, Executor, MonitorSpec, params};
//! use std::time::Duration;
//! let (exec, mut events) = Executor::new(ExecConfig::default());
//! let agent = AgentSpec::parse("ocf:heartbeat:IPaddr2").unwrap();
//! let p = params([("ip", "10.0.0.100"), ("cidr_netmask", "24")]);
//! exec.validate(&agent, &p).await.unwrap();
//! let r = exec.execute("vip", &agent, &p, "start", Duration::from_secs(20)).await;
//! assert!(r.is_success());
//! exec.start_monitor("vip", &agent, &p, MonitorSpec {
//!     interval: Duration::from_secs(10), timeout: Duration::from_secs(20), check_level: None });
//! while let Some(ev) = events.recv().await { println!("{ev:?}"); }
//! # }
//! ```

pub mod config;
pub mod executor;
mod ipvs_health;
mod ipvs_http;
pub mod ipvs_state;
pub mod lsb;
pub mod native;
pub mod ocf;
mod process;
pub mod systemd;
pub mod types;

/// Resource parameters (name → value), ordered so digests are stable.
pub type Params = std::collections::BTreeMap<String, String>;

pub use config::ExecConfig;
pub use executor::{is_failure, params, Checked, ExecEvent, Executor, MonitorSpec};
pub use hactl_agent_metadata::{AgentMetadata, MetadataError, ParamError};
pub use systemd::{SystemdClient, SystemdError};
pub use types::{rc, AgentSpec, Class, ExecError, ExecStatus, OpResult};
