//! A minimal element tree over quick-xml. The CIB has no mixed content that matters to
//! us (text nodes are only whitespace or `<description>` prose), so elements with
//! their attributes and children are all we keep.

use std::borrow::Cow;

use std::io::BufRead;

use quick_xml::encoding::Decoder;
use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use crate::ImportError;

/// The deepest element nesting accepted. A CIB is about ten levels deep (a rule
/// inside a rule adds a few); the tree is freed and converted recursively, so a
/// document nested 150,000 deep overflowed the stack instead of being refused.
pub(crate) const MAX_DEPTH: usize = 256;

/// Refuses to open one more element when `open` are already open.
fn check_depth(open: usize, position: u64) -> Result<(), ImportError> {
    if open >= MAX_DEPTH {
        return Err(ImportError::Xml {
            position,
            message: format!("elements nested more than {MAX_DEPTH} deep"),
        });
    }
    Ok(())
}

/// Names and values borrow from the document where they can (values only need an
/// owned copy when they contain entities): a large CIB is mostly attributes, and
/// copying them all would double the importer's memory.
#[derive(Debug, Clone, Default)]
pub(crate) struct Element<'a> {
    pub name: Cow<'a, str>,
    pub attrs: Vec<(Cow<'a, str>, Cow<'a, str>)>,
    pub children: Vec<Element<'a>>,
}

impl<'a> Element<'a> {
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_ref())
    }

    pub fn id(&self) -> Option<&str> {
        self.attr("id")
    }
}

/// The same bytes as a slice of the document, when `part` lies inside it (quick-xml
/// hands out slices of its input for a `&str` reader; their lifetime is tied to the
/// event, so this re-borrows them from the document itself).
fn anchor<'a>(doc: &'a str, part: &[u8]) -> Option<&'a str> {
    let start = (part.as_ptr() as usize).checked_sub(doc.as_ptr() as usize)?;
    // Inside the document (get() also checks char boundaries), so these are the
    // very same bytes.
    doc.get(start..start.checked_add(part.len())?)
}

fn text<'a>(doc: &'a str, part: &[u8]) -> Option<Cow<'a, str>> {
    match anchor(doc, part) {
        Some(s) => Some(Cow::Borrowed(s)),
        None => std::str::from_utf8(part)
            .ok()
            .map(|s| Cow::Owned(s.to_string())),
    }
}

fn start_element<'a>(
    doc: &'a str,
    e: &BytesStart<'_>,
    decoder: Decoder,
    pos: u64,
) -> Result<Element<'a>, ImportError> {
    let name = text(doc, e.name().as_ref()).ok_or_else(|| ImportError::Xml {
        position: pos,
        message: "element name is not UTF-8".into(),
    })?;
    // Sized for a status entry (lrm_rsc_op has ~16 attributes): growing the vector
    // attribute by attribute was a visible share of a large import.
    let mut attrs = Vec::with_capacity(if name == "lrm_rsc_op" { 20 } else { 4 });
    for a in e.attributes() {
        let a = a.map_err(|err| ImportError::Xml {
            position: pos,
            message: format!("bad attribute in <{name}>: {err}"),
        })?;
        let key = text(doc, a.key.as_ref()).ok_or_else(|| ImportError::Xml {
            position: pos,
            message: format!("attribute name in <{name}> is not UTF-8"),
        })?;
        let value = match a
            .decode_and_unescape_value(decoder)
            .map_err(|err| ImportError::Xml {
                position: pos,
                message: format!("bad value of {key} in <{name}>: {err}"),
            })? {
            Cow::Borrowed(v) => text(doc, v.as_bytes()).unwrap_or(Cow::Owned(v.to_string())),
            Cow::Owned(v) => Cow::Owned(v),
        };
        attrs.push((key, value));
    }
    Ok(Element {
        name,
        attrs,
        children: Vec::new(),
    })
}

/// Parses a document and returns its root element.
#[cfg(test)]
pub(crate) fn parse(xml: &str) -> Result<Element<'_>, ImportError> {
    parse_with(xml, |_, el| Ok(Some(el)))
}

/// Parses a document, handing every element to `on_close` as it closes, with its
/// open ancestors (outermost first). `on_close` may consume the element (return
/// `None`), so that a large section is converted and freed as soon as it is read
/// instead of the whole document being held as a tree; what it returns is attached to
/// the parent. Returns the root.
pub(crate) fn parse_with<'a>(
    xml: &'a str,
    mut on_close: impl FnMut(&[Element<'a>], Element<'a>) -> Result<Option<Element<'a>>, ImportError>,
) -> Result<Element<'a>, ImportError> {
    let mut reader = Reader::from_str(xml);
    reader.config_mut().trim_text(true);
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    loop {
        let ev = reader.read_event().map_err(|e| ImportError::Xml {
            position: reader.error_position(),
            message: e.to_string(),
        })?;
        let closed = match ev {
            Event::Start(e) => {
                let pos = reader.buffer_position();
                check_depth(stack.len(), pos)?;
                stack.push(start_element(xml, &e, reader.decoder(), pos)?);
                continue;
            }
            Event::Empty(e) => start_element(xml, &e, reader.decoder(), reader.buffer_position())?,
            // quick-xml checks that end names match their start.
            Event::End(_) => stack.pop().ok_or_else(|| ImportError::Xml {
                position: reader.buffer_position(),
                message: "closing tag without an opening one".into(),
            })?,
            Event::Eof => break,
            // Text, comments, declarations, processing instructions: nothing the
            // CIB stores there matters to scheduling.
            _ => continue,
        };
        if let Some(el) = on_close(&stack, closed)? {
            attach(&mut stack, &mut root, el, reader.buffer_position())?;
        }
    }
    finish(stack, root, reader.buffer_position())
}

/// [`parse_with`] for a stream (a file too large to hold as one string): the same
/// contract, with every name and value copied out of the reader's buffer.
pub(crate) fn parse_reader_with<R: BufRead>(
    source: R,
    mut on_close: impl FnMut(
        &[Element<'static>],
        Element<'static>,
    ) -> Result<Option<Element<'static>>, ImportError>,
) -> Result<Element<'static>, ImportError> {
    let mut reader = Reader::from_reader(source);
    reader.config_mut().trim_text(true);
    let mut buf = Vec::with_capacity(1 << 12);
    let mut stack: Vec<Element<'static>> = Vec::new();
    let mut root: Option<Element<'static>> = None;
    loop {
        buf.clear();
        let pos = reader.buffer_position();
        let ev = reader
            .read_event_into(&mut buf)
            .map_err(|e| ImportError::Xml {
                position: reader.error_position(),
                message: e.to_string(),
            })?;
        let closed = match ev {
            Event::Start(e) => {
                check_depth(stack.len(), pos)?;
                stack.push(start_element("", &e, reader.decoder(), pos)?);
                continue;
            }
            Event::Empty(e) => start_element("", &e, reader.decoder(), pos)?,
            Event::End(_) => stack.pop().ok_or_else(|| ImportError::Xml {
                position: pos,
                message: "closing tag without an opening one".into(),
            })?,
            Event::Eof => break,
            _ => continue,
        };
        if let Some(el) = on_close(&stack, closed)? {
            attach(&mut stack, &mut root, el, pos)?;
        }
    }
    finish(stack, root, reader.buffer_position())
}

fn finish<'a>(
    stack: Vec<Element<'a>>,
    root: Option<Element<'a>>,
    position: u64,
) -> Result<Element<'a>, ImportError> {
    if let Some(open) = stack.last() {
        return Err(ImportError::Xml {
            position,
            message: format!("document ends inside <{}>", open.name),
        });
    }
    root.ok_or_else(|| ImportError::Xml {
        position: 0,
        message: "empty document".into(),
    })
}

fn attach<'a>(
    stack: &mut [Element<'a>],
    root: &mut Option<Element<'a>>,
    el: Element<'a>,
    position: u64,
) -> Result<(), ImportError> {
    match stack.last_mut() {
        Some(parent) => parent.children.push(el),
        None if root.is_none() => *root = Some(el),
        None => {
            return Err(ImportError::Xml {
                position,
                message: format!("second root element <{}>", el.name),
            })
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tree_borrows_and_unescapes() {
        let doc = r#"<a x="1"><b y="p&amp;q"/><c/></a>"#;
        let root = parse(doc).unwrap();
        assert_eq!(root.attr("x"), Some("1"));
        assert!(
            matches!(root.attrs[0].1, Cow::Borrowed(_)),
            "no copy without entities"
        );
        assert_eq!(root.children[0].attr("y"), Some("p&q"));
        assert_eq!(root.children[1].name, "c");
    }

    #[test]
    fn malformed_documents_are_errors() {
        for bad in ["", "<a>", "<a></b>", "<a/><b/>", "</a>", "<a x=1/>"] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }
}
