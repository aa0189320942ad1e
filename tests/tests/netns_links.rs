//! Redundant heartbeat links (issue 14.4), end to end: three real daemons in network
//! namespaces, each node on two networks (`eth0` = link 0, `eth1` = link 1, set up
//! with `hactl cluster setup n1=ADDR0,ADDR1 ...`), the real `ocf:pacemaker:Dummy`
//! agent on n3. Cutting one link of n3 (nftables drops in the lab's switch, carrier
//! stays up), then the other, changes nothing the cluster does: n3 stays online, the
//! DC and the Raft term stay, the resource records no new operation, a change written
//! on n1 reaches n3; `cluster status` shows the cut link down and the other up. Cutting both is a node loss: the
//! existing split-brain behaviour applies (n3 loses quorum and stops the resource,
//! the others hold, then start it). Healing brings both links back.
//!
//! Needs root; fails without it unless `HACTL_SKIP_ROOT_TESTS=1`.

use std::time::Duration;

use anyhow::{ensure, Result};
use hactl_proto::client::NodeState;
use hactl_tests::cluster::Cluster;
use hactl_tests::controller_lab::{cli, start_nodes, varrun, NsReaper};
use hactl_tests::netns::require_root;

const T: Duration = Duration::from_secs(40);

/// Nodes where the Dummy resource `rsc` runs (its state file exists).
fn dummy_on(c: &Cluster, rsc: &str) -> Vec<usize> {
    (1..=3)
        .filter(|&i| varrun(c, i).join(format!("Dummy-{rsc}.state")).exists())
        .collect()
}

/// n3's links as node `via` reports them: `(state, active)` per link, from
/// `hactl cluster status --output json`.
fn links_of_n3(c: &Cluster, via: usize) -> Result<Vec<(String, bool)>> {
    let out = cli(c, via, &["cluster", "status", "--output", "json"])?;
    let j: serde_json::Value = serde_json::from_str(&out)?;
    let node = j["nodes"]
        .as_array()
        .and_then(|ns| ns.iter().find(|n| n["name"] == "n3"))
        .cloned()
        .unwrap_or_default();
    Ok(node["links"]
        .as_array()
        .map(|ls| {
            ls.iter()
                .map(|l| {
                    (
                        l["state"].as_str().unwrap_or_default().to_string(),
                        l["active"].as_bool().unwrap_or(false),
                    )
                })
                .collect()
        })
        .unwrap_or_default())
}

/// The newest call id recorded for `rsc` on any node: a new operation raises it.
fn last_call(c: &Cluster, rsc: &str) -> Result<i64> {
    Ok(c.cib(1)?
        .status
        .nodes
        .values()
        .filter_map(|st| st.resources.get(rsc))
        .flat_map(|h| h.ops.iter().map(|o| o.call_id))
        .max()
        .unwrap_or(0))
}

fn node_lost_lines(c: &Cluster) -> usize {
    (1..=3).map(|i| c.log(i).matches("node_lost").count()).sum()
}

#[test]
fn netns_a_cut_link_changes_nothing_and_all_links_cut_is_a_node_loss() -> Result<()> {
    if !require_root() {
        return Ok(());
    }
    let mut c = Cluster::setup_with_links("hx-lk", 3, "10.94.1", &["10.94.2"], None)?;
    let _reaper = NsReaper::new(&c);
    start_nodes(&mut c, 3)?;
    c.wait_dc(&[1, 2, 3], T)?;
    for args in [
        &["property", "set", "stonith-enabled=false"][..],
        &[
            "resource",
            "create",
            "d1",
            "ocf:pacemaker:Dummy",
            "op",
            "stop",
            "timeout=2s",
        ],
        &["constraint", "location", "d1", "prefers", "n3=100"],
    ] {
        cli(&c, 1, args)?;
    }
    c.wait_until("d1 runs on n3", T, || {
        Ok((dummy_on(&c, "d1") == [3] && last_call(&c, "d1")? > 0).then_some(()))
    })?;
    for via in [1, 2] {
        c.wait_until("n3's two links up", T, || {
            let l = links_of_n3(&c, via)?;
            Ok((l.len() == 2 && l.iter().all(|(s, _)| s == "up")).then_some(()))
        })?;
    }
    let dc = c.wait_dc(&[1, 2, 3], T)?;
    let term = c.status(1)?.term;
    let call = last_call(&c, "d1")?;
    let lost = node_lost_lines(&c);

    for (cut, other) in [(0usize, 1usize), (1, 0)] {
        c.net.partition_on(cut, &[3], &[1, 2])?;
        for via in [1, 2] {
            c.wait_until(&format!("n{via} sees n3's link {cut} down"), T, || {
                let l = links_of_n3(&c, via)?;
                Ok(
                    (l.len() == 2 && l[cut].0 == "down" && l[other] == ("up".into(), true))
                        .then_some(()),
                )
            })?;
        }
        // Peer traffic flows on the other link: a change written through n1 reaches
        // n3's copy of the CIB (whichever node leads).
        let mark = format!("cut{cut}");
        cli(
            &c,
            1,
            &["node", "attribute", "n1", &format!("link-test={mark}")],
        )?;
        c.wait_until("n3 applies a change made on n1", T, || {
            let cib = c.cib(3)?;
            let v = cib
                .config
                .node("n1")
                .and_then(|n| n.attributes.get("link-test"));
            Ok((v == Some(&mark)).then_some(()))
        })?;
        // Nothing is an event here: the cluster must stay as it is over many loss
        // timeouts (250 ms each).
        std::thread::sleep(Duration::from_secs(3));
        for via in [1, 2] {
            ensure!(
                c.node_state(via, 3)? == NodeState::Online,
                "n{via} does not see n3 online with link {cut} cut"
            );
        }
        ensure!(
            node_lost_lines(&c) == lost,
            "a node was lost with link {cut} cut"
        );
        ensure!(
            c.wait_dc(&[1, 2, 3], T)? == dc,
            "the DC changed with link {cut} cut"
        );
        ensure!(
            c.status(1)?.term == term,
            "a new raft term with link {cut} cut"
        );
        ensure!(dummy_on(&c, "d1") == [3], "d1 moved with link {cut} cut");
        ensure!(
            last_call(&c, "d1")? == call,
            "a resource operation ran with link {cut} cut"
        );
        c.net.heal()?;
        c.wait_until(&format!("n3's link {cut} back"), T, || {
            let l = links_of_n3(&c, 1)?;
            Ok((l.len() == 2 && l.iter().all(|(s, _)| s == "up") && l[0].1).then_some(()))
        })?;
    }

    // Both links cut: n3 is lost, loses quorum and stops d1; the others start it after
    // the split-brain hold.
    c.net.partition_on(0, &[3], &[1, 2])?;
    c.net.partition_on(1, &[3], &[1, 2])?;
    c.wait_until("n1 sees n3 lost", T, || {
        Ok((c.node_state(1, 3)? != NodeState::Online).then_some(()))
    })?;
    c.wait_until("d1 recovered on n1 or n2 only", T, || {
        let on = dummy_on(&c, "d1");
        Ok((on.len() == 1 && on[0] != 3).then_some(()))
    })?;
    ensure!(c.log(3).contains("lost_quorum"), "n3 did not lose quorum");
    c.net.heal()?;
    c.wait_until("n3 back on both links", T, || {
        let l = links_of_n3(&c, 1)?;
        Ok((c.node_state(1, 3)? == NodeState::Online
            && l.len() == 2
            && l.iter().all(|(s, _)| s == "up"))
        .then_some(()))
    })?;
    Ok(())
}
