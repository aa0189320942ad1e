//! Rules: nested rules, date, resource and operation expressions, and attribute sets
//! with a rule (`hactl_model::conditional`).
//!
//! Where a set with a rule may stand: cluster properties, resource and operation
//! defaults, a node's and a primitive's instance attributes. Everywhere else
//! (resource meta attributes, groups, clones, operations, utilization) a rule is
//! still refused by name.

use hactl_model::conditional::{
    ConditionalSet, DateExpression, DateOp, OpExpression, RscExpression, SetOwner,
};
use hactl_model::values::parse_interval_ms;
use hactl_model::{Attrs, Expression, Rule, Score};

use crate::dom::Element;
use crate::import::{invalid, nvpairs, parsed, required, score_attr, unsupported};
use crate::ImportError;

/// The sets of `el` named `set_name`, in Pacemaker's precedence order: `first_id`
/// first, then by descending `score`, then document order. Any other child of `el`
/// is refused when `only` is set.
pub(crate) fn ordered<'e>(
    el: &'e Element<'e>,
    set_names: &[&str],
    first_id: Option<&str>,
    only: bool,
) -> Result<Vec<&'e Element<'e>>, ImportError> {
    let mut sets: Vec<(bool, Score, usize, &Element)> = Vec::new();
    for (i, s) in el.children.iter().enumerate() {
        if !set_names.contains(&s.name.as_ref()) {
            if only {
                return Err(unsupported(
                    s,
                    &format!("unexpected element inside <{}>", el.name),
                ));
            }
            continue;
        }
        let score = score_attr(s, "score")?.unwrap_or(Score::ZERO);
        let is_first = first_id.is_some() && s.id() == first_id;
        sets.push((!is_first, -score, i, s));
    }
    sets.sort_by_key(|a| (a.0, a.1, a.2));
    Ok(sets.into_iter().map(|s| s.3).collect())
}

/// The rule of a set, if it has one (at most one).
fn set_rule<'e>(set: &'e Element<'e>) -> Result<Option<&'e Element<'e>>, ImportError> {
    let mut rules = set.children.iter().filter(|c| c.name == "rule");
    let first = rules.next();
    if let Some(second) = rules.next() {
        return Err(unsupported(
            second,
            &format!("a second <rule> in <{}> (one rule per set)", set.name),
        ));
    }
    Ok(first)
}

/// Merges ordered sets: the unconditional values (first wins), and for `owner`
/// the sets with a rule, each keeping only the values no unconditional set before
/// it names (those could never win). Without an owner a rule is refused.
pub(crate) fn fold(
    sets: &[&Element],
    owner: Option<&SetOwner>,
) -> Result<(Attrs, Vec<ConditionalSet>), ImportError> {
    let mut plain = Attrs::new();
    let mut conditional = Vec::new();
    for s in sets {
        let pairs = nvpairs(s, owner.is_some())?;
        match (set_rule(s)?, owner) {
            (Some(r), Some(owner)) => {
                let values: Attrs = pairs
                    .into_iter()
                    .filter(|(k, _)| !plain.contains_key(k))
                    .collect();
                conditional.push(ConditionalSet {
                    id: s.id().unwrap_or_default().to_string(),
                    owner: owner.clone(),
                    rule: import_rule(r)?,
                    values,
                });
            }
            _ => {
                for (k, v) in pairs {
                    plain.entry(k).or_insert(v);
                }
            }
        }
    }
    Ok((plain, conditional))
}

/// Adds a primitive's instance attribute sets that have a rule (per-node
/// parameters) to `out`. Most primitives have none: those cost one look at their
/// sets' children.
pub(crate) fn primitive_params(
    p: &Element,
    id: &str,
    out: &mut Vec<ConditionalSet>,
) -> Result<(), ImportError> {
    let has_rule = p
        .children
        .iter()
        .filter(|s| s.name == "instance_attributes")
        .any(|s| s.children.iter().any(|c| c.name == "rule"));
    if !has_rule {
        return Ok(());
    }
    let sets = ordered(p, &["instance_attributes"], None, false)?;
    let owner = SetOwner::Params {
        rsc: id.to_string(),
    };
    out.extend(fold(&sets, Some(&owner))?.1);
    Ok(())
}

/// A rule with its conditions (node attribute, date, resource and operation
/// expressions, nested rules).
pub(crate) fn import_rule(r: &Element) -> Result<Rule, ImportError> {
    if r.attr("id-ref").is_some() {
        return Err(unsupported(r, "rule references (id-ref) are not supported"));
    }
    let mut rule = Rule {
        id: required(r, "id")?.to_string(),
        score: score_attr(r, "score")?,
        score_attribute: r.attr("score-attribute").map(str::to_string),
        boolean_op: parsed(r, "boolean-op")?,
        role: parsed(r, "role")?,
        ..Default::default()
    };
    for e in &r.children {
        match e.name.as_ref() {
            "expression" => rule.expressions.push(expression(e)?),
            "rule" => {
                let nested = import_rule(e)?;
                // Pacemaker's schema requires a condition (an empty rule would pass).
                if nested.is_empty() {
                    return Err(unsupported(e, "a nested rule needs at least one condition"));
                }
                rule.rules.push(nested)
            }
            "date_expression" => rule.dates.push(date_expression(e)?),
            "rsc_expression" => rule.resources.push(RscExpression {
                id: e.id().unwrap_or_default().to_string(),
                class: e.attr("class").map(str::to_string),
                provider: e.attr("provider").map(str::to_string),
                kind: e.attr("type").map(str::to_string),
            }),
            "op_expression" => rule.operations.push(op_expression(e)?),
            _ => return Err(unsupported(e, "unsupported rule condition")),
        }
    }
    Ok(rule)
}

fn expression(e: &Element) -> Result<Expression, ImportError> {
    if e.attr("value-source").is_some_and(|v| v != "literal") {
        return Err(unsupported(
            e,
            "value-source other than literal is not supported",
        ));
    }
    Ok(Expression {
        id: e.id().unwrap_or_default().to_string(),
        attribute: required(e, "attribute")?.to_string(),
        operation: parsed(e, "operation")?,
        value: e.attr("value").map(str::to_string),
        value_type: parsed(e, "type")?,
    })
}

fn op_expression(e: &Element) -> Result<OpExpression, ImportError> {
    let interval_ms = match e.attr("interval") {
        None => None,
        Some(v) => {
            Some(parse_interval_ms(v).ok_or_else(|| invalid(e, "interval", v, "not a duration"))?)
        }
    };
    Ok(OpExpression {
        id: e.id().unwrap_or_default().to_string(),
        name: required(e, "name")?.to_string(),
        interval_ms,
    })
}

fn date_expression(e: &Element) -> Result<DateExpression, ImportError> {
    let op = e.attr("operation").unwrap_or("in_range");
    let operation = DateOp::parse(op)
        .ok_or_else(|| invalid(e, "operation", op, "expected gt, lt, in_range or date_spec"))?;
    let mut d = DateExpression {
        id: e.id().unwrap_or_default().to_string(),
        operation,
        start: e.attr("start").map(str::to_string),
        end: e.attr("end").map(str::to_string),
        ..Default::default()
    };
    for c in &e.children {
        let fields: Attrs = c
            .attrs
            .iter()
            .filter(|(k, _)| k.as_ref() != "id")
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        match c.name.as_ref() {
            "duration" => d.duration = fields,
            "date_spec" => d.spec = fields,
            _ => {
                return Err(unsupported(
                    c,
                    "unexpected element inside <date_expression>",
                ))
            }
        }
    }
    d.check().map_err(|err| unsupported(e, &err.to_string()))?;
    Ok(d)
}

/// Refuses what a conditional set carries that is not implemented: `check` gets
/// each property set (`true`) and resource defaults set (`false`) for the same
/// tables as unconditional values; an operation default with a rule may only set
/// `timeout` (the one operation default the scheduler and the graph read).
pub(crate) fn refuse(
    c: &hactl_model::Configuration,
    mut check: impl FnMut(&ConditionalSet, bool) -> Result<(), ImportError>,
) -> Result<(), ImportError> {
    for s in &c.conditional {
        match s.owner {
            SetOwner::Properties => check(s, true)?,
            SetOwner::RscDefaults => check(s, false)?,
            SetOwner::OpDefaults => {
                if let Some(k) = s.values.keys().find(|k| *k != "timeout") {
                    return Err(ImportError::Unsupported {
                        element: "meta_attributes".into(),
                        id: Some(s.id.clone()),
                        reason: format!(
                            "{k} in an operation default with a rule is not supported yet \
                             (only timeout)"
                        ),
                    });
                }
            }
            SetOwner::Node { .. } | SetOwner::Params { .. } => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use hactl_model::conditional::{DateOp, SetOwner};

    fn cib(props: &str, prim: &str) -> String {
        format!(
            r##"<cib have-quorum="true"><configuration><crm_config>{props}</crm_config>
<nodes><node id="1" uname="n1"/></nodes><resources>{prim}</resources><constraints/>
</configuration><status/></cib>"##
        )
    }

    const DATE_RULE: &str = r##"<rule id="r" score="0"><date_expression id="d" operation="date_spec"><date_spec id="s" hours="9-17"/></date_expression></rule>"##;

    #[test]
    fn conditional_sets_keep_only_values_that_can_win() {
        // Set scores decide precedence: "high" beats the plain set, "low" loses to it
        // except for what the plain set does not name.
        let props = format!(
            r##"<cluster_property_set id="plain" score="5"><nvpair id="a" name="a" value="plain"/></cluster_property_set>
<cluster_property_set id="high" score="9">{DATE_RULE}<nvpair id="ha" name="a" value="high"/></cluster_property_set>
<cluster_property_set id="low" score="1">{DATE_RULE}<nvpair id="la" name="a" value="low"/><nvpair id="lb" name="b" value="low"/></cluster_property_set>"##
        );
        let c = crate::import(&cib(&props, "")).expect("imports").config;
        assert_eq!(c.properties.get("a").map(String::as_str), Some("plain"));
        let ids: Vec<(&str, Vec<&str>)> = c
            .conditional
            .iter()
            .map(|s| (s.id.as_str(), s.values.keys().map(String::as_str).collect()))
            .collect();
        assert_eq!(ids, [("high", vec!["a"]), ("low", vec!["b"])]);
        assert!(c
            .conditional
            .iter()
            .all(|s| s.owner == SetOwner::Properties));
        assert_eq!(c.conditional[0].rule.dates[0].operation, DateOp::DateSpec);
    }

    #[test]
    fn rules_where_they_are_not_implemented_are_refused_by_name() {
        let meta = format!(
            r##"<primitive id="p" class="ocf" provider="pacemaker" type="Dummy"><meta_attributes id="m">{DATE_RULE}<nvpair id="x" name="target-role" value="Stopped"/></meta_attributes></primitive>"##
        );
        let e = crate::import(&cib("", &meta)).unwrap_err().to_string();
        assert!(e.contains("\"r\"") && e.contains("meta_attributes"), "{e}");
        let bad_date = r##"<cluster_property_set id="s"><rule id="r" score="0"><date_expression id="d" operation="gt" start="2005-13-01"/></rule><nvpair id="a" name="a" value="b"/></cluster_property_set>"##;
        let e = crate::import(&cib(bad_date, "")).unwrap_err().to_string();
        assert!(e.contains("\"d\"") && e.contains("2005-13-01"), "{e}");
        let moon = DATE_RULE.replace("hours", "moon");
        let props = format!(
            r##"<cluster_property_set id="s">{moon}<nvpair id="a" name="a" value="b"/></cluster_property_set>"##
        );
        let e = crate::import(&cib(&props, "")).unwrap_err().to_string();
        assert!(e.contains("moon"), "{e}");
        let unsupported = format!(
            r##"<cluster_property_set id="s" score="3">{DATE_RULE}<nvpair id="a" name="enable-startup-probes" value="false"/></cluster_property_set>"##
        );
        let e = crate::import(&cib(&unsupported, ""))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("enable-startup-probes=false") && e.contains("\"s\""),
            "{e}"
        );
    }

    #[test]
    fn export_round_trips_rules_and_conditional_sets() {
        let props = format!(
            r##"<cluster_property_set id="plain"><nvpair id="a" name="a" value="plain"/><nvpair id="k" name="keep" value="1"/></cluster_property_set>
<cluster_property_set id="high" score="9">{DATE_RULE}<nvpair id="ha" name="a" value="high"/></cluster_property_set>"##
        );
        let prim = r##"<primitive id="p" class="ocf" provider="heartbeat" type="IPaddr2">
<instance_attributes id="i1"><rule id="ri" score="0" boolean-op="or"><expression id="e" attribute="#uname" operation="eq" value="n1"/>
<rule id="nested" score="0"><date_expression id="w" operation="in_range" start="2005-001"><duration id="wd" weeks="1"/></date_expression></rule></rule>
<nvpair id="nic" name="nic" value="eth1"/></instance_attributes>
<instance_attributes id="i2"><nvpair id="nic0" name="nic" value="eth0"/></instance_attributes></primitive>"##;
        let first = crate::import(&cib(&props, prim)).expect("imports");
        let again = crate::import(&crate::export(&first)).expect("re-imports");
        assert_eq!(again.config.properties, first.config.properties);
        assert_eq!(again.config.conditional.len(), 2);
        for (a, b) in again
            .config
            .conditional
            .iter()
            .zip(&first.config.conditional)
        {
            assert_eq!(
                (&a.owner, &a.rule, &a.values),
                (&b.owner, &b.rule, &b.values)
            );
        }
        assert_eq!(again.config.resources, first.config.resources);
    }
}
