//! `hactl cluster witness add|remove` and `cluster setup --witness` (pcs's `quorum
//! device add model net host=...`): the cluster side of `hactl witness`. The witness
//! address goes under `[settings]` in `cluster.toml` (`witness = "IP:PORT"`); on the
//! node holding the CA key a witness identity is issued too, as a bundle to install on
//! the witness host. docs/cluster-setup.md, "Witness".

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use hactl_net::config::{ClusterConfig, CLUSTER_CONFIG_FILE};
use hactl_net::pki::CA_KEY_FILE;
use hactl_net::Ca;
use std::os::unix::fs::PermissionsExt;

#[derive(clap::Subcommand, Debug)]
pub enum ClusterWitnessCommand {
    /// Use a witness (`hactl witness` on a third host) to decide which node of a
    /// two-node cluster continues when they lose each other. Run it on both nodes.
    Add {
        /// The witness's address: IP or IP:PORT (port 7421 by default).
        #[arg(value_parser = parse)]
        address: SocketAddr,
    },
    /// Stop using the witness (two-node mode falls back to fencing). Run it on both nodes.
    Remove,
}

fn parse(s: &str) -> Result<SocketAddr, hactl_settings::witness::AddressError> {
    hactl_settings::witness::parse_address(s)
}

/// Parses `--witness` of `cluster setup`.
pub fn parse_witness(s: &str) -> Result<SocketAddr, hactl_settings::witness::AddressError> {
    parse(s)
}

/// A witness settles a split into halves of a cluster of two or four nodes (two sites
/// of two); with an odd number a majority decides without it, and halves of three or
/// more are not supported (docs/architecture.md, "Witness").
pub fn check_size(cfg: &ClusterConfig) -> Result<()> {
    match cfg.nodes.len() {
        2 | 4 => Ok(()),
        n if n % 2 == 1 => bail!(
            "cluster {} has {n} nodes: an odd number needs no witness (a majority decides); \
             a witness serves clusters of 2 or 4 nodes",
            cfg.name
        ),
        n => bail!(
            "cluster {} has {n} nodes: a witness serves clusters of 2 or 4 nodes \
             (halves of three or more are not supported yet)",
            cfg.name
        ),
    }
}

pub fn run(dir: &Path, c: ClusterWitnessCommand) -> Result<ExitCode> {
    let path = dir.join(CLUSTER_CONFIG_FILE);
    let mut cfg = ClusterConfig::load(&path)?;
    match c {
        ClusterWitnessCommand::Add { address } => {
            check_size(&cfg)?;
            hactl_settings::witness::set_address(&mut cfg.settings, Some(address));
            cfg.save(&path)?;
            outln!("witness {address} set in {}", path.display());
            if dir.join(CA_KEY_FILE).exists() {
                let b = issue_bundle(dir, &cfg)?;
                outln!(
                    "  copy the directory {} to the witness host and run there: hactl-witness add-cluster {} (or hactl witness add-cluster)",
                    b.display(),
                    b.file_name().unwrap_or_default().to_string_lossy()
                );
            }
            outln!("  run `hactl cluster witness add {address}` on the other node too");
        }
        ClusterWitnessCommand::Remove => {
            hactl_settings::witness::set_address(&mut cfg.settings, None);
            cfg.save(&path)?;
            outln!(
                "no witness in {}; run this on the other node too",
                path.display()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Issues the cluster's witness identity under its CA (in `dir`) and writes it to
/// `bundles/witness/CLUSTER/` (`ca.pem`, `node.pem`, `node.key`: copy the directory to
/// the witness host); returns that directory.
pub fn issue_bundle(dir: &Path, cfg: &ClusterConfig) -> Result<PathBuf> {
    let ca = Ca::load(dir).context("the cluster CA (run this where `cluster setup` ran)")?;
    let name = hactl_net::tls::witness_name(&cfg.name)?;
    let id = ca.issue_node_cert(&name, &[])?;
    let out = dir.join("bundles").join("witness").join(&cfg.name);
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o700))
        .with_context(|| format!("setting permissions of {}", out.display()))?;
    id.save(&out)?;
    Ok(out)
}

/// `Witness: 10.0.0.9:7421 reachable, vote: not granted (every node is a voter)` for `cluster
/// status`.
pub fn status_line(w: &hactl_proto::client::WitnessInfo) -> String {
    if !w.reachable {
        return format!("Witness: {} UNREACHABLE ({})", w.address, w.error);
    }
    let vote = match (w.holder.as_str(), w.side.len()) {
        ("", _) => "not granted (every node is a voter)".to_string(),
        (h, 0 | 1) => format!("granted to {h} (it continues alone)"),
        (_, _) => format!(
            "granted to {} (they continue without the other half)",
            w.side.join(", ")
        ),
    };
    format!("Witness: {} reachable, vote: {vote}", w.address)
}

pub fn status_json(w: Option<&hactl_proto::client::WitnessInfo>) -> serde_json::Value {
    match w {
        None => serde_json::Value::Null,
        Some(w) => serde_json::json!({
            "address": w.address,
            "reachable": w.reachable,
            "holder": if w.holder.is_empty() { serde_json::Value::Null } else { w.holder.clone().into() },
            "side": w.side,
            "error": if w.error.is_empty() { serde_json::Value::Null } else { w.error.clone().into() },
            "last_answer_ms": w.last_answer_ms,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hactl_proto::client::WitnessInfo;

    #[test]
    fn the_status_line_names_the_holder_or_the_granted_pair() {
        let info = |holder: &str, side: &[&str]| WitnessInfo {
            address: "10.0.0.9:7421".into(),
            reachable: true,
            holder: holder.into(),
            side: side.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        };
        let none = status_line(&info("", &[]));
        assert!(
            none.ends_with("vote: not granted (every node is a voter)"),
            "{none}"
        );
        let alone = status_line(&info("n1", &["n1"]));
        assert!(
            alone.ends_with("granted to n1 (it continues alone)"),
            "{alone}"
        );
        let pair = status_line(&info("n2", &["n1", "n2"]));
        assert!(pair.contains("granted to n1, n2 (they continue"), "{pair}");
        assert_eq!(
            status_json(Some(&info("n2", &["n1", "n2"])))["side"],
            serde_json::json!(["n1", "n2"])
        );
    }
}
