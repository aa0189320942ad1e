//! Pacemaker scheduler regression cases: every `tests/data/pacemaker-cts/*.xml` (the
//! base set) and `tests/data/pacemaker-cts/wave2/*.xml` is imported and scheduled,
//! and hactl's Transition Summary is compared with the one Pacemaker printed
//! (`<case>.summary`), ignoring whitespace and line order.
//!
//! Cases hactl does not agree with yet are listed in `tests/cts-known-failures.txt`,
//! one line each with the comparisons that fail and a reason. The test fails when a
//! case's failing comparisons differ from the listed ones: an unlisted case that
//! disagrees, and also a listed case that agrees now (so the list stays honest).
//! `CTS_KNOWN=print` prints the file the runner expects, `CTS_KNOWN=write` writes it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use hactl_tests::cts::graph::{self, Graph};
use hactl_tests::cts::{
    case_files, case_now, expected_summary, line_diff, normalize, parse_known, render_known, Check,
    Outcome,
};

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data/pacemaker-cts")
}

/// The case sets, reported separately.
fn sets() -> [(&'static str, PathBuf); 2] {
    [("base", data_dir()), ("wave2", data_dir().join("wave2"))]
}

fn known_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("cts-known-failures.txt")
}

fn case_name(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_default()
}

/// Imports, schedules and compares one case.
fn run_case(xml_path: &Path) -> Outcome {
    let read = |ext: &str| std::fs::read_to_string(xml_path.with_extension(ext));
    let xml = match read("xml") {
        Ok(x) => x,
        Err(e) => return Outcome::refused(format!("read: {e}")),
    };
    let cib = match hactl_cib_xml::import(&xml) {
        Ok(c) => c,
        Err(e) => return Outcome::refused(e.to_string()),
    };
    let now = case_now(&case_name(xml_path), cib.execution_date);
    let t = match hactl_policy::schedule(&cib, now) {
        Ok(t) => t,
        Err(e) => return Outcome::refused(format!("schedule: {e}")),
    };
    let mut o = Outcome::default();
    let want = expected_summary(&read("summary").unwrap_or_default());
    let got: Vec<String> = t.summary.iter().map(|l| normalize(l)).collect();
    o.fail(Check::Summary, line_diff(&want, &got));
    if let Ok(scores) = read("scores") {
        o.scored = true;
        o.fail(
            Check::Scores,
            line_diff(&score_lines(&scores), &score_lines(&t.raw_scores())),
        );
    }
    if let Ok(exp) = read("exp") {
        o.graphed = true;
        let ours = hactl_policy::graph_xml_at(&cib, &t, now);
        let details = match (Graph::parse(&exp), Graph::parse(&ours)) {
            (Ok(want), Ok(got)) => graph::diff(&want, &got),
            (Err(e), _) => vec![format!("cannot read the .exp: {e}")],
            (_, Err(e)) => vec![format!("cannot read hactl's graph: {e}")],
        };
        o.fail(Check::Graph, details);
    }
    o
}

/// Per set: how many cases agree on each comparison.
#[derive(Default)]
struct Counts {
    cases: usize,
    refused: usize,
    summary: usize,
    graph: usize,
    graphs: usize,
    both: usize,
    scores: usize,
    scored: usize,
}

impl Counts {
    fn add(&mut self, o: &Outcome) {
        self.cases += 1;
        self.refused += usize::from(o.failed.contains_key(&Check::Refused));
        self.summary += usize::from(o.ok(Check::Summary));
        self.graphs += usize::from(o.graphed);
        self.graph += usize::from(o.graphed && o.ok(Check::Graph));
        self.both += usize::from(o.ok(Check::Summary) && o.ok(Check::Graph));
        self.scored += usize::from(o.scored);
        self.scores += usize::from(o.scored && o.ok(Check::Scores));
    }
}

impl std::fmt::Display for Counts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} cases: {} agree (summary and graph), {} disagree, {} refused; \
             summary {}/{}, graph {}/{}, scores {}/{}",
            self.cases,
            self.both,
            self.cases - self.both - self.refused,
            self.refused,
            self.summary,
            self.cases,
            self.graph,
            self.graphs,
            self.scores,
            self.scored
        )
    }
}

#[test]
fn pacemaker_cts() {
    let known_text = std::fs::read_to_string(known_path()).unwrap_or_default();
    let known = parse_known(&known_text).unwrap_or_else(|e| panic!("{e}"));
    let mut outcomes: BTreeMap<String, Outcome> = BTreeMap::new();
    let mut report = Vec::new();
    for (set, dir) in sets() {
        let cases = case_files(&dir);
        assert!(!cases.is_empty(), "no cases found in {}", dir.display());
        let mut counts = Counts::default();
        for path in &cases {
            let o = run_case(path);
            counts.add(&o);
            let name = case_name(path);
            assert!(
                outcomes.insert(name.clone(), o).is_none(),
                "{name} is in two case sets"
            );
        }
        report.push(format!("{set}: {counts}"));
    }
    match std::env::var("CTS_KNOWN").as_deref() {
        Ok("print") => print!("{}", render_known(&outcomes, &known)),
        Ok("write") => std::fs::write(known_path(), render_known(&outcomes, &known))
            .expect("write cts-known-failures.txt"),
        _ => {}
    }
    let mut problems = Vec::new();
    for (name, o) in &outcomes {
        let kinds = o.kinds();
        let listed = known.get(name).map(|k| k.kinds.as_str()).unwrap_or("");
        let details = || {
            o.failed
                .iter()
                .flat_map(|(c, d)| d.iter().map(move |l| format!("    {c} {l}\n")))
                .collect::<String>()
        };
        if kinds == listed {
            if !kinds.is_empty() && std::env::var_os("CTS_KNOWN").is_none() {
                println!(
                    "known failure {name} ({kinds}: {}):\n{}",
                    known[name].reason,
                    details()
                );
            }
            continue;
        }
        let now = if kinds.is_empty() {
            "agrees now".to_string()
        } else {
            format!("fails {kinds:?}")
        };
        problems.push(format!(
            "{name}: {now}, cts-known-failures.txt lists {listed:?} \
             (update it: CTS_KNOWN=write){}",
            if details().is_empty() {
                String::new()
            } else {
                format!(":\n{}", details())
            }
        ));
    }
    for k in known.keys().filter(|k| !outcomes.contains_key(*k)) {
        problems.push(format!(
            "{k}: listed in cts-known-failures.txt but no such case"
        ));
    }
    for line in &report {
        println!("{line}");
    }
    if std::env::var("CTS_KNOWN").as_deref() != Ok("write") {
        assert!(
            problems.is_empty(),
            "\n{}\n{}",
            problems.join("\n"),
            report.join("\n")
        );
    }
}

/// `CTS_CASE=name cargo test -p hactl-tests --test cts -- --nocapture one_case` prints
/// one case's summaries, actions and score explanation, and its differences from
/// the `.scores` file (`CTS_RAW=1` also prints hactl's score lines) (for debugging).
#[test]
fn one_case() {
    let Ok(name) = std::env::var("CTS_CASE") else {
        return;
    };
    let path = sets()
        .into_iter()
        .map(|(_, d)| d.join(format!("{name}.xml")))
        .find(|p| p.exists())
        .expect("case exists");
    let xml = std::fs::read_to_string(&path).expect("case exists");
    let cib = hactl_cib_xml::import(&xml).unwrap_or_else(|e| panic!("import: {e}"));
    let now = case_now(&name, cib.execution_date);
    let t = hactl_policy::schedule(&cib, now).unwrap_or_else(|e| panic!("schedule: {e}"));
    print!(
        "{}",
        hactl_policy::format_status(&cib, &t, hactl_policy::StatusView::Current)
    );
    print!("{}", t.summary_text());
    let expected = std::fs::read_to_string(path.with_extension("summary")).unwrap_or_default();
    println!("expected:\n  {}", expected_summary(&expected).join("\n  "));
    for a in &t.actions {
        println!("action {a:?}");
    }
    print!("{}", t.explain_text());
    if let Ok(scores) = std::fs::read_to_string(path.with_extension("scores")) {
        let diff = line_diff(&score_lines(&scores), &score_lines(&t.raw_scores()));
        println!("scores differences:\n  {}", diff.join("\n  "));
        if std::env::var_os("CTS_RAW").is_some() {
            print!("{}", t.raw_scores());
        }
    }
    if let Ok(exp) = std::fs::read_to_string(path.with_extension("exp")) {
        let ours = hactl_policy::graph_xml(&cib, &t);
        if let (Ok(want), Ok(got)) = (Graph::parse(&exp), Graph::parse(&ours)) {
            println!(
                "graph differences:\n  {}",
                graph::diff(&want, &got).join("\n  ")
            );
        }
    }
}

/// The text between `header` and the next blank line that is followed by a
/// non-indented line (the status blocks contain one inner blank line).
fn block(text: &str, header: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut inside = false;
    for line in text.lines() {
        if line.starts_with(header) {
            inside = true;
            continue;
        }
        if inside {
            if !line.trim().is_empty() && !line.starts_with(' ') {
                break;
            }
            if !line.trim().is_empty() {
                out.push(normalize(line));
            }
        }
    }
    out
}

/// Status blocks (`format_status`) that do not match crm_simulate's yet.
const KNOWN_STATUS_DIFFS: &[(&str, &str)] = &[
    (
        "bug-5028-detach",
        "group maintenance shown on members instead of the group line",
    ),
    (
        "expire-non-blocked-failure",
        "an expired failure of a blocked op is not shown as FAILED (blocked)",
    ),
];

/// The "Current cluster status" and "Revised Cluster Status" blocks of every case,
/// compared like the summaries (whitespace- and order-insensitive).
#[test]
fn pacemaker_cts_status_blocks() {
    let mut agree = 0;
    let mut problems = Vec::new();
    let mut known_seen: Vec<String> = Vec::new();
    let mut total = 0;
    for path in case_files(&data_dir()) {
        let xml = std::fs::read_to_string(&path).unwrap();
        let cib = hactl_cib_xml::import(&xml).unwrap();
        let now = case_now(&case_name(&path), cib.execution_date);
        let t = hactl_policy::schedule(&cib, now).unwrap();
        let want_text = std::fs::read_to_string(path.with_extension("summary")).unwrap();
        for (view, header) in [
            (hactl_policy::StatusView::Current, "Current cluster status:"),
            (hactl_policy::StatusView::Revised, "Revised Cluster Status:"),
        ] {
            total += 1;
            let got = block(&hactl_policy::format_status(&cib, &t, view), header);
            let want = block(&want_text, header);
            let name = path.file_stem().unwrap().to_string_lossy().to_string();
            let known = KNOWN_STATUS_DIFFS.iter().any(|(k, _)| *k == name);
            let lines = line_diff(&want, &got);
            if lines.is_empty() {
                agree += 1;
                continue;
            }
            let diff = format!(
                "{name} {header} (- expected, + got)\n{}",
                lines.iter().map(|l| format!("  {l}\n")).collect::<String>()
            );
            if known {
                known_seen.push(name.clone());
                println!("known difference: {diff}");
            } else {
                problems.push(diff);
            }
        }
    }
    for (k, _) in KNOWN_STATUS_DIFFS {
        if !known_seen.iter().any(|s| s == k) {
            problems.push(format!(
                "{k}: status blocks agree now; remove it from KNOWN_STATUS_DIFFS"
            ));
        }
    }
    println!("{agree} of {total} status blocks agree");
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

/// The non-empty lines of a `.scores` file or of hactl's score output, trimmed.
fn score_lines(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}
