//! Fence agent metadata (`action=metadata` output) parsed into data, and rendered as
//! help text for `hactl stonith describe`.

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;
use std::fmt::Write;

/// A problem with an agent's metadata.
#[derive(Debug, thiserror::Error)]
pub enum MetadataError {
    #[error("agent metadata is not well-formed XML: {0}")]
    Xml(String),
    #[error("agent metadata has no <resource-agent> element")]
    NoAgent,
}

/// One parameter the agent takes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Parameter {
    pub name: String,
    pub required: bool,
    pub deprecated: bool,
    /// The older name this one replaces (`plug` obsoletes `port`).
    pub obsoletes: Option<String>,
    /// Command-line form, e.g. `-k` or `-k, --key-file=[file]`.
    pub getopt: Option<String>,
    pub content_type: Option<String>,
    pub default: Option<String>,
    /// Values of a `select` content type.
    pub choices: Vec<String>,
    pub shortdesc: String,
    pub longdesc: String,
}

/// One action the agent supports.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ActionInfo {
    pub name: String,
    pub timeout: Option<String>,
    pub on_target: bool,
    pub automatic: bool,
}

/// A fence agent's self-description.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AgentMetadata {
    pub name: String,
    pub shortdesc: String,
    pub longdesc: String,
    pub vendor_url: Option<String>,
    pub parameters: Vec<Parameter>,
    pub actions: Vec<ActionInfo>,
}

fn attr(e: &BytesStart<'_>, name: &str) -> Option<String> {
    e.attributes()
        .flatten()
        .find(|a| a.key.as_ref() == name.as_bytes())
        .and_then(|a| a.unescape_value().ok().map(|v| v.into_owned()))
}

fn flag(e: &BytesStart<'_>, name: &str) -> bool {
    matches!(
        attr(e, name)
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref(),
        Some("1" | "true" | "yes")
    )
}

/// Whether a `lang` attribute is English or absent (agents may ship translations).
fn english(e: &BytesStart<'_>) -> bool {
    attr(e, "lang").is_none_or(|l| l.starts_with("en"))
}

#[derive(PartialEq)]
enum Text {
    None,
    AgentShort,
    AgentLong,
    Vendor,
    ParamShort,
    ParamLong,
}

/// Parses `action=metadata` output.
pub fn parse(xml: &str) -> Result<AgentMetadata, MetadataError> {
    let mut reader = Reader::from_str(xml);
    reader.config_mut().trim_text(true);
    let mut md = AgentMetadata::default();
    let mut seen_agent = false;
    let mut param: Option<Parameter> = None;
    let mut text = Text::None;
    let mut text_buf = String::new();
    loop {
        let ev = reader
            .read_event()
            .map_err(|e| MetadataError::Xml(format!("{e} at byte {}", reader.buffer_position())))?;
        match ev {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let empty = matches!(ev, Event::Empty(_));
                match e.name().as_ref() {
                    b"resource-agent" => {
                        seen_agent = true;
                        md.name = attr(e, "name").unwrap_or_default();
                        md.shortdesc = attr(e, "shortdesc").unwrap_or_default();
                    }
                    b"parameter" => {
                        let p = Parameter {
                            name: attr(e, "name").unwrap_or_default(),
                            required: flag(e, "required"),
                            deprecated: flag(e, "deprecated"),
                            obsoletes: attr(e, "obsoletes"),
                            ..Parameter::default()
                        };
                        if empty {
                            md.parameters.push(p);
                        } else {
                            param = Some(p);
                        }
                    }
                    b"getopt" => {
                        if let Some(p) = param.as_mut() {
                            p.getopt = attr(e, "mixed");
                        }
                    }
                    b"content" => {
                        if let Some(p) = param.as_mut() {
                            p.content_type = attr(e, "type");
                            p.default = attr(e, "default");
                        }
                    }
                    b"option" => {
                        if let (Some(p), Some(v)) = (param.as_mut(), attr(e, "value")) {
                            p.choices.push(v);
                        }
                    }
                    b"action" => md.actions.push(ActionInfo {
                        name: attr(e, "name").unwrap_or_default(),
                        timeout: attr(e, "timeout"),
                        on_target: flag(e, "on_target"),
                        automatic: flag(e, "automatic"),
                    }),
                    b"shortdesc" if !empty && english(e) => {
                        text = if param.is_some() {
                            Text::ParamShort
                        } else {
                            Text::AgentShort
                        };
                        text_buf.clear();
                    }
                    b"longdesc" if !empty && english(e) => {
                        text = if param.is_some() {
                            Text::ParamLong
                        } else {
                            Text::AgentLong
                        };
                        text_buf.clear();
                    }
                    b"vendor-url" if !empty => {
                        text = Text::Vendor;
                        text_buf.clear();
                    }
                    _ => {}
                }
            }
            Event::Text(t) if text != Text::None => {
                let s = t
                    .unescape()
                    .map_err(|e| MetadataError::Xml(e.to_string()))?;
                text_buf.push_str(&s);
            }
            Event::CData(t) if text != Text::None => {
                text_buf.push_str(&String::from_utf8_lossy(&t));
            }
            Event::End(ref e) => match e.name().as_ref() {
                b"shortdesc" | b"longdesc" | b"vendor-url" => {
                    let s = text_buf.trim().to_string();
                    match text {
                        Text::AgentShort if md.shortdesc.is_empty() => md.shortdesc = s,
                        Text::AgentLong => md.longdesc = s,
                        Text::Vendor => md.vendor_url = Some(s),
                        Text::ParamShort => {
                            if let Some(p) = param.as_mut() {
                                p.shortdesc = s;
                            }
                        }
                        Text::ParamLong => {
                            if let Some(p) = param.as_mut() {
                                p.longdesc = s;
                            }
                        }
                        _ => {}
                    }
                    text = Text::None;
                }
                b"parameter" => {
                    if let Some(p) = param.take() {
                        md.parameters.push(p);
                    }
                }
                _ => {}
            },
            Event::Eof => break,
            _ => {}
        }
    }
    if !seen_agent {
        return Err(MetadataError::NoAgent);
    }
    Ok(md)
}

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

impl AgentMetadata {
    /// Help text in the style of `pcs stonith describe`.
    pub fn render_help(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "{} - {}", self.name, self.shortdesc);
        if !self.longdesc.is_empty() {
            let _ = writeln!(s, "\n{}", self.longdesc);
        }
        if let Some(u) = &self.vendor_url {
            let _ = writeln!(s, "\nVendor: {u}");
        }
        let _ = writeln!(s, "\nStonith options:");
        for p in &self.parameters {
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
            if !p.choices.is_empty() {
                let _ = write!(s, " [{}]", p.choices.join(", "));
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
        if !self.actions.is_empty() {
            let names: Vec<&str> = self.actions.iter().map(|a| a.name.as_str()).collect();
            let _ = writeln!(s, "\nActions: {}", names.join(", "));
        }
        s
    }

    /// The parameter name to send the target in: `plug` if the agent has it, else `port`.
    pub fn target_parameter(&self) -> &'static str {
        if self.parameters.iter().any(|p| p.name == "plug") {
            "plug"
        } else {
            "port"
        }
    }

    pub fn supports(&self, action: &str) -> bool {
        self.actions.iter().any(|a| a.name == action)
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
        assert_eq!(hash.choices, ["none", "sha1", "sha256", "sha512"]);
        assert!(md.supports("list") && md.supports("monitor"));
        assert_eq!(md.target_parameter(), "plug");
        let help = md.render_help();
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
            Err(MetadataError::Xml(_))
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
        assert_eq!(md.target_parameter(), "port");
        assert_eq!(md.parameters[0].shortdesc, "Plug");
    }
}
