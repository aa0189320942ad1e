//! OCF meta-data: parsing the XML an agent prints for `meta-data`, and checking a
//! resource's parameters against it before anything runs.

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;
use std::collections::BTreeMap;
use std::time::Duration;

#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct AgentMetadata {
    pub name: String,
    pub version: Option<String>,
    pub shortdesc: String,
    pub longdesc: String,
    pub parameters: Vec<ParamSpec>,
    pub actions: Vec<ActionSpec>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ParamSpec {
    pub name: String,
    pub required: bool,
    pub unique: bool,
    pub deprecated: bool,
    /// `string`, `integer`, `boolean`, `select`, … (as the agent declares it).
    pub content_type: String,
    pub default: Option<String>,
    /// Allowed values of a `select`.
    pub options: Vec<String>,
    pub shortdesc: String,
    pub longdesc: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ActionSpec {
    pub name: String,
    pub timeout: Option<Duration>,
    pub interval: Option<Duration>,
    pub depth: Option<u32>,
    pub role: Option<String>,
}

/// A parameter problem found before any agent runs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamError {
    #[error("{agent}: required parameter '{name}' is missing")]
    Missing { agent: String, name: String },
    #[error("{agent}: unknown parameter '{name}' (known: {known})")]
    Unknown {
        agent: String,
        name: String,
        known: String,
    },
    #[error("{agent}: parameter '{name}': '{value}' is not {expected}")]
    Invalid {
        agent: String,
        name: String,
        value: String,
        expected: String,
    },
}

fn duration(s: &str) -> Option<Duration> {
    hactl_model::values::parse_interval_ms(s).map(Duration::from_millis)
}

fn attr(e: &BytesStart<'_>, name: &str) -> Option<String> {
    e.try_get_attribute(name)
        .ok()
        .flatten()
        .and_then(|a| a.unescape_value().ok().map(|v| v.into_owned()))
}

fn truthy(v: Option<String>) -> bool {
    v.as_deref()
        .and_then(hactl_model::values::parse_bool)
        .unwrap_or(false)
}

/// Where in the document the parser is, for text and nested elements.
#[derive(PartialEq)]
enum Ctx {
    Agent,
    Param,
    Other,
}

impl AgentMetadata {
    /// Parses an agent's meta-data XML.
    pub fn parse(xml: &str) -> Result<Self, String> {
        let mut r = Reader::from_str(xml);
        r.config_mut().trim_text(true);
        let mut md = AgentMetadata::default();
        let mut seen_root = false;
        let mut stack: Vec<String> = Vec::new();
        let mut param: Option<ParamSpec> = None;
        let mut text = String::new();
        loop {
            let ev = r
                .read_event()
                .map_err(|e| format!("XML error at byte {}: {e}", r.buffer_position()))?;
            match ev {
                Event::Start(ref e) | Event::Empty(ref e) => {
                    let empty = matches!(ev, Event::Empty(_));
                    let tag = String::from_utf8_lossy(e.name().as_ref()).into_owned();
                    match tag.as_str() {
                        "resource-agent" => {
                            seen_root = true;
                            md.name = attr(e, "name").unwrap_or_default();
                            md.version = attr(e, "version");
                        }
                        "parameter" if stack.last().map(String::as_str) == Some("parameters") => {
                            let p = ParamSpec {
                                name: attr(e, "name").unwrap_or_default(),
                                required: truthy(attr(e, "required")),
                                unique: truthy(attr(e, "unique")),
                                deprecated: truthy(attr(e, "deprecated")),
                                ..Default::default()
                            };
                            if empty {
                                md.parameters.push(p);
                            } else {
                                param = Some(p);
                            }
                        }
                        "content" => {
                            if let Some(p) = param.as_mut() {
                                p.content_type = attr(e, "type").unwrap_or_else(|| "string".into());
                                p.default = attr(e, "default");
                            }
                        }
                        "option" => {
                            if let (Some(p), Some(v)) = (param.as_mut(), attr(e, "value")) {
                                p.options.push(v);
                            }
                        }
                        "deprecated" => {
                            if let Some(p) = param.as_mut() {
                                p.deprecated = true;
                            }
                        }
                        "action" => md.actions.push(ActionSpec {
                            name: attr(e, "name").unwrap_or_default(),
                            timeout: attr(e, "timeout").as_deref().and_then(duration),
                            interval: attr(e, "interval").as_deref().and_then(duration),
                            depth: attr(e, "depth").and_then(|d| d.parse().ok()),
                            role: attr(e, "role"),
                        }),
                        _ => {}
                    }
                    if !empty {
                        stack.push(tag);
                        text.clear();
                    }
                }
                Event::Text(t) => {
                    if let Ok(s) = t.unescape() {
                        text.push_str(&s);
                    }
                }
                Event::CData(t) => text.push_str(&String::from_utf8_lossy(&t)),
                Event::End(_) => {
                    let tag = stack.pop().unwrap_or_default();
                    let parent = match stack.last().map(String::as_str) {
                        Some("resource-agent") => Ctx::Agent,
                        Some("parameter") => Ctx::Param,
                        _ => Ctx::Other,
                    };
                    let t = text.trim().to_string();
                    match (tag.as_str(), parent) {
                        ("shortdesc", Ctx::Agent) => md.shortdesc = t,
                        ("longdesc", Ctx::Agent) => md.longdesc = t,
                        ("version", Ctx::Agent) if md.version.is_none() => md.version = Some(t),
                        ("shortdesc", Ctx::Param) => {
                            if let Some(p) = param.as_mut() {
                                p.shortdesc = t
                            }
                        }
                        ("longdesc", Ctx::Param) => {
                            if let Some(p) = param.as_mut() {
                                p.longdesc = t
                            }
                        }
                        ("parameter", _) => {
                            if let Some(p) = param.take() {
                                md.parameters.push(p);
                            }
                        }
                        _ => {}
                    }
                    text.clear();
                }
                Event::Eof => break,
                _ => {}
            }
        }
        if !seen_root {
            return Err("no <resource-agent> element".into());
        }
        for p in &mut md.parameters {
            if p.content_type.is_empty() {
                p.content_type = "string".into();
            }
        }
        Ok(md)
    }

    pub fn parameter(&self, name: &str) -> Option<&ParamSpec> {
        self.parameters.iter().find(|p| p.name == name)
    }

    pub fn action(&self, name: &str) -> Option<&ActionSpec> {
        self.actions.iter().find(|a| a.name == name)
    }

    /// The agent's default timeout for an action, if it declares one.
    pub fn default_timeout(&self, action: &str) -> Option<Duration> {
        self.action(action).and_then(|a| a.timeout)
    }

    /// Checks parameters: unknown names, missing required ones, values that do not
    /// fit the declared type. `agent` is used in messages.
    pub fn validate(
        &self,
        agent: &str,
        params: &BTreeMap<String, String>,
    ) -> Result<(), ParamError> {
        for (name, value) in params {
            let Some(spec) = self.parameter(name) else {
                let known: Vec<&str> = self.parameters.iter().map(|p| p.name.as_str()).collect();
                return Err(ParamError::Unknown {
                    agent: agent.into(),
                    name: name.clone(),
                    known: if known.is_empty() {
                        "none".into()
                    } else {
                        known.join(", ")
                    },
                });
            };
            let invalid = |expected: String| ParamError::Invalid {
                agent: agent.into(),
                name: name.clone(),
                value: value.clone(),
                expected,
            };
            match spec.content_type.as_str() {
                "integer" if value.trim().parse::<i64>().is_err() => {
                    return Err(invalid("an integer".into()));
                }
                "boolean" if hactl_model::values::parse_bool(value).is_none() => {
                    return Err(invalid("a boolean (true/false)".into()));
                }
                "select"
                    if !spec.options.is_empty() && !spec.options.iter().any(|o| o == value) =>
                {
                    return Err(invalid(format!("one of: {}", spec.options.join(", "))));
                }
                _ => {}
            }
        }
        for spec in self.parameters.iter().filter(|p| p.required) {
            let present = params.get(&spec.name).is_some_and(|v| !v.is_empty());
            if !present {
                return Err(ParamError::Missing {
                    agent: agent.into(),
                    name: spec.name.clone(),
                });
            }
        }
        Ok(())
    }

    /// Human-readable help, like `pcs resource describe`.
    pub fn render(&self, agent: &str) -> String {
        let mut s = String::new();
        let head = if self.shortdesc.is_empty() {
            agent.to_string()
        } else {
            format!("{agent} - {}", self.shortdesc)
        };
        s.push_str(&head);
        s.push_str("\n\n");
        if !self.longdesc.is_empty() {
            s.push_str(&wrap(&self.longdesc, 80, ""));
            s.push_str("\n\n");
        }
        s.push_str("Resource options:\n");
        if self.parameters.is_empty() {
            s.push_str("  (none)\n");
        }
        for p in &self.parameters {
            let mut flags = Vec::new();
            if p.required {
                flags.push("required".to_string());
            }
            if p.unique {
                flags.push("unique".to_string());
            }
            if p.deprecated {
                flags.push("deprecated".to_string());
            }
            if let Some(d) = p.default.as_deref().filter(|d| !d.is_empty()) {
                flags.push(format!("default: {d}"));
            }
            flags.push(p.content_type.clone());
            s.push_str(&format!("  {} ({})\n", p.name, flags.join(", ")));
            let desc = if p.longdesc.is_empty() {
                &p.shortdesc
            } else {
                &p.longdesc
            };
            if !desc.is_empty() {
                s.push_str(&wrap(desc, 76, "    "));
                s.push('\n');
            }
            if !p.options.is_empty() {
                s.push_str(&format!("    Allowed values: {}\n", p.options.join(", ")));
            }
        }
        s.push_str("\nDefault operations:\n");
        for a in &self.actions {
            let mut parts = vec![a.name.clone()];
            if let Some(t) = a.timeout {
                parts.push(format!("timeout={}s", t.as_secs()));
            }
            if let Some(i) = a.interval.filter(|i| !i.is_zero()) {
                parts.push(format!("interval={}s", i.as_secs()));
            }
            if let Some(d) = a.depth.filter(|d| *d != 0) {
                parts.push(format!("OCF_CHECK_LEVEL={d}"));
            }
            if let Some(r) = &a.role {
                parts.push(format!("role={r}"));
            }
            s.push_str(&format!("  {}\n", parts.join(" ")));
        }
        s
    }
}

fn wrap(text: &str, width: usize, indent: &str) -> String {
    let mut out = String::new();
    for para in text.split("\n\n") {
        let mut line = String::from(indent);
        for w in para.split_whitespace() {
            if line.len() > indent.len() && line.len() + 1 + w.len() > width {
                out.push_str(line.trim_end());
                out.push('\n');
                line = String::from(indent);
            }
            if line.len() > indent.len() {
                line.push(' ');
            }
            line.push_str(w);
        }
        if line.len() > indent.len() {
            out.push_str(&line);
            out.push('\n');
        }
    }
    out.trim_end().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const XML: &str = r#"<?xml version="1.0"?>
<!DOCTYPE resource-agent SYSTEM "ra-api-1.dtd">
<resource-agent name="Thing" version="1.0">
<version>1.0</version>
<longdesc lang="en">Long &amp; winding.</longdesc>
<shortdesc lang="en">A thing</shortdesc>
<parameters>
<parameter name="ip" unique="1" required="1">
<longdesc lang="en">The address.</longdesc>
<shortdesc lang="en">IP</shortdesc>
<content type="string" default="" />
</parameter>
<parameter name="count">
<shortdesc lang="en">How many</shortdesc>
<content type="integer" default="5"/>
</parameter>
<parameter name="flag"><content type="boolean" default="false"/></parameter>
<parameter name="mode"><content type="select" default="a"><option value="a"/><option value="b"/></content></parameter>
</parameters>
<actions>
<action name="start" timeout="20s" />
<action name="monitor" timeout="30" interval="10s" depth="0"/>
</actions>
</resource-agent>"#;

    fn p(kv: &[(&str, &str)]) -> BTreeMap<String, String> {
        kv.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn parses_parameters_and_actions() {
        let md = AgentMetadata::parse(XML).unwrap();
        assert_eq!(md.name, "Thing");
        assert_eq!(md.shortdesc, "A thing");
        assert_eq!(md.longdesc, "Long & winding.");
        assert_eq!(md.parameters.len(), 4);
        let ip = md.parameter("ip").unwrap();
        assert!(ip.required && ip.unique);
        assert_eq!(ip.shortdesc, "IP");
        assert_eq!(md.parameter("count").unwrap().default.as_deref(), Some("5"));
        assert_eq!(md.parameter("mode").unwrap().options, vec!["a", "b"]);
        assert_eq!(md.default_timeout("start"), Some(Duration::from_secs(20)));
        assert_eq!(md.default_timeout("monitor"), Some(Duration::from_secs(30)));
        assert_eq!(
            md.action("monitor").unwrap().interval,
            Some(Duration::from_secs(10))
        );
    }

    #[test]
    fn validation_names_the_parameter() {
        let md = AgentMetadata::parse(XML).unwrap();
        assert!(md.validate("T", &p(&[("ip", "1.2.3.4")])).is_ok());
        let e = md.validate("T", &p(&[])).unwrap_err();
        assert!(
            matches!(&e, ParamError::Missing { name, .. } if name == "ip"),
            "{e}"
        );
        let e = md
            .validate("T", &p(&[("ip", "x"), ("count", "many")]))
            .unwrap_err();
        assert!(e.to_string().contains("'count'"), "{e}");
        let e = md
            .validate("T", &p(&[("ip", "x"), ("flag", "maybe")]))
            .unwrap_err();
        assert!(e.to_string().contains("'flag'"), "{e}");
        let e = md
            .validate("T", &p(&[("ip", "x"), ("mode", "c")]))
            .unwrap_err();
        assert!(e.to_string().contains("one of: a, b"), "{e}");
        let e = md
            .validate("T", &p(&[("ip", "x"), ("colour", "red")]))
            .unwrap_err();
        assert!(e.to_string().contains("unknown parameter 'colour'"), "{e}");
    }

    #[test]
    fn rejects_non_metadata() {
        assert!(AgentMetadata::parse("hello").is_err());
        assert!(AgentMetadata::parse("<a><b></a>").is_err());
    }

    #[test]
    fn renders_help() {
        let md = AgentMetadata::parse(XML).unwrap();
        let h = md.render("ocf:x:Thing");
        assert!(h.starts_with("ocf:x:Thing - A thing"));
        assert!(h.contains("  ip (required, unique, string)"));
        assert!(h.contains("  monitor timeout=30s interval=10s"));
    }
}
