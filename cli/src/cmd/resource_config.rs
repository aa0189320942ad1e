//! The configuration verbs of `hactl resource` (pcs's words): create, delete, update,
//! enable, disable, restart, cleanup, failcount, move, ban, clear, group, config.
//! They are flattened into `resource::ResourceCommand`.
//!
//! Moves: `resource move RSC NODE` adds the location constraint `cli-move-RSC`
//! (INFINITY on NODE; without NODE, -INFINITY on the node it runs on now). Unlike
//! pcs, the constraint does not stay: with `--wait` (the default) this command waits
//! until the cluster has settled with RSC on the target and then removes
//! `cli-move-RSC` — unless removing it would move RSC again (another constraint
//! pulls it back), in which case it is kept and the reason printed. With `--no-wait`
//! the constraint stays until `hactl resource clear RSC`; the controller does not
//! remove it. `resource ban` adds `cli-ban-RSC-on-NODE`, which stays until `clear`
//! (or `--lifetime` runs out).

use anyhow::{anyhow, bail, Context, Result};
use hactl_model::change::{Change, Constraint, DefaultsSection};
use hactl_model::values::format_interval_ms;
use hactl_model::{
    AgentSpec, Attrs, Cib, Configuration, LocationConstraint, Primitive, Resource, Score,
};
use hactl_policy::schedule;
use std::process::ExitCode;

use crate::verbs::args::{build_op, parse_kv, parse_resource_args, ResourceArgs};
use crate::verbs::session::{unix_now, Outcome};
use crate::verbs::{ChangeFlags, OutputFormat, Plan, ReadFlags, Session};

#[derive(clap::Subcommand, Debug)]
pub enum ResourceConfigCommand {
    /// Resource defaults (rsc_defaults): without arguments list them, else set
    /// k=v... (`k=` removes; pcs's leading `update` is accepted).
    Defaults {
        /// Nothing to list them, or k=v... to set (`k=` removes).
        args: Vec<String>,
        #[command(flatten)]
        flags: ChangeFlags,
    },
    /// Operations: `resource op defaults [k=v...]` (op_defaults).
    #[command(subcommand)]
    Op(OpCommand),
    /// Create a resource: NAME CLASS:PROVIDER:TYPE [k=v...] [op NAME k=v...]... [meta k=v...]
    /// [clone [CLONE_ID] [meta k=v...] | promotable [CLONE_ID] [meta k=v...]]
    Create(CreateArgs),
    /// Delete a resource (and the constraints that name it).
    #[command(alias = "remove")]
    Delete {
        /// The resource (or group) to delete.
        name: String,
        #[command(flatten)]
        flags: ChangeFlags,
    },
    /// Change parameters, operations or meta attributes: NAME [k=v...] [op NAME k=v...] [meta k=v...]; `k=` removes.
    Update {
        /// The resource to change.
        name: String,
        /// k=v... [op NAME k=v...]... [meta k=v...]; k= removes.
        #[arg(allow_negative_numbers = true)]
        args: Vec<String>,
        /// Skip checking parameters against the agent's meta-data.
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        flags: ChangeFlags,
    },
    /// Set meta attributes: NAME k=v... (`k=` removes).
    Meta {
        /// The resource (or group).
        name: String,
        /// k=v... meta attributes; k= removes.
        args: Vec<String>,
        #[command(flatten)]
        flags: ChangeFlags,
    },
    /// Allow resources to run (removes target-role=Stopped).
    Enable {
        /// Resources (or groups) to start.
        #[arg(required = true)]
        names: Vec<String>,
        #[command(flatten)]
        flags: ChangeFlags,
    },
    /// Stop resources and keep them stopped (target-role=Stopped).
    Disable {
        /// Resources (or groups) to stop.
        #[arg(required = true)]
        names: Vec<String>,
        #[command(flatten)]
        flags: ChangeFlags,
    },
    /// Stop a resource, wait until it is stopped, start it again.
    Restart {
        /// The resource (or group).
        name: String,
        #[command(flatten)]
        flags: ChangeFlags,
    },
    /// Forget failures: clear fail counts and operation history of RSC (so it is
    /// probed again); without RSC, of every resource with failures.
    Cleanup {
        /// The resource (default: every resource with failures).
        name: Option<String>,
        /// Only on this node.
        #[arg(long)]
        node: Option<String>,
        #[command(flatten)]
        flags: ChangeFlags,
    },
    /// Show or reset fail counts.
    #[command(subcommand)]
    Failcount(FailcountCommand),
    /// Move a resource to NODE (or away from where it runs); the move constraint is removed once done.
    Move {
        /// The resource (a group member moves its group).
        name: String,
        /// Where to (default: away from the node it runs on).
        node: Option<String>,
        /// The move constraint expires after this long (e.g. 10m, PT1H).
        #[arg(long)]
        lifetime: Option<String>,
        #[command(flatten)]
        flags: ChangeFlags,
    },
    /// Keep a resource off NODE (default: the node it runs on) until `clear`.
    Ban {
        /// The resource (a group member bans its group).
        name: String,
        /// The node to keep it off (default: the node it runs on).
        node: Option<String>,
        /// The ban expires after this long (e.g. 10m, PT1H); default: until `clear`.
        #[arg(long)]
        lifetime: Option<String>,
        #[command(flatten)]
        flags: ChangeFlags,
    },
    /// Remove the constraints `move` and `ban` created (only those on NODE if given).
    Clear {
        /// The resource.
        name: String,
        /// Only the constraints for this node.
        node: Option<String>,
        #[command(flatten)]
        flags: ChangeFlags,
    },
    /// Groups: `group add G R...` (creates G if needed), `group remove G R...`.
    #[command(subcommand)]
    Group(GroupCommand),
    /// Clone a primitive or group: NAME [CLONE_ID] [meta k=v...] (the clone is
    /// NAME-clone; constraints on NAME then name the clone).
    Clone {
        /// The top-level primitive or group to clone.
        name: String,
        /// [CLONE_ID] [meta k=v...]
        args: Vec<String>,
        #[command(flatten)]
        flags: ChangeFlags,
    },
    /// Clone a primitive or group as a promotable clone: NAME [CLONE_ID] [meta k=v...].
    Promotable {
        /// The top-level primitive or group to clone.
        name: String,
        /// [CLONE_ID] [meta k=v...]
        args: Vec<String>,
        #[command(flatten)]
        flags: ChangeFlags,
    },
    /// Take a resource out of its clone (NAME: the clone or the cloned resource);
    /// the clone's constraints then name the resource.
    Unclone {
        /// The clone, or the resource it clones.
        name: String,
        #[command(flatten)]
        flags: ChangeFlags,
    },
    /// Show the configuration of resources (all, or NAME).
    Config {
        /// The resource (default: all).
        name: Option<String>,
        #[command(flatten)]
        flags: ReadFlags,
    },
}

#[derive(clap::Args, Debug)]
pub struct CreateArgs {
    /// Id of the new resource: a letter or _ first, then letters, digits, ., -, _.
    pub name: String,
    /// CLASS:PROVIDER:TYPE (ocf:heartbeat:IPaddr2), CLASS:TYPE (systemd:haproxy), or an
    /// OCF type alone (IPaddr2) when exactly one provider has it.
    pub agent: String,
    /// k=v... [op NAME k=v...]... [meta k=v...] [clone|promotable [CLONE_ID] [meta k=v...]]
    #[arg(allow_negative_numbers = true)]
    pub args: Vec<String>,
    /// Put the new resource at the end of this group (created if needed).
    #[arg(long)]
    pub group: Option<String>,
    /// Create it stopped (target-role=Stopped).
    #[arg(long)]
    pub disabled: bool,
    /// Skip checking the agent and its parameters against its meta-data.
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub flags: ChangeFlags,
}

#[derive(clap::Subcommand, Debug)]
pub enum FailcountCommand {
    /// Fail counts (of RSC, on NODE).
    Show {
        /// The resource (default: all).
        name: Option<String>,
        /// Only on this node.
        #[arg(long)]
        node: Option<String>,
        #[command(flatten)]
        flags: ReadFlags,
    },
    /// Reset fail counts of RSC (on NODE).
    Reset {
        /// The resource.
        name: String,
        /// Only on this node (default: every node).
        #[arg(long)]
        node: Option<String>,
        #[command(flatten)]
        flags: ChangeFlags,
    },
}

#[derive(clap::Subcommand, Debug)]
pub enum OpCommand {
    /// Operation defaults (op_defaults): without arguments list them, else set
    /// k=v... (`k=` removes; pcs's leading `update` is accepted).
    Defaults {
        /// Nothing to list them, or k=v... to set (`k=` removes).
        args: Vec<String>,
        #[command(flatten)]
        flags: ChangeFlags,
    },
}

#[derive(clap::Subcommand, Debug)]
pub enum GroupCommand {
    /// Add resources to group G (created if needed), in this order.
    Add {
        /// The group (created if it does not exist).
        group: String,
        /// Top-level resources to add, in order.
        #[arg(required = true)]
        members: Vec<String>,
        #[command(flatten)]
        flags: ChangeFlags,
    },
    /// Take resources out of group G (an emptied group is deleted).
    Remove {
        /// The group.
        group: String,
        /// Members to take out.
        #[arg(required = true)]
        members: Vec<String>,
        #[command(flatten)]
        flags: ChangeFlags,
    },
}

pub fn run(c: ResourceConfigCommand) -> Result<ExitCode> {
    match c {
        ResourceConfigCommand::Defaults { args, flags } => {
            defaults(DefaultsSection::Resource, &args, &flags)?
        }
        ResourceConfigCommand::Op(OpCommand::Defaults { args, flags }) => {
            defaults(DefaultsSection::Op, &args, &flags)?
        }
        ResourceConfigCommand::Create(a) => {
            let mut s = Session::open(a.flags.socket.as_deref(), a.flags.cib.as_deref())?;
            let cib = s.cib()?;
            let mut a = a;
            a.agent = super::resource::resolve_agent_name(&a.agent)?;
            let name = a.name.clone();
            let plan = create_plan(&cib, &a, &|agent, params| {
                validate_agent(&name, agent, params)
            })?;
            s.submit(&a.flags, &cib, &plan)?;
        }
        ResourceConfigCommand::Delete { name, flags } => simple(&flags, |cib| {
            cib.config
                .find_primitive(&name)
                .map(|_| ())
                .or_else(|| cib.config.find_resource(&name).map(|_| ()))
                .ok_or_else(|| anyhow!("no resource {name:?}"))?;
            Ok(Plan::new(
                format!("delete resource {name}"),
                vec![Change::DeleteResource { id: name.clone() }],
            ))
        })?,
        ResourceConfigCommand::Update {
            name,
            args,
            force,
            flags,
        } => simple(&flags, |cib| {
            let ra = parse_resource_args(&args)?;
            update_plan(cib, &name, &ra, force, &|agent, params| {
                validate_agent(&name, agent, params)
            })
        })?,
        ResourceConfigCommand::Meta { name, args, flags } => simple(&flags, |cib| {
            let mut ra = ResourceArgs::default();
            for a in &args {
                let (k, v) = parse_kv(a).context("meta attribute")?;
                ra.meta.insert(k, v);
            }
            update_plan(cib, &name, &ra, true, &|_, _| Ok(None))
        })?,
        ResourceConfigCommand::Enable { names, flags } => {
            simple(&flags, |cib| target_role_plan(cib, &names, None))?
        }
        ResourceConfigCommand::Disable { names, flags } => {
            simple(&flags, |cib| target_role_plan(cib, &names, Some("Stopped")))?
        }
        ResourceConfigCommand::Restart { name, flags } => restart(&name, &flags)?,
        ResourceConfigCommand::Cleanup { name, node, flags } => simple(&flags, |cib| {
            cleanup_plan(cib, name.as_deref(), node.as_deref())
        })?,
        ResourceConfigCommand::Failcount(FailcountCommand::Show { name, node, flags }) => {
            let mut s = Session::open(flags.socket.as_deref(), flags.cib.as_deref())?;
            let cib = s.cib()?;
            show_failcounts(&cib, name.as_deref(), node.as_deref(), flags.output)?;
        }
        ResourceConfigCommand::Failcount(FailcountCommand::Reset { name, node, flags }) => {
            simple(&flags, |cib| {
                failcount_reset_plan(cib, Some(&name), node.as_deref(), "reset fail count")
            })?
        }
        ResourceConfigCommand::Move {
            name,
            node,
            lifetime,
            flags,
        } => do_move(&name, node.as_deref(), lifetime.as_deref(), &flags)?,
        ResourceConfigCommand::Ban {
            name,
            node,
            lifetime,
            flags,
        } => {
            let mut s = Session::open(flags.socket.as_deref(), flags.cib.as_deref())?;
            let cib = s.cib()?;
            let now = s.now(&cib);
            let plan = ban_plan(&cib, &name, node.as_deref(), lifetime.as_deref(), now)?;
            s.submit(&flags, &cib, &plan)?;
        }
        ResourceConfigCommand::Clear { name, node, flags } => {
            simple(&flags, |cib| clear_plan(cib, &name, node.as_deref()))?
        }
        ResourceConfigCommand::Group(GroupCommand::Add {
            group,
            members,
            flags,
        }) => simple(&flags, |_| {
            Ok(Plan::new(
                format!("add {} to group {group}", members.join(" ")),
                vec![Change::AddGroupMembers {
                    group: group.clone(),
                    members: members.clone(),
                }],
            ))
        })?,
        ResourceConfigCommand::Group(GroupCommand::Remove {
            group,
            members,
            flags,
        }) => simple(&flags, |_| {
            Ok(Plan::new(
                format!("remove {} from group {group}", members.join(" ")),
                vec![Change::RemoveGroupMembers {
                    group: group.clone(),
                    members: members.clone(),
                }],
            ))
        })?,
        ResourceConfigCommand::Clone { name, args, flags } => simple(&flags, |cib| {
            super::clone::clone_plan(cib, &name, &args, false)
        })?,
        ResourceConfigCommand::Promotable { name, args, flags } => simple(&flags, |cib| {
            super::clone::clone_plan(cib, &name, &args, true)
        })?,
        ResourceConfigCommand::Unclone { name, flags } => {
            simple(&flags, |cib| super::clone::unclone_plan(cib, &name))?
        }
        ResourceConfigCommand::Config { name, flags } => {
            let mut s = Session::open(flags.socket.as_deref(), flags.cib.as_deref())?;
            let cib = s.cib()?;
            show_config(&cib.config, name.as_deref(), flags.output)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `resource [op] defaults`: list without arguments, else change.
fn defaults(section: DefaultsSection, args: &[String], flags: &ChangeFlags) -> Result<()> {
    let args = match args.split_first() {
        Some((first, rest)) if first == "update" => rest,
        _ => args,
    };
    if !args.is_empty() {
        return simple(flags, |_| defaults_plan(section, args));
    }
    let cib = Session::open(flags.socket.as_deref(), flags.cib.as_deref())?.cib()?;
    let (title, attrs) = match section {
        DefaultsSection::Resource => ("Resource Defaults", &cib.config.rsc_defaults),
        DefaultsSection::Op => ("Operation Defaults", &cib.config.op_defaults),
    };
    if flags.output == OutputFormat::Json {
        outln!("{}", serde_json::to_string_pretty(attrs)?);
        return Ok(());
    }
    outln!("{title}:");
    if attrs.is_empty() {
        outln!("  No defaults set");
    }
    for (k, v) in attrs {
        outln!("  {k}={v}");
    }
    Ok(())
}

/// Sets (`k=v`) or removes (`k=`) defaults. Defaults can move resources
/// (resource-stickiness), so the change waits for the cluster to settle.
pub fn defaults_plan(section: DefaultsSection, args: &[String]) -> Result<Plan> {
    let mut changes = Vec::new();
    for a in args {
        let (name, v) = parse_kv(a).context("default")?;
        let value = (!v.is_empty()).then_some(v);
        changes.push(Change::SetDefault {
            section,
            name,
            value,
        });
    }
    let what = match section {
        DefaultsSection::Resource => "resource defaults",
        DefaultsSection::Op => "operation defaults",
    };
    Ok(Plan::new(format!("{what} {}", args.join(" ")), changes))
}

/// Open, fetch, plan, submit.
pub(crate) fn simple(flags: &ChangeFlags, f: impl FnOnce(&Cib) -> Result<Plan>) -> Result<()> {
    let mut s = Session::open(flags.socket.as_deref(), flags.cib.as_deref())?;
    let cib = s.cib()?;
    let plan = f(&cib)?;
    s.submit(flags, &cib, &plan)?;
    Ok(())
}

/// Checks an agent and its parameters on this host: against the agent's meta-data
/// (hactl-exec runs `meta-data`), then with the agent's own `validate-all` where it
/// has one; returns the meta-data.
pub type AgentCheck<'a> =
    &'a dyn Fn(&AgentSpec, &Attrs) -> Result<Option<hactl_exec::AgentMetadata>>;

/// [`AgentCheck`] for resource `rsc`. A configuration the agent calls invalid
/// ("not configured") is refused; a failure that may be this node's alone (an
/// interface or program missing here) is printed as a warning.
fn validate_agent(
    rsc: &str,
    agent: &AgentSpec,
    params: &Attrs,
) -> Result<Option<hactl_exec::AgentMetadata>> {
    let spec = hactl_exec::AgentSpec::parse(&agent.to_string())?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let checked = rt.block_on(async {
        let (exec, _events) = hactl_exec::Executor::new(hactl_exec::ExecConfig::default());
        exec.check(rsc, &spec, params).await
    });
    match checked {
        Ok(c) => {
            if let Some(r) = &c.local_failure {
                eprintln!(
                    "warning: {agent} validate-all fails on this node: {} ({}){}; it may still run on other nodes",
                    hactl_exec::rc::name(r.rc),
                    r.rc,
                    r.exit_reason
                        .as_deref()
                        .map(|e| format!(": {e}"))
                        .unwrap_or_default()
                );
            }
            Ok(Some(c.metadata))
        }
        Err(hactl_exec::ExecError::NotInstalled(a)) => bail!(
            "agent {a} is not installed on this node (see `hactl resource agents`; --force skips this check)"
        ),
        Err(e) => Err(anyhow!("{e} (--force skips this check)")),
    }
}

/// `resource create`: the primitive, checked against the agent, plus its group.
pub fn create_plan(cib: &Cib, a: &CreateArgs, check: AgentCheck<'_>) -> Result<Plan> {
    let agent = AgentSpec::parse(&a.agent)?;
    if agent.class == "stonith" {
        bail!("fence devices are created with `hactl stonith create`");
    }
    let (args, clone) = super::clone::split_create_args(&a.args)?;
    let ra = parse_resource_args(args)?;
    if cib.config.find_primitive(&a.name).is_some() || cib.config.find_resource(&a.name).is_some() {
        bail!("resource {:?} already exists", a.name);
    }
    if clone.is_some() && a.group.is_some() {
        bail!("--group and clone: a group member cannot be cloned alone (clone the group)");
    }
    let md = if a.force {
        None
    } else {
        check(&agent, &ra.params)?
    };
    let mut ops = ra
        .ops
        .iter()
        .map(|o| build_op(&a.name, o))
        .collect::<Result<Vec<_>>>()?;
    // pcs adds the agent's advertised monitor when none is given.
    if !ops.iter().any(|o| o.name == "monitor") {
        if let Some(m) = md
            .as_ref()
            .and_then(|m| m.action("monitor"))
            .filter(|m| m.interval.is_some_and(|i| !i.is_zero()))
        {
            let interval_ms = m.interval.map(|d| d.as_millis() as u64).unwrap_or(0);
            ops.push(hactl_model::OpSpec {
                id: format!(
                    "{}-monitor-interval-{}",
                    a.name,
                    format_interval_ms(interval_ms)
                ),
                name: "monitor".into(),
                interval_ms,
                timeout_ms: m.timeout.map(|d| d.as_millis() as u64),
                ..Default::default()
            });
        }
    }
    let mut meta = ra.meta.clone();
    if a.disabled {
        meta.insert("target-role".into(), "Stopped".into());
    }
    let p = Primitive {
        id: a.name.clone(),
        agent,
        params: ra
            .params
            .into_iter()
            .filter(|(_, v)| !v.is_empty())
            .collect(),
        meta,
        ops,
        ..Default::default()
    };
    let mut what = format!("create resource {}", a.name);
    let resource = match clone {
        Some(spec) => {
            let c = spec.build(Resource::Primitive(p));
            super::clone::check_free(cib, &c.id)?;
            what.push_str(&format!(" cloned as {}", c.id));
            Resource::Clone(c)
        }
        None => Resource::Primitive(p),
    };
    let mut changes = vec![Change::AddResource { resource }];
    if let Some(g) = &a.group {
        changes.push(Change::AddGroupMembers {
            group: g.clone(),
            members: vec![a.name.clone()],
        });
        what.push_str(&format!(" in group {g}"));
    }
    Ok(Plan::new(what, changes))
}

fn merge(into: &mut Attrs, from: &Attrs) {
    for (k, v) in from {
        if v.is_empty() {
            into.remove(k);
        } else {
            into.insert(k.clone(), v.clone());
        }
    }
}

/// Finds the top-level resource holding `name` (itself or its group).
fn top_level_of<'a>(cfg: &'a Configuration, name: &str) -> Result<&'a Resource> {
    if let Some(r) = cfg.find_resource(name) {
        return Ok(r);
    }
    if let Some(c) = cfg.clone_of(name) {
        return cfg
            .find_resource(&c.id)
            .ok_or_else(|| anyhow!("no resource {name:?}"));
    }
    let g = cfg
        .group_of(name)
        .ok_or_else(|| anyhow!("no resource {name:?}"))?;
    cfg.find_resource(&g.id)
        .ok_or_else(|| anyhow!("no resource {name:?}"))
}

/// `resource update` / `resource meta`.
pub fn update_plan(
    cib: &Cib,
    name: &str,
    ra: &ResourceArgs,
    force: bool,
    check: AgentCheck<'_>,
) -> Result<Plan> {
    let mut top = top_level_of(&cib.config, name)?.clone();
    let what = format!("update resource {name}");
    if top.primitive_mut(name).is_none() {
        if !ra.params.is_empty() || !ra.ops.is_empty() {
            bail!(
                "{name:?} is a group or clone: it has no parameters or operations; \
                 only meta attributes"
            );
        }
        let meta = top
            .meta_mut(name)
            .ok_or_else(|| anyhow!("no resource {name:?}"))?;
        merge(meta, &ra.meta);
    } else {
        let p: &mut Primitive = top
            .primitive_mut(name)
            .ok_or_else(|| anyhow!("no resource {name:?}"))?;
        merge(&mut p.params, &ra.params);
        merge(&mut p.meta, &ra.meta);
        for o in &ra.ops {
            // pcs: `op NAME ...` replaces the operations of that name.
            p.ops.retain(|x| x.name != o.name);
        }
        for o in &ra.ops {
            p.ops.push(build_op(name, o)?);
        }
        if !force && !ra.params.is_empty() {
            check(&p.agent, &p.params)?;
        }
    }
    Ok(Plan::new(
        what,
        vec![Change::UpdateResource { resource: top }],
    ))
}

/// enable (role None) / disable (role Some("Stopped")): the meta attribute goes on
/// the named resource (a group's goes on the group).
pub fn target_role_plan(cib: &Cib, names: &[String], role: Option<&str>) -> Result<Plan> {
    let mut cfg = cib.config.clone();
    let mut touched: Vec<String> = Vec::new();
    for name in names {
        let top_id = top_level_of(&cfg, name)?.id().to_string();
        let Some(top) = cfg.resources.iter_mut().find(|r| r.id() == top_id) else {
            bail!("no resource {name:?}");
        };
        let Some(meta) = top.meta_mut(name) else {
            bail!("no resource {name:?}");
        };
        match role {
            Some(r) => {
                meta.insert("target-role".into(), r.into());
            }
            None => {
                meta.remove("target-role");
            }
        }
        if !touched.contains(&top_id) {
            touched.push(top_id);
        }
    }
    let changes = touched
        .iter()
        .filter_map(|id| cfg.find_resource(id).cloned())
        .map(|resource| Change::UpdateResource { resource })
        .collect();
    let verb = if role.is_some() { "disable" } else { "enable" };
    Ok(Plan::new(format!("{verb} {}", names.join(" ")), changes))
}

fn restart(name: &str, flags: &ChangeFlags) -> Result<()> {
    let mut s = Session::open(flags.socket.as_deref(), flags.cib.as_deref())?;
    if s.is_offline() && !flags.dry_run {
        bail!("restart acts on a running cluster; with --cib only --dry-run is possible");
    }
    let cib = s.cib()?;
    let names = [name.to_string()];
    let stop = target_role_plan(&cib, &names, Some("Stopped"))?;
    if flags.dry_run {
        s.submit(flags, &cib, &stop)?;
        outln!("(then {name} is enabled again and starts where the cluster places it)");
        return Ok(());
    }
    if flags.no_wait {
        bail!("restart must wait for the stop; it cannot be used with --no-wait");
    }
    // The restart must see the stop through before starting again.
    let mut stop_flags = flags.clone();
    stop_flags.wait.get_or_insert_with(|| "60s".into());
    s.submit(&stop_flags, &cib, &stop)?;
    let cib = s.cib()?;
    let start = target_role_plan(&cib, &names, None)?;
    s.submit(flags, &cib, &start)?;
    Ok(())
}

/// Clears fail counts: of `rsc` (all resources if None) on `node` (all if None).
pub fn failcount_reset_plan(
    cib: &Cib,
    rsc: Option<&str>,
    node: Option<&str>,
    verb: &str,
) -> Result<Plan> {
    let changes = failcount_clear_changes(cib, rsc, node)?;
    let what = format!("{verb} {}", rsc.unwrap_or("all resources"));
    if changes.is_empty() {
        bail!("{what}: there are no fail counts to clear");
    }
    Ok(Plan::new(what, changes))
}

/// The `ClearFailCount` changes for `failcount_reset_plan` (possibly none); errors on
/// an unknown resource or node.
fn failcount_clear_changes(
    cib: &Cib,
    rsc: Option<&str>,
    node: Option<&str>,
) -> Result<Vec<Change>> {
    if let Some(r) = rsc {
        top_level_of(&cib.config, r)?;
    }
    if let Some(n) = node {
        if cib.config.node(n).is_none() {
            bail!("no node {n:?}");
        }
    }
    let mut changes = Vec::new();
    for (n, st) in &cib.status.nodes {
        if node.is_some_and(|x| x != n) {
            continue;
        }
        let mut seen: Vec<&str> = Vec::new();
        for fc in &st.failcounts {
            let member_of = |r: &str| cib.config.group_of(&fc.rsc).is_some_and(|g| g.id == r);
            let hit = rsc.is_none_or(|r| r == fc.rsc || member_of(r));
            if hit && !seen.contains(&fc.rsc.as_str()) {
                seen.push(&fc.rsc);
                changes.push(Change::ClearFailCount {
                    node: n.clone(),
                    rsc: fc.rsc.clone(),
                    op: None,
                    interval_ms: None,
                });
            }
        }
    }
    Ok(changes)
}

/// Pacemaker's cleanup: clears the fail counts of `rsc` and forgets its operation
/// history on `node` (every node if None), so the cluster probes it again. Without
/// `rsc`, acts on every resource with a fail count or a failed operation there.
pub fn cleanup_plan(cib: &Cib, rsc: Option<&str>, node: Option<&str>) -> Result<Plan> {
    let what = format!("clean up {}", rsc.unwrap_or("all resources"));
    let mut changes = failcount_clear_changes(cib, rsc, node)?;
    // History is kept per primitive: a group stands for its members.
    let mut forget: Vec<String> = match rsc {
        Some(r) => match cib.config.find_resource(r) {
            Some(Resource::Group(g)) => g.children.iter().map(|p| p.id.clone()).collect(),
            _ => vec![r.to_string()],
        },
        None => {
            let mut v: Vec<String> = hactl_view::failed_actions(cib)
                .into_iter()
                .filter(|f| node.is_none_or(|n| n == f.node))
                .map(|f| f.resource)
                .collect();
            v.extend(changes.iter().filter_map(|c| match c {
                Change::ClearFailCount { rsc, .. } => Some(rsc.clone()),
                _ => None,
            }));
            v
        }
    };
    forget.sort();
    forget.dedup();
    for r in forget {
        let has_history = cib
            .status
            .nodes
            .iter()
            .any(|(n, st)| node.is_none_or(|x| x == n) && st.resources.contains_key(&r));
        if has_history {
            changes.push(Change::ForgetHistory {
                node: node.map(String::from),
                rsc: r,
            });
        }
    }
    if changes.is_empty() {
        bail!("{what}: there are no fail counts or operation history to clear");
    }
    Ok(Plan::new(what, changes))
}

#[derive(serde::Serialize)]
struct FailcountRow<'a> {
    node: &'a str,
    #[serde(flatten)]
    failcount: &'a hactl_model::FailCount,
}

fn show_failcounts(
    cib: &Cib,
    rsc: Option<&str>,
    node: Option<&str>,
    output: OutputFormat,
) -> Result<()> {
    let rows: Vec<FailcountRow> = cib
        .status
        .nodes
        .iter()
        .filter(|(n, _)| node.is_none_or(|x| x == n.as_str()))
        .flat_map(|(n, st)| {
            st.failcounts.iter().map(move |f| FailcountRow {
                node: n,
                failcount: f,
            })
        })
        .filter(|r| rsc.is_none_or(|x| x == r.failcount.rsc))
        .collect();
    if output == OutputFormat::Json {
        outln!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    if rows.is_empty() {
        outln!("No failcounts");
    }
    for r in rows {
        let op = match (&r.failcount.op, r.failcount.interval_ms) {
            (Some(o), Some(i)) => format!(" {o} {}", format_interval_ms(i)),
            (Some(o), None) => format!(" {o}"),
            _ => String::new(),
        };
        outln!(
            "{} on {}{op}: {}",
            r.failcount.rsc,
            r.node,
            r.failcount.count
        );
    }
    Ok(())
}

fn parse_lifetime(lifetime: Option<&str>, now: i64) -> Result<Option<i64>> {
    lifetime
        .map(|l| {
            hactl_model::values::parse_interval_ms(l)
                .map(|ms| now + (ms / 1000) as i64)
                .ok_or_else(|| {
                    anyhow!("--lifetime {l:?}: expected a duration such as 10m, 1h, PT30M")
                })
        })
        .transpose()
}

/// The resource a move or ban acts on: a group member moves its whole group.
fn movable(cfg: &Configuration, name: &str) -> Result<String> {
    let top = top_level_of(cfg, name)?;
    if top.id() != name {
        eprintln!(
            "note: {name} is in group {}; the group moves as a whole",
            top.id()
        );
    }
    Ok(top.id().to_string())
}

/// Where `rsc` (a primitive or group) runs now, from the scheduler's view.
fn current_node(cib: &Cib, rsc: &str, now: i64) -> Result<Option<String>> {
    let t = schedule(cib, now)?;
    let first = match cib.config.find_resource(rsc) {
        Some(Resource::Group(g)) => g.children.first().map(|c| c.id.clone()),
        _ => Some(rsc.to_string()),
    };
    Ok(first.and_then(|f| {
        t.placements
            .iter()
            .find(|p| p.resource == f)
            .and_then(|p| p.current.first().cloned())
    }))
}

/// Changes that put `lc` in place of the location constraint with its id, if any
/// (a repeated move or ban replaces the earlier one).
fn replace_location(cib: &Cib, lc: LocationConstraint) -> Vec<Change> {
    let mut changes = Vec::new();
    if cib
        .config
        .constraints
        .location
        .iter()
        .any(|l| l.id == lc.id)
    {
        changes.push(Change::RemoveConstraint { id: lc.id.clone() });
    }
    changes.push(Change::AddConstraint {
        constraint: Constraint::Location(lc),
    });
    changes
}

pub fn move_id(rsc: &str) -> String {
    format!("cli-move-{rsc}")
}

pub fn ban_id(rsc: &str, node: &str) -> String {
    format!("cli-ban-{rsc}-on-{node}")
}

/// `resource move`: the `cli-move-RSC` constraint (replacing an older one).
pub fn move_plan(
    cib: &Cib,
    name: &str,
    node: Option<&str>,
    lifetime: Option<&str>,
    now: i64,
) -> Result<(Plan, LocationConstraint)> {
    let rsc = movable(&cib.config, name)?;
    let current = current_node(cib, &rsc, now)?;
    let (node, score) = match node {
        Some(n) => {
            if cib.config.node(n).is_none() {
                bail!("no node {n:?}");
            }
            if current.as_deref() == Some(n) {
                bail!("{rsc} already runs on {n}");
            }
            (n.to_string(), Score::INFINITY)
        }
        None => (
            current.ok_or_else(|| {
                anyhow!("{rsc} is not running anywhere; name the node to move it to")
            })?,
            Score::NEG_INFINITY,
        ),
    };
    let lc = LocationConstraint {
        id: move_id(&rsc),
        rsc: rsc.clone(),
        node: Some(node.clone()),
        score: Some(score),
        expires: parse_lifetime(lifetime, now)?,
        ..Default::default()
    };
    let changes = replace_location(cib, lc.clone());
    let what = if score == Score::INFINITY {
        format!("move {rsc} to {node}")
    } else {
        format!("move {rsc} away from {node}")
    };
    Ok((Plan::new(what, changes), lc))
}

/// Whether the move `lc` describes is done in `cib`: the resource runs on the target
/// (or, for a move away, somewhere else).
pub fn move_done(cib: &Cib, lc: &LocationConstraint, now: i64) -> Result<bool> {
    let cur = current_node(cib, &lc.rsc, now)?;
    Ok(match (cur, lc.score) {
        (Some(c), Some(s)) if s == Score::INFINITY => Some(c) == lc.node,
        (Some(c), _) => Some(c) != lc.node,
        (None, _) => false,
    })
}

/// The CIB without the move constraint, if that does not move the resource again;
/// else why the constraint must stay.
pub fn can_drop_move(cib: &Cib, lc: &LocationConstraint, now: i64) -> Result<Result<(), String>> {
    let mut without = cib.clone();
    if (Change::RemoveConstraint { id: lc.id.clone() })
        .apply(&mut without)
        .is_err()
    {
        return Ok(Err(format!("{} is no longer there", lc.id)));
    }
    let t = schedule(&without, now)?;
    let prims: Vec<String> = match cib.config.find_resource(&lc.rsc) {
        Some(r) => r.primitives().map(|p| p.id.clone()).collect(),
        None => vec![lc.rsc.clone()],
    };
    for p in t.placements.iter().filter(|p| prims.contains(&p.resource)) {
        if p.target.is_none() || p.target.as_ref() != p.current.first() {
            return Ok(Err(format!(
                "without it {} would move to {} (see `hactl simulate`)",
                p.resource,
                p.target.as_deref().unwrap_or("nowhere (stopped)")
            )));
        }
    }
    Ok(Ok(()))
}

fn do_move(
    name: &str,
    node: Option<&str>,
    lifetime: Option<&str>,
    flags: &ChangeFlags,
) -> Result<()> {
    let mut s = Session::open(flags.socket.as_deref(), flags.cib.as_deref())?;
    let cib = s.cib()?;
    let now = s.now(&cib);
    let (plan, lc) = move_plan(&cib, name, node, lifetime, now)?;
    match s.submit(flags, &cib, &plan)? {
        Outcome::Settled(after) => {
            let now = unix_now();
            if !move_done(&after, &lc, now)? {
                outln!(
                    "{} did not end where asked; {} stays (remove it with `hactl resource clear {}`)",
                    lc.rsc, lc.id, lc.rsc
                );
                return Ok(());
            }
            match can_drop_move(&after, &lc, now)? {
                Ok(()) => {
                    let mut f = flags.clone();
                    f.no_wait = true;
                    f.wait = None;
                    f.output = OutputFormat::Text;
                    let drop = Plan {
                        moves_things: false,
                        ..Plan::new(
                            format!("remove {} (the move is done)", lc.id),
                            vec![Change::RemoveConstraint { id: lc.id.clone() }],
                        )
                    };
                    s.submit(&f, &after, &drop)?;
                }
                Err(why) => outln!(
                    "kept {}: {why}; remove it with `hactl resource clear {}`",
                    lc.id, lc.rsc
                ),
            }
        }
        Outcome::Committed | Outcome::FileWritten => outln!(
            "{} stays until `hactl resource clear {}` (it is removed automatically only when the move is waited for)",
            lc.id, lc.rsc
        ),
        Outcome::DryRun => {}
    }
    Ok(())
}

/// `resource ban`: `cli-ban-RSC-on-NODE` at -INFINITY.
pub fn ban_plan(
    cib: &Cib,
    name: &str,
    node: Option<&str>,
    lifetime: Option<&str>,
    now: i64,
) -> Result<Plan> {
    let rsc = movable(&cib.config, name)?;
    let node = match node {
        Some(n) => {
            if cib.config.node(n).is_none() {
                bail!("no node {n:?}");
            }
            n.to_string()
        }
        None => current_node(cib, &rsc, now)?.ok_or_else(|| {
            anyhow!("{rsc} is not running anywhere; name the node to ban it from")
        })?,
    };
    let lc = LocationConstraint {
        id: ban_id(&rsc, &node),
        rsc: rsc.clone(),
        node: Some(node.clone()),
        score: Some(Score::NEG_INFINITY),
        expires: parse_lifetime(lifetime, now)?,
        ..Default::default()
    };
    let changes = replace_location(cib, lc);
    Ok(Plan::new(format!("ban {rsc} from {node}"), changes))
}

/// `resource clear`: removes `cli-move-RSC` and `cli-ban-RSC-on-*`.
pub fn clear_plan(cib: &Cib, name: &str, node: Option<&str>) -> Result<Plan> {
    let rsc = top_level_of(&cib.config, name)?.id().to_string();
    let ban_prefix = format!("cli-ban-{rsc}-on-");
    let ids: Vec<String> = cib
        .config
        .constraints
        .location
        .iter()
        .filter(|l| l.id == move_id(&rsc) || l.id.starts_with(&ban_prefix))
        .filter(|l| node.is_none() || l.node.as_deref() == node)
        .map(|l| l.id.clone())
        .collect();
    if ids.is_empty() {
        bail!("{rsc} has no move or ban constraints to clear");
    }
    Ok(Plan::new(
        format!("clear {}", ids.join(" ")),
        ids.into_iter()
            .map(|id| Change::RemoveConstraint { id })
            .collect(),
    ))
}

fn show_config(cfg: &Configuration, name: Option<&str>, output: OutputFormat) -> Result<()> {
    let rs: Vec<&Resource> = match name {
        Some(n) => vec![top_level_of(cfg, n)?],
        None => cfg.resources.iter().collect(),
    };
    if output == OutputFormat::Json {
        outln!("{}", serde_json::to_string_pretty(&rs)?);
        return Ok(());
    }
    out!("{}", format_resources(&rs, ""));
    Ok(())
}

/// `k=v k=v`, as pcs prints attributes.
pub(crate) fn format_attrs(a: &Attrs) -> String {
    a.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Resources as `pcs resource config` prints them: each with its attributes, meta
/// attributes and operations; groups with their members. Every line starts with
/// `indent`.
pub(crate) fn format_resources(rs: &[&Resource], indent: &str) -> String {
    let mut out = String::new();
    for r in rs {
        match r {
            Resource::Primitive(p) => format_primitive(&mut out, p, indent),
            Resource::Group(g) => {
                out.push_str(&format!("{indent}Group: {}\n", g.id));
                if !g.meta.is_empty() {
                    out.push_str(&format!(
                        "{indent}  Meta Attributes: {}\n",
                        format_attrs(&g.meta)
                    ));
                }
                for c in &g.children {
                    format_primitive(&mut out, c, &format!("{indent}  "));
                }
            }
            Resource::Clone(c) => {
                out.push_str(&format!("{indent}Clone: {}\n", c.id));
                if !c.meta.is_empty() {
                    out.push_str(&format!(
                        "{indent}  Meta Attributes: {}\n",
                        format_attrs(&c.meta)
                    ));
                }
                out.push_str(&format_resources(&[&*c.child], &format!("{indent}  ")));
            }
        }
    }
    out
}

fn format_primitive(out: &mut String, p: &Primitive, indent: &str) {
    out.push_str(&format!("{indent}Resource: {} ({})\n", p.id, p.agent));
    if !p.params.is_empty() {
        out.push_str(&format!(
            "{indent}  Attributes: {}\n",
            format_attrs(&p.params)
        ));
    }
    if !p.meta.is_empty() {
        out.push_str(&format!(
            "{indent}  Meta Attributes: {}\n",
            format_attrs(&p.meta)
        ));
    }
    for o in &p.ops {
        let mut s = format!("{} interval={}", o.name, format_interval_ms(o.interval_ms));
        if let Some(t) = o.timeout_ms {
            s.push_str(&format!(" timeout={}", format_interval_ms(t)));
        }
        if let Some(f) = o.on_fail {
            s.push_str(&format!(" on-fail={f}"));
        }
        if let Some(r) = o.role {
            s.push_str(&format!(" role={r}"));
        }
        if let Some(e) = o.enabled {
            s.push_str(&format!(" enabled={e}"));
        }
        if !o.extra.is_empty() {
            s.push_str(&format!(" {}", format_attrs(&o.extra)));
        }
        out.push_str(&format!("{indent}  Operation: {s} (id: {})\n", o.id));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hactl_model::{Node, OpRecord};

    fn base() -> Cib {
        let mut cib = Cib::default();
        for n in ["n1", "n2", "n3"] {
            cib.config.nodes.push(Node {
                id: n.into(),
                name: n.into(),
                ..Default::default()
            });
        }
        cib.config
            .properties
            .insert("stonith-enabled".into(), "false".into());
        cib
    }

    fn args(name: &str, agent: &str, rest: &str) -> CreateArgs {
        CreateArgs {
            name: name.into(),
            agent: agent.into(),
            args: rest.split_whitespace().map(String::from).collect(),
            group: None,
            disabled: false,
            force: false,
            flags: ChangeFlags::default(),
        }
    }

    fn no_check(_: &AgentSpec, _: &Attrs) -> Result<Option<hactl_exec::AgentMetadata>> {
        Ok(None)
    }

    fn apply(cib: &mut Cib, plan: &Plan) {
        plan.change().apply(cib).unwrap();
    }

    /// Plans against the current CIB, then applies.
    fn go(cib: &mut Cib, f: impl FnOnce(&Cib) -> Result<Plan>) {
        let p = f(cib).unwrap();
        apply(cib, &p);
    }

    /// Marks `rsc` as started on `node` in the status section.
    fn running(cib: &mut Cib, rsc: &str, node: &str) {
        let agent = cib.config.find_primitive(rsc).unwrap().agent.clone();
        for n in ["n1", "n2", "n3"] {
            // The newest record (highest call id) decides: a start here, a stop
            // everywhere else.
            let op = OpRecord {
                operation: if n == node { "start" } else { "stop" }.into(),
                call_id: 10,
                ..Default::default()
            };
            Change::RecordOp {
                node: n.into(),
                rsc: rsc.into(),
                agent: agent.clone(),
                op,
            }
            .apply(cib)
            .unwrap();
            Change::SetNodeState {
                node: n.into(),
                state: hactl_model::change::NodeStateUpdate {
                    member: Some(true),
                    controller_online: Some(true),
                    join: Some("member".into()),
                    expected: Some("member".into()),
                },
            }
            .apply(cib)
            .unwrap();
        }
        cib.status.have_quorum = true;
    }

    #[test]
    fn create_builds_primitive_group_and_disabled() {
        let cib = base();
        let mut a = args(
            "vip",
            "ocf:heartbeat:IPaddr2",
            "ip=10.0.0.1 cidr_netmask=24 op monitor interval=10s",
        );
        a.group = Some("web".into());
        a.disabled = true;
        let plan = create_plan(&cib, &a, &no_check).unwrap();
        let mut c = cib.clone();
        apply(&mut c, &plan);
        let g = match c.config.find_resource("web") {
            Some(Resource::Group(g)) => g,
            other => panic!("{other:?}"),
        };
        let p = &g.children[0];
        assert_eq!(p.params["ip"], "10.0.0.1");
        assert_eq!(p.meta["target-role"], "Stopped");
        assert_eq!(p.ops[0].interval_ms, 10_000);
        // A second create with the same name is refused before anything is sent.
        let e = create_plan(&c, &a, &no_check).unwrap_err();
        assert!(e.to_string().contains("already exists"), "{e}");
        let e = create_plan(&c, &args("x", "ocf:IPaddr2", ""), &no_check).unwrap_err();
        assert!(e.to_string().contains("provider"), "{e}");
    }

    #[test]
    fn update_enable_disable() {
        let mut cib = base();
        go(&mut cib, |c| {
            create_plan(
                c,
                &args("d", "ocf:heartbeat:Dummy", "fake=1 op monitor interval=10s"),
                &no_check,
            )
        });
        let ra = parse_resource_args(
            &"fake= op monitor interval=20s meta resource-stickiness=50"
                .split_whitespace()
                .map(String::from)
                .collect::<Vec<_>>(),
        )
        .unwrap();
        go(&mut cib, |c| update_plan(c, "d", &ra, true, &no_check));
        let p = cib.config.find_primitive("d").unwrap();
        assert!(!p.params.contains_key("fake"), "k= removes");
        assert_eq!(p.ops.len(), 1, "op monitor replaced");
        assert_eq!(p.ops[0].interval_ms, 20_000);
        assert_eq!(p.meta["resource-stickiness"], "50");
        go(&mut cib, |c| {
            target_role_plan(c, &["d".into()], Some("Stopped"))
        });
        assert_eq!(
            cib.config.find_primitive("d").unwrap().meta["target-role"],
            "Stopped"
        );
        go(&mut cib, |c| target_role_plan(c, &["d".into()], None));
        assert!(!cib
            .config
            .find_primitive("d")
            .unwrap()
            .meta
            .contains_key("target-role"));
        assert!(target_role_plan(&cib, &["nope".into()], None).is_err());
    }

    #[test]
    fn move_creates_and_recognises_done_and_clear() {
        let mut cib = base();
        go(&mut cib, |c| {
            create_plan(c, &args("d", "ocf:heartbeat:Dummy", ""), &no_check)
        });
        running(&mut cib, "d", "n1");
        let (plan, lc) = move_plan(&cib, "d", Some("n2"), None, 1000).unwrap();
        assert_eq!(lc.id, "cli-move-d");
        let mut moved = cib.clone();
        apply(&mut moved, &plan);
        let t = schedule(&moved, 1000).unwrap();
        assert!(
            t.summary
                .iter()
                .any(|l| l.contains("Move") && l.contains("n2")),
            "{:?}",
            t.summary
        );
        assert!(!move_done(&moved, &lc, 1000).unwrap(), "still on n1");
        running(&mut moved, "d", "n2");
        assert!(move_done(&moved, &lc, 1000).unwrap());
        // Nothing pulls d back to n1, so the constraint can go.
        assert_eq!(can_drop_move(&moved, &lc, 1000).unwrap(), Ok(()));
        // With a preference for n1 it must stay.
        let mut pulled = moved.clone();
        Change::AddConstraint {
            constraint: Constraint::Location(LocationConstraint {
                id: "pref".into(),
                rsc: "d".into(),
                node: Some("n1".into()),
                score: Some(Score::new(100)),
                ..Default::default()
            }),
        }
        .apply(&mut pulled)
        .unwrap();
        let why = can_drop_move(&pulled, &lc, 1000).unwrap().unwrap_err();
        assert!(why.contains("n1"), "{why}");
        // Moving to where it runs is refused; an unknown node too.
        assert!(move_plan(&moved, "d", Some("n2"), None, 1000).is_err());
        assert!(move_plan(&moved, "d", Some("n9"), None, 1000).is_err());
        // Lifetime sets `expires`.
        let (_, lc2) = move_plan(&moved, "d", Some("n3"), Some("10m"), 1000).unwrap();
        assert_eq!(lc2.expires, Some(1600));
        // clear removes move and bans.
        let mut c = moved.clone();
        go(&mut c, |c| ban_plan(c, "d", None, None, 1000));
        assert!(c
            .config
            .constraints
            .location
            .iter()
            .any(|l| l.id == "cli-ban-d-on-n2"));
        let clear = clear_plan(&c, "d", None).unwrap();
        apply(&mut c, &clear);
        assert!(c.config.constraints.location.is_empty());
        assert!(clear_plan(&c, "d", None).is_err(), "nothing left to clear");
    }

    #[test]
    fn failcount_reset_finds_counts() {
        let mut cib = base();
        go(&mut cib, |c| {
            create_plan(c, &args("d", "ocf:heartbeat:Dummy", ""), &no_check)
        });
        assert!(failcount_reset_plan(&cib, Some("d"), None, "reset").is_err());
        Change::SetFailCount {
            node: "n2".into(),
            failcount: hactl_model::FailCount {
                rsc: "d".into(),
                op: Some("monitor".into()),
                interval_ms: Some(10_000),
                count: Score::new(2),
                last_failure: Some(5),
            },
        }
        .apply(&mut cib)
        .unwrap();
        let plan = failcount_reset_plan(&cib, Some("d"), None, "reset").unwrap();
        apply(&mut cib, &plan);
        assert!(cib.status.nodes["n2"].failcounts.is_empty());
        assert!(failcount_reset_plan(&cib, Some("zz"), None, "reset").is_err());
    }

    fn probes_of<'a>(t: &'a hactl_policy::Transition, rsc: &str) -> Vec<&'a str> {
        t.actions
            .iter()
            .filter(|a| {
                matches!(a.kind, hactl_policy::ActionKind::Probe)
                    && a.resource.as_deref() == Some(rsc)
            })
            .filter_map(|a| a.node.as_deref())
            .collect()
    }

    /// After cleanup the policy engine no longer knows the resource's state on the
    /// node, so it probes it there (and only there with --node).
    #[test]
    fn cleanup_clears_failcount_and_forgets_history_so_it_is_probed() {
        let mut cib = base();
        go(&mut cib, |c| {
            create_plan(c, &args("d", "ocf:heartbeat:Dummy", ""), &no_check)
        });
        running(&mut cib, "d", "n1");
        Change::SetFailCount {
            node: "n2".into(),
            failcount: hactl_model::FailCount {
                rsc: "d".into(),
                op: Some("start".into()),
                interval_ms: Some(0),
                count: Score::new(1),
                last_failure: Some(5),
            },
        }
        .apply(&mut cib)
        .unwrap();
        let t = schedule(&cib, 1000).unwrap();
        assert!(probes_of(&t, "d").is_empty(), "history known: no probes");

        let plan = cleanup_plan(&cib, Some("d"), Some("n2")).unwrap();
        assert!(matches!(plan.change(), Change::Batch { .. }));
        let mut c = cib.clone();
        apply(&mut c, &plan);
        assert!(c.status.nodes["n2"].failcounts.is_empty());
        assert!(!c.status.nodes["n2"].resources.contains_key("d"));
        assert!(c.status.nodes["n1"].resources.contains_key("d"));
        let t = schedule(&c, 1000).unwrap();
        assert_eq!(probes_of(&t, "d"), vec!["n2"]);

        // Without --node: forgotten everywhere, probed on every node.
        let mut c = cib.clone();
        apply(&mut c, &cleanup_plan(&cib, Some("d"), None).unwrap());
        let t = schedule(&c, 1000).unwrap();
        let mut p = probes_of(&t, "d");
        p.sort();
        assert_eq!(p, vec!["n1", "n2", "n3"]);
        // Nothing left to clean up; unknown names are refused.
        assert!(cleanup_plan(&c, Some("d"), None).is_err());
        assert!(cleanup_plan(&cib, Some("zz"), None).is_err());
        assert!(cleanup_plan(&cib, Some("d"), Some("n9")).is_err());
    }
}
