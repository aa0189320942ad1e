//! Help text, like `pcs resource describe`.

use crate::AgentMetadata;

impl AgentMetadata {
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
