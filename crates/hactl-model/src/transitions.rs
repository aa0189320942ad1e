//! The transition history (`hactl cluster history`): what the DC planned, what ran,
//! how long it took and why it was computed, for the last few transitions.
//!
//! It lives in the replicated status, so every node shows the same history and it
//! survives a DC failover and a restart. Transitions are frequent (every failure,
//! every configuration change), so a record is compact — real operations only
//! (pseudo actions are left out), at most [`MAX_ACTIONS`] actions and
//! [`MAX_LINES`] plan and trigger lines each, the rest counted — and the number of
//! records is bounded by the property [`LIMIT_PROPERTY`] (default [`DEFAULT_LIMIT`]),
//! enforced as each change is applied ([`trim`]), so every node keeps exactly the
//! same records.

use serde::{Deserialize, Serialize};

use crate::Configuration;

/// The cluster property bounding the number of transitions kept.
pub const LIMIT_PROPERTY: &str = "transition-history-limit";
/// Transitions kept when the property is not set (or not a number).
pub const DEFAULT_LIMIT: usize = 25;
/// The property's largest accepted value: the history is part of every CIB copy.
pub const MAX_LIMIT: usize = 500;
/// Actions kept per record; the rest are counted in [`TransitionRecord::more_actions`].
pub const MAX_ACTIONS: usize = 32;
/// Lines kept of the plan and of the triggers (the rest are dropped).
pub const MAX_LINES: usize = 16;
/// Longest text kept in a line (an abort reason quoting an agent's message).
pub const MAX_LINE_LEN: usize = 200;

/// One transition, as the DC ran it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TransitionRecord {
    /// The transition's id (increasing; its base is the DC's Raft term).
    pub id: u64,
    /// The node that ran it (the DC).
    pub dc: String,
    /// When it started, ms since the Unix epoch.
    pub started_ms: u64,
    /// From its start to its last action's result.
    pub duration_ms: u64,
    /// How long the policy engine took to compute it (0: computed without it, as a
    /// reprobe is).
    #[serde(skip_serializing_if = "is_zero")]
    pub scheduler_ms: u64,
    /// Why it was computed: the events and changes since the previous run.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub trigger: Vec<String>,
    /// What was planned: the policy engine's summary lines (`Move web (n1 -> n2)`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub planned: Vec<String>,
    /// What ran, in the order it finished (then what never ran).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<ActionRecord>,
    /// Actions beyond [`MAX_ACTIONS`], not listed.
    #[serde(skip_serializing_if = "is_zero32")]
    pub more_actions: u32,
    /// Why it was aborted (an unexpected result, a node lost, ...); None: it ran to
    /// its end.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aborted: Option<String>,
}

/// What became of one action.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionResult {
    /// Ran with the expected result.
    Ok,
    /// Ran with another result (or timed out, or its node was lost).
    Failed,
    /// Never dispatched: the transition was aborted first, or it could not run.
    #[default]
    NotRun,
}

impl ActionResult {
    pub fn as_str(self) -> &'static str {
        match self {
            ActionResult::Ok => "ok",
            ActionResult::Failed => "failed",
            ActionResult::NotRun => "not run",
        }
    }
}

/// One real action of a transition (an operation or a fencing).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ActionRecord {
    /// `start`, `stop`, `monitor`, `probe`, `fence`, ...
    pub task: String,
    /// The resource (none for fencing).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rsc: Option<String>,
    /// Where it ran (the fencing target for a fence).
    pub node: String,
    #[serde(skip_serializing_if = "is_zero")]
    pub interval_ms: u64,
    pub result: ActionResult,
    /// The agent's exit code, when it ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rc: Option<i32>,
    /// How long it ran (operations), or took (fencing).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ms: Option<u64>,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

fn is_zero32(v: &u32) -> bool {
    *v == 0
}

impl TransitionRecord {
    /// The record held to the size bounds (lines, their length, actions).
    pub fn bounded(mut self) -> TransitionRecord {
        let cut = |lines: &mut Vec<String>| {
            lines.truncate(MAX_LINES);
            for l in lines.iter_mut() {
                truncate_line(l);
            }
        };
        cut(&mut self.trigger);
        cut(&mut self.planned);
        if let Some(a) = self.aborted.as_mut() {
            truncate_line(a);
        }
        if self.actions.len() > MAX_ACTIONS {
            let extra = self.actions.len() - MAX_ACTIONS;
            self.more_actions = self
                .more_actions
                .saturating_add(u32::try_from(extra).unwrap_or(u32::MAX));
            self.actions.truncate(MAX_ACTIONS);
        }
        self
    }
}

/// Cuts a line to [`MAX_LINE_LEN`] bytes at a character boundary, marking the cut.
fn truncate_line(l: &mut String) {
    if l.len() <= MAX_LINE_LEN {
        return;
    }
    let mut end = MAX_LINE_LEN;
    while !l.is_char_boundary(end) {
        end -= 1;
    }
    l.truncate(end);
    l.push('…');
}

/// How many transitions `config` keeps: the property, else the default; a value that
/// is not a number counts as the default (the apply must not fail on it), a larger
/// one as [`MAX_LIMIT`].
pub fn limit(config: &Configuration) -> usize {
    config
        .properties
        .get(LIMIT_PROPERTY)
        .and_then(|v| v.trim().parse::<usize>().ok())
        .map_or(DEFAULT_LIMIT, |n| n.min(MAX_LIMIT))
}

/// Drops the oldest records beyond `limit`.
pub fn trim(history: &mut Vec<TransitionRecord>, limit: usize) {
    if history.len() > limit {
        let extra = history.len() - limit;
        history.drain(..extra);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: u64, actions: usize) -> TransitionRecord {
        TransitionRecord {
            id,
            dc: "n1".into(),
            actions: (0..actions)
                .map(|i| ActionRecord {
                    task: "start".into(),
                    rsc: Some(format!("r{i}")),
                    node: "n1".into(),
                    ..ActionRecord::default()
                })
                .collect(),
            ..TransitionRecord::default()
        }
    }

    #[test]
    fn a_record_keeps_at_most_the_bounded_actions_and_counts_the_rest() {
        let r = record(1, MAX_ACTIONS + 5).bounded();
        assert_eq!(r.actions.len(), MAX_ACTIONS);
        assert_eq!(r.more_actions, 5);
    }

    #[test]
    fn long_lines_are_cut_at_a_character_boundary() {
        let mut r = record(1, 0);
        r.trigger = vec!["é".repeat(MAX_LINE_LEN)];
        let r = r.bounded();
        assert!(r.trigger[0].len() <= MAX_LINE_LEN + '…'.len_utf8());
        assert!(r.trigger[0].ends_with('…'));
    }

    #[test]
    fn the_limit_comes_from_the_property_with_a_default_and_a_ceiling() {
        let mut c = Configuration::default();
        assert_eq!(limit(&c), DEFAULT_LIMIT);
        c.properties.insert(LIMIT_PROPERTY.into(), "3".into());
        assert_eq!(limit(&c), 3);
        c.properties.insert(LIMIT_PROPERTY.into(), "lots".into());
        assert_eq!(limit(&c), DEFAULT_LIMIT);
        c.properties.insert(LIMIT_PROPERTY.into(), "100000".into());
        assert_eq!(limit(&c), MAX_LIMIT);
    }

    /// The bound holds as records are applied, and a lower limit set later trims at
    /// once: every node applies the same log, so every node keeps the same records.
    #[test]
    fn applying_records_keeps_the_newest_within_the_property() {
        use crate::change::Change;
        let mut cib = crate::Cib::default();
        let set = |n: &str| Change::SetProperty {
            name: LIMIT_PROPERTY.into(),
            value: n.into(),
        };
        set("4").apply(&mut cib).unwrap();
        for id in 1..=10 {
            let c = Change::RecordTransition {
                record: Box::new(record(id, MAX_ACTIONS + 1)),
            };
            c.apply(&mut cib).unwrap();
        }
        let ids: Vec<u64> = cib.status.transitions.iter().map(|r| r.id).collect();
        assert_eq!(ids, [7, 8, 9, 10]);
        assert!(cib.status.transitions.iter().all(|r| r.more_actions == 1));
        set("2").apply(&mut cib).unwrap();
        let ids: Vec<u64> = cib.status.transitions.iter().map(|r| r.id).collect();
        assert_eq!(ids, [9, 10]);
        let no_dc = Change::RecordTransition {
            record: Box::default(),
        };
        assert!(no_dc.apply(&mut cib).is_err(), "a record names its DC");
    }
}
