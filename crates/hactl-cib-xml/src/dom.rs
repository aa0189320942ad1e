//! A minimal element tree over quick-xml. The CIB has no mixed content that matters to
//! us (text nodes are only whitespace or `<description>` prose), so elements with
//! their attributes and children are all we keep.

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use crate::ImportError;

#[derive(Debug, Clone, Default)]
pub(crate) struct Element {
    pub name: String,
    pub attrs: Vec<(String, String)>,
    pub children: Vec<Element>,
}

impl Element {
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn id(&self) -> Option<&str> {
        self.attr("id")
    }
}

fn start_element(e: &BytesStart<'_>, reader: &Reader<&[u8]>) -> Result<Element, ImportError> {
    let pos = reader.buffer_position();
    let name = String::from_utf8(e.name().as_ref().to_vec()).map_err(|_| ImportError::Xml {
        position: pos,
        message: "element name is not UTF-8".into(),
    })?;
    let mut attrs = Vec::new();
    for a in e.attributes() {
        let a = a.map_err(|err| ImportError::Xml {
            position: pos,
            message: format!("bad attribute in <{name}>: {err}"),
        })?;
        let key = String::from_utf8(a.key.as_ref().to_vec()).map_err(|_| ImportError::Xml {
            position: pos,
            message: format!("attribute name in <{name}> is not UTF-8"),
        })?;
        let value = a
            .decode_and_unescape_value(reader.decoder())
            .map_err(|err| ImportError::Xml {
                position: pos,
                message: format!("bad value of {key} in <{name}>: {err}"),
            })?
            .into_owned();
        attrs.push((key, value));
    }
    Ok(Element {
        name,
        attrs,
        children: Vec::new(),
    })
}

/// Parses a document and returns its root element.
pub(crate) fn parse(xml: &str) -> Result<Element, ImportError> {
    let mut reader = Reader::from_str(xml);
    reader.config_mut().trim_text(true);
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    loop {
        let ev = reader.read_event().map_err(|e| ImportError::Xml {
            position: reader.error_position(),
            message: e.to_string(),
        })?;
        match ev {
            Event::Start(e) => stack.push(start_element(&e, &reader)?),
            Event::Empty(e) => {
                let el = start_element(&e, &reader)?;
                attach(&mut stack, &mut root, el, &reader)?;
            }
            Event::End(_) => {
                // quick-xml checks that end names match their start.
                let el = stack.pop().ok_or_else(|| ImportError::Xml {
                    position: reader.buffer_position(),
                    message: "closing tag without an opening one".into(),
                })?;
                attach(&mut stack, &mut root, el, &reader)?;
            }
            Event::Eof => break,
            // Text, comments, declarations, processing instructions: nothing the
            // CIB stores there matters to scheduling.
            _ => {}
        }
    }
    if let Some(open) = stack.last() {
        return Err(ImportError::Xml {
            position: reader.buffer_position(),
            message: format!("document ends inside <{}>", open.name),
        });
    }
    root.ok_or_else(|| ImportError::Xml {
        position: 0,
        message: "empty document".into(),
    })
}

fn attach(
    stack: &mut [Element],
    root: &mut Option<Element>,
    el: Element,
    reader: &Reader<&[u8]>,
) -> Result<(), ImportError> {
    match stack.last_mut() {
        Some(parent) => parent.children.push(el),
        None if root.is_none() => *root = Some(el),
        None => {
            return Err(ImportError::Xml {
                position: reader.buffer_position(),
                message: format!("second root element <{}>", el.name),
            })
        }
    }
    Ok(())
}
