//! `hactl node`: standby, maintenance and node attributes (pcs's words). Without a
//! node name the local node is meant (the one whose daemon answers).

use anyhow::{anyhow, bail, Context, Result};
use hactl_model::change::Change;
use hactl_model::Cib;
use std::process::ExitCode;

use crate::verbs::args::parse_kv;
use crate::verbs::{ChangeFlags, OutputFormat, Plan, Session};

#[derive(clap::Args, Debug)]
pub struct NodeSel {
    /// The node (default: this node).
    pub node: Option<String>,
    /// Every node.
    #[arg(long, conflicts_with = "node")]
    pub all: bool,
    #[command(flatten)]
    pub flags: ChangeFlags,
}

#[derive(clap::Subcommand, Debug)]
pub enum NodeCommand {
    /// Move everything off the node and keep it free.
    Standby(NodeSel),
    /// Let the node run resources again.
    Unstandby(NodeSel),
    /// Stop managing the node's resources (they keep running, unmonitored).
    Maintenance(NodeSel),
    /// Manage the node's resources again.
    Unmaintenance(NodeSel),
    /// Node attributes: `attribute [NODE]` lists, `attribute NODE k=v...` sets, `k=` removes.
    Attribute {
        /// The node (all nodes when listing without one).
        node: Option<String>,
        /// NAME=VALUE... to set; NAME= removes.
        assignments: Vec<String>,
        #[command(flatten)]
        flags: ChangeFlags,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Standby(bool),
    Maintenance(bool),
}

pub fn run(c: NodeCommand) -> Result<ExitCode> {
    let (sel, mode) = match c {
        NodeCommand::Standby(s) => (s, Mode::Standby(true)),
        NodeCommand::Unstandby(s) => (s, Mode::Standby(false)),
        NodeCommand::Maintenance(s) => (s, Mode::Maintenance(true)),
        NodeCommand::Unmaintenance(s) => (s, Mode::Maintenance(false)),
        NodeCommand::Attribute {
            node,
            assignments,
            flags,
        } => {
            attribute(node, &assignments, &flags)?;
            return Ok(ExitCode::SUCCESS);
        }
    };
    let mut s = Session::open(sel.flags.socket.as_deref(), sel.flags.cib.as_deref())?;
    let cib = s.cib()?;
    let nodes: Vec<String> = if sel.all {
        cib.config.nodes.iter().map(|n| n.name.clone()).collect()
    } else {
        match sel.node {
            Some(n) => vec![n],
            None => vec![s.local_node()?],
        }
    };
    let plan = mode_plan(&cib, &nodes, mode)?;
    s.submit(&sel.flags, &cib, &plan)?;
    Ok(ExitCode::SUCCESS)
}

pub fn mode_plan(cib: &Cib, nodes: &[String], mode: Mode) -> Result<Plan> {
    if nodes.is_empty() {
        bail!("no nodes configured");
    }
    let mut changes = Vec::new();
    for n in nodes {
        if cib.config.node(n).is_none() {
            bail!(
                "no node {n:?} (nodes: {})",
                cib.config
                    .nodes
                    .iter()
                    .map(|n| n.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        changes.push(match mode {
            Mode::Standby(b) => Change::SetStandby {
                node: n.clone(),
                standby: b,
            },
            Mode::Maintenance(b) => Change::SetMaintenance {
                node: n.clone(),
                maintenance: b,
            },
        });
    }
    let verb = match mode {
        Mode::Standby(true) => "standby",
        Mode::Standby(false) => "unstandby",
        Mode::Maintenance(true) => "maintenance",
        Mode::Maintenance(false) => "unmaintenance",
    };
    Ok(Plan::new(format!("{verb} {}", nodes.join(" ")), changes))
}

pub fn attribute_plan(cib: &Cib, node: &str, assignments: &[String]) -> Result<Plan> {
    let n = cib
        .config
        .node(node)
        .ok_or_else(|| anyhow!("no node {node:?}"))?;
    let mut changes = Vec::new();
    for a in assignments {
        let (k, v) = parse_kv(a).context("node attribute")?;
        if v.is_empty() && !n.attributes.contains_key(&k) {
            bail!("node {node} has no attribute {k:?}");
        }
        changes.push(Change::SetNodeAttribute {
            node: node.to_string(),
            name: k,
            value: (!v.is_empty()).then_some(v),
        });
    }
    Ok(Plan::new(
        format!("set node {node} attribute {}", assignments.join(" ")),
        changes,
    ))
}

fn attribute(node: Option<String>, assignments: &[String], flags: &ChangeFlags) -> Result<()> {
    let mut s = Session::open(flags.socket.as_deref(), flags.cib.as_deref())?;
    let cib = s.cib()?;
    if assignments.is_empty() {
        let nodes: Vec<_> = cib
            .config
            .nodes
            .iter()
            .filter(|n| node.as_deref().is_none_or(|x| x == n.name))
            .collect();
        if let Some(n) = &node {
            if nodes.is_empty() {
                bail!("no node {n:?}");
            }
        }
        if flags.output == OutputFormat::Json {
            let m: serde_json::Map<String, serde_json::Value> = nodes
                .iter()
                .map(|n| Ok((n.name.clone(), serde_json::to_value(&n.attributes)?)))
                .collect::<Result<_>>()?;
            outln!("{}", serde_json::to_string_pretty(&m)?);
        } else {
            outln!("Node Attributes:");
            for n in nodes {
                let a: Vec<String> = n
                    .attributes
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect();
                outln!("  {}: {}", n.name, a.join(" "));
            }
        }
        return Ok(());
    }
    let node = node.ok_or_else(|| anyhow!("name the node: node attribute NODE k=v"))?;
    let mut plan = attribute_plan(&cib, &node, assignments)?;
    plan.moves_things = true;
    s.submit(flags, &cib, &plan)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use hactl_model::Node;

    fn cib() -> Cib {
        let mut cib = Cib::default();
        for n in ["n1", "n2"] {
            cib.config.nodes.push(Node {
                id: n.into(),
                name: n.into(),
                ..Default::default()
            });
        }
        cib
    }

    #[test]
    fn standby_and_attributes() {
        let mut c = cib();
        mode_plan(&c, &["n1".into(), "n2".into()], Mode::Standby(true))
            .unwrap()
            .change()
            .apply(&mut c)
            .unwrap();
        assert!(c.config.nodes.iter().all(|n| n.standby));
        let e = mode_plan(&c, &["n7".into()], Mode::Maintenance(true)).unwrap_err();
        assert!(e.to_string().contains("n1, n2"), "{e}");
        attribute_plan(&c, "n1", &["site=a".into()])
            .unwrap()
            .change()
            .apply(&mut c)
            .unwrap();
        assert_eq!(c.config.node("n1").unwrap().attributes["site"], "a");
        attribute_plan(&c, "n1", &["site=".into()])
            .unwrap()
            .change()
            .apply(&mut c)
            .unwrap();
        assert!(c.config.node("n1").unwrap().attributes.is_empty());
        assert!(attribute_plan(&c, "n1", &["site=".into()]).is_err());
    }
}
