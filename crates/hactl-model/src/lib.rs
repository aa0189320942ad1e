//! The CIB (cluster information base) as plain data: configuration (nodes, properties,
//! defaults, resources, constraints, fencing topology) and status (node membership,
//! per-resource operation history, fail counts, node attributes).
//!
//! No I/O and no clocks here: the policy engine reads these types, the daemon
//! replicates them through Raft, importers and the CLI build them. Everything is
//! `serde` so that the same value travels as JSON, in the Raft log and in snapshots.

pub mod alerts;
pub mod bundle;
pub mod change;
pub mod conditional;
pub mod dates;
pub mod digest;
pub mod ipvs_status;
mod live;
mod options;
pub mod rc;
pub mod remote;
pub mod replace;
mod score;
pub mod split_brain;
mod ticket;
pub mod transitions;
mod validate;
pub mod values;

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub use options::{ClusterOptions, KNOWN_PROPERTIES};
pub use score::{Score, ScoreParseError};
pub use ticket::{TicketConstraint, TicketState};
pub use validate::{check_id, check_node_attribute_name, MAX_ID_LEN};
pub use values::{
    BoolOp, ExprOp, LossPolicy, NoQuorumPolicy, OnFail, OrderAction, OrderKind, Requires, Role,
    ValueType,
};

/// Timeout of an operation that neither the resource nor `op_defaults` configures
/// (Pacemaker's default).
pub const DEFAULT_OP_TIMEOUT_MS: u64 = 20_000;

/// Name → value pairs (instance attributes, meta attributes, properties). Ordered, so
/// that digests and output are stable.
pub type Attrs = BTreeMap<String, String>;

/// Errors from building or validating a CIB.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    #[error("duplicate id {id:?}: used by a {first} and a {second}")]
    DuplicateId {
        id: String,
        first: &'static str,
        second: &'static str,
    },
    #[error("{kind} {id:?} refers to unknown {what} {name:?}")]
    UnknownReference {
        kind: &'static str,
        id: String,
        what: &'static str,
        name: String,
    },
    #[error("{context}: {source}")]
    BadScore {
        context: String,
        source: ScoreParseError,
    },
    #[error(
        "{context}: invalid interval {value:?} (examples: 0, 10s, 1500ms, 2m, PT30S; at most 365 days)"
    )]
    BadInterval { context: String, value: String },
    #[error("invalid {what} {value:?}; expected one of: {expected}")]
    BadValue {
        what: &'static str,
        value: String,
        expected: String,
    },
    #[error("{context}: {message}")]
    Invalid { context: String, message: String },
}

/// The whole CIB.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Cib {
    /// Bumped on every configuration change (Pacemaker's `epoch`).
    pub epoch: u64,
    /// Seconds since the Unix epoch to evaluate time-based decisions at, when the CIB
    /// was saved for simulation (Pacemaker's `execution-date`).
    pub execution_date: Option<i64>,
    pub config: Configuration,
    pub status: Status,
}

/// Everything an operator configures.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Configuration {
    /// Cluster properties (`crm_config`): `stonith-enabled`, `no-quorum-policy`, …
    /// Kept as strings; read them typed through [`Configuration::options`].
    pub properties: Attrs,
    /// Meta attributes every resource inherits unless it sets its own.
    pub rsc_defaults: Attrs,
    /// Attributes every operation inherits (`timeout`, …).
    pub op_defaults: Attrs,
    pub nodes: Vec<Node>,
    /// Pacemaker Remote nodes listed in `<nodes>` (`type="remote"`), for their
    /// attributes; the node itself exists through its connection resource
    /// (`ocf:pacemaker:remote`). Scheduled by `hactl simulate` only.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub remote_nodes: Vec<Node>,
    pub resources: Vec<Resource>,
    /// Bundles (`<bundle>`), kept as configured; the scheduler expands each into
    /// the resources it stands for. Scheduled by `hactl simulate` only.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub bundles: Vec<bundle::Bundle>,
    pub constraints: Constraints,
    /// Fencing topology: per target, levels tried in order.
    pub fencing_levels: Vec<FencingLevel>,
    /// Alert agents run on cluster events (Pacemaker's `<alerts>`). Not written
    /// when empty, so CIBs without alerts serialize as before.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub alerts: Vec<alerts::Alert>,
    /// Attribute sets that apply while their rule passes (properties, defaults,
    /// node attributes, per-node parameters), in precedence order per owner.
    /// Scheduled by the policy engine; a running cluster refuses them (validate).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub conditional: Vec<conditional::ConditionalSet>,
}

/// A cluster node as configured.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Node {
    /// Stable identifier (Pacemaker's node id / uuid). Defaults to the name.
    pub id: String,
    /// The node's name (`uname`), used everywhere else to refer to it.
    pub name: String,
    /// Peer address (`host:port` or IP) for the cluster transport.
    pub address: Option<String>,
    /// Permanent node attributes (used by location rules).
    pub attributes: Attrs,
    pub standby: bool,
    pub maintenance: bool,
    /// Capacities (`<utilization>`: `cpu=8`, `memory=16384`) that resources'
    /// utilization uses up under a `placement-strategy` other than default.
    #[serde(skip_serializing_if = "Attrs::is_empty")]
    pub utilization: Attrs,
}

/// A resource: a primitive, a group of primitives, or a clone of either.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Resource {
    Primitive(Primitive),
    Group(Group),
    Clone(CloneSet),
}

impl Resource {
    pub fn id(&self) -> &str {
        match self {
            Resource::Primitive(p) => &p.id,
            Resource::Group(g) => &g.id,
            Resource::Clone(c) => &c.id,
        }
    }

    pub fn meta(&self) -> &Attrs {
        match self {
            Resource::Primitive(p) => &p.meta,
            Resource::Group(g) => &g.meta,
            Resource::Clone(c) => &c.meta,
        }
    }

    /// The primitive `id` inside this resource (itself, a group member, or what a
    /// clone clones).
    pub fn primitive_mut(&mut self, id: &str) -> Option<&mut Primitive> {
        match self {
            Resource::Primitive(p) => (p.id == id).then_some(p),
            Resource::Group(g) => g.children.iter_mut().find(|c| c.id == id),
            Resource::Clone(c) => c.child.primitive_mut(id),
        }
    }

    /// The meta attributes of `id` inside this resource: itself, a group member,
    /// or a clone's group or primitive.
    pub fn meta_mut(&mut self, id: &str) -> Option<&mut Attrs> {
        match self {
            Resource::Primitive(p) => (p.id == id).then_some(&mut p.meta),
            Resource::Group(g) => {
                if g.id == id {
                    return Some(&mut g.meta);
                }
                g.children
                    .iter_mut()
                    .find(|c| c.id == id)
                    .map(|c| &mut c.meta)
            }
            Resource::Clone(c) => {
                if c.id == id {
                    return Some(&mut c.meta);
                }
                c.child.meta_mut(id)
            }
        }
    }

    /// The primitives in this resource, in group order.
    pub fn primitives(&self) -> std::slice::Iter<'_, Primitive> {
        match self {
            Resource::Primitive(p) => std::slice::from_ref(p).iter(),
            Resource::Group(g) => g.children.iter(),
            Resource::Clone(c) => c.child.primitives(),
        }
    }
}

/// A clone: copies ("instances") of one primitive or group, numbered `id:0`,
/// `id:1`, … as Pacemaker numbers them. Its meta attributes (`clone-max`,
/// `clone-node-max`, `interleave`, `ordered`, `globally-unique`, `notify`,
/// `promotable`) shape how many instances run where; the instances inherit the
/// rest of them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CloneSet {
    pub id: String,
    #[serde(default)]
    pub meta: Attrs,
    /// The cloned resource: a primitive or a group (never another clone; see
    /// [`Configuration::validate`]).
    pub child: Box<Resource>,
}

impl CloneSet {
    /// `clone-max`: as configured, else one instance per configured node.
    pub fn max_instances(&self, nodes: usize) -> u32 {
        self.meta
            .get("clone-max")
            .and_then(|v| v.trim().parse::<u32>().ok())
            .unwrap_or(nodes.max(1) as u32)
    }

    /// The meta attributes Pacemaker hands the agent of instance `number` (as
    /// `OCF_RESKEY_CRM_meta_<name>`): its number, `clone_max`, `clone_node_max`,
    /// `globally_unique` and `notify`.
    pub fn instance_meta(&self, number: u32, nodes: usize) -> Attrs {
        let node_max = self
            .meta
            .get("clone-node-max")
            .cloned()
            .unwrap_or_else(|| "1".into());
        let mut m = Attrs::new();
        m.insert("CRM_meta_clone".into(), number.to_string());
        m.insert(
            "CRM_meta_clone_max".into(),
            self.max_instances(nodes).to_string(),
        );
        m.insert("CRM_meta_clone_node_max".into(), node_max);
        m.insert(
            "CRM_meta_globally_unique".into(),
            self.meta_true("globally-unique").to_string(),
        );
        m.insert(
            "CRM_meta_notify".into(),
            self.meta_true("notify").to_string(),
        );
        m
    }

    /// A meta attribute read as a boolean (`true`, `yes`, `on`, `1`, …).
    pub fn meta_true(&self, key: &str) -> bool {
        self.meta
            .get(key)
            .and_then(|v| values::parse_bool(v))
            .unwrap_or(false)
    }

    /// Whether the clone is promotable (`promotable=true`, or imported from
    /// Pacemaker's old `<master>` element).
    pub fn promotable(&self) -> bool {
        self.meta_true("promotable")
    }

    /// `globally-unique`: as configured, else Pacemaker's default (unique when
    /// `clone-node-max` lets more than one instance share a node).
    pub fn globally_unique(&self) -> bool {
        let node_max = self.meta.get("clone-node-max");
        let node_max = node_max.and_then(|v| v.trim().parse::<i64>().ok());
        self.meta
            .get("globally-unique")
            .and_then(|v| values::parse_bool(v))
            .unwrap_or(node_max.unwrap_or(1) > 1)
    }

    /// The name status views give instance `instance` (`web:2`): the instance of a
    /// globally unique clone, the primitive (`web`) of an anonymous one, as crm_mon.
    pub fn shown_instance<'a>(&self, instance: &'a str) -> &'a str {
        match instance.rsplit_once(':') {
            Some((base, _)) if !self.globally_unique() => base,
            _ => instance,
        }
    }
}

/// Which agent runs a primitive: `class:provider:type`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AgentSpec {
    /// `ocf`, `systemd`, `lsb`, `service`, `stonith`, …
    pub class: String,
    /// Only for `ocf` (`heartbeat`, `pacemaker`, `hactl`, …).
    pub provider: Option<String>,
    /// The agent's name (`IPaddr2`, `haproxy`, `fence_xvm`).
    #[serde(rename = "type")]
    pub kind: String,
}

impl AgentSpec {
    /// Parses `class:provider:type`, `class:type` (non-ocf) or a bare stonith type.
    pub fn parse(s: &str) -> Result<AgentSpec, ModelError> {
        let parts: Vec<&str> = s.split(':').collect();
        let bad = |m: &str| ModelError::Invalid {
            context: format!("agent {s:?}"),
            message: m.to_string(),
        };
        let spec = match parts.as_slice() {
            [class, provider, kind] => AgentSpec {
                class: class.to_string(),
                provider: Some(provider.to_string()),
                kind: kind.to_string(),
            },
            [class, kind] if *class != "ocf" => AgentSpec {
                class: class.to_string(),
                provider: None,
                kind: kind.to_string(),
            },
            [class, _] => {
                return Err(bad(&format!(
                    "class {class} needs a provider: ocf:PROVIDER:TYPE"
                )))
            }
            _ => return Err(bad("expected CLASS:PROVIDER:TYPE or CLASS:TYPE")),
        };
        if spec.class.is_empty() || spec.kind.is_empty() || spec.provider.as_deref() == Some("") {
            return Err(bad("empty class, provider or type"));
        }
        Ok(spec)
    }
}

impl std::fmt::Display for AgentSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.provider {
            Some(p) => write!(f, "{}:{}:{}", self.class, p, self.kind),
            None => write!(f, "{}:{}", self.class, self.kind),
        }
    }
}

/// A single resource.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Primitive {
    pub id: String,
    pub agent: AgentSpec,
    /// Instance attributes, passed to the agent (`OCF_RESKEY_<name>`).
    pub params: Attrs,
    /// Meta attributes: `target-role`, `is-managed`, `resource-stickiness`, …
    pub meta: Attrs,
    pub ops: Vec<OpSpec>,
    /// What the resource uses of a node's capacities (`<utilization>`).
    #[serde(skip_serializing_if = "Attrs::is_empty")]
    pub utilization: Attrs,
}

impl Primitive {
    /// The configured operation with this name and interval, if any.
    pub fn op(&self, name: &str, interval_ms: u64) -> Option<&OpSpec> {
        self.ops
            .iter()
            .find(|o| o.name == name && o.interval_ms == interval_ms)
    }
}

/// A configured operation (`op monitor interval=10s timeout=20s on-fail=restart`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct OpSpec {
    pub id: String,
    /// `start`, `stop`, `monitor`, `promote`, …
    pub name: String,
    pub interval_ms: u64,
    pub timeout_ms: Option<u64>,
    pub on_fail: Option<OnFail>,
    /// For monitors: which role this monitor applies to (`Stopped` monitors run where
    /// the resource must not be).
    pub role: Option<Role>,
    /// `enabled=false` disables a recurring monitor.
    pub enabled: Option<bool>,
    /// Any other attributes (`start-delay`, `OCF_CHECK_LEVEL`, …).
    pub extra: Attrs,
}

/// A group: its members start in order, stop in reverse order, and run together.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Group {
    pub id: String,
    /// Meta attributes the members inherit.
    pub meta: Attrs,
    pub children: Vec<Primitive>,
}

/// All constraints.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Constraints {
    pub location: Vec<LocationConstraint>,
    pub colocation: Vec<ColocationConstraint>,
    pub order: Vec<OrderConstraint>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tickets: Vec<TicketConstraint>,
}

impl Constraints {
    /// The ids of the constraints that name resource `rsc` (as the constrained
    /// resource or the other one), location first, then colocation, then order.
    pub fn ids_naming(&self, rsc: &str) -> Vec<&str> {
        let location = self.location.iter().filter(|x| x.rsc == rsc);
        let colocation = self.colocation.iter().filter(|x| x.names(rsc));
        let order = self.order.iter().filter(|x| x.names(rsc));
        let tickets = self.tickets.iter().filter(|x| x.rsc == rsc);
        location
            .map(|x| x.id.as_str())
            .chain(colocation.map(|x| x.id.as_str()))
            .chain(order.map(|x| x.id.as_str()))
            .chain(tickets.map(|x| x.id.as_str()))
            .collect()
    }
}

impl ColocationConstraint {
    pub fn names(&self, rsc: &str) -> bool {
        self.rsc == rsc || self.with_rsc == rsc
    }
}

impl OrderConstraint {
    pub fn names(&self, rsc: &str) -> bool {
        self.first == rsc || self.then == rsc
    }
}

/// Prefer or avoid nodes for a resource: a fixed node and score, or rules.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LocationConstraint {
    pub id: String,
    pub rsc: String,
    pub node: Option<String>,
    /// With `node`: the score for it.
    pub score: Option<Score>,
    /// Rules: each that matches a node adds its score for that node.
    pub rules: Vec<Rule>,
    /// Only applies to the resource in this role.
    pub role: Option<Role>,
    /// `resource-discovery` (always, never, exclusive).
    pub resource_discovery: Option<String>,
    /// Seconds since the epoch after which the constraint stops applying (set by
    /// `resource move --lifetime` / `ban --lifetime`).
    pub expires: Option<i64>,
}

/// A location rule.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Rule {
    pub id: String,
    pub score: Option<Score>,
    /// Take the score from this node attribute instead of `score`.
    pub score_attribute: Option<String>,
    pub boolean_op: Option<BoolOp>,
    pub role: Option<Role>,
    pub expressions: Vec<Expression>,
    /// Nested rules (each with its own boolean-op).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<Rule>,
    /// Conditions on the time the rule is evaluated at.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dates: Vec<conditional::DateExpression>,
    /// Conditions on the resource's agent (resource and operation defaults only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<conditional::RscExpression>,
    /// Conditions on the operation (operation defaults only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub operations: Vec<conditional::OpExpression>,
}

impl Rule {
    /// Whether the rule has no condition at all.
    pub fn is_empty(&self) -> bool {
        self.expressions.is_empty()
            && self.rules.is_empty()
            && self.dates.is_empty()
            && self.resources.is_empty()
            && self.operations.is_empty()
    }

    /// This rule and every rule nested in it, depth first.
    pub fn walk(&self) -> Vec<&Rule> {
        let mut out = vec![self];
        let mut i = 0;
        while i < out.len() {
            let r = out[i];
            out.extend(r.rules.iter());
            i += 1;
        }
        out
    }
}

/// One node attribute comparison inside a rule.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Expression {
    pub id: String,
    /// Attribute name; `#uname`, `#id`, `#kind` and `#is_dc` are built in.
    pub attribute: String,
    pub operation: Option<ExprOp>,
    pub value: Option<String>,
    pub value_type: Option<ValueType>,
}

/// Place `rsc` relative to `with_rsc`: positive scores together, negative apart.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ColocationConstraint {
    pub id: String,
    pub rsc: String,
    pub with_rsc: String,
    pub score: Score,
    pub rsc_role: Option<Role>,
    pub with_rsc_role: Option<Role>,
    /// Whether `rsc` may pull `with_rsc` (Pacemaker's `influence`, default true).
    pub influence: Option<bool>,
}

/// `first` must happen before `then`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct OrderConstraint {
    pub id: String,
    pub first: String,
    pub then: String,
    pub first_action: OrderAction,
    pub then_action: OrderAction,
    pub kind: OrderKind,
    /// Whether the reverse applies to the reverse actions (stop `then` before `first`).
    /// `None` means the default (true for Mandatory/Optional, false for Serialize).
    pub symmetrical: Option<bool>,
    /// `require-all="false"` with a clone as `first`: `then` waits for one instance
    /// only (Pacemaker's deprecated spelling of the clone's `clone-min=1`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub require_all: Option<bool>,
    /// Set by a resource set with `require-all="false"` (its id): the orderings
    /// that name the same set form one group, whose `then`s wait until any one of
    /// its `first`s can run its start or promote, not all of them (Pacemaker's
    /// `one-or-more:<set>` pseudo action). Stops and demotes are ordered as usual.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub one_or_more: Option<String>,
}

impl Default for OrderConstraint {
    fn default() -> Self {
        OrderConstraint {
            id: String::new(),
            first: String::new(),
            then: String::new(),
            first_action: OrderAction::Start,
            then_action: OrderAction::Start,
            kind: OrderKind::Mandatory,
            symmetrical: None,
            require_all: None,
            one_or_more: None,
        }
    }
}

impl OrderConstraint {
    pub fn is_symmetrical(&self) -> bool {
        self.symmetrical
            .unwrap_or(self.kind != OrderKind::Serialize)
    }
}

/// One fencing topology level: to fence `target`, all `devices` must succeed; levels
/// are tried by increasing `index` until one succeeds.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FencingLevel {
    pub id: String,
    pub target: String,
    pub index: u32,
    pub devices: Vec<String>,
}

/// What the cluster has observed.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Status {
    /// Whether this partition has quorum.
    pub have_quorum: bool,
    /// The designated controller (Raft leader).
    pub dc: Option<String>,
    /// Per node, by node name.
    pub nodes: BTreeMap<String, NodeStatus>,
    /// Fencing attempts, oldest first; the last few per target are kept.
    pub fencing_history: Vec<FenceEvent>,
    /// Tickets by name (granted, standby).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub tickets: BTreeMap<String, TicketState>,
    /// The last transitions the DC ran, oldest first (`hactl cluster history`),
    /// bounded by `transition-history-limit` ([`transitions`]).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub transitions: Vec<transitions::TransitionRecord>,
    /// Node names in the order an imported CIB's status section lists them.
    /// Pacemaker reads node histories in that order, and the order decides which
    /// node's history is given which anonymous clone instance number (`rsc:0` to
    /// the first node that runs one). Empty: node name order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub history_order: Vec<String>,
}

impl Status {
    /// Each node's status in the order its history is read: the nodes of
    /// [`Status::history_order`] first, then the others by name.
    pub fn nodes_in_history_order(&self) -> impl Iterator<Item = (&String, &NodeStatus)> {
        let listed = self
            .history_order
            .iter()
            .filter_map(|n| self.nodes.get_key_value(n));
        let rest = self
            .nodes
            .iter()
            .filter(|(n, _)| !self.history_order.contains(n));
        listed.chain(rest)
    }
}

/// One fencing attempt (or an operator's confirmation that a node is down).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FenceEvent {
    pub target: String,
    /// `reboot`, `off`, `on`, or `confirm` for `hactl stonith confirm`.
    pub action: String,
    pub ok: bool,
    /// Why it failed, or how it succeeded, in one line.
    pub reason: Option<String>,
    /// The node that ran the devices (or where the operator confirmed).
    pub executor: String,
    /// Who asked: `controller`, `operator`, …
    pub origin: Option<String>,
    /// The devices that were run, in order.
    pub devices: Vec<String>,
    /// Seconds since the epoch when the attempt finished.
    pub at: i64,
}

/// Membership and history of one node.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NodeStatus {
    /// In the membership layer (Pacemaker's `in_ccm`). `None`: never seen.
    pub member: Option<bool>,
    /// The node's controller is up (Pacemaker's `crmd=online`).
    pub controller_online: Option<bool>,
    /// Join state: `member`, `down`, `pending`, `banned`.
    pub join: Option<String>,
    /// What the DC expects: `member` (should be up) or `down` (clean shutdown).
    pub expected: Option<String>,
    /// The node asked to shut down at this time (Pacemaker's `shutdown` attribute).
    pub shutdown: Option<i64>,
    /// The node was fenced and confirmed at this time, and has not rejoined since.
    pub fenced_at: Option<i64>,
    /// Transient node attributes (cleared when the node leaves).
    pub attributes: Attrs,
    /// Fail counts, per resource, operation and interval.
    pub failcounts: Vec<FailCount>,
    /// Operation history, per resource.
    pub resources: BTreeMap<String, ResourceHistory>,
    /// Further histories of a resource id already in `resources`: an imported
    /// status section can hold several `<lrm_resource>` entries with one id on one
    /// node, and Pacemaker reads each one (the resource keeps the highest role any
    /// of them gives it). hactl never records one itself: a new result for the
    /// resource on the node supersedes them (see `Change::RecordOp`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub repeated_histories: Vec<(String, ResourceHistory)>,
}

impl NodeStatus {
    /// The node's histories, repeated ones included, in the order they were first
    /// recorded ([`ResourceHistory::position`]; those without one last, by id).
    pub fn histories_in_recorded_order(&self) -> Vec<(&String, &ResourceHistory)> {
        let repeated = self.repeated_histories.iter().map(|(id, h)| (id, h));
        let mut v: Vec<_> = self.resources.iter().chain(repeated).collect();
        v.sort_by_key(|(_, h)| h.position.unwrap_or(u32::MAX));
        v
    }

    /// Forgets the histories of `rsc` on this node, repeated ones included.
    pub fn forget_history(&mut self, rsc: &str) {
        self.resources.remove(rsc);
        self.forget_repeated_histories(rsc);
    }

    /// Forgets the repeated histories of `rsc` (a new result supersedes them).
    pub fn forget_repeated_histories(&mut self, rsc: &str) {
        self.repeated_histories.retain(|(id, _)| id != rsc);
    }
}

/// Failures of one resource's operation on one node.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FailCount {
    pub rsc: String,
    /// Operation name and interval; `None` for old-style counts that name only the
    /// resource.
    pub op: Option<String>,
    pub interval_ms: Option<u64>,
    pub count: Score,
    /// Seconds since the epoch of the last failure.
    pub last_failure: Option<i64>,
}

/// What one node knows about one resource.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ResourceHistory {
    /// The agent the history was recorded with; lets the scheduler stop a resource
    /// that is no longer configured (an orphan).
    pub agent: AgentSpec,
    pub ops: Vec<OpRecord>,
    /// The last failure of each operation (name and interval), kept until a cleanup
    /// forgets the history: a later success replaces the record in `ops`, not here
    /// (Pacemaker's `<rsc>_last_failure_0` entries).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub last_failures: Vec<OpRecord>,
    /// Where this history stands among the node's histories in the order they
    /// were first recorded (Pacemaker's order of `<lrm_resource>` entries, which
    /// decides which anonymous clone instance a history belongs to); `None`
    /// when unknown (read after the others, in id order).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<u32>,
    /// The resource was stopped here by a clean shutdown of the node while
    /// `shutdown-lock` was on, at this time (seconds since the epoch): it stays
    /// locked to this node (Pacemaker's `shutdown-lock` attribute of
    /// `<lrm_resource>`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shutdown_lock: Option<i64>,
}

impl ResourceHistory {
    /// Keeps `op` as the last failure of its operation when it is a failure and is
    /// not older than the one kept.
    pub fn note_failure(&mut self, op: &OpRecord) {
        if !op.is_failure() {
            return;
        }
        let same =
            |o: &&mut OpRecord| o.operation == op.operation && o.interval_ms == op.interval_ms;
        match self.last_failures.iter_mut().find(same) {
            Some(slot) if slot.call_id <= op.call_id => *slot = op.clone(),
            Some(_) => {}
            None => self.last_failures.push(op.clone()),
        }
    }
}

impl OpRecord {
    /// Recorded while it still runs (execution status -1, Pacemaker's
    /// `record-pending`): no result yet.
    pub fn is_pending(&self) -> bool {
        self.op_status == -1
    }

    /// A probe (monitor with interval 0).
    pub fn is_probe(&self) -> bool {
        self.operation == "monitor" && self.interval_ms == 0
    }

    /// Whether the result is a failure: an execution status other than done or
    /// cancelled, or an exit code other than expected. A probe that finds the
    /// resource running (0, 8) or stopped (7) answered a question: never a failure.
    pub fn is_failure(&self) -> bool {
        match self.op_status {
            0 => {}
            1 => return false,
            _ => return true,
        }
        if self.is_probe() {
            return !matches!(self.rc, 0 | 7 | 8);
        }
        self.rc != self.expected_rc.unwrap_or(0)
    }
}

/// The outcome of one executed operation.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct OpRecord {
    /// `start`, `stop`, `monitor` (interval 0 = probe), …
    pub operation: String,
    pub interval_ms: u64,
    /// Per-node sequence number; higher is newer.
    pub call_id: i64,
    /// The agent's exit code (OCF: 0 success … 7 not running).
    pub rc: i32,
    /// Execution status: 0 done, 1 cancelled, 2 timed out, 3 not supported, 4 error,
    /// 5 not installed, 6 not connected, 7 invalid, 8 error-hard, 9 error-fatal.
    pub op_status: i32,
    /// The rc the DC expected (a probe expects 7).
    pub expected_rc: Option<i32>,
    /// Seconds since the epoch when the result last changed.
    pub last_rc_change: Option<i64>,
    /// Seconds since the epoch when the op ran.
    pub last_run: Option<i64>,
    pub exec_time_ms: Option<u64>,
    pub queue_time_ms: Option<u64>,
    /// The agent's `ocf-exit-reason:` text.
    pub exit_reason: Option<String>,
    /// Digest of the parameters the op ran with, to detect definition changes
    /// (see [`digest`]).
    pub op_digest: Option<String>,
    /// For an agent that can reload: the parameters a reload cannot apply
    /// (`op-force-restart`, ` a b `) and the digest of just those
    /// (`op-restart-digest`). Absent: the agent cannot reload.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub op_force_restart: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub op_restart_digest: Option<String>,
    /// The private parameters (`op-secure-params`, ` passwd `) and the digest of
    /// the others (`op-secure-digest`): Pacemaker records them so that a CIB whose
    /// secrets were masked for a report does not look changed in a simulation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub op_secure_params: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub op_secure_digest: Option<String>,
    /// For `migrate_to`/`migrate_from`: the nodes the migration ran from and to
    /// (`migrate_source`, `migrate_target`), which the history of an unfinished
    /// migration is read by (hactl-policy's `migration_history.rs`). Boxed:
    /// most records have none, and `Change::RecordOp` carries a record.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub migration: Option<Box<MigrationNodes>>,
}

/// The source and target node of a migration step.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MigrationNodes {
    pub source: String,
    pub target: String,
}

impl OpRecord {
    /// The node this migration step ran from (`migrate_source`).
    pub fn migrate_source(&self) -> Option<&str> {
        self.migration.as_deref().map(|m| m.source.as_str())
    }

    /// The node this migration step ran to (`migrate_target`).
    pub fn migrate_target(&self) -> Option<&str> {
        self.migration.as_deref().map(|m| m.target.as_str())
    }
}

impl Configuration {
    /// Typed cluster options, with defaults for what is unset.
    pub fn options(&self) -> Result<ClusterOptions, ModelError> {
        ClusterOptions::from_properties(&self.properties)
    }

    pub fn node(&self, name: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.name == name)
    }

    /// Whether fencing can run: `stonith-enabled` (the default) and at least one fence
    /// device (a `stonith` class primitive). Two-node mode recovers only then.
    pub fn fencing_configured(&self) -> bool {
        self.options().is_ok_and(|o| o.stonith_enabled)
            && self
                .resources
                .iter()
                .flat_map(|r| r.primitives())
                .any(|p| p.agent.class == "stonith")
    }

    /// The clone a primitive or group belongs to, if any.
    pub fn clone_of(&self, id: &str) -> Option<&CloneSet> {
        self.resources.iter().find_map(|r| match r {
            Resource::Clone(c)
                if c.child.id() == id || c.child.primitives().any(|p| p.id == id) =>
            {
                Some(c)
            }
            _ => None,
        })
    }

    /// A clone instance id (`web:2`): its clone, the primitive it runs and its
    /// number.
    pub fn clone_instance(&self, id: &str) -> Option<(&CloneSet, &Primitive, u32)> {
        let (base, num) = id.rsplit_once(':')?;
        let number = num.parse::<u32>().ok()?;
        let clone = self.clone_of(base)?;
        let prim = clone.child.primitives().find(|p| p.id == base)?;
        Some((clone, prim, number))
    }

    /// Finds a top-level resource or a group member by id.
    pub fn find_primitive(&self, id: &str) -> Option<&Primitive> {
        self.resources
            .iter()
            .flat_map(|r| r.primitives())
            .find(|p| p.id == id)
    }

    pub fn find_resource(&self, id: &str) -> Option<&Resource> {
        self.resources.iter().find(|r| r.id() == id)
    }

    /// The group a primitive belongs to, if any.
    pub fn group_of(&self, primitive_id: &str) -> Option<&Group> {
        self.resources.iter().find_map(|r| match r {
            Resource::Group(g) if g.children.iter().any(|c| c.id == primitive_id) => Some(g),
            Resource::Clone(c) => match &*c.child {
                Resource::Group(g) if g.children.iter().any(|c| c.id == primitive_id) => Some(g),
                _ => None,
            },
            _ => None,
        })
    }

    /// The timeout an operation runs with: its own, else `op_defaults timeout`, else
    /// [`DEFAULT_OP_TIMEOUT_MS`] (a zero or unreadable value counts as unset).
    pub fn op_timeout_ms(&self, spec: Option<&OpSpec>) -> u64 {
        spec.and_then(|s| s.timeout_ms)
            .filter(|t| *t > 0)
            .or_else(|| {
                self.op_defaults
                    .get("timeout")
                    .and_then(|t| values::parse_interval_ms(t))
                    .filter(|t| *t > 0)
            })
            .unwrap_or(DEFAULT_OP_TIMEOUT_MS)
    }

    /// Checks ids, references, scores and intervals; returns every problem found.
    pub fn validate(&self) -> Result<(), Vec<ModelError>> {
        validate::validate(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agent_spec_parsing() {
        let a = AgentSpec::parse("ocf:heartbeat:IPaddr2").unwrap();
        assert_eq!(a.provider.as_deref(), Some("heartbeat"));
        assert_eq!(a.to_string(), "ocf:heartbeat:IPaddr2");
        let s = AgentSpec::parse("systemd:haproxy").unwrap();
        assert_eq!(s.provider, None);
        assert!(AgentSpec::parse("ocf:IPaddr2").is_err());
        assert!(AgentSpec::parse("IPaddr2").is_err());
        assert!(AgentSpec::parse("ocf::IPaddr2").is_err());
    }

    #[test]
    fn json_round_trip() {
        let mut cib = Cib::default();
        cib.config.resources.push(Resource::Group(Group {
            id: "g".into(),
            children: vec![Primitive {
                id: "vip".into(),
                agent: AgentSpec::parse("ocf:heartbeat:IPaddr2").unwrap(),
                ..Default::default()
            }],
            ..Default::default()
        }));
        cib.config
            .constraints
            .colocation
            .push(ColocationConstraint {
                id: "c".into(),
                rsc: "g".into(),
                with_rsc: "g".into(),
                score: Score::NEG_INFINITY,
                ..Default::default()
            });
        let j = serde_json::to_string(&cib).unwrap();
        let back: Cib = serde_json::from_str(&j).unwrap();
        assert_eq!(back, cib);
    }
}
