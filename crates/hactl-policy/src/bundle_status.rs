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
    let set = if b.replica_count() > 1 { " set" } else { "" };
    let _ = writeln!(out, "    * Container bundle{set}: {} [{}]:", b.id, b.image);
    let addresses = b.replica_addresses();
    for i in 0..b.replica_count() {
        let container = b.container_id(i);
        let Some(pl) = find(&container) else { continue };
        // With a bundled primitive, the replica is named by its guest node and
        // shows the primitive's state (its role) on the container's host, as
        // crm_mon does; without one, the container.
        let child = b.instance_id(i).and_then(|id| find(&id));
        let base = match child {
            Some(_) => b.replica_node(i),
            None => container,
        };
        let name = match addresses.get(i as usize).cloned().flatten() {
            Some(a) => format!("{base} ({a})"),
            None => base,
        };
        let line = match child {
            Some(c) => rsc_line_named(&name, &on_host(c, pl), t, view),
            None => rsc_line_named(&name, pl, t, view),
        };
        let _ = writeln!(out, "      * {line}");
    }
}

/// The bundled primitive's instance placed where its container runs (its own
/// node is the replica's guest node).
fn on_host(child: &Placement, container: &Placement) -> Placement {
    let host = |own: &[String], host: &[String]| {
        if own.is_empty() {
            Vec::new()
        } else {
            host.to_vec()
        }
    };
    Placement {
        current: host(&child.current, &container.current),
        after: host(&child.after, &container.after),
        ..child.clone()
    }
}
