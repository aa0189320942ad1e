//! `hactl alert ...` (pcs alert): alert agents run on cluster events with
//! Pacemaker's alert interface. `create`/`update` take pcs's words:
//! `path=P [id=ID] [description=D] [select-kind=K,...] [select-attributes=A,...]
//! [options K=V...] [meta K=V...]`; recipients: `recipient add ALERT value=V [id=ID]
//! [description=D] [options K=V...] [meta K=V...]`, `recipient remove RECIPIENT...`.
//! Recipient values may be secrets: `list` shows them (the operator asked), the
//! daemon logs them at debug only.

use anyhow::{anyhow, bail, Result};
use hactl_model::alerts::{Alert, AlertKind, AlertRecipient};
use hactl_model::change::Change;
use hactl_model::{Attrs, Cib};
use std::process::ExitCode;

use crate::cmd::resource_config::simple;
use crate::verbs::args::parse_kv;
use crate::verbs::{ChangeFlags, OutputFormat, Plan, ReadFlags, Session};

#[derive(clap::Subcommand, Debug)]
pub enum AlertCommand {
    /// Create an alert: path=AGENT [id=ID] [description=TEXT] [select-kind=node,fencing,
    /// resource,attribute] [select-attributes=NAME,...] [options K=V...] [meta K=V...]
    /// (meta: timeout, timestamp-format).
    Create {
        /// The words above.
        #[arg(required = true, num_args = 1..)]
        words: Vec<String>,
        #[command(flatten)]
        flags: ChangeFlags,
    },
    /// Change an alert: ALERT and the words of `create` (K= removes an option or meta).
    Update {
        /// The alert's id.
        id: String,
        /// The words of `create`.
        #[arg(num_args = 0..)]
        words: Vec<String>,
        #[command(flatten)]
        flags: ChangeFlags,
    },
    /// Remove alerts (with their recipients).
    #[command(alias = "remove")]
    Delete {
        /// Alert ids.
        #[arg(required = true)]
        ids: Vec<String>,
        #[command(flatten)]
        flags: ChangeFlags,
    },
    /// The alerts and their recipients.
    #[command(alias = "config", alias = "show")]
    List {
        #[command(flatten)]
        flags: ReadFlags,
    },
    /// Add or remove recipients.
    #[command(subcommand)]
    Recipient(RecipientCommand),
}

#[derive(clap::Subcommand, Debug)]
pub enum RecipientCommand {
    /// Add a recipient: ALERT value=V [id=ID] [description=TEXT] [options K=V...]
    /// [meta K=V...].
    Add {
        /// The alert's id.
        alert: String,
        /// The words above.
        #[arg(required = true, num_args = 1..)]
        words: Vec<String>,
        #[command(flatten)]
        flags: ChangeFlags,
    },
    /// Remove recipients by id.
    #[command(alias = "delete")]
    Remove {
        /// Recipient ids.
        #[arg(required = true)]
        ids: Vec<String>,
        #[command(flatten)]
        flags: ChangeFlags,
    },
}

pub fn run(c: AlertCommand) -> Result<ExitCode> {
    match c {
        AlertCommand::Create { words, flags } => simple(&flags, |cib| create_plan(cib, &words))?,
        AlertCommand::Update { id, words, flags } => {
            simple(&flags, |cib| update_plan(cib, &id, &words))?
        }
        AlertCommand::Delete { ids, flags } => simple(&flags, |cib| delete_plan(cib, &ids))?,
        AlertCommand::List { flags } => {
            let mut s = Session::open(flags.socket.as_deref(), flags.cib.as_deref())?;
            list(&s.cib()?, flags.output)?;
        }
        AlertCommand::Recipient(RecipientCommand::Add {
            alert,
            words,
            flags,
        }) => simple(&flags, |cib| recipient_add_plan(cib, &alert, &words))?,
        AlertCommand::Recipient(RecipientCommand::Remove { ids, flags }) => {
            simple(&flags, |cib| recipient_remove_plan(cib, &ids))?
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// pcs's words: top-level `k=v`, then `options k=v...` and `meta k=v...`.
#[derive(Default, Debug)]
struct Words {
    top: Attrs,
    options: Attrs,
    meta: Attrs,
}

fn parse_words(words: &[String]) -> Result<Words> {
    let mut w = Words::default();
    let mut section = 0;
    for t in words {
        match t.as_str() {
            "options" => section = 1,
            "meta" => section = 2,
            _ => {
                let (k, v) = parse_kv(t)?;
                let into = [&mut w.top, &mut w.options, &mut w.meta];
                let [top, options, meta] = into;
                match section {
                    0 => top.insert(k, v),
                    1 => options.insert(k, v),
                    _ => meta.insert(k, v),
                };
            }
        }
    }
    Ok(w)
}

fn list_of(v: &str) -> Vec<String> {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// Applies `k=v` (empty v removes) to attributes.
fn merge(into: &mut Attrs, from: Attrs) {
    for (k, v) in from {
        if v.is_empty() {
            into.remove(&k);
        } else {
            into.insert(k, v);
        }
    }
}

/// Applies the words of `create`/`update` to `a`.
fn apply_words(a: &mut Alert, w: Words) -> Result<()> {
    for (k, v) in w.top {
        match k.as_str() {
            "id" => a.id = v,
            "path" => a.path = v,
            "description" => a.description = Some(v).filter(|d| !d.is_empty()),
            "select-kind" | "select_kind" => {
                let kinds = list_of(&v)
                    .iter()
                    .map(|k| k.parse::<AlertKind>())
                    .collect::<Result<Vec<_>, _>>()?;
                a.select_kind = (!kinds.is_empty()).then_some(kinds);
            }
            "select-attributes" | "select_attributes" => a.select_attributes = list_of(&v),
            _ => bail!(
                "unknown word {k:?}: expected path=, id=, description=, select-kind=, \
                 select-attributes=, options K=V..., meta K=V..."
            ),
        }
    }
    merge(&mut a.params, w.options);
    merge(&mut a.meta, w.meta);
    Ok(())
}

/// A free id from `base`: `base`, `base-1`, … (pcs's `alert`, `alert-1`).
fn free_id(cib: &Cib, base: &str) -> String {
    let taken = |id: &str| {
        cib.config
            .alerts
            .iter()
            .any(|a| a.id == id || a.recipients.iter().any(|r| r.id == id))
            || cib.config.find_resource(id).is_some()
            || cib.config.find_primitive(id).is_some()
    };
    std::iter::once(base.to_string())
        .chain((1..).map(|i| format!("{base}-{i}")))
        .find(|id| !taken(id))
        .unwrap_or_else(|| base.to_string())
}

fn create_plan(cib: &Cib, words: &[String]) -> Result<Plan> {
    let mut a = Alert::default();
    apply_words(&mut a, parse_words(words)?)?;
    if a.path.is_empty() {
        bail!("alert create needs path=AGENT");
    }
    if a.id.is_empty() {
        a.id = free_id(cib, "alert");
    }
    if cib.config.alerts.iter().any(|x| x.id == a.id) {
        bail!("alert {:?} exists already (alert update changes it)", a.id);
    }
    Ok(Plan::new(
        format!("create alert {}", a.id),
        vec![Change::SetAlert { alert: a }],
    ))
}

fn find<'a>(cib: &'a Cib, id: &str) -> Result<&'a Alert> {
    cib.config
        .alerts
        .iter()
        .find(|a| a.id == id)
        .ok_or_else(|| anyhow!("no alert {id:?}"))
}

fn update_plan(cib: &Cib, id: &str, words: &[String]) -> Result<Plan> {
    let mut a = find(cib, id)?.clone();
    let w = parse_words(words)?;
    if w.top.contains_key("id") {
        bail!("an alert's id cannot change; delete it and create another");
    }
    apply_words(&mut a, w)?;
    Ok(Plan::new(
        format!("update alert {id}"),
        vec![Change::SetAlert { alert: a }],
    ))
}

fn delete_plan(cib: &Cib, ids: &[String]) -> Result<Plan> {
    let changes = ids
        .iter()
        .map(|id| find(cib, id).map(|_| Change::DeleteAlert { id: id.clone() }))
        .collect::<Result<Vec<_>>>()?;
    Ok(Plan::new(
        format!("delete alert {}", ids.join(" ")),
        changes,
    ))
}

fn recipient_add_plan(cib: &Cib, alert: &str, words: &[String]) -> Result<Plan> {
    let mut a = find(cib, alert)?.clone();
    let w = parse_words(words)?;
    let mut r = AlertRecipient::default();
    for (k, v) in w.top {
        match k.as_str() {
            "value" => r.value = v,
            "id" => r.id = v,
            "description" => r.description = Some(v).filter(|d| !d.is_empty()),
            _ => bail!("unknown word {k:?}: expected value=, id=, description=, options K=V..., meta K=V..."),
        }
    }
    if r.value.is_empty() {
        bail!("recipient add needs value=RECIPIENT");
    }
    if r.id.is_empty() {
        r.id = free_id(cib, &format!("{alert}-recipient"));
    }
    if a.recipients.iter().any(|x| x.value == r.value) {
        bail!("alert {alert:?} has a recipient with this value already");
    }
    r.params = w.options;
    r.meta = w.meta;
    let what = format!("add recipient {} to alert {alert}", r.id);
    a.recipients.push(r);
    Ok(Plan::new(what, vec![Change::SetAlert { alert: a }]))
}

fn recipient_remove_plan(cib: &Cib, ids: &[String]) -> Result<Plan> {
    let mut changed: Vec<Alert> = Vec::new();
    for id in ids {
        let owner = cib
            .config
            .alerts
            .iter()
            .find(|a| a.recipients.iter().any(|r| &r.id == id))
            .ok_or_else(|| anyhow!("no alert recipient {id:?}"))?;
        let slot = match changed.iter().position(|a| a.id == owner.id) {
            Some(i) => i,
            None => {
                changed.push(owner.clone());
                changed.len() - 1
            }
        };
        changed[slot].recipients.retain(|r| &r.id != id);
    }
    let changes = changed
        .into_iter()
        .map(|alert| Change::SetAlert { alert })
        .collect();
    Ok(Plan::new(
        format!("remove recipient {}", ids.join(" ")),
        changes,
    ))
}

fn list(cib: &Cib, output: OutputFormat) -> Result<()> {
    if output == OutputFormat::Json {
        outln!("{}", serde_json::to_string_pretty(&cib.config.alerts)?);
        return Ok(());
    }
    if cib.config.alerts.is_empty() {
        outln!("No alerts defined");
    }
    let kv = |a: &Attrs| {
        a.iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    for a in &cib.config.alerts {
        outln!("Alert: {} (path={})", a.id, a.path);
        if let Some(d) = &a.description {
            outln!("  Description: {d}");
        }
        if let Some(k) = &a.select_kind {
            let k: Vec<&str> = k.iter().map(|k| k.as_str()).collect();
            outln!("  Select kinds: {}", k.join(","));
        }
        if !a.select_attributes.is_empty() {
            outln!("  Select attributes: {}", a.select_attributes.join(","));
        }
        if !a.params.is_empty() {
            outln!("  Options: {}", kv(&a.params));
        }
        if !a.meta.is_empty() {
            outln!("  Meta options: {}", kv(&a.meta));
        }
        for r in &a.recipients {
            outln!("  Recipient: {} (value={})", r.id, r.value);
            if !r.params.is_empty() {
                outln!("    Options: {}", kv(&r.params));
            }
            if !r.meta.is_empty() {
                outln!("    Meta options: {}", kv(&r.meta));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    fn applied(cib: &Cib, p: Plan) -> Cib {
        let mut c = cib.clone();
        p.change().apply(&mut c).expect("valid change");
        c
    }

    #[test]
    fn create_update_recipients_delete() {
        let cib = Cib::default();
        let p = create_plan(&cib, &w("path=/usr/share/pacemaker/alerts/alert_file.sh select-kind=node,fencing meta timeout=5s")).unwrap();
        let cib = applied(&cib, p);
        let a = &cib.config.alerts[0];
        assert_eq!(a.id, "alert");
        assert_eq!(
            a.select_kind,
            Some(vec![AlertKind::Node, AlertKind::Fencing])
        );
        assert_eq!(a.meta.get("timeout").map(String::as_str), Some("5s"));
        assert!(
            create_plan(&cib, &w("path=/x id=alert")).is_err(),
            "duplicate id"
        );
        assert!(create_plan(&cib, &w("id=a2")).is_err(), "no path");
        assert!(create_plan(&cib, &w("path=/x select-kind=bogus")).is_err());

        let cib = applied(
            &cib,
            recipient_add_plan(&cib, "alert", &w("value=/var/log/a.log")).unwrap(),
        );
        let cib = applied(
            &cib,
            recipient_add_plan(&cib, "alert", &w("value=/var/log/b.log id=b options x=1")).unwrap(),
        );
        let a = &cib.config.alerts[0];
        assert_eq!(a.recipients[0].id, "alert-recipient");
        assert_eq!(
            a.recipients[1].params.get("x").map(String::as_str),
            Some("1")
        );
        let cib = applied(
            &cib,
            update_plan(&cib, "alert", &w("meta timeout= timestamp-format=%s")).unwrap(),
        );
        let a = &cib.config.alerts[0];
        assert_eq!(a.meta.get("timeout"), None);
        assert_eq!(a.recipients.len(), 2, "update keeps recipients");
        let cib = applied(
            &cib,
            recipient_remove_plan(&cib, &w("alert-recipient")).unwrap(),
        );
        assert_eq!(cib.config.alerts[0].recipients.len(), 1);
        assert!(recipient_remove_plan(&cib, &w("ghost")).is_err());
        let cib = applied(&cib, delete_plan(&cib, &w("alert")).unwrap());
        assert!(cib.config.alerts.is_empty());
        // A relative path is refused by the model's validation.
        let p = create_plan(&cib, &w("path=alert_file.sh")).unwrap();
        assert!(p.change().apply(&mut cib.clone()).is_err());
    }
}
