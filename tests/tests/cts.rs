//! Pacemaker scheduler regression cases: every `tests/data/pacemaker-cts/*.xml` is
//! imported and scheduled, and its Transition Summary is compared with the one
//! Pacemaker itself printed (`<case>.summary`), ignoring whitespace and line order.
//!
//! Cases hactl does not agree with yet are listed in `tests/cts-known-failures.txt`
//! with a reason. The test fails when an unlisted case disagrees, and also when a
//! listed case agrees (so that the list stays honest).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Used when a case has no `execution-date`: 2026-01-01T00:00:00Z.
const DEFAULT_NOW: i64 = 1_767_225_600;

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data/pacemaker-cts")
}

fn normalize(line: &str) -> String {
    let t = line.trim();
    let t = t.strip_prefix("* ").unwrap_or(t);
    t.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The lines of the `Transition Summary:` block of a crm_simulate output.
fn expected_summary(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut inside = false;
    for line in text.lines() {
        if line.starts_with("Transition Summary:") {
            inside = true;
            continue;
        }
        if inside {
            if line.trim().is_empty() || !line.starts_with(' ') {
                break;
            }
            out.push(normalize(line));
        }
    }
    out
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

fn known_failures() -> BTreeMap<String, String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("cts-known-failures.txt");
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| match l.split_once(char::is_whitespace) {
            Some((case, reason)) => (case.to_string(), reason.trim().to_string()),
            None => (l.to_string(), String::new()),
        })
        .collect()
}

/// Runs one case; `Ok(())` when the summaries agree, else a readable diff.
fn run_case(xml_path: &Path) -> Result<(), String> {
    let xml = std::fs::read_to_string(xml_path).map_err(|e| format!("read: {e}"))?;
    let summary_path = xml_path.with_extension("summary");
    let expected_text =
        std::fs::read_to_string(&summary_path).map_err(|e| format!("read summary: {e}"))?;
    let cib = hactl_cib_xml::import(&xml).map_err(|e| format!("import failed: {e}"))?;
    let now = cib.execution_date.unwrap_or(DEFAULT_NOW);
    let t = hactl_policy::schedule(&cib, now).map_err(|e| format!("schedule failed: {e}"))?;
    let got = sorted(t.summary.iter().map(|l| normalize(l)).collect());
    let want = sorted(expected_summary(&expected_text));
    if got == want {
        return Ok(());
    }
    let mut diff = String::new();
    for l in &want {
        if !got.contains(l) {
            diff.push_str(&format!("    - {l}\n"));
        }
    }
    for l in &got {
        if !want.contains(l) {
            diff.push_str(&format!("    + {l}\n"));
        }
    }
    if diff.is_empty() {
        diff.push_str("    (same lines, different multiplicity)\n");
    }
    Err(diff)
}

#[test]
fn pacemaker_cts_transition_summaries() {
    let mut cases: Vec<PathBuf> = std::fs::read_dir(data_dir())
        .expect("tests/data/pacemaker-cts exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "xml"))
        .collect();
    cases.sort();
    assert!(!cases.is_empty(), "no cases found in {:?}", data_dir());
    let known = known_failures();
    let mut agree = 0;
    let mut problems = Vec::new();
    for path in &cases {
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        match run_case(path) {
            Ok(()) => {
                agree += 1;
                if known.contains_key(&name) {
                    problems.push(format!(
                        "{name}: agrees now; remove it from tests/cts-known-failures.txt"
                    ));
                }
            }
            Err(diff) => {
                if let Some(reason) = known.get(&name) {
                    println!("known failure {name} ({reason}):\n{diff}");
                } else {
                    problems.push(format!(
                        "{name}: transition summary differs (- expected, + got):\n{diff}"
                    ));
                }
            }
        }
    }
    for k in known.keys() {
        if !cases
            .iter()
            .any(|p| p.file_stem().is_some_and(|s| s.to_string_lossy() == *k))
        {
            problems.push(format!(
                "{k}: listed in cts-known-failures.txt but no such case"
            ));
        }
    }
    println!("{} of {} agree", agree, cases.len());
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

/// `CTS_CASE=name cargo test -p hactl-tests --test cts -- --nocapture one_case` prints
/// one case's summaries, actions and score explanation (for debugging).
#[test]
fn one_case() {
    let Ok(name) = std::env::var("CTS_CASE") else {
        return;
    };
    let path = data_dir().join(format!("{name}.xml"));
    let xml = std::fs::read_to_string(&path).expect("case exists");
    let cib = hactl_cib_xml::import(&xml).expect("imports");
    let now = cib.execution_date.unwrap_or(DEFAULT_NOW);
    let t = hactl_policy::schedule(&cib, now).expect("schedules");
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
    let mut paths: Vec<PathBuf> = std::fs::read_dir(data_dir())
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "xml"))
        .collect();
    paths.sort();
    for path in paths {
        let xml = std::fs::read_to_string(&path).unwrap();
        let cib = hactl_cib_xml::import(&xml).unwrap();
        let now = cib.execution_date.unwrap_or(DEFAULT_NOW);
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
            if sorted(got.clone()) == sorted(want.clone()) {
                agree += 1;
                continue;
            }
            let mut diff = format!("{name} {header} (- expected, + got)\n");
            for l in &want {
                if !got.contains(l) {
                    diff.push_str(&format!("  - {l}\n"));
                }
            }
            for l in &got {
                if !want.contains(l) {
                    diff.push_str(&format!("  + {l}\n"));
                }
            }
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
