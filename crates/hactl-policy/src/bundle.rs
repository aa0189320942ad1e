//! Bundles, expanded into what Pacemaker makes of them (lib/pengine/bundle.c):
//! per replica `i` a container primitive `<bundle>-<docker|podman>-<i>` and, with
//! `ip-range-start`, an address `<bundle>-ip-<addr>` placed with its container
//! and started before it. The containers are placed as instances of one set (the
//! bundle itself): running ones stay, at most `replicas-per-host` per node, which
//! is how Pacemaker assigns them (`pcmk__assign_instances`). Here that set is a
//! clone named like the bundle whose instances are the replicas' containers, each
//! with its own definition and name (`bundle_replica_defs`), so that constraints
//! naming the bundle apply to its containers and orderings with the bundle wait
//! for them as Pacemaker's bundle pseudo actions do.
//!
//! The container parameters are built exactly as Pacemaker builds them: their
//! digest must match the one recorded with the container's operations, or every
//! running container would restart as changed. What a bundle needs beyond this
//! (a primitive inside, which runs on guest nodes) is refused on import.

use std::borrow::Cow;
use std::sync::Arc;

use hactl_model::bundle::Bundle;
use hactl_model::remote::CONTAINER_META;
use hactl_model::{
    AgentSpec, Attrs, Cib, CloneSet, ColocationConstraint, Group, OpSpec, OrderAction, Primitive,
    Resource, Score,
};

use crate::actions::{Graph, ORDERED, THEN_IMPLIES_FIRST, UNRUNNABLE_FIRST_BLOCKS};
use crate::sched::{Meta, RscRef, Sched};

/// Meta attribute marking the clone that stands for a bundle's containers (a
/// name no configuration can use: XML names never start with `#`).
pub(crate) const REPLICAS_META: &str = "#bundle-replicas";

/// A connection's address meaning "the host its container runs on" (Pacemaker's
/// REMOTE_CONTAINER_HACK), for replicas without an address of their own.
const UNAME_ADDR: &str = "#uname";

/// Meta attributes of a bundle that shape a clone: they belong to the bundled
/// primitive's clone, never to the set of containers.
const CLONE_ONLY_META: &[&str] = &[
    "promotable",
    "promoted-max",
    "promoted-node-max",
    "master-max",
    "master-node-max",
    "clone-max",
    "clone-node-max",
    "clone-min",
    "notify",
    "interleave",
    "ordered",
    "globally-unique",
];

/// How strongly a resource is colocated with its container: a bundle
/// replica's connection highly prefers its container's host but may run
/// elsewhere (so that its start is blocked by the container's rather than
/// it having no node, as Pacemaker's remote-nesting bundles), anything
/// else must run there.
pub(crate) fn container_colocation_score(cib: &Cib, rsc: &str) -> Score {
    let replica_connection =
        cib.config.bundles.iter().any(|b| {
            b.primitive.is_some() && (0..b.replica_count()).any(|i| b.replica_node(i) == rsc)
        });
    if replica_connection {
        Score::new(10_000)
    } else {
        Score::INFINITY
    }
}

/// The replicas' container definitions when `set` stands for a bundle's
/// containers, in replica order.
pub(crate) fn bundle_replica_defs(set: &CloneSet) -> Option<&[Primitive]> {
    if !set.meta.contains_key(REPLICAS_META) {
        return None;
    }
    match &*set.child {
        Resource::Group(g) => Some(&g.children),
        _ => None,
    }
}

/// The CIB with every bundle written out as its containers (one clone per
/// bundle) and addresses, each where the bundle was in the configuration, and
/// the constraints that tie an address to its container (borrowed unchanged
/// when there is no bundle).
pub(crate) fn expand(cib: &Cib) -> Cow<'_, Cib> {
    if cib.config.bundles.is_empty() {
        return Cow::Borrowed(cib);
    }
    let mut out = cib.clone();
    let bundles = std::mem::take(&mut out.config.bundles);
    let mut placed: Vec<(usize, Vec<Resource>)> = Vec::new();
    for b in &bundles {
        let (resources, colocs) = expand_one(b);
        placed.push((b.position, resources));
        out.config.constraints.colocation.extend(colocs);
        copy_locations_to_addresses(&mut out, b);
        role_colocations_to_bundled_clone(&mut out, b);
    }
    // Insert from the back so earlier positions stay valid.
    placed.sort_by_key(|(pos, _)| std::cmp::Reverse(*pos));
    for (pos, resources) in placed {
        let at = pos.min(out.config.resources.len());
        out.config.resources.splice(at..at, resources);
    }
    out.config.bundles = bundles;
    Cow::Owned(out)
}

type Expansion = (Vec<Resource>, Vec<ColocationConstraint>);

fn expand_one(b: &Bundle) -> Expansion {
    let addresses = b.replica_addresses();
    let host_opts = host_options(b, &addresses);
    let mut containers = Vec::new();
    let mut ips = Vec::new();
    let mut colocs = Vec::new();
    for i in 0..b.replica_count() {
        let addr = addresses.get(i as usize).cloned().flatten();
        let docker = container(b, i, addr.as_deref(), &host_opts);
        if let Some(a) = &addr {
            let ip = address(b, a);
            colocs.push(ColocationConstraint {
                id: format!("#{}-with-container", ip.id),
                rsc: ip.id.clone(),
                with_rsc: docker.id.clone(),
                score: Score::INFINITY,
                ..Default::default()
            });
            ips.push(Resource::Primitive(ip));
        }
        containers.push(docker);
    }
    let mut meta = inherited_meta(b);
    meta.insert("clone-max".into(), b.replica_count().to_string());
    meta.insert("clone-node-max".into(), b.per_host().to_string());
    // Each container is its own resource, recorded under its own name.
    meta.insert("globally-unique".into(), "true".into());
    meta.insert(REPLICAS_META.into(), "true".into());
    let set = CloneSet {
        id: b.id.clone(),
        meta,
        child: Box::new(Resource::Group(Group {
            id: format!("#{}-containers", b.id),
            meta: Attrs::new(),
            children: containers,
        })),
    };
    let mut resources = vec![Resource::Clone(set)];
    resources.extend(ips);
    if let Some(inner) = &b.primitive {
        for i in 0..b.replica_count() {
            let addr = addresses.get(i as usize).cloned().flatten();
            resources.push(Resource::Primitive(connection(b, i, addr.as_deref())));
        }
        resources.push(Resource::Clone(bundled_clone(b, inner)));
    }
    (resources, colocs)
}

/// The Pacemaker Remote connection into replica `i`'s container: guest node
/// `<bundle>-<i>`, reached at the replica's address or (`#uname`) at the
/// container's host.
fn connection(b: &Bundle, i: u32, addr: Option<&str>) -> Primitive {
    let id = b.replica_node(i);
    let mut params = Attrs::new();
    params.insert("addr".into(), addr.unwrap_or(UNAME_ADDR).into());
    params.insert(
        "port".into(),
        b.control_port.clone().unwrap_or_else(|| "3121".into()),
    );
    let mut meta = inherited_meta(b);
    meta.insert(CONTAINER_META.into(), b.container_id(i));
    Primitive {
        ops: vec![op(&id, "monitor", "30s", 30_000, Some(30_000))],
        id,
        agent: hactl_model::remote::remote_connection_agent(),
        params,
        meta,
        utilization: Attrs::new(),
    }
}

/// The implicit clone of the bundled primitive, one instance per replica; it
/// inherits the bundle's meta attributes (`promotable` among them).
fn bundled_clone(b: &Bundle, inner: &Primitive) -> CloneSet {
    let mut meta = b.meta.clone();
    meta.insert("ordered".into(), "true".into());
    meta.insert("clone-max".into(), b.replica_count().to_string());
    meta.insert("clone-node-max".into(), b.per_host().to_string());
    meta.insert("globally-unique".into(), (b.per_host() > 1).to_string());
    if let Some(m) = b.promoted_max.filter(|&m| m > 0) {
        meta.insert("promotable".into(), "true".into());
        meta.insert("promoted-max".into(), m.to_string());
    }
    let mut child = inner.clone();
    // Its utilization is the container's (see `container`).
    child.utilization = Attrs::new();
    CloneSet {
        id: b.clone_id(),
        meta,
        child: Box::new(Resource::Primitive(child)),
    }
}

/// The bundle's meta attributes as its containers and addresses inherit them.
fn inherited_meta(b: &Bundle) -> Attrs {
    b.meta
        .iter()
        .filter(|(k, _)| !CLONE_ONLY_META.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// A location constraint on the bundle also applies to its addresses
/// (Pacemaker's pcmk__bundle_apply_location); the containers get it as the
/// clone's instances. One limited to a role (Promoted, Unpromoted) applies to
/// the bundled primitive's clone instead, on the replicas' nodes.
fn copy_locations_to_addresses(out: &mut Cib, b: &Bundle) {
    if b.primitive.is_some() {
        let role = |r: Option<hactl_model::Role>| {
            matches!(
                r,
                Some(hactl_model::Role::Promoted | hactl_model::Role::Unpromoted)
            )
        };
        let to_clone: Vec<_> = out
            .config
            .constraints
            .location
            .iter()
            .filter(|l| l.rsc == b.id && (role(l.role) || l.rules.iter().any(|r| role(r.role))))
            .map(|l| {
                let mut c = l.clone();
                c.id = format!("#{}-{}", l.id, b.clone_id());
                c.rsc = b.clone_id();
                c
            })
            .collect();
        out.config.constraints.location.extend(to_clone);
    }
    let ips: Vec<String> = b
        .replica_addresses()
        .into_iter()
        .flatten()
        .map(|a| b.address_id(&a))
        .collect();
    let copies: Vec<_> = out
        .config
        .constraints
        .location
        .iter()
        .filter(|l| l.rsc == b.id && l.role.is_none())
        .flat_map(|l| {
            ips.iter().map(move |ip| {
                let mut c = l.clone();
                c.id = format!("#{}-{ip}", l.id);
                c.rsc = ip.clone();
                c
            })
        })
        .collect();
    out.config.constraints.location.extend(copies);
}

/// A colocation with a bundle in a role (Promoted, Unpromoted) is with its
/// bundled clone's instances in that role, on their replicas' hosts.
fn role_colocations_to_bundled_clone(out: &mut Cib, b: &Bundle) {
    if b.primitive.is_none() {
        return;
    }
    let role = |r: Option<hactl_model::Role>| {
        matches!(
            r,
            Some(hactl_model::Role::Promoted | hactl_model::Role::Unpromoted)
        )
    };
    for c in out.config.constraints.colocation.iter_mut() {
        if c.with_rsc == b.id && role(c.with_rsc_role) {
            c.with_rsc = b.clone_id();
        }
    }
}

/// An operation as Pacemaker writes the ones it adds (`crm_create_op_xml`).
fn op(rsc: &str, name: &str, interval: &str, interval_ms: u64, timeout_ms: Option<u64>) -> OpSpec {
    OpSpec {
        id: format!("{rsc}-{name}-{interval}"),
        name: name.into(),
        interval_ms,
        timeout_ms,
        ..Default::default()
    }
}

fn heartbeat(kind: &str) -> AgentSpec {
    AgentSpec {
        class: "ocf".into(),
        provider: Some("heartbeat".into()),
        kind: kind.into(),
    }
}

/// The IPaddr2 resource of replica `i`.
fn address(b: &Bundle, addr: &str) -> Primitive {
    let id = b.address_id(addr);
    let mut params = Attrs::new();
    params.insert("ip".into(), addr.into());
    if let Some(nic) = &b.host_interface {
        params.insert("nic".into(), nic.clone());
    }
    params.insert(
        "cidr_netmask".into(),
        b.host_netmask.clone().unwrap_or_else(|| "32".into()),
    );
    Primitive {
        ops: vec![op(&id, "monitor", "60s", 60_000, None)],
        id,
        agent: heartbeat("IPaddr2"),
        params,
        meta: inherited_meta(b),
        utilization: Attrs::new(),
    }
}

/// The name resolution every container gets for every replica's address
/// (`--add-host`, or `--hosts-entry` when add-host is false).
fn host_options(b: &Bundle, addresses: &[Option<String>]) -> String {
    let mut s = String::new();
    for (i, a) in addresses.iter().enumerate() {
        let Some(a) = a else { continue };
        if b.add_host.unwrap_or(true) {
            s.push_str(&format!(" --add-host={}-{i}:{a}", b.id));
        } else {
            s.push_str(&format!(" --hosts-entry={a}={}-{i}", b.id));
        }
    }
    s
}

/// A mount: (source, target, options, per-replica subdirectory).
type Mount = (String, String, Option<String>, bool);

/// The mounts of every container: the configured ones, then (with a primitive
/// inside) the Pacemaker Remote key and, unless /var/log is mapped, a log
/// directory per replica.
fn mounts(b: &Bundle) -> Vec<Mount> {
    let mut out: Vec<Mount> = b
        .storage
        .iter()
        .map(|m| match (&m.source_dir, &m.source_dir_root) {
            (Some(s), _) => (s.clone(), m.target_dir.clone(), m.options.clone(), false),
            (None, root) => (
                root.clone().unwrap_or_default(),
                m.target_dir.clone(),
                m.options.clone(),
                true,
            ),
        })
        .collect();
    if b.primitive.is_some() {
        let key = "/etc/pacemaker/authkey".to_string();
        out.push((key.clone(), key, None, false));
        if !b.storage.iter().any(|m| m.target_dir == "/var/log") {
            let dir = "/var/log/pacemaker/bundles".to_string();
            out.push((dir, "/var/log".into(), None, true));
        }
    }
    out
}

/// The port mappings: the configured ones, then (with a primitive inside) the
/// Pacemaker Remote control port. (source, target)
fn ports(b: &Bundle) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = b
        .ports
        .iter()
        .map(|p| {
            let target = p.target.clone().unwrap_or_else(|| p.source.clone());
            (p.source.clone(), target)
        })
        .collect();
    if b.primitive.is_some() {
        let port = b.control_port.clone().unwrap_or_else(|| "3121".into());
        out.push((port.clone(), port));
    }
    out
}

/// The container resource of replica `i`, with the parameters Pacemaker gives it.
fn container(b: &Bundle, i: u32, addr: Option<&str>, host_opts: &str) -> Primitive {
    let id = b.container_id(i);
    let replica = b.replica_node(i);
    let mut run = String::new();
    if b.kind == hactl_model::bundle::ContainerKind::Docker {
        run.push_str(" --restart=no");
    }
    if b.ip_range_start.is_some() {
        run.push_str(&format!(" -h {replica}"));
    }
    run.push_str(" -e PCMK_stderr=1");
    if let Some(net) = &b.network {
        run.push_str(&format!(" --net={net}"));
    }
    let port = b.control_port.as_deref().unwrap_or("3121");
    run.push_str(&format!(" -e PCMK_remote_port={port}"));
    let mut mount_points: Vec<String> = Vec::new();
    for (source, target, options, per_replica) in mounts(b) {
        let source = if per_replica {
            let s = format!("{source}/{replica}");
            mount_points.push(s.clone());
            s
        } else {
            source
        };
        run.push_str(&format!(" -v {source}:{target}"));
        if let Some(o) = options {
            run.push_str(&format!(":{o}"));
        }
    }
    for (source, target) in ports(b) {
        match addr {
            Some(a) => run.push_str(&format!(" -p {a}:{source}:{target}")),
            // With the host's network there is nothing to map.
            None if b.network.as_deref() != Some("host") => {
                run.push_str(&format!(" -p {source}:{target}"))
            }
            None => {}
        }
    }
    if let Some(o) = &b.options {
        run.push_str(&format!(" {o}"));
    }
    run.push_str(&format!(" {host_opts}"));
    let mut params = Attrs::new();
    params.insert("image".into(), b.image.clone());
    params.insert("allow_pull".into(), "true".into());
    params.insert("force_kill".into(), "false".into());
    params.insert("reuse".into(), "false".into());
    params.insert("run_opts".into(), run);
    params.insert("mount_points".into(), mount_points.join(","));
    match (&b.run_command, b.primitive.is_some()) {
        (Some(cmd), _) => {
            params.insert("run_cmd".into(), cmd.clone());
        }
        (None, true) => {
            params.insert("run_cmd".into(), "/usr/sbin/pacemaker-remoted".into());
        }
        (None, false) => {}
    }
    params.insert("monitor_cmd".into(), "/bin/true".into());
    Primitive {
        ops: vec![op(&id, "monitor", "60s", 60_000, None)],
        id,
        agent: heartbeat(b.kind.name()),
        params,
        meta: inherited_meta(b),
        // The bundled primitive's utilization is the container's (Pacemaker moves it).
        utilization: b
            .primitive
            .as_ref()
            .map(|p| p.utilization.clone())
            .unwrap_or_default(),
    }
}

impl<'a> Sched<'a> {
    /// Whether clone `ci` stands for a bundle's containers.
    pub(crate) fn is_bundle(&self, ci: usize) -> bool {
        bundle_replica_defs(self.clones[ci].set).is_some()
    }

    /// The actions an ordering on a bundle's promote or demote names, when the
    /// bundle holds a promotable clone (None otherwise). Pacemaker orders with
    /// the bundle's own promote/demote pseudo actions, not their completions:
    /// promote follows the bundle's running (as first, the bundle's running
    /// here) and comes before the bundled clone's promote (as then, that
    /// promote); demote comes before the bundled clone's demote (as then).
    /// A demote as first is refused on import.
    pub(crate) fn bundle_promotion_targets(
        &self,
        ci: usize,
        action: OrderAction,
        as_first: bool,
        g: &Graph,
    ) -> Option<Vec<usize>> {
        if !self.is_bundle(ci) || !matches!(action, OrderAction::Promote | OrderAction::Demote) {
            return None;
        }
        let b = self
            .cib
            .config
            .bundles
            .iter()
            .find(|b| b.id == self.clones[ci].id)?;
        let Some(&RscRef::C(cc)) = self.by_id.get(b.clone_id().as_str()) else {
            return None;
        };
        if !self.clones[cc].promotable {
            return None;
        }
        let [promote, _, demote, _] = g.promo_acts[cc];
        let [_, running, _, _] = g.clone_acts[ci];
        let act = match (action, as_first) {
            (OrderAction::Promote, true) => running,
            (OrderAction::Promote, false) => promote,
            (OrderAction::Demote, false) => demote,
            _ => return None,
        };
        Some(if act == usize::MAX {
            Vec::new()
        } else {
            vec![act]
        })
    }

    /// A replica's address starts before its container, which stops before it
    /// (Pacemaker's internal bundle orderings: the container is not restarted
    /// for an address that starts, as a configured ordering would).
    pub(crate) fn bundle_orders(&self, g: &mut Graph) {
        let prim = |id: &str| match self.by_id.get(id) {
            Some(&RscRef::P(p)) => Some(p),
            _ => None,
        };
        for b in &self.cib.config.bundles {
            self.bundled_clone_orders(b, g);
            for (i, addr) in b.replica_addresses().iter().enumerate() {
                let Some(addr) = addr else { continue };
                let (Some(ip), Some(c)) =
                    (prim(&b.address_id(addr)), prim(&b.container_id(i as u32)))
                else {
                    continue;
                };
                let ip_start = self.start_or_placeholder(ip, g);
                if let Some(start) = g.start_of[c] {
                    g.order(ip_start, start, ORDERED | UNRUNNABLE_FIRST_BLOCKS);
                }
                for &cs in &g.stops_of[c].clone() {
                    for &is in &g.stops_of[ip].clone() {
                        g.order(cs, is, ORDERED | THEN_IMPLIES_FIRST);
                    }
                }
            }
        }
    }

    /// The bundled primitive's clone starts and stops within the bundle (the
    /// clone of its containers here), and is promoted only once the bundle
    /// has stopped and started what it had to (Pacemaker's bundle internal
    /// constraints and promotable restart ordering).
    fn bundled_clone_orders(&self, b: &Bundle, g: &mut Graph) {
        let clone = |id: &str| match self.by_id.get(id) {
            Some(&RscRef::C(ci)) => Some(ci),
            _ => None,
        };
        let (Some(k), Some(cc)) = (clone(&b.id), clone(&b.clone_id())) else {
            return;
        };
        let [start, running, stop, stopped] = g.clone_acts[k];
        let [c_start, c_running, c_stop, c_stopped] = g.clone_acts[cc];
        if start == usize::MAX || c_start == usize::MAX {
            return;
        }
        g.order(start, c_start, ORDERED);
        g.order(c_running, running, ORDERED);
        g.order(stop, c_stop, ORDERED);
        g.order(c_stopped, stopped, ORDERED);
        if !self.clones[cc].promotable {
            return;
        }
        let [promote, _, _, demoted] = g.promo_acts[cc];
        if promote == usize::MAX {
            return;
        }
        g.order(stopped, promote, ORDERED);
        g.order(running, promote, ORDERED);
        g.order(demoted, stop, ORDERED);
        g.order(demoted, start, ORDERED);
    }

    /// Adds the next container of a bundle as an instance of the clone standing
    /// for it: its own definition and name, known by that name to history and
    /// constraints. The containers inherit the bundle's meta attributes through
    /// their definitions, without the clones' default stickiness.
    pub(crate) fn new_replica_instance(&mut self, ci: usize, defs: &'a [Primitive]) -> usize {
        let number = self.clones[ci].instances.len();
        // The history names containers, so no instance is made past the replicas.
        let def = &defs[number.min(defs.len().saturating_sub(1))];
        let layers = [&def.meta, &self.cib.config.rsc_defaults];
        let agent: Arc<str> = Arc::from(def.agent.to_string());
        let mut prim = self.new_prim(def.id.clone(), Some(def), agent, None, Meta(&layers));
        prim.clone = Some(ci);
        let p = self.prims.len();
        self.prims.push(prim);
        if self.failcounts.len() < self.prims.len() {
            self.failcounts.resize(self.prims.len(), Vec::new());
        }
        self.by_id.insert(&def.id, RscRef::P(p));
        self.clones[ci].instances.push(p);
        p
    }
}
