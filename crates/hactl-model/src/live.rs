//! Settings the scheduler plans with for an imported Pacemaker CIB (`hactl
//! simulate`) but a running hactl cluster cannot honour, because its controller or
//! fencer does not do their part: validation refuses them by name (so a change
//! that sets one is refused, as `cib push` of a file with one), instead of
//! accepting and ignoring them.

use crate::values::parse_bool;
use crate::{Configuration, ModelError};

/// The settings of `c` a running cluster cannot honour, as errors.
pub(crate) fn refuse_in_cluster(c: &Configuration, errs: &mut Vec<ModelError>) {
    // The controller would have to record the lock in the stopped resources'
    // histories when a node shuts down, and clear it when the node rejoins.
    if let Some(v) = c.properties.get("shutdown-lock") {
        if parse_bool(v) != Some(false) {
            errs.push(ModelError::Invalid {
                context: format!("cluster property shutdown-lock={v}"),
                message: "shutdown locks are not supported in a running cluster yet: \
                          a node stopped by `hactl cluster stop` does not record them \
                          (hactl simulate plans them for Pacemaker CIBs)"
                    .into(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::change::Change;
    use crate::Cib;

    fn set(name: &str, value: &str) -> Change {
        Change::SetProperty {
            name: name.into(),
            value: value.into(),
        }
    }

    /// Setting shutdown-lock in a running cluster is refused by name and changes
    /// nothing; turning it off is accepted.
    #[test]
    fn a_running_cluster_refuses_shutdown_lock_by_name() {
        let mut cib = Cib::default();
        let e = set("shutdown-lock", "true")
            .apply(&mut cib)
            .expect_err("refused")
            .to_string();
        assert!(
            e.contains("shutdown-lock=true") && e.contains("running cluster"),
            "{e}"
        );
        assert!(cib.config.properties.is_empty() && cib.epoch == 0);
        set("shutdown-lock", "false")
            .apply(&mut cib)
            .expect("off is fine");
        assert_eq!(cib.epoch, 1);
    }
}
