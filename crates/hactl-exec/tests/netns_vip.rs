//! Floating IP agents in real network namespaces: the real `ocf:heartbeat:IPaddr2`
//! (Debian resource-agents) and the native `ocf:hactl:VIP`, each driven by the
//! executor inside a node namespace while a client namespace on the same bridge
//! captures the gratuitous ARP and connects to a server listening on the VIP.

mod common;

use common::{fetch, in_netns, require_root, serve, vip_addr, ArpCapture, Lab};
use hactl_exec::{params, AgentSpec, ExecConfig, ExecStatus, Executor};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(20);

fn lifecycle(agent_name: &'static str, tag: &str) {
    if !require_root() {
        return;
    }
    let lab = Lab::new(tag);
    let mac = lab.node_mac();
    let cap = std::sync::Arc::new(ArpCapture::open(&lab.client, &lab.client_if));
    let dir = tempfile::tempdir().unwrap();
    let cfg = ExecConfig {
        rsctmp: dir.path().to_path_buf(),
        ..ExecConfig::default()
    };
    let (node, client, nic) = (lab.node.clone(), lab.client.clone(), lab.node_if.clone());
    in_netns(&lab.node.clone(), move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let (exec, _events) = Executor::new(cfg);
            let agent = AgentSpec::parse(agent_name).unwrap();
            let IpAddr::V4(vip4) = vip_addr() else {
                unreachable!()
            };
            let p = params([
                ("ip", "10.66.0.100"),
                ("cidr_netmask", "24"),
                ("nic", nic.as_str()),
                ("arp_count", "3"),
                ("arp_interval", "100"),
            ]);

            // Refused before anything runs: the required ip is missing.
            let e = exec
                .validate(&agent, &params([("nic", nic.as_str())]))
                .await
                .unwrap_err();
            assert!(e.to_string().contains("'ip'"), "{e}");
            exec.validate(&agent, &p).await.unwrap();

            let probe = exec.probe("vip", &agent, &p, T).await;
            assert_eq!(probe.rc, 7, "probe before start: {probe}");

            cap.flush();
            let r = exec.execute("vip", &agent, &p, "start", T).await;
            assert!(r.is_success(), "start: {r}");
            // Wait for the frames off the runtime's thread: in-process, the later
            // announcements come from a task on this (single-threaded) runtime.
            let c = cap.clone();
            let garps = tokio::task::spawn_blocking(move || {
                let deadline = Instant::now() + Duration::from_secs(5);
                (0..3)
                    .map_while(|_| c.next_garp(vip4, deadline))
                    .collect::<Vec<_>>()
            })
            .await
            .unwrap();
            assert!(
                !garps.is_empty(),
                "no gratuitous ARP for the VIP seen by the client"
            );
            assert_eq!(garps[0].sender_mac, mac, "GARP must carry the node's MAC");
            // All three announcements arrive (the executor neither kills nor cuts off
            // a background sender such as send_arp).
            assert_eq!(garps.len(), 3, "announcements missing: {garps:?}");

            let addr = SocketAddr::new(vip_addr(), 8080);
            serve(&node, addr, "hello from the node");
            let got = fetch(&client, addr).expect("client cannot reach the VIP");
            assert_eq!(got, "hello from the node");

            let m = exec.execute("vip", &agent, &p, "monitor", T).await;
            assert_eq!(m.rc, 0, "monitor while running: {m}");
            let s = exec.execute("vip", &agent, &p, "stop", T).await;
            assert!(s.is_success(), "stop: {s}");
            let m = exec.execute("vip", &agent, &p, "monitor", T).await;
            assert_eq!(m.rc, 7, "monitor after stop: {m}");
            let again = exec.execute("vip", &agent, &p, "stop", T).await;
            assert!(again.is_success(), "stop is idempotent: {again}");

            let bad = params([
                ("ip", "10.66.0.300"),
                ("cidr_netmask", "24"),
                ("nic", nic.as_str()),
            ]);
            let r = exec.execute("bad", &agent, &bad, "start", T).await;
            assert_eq!((r.rc, r.status), (6, ExecStatus::Done), "invalid ip: {r}");
            let bad_nic = params([
                ("ip", "10.66.0.101"),
                ("cidr_netmask", "24"),
                ("nic", "hx-enone0"),
            ]);
            let r = exec.execute("bad", &agent, &bad_nic, "start", T).await;
            // IPaddr2 says "not configured" (stopped everywhere); the native agent
            // "invalid parameter" (banned from this node only: others may have it).
            let no_nic_rc = if agent_name == "ocf:hactl:VIP" { 2 } else { 6 };
            assert_eq!(r.rc, no_nic_rc, "missing nic: {r}");

            assert_eq!(exec.fail_count("vip", "start", Duration::ZERO), 0);
            assert_eq!(exec.fail_count("bad", "start", Duration::ZERO), 2);
        });
    });
    drop(lab);
}

#[test]
fn netns_ipaddr2_real_agent() {
    lifecycle("ocf:heartbeat:IPaddr2", "ip");
}

#[test]
fn netns_native_vip_in_process() {
    lifecycle("ocf:hactl:VIP", "vp");
}

/// Without nic, the native agent finds the interface whose subnet holds the VIP
/// (IPaddr2's findif) and takes its prefix.
#[test]
fn netns_native_vip_finds_interface() {
    if !require_root() {
        return;
    }
    let lab = Lab::new("vf");
    let nic = lab.node_if.clone();
    in_netns(&lab.node.clone(), move || {
        let p = hactl_agent_vip::VipParams::parse(
            &[("ip".to_string(), "10.66.0.77".to_string())].into(),
        )
        .unwrap();
        let r = hactl_agent_vip::resolve(&p).unwrap();
        assert_eq!(r.nic, nic);
        assert_eq!(r.prefix, 24);
        let off = hactl_agent_vip::VipParams::parse(
            &[("ip".to_string(), "10.99.0.7".to_string())].into(),
        )
        .unwrap();
        assert_eq!(hactl_agent_vip::resolve(&off).unwrap_err().rc(), 1);
    });
}

/// IPv6: the native agent adds the address and sends an unsolicited neighbour
/// advertisement that the client sees; the client then reaches a server on it.
#[test]
fn netns_native_vip_ipv6() {
    if !require_root() {
        return;
    }
    let lab = Lab::new("v6");
    let mac = lab.node_mac();
    let cap = ArpCapture::open_ipv6(&lab.client, &lab.client_if);
    let out = std::process::Command::new("ip")
        .args([
            "-n",
            &lab.client,
            "addr",
            "add",
            "fd00:66::2/64",
            "dev",
            &lab.client_if,
            "nodad",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let (node, client, nic) = (lab.node.clone(), lab.client.clone(), lab.node_if.clone());
    in_netns(&lab.node.clone(), move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let (exec, _ev) = Executor::new(ExecConfig::default());
            let agent = AgentSpec::parse("ocf:hactl:VIP").unwrap();
            let p = params([
                ("ip", "fd00:66::100"),
                ("cidr_netmask", "64"),
                ("nic", nic.as_str()),
            ]);
            cap.flush();
            let r = exec.execute("vip6", &agent, &p, "start", T).await;
            assert!(r.is_success(), "{r}");
            let vip: std::net::Ipv6Addr = "fd00:66::100".parse().unwrap();
            let adv = cap
                .next_na(vip, Instant::now() + Duration::from_secs(5))
                .expect("no unsolicited neighbour advertisement seen");
            assert_eq!(adv, mac);
            let addr = SocketAddr::new(IpAddr::V6(vip), 8080);
            serve(&node, addr, "hello over v6");
            assert_eq!(fetch(&client, addr).unwrap(), "hello over v6");
            assert_eq!(exec.execute("vip6", &agent, &p, "monitor", T).await.rc, 0);
            assert!(exec
                .execute("vip6", &agent, &p, "stop", T)
                .await
                .is_success());
            assert_eq!(exec.execute("vip6", &agent, &p, "monitor", T).await.rc, 7);
        });
    });
    drop(lab);
}
