//! `hactl simulate`: crm_simulate's what-if. Load a CIB (Pacemaker XML or ours),
//! apply what-if changes to it (a node leaves, fails, joins or goes to standby, an
//! operation fails, quorum changes), run the policy engine and print what it would
//! do, in crm_simulate's words.

use anyhow::{bail, Context};
use std::path::PathBuf;
use std::process::ExitCode;

use hactl_model::{AgentSpec, Cib, FailCount, NodeStatus, OpRecord, ResourceHistory, Score};
use hactl_policy::StatusView;

use super::cib::{load, CibFormat};

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputFormat {
    Text,
    Json,
}

#[derive(clap::Args, Debug)]
#[command(group(clap::ArgGroup::new("input").required(true).args(["xml", "cib"])))]
pub struct Args {
    /// A Pacemaker CIB (XML), e.g. from `cibadmin --query` or a pe-input file.
    #[arg(long, value_name = "FILE")]
    xml: Option<PathBuf>,
    /// A CIB in hactl's JSON model (`hactl cib import` writes one).
    #[arg(long, value_name = "FILE")]
    cib: Option<PathBuf>,
    /// Bring a node online (as crm_simulate -u).
    #[arg(long, value_name = "NODE")]
    node_up: Vec<String>,
    /// Take a node offline cleanly, as a shutdown would (crm_simulate -d).
    #[arg(long, value_name = "NODE")]
    node_down: Vec<String>,
    /// Lose a node without a clean shutdown: it becomes unclean (crm_simulate -f).
    #[arg(long, value_name = "NODE")]
    node_fail: Vec<String>,
    /// Put a node in standby.
    #[arg(long, value_name = "NODE")]
    standby: Vec<String>,
    /// Record an operation result, crm_simulate -i syntax:
    /// RSC_OP_INTERVALMS@NODE=RC (e.g. vip_monitor_10000@node1=7). A result other
    /// than the expected one (7 for a probe, 0 otherwise) counts as a failure.
    #[arg(long, value_name = "RSC_OP_MS@NODE=RC")]
    op_fail: Vec<String>,
    /// Set whether the partition has quorum.
    #[arg(long, value_name = "true|false")]
    quorum: Option<String>,
    /// Evaluate at this time (Unix seconds or RFC 3339). Default: the CIB's
    /// execution-date, else the current time.
    #[arg(long, value_name = "TIME")]
    now: Option<String>,
    /// Also explain each placement: per node, the score and what contributed to it.
    #[arg(long)]
    show_scores: bool,
    /// With --show-scores: print only the allocation scores, one line per resource
    /// and node in the format of `crm_simulate -s` (Pacemaker's `.scores` files).
    #[arg(long, requires = "show_scores")]
    raw: bool,
    /// Also print the cluster status after the transition.
    #[arg(long)]
    revised: bool,
    /// Write the transition graph to FILE in Pacemaker's transition-graph XML (as
    /// `crm_simulate -G` does), to diff against Pacemaker's.
    #[arg(long, value_name = "FILE")]
    save_graph: Option<PathBuf>,
    /// `json` prints the transition (actions, ordering edges, placements, scores).
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    output: OutputFormat,
}

pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    // Phase timings at `--log info`: where the time goes on large CIBs.
    let started = std::time::Instant::now();
    let mut cib = match (&a.xml, &a.cib) {
        (Some(x), None) => load(x, Some(CibFormat::PacemakerXml))?,
        (None, Some(c)) => load(c, Some(CibFormat::Json))?,
        _ => bail!("give exactly one of --xml FILE or --cib FILE"),
    };
    let (now, from_cib) = match (&a.now, cib.execution_date) {
        (Some(t), _) => (parse_time(t)?, false),
        (None, Some(d)) => (d, true),
        (None, None) => (
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .context("system clock is before 1970")?
                .as_secs() as i64,
            false,
        ),
    };
    tracing::info!(
        elapsed_ms = started.elapsed().as_millis() as u64,
        resources = cib.config.resources.len(),
        nodes = cib.config.nodes.len(),
        "CIB loaded"
    );
    apply_what_if(&mut cib, &a, now)?;
    let scheduling = std::time::Instant::now();
    let t = hactl_policy::schedule(&cib, now).context("cannot schedule this CIB")?;
    tracing::info!(
        elapsed_ms = scheduling.elapsed().as_millis() as u64,
        actions = t.actions.len(),
        "scheduled"
    );
    if let Some(path) = &a.save_graph {
        std::fs::write(path, hactl_policy::graph_xml_at(&cib, &t, now))
            .with_context(|| format!("writing the transition graph to {}", path.display()))?;
    }
    if a.raw {
        out!("{}", t.raw_scores());
        return Ok(ExitCode::SUCCESS);
    }
    if a.output == OutputFormat::Json {
        outln!("{}", serde_json::to_string_pretty(&t)?);
        return Ok(ExitCode::SUCCESS);
    }
    let mut out = String::new();
    if from_cib {
        out.push_str(&format!(
            "Using the original execution date of: {}\n",
            format_time(now)
        ));
    }
    out.push_str(&hactl_policy::format_status(&cib, &t, StatusView::Current));
    out.push('\n');
    out.push_str(&t.summary_text());
    if a.show_scores {
        out.push_str("\nPlacement scores (why each resource goes where it goes):\n");
        out.push_str(&t.explain_text());
    }
    if a.revised {
        out.push('\n');
        out.push_str(&hactl_policy::format_status(&cib, &t, StatusView::Revised));
    }
    out!("{out}");
    tracing::info!(elapsed_ms = started.elapsed().as_millis() as u64, "done");
    Ok(ExitCode::SUCCESS)
}

fn known_node(cib: &Cib, node: &str) -> anyhow::Result<()> {
    if cib.config.node(node).is_none() {
        let names: Vec<&str> = cib.config.nodes.iter().map(|n| n.name.as_str()).collect();
        bail!("unknown node {node:?} (nodes: {})", names.join(", "));
    }
    Ok(())
}

/// Applies the what-if options in crm_simulate's order: quorum, nodes up, down,
/// failed, standby, then operation results.
fn apply_what_if(cib: &mut Cib, a: &Args, now: i64) -> anyhow::Result<()> {
    if let Some(q) = &a.quorum {
        cib.status.have_quorum = hactl_model::values::parse_bool(q)
            .with_context(|| format!("--quorum {q:?}: expected true or false"))?;
    }
    let set = |cib: &mut Cib, node: &str, up: bool, expected: &str| -> anyhow::Result<()> {
        known_node(cib, node)?;
        let st = cib.status.nodes.entry(node.to_string()).or_default();
        st.member = Some(up);
        st.controller_online = Some(up);
        st.join = Some(if up { "member" } else { "down" }.into());
        st.expected = Some(expected.into());
        Ok(())
    };
    for n in &a.node_up {
        set(cib, n, true, "member")?;
    }
    for n in &a.node_down {
        set(cib, n, false, "down")?;
    }
    // Lost while the cluster expected it to stay: unclean, must be fenced.
    for n in &a.node_fail {
        set(cib, n, false, "member")?;
    }
    for n in &a.standby {
        known_node(cib, n)?;
        if let Some(node) = cib.config.nodes.iter_mut().find(|x| &x.name == n) {
            node.standby = true;
            node.attributes.insert("standby".into(), "on".into());
        }
    }
    for spec in &a.op_fail {
        inject_op(cib, spec, now).with_context(|| format!("--op-fail {spec:?}"))?;
    }
    Ok(())
}

/// `RSC_OP_INTERVALMS@NODE=RC` → history record (and fail count when it failed).
fn inject_op(cib: &mut Cib, spec: &str, now: i64) -> anyhow::Result<()> {
    let (key, rest) = spec
        .split_once('@')
        .context("expected RSC_OP_INTERVALMS@NODE=RC, e.g. vip_monitor_10000@node1=7")?;
    let (node, rc) = rest
        .rsplit_once('=')
        .context("missing =RC after the node, e.g. @node1=7")?;
    let rc: i32 = rc
        .trim()
        .parse()
        .with_context(|| format!("rc {rc:?} is not an integer"))?;
    let (rsc_op, interval) = key
        .rsplit_once('_')
        .context("expected RSC_OP_INTERVALMS, e.g. vip_monitor_10000")?;
    let interval_ms: u64 = interval
        .parse()
        .with_context(|| format!("interval {interval:?} must be milliseconds, e.g. 10000"))?;
    // Resource ids may contain '_': take the longest configured id that fits.
    let prim = cib
        .config
        .resources
        .iter()
        .flat_map(|r| r.primitives())
        .filter(|p| {
            rsc_op
                .strip_prefix(p.id.as_str())
                .is_some_and(|rest| rest.len() > 1 && rest.starts_with('_'))
        })
        .max_by_key(|p| p.id.len())
        .with_context(|| format!("{rsc_op:?} does not start with a configured resource id"))?;
    let rsc = prim.id.clone();
    let op = rsc_op[rsc.len() + 1..].to_string();
    let agent: AgentSpec = prim.agent.clone();
    // The digest the executing node would record, so that an injected op does not
    // look like a definition change (probes and promotes ran with the start's).
    let spec = prim.op(if interval_ms == 0 { "start" } else { &op }, interval_ms);
    let params = prim.params.iter().map(|(k, v)| (k.as_str(), v.as_str()));
    let digest = hactl_model::digest::op_digest(
        params.chain(hactl_model::digest::op_params(spec)),
        interval_ms,
        cib.config.op_timeout_ms(spec),
    );
    known_node(cib, node)?;
    let expected = if op == "monitor" && interval_ms == 0 {
        7
    } else {
        0
    };
    let st: &mut NodeStatus = cib.status.nodes.entry(node.to_string()).or_default();
    let call_id = st
        .resources
        .values()
        .flat_map(|h| h.ops.iter().map(|o| o.call_id))
        .max()
        .unwrap_or(0)
        + 1;
    let h = st
        .resources
        .entry(rsc.clone())
        .or_insert_with(|| ResourceHistory {
            agent,
            ..Default::default()
        });
    h.ops.push(OpRecord {
        operation: op.clone(),
        interval_ms,
        call_id,
        rc,
        op_status: 0,
        expected_rc: Some(expected),
        last_rc_change: Some(now),
        last_run: Some(now),
        exec_time_ms: Some(0),
        queue_time_ms: Some(0),
        exit_reason: None,
        op_digest: Some(digest),
        ..OpRecord::default()
    });
    if rc != expected {
        let pos = st.failcounts.iter().position(|f| {
            f.rsc == rsc
                && f.op.as_deref() == Some(op.as_str())
                && f.interval_ms == Some(interval_ms)
        });
        let i = match pos {
            Some(i) => i,
            None => {
                st.failcounts.push(FailCount {
                    rsc: rsc.clone(),
                    op: Some(op.clone()),
                    interval_ms: Some(interval_ms),
                    count: Score::ZERO,
                    last_failure: None,
                });
                st.failcounts.len() - 1
            }
        };
        let fc = &mut st.failcounts[i];
        fc.count += Score::new(1);
        fc.last_failure = Some(now);
    }
    Ok(())
}

/// crm_simulate's way of printing the execution date: `2023-11-14 22:13:20Z`.
fn format_time(t: i64) -> String {
    hactl_model::dates::format_utc(t)
}

/// Unix seconds, or an ISO 8601 date and time (`2024-05-01T12:00:00Z`, `…+02:00`;
/// a space instead of `T` is accepted too; without an offset, UTC).
fn parse_time(s: &str) -> anyhow::Result<i64> {
    let t = s.trim();
    if let Ok(n) = t.parse::<i64>() {
        return Ok(n);
    }
    hactl_model::dates::parse_datetime(t).ok_or_else(|| {
        anyhow::anyhow!("--now {s:?}: expected Unix seconds or RFC 3339 (2024-05-01T12:00:00Z)")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        assert_eq!(parse_time("1700000000").unwrap(), 1_700_000_000);
        assert_eq!(parse_time("2023-11-14T22:13:20Z").unwrap(), 1_700_000_000);
        assert_eq!(
            parse_time("2023-11-14 23:13:20+01:00").unwrap(),
            1_700_000_000
        );
        assert_eq!(parse_time("1970-01-01T00:00:00.5Z").unwrap(), 0);
        assert!(parse_time("yesterday").is_err());
        assert!(parse_time("2023-13-14T22:13:20Z").is_err());
        assert_eq!(format_time(1_700_000_000), "2023-11-14 22:13:20Z");
        assert_eq!(format_time(0), "1970-01-01 00:00:00Z");
    }
}
