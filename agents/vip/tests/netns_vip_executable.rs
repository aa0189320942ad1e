//! The `hactl-vip` executable run the way any OCF resource manager runs an agent
//! (clean environment, `OCF_RESKEY_*`, action as argv[1]) in a node namespace, with
//! a client namespace on the same bridge capturing the gratuitous ARPs.

#[path = "../../../crates/hactl-exec/tests/common/mod.rs"]
mod common;

use common::{in_netns, require_root, ArpCapture, Lab};
use std::net::Ipv4Addr;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn agent(ns: &str, action: &str, env: &[(&str, &str)]) -> Output {
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (format!("OCF_RESKEY_{k}"), v.to_string()))
        .collect();
    let action = action.to_string();
    in_netns(ns, move || {
        Command::new(env!("CARGO_BIN_EXE_hactl-vip"))
            .arg(&action)
            .env_clear()
            .env("OCF_ROOT", "/usr/lib/ocf")
            .env("OCF_RESOURCE_INSTANCE", "vip")
            .envs(env)
            .stdin(Stdio::null())
            // output() waits for EOF on both pipes: it returns only once the
            // detached announcer has let go of them.
            .output()
            .expect("run hactl-vip")
    })
}

#[test]
fn netns_vip_executable_is_an_ocf_agent() {
    if !require_root() {
        return;
    }
    let lab = Lab::new("vx");
    let mac = lab.node_mac();
    let cap = ArpCapture::open(&lab.client, &lab.client_if);
    let vip = Ipv4Addr::new(10, 66, 0, 100);
    let nic = lab.node_if.clone();
    let base = [
        ("ip", "10.66.0.100"),
        ("cidr_netmask", "24"),
        ("nic", nic.as_str()),
    ];

    let md = agent(&lab.node, "meta-data", &[]);
    assert_eq!(md.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&md.stdout).contains("<resource-agent name=\"VIP\""));
    assert_eq!(agent(&lab.node, "monitor", &base).status.code(), Some(7));
    assert_eq!(
        agent(&lab.node, "validate-all", &base).status.code(),
        Some(0)
    );

    // Three announcements 100 ms apart, request and reply in turn; start returns
    // after the first, the others follow from the detached sender.
    let mut env = base.to_vec();
    env.extend([("arp_count", "3"), ("arp_interval", "100")]);
    cap.flush();
    let start = agent(&lab.node, "start", &env);
    assert_eq!(
        start.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&start.stderr)
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut ops = Vec::new();
    while ops.len() < 3 {
        let g = cap.next_garp(vip, deadline).expect("fewer than 3 GARPs");
        assert_eq!(g.sender_mac, mac);
        ops.push(g.op);
    }
    assert_eq!(ops, vec![1, 2, 1]);
    assert_eq!(agent(&lab.node, "monitor", &base).status.code(), Some(0));
    // arp_count_refresh: each monitor re-announces.
    let mut env = base.to_vec();
    env.extend([("arp_count_refresh", "2"), ("arp_interval", "50")]);
    cap.flush();
    assert_eq!(agent(&lab.node, "monitor", &env).status.code(), Some(0));
    for _ in 0..2 {
        let g = cap.next_garp(vip, Instant::now() + Duration::from_secs(5));
        assert!(
            g.is_some(),
            "monitor with arp_count_refresh sent too few GARPs"
        );
    }

    // A stop ends the announcements of a start still in progress.
    let stop = agent(&lab.node, "stop", &base);
    assert_eq!(stop.status.code(), Some(0));
    let mut env = base.to_vec();
    env.extend([("arp_count", "50"), ("arp_interval", "20")]);
    assert_eq!(agent(&lab.node, "start", &env).status.code(), Some(0));
    assert_eq!(agent(&lab.node, "stop", &base).status.code(), Some(0));
    // Frames already sent may still be queued; after a pause nothing new arrives.
    std::thread::sleep(Duration::from_millis(100));
    cap.flush();
    assert!(
        cap.next_garp(vip, Instant::now() + Duration::from_millis(300))
            .is_none(),
        "announcements continued after stop"
    );
    assert_eq!(agent(&lab.node, "monitor", &base).status.code(), Some(7));

    let bad = agent(&lab.node, "start", &[("ip", "10.66.0.300")]);
    assert_eq!(bad.status.code(), Some(6));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("ocf-exit-reason:parameter 'ip'"));
    let no_ip = agent(&lab.node, "start", &[("nic", nic.as_str())]);
    assert_eq!(no_ip.status.code(), Some(6));
    let no_nic = agent(
        &lab.node,
        "validate-all",
        &[("ip", "10.66.0.100"), ("nic", "hx-enone0")],
    );
    // An interface missing on this node only: "invalid argument" (2, ban from this
    // node), not "not configured" (6, stop everywhere).
    assert_eq!(no_nic.status.code(), Some(2));
    // Stop and monitor never fail because of parameters: a typo must not get a
    // node fenced (a failed stop does) nor fail a probe.
    for typo in [
        ("ip", "999.1.1.1"),
        ("ip", "224.0.0.1"),
        ("cidr_netmask", "33"),
        ("nic", "a/b"),
        ("arp_count", "-1"),
    ] {
        let mut env = base.to_vec();
        env.retain(|(k, _)| *k != typo.0);
        env.push(typo);
        for (action, rc) in [
            ("validate-all", 6),
            ("start", 6),
            ("monitor", 7),
            ("stop", 0),
        ] {
            let out = agent(&lab.node, action, &env);
            assert_eq!(out.status.code(), Some(rc), "{action} with {typo:?}");
        }
    }
    // Running, then the parameters went bad: monitor reports it, stop still stops.
    assert_eq!(agent(&lab.node, "start", &base).status.code(), Some(0));
    let mut bad_count = base.to_vec();
    bad_count.push(("arp_count", "-1"));
    assert_eq!(
        agent(&lab.node, "monitor", &bad_count).status.code(),
        Some(6)
    );
    assert_eq!(agent(&lab.node, "stop", &bad_count).status.code(), Some(0));
    assert_eq!(agent(&lab.node, "monitor", &base).status.code(), Some(7));
    assert_eq!(agent(&lab.node, "promote", &base).status.code(), Some(3));
    drop(lab);
}
