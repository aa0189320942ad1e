//! Where a verb's CIB comes from and where its change goes: the local daemon's
//! control socket, or a CIB file (`--cib FILE`, offline).
//!
//! A change is always checked first by applying it to a copy of the current CIB
//! (`Change::apply` validates ids, references, scores, property values), so a bad
//! change is refused here with the model's message and never reaches the cluster.
//!
//! **Settled** means: the policy engine, run on the current CIB at the current time,
//! schedules no runnable action (no start, stop, probe, recurring monitor or fencing
//! left to do). Actions the scheduler marks as blocked cannot run and do not count;
//! they are reported. Waiting polls `GetCib` + `schedule` every 250 ms until settled
//! or the deadline (`--wait=TIMEOUT`, default 60 s) passes.

use anyhow::{anyhow, bail, Context, Result};
use hactl_client::{socket_path, Client, ClientError, LEADER_WAIT};
use hactl_model::change::Change;
use hactl_model::values::parse_interval_ms;
use hactl_model::Cib;
use hactl_policy::{schedule, Transition};

use super::verdict;
use hactl_proto::client::ClusterStatus;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OutputFormat {
    #[default]
    Text,
    Json,
}

/// Flags of every read verb.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ReadFlags {
    /// The local daemon's control socket.
    #[arg(long, env = "HACTL_SOCKET", value_name = "PATH")]
    pub socket: Option<PathBuf>,
    /// Read this CIB file (JSON, or Pacemaker XML) instead of asking the cluster.
    #[arg(long, value_name = "FILE")]
    pub cib: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
}

/// Flags of every change verb.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ChangeFlags {
    /// The local daemon's control socket.
    #[arg(long, env = "HACTL_SOCKET", value_name = "PATH")]
    pub socket: Option<PathBuf>,
    /// Print the transition this change would cause (from the real policy engine)
    /// and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Work on a CIB file instead of the cluster: with --dry-run it is only read;
    /// without, the file (JSON) is rewritten with the change applied.
    #[arg(long, value_name = "FILE")]
    pub cib: Option<PathBuf>,
    /// Wait until the cluster has settled, at most TIMEOUT (default 60s). On by
    /// default for commands that move resources.
    #[arg(long, value_name = "TIMEOUT", num_args = 0..=1, require_equals = true, default_missing_value = "60s", conflicts_with = "no_wait")]
    pub wait: Option<String>,
    /// Return as soon as the change is committed.
    #[arg(long)]
    pub no_wait: bool,
    /// Output format (of --dry-run and of the result).
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
}

impl ChangeFlags {
    fn wait_timeout(&self, default_on: bool) -> Result<Option<Duration>> {
        if self.no_wait || (self.wait.is_none() && !default_on) {
            return Ok(None);
        }
        let t = self.wait.as_deref().unwrap_or("60s");
        let ms = parse_interval_ms(t)
            .ok_or_else(|| anyhow!("--wait={t:?}: expected a duration such as 60, 90s, 2m"))?;
        Ok(Some(Duration::from_millis(ms)))
    }
}

/// The changes a verb wants, and a one-line description for messages.
#[derive(Clone, Debug)]
pub struct Plan {
    pub changes: Vec<Change>,
    pub what: String,
    /// Whether to wait for the cluster to settle unless told otherwise.
    pub moves_things: bool,
}

impl Plan {
    pub fn new(what: impl Into<String>, changes: Vec<Change>) -> Plan {
        Plan {
            changes,
            what: what.into(),
            moves_things: true,
        }
    }

    /// The changes as one atomic change.
    pub fn change(&self) -> Change {
        match self.changes.as_slice() {
            [one] => one.clone(),
            _ => Change::Batch {
                changes: self.changes.clone(),
            },
        }
    }
}

enum Source {
    File { path: PathBuf, xml: bool },
    Daemon(Box<Client>),
}

/// Where the CIB comes from.
pub struct Session {
    src: Source,
}

/// What happened to a submitted change.
pub enum Outcome {
    DryRun,
    FileWritten,
    /// Committed; not waited for.
    Committed,
    /// Committed and the cluster settled: the CIB and (empty) transition then.
    Settled(Box<Cib>),
}

pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Load a CIB file: our JSON, or Pacemaker XML (read-only).
pub fn load_cib_file(path: &Path) -> Result<(Cib, bool)> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read CIB file {}", path.display()))?;
    if text.trim_start().starts_with('<') {
        let cib = hactl_cib_xml::import(&text)
            .with_context(|| format!("{}: not a CIB in Pacemaker XML", path.display()))?;
        return Ok((cib, true));
    }
    let cib: Cib = serde_json::from_str(&text)
        .with_context(|| format!("{}: not a CIB in hactl's JSON", path.display()))?;
    Ok((cib, false))
}

impl Session {
    /// Opens the CIB file if given, else connects to the daemon.
    pub fn open(socket: Option<&Path>, cib: Option<&Path>) -> Result<Session> {
        let src = match cib {
            Some(p) => {
                // Reading decides the format; a missing file is an error here.
                let (_, xml) = load_cib_file(p)?;
                Source::File {
                    path: p.to_path_buf(),
                    xml,
                }
            }
            None => {
                let path = socket_path(socket);
                let c = Client::connect(&path)?;
                tracing::debug!(target: "timing", "cli: connected");
                Source::Daemon(Box::new(c))
            }
        };
        Ok(Session { src })
    }

    pub fn is_offline(&self) -> bool {
        matches!(self.src, Source::File { .. })
    }

    pub fn cib(&mut self) -> Result<Cib> {
        match &mut self.src {
            Source::File { path, .. } => Ok(load_cib_file(path)?.0),
            Source::Daemon(c) => fetch_cib(c),
        }
    }

    /// The daemon's view of the cluster (none offline).
    pub fn status(&mut self) -> Result<Option<ClusterStatus>> {
        match &mut self.src {
            Source::File { .. } => Ok(None),
            Source::Daemon(c) => Ok(Some(c.status()?)),
        }
    }

    /// The node this command runs on (pcs's default for `node standby`).
    pub fn local_node(&mut self) -> Result<String> {
        match self.status()? {
            Some(s) if !s.local_node.is_empty() => Ok(s.local_node),
            Some(_) => bail!("the daemon did not say which node it is; name the node"),
            None => bail!("with --cib there is no local node; name the node"),
        }
    }

    /// The time to evaluate the CIB at: a saved simulation's `execution_date`, else
    /// now.
    pub fn now(&self, cib: &Cib) -> i64 {
        match self.src {
            Source::File { .. } => cib.execution_date.unwrap_or_else(unix_now),
            Source::Daemon(_) => unix_now(),
        }
    }

    /// Checks `plan` against `cib`, then dry-runs, writes the file, or proposes it
    /// (and waits, see the module docs).
    pub fn submit(&mut self, flags: &ChangeFlags, cib: &Cib, plan: &Plan) -> Result<Outcome> {
        if plan.changes.is_empty() {
            bail!("nothing to change");
        }
        let change = plan.change();
        let mut next = cib.clone();
        change
            .apply(&mut next)
            .map_err(|e| anyhow!("{}: refused: {e}", plan.what))?;
        let now = self.now(cib);
        if flags.dry_run {
            print_dry_run(flags.output, plan, &change, cib, &next, now)?;
            return Ok(Outcome::DryRun);
        }
        let timeout = flags.wait_timeout(plan.moves_things)?;
        match &mut self.src {
            Source::File { path, xml } => {
                if *xml {
                    bail!(
                        "{} is Pacemaker XML: it can be used with --dry-run only (convert it with `hactl cib import`)",
                        path.display()
                    );
                }
                write_cib_file(path, &next)?;
                if flags.output == OutputFormat::Json {
                    outln!(
                        "{}",
                        serde_json::json!({"what": plan.what, "file": path, "epoch": next.epoch})
                    );
                } else {
                    outln!(
                        "{}: written to {} (epoch {})",
                        plan.what,
                        path.display(),
                        next.epoch
                    );
                }
                Ok(Outcome::FileWritten)
            }
            Source::Daemon(client) => {
                let json = serde_json::to_vec(&change)?;
                wait_for_leader(client).map_err(|e| propose_failed(&plan.what, cib.epoch, e))?;
                tracing::debug!(target: "timing", "cli: proposing");
                let ack = client
                    .propose_change(json)
                    .map_err(|e| propose_failed(&plan.what, cib.epoch, e))?;
                tracing::debug!(target: "timing", index = ack.index, "cli: committed");
                let Some(timeout) = timeout else {
                    report(flags.output, &plan.what, ack.index, None);
                    return Ok(Outcome::Committed);
                };
                let applied = Applied {
                    epoch: if change.is_config() { next.epoch } else { 0 },
                    index: ack.index,
                };
                let settled = wait_settled(client, applied, timeout, flags.output)?;
                let t = schedule(&settled, unix_now())
                    .context("the current CIB cannot be scheduled")?;
                let findings = verdict::judge(&settled, &t, &verdict::touched(&change, cib));
                report(flags.output, &plan.what, ack.index, Some(&findings));
                let not_done: Vec<String> = findings
                    .iter()
                    .filter(|f| f.not_done)
                    .map(|f| f.resource.clone())
                    .collect();
                if !not_done.is_empty() {
                    return Err(verdict::NotDone {
                        what: plan.what.clone(),
                        resources: not_done,
                    }
                    .into());
                }
                Ok(Outcome::Settled(Box::new(settled)))
            }
        }
    }
}

/// The error for a change that did not come back committed. "Not committed" only
/// when that is certain: after a timeout or a lost connection the change may be
/// committed already or later (an adversarial run saw two such writes land), and a
/// blind retry would apply it twice.
fn propose_failed(what: &str, epoch: u64, e: ClientError) -> anyhow::Error {
    if e.outcome_unknown() {
        anyhow!(
            "{what}: outcome unknown ({e}): the change may have been committed, or may \
             still be. Check before retrying: `hactl status` shows the CIB epoch, {epoch} \
             before this change (a configuration change raises it), and the verb's \
             list/config command shows the configuration."
        )
    } else {
        anyhow!(e).context(format!("{what}: not committed"))
    }
}

/// Waits (at most [`LEADER_WAIT`]) for the Raft leader a change needs, saying so on
/// stderr when there is none yet, so an election in progress (just after `cluster
/// start`, after a leader loss) delays the command instead of failing it.
pub fn wait_for_leader(c: &mut Client) -> Result<(), ClientError> {
    if c.status()?.dc.is_empty() {
        eprintln!(
            "no leader yet (election in progress?): waiting up to {} s",
            LEADER_WAIT.as_secs()
        );
        c.wait_for_leader(LEADER_WAIT)?;
    }
    Ok(())
}

fn fetch_cib(c: &mut Client) -> Result<Cib> {
    let bytes = c.get_cib()?;
    tracing::debug!(target: "timing", bytes = bytes.len(), "cli: CIB received");
    let cib =
        serde_json::from_slice(&bytes).context("the daemon sent a CIB this hactl cannot read");
    tracing::debug!(target: "timing", "cli: CIB read");
    cib
}

fn write_cib_file(path: &Path, cib: &Cib) -> Result<()> {
    let tmp = path.with_extension("tmp-hactl");
    let text = serde_json::to_string_pretty(cib)?;
    std::fs::write(&tmp, text + "\n").with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot replace {}", path.display()))
}

/// The result line; `settled` holds what was found about the touched resources.
fn report(output: OutputFormat, what: &str, index: u64, settled: Option<&[verdict::Finding]>) {
    let done = settled.is_some_and(|f| f.iter().all(|f| !f.not_done));
    match output {
        OutputFormat::Json => outln!(
            "{}",
            serde_json::json!({
                "what": what,
                "committed_index": index,
                "settled": settled.is_some(),
                "done": done,
                "findings": settled.unwrap_or_default(),
            })
        ),
        OutputFormat::Text => match settled {
            Some(findings) => {
                if done {
                    outln!("{what}: done (committed at index {index}; the cluster has settled)");
                } else {
                    outln!(
                        "{what}: NOT done (committed at index {index}; the cluster has settled with resources not running)"
                    );
                }
                for f in findings {
                    let label = if f.not_done { "not running" } else { "note" };
                    eprintln!("{label}: {}", f.resource);
                    for d in &f.details {
                        eprintln!("  {d}");
                    }
                }
            }
            None => {
                outln!("{what}: committed at index {index} (not waiting; see `hactl status`)")
            }
        },
    }
}

/// What the daemon must have applied before its CIB shows our change.
#[derive(Clone, Copy, Default)]
struct Applied {
    epoch: u64,
    index: u64,
}

/// Actions the cluster still has to run: runnable, real (not group markers).
pub use hactl_view::report::{describe_action, pending};

fn wait_settled(
    client: &mut Client,
    applied: Applied,
    timeout: Duration,
    output: OutputFormat,
) -> Result<Cib> {
    let start = Instant::now();
    let deadline = start + timeout;
    let tty = std::io::stderr().is_terminal() && output == OutputFormat::Text;
    let mut last_line = String::new();
    loop {
        let caught_up = if applied.index > 0 && applied.epoch == 0 {
            client.status()?.applied_index >= applied.index
        } else {
            true
        };
        if caught_up {
            let cib = fetch_cib(client)?;
            if cib.epoch >= applied.epoch {
                let t =
                    schedule(&cib, unix_now()).context("the current CIB cannot be scheduled")?;
                let p = pending(&t);
                if p.is_empty() {
                    if tty && !last_line.is_empty() {
                        eprint!("\r\x1b[K");
                    }
                    let blocked: Vec<String> = t
                        .actions
                        .iter()
                        .filter(|a| !a.runnable && !a.pseudo)
                        .map(describe_action)
                        .collect();
                    if !blocked.is_empty() {
                        eprintln!("note: blocked (cannot run): {}", blocked.join(", "));
                    }
                    return Ok(cib);
                }
                let mut line = format!(
                    "waiting for the cluster to settle: {} pending ({})",
                    p.len(),
                    p.iter()
                        .take(3)
                        .map(|a| describe_action(a))
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                if p.len() > 3 {
                    line.push_str(", …");
                }
                if Instant::now() >= deadline {
                    if tty {
                        eprintln!();
                    }
                    bail!(
                        "the change is committed, but the cluster did not settle within {:.0?}; still pending: {}",
                        timeout,
                        p.iter().map(|a| describe_action(a)).collect::<Vec<_>>().join(", ")
                    );
                }
                if tty {
                    eprint!("\r\x1b[K{line} [{:.1}s]", start.elapsed().as_secs_f64());
                    let _ = std::io::stderr().flush();
                } else if line != last_line && output == OutputFormat::Text {
                    eprintln!("{line}");
                }
                last_line = line;
            }
        }
        if Instant::now() >= deadline {
            bail!("the change is committed, but the daemon did not show it within {timeout:.0?}");
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[derive(serde::Serialize)]
struct DryRunJson<'a> {
    dry_run: bool,
    what: &'a str,
    change: &'a Change,
    summary: &'a [String],
    already_pending: usize,
    /// Touched resources (not disabled) that would not run anywhere, and why.
    would_not_start: Vec<WouldNotStart<'a>>,
    transition: &'a Transition,
}

#[derive(serde::Serialize)]
struct WouldNotStart<'a> {
    resource: &'a str,
    why: String,
}

fn print_dry_run(
    output: OutputFormat,
    plan: &Plan,
    change: &Change,
    before: &Cib,
    after: &Cib,
    now: i64,
) -> Result<()> {
    let t_after = schedule(after, now).context("the changed CIB cannot be scheduled")?;
    // Actions the cluster would run anyway: shown so the user does not blame the change.
    let already = schedule(before, now)
        .map(|t| pending(&t).len())
        .unwrap_or(0);
    let would_not_start = verdict::would_not_run(&t_after, &verdict::touched(change, before));
    match output {
        OutputFormat::Json => outln!(
            "{}",
            serde_json::to_string_pretty(&DryRunJson {
                dry_run: true,
                what: &plan.what,
                change,
                summary: &t_after.summary,
                already_pending: already,
                would_not_start: would_not_start
                    .iter()
                    .map(|p| WouldNotStart {
                        resource: &p.resource,
                        why: verdict::why_not_running(&t_after, &p.resource),
                    })
                    .collect(),
                transition: &t_after,
            })?
        ),
        OutputFormat::Text => {
            outln!("Dry run: {} (nothing was changed)", plan.what);
            out!("{}", t_after.summary_text());
            if t_after.summary.is_empty() {
                outln!("  (no resource would start, stop or move)");
            }
            for p in &would_not_start {
                outln!(
                    "Note: {} would not start: {}",
                    p.resource,
                    verdict::why_not_running(&t_after, &p.resource)
                );
            }
            if already > 0 {
                outln!(
                    "Note: the cluster has not settled; {already} action(s) were pending before this change and are included."
                );
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_defaults_and_bad_timeouts() {
        let f = ChangeFlags::default();
        assert_eq!(f.wait_timeout(true).unwrap(), Some(Duration::from_secs(60)));
        assert_eq!(f.wait_timeout(false).unwrap(), None);
        let f = ChangeFlags {
            wait: Some("90s".into()),
            ..Default::default()
        };
        assert_eq!(
            f.wait_timeout(false).unwrap(),
            Some(Duration::from_secs(90))
        );
        let f = ChangeFlags {
            no_wait: true,
            ..Default::default()
        };
        assert_eq!(f.wait_timeout(true).unwrap(), None);
        let f = ChangeFlags {
            wait: Some("soon".into()),
            ..Default::default()
        };
        assert!(f
            .wait_timeout(true)
            .unwrap_err()
            .to_string()
            .contains("soon"));
    }

    #[test]
    fn pending_ignores_blocked_and_pseudo_actions() {
        use hactl_model::change::NodeStateUpdate;
        use hactl_model::{AgentSpec, Node, Primitive, Resource};
        let mut cib = Cib::default();
        for n in ["n1", "n2"] {
            Change::AddNode {
                node: Node {
                    name: n.into(),
                    ..Default::default()
                },
            }
            .apply(&mut cib)
            .unwrap();
            Change::SetNodeState {
                node: n.into(),
                state: NodeStateUpdate {
                    member: Some(true),
                    controller_online: Some(true),
                    join: Some("member".into()),
                    expected: Some("member".into()),
                },
            }
            .apply(&mut cib)
            .unwrap();
        }
        cib.status.have_quorum = true;
        cib.config
            .properties
            .insert("stonith-enabled".into(), "false".into());
        let settled = schedule(&cib, 0).unwrap();
        assert!(pending(&settled).is_empty(), "no resources: settled");
        cib.config
            .resources
            .push(Resource::Group(hactl_model::Group {
                id: "g".into(),
                children: vec![Primitive {
                    id: "d".into(),
                    agent: AgentSpec::parse("ocf:heartbeat:Dummy").unwrap(),
                    ..Default::default()
                }],
                ..Default::default()
            }));
        let t = schedule(&cib, 0).unwrap();
        let p = pending(&t);
        assert!(p.iter().all(|a| !a.pseudo && a.runnable));
        let words: Vec<String> = p.iter().map(|a| describe_action(a)).collect();
        assert!(
            words.contains(&"start d on n1".to_string())
                || words.contains(&"start d on n2".to_string()),
            "{words:?}"
        );
        assert!(
            words.iter().any(|w| w.starts_with("probe d on")),
            "{words:?}"
        );
        assert!(
            t.actions.iter().any(|a| a.pseudo),
            "group markers exist but are not pending"
        );
    }
}
