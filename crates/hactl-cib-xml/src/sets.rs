//! Resource sets (`<resource_set>`) in `rsc_colocation` and `rsc_order`, expanded
//! into the pairwise constraints Pacemaker derives from them when it unpacks the
//! constraint (lib/pacemaker's colocation and ordering unpacking): the scheduler then
//! sees exactly the relations Pacemaker's does. The model keeps no set structure, so
//! an export writes the expanded pairs; they mean the same.
//!
//! * Inside a colocation set (sequential, the default): each member with the one
//!   before it (`ordering="listed"`: the one before with it); a negative score
//!   keeps every member away from every earlier one; `sequential="false"`: no
//!   relation inside the set.
//! * Between colocation sets: the earlier set depends on the later one — its first
//!   member (every member when not sequential) with the later set's last member
//!   (every member when not sequential).
//! * Inside an order set (sequential, the default): each member after the one
//!   before it, with the set's `action`, `kind` and `symmetrical`.
//! * Between order sets: the earlier set's last member (every member unless the set
//!   says `sequential="true"`) before the later set's first member (likewise). An
//!   earlier set with `require-all="false"`: every member before every member of
//!   the later set, as one group (`OrderConstraint::one_or_more`) whose starts wait
//!   for any one of the earlier set's members only.

use hactl_model::{
    ColocationConstraint, Configuration, OrderAction, OrderConstraint, OrderKind, Role, Score,
};

use crate::dom::Element;
use crate::export::attr;
use crate::import::{bool_attr, parsed, required, score_attr, unsupported};
use crate::ImportError;

/// One `<resource_set>` as read.
struct Set<'e> {
    id: &'e str,
    members: Vec<&'e str>,
    /// `None`: the attribute is absent (its default differs by use).
    sequential: Option<bool>,
    require_all: Option<bool>,
    role: Option<Role>,
    action: Option<OrderAction>,
    kind: Option<OrderKind>,
    symmetrical: Option<bool>,
    score: Option<Score>,
    /// `ordering="listed"` (deprecated): a colocation member's predecessor is
    /// placed with it rather than it with the predecessor.
    listed: bool,
}

fn read_set<'e>(s: &'e Element<'e>) -> Result<Set<'e>, ImportError> {
    if s.name != "resource_set" {
        return Err(unsupported(s, "unexpected element beside <resource_set>"));
    }
    if s.attr("id-ref").is_some() {
        return Err(unsupported(
            s,
            "references to other resource sets (id-ref) are not supported",
        ));
    }
    let mut members = Vec::with_capacity(s.children.len());
    for r in &s.children {
        if r.name != "resource_ref" {
            return Err(unsupported(r, "unexpected element inside <resource_set>"));
        }
        members.push(required(r, "id")?);
    }
    Ok(Set {
        id: required(s, "id")?,
        members,
        sequential: bool_attr(s, "sequential")?,
        require_all: bool_attr(s, "require-all")?,
        role: parsed(s, "role")?,
        action: parsed(s, "action")?,
        kind: parsed(s, "kind")?,
        symmetrical: bool_attr(s, "symmetrical")?,
        score: score_attr(s, "score")?,
        listed: s.attr("ordering").is_some_and(|o| o != "group"),
    })
}

/// Reads the sets of `k`; `None` when it has none (a plain constraint).
fn read_sets<'e>(k: &'e Element<'e>) -> Result<Option<Vec<Set<'e>>>, ImportError> {
    if !k.children.iter().any(|c| c.name == "resource_set") {
        return Ok(None);
    }
    k.children
        .iter()
        .map(read_set)
        .collect::<Result<_, _>>()
        .map(Some)
}

/// Numbers the constraints derived from one set or constraint: `base.1`, `base.2`…
struct Ids<'b> {
    base: &'b str,
    n: usize,
}

impl Ids<'_> {
    fn next(&mut self) -> String {
        self.n += 1;
        format!("{}.{}", self.base, self.n)
    }
}

/// Expands an `rsc_colocation` with resource sets; `Ok(false)` when it has none.
pub(crate) fn colocation_sets(
    k: &Element,
    config: &mut Configuration,
) -> Result<bool, ImportError> {
    let Some(sets) = read_sets(k)? else {
        return Ok(false);
    };
    let id = required(k, "id")?;
    let score = score_attr(k, "score")?.unwrap_or(Score::ZERO);
    let influence = crate::import::influence_attr(k);
    let out = &mut config.constraints.colocation;
    let mut push = |id: String, dep: &str, prim: &str, score, dr, pr| {
        out.push(ColocationConstraint {
            id,
            rsc: dep.to_string(),
            with_rsc: prim.to_string(),
            score,
            rsc_role: dr,
            with_rsc_role: pr,
            influence,
        })
    };
    let mut between = Ids { base: id, n: 0 };
    for (i, set) in sets.iter().enumerate() {
        let local = set.score.unwrap_or(score);
        let mut inside = Ids { base: set.id, n: 0 };
        if local != Score::ZERO && set.sequential != Some(false) {
            for (j, &cur) in set.members.iter().enumerate() {
                if local > Score::ZERO {
                    if let Some(&prev) = j.checked_sub(1).and_then(|p| set.members.get(p)) {
                        let (dep, prim) = if set.listed { (prev, cur) } else { (cur, prev) };
                        push(inside.next(), dep, prim, local, set.role, set.role);
                    }
                } else {
                    for &prev in &set.members[..j] {
                        push(inside.next(), cur, prev, local, set.role, set.role);
                    }
                }
            }
        }
        let Some(prev_set) = i.checked_sub(1).map(|p| &sets[p]) else {
            continue;
        };
        if score == Score::ZERO {
            continue;
        }
        // The earlier set is the dependent: its first member (when sequential,
        // which absent means here) with the later set's last member.
        let deps: &[&str] = match (prev_set.sequential, prev_set.members.first()) {
            (Some(false), _) | (_, None) => &prev_set.members,
            (_, Some(first)) => std::slice::from_ref(first),
        };
        let prims: &[&str] = match (set.sequential, set.members.last()) {
            (Some(false), _) | (_, None) => &set.members,
            (_, Some(last)) => std::slice::from_ref(last),
        };
        for &d in deps {
            for &p in prims {
                push(between.next(), d, p, score, prev_set.role, set.role);
            }
        }
    }
    Ok(true)
}

/// The symmetry a kind has when nothing says otherwise.
fn default_symmetry(kind: OrderKind) -> bool {
    kind != OrderKind::Serialize
}

/// Expands an `rsc_order` with resource sets; `Ok(false)` when it has none.
pub(crate) fn order_sets(k: &Element, config: &mut Configuration) -> Result<bool, ImportError> {
    let Some(sets) = read_sets(k)? else {
        return Ok(false);
    };
    let id = required(k, "id")?;
    let kind = constraint_kind(k)?;
    let parent_symmetrical = bool_attr(k, "symmetrical")?;
    let symmetric =
        parent_symmetrical.unwrap_or(default_symmetry(kind)) && kind != OrderKind::Serialize;
    let out = &mut config.constraints.order;
    let mut between = Ids { base: id, n: 0 };
    for (i, set) in sets.iter().enumerate() {
        order_inside_set(k, set, kind, parent_symmetrical, out)?;
        let Some(prev) = i.checked_sub(1).map(|p| &sets[p]) else {
            continue;
        };
        let a1 = prev.action.unwrap_or(OrderAction::Start);
        // require-all="false" (only for starts and promotes, as in Pacemaker):
        // every member of both sets, grouped under the earlier set's id and
        // named after it (so that an export and import give the same ids).
        let one_or_more = prev.require_all == Some(false)
            && matches!(a1, OrderAction::Start | OrderAction::Promote);
        let group_base = format!("{}-one-or-more", prev.id);
        let mut group_ids = Ids {
            base: &group_base,
            n: 0,
        };
        // Between sets only an explicit sequential="true" narrows to one member.
        let firsts: &[&str] = match (prev.sequential, prev.members.last()) {
            (Some(true), Some(last)) if !one_or_more => std::slice::from_ref(last),
            _ => &prev.members,
        };
        let thens: &[&str] = match (set.sequential, set.members.first()) {
            (Some(true), Some(first)) if !one_or_more => std::slice::from_ref(first),
            _ => &set.members,
        };
        // Pacemaker applies the orderings it creates newest first; emitting the
        // pairs in reverse keeps the same input named first in "due to" reasons.
        for &f in firsts.iter().rev() {
            for &t in thens.iter().rev() {
                out.push(OrderConstraint {
                    id: if one_or_more {
                        group_ids.next()
                    } else {
                        between.next()
                    },
                    first: f.to_string(),
                    then: t.to_string(),
                    first_action: a1,
                    then_action: set.action.unwrap_or(OrderAction::Start),
                    kind,
                    symmetrical: Some(symmetric),
                    require_all: None,
                    one_or_more: one_or_more.then(|| prev.id.to_string()),
                });
            }
        }
    }
    Ok(true)
}

/// The chain inside one order set.
fn order_inside_set(
    k: &Element,
    set: &Set,
    parent_kind: OrderKind,
    parent_symmetrical: Option<bool>,
    out: &mut Vec<OrderConstraint>,
) -> Result<(), ImportError> {
    let kind = set.kind.unwrap_or(parent_kind);
    let symmetric = set
        .symmetrical
        .or(parent_symmetrical)
        .unwrap_or(default_symmetry(kind))
        && kind != OrderKind::Serialize;
    let action = set.action.unwrap_or(OrderAction::Start);
    let mut ids = Ids { base: set.id, n: 0 };
    if set.members.len() < 2 {
        return Ok(());
    }
    if kind == OrderKind::Serialize {
        if set.symmetrical == Some(true) || parent_symmetrical == Some(true) {
            return Err(unsupported(
                k,
                &format!(
                    "symmetrical Serialize resource set {:?} is not supported",
                    set.id
                ),
            ));
        }
        // Each member before every later one (sequential or not).
        for (j, &a) in set.members.iter().enumerate() {
            for &b in &set.members[j + 1..] {
                out.push(order_pair(ids.next(), a, b, action, kind, false));
            }
        }
        return Ok(());
    }
    if set.sequential == Some(false) {
        return Ok(());
    }
    for w in set.members.windows(2) {
        out.push(order_pair(ids.next(), w[0], w[1], action, kind, symmetric));
    }
    Ok(())
}

fn order_pair(
    id: String,
    first: &str,
    then: &str,
    action: OrderAction,
    kind: OrderKind,
    symmetric: bool,
) -> OrderConstraint {
    OrderConstraint {
        id,
        first: first.to_string(),
        then: then.to_string(),
        first_action: action,
        then_action: action,
        kind,
        symmetrical: Some(symmetric),
        require_all: None,
        one_or_more: None,
    }
}

/// `kind`, or the deprecated `score` (0 means optional), as plain orderings read it.
pub(crate) fn constraint_kind(k: &Element) -> Result<OrderKind, ImportError> {
    Ok(match parsed::<OrderKind>(k, "kind")? {
        Some(kind) => kind,
        None => match score_attr(k, "score")? {
            Some(s) if s == Score::ZERO => OrderKind::Optional,
            _ => OrderKind::Mandatory,
        },
    })
}

/// Members in the order the import read them: the pairs were emitted with both
/// sets walked backwards.
fn members_as_read<'o>(
    pairs: &[&'o OrderConstraint],
    side: fn(&OrderConstraint) -> &str,
) -> Vec<&'o str> {
    let mut out: Vec<&str> = Vec::new();
    for p in pairs {
        let m = side(p);
        if !out.contains(&m) {
            out.push(m);
        }
    }
    out.reverse();
    out
}

/// Writes the `one_or_more` group `name` of orderings back as the two resource
/// sets it was read from (the first with `require-all="false"`), so that an
/// import gives the same orderings, ids included.
pub(crate) fn export_one_or_more(out: &mut String, order: &[OrderConstraint], name: &str) {
    let pairs: Vec<&OrderConstraint> = order
        .iter()
        .filter(|o| o.one_or_more.as_deref() == Some(name))
        .collect();
    let Some(o) = pairs.first() else { return };
    out.push_str("      <rsc_order");
    attr(out, "id", &format!("{name}-one-or-more"));
    attr(out, "kind", o.kind.as_str());
    attr(
        out,
        "symmetrical",
        if o.is_symmetrical() { "true" } else { "false" },
    );
    out.push_str(">\n");
    let sets = [
        (
            name.to_string(),
            o.first_action,
            members_as_read(&pairs, |p| &p.first),
            true,
        ),
        (
            format!("{name}-then"),
            o.then_action,
            members_as_read(&pairs, |p| &p.then),
            false,
        ),
    ];
    for (id, action, members, first) in sets {
        out.push_str("        <resource_set");
        attr(out, "id", &id);
        attr(out, "sequential", "false");
        if first {
            attr(out, "require-all", "false");
        }
        attr(out, "action", action.as_str());
        out.push_str(">\n");
        for m in members {
            out.push_str("          <resource_ref");
            attr(out, "id", m);
            out.push_str("/>\n");
        }
        out.push_str("        </resource_set>\n");
    }
    out.push_str("      </rsc_order>\n");
}
