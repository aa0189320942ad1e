//! A bundle in the status views, as crm_mon shows it: `Container bundle set:
//! <id> [<image>]:` and one line per replica, named by its container (or, with
//! an address, `<container> (<address>)`).

use std::fmt::Write;

use hactl_model::bundle::Bundle;

use crate::output::rsc_line_named;
use crate::{Placement, StatusView, Transition};

pub(crate) fn bundle_block<'t>(
    out: &mut String,
    b: &Bundle,
    find: &dyn Fn(&str) -> Option<&'t Placement>,
    t: &Transition,
    view: StatusView,
) {
    let _ = writeln!(out, "    * Container bundle set: {} [{}]:", b.id, b.image);
    let addresses = b.replica_addresses();
    for i in 0..b.replica_count() {
        let container = b.container_id(i);
        let Some(pl) = find(&container) else { continue };
        let name = match addresses.get(i as usize).cloned().flatten() {
            Some(a) => format!("{container} ({a})"),
            None => container,
        };
        let _ = writeln!(out, "      * {}", rsc_line_named(&name, pl, t, view));
    }
}
