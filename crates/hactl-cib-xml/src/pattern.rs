//! `rsc-pattern` in a location constraint: the constraint applies to every
//! top-level resource whose id the regular expression matches (anywhere in the
//! id, as POSIX `regexec` does), or, with a leading `!`, to every one it does
//! not match. Pacemaker expands it when it unpacks the constraint; so does the
//! import, against the resources read before the constraints section. Each
//! copy gets its own id (`ID.RESOURCE`), as hactl's ids are unique; the
//! pattern itself is not kept, so a resource added later is not matched.

use hactl_model::{Configuration, LocationConstraint};
use regex::Regex;

use crate::dom::Element;
use crate::import::{invalid, unsupported};
use crate::ImportError;

/// The resources an `rsc-pattern` names, or `None` when the constraint names
/// its resource with `rsc`.
pub(crate) fn location_targets(
    k: &Element,
    config: &Configuration,
) -> Result<Option<Vec<String>>, ImportError> {
    let Some(pattern) = k.attr("rsc-pattern") else {
        return Ok(None);
    };
    if k.attr("rsc").is_some() {
        return Err(unsupported(
            k,
            "a location constraint with both rsc and rsc-pattern",
        ));
    }
    // A rule may name the pattern's submatches (%1); that substitution is not
    // implemented, so a pattern with rules stays refused.
    if k.children.iter().any(|c| c.name == "rule") {
        return Err(unsupported(
            k,
            "rsc-pattern with rules is not supported yet",
        ));
    }
    let (invert, body) = match pattern.strip_prefix('!') {
        Some(rest) => (true, rest),
        None => (false, pattern),
    };
    let re = Regex::new(body)
        .map_err(|_| invalid(k, "rsc-pattern", pattern, "not a regular expression"))?;
    Ok(Some(
        top_level_ids(config)
            .filter(|id| re.is_match(id) != invert)
            .map(str::to_string)
            .collect(),
    ))
}

/// Top-level resources: what Pacemaker matches a pattern against (a group's
/// or clone's members are not matched on their own).
fn top_level_ids(config: &Configuration) -> impl Iterator<Item = &str> {
    let resources = config.resources.iter().map(|r| r.id());
    resources.chain(config.bundles.iter().map(|b| b.id.as_str()))
}

/// Adds the constraint once per resource it names, each under its own id.
pub(crate) fn push_location(
    c: LocationConstraint,
    targets: Option<Vec<String>>,
    config: &mut Configuration,
) {
    let Some(targets) = targets else {
        config.constraints.location.push(c);
        return;
    };
    for rsc in targets {
        let id = format!("{}.{rsc}", c.id);
        config.constraints.location.push(LocationConstraint {
            id,
            rsc,
            ..c.clone()
        });
    }
}

/// The first location constraint with an `rsc-pattern` in `xml`, as the error a
/// running cluster gives it (`hactl cib push`, `cib import`): the import expands
/// the pattern once, against the file's resources, where Pacemaker matches it
/// again whenever it schedules, so a resource added later would silently not be
/// matched. `hactl simulate` schedules one CIB and expands it as Pacemaker does.
pub fn cluster_refusal(xml: &str) -> Result<Option<ImportError>, ImportError> {
    let mut found = None;
    crate::dom::parse_with(xml, |ancestors, el| {
        if found.is_none() && el.name == "rsc_location" && el.attr("rsc-pattern").is_some() {
            found = Some(unsupported(
                &el,
                "rsc-pattern in a running cluster: the pattern would be expanded \
                 once, so resources added later would not match it \
                 (hactl simulate expands it as Pacemaker does)",
            ));
        }
        // Only the (childless) root is kept: the first pattern is all that is
        // looked for.
        Ok(ancestors.is_empty().then_some(el))
    })?;
    Ok(found)
}
