//! The order node histories are read in. It matters for anonymous clones: a
//! history entry is given the first instance number not active elsewhere yet, so
//! the node read first gets `rsc:0` (Pacemaker's unpack_node_history and
//! find_anonymous_clone). Pacemaker reads the status section in its order; without
//! fencing it reads online nodes first, so that active instances are numbered
//! before the histories of nodes that are down.

use crate::sched::Sched;

impl Sched<'_> {
    /// Node indexes in the order their histories are unpacked.
    pub(crate) fn history_node_order(&self) -> Vec<usize> {
        let index: std::collections::HashMap<&str, usize> = self
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (n.name, i))
            .collect();
        let listed: Vec<usize> = self
            .cib
            .status
            .nodes_in_history_order()
            .filter_map(|(name, _)| index.get(name.as_str()).copied())
            .collect();
        // Remote nodes last: their state follows their connections' history.
        let (remote, listed): (Vec<usize>, Vec<usize>) =
            listed.into_iter().partition(|&n| self.nodes[n].remote);
        if self.opts.stonith_enabled {
            return listed.into_iter().chain(remote).collect();
        }
        let (online, offline): (Vec<usize>, Vec<usize>) =
            listed.into_iter().partition(|&n| self.nodes[n].online);
        online.into_iter().chain(offline).chain(remote).collect()
    }
}
