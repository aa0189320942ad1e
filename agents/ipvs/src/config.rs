//! The agent's parameters (keepalived's meanings), parsed and checked in one place.
//! Every error names the parameter; all of them are "not configured" (OCF rc 6).

use hactl_ipvs::{Dest, Forward, Persistence, Protocol, Service, ServiceKey, SockAddr, Table};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

/// The schedulers of Linux's IPVS (each is a module `ip_vs_NAME`).
pub const SCHEDULERS: [&str; 13] = [
    "rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh",
];

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("missing required parameter '{0}'")]
    Missing(&'static str),
    #[error("parameter '{name}': {msg}")]
    Invalid { name: &'static str, msg: String },
}

fn invalid(name: &'static str, msg: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        name,
        msg: msg.into(),
    }
}

/// One configured real server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RealServer {
    pub addr: IpAddr,
    pub port: u16,
    pub weight: u32,
    pub forward: Forward,
}

impl RealServer {
    fn dest(&self, weight: u32) -> Dest {
        Dest::new(self.addr, self.port, self.forward, weight)
    }
}

/// How a real server is checked (keepalived's checkers).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CheckKind {
    /// TCP_CHECK: a connection to the check port succeeds.
    Tcp,
    /// HTTP_GET (SSL_GET with `tls`): `GET path` answers with `status` and, with a
    /// `digest`, a body whose MD5 is that (lower-case hex). Over TLS nothing of the
    /// server's certificate is verified, as keepalived's SSL_GET does by default.
    Http {
        path: String,
        status: u16,
        digest: Option<String>,
        tls: bool,
    },
    /// MISC_CHECK: `sh -c command` exits 0 within `timeout`.
    Misc { command: String, timeout: Duration },
    /// No checks: every real server is always in rotation.
    None,
}

/// Health-check settings (keepalived's names in parentheses in the meta-data).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HealthConfig {
    pub kind: CheckKind,
    /// The port to check; default each real server's own.
    pub port: Option<u16>,
    pub connect_timeout: Duration,
    /// Between checks (keepalived's delay_loop).
    pub interval: Duration,
    /// Failed attempts after the first before a server counts as down.
    pub retry: u32,
    pub delay_before_retry: Duration,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IpvsConfig {
    pub service: Service,
    pub forward: Forward,
    pub real_servers: Vec<RealServer>,
    pub sorry_server: Option<RealServer>,
    pub inhibit_on_failure: bool,
    pub health: HealthConfig,
    /// How often the daemon publishes the kernel's counters for `hactl status` when
    /// they changed (health transitions are published at once); zero: only on
    /// transitions.
    pub status_interval: Duration,
}

pub(crate) fn nonempty<'a>(p: &'a HashMap<String, String>, k: &str) -> Option<&'a str> {
    p.get(k).map(|s| s.trim()).filter(|s| !s.is_empty())
}

fn parse_num(
    p: &HashMap<String, String>,
    name: &'static str,
    default: u32,
) -> Result<u32, ConfigError> {
    match nonempty(p, name) {
        None => Ok(default),
        Some(s) => s
            .parse()
            .map_err(|_| invalid(name, format!("'{s}' is not a non-negative integer"))),
    }
}

fn parse_port(name: &'static str, s: &str, allow_zero: bool) -> Result<u16, ConfigError> {
    let n: u64 = s
        .parse()
        .map_err(|_| invalid(name, format!("port '{s}' is not a number")))?;
    let lo = if allow_zero { 0 } else { 1 };
    if n < lo || n > 65535 {
        return Err(invalid(
            name,
            format!("port {n} is out of range ({lo}-65535)"),
        ));
    }
    Ok(n as u16)
}

fn parse_ip(name: &'static str, s: &str) -> Result<IpAddr, ConfigError> {
    let ip: IpAddr = s
        .parse()
        .map_err(|_| invalid(name, format!("'{s}' is not an IPv4 or IPv6 address")))?;
    if ip.is_unspecified() || ip.is_multicast() {
        return Err(invalid(
            name,
            format!("{ip} cannot be a service or server address"),
        ));
    }
    Ok(ip)
}

pub(crate) fn parse_forward(name: &'static str, s: &str) -> Result<Forward, ConfigError> {
    match s {
        "dr" | "DR" => Ok(Forward::Dr),
        "nat" | "NAT" => Ok(Forward::Nat),
        "tun" | "TUN" => Ok(Forward::Tun),
        _ => Err(invalid(name, format!("'{s}' is not one of dr, nat, tun"))),
    }
}

fn parse_bool(p: &HashMap<String, String>, name: &'static str) -> Result<bool, ConfigError> {
    match nonempty(p, name).map(str::to_ascii_lowercase).as_deref() {
        None | Some("false" | "no" | "0" | "off") => Ok(false),
        Some("true" | "yes" | "1" | "on") => Ok(true),
        Some(s) => Err(invalid(name, format!("'{s}' is not true or false"))),
    }
}

/// `IP:PORT[,weight=N][,forward=dr|nat|tun]`, IPv6 as `[addr]:port`.
fn parse_server(
    name: &'static str,
    item: &str,
    default_fwd: Forward,
    allow_port_zero: bool,
) -> Result<RealServer, ConfigError> {
    let mut parts = item.split(',');
    let hostport = parts.next().unwrap_or_default();
    let (host, port) = if let Some(rest) = hostport.strip_prefix('[') {
        let (h, p) = rest
            .split_once("]:")
            .ok_or_else(|| invalid(name, format!("'{item}': IPv6 is written [addr]:port")))?;
        (h, p)
    } else {
        hostport
            .rsplit_once(':')
            .filter(|(h, _)| !h.contains(':'))
            .ok_or_else(|| invalid(name, format!("'{item}' is not IP:PORT")))?
    };
    let mut rs = RealServer {
        addr: parse_ip(name, host)?,
        port: parse_port(name, port, allow_port_zero)?,
        weight: 1,
        forward: default_fwd,
    };
    for opt in parts {
        match opt.split_once('=') {
            Some(("weight", w)) => {
                rs.weight = w
                    .parse::<u32>()
                    .ok()
                    .filter(|w| *w <= 65535)
                    .ok_or_else(|| {
                        invalid(name, format!("'{item}': weight '{w}' is not 0-65535"))
                    })?
            }
            Some(("forward", f)) => rs.forward = parse_forward(name, f)?,
            _ => return Err(invalid(name, format!("'{item}': unknown option '{opt}'"))),
        }
    }
    Ok(rs)
}

fn parse_key(p: &HashMap<String, String>, ipv6_servers: bool) -> Result<ServiceKey, ConfigError> {
    let protocol = match nonempty(p, "protocol").unwrap_or("tcp") {
        "tcp" => Protocol::Tcp,
        "udp" => Protocol::Udp,
        "sctp" => Protocol::Sctp,
        s => {
            return Err(invalid(
                "protocol",
                format!("'{s}' is not one of tcp, udp, sctp"),
            ))
        }
    };
    if let Some(m) = nonempty(p, "fwmark") {
        if nonempty(p, "vip").is_some() {
            return Err(invalid("fwmark", "set either fwmark or vip/port, not both"));
        }
        let mark = m
            .parse::<u32>()
            .ok()
            .filter(|m| *m != 0)
            .ok_or_else(|| invalid("fwmark", format!("'{m}' is not a mark (1-4294967295)")))?;
        return Ok(ServiceKey::Fwmark {
            mark,
            ipv6: ipv6_servers,
        });
    }
    let addr = parse_ip(
        "vip",
        nonempty(p, "vip").ok_or(ConfigError::Missing("vip"))?,
    )?;
    let persistent = parse_num(p, "persistence_timeout", 0)? > 0;
    // The kernel takes port 0 ("every port") only for persistent services.
    let port = parse_port(
        "port",
        nonempty(p, "port").ok_or(ConfigError::Missing("port"))?,
        persistent,
    )?;
    Ok(ServiceKey::Addr {
        protocol,
        addr,
        port,
    })
}

fn parse_persistence(
    p: &HashMap<String, String>,
    ipv6: bool,
) -> Result<Option<Persistence>, ConfigError> {
    let timeout = parse_num(p, "persistence_timeout", 0)?;
    let max = if ipv6 { 128 } else { 32 };
    let prefix = match nonempty(p, "persistence_netmask") {
        None => max,
        Some(s) => match (s.parse::<u8>(), s.parse::<Ipv4Addr>()) {
            (Ok(n), _) if n >= 1 && n <= max => n,
            (_, Ok(m))
                if !ipv6 && (u32::from(m).leading_ones() + u32::from(m).trailing_zeros() == 32) =>
            {
                u32::from(m).leading_ones() as u8
            }
            _ => {
                return Err(invalid(
                    "persistence_netmask",
                    format!("'{s}' is not a netmask or prefix length (1-{max})"),
                ))
            }
        },
    };
    Ok((timeout > 0).then_some(Persistence { timeout, prefix }))
}

impl IpvsConfig {
    pub fn parse(p: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let forward = parse_forward("forward", nonempty(p, "forward").unwrap_or("dr"))?;
        let scheduler = nonempty(p, "scheduler").unwrap_or("wlc");
        if !SCHEDULERS.contains(&scheduler) {
            return Err(invalid(
                "scheduler",
                format!(
                    "unknown scheduler '{scheduler}' (one of {})",
                    SCHEDULERS.join(" ")
                ),
            ));
        }
        let fwmark = nonempty(p, "fwmark").is_some();
        let port_zero_ok = fwmark || nonempty(p, "port") == Some("0");
        let mut real_servers: Vec<RealServer> = Vec::new();
        for item in nonempty(p, "real_servers").unwrap_or("").split_whitespace() {
            let rs = parse_server("real_servers", item, forward, port_zero_ok)?;
            if real_servers
                .iter()
                .any(|o| (o.addr, o.port) == (rs.addr, rs.port))
            {
                return Err(invalid(
                    "real_servers",
                    format!("duplicate real server {}", SockAddr(rs.addr, rs.port)),
                ));
            }
            real_servers.push(rs);
        }
        let sorry_server = nonempty(p, "sorry_server")
            .map(|s| parse_server("sorry_server", s, forward, port_zero_ok))
            .transpose()?;
        let ipv6_servers = real_servers
            .first()
            .or(sorry_server.as_ref())
            .is_some_and(|r| r.addr.is_ipv6());
        let key = parse_key(p, ipv6_servers)?;
        check_families(&key, real_servers.iter().chain(sorry_server.as_ref()))?;
        if sorry_server.is_some_and(|s| {
            real_servers
                .iter()
                .any(|r| (r.addr, r.port) == (s.addr, s.port))
        }) {
            return Err(invalid("sorry_server", "is also listed in real_servers"));
        }
        Ok(IpvsConfig {
            service: Service {
                key,
                scheduler: scheduler.to_string(),
                persistence: parse_persistence(p, key.is_ipv6())?,
            },
            forward,
            real_servers,
            sorry_server,
            inhibit_on_failure: parse_bool(p, "inhibit_on_failure")?,
            health: parse_health(p)?,
            status_interval: match nonempty(p, "status_interval") {
                Some("0") => Duration::ZERO,
                _ => parse_secs(p, "status_interval", 10.0)?,
            },
        })
    }

    /// The table the kernel should hold when the servers for which `down` is true are
    /// failing: those are removed, or kept at weight 0 with `inhibit_on_failure`; the
    /// sorry server is in only while no real server with a weight is up.
    pub fn table(&self, down: impl Fn(&RealServer) -> bool) -> Table {
        let mut dests = Vec::new();
        let mut any_up = false;
        for rs in &self.real_servers {
            if !down(rs) {
                any_up |= rs.weight > 0;
                dests.push(rs.dest(rs.weight));
            } else if self.inhibit_on_failure {
                dests.push(rs.dest(0));
            }
        }
        if let (false, Some(s)) = (any_up, &self.sorry_server) {
            dests.push(s.dest(s.weight));
        }
        Table {
            service: self.service.clone(),
            dests,
        }
    }
}

fn parse_secs(
    p: &HashMap<String, String>,
    name: &'static str,
    default: f64,
) -> Result<Duration, ConfigError> {
    let v = match nonempty(p, name) {
        None => default,
        Some(s) => s
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite() && *v > 0.0 && *v <= 86400.0)
            .ok_or_else(|| invalid(name, format!("'{s}' is not a number of seconds (0-86400)")))?,
    };
    Ok(Duration::from_secs_f64(v))
}

/// `check=http|https`: path, expected status and optional body digest.
fn parse_http(p: &HashMap<String, String>, tls: bool) -> Result<CheckKind, ConfigError> {
    let path = nonempty(p, "http_path").unwrap_or("/");
    if !path.starts_with('/') || path.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid("http_path", format!("'{path}' is not a URL path")));
    }
    let status = match nonempty(p, "http_status") {
        None => 200,
        Some(s) => s
            .parse::<u16>()
            .ok()
            .filter(|c| (100..600).contains(c))
            .ok_or_else(|| invalid("http_status", format!("'{s}' is not an HTTP status")))?,
    };
    let digest = nonempty(p, "http_digest")
        .map(|d| {
            let ok = d.len() == 32 && d.chars().all(|c| c.is_ascii_hexdigit());
            ok.then(|| d.to_ascii_lowercase()).ok_or_else(|| {
                invalid(
                    "http_digest",
                    format!("'{d}' is not an MD5 digest (32 hex digits)"),
                )
            })
        })
        .transpose()?;
    Ok(CheckKind::Http {
        path: path.to_string(),
        status,
        digest,
        tls,
    })
}

fn parse_health(p: &HashMap<String, String>) -> Result<HealthConfig, ConfigError> {
    let interval = parse_secs(p, "check_interval", 6.0)?;
    let kind = match nonempty(p, "check").unwrap_or("tcp") {
        "tcp" => CheckKind::Tcp,
        "none" => CheckKind::None,
        kind @ ("http" | "https") => parse_http(p, kind == "https")?,
        "misc" => CheckKind::Misc {
            command: nonempty(p, "misc_path")
                .ok_or(ConfigError::Missing("misc_path"))?
                .to_string(),
            timeout: parse_secs(p, "misc_timeout", interval.as_secs_f64())?,
        },
        s => {
            return Err(invalid(
                "check",
                format!("'{s}' is not one of tcp, http, https, misc, none"),
            ))
        }
    };
    if nonempty(p, "http_digest").is_some() && !matches!(kind, CheckKind::Http { .. }) {
        return Err(invalid(
            "http_digest",
            "applies to check=http or check=https only",
        ));
    }
    Ok(HealthConfig {
        kind,
        port: nonempty(p, "check_port")
            .map(|s| parse_port("check_port", s, false))
            .transpose()?,
        connect_timeout: parse_secs(p, "connect_timeout", 3.0)?,
        interval,
        retry: parse_num(p, "retry", 1)?,
        delay_before_retry: parse_secs(p, "delay_before_retry", 1.0)?,
    })
}

/// The kernel mixes address families only for tunnelled real servers.
fn check_families<'a>(
    key: &ServiceKey,
    servers: impl Iterator<Item = &'a RealServer>,
) -> Result<(), ConfigError> {
    for rs in servers {
        if rs.addr.is_ipv6() != key.is_ipv6() && rs.forward != Forward::Tun {
            return Err(invalid(
                "real_servers",
                format!(
                    "{}: a real server of the other address family needs forward=tun",
                    SockAddr(rs.addr, rs.port)
                ),
            ));
        }
    }
    Ok(())
}

/// The service a `stop` or `monitor` looks for, read leniently: parameters that do
/// not name a service cannot have created one.
pub fn lookup_key(p: &HashMap<String, String>) -> Option<ServiceKey> {
    if let Ok(c) = IpvsConfig::parse(p) {
        return Some(c.service.key);
    }
    let ipv6 = nonempty(p, "real_servers").is_some_and(|s| s.starts_with('['));
    parse_key(p, ipv6).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(kv: &[(&str, &str)]) -> HashMap<String, String> {
        kv.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn err(kv: &[(&str, &str)]) -> String {
        IpvsConfig::parse(&params(kv)).unwrap_err().to_string()
    }

    #[test]
    fn keepalived_style_parameters_make_the_table() {
        let c = IpvsConfig::parse(&params(&[
            ("vip", "10.0.0.100"),
            ("port", "80"),
            ("scheduler", "wrr"),
            ("forward", "nat"),
            (
                "real_servers",
                "10.0.0.11:8080,weight=3 10.0.0.12:8080,forward=dr",
            ),
            ("persistence_timeout", "300"),
            ("persistence_netmask", "255.255.255.0"),
            ("sorry_server", "10.0.0.99:80"),
            ("inhibit_on_failure", "true"),
        ]))
        .unwrap();
        assert_eq!(c.service.scheduler, "wrr");
        assert_eq!(
            c.service.persistence,
            Some(Persistence {
                timeout: 300,
                prefix: 24
            })
        );
        let t = c.table(|_| false);
        let got: Vec<_> = t
            .dests
            .iter()
            .map(|d| (d.port, d.weight, d.forward))
            .collect();
        assert_eq!(got, vec![(8080, 3, Forward::Nat), (8080, 1, Forward::Dr)]);
        // Both down, inhibit: kept at weight 0, and the sorry server comes in.
        let t = c.table(|_| true);
        let got: Vec<_> = t
            .dests
            .iter()
            .map(|d| (d.addr.to_string(), d.weight))
            .collect();
        assert_eq!(
            got,
            vec![
                ("10.0.0.11".into(), 0),
                ("10.0.0.12".into(), 0),
                ("10.0.0.99".into(), 1)
            ]
        );
    }

    #[test]
    fn health_checks_default_to_keepalived_timings() {
        let c = IpvsConfig::parse(&params(&[("vip", "10.0.0.100"), ("port", "80")])).unwrap();
        assert_eq!(c.health.kind, CheckKind::Tcp);
        assert_eq!(c.health.connect_timeout, Duration::from_secs(3));
        assert_eq!(c.health.interval, Duration::from_secs(6));
        assert_eq!(
            (c.health.retry, c.health.delay_before_retry),
            (1, Duration::from_secs(1))
        );
        let c = IpvsConfig::parse(&params(&[
            ("vip", "10.0.0.100"),
            ("port", "80"),
            ("check", "http"),
            ("http_path", "/health"),
            ("http_status", "204"),
            ("check_interval", "0.5"),
        ]))
        .unwrap();
        assert_eq!(
            c.health.kind,
            CheckKind::Http {
                path: "/health".into(),
                status: 204,
                digest: None,
                tls: false,
            }
        );
        assert_eq!(c.health.interval, Duration::from_millis(500));
        let c = IpvsConfig::parse(&params(&[
            ("vip", "10.0.0.100"),
            ("port", "443"),
            ("check", "https"),
            ("http_digest", "EFF5BC1EF8EC9D03E640FC4370F5EACD"),
        ]))
        .unwrap();
        assert_eq!(
            c.health.kind,
            CheckKind::Http {
                path: "/".into(),
                status: 200,
                digest: Some("eff5bc1ef8ec9d03e640fc4370f5eacd".into()),
                tls: true,
            }
        );
    }

    #[test]
    fn without_inhibit_a_failed_server_is_removed() {
        let c = IpvsConfig::parse(&params(&[
            ("vip", "fd00::100"),
            ("port", "443"),
            ("real_servers", "[fd00::11]:443 [fd00::12]:443"),
        ]))
        .unwrap();
        assert_eq!(c.service.scheduler, "wlc");
        let t = c.table(|rs| rs.addr.to_string() == "fd00::11");
        assert_eq!(t.dests.len(), 1);
        assert_eq!(t.dests[0].addr.to_string(), "fd00::12");
        assert_eq!(t.dests[0].forward, Forward::Dr);
    }

    #[test]
    fn bad_configuration_names_the_parameter() {
        let base = [("vip", "10.0.0.100"), ("port", "80")];
        let with = |k: &'static str, v: &'static str| {
            let mut p = base.to_vec();
            p.push((k, v));
            err(&p)
        };
        assert!(with("scheduler", "fastest").contains("unknown scheduler 'fastest'"));
        assert!(with("real_servers", "10.0.0.300:80").contains("not an IPv4 or IPv6"));
        assert!(with("real_servers", "10.0.0.1:80 10.0.0.1:80")
            .contains("duplicate real server 10.0.0.1:80"));
        assert!(with("real_servers", "10.0.0.1:70000").contains("out of range"));
        assert!(with("real_servers", "10.0.0.1:80,weight=x").contains("weight"));
        assert!(with("real_servers", "[fd00::1]:80").contains("forward=tun"));
        assert!(with("forward", "bridge").contains("'forward'"));
        assert!(with("protocol", "icmp").contains("'protocol'"));
        assert!(err(&[("vip", "10.0.0.100"), ("port", "65536")]).contains("'port'"));
        assert!(err(&[("vip", "10.0.0.100"), ("port", "0")]).contains("out of range"));
        assert!(err(&[("port", "80")]).contains("'vip'"));
        assert!(err(&[("vip", "10.0.0.100"), ("port", "80"), ("fwmark", "1")]).contains("either"));
        assert!(with("check", "ping").contains("'check'"));
        let http = [("check", "http"), ("http_digest", "abc")];
        assert!(err(&[base.as_slice(), &http].concat()).contains("not an MD5 digest"));
        assert!(with("http_digest", "eff5bc1ef8ec9d03e640fc4370f5eacd").contains("check=http"));
        assert!(with("check_interval", "0").contains("'check_interval'"));
        assert!(with("check", "misc").contains("'misc_path'"));
        assert!(with("check_port", "0").contains("'check_port'"));
    }

    #[test]
    fn stop_finds_the_service_even_when_the_rest_is_wrong() {
        let p = params(&[("vip", "10.0.0.100"), ("port", "80"), ("scheduler", "nope")]);
        assert!(IpvsConfig::parse(&p).is_err());
        assert!(matches!(
            lookup_key(&p),
            Some(ServiceKey::Addr { port: 80, .. })
        ));
        assert_eq!(lookup_key(&params(&[("vip", "x")])), None);
    }
}
