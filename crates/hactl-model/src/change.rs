//! Changes to the CIB: the unit replicated through the Raft log.
//!
//! Every CIB mutation in a running cluster is one [`Change`], serialized as JSON into a
//! log entry and applied on every node in log order. `apply` is deterministic and pure
//! so that all replicas end in the same state. A change that would leave the
//! configuration invalid is rejected and leaves the CIB untouched; configuration
//! changes bump `epoch`, status changes do not (as in Pacemaker).

use serde::{Deserialize, Serialize};

use crate::{
    AgentSpec, Cib, ColocationConstraint, Configuration, FailCount, FenceEvent, FencingLevel,
    LocationConstraint, ModelError, Node, NodeStatus, OpRecord, OrderConstraint, Primitive,
    Resource, ResourceHistory, TicketConstraint,
};

/// How many fencing events [`Change::RecordFenceEvent`] keeps per target.
pub const FENCE_HISTORY_PER_TARGET: usize = 10;

/// A constraint of any kind, for [`Change::AddConstraint`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Constraint {
    Location(LocationConstraint),
    Colocation(ColocationConstraint),
    Order(OrderConstraint),
    Ticket(TicketConstraint),
}

impl Constraint {
    pub fn id(&self) -> &str {
        match self {
            Constraint::Location(c) => &c.id,
            Constraint::Colocation(c) => &c.id,
            Constraint::Order(c) => &c.id,
            Constraint::Ticket(c) => &c.id,
        }
    }
}

/// Which defaults a [`Change::SetDefault`] changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DefaultsSection {
    /// `rsc_defaults`: meta attributes every resource inherits.
    Resource,
    /// `op_defaults`: attributes every operation inherits.
    Op,
}

impl DefaultsSection {
    fn what(self) -> &'static str {
        match self {
            DefaultsSection::Resource => "resource default",
            DefaultsSection::Op => "operation default",
        }
    }
}

/// Partial update of a node's membership state; `None` fields are left as they are.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NodeStateUpdate {
    pub member: Option<bool>,
    pub controller_online: Option<bool>,
    pub join: Option<String>,
    pub expected: Option<String>,
}

/// One change to the CIB.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum Change {
    /// Sets a cluster property (`crm_config`).
    SetProperty {
        name: String,
        value: String,
    },
    UnsetProperty {
        name: String,
    },
    /// Adds a primitive or a group; its id must be new.
    AddResource {
        resource: Resource,
    },
    /// Replaces the top-level resource with the same id.
    UpdateResource {
        resource: Resource,
    },
    /// Deletes a top-level resource or a group member, with the constraints that name
    /// it (what `pcs resource delete` does). A group left empty is deleted too.
    DeleteResource {
        id: String,
    },
    /// Moves existing top-level primitives into `group` (created if absent), appended
    /// in the given order.
    AddGroupMembers {
        group: String,
        members: Vec<String>,
    },
    /// Moves members out of `group` back to top level; an emptied group is deleted.
    RemoveGroupMembers {
        group: String,
        members: Vec<String>,
    },
    AddConstraint {
        constraint: Constraint,
    },
    RemoveConstraint {
        id: String,
    },
    AddNode {
        node: Node,
    },
    /// Removes a node from the configuration and its status.
    RemoveNode {
        name: String,
    },
    /// Sets (Some) or removes (None) a permanent node attribute.
    SetNodeAttribute {
        node: String,
        name: String,
        value: Option<String>,
    },
    SetStandby {
        node: String,
        standby: bool,
    },
    SetMaintenance {
        node: String,
        maintenance: bool,
    },
    /// Sets (Some) or clears (None) a transient node attribute (status section).
    SetTransientAttribute {
        node: String,
        name: String,
        value: Option<String>,
    },
    /// Clears a transient node attribute whose value is a time (seconds since the
    /// epoch) before `before`, and keeps a newer one. A node that starts clears the
    /// shutdown mark of the stop that ended its last run this way, never the mark of a
    /// stop asked for since it started: decided when the change commits, so a
    /// `cluster stop --all` that commits just before the join still stops the node.
    ClearTransientAttributeBefore {
        node: String,
        name: String,
        before: i64,
    },
    /// Records an operation result in the node's history for `rsc`. A record with the
    /// same operation and interval replaces the previous one.
    RecordOp {
        node: String,
        rsc: String,
        agent: AgentSpec,
        op: OpRecord,
    },
    /// Sets the fail count for (rsc, op, interval) on a node.
    SetFailCount {
        node: String,
        failcount: FailCount,
    },
    /// Clears fail counts for `rsc` on a node; with `op`, only that operation (and
    /// `interval_ms`, if given).
    ClearFailCount {
        node: String,
        rsc: String,
        op: Option<String>,
        interval_ms: Option<u64>,
    },
    /// Forgets the operation history of `rsc` on `node` (every node if None), so the
    /// scheduler probes it again (Pacemaker's cleanup deletes the lrm_resource entry).
    ForgetHistory {
        node: Option<String>,
        rsc: String,
    },
    /// Updates a node's membership state (member / controller / join / expected).
    SetNodeState {
        node: String,
        state: NodeStateUpdate,
    },
    /// Records whether the partition has quorum and who the DC is.
    SetQuorum {
        have_quorum: bool,
        dc: Option<String>,
    },
    /// Records that `node` was fenced and the fencing confirmed at `at` (Unix seconds).
    RecordFencing {
        node: String,
        at: i64,
    },
    /// Appends to the fencing history, keeping the last
    /// [`FENCE_HISTORY_PER_TARGET`] events per target.
    RecordFenceEvent {
        event: FenceEvent,
    },
    /// Adds a fencing topology level; (target, index) must be new.
    AddFencingLevel {
        level: FencingLevel,
    },
    /// Removes the levels with this index (for `target` only, if given).
    RemoveFencingLevel {
        index: u32,
        target: Option<String>,
    },
    /// Creates the alert, or replaces the one with its id (recipients included).
    SetAlert {
        alert: crate::alerts::Alert,
    },
    /// Removes an alert and its recipients.
    DeleteAlert {
        id: String,
    },
    /// Sets (Some) or removes (None) a resource default (`rsc_defaults`) or an
    /// operation default (`op_defaults`).
    SetDefault {
        section: DefaultsSection,
        name: String,
        value: Option<String>,
    },
    /// Replaces the whole configuration (`hactl cib push`, `cibadmin --replace`), if
    /// the CIB is still at `expected_epoch` (when given). The node list stays the
    /// cluster's (see [`crate::replace`]). Needs entry format 3.
    ReplaceConfiguration {
        config: Box<Configuration>,
        expected_epoch: Option<u64>,
    },
    /// Grants or revokes a ticket, or puts it in or out of standby (status: tickets
    /// are granted to a site, not configured). `at` records when it was granted.
    SetTicket {
        ticket: String,
        granted: Option<bool>,
        standby: Option<bool>,
        at: Option<i64>,
    },
    /// Appends a transition to the history (`hactl cluster history`); the oldest
    /// beyond `transition-history-limit` are dropped. Needs entry format 4.
    RecordTransition {
        record: Box<crate::transitions::TransitionRecord>,
    },
    /// Several changes applied atomically: all or none.
    Batch {
        changes: Vec<Change>,
    },
}

impl Change {
    /// Whether this change touches the configuration (and so bumps `epoch`).
    pub fn is_config(&self) -> bool {
        match self {
            Change::SetProperty { .. }
            | Change::UnsetProperty { .. }
            | Change::AddResource { .. }
            | Change::UpdateResource { .. }
            | Change::DeleteResource { .. }
            | Change::AddGroupMembers { .. }
            | Change::RemoveGroupMembers { .. }
            | Change::AddConstraint { .. }
            | Change::RemoveConstraint { .. }
            | Change::AddNode { .. }
            | Change::RemoveNode { .. }
            | Change::SetNodeAttribute { .. }
            | Change::SetStandby { .. }
            | Change::SetMaintenance { .. }
            | Change::AddFencingLevel { .. }
            | Change::RemoveFencingLevel { .. }
            | Change::SetAlert { .. }
            | Change::DeleteAlert { .. }
            | Change::SetDefault { .. }
            | Change::ReplaceConfiguration { .. } => true,
            Change::Batch { changes } => changes.iter().any(Change::is_config),
            _ => false,
        }
    }

    /// Applies the change. On error the CIB is unchanged.
    pub fn apply(&self, cib: &mut Cib) -> Result<(), ModelError> {
        // Work on a copy of what can change so that a rejected change leaves nothing
        // behind; status-only changes skip copying the configuration.
        let mut work = if self.is_config() {
            cib.clone()
        } else {
            Cib {
                epoch: cib.epoch,
                execution_date: cib.execution_date,
                config: Configuration::default(),
                status: cib.status.clone(),
            }
        };
        let node_names: Vec<String> = cib.config.nodes.iter().map(|n| n.name.clone()).collect();
        self.apply_inner(&mut work, &node_names)?;
        if self.is_config() {
            work.config.validate().map_err(combine)?;
            work.epoch = cib.epoch + 1;
            // A lower limit takes effect at once.
            let limit = crate::transitions::limit(&work.config);
            crate::transitions::trim(&mut work.status.transitions, limit);
            *cib = work;
        } else {
            // The bound is the configuration's, which status changes do not carry
            // in `work`: every node trims by the same committed property.
            let limit = crate::transitions::limit(&cib.config);
            crate::transitions::trim(&mut work.status.transitions, limit);
            cib.status = work.status;
        }
        Ok(())
    }

    fn apply_inner(&self, cib: &mut Cib, known_nodes: &[String]) -> Result<(), ModelError> {
        let cfg = &mut cib.config;
        match self {
            Change::SetProperty { name, value } => {
                non_empty("property name", name)?;
                cfg.properties.insert(name.clone(), value.clone());
            }
            Change::UnsetProperty { name } => {
                if cfg.properties.remove(name).is_none() {
                    return Err(not_found("property", name));
                }
            }
            Change::AddResource { resource } => {
                non_empty("resource id", resource.id())?;
                // Duplicate ids are caught by validation, with a clear message.
                cfg.resources.push(resource.clone());
            }
            Change::UpdateResource { resource } => {
                let slot = cfg
                    .resources
                    .iter_mut()
                    .find(|r| r.id() == resource.id())
                    .ok_or_else(|| not_found("resource", resource.id()))?;
                *slot = resource.clone();
            }
            Change::DeleteResource { id } => delete_resource(cfg, id)?,
            Change::AddGroupMembers { group, members } => {
                non_empty("group id", group)?;
                if members.is_empty() {
                    return Err(invalid(format!("group {group:?}"), "no members given"));
                }
                let mut moved = Vec::new();
                for m in members {
                    let pos = cfg
                        .resources
                        .iter()
                        .position(|r| matches!(r, Resource::Primitive(p) if &p.id == m))
                        .ok_or_else(|| {
                            invalid(
                                format!("group {group:?}"),
                                format!("{m:?} is not a top-level primitive"),
                            )
                        })?;
                    if let Resource::Primitive(p) = cfg.resources.remove(pos) {
                        moved.push(p);
                    }
                }
                match cfg.resources.iter_mut().find(|r| r.id() == group) {
                    Some(Resource::Group(g)) => g.children.extend(moved),
                    Some(Resource::Primitive(_)) => {
                        return Err(invalid(format!("group {group:?}"), "is a primitive"))
                    }
                    Some(Resource::Clone(_)) => {
                        return Err(invalid(format!("group {group:?}"), "is a clone"))
                    }
                    None => cfg.resources.push(Resource::Group(crate::Group {
                        id: group.clone(),
                        meta: Default::default(),
                        children: moved,
                    })),
                }
            }
            Change::RemoveGroupMembers { group, members } => {
                let gi = cfg
                    .resources
                    .iter()
                    .position(|r| matches!(r, Resource::Group(g) if &g.id == group))
                    .ok_or_else(|| not_found("group", group))?;
                let mut out: Vec<Primitive> = Vec::new();
                if let Resource::Group(g) = &mut cfg.resources[gi] {
                    for m in members {
                        let pos = g
                            .children
                            .iter()
                            .position(|c| &c.id == m)
                            .ok_or_else(|| not_found("group member", m))?;
                        out.push(g.children.remove(pos));
                    }
                    if g.children.is_empty() {
                        cfg.resources.remove(gi);
                        remove_constraints_naming(cfg, group);
                    }
                }
                cfg.resources
                    .extend(out.into_iter().map(Resource::Primitive));
            }
            Change::AddConstraint { constraint } => {
                non_empty("constraint id", constraint.id())?;
                match constraint {
                    Constraint::Location(c) => cfg.constraints.location.push(c.clone()),
                    Constraint::Colocation(c) => cfg.constraints.colocation.push(c.clone()),
                    Constraint::Order(c) => cfg.constraints.order.push(c.clone()),
                    Constraint::Ticket(c) => cfg.constraints.tickets.push(c.clone()),
                }
            }
            Change::RemoveConstraint { id } => {
                let c = &mut cfg.constraints;
                let count = |c: &crate::Constraints| {
                    c.location.len() + c.colocation.len() + c.order.len() + c.tickets.len()
                };
                let before = count(c);
                c.location.retain(|x| &x.id != id);
                c.colocation.retain(|x| &x.id != id);
                c.order.retain(|x| &x.id != id);
                c.tickets.retain(|x| &x.id != id);
                if before == count(c) {
                    return Err(not_found("constraint", id));
                }
            }
            Change::AddNode { node } => {
                non_empty("node name", &node.name)?;
                for name in node.attributes.keys() {
                    crate::check_node_attribute_name(name)?;
                }
                let mut node = node.clone();
                if node.id.is_empty() {
                    node.id = node.name.clone();
                }
                cfg.nodes.push(node);
            }
            Change::RemoveNode { name } => {
                let before = cfg.nodes.len();
                cfg.nodes.retain(|n| &n.name != name);
                if before == cfg.nodes.len() {
                    return Err(not_found("node", name));
                }
                cfg.constraints
                    .location
                    .retain(|l| l.node.as_deref() != Some(name.as_str()));
                cib.status.nodes.remove(name);
                if cib.status.dc.as_deref() == Some(name.as_str()) {
                    cib.status.dc = None;
                }
            }
            Change::SetNodeAttribute { node, name, value } => {
                non_empty("attribute name", name)?;
                if value.is_some() {
                    crate::check_node_attribute_name(name)?;
                }
                let n = config_node(cfg, node)?;
                match value {
                    Some(v) => {
                        n.attributes.insert(name.clone(), v.clone());
                    }
                    None => {
                        if n.attributes.remove(name).is_none() {
                            return Err(not_found("node attribute", name));
                        }
                    }
                }
            }
            Change::SetStandby { node, standby } => config_node(cfg, node)?.standby = *standby,
            Change::SetMaintenance { node, maintenance } => {
                config_node(cfg, node)?.maintenance = *maintenance
            }
            Change::ClearTransientAttributeBefore { node, name, before } => {
                let st = status_node(cib, known_nodes, node)?;
                // A value that is no time at all is no request of anybody's: it goes.
                let stale = st
                    .attributes
                    .get(name)
                    .is_some_and(|v| v.trim().parse::<i64>().map_or(true, |t| t < *before));
                if stale {
                    st.attributes.remove(name);
                }
            }
            Change::SetTransientAttribute { node, name, value } => {
                non_empty("attribute name", name)?;
                if value.is_some() {
                    crate::check_node_attribute_name(name)?;
                }
                let st = status_node(cib, known_nodes, node)?;
                match value {
                    Some(v) => {
                        st.attributes.insert(name.clone(), v.clone());
                    }
                    None => {
                        st.attributes.remove(name);
                    }
                }
            }
            Change::RecordOp {
                node,
                rsc,
                agent,
                op,
            } => {
                non_empty("resource id", rsc)?;
                non_empty("operation name", &op.operation)?;
                let st = status_node(cib, known_nodes, node)?;
                // A new history goes after the node's others (as Pacemaker appends
                // an `<lrm_resource>`): the scheduler pairs clone histories with
                // instances in this order.
                let position = u32::try_from(st.resources.len() + st.repeated_histories.len()).ok();
                // The new result is what is known now; an imported repeated
                // history would otherwise go on contradicting it.
                st.forget_repeated_histories(rsc);
                let h = st
                    .resources
                    .entry(rsc.clone())
                    .or_insert_with(|| ResourceHistory {
                        agent: agent.clone(),
                        position,
                        ..Default::default()
                    });
                h.agent = agent.clone();
                h.note_failure(op);
                match h
                    .ops
                    .iter_mut()
                    .find(|o| o.operation == op.operation && o.interval_ms == op.interval_ms)
                {
                    Some(slot) => *slot = op.clone(),
                    None => h.ops.push(op.clone()),
                }
            }
            Change::SetFailCount { node, failcount } => {
                non_empty("resource id", &failcount.rsc)?;
                let st = status_node(cib, known_nodes, node)?;
                match st.failcounts.iter_mut().find(|f| {
                    f.rsc == failcount.rsc
                        && f.op == failcount.op
                        && f.interval_ms == failcount.interval_ms
                }) {
                    Some(slot) => *slot = failcount.clone(),
                    None => st.failcounts.push(failcount.clone()),
                }
            }
            Change::ClearFailCount {
                node,
                rsc,
                op,
                interval_ms,
            } => {
                let st = status_node(cib, known_nodes, node)?;
                st.failcounts.retain(|f| {
                    let hit = &f.rsc == rsc
                        && (op.is_none() || &f.op == op)
                        && (interval_ms.is_none() || &f.interval_ms == interval_ms);
                    !hit
                });
            }
            Change::ForgetHistory { node, rsc } => {
                non_empty("resource id", rsc)?;
                match node {
                    Some(n) => {
                        status_node(cib, known_nodes, n)?.forget_history(rsc);
                    }
                    None => {
                        for st in cib.status.nodes.values_mut() {
                            st.forget_history(rsc);
                        }
                    }
                }
            }
            Change::SetNodeState { node, state } => {
                let st = status_node(cib, known_nodes, node)?;
                if let Some(v) = state.member {
                    st.member = Some(v);
                }
                if let Some(v) = state.controller_online {
                    st.controller_online = Some(v);
                }
                if let Some(v) = &state.join {
                    st.join = Some(v.clone());
                }
                if let Some(v) = &state.expected {
                    st.expected = Some(v.clone());
                }
                // A node that rejoins is no longer "fenced and not back".
                if state.member == Some(true) {
                    st.fenced_at = None;
                }
            }
            Change::SetQuorum { have_quorum, dc } => {
                if let Some(d) = dc {
                    if !known_nodes.iter().any(|n| n == d) {
                        return Err(not_found("node", d));
                    }
                }
                cib.status.have_quorum = *have_quorum;
                cib.status.dc = dc.clone();
            }
            Change::RecordFencing { node, at } => {
                let st = status_node(cib, known_nodes, node)?;
                st.fenced_at = Some(*at);
                st.member = Some(false);
                st.controller_online = Some(false);
                st.join = Some("down".into());
                // As Pacemaker's fencing update: the node is expected down now, so it
                // is offline rather than unclean (and not fenced again) until it rejoins.
                st.expected = Some("down".into());
                // Fencing proves the node's resources are stopped.
                st.resources.clear();
                st.repeated_histories.clear();
                st.attributes.clear();
            }
            Change::RecordFenceEvent { event } => {
                non_empty("fence event target", &event.target)?;
                let h = &mut cib.status.fencing_history;
                h.push(event.clone());
                let mine = h.iter().filter(|e| e.target == event.target).count();
                if mine > FENCE_HISTORY_PER_TARGET {
                    let mut drop = mine - FENCE_HISTORY_PER_TARGET;
                    h.retain(|e| {
                        if drop > 0 && e.target == event.target {
                            drop -= 1;
                            false
                        } else {
                            true
                        }
                    });
                }
            }
            Change::SetAlert { alert } => {
                non_empty("alert id", &alert.id)?;
                match cfg.alerts.iter_mut().find(|a| a.id == alert.id) {
                    Some(slot) => *slot = alert.clone(),
                    None => cfg.alerts.push(alert.clone()),
                }
            }
            Change::DeleteAlert { id } => {
                let before = cfg.alerts.len();
                cfg.alerts.retain(|a| &a.id != id);
                if cfg.alerts.len() == before {
                    return Err(not_found("alert", id));
                }
            }
            Change::AddFencingLevel { level } => {
                non_empty("fencing level target", &level.target)?;
                if level.index == 0 {
                    return Err(invalid(
                        format!("fencing level for {:?}", level.target),
                        "level index starts at 1",
                    ));
                }
                if level.devices.is_empty() {
                    return Err(invalid(
                        format!("fencing level {} for {:?}", level.index, level.target),
                        "needs at least one device",
                    ));
                }
                if cfg
                    .fencing_levels
                    .iter()
                    .any(|l| l.target == level.target && l.index == level.index)
                {
                    return Err(invalid(
                        format!("fencing level {} for {:?}", level.index, level.target),
                        "already exists",
                    ));
                }
                let mut level = level.clone();
                if level.id.is_empty() {
                    level.id = format!("fl-{}-{}", level.target, level.index);
                }
                cfg.fencing_levels.push(level);
            }
            Change::RemoveFencingLevel { index, target } => {
                let before = cfg.fencing_levels.len();
                cfg.fencing_levels.retain(|l| {
                    !(l.index == *index && target.as_ref().is_none_or(|t| *t == l.target))
                });
                if cfg.fencing_levels.len() == before {
                    return Err(not_found("fencing level", &index.to_string()));
                }
            }
            Change::SetDefault {
                section,
                name,
                value,
            } => {
                non_empty("default name", name)?;
                let attrs = match section {
                    DefaultsSection::Resource => &mut cfg.rsc_defaults,
                    DefaultsSection::Op => &mut cfg.op_defaults,
                };
                match value {
                    Some(v) => {
                        attrs.insert(name.clone(), v.clone());
                    }
                    None if attrs.remove(name).is_none() => {
                        return Err(not_found(section.what(), name));
                    }
                    None => {}
                }
            }
            Change::ReplaceConfiguration {
                config,
                expected_epoch,
            } => crate::replace::replace_configuration(cib, config, *expected_epoch)?,
            Change::SetTicket {
                ticket,
                granted,
                standby,
                at,
            } => {
                crate::validate::check_id("ticket", ticket)?;
                let t = cib.status.tickets.entry(ticket.clone()).or_default();
                if let Some(g) = granted {
                    t.granted = *g;
                    if *g {
                        t.last_granted = at.or(t.last_granted);
                    }
                }
                if let Some(sb) = standby {
                    t.standby = *sb;
                }
            }
            Change::RecordTransition { record } => {
                non_empty("transition record dc", &record.dc)?;
                let r = record.as_ref().clone().bounded();
                cib.status.transitions.push(r);
            }
            Change::Batch { changes } => {
                for c in changes {
                    // Nodes added earlier in the batch count as known for later ones.
                    // (Only a config batch carries the configuration in `cib`.)
                    let known: Vec<String> = if self.is_config() {
                        cib.config.nodes.iter().map(|n| n.name.clone()).collect()
                    } else {
                        known_nodes.to_vec()
                    };
                    c.apply_inner(cib, &known)?;
                }
            }
        }
        Ok(())
    }
}

fn delete_resource(cfg: &mut Configuration, id: &str) -> Result<(), ModelError> {
    if let Some(pos) = cfg.resources.iter().position(|r| r.id() == id) {
        let removed = cfg.resources.remove(pos);
        for p in removed.primitives() {
            remove_constraints_naming(cfg, &p.id);
        }
        remove_constraints_naming(cfg, id);
        return Ok(());
    }
    let mut emptied = None;
    let mut found = false;
    for r in cfg.resources.iter_mut() {
        if let Resource::Group(g) = r {
            if let Some(pos) = g.children.iter().position(|c| c.id == id) {
                g.children.remove(pos);
                found = true;
                if g.children.is_empty() {
                    emptied = Some(g.id.clone());
                }
                break;
            }
        }
    }
    if !found {
        return Err(not_found("resource", id));
    }
    remove_constraints_naming(cfg, id);
    if let Some(g) = emptied {
        cfg.resources.retain(|r| r.id() != g);
        remove_constraints_naming(cfg, &g);
    }
    Ok(())
}

fn remove_constraints_naming(cfg: &mut Configuration, id: &str) {
    let c = &mut cfg.constraints;
    c.location.retain(|x| x.rsc != id);
    c.colocation.retain(|x| !x.names(id));
    c.order.retain(|x| !x.names(id));
    c.tickets.retain(|x| x.rsc != id);
}

fn config_node<'a>(cfg: &'a mut Configuration, name: &str) -> Result<&'a mut Node, ModelError> {
    cfg.nodes
        .iter_mut()
        .find(|n| n.name == name)
        .ok_or_else(|| not_found("node", name))
}

fn status_node<'a>(
    cib: &'a mut Cib,
    known_nodes: &[String],
    name: &str,
) -> Result<&'a mut NodeStatus, ModelError> {
    if !known_nodes.iter().any(|n| n == name) {
        return Err(not_found("node", name));
    }
    Ok(cib.status.nodes.entry(name.to_string()).or_default())
}

fn not_found(what: &'static str, name: &str) -> ModelError {
    ModelError::Invalid {
        context: format!("{what} {name:?}"),
        message: "not found".into(),
    }
}

fn invalid(context: String, message: impl Into<String>) -> ModelError {
    ModelError::Invalid {
        context,
        message: message.into(),
    }
}

fn non_empty(what: &str, v: &str) -> Result<(), ModelError> {
    if v.trim().is_empty() {
        return Err(invalid(what.to_string(), "must not be empty"));
    }
    Ok(())
}

/// Validation returns every problem; a change reports them as one error.
fn combine(mut errs: Vec<ModelError>) -> ModelError {
    if errs.len() == 1 {
        return errs.remove(0);
    }
    ModelError::Invalid {
        context: "change rejected".into(),
        message: errs
            .iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join("; "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Group, Score};

    fn prim(id: &str) -> Primitive {
        Primitive {
            id: id.into(),
            agent: AgentSpec::parse("ocf:heartbeat:Dummy").unwrap(),
            ..Default::default()
        }
    }

    fn base() -> Cib {
        let mut cib = Cib::default();
        for n in ["n1", "n2", "n3"] {
            Change::AddNode {
                node: Node {
                    name: n.into(),
                    ..Default::default()
                },
            }
            .apply(&mut cib)
            .unwrap();
        }
        cib
    }

    /// A node's histories keep the order they were first recorded in (the
    /// scheduler pairs clone histories with instances in it); a later record of
    /// the same resource does not move it.
    #[test]
    fn a_new_history_is_recorded_after_the_nodes_others() {
        let mut cib = base();
        for rsc in ["web:1", "web:0", "web:1"] {
            Change::RecordOp {
                node: "n1".into(),
                rsc: rsc.into(),
                agent: AgentSpec::parse("ocf:heartbeat:Dummy").unwrap(),
                op: OpRecord {
                    operation: "start".into(),
                    ..Default::default()
                },
            }
            .apply(&mut cib)
            .unwrap();
        }
        let st = &cib.status.nodes["n1"];
        let order: Vec<&str> = st
            .histories_in_recorded_order()
            .into_iter()
            .map(|(id, _)| id.as_str())
            .collect();
        assert_eq!(order, ["web:1", "web:0"]);
    }

    /// A repeated history of a resource (imported from a status section with two
    /// `<lrm_resource>` entries of one id) is superseded by the next result
    /// recorded for it on that node: left in place it would go on saying
    /// "running" after hactl recorded the stop, and the scheduler would stop it
    /// again and again. A cleanup forgets it with the rest.
    #[test]
    fn a_new_result_or_a_cleanup_supersedes_repeated_histories() {
        let mut cib = base();
        let record = |cib: &mut Cib, operation: &str| {
            Change::RecordOp {
                node: "n1".into(),
                rsc: "web".into(),
                agent: AgentSpec::parse("ocf:heartbeat:Dummy").unwrap(),
                op: OpRecord {
                    operation: operation.into(),
                    ..Default::default()
                },
            }
            .apply(cib)
            .unwrap();
        };
        let repeat = |cib: &mut Cib| {
            let st = cib.status.nodes.get_mut("n1").unwrap();
            let h = st.resources["web"].clone();
            st.repeated_histories.push(("web".into(), h));
        };
        record(&mut cib, "start");
        repeat(&mut cib);
        record(&mut cib, "stop");
        let st = &cib.status.nodes["n1"];
        assert!(st.repeated_histories.is_empty(), "{st:?}");
        assert_eq!(st.resources["web"].ops.len(), 2);
        repeat(&mut cib);
        Change::ForgetHistory {
            node: Some("n1".into()),
            rsc: "web".into(),
        }
        .apply(&mut cib)
        .unwrap();
        let st = &cib.status.nodes["n1"];
        assert!(
            st.resources.is_empty() && st.repeated_histories.is_empty(),
            "{st:?}"
        );
    }

    /// Ids an adversarial run got accepted: a 65,536-character id (it then panicked
    /// the DC's scheduler), a path that agents would use in file names, a shell
    /// substitution. Every path into the CIB (CLI, peer, replay) goes through `apply`.
    #[test]
    fn a_conditional_clear_takes_only_a_mark_older_than_its_time() {
        let mut cib = base();
        let n = cib.config.nodes[0].name.clone();
        let mark = |cib: &mut Cib, v: &str| {
            Change::SetTransientAttribute {
                node: n.clone(),
                name: "shutdown".into(),
                value: Some(v.into()),
            }
            .apply(cib)
            .unwrap();
        };
        let clear = Change::ClearTransientAttributeBefore {
            node: n.clone(),
            name: "shutdown".into(),
            before: 1000,
        };
        let get = |cib: &Cib| {
            cib.status
                .nodes
                .get(&n)
                .and_then(|st| st.attributes.get("shutdown"))
                .cloned()
        };
        // The mark of the stop that ended the last run goes...
        mark(&mut cib, "999");
        clear.apply(&mut cib).unwrap();
        assert_eq!(get(&cib), None);
        // ...a stop asked for since the start stays (it must still stop the node)...
        mark(&mut cib, "1000");
        clear.apply(&mut cib).unwrap();
        assert_eq!(get(&cib).as_deref(), Some("1000"));
        // ...and no mark at all is no error.
        let mut empty = base();
        clear.apply(&mut empty).unwrap();
        assert_eq!(get(&empty), None);
    }

    #[test]
    fn hostile_ids_are_refused_and_leave_the_cib_untouched() {
        let long = "a".repeat(65_536);
        for id in [
            long.as_str(),
            "../../etc/x",
            "$(id)",
            "1abc",
            "a b",
            "é",
            "",
        ] {
            let mut cib = base();
            let before = cib.clone();
            let err = Change::AddResource {
                resource: Resource::Primitive(prim(id)),
            }
            .apply(&mut cib)
            .unwrap_err()
            .to_string();
            assert!(err.contains("id"), "{id:.40}: {err}");
            assert!(
                err.len() < 400,
                "the error does not echo the id: {err:.400}"
            );
            assert_eq!(cib, before, "{id:.40}");
            let bad_constraint = Change::AddConstraint {
                constraint: Constraint::Order(OrderConstraint {
                    id: id.into(),
                    first: "n1".into(),
                    then: "n1".into(),
                    ..Default::default()
                }),
            };
            assert!(bad_constraint.apply(&mut cib).is_err(), "{id:.40}");
        }
        let mut cib = base();
        for ok in ["_a", "vip-1.web_2", &"r".repeat(crate::MAX_ID_LEN)] {
            Change::AddResource {
                resource: Resource::Primitive(prim(ok)),
            }
            .apply(&mut cib)
            .unwrap_or_else(|e| panic!("{ok:.40}: {e}"));
        }
    }

    #[test]
    fn hostile_node_names_and_reserved_attributes_are_refused() {
        for name in ["../n4", "n 4", "-n4", &"n".repeat(300)] {
            let mut cib = base();
            let r = Change::AddNode {
                node: Node {
                    name: name.into(),
                    ..Default::default()
                },
            }
            .apply(&mut cib);
            assert!(r.is_err(), "{name:.40}");
        }
        let mut cib = base();
        let before = cib.clone();
        for name in ["#uname", "#is_dc", "#score"] {
            let set = Change::SetNodeAttribute {
                node: "n1".into(),
                name: name.into(),
                value: Some("n2".into()),
            };
            let e = set.apply(&mut cib).unwrap_err().to_string();
            assert!(e.contains("reserved"), "{e}");
            let transient = Change::SetTransientAttribute {
                node: "n1".into(),
                name: name.into(),
                value: Some("1".into()),
            };
            assert!(transient.apply(&mut cib).is_err(), "{name}");
        }
        let mut attributes = crate::Attrs::new();
        attributes.insert("#kind".into(), "remote".into());
        let add = Change::AddNode {
            node: Node {
                name: "n4".into(),
                attributes,
                ..Default::default()
            },
        };
        assert!(add.apply(&mut cib).is_err());
        assert_eq!(cib, before);
    }

    /// `op monitor timeout=99999999999999999999s` saturated to u64::MAX and wrapped
    /// the DC's deadline; a peer can send the number without the string.
    #[test]
    fn op_durations_past_the_limit_are_refused() {
        let mut cib = base();
        let mut p = prim("r");
        p.ops.push(crate::OpSpec {
            name: "start".into(),
            timeout_ms: Some(u64::MAX),
            ..Default::default()
        });
        let e = Change::AddResource {
            resource: Resource::Primitive(p),
        }
        .apply(&mut cib)
        .unwrap_err()
        .to_string();
        assert!(e.contains("timeout longer than"), "{e}");
        let mut cfg = cib.config.clone();
        cfg.op_defaults
            .insert("timeout".into(), "99999999999999999999s".into());
        assert!(cfg.validate().is_err(), "op defaults are durations too");
    }

    #[test]
    fn config_changes_bump_epoch_status_changes_do_not() {
        let mut cib = base();
        assert_eq!(cib.epoch, 3);
        assert_eq!(cib.config.nodes[0].id, "n1", "id defaults to the name");
        Change::SetProperty {
            name: "stonith-enabled".into(),
            value: "false".into(),
        }
        .apply(&mut cib)
        .unwrap();
        assert_eq!(cib.epoch, 4);
        Change::SetNodeState {
            node: "n1".into(),
            state: NodeStateUpdate {
                member: Some(true),
                join: Some("member".into()),
                ..Default::default()
            },
        }
        .apply(&mut cib)
        .unwrap();
        assert_eq!(cib.epoch, 4);
        assert_eq!(cib.status.nodes["n1"].member, Some(true));
        assert_eq!(cib.status.nodes["n1"].join.as_deref(), Some("member"));
    }

    #[test]
    fn invalid_change_leaves_cib_untouched() {
        let mut cib = base();
        Change::AddResource {
            resource: Resource::Primitive(prim("a")),
        }
        .apply(&mut cib)
        .unwrap();
        let before = cib.clone();
        // Duplicate id.
        let e = Change::AddResource {
            resource: Resource::Primitive(prim("a")),
        }
        .apply(&mut cib)
        .unwrap_err();
        assert!(matches!(e, ModelError::DuplicateId { .. }), "{e}");
        // Constraint naming an unknown resource.
        let e = Change::AddConstraint {
            constraint: Constraint::Colocation(ColocationConstraint {
                id: "c1".into(),
                rsc: "a".into(),
                with_rsc: "nope".into(),
                score: Score::INFINITY,
                ..Default::default()
            }),
        }
        .apply(&mut cib)
        .unwrap_err();
        assert!(e.to_string().contains("nope"), "{e}");
        // Bad property value.
        assert!(Change::SetProperty {
            name: "no-quorum-policy".into(),
            value: "dance".into()
        }
        .apply(&mut cib)
        .is_err());
        // Batch where the last step fails: nothing of it applies.
        assert!(Change::Batch {
            changes: vec![
                Change::AddResource {
                    resource: Resource::Primitive(prim("b")),
                },
                Change::DeleteResource { id: "zzz".into() },
            ]
        }
        .apply(&mut cib)
        .is_err());
        // Status change for an unknown node.
        assert!(Change::SetTransientAttribute {
            node: "n9".into(),
            name: "x".into(),
            value: Some("1".into())
        }
        .apply(&mut cib)
        .is_err());
        assert_eq!(cib, before);
    }

    #[test]
    fn groups_members_and_delete_cascade() {
        let mut cib = base();
        for id in ["a", "b", "c"] {
            Change::AddResource {
                resource: Resource::Primitive(prim(id)),
            }
            .apply(&mut cib)
            .unwrap();
        }
        Change::AddGroupMembers {
            group: "g".into(),
            members: vec!["b".into(), "a".into()],
        }
        .apply(&mut cib)
        .unwrap();
        let g = match cib.config.find_resource("g") {
            Some(Resource::Group(g)) => g.clone(),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            g.children.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
            ["b", "a"]
        );
        Change::AddConstraint {
            constraint: Constraint::Order(OrderConstraint {
                id: "o1".into(),
                first: "c".into(),
                then: "g".into(),
                ..Default::default()
            }),
        }
        .apply(&mut cib)
        .unwrap();
        Change::AddConstraint {
            constraint: Constraint::Location(LocationConstraint {
                id: "l1".into(),
                rsc: "a".into(),
                node: Some("n2".into()),
                score: Some(Score::new(100)),
                ..Default::default()
            }),
        }
        .apply(&mut cib)
        .unwrap();
        // Deleting a member removes constraints naming it.
        Change::DeleteResource { id: "a".into() }
            .apply(&mut cib)
            .unwrap();
        assert!(cib.config.constraints.location.is_empty());
        assert_eq!(cib.config.constraints.order.len(), 1);
        // Removing the last member removes the group and its constraints.
        Change::RemoveGroupMembers {
            group: "g".into(),
            members: vec!["b".into()],
        }
        .apply(&mut cib)
        .unwrap();
        assert!(cib.config.find_resource("g").is_none());
        assert!(matches!(
            cib.config.find_resource("b"),
            Some(Resource::Primitive(_))
        ));
        assert!(cib.config.constraints.order.is_empty());
        Change::RemoveConstraint { id: "o1".into() }
            .apply(&mut cib)
            .unwrap_err();
        // A group of a group member is refused.
        Change::AddResource {
            resource: Resource::Group(Group {
                id: "g2".into(),
                children: vec![prim("x")],
                ..Default::default()
            }),
        }
        .apply(&mut cib)
        .unwrap();
        assert!(Change::AddGroupMembers {
            group: "g3".into(),
            members: vec!["x".into()]
        }
        .apply(&mut cib)
        .is_err());
    }

    #[test]
    fn op_history_failcounts_and_fencing() {
        let mut cib = base();
        let agent = AgentSpec::parse("ocf:heartbeat:Dummy").unwrap();
        let rec = |op: &str, interval_ms, call_id, rc| OpRecord {
            operation: op.into(),
            interval_ms,
            call_id,
            rc,
            ..Default::default()
        };
        for (op, iv, id, rc) in [
            ("start", 0, 1, 0),
            ("monitor", 10_000, 2, 0),
            ("monitor", 10_000, 3, 7),
        ] {
            Change::RecordOp {
                node: "n1".into(),
                rsc: "a".into(),
                agent: agent.clone(),
                op: rec(op, iv, id, rc),
            }
            .apply(&mut cib)
            .unwrap();
        }
        let h = &cib.status.nodes["n1"].resources["a"];
        assert_eq!(h.ops.len(), 2, "same op+interval replaces");
        assert_eq!(h.ops[1].call_id, 3);
        let fc = FailCount {
            rsc: "a".into(),
            op: Some("monitor".into()),
            interval_ms: Some(10_000),
            count: Score::new(1),
            last_failure: Some(100),
        };
        Change::SetFailCount {
            node: "n1".into(),
            failcount: fc.clone(),
        }
        .apply(&mut cib)
        .unwrap();
        Change::SetFailCount {
            node: "n1".into(),
            failcount: FailCount {
                count: Score::new(2),
                ..fc
            },
        }
        .apply(&mut cib)
        .unwrap();
        assert_eq!(cib.status.nodes["n1"].failcounts.len(), 1);
        assert_eq!(cib.status.nodes["n1"].failcounts[0].count, Score::new(2));
        Change::ClearFailCount {
            node: "n1".into(),
            rsc: "a".into(),
            op: None,
            interval_ms: None,
        }
        .apply(&mut cib)
        .unwrap();
        assert!(cib.status.nodes["n1"].failcounts.is_empty());
        Change::SetQuorum {
            have_quorum: true,
            dc: Some("n2".into()),
        }
        .apply(&mut cib)
        .unwrap();
        assert!(Change::SetQuorum {
            have_quorum: true,
            dc: Some("n7".into())
        }
        .apply(&mut cib)
        .is_err());
        Change::RecordFencing {
            node: "n1".into(),
            at: 1234,
        }
        .apply(&mut cib)
        .unwrap();
        let st = &cib.status.nodes["n1"];
        assert_eq!(st.fenced_at, Some(1234));
        assert!(st.resources.is_empty());
        assert_eq!(st.member, Some(false));
        assert_eq!(st.expected.as_deref(), Some("down"));
        // Removing the node drops its status and the DC pointer.
        Change::RemoveNode { name: "n2".into() }
            .apply(&mut cib)
            .unwrap();
        assert_eq!(cib.status.dc, None);
    }

    #[test]
    fn forget_history_on_one_node_or_all_without_epoch_bump() {
        let mut cib = base();
        Change::AddResource {
            resource: Resource::Primitive(prim("a")),
        }
        .apply(&mut cib)
        .unwrap();
        for n in ["n1", "n2"] {
            for rsc in ["a", "b"] {
                Change::RecordOp {
                    node: n.into(),
                    rsc: rsc.into(),
                    agent: prim("a").agent,
                    op: OpRecord {
                        operation: "start".into(),
                        call_id: 3,
                        ..Default::default()
                    },
                }
                .apply(&mut cib)
                .unwrap();
            }
        }
        let epoch = cib.epoch;
        Change::ForgetHistory {
            node: Some("n1".into()),
            rsc: "a".into(),
        }
        .apply(&mut cib)
        .unwrap();
        assert_eq!(cib.epoch, epoch, "status change");
        assert!(!cib.status.nodes["n1"].resources.contains_key("a"));
        assert!(cib.status.nodes["n1"].resources.contains_key("b"));
        assert!(cib.status.nodes["n2"].resources.contains_key("a"));
        assert!(Change::ForgetHistory {
            node: Some("n9".into()),
            rsc: "a".into()
        }
        .apply(&mut cib)
        .is_err());
        Change::ForgetHistory {
            node: None,
            rsc: "a".into(),
        }
        .apply(&mut cib)
        .unwrap();
        assert!(!cib.status.nodes["n2"].resources.contains_key("a"));
        assert!(cib.status.nodes["n2"].resources.contains_key("b"));
        assert_eq!(cib.epoch, epoch);
    }

    #[test]
    fn node_attributes_standby_maintenance() {
        let mut cib = base();
        Change::SetStandby {
            node: "n2".into(),
            standby: true,
        }
        .apply(&mut cib)
        .unwrap();
        Change::SetMaintenance {
            node: "n3".into(),
            maintenance: true,
        }
        .apply(&mut cib)
        .unwrap();
        Change::SetNodeAttribute {
            node: "n1".into(),
            name: "site".into(),
            value: Some("a".into()),
        }
        .apply(&mut cib)
        .unwrap();
        assert!(cib.config.node("n2").unwrap().standby);
        assert!(cib.config.node("n3").unwrap().maintenance);
        assert_eq!(cib.config.node("n1").unwrap().attributes["site"], "a");
        assert!(Change::SetStandby {
            node: "zz".into(),
            standby: true
        }
        .apply(&mut cib)
        .is_err());
        Change::SetTransientAttribute {
            node: "n1".into(),
            name: "pingd".into(),
            value: Some("100".into()),
        }
        .apply(&mut cib)
        .unwrap();
        assert_eq!(cib.status.nodes["n1"].attributes["pingd"], "100");
    }

    #[test]
    fn json_shape_is_tagged_and_round_trips() {
        let c = Change::Batch {
            changes: vec![
                Change::SetProperty {
                    name: "no-quorum-policy".into(),
                    value: "freeze".into(),
                },
                Change::SetQuorum {
                    have_quorum: false,
                    dc: None,
                },
            ],
        };
        let j = serde_json::to_value(&c).unwrap();
        assert_eq!(j["change"], "batch");
        assert_eq!(j["changes"][0]["change"], "set_property");
        let back: Change = serde_json::from_value(j).unwrap();
        assert_eq!(back, c);
        assert!(serde_json::from_str::<Change>(r#"{"change":"explode"}"#).is_err());
    }

    #[test]
    fn fence_history_is_bounded_per_target_and_levels_need_stonith_devices() {
        let mut cib = base();
        for i in 0..(FENCE_HISTORY_PER_TARGET as i64 + 3) {
            for t in ["n1", "n2"] {
                Change::RecordFenceEvent {
                    event: FenceEvent {
                        target: t.into(),
                        action: "reboot".into(),
                        at: i,
                        ..Default::default()
                    },
                }
                .apply(&mut cib)
                .unwrap();
            }
        }
        let h = &cib.status.fencing_history;
        let n1: Vec<i64> = h
            .iter()
            .filter(|e| e.target == "n1")
            .map(|e| e.at)
            .collect();
        assert_eq!(n1.len(), FENCE_HISTORY_PER_TARGET);
        assert_eq!(n1[0], 3, "the oldest events go first");
        assert_eq!(
            h.iter().filter(|e| e.target == "n2").count(),
            FENCE_HISTORY_PER_TARGET
        );

        let level = |idx: u32, dev: &str| Change::AddFencingLevel {
            level: FencingLevel {
                target: "n1".into(),
                index: idx,
                devices: vec![dev.into()],
                ..Default::default()
            },
        };
        // No such device: rejected by validation.
        assert!(level(1, "f1").apply(&mut cib).is_err());
        let mut dev = prim("f1");
        dev.agent = AgentSpec {
            class: "stonith".into(),
            provider: None,
            kind: "fence_xvm".into(),
        };
        Change::AddResource {
            resource: Resource::Primitive(dev),
        }
        .apply(&mut cib)
        .unwrap();
        level(1, "f1").apply(&mut cib).unwrap();
        assert_eq!(cib.config.fencing_levels[0].id, "fl-n1-1");
        assert!(level(1, "f1").apply(&mut cib).is_err(), "duplicate index");
        assert!(level(0, "f1").apply(&mut cib).is_err());
        let epoch = cib.epoch;
        Change::RemoveFencingLevel {
            index: 1,
            target: Some("n1".into()),
        }
        .apply(&mut cib)
        .unwrap();
        assert!(cib.config.fencing_levels.is_empty());
        assert_eq!(cib.epoch, epoch + 1);
        assert!(Change::RemoveFencingLevel {
            index: 1,
            target: None
        }
        .apply(&mut cib)
        .is_err());
    }
}
