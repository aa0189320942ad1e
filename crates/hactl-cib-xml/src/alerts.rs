//! The `<alerts>` section, both ways: each `<alert>` with its instance and meta
//! attributes, its `<select>` (kinds, attribute names) and its `<recipient>`s.

use std::fmt::Write;

use hactl_model::alerts::{Alert, AlertKind, AlertRecipient};

use crate::dom::Element;
use crate::export::{attr, esc, nvset};
use crate::import::{child_sets, required, unsupported};
use crate::ImportError;

/// `<select_*>` elements and the kind each selects.
const SELECT: [(&str, AlertKind); 4] = [
    ("select_nodes", AlertKind::Node),
    ("select_fencing", AlertKind::Fencing),
    ("select_resources", AlertKind::Resource),
    ("select_attributes", AlertKind::Attribute),
];

pub(crate) fn import_alerts(section: &Element) -> Result<Vec<Alert>, ImportError> {
    section.children.iter().map(import_alert).collect()
}

fn import_alert(a: &Element) -> Result<Alert, ImportError> {
    if a.name != "alert" {
        return Err(unsupported(a, "unexpected element inside <alerts>"));
    }
    let mut alert = Alert {
        id: required(a, "id")?.to_string(),
        path: required(a, "path")?.to_string(),
        description: a.attr("description").map(str::to_string),
        params: child_sets(a, "instance_attributes")?,
        meta: child_sets(a, "meta_attributes")?,
        ..Default::default()
    };
    for c in &a.children {
        match c.name.as_ref() {
            "instance_attributes" | "meta_attributes" => {}
            "select" => import_select(c, &mut alert)?,
            "recipient" => alert.recipients.push(AlertRecipient {
                id: required(c, "id")?.to_string(),
                value: required(c, "value")?.to_string(),
                description: c.attr("description").map(str::to_string),
                params: child_sets(c, "instance_attributes")?,
                meta: child_sets(c, "meta_attributes")?,
            }),
            _ => return Err(unsupported(c, "unexpected element inside <alert>")),
        }
    }
    Ok(alert)
}

fn import_select(s: &Element, alert: &mut Alert) -> Result<(), ImportError> {
    let mut kinds = Vec::new();
    for c in &s.children {
        let Some((_, kind)) = SELECT.iter().find(|(n, _)| c.name == *n) else {
            return Err(unsupported(c, "unexpected element inside <select>"));
        };
        kinds.push(*kind);
        for at in c.children.iter().filter(|x| x.name == "attribute") {
            alert
                .select_attributes
                .push(required(at, "name")?.to_string());
        }
    }
    alert.select_kind = Some(kinds);
    Ok(())
}

/// Writes `<alerts>` (nothing when there are none).
pub(crate) fn export_alerts(out: &mut String, alerts: &[Alert]) {
    if alerts.is_empty() {
        return;
    }
    out.push_str("    <alerts>\n");
    for a in alerts {
        out.push_str("      <alert");
        attr(out, "id", &a.id);
        attr(out, "path", &a.path);
        if let Some(d) = &a.description {
            attr(out, "description", d);
        }
        out.push_str(">\n");
        if let Some(kinds) = &a.select_kind {
            export_select(out, a, kinds);
        }
        nvset(
            out,
            "        ",
            "instance_attributes",
            &format!("{}-instance_attributes", a.id),
            &a.params,
        );
        nvset(
            out,
            "        ",
            "meta_attributes",
            &format!("{}-meta_attributes", a.id),
            &a.meta,
        );
        for r in &a.recipients {
            out.push_str("        <recipient");
            attr(out, "id", &r.id);
            attr(out, "value", &r.value);
            if let Some(d) = &r.description {
                attr(out, "description", d);
            }
            out.push_str(">\n");
            nvset(
                out,
                "          ",
                "instance_attributes",
                &format!("{}-instance_attributes", r.id),
                &r.params,
            );
            nvset(
                out,
                "          ",
                "meta_attributes",
                &format!("{}-meta_attributes", r.id),
                &r.meta,
            );
            out.push_str("        </recipient>\n");
        }
        out.push_str("      </alert>\n");
    }
    out.push_str("    </alerts>\n");
}

fn export_select(out: &mut String, a: &Alert, kinds: &[AlertKind]) {
    out.push_str("        <select>\n");
    for (name, kind) in SELECT.iter().filter(|(_, k)| kinds.contains(k)) {
        if *kind == AlertKind::Attribute && !a.select_attributes.is_empty() {
            let _ = writeln!(out, "          <{name}>");
            for n in &a.select_attributes {
                let _ = writeln!(
                    out,
                    "            <attribute id=\"{}\" name=\"{}\"/>",
                    esc(&format!("{}-select-{n}", a.id)),
                    esc(n)
                );
            }
            let _ = writeln!(out, "          </{name}>");
        } else {
            let _ = writeln!(out, "          <{name}/>");
        }
    }
    out.push_str("        </select>\n");
}

#[cfg(test)]
mod tests {
    /// Pacemaker's own example shape (Pacemaker Explained, "Alerts"): every part
    /// comes in and goes back out the same.
    #[test]
    fn alerts_round_trip() {
        let xml = r#"<cib><configuration><crm_config/><nodes/><resources/><constraints/>
<alerts>
  <alert id="file" path="/usr/share/pacemaker/alerts/alert_file.sh" description="log">
    <select><select_nodes/><select_attributes><attribute id="a1" name="standby"/></select_attributes></select>
    <meta_attributes id="file-meta"><nvpair id="file-meta-t" name="timeout" value="5s"/>
      <nvpair id="file-meta-f" name="timestamp-format" value="%Y-%m-%d %H:%M:%S"/></meta_attributes>
    <instance_attributes id="file-ia"><nvpair id="file-ia-1" name="debug" value="1"/></instance_attributes>
    <recipient id="file-r" value="/var/log/alerts.log">
      <meta_attributes id="file-r-m"><nvpair id="file-r-m-t" name="timeout" value="9s"/></meta_attributes>
    </recipient>
  </alert>
</alerts></configuration><status/></cib>"#;
        let cib = crate::import(xml).expect("import");
        let a = &cib.config.alerts[0];
        assert_eq!(a.path, "/usr/share/pacemaker/alerts/alert_file.sh");
        assert_eq!(
            a.select_kind,
            Some(vec![
                hactl_model::alerts::AlertKind::Node,
                hactl_model::alerts::AlertKind::Attribute
            ])
        );
        assert_eq!(a.select_attributes, ["standby"]);
        assert_eq!(a.timeout_ms(&a.recipients[0]), 9_000);
        assert_eq!(a.timestamp_format(&a.recipients[0]), "%Y-%m-%d %H:%M:%S");
        assert_eq!(a.params.get("debug").map(String::as_str), Some("1"));
        let back = crate::import(&crate::export(&cib)).expect("re-import");
        assert_eq!(back.config.alerts, cib.config.alerts);
    }
}
