//! The promotion scores in the raw score output: one line per instance of a
//! promotable clone with its final promotion score on its node, and the
//! promotion scores already in the instances' `pcmk__clone_assign` lines.

use hactl_model::{Cib, Resource};

use super::promotable_tests::promotable;
use crate::schedule;

/// A clone of `db` with four instances on three nodes: one stays unplaced.
fn four_instances(scores: &[(&str, &str)]) -> Cib {
    let mut cib = promotable(scores);
    if let Resource::Clone(c) = &mut cib.config.resources[0] {
        c.meta.insert("clone-max".into(), "4".into());
    }
    cib
}

/// The promotion score lines without the instance names, sorted.
fn promotion_lines(scores: &str) -> Vec<String> {
    let mut out: Vec<String> = scores
        .lines()
        .filter_map(|l| l.split_once(" promotion score"))
        .map(|(_, rest)| rest.to_string())
        .collect();
    out.sort();
    out
}

#[test]
fn each_instance_shows_its_promotion_score_on_its_node() {
    let cib = four_instances(&[("n1", "5"), ("n2", "10")]);
    let scores = schedule(&cib, 1_000_000).unwrap().raw_scores();
    // n3 has no promotion score (-1, never promoted); the fourth instance is
    // placed nowhere.
    assert_eq!(
        promotion_lines(&scores),
        [
            " (inactive): -INFINITY",
            " on n1: 5",
            " on n2: 10",
            " on n3: -1"
        ],
        "{scores}"
    );
}

#[test]
fn clone_assign_lines_include_the_positive_promotion_scores() {
    let cib = four_instances(&[("n1", "5"), ("n2", "10"), ("n3", "-3")]);
    let scores = schedule(&cib, 1_000_000).unwrap().raw_scores();
    for i in 0..4 {
        for (node, score) in [("n1", 5), ("n2", 10), ("n3", 0)] {
            let line = format!("pcmk__clone_assign: db:{i} allocation score on {node}: {score}");
            assert!(scores.contains(&line), "{line} in\n{scores}");
        }
    }
}
