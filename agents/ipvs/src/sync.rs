//! Connection synchronisation: the kernel's IPVS sync daemon, master on a node that
//! holds a service (it multicasts the connections it forwards on `sync_interface`) and
//! backup on every node (it keeps a copy of the connections the other directors
//! forward, so a director that takes a service over already knows its established
//! connections and keeps forwarding them).
//!
//! The kernel has one master and one backup per network namespace, shared by every
//! service, and lets both run side by side. With two services held by two directors
//! (active/active), each director is the master for its own service and must stay the
//! backup for the other's. So the wanted state is derived from the whole node, never
//! from one service alone:
//! - backup: always, once any service with sync is probed, started or stopped here;
//! - master: while this node's table holds any service (start and a running monitor
//!   start it; a stop or a "not running" monitor stops it only when the table is
//!   empty, so stopping one service never takes the master from another).
//!
//! Every resource on a node shares the two daemons, so they must all name the same
//! `sync_interface` and `sync_id` (one that differs restarts the daemons its way).

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

/// This node holds a service: master, and still the backup for the services that
/// other directors hold.
pub fn become_master(c: &SyncConfig) -> Result<(), IpvsError> {
    let mut ipvs = Ipvs::open()?;
    ensure(&mut ipvs, c, SyncRole::Master)?;
    ensure(&mut ipvs, c, SyncRole::Backup)
}

/// This node does not hold this service: backup; the master stops once no service is
/// left in this node's table (while one is, it is another resource's to keep).
pub fn become_backup(c: &SyncConfig) -> Result<(), IpvsError> {
    let mut ipvs = Ipvs::open()?;
    if ipvs.services()?.is_empty() {
        stop_role(&mut ipvs, SyncRole::Master)?;
    }
    ensure(&mut ipvs, c, SyncRole::Backup)
}
