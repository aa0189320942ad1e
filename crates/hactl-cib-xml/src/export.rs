//! [`Cib`] → Pacemaker CIB XML, so that the real Pacemaker scheduler (`crm_simulate`)
//! can read the same input as ours (comparison runs, the benchmark generator).
//!
//! The output uses the spellings Pacemaker 2.1 understands (schema `pacemaker-3.0`);
//! properties are written under the names they carry in the model.

use std::collections::HashMap;
use std::fmt::Write;

use hactl_model::conditional::SetOwner;
use hactl_model::values::{format_interval_ms, parse_bool};
use hactl_model::{Attrs, Cib, Configuration, OpSpec, Primitive, Resource};

use crate::export_rules;
use crate::import::{NODE_SCORE_ATTR, NO_QUORUM_PANIC_PROPERTY};

/// Op settings that Pacemaker reads as attributes of `<op>`; every other entry of
/// [`OpSpec::extra`] is written as an op instance attribute (`OCF_CHECK_LEVEL`, …).
/// Operation attributes written on `<op>` itself; the rest are its instance
/// attributes.
const OP_XML_ATTRS: &[&str] = hactl_model::digest::OP_META_ATTRS;

pub(crate) fn esc(s: &str) -> std::borrow::Cow<'_, str> {
    quick_xml::escape::escape(s)
}

/// Writes ` name="value"` with escaping.
pub(crate) fn attr(out: &mut String, name: &str, value: &str) {
    let _ = write!(out, " {name}=\"{}\"", esc(value));
}

pub(crate) fn nvset(out: &mut String, indent: &str, tag: &str, id: &str, attrs: &Attrs) {
    if attrs.is_empty() {
        return;
    }
    let _ = writeln!(out, "{indent}<{tag} id=\"{}\">", esc(id));
    for (k, v) in attrs {
        let _ = write!(out, "{indent}  <nvpair");
        attr(out, "id", &format!("{id}-{k}"));
        attr(out, "name", k);
        attr(out, "value", v);
        out.push_str("/>\n");
    }
    let _ = writeln!(out, "{indent}</{tag}>");
}

/// Whether `name` is a Pacemaker Remote node (listed as one, or named by its
/// connection resource).
fn is_remote_node(c: &hactl_model::Configuration, name: &str) -> bool {
    c.remote_nodes.iter().any(|n| n.name == name)
        || c.resources.iter().any(|r| {
            matches!(r, hactl_model::Resource::Primitive(p)
                if p.id == name && hactl_model::remote::is_remote_connection(p))
        })
}

/// Serializes the CIB as Pacemaker XML.
pub fn export(cib: &Cib) -> String {
    let mut out = String::with_capacity(1 << 16);
    let c = &cib.config;
    let node_id: HashMap<&str, &str> = c
        .nodes
        .iter()
        .chain(&c.remote_nodes)
        .map(|n| (n.name.as_str(), n.id.as_str()))
        .collect();
    out.push_str("<cib crm_feature_set=\"3.0.14\" validate-with=\"pacemaker-3.0\"");
    let _ = write!(
        out,
        " epoch=\"{}\" num_updates=\"0\" admin_epoch=\"0\" have-quorum=\"{}\"",
        cib.epoch,
        if cib.status.have_quorum { 1 } else { 0 }
    );
    if let Some(dc) = &cib.status.dc {
        attr(
            &mut out,
            "dc-uuid",
            node_id.get(dc.as_str()).copied().unwrap_or(dc),
        );
    }
    if let Some(d) = cib.execution_date {
        let _ = write!(out, " execution-date=\"{d}\"");
    }
    if let Some(v) = c.properties.get(NO_QUORUM_PANIC_PROPERTY) {
        attr(&mut out, "no-quorum-panic", v);
    }
    out.push_str(">\n  <configuration>\n    <crm_config>\n");
    // Pacemaker reads cib-bootstrap-options first whatever the scores, so values a
    // conditional set may override go in a set of their own after those.
    let cond = export_rules::sets_of(c, &SetOwner::Properties);
    let overridable = |k: &str| cond.iter().any(|s| s.values.contains_key(k));
    let (props, fallback): (Attrs, Attrs) = c
        .properties
        .iter()
        .filter(|(k, _)| k.as_str() != NO_QUORUM_PANIC_PROPERTY)
        .map(|(k, v)| (k.clone(), v.clone()))
        .partition(|(k, _)| !overridable(k));
    nvset(
        &mut out,
        "      ",
        "cluster_property_set",
        "cib-bootstrap-options",
        &props,
    );
    export_rules::write_sets(&mut out, "      ", "cluster_property_set", &cond);
    let id = "cib-bootstrap-options-overridable";
    nvset(&mut out, "      ", "cluster_property_set", id, &fallback);
    out.push_str("    </crm_config>\n    <nodes>\n");
    let members = c.nodes.iter().map(|n| (n, "member"));
    for (n, kind) in members.chain(c.remote_nodes.iter().map(|n| (n, "remote"))) {
        out.push_str("      <node");
        attr(&mut out, "id", &n.id);
        attr(&mut out, "uname", &n.name);
        attr(&mut out, "type", kind);
        if let Some(s) = n.attributes.get(NODE_SCORE_ATTR) {
            attr(&mut out, "score", s);
        }
        let mut a: Attrs = n
            .attributes
            .iter()
            .filter(|(k, _)| k.as_str() != NODE_SCORE_ATTR)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        // The bools are the truth; keep the operator's spelling when it agrees.
        for (key, on) in [("standby", n.standby), ("maintenance", n.maintenance)] {
            let agrees = a.get(key).and_then(|v| parse_bool(v)) == Some(on);
            if on && !agrees {
                a.insert(key.into(), "on".into());
            }
        }
        let cond = export_rules::sets_of(
            c,
            &SetOwner::Node {
                name: n.name.clone(),
            },
        );
        if a.is_empty() && n.utilization.is_empty() && cond.is_empty() {
            out.push_str("/>\n");
        } else {
            out.push_str(">\n");
            export_rules::write_sets(&mut out, "        ", "instance_attributes", &cond);
            nvset(
                &mut out,
                "        ",
                "instance_attributes",
                &format!("nodes-{}", n.id),
                &a,
            );
            let id = format!("nodes-{}-utilization", n.id);
            nvset(&mut out, "        ", "utilization", &id, &n.utilization);
            out.push_str("      </node>\n");
        }
    }
    out.push_str("    </nodes>\n");
    for (tag, attrs, owner) in [
        ("rsc_defaults", &c.rsc_defaults, SetOwner::RscDefaults),
        ("op_defaults", &c.op_defaults, SetOwner::OpDefaults),
    ] {
        let cond = export_rules::sets_of(c, &owner);
        if !attrs.is_empty() || !cond.is_empty() {
            let _ = writeln!(out, "    <{tag}>");
            export_rules::write_sets(&mut out, "      ", "meta_attributes", &cond);
            nvset(
                &mut out,
                "      ",
                "meta_attributes",
                &format!("{tag}-options"),
                attrs,
            );
            let _ = writeln!(out, "    </{tag}>");
        }
    }
    out.push_str("    <resources>\n");
    for r in &c.resources {
        resource(&mut out, "      ", r, c);
    }
    out.push_str("    </resources>\n    <constraints>\n");
    for l in &c.constraints.location {
        out.push_str("      <rsc_location");
        attr(&mut out, "id", &l.id);
        attr(&mut out, "rsc", &l.rsc);
        if let Some(n) = &l.node {
            attr(&mut out, "node", n);
        }
        if let Some(s) = l.score {
            attr(&mut out, "score", &s.to_string());
        }
        if let Some(r) = l.role {
            attr(&mut out, "role", r.as_str());
        }
        if let Some(d) = &l.resource_discovery {
            attr(&mut out, "resource-discovery", d);
        }
        if l.rules.is_empty() {
            out.push_str("/>\n");
        } else {
            out.push_str(">\n");
            for r in &l.rules {
                export_rules::rule(&mut out, "        ", r);
            }
            out.push_str("      </rsc_location>\n");
        }
    }
    for k in &c.constraints.colocation {
        out.push_str("      <rsc_colocation");
        attr(&mut out, "id", &k.id);
        attr(&mut out, "rsc", &k.rsc);
        attr(&mut out, "with-rsc", &k.with_rsc);
        attr(&mut out, "score", &k.score.to_string());
        if let Some(r) = k.rsc_role {
            attr(&mut out, "rsc-role", r.as_str());
        }
        if let Some(r) = k.with_rsc_role {
            attr(&mut out, "with-rsc-role", r.as_str());
        }
        if let Some(i) = k.influence {
            attr(&mut out, "influence", if i { "true" } else { "false" });
        }
        out.push_str("/>\n");
    }
    let mut groups_written: Vec<&str> = Vec::new();
    for o in &c.constraints.order {
        if let Some(name) = o.one_or_more.as_deref() {
            // The whole group where its first ordering was.
            if !groups_written.contains(&name) {
                groups_written.push(name);
                crate::sets::export_one_or_more(&mut out, &c.constraints.order, name);
            }
            continue;
        }
        out.push_str("      <rsc_order");
        attr(&mut out, "id", &o.id);
        attr(&mut out, "first", &o.first);
        attr(&mut out, "first-action", o.first_action.as_str());
        attr(&mut out, "then", &o.then);
        attr(&mut out, "then-action", o.then_action.as_str());
        attr(&mut out, "kind", o.kind.as_str());
        if let Some(s) = o.symmetrical {
            attr(&mut out, "symmetrical", if s { "true" } else { "false" });
        }
        if let Some(r) = o.require_all {
            attr(&mut out, "require-all", if r { "true" } else { "false" });
        }
        out.push_str("/>\n");
    }
    crate::tickets::export_constraints(&mut out, &c.constraints.tickets);
    out.push_str("    </constraints>\n");
    if !c.fencing_levels.is_empty() {
        out.push_str("    <fencing-topology>\n");
        for l in &c.fencing_levels {
            out.push_str("      <fencing-level");
            attr(&mut out, "id", &l.id);
            attr(&mut out, "target", &l.target);
            let _ = write!(out, " index=\"{}\"", l.index);
            attr(&mut out, "devices", &l.devices.join(","));
            out.push_str("/>\n");
        }
        out.push_str("    </fencing-topology>\n");
    }
    crate::alerts::export_alerts(&mut out, &c.alerts);
    out.push_str("  </configuration>\n  <status>\n");
    for (name, st) in cib.status.nodes_in_history_order() {
        out.push_str("    <node_state");
        attr(
            &mut out,
            "id",
            node_id.get(name.as_str()).copied().unwrap_or(name),
        );
        attr(&mut out, "uname", name);
        if is_remote_node(c, name) {
            attr(&mut out, "remote_node", "true");
        }
        if let Some(m) = st.member {
            attr(&mut out, "in_ccm", if m { "true" } else { "false" });
        }
        if let Some(m) = st.controller_online {
            attr(&mut out, "crmd", if m { "online" } else { "offline" });
        }
        if let Some(j) = &st.join {
            attr(&mut out, "join", j);
        }
        if let Some(e) = &st.expected {
            attr(&mut out, "expected", e);
        }
        out.push_str(">\n");
        let mut transient = st.attributes.clone();
        if let Some(t) = st.shutdown {
            transient.insert("shutdown".into(), t.to_string());
        }
        for f in &st.failcounts {
            let key = match (&f.op, f.interval_ms) {
                (Some(op), Some(i)) => format!("{}#{op}_{i}", f.rsc),
                _ => f.rsc.clone(),
            };
            transient.insert(format!("fail-count-{key}"), f.count.to_string());
            if let Some(t) = f.last_failure {
                transient.insert(format!("last-failure-{key}"), t.to_string());
            }
        }
        if !transient.is_empty() {
            let id = node_id.get(name.as_str()).copied().unwrap_or(name);
            let _ = writeln!(out, "      <transient_attributes id=\"{}\">", esc(id));
            nvset(
                &mut out,
                "        ",
                "instance_attributes",
                &format!("status-{id}"),
                &transient,
            );
            out.push_str("      </transient_attributes>\n");
        }
        if !st.resources.is_empty() {
            let id = node_id.get(name.as_str()).copied().unwrap_or(name);
            let _ = writeln!(
                out,
                "      <lrm id=\"{}\">\n        <lrm_resources>",
                esc(id)
            );
            for (rsc, h) in st.histories_in_recorded_order() {
                out.push_str("          <lrm_resource");
                attr(&mut out, "id", rsc);
                attr(&mut out, "class", &h.agent.class);
                if let Some(p) = &h.agent.provider {
                    attr(&mut out, "provider", p);
                }
                attr(&mut out, "type", &h.agent.kind);
                if let Some(t) = h.shutdown_lock {
                    attr(&mut out, "shutdown-lock", &t.to_string());
                }
                out.push_str(">\n");
                let mut seen: HashMap<String, ()> = HashMap::new();
                for op in &h.ops {
                    let mut op_id = format!("{rsc}_{}_{}", op.operation, op.interval_ms);
                    if seen.insert(op_id.clone(), ()).is_some() {
                        op_id = format!("{op_id}_call{}", op.call_id);
                    }
                    let rc_expected = op.expected_rc.unwrap_or(0);
                    let key = format!("0:0:{rc_expected}:00000000-0000-0000-0000-000000000000");
                    out.push_str("            <lrm_rsc_op");
                    attr(&mut out, "id", &op_id);
                    attr(
                        &mut out,
                        "operation_key",
                        &format!("{rsc}_{}_{}", op.operation, op.interval_ms),
                    );
                    attr(&mut out, "operation", &op.operation);
                    out.push_str(" crm-debug-origin=\"hactl\" crm_feature_set=\"3.0.14\"");
                    if op.expected_rc.is_some() {
                        attr(&mut out, "transition-key", &key);
                        attr(
                            &mut out,
                            "transition-magic",
                            &format!("{}:{};{key}", op.op_status, op.rc),
                        );
                    }
                    let _ = write!(
                        out,
                        " call-id=\"{}\" rc-code=\"{}\" op-status=\"{}\" interval=\"{}\"",
                        op.call_id, op.rc, op.op_status, op.interval_ms
                    );
                    for (n, v) in [
                        ("last-rc-change", op.last_rc_change),
                        ("last-run", op.last_run),
                    ] {
                        if let Some(v) = v {
                            let _ = write!(out, " {n}=\"{v}\"");
                        }
                    }
                    for (n, v) in [
                        ("exec-time", op.exec_time_ms),
                        ("queue-time", op.queue_time_ms),
                    ] {
                        if let Some(v) = v {
                            let _ = write!(out, " {n}=\"{v}\"");
                        }
                    }
                    if let Some(r) = &op.exit_reason {
                        attr(&mut out, "exit-reason", r);
                    }
                    for (n, v) in [
                        ("op-digest", &op.op_digest),
                        ("op-force-restart", &op.op_force_restart),
                        ("op-restart-digest", &op.op_restart_digest),
                        ("op-secure-params", &op.op_secure_params),
                        ("op-secure-digest", &op.op_secure_digest),
                    ] {
                        if let Some(v) = v {
                            attr(&mut out, n, v);
                        }
                    }
                    if let Some(m) = &op.migration {
                        attr(&mut out, "migrate_source", &m.source);
                        attr(&mut out, "migrate_target", &m.target);
                    }
                    attr(&mut out, "on_node", name);
                    out.push_str("/>\n");
                }
                out.push_str("          </lrm_resource>\n");
            }
            out.push_str("        </lrm_resources>\n      </lrm>\n");
        }
        out.push_str("    </node_state>\n");
    }
    crate::tickets::export_states(&mut out, &cib.status.tickets);
    out.push_str("  </status>\n</cib>\n");
    out
}

/// One resource element: a primitive, a group, or a clone of either.
fn resource(out: &mut String, indent: &str, r: &Resource, c: &Configuration) {
    let (tag, id, meta) = match r {
        Resource::Primitive(p) => return primitive(out, indent, p, c),
        Resource::Group(g) => ("group", &g.id, &g.meta),
        Resource::Clone(cl) => ("clone", &cl.id, &cl.meta),
    };
    let inner = format!("{indent}  ");
    let _ = write!(out, "{indent}<{tag}");
    attr(out, "id", id);
    out.push_str(">\n");
    nvset(
        out,
        &inner,
        "meta_attributes",
        &format!("{id}-meta_attributes"),
        meta,
    );
    match r {
        Resource::Group(g) => {
            for p in &g.children {
                primitive(out, &inner, p, c);
            }
        }
        Resource::Clone(cl) => resource(out, &inner, &cl.child, c),
        Resource::Primitive(_) => {}
    }
    let _ = writeln!(out, "{indent}</{tag}>");
}

fn primitive(out: &mut String, indent: &str, p: &Primitive, c: &Configuration) {
    let _ = write!(out, "{indent}<primitive");
    attr(out, "id", &p.id);
    attr(out, "class", &p.agent.class);
    if let Some(pr) = &p.agent.provider {
        attr(out, "provider", pr);
    }
    attr(out, "type", &p.agent.kind);
    let cond = export_rules::sets_of(c, &SetOwner::Params { rsc: p.id.clone() });
    if p.params.is_empty()
        && p.meta.is_empty()
        && p.ops.is_empty()
        && p.utilization.is_empty()
        && cond.is_empty()
    {
        out.push_str("/>\n");
        return;
    }
    out.push_str(">\n");
    let inner = format!("{indent}  ");
    export_rules::write_sets(out, &inner, "instance_attributes", &cond);
    nvset(
        out,
        &inner,
        "instance_attributes",
        &format!("{}-instance_attributes", p.id),
        &p.params,
    );
    nvset(
        out,
        &inner,
        "meta_attributes",
        &format!("{}-meta_attributes", p.id),
        &p.meta,
    );
    let id = format!("{}-utilization", p.id);
    nvset(out, &inner, "utilization", &id, &p.utilization);
    if !p.ops.is_empty() {
        let _ = writeln!(out, "{inner}<operations>");
        for (i, o) in p.ops.iter().enumerate() {
            op(out, &format!("{inner}  "), p, i, o);
        }
        let _ = writeln!(out, "{inner}</operations>");
    }
    let _ = writeln!(out, "{indent}</primitive>");
}

fn op(out: &mut String, indent: &str, p: &Primitive, i: usize, o: &OpSpec) {
    let id = if o.id.is_empty() {
        format!("{}-{}-{}-{i}", p.id, o.name, o.interval_ms)
    } else {
        o.id.clone()
    };
    let _ = write!(out, "{indent}<op");
    attr(out, "id", &id);
    attr(out, "name", &o.name);
    attr(out, "interval", &format_interval_ms(o.interval_ms));
    if let Some(t) = o.timeout_ms {
        attr(out, "timeout", &format_interval_ms(t));
    }
    if let Some(f) = o.on_fail {
        attr(out, "on-fail", f.as_str());
    }
    if let Some(r) = o.role {
        attr(out, "role", r.as_str());
    }
    if let Some(e) = o.enabled {
        attr(out, "enabled", if e { "true" } else { "false" });
    }
    let mut params = Attrs::new();
    for (k, v) in &o.extra {
        if OP_XML_ATTRS.contains(&k.as_str()) {
            attr(out, k, v);
        } else {
            params.insert(k.clone(), v.clone());
        }
    }
    if params.is_empty() {
        out.push_str("/>\n");
    } else {
        out.push_str(">\n");
        nvset(
            out,
            &format!("{indent}  "),
            "instance_attributes",
            &format!("{id}-instance_attributes"),
            &params,
        );
        let _ = writeln!(out, "{indent}</op>");
    }
}
