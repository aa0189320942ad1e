//! Resource sets in colocation and order constraints arrive as the pairwise
//! constraints Pacemaker derives from them.

use hactl_cib_xml::import;
use hactl_model::{Cib, OrderAction, OrderKind, Role, Score};

fn cib(constraints: &str) -> Cib {
    let prims: String = ["a", "b", "c", "d", "e"]
        .iter()
        .map(|id| {
            format!(r#"<primitive id="{id}" class="ocf" provider="pacemaker" type="Dummy"/>"#)
        })
        .collect();
    let xml = format!(
        r#"<cib><configuration><crm_config/><nodes><node id="1" uname="n1"/></nodes>
        <resources>{prims}</resources><constraints>{constraints}</constraints>
        </configuration><status/></cib>"#
    );
    import(&xml).expect("imports")
}

/// (dependent, primary, score) of every colocation, in order.
fn colocs(c: &Cib) -> Vec<(String, String, Score)> {
    c.config
        .constraints
        .colocation
        .iter()
        .map(|x| (x.rsc.clone(), x.with_rsc.clone(), x.score))
        .collect()
}

fn pair(a: &str, b: &str, s: Score) -> (String, String, Score) {
    (a.to_string(), b.to_string(), s)
}

#[test]
fn colocation_set_is_a_chain_and_earlier_sets_follow_later_ones() {
    let c = cib(r#"<rsc_colocation id="c" score="INFINITY">
        <resource_set id="s1"><resource_ref id="a"/><resource_ref id="b"/></resource_set>
        <resource_set id="s2" role="Started"><resource_ref id="c"/><resource_ref id="d"/></resource_set>
        </rsc_colocation>"#);
    let inf = Score::INFINITY;
    assert_eq!(
        colocs(&c),
        vec![
            pair("b", "a", inf),
            pair("d", "c", inf),
            pair("a", "d", inf)
        ]
    );
    let between = &c.config.constraints.colocation[2];
    assert_eq!(between.with_rsc_role, Some(Role::Started));
    assert_eq!(between.rsc_role, None);
    // Every derived constraint has its own id.
    let mut ids: Vec<_> = c
        .config
        .constraints
        .colocation
        .iter()
        .map(|x| &x.id)
        .collect();
    ids.dedup();
    assert_eq!(ids.len(), 3);
}

#[test]
fn negative_and_unordered_colocation_sets() {
    let c = cib(r#"<rsc_colocation id="c" score="-INFINITY">
        <resource_set id="s1"><resource_ref id="a"/><resource_ref id="b"/><resource_ref id="c"/></resource_set>
        </rsc_colocation>
        <rsc_colocation id="u" score="100">
        <resource_set id="s2" sequential="false"><resource_ref id="a"/><resource_ref id="b"/></resource_set>
        <resource_set id="s3"><resource_ref id="d"/><resource_ref id="e"/></resource_set>
        </rsc_colocation>"#);
    let ninf = Score::NEG_INFINITY;
    let h = Score::new(100);
    assert_eq!(
        colocs(&c),
        vec![
            // Everyone away from every earlier member.
            pair("b", "a", ninf),
            pair("c", "a", ninf),
            pair("c", "b", ninf),
            // No relation inside the unordered set; each member with e.
            pair("e", "d", h),
            pair("a", "e", h),
            pair("b", "e", h),
        ]
    );
}

#[test]
fn order_sets_chain_inside_and_connect_between() {
    let c = cib(r#"<rsc_order id="o" kind="Mandatory">
        <resource_set id="s1"><resource_ref id="a"/><resource_ref id="b"/></resource_set>
        <resource_set id="s2" sequential="true" action="promote"><resource_ref id="c"/><resource_ref id="d"/></resource_set>
        </rsc_order>
        <rsc_order id="p" kind="Optional">
        <resource_set id="s3" sequential="false"><resource_ref id="a"/><resource_ref id="b"/></resource_set>
        <resource_set id="s4"><resource_ref id="e"/></resource_set>
        </rsc_order>"#);
    let got: Vec<_> = c
        .config
        .constraints
        .order
        .iter()
        .map(|o| {
            (
                o.first.as_str(),
                o.first_action,
                o.then.as_str(),
                o.then_action,
                o.kind,
            )
        })
        .collect();
    use OrderAction::{Promote, Start};
    use OrderKind::{Mandatory, Optional};
    assert_eq!(
        got,
        vec![
            ("a", Start, "b", Start, Mandatory),
            ("c", Promote, "d", Promote, Mandatory),
            // s1 does not say sequential="true": every member before c.
            ("b", Start, "c", Promote, Mandatory),
            ("a", Start, "c", Promote, Mandatory),
            ("b", Start, "e", Start, Optional),
            ("a", Start, "e", Start, Optional),
        ]
    );
    assert!(c
        .config
        .constraints
        .order
        .iter()
        .all(|o| o.is_symmetrical()));
}

/// A set with require-all="false" before another: every pair, grouped under the
/// set's id (the scheduler's one-or-more group); its stops stay plain pairs of a
/// symmetric ordering. An export writes the two sets back, and an import of that
/// gives the same model.
#[test]
fn require_all_false_between_sets_is_a_one_or_more_group() {
    let c = cib(r#"<rsc_order id="o">
        <resource_set id="s1"><resource_ref id="a"/></resource_set>
        <resource_set id="s2" sequential="false" require-all="false"><resource_ref id="b"/><resource_ref id="c"/></resource_set>
        <resource_set id="s3"><resource_ref id="d"/><resource_ref id="e"/></resource_set>
        </rsc_order>"#);
    let order = &c.config.constraints.order;
    let group: Vec<(&str, &str)> = order
        .iter()
        .filter(|o| o.one_or_more.as_deref() == Some("s2"))
        .map(|o| (o.first.as_str(), o.then.as_str()))
        .collect();
    // Every member of s2 before every member of s3 (sequential or not).
    let mut sorted = group.clone();
    sorted.sort();
    assert_eq!(sorted, [("b", "d"), ("b", "e"), ("c", "d"), ("c", "e")]);
    assert!(order
        .iter()
        .filter(|o| o.one_or_more.is_some())
        .all(|o| o.is_symmetrical() && o.first_action == OrderAction::Start));
    // a before b and c is an ordinary pair each; d before e inside s3.
    let plain = order.iter().filter(|o| o.one_or_more.is_none()).count();
    assert_eq!(plain, 3, "{order:#?}");
    let back = import(&hactl_cib_xml::export(&c)).expect("re-imports");
    assert_eq!(back, c);
}
