//! `crm_attribute` as resource agents call it. The daemon offers the hactl binary
//! to agents as `$HA_SBIN_DIR/crm_attribute` (with `HACTL_SOCKET` naming its
//! socket); run under that name, hactl sets, deletes or reads a node attribute
//! through the local daemon. What agents use: `--promotion` (the attribute
//! `master-<rsc>` of the agent's resource, `crm_master` and `ocf_promotion_score`),
//! `-n NAME`, `-v VALUE`, `-D`, `-G`, `-q`, `-N NODE`, `-l reboot|forever`
//! (`-t status|nodes`), `-d DEFAULT`. Anything else is refused with a usage error
//! (exit 64), never ignored.

use std::process::ExitCode;

use anyhow::{anyhow, bail, Context, Result};
use hactl_client::{socket_path, Client};
use hactl_model::change::Change;
use hactl_model::Cib;

/// Pacemaker's exit codes that agents may test.
const EX_USAGE: u8 = 64;
const EX_NOSUCH: u8 = 105;

#[derive(Debug, Default, PartialEq)]
struct Request {
    name: Option<String>,
    /// `--promotion`, with its resource if given.
    promotion: Option<Option<String>>,
    node: Option<String>,
    /// Transient (`reboot`, the status section) rather than permanent.
    transient: Option<bool>,
    action: Action,
    quiet: bool,
    default: Option<String>,
}

#[derive(Debug, Default, PartialEq)]
enum Action {
    #[default]
    Query,
    Update(String),
    Delete,
}

/// Runs as `crm_attribute` with `args` (without the program name).
pub fn run(args: &[String]) -> ExitCode {
    let req = match parse(args) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("crm_attribute: {e:#}");
            return ExitCode::from(EX_USAGE);
        }
    };
    match execute(&req) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("crm_attribute: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn parse(args: &[String]) -> Result<Request> {
    let mut r = Request::default();
    let mut it = args.iter().peekable();
    while let Some(a) = it.next() {
        let (flag, inline) = match a.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v.to_string())),
            _ => (a.as_str(), None),
        };
        let mut value = |what: &str| -> Result<String> {
            inline
                .clone()
                .or_else(|| it.next().cloned())
                .ok_or_else(|| anyhow!("{flag} needs {what}"))
        };
        match flag {
            "-p" | "--promotion" => {
                // The resource is optional: taken only when it is not an option.
                let rsc = inline
                    .clone()
                    .or_else(|| it.next_if(|n| !n.starts_with('-')).cloned());
                r.promotion = Some(rsc);
            }
            "-n" | "--name" => r.name = Some(value("a name")?),
            "-v" | "--update" => r.action = Action::Update(value("a value")?),
            "-D" | "--delete" => r.action = Action::Delete,
            "-G" | "--query" => r.action = Action::Query,
            "-q" | "--quiet" => r.quiet = true,
            "-N" | "--node" => r.node = Some(value("a node")?),
            "-d" | "--default" => r.default = Some(value("a value")?),
            "-l" | "--lifetime" => {
                r.transient = Some(match value("a lifetime")?.as_str() {
                    "reboot" => true,
                    "forever" => false,
                    other => bail!("lifetime {other:?}: only reboot and forever"),
                })
            }
            "-t" | "--type" => {
                r.transient = Some(match value("a section")?.as_str() {
                    "status" => true,
                    "nodes" => false,
                    other => bail!("--type {other}: only node attributes (status, nodes)"),
                })
            }
            other => bail!("unsupported option {other:?}"),
        }
    }
    Ok(r)
}

/// The attribute's name and whether it is transient.
fn target(r: &Request) -> Result<(String, bool)> {
    if let Some(rsc) = &r.promotion {
        let rsc = match rsc {
            Some(rsc) => rsc.clone(),
            None => std::env::var("OCF_RESOURCE_INSTANCE")
                .context("--promotion without a resource outside an agent")?,
        };
        // An anonymous clone instance (`db:1`) scores for the clone's resource.
        let base = match rsc.rsplit_once(':') {
            Some((b, n)) if n.bytes().all(|c| c.is_ascii_digit()) => b.to_string(),
            _ => rsc,
        };
        return Ok((format!("master-{base}"), r.transient.unwrap_or(true)));
    }
    let name = r
        .name
        .clone()
        .ok_or_else(|| anyhow!("name the attribute (-n)"))?;
    Ok((name, r.transient.unwrap_or(false)))
}

fn execute(r: &Request) -> Result<ExitCode> {
    let (name, transient) = target(r)?;
    let mut client = Client::connect(&socket_path(None))?;
    let node = match &r.node {
        Some(n) => n.clone(),
        None => client.status()?.local_node,
    };
    if node.is_empty() {
        bail!("the daemon did not say which node it is; pass -N");
    }
    let value = match &r.action {
        Action::Update(v) => Some(v.clone()),
        Action::Delete => None,
        Action::Query => return query(&mut client, r, &node, &name, transient),
    };
    let change = if transient {
        Change::SetTransientAttribute { node, name, value }
    } else {
        Change::SetNodeAttribute { node, name, value }
    };
    client.propose_change(serde_json::to_vec(&change)?)?;
    Ok(ExitCode::SUCCESS)
}

fn query(
    client: &mut Client,
    r: &Request,
    node: &str,
    name: &str,
    transient: bool,
) -> Result<ExitCode> {
    let cib: Cib = serde_json::from_slice(&client.get_cib()?)?;
    let value = if transient {
        cib.status
            .nodes
            .get(node)
            .and_then(|s| s.attributes.get(name))
    } else {
        cib.config.node(node).and_then(|n| n.attributes.get(name))
    };
    let Some(value) = value.or(r.default.as_ref()) else {
        eprintln!("Error performing operation: No such device or address");
        return Ok(ExitCode::from(EX_NOSUCH));
    };
    let scope = if transient { "status" } else { "nodes" };
    if r.quiet {
        outln!("{value}");
    } else {
        outln!("scope={scope}  name={name} value={value}");
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_calls_agents_make_parse() {
        // ocf:pacemaker:Stateful's set and delete of its promotion score.
        let r = parse(&args(&["--promotion", "-v", "10"])).unwrap();
        assert_eq!(r.promotion, Some(None));
        assert_eq!(r.action, Action::Update("10".into()));
        let r = parse(&args(&["--promotion", "-D"])).unwrap();
        assert_eq!(r.action, Action::Delete);
        // crm_master: -l reboot -n NAME with the value inline.
        let r = parse(&args(&["-l", "reboot", "-n", "x", "--update=5"])).unwrap();
        assert_eq!((r.transient, r.name.as_deref()), (Some(true), Some("x")));
        let r = parse(&args(&["-p", "db", "-G", "-q"])).unwrap();
        assert_eq!(r.promotion, Some(Some("db".into())));
        assert!(r.quiet);
    }

    #[test]
    fn the_promotion_score_is_named_after_the_clones_resource() {
        let r = parse(&args(&["-p", "db:2", "-v", "1"])).unwrap();
        assert_eq!(target(&r).unwrap(), ("master-db".to_string(), true));
        let r = parse(&args(&["-n", "site", "-v", "a"])).unwrap();
        assert_eq!(target(&r).unwrap(), ("site".to_string(), false));
    }

    #[test]
    fn what_it_cannot_do_is_refused() {
        assert!(parse(&args(&["--type", "crm_config", "-n", "x"])).is_err());
        assert!(parse(&args(&["--utilization"])).is_err());
        assert!(parse(&args(&["-n"])).is_err());
    }
}
