//! Node health (`node-health-strategy` with `#health-*` node attributes): each
//! node's summed health becomes a location score for every resource on it, as
//! Pacemaker applies it. `red`, `yellow` and `green` read as the
//! `node-health-red|yellow|green` properties, whose defaults depend on the strategy.

use hactl_model::values::parse_bool;
use hactl_model::{Attrs, Score};

use crate::sched::{RscRef, Sched};

/// The strategies Pacemaker knows.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Strategy {
    None,
    MigrateOnRed,
    OnlyGreen,
    Progressive,
    Custom,
}

fn strategy(props: &Attrs) -> Strategy {
    match props.get("node-health-strategy").map(|s| s.trim()) {
        Some("migrate-on-red") => Strategy::MigrateOnRed,
        Some("only-green") => Strategy::OnlyGreen,
        Some("progressive") => Strategy::Progressive,
        Some("custom") => Strategy::Custom,
        _ => Strategy::None,
    }
}

/// The score a colour stands for: the property when set, else the strategy's.
fn colour_score(props: &Attrs, strategy: Strategy, colour: &str) -> Score {
    if let Some(s) = props
        .get(&format!("node-health-{colour}"))
        .and_then(|v| v.parse::<Score>().ok())
    {
        return s;
    }
    match (strategy, colour) {
        (Strategy::MigrateOnRed | Strategy::OnlyGreen, "red") => Score::NEG_INFINITY,
        (Strategy::OnlyGreen, "yellow") => Score::NEG_INFINITY,
        _ => Score::ZERO,
    }
}

/// The overall health of a node: the base plus every `#health*` attribute.
fn node_health(attrs: &Attrs, props: &Attrs, strategy: Strategy, base: Score) -> Score {
    attrs
        .iter()
        .filter(|(k, _)| k.starts_with("#health"))
        .map(|(_, v)| match v.trim() {
            c @ ("red" | "yellow" | "green") => colour_score(props, strategy, c),
            other => other.parse::<Score>().unwrap_or(Score::ZERO),
        })
        .fold(base, |sum, s| sum + s)
}

impl Sched<'_> {
    /// Adds each node's health to every resource's score there (negative health
    /// spares resources with `allow-unhealthy-nodes=true`).
    pub(crate) fn apply_node_health(&mut self) {
        let props = &self.cib.config.properties;
        let strategy = strategy(props);
        if strategy == Strategy::None {
            return;
        }
        let base = match strategy {
            Strategy::Progressive => props
                .get("node-health-base")
                .and_then(|v| v.parse::<Score>().ok())
                .unwrap_or(Score::ZERO),
            _ => Score::ZERO,
        };
        let label = format!(
            "node-health-strategy={}",
            props["node-health-strategy"].trim()
        );
        for n in 0..self.nodes.len() {
            let health = node_health(&self.nodes[n].attrs, props, strategy, base);
            if health == Score::ZERO {
                continue;
            }
            for r in self.top.clone() {
                let (first, rest) = match r {
                    RscRef::C(ci) => {
                        // As for a location constraint on the clone.
                        if !(health < Score::ZERO && self.allows_unhealthy(r)) {
                            self.clone_location(ci, n, health, label.clone());
                        }
                        continue;
                    }
                    RscRef::P(p) => (p, Vec::new()),
                    RscRef::G(g) => match self.groups[g].members.split_first() {
                        Some((f, rest)) => (*f, rest.to_vec()),
                        None => continue,
                    },
                };
                if health < Score::ZERO && self.allows_unhealthy(r) {
                    continue;
                }
                self.location(first, Some(n), health, label.clone());
                // As for a location constraint on a group: the other members may
                // follow the first there.
                for m in rest {
                    if self.prims[m].allowed[n].is_none() {
                        self.prims[m].allowed[n] = Some(Score::ZERO);
                    }
                }
            }
        }
    }

    fn allows_unhealthy(&self, r: RscRef) -> bool {
        let cib = self.cib;
        let meta = match r {
            RscRef::P(p) => self.prims[p].def.map(|d| &d.meta),
            RscRef::G(g) => Some(&self.groups[g].def.meta),
            RscRef::C(ci) => cib
                .config
                .clone_of(&self.clones[ci].def.id)
                .map(|c| &c.meta),
        };
        meta.and_then(|m| m.get("allow-unhealthy-nodes"))
            .or_else(|| cib.config.rsc_defaults.get("allow-unhealthy-nodes"))
            .and_then(|v| parse_bool(v))
            .unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use hactl_model::{Cib, Resource};

    use crate::tests::{base, dummy, running, summary};

    /// rsc1 running on node1, whose `#health-disk` is `colour`.
    fn cib(strategy: &str, colour: &str) -> Cib {
        let mut cib = base(&["node1", "node2"]);
        cib.config
            .resources
            .push(Resource::Primitive(dummy("rsc1")));
        cib.config
            .properties
            .insert("node-health-strategy".into(), strategy.into());
        let n1 = cib.status.nodes.get_mut("node1").unwrap();
        n1.resources.insert("rsc1".into(), running(1));
        n1.attributes.insert("#health-disk".into(), colour.into());
        cib
    }

    const MOVE: &str = "Move rsc1 ( node1 -> node2 )";

    #[test]
    fn red_moves_resources_away_under_migrate_on_red() {
        assert_eq!(summary(&cib("migrate-on-red", "red")), vec![MOVE]);
        assert!(summary(&cib("migrate-on-red", "yellow")).is_empty());
        assert!(summary(&cib("none", "red")).is_empty(), "strategy none");
        assert_eq!(summary(&cib("only-green", "yellow")), vec![MOVE]);
    }

    #[test]
    fn progressive_uses_the_colour_scores_and_allow_unhealthy_nodes() {
        let mut c = cib("progressive", "yellow");
        // Stickiness 0: a yellow score of -10 is enough to move.
        c.config
            .properties
            .insert("node-health-yellow".into(), "-10".into());
        assert_eq!(summary(&c), vec![MOVE]);
        if let Resource::Primitive(p) = &mut c.config.resources[0] {
            p.meta.insert("allow-unhealthy-nodes".into(), "true".into());
        }
        assert!(summary(&c).is_empty(), "negative health spares it");
    }
}
