//! `lvs-realserver`: makes this host a real server of an LVS direct-routing (DR) or
//! IP-tunnel (TUN) service (`ocf:hactl:lvs-realserver`).
//!
//! - DR: the VIP as a /32 on `lo`, so the host accepts packets addressed to it, with
//!   `arp_ignore=1` and `arp_announce=2` on the interfaces that face the clients
//!   (`arp_interfaces`, default `all`), so it never answers ARP for the VIP nor
//!   uses the VIP as an ARP source: only the director may own it on the wire.
//! - TUN: the VIP as a /32 on the ipip interface (`tun_interface`, default `tunl0`,
//!   which the `ipip` module creates in every network namespace), the same ARP
//!   settings (the host shares a segment with the VIP's network often enough), and
//!   reverse-path filtering relaxed to loose on the tunnel: decapsulated packets
//!   carry the client's address, which is not routed back through the tunnel.
//!
//! Sysctls are raised only where they are too low, ARP first and the address after,
//! so there is no moment in which the host answers ARP for the VIP. What start
//! changed (each sysctl's old value, the address) is written to a state file in the
//! resource-agent state directory; stop removes the address, then puts back exactly
//! those values — unless another lvs-realserver resource on this host still needs
//! them, in which case that resource takes over the old values. monitor checks all
//! of it: the address present, and the effective value (the larger of `all` and the
//! interface, as the kernel takes it) of every sysctl.

use crate::config::nonempty;
use crate::{
    OCF_ERR_ARGS, OCF_ERR_CONFIGURED, OCF_ERR_GENERIC, OCF_ERR_INSTALLED, OCF_NOT_RUNNING,
    OCF_SUCCESS,
};
use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum RealServerError {
    #[error("missing required parameter '{0}'")]
    Missing(&'static str),
    #[error("parameter '{name}': {msg}")]
    Invalid { name: &'static str, msg: String },
    #[error("interface {0} does not exist (mode=tun needs the ipip module: it creates tunl0)")]
    NoTunnel(String),
    /// Valid elsewhere perhaps: the interface exists on some hosts only (rc 2, so the
    /// cluster bans this node instead of stopping the resource everywhere).
    #[error("interface {0} (arp_interfaces) does not exist here")]
    NoSuchInterface(String),
    #[error("{0}")]
    Unhealthy(String),
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: io::Error,
    },
    #[error(transparent)]
    Address(#[from] hactl_agent_vip::VipError),
}

impl RealServerError {
    pub fn rc(&self) -> i32 {
        match self {
            RealServerError::Missing(_) | RealServerError::Invalid { .. } => OCF_ERR_CONFIGURED,
            RealServerError::NoTunnel(_) => OCF_ERR_INSTALLED,
            RealServerError::NoSuchInterface(_) => OCF_ERR_ARGS,
            RealServerError::Address(e) => e.rc(),
            RealServerError::Unhealthy(_) | RealServerError::Io { .. } => OCF_ERR_GENERIC,
        }
    }
    fn io(what: impl Into<String>, source: io::Error) -> Self {
        RealServerError::Io {
            what: what.into(),
            source,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Dr,
    Tun,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RealServerConfig {
    pub vip: Ipv4Addr,
    pub mode: Mode,
    /// Where ARP is suppressed (`all` covers every interface).
    pub arp_interfaces: Vec<String>,
    pub tun_interface: String,
}

fn valid_ifname(s: &str) -> bool {
    !s.is_empty() && s.len() < 16 && !s.contains(['/', '\0']) && s != "." && s != ".."
}

impl RealServerConfig {
    pub fn parse(p: &HashMap<String, String>) -> Result<Self, RealServerError> {
        let v = nonempty(p, "vip").ok_or(RealServerError::Missing("vip"))?;
        let vip = match v.parse::<IpAddr>() {
            Ok(IpAddr::V4(a)) if !a.is_unspecified() && !a.is_multicast() => a,
            // ARP suppression is IPv4's; IPv6 real servers need neighbour-discovery
            // suppression, which this agent does not do.
            Ok(_) => {
                return Err(RealServerError::Invalid {
                    name: "vip",
                    msg: format!("{v}: only IPv4 service addresses are supported"),
                })
            }
            Err(_) => {
                return Err(RealServerError::Invalid {
                    name: "vip",
                    msg: format!("'{v}' is not an IPv4 address"),
                })
            }
        };
        let mode = match nonempty(p, "mode").unwrap_or("dr") {
            "dr" => Mode::Dr,
            "tun" => Mode::Tun,
            m => {
                return Err(RealServerError::Invalid {
                    name: "mode",
                    msg: format!("'{m}' is not dr or tun"),
                })
            }
        };
        let arp_interfaces: Vec<String> = nonempty(p, "arp_interfaces")
            .unwrap_or("all")
            .split_whitespace()
            .map(str::to_string)
            .collect();
        let tun_interface = nonempty(p, "tun_interface").unwrap_or("tunl0").to_string();
        for (name, i) in arp_interfaces
            .iter()
            .map(|i| ("arp_interfaces", i))
            .chain([("tun_interface", &tun_interface)])
        {
            if !valid_ifname(i) {
                return Err(RealServerError::Invalid {
                    name,
                    msg: format!("'{i}' is not an interface name"),
                });
            }
        }
        Ok(RealServerConfig {
            vip,
            mode,
            arp_interfaces,
            tun_interface,
        })
    }

    /// The interface the VIP goes on.
    fn nic(&self) -> &str {
        match self.mode {
            Mode::Dr => "lo",
            Mode::Tun => &self.tun_interface,
        }
    }

    /// Every sysctl this configuration needs, with the least value it needs
    /// (`rp_filter` is special: anything but strict, 1).
    fn sysctls(&self) -> Vec<Need> {
        let mut v = Vec::new();
        for i in &self.arp_interfaces {
            v.push(Need::at_least(i, "arp_ignore", 1));
            v.push(Need::at_least(i, "arp_announce", 2));
        }
        if self.mode == Mode::Tun {
            v.push(Need {
                iface: self.tun_interface.clone(),
                key: "rp_filter",
                rule: Rule::NotStrict,
            });
        }
        v
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Rule {
    AtLeast(u32),
    /// rp_filter: not 1 (strict); loose (2) is what start sets.
    NotStrict,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Need {
    iface: String,
    key: &'static str,
    rule: Rule,
}

impl Need {
    fn at_least(iface: &str, key: &'static str, n: u32) -> Self {
        Need {
            iface: iface.to_string(),
            key,
            rule: Rule::AtLeast(n),
        }
    }
    fn path(&self) -> PathBuf {
        conf_path(&self.iface, self.key)
    }
    /// The kernel uses the larger of `all` and the interface's own value.
    fn effective(&self) -> Result<u32, RealServerError> {
        let own = read_sysctl(&self.path())?;
        let all = read_sysctl(&conf_path("all", self.key))?;
        Ok(own.max(all))
    }
    fn satisfied(&self) -> Result<bool, RealServerError> {
        let e = self.effective()?;
        Ok(match self.rule {
            Rule::AtLeast(n) => e >= n,
            Rule::NotStrict => e != 1,
        })
    }
    /// The value start writes to the interface's own setting.
    fn target(&self) -> u32 {
        match self.rule {
            Rule::AtLeast(n) => n,
            Rule::NotStrict => 2,
        }
    }
}

fn conf_path(iface: &str, key: &str) -> PathBuf {
    PathBuf::from(format!("/proc/sys/net/ipv4/conf/{iface}/{key}"))
}

fn read_sysctl(p: &Path) -> Result<u32, RealServerError> {
    let s =
        std::fs::read_to_string(p).map_err(|e| RealServerError::io(p.display().to_string(), e))?;
    s.trim().parse().map_err(|_| {
        RealServerError::io(
            p.display().to_string(),
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("'{}' is not a number", s.trim()),
            ),
        )
    })
}

fn write_sysctl(p: &Path, v: u32) -> Result<(), RealServerError> {
    std::fs::write(p, format!("{v}\n")).map_err(|e| RealServerError::io(p.display().to_string(), e))
}

/// What one instance changed: sysctl path → its value before.
#[derive(Debug, Default, PartialEq, Eq)]
struct State {
    changed: Vec<(PathBuf, u32)>,
}

impl State {
    fn file(dir: &Path, instance: &str) -> PathBuf {
        dir.join(format!(
            "hactl-lvs-realserver-{}.state",
            instance.replace('/', "_")
        ))
    }
    fn load(path: &Path) -> State {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        State {
            changed: text
                .lines()
                .filter_map(|l| l.rsplit_once(' '))
                .filter_map(|(p, v)| Some((PathBuf::from(p), v.parse().ok()?)))
                .collect(),
        }
    }
    fn save(&self, path: &Path) -> Result<(), RealServerError> {
        let text: String = self
            .changed
            .iter()
            .map(|(p, v)| format!("{} {v}\n", p.display()))
            .collect();
        if let Some(d) = path.parent() {
            std::fs::create_dir_all(d)
                .map_err(|e| RealServerError::io(d.display().to_string(), e))?;
        }
        std::fs::write(path, text).map_err(|e| RealServerError::io(path.display().to_string(), e))
    }
}

fn vip_params(c: &RealServerConfig) -> HashMap<String, String> {
    [
        ("ip", c.vip.to_string()),
        ("nic", c.nic().to_string()),
        ("cidr_netmask", "32".to_string()),
        ("broadcast", "none".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

fn iface_exists(i: &str) -> bool {
    i == "all" || Path::new(&format!("/proc/sys/net/ipv4/conf/{i}")).exists()
}

pub fn start(c: &RealServerConfig, instance: &str, dir: &Path) -> Result<(), RealServerError> {
    if c.mode == Mode::Tun && !iface_exists(&c.tun_interface) {
        return Err(RealServerError::NoTunnel(c.tun_interface.clone()));
    }
    if let Some(i) = c.arp_interfaces.iter().find(|i| !iface_exists(i)) {
        return Err(RealServerError::NoSuchInterface(i.clone()));
    }
    let file = State::file(dir, instance);
    let mut state = State::load(&file);
    for need in c.sysctls() {
        if need.satisfied()? {
            continue;
        }
        let path = need.path();
        let old = read_sysctl(&path)?;
        // Record before writing: a crash in between still lets stop restore it.
        if !state.changed.iter().any(|(p, _)| *p == path) {
            state.changed.push((path.clone(), old));
            state.save(&file)?;
        }
        write_sysctl(&path, need.target())?;
    }
    state.save(&file)?;
    let p = hactl_agent_vip::VipParams::parse(&vip_params(c))?;
    let r = hactl_agent_vip::resolve(&p)?;
    hactl_agent_vip::add_address(&p, &r)?;
    Ok(())
}

/// Other instances' state files in `dir`.
fn others(dir: &Path, mine: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| {
                    p != mine
                        && p.file_name()
                            .and_then(|n| n.to_str())
                            .is_some_and(|n| n.starts_with("hactl-lvs-realserver-"))
                })
                .collect()
        })
        .unwrap_or_default()
}

pub fn stop(
    vip: Ipv4Addr,
    nic: Option<&str>,
    instance: &str,
    dir: &Path,
) -> Result<(), RealServerError> {
    hactl_agent_vip::stop(IpAddr::V4(vip), nic)?;
    let file = State::file(dir, instance);
    let state = State::load(&file);
    let heirs = others(dir, &file);
    for (path, old) in &state.changed {
        // Another real-server resource still running here keeps the setting and
        // inherits the value to put back when it stops.
        if let Some(h) = heirs.first() {
            let mut hs = State::load(h);
            if !hs.changed.iter().any(|(p, _)| p == path) {
                hs.changed.push((path.clone(), *old));
                hs.save(h)?;
            }
        } else if path.exists() {
            write_sysctl(path, *old)?;
        }
    }
    match std::fs::remove_file(&file) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => {
            Err(RealServerError::io(file.display().to_string(), e))
        }
        _ => Ok(()),
    }
}

/// `Ok(false)`: not running (no VIP). `Err`: running but not safe.
pub fn monitor(c: &RealServerConfig) -> Result<bool, RealServerError> {
    if !hactl_agent_vip::is_configured(IpAddr::V4(c.vip), Some(c.nic()))? {
        return Ok(false);
    }
    for need in c.sysctls() {
        if !need.satisfied()? {
            return Err(RealServerError::Unhealthy(format!(
                "{} is {} (effective, with all): {}",
                need.path().display(),
                need.effective()?,
                match need.rule {
                    Rule::AtLeast(_) => "this host may answer ARP for the VIP",
                    Rule::NotStrict => "strict reverse-path filtering drops tunnelled packets",
                }
            )));
        }
    }
    Ok(true)
}

/// Runs one action (`dir`: the resource-agent state directory, `HA_RSCTMP`).
pub fn run(
    action: &str,
    instance: &str,
    params: &HashMap<String, String>,
    dir: &Path,
) -> crate::Outcome {
    let result = match action {
        "validate-all" => RealServerConfig::parse(params).map(|_| OCF_SUCCESS),
        "start" => RealServerConfig::parse(params)
            .and_then(|c| start(&c, instance, dir))
            .map(|()| OCF_SUCCESS),
        "stop" => match params
            .get("vip")
            .and_then(|v| v.trim().parse::<Ipv4Addr>().ok())
        {
            // Parameters that name no address cannot have put one anywhere.
            None => Ok(OCF_SUCCESS),
            Some(vip) => {
                let nic = RealServerConfig::parse(params)
                    .ok()
                    .map(|c| c.nic().to_string());
                stop(vip, nic.as_deref(), instance, dir).map(|()| OCF_SUCCESS)
            }
        },
        "monitor" | "status" => match RealServerConfig::parse(params) {
            Err(_) => Ok(OCF_NOT_RUNNING),
            Ok(c) => monitor(&c).map(|up| if up { OCF_SUCCESS } else { OCF_NOT_RUNNING }),
        },
        _ => return crate::Outcome::unimplemented(action),
    };
    match result {
        Ok(rc) => crate::Outcome::rc(rc),
        Err(e) => crate::Outcome::error(e.rc(), e.to_string()),
    }
}

pub fn meta_data() -> &'static str {
    include_str!("lvs-realserver.xml")
}
