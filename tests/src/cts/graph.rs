//! Comparing two transition graphs in Pacemaker's XML (`.exp` files and what
//! `hactl simulate --save-graph` writes).
//!
//! Two graphs agree when they have the same real actions (`rsc_op` and `crm_event`:
//! operation key and node) and order them the same way. Pseudo events (`grp_running_0`,
//! stops implied by fencing, ...) are the glue between real actions and need not
//! match one for one, so the ordering compared is the partial order the graph
//! imposes on its real actions: A before B when B waits for A along any path of
//! inputs, through pseudo events and other actions alike. Two graphs that order the
//! same real actions the same way agree even if one spells an ordering with a
//! redundant edge the other leaves implied.

use std::collections::{BTreeSet, HashMap};

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

/// One action of a graph.
#[derive(Debug, Clone)]
struct Node {
    /// `operation_key on node` (real actions) or `operation_key` (pseudo events).
    label: String,
    pseudo: bool,
    /// Ids of the actions this one waits for.
    inputs: Vec<String>,
}

/// A parsed transition graph: actions by their id in the file.
#[derive(Debug, Default)]
pub struct Graph {
    nodes: HashMap<String, Node>,
}

fn attr(e: &BytesStart<'_>, name: &[u8]) -> Result<Option<String>, String> {
    for a in e.attributes() {
        let a = a.map_err(|err| err.to_string())?;
        if a.key.as_ref() == name {
            return a
                .unescape_value()
                .map(|v| Some(v.into_owned()))
                .map_err(|err| err.to_string());
        }
    }
    Ok(None)
}

/// `(id, label, pseudo)` of an action element; None for other elements.
fn action(e: &BytesStart<'_>) -> Result<Option<(String, String, bool)>, String> {
    let pseudo = match e.name().as_ref() {
        b"rsc_op" | b"crm_event" => false,
        b"pseudo_event" => true,
        _ => return Ok(None),
    };
    let id = attr(e, b"id")?.ok_or("action without id")?;
    let key = attr(e, b"operation_key")?.ok_or("action without operation_key")?;
    let label = match (pseudo, attr(e, b"on_node")?) {
        (false, Some(n)) => format!("{key} on {n}"),
        _ => key,
    };
    Ok(Some((id, label, pseudo)))
}

impl Graph {
    /// Parses transition-graph XML.
    pub fn parse(xml: &str) -> Result<Graph, String> {
        let mut r = Reader::from_str(xml);
        let mut g = Graph::default();
        let mut depth_in_synapse: Vec<&'static str> = Vec::new();
        let mut current: Option<String> = None;
        loop {
            let ev = r.read_event().map_err(|e| e.to_string())?;
            let (e, empty) = match &ev {
                Event::Start(e) => (e, false),
                Event::Empty(e) => (e, true),
                Event::End(e) => {
                    match e.name().as_ref() {
                        b"action_set" | b"inputs" | b"synapse" => {
                            depth_in_synapse.pop();
                        }
                        _ => {}
                    }
                    continue;
                }
                Event::Eof => break,
                _ => continue,
            };
            match e.name().as_ref() {
                b"synapse" if !empty => depth_in_synapse.push("synapse"),
                b"action_set" if !empty => depth_in_synapse.push("action_set"),
                b"inputs" if !empty => depth_in_synapse.push("inputs"),
                _ => {}
            }
            let Some((id, label, pseudo)) = action(e)? else {
                continue;
            };
            match depth_in_synapse.last() {
                Some(&"action_set") => {
                    g.nodes.entry(id.clone()).or_insert(Node {
                        label,
                        pseudo,
                        inputs: Vec::new(),
                    });
                    current = Some(id);
                }
                Some(&"inputs") => {
                    let cur = current.clone().ok_or("inputs before the action_set")?;
                    g.nodes
                        .get_mut(&cur)
                        .ok_or("inputs of an unknown action")?
                        .inputs
                        .push(id);
                }
                _ => {}
            }
        }
        Ok(g)
    }

    /// The labels of the real actions.
    fn real(&self) -> BTreeSet<&str> {
        self.nodes
            .values()
            .filter(|n| !n.pseudo)
            .map(|n| n.label.as_str())
            .collect()
    }

    /// `(before, after)` for every pair of real actions where `after` waits for
    /// `before` along some path of inputs.
    fn order(&self) -> BTreeSet<(&str, &str)> {
        let mut out = BTreeSet::new();
        for (id, n) in self.nodes.iter().filter(|(_, n)| !n.pseudo) {
            let mut seen: BTreeSet<&str> = BTreeSet::new();
            let mut stack: Vec<&str> = n.inputs.iter().map(String::as_str).collect();
            while let Some(i) = stack.pop() {
                if i == id || !seen.insert(i) {
                    continue;
                }
                let Some(m) = self.nodes.get(i) else { continue };
                if !m.pseudo {
                    out.insert((m.label.as_str(), n.label.as_str()));
                }
                stack.extend(m.inputs.iter().map(String::as_str));
            }
        }
        out
    }
}

/// The differences between an expected and an actual graph: `-`/`+` actions, then
/// `-`/`+` orderings between actions both have. Empty when they agree.
pub fn diff(want: &Graph, got: &Graph) -> Vec<String> {
    let (wa, ga) = (want.real(), got.real());
    let mut out: Vec<String> = wa.difference(&ga).map(|a| format!("-{a}")).collect();
    out.extend(ga.difference(&wa).map(|a| format!("+{a}")));
    let both = |(a, b): &&(&str, &str)| {
        wa.contains(a) && wa.contains(b) && ga.contains(a) && ga.contains(b)
    };
    let (wo, go) = (want.order(), got.order());
    let wo: BTreeSet<_> = wo.iter().filter(both).collect();
    let go: BTreeSet<_> = go.iter().filter(both).collect();
    out.extend(
        wo.difference(&go)
            .map(|(a, b)| format!("-order {a} then {b}")),
    );
    out.extend(
        go.difference(&wo)
            .map(|(a, b)| format!("+order {a} then {b}")),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn synapse(id: &str, element: &str, key: &str, node: Option<&str>, inputs: &[&str]) -> String {
        let on = node
            .map(|n| format!(r#" on_node="{n}""#))
            .unwrap_or_default();
        let trig: String = inputs
            .iter()
            .map(|i| format!(r#"<trigger><rsc_op id="{i}" operation_key="x"/></trigger>"#))
            .collect();
        format!(
            r#"<synapse><action_set><{element} id="{id}" operation_key="{key}"{on}><attributes/></{element}></action_set><inputs>{trig}</inputs></synapse>"#
        )
    }

    fn graph(synapses: &[String]) -> Graph {
        Graph::parse(&format!(
            "<transition_graph>{}</transition_graph>",
            synapses.concat()
        ))
        .unwrap()
    }

    #[test]
    fn pseudo_events_are_followed_and_redundant_edges_do_not_matter() {
        // a -> g_running (pseudo) -> b, and a -> b directly in the other graph.
        let via_pseudo = graph(&[
            synapse("1", "rsc_op", "a_start_0", Some("n1"), &[]),
            synapse("2", "pseudo_event", "g_running_0", None, &["1"]),
            synapse("3", "rsc_op", "b_start_0", Some("n1"), &["2"]),
        ]);
        let direct = graph(&[
            synapse("7", "rsc_op", "a_start_0", Some("n1"), &[]),
            synapse("9", "rsc_op", "b_start_0", Some("n1"), &["7"]),
        ]);
        assert_eq!(diff(&via_pseudo, &direct), Vec::<String>::new());
        let unordered = graph(&[
            synapse("7", "rsc_op", "a_start_0", Some("n1"), &[]),
            synapse("9", "rsc_op", "b_start_0", Some("n1"), &[]),
        ]);
        assert_eq!(
            diff(&via_pseudo, &unordered),
            vec!["-order a_start_0 on n1 then b_start_0 on n1".to_string()]
        );
        let other_node = graph(&[
            synapse("7", "rsc_op", "a_start_0", Some("n2"), &[]),
            synapse("8", "crm_event", "stonith-n3-reboot", Some("n3"), &[]),
            synapse("9", "rsc_op", "b_start_0", Some("n1"), &["7"]),
        ]);
        assert_eq!(
            diff(&via_pseudo, &other_node),
            vec![
                "-a_start_0 on n1".to_string(),
                "+a_start_0 on n2".to_string(),
                "+stonith-n3-reboot on n3".to_string()
            ]
        );
    }
}
