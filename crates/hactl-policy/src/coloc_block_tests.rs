//! Mandatory colocation dependents of a resource that cannot start are blocked
//! there too (`coloc_block.rs`), and their stop names the colocation.

use crate::stop_reason_tests::{cib, dummy, running, summary, STOPPED};

/// `vol` must run with `sched`, whose start an ordering made unrunnable: `vol`
/// cannot start either, "due to colocation with sched" (Pacemaker blocks it
/// as soon as `sched`'s start is blocked, before the ordering `sched` then
/// `vol` would name "required sched start"; CTS case complex_enforce_colo).
#[test]
fn a_dependent_of_a_primary_that_cannot_start_stops_due_to_the_colocation() {
    let rsc = format!(
        "<clone id=\"k-clone\">{}</clone>{}{}{}",
        dummy("k", STOPPED),
        dummy("api", ""),
        dummy("sched", ""),
        dummy("vol", ""),
    );
    let cons = r##"<rsc_order id="o1" first="k-clone" then="api"/>
<rsc_order id="o2" first="api" then="sched"/>
<rsc_colocation id="c1" rsc="sched" with-rsc="api" score="INFINITY"/>
<rsc_order id="o3" first="sched" then="vol"/>
<rsc_colocation id="c2" rsc="vol" with-rsc="sched" score="INFINITY"/>"##;
    let n1 = format!(
        "{}{}{}{}",
        running("k", 2),
        running("api", 3),
        running("sched", 4),
        running("vol", 5)
    );
    let got = summary(&cib(&rsc, cons, &n1, &running("k", 2)));
    assert!(
        got.contains(&"Stop sched ( n1 ) due to required api start".to_string()),
        "{got:?}"
    );
    assert!(
        got.contains(&"Stop vol ( n1 ) due to colocation with sched".to_string()),
        "{got:?}"
    );
}

/// A clone is not a blocking primary (yet): `engine`, colocated with and
/// ordered after an interleaved clone that cannot start, stops "due to
/// required cw-clone running", as crm_simulate says for this CIB (blocking from
/// the clone's "running" named the colocation instead).
#[test]
fn a_dependent_of_a_clone_that_cannot_start_keeps_the_ordering_reason() {
    let il = |id: &str| {
        format!(
            r##"<meta_attributes id="{id}-m"><nvpair id="{id}-il" name="interleave" value="true"/></meta_attributes>"##
        )
    };
    let rsc = format!(
        "<clone id=\"k-clone\">{}</clone><clone id=\"cfn-clone\">{}{}</clone>\
         <clone id=\"cw-clone\">{}{}</clone>{}",
        dummy("k", STOPPED),
        dummy("cfn", ""),
        il("cfn"),
        dummy("cw", ""),
        il("cw"),
        dummy("engine", ""),
    );
    let cons = r##"<rsc_order id="o1" first="k-clone" then="cfn-clone"/>
<rsc_order id="o2" first="cfn-clone" then="cw-clone"/>
<rsc_colocation id="c1" rsc="cw-clone" with-rsc="cfn-clone" score="INFINITY"/>
<rsc_order id="o3" first="cw-clone" then="engine"/>
<rsc_colocation id="c2" rsc="engine" with-rsc="cw-clone" score="INFINITY"/>"##;
    let n1 = format!(
        "{}{}{}{}",
        running("k", 2),
        running("cfn", 3),
        running("cw", 4),
        running("engine", 5)
    );
    let n2 = format!(
        "{}{}{}",
        running("k", 2),
        running("cfn", 3),
        running("cw", 4)
    );
    let got = summary(&cib(&rsc, cons, &n1, &n2));
    assert!(
        got.contains(&"Stop engine ( n1 ) due to required cw-clone running".to_string()),
        "{got:?}"
    );
}
