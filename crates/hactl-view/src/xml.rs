//! crm_mon's `--output-as=xml` document (Pacemaker's API schema `api-result.rng`,
//! crm_mon 2.25), so tools that parse crm_mon's XML read hactl's unchanged. Written
//! with quick-xml, which escapes every attribute value.

use std::io::Cursor;

use hactl_policy::{pending_state, Placement};
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, Event};
use quick_xml::Writer;

use crate::report::history_ops;
use crate::time::format_time;
use crate::{View, ViewError};

/// The crm_mon API version whose shape this follows.
pub const API_VERSION: &str = "2.25";

type W = Writer<Cursor<Vec<u8>>>;
type Attrs<'a> = &'a [(&'a str, String)];

fn start(w: &mut W, name: &str, attrs: Attrs<'_>) -> Result<(), ViewError> {
    let mut e = BytesStart::new(name);
    for (k, v) in attrs {
        e.push_attribute((*k, v.as_str()));
    }
    w.write_event(Event::Start(e)).map_err(enc)
}

fn end(w: &mut W, name: &str) -> Result<(), ViewError> {
    w.write_event(Event::End(BytesEnd::new(name))).map_err(enc)
}

fn empty(w: &mut W, name: &str, attrs: Attrs<'_>) -> Result<(), ViewError> {
    let mut e = BytesStart::new(name);
    for (k, v) in attrs {
        e.push_attribute((*k, v.as_str()));
    }
    w.write_event(Event::Empty(e)).map_err(enc)
}

fn enc(e: impl std::fmt::Display) -> ViewError {
    ViewError::Encode(e.to_string())
}

fn b(v: bool) -> String {
    v.to_string()
}

/// The whole document.
pub fn render(v: &View) -> Result<String, ViewError> {
    let mut w = Writer::new_with_indent(Cursor::new(Vec::new()), b' ', 2);
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))
        .map_err(enc)?;
    let root = [
        ("api-version", API_VERSION.to_string()),
        ("request", "hactl status --output xml".to_string()),
    ];
    start(&mut w, "pacemaker-result", &root)?;
    summary(&mut w, v)?;
    nodes(&mut w, v)?;
    resources(&mut w, v)?;
    node_attributes(&mut w, v)?;
    node_history(&mut w, v)?;
    failures(&mut w, v)?;
    fence_history(&mut w, v)?;
    empty(
        &mut w,
        "status",
        &[("code", "0".into()), ("message", "OK".into())],
    )?;
    end(&mut w, "pacemaker-result")?;
    let mut out = String::from_utf8(w.into_inner().into_inner()).map_err(enc)?;
    out.push('\n');
    Ok(out)
}

fn node_id(v: &View, name: &str) -> String {
    v.cib
        .config
        .nodes
        .iter()
        .find(|n| n.name == name)
        .map(|n| n.id.clone())
        .unwrap_or_else(|| name.to_string())
}

fn summary(w: &mut W, v: &View) -> Result<(), ViewError> {
    let r = &v.report;
    start(w, "summary", &[])?;
    empty(w, "stack", &[("type", "hactl".into())])?;
    let dc = match &r.dc {
        Some(dc) => vec![
            ("present", b(true)),
            ("version", env!("CARGO_PKG_VERSION").to_string()),
            ("name", dc.clone()),
            ("id", node_id(v, dc)),
            ("with_quorum", b(r.have_quorum)),
        ],
        None => vec![("present", b(false))],
    };
    empty(w, "current_dc", &dc)?;
    let t = &v.transition;
    empty(
        w,
        "nodes_configured",
        &[("number", v.cib.config.nodes.len().to_string())],
    )?;
    let count = |f: fn(&Placement) -> bool| t.placements.iter().filter(|p| f(p)).count();
    empty(
        w,
        "resources_configured",
        &[
            ("number", t.placements.len().to_string()),
            ("disabled", count(|p| p.disabled).to_string()),
            ("blocked", count(|p| p.blocked).to_string()),
        ],
    )?;
    if let Ok(o) = v.cib.config.options() {
        let props = &v.cib.config.properties;
        let on = |k: &str| props.get(k).is_some_and(|x| x == "true");
        empty(
            w,
            "cluster_options",
            &[
                ("stonith-enabled", b(o.stonith_enabled)),
                ("symmetric-cluster", b(o.symmetric_cluster)),
                ("no-quorum-policy", o.no_quorum_policy.to_string()),
                ("maintenance-mode", b(on("maintenance-mode"))),
                ("stop-all-resources", b(on("stop-all-resources"))),
                ("stonith-timeout-ms", o.stonith_timeout_ms.to_string()),
                ("priority-fencing-delay-ms", "0".into()),
            ],
        )?;
    }
    end(w, "summary")
}

fn nodes(w: &mut W, v: &View) -> Result<(), ViewError> {
    let t = &v.transition;
    start(w, "nodes", &[])?;
    for n in &t.nodes {
        let st = v.cib.status.nodes.get(&n.name);
        let running = t
            .placements
            .iter()
            .filter(|p| p.current.contains(&n.name))
            .count();
        empty(
            w,
            "node",
            &[
                ("name", n.name.clone()),
                ("id", node_id(v, &n.name)),
                ("online", b(n.online)),
                ("standby", b(n.standby)),
                ("standby_onfail", b(false)),
                ("maintenance", b(n.maintenance)),
                ("pending", b(n.pending)),
                ("unclean", b(n.unclean)),
                ("shutdown", b(n.shutdown)),
                (
                    "expected_up",
                    b(st.is_some_and(|s| s.expected.as_deref() == Some("member"))),
                ),
                ("is_dc", b(v.report.dc.as_deref() == Some(n.name.as_str()))),
                ("resources_running", running.to_string()),
                ("type", "member".into()),
            ],
        )?;
    }
    end(w, "nodes")
}

/// A primitive, or an instance of a clone (named as `View::shown_id` says); an
/// instance of a promotable clone has its role.
fn resource(w: &mut W, v: &View, p: &Placement) -> Result<(), ViewError> {
    resource_named(w, v, p, v.shown_id(p))
}

/// [`resource`] under the id crm_mon gives it.
fn resource_named(w: &mut W, v: &View, p: &Placement, id: &str) -> Result<(), ViewError> {
    let role = match (p.current.is_empty(), p.promotable, p.promoted) {
        (true, _, _) => "Stopped",
        (false, true, true) => "Promoted",
        (false, true, false) => "Unpromoted",
        (false, false, _) => "Started",
    };
    // An operation in flight shows as crm_mon shows it: a start as the role
    // `Starting`, a recurring monitor as `pending="Monitoring"`.
    let pending = p.pending_task.as_deref();
    let role = match pending.and_then(pending_state) {
        Some(state) if !p.failed => state,
        _ => role,
    };
    let mut attrs = vec![
        ("id", id.to_string()),
        ("resource_agent", p.agent.clone()),
        ("role", role.to_string()),
    ];
    if p.disabled {
        attrs.push(("target_role", "Stopped".into()));
    }
    attrs.extend([
        ("active", b(!p.current.is_empty())),
        ("orphaned", b(p.orphan)),
        ("blocked", b(p.blocked)),
        ("managed", b(!p.unmanaged)),
        ("failed", b(p.failed)),
        ("failure_ignored", b(p.failure_ignored)),
        ("nodes_running_on", p.current.len().to_string()),
    ]);
    if pending == Some("monitor") {
        attrs.push(("pending", "Monitoring".into()));
    }
    if p.current.is_empty() {
        return empty(w, "resource", &attrs);
    }
    start(w, "resource", &attrs)?;
    for n in &p.current {
        let node = [
            ("name", n.clone()),
            ("id", node_id(v, n)),
            ("cached", b(true)),
        ];
        empty(w, "node", &node)?;
    }
    end(w, "resource")
}

/// The placements from `ps[0]` on that share `key` with it.
fn run_of<K: PartialEq>(ps: &[Placement], key: impl Fn(&Placement) -> K) -> &[Placement] {
    let k = key(&ps[0]);
    let n = ps.iter().take_while(|p| key(p) == k).count();
    &ps[..n]
}

/// Primitives in configuration order, a group's members inside its `<group>`, a
/// clone's instances inside its `<clone>` (its orphans too, wherever the
/// scheduler lists them).
fn resources(w: &mut W, v: &View) -> Result<(), ViewError> {
    let ps = &v.transition.placements;
    start(w, "resources", &[])?;
    let mut written: Vec<&str> = Vec::new();
    let mut i = 0;
    while i < ps.len() {
        if let Some(b) = bundle_of(v, &ps[i]) {
            if !written.contains(&b.id.as_str()) {
                written.push(&b.id);
                bundle(w, v, b)?;
            }
            i += 1;
            continue;
        }
        let Some(c) = ps[i].clone.as_deref() else {
            i += members(w, v, &ps[i..])?;
            continue;
        };
        if !written.contains(&c) {
            written.push(c);
            clone(w, v, c, &instances_of(ps, c))?;
        }
        i += 1;
    }
    end(w, "resources")
}

/// The bundle a placement belongs to: a replica's container, address,
/// connection, or an instance of the bundled primitive.
fn bundle_of<'v>(v: &'v View, p: &Placement) -> Option<&'v hactl_model::bundle::Bundle> {
    v.cib.config.bundles.iter().find(|b| {
        let clone = p.clone.as_deref();
        clone == Some(b.id.as_str())
            || clone == Some(b.clone_id().as_str())
            || replica_ids(b).iter().flatten().any(|id| *id == p.resource)
    })
}

/// Per replica, the ids crm_mon lists in its `<replica>`, in its order: the
/// address, the bundled primitive's instance, the container, the connection.
fn replica_ids(b: &hactl_model::bundle::Bundle) -> Vec<[String; 4]> {
    let addresses = b.replica_addresses();
    (0..b.replica_count())
        .map(|i| {
            let ip = match addresses.get(i as usize).cloned().flatten() {
                Some(a) => b.address_id(&a),
                None => String::new(),
            };
            let child = b.instance_id(i).unwrap_or_default();
            [ip, child, b.container_id(i), b.replica_node(i)]
        })
        .collect()
}

/// crm_mon's `<bundle>`: one `<replica>` per replica with its resources, the
/// bundled primitive's instance under the primitive's id.
fn bundle(w: &mut W, v: &View, bd: &hactl_model::bundle::Bundle) -> Result<(), ViewError> {
    let find = |id: &str| v.transition.placements.iter().find(|p| p.resource == id);
    let replicas = replica_ids(bd);
    let all: Vec<&Placement> = replicas
        .iter()
        .flatten()
        .filter_map(|id| find(id))
        .collect();
    let attrs = [
        ("id", bd.id.clone()),
        ("type", bd.kind.name().to_string()),
        ("image", bd.image.clone()),
        ("unique", b(false)),
        ("managed", b(all.iter().all(|p| !p.unmanaged))),
        ("failed", b(false)),
    ];
    start(w, "bundle", &attrs)?;
    for (i, ids) in replicas.iter().enumerate() {
        start(w, "replica", &[("id", i.to_string())])?;
        for (k, id) in ids.iter().enumerate() {
            let Some(p) = find(id) else { continue };
            // The bundled primitive's instance goes by the primitive's id.
            let shown = match (k, &bd.primitive) {
                (1, Some(prim)) => prim.id.as_str(),
                _ => id.as_str(),
            };
            resource_named(w, v, p, shown)?;
        }
        end(w, "replica")?;
    }
    end(w, "bundle")
}

/// A clone's placements, a cloned group's members next to each other.
fn instances_of(ps: &[Placement], clone: &str) -> Vec<Placement> {
    let mine: Vec<&Placement> = ps
        .iter()
        .filter(|p| p.clone.as_deref() == Some(clone))
        .collect();
    // A group member moves up to its group's first placement; the sort is
    // stable, so everything else keeps the scheduler's order.
    let first_of_its_group = |at: usize| {
        mine.iter()
            .position(|q| q.group.is_some() && q.group == mine[at].group)
            .unwrap_or(at)
    };
    let mut order: Vec<usize> = (0..mine.len()).collect();
    order.sort_by_cached_key(|&at| first_of_its_group(at));
    order.into_iter().map(|at| mine[at].clone()).collect()
}

/// One primitive, or one group with its members (they follow each other in the
/// placements); returns how many placements it wrote.
fn members(w: &mut W, v: &View, ps: &[Placement]) -> Result<usize, ViewError> {
    let Some(g) = ps[0].group.clone() else {
        resource(w, v, &ps[0])?;
        return Ok(1);
    };
    let members = run_of(ps, |p| p.group.clone());
    let attrs = [
        ("id", g),
        ("number_resources", members.len().to_string()),
        ("managed", b(members.iter().all(|p| !p.unmanaged))),
        ("disabled", b(members.iter().all(|p| p.disabled))),
    ];
    start(w, "group", &attrs)?;
    for p in members {
        resource(w, v, p)?;
    }
    end(w, "group")?;
    Ok(members.len())
}

/// crm_mon's `<clone>`: the set's flags, then every instance, stopped ones too.
fn clone(w: &mut W, v: &View, id: &str, instances: &[Placement]) -> Result<(), ViewError> {
    let def = instances.first().and_then(|p| v.clone_set(p));
    let unique = def.is_some_and(|c| c.globally_unique());
    let disabled = def
        .and_then(|c| c.meta.get("target-role"))
        .is_some_and(|r| r.eq_ignore_ascii_case("stopped"));
    let mut attrs = vec![
        ("id", id.to_string()),
        ("multi_state", b(def.is_some_and(|c| c.promotable()))),
        ("unique", b(unique)),
        ("managed", b(instances.iter().all(|p| !p.unmanaged))),
        ("disabled", b(disabled)),
        // The set's own failure flag, which a failed instance does not raise
        // (crm_mon shows failed="false" on a clone with a FAILED instance).
        ("failed", b(false)),
        (
            "failure_ignored",
            b(instances.iter().any(|p| p.failure_ignored)),
        ),
    ];
    // crm_mon writes the configured value as it is (`started`, `Stopped`).
    if let Some(r) = def.and_then(|c| c.meta.get("target-role")) {
        attrs.push(("target_role", r.clone()));
    }
    start(w, "clone", &attrs)?;
    let mut i = 0;
    while i < instances.len() {
        i += members(w, v, &instances[i..])?;
    }
    end(w, "clone")
}

fn node_attributes(w: &mut W, v: &View) -> Result<(), ViewError> {
    let any = v.cib.config.nodes.iter().any(|n| {
        !n.attributes.is_empty()
            || v.cib
                .status
                .nodes
                .get(&n.name)
                .is_some_and(|s| !s.attributes.is_empty())
    });
    if !any {
        return Ok(());
    }
    start(w, "node_attributes", &[])?;
    for n in &v.cib.config.nodes {
        let all = v.node_attributes(&n.name);
        if all.is_empty() {
            continue;
        }
        start(w, "node", &[("name", n.name.clone())])?;
        for (k, val) in all {
            empty(
                w,
                "attribute",
                &[("name", k.clone()), ("value", val.clone())],
            )?;
        }
        end(w, "node")?;
    }
    end(w, "node_attributes")
}

fn node_history(w: &mut W, v: &View) -> Result<(), ViewError> {
    start(w, "node_history", &[])?;
    for (node, st) in &v.cib.status.nodes {
        let shown: Vec<_> = st
            .resources
            .iter()
            .map(|(r, h)| (r, history_ops(h)))
            .filter(|(_, ops)| !ops.is_empty())
            .collect();
        if shown.is_empty() {
            continue;
        }
        start(w, "node", &[("name", node.clone())])?;
        for (rsc, ops) in shown {
            let orphan = v.cib.config.find_primitive(rsc).is_none();
            start(
                w,
                "resource_history",
                &[("id", rsc.clone()), ("orphan", b(orphan))],
            )?;
            for op in ops {
                let mut a = vec![
                    ("call", op.call_id.to_string()),
                    ("task", op.operation.clone()),
                ];
                if op.interval_ms > 0 {
                    a.push(("interval", format!("{}ms", op.interval_ms)));
                }
                if let Some(t) = op.last_rc_change {
                    a.push(("last-rc-change", format_time(t)));
                }
                if let Some(ms) = op.exec_time_ms {
                    a.push(("exec-time", format!("{ms}ms")));
                }
                if let Some(ms) = op.queue_time_ms {
                    a.push(("queue-time", format!("{ms}ms")));
                }
                a.push(("rc", op.rc.to_string()));
                a.push(("rc_text", hactl_model::rc::name(op.rc).to_string()));
                empty(w, "operation_history", &a)?;
            }
            end(w, "resource_history")?;
        }
        end(w, "node")?;
    }
    end(w, "node_history")
}

fn failures(w: &mut W, v: &View) -> Result<(), ViewError> {
    if v.report.failed_actions.is_empty() {
        return Ok(());
    }
    start(w, "failures", &[])?;
    for f in &v.report.failed_actions {
        let mut a = vec![
            (
                "op_key",
                format!("{}_{}_{}", f.resource, f.operation, f.interval_ms),
            ),
            ("node", f.node.clone()),
            ("exitstatus", f.rc_text.clone()),
            ("exitreason", f.exit_reason.clone().unwrap_or_default()),
            ("exitcode", f.rc.max(0).to_string()),
            ("call", f.call_id.to_string()),
            (
                "status",
                crate::text::op_status_text(f.op_status).to_string(),
            ),
        ];
        if let Some(t) = f.last_rc_change {
            a.extend([
                ("last-rc-change", format!("{}Z", format_time(t))),
                ("queued", f.queue_time_ms.unwrap_or(0).to_string()),
                ("exec", f.exec_time_ms.unwrap_or(0).to_string()),
                ("interval", f.interval_ms.to_string()),
                ("task", f.operation.clone()),
            ]);
        }
        empty(w, "failure", &a)?;
    }
    end(w, "failures")
}

fn fence_history(w: &mut W, v: &View) -> Result<(), ViewError> {
    if v.cib.status.fencing_history.is_empty() {
        return Ok(());
    }
    start(w, "fence_history", &[])?;
    for e in v.cib.status.fencing_history.iter().rev() {
        let mut a = vec![(
            "status",
            if e.ok { "success" } else { "failed" }.to_string(),
        )];
        if let Some(r) = e.reason.as_ref().filter(|_| !e.ok) {
            a.push(("exit-reason", r.clone()));
        }
        a.extend([
            ("delegate", e.executor.clone()),
            ("action", e.action.clone()),
            ("target", e.target.clone()),
            ("client", e.origin.clone().unwrap_or_default()),
            ("origin", e.executor.clone()),
            ("completed", format!("{}Z", format_time(e.at))),
        ]);
        empty(w, "fence_event", &a)?;
    }
    end(w, "fence_history")
}
