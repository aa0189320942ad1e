//! The local control socket: a Unix socket (mode 0600, serving only its owner, root)
//! serving the versioned `ClientRequest`/`ClientResponse` API of `hactl-proto`.

use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, PermissionsExt};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use hactl_consensus::{Change, NodeId};
use hactl_proto::client::{
    client_request::Request, client_response::Response, CibJson, ClientRequest, ClientResponse,
    ClusterStatus, LinkInfo, NodeInfo, NodeState,
};
use hactl_proto::{frame, CLIENT_API_VERSION};
use tokio::net::{UnixListener, UnixStream};
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

use crate::stop::StopOpts;
use crate::{Daemon, DaemonError};

/// Largest request accepted on the socket (a CIB change; whole CIBs go out, not in).
const MAX_REQUEST: usize = 4 * 1024 * 1024;

pub(crate) async fn serve(d: Arc<Daemon>, path: &Path) -> Result<JoinHandle<()>, DaemonError> {
    let io = |what: String| move |source| DaemonError::Io { what, source };
    if let Some(dir) = path.parent() {
        private_parent(dir)?;
    }
    remove_stale_socket(path).await?;
    let listener = UnixListener::bind(path).map_err(io(format!("binding {}", path.display())))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .map_err(io(format!("chmod 0600 {}", path.display())))?;
    // The socket file is ours, so its owner is this process's user: the only one
    // served (root in production), whatever the directory lets others reach.
    let owner = std::fs::metadata(path)
        .map_err(io(format!("reading {}", path.display())))?
        .uid();
    info!(socket = %path.display(), "control socket listening");
    Ok(tokio::spawn(async move {
        loop {
            match listener.accept().await {
                Ok((stream, _)) => match stream.peer_cred() {
                    Ok(c) if c.uid() == owner => {
                        tokio::spawn(connection(d.clone(), stream));
                    }
                    Ok(c) => {
                        warn!(uid = c.uid(), pid = ?c.pid(), "control socket: refused a connection from another user")
                    }
                    Err(e) => {
                        warn!(error = %e, "control socket: cannot read the peer's credentials")
                    }
                },
                Err(e) => {
                    warn!(error = %e, "control socket accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            }
        }
    }))
}

/// Creates the socket's directory private (0700) when it is missing. An existing
/// directory is left as it is: it may be shared (a 1777 `/tmp` once became 0700),
/// and the socket's own mode plus the peer check in [`serve`] keep others out.
fn private_parent(dir: &Path) -> Result<(), DaemonError> {
    if dir.as_os_str().is_empty() || dir.is_dir() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|source| DaemonError::Io {
            what: format!("creating {}", dir.display()),
            source,
        })
}

/// Removes a socket left by a killed daemon. A live daemon still answers on it, and
/// anything that is not a socket is not ours to delete.
async fn remove_stale_socket(path: &Path) -> Result<(), DaemonError> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(DaemonError::Io {
                what: format!("reading {}", path.display()),
                source,
            })
        }
    };
    if !meta.file_type().is_socket() {
        return Err(DaemonError::Config(format!(
            "{} exists and is not a socket; refusing to replace it (choose another --socket, or remove it)",
            path.display()
        )));
    }
    if UnixStream::connect(path).await.is_ok() {
        return Err(DaemonError::Config(format!(
            "another daemon is serving {}",
            path.display()
        )));
    }
    std::fs::remove_file(path).map_err(|source| DaemonError::Io {
        what: format!("removing stale {}", path.display()),
        source,
    })
}

async fn connection(d: Arc<Daemon>, mut stream: UnixStream) {
    loop {
        let req: ClientRequest = match frame::read_async(&mut stream, MAX_REQUEST).await {
            Ok(Some(r)) => r,
            Ok(None) => return,
            Err(e) => {
                debug!(error = %e, "bad control request");
                let resp = ClientResponse::error(format!("bad request: {e}"));
                let _ = frame::write_async(&mut stream, &resp, hactl_proto::MAX_FRAME_LEN).await;
                return;
            }
        };
        if matches!(req.request, Some(Request::Subscribe(_))) && req.version == CLIENT_API_VERSION {
            return crate::subscribe::serve(d, stream).await;
        }
        let stop = matches!(
            req.request,
            Some(Request::Shutdown(_) | Request::ClusterStop(_))
        );
        let resp = handle(&d, req).await;
        // Leave only once the stop succeeded; a refused one keeps the daemon up.
        let stop = stop && matches!(resp.response, Some(Response::Ok(_)));
        if let Err(e) = frame::write_async(&mut stream, &resp, hactl_proto::MAX_FRAME_LEN).await {
            debug!(error = %e, "control client went away");
            return;
        }
        if stop {
            d.shutdown.notify_one();
            return;
        }
    }
}

async fn handle(d: &Arc<Daemon>, req: ClientRequest) -> ClientResponse {
    if req.version != CLIENT_API_VERSION {
        return ClientResponse::error(format!(
            "client API version {} not supported by this daemon (it speaks {})",
            req.version, CLIENT_API_VERSION
        ));
    }
    match req.request {
        None => ClientResponse::error("empty or unknown request"),
        // Served as a stream by `connection` before it gets here.
        Some(Request::Subscribe(_)) => ClientResponse::error("subscribe is a stream of its own"),
        Some(Request::Status(_)) => ClientResponse::new(Response::Status(status(d))),
        Some(Request::GetCib(_)) => match serde_json::to_vec(&*d.consensus.status().cib) {
            Ok(cib_json) => ClientResponse::new(Response::Cib(CibJson { cib_json })),
            Err(e) => ClientResponse::error(format!("encoding the CIB: {e}")),
        },
        Some(Request::ProposeChange(p)) => {
            debug!(target: "timing", bytes = p.change_json.len(), "control: proposal received");
            let change: Change = match serde_json::from_slice(&p.change_json) {
                Ok(c) => c,
                Err(e) => return ClientResponse::error(format!("not a CIB change: {e}")),
            };
            match d.propose(change).await {
                Ok(index) => {
                    debug!(target: "timing", index, "control: proposal applied, answering");
                    ClientResponse::ok("applied", index)
                }
                Err(e @ hactl_consensus::ProposeError::Unknown(_)) => {
                    ClientResponse::outcome_unknown(e.to_string())
                }
                Err(e) => ClientResponse::error(e.to_string()),
            }
        }
        Some(Request::NodeAdd(n)) => match d.node_add(&n.name, &n.address).await {
            Ok(index) => ClientResponse::ok(format!("node {} added", n.name), index),
            Err(e) => ClientResponse::error(format!("node add {}: {e}", n.name)),
        },
        Some(Request::NodeRemove(n)) => match d
            .node_remove(&n.name, StopOpts::new(n.timeout_ms, n.force))
            .await
        {
            Ok(index) => ClientResponse::ok(format!("node {} removed", n.name), index),
            Err(e) => ClientResponse::error(format!("node remove {}: {e}", n.name)),
        },
        Some(Request::ClusterStop(s)) => {
            match d.cluster_stop(StopOpts::new(s.timeout_ms, s.force)).await {
                Ok(()) => ClientResponse::ok(
                    format!(
                        "every node asked to stop; nothing runs on {} any more, it leaves the cluster",
                        d.me_name
                    ),
                    0,
                ),
                Err(e) => ClientResponse::error(format!(
                    "cluster stop: {e}; the daemon on {} keeps running (use --force to stop it anyway)",
                    d.me_name
                )),
            }
        }
        Some(Request::Shutdown(s)) => {
            match d
                .clean_stop(StopOpts::new(s.timeout_ms, s.force), &[])
                .await
            {
                Ok(()) => ClientResponse::ok(
                    format!(
                        "nothing runs on {} any more; leaving the cluster",
                        d.me_name
                    ),
                    0,
                ),
                Err(e) => ClientResponse::error(format!(
                    "{e}; the daemon on {} keeps running (use --force to stop it anyway)",
                    d.me_name
                )),
            }
        }
        Some(Request::FenceNode(f)) => {
            if f.target.is_empty() {
                return ClientResponse::error("fence: no target node given");
            }
            if !matches!(f.action.as_str(), "" | "off" | "on" | "reboot") {
                return ClientResponse::error(format!(
                    "fence: unknown action {:?} (off, on, reboot)",
                    f.action
                ));
            }
            let out =
                crate::fencing::fence_and_record(d, &f.target, &f.action, "operator", true).await;
            if out.ok {
                ClientResponse::ok(out.summary, 0)
            } else {
                ClientResponse::error(out.summary)
            }
        }
    }
}

pub(crate) fn status(d: &Daemon) -> ClusterStatus {
    let s = d.consensus.status();
    let now = Instant::now();
    let nodes = d
        .members
        .all()
        .into_iter()
        .map(|(id, name, addrs)| {
            let st = s.cib.status.nodes.get(name.as_str());
            let state = node_state(d.alive(id, now), st);
            NodeInfo {
                name: name.as_str().to_string(),
                id,
                address: addrs.first().map(|a| a.to_string()).unwrap_or_default(),
                links: if id == d.me {
                    Vec::new()
                } else {
                    link_infos(d, id, &name, &addrs, now)
                },
                state: state as i32,
                last_seen_ms: (id != d.me)
                    .then(|| d.silent_for(id, now).map(|t| t.as_millis() as u64))
                    .flatten(),
                clock_offset_ms: (id != d.me)
                    .then(|| d.clocks.lock().ok().and_then(|c| c.offset_ms(id)))
                    .flatten(),
                membership: membership(&s, id).to_string(),
                rejoin: d
                    .rejoin_of(&s, id)
                    .map(|p| p.as_str().to_string())
                    .unwrap_or_default(),
            }
        })
        .collect();
    ClusterStatus {
        cluster_name: d.cluster.name.clone(),
        local_node: d.me_name.clone(),
        nodes,
        dc: d.leader_name().unwrap_or_default(),
        has_quorum: d.quorum.borrow().have,
        term: s.term,
        commit_index: s.commit_index,
        applied_index: s.applied_index,
        stalled: s.stalled.clone().unwrap_or_default(),
        entry_format: s.entry_format,
        dc_idle: d.controller.get().is_some_and(|c| c.dc_idle()),
        witness: d.witness.info(now),
    }
}

/// Each of a peer's links: up or down, since when silent, QUIC's RTT on it.
fn link_infos(
    d: &Daemon,
    id: NodeId,
    name: &hactl_net::NodeName,
    addrs: &[std::net::SocketAddr],
    now: Instant,
) -> Vec<LinkInfo> {
    let (active, view) = d.links.current(id, addrs.len(), now);
    view.into_iter()
        .zip(addrs)
        .enumerate()
        .map(|(k, (v, addr))| LinkInfo {
            index: k as u32,
            address: addr.to_string(),
            up: v.up,
            last_heard_ms: v.silent.map(|t| t.as_millis() as u64),
            rtt_us: v
                .up
                .then(|| d.transport.link_rtt(name, k as u8))
                .flatten()
                .map(|r| r.as_micros() as u64),
            active: active == k as u32,
        })
        .collect()
}

fn membership(s: &hactl_consensus::Status, id: NodeId) -> &'static str {
    if s.voters.contains(&id) {
        "voter"
    } else if s.learners.contains(&id) {
        "learner"
    } else {
        ""
    }
}

/// Pacemaker's node state from liveness and the CIB: heard from → online; silent after
/// a clean leave (or fencing) or never a member → offline; silent while expected up →
/// unclean.
pub(crate) fn node_state(alive: bool, st: Option<&hactl_model::NodeStatus>) -> NodeState {
    if alive {
        return NodeState::Online;
    }
    let left_cleanly =
        st.is_some_and(|st| st.expected.as_deref() == Some("down") || st.fenced_at.is_some());
    let was_member =
        st.is_some_and(|st| st.member == Some(true) || st.expected.as_deref() == Some("member"));
    if was_member && !left_cleanly {
        NodeState::Unclean
    } else {
        NodeState::Offline
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hactl_model::NodeStatus;

    #[test]
    fn node_states_follow_pacemaker() {
        let up = NodeStatus {
            member: Some(true),
            expected: Some("member".into()),
            ..Default::default()
        };
        assert_eq!(node_state(true, Some(&up)), NodeState::Online);
        // Lost while expected up: unclean, also once the DC recorded member=false.
        assert_eq!(node_state(false, Some(&up)), NodeState::Unclean);
        let lost = NodeStatus {
            member: Some(false),
            ..up.clone()
        };
        assert_eq!(node_state(false, Some(&lost)), NodeState::Unclean);
        // Clean leave.
        let left = NodeStatus {
            member: Some(false),
            expected: Some("down".into()),
            ..Default::default()
        };
        assert_eq!(node_state(false, Some(&left)), NodeState::Offline);
        // Fenced.
        let fenced = NodeStatus {
            fenced_at: Some(1),
            ..lost
        };
        assert_eq!(node_state(false, Some(&fenced)), NodeState::Offline);
        // Never seen.
        assert_eq!(node_state(false, None), NodeState::Offline);
        assert_eq!(node_state(true, None), NodeState::Online);
    }
}
