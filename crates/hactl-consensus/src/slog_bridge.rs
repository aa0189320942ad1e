//! raft-rs logs through `slog`; this drain forwards its records to `tracing` so that the
//! daemon has one log stream with one filter.

use std::fmt::{self, Write as _};

/// A slog drain that re-emits every record as a tracing event with target
/// `hactl_consensus::raft`.
pub(crate) struct TracingDrain;

impl slog::Drain for TracingDrain {
    type Ok = ();
    type Err = slog::Never;

    fn log(
        &self,
        record: &slog::Record<'_>,
        values: &slog::OwnedKVList,
    ) -> Result<Self::Ok, Self::Err> {
        let mut kv = KvString(String::new());
        // Errors from our own serializer cannot happen (writing to a String).
        let _ = slog::KV::serialize(&record.kv(), record, &mut kv);
        let _ = slog::KV::serialize(values, record, &mut kv);
        let msg = record.msg();
        let kv = kv.0;
        match record.level() {
            slog::Level::Critical | slog::Level::Error => {
                tracing::error!(target: "hactl_consensus::raft", "{msg}{kv}")
            }
            slog::Level::Warning => tracing::warn!(target: "hactl_consensus::raft", "{msg}{kv}"),
            // raft-rs logs every role change at info; that is debug detail for us, the
            // node logs the transitions that matter with names.
            slog::Level::Info => tracing::debug!(target: "hactl_consensus::raft", "{msg}{kv}"),
            slog::Level::Debug | slog::Level::Trace => {
                tracing::trace!(target: "hactl_consensus::raft", "{msg}{kv}")
            }
        }
        Ok(())
    }
}

struct KvString(String);

impl slog::Serializer for KvString {
    fn emit_arguments(&mut self, key: slog::Key, val: &fmt::Arguments<'_>) -> slog::Result {
        let _ = write!(self.0, " {key}={val}");
        Ok(())
    }
}

pub(crate) fn logger(node: u64) -> slog::Logger {
    slog::Logger::root(TracingDrain, slog::o!("raft_id" => node))
}
