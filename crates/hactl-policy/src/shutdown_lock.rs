//! Shutdown locks (cluster property `shutdown-lock`), as Pacemaker applies them
//! before any other placement criterion (its apply_shutdown_locks):
//!
//! - a resource active on exactly one node, when that node is shutting down
//!   cleanly (not unclean), is locked to it: it stops there and is not recovered
//!   elsewhere;
//! - a resource whose history on a node carries a `shutdown-lock` time (it was
//!   stopped there by such a shutdown) stays locked to that node while the node is
//!   away, unless `shutdown-lock-limit` has passed since (then the history is
//!   deleted, so the resource is free again) or it is active somewhere already;
//! - a locked resource is banned from every other node.
//!
//! Fence devices and clone instances are never locked (Pacemaker's clone and
//! fence-device variants do nothing); a group's members are locked one by one.

use hactl_model::{ResourceHistory, Score};

use crate::sched::Sched;

impl Sched<'_> {
    /// Locks resources to nodes and bans them elsewhere (see the module comment).
    pub(crate) fn apply_shutdown_locks(&mut self) {
        if !self.opts.shutdown_lock {
            return;
        }
        for p in 0..self.prims.len() {
            let prim = &self.prims[p];
            if prim.fence_device || prim.clone.is_some() {
                continue;
            }
            let Some(lock) = self
                .lock_from_history(p)
                .or_else(|| self.lock_for_shutdown(p))
            else {
                continue;
            };
            for n in (0..self.nodes.len()).filter(|&n| n != lock) {
                self.location(p, Some(n), Score::NEG_INFINITY, "shutdown-lock".into());
            }
        }
    }

    /// The node whose history of `p` holds an unexpired lock, unless `p` is
    /// active somewhere (Pacemaker cancels such a lock as a failsafe).
    fn lock_from_history(&self, p: usize) -> Option<usize> {
        let prim = &self.prims[p];
        if !prim.active.is_empty() {
            return None;
        }
        (0..self.nodes.len()).find(|&n| {
            self.history_on(p, n)
                .is_some_and(|h| h.shutdown_lock.is_some() && !self.lock_expired(h))
        })
    }

    /// The node `p` is locked to because it is active there alone and the node
    /// is shutting down cleanly.
    fn lock_for_shutdown(&self, p: usize) -> Option<usize> {
        match self.prims[p].active.as_slice() {
            &[n] if self.nodes[n].shutdown && !self.nodes[n].unclean => Some(n),
            _ => None,
        }
    }

    /// Whether the lock recorded in `h` is older than `shutdown-lock-limit`.
    pub(crate) fn lock_expired(&self, h: &ResourceHistory) -> bool {
        // Whole seconds, rounded to the nearest, at least 1 (pcmk__timeout_ms2s).
        let ms = self.opts.shutdown_lock_limit_ms;
        let limit_s = match ms {
            0 => 0,
            _ => i64::try_from((ms.saturating_add(500) / 1000).max(1)).unwrap_or(i64::MAX),
        };
        match h.shutdown_lock {
            Some(t) if self.opts.shutdown_lock && limit_s > 0 => {
                self.now > t.saturating_add(limit_s)
            }
            _ => false,
        }
    }

    fn history_on(&self, p: usize, n: usize) -> Option<&ResourceHistory> {
        let prim = &self.prims[p];
        let name = prim.history_name.as_ref().unwrap_or(&prim.id);
        self.cib
            .status
            .nodes
            .get(self.nodes[n].name)
            .and_then(|st| st.resources.get(name))
    }
}
