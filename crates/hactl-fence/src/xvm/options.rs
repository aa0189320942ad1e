//! fence_xvm's agent parameters (FenceAgentAPI names and getopt letters), shared by
//! the `fence_hactl_xvm` executable and by fence devices run in-process.

use super::client::{ClientConfig, XvmError};
use super::proto::{
    FenceKey, HashType, DEFAULT_GROUP_V4, DEFAULT_GROUP_V6, DEFAULT_KEY_FILE, DEFAULT_PORT,
};
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

/// What the agent is asked to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Null,
    On,
    Off,
    Reboot,
    Status,
    Monitor,
    List,
    ListStatus,
    Metadata,
    ValidateAll,
}

impl Action {
    pub fn parse(s: &str) -> Option<Action> {
        Some(match s.to_ascii_lowercase().as_str() {
            "null" => Action::Null,
            "on" => Action::On,
            "off" => Action::Off,
            "reboot" => Action::Reboot,
            "status" => Action::Status,
            "monitor" => Action::Monitor,
            "list" => Action::List,
            "list-status" => Action::ListStatus,
            "metadata" => Action::Metadata,
            "validate-all" => Action::ValidateAll,
            _ => return None,
        })
    }

    /// Whether the action acts on one domain.
    pub fn needs_domain(self) -> bool {
        matches!(
            self,
            Action::Null | Action::On | Action::Off | Action::Reboot | Action::Status
        )
    }
}

/// Which address family to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IpFamily {
    /// IPv6 if the multicast address contains ':', else IPv4.
    Auto,
    V4,
    V6,
}

/// A bad parameter.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OptionError {
    #[error("unknown action {0:?}")]
    Action(String),
    #[error("invalid value {value:?} for {name}: {why}")]
    Value {
        name: String,
        value: String,
        why: String,
    },
    #[error("Domain/UUID may not be specified more than once")]
    DomainTwice,
}

/// The agent's parameters, with fence_xvm's defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct XvmOptions {
    pub action: Action,
    pub domain: Option<String>,
    pub key_file: PathBuf,
    pub multicast_address: Option<IpAddr>,
    pub ip_family: IpFamily,
    pub ipport: u16,
    /// Resend interval in deciseconds.
    pub retrans: u32,
    pub hash: HashType,
    pub auth: HashType,
    /// Seconds.
    pub timeout: u32,
    /// Seconds to wait before off/on/reboot.
    pub delay: u32,
    pub use_uuid: bool,
    pub debug: bool,
}

impl Default for XvmOptions {
    fn default() -> Self {
        XvmOptions {
            action: Action::Reboot,
            domain: None,
            key_file: PathBuf::from(DEFAULT_KEY_FILE),
            multicast_address: None,
            ip_family: IpFamily::Auto,
            ipport: DEFAULT_PORT,
            retrans: 20,
            hash: HashType::Sha256,
            auth: HashType::Sha256,
            timeout: 30,
            delay: 0,
            use_uuid: false,
            debug: false,
        }
    }
}

/// Result of [`XvmOptions::set`].
#[derive(Debug, PartialEq, Eq)]
pub enum SetOutcome {
    Applied,
    /// Accepted and ignored (nodename, agent, ...).
    Ignored,
    /// Not a fence_xvm parameter.
    Unknown,
}

fn num<T: std::str::FromStr>(name: &str, value: &str) -> Result<T, OptionError> {
    value.trim().parse().map_err(|_| OptionError::Value {
        name: name.into(),
        value: value.into(),
        why: "not a number".into(),
    })
}

fn boolish(value: &str) -> bool {
    matches!(
        value.trim().to_ascii_lowercase().as_str(),
        "1" | "yes" | "true" | "on" | "y"
    )
}

impl XvmOptions {
    /// Applies one FenceAgentAPI parameter (names are case-insensitive).
    pub fn set(&mut self, name: &str, value: &str) -> Result<SetOutcome, OptionError> {
        let lname = name.to_ascii_lowercase();
        let bad = |why: &str| OptionError::Value {
            name: lname.clone(),
            value: value.into(),
            why: why.into(),
        };
        match lname.as_str() {
            "action" | "option" => {
                self.action =
                    Action::parse(value).ok_or_else(|| OptionError::Action(value.into()))?
            }
            "port" | "plug" | "domain" => {
                if self.domain.is_some() {
                    return Err(OptionError::DomainTwice);
                }
                self.domain = Some(value.to_string());
            }
            "key_file" => self.key_file = PathBuf::from(value),
            "multicast_address" => {
                let a: IpAddr = value.trim().parse().map_err(|_| bad("not an IP address"))?;
                if !a.is_multicast() {
                    return Err(bad("not a multicast address"));
                }
                self.multicast_address = Some(a);
            }
            "ip_family" => {
                self.ip_family = match value.to_ascii_lowercase().as_str() {
                    "auto" => IpFamily::Auto,
                    "ipv4" => IpFamily::V4,
                    "ipv6" => IpFamily::V6,
                    _ => return Err(bad("expected auto, ipv4 or ipv6")),
                }
            }
            "ipport" => self.ipport = num(&lname, value)?,
            "retrans" => {
                self.retrans = num(&lname, value)?;
                if self.retrans == 0 {
                    return Err(bad("must be at least 1 (decisecond)"));
                }
            }
            "hash" => self.hash = value.parse().map_err(|e| bad(&format!("{e}")))?,
            "auth" => self.auth = value.parse().map_err(|e| bad(&format!("{e}")))?,
            "timeout" => {
                self.timeout = num(&lname, value)?;
                if self.timeout == 0 {
                    return Err(bad("must be at least 1 second"));
                }
            }
            "delay" => self.delay = num(&lname, value)?,
            "use_uuid" => self.use_uuid = boolish(value),
            "debug" | "verbose" => self.debug = boolish(value),
            "nodename" | "agent" | "self" => return Ok(SetOutcome::Ignored),
            _ => return Ok(SetOutcome::Unknown),
        }
        Ok(SetOutcome::Applied)
    }

    /// The multicast group to use.
    pub fn group(&self) -> IpAddr {
        match (self.multicast_address, self.ip_family) {
            (Some(a), _) => a,
            (None, IpFamily::V6) => IpAddr::V6(DEFAULT_GROUP_V6),
            (None, _) => IpAddr::V4(DEFAULT_GROUP_V4),
        }
    }

    /// A client configuration (loads the key file).
    pub fn client_config(&self) -> Result<ClientConfig, XvmError> {
        let group = self.group();
        match (self.ip_family, group) {
            (IpFamily::V4, IpAddr::V6(_)) | (IpFamily::V6, IpAddr::V4(_)) => {
                return Err(XvmError::Config(format!(
                    "ip_family contradicts multicast_address {group}"
                )))
            }
            _ => {}
        }
        let key = FenceKey::load(&self.key_file)
            .map_err(|e| XvmError::Config(format!("Invalid key file: {e}")))?;
        let mut cfg = ClientConfig::new(key);
        cfg.hash = self.hash;
        cfg.auth = self.auth;
        cfg.group = group;
        cfg.port = self.ipport;
        cfg.timeout = Duration::from_secs(u64::from(self.timeout));
        cfg.retrans = Duration::from_millis(u64::from(self.retrans) * 100);
        Ok(cfg)
    }
}

/// The metadata `fence_hactl_xvm -o metadata` prints.
pub const METADATA: &str = r#"<?xml version="1.0" ?>
<resource-agent name="fence_hactl_xvm" shortdesc="Fence agent for virtual machines (fence_xvm protocol, native hactl client)">
<longdesc>fence_hactl_xvm fences virtual machines through fence_virtd on the hypervisors, speaking the fence_xvm multicast protocol. It is a drop-in for fence_xvm: same parameters, same exit codes. Every wait is bounded by the timeout, the TCP call-back uses a free port per operation, and monitor really checks the daemon: it lists the domains (and, with a host map, checks each mapped domain's status). NOTE: fence_virtd's reboot does not power on domains that are powered off, and it reports unknown domains as OFF.</longdesc>
<vendor-url>https://libvirt.org</vendor-url>
<parameters>
	<parameter name="debug" unique="0">
		<getopt mixed="-d" />
		<content type="boolean" />
		<shortdesc lang="en">Print debugging information</shortdesc>
	</parameter>
	<parameter name="ip_family" unique="0" required="0">
		<getopt mixed="-i" />
		<content type="select" default="auto">
			<option value="auto" />
			<option value="ipv4" />
			<option value="ipv6" />
		</content>
		<shortdesc lang="en">IP family to use (auto: from the multicast address, else IPv4)</shortdesc>
	</parameter>
	<parameter name="multicast_address" unique="0" required="0">
		<getopt mixed="-a" />
		<content type="string" default="225.0.0.12" />
		<shortdesc lang="en">Multicast address (default 225.0.0.12 / ff05::3:1)</shortdesc>
	</parameter>
	<parameter name="ipport" unique="0" required="0">
		<getopt mixed="-p" />
		<content type="integer" default="1229" />
		<shortdesc lang="en">Multicast port</shortdesc>
	</parameter>
	<parameter name="retrans" unique="0" required="0">
		<getopt mixed="-r" />
		<content type="integer" default="20" />
		<shortdesc lang="en">Multicast retransmit time (in 1/10sec)</shortdesc>
	</parameter>
	<parameter name="auth" unique="0" required="0">
		<getopt mixed="-C" />
		<content type="select" default="sha256">
			<option value="none" />
			<option value="sha1" />
			<option value="sha256" />
			<option value="sha512" />
		</content>
		<shortdesc lang="en">Authentication (challenge/response) hash; must equal fence_virtd's</shortdesc>
	</parameter>
	<parameter name="hash" unique="0" required="0">
		<getopt mixed="-c" />
		<content type="select" default="sha256">
			<option value="none" />
			<option value="sha1" />
			<option value="sha256" />
			<option value="sha512" />
		</content>
		<shortdesc lang="en">Request packet hash; at least fence_virtd's minimum</shortdesc>
	</parameter>
	<parameter name="key_file" unique="0" required="0">
		<getopt mixed="-k" />
		<content type="string" default="/etc/cluster/fence_xvm.key" />
		<shortdesc lang="en">Shared key file</shortdesc>
	</parameter>
	<parameter name="plug" unique="0" required="1" obsoletes="port">
		<getopt mixed="-n" />
		<content type="string" />
		<shortdesc lang="en">Virtual machine (domain name or UUID) to fence</shortdesc>
	</parameter>
	<parameter name="port" unique="0" required="1" deprecated="1">
		<getopt mixed="-H" />
		<content type="string" />
		<shortdesc lang="en">Virtual machine (domain name or UUID) to fence</shortdesc>
	</parameter>
	<parameter name="use_uuid" unique="0" required="0">
		<getopt mixed="-u" />
		<content type="string" default="0" />
		<shortdesc lang="en">Treat [domain] as UUID instead of domain name</shortdesc>
	</parameter>
	<parameter name="action" unique="0" required="0">
		<getopt mixed="-o" />
		<content type="string" default="reboot" />
		<shortdesc lang="en">Fencing action (null, off, on, [reboot], status, list, list-status, monitor, validate-all, metadata)</shortdesc>
	</parameter>
	<parameter name="timeout" unique="0" required="0">
		<getopt mixed="-t" />
		<content type="integer" default="30" />
		<shortdesc lang="en">Fencing timeout (in seconds); every wait is bounded by it</shortdesc>
	</parameter>
	<parameter name="delay" unique="0" required="0">
		<getopt mixed="-w" />
		<content type="integer" default="0" />
		<shortdesc lang="en">Fencing delay (in seconds; default=0)</shortdesc>
	</parameter>
	<parameter name="domain" unique="0" required="0" deprecated="1">
		<content type="string" />
		<shortdesc lang="en">Virtual Machine (domain name) to fence (deprecated; use plug)</shortdesc>
	</parameter>
</parameters>
<actions>
	<action name="null" />
	<action name="on" />
	<action name="off" />
	<action name="reboot" />
	<action name="metadata" />
	<action name="status" />
	<action name="monitor" />
	<action name="list" />
	<action name="list-status" />
	<action name="validate-all" />
</actions>
</resource-agent>
"#;
