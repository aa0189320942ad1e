//! Connection synchronisation: the kernel's IPVS sync daemon, master on the node that
//! holds the service (it multicasts its connection table on `sync_interface`) and
//! backup on the others (they keep a copy, so a director that takes over already knows
//! the established connections and keeps forwarding them).
//!
//! The agent follows the resource: start and a running monitor make this node the
//! master (stopping its backup); stop, and a probe or monitor that finds the service
//! not running here, make it a backup. The kernel has one master and one backup per
//! network namespace, shared by every service: stop leaves the master running while
//! other services remain in this node's table.

use crate::config::nonempty;
use crate::ConfigError;
use hactl_ipvs::{Ipvs, IpvsError, SyncRole};
use std::collections::HashMap;

/// `sync_interface` (empty: no sync daemon) and `sync_id`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncConfig {
    pub interface: String,
    pub sync_id: u32,
}

pub fn parse(p: &HashMap<String, String>) -> Result<Option<SyncConfig>, ConfigError> {
    let Some(interface) = nonempty(p, "sync_interface") else {
        return Ok(None);
    };
    if interface.len() >= 16 || interface.contains(['/', '\0', ' ']) {
        return Err(ConfigError::Invalid {
            name: "sync_interface",
            msg: format!("'{interface}' is not an interface name"),
        });
    }
    let sync_id = match nonempty(p, "sync_id") {
        None => 0,
        Some(s) => {
            s.parse::<u32>()
                .ok()
                .filter(|n| *n <= 255)
                .ok_or_else(|| ConfigError::Invalid {
                    name: "sync_id",
                    msg: format!("'{s}' is not 0-255"),
                })?
        }
    };
    Ok(Some(SyncConfig {
        interface: interface.to_string(),
        sync_id,
    }))
}

/// Runs the `role` daemon as configured (restarting one that runs otherwise).
fn ensure(ipvs: &mut Ipvs, c: &SyncConfig, role: SyncRole) -> Result<(), IpvsError> {
    let running = ipvs.sync_daemons()?;
    match running.iter().find(|d| d.role == role) {
        Some(d) if d.interface == c.interface && d.sync_id == c.sync_id => return Ok(()),
        Some(_) => ipvs.stop_sync_daemon(role)?,
        None => {}
    }
    ipvs.start_sync_daemon(role, &c.interface, c.sync_id)
}

fn stop_role(ipvs: &mut Ipvs, role: SyncRole) -> Result<(), IpvsError> {
    if ipvs.sync_daemons()?.iter().any(|d| d.role == role) {
        ipvs.stop_sync_daemon(role)?;
    }
    Ok(())
}

/// This node holds the service: master, no backup.
pub fn become_master(c: &SyncConfig) -> Result<(), IpvsError> {
    let mut ipvs = Ipvs::open()?;
    stop_role(&mut ipvs, SyncRole::Backup)?;
    ensure(&mut ipvs, c, SyncRole::Master)
}

/// This node does not hold the service: backup; the master stops once no service is
/// left in this node's table.
pub fn become_backup(c: &SyncConfig) -> Result<(), IpvsError> {
    let mut ipvs = Ipvs::open()?;
    if ipvs.services()?.is_empty() {
        stop_role(&mut ipvs, SyncRole::Master)?;
    }
    ensure(&mut ipvs, c, SyncRole::Backup)
}
