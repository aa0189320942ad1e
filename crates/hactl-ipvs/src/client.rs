//! A blocking client for the IPVS family: one generic-netlink socket, requests
//! answered by an ACK or a dump.

use crate::message::IpvsMessage;
use crate::nla::*;
use crate::types::{Dest, Service, ServiceKey, ServiceStats};
use netlink_packet_core::{NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST};
use netlink_packet_generic::ctrl::nlas::GenlCtrlAttrs;
use netlink_packet_generic::ctrl::{GenlCtrl, GenlCtrlCmd};
use netlink_packet_generic::GenlMessage;
use netlink_sys::{protocols::NETLINK_GENERIC, Socket, SocketAddr};
use std::io;
use std::net::IpAddr;

#[derive(Debug, thiserror::Error)]
pub enum IpvsError {
    /// The kernel has no IPVS family: `ip_vs` is not built in and not loaded.
    #[error("the kernel has no IPVS support (module ip_vs not loaded or not available)")]
    NotAvailable,
    #[error("netlink socket: {0}")]
    Socket(#[source] io::Error),
    /// The kernel refused a request (`errno` in `source`).
    #[error("{op}: {source}")]
    Kernel {
        op: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("{op}: undecodable answer from the kernel: {msg}")]
    Decode { op: &'static str, msg: String },
}

impl IpvsError {
    /// The errno of a kernel refusal.
    pub fn errno(&self) -> Option<i32> {
        match self {
            IpvsError::Kernel { source, .. } => source.raw_os_error(),
            _ => None,
        }
    }
}

/// `ESRCH`, `ENOENT`: the kernel's "no such service / destination / scheduler".
const ESRCH: i32 = 3;
const ENOENT: i32 = 2;

/// Sync-daemon roles (`IP_VS_STATE_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncRole {
    Master,
    Backup,
}

impl SyncRole {
    fn state(self) -> u32 {
        match self {
            SyncRole::Master => 1,
            SyncRole::Backup => 2,
        }
    }
}

/// A running sync daemon as the kernel reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncDaemon {
    pub role: SyncRole,
    pub interface: String,
    pub sync_id: u32,
}

/// A service as read from the kernel, with its real servers and counters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceState {
    pub service: Service,
    pub stats: ServiceStats,
    pub dests: Vec<Dest>,
}

pub struct Ipvs {
    sock: Socket,
    family: u16,
    seq: u32,
}

impl Ipvs {
    /// Opens a socket and resolves the IPVS family ([`IpvsError::NotAvailable`] when
    /// the kernel has none).
    pub fn open() -> Result<Self, IpvsError> {
        let mut sock = Socket::new(NETLINK_GENERIC).map_err(IpvsError::Socket)?;
        sock.bind_auto().map_err(IpvsError::Socket)?;
        sock.connect(&SocketAddr::new(0, 0))
            .map_err(IpvsError::Socket)?;
        let mut me = Ipvs {
            sock,
            family: 0,
            seq: 0,
        };
        me.family = me.resolve_family()?;
        Ok(me)
    }

    fn resolve_family(&mut self) -> Result<u16, IpvsError> {
        let mut g = GenlMessage::from_payload(GenlCtrl {
            cmd: GenlCtrlCmd::GetFamily,
            nlas: vec![GenlCtrlAttrs::FamilyName("IPVS".into())],
        });
        g.finalize();
        let answers = match self.exchange::<GenlCtrl>(g, NLM_F_REQUEST, "resolve family IPVS") {
            Err(e) if e.errno() == Some(ENOENT) => return Err(IpvsError::NotAvailable),
            r => r?,
        };
        answers
            .iter()
            .flat_map(|c| c.nlas.iter())
            .find_map(|a| match a {
                GenlCtrlAttrs::FamilyId(id) => Some(*id),
                _ => None,
            })
            .ok_or(IpvsError::NotAvailable)
    }

    /// Sends one request and collects the answers: until the ACK (`NLM_F_ACK`
    /// requests), the end of a dump, or the single reply of a plain get.
    fn exchange<F>(
        &mut self,
        mut msg: GenlMessage<F>,
        flags: u16,
        op: &'static str,
    ) -> Result<Vec<F>, IpvsError>
    where
        F: netlink_packet_generic::GenlFamily
            + netlink_packet_core::Emitable
            + netlink_packet_core::ParseableParametrized<[u8], netlink_packet_generic::GenlHeader>
            + std::fmt::Debug,
    {
        msg.set_resolved_family_id(self.family);
        let mut nl = NetlinkMessage::from(msg);
        self.seq = self.seq.wrapping_add(1);
        nl.header.flags = flags;
        nl.header.sequence_number = self.seq;
        nl.finalize();
        let mut buf = vec![0u8; nl.buffer_len()];
        nl.serialize(&mut buf);
        self.sock.send(&buf, 0).map_err(IpvsError::Socket)?;
        let single = flags & (NLM_F_DUMP | NLM_F_ACK) == 0;
        let mut out = Vec::new();
        loop {
            let (data, _) = self.sock.recv_from_full().map_err(IpvsError::Socket)?;
            let mut off = 0;
            while off < data.len() {
                let m =
                    NetlinkMessage::<GenlMessage<F>>::deserialize(&data[off..]).map_err(|e| {
                        IpvsError::Decode {
                            op,
                            msg: e.to_string(),
                        }
                    })?;
                let len = m.header.length as usize;
                if m.header.sequence_number != self.seq {
                    off += len.max(1);
                    continue;
                }
                match m.payload {
                    NetlinkPayload::Done(_) => return Ok(out),
                    NetlinkPayload::Error(e) if e.code.is_some() => {
                        return Err(IpvsError::Kernel {
                            op,
                            source: e.to_io(),
                        })
                    }
                    // An ACK ends a request that carries NLM_F_ACK.
                    NetlinkPayload::Error(_) => return Ok(out),
                    NetlinkPayload::InnerMessage(g) => {
                        out.push(g.payload);
                        if single {
                            return Ok(out);
                        }
                    }
                    _ => {}
                }
                if len == 0 {
                    break;
                }
                off += len;
            }
        }
    }

    fn ipvs(
        &mut self,
        cmd: u8,
        attrs: Vec<CmdAttr>,
        flags: u16,
        op: &'static str,
    ) -> Result<Vec<IpvsMessage>, IpvsError> {
        let msg = GenlMessage::from_payload(IpvsMessage { cmd, attrs });
        self.exchange(msg, NLM_F_REQUEST | flags, op)
    }

    fn command(&mut self, cmd: u8, attrs: Vec<CmdAttr>, op: &'static str) -> Result<(), IpvsError> {
        self.ipvs(cmd, attrs, NLM_F_ACK, op).map(drop)
    }

    /// Every virtual service in this network namespace.
    pub fn services(&mut self) -> Result<Vec<(Service, ServiceStats)>, IpvsError> {
        let msgs = self.ipvs(IPVS_CMD_GET_SERVICE, vec![], NLM_F_DUMP, "list services")?;
        Ok(msgs
            .iter()
            .flat_map(|m| m.attrs.iter())
            .filter_map(|a| match a {
                CmdAttr::Service(s) => Service::from_attrs(s),
                _ => None,
            })
            .collect())
    }

    /// One service and its real servers; `None` if the kernel has no such service.
    pub fn service(&mut self, key: &ServiceKey) -> Result<Option<ServiceState>, IpvsError> {
        let Some((service, stats)) = self.services()?.into_iter().find(|(s, _)| s.key == *key)
        else {
            return Ok(None);
        };
        let dests = match self.dests(key) {
            Err(e) if matches!(e.errno(), Some(ESRCH) | Some(ENOENT)) => return Ok(None),
            r => r?,
        };
        Ok(Some(ServiceState {
            service,
            stats,
            dests,
        }))
    }

    /// The real servers of a service.
    pub fn dests(&mut self, key: &ServiceKey) -> Result<Vec<Dest>, IpvsError> {
        let req = vec![CmdAttr::Service(key.attrs())];
        let msgs = self.ipvs(IPVS_CMD_GET_DEST, req, NLM_F_DUMP, "list real servers")?;
        let ipv6 = key.is_ipv6();
        Ok(msgs
            .iter()
            .flat_map(|m| m.attrs.iter())
            .filter_map(|a| match a {
                CmdAttr::Dest(d) => Dest::from_attrs(d, ipv6),
                _ => None,
            })
            .collect())
    }

    pub fn add_service(&mut self, s: &Service) -> Result<(), IpvsError> {
        self.command(
            IPVS_CMD_NEW_SERVICE,
            vec![CmdAttr::Service(s.attrs())],
            "add service",
        )
    }

    /// Changes scheduler and persistence in place (`ipvsadm -E`).
    pub fn edit_service(&mut self, s: &Service) -> Result<(), IpvsError> {
        self.command(
            IPVS_CMD_SET_SERVICE,
            vec![CmdAttr::Service(s.attrs())],
            "edit service",
        )
    }

    pub fn del_service(&mut self, key: &ServiceKey) -> Result<(), IpvsError> {
        self.command(
            IPVS_CMD_DEL_SERVICE,
            vec![CmdAttr::Service(key.attrs())],
            "delete service",
        )
    }

    pub fn add_dest(&mut self, key: &ServiceKey, d: &Dest) -> Result<(), IpvsError> {
        let attrs = vec![CmdAttr::Service(key.attrs()), CmdAttr::Dest(d.attrs())];
        self.command(IPVS_CMD_NEW_DEST, attrs, "add real server")
    }

    /// Changes weight, forwarding and thresholds in place (`ipvsadm -e`).
    pub fn edit_dest(&mut self, key: &ServiceKey, d: &Dest) -> Result<(), IpvsError> {
        let attrs = vec![CmdAttr::Service(key.attrs()), CmdAttr::Dest(d.attrs())];
        self.command(IPVS_CMD_SET_DEST, attrs, "edit real server")
    }

    pub fn del_dest(&mut self, key: &ServiceKey, addr: IpAddr, port: u16) -> Result<(), IpvsError> {
        let d = Dest::new(addr, port, crate::Forward::Dr, 0);
        let attrs = vec![CmdAttr::Service(key.attrs()), CmdAttr::Dest(d.key_attrs())];
        self.command(IPVS_CMD_DEL_DEST, attrs, "delete real server")
    }

    /// Starts the kernel's connection-sync daemon in `role` on `interface`.
    pub fn start_sync_daemon(
        &mut self,
        role: SyncRole,
        interface: &str,
        sync_id: u32,
    ) -> Result<(), IpvsError> {
        let attrs = vec![CmdAttr::Daemon(vec![
            DaemonAttr::State(role.state()),
            DaemonAttr::McastIfn(interface.to_string()),
            DaemonAttr::SyncId(sync_id),
        ])];
        self.command(IPVS_CMD_NEW_DAEMON, attrs, "start sync daemon")
    }

    pub fn stop_sync_daemon(&mut self, role: SyncRole) -> Result<(), IpvsError> {
        let attrs = vec![CmdAttr::Daemon(vec![DaemonAttr::State(role.state())])];
        self.command(IPVS_CMD_DEL_DAEMON, attrs, "stop sync daemon")
    }

    /// The sync daemons running in this network namespace.
    pub fn sync_daemons(&mut self) -> Result<Vec<SyncDaemon>, IpvsError> {
        let msgs = self.ipvs(IPVS_CMD_GET_DAEMON, vec![], NLM_F_DUMP, "list sync daemons")?;
        Ok(msgs
            .iter()
            .flat_map(|m| m.attrs.iter())
            .filter_map(|a| match a {
                CmdAttr::Daemon(d) => daemon_from(d),
                _ => None,
            })
            .collect())
    }
}

fn daemon_from(attrs: &[DaemonAttr]) -> Option<SyncDaemon> {
    let (mut role, mut interface, mut sync_id) = (None, String::new(), 0);
    for a in attrs {
        match a {
            DaemonAttr::State(1) => role = Some(SyncRole::Master),
            DaemonAttr::State(2) => role = Some(SyncRole::Backup),
            DaemonAttr::McastIfn(s) => interface = s.clone(),
            DaemonAttr::SyncId(i) => sync_id = *i,
            _ => {}
        }
    }
    Some(SyncDaemon {
        role: role?,
        interface,
        sync_id,
    })
}
