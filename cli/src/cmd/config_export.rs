//! `hactl config export --format commands`: the `hactl` commands that recreate a
//! configuration on an empty cluster (with the same node names), one per line,
//! shell-quoted, in an order that works: properties and defaults, node settings,
//! resources and fence devices (in the configuration's order, groups built member by
//! member), constraints, fencing levels.
//!
//! Every change is written with `--no-wait` (a script of many resources should not
//! wait for each to start) and resources with `--force` (no agent check: the cluster
//! accepted them already, and the check would add the agent's default monitor to a
//! resource that has none). What the command grammar cannot say is listed in
//! [`Script::notes`] and printed as `# NOTE` lines: the commands then recreate
//! everything else.

use hactl_model::values::format_interval_ms;
use hactl_model::{
    ColocationConstraint, Configuration, Expression, FencingLevel, LocationConstraint, OpSpec,
    OrderConstraint, Primitive, Resource, Rule, KNOWN_PROPERTIES,
};

/// The commands and what they cannot recreate.
#[derive(Debug, Default)]
pub struct Script {
    pub commands: Vec<String>,
    pub notes: Vec<String>,
}

impl Script {
    fn push(&mut self, words: Vec<String>) {
        let quoted: Vec<String> = words.iter().map(|w| sh_quote(w)).collect();
        self.commands.push(format!("hactl {}", quoted.join(" ")));
    }

    /// The script as text: a header, the notes, the commands.
    pub fn text(&self, epoch: u64) -> String {
        let mut out = format!(
            "#!/bin/sh\n# hactl configuration at epoch {epoch}: run on an empty cluster with the same nodes.\nset -e\n"
        );
        for n in &self.notes {
            out.push_str(&format!("# NOTE: {n}\n"));
        }
        for c in &self.commands {
            out.push_str(c);
            out.push('\n');
        }
        out
    }
}

/// `w` as one shell word: as is when it holds only characters the shell leaves
/// alone, else in single quotes (a `'` inside written `'\''`).
pub fn sh_quote(w: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "@%+=:,./_-".contains(c);
    if !w.is_empty() && w.chars().all(plain) {
        w.to_string()
    } else {
        format!("'{}'", w.replace('\'', "'\\''"))
    }
}

fn words(ws: &[&str]) -> Vec<String> {
    ws.iter().map(|w| w.to_string()).collect()
}

fn kv(k: &str, v: &str) -> String {
    format!("{k}={v}")
}

/// The commands that recreate `cfg`.
pub fn commands(cfg: &Configuration) -> Script {
    let mut s = Script::default();
    for (k, v) in &cfg.properties {
        let mut w = words(&["property", "set", "--no-wait"]);
        if !KNOWN_PROPERTIES.contains(&k.as_str()) {
            w.push("--force".into());
        }
        w.push(kv(k, v));
        s.push(w);
    }
    for (verb, attrs) in [
        (&["resource", "defaults"][..], &cfg.rsc_defaults),
        (&["resource", "op", "defaults"][..], &cfg.op_defaults),
    ] {
        if !attrs.is_empty() {
            let mut w = words(verb);
            w.push("--no-wait".into());
            w.extend(attrs.iter().map(|(k, v)| kv(k, v)));
            s.push(w);
        }
    }
    nodes(cfg, &mut s);
    for r in &cfg.resources {
        resource(r, &mut s);
    }
    let k = &cfg.constraints;
    k.location.iter().for_each(|c| location(c, &mut s));
    k.colocation.iter().for_each(|c| colocation(c, &mut s));
    k.order.iter().for_each(|c| order(c, &mut s));
    cfg.fencing_levels.iter().for_each(|l| level(l, &mut s));
    s
}

fn nodes(cfg: &Configuration, s: &mut Script) {
    for n in &cfg.nodes {
        if !n.attributes.is_empty() {
            let mut w = words(&["node", "attribute", "--no-wait", &n.name]);
            w.extend(n.attributes.iter().map(|(k, v)| kv(k, v)));
            s.push(w);
        }
        if n.standby {
            s.push(words(&["node", "standby", "--no-wait", &n.name]));
        }
        if n.maintenance {
            s.push(words(&["node", "maintenance", "--no-wait", &n.name]));
        }
    }
}

fn resource(r: &Resource, s: &mut Script) {
    match r {
        Resource::Primitive(p) => primitive(p, None, s),
        Resource::Group(g) => {
            for p in &g.children {
                primitive(p, Some(&g.id), s);
            }
            if !g.meta.is_empty() {
                let mut w = words(&["resource", "meta", "--no-wait", &g.id]);
                w.extend(g.meta.iter().map(|(k, v)| kv(k, v)));
                s.push(w);
            }
        }
        Resource::Clone(c) => {
            resource(&c.child, s);
            let mut w = words(&["resource", "clone", "--no-wait", c.child.id(), &c.id]);
            if !c.meta.is_empty() {
                w.push("meta".into());
                w.extend(c.meta.iter().map(|(k, v)| kv(k, v)));
            }
            s.push(w);
        }
    }
}

fn primitive(p: &Primitive, group: Option<&str>, s: &mut Script) {
    let stonith = p.agent.class == "stonith";
    let mut w = if stonith {
        words(&[
            "stonith",
            "create",
            "--force",
            "--no-wait",
            &p.id,
            &p.agent.kind,
        ])
    } else {
        let agent = p.agent.to_string();
        words(&["resource", "create", "--force", "--no-wait", &p.id, &agent])
    };
    if let Some(g) = group {
        w.push("--group".into());
        w.push(g.into());
    }
    w.extend(p.params.iter().map(|(k, v)| kv(k, v)));
    for op in &p.ops {
        w.extend(op_words(op));
    }
    if !p.meta.is_empty() {
        w.push("meta".into());
        w.extend(p.meta.iter().map(|(k, v)| kv(k, v)));
    }
    s.push(w);
}

/// `op NAME id=… interval=… …`: every field [`crate::verbs::args::build_op`] reads.
fn op_words(op: &OpSpec) -> Vec<String> {
    let mut w = vec!["op".to_string(), op.name.clone(), kv("id", &op.id)];
    w.push(kv("interval", &format_interval_ms(op.interval_ms)));
    if let Some(t) = op.timeout_ms {
        w.push(kv("timeout", &format_interval_ms(t)));
    }
    if let Some(f) = op.on_fail {
        w.push(kv("on-fail", f.as_str()));
    }
    if let Some(r) = op.role {
        w.push(kv("role", r.as_str()));
    }
    if let Some(e) = op.enabled {
        w.push(kv("enabled", if e { "true" } else { "false" }));
    }
    w.extend(op.extra.iter().map(|(k, v)| kv(k, v)));
    w
}

fn location(c: &LocationConstraint, s: &mut Script) {
    let mut lost = Vec::new();
    if c.expires.is_some() {
        lost.push("its expiry");
    }
    match (&c.node, c.rules.as_slice()) {
        (Some(node), []) => {
            if c.role.is_some() {
                lost.push("its role");
            }
            let score = c.score.unwrap_or_default().to_string();
            let mut w = words(&[
                "constraint",
                "location",
                "--no-wait",
                // A negative score would read as an option.
                "--",
                "add",
                &c.id,
                &c.rsc,
                node,
                &score,
            ]);
            if let Some(d) = &c.resource_discovery {
                w.push(kv("resource-discovery", d));
            }
            s.push(w);
        }
        (None, [rule]) if c.role.is_none() => match rule_words(c, rule) {
            Some(w) => s.push(w),
            None => {
                s.notes.push(format!(
                    "location constraint {}: its rule cannot be written as one `constraint location ... rule` (ids or nesting differ); recreate it by hand",
                    c.id
                ));
                return;
            }
        },
        _ => {
            s.notes.push(format!(
                "location constraint {}: several rules or a constraint-level role cannot be written as a command; recreate it by hand",
                c.id
            ));
            return;
        }
    }
    if !lost.is_empty() {
        s.notes.push(format!(
            "location constraint {}: {} not recreated",
            c.id,
            lost.join(", ")
        ));
    }
}

/// `constraint location RSC rule id=… …`, when the rule's ids are the ones that
/// command gives (`ID-rule`, `ID-rule-expr`, `ID-rule-expr-1`, …).
fn rule_words(c: &LocationConstraint, rule: &Rule) -> Option<Vec<String>> {
    let rule_id = format!("{}-rule", c.id);
    let ids_match = rule.id == rule_id
        && rule.expressions.iter().enumerate().all(|(n, e)| {
            let suffix = if n == 0 {
                String::new()
            } else {
                format!("-{n}")
            };
            e.id == format!("{rule_id}-expr{suffix}")
        });
    if !ids_match || rule.expressions.is_empty() {
        return None;
    }
    let mut w = words(&["constraint", "location", "--no-wait", &c.rsc, "rule"]);
    w.push(kv("id", &c.id));
    if let Some(d) = &c.resource_discovery {
        w.push(kv("resource-discovery", d));
    }
    if let Some(r) = rule.role {
        w.push(kv("role", r.as_str()));
    }
    match (&rule.score_attribute, rule.score) {
        (Some(a), _) => w.push(kv("score-attribute", a)),
        (None, Some(sc)) => w.push(kv("score", &sc.to_string())),
        (None, None) => {}
    }
    let join = rule.boolean_op.map(|b| b.as_str().to_string());
    for (n, e) in rule.expressions.iter().enumerate() {
        if n > 0 {
            w.push(join.clone().unwrap_or_else(|| "and".into()));
        }
        w.extend(expression_words(e)?);
    }
    Some(w)
}

fn expression_words(e: &Expression) -> Option<Vec<String>> {
    let op = e.operation?.as_str().to_string();
    match op.as_str() {
        "defined" | "not_defined" => Some(vec![op, e.attribute.clone()]),
        _ => {
            let mut w = vec![e.attribute.clone(), op];
            if let Some(t) = e.value_type {
                w.push(t.as_str().to_string());
            }
            w.push(e.value.clone()?);
            Some(w)
        }
    }
}

fn colocation(c: &ColocationConstraint, s: &mut Script) {
    let mut w = words(&["constraint", "colocation", "--no-wait", "add"]);
    if let Some(r) = c.rsc_role {
        w.push(r.as_str().to_string());
    }
    w.extend([c.rsc.clone(), "with".into()]);
    if let Some(r) = c.with_rsc_role {
        w.push(r.as_str().to_string());
    }
    w.push(c.with_rsc.clone());
    w.push(kv("score", &c.score.to_string()));
    w.push(kv("id", &c.id));
    s.push(w);
    if c.influence.is_some() {
        s.notes.push(format!(
            "colocation constraint {}: influence not recreated",
            c.id
        ));
    }
}

fn order(c: &OrderConstraint, s: &mut Script) {
    let mut w = words(&["constraint", "order", "--no-wait"]);
    w.extend([
        c.first_action.as_str().to_string(),
        c.first.clone(),
        "then".into(),
        c.then_action.as_str().to_string(),
        c.then.clone(),
        kv("kind", c.kind.as_str()),
        kv("id", &c.id),
    ]);
    if let Some(b) = c.symmetrical {
        w.push(kv("symmetrical", if b { "true" } else { "false" }));
    }
    s.push(w);
}

fn level(l: &FencingLevel, s: &mut Script) {
    let index = l.index.to_string();
    let devices = l.devices.join(",");
    s.push(words(&[
        "stonith",
        "level",
        "add",
        "--no-wait",
        &index,
        &l.target,
        &devices,
    ]));
    if l.id != format!("fl-{}-{}", l.target, l.index) {
        s.notes.push(format!(
            "fencing level {}: recreated with the id fl-{}-{}",
            l.id, l.target, l.index
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_quoted_only_when_the_shell_would_change_them() {
        assert_eq!(sh_quote("ip=10.0.0.1"), "ip=10.0.0.1");
        assert_eq!(sh_quote("a b"), "'a b'");
        assert_eq!(sh_quote(""), "''");
        assert_eq!(sh_quote("it's"), "'it'\\''s'");
        assert_eq!(
            sh_quote("pcmk_host_map=n1:d1;n2:d2"),
            "'pcmk_host_map=n1:d1;n2:d2'"
        );
        assert_eq!(sh_quote("$HOME"), "'$HOME'");
    }
}
