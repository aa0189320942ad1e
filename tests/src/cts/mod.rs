//! The Pacemaker regression-case runner's parts (used by `tests/tests/cts.rs` and
//! `tests/tests/generated.rs`): reading crm_simulate's expected output, comparing it
//! with hactl's, and the known-failures file.
//!
//! A case is a `<case>.xml` CIB with `<case>.summary` (crm_simulate's text output)
//! and, where Pacemaker's suite has them, `<case>.exp` (the transition graph) and
//! `<case>.scores` (allocation scores). Each comparison is one [`Check`]; a case
//! agrees when its summary and graph agree (scores are counted on their own).

pub mod graph;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// Used when a case has no `execution-date`: 2026-01-01T00:00:00Z.
pub const DEFAULT_NOW: i64 = 1_767_225_600;

/// The cases that Pacemaker's `cts-scheduler` runs with a fixed "now" (`-t`) instead
/// of an `execution-date` in the CIB (UTC, seconds since the epoch).
const FIXED_NOW: &[(&str, i64)] = &[
    ("date-1", 1_106_179_200), // 2005-020
    ("date-2", 1_106_224_200), // 2005-020T12:30
    ("date-3", 1_106_220_600), // 2005-020T11:30
    ("origin", 1_399_422_480), // 2014-05-07 00:28:00
];

/// The time a case is scheduled at.
pub fn case_now(name: &str, execution_date: Option<i64>) -> i64 {
    FIXED_NOW
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, t)| *t)
        .or(execution_date)
        .unwrap_or(DEFAULT_NOW)
}

/// One summary line without its bullet and with single spaces.
pub fn normalize(line: &str) -> String {
    let t = line.trim();
    let t = t.strip_prefix("* ").unwrap_or(t);
    t.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The lines of the `Transition Summary:` block of a crm_simulate output.
pub fn expected_summary(text: &str) -> Vec<String> {
    text.lines()
        .skip_while(|l| !l.starts_with("Transition Summary:"))
        .skip(1)
        .take_while(|l| !l.trim().is_empty() && l.starts_with(' '))
        .map(normalize)
        .collect()
}

/// `-line` for each expected line hactl lacks and `+line` for each line only hactl
/// has (order-insensitive); empty when they agree.
pub fn line_diff(want: &[String], got: &[String]) -> Vec<String> {
    let mut want = want.to_vec();
    let mut got = got.to_vec();
    want.sort();
    got.sort();
    let mut diff: Vec<String> = want
        .iter()
        .filter(|l| !got.contains(l))
        .map(|l| format!("-{l}"))
        .collect();
    diff.extend(
        got.iter()
            .filter(|l| !want.contains(l))
            .map(|l| format!("+{l}")),
    );
    if diff.is_empty() && want != got {
        diff.push("(same lines, different multiplicity)".into());
    }
    diff
}

/// The `.xml` files of a directory, sorted.
pub fn case_files(dir: &Path) -> Vec<PathBuf> {
    let mut cases: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "xml"))
        .collect();
    cases.sort();
    cases
}

/// What was compared. A case's failing checks are listed in the known-failures file
/// by these names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Check {
    /// Import or scheduling refused the case (an unsupported construct).
    Refused,
    Summary,
    Graph,
    Scores,
}

impl Check {
    const ALL: [Check; 4] = [Check::Refused, Check::Summary, Check::Graph, Check::Scores];

    pub fn name(self) -> &'static str {
        match self {
            Check::Refused => "refused",
            Check::Summary => "summary",
            Check::Graph => "graph",
            Check::Scores => "scores",
        }
    }

    fn parse(s: &str) -> Option<Check> {
        Check::ALL.into_iter().find(|c| c.name() == s)
    }
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The result of one case: the checks that failed, each with its details (a diff
/// or an error, one line per entry).
#[derive(Debug, Default)]
pub struct Outcome {
    pub failed: BTreeMap<Check, Vec<String>>,
    /// Whether the case has a `.scores` file that was compared.
    pub scored: bool,
    /// Whether the case has an `.exp` graph that was compared.
    pub graphed: bool,
}

impl Outcome {
    pub fn refused(why: String) -> Outcome {
        let mut o = Outcome::default();
        o.failed.insert(Check::Refused, vec![why]);
        o
    }

    pub fn fail(&mut self, check: Check, details: Vec<String>) {
        if !details.is_empty() {
            self.failed.insert(check, details);
        }
    }

    pub fn ok(&self, check: Check) -> bool {
        !self.failed.contains_key(&Check::Refused) && !self.failed.contains_key(&check)
    }

    /// `summary,graph` — the key this outcome has in the known-failures file.
    pub fn kinds(&self) -> String {
        self.failed
            .keys()
            .map(|c| c.name())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// A one-line reason generated from the details of the failing checks other
    /// than `except`.
    pub fn auto_reason(&self, except: &[Check]) -> String {
        let parts: Vec<String> = self
            .failed
            .iter()
            .filter(|(c, _)| !except.contains(c))
            .map(|(check, details)| match check {
                Check::Refused => details.join(" "),
                _ => format!(
                    "{} {check} differences, e.g. {}",
                    details.len(),
                    details.first().map(String::as_str).unwrap_or("")
                ),
            })
            .collect();
        one_line(&parts.join("; "), 200)
    }
}

fn one_line(s: &str, max: usize) -> String {
    let s: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s,
    }
}

/// One line of the known-failures file: `case  kinds: reason`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownFailure {
    pub kinds: String,
    pub reason: String,
}

/// Parses the known-failures file (`case  refused|summary|graph|scores[,…]: reason`,
/// `#` comments). Errors name the line.
pub fn parse_known(text: &str) -> Result<BTreeMap<String, KnownFailure>, String> {
    let mut out = BTreeMap::new();
    for (i, l) in text.lines().enumerate() {
        let l = l.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        let bad = |why: &str| format!("cts-known-failures.txt line {}: {why}: {l}", i + 1);
        let (case, rest) = l
            .split_once(char::is_whitespace)
            .ok_or_else(|| bad("expected `case  kinds: reason`"))?;
        let (kinds, reason) = rest
            .trim()
            .split_once(':')
            .ok_or_else(|| bad("expected `kinds: reason` after the case"))?;
        let kinds = kinds.trim();
        if kinds.split(',').any(|k| Check::parse(k.trim()).is_none()) {
            return Err(bad("kinds are refused, summary, graph, scores"));
        }
        let known = KnownFailure {
            kinds: kinds.to_string(),
            reason: reason.trim().to_string(),
        };
        if out.insert(case.to_string(), known).is_some() {
            return Err(bad("case listed twice"));
        }
    }
    Ok(out)
}

/// The header of the known-failures file.
pub const KNOWN_HEADER: &str = "\
# Pacemaker CTS cases (tests/data/pacemaker-cts and its wave2/) where hactl does not
# agree with Pacemaker yet, one line each: `case  kinds: reason`, sorted by case.
# kinds: refused (import or scheduling refused it), summary, graph, scores: the
# comparisons that fail. tests/tests/cts.rs fails when a case's failing comparisons
# are not exactly the ones listed (a listed case that improves must be updated too).
# To regenerate after a change (keeps the reasons written here, adds generated ones
# for comparisons that newly fail):
#   CTS_KNOWN=write cargo nextest run -p hactl-tests --test cts pacemaker_cts
# (CTS_KNOWN=print prints the expected file instead of writing it.)
";

/// The known-failures file for `outcomes`, keeping the reasons in `old` (with
/// generated ones added for comparisons that fail now and were not listed).
pub fn render_known(
    outcomes: &BTreeMap<String, Outcome>,
    old: &BTreeMap<String, KnownFailure>,
) -> String {
    let mut s = String::from(KNOWN_HEADER);
    for (case, o) in outcomes {
        if o.failed.is_empty() {
            continue;
        }
        let kinds = o.kinds();
        // A hand-written reason stays; checks that newly fail get a generated one.
        let reason = match old.get(case).filter(|k| !k.reason.is_empty()) {
            Some(k) => {
                let listed: Vec<Check> = k.kinds.split(',').filter_map(Check::parse).collect();
                let added = o.auto_reason(&listed);
                if added.is_empty() {
                    k.reason.clone()
                } else {
                    format!("{}; {added}", k.reason)
                }
            }
            None => o.auto_reason(&[]),
        };
        s.push_str(&format!("{case}  {kinds}: {reason}\n"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_file_round_trips_and_keeps_reasons() {
        let mut outcomes = BTreeMap::new();
        outcomes.insert("a".to_string(), Outcome::refused("no clones".into()));
        let mut b = Outcome::default();
        b.fail(Check::Summary, vec!["-Start x ( n1 )".into()]);
        b.fail(Check::Graph, vec!["-x_start_0 on n1".into()]);
        outcomes.insert("b".to_string(), b);
        outcomes.insert("c".to_string(), Outcome::default());
        let mut old = BTreeMap::new();
        old.insert(
            "b".to_string(),
            KnownFailure {
                kinds: "summary,graph".into(),
                reason: "hand-written".into(),
            },
        );
        let text = render_known(&outcomes, &old);
        let parsed = parse_known(&text).unwrap();
        assert_eq!(parsed.len(), 2);
        assert_eq!(parsed["a"].kinds, "refused");
        assert_eq!(parsed["a"].reason, "no clones");
        assert_eq!(parsed["b"].kinds, "summary,graph");
        assert_eq!(parsed["b"].reason, "hand-written");
        assert!(parse_known("x  bogus: why").is_err());
        assert!(parse_known("x  summary: a\nx  graph: b").is_err());
    }
}
