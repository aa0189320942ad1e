//! Heartbeat round-trip times per peer and per link, end to end: three real daemons
//! in network namespaces, each node on two networks (links 0 and 1), each with
//! `metrics_listen` set. n1's Prometheus endpoint (scraped from inside n1, where it
//! listens on 127.0.0.1) has a `hactl_peer_rtt_seconds` line per peer and link with a
//! positive value, and `hactl status --output json` on n1 lists each peer's two links
//! in `daemon.members[].links`, up, with a positive `rtt_us` (docs/status-json.md).
//!
//! Needs root; fails without it unless `HACTL_SKIP_ROOT_TESTS=1`.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use hactl_tests::cluster::Cluster;
use hactl_tests::controller_lab::{cli, start_nodes, NsReaper};
use hactl_tests::netns::require_root;

const T: Duration = Duration::from_secs(40);
const METRICS_PORT: u16 = 9464;

/// n1's metrics page, fetched from inside n1's namespace.
fn scrape(c: &Cluster) -> Result<String> {
    let get = format!(
        "import urllib.request\nprint(urllib.request.urlopen('http://127.0.0.1:{METRICS_PORT}/metrics', timeout=5).read().decode())"
    );
    let out = hactl_lab::host::command(&c.net.ns(1), "python3")?
        .args(["-c", &get])
        .output()
        .context("running python3 in n1")?;
    if !out.status.success() {
        bail!("scrape: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `hactl_peer_rtt_seconds{link="0",node="n2"} 0.0003` lines as `(peer, link) → value`.
fn rtts(page: &str) -> BTreeMap<(String, String), f64> {
    let mut out = BTreeMap::new();
    for line in page.lines() {
        let Some(rest) = line.strip_prefix("hactl_peer_rtt_seconds{") else {
            continue;
        };
        let Some((labels, value)) = rest.split_once("} ") else {
            continue;
        };
        let label = |k: &str| {
            labels.split(',').find_map(|kv| {
                let (key, v) = kv.split_once('=')?;
                (key == k).then(|| v.trim_matches('"').to_string())
            })
        };
        if let (Some(node), Some(link), Ok(v)) = (label("node"), label("link"), value.parse()) {
            out.insert((node, link), v);
        }
    }
    out
}

/// A link as status JSON shows it: `(index, state, rtt_us)`.
type Link = (u64, String, u64);

/// Per peer of n1, its links from `hactl status --output json`.
fn status_links(c: &Cluster) -> Result<BTreeMap<String, Vec<Link>>> {
    let j: serde_json::Value = serde_json::from_str(&cli(c, 1, &["status", "--output", "json"])?)?;
    let members = j["daemon"]["members"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    Ok(members
        .iter()
        .filter(|m| m["name"] != "n1")
        .map(|m| {
            let links = m["links"].as_array().cloned().unwrap_or_default();
            let links = links
                .iter()
                .map(|l| {
                    (
                        l["index"].as_u64().unwrap_or(99),
                        l["state"].as_str().unwrap_or_default().to_string(),
                        l["rtt_us"].as_u64().unwrap_or(0),
                    )
                })
                .collect();
            (m["name"].as_str().unwrap_or_default().to_string(), links)
        })
        .collect())
}

#[test]
fn netns_peer_rtt_per_link_in_metrics_and_status_json() -> Result<()> {
    if !require_root() {
        return Ok(());
    }
    let mut c = Cluster::setup_with_links("hx-mt", 3, "10.94.5", &["10.94.6"], None)?;
    let _reaper = NsReaper::new(&c);
    for i in 1..=3 {
        let toml = c.files(i).config_dir.join("cluster.toml");
        let mut text = std::fs::read_to_string(&toml)?;
        text.push_str(&format!(
            "\n[settings]\nmetrics_listen = \"{METRICS_PORT}\"\n"
        ));
        std::fs::write(&toml, text)?;
    }
    start_nodes(&mut c, 3)?;
    c.wait_dc(&[1, 2, 3], T)?;

    let want: Vec<(String, String)> = ["n2", "n3"]
        .iter()
        .flat_map(|n| ["0", "1"].map(|l| (n.to_string(), l.to_string())))
        .collect();
    let got = c.wait_until("an RTT per peer and link in n1's metrics", T, || {
        let r = rtts(&scrape(&c)?);
        let all = want.iter().all(|k| r.get(k).is_some_and(|v| *v > 0.0));
        Ok(all.then_some(r))
    })?;
    println!("n1's hactl_peer_rtt_seconds: {got:?}");
    // No line for n1 itself: it has no heartbeat link to itself.
    anyhow::ensure!(
        got.keys().all(|(n, _)| n != "n1"),
        "an RTT for n1 itself: {got:?}"
    );

    let links = c.wait_until(
        "each peer's two links up with an RTT in status JSON",
        T,
        || {
            let s = status_links(&c)?;
            let good = ["n2", "n3"].iter().all(|n| {
                let l = s.get(*n).cloned().unwrap_or_default();
                l.len() == 2
                    && l.iter()
                        .enumerate()
                        .all(|(k, (i, st, rtt))| *i == k as u64 && st == "up" && *rtt > 0)
            });
            Ok(good.then_some(s))
        },
    )?;
    println!("n1's status JSON links: {links:?}");
    Ok(())
}
