//! Fence agent metadata (`action=metadata` output): the shared `<resource-agent>`
//! format (crate `hactl-agent-metadata`), plus what only the fencer knows: its own
//! device parameters, the target parameter, and `hactl stonith describe`'s help text.

pub use hactl_agent_metadata::{parse, Action, AgentMetadata, MetadataError, Parameter};
use std::fmt::Write;

/// Parameters the fencer itself understands on every device (not passed to agents).
pub const DEVICE_PARAMETERS: &[(&str, &str)] = &[
    (
        "pcmk_host_map",
        "Map node names to plug names, e.g. \"node1:dom1;node2:dom2\"",
    ),
    (
        "pcmk_host_list",
        "Nodes this device can fence (space, comma or semicolon separated)",
    ),
    (
        "pcmk_host_check",
        "How to find which nodes the device can fence: static-list, dynamic-list, status, none \
         (default: static-list if pcmk_host_list or pcmk_host_map is set, else dynamic-list)",
    ),
    (
        "pcmk_timeout",
        "Time limit for one fencing operation including retries (default 60s)",
    ),
    (
        "pcmk_retries",
        "How often to retry a failed agent run within the time limit (default 2)",
    ),
];

/// Help text in the style of `pcs stonith describe`.
pub fn render_help(md: &AgentMetadata) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "{} - {}", md.name, md.shortdesc);
    if !md.longdesc.is_empty() {
        let _ = writeln!(s, "\n{}", md.longdesc);
    }
    if let Some(u) = &md.vendor_url {
        let _ = writeln!(s, "\nVendor: {u}");
    }
    let _ = writeln!(s, "\nStonith options:");
    for p in &md.parameters {
        // The action is chosen by the fencer, never configured.
        if p.name == "action" {
            continue;
        }
        let mut tags = Vec::new();
        if p.required {
            tags.push("required".to_string());
        }
        if p.deprecated {
            tags.push("deprecated".to_string());
        }
        if let Some(o) = &p.obsoletes {
            tags.push(format!("replaces {o}"));
        }
        let tags = if tags.is_empty() {
            String::new()
        } else {
            format!(" ({})", tags.join(", "))
        };
        let _ = write!(s, "  {}{}: {}", p.name, tags, p.shortdesc);
        if !p.options.is_empty() {
            let _ = write!(s, " [{}]", p.options.join(", "));
        }
        // Many agents already state the default in the description.
        let said = p.shortdesc.to_ascii_lowercase().contains("default");
        if let Some(d) = p.default.as_deref().filter(|d| !d.is_empty() && !said) {
            let _ = write!(s, " (default: {d})");
        }
        s.push('\n');
    }
    let _ = writeln!(s, "\nDefault stonith options:");
    for (n, d) in DEVICE_PARAMETERS {
        let _ = writeln!(s, "  {n}: {d}");
    }
    if !md.actions.is_empty() {
        let names: Vec<&str> = md.actions.iter().map(|a| a.name.as_str()).collect();
        let _ = writeln!(s, "\nActions: {}", names.join(", "));
    }
    s
}

/// The parameter name to send the target in: `plug` if the agent has it, else `port`.
pub fn target_parameter(md: &AgentMetadata) -> &'static str {
    if md.parameters.iter().any(|p| p.name == "plug") {
        "plug"
    } else {
        "port"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_our_agent_metadata() {
        let md = parse(crate::xvm::options::METADATA).unwrap();
        assert_eq!(md.name, "fence_hactl_xvm");
        assert!(md.shortdesc.starts_with("Fence agent for virtual machines"));
        assert!(md.longdesc.contains("drop-in for fence_xvm"));
        assert_eq!(md.vendor_url.as_deref(), Some("https://libvirt.org"));
        let plug = md.parameters.iter().find(|p| p.name == "plug").unwrap();
        assert!(plug.required);
        assert_eq!(plug.obsoletes.as_deref(), Some("port"));
        assert_eq!(plug.getopt.as_deref(), Some("-n"));
        let hash = md.parameters.iter().find(|p| p.name == "hash").unwrap();
        assert_eq!(hash.default.as_deref(), Some("sha256"));
        assert_eq!(hash.options, ["none", "sha1", "sha256", "sha512"]);
        assert!(md.supports("list") && md.supports("monitor"));
        assert_eq!(target_parameter(&md), "plug");
        let help = render_help(&md);
        assert!(help.starts_with("fence_hactl_xvm - Fence agent"));
        assert!(help.contains("  plug (required, replaces port): Virtual machine"));
        assert!(help.contains("  key_file: Shared key file (default: /etc/cluster/fence_xvm.key)"));
        assert!(help.contains("pcmk_host_map"));
        assert!(!help.contains("  action:"));
    }

    #[test]
    fn bad_metadata_is_an_error() {
        assert!(matches!(parse("<foo/>"), Err(MetadataError::NoAgent)));
        assert!(matches!(
            parse("<resource-agent name='x'><parameters></resource-agent>"),
            Err(MetadataError::Xml { .. })
        ));
    }

    #[test]
    fn port_only_agents_get_port() {
        let md = parse(
            r#"<resource-agent name="fence_old"><parameters>
            <parameter name="port"><content type="string"/><shortdesc lang="en">Plug</shortdesc>
            <shortdesc lang="de">Stecker</shortdesc></parameter></parameters></resource-agent>"#,
        )
        .unwrap();
        assert_eq!(target_parameter(&md), "port");
        assert_eq!(md.parameters[0].shortdesc, "Plug");
    }
}
