//! Regression cases from `hactl cib generate`: every `tests/data/generated/*.xml`
//! is scheduled and its Transition Summary compared with the one the real
//! `crm_simulate` printed (`<case>.summary`), ignoring whitespace and line order,
//! like the CTS cases. How the files were made: `tests/data/generated/README.md`.
//!
//! Where hactl deliberately follows newer Pacemaker than the `crm_simulate` that
//! wrote the expectation, the exact differing lines are listed in
//! `known-differences.txt` (`<case> -<expected line>` / `<case> +<hactl line>`).
//! The test fails when the differences are anything other than exactly those.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use hactl_tests::cts::{expected_summary, line_diff, normalize};

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data/generated")
}

/// Per case, the expected differences as `-line` / `+line`.
fn known_differences() -> BTreeMap<String, BTreeSet<String>> {
    let text =
        std::fs::read_to_string(data_dir().join("known-differences.txt")).unwrap_or_default();
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for l in text.lines().map(str::trim) {
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        let (case, diff) = l.split_once(char::is_whitespace).unwrap_or((l, ""));
        let diff = diff.trim();
        let (sign, rest) = diff.split_at(diff.len().min(1));
        out.entry(case.to_string())
            .or_default()
            .insert(format!("{sign}{}", normalize(rest)));
    }
    out
}

/// The differences between crm_simulate's summary and hactl's, as `-`/`+` lines.
fn case_diff(xml_path: &Path) -> Result<BTreeSet<String>, String> {
    let xml = std::fs::read_to_string(xml_path).map_err(|e| format!("read: {e}"))?;
    let expected_text = std::fs::read_to_string(xml_path.with_extension("summary"))
        .map_err(|e| format!("read summary: {e}"))?;
    let cib = hactl_cib_xml::import(&xml).map_err(|e| format!("import failed: {e}"))?;
    let now = cib
        .execution_date
        .ok_or("generated CIBs carry an execution-date")?;
    let t = hactl_policy::schedule(&cib, now).map_err(|e| format!("schedule failed: {e}"))?;
    let got: Vec<String> = t.summary.iter().map(|l| normalize(l)).collect();
    let want = expected_summary(&expected_text);
    if want.is_empty() {
        return Err("expected summary is empty (is the .summary file complete?)".into());
    }
    let diff: BTreeSet<String> = line_diff(&want, &got).into_iter().collect();
    Ok(diff)
}

#[test]
fn generated_cib_transition_summaries() {
    let mut cases: Vec<PathBuf> = std::fs::read_dir(data_dir())
        .expect("tests/data/generated exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "xml"))
        .collect();
    cases.sort();
    assert!(!cases.is_empty(), "no cases found in {:?}", data_dir());
    let known = known_differences();
    let mut problems = Vec::new();
    let mut agree = 0;
    for path in &cases {
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        let listed = known.get(&name).cloned().unwrap_or_default();
        match case_diff(path) {
            Err(e) => problems.push(format!("{name}: {e}")),
            Ok(diff) if diff == listed => {
                agree += 1;
                if !listed.is_empty() {
                    println!("{name}: only the {} known differences", listed.len());
                }
            }
            Ok(diff) => {
                let show = |s: &BTreeSet<String>| {
                    s.iter().map(|l| format!("    {l}\n")).collect::<String>()
                };
                problems.push(format!(
                    "{name}: differences (- crm_simulate, + hactl):\n{}  listed in known-differences.txt:\n{}",
                    show(&diff),
                    show(&listed)
                ));
            }
        }
    }
    for k in known.keys() {
        if !cases
            .iter()
            .any(|p| p.file_stem().is_some_and(|s| s.to_string_lossy() == *k))
        {
            problems.push(format!(
                "{k}: listed in known-differences.txt but no such case"
            ));
        }
    }
    println!("{agree} of {} generated cases as expected", cases.len());
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}
