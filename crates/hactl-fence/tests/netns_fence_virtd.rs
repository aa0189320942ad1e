//! The native fence_xvm client against the real fence_virtd (Debian `fence-virtd`,
//! libvirt backend on libvirt's test driver, domains named after test nodes) in
//! network namespaces. Needs root; see `testbed`.

mod testbed;

use hactl_fence::xvm::proto::{verify_request, Request, REQUEST_LEN};
use hactl_fence::xvm::{Client, ClientConfig, FenceKey, HashType, Op, PowerState, XvmError};
use std::time::Duration;
use testbed::{block_on, FenceVirtd, Setup};

fn status(fv: &FenceVirtd, cfg: &ClientConfig, domain: &'static str) -> PowerState {
    let cfg = cfg.clone();
    fv.in_client(0, move || {
        block_on(Client::new(cfg).unwrap().status(domain))
    })
    .unwrap_or_else(|e| panic!("status {domain}: {e}"))
}

fn run(
    fv: &FenceVirtd,
    cfg: &ClientConfig,
    op: Op,
    domain: &'static str,
) -> Result<hactl_fence::xvm::Reply, XvmError> {
    let cfg = cfg.clone();
    fv.in_client(0, move || {
        block_on(Client::new(cfg).unwrap().request(op, domain))
    })
}

#[test]
fn netns_native_list_status_off_on_reboot() {
    let Some(fv) = FenceVirtd::start(Setup::default()) else {
        return;
    };
    let cfg = fv.client_config(fv.key());

    let c = cfg.clone();
    let hosts = fv
        .in_client(0, move || block_on(Client::new(c).unwrap().list()))
        .unwrap();
    let names: Vec<(&str, bool)> = hosts.iter().map(|h| (h.name.as_str(), h.is_on())).collect();
    assert_eq!(
        names,
        [("node1", true), ("node2", true), ("node3", false)],
        "list from fence_virtd"
    );
    assert_eq!(hosts[0].uuid, "6695eb01-f6a4-8304-79aa-000000000001");

    assert_eq!(status(&fv, &cfg, "node1"), PowerState::On);
    assert_eq!(status(&fv, &cfg, "node3"), PowerState::Off);

    // off → OFF, on → ON, as status reports afterwards.
    let c = cfg.clone();
    fv.in_client(0, move || block_on(Client::new(c).unwrap().off("node1")))
        .unwrap();
    assert_eq!(status(&fv, &cfg, "node1"), PowerState::Off);
    let c = cfg.clone();
    fv.in_client(1, move || block_on(Client::new(c).unwrap().on("node1")))
        .unwrap();
    assert_eq!(status(&fv, &cfg, "node1"), PowerState::On);
    assert_eq!(
        status(&fv, &cfg, "node2"),
        PowerState::On,
        "others untouched"
    );

    // reboot: destroyed and re-created, so on again afterwards.
    let c = cfg.clone();
    fv.in_client(0, move || block_on(Client::new(c).unwrap().reboot("node2")))
        .unwrap();
    assert_eq!(status(&fv, &cfg, "node2"), PowerState::On);

    // Starting an off domain.
    let c = cfg.clone();
    fv.in_client(0, move || block_on(Client::new(c).unwrap().on("node3")))
        .unwrap();
    assert_eq!(status(&fv, &cfg, "node3"), PowerState::On);

    // fence_virtd reports a domain it does not know as OFF (documented caveat), and
    // refuses to power it off.
    assert_eq!(status(&fv, &cfg, "nosuchnode"), PowerState::Off);
    let err = run(&fv, &cfg, Op::Off, "nosuchnode").map(|r| r.code);
    assert_eq!(
        err.unwrap(),
        hactl_fence::xvm::proto::ResultCode::Fail,
        "off of an unknown domain fails"
    );

    // monitor answers without touching libvirt.
    let c = cfg.clone();
    fv.in_client(0, move || block_on(Client::new(c).unwrap().monitor()))
        .unwrap();
}

#[test]
fn netns_fresh_seqno_per_operation() {
    let Some(fv) = FenceVirtd::start(Setup::default()) else {
        return;
    };
    let cfg = fv.client_config(fv.key());
    // fence_virtd drops a repeat of (op, seqno, domain) for 10 s; three quick status
    // requests for the same domain all get answered only with fresh seqnos.
    let mut seqnos = Vec::new();
    for _ in 0..3 {
        let r = run(&fv, &cfg, Op::Status, "node1").unwrap();
        seqnos.push(r.seqno);
    }
    seqnos.sort();
    seqnos.dedup();
    assert_eq!(seqnos.len(), 3);
}

#[test]
fn netns_wrong_key_is_a_clear_error_and_fences_nothing() {
    let Some(fv) = FenceVirtd::start(Setup::default()) else {
        return;
    };
    let mut bad = std::fs::read(&fv.key_path).unwrap();
    bad[100] ^= 1;
    let mut cfg = fv.client_config(FenceKey::from_bytes(bad));
    cfg.timeout = Duration::from_secs(2);
    cfg.retrans = Duration::from_millis(300);
    let err = run(&fv, &cfg, Op::Off, "node1").unwrap_err();
    assert!(matches!(err, XvmError::NoAnswer { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("no answer from fence_virtd within 2"), "{msg}");
    assert!(
        msg.contains("the key") && msg.contains("hash type"),
        "{msg}"
    );
    assert!(msg.contains("multicast route"), "{msg}");

    let good = fv.client_config(fv.key());
    assert_eq!(status(&fv, &good, "node1"), PowerState::On, "not fenced");
}

#[test]
fn netns_weak_hash_is_a_clear_error_and_fences_nothing() {
    let Some(fv) = FenceVirtd::start(Setup::default()) else {
        return;
    };
    let mut cfg = fv.client_config(fv.key());
    cfg.hash = HashType::Sha1; // fence_virtd requires at least sha256
    cfg.timeout = Duration::from_secs(2);
    cfg.retrans = Duration::from_millis(300);
    let err = run(&fv, &cfg, Op::Off, "node2").unwrap_err();
    assert!(matches!(err, XvmError::NoAnswer { .. }), "{err:?}");
    assert!(err.to_string().contains("hash sha1"), "{err}");

    let good = fv.client_config(fv.key());
    assert_eq!(status(&fv, &good, "node2"), PowerState::On, "not fenced");

    // A stronger hash than the minimum is accepted.
    let mut strong = fv.client_config(fv.key());
    strong.hash = HashType::Sha512;
    assert_eq!(status(&fv, &strong, "node2"), PowerState::On);
}

#[test]
fn netns_auth_hash_mismatch_is_detected_and_fences_nothing() {
    let Some(fv) = FenceVirtd::start(Setup::default()) else {
        return;
    };
    let mut cfg = fv.client_config(fv.key());
    cfg.auth = HashType::Sha512; // fence_virtd uses sha256
    let err = run(&fv, &cfg, Op::Off, "node1").unwrap_err();
    assert!(matches!(err, XvmError::ChallengeFailed { .. }), "{err:?}");
    assert!(err.to_string().contains("auth hash (sha512)"), "{err}");
    let good = fv.client_config(fv.key());
    assert_eq!(status(&fv, &good, "node1"), PowerState::On, "not fenced");
}

#[test]
fn netns_ipv6_multicast() {
    let Some(fv) = FenceVirtd::start(Setup {
        ipv6: true,
        ..Setup::default()
    }) else {
        return;
    };
    let cfg = fv.client_config(fv.key());
    assert!(cfg.group.is_ipv6());
    assert_eq!(status(&fv, &cfg, "node1"), PowerState::On);
    let c = cfg.clone();
    fv.in_client(0, move || block_on(Client::new(c).unwrap().off("node1")))
        .unwrap();
    assert_eq!(status(&fv, &cfg, "node1"), PowerState::Off);
    let c = cfg.clone();
    let hosts = fv
        .in_client(1, move || block_on(Client::new(c).unwrap().list()))
        .unwrap();
    assert_eq!(hosts.len(), 3);
    assert!(!hosts[0].is_on());
}

/// Retransmits carry the same seqno and signature: observed with a plain UDP socket
/// in the hypervisor namespace joined to the group on a port fence_virtd does not
/// serve, so nobody calls back and the client keeps resending until its timeout.
#[test]
fn netns_retransmits_keep_the_seqno() {
    let Some(fv) = FenceVirtd::start(Setup::default()) else {
        return;
    };
    let key = fv.key();
    let mut cfg = fv.client_config(key.clone());
    cfg.port = 1239;
    cfg.timeout = Duration::from_millis(1500);
    cfg.retrans = Duration::from_millis(300);

    let observer = fv.in_hypervisor(|| {
        let s = std::net::UdpSocket::bind("0.0.0.0:1239").unwrap();
        let bridge_addr = "192.168.233.1".parse().unwrap();
        s.join_multicast_v4(&"225.0.0.12".parse().unwrap(), &bridge_addr)
            .unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s
    });
    let err = run(&fv, &cfg, Op::Status, "node1").unwrap_err();
    assert!(matches!(err, XvmError::NoAnswer { .. }));
    observer.set_nonblocking(true).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 512];
    while let Ok((n, _)) = observer.recv_from(&mut buf) {
        assert_eq!(n, REQUEST_LEN);
        let arr: [u8; REQUEST_LEN] = buf[..n].try_into().unwrap();
        assert!(verify_request(&arr, &key).unwrap());
        got.push(Request::decode(&arr).unwrap().request);
    }
    assert!(got.len() >= 3, "expected several sends, got {}", got.len());
    assert!(got.iter().all(|r| r.seqno == got[0].seqno && r == &got[0]));
    assert_eq!(got[0].address, fv.client_addrs[0]);
}

fn device(id: &str, params: &[(&str, &str)]) -> hactl_fence::device::FenceDevice {
    hactl_fence::device::FenceDevice::new(
        id,
        "fence_xvm",
        params.iter().map(|(k, v)| (k.to_string(), v.to_string())),
    )
    .unwrap()
}

/// Fence devices and levels with the real C `fence_xvm` as the external agent, run
/// from a client namespace like the fencer on a cluster node would.
#[test]
fn netns_topology_devices_and_levels_with_fence_xvm() {
    use hactl_fence::topology::{fence, Level};
    use std::collections::BTreeMap;
    let Some(fv) = FenceVirtd::start(Setup::default()) else {
        return;
    };
    let good = fv.key_path.display().to_string();
    let bad_path = fv.dir.path().join("bad.key");
    std::fs::write(&bad_path, b"wrong key").unwrap();
    let bad = bad_path.display().to_string();

    let mut devices = BTreeMap::new();
    for d in [
        device(
            "a-badkey",
            &[
                ("key_file", &bad),
                ("timeout", "2"),
                ("pcmk_host_map", "server1:node1;server2:node2"),
                ("pcmk_retries", "0"),
            ],
        ),
        device(
            "b-good",
            &[
                ("key_file", &good),
                ("timeout", "5"),
                ("pcmk_host_map", "server1:node1;server2:node2;server3:node3"),
            ],
        ),
        device(
            "c-good",
            &[
                ("key_file", &good),
                ("timeout", "5"),
                ("pcmk_host_map", "server3:node3"),
            ],
        ),
        // No host list: the agent's own list decides.
        device("d-dynamic", &[("key_file", &good), ("timeout", "5")]),
    ] {
        devices.insert(d.id.clone(), d);
    }
    let devices = std::sync::Arc::new(devices);

    // Level 1 (wrong key) fails, level 2 fences: server1 is domain node1.
    let levels = vec![
        Level {
            index: 1,
            devices: vec!["a-badkey".into()],
        },
        Level {
            index: 2,
            devices: vec!["b-good".into()],
        },
    ];
    let d = devices.clone();
    let r = fv.in_client(0, move || block_on(fence("server1", "off", &levels, &d)));
    assert!(r.ok, "{}", r.summary());
    assert_eq!(r.level, Some(2));
    assert_eq!(r.levels.len(), 2);
    assert!(!r.levels[0].ok);
    let failed = &r.levels[0].devices[0];
    assert_eq!(failed.device, "a-badkey");
    assert!(
        failed.message.contains("Operation failed"),
        "{}",
        failed.message
    );
    let done = &r.levels[1].devices[0];
    assert_eq!(done.plug.as_deref(), Some("node1"));
    assert!(done.ok);
    let cfg = fv.client_config(fv.key());
    assert_eq!(status(&fv, &cfg, "node1"), PowerState::Off);
    assert_eq!(status(&fv, &cfg, "node2"), PowerState::On);

    // Only the broken device: fencing fails, says why, and fences nothing.
    let only_bad = vec![Level {
        index: 1,
        devices: vec!["a-badkey".into()],
    }];
    let d = devices.clone();
    let r = fv.in_client(0, move || block_on(fence("server2", "off", &only_bad, &d)));
    assert!(!r.ok);
    assert!(
        r.summary()
            .starts_with("off of server2 failed: level 1 a-badkey: off failed (exit 1)"),
        "{}",
        r.summary()
    );
    assert_eq!(status(&fv, &cfg, "node2"), PowerState::On);

    // A reboot at a level of two devices is off on both, then on on both: node3
    // starts off, and ends up on (fence_virtd's own reboot would leave it off).
    let both = vec![Level {
        index: 1,
        devices: vec!["b-good".into(), "c-good".into()],
    }];
    let d = devices.clone();
    let r = fv.in_client(0, move || block_on(fence("server3", "reboot", &both, &d)));
    assert!(r.ok, "{}", r.summary());
    let steps: Vec<(&str, &str)> = r.levels[0]
        .devices
        .iter()
        .map(|d| (d.device.as_str(), d.action.as_str()))
        .collect();
    assert_eq!(
        steps,
        [
            ("b-good", "off"),
            ("c-good", "off"),
            ("b-good", "on"),
            ("c-good", "on")
        ]
    );
    assert_eq!(status(&fv, &cfg, "node3"), PowerState::On);

    // dynamic-list: the agent's list decides which nodes the device covers.
    let d = devices.clone();
    let (yes, no) = fv.in_client(0, move || {
        block_on(async {
            let dev = &d["d-dynamic"];
            (dev.can_fence("node2").await, dev.can_fence("node7").await)
        })
    });
    assert_eq!(yes.0.as_deref(), Some("node2"));
    assert!(yes.1.unwrap().stdout().contains("node2"));
    assert_eq!(no.0, None);
}

/// A `fence_hactl_xvm` device runs in-process: same output and results as the agent.
#[test]
fn netns_native_device_in_process() {
    use hactl_fence::agent_api::AgentResult;
    use hactl_fence::device::FenceDevice;
    let Some(fv) = FenceVirtd::start(Setup::default()) else {
        return;
    };
    let key = fv.key_path.display().to_string();
    let mk = |map: &str, key: &str| {
        FenceDevice::new(
            "native",
            "fence_hactl_xvm",
            [
                ("key_file".to_string(), key.to_string()),
                ("timeout".to_string(), "2".to_string()),
                ("retrans".to_string(), "5".to_string()),
                ("pcmk_host_map".to_string(), map.to_string()),
                ("pcmk_retries".to_string(), "0".to_string()),
            ],
        )
        .unwrap()
    };
    let dev = mk("server1:node1;server3:node3", &key);
    let ghost = mk("server1:node1;server9:ghost", &key);
    let bad_key = fv.dir.path().join("bad.key");
    std::fs::write(&bad_key, b"nope").unwrap();
    let broken = mk("server1:node1", &bad_key.display().to_string());

    let (st, list, monitor, ghost_mon, off, after, broken_off) = fv.in_client(0, move || {
        block_on(async move {
            (
                dev.run("status", Some("server1")).await,
                dev.run("list", None).await,
                dev.run("monitor", None).await,
                ghost.run("monitor", None).await,
                dev.run("off", Some("server3")).await,
                dev.run("status", Some("server3")).await,
                broken.run("off", Some("server1")).await,
            )
        })
    });
    assert_eq!(st.result, AgentResult::Success);
    assert_eq!(st.stdout(), "Status: ON\n");
    assert_eq!(list.stdout().lines().count(), 3);
    assert!(list.stdout().starts_with("node1 "));
    assert_eq!(
        monitor.result,
        AgentResult::Success,
        "{}",
        monitor.summary()
    );
    assert_eq!(ghost_mon.result, AgentResult::Failed { exit_code: Some(1) });
    assert!(
        ghost_mon.summary().contains("\"ghost\" is not known"),
        "{}",
        ghost_mon.summary()
    );
    assert_eq!(off.result, AgentResult::Success);
    // node3 started off; off is a no-op that succeeds and status says OFF.
    assert_eq!(after.result, AgentResult::Off);
    assert_eq!(
        broken_off.result,
        AgentResult::Failed { exit_code: Some(1) }
    );
    assert!(
        broken_off
            .summary()
            .contains("no answer from fence_virtd within 2"),
        "{}",
        broken_off.summary()
    );
    let cfg = fv.client_config(fv.key());
    assert_eq!(
        status(&fv, &cfg, "node1"),
        PowerState::On,
        "broken device fenced nothing"
    );
}

/// fence_virtd's static permission map: a client may only fence what it is listed
/// for; the daemon answers 3 and the client reports permission denied.
#[test]
fn netns_permission_map_is_reported_as_permission_denied() {
    let Some(fv) = FenceVirtd::start(Setup {
        extra_conf: r#"groups { group { name = "g1"; ip = "192.168.233.11"; uuid = "node1"; } }"#
            .into(),
        ..Setup::default()
    }) else {
        return;
    };
    let cfg = fv.client_config(fv.key());
    assert_eq!(status(&fv, &cfg, "node1"), PowerState::On);
    let c = cfg.clone();
    let err = fv
        .in_client(1, move || block_on(Client::new(c).unwrap().off("node1")))
        .unwrap_err();
    assert!(matches!(err, XvmError::PermissionDenied { .. }), "{err:?}");
    assert!(err.to_string().contains("denied off of \"node1\""), "{err}");
    let c = cfg.clone();
    let seen = fv
        .in_client(1, move || block_on(Client::new(c).unwrap().list()))
        .unwrap();
    assert!(seen.is_empty(), "client 2 may see nothing: {seen:?}");
    let c = cfg.clone();
    let seen = fv
        .in_client(0, move || block_on(Client::new(c).unwrap().list()))
        .unwrap();
    assert_eq!(seen.len(), 1);
    assert_eq!(status(&fv, &cfg, "node1"), PowerState::On, "not fenced");
}
