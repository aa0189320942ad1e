//! IPVS virtual services in the views: the state the node holding each
//! `ocf:hactl:ipvs` service publishes as a transient attribute
//! ([`hactl_model::ipvs_status`]): real servers with health, weight and the kernel's
//! connection counts.

use std::fmt::Write;

use hactl_model::ipvs_status::{resource_of, IpvsRealServerState, IpvsServiceState};
use hactl_model::Cib;
use serde::Serialize;

use crate::time::format_time;

/// One service as the node holding it last published it (`ipvs[]` in the JSON).
#[derive(Clone, Debug, Serialize)]
pub struct IpvsView {
    pub resource: String,
    /// The node that holds the service and published this.
    pub node: String,
    #[serde(flatten)]
    pub state: IpvsServiceState,
}

/// Whether a node attribute carries a service's state (not an attribute to list).
pub fn is_state_attr(name: &str) -> bool {
    resource_of(name).is_some()
}

/// Every published service, by resource then node. A value that does not decode (a
/// newer daemon's shape) is left out rather than shown wrong.
pub fn services(cib: &Cib) -> Vec<IpvsView> {
    let mut out: Vec<IpvsView> = cib
        .status
        .nodes
        .iter()
        .flat_map(|(node, st)| {
            st.attributes.iter().filter_map(move |(k, v)| {
                let rsc = resource_of(k)?;
                let state = serde_json::from_str(v).ok()?;
                Some(IpvsView {
                    resource: rsc.to_string(),
                    node: node.clone(),
                    state,
                })
            })
        })
        .collect();
    out.sort_by(|a, b| (&a.resource, &a.node).cmp(&(&b.resource, &b.node)));
    out
}

fn server_line(r: &IpvsRealServerState) -> String {
    let mut s = format!("    * {}", r.address);
    if r.sorry_server {
        s.push_str(" (sorry server)");
    }
    if r.health != "unchecked" {
        let _ = write!(s, " {}", r.health);
        if let Some(t) = r.since {
            let _ = write!(s, " since {}", format_time(t));
        }
    }
    match r.weight {
        Some(w) => {
            let _ = write!(
                s,
                ": weight {w}/{}, {} active, {} inactive, {} total connections",
                r.configured_weight, r.active_conns, r.inactive_conns, r.conns
            );
        }
        None => s.push_str(": not in the table"),
    }
    s
}

/// The "IPVS Services" section of the text view (nothing when there are none).
pub fn render(out: &mut String, services: &[IpvsView]) {
    if services.is_empty() {
        return;
    }
    out.push_str("\nIPVS Services:\n");
    for v in services {
        let st = &v.state;
        let _ = write!(
            out,
            "  * {} ({} {} {}, check {}) on {}",
            v.resource, st.service, st.scheduler, st.forward, st.check, v.node
        );
        if st.in_kernel {
            let _ = writeln!(
                out,
                ": {} connections, read {}",
                st.conns,
                format_time(st.read_at)
            );
        } else {
            let _ = writeln!(out, ": NOT in the kernel's table");
        }
        for r in &st.real_servers {
            let _ = writeln!(out, "{}", server_line(r));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hactl_model::ipvs_status::attr_name;

    #[test]
    fn published_services_are_read_back_and_undecodable_ones_left_out() {
        let st = IpvsServiceState {
            service: "10.0.0.100:80/tcp".into(),
            scheduler: "wlc".into(),
            forward: "dr".into(),
            in_kernel: true,
            check: "tcp".into(),
            read_at: 0,
            conns: 7,
            real_servers: vec![
                IpvsRealServerState {
                    address: "10.0.0.11:80".into(),
                    health: "up".into(),
                    since: Some(0),
                    configured_weight: 2,
                    weight: Some(2),
                    forward: "dr".into(),
                    active_conns: 3,
                    inactive_conns: 1,
                    conns: 7,
                    ..Default::default()
                },
                IpvsRealServerState {
                    address: "10.0.0.12:80".into(),
                    health: "down".into(),
                    since: Some(60),
                    configured_weight: 1,
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        let mut cib = Cib::default();
        let attrs = &mut cib.status.nodes.entry("n1".into()).or_default().attributes;
        attrs.insert(attr_name("web"), serde_json::to_string(&st).unwrap());
        attrs.insert(attr_name("bad"), "{not json".into());
        let got = services(&cib);
        assert_eq!(got.len(), 1);
        assert_eq!(
            (got[0].resource.as_str(), got[0].node.as_str()),
            ("web", "n1")
        );
        let mut text = String::new();
        render(&mut text, &got);
        assert_eq!(
            text,
            "\nIPVS Services:\n  * web (10.0.0.100:80/tcp wlc dr, check tcp) on n1: 7 connections, read 1970-01-01 00:00:00\n    * 10.0.0.11:80 up since 1970-01-01 00:00:00: weight 2/2, 3 active, 1 inactive, 7 total connections\n    * 10.0.0.12:80 down since 1970-01-01 00:01:00: not in the table\n"
        );
    }
}
