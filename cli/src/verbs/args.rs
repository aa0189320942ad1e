//! pcs's argument grammar, parsed into model values: `k=v` lists, `op NAME k=v...`,
//! `meta k=v...`, scores, `NODE[=SCORE]`, and the constraint sentences
//! (`RSC prefers NODE=SCORE`, `A with B SCORE`, `start A then start B kind=Optional`).
//!
//! Pure functions, no I/O: tested without a daemon.

use anyhow::{anyhow, bail, Context, Result};
use hactl_model::values::{format_interval_ms, parse_bool, parse_interval_ms};
use hactl_model::{
    Attrs, ColocationConstraint, LocationConstraint, OnFail, OpSpec, OrderAction, OrderConstraint,
    OrderKind, Role, Score,
};

/// Splits `name=value`. An empty value is allowed (`name=` means "remove" for the
/// verbs that update); an empty name is not.
pub fn parse_kv(tok: &str) -> Result<(String, String)> {
    let (k, v) = tok
        .split_once('=')
        .ok_or_else(|| anyhow!("expected NAME=VALUE, got {tok:?}"))?;
    if k.trim().is_empty() {
        bail!("expected NAME=VALUE, got {tok:?} (empty name)");
    }
    Ok((k.trim().to_string(), v.to_string()))
}

/// One `op NAME k=v...` group as typed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OpArgs {
    pub name: String,
    pub attrs: Attrs,
}

/// What follows `resource create NAME AGENT` (or `resource update NAME`): instance
/// parameters, operations and meta attributes, in pcs's order-free form.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ResourceArgs {
    pub params: Attrs,
    pub ops: Vec<OpArgs>,
    pub meta: Attrs,
}

/// Parses `k=v... [op NAME k=v...]... [meta k=v...]`. `op` and `meta` switch what the
/// following `k=v` words belong to, as in pcs; `params` switches back.
pub fn parse_resource_args(tokens: &[String]) -> Result<ResourceArgs> {
    enum Section {
        Params,
        Op,
        Meta,
    }
    let mut out = ResourceArgs::default();
    let mut section = Section::Params;
    let mut i = 0;
    while i < tokens.len() {
        let t = tokens[i].as_str();
        match t {
            "op" => {
                let name = tokens
                    .get(i + 1)
                    .filter(|n| !n.contains('='))
                    .ok_or_else(|| {
                        anyhow!("`op` needs an operation name: op monitor interval=30s")
                    })?;
                if name == "op" || name == "meta" {
                    bail!("`op` needs an operation name before {name:?}");
                }
                out.ops.push(OpArgs {
                    name: name.clone(),
                    attrs: Attrs::new(),
                });
                section = Section::Op;
                i += 2;
                continue;
            }
            "meta" => section = Section::Meta,
            "params" => section = Section::Params,
            _ => {
                let (k, v) = parse_kv(t).with_context(|| match section {
                    Section::Params => "resource parameter".to_string(),
                    Section::Op => "operation attribute".to_string(),
                    Section::Meta => "meta attribute".to_string(),
                })?;
                let map = match section {
                    Section::Params => &mut out.params,
                    Section::Meta => &mut out.meta,
                    Section::Op => match out.ops.last_mut() {
                        Some(op) => &mut op.attrs,
                        None => &mut out.params,
                    },
                };
                if map.insert(k.clone(), v).is_some() {
                    bail!("{k:?} is given twice");
                }
            }
        }
        i += 1;
    }
    Ok(out)
}

/// Builds the configured operation for `rsc` from `op NAME k=v...`. The id follows
/// pcs (`RSC-NAME-interval-30s`).
pub fn build_op(rsc: &str, op: &OpArgs) -> Result<OpSpec> {
    let ctx = || format!("op {} of {rsc}", op.name);
    let mut spec = OpSpec {
        name: op.name.clone(),
        ..Default::default()
    };
    for (k, v) in &op.attrs {
        match k.as_str() {
            "interval" => {
                spec.interval_ms = parse_interval_ms(v).ok_or_else(|| {
                    anyhow!(
                        "{}: invalid interval {v:?} (examples: 0, 10s, 1500ms, 2m)",
                        ctx()
                    )
                })?
            }
            "timeout" => {
                spec.timeout_ms = Some(parse_interval_ms(v).ok_or_else(|| {
                    anyhow!("{}: invalid timeout {v:?} (examples: 20s, 2m)", ctx())
                })?)
            }
            "on-fail" => spec.on_fail = Some(v.parse::<OnFail>().with_context(ctx)?),
            "role" => spec.role = Some(v.parse::<Role>().with_context(ctx)?),
            "enabled" => {
                spec.enabled = Some(
                    parse_bool(v)
                        .ok_or_else(|| anyhow!("{}: enabled={v:?} is not a boolean", ctx()))?,
                )
            }
            "id" => spec.id = v.clone(),
            _ => {
                spec.extra.insert(k.clone(), v.clone());
            }
        }
    }
    if spec.id.is_empty() {
        spec.id = format!(
            "{rsc}-{}-interval-{}",
            op.name,
            format_interval_ms(spec.interval_ms)
        );
    }
    Ok(spec)
}

/// A score as pcs accepts it: an integer, `INFINITY`, `+INFINITY`, `-INFINITY`.
pub fn parse_score(s: &str) -> Result<Score> {
    s.parse::<Score>().map_err(|e| anyhow!("{e}"))
}

/// `NODE` or `NODE=SCORE`; a bare node gets INFINITY.
pub fn parse_node_score(s: &str) -> Result<(String, Score)> {
    match s.split_once('=') {
        Some((n, sc)) if !n.is_empty() => Ok((n.to_string(), parse_score(sc)?)),
        Some(_) => bail!("expected NODE[=SCORE], got {s:?}"),
        None if s.is_empty() => bail!("expected NODE[=SCORE], got an empty word"),
        None => Ok((s.to_string(), Score::INFINITY)),
    }
}

/// The id pcs gives a constraint: words joined with `-`, characters an id cannot
/// hold replaced.
fn make_id(parts: &[&str]) -> String {
    parts
        .iter()
        .map(|p| {
            p.chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                        c
                    } else {
                        '_'
                    }
                })
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("-")
}

/// `constraint location RSC prefers|avoids NODE[=SCORE]...`: one constraint per
/// node. `avoids` negates the score (`avoids n1` = -INFINITY).
pub fn location_sentence(args: &[String]) -> Result<Vec<LocationConstraint>> {
    let usage = "usage: constraint location RSC prefers|avoids NODE[=SCORE]...";
    let [rsc, verb, nodes @ ..] = args else {
        bail!("{usage}");
    };
    let prefers = match verb.as_str() {
        "prefers" => true,
        "avoids" => false,
        other => bail!("expected `prefers` or `avoids` after {rsc:?}, got {other:?}; {usage}"),
    };
    if nodes.is_empty() {
        bail!("no node given; {usage}");
    }
    nodes
        .iter()
        .map(|n| {
            let (node, score) = parse_node_score(n)?;
            // Neg keeps INFINITY arithmetic: -(INFINITY) is -INFINITY.
            let score = if prefers { score } else { -score };
            Ok(LocationConstraint {
                id: make_id(&["location", rsc, &node, &score.to_string()]),
                rsc: rsc.clone(),
                node: Some(node),
                score: Some(score),
                ..Default::default()
            })
        })
        .collect()
}

/// `constraint colocation add [ROLE] RSC with [ROLE] RSC2 [SCORE] [id=ID]` (the words
/// after `add`).
pub fn colocation_sentence(args: &[String]) -> Result<ColocationConstraint> {
    let usage = "usage: constraint colocation add RSC with RSC2 [SCORE | score=SCORE] [id=ID]";
    let mut words: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut id = None;
    // `score=-INFINITY`: a bare `-INFINITY` would read as an option on the command
    // line (write `-- -INFINITY` or `score=-INFINITY`).
    let mut score_kv = None;
    words.retain(|w| {
        if let Some(v) = w.strip_prefix("id=") {
            id = Some(v.to_string());
            false
        } else if let Some(v) = w.strip_prefix("score=") {
            score_kv = Some(v.to_string());
            false
        } else {
            true
        }
    });
    let role_at = |w: &[&str], i: usize| -> Option<Role> {
        // A role word is only a role when a resource name follows it.
        w.get(i + 1)?;
        w.get(i)?.parse::<Role>().ok()
    };
    let mut i = 0;
    let rsc_role = role_at(&words, i).filter(|_| words.get(i + 1) != Some(&"with"));
    if rsc_role.is_some() {
        i += 1;
    }
    let rsc = words.get(i).ok_or_else(|| anyhow!("{usage}"))?.to_string();
    i += 1;
    if words.get(i) != Some(&"with") {
        bail!("expected `with` after {rsc:?}; {usage}");
    }
    i += 1;
    let with_role = role_at(&words, i);
    if with_role.is_some() {
        i += 1;
    }
    let with_rsc = words
        .get(i)
        .ok_or_else(|| anyhow!("no resource after `with`; {usage}"))?
        .to_string();
    i += 1;
    let score_word = match (words.get(i), score_kv) {
        (Some(_), Some(_)) => bail!("score given twice; {usage}"),
        (Some(s), None) => {
            i += 1;
            Some(s.to_string())
        }
        (None, s) => s,
    };
    let score = match score_word {
        Some(s) => parse_score(&s).with_context(|| format!("colocation {rsc} with {with_rsc}"))?,
        None => Score::INFINITY,
    };
    if let Some(extra) = words.get(i) {
        bail!("unexpected {extra:?}; {usage}");
    }
    if rsc == with_rsc {
        bail!("a resource cannot be colocated with itself ({rsc:?})");
    }
    Ok(ColocationConstraint {
        id: id.unwrap_or_else(|| make_id(&["colocation", &rsc, &with_rsc, &score.to_string()])),
        rsc,
        with_rsc,
        score,
        rsc_role,
        with_rsc_role: with_role,
        influence: None,
    })
}

/// `constraint order [ACTION] A then [ACTION] B [kind=K] [symmetrical=BOOL] [id=ID]`.
pub fn order_sentence(args: &[String]) -> Result<OrderConstraint> {
    let usage =
        "usage: constraint order [start|stop] A then [start|stop] B [kind=Mandatory|Optional|Serialize] [symmetrical=true|false] [id=ID]";
    let mut words = Vec::new();
    let mut opts = Attrs::new();
    for a in args {
        if a.contains('=') {
            let (k, v) = parse_kv(a)?;
            opts.insert(k, v);
        } else {
            words.push(a.as_str());
        }
    }
    let Some(then_at) = words.iter().position(|w| *w == "then") else {
        bail!("missing `then`; {usage}");
    };
    let side = |w: &[&str], what: &str| -> Result<(OrderAction, String)> {
        match w {
            [rsc] => Ok((OrderAction::Start, rsc.to_string())),
            [action, rsc] => Ok((
                action
                    .parse::<OrderAction>()
                    .with_context(|| format!("action of {rsc:?}"))?,
                rsc.to_string(),
            )),
            [] => bail!("no resource {what} `then`; {usage}"),
            _ => bail!("too many words {what} `then`: {}; {usage}", w.join(" ")),
        }
    };
    let (first_action, first) = side(&words[..then_at], "before")?;
    let (then_default, then) = side(&words[then_at + 1..], "after")?;
    // pcs: the second action defaults to the first one's.
    let then_action = if words.len() - then_at - 1 == 1 {
        first_action
    } else {
        then_default
    };
    let mut c = OrderConstraint {
        first,
        then,
        first_action,
        then_action,
        ..Default::default()
    };
    for (k, v) in &opts {
        match k.as_str() {
            "kind" => c.kind = v.parse::<OrderKind>().context("order kind")?,
            "symmetrical" => {
                c.symmetrical = Some(
                    parse_bool(v).ok_or_else(|| anyhow!("symmetrical={v:?} is not a boolean"))?,
                )
            }
            "id" => c.id = v.clone(),
            other => bail!("unknown order option {other:?} (kind, symmetrical, id)"),
        }
    }
    if c.first == c.then {
        bail!("a resource cannot be ordered after itself ({:?})", c.first);
    }
    if c.id.is_empty() {
        c.id = make_id(&[
            "order",
            &c.first,
            &c.then,
            &c.kind.as_str().to_ascii_lowercase(),
        ]);
    }
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn resource_args_sections() {
        let a = parse_resource_args(&w(
            "ip=10.0.0.1 cidr_netmask=24 op monitor interval=30s timeout=20s op start timeout=60s meta resource-stickiness=100",
        ))
        .unwrap();
        assert_eq!(a.params["ip"], "10.0.0.1");
        assert_eq!(a.params["cidr_netmask"], "24");
        assert_eq!(a.ops.len(), 2);
        assert_eq!(a.ops[0].name, "monitor");
        assert_eq!(a.ops[0].attrs["interval"], "30s");
        assert_eq!(a.ops[1].attrs["timeout"], "60s");
        assert_eq!(a.meta["resource-stickiness"], "100");
        let op = build_op("vip", &a.ops[0]).unwrap();
        assert_eq!(op.interval_ms, 30_000);
        assert_eq!(op.timeout_ms, Some(20_000));
        assert_eq!(op.id, "vip-monitor-interval-30s");
        // Empty values survive (used by update to remove).
        let a = parse_resource_args(&w("ip= meta target-role=")).unwrap();
        assert_eq!(a.params["ip"], "");
        assert_eq!(a.meta["target-role"], "");
    }

    #[test]
    fn resource_args_errors() {
        let e = parse_resource_args(&w("ip")).unwrap_err();
        assert!(format!("{e:#}").contains("NAME=VALUE"), "{e:#}");
        let e = parse_resource_args(&w("op interval=1s")).unwrap_err();
        assert!(e.to_string().contains("operation name"), "{e}");
        let e = parse_resource_args(&w("a=1 a=2")).unwrap_err();
        assert!(e.to_string().contains("twice"), "{e}");
        let e = parse_resource_args(&w("=1")).unwrap_err();
        assert!(format!("{e:#}").contains("empty name"), "{e:#}");
        let a = parse_resource_args(&w("op monitor interval=soon")).unwrap();
        let e = build_op("r", &a.ops[0]).unwrap_err();
        assert!(e.to_string().contains("invalid interval"), "{e}");
        let a = parse_resource_args(&w("op monitor on-fail=panic")).unwrap();
        let e = format!("{:#}", build_op("r", &a.ops[0]).unwrap_err());
        assert!(e.contains("restart"), "lists the valid values: {e}");
    }

    #[test]
    fn op_attributes() {
        let a = parse_resource_args(&w(
            "op monitor interval=10s on-fail=fence role=Started enabled=false OCF_CHECK_LEVEL=10",
        ))
        .unwrap();
        let op = build_op("r", &a.ops[0]).unwrap();
        assert_eq!(op.on_fail, Some(OnFail::Fence));
        assert_eq!(op.role, Some(Role::Started));
        assert_eq!(op.enabled, Some(false));
        assert_eq!(op.extra["OCF_CHECK_LEVEL"], "10");
    }

    #[test]
    fn scores_and_locations() {
        assert_eq!(parse_score("INFINITY").unwrap(), Score::INFINITY);
        assert_eq!(parse_score("-inf").unwrap(), Score::NEG_INFINITY);
        assert_eq!(parse_score("100").unwrap(), Score::new(100));
        let e = parse_score("lots").unwrap_err().to_string();
        assert!(e.contains("invalid score \"lots\""), "{e}");
        let c = location_sentence(&w("web prefers n1 n2=50")).unwrap();
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].id, "location-web-n1-INFINITY");
        assert_eq!(c[0].score, Some(Score::INFINITY));
        assert_eq!(c[1].node.as_deref(), Some("n2"));
        assert_eq!(c[1].score, Some(Score::new(50)));
        let c = location_sentence(&w("web avoids n3 n1=20")).unwrap();
        assert_eq!(c[0].score, Some(Score::NEG_INFINITY));
        assert_eq!(c[0].id, "location-web-n3--INFINITY");
        assert_eq!(c[1].score, Some(Score::new(-20)));
        assert!(location_sentence(&w("web likes n1")).is_err());
        assert!(location_sentence(&w("web prefers")).is_err());
        let e = location_sentence(&w("web prefers n1=high")).unwrap_err();
        assert!(e.to_string().contains("invalid score"), "{e}");
    }

    #[test]
    fn colocation_grammar() {
        let c = colocation_sentence(&w("www with vip")).unwrap();
        assert_eq!((c.rsc.as_str(), c.with_rsc.as_str()), ("www", "vip"));
        assert_eq!(c.score, Score::INFINITY);
        assert_eq!(c.id, "colocation-www-vip-INFINITY");
        let c = colocation_sentence(&w("a with b -INFINITY id=apart")).unwrap();
        assert_eq!(c.score, Score::NEG_INFINITY);
        assert_eq!(c.id, "apart");
        let c = colocation_sentence(&w("a with b score=-INFINITY")).unwrap();
        assert_eq!(c.score, Score::NEG_INFINITY);
        assert!(colocation_sentence(&w("a with b 5 score=6")).is_err());
        let c = colocation_sentence(&w("Started a with Promoted b 10")).unwrap();
        assert_eq!(c.rsc_role, Some(Role::Started));
        assert_eq!(c.with_rsc_role, Some(Role::Promoted));
        assert_eq!(c.score, Score::new(10));
        assert!(colocation_sentence(&w("a b")).is_err());
        assert!(colocation_sentence(&w("a with")).is_err());
        assert!(colocation_sentence(&w("a with a")).is_err());
        let e = colocation_sentence(&w("a with b much")).unwrap_err();
        assert!(format!("{e:#}").contains("invalid score"), "{e:#}");
    }

    #[test]
    fn order_grammar() {
        let o = order_sentence(&w("vip then www")).unwrap();
        assert_eq!((o.first.as_str(), o.then.as_str()), ("vip", "www"));
        assert_eq!(o.first_action, OrderAction::Start);
        assert_eq!(o.then_action, OrderAction::Start);
        assert_eq!(o.kind, OrderKind::Mandatory);
        assert_eq!(o.id, "order-vip-www-mandatory");
        let o = order_sentence(&w("stop a then b kind=Optional symmetrical=false")).unwrap();
        assert_eq!(o.first_action, OrderAction::Stop);
        assert_eq!(
            o.then_action,
            OrderAction::Stop,
            "pcs: second defaults to first"
        );
        assert_eq!(o.kind, OrderKind::Optional);
        assert_eq!(o.symmetrical, Some(false));
        let o = order_sentence(&w("start a then stop b")).unwrap();
        assert_eq!(o.then_action, OrderAction::Stop);
        assert!(order_sentence(&w("a b")).is_err());
        assert!(order_sentence(&w("a then")).is_err());
        assert!(order_sentence(&w("jump a then b")).is_err());
        assert!(order_sentence(&w("a then b kind=Sometimes")).is_err());
        assert!(order_sentence(&w("a then b colour=red")).is_err());
    }
}
