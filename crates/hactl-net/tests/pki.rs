//! Certificates, config and bundle files.

mod common;

use common::*;
use hactl_net::config::{
    parse_peer_address, parse_peer_addresses, ClusterConfig, DEFAULT_PEER_PORT,
};
use hactl_net::{pki, Bundle, Ca, NodeIdentity};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn identity_files_round_trip_with_private_keys_0600() {
    let dir = tempfile::tempdir().unwrap();
    let ca = pki::create_ca("prod").unwrap();
    let id = ca
        .issue_node_cert(&name("n1"), &["10.0.0.1".parse().unwrap()])
        .unwrap();
    id.save(dir.path()).unwrap();
    ca.save(dir.path()).unwrap();
    assert_eq!(mode(&dir.path().join("node.key")), 0o600);
    assert_eq!(mode(&dir.path().join("ca.key")), 0o600);
    assert_eq!(mode(&dir.path().join("node.pem")), 0o644);
    let back = NodeIdentity::load(dir.path()).unwrap();
    assert_eq!(back.node, name("n1"));
    assert_eq!(back.cluster, "prod");
    assert_eq!(back.cert_pem, id.cert_pem);
    // Debug output never shows the key.
    assert!(!format!("{back:?}").contains("PRIVATE KEY"));
}

#[test]
fn mismatched_identity_is_refused_when_loading() {
    let a = identities("prod", &["n1"]).remove(0);
    let b = identities("prod", &["n2"]).remove(0);
    // Certificate from another CA.
    let err = NodeIdentity::from_pem(&a.ca_cert_pem, &b.cert_pem, &b.key_pem).unwrap_err();
    assert!(
        err.to_string().contains("not valid under the cluster CA"),
        "{err}"
    );
    // Key of another node.
    assert!(NodeIdentity::from_pem(&a.ca_cert_pem, &a.cert_pem, &b.key_pem).is_err());
    // Garbage.
    assert!(NodeIdentity::from_pem("junk", &a.cert_pem, &a.key_pem).is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reloaded_ca_issues_certificates_peers_accept() {
    let dir = tempfile::tempdir().unwrap();
    let ca = pki::create_ca("prod").unwrap();
    ca.save(dir.path()).unwrap();
    let n1 = ca.issue_node_cert(&name("n1"), &[]).unwrap();
    let reloaded = Ca::load(dir.path()).unwrap();
    assert_eq!(reloaded.cluster_name(), "prod");
    let n4 = reloaded.issue_node_cert(&name("n4"), &[]).unwrap();
    // The new certificate validates under the original CA certificate.
    NodeIdentity::from_pem(&n1.ca_cert_pem, &n4.cert_pem, &n4.key_pem).unwrap();
    let (t1, _rx1, a1) = bind(n1).await;
    let (t4, _rx4, a4) = bind(n4).await;
    t4.probe(&name("n1"), a1).await.unwrap();
    t1.probe(&name("n4"), a4).await.unwrap();
    // A CA key that does not belong to the certificate is refused.
    let other = pki::create_ca("prod").unwrap();
    assert!(Ca::from_pem(&ca.cert_pem(), &other.key_pem()).is_err());
}

#[test]
fn bundle_round_trip_and_install() {
    let dir = tempfile::tempdir().unwrap();
    let ca = pki::create_ca("prod").unwrap();
    let cfg = ClusterConfig::new(
        "prod",
        vec![
            (name("n1"), "10.0.0.1:7420".parse().unwrap()),
            (name("n2"), "10.0.0.2:7420".parse().unwrap()),
        ],
    )
    .unwrap();
    let id2 = ca.issue_node_cert(&name("n2"), &[]).unwrap();
    let path = dir.path().join("n2.bundle");
    Bundle::new(&id2, &cfg).save(&path).unwrap();
    assert_eq!(mode(&path), 0o600);
    let b = Bundle::load(&path).unwrap();
    assert_eq!(b.node, name("n2"));
    assert_eq!(b.cluster, cfg);
    let etc = dir.path().join("etc");
    b.install(&etc).unwrap();
    assert_eq!(mode(&etc.join("node.key")), 0o600);
    assert_eq!(ClusterConfig::load(&etc.join("cluster.toml")).unwrap(), cfg);
    assert_eq!(NodeIdentity::load(&etc).unwrap().node, name("n2"));

    // A bundle whose certificate is for another node than it says is refused.
    let mut wrong = Bundle::new(&id2, &cfg);
    wrong.node = name("n1");
    wrong.save(&path).unwrap();
    let err = Bundle::load(&path).unwrap_err();
    assert!(
        err.to_string().contains("holds a certificate for n2"),
        "{err}"
    );
    // A node the config does not list.
    let id3 = ca.issue_node_cert(&name("n3"), &[]).unwrap();
    assert!(Bundle::new(&id3, &cfg).identity().is_err());
    // Not a bundle at all.
    std::fs::write(&path, "hello").unwrap();
    assert!(Bundle::load(&path).is_err());
}

#[test]
fn config_validation_and_address_parsing() {
    let a = |s: &str| parse_peer_address(s);
    assert_eq!(a("10.0.0.1").unwrap().port(), DEFAULT_PEER_PORT);
    assert_eq!(a("10.0.0.1:9000").unwrap().port(), 9000);
    assert_eq!(a("[fd00::1]:9000").unwrap().port(), 9000);
    assert!(a("fd00::1").is_ok());
    for bad in [
        "node1.example.com",
        "10.0.0.300",
        "10.0.0.1:0",
        "10.0.0.1:99999",
        "",
    ] {
        let err = a(bad).unwrap_err();
        assert!(err.to_string().contains("bad address"), "{bad}: {err}");
    }
    let addr = |s: &str| s.parse().unwrap();
    let dup = ClusterConfig::new(
        "prod",
        vec![
            (name("n1"), addr("10.0.0.1:1")),
            (name("n1"), addr("10.0.0.2:1")),
        ],
    )
    .unwrap_err();
    assert!(dup.to_string().contains("listed twice"), "{dup}");
    let dup = ClusterConfig::new(
        "prod",
        vec![
            (name("n1"), addr("10.0.0.1:1")),
            (name("n2"), addr("10.0.0.1:1")),
        ],
    )
    .unwrap_err();
    assert!(dup.to_string().contains("more than one node"), "{dup}");
    assert!(ClusterConfig::new("bad name", vec![(name("n1"), addr("10.0.0.1:1"))]).is_err());
    assert!(ClusterConfig::new("prod", vec![(name("n1"), addr("0.0.0.0:1"))]).is_err());
    assert!(ClusterConfig::new("prod", vec![]).is_err());
}

/// `node1=10.0.0.1,192.168.1.1`: up to four links, one port for all (an address
/// without a port takes the first one's); cluster.toml keeps them, and a config whose
/// links break a rule is refused with the reason.
#[test]
fn nodes_with_several_links() {
    let v = parse_peer_addresses("10.0.0.1:9000,192.168.1.1").unwrap();
    assert_eq!(v, vec![addr("10.0.0.1:9000"), addr("192.168.1.1:9000")]);
    let v = parse_peer_addresses("10.0.0.1, 192.168.1.1").unwrap();
    assert_eq!(v[1], addr("192.168.1.1:7420"));
    let five = parse_peer_addresses("10.0.0.1,10.0.1.1,10.0.2.1,10.0.3.1,10.0.4.1").unwrap_err();
    assert!(five.to_string().contains("at most 4 links"), "{five}");
    assert!(parse_peer_addresses("10.0.0.1,").is_err());

    let mut cfg = ClusterConfig::new(
        "prod",
        vec![
            (name("n1"), addr("10.0.0.1:7420")),
            (name("n2"), addr("10.0.0.2:7420")),
        ],
    )
    .unwrap();
    cfg.nodes[0].more_addresses = vec![addr("192.168.1.1:7420")];
    cfg.nodes[1].more_addresses = vec![addr("192.168.1.2:7420")];
    cfg.validate().unwrap();
    let back = ClusterConfig::from_toml(&cfg.to_toml(), Path::new("cluster.toml")).unwrap();
    assert_eq!(back, cfg);
    assert_eq!(
        back.nodes[1].addresses(),
        vec![addr("10.0.0.2:7420"), addr("192.168.1.2:7420")]
    );

    type Edit = fn(&mut ClusterConfig);
    let cases: [(Edit, &str); 5] = [
        (
            |c| c.nodes[0].more_addresses[0] = addr("192.168.1.1:7421"),
            "another port",
        ),
        (
            |c| c.nodes[1].more_addresses[0] = addr("192.168.1.1:7420"),
            "more than one node",
        ),
        (
            |c| c.nodes[0].more_addresses[0] = addr("10.0.0.1:7420"),
            "twice for n1",
        ),
        (
            |c| c.nodes[0].more_addresses[0] = addr("0.0.0.0:7420"),
            "unspecified",
        ),
        (
            |c| {
                let more = ["10.1.0.1", "10.2.0.1", "10.3.0.1", "10.4.0.1"];
                c.nodes[0].more_addresses = more.map(|a| addr(&format!("{a}:7420"))).to_vec()
            },
            "at most 4 links",
        ),
    ];
    for (edit, why) in cases {
        let mut c = cfg.clone();
        edit(&mut c);
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains(why), "{e}");
    }
}

fn addr(s: &str) -> std::net::SocketAddr {
    s.parse().unwrap()
}
