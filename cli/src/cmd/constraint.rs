//! `hactl constraint`: location, colocation and order constraints in pcs's words.
//!
//! ```text
//! constraint location RSC prefers NODE[=SCORE]...     constraint location RSC avoids NODE[=SCORE]...
//! constraint location add ID RSC NODE SCORE [resource-discovery=always|never|exclusive]
//! constraint location remove ID
//! constraint location RSC rule [id=ID] [role=R] [score=S|score-attribute=A]
//!     [resource-discovery=always|never|exclusive] EXPR
//! constraint ref RSC...
//! constraint colocation add RSC with RSC2 [SCORE]     constraint colocation remove ID | RSC RSC2
//! constraint order [start|stop] A then [start|stop] B [kind=Optional] [symmetrical=false]
//! constraint order remove ID | RSC                    constraint list | remove ID...
//! ```

use anyhow::{anyhow, bail, Result};
use hactl_model::change::{Change, Constraint};
use hactl_model::{
    BoolOp, Cib, Constraints, ExprOp, Expression, LocationConstraint, Rule, Score, ValueType,
};
use std::process::ExitCode;

use crate::cmd::resource_config::simple;
use crate::verbs::args::{colocation_sentence, location_sentence, order_sentence, parse_score};
use crate::verbs::{ChangeFlags, OutputFormat, Plan, ReadFlags, Session};

#[derive(clap::Subcommand, Debug)]
pub enum ConstraintCommand {
    /// RSC prefers|avoids NODE[=SCORE]... | RSC rule [score=S] EXPR | add ID RSC NODE SCORE | remove ID | list
    Location {
        /// RSC prefers|avoids NODE[=SCORE]..., add ID RSC NODE SCORE, remove ID, or list.
        #[arg(required = true, allow_negative_numbers = true)]
        words: Vec<String>,
        #[command(flatten)]
        flags: ChangeFlags,
    },
    /// add RSC with RSC2 [SCORE] [id=ID] | remove ID | remove RSC RSC2 | list
    Colocation {
        /// add RSC with RSC2 [SCORE] [id=ID], remove ID, remove RSC RSC2, or list.
        #[arg(required = true, allow_negative_numbers = true)]
        words: Vec<String>,
        #[command(flatten)]
        flags: ChangeFlags,
    },
    /// [start|stop] A then [start|stop] B [kind=..] [symmetrical=..] [id=..] | remove ID|RSC | list
    Order {
        /// [start|stop] A then [start|stop] B [kind=..] [symmetrical=..] [id=..], remove ID|RSC, or list.
        #[arg(required = true, allow_negative_numbers = true)]
        words: Vec<String>,
        #[command(flatten)]
        flags: ChangeFlags,
    },
    /// All constraints.
    #[command(alias = "show", alias = "config")]
    List {
        #[command(flatten)]
        flags: ChangeFlags,
    },
    /// The ids of every constraint that names RSC (pcs constraint ref).
    Ref {
        /// The resources to look up.
        #[arg(required = true)]
        resources: Vec<String>,
        #[command(flatten)]
        flags: ReadFlags,
    },
    /// Remove constraints by id.
    #[command(alias = "delete")]
    Remove {
        /// Ids of the constraints to remove (as `constraint list` shows them).
        #[arg(required = true)]
        ids: Vec<String>,
        #[command(flatten)]
        flags: ChangeFlags,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    Location,
    Colocation,
    Order,
}

pub fn run(c: ConstraintCommand) -> Result<ExitCode> {
    let (kind, words, flags) = match c {
        ConstraintCommand::Location { words, flags } => (Kind::Location, words, flags),
        ConstraintCommand::Colocation { words, flags } => (Kind::Colocation, words, flags),
        ConstraintCommand::Order { words, flags } => (Kind::Order, words, flags),
        ConstraintCommand::List { flags } => {
            list(&flags, None)?;
            return Ok(ExitCode::SUCCESS);
        }
        ConstraintCommand::Ref { resources, flags } => {
            let cib = Session::open(flags.socket.as_deref(), flags.cib.as_deref())?.cib()?;
            out!("{}", references(&cib, &resources, flags.output)?);
            return Ok(ExitCode::SUCCESS);
        }
        ConstraintCommand::Remove { ids, flags } => {
            simple(&flags, |cib| remove_ids(cib, &ids))?;
            return Ok(ExitCode::SUCCESS);
        }
    };
    if matches!(words.first().map(String::as_str), Some("list" | "show")) {
        list(&flags, Some(kind))?;
    } else {
        simple(&flags, |cib| plan(cib, kind, &words))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The verb → `Change` translation for `constraint location|colocation|order ...`.
pub fn plan(cib: &Cib, kind: Kind, words: &[String]) -> Result<Plan> {
    let first = words.first().map(String::as_str).unwrap_or("");
    let rest = words.get(1..).unwrap_or(&[]);
    match (kind, first) {
        (_, "remove" | "delete") => remove(cib, kind, rest),
        (Kind::Location, "add") => {
            let usage = "usage: constraint location add ID RSC NODE SCORE \
                         [resource-discovery=always|never|exclusive]";
            let (discovery, rest) = match rest {
                [head @ .., last] if last.starts_with("resource-discovery=") => {
                    (Some(discovery_mode(last)?), head)
                }
                _ => (None, rest),
            };
            let [id, rsc, node, score] = rest else {
                bail!(usage);
            };
            known_node(cib, node)?;
            let c = LocationConstraint {
                id: id.clone(),
                rsc: rsc.clone(),
                node: Some(node.clone()),
                score: Some(parse_score(score)?),
                resource_discovery: discovery,
                ..Default::default()
            };
            Ok(add(format!("add location constraint {id}"), vec![], c))
        }
        (Kind::Location, _) if words.get(1).map(String::as_str) == Some("rule") => {
            let c = rule_constraint(cib, first, words.get(2..).unwrap_or(&[]))?;
            Ok(add(format!("add location constraint {}", c.id), vec![], c))
        }
        (Kind::Location, _) => {
            let cs = location_sentence(words)?;
            for c in &cs {
                known_node(cib, c.node.as_deref().unwrap_or(""))?;
            }
            let mut changes = Vec::new();
            let mut replaced = Vec::new();
            for c in &cs {
                // pcs replaces an existing plain preference for the same node.
                for old in cib.config.constraints.location.iter().filter(|o| {
                    o.rsc == c.rsc
                        && o.node == c.node
                        && o.rules.is_empty()
                        && o.role.is_none()
                        && !o.id.starts_with("cli-")
                }) {
                    changes.push(Change::RemoveConstraint { id: old.id.clone() });
                    replaced.push(old.id.clone());
                }
                changes.push(Change::AddConstraint {
                    constraint: Constraint::Location(c.clone()),
                });
            }
            let mut what = format!(
                "add location constraint {}",
                cs.iter()
                    .map(|c| c.id.as_str())
                    .collect::<Vec<_>>()
                    .join(" ")
            );
            if !replaced.is_empty() {
                what.push_str(&format!(" (replacing {})", replaced.join(" ")));
            }
            Ok(Plan::new(what, changes))
        }
        (Kind::Colocation, "add") => {
            let c = colocation_sentence(rest)?;
            Ok(Plan::new(
                format!("add colocation constraint {}", c.id),
                vec![Change::AddConstraint {
                    constraint: Constraint::Colocation(c),
                }],
            ))
        }
        (Kind::Colocation, _) => {
            bail!("usage: constraint colocation add RSC with RSC2 [SCORE] | remove ID | list")
        }
        (Kind::Order, _) => {
            let w = if first == "add" { rest } else { words };
            let c = order_sentence(w)?;
            Ok(Plan::new(
                format!("add order constraint {}", c.id),
                vec![Change::AddConstraint {
                    constraint: Constraint::Order(c),
                }],
            ))
        }
    }
}

/// pcs refuses constraints on nodes that do not exist (a typo would silently do
/// nothing).
/// `constraint location RSC rule [id=ID] [role=ROLE] [score=S|score-attribute=A]
/// EXPR`, EXPR being `defined|not_defined ATTR` or `ATTR lt|gt|lte|gte|eq|ne
/// [string|integer|number|version] VALUE`, joined by `and` or by `or` (one rule:
/// mixing them would need nested rules). The score defaults to INFINITY, as in pcs.
fn rule_constraint(cib: &Cib, rsc: &str, words: &[String]) -> Result<LocationConstraint> {
    let usage =
        "usage: constraint location RSC rule [id=ID] [role=ROLE] [score=S|score-attribute=A] \
                 [resource-discovery=MODE] \
                 defined|not_defined ATTR | ATTR lt|gt|lte|gte|eq|ne [TYPE] VALUE [and|or ...]";
    let mut rule = Rule::default();
    let mut id = None;
    let mut discovery = None;
    let mut rest = words;
    while let Some((w, more)) = rest.split_first() {
        match w.split_once('=') {
            Some(("id" | "constraint-id", v)) => id = Some(v.to_string()),
            Some(("role", v)) => rule.role = Some(v.parse().map_err(|e| anyhow!("role: {e}"))?),
            Some(("score", v)) => rule.score = Some(parse_score(v)?),
            Some(("score-attribute", v)) => rule.score_attribute = Some(v.to_string()),
            Some(("resource-discovery", _)) => discovery = Some(discovery_mode(w)?),
            _ => break,
        }
        rest = more;
    }
    if rule.score.is_none() && rule.score_attribute.is_none() {
        rule.score = Some(Score::INFINITY);
    }
    let id = id.unwrap_or_else(|| free_id(cib, &format!("location-{rsc}")));
    rule.id = format!("{id}-rule");
    loop {
        let (e, more) = rule_expression(rest).map_err(|e| e.context(usage))?;
        let n = rule.expressions.len();
        let suffix = if n == 0 {
            String::new()
        } else {
            format!("-{n}")
        };
        rule.expressions.push(Expression {
            id: format!("{}-expr{suffix}", rule.id),
            ..e
        });
        let Some((op, more)) = more.split_first() else {
            break;
        };
        let op: BoolOp = op
            .parse()
            .map_err(|_| anyhow!("{op:?}: expected and, or\n{usage}"))?;
        if rule.boolean_op.is_some_and(|b| b != op) {
            bail!("a rule joins its expressions with either and or or, not both");
        }
        rule.boolean_op = Some(op);
        rest = more;
    }
    Ok(LocationConstraint {
        id,
        rsc: rsc.to_string(),
        rules: vec![rule],
        resource_discovery: discovery,
        ..Default::default()
    })
}

/// The mode of a `resource-discovery=MODE` word: when the resource is probed on
/// the constraint's nodes (always), not (never), or only there (exclusive).
fn discovery_mode(word: &str) -> Result<String> {
    let mode = word.strip_prefix("resource-discovery=").unwrap_or(word);
    match mode {
        "always" | "never" | "exclusive" => Ok(mode.to_string()),
        _ => bail!("resource-discovery={mode}: expected always, never or exclusive"),
    }
}

/// One expression at the start of `w`, and the words after it.
fn rule_expression(w: &[String]) -> Result<(Expression, &[String])> {
    let word = |i: usize| w.get(i).map(String::as_str);
    if let (Some(op @ ("defined" | "not_defined")), Some(attr)) = (word(0), word(1)) {
        let e = Expression {
            attribute: attr.to_string(),
            operation: Some(op.parse()?),
            ..Default::default()
        };
        return Ok((e, &w[2..]));
    }
    let (Some(attr), Some(op)) = (word(0), word(1)) else {
        bail!("incomplete rule expression {w:?}");
    };
    let operation: ExprOp = op.parse().map_err(|e| anyhow!("{e}"))?;
    let (value_type, at) = match word(2).map(str::parse::<ValueType>) {
        Some(Ok(t)) if word(3).is_some() => (Some(t), 3),
        _ => (None, 2),
    };
    let value = word(at).ok_or_else(|| anyhow!("{attr} {op}: no value"))?;
    let e = Expression {
        attribute: attr.to_string(),
        operation: Some(operation),
        value: Some(value.to_string()),
        value_type,
        ..Default::default()
    };
    Ok((e, &w[at + 1..]))
}

/// `base`, or `base-N` with the first N that no constraint uses.
fn free_id(cib: &Cib, base: &str) -> String {
    let c = &cib.config.constraints;
    let used = |id: &str| {
        c.location.iter().any(|x| x.id == id)
            || c.colocation.iter().any(|x| x.id == id)
            || c.order.iter().any(|x| x.id == id)
    };
    (0..)
        .map(|n| {
            if n == 0 {
                base.to_string()
            } else {
                format!("{base}-{n}")
            }
        })
        .find(|id| !used(id))
        .unwrap_or_else(|| base.to_string())
}

fn known_node(cib: &Cib, node: &str) -> Result<()> {
    if cib.config.node(node).is_none() {
        bail!(
            "no node {node:?} (nodes: {})",
            cib.config
                .nodes
                .iter()
                .map(|n| n.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Ok(())
}

fn add(what: String, mut changes: Vec<Change>, c: LocationConstraint) -> Plan {
    changes.push(Change::AddConstraint {
        constraint: Constraint::Location(c),
    });
    Plan::new(what, changes)
}

fn ids_of(c: &Constraints, kind: Kind) -> Vec<&str> {
    match kind {
        Kind::Location => c.location.iter().map(|x| x.id.as_str()).collect(),
        Kind::Colocation => c.colocation.iter().map(|x| x.id.as_str()).collect(),
        Kind::Order => c.order.iter().map(|x| x.id.as_str()).collect(),
    }
}

/// `remove ID...`, or by resources: `colocation remove A B`, `order remove RSC`.
fn remove(cib: &Cib, kind: Kind, rest: &[String]) -> Result<Plan> {
    let c = &cib.config.constraints;
    if rest.is_empty() {
        bail!("name the constraint id(s) to remove (see `hactl constraint list`)");
    }
    let known = ids_of(c, kind);
    let ids: Vec<String> = if rest.iter().all(|r| known.contains(&r.as_str())) {
        rest.to_vec()
    } else {
        match (kind, rest) {
            (Kind::Colocation, [a, b]) => c
                .colocation
                .iter()
                .filter(|x| (&x.rsc == a && &x.with_rsc == b) || (&x.rsc == b && &x.with_rsc == a))
                .map(|x| x.id.clone())
                .collect(),
            (Kind::Order, [r]) => c
                .order
                .iter()
                .filter(|x| &x.first == r || &x.then == r)
                .map(|x| x.id.clone())
                .collect(),
            _ => vec![],
        }
    };
    if ids.is_empty() {
        let unknown = rest
            .iter()
            .find(|r| !known.contains(&r.as_str()))
            .cloned()
            .unwrap_or_default();
        bail!("no {kind:?} constraint {unknown:?} (see `hactl constraint list`)");
    }
    Ok(Plan::new(
        format!("remove constraint {}", ids.join(" ")),
        ids.into_iter()
            .map(|id| Change::RemoveConstraint { id })
            .collect(),
    ))
}

fn remove_ids(cib: &Cib, ids: &[String]) -> Result<Plan> {
    let c = &cib.config.constraints;
    for id in ids {
        let found = [Kind::Location, Kind::Colocation, Kind::Order]
            .iter()
            .any(|k| ids_of(c, *k).contains(&id.as_str()));
        if !found {
            return Err(anyhow!(
                "no constraint {id:?} (see `hactl constraint list`)"
            ));
        }
    }
    Ok(Plan::new(
        format!("remove constraint {}", ids.join(" ")),
        ids.iter()
            .map(|id| Change::RemoveConstraint { id: id.clone() })
            .collect(),
    ))
}

fn list(flags: &ChangeFlags, only: Option<Kind>) -> Result<()> {
    let mut s = Session::open(flags.socket.as_deref(), flags.cib.as_deref())?;
    let cib = s.cib()?;
    let c = &cib.config.constraints;
    if flags.output == OutputFormat::Json {
        let v = match only {
            None => serde_json::to_value(c)?,
            Some(Kind::Location) => serde_json::to_value(&c.location)?,
            Some(Kind::Colocation) => serde_json::to_value(&c.colocation)?,
            Some(Kind::Order) => serde_json::to_value(&c.order)?,
        };
        outln!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    out!("{}", format_constraints(c, only));
    Ok(())
}

/// `constraint ref`: per resource, the ids of the constraints that name it, as pcs
/// prints them (JSON: resource → ids). An unknown resource is an error.
fn references(cib: &Cib, resources: &[String], output: OutputFormat) -> Result<String> {
    let mut found = serde_json::Map::new();
    let mut text = String::new();
    for r in resources {
        if cib.config.find_resource(r).is_none() && cib.config.find_primitive(r).is_none() {
            bail!("no resource {r:?}");
        }
        let ids = cib.config.constraints.ids_naming(r);
        text.push_str(&format!("Resource: {r}\n"));
        if ids.is_empty() {
            text.push_str("  No Matches\n");
        }
        for id in &ids {
            text.push_str(&format!("  {id}\n"));
        }
        found.insert(r.clone(), serde_json::to_value(ids)?);
    }
    match output {
        OutputFormat::Json => Ok(serde_json::to_string_pretty(&found)? + "\n"),
        OutputFormat::Text => Ok(text),
    }
}

/// The text listing (also used by `hactl status` for move/ban constraints).
pub fn format_constraints(c: &Constraints, only: Option<Kind>) -> String {
    let mut out = String::new();
    let show = |k: Kind| only.is_none() || only == Some(k);
    if show(Kind::Location) {
        out.push_str("Location Constraints:\n");
        for l in &c.location {
            out.push_str(&format!("  {}\n", hactl_view::text::describe_location(l)));
        }
    }
    if show(Kind::Colocation) {
        out.push_str("Colocation Constraints:\n");
        for x in &c.colocation {
            let role =
                |r: &Option<hactl_model::Role>| r.map(|r| format!("{r} ")).unwrap_or_default();
            out.push_str(&format!(
                "  {}{} with {}{} (score: {}) (id: {})\n",
                role(&x.rsc_role),
                x.rsc,
                role(&x.with_rsc_role),
                x.with_rsc,
                x.score,
                x.id
            ));
        }
    }
    if show(Kind::Order) {
        out.push_str("Ordering Constraints:\n");
        let mut sets_shown = std::collections::BTreeSet::new();
        for o in &c.order {
            let sym = match o.symmetrical {
                Some(false) => " symmetrical=false",
                _ => "",
            };
            let line = match o.one_or_more.as_deref() {
                None => format!(
                    "  {} {} then {} {} (kind: {}{sym}) (id: {})\n",
                    o.first_action, o.first, o.then_action, o.then, o.kind, o.id
                ),
                Some(set) if sets_shown.insert(set) => one_or_more_line(&c.order, o, set, sym),
                Some(_) => continue,
            };
            out.push_str(&line);
        }
    }
    out
}

/// The orderings of one `require-all=false` set (one per pair, sharing `set`) as the
/// one set they came from: what follows waits for any one member, not for each.
fn one_or_more_line(
    orders: &[hactl_model::OrderConstraint],
    first: &hactl_model::OrderConstraint,
    set: &str,
    sym: &str,
) -> String {
    let pairs: Vec<_> = orders
        .iter()
        .filter(|o| o.one_or_more.as_deref() == Some(set))
        .collect();
    let mut firsts: Vec<&str> = Vec::new();
    let mut thens: Vec<&str> = Vec::new();
    for o in &pairs {
        if !firsts.contains(&o.first.as_str()) {
            firsts.push(&o.first);
        }
        if !thens.contains(&o.then.as_str()) {
            thens.push(&o.then);
        }
    }
    let then = match thens.as_slice() {
        [one] => one.to_string(),
        many => format!("set ({})", many.join(" ")),
    };
    let ids: Vec<&str> = pairs.iter().map(|o| o.id.as_str()).collect();
    format!(
        "  {} set ({}) require-all=false then {} {then} (kind: {}{sym}) (id: {set}; orderings: {})\n",
        first.first_action,
        firsts.join(" "),
        first.then_action,
        first.kind,
        ids.join(" ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use hactl_model::{AgentSpec, Node, Primitive, Resource, Score};

    fn cib() -> Cib {
        let mut cib = Cib::default();
        for n in ["n1", "n2"] {
            cib.config.nodes.push(Node {
                id: n.into(),
                name: n.into(),
                ..Default::default()
            });
        }
        for r in ["a", "b"] {
            cib.config.resources.push(Resource::Primitive(Primitive {
                id: r.into(),
                agent: AgentSpec::parse("ocf:heartbeat:Dummy").unwrap(),
                ..Default::default()
            }));
        }
        cib
    }

    fn w(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    fn run_plan(cib: &mut Cib, kind: Kind, s: &str) -> Result<()> {
        let p = plan(cib, kind, &w(s))?;
        p.change().apply(cib).map_err(|e| anyhow!("{e}"))
    }

    #[test]
    fn location_prefers_replaces_and_removes() {
        let mut c = cib();
        run_plan(&mut c, Kind::Location, "a prefers n1=100").unwrap();
        run_plan(&mut c, Kind::Location, "a prefers n1=200").unwrap();
        assert_eq!(
            c.config.constraints.location.len(),
            1,
            "replaced, not added"
        );
        assert_eq!(
            c.config.constraints.location[0].score,
            Some(Score::new(200))
        );
        run_plan(&mut c, Kind::Location, "add mine b n2 -50").unwrap();
        assert_eq!(c.config.constraints.location.len(), 2);
        run_plan(&mut c, Kind::Location, "remove mine").unwrap();
        assert_eq!(c.config.constraints.location.len(), 1);
        let e = run_plan(&mut c, Kind::Location, "remove nope").unwrap_err();
        assert!(e.to_string().contains("nope"), "{e}");
        // Unknown resource: refused by the model's validation.
        let e = run_plan(&mut c, Kind::Location, "zz prefers n1").unwrap_err();
        assert!(e.to_string().contains("zz"), "{e}");
    }

    #[test]
    fn location_takes_a_resource_discovery_mode() {
        let mut c = cib();
        run_plan(
            &mut c,
            Kind::Location,
            "add only-n1 a n1 0 resource-discovery=exclusive",
        )
        .unwrap();
        run_plan(
            &mut c,
            Kind::Location,
            "b rule id=b-ssd resource-discovery=never defined ssd",
        )
        .unwrap();
        let modes: Vec<Option<&str>> = c
            .config
            .constraints
            .location
            .iter()
            .map(|l| l.resource_discovery.as_deref())
            .collect();
        assert_eq!(modes, [Some("exclusive"), Some("never")]);
        let e = run_plan(
            &mut c,
            Kind::Location,
            "add x a n2 0 resource-discovery=sometimes",
        )
        .unwrap_err();
        assert!(e.to_string().contains("sometimes"), "{e}");
    }

    #[test]
    fn colocation_and_order_add_remove() {
        let mut c = cib();
        run_plan(&mut c, Kind::Colocation, "add b with a").unwrap();
        run_plan(&mut c, Kind::Order, "a then b").unwrap();
        let text = format_constraints(&c.config.constraints, None);
        assert!(text.contains("b with a (score: INFINITY)"), "{text}");
        assert!(
            text.contains("start a then start b (kind: Mandatory)"),
            "{text}"
        );
        run_plan(&mut c, Kind::Colocation, "remove a b").unwrap();
        run_plan(&mut c, Kind::Order, "remove b").unwrap();
        assert!(c.config.constraints.colocation.is_empty());
        assert!(c.config.constraints.order.is_empty());
        assert!(run_plan(&mut c, Kind::Colocation, "a with b").is_err());
        let e = run_plan(&mut c, Kind::Colocation, "add a with ghost").unwrap_err();
        assert!(e.to_string().contains("ghost"), "{e}");
    }

    /// An imported resource set with `require-all=false` is kept as one ordering per
    /// pair; listed as pairs it read as "b before d and c before d", the opposite of
    /// what it does (d waits for either).
    #[test]
    fn a_one_or_more_set_is_listed_as_a_set_not_as_pairs() {
        let mut c = Constraints::default();
        for (n, first) in ["c", "b"].into_iter().enumerate() {
            c.order.push(hactl_model::OrderConstraint {
                id: format!("o-set.{}", n + 1),
                first: first.into(),
                then: "d".into(),
                one_or_more: Some("o-set".into()),
                ..Default::default()
            });
        }
        c.order.push(hactl_model::OrderConstraint {
            id: "o-plain".into(),
            first: "a".into(),
            then: "b".into(),
            ..Default::default()
        });
        let text = format_constraints(&c, Some(Kind::Order));
        assert_eq!(
            text,
            "Ordering Constraints:\n\
             \x20 start set (c b) require-all=false then start d (kind: Mandatory) \
             (id: o-set; orderings: o-set.1 o-set.2)\n\
             \x20 start a then start b (kind: Mandatory) (id: o-plain)\n"
        );
    }
}
