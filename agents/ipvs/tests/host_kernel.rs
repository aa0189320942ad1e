//! The `hactl-ipvs` executable run as an OCF resource manager runs it, on this
//! machine's own kernel. What it asserts needs a kernel WITHOUT IPVS (the development
//! and CI machines: `CONFIG_IP_VS` is not set); the kernel side with IPVS is tested in
//! the ipvs-vm guest (`tests/ipvs-vm/`).

use std::process::{Command, Output, Stdio};

fn agent(action: &str, env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hactl-ipvs"))
        .arg(action)
        .env_clear()
        .env("OCF_ROOT", "/usr/lib/ocf")
        .env("OCF_RESOURCE_INSTANCE", "web")
        .envs(env.iter().map(|(k, v)| (format!("OCF_RESKEY_{k}"), *v)))
        .stdin(Stdio::null())
        .output()
        .expect("run hactl-ipvs")
}

fn reason(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr)
        .lines()
        .filter_map(|l| l.strip_prefix("ocf-exit-reason:"))
        .next_back()
        .unwrap_or_default()
        .to_string()
}

const GOOD: [(&str, &str); 3] = [
    ("vip", "10.0.0.100"),
    ("port", "80"),
    ("real_servers", "10.0.0.11:80 10.0.0.12:80,weight=2"),
];

fn kernel_has_ipvs() -> bool {
    std::path::Path::new("/proc/net/ip_vs").exists()
}

#[test]
fn bad_configuration_is_rc_6_with_a_reason_and_touches_nothing() {
    let cases: [(&str, &str, &str); 4] = [
        ("scheduler", "fastest", "unknown scheduler 'fastest'"),
        (
            "real_servers",
            "10.0.0.11:80 10.0.0.300:80",
            "'10.0.0.300' is not an IPv4",
        ),
        (
            "real_servers",
            "10.0.0.11:80 10.0.0.11:80",
            "duplicate real server 10.0.0.11:80",
        ),
        ("port", "65536", "port 65536 is out of range"),
    ];
    for (k, v, want) in cases {
        let mut env: Vec<(&str, &str)> = GOOD.iter().copied().filter(|(n, _)| *n != k).collect();
        env.push((k, v));
        for action in ["validate-all", "start"] {
            let o = agent(action, &env);
            assert_eq!(o.status.code(), Some(6), "{action} with {k}={v}: {o:?}");
            assert!(
                reason(&o).contains(want),
                "{action} {k}={v}: reason {:?}",
                reason(&o)
            );
        }
        // Stop with a bad configuration still succeeds: nothing could have been made.
        assert_eq!(
            agent("stop", &env).status.code(),
            Some(0),
            "stop with {k}={v}"
        );
    }
}

#[test]
fn a_kernel_without_ipvs_is_rc_5_not_installed() {
    if kernel_has_ipvs() {
        eprintln!("skipped: this kernel has IPVS (the guest tests cover it)");
        return;
    }
    for action in ["validate-all", "start"] {
        let o = agent(action, &GOOD);
        assert_eq!(o.status.code(), Some(5), "{action}: {o:?}");
        assert!(reason(&o).contains("no IPVS support"), "{}", reason(&o));
    }
    assert_eq!(agent("monitor", &GOOD).status.code(), Some(7));
    assert_eq!(agent("stop", &GOOD).status.code(), Some(0));
}

#[test]
fn meta_data_lists_every_parameter() {
    let o = agent("meta-data", &[]);
    assert_eq!(o.status.code(), Some(0));
    let xml = String::from_utf8_lossy(&o.stdout);
    for p in [
        "vip",
        "port",
        "protocol",
        "fwmark",
        "scheduler",
        "forward",
        "real_servers",
        "persistence_timeout",
        "persistence_netmask",
        "sorry_server",
        "inhibit_on_failure",
    ] {
        assert!(
            xml.contains(&format!("<parameter name=\"{p}\"")),
            "{p} missing"
        );
    }
    assert!(xml.contains("<action name=\"reload-agent\""));
}

fn realserver(action: &str, env: &[(&str, &str)]) -> Output {
    let state = std::env::temp_dir().join(format!("hactl-rs-host-{}", std::process::id()));
    Command::new(env!("CARGO_BIN_EXE_hactl-lvs-realserver"))
        .arg(action)
        .env_clear()
        .env("OCF_ROOT", "/usr/lib/ocf")
        .env("OCF_RESOURCE_INSTANCE", "rs")
        .env("HA_RSCTMP", state)
        .envs(env.iter().map(|(k, v)| (format!("OCF_RESKEY_{k}"), *v)))
        .stdin(Stdio::null())
        .output()
        .expect("run hactl-lvs-realserver")
}

/// lvs-realserver refuses what it cannot do before touching anything (nothing here
/// parses to an address it could add), and stop/monitor never fail on parameters.
#[test]
fn lvs_realserver_bad_configuration_is_rc_6() {
    for (env, want) in [
        (vec![], "missing required parameter 'vip'"),
        (vec![("vip", "fd00::100")], "only IPv4"),
        (vec![("vip", "10.0.0.300")], "not an IPv4 address"),
        (
            vec![("vip", "10.0.0.100"), ("mode", "nat")],
            "'nat' is not dr or tun",
        ),
        (
            vec![("vip", "10.0.0.100"), ("arp_interfaces", "eth0 a/b")],
            "arp_interfaces",
        ),
    ] {
        for action in ["validate-all", "start"] {
            let o = realserver(action, &env);
            assert_eq!(o.status.code(), Some(6), "{action} {env:?}: {o:?}");
            assert!(reason(&o).contains(want), "{env:?}: {}", reason(&o));
        }
        assert_eq!(
            realserver("monitor", &env).status.code(),
            Some(7),
            "{env:?}"
        );
    }
    assert_eq!(
        realserver("stop", &[("vip", "not-an-address")])
            .status
            .code(),
        Some(0)
    );
    let md = realserver("meta-data", &[]);
    assert!(String::from_utf8_lossy(&md.stdout).contains("<parameter name=\"arp_interfaces\""));
}
