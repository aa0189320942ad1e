//! The transition in Pacemaker's transition-graph XML (what `crm_simulate -G` writes
//! and the controller executes): one `<synapse>` per action that will run, its
//! `<action_set>` holding the action (`rsc_op`, `crm_event` for fencing, or
//! `pseudo_event` for markers such as `grp_running_0`) and its `<inputs>` the actions
//! it waits for. Unrunnable actions are left out, as Pacemaker leaves them out.
//!
//! Operation keys follow Pacemaker: `RSC_OPERATION_INTERVALMS` (`vip_monitor_10000`,
//! a probe is `vip_monitor_0`), fencing `stonith-NODE-ACTION`.

use std::collections::HashMap;
use std::fmt::Write;

use hactl_model::{Cib, Primitive};

use crate::{Action, ActionKind, Transition};

/// Pacemaker's default operation timeout when neither the operation nor
/// `op_defaults` sets one.
const DEFAULT_TIMEOUT_MS: u64 = 20_000;

/// `(operation, interval in ms)` of an action; None for fencing.
fn operation(kind: &ActionKind) -> (&'static str, u64) {
    match kind {
        ActionKind::Fence { .. } => ("stonith", 0),
        ActionKind::Stop => ("stop", 0),
        ActionKind::Start => ("start", 0),
        ActionKind::Probe => ("monitor", 0),
        ActionKind::Monitor { interval_ms } => ("monitor", *interval_ms),
        ActionKind::GroupStart => ("start", 0),
        ActionKind::GroupRunning => ("running", 0),
        ActionKind::GroupStop => ("stop", 0),
        ActionKind::GroupStopped => ("stopped", 0),
        ActionKind::Promote | ActionKind::GroupPromote => ("promote", 0),
        ActionKind::Demote | ActionKind::GroupDemote => ("demote", 0),
        // A cancel's key is the monitor's (its operation is "cancel").
        ActionKind::Cancel { interval_ms } => ("monitor", *interval_ms),
        ActionKind::GroupPromoted => ("promoted", 0),
        ActionKind::GroupDemoted => ("demoted", 0),
        ActionKind::Reload => ("reload-agent", 0),
        ActionKind::Notify { .. } => ("notify", 0),
        ActionKind::CloneOneOrMore { .. } => ("clone-one-or-more", 0),
        ActionKind::ClearFailcount => ("clear_failcount", 0),
        ActionKind::Delete => ("delete", 0),
        ActionKind::MigrateTo { .. } => ("migrate_to", 0),
        ActionKind::MigrateFrom { .. } => ("migrate_from", 0),
        ActionKind::LoadStopped => ("load_stopped", 0),
        ActionKind::NotifyMarker { phase, .. } => match phase {
            crate::NotifyPhase::Pre | crate::NotifyPhase::Post => ("notify", 0),
            _ => ("notified", 0),
        },
    }
}

/// Pacemaker's operation key of an action (`rsc_start_0`, `stonith-node1-reboot`).
pub fn operation_key(a: &Action) -> String {
    key_as(a, a.resource.as_deref().unwrap_or(""))
}

/// The operation key of an action on resource `name`.
fn key_as(a: &Action, name: &str) -> String {
    let node = a.node.as_deref().unwrap_or("");
    match &a.kind {
        ActionKind::Fence { action } => format!("stonith-{node}-{action}"),
        ActionKind::CloneOneOrMore { ordering } => format!("clone-one-or-more:{ordering}"),
        ActionKind::LoadStopped => format!("load_stopped_{node}"),
        // Instances are told about the clone's action (`rsc:0_pre_notify_start_0`);
        // the clone's markers name its own pseudo action, the post ones the
        // completion (`clone_confirmed-post_notify_running_0`).
        ActionKind::Notify { phase, of, .. } => {
            format!("{name}_{}_notify_{}_0", phase.name(), of.action())
        }
        ActionKind::NotifyMarker { phase, of } => {
            let task = match phase {
                crate::NotifyPhase::Pre | crate::NotifyPhase::ConfirmedPre => of.action(),
                _ => of.completed(),
            };
            format!("{name}_{}_notify_{task}_0", phase.name())
        }
        kind => {
            let (op, interval) = operation(kind);
            format!("{name}_{op}_{interval}")
        }
    }
}

/// What the writer needs from the CIB, indexed once (a large transition has
/// hundreds of thousands of actions).
struct Lookup<'c> {
    cib: &'c Cib,
    prims: HashMap<&'c str, &'c Primitive>,
    uuids: HashMap<&'c str, &'c str>,
    default_timeout_ms: u64,
    /// Instance id → the name its history knows it by (see `Placement`).
    history: HashMap<&'c str, &'c str>,
    /// When the transition was scheduled (rules in attribute sets).
    now: i64,
}

impl<'c> Lookup<'c> {
    fn new(cib: &'c Cib) -> Lookup<'c> {
        let prims = cib
            .config
            .resources
            .iter()
            .flat_map(|r| r.primitives())
            .map(|p| (p.id.as_str(), p))
            .collect();
        let uuids = cib
            .config
            .nodes
            .iter()
            .map(|n| (n.name.as_str(), n.id.as_str()))
            .collect();
        let default_timeout_ms = cib
            .config
            .op_defaults
            .get("timeout")
            .and_then(|v| hactl_model::values::parse_interval_ms(v))
            .unwrap_or(DEFAULT_TIMEOUT_MS);
        Lookup {
            cib,
            prims,
            uuids,
            default_timeout_ms,
            history: HashMap::new(),
            now: 0,
        }
    }

    /// The name an action's resource has in its history, when not its id.
    fn history_name(&self, a: &Action) -> Option<&'c str> {
        let rsc = a.resource.as_deref()?;
        self.history.get(rsc).copied()
    }

    /// An action's key as Pacemaker writes it: by the history's name for the
    /// resource (an anonymous clone instance's `clone_name`).
    fn key_of(&self, a: &Action) -> String {
        match self.history_name(a) {
            Some(name) => key_as(a, name),
            None => operation_key(a),
        }
    }

    fn uuid<'n>(&self, node: &'n str) -> &'n str
    where
        'c: 'n,
    {
        self.uuids.get(node).copied().unwrap_or(node)
    }

    fn timeout_ms(&self, p: Option<&Primitive>, op: &str, interval: u64) -> u64 {
        let Some(p) = p else {
            return self.default_timeout_ms;
        };
        p.op(op, interval)
            .and_then(|o| o.timeout_ms)
            .or_else(|| {
                crate::conditional::unconfigured_op_timeout(self.cib, p, op, interval, self.now)
            })
            .unwrap_or(self.default_timeout_ms)
    }

    /// `class`, `provider`, `type` of a resource: from the configuration, else from
    /// the status history (an orphan).
    fn agent(&self, rsc: &str) -> Option<&'c hactl_model::AgentSpec> {
        // A clone instance (`web:2`) runs its clone's primitive (`web`).
        let base = crate::clone::strip_instance(rsc);
        if let Some(p) = self.prims.get(rsc).or_else(|| self.prims.get(base)) {
            return Some(&p.agent);
        }
        self.cib
            .status
            .nodes
            .values()
            .find_map(|n| n.resources.get(rsc).map(|h| &h.agent))
    }
}

/// Appends formatted text.
fn put(out: &mut String, args: std::fmt::Arguments<'_>) {
    // `fmt::Write` for `String` never returns an error.
    out.write_fmt(args).ok();
}

fn putln(out: &mut String, args: std::fmt::Arguments<'_>) {
    put(out, args);
    out.push('\n');
}

/// Escapes a value for an XML attribute.
fn esc(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.contains(['&', '<', '>', '"', '\'']) {
        return s.into();
    }
    let mut o = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            c => o.push(c),
        }
    }
    o.into()
}

/// Whether an action appears in the graph at all.
fn in_graph(a: &Action) -> bool {
    a.runnable
}

/// The element name and identifying attributes of an action (as written in an
/// `<action_set>` and, without children, in a `<trigger>`).
fn open_tag(l: &Lookup<'_>, a: &Action, out: &mut String) {
    let (op, _) = operation(&a.kind);
    let op = match a.kind {
        ActionKind::Cancel { .. } => "cancel",
        _ => op,
    };
    let key = operation_key(a);
    let element = element_name(a);
    put(
        out,
        format_args!(
            r#"<{element} id="{}" operation="{op}" operation_key="{}""#,
            a.id,
            esc(&l.key_of(a))
        ),
    );
    if l.history_name(a).is_some() {
        put(
            out,
            format_args!(r#" internal_operation_key="{}""#, esc(&key)),
        );
    }
    if let (Some(node), false) = (a.node.as_deref(), a.pseudo) {
        put(
            out,
            format_args!(
                r#" on_node="{}" on_node_uuid="{}""#,
                esc(node),
                esc(l.uuid(node))
            ),
        );
    }
}

fn element_name(a: &Action) -> &'static str {
    match (&a.kind, a.pseudo) {
        // A guest node's fencing is a pseudo event (its container's recovery).
        (ActionKind::Fence { .. }, false) | (ActionKind::ClearFailcount, _) => "crm_event",
        (_, true) => "pseudo_event",
        _ => "rsc_op",
    }
}

/// The body of an action: the resource and the attributes the executor gets.
fn action_body(l: &Lookup<'_>, a: &Action, out: &mut String) {
    let (op, interval) = operation(&a.kind);
    let node = a.node.as_deref().filter(|_| !a.pseudo);
    let mut attrs: Vec<(String, String)> = Vec::new();
    if let ActionKind::Fence { action } = &a.kind {
        if let Some(n) = node {
            attrs.push(("CRM_meta_on_node".into(), n.to_string()));
            attrs.push(("CRM_meta_on_node_uuid".into(), l.uuid(n).to_string()));
        }
        attrs.push(("CRM_meta_stonith_action".into(), action.clone()));
        write_attributes(&attrs, out);
        if let Some(n) = node {
            putln(
                out,
                format_args!(
                    "        <downed>\n          <node id=\"{}\"/>\n        </downed>",
                    esc(l.uuid(n))
                ),
            );
        }
        return;
    }
    let rsc = a.resource.as_deref().unwrap_or("");
    let prim = l.prims.get(rsc).copied();
    if !a.pseudo {
        if let Some(agent) = l.agent(rsc) {
            put(
                out,
                format_args!(
                    r#"        <primitive id="{}" class="{}""#,
                    esc(rsc),
                    esc(&agent.class)
                ),
            );
            if let Some(p) = &agent.provider {
                put(out, format_args!(r#" provider="{}""#, esc(p)));
            }
            putln(out, format_args!(r#" type="{}"/>"#, esc(&agent.kind)));
        }
    }
    if let ActionKind::Cancel { .. } = a.kind {
        attrs.push(("CRM_meta_interval".into(), interval.to_string()));
        attrs.push(("CRM_meta_operation".into(), op.to_string()));
    } else if interval > 0 {
        attrs.push(("CRM_meta_interval".into(), interval.to_string()));
        attrs.push(("CRM_meta_name".into(), op.to_string()));
    }
    if let Some(n) = node {
        attrs.push(("CRM_meta_on_node".into(), n.to_string()));
        attrs.push(("CRM_meta_on_node_uuid".into(), l.uuid(n).to_string()));
    }
    // A probe, and a monitor for the Stopped role, expect "not running".
    let stopped_role = matches!(a.kind, ActionKind::Monitor { .. })
        && prim
            .and_then(|p| p.op(op, interval))
            .is_some_and(|o| o.role == Some(hactl_model::Role::Stopped));
    if a.kind == ActionKind::Probe || stopped_role {
        attrs.push(("CRM_meta_op_target_rc".into(), "7".into()));
    }
    if let ActionKind::Notify { env, .. } = &a.kind {
        attrs.extend(
            env.iter()
                .map(|(k, v)| (format!("CRM_meta_{k}"), v.clone())),
        );
    }
    let timeout = l.timeout_ms(prim, op, interval);
    attrs.push(("CRM_meta_timeout".into(), timeout.to_string()));
    if !a.pseudo {
        if let Some(p) = prim {
            let params = match node {
                Some(n) => crate::conditional::params_on(l.cib, p, n, l.now),
                None => std::borrow::Cow::Borrowed(&p.params),
            };
            attrs.extend(params.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
    }
    write_attributes(&attrs, out);
}

fn write_attributes(attrs: &[(String, String)], out: &mut String) {
    out.push_str("        <attributes");
    for (k, v) in attrs {
        put(out, format_args!(r#" {}="{}""#, esc(k), esc(v)));
    }
    out.push_str("/>\n");
}

/// The transition as Pacemaker transition-graph XML, with rules in attribute sets
/// evaluated at the CIB's `execution-date` (else at the epoch): use
/// [`graph_xml_at`] with the time the transition was scheduled at.
pub fn graph_xml(cib: &Cib, t: &Transition) -> String {
    graph_xml_at(cib, t, cib.execution_date.unwrap_or(0))
}

/// The transition as Pacemaker transition-graph XML; `now` is the time it was
/// scheduled at (rules in attribute sets: parameters per node, timeouts).
pub fn graph_xml_at(cib: &Cib, t: &Transition, now: i64) -> String {
    let cib = &*crate::conditional::resolve(cib, now);
    let cib = &*crate::bundle::expand(cib);
    let cib = &*crate::guest::expand(cib);
    let mut l = Lookup::new(cib);
    l.now = now;
    l.history = t
        .placements
        .iter()
        .filter_map(|p| Some((p.resource.as_str(), p.history_name.as_deref()?)))
        .collect();
    let mut inputs: Vec<Vec<usize>> = vec![Vec::new(); t.actions.len()];
    for e in &t.edges {
        if in_graph(&t.actions[e.before]) && in_graph(&t.actions[e.after]) {
            inputs[e.after].push(e.before);
        }
    }
    let opts = cib.config.options().unwrap_or_default();
    let mut xml = String::new();
    let out = &mut xml;
    putln(
        out,
        format_args!(
            r#"<transition_graph cluster-delay="60s" fencing-timeout="{}ms" failed-stop-offset="INFINITY" failed-start-offset="INFINITY" transition_id="0">"#,
            opts.stonith_timeout_ms
        ),
    );
    for (synapse, a) in t.actions.iter().filter(|a| in_graph(a)).enumerate() {
        putln(
            out,
            format_args!("  <synapse id=\"{synapse}\">\n    <action_set>"),
        );
        out.push_str("      ");
        open_tag(&l, a, out);
        out.push_str(">\n");
        action_body(&l, a, out);
        putln(
            out,
            format_args!("      </{}>\n    </action_set>", element_name(a)),
        );
        if inputs[a.id].is_empty() {
            out.push_str("    <inputs/>\n");
        } else {
            out.push_str("    <inputs>\n");
            for &i in &inputs[a.id] {
                out.push_str("      <trigger>\n        ");
                open_tag(&l, &t.actions[i], out);
                out.push_str("/>\n      </trigger>\n");
            }
            out.push_str("    </inputs>\n");
        }
        out.push_str("  </synapse>\n");
    }
    let shutdowns = t
        .nodes
        .iter()
        .filter(|n| n.shutdown && n.online && !n.unclean);
    for (k, n) in shutdowns.enumerate() {
        let stops: Vec<&Action> = t
            .actions
            .iter()
            .filter(|a| in_graph(a) && a.kind == ActionKind::Stop && !a.pseudo)
            .filter(|a| a.node.as_deref() == Some(n.name.as_str()))
            .collect();
        write_shutdown(&l, t.actions.len() + k, &n.name, &stops, out);
    }
    out.push_str("</transition_graph>\n");
    xml
}

/// A node that is shutting down gets Pacemaker's `do_shutdown` event once every
/// resource on it has stopped (the controller leaves after the transition).
fn write_shutdown(l: &Lookup<'_>, id: usize, node: &str, stops: &[&Action], out: &mut String) {
    let uuid = l.uuid(node);
    putln(
        out,
        format_args!(
            r#"  <synapse id="{id}">
    <action_set>
      <crm_event id="{id}" operation="do_shutdown" operation_key="do_shutdown-{n}" on_node="{n}" on_node_uuid="{u}">
        <attributes CRM_meta_on_node="{n}" CRM_meta_on_node_uuid="{u}" CRM_meta_op_no_wait="true"/>
        <downed>
          <node id="{u}"/>
        </downed>
      </crm_event>
    </action_set>"#,
            n = esc(node),
            u = esc(uuid)
        ),
    );
    if stops.is_empty() {
        out.push_str("    <inputs/>\n");
    } else {
        out.push_str("    <inputs>\n");
        for a in stops {
            out.push_str("      <trigger>\n        ");
            open_tag(l, a, out);
            out.push_str("/>\n      </trigger>\n");
        }
        out.push_str("    </inputs>\n");
    }
    out.push_str("  </synapse>\n");
}
