//! The parser: one pass over the XML with quick-xml, keeping the element path so that a
//! description is given to the agent or to the parameter it sits in.

use crate::{Action, AgentMetadata, Parameter};
use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;
use std::time::Duration;

/// Meta-data an agent printed that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum MetadataError {
    #[error("agent metadata is not well-formed XML (at byte {at}): {source}")]
    Xml {
        at: u64,
        #[source]
        source: quick_xml::Error,
    },
    #[error("agent metadata has no <resource-agent> element")]
    NoAgent,
}

/// Which field the text of the element being read goes to.
#[derive(Clone, Copy, PartialEq)]
enum Target {
    AgentShort,
    AgentLong,
    AgentVersion,
    Vendor,
    ParamShort,
    ParamLong,
}

#[derive(Default)]
struct Parser {
    md: AgentMetadata,
    seen_agent: bool,
    /// Names of the open elements, outermost first.
    path: Vec<String>,
    param: Option<Parameter>,
    target: Option<Target>,
    text: String,
}

/// Parses meta-data XML. Descriptions in other languages than English are skipped
/// (agents may ship translations next to the English text).
pub fn parse(xml: &str) -> Result<AgentMetadata, MetadataError> {
    let mut reader = Reader::from_str(xml);
    reader.config_mut().trim_text(true);
    let mut p = Parser::default();
    loop {
        let event = reader.read_event();
        let at = reader.buffer_position();
        let xml_err = |source| MetadataError::Xml { at, source };
        match event.map_err(xml_err)? {
            Event::Start(e) => {
                p.start(&e);
                p.path
                    .push(String::from_utf8_lossy(e.name().as_ref()).into_owned());
            }
            Event::Empty(e) => {
                p.start(&e);
                p.end(&String::from_utf8_lossy(e.name().as_ref()));
            }
            Event::Text(t) if p.target.is_some() => {
                let s = t.unescape().map_err(xml_err)?;
                p.text.push_str(&s);
            }
            Event::CData(t) if p.target.is_some() => {
                p.text.push_str(&String::from_utf8_lossy(&t));
            }
            Event::End(_) => {
                let tag = p.path.pop().unwrap_or_default();
                p.end(&tag);
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !p.seen_agent {
        return Err(MetadataError::NoAgent);
    }
    Ok(p.md)
}

fn attr(e: &BytesStart<'_>, name: &str) -> Option<String> {
    e.try_get_attribute(name)
        .ok()
        .flatten()
        .and_then(|a| a.unescape_value().ok().map(|v| v.into_owned()))
}

fn flag(e: &BytesStart<'_>, name: &str) -> bool {
    attr(e, name)
        .as_deref()
        .and_then(hactl_model::values::parse_bool)
        .unwrap_or(false)
}

fn duration(e: &BytesStart<'_>, name: &str) -> Option<Duration> {
    attr(e, name)
        .as_deref()
        .and_then(hactl_model::values::parse_interval_ms)
        .map(Duration::from_millis)
}

/// Whether a `lang` attribute is English or absent.
fn english(e: &BytesStart<'_>) -> bool {
    attr(e, "lang").is_none_or(|l| l.starts_with("en"))
}

impl Parser {
    fn parent(&self) -> Option<&str> {
        self.path.last().map(String::as_str)
    }

    fn start(&mut self, e: &BytesStart<'_>) {
        match e.name().as_ref() {
            b"resource-agent" => {
                self.seen_agent = true;
                self.md.name = attr(e, "name").unwrap_or_default();
                self.md.version = attr(e, "version");
                self.md.shortdesc = attr(e, "shortdesc").unwrap_or_default();
            }
            b"parameter" if self.parent() == Some("parameters") => {
                self.param = Some(Parameter {
                    name: attr(e, "name").unwrap_or_default(),
                    required: flag(e, "required"),
                    unique: flag(e, "unique"),
                    reloadable: flag(e, "reloadable"),
                    deprecated: flag(e, "deprecated"),
                    obsoletes: attr(e, "obsoletes"),
                    content_type: "string".into(),
                    ..Parameter::default()
                });
            }
            b"action" => self.md.actions.push(Action {
                name: attr(e, "name").unwrap_or_default(),
                timeout: duration(e, "timeout"),
                interval: duration(e, "interval"),
                depth: attr(e, "depth").and_then(|d| d.parse().ok()),
                role: attr(e, "role"),
                on_target: flag(e, "on_target"),
                automatic: flag(e, "automatic"),
            }),
            b"shortdesc" | b"longdesc" | b"version" | b"vendor-url" => self.start_text(e),
            _ => self.start_in_parameter(e),
        }
    }

    /// Elements that only mean something inside a `<parameter>`.
    fn start_in_parameter(&mut self, e: &BytesStart<'_>) {
        let Some(p) = self.param.as_mut() else {
            return;
        };
        match e.name().as_ref() {
            b"getopt" => p.getopt = attr(e, "mixed"),
            b"content" => {
                if let Some(t) = attr(e, "type") {
                    p.content_type = t;
                }
                p.default = attr(e, "default");
            }
            b"option" => p.options.extend(attr(e, "value")),
            b"deprecated" => p.deprecated = true,
            _ => {}
        }
    }

    fn start_text(&mut self, e: &BytesStart<'_>) {
        let in_param = self.parent() == Some("parameter") && self.param.is_some();
        let in_agent = self.parent() == Some("resource-agent");
        self.target = match e.name().as_ref() {
            b"shortdesc" if in_param && english(e) => Some(Target::ParamShort),
            b"longdesc" if in_param && english(e) => Some(Target::ParamLong),
            b"shortdesc" if in_agent && english(e) => Some(Target::AgentShort),
            b"longdesc" if in_agent && english(e) => Some(Target::AgentLong),
            b"version" if in_agent => Some(Target::AgentVersion),
            b"vendor-url" if in_agent => Some(Target::Vendor),
            _ => None,
        };
        self.text.clear();
    }

    fn end(&mut self, tag: &str) {
        if tag == "parameter" {
            if let Some(p) = self.param.take() {
                self.md.parameters.push(p);
            }
            return;
        }
        let Some(target) = self.target.take() else {
            return;
        };
        let t = std::mem::take(&mut self.text).trim().to_string();
        let md = &mut self.md;
        match (target, self.param.as_mut()) {
            (Target::ParamShort, Some(p)) => p.shortdesc = t,
            (Target::ParamLong, Some(p)) => p.longdesc = t,
            // A shortdesc attribute on the agent (fence agents) comes first.
            (Target::AgentShort, _) if md.shortdesc.is_empty() => md.shortdesc = t,
            (Target::AgentLong, _) => md.longdesc = t,
            (Target::AgentVersion, _) => {
                if md.version.is_none() {
                    md.version = Some(t.clone());
                }
                md.ocf_version = Some(t);
            }
            (Target::Vendor, _) => md.vendor_url = Some(t),
            _ => {}
        }
    }
}
