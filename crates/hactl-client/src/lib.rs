//! Client of the hactl daemon's control socket.
//!
//! The daemon listens on a root-only Unix socket (default [`DEFAULT_SOCKET`]). Each
//! request is one length-delimited [`ClientRequest`] frame, answered by one
//! [`ClientResponse`] frame (see `hactl_proto::frame`); a connection may carry several
//! exchanges. Blocking I/O: the CLI makes one or two calls and exits.
//!
//! ```no_run
//! let mut c = hactl_client::Client::connect(&hactl_client::socket_path(None))?;
//! let status = c.status()?;
//! println!("DC: {}", status.dc);
//! # Ok::<(), hactl_client::ClientError>(())
//! ```

use hactl_proto::client::{
    self, client_request::Request, client_response::Response, ClientRequest, ClientResponse,
};
use hactl_proto::frame::{self, FrameError};
use hactl_proto::{CLIENT_API_VERSION, MAX_FRAME_LEN};
use std::io::ErrorKind;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where the daemon listens unless told otherwise.
pub const DEFAULT_SOCKET: &str = "/run/hactl/hactl.sock";
/// Environment variable that overrides the socket path.
pub const SOCKET_ENV: &str = "HACTL_SOCKET";
/// How long to wait for an answer by default: a proposal waits for a Raft commit,
/// which takes milliseconds with quorum; much longer means something is wrong.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a command that needs the Raft leader waits for one: an election takes
/// well under a second (election timeout 250–500 ms), so much longer means no
/// quorum rather than an election in progress.
pub const LEADER_WAIT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(
        "cannot reach the hactl daemon at {path}: is it running? (start it with `hactl cluster start`, \
         or name another daemon's socket with --socket PATH or HACTL_SOCKET=PATH)"
    )]
    NotRunning { path: PathBuf },
    #[error("the control socket is root-only: permission denied on {path} (run as root)")]
    PermissionDenied { path: PathBuf },
    #[error("the hactl daemon at {path} did not answer within {secs} s")]
    Timeout { path: PathBuf, secs: u64 },
    #[error("control socket {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("control socket {path}: {source}")]
    Frame {
        path: PathBuf,
        #[source]
        source: FrameError,
    },
    #[error("the hactl daemon at {path} closed the connection without answering")]
    NoAnswer { path: PathBuf },
    #[error("the daemon speaks control API version {theirs}, this hactl speaks {ours}: run the same hactl version on both")]
    Version { ours: u32, theirs: u32 },
    /// The daemon answered with an error.
    #[error("{0}")]
    Daemon(String),
    /// The daemon answered that a write may or may not be committed.
    #[error("{0}")]
    OutcomeUnknown(String),
    #[error("unexpected answer from the daemon: {0}")]
    Unexpected(String),
    /// No leader was elected while a command that needs one waited.
    #[error("no leader elected within {secs} s ({why}): nothing was sent; see `hactl status`")]
    NoLeader { secs: u64, why: &'static str },
}

impl ClientError {
    /// Whether a write that failed this way may still have been committed: the
    /// request may have reached the daemon and no definite answer came back (a
    /// timeout, a closed or garbled connection), or the daemon said it cannot tell.
    /// Errors from before the request went out, and refusals, are definite.
    pub fn outcome_unknown(&self) -> bool {
        matches!(
            self,
            ClientError::OutcomeUnknown(_)
                | ClientError::Timeout { .. }
                | ClientError::NoAnswer { .. }
                | ClientError::Frame { .. }
                | ClientError::Io { .. }
        )
    }
}

/// The socket path: `explicit` (the CLI's `--socket`), else `$HACTL_SOCKET`, else
/// [`DEFAULT_SOCKET`].
pub fn socket_path(explicit: Option<&Path>) -> PathBuf {
    if let Some(p) = explicit {
        return p.to_path_buf();
    }
    match std::env::var_os(SOCKET_ENV) {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => PathBuf::from(DEFAULT_SOCKET),
    }
}

/// How a node stops (`hactl cluster stop`, `node remove`).
#[derive(Debug, Clone, Copy, Default)]
pub struct StopOptions {
    /// How long to wait for the node's resources to stop; `None`: the daemon's default
    /// (the longest stop timeout of what runs there plus a margin).
    pub timeout: Option<Duration>,
    /// Go on even if a stop failed or the wait ran out.
    pub force: bool,
}

impl StopOptions {
    fn timeout_ms(&self) -> u64 {
        self.timeout
            .map(|t| u64::try_from(t.as_millis()).unwrap_or(u64::MAX))
            .unwrap_or(0)
    }
}

/// A connection to the daemon.
pub struct Client {
    stream: UnixStream,
    path: PathBuf,
    timeout: Duration,
}

impl Client {
    /// Connects to the daemon's socket at `path`.
    pub fn connect(path: &Path) -> Result<Client, ClientError> {
        let stream = UnixStream::connect(path).map_err(|e| classify(path, e))?;
        let mut c = Client {
            stream,
            path: path.to_path_buf(),
            timeout: DEFAULT_TIMEOUT,
        };
        c.set_timeout(DEFAULT_TIMEOUT)?;
        Ok(c)
    }

    /// Sets how long to wait for each answer.
    pub fn set_timeout(&mut self, timeout: Duration) -> Result<(), ClientError> {
        self.timeout = timeout;
        let t = Some(timeout.max(Duration::from_millis(1)));
        self.stream
            .set_read_timeout(t)
            .and_then(|_| self.stream.set_write_timeout(t))
            .map_err(|source| ClientError::Io {
                path: self.path.clone(),
                source,
            })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The process id of the daemon at the other end of the socket (SO_PEERCRED), so
    /// `hactl cluster stop` can wait for that process to exit.
    pub fn daemon_pid(&self) -> Option<u32> {
        use std::os::fd::AsRawFd;
        let mut cred = libc::ucred {
            pid: 0,
            uid: 0,
            gid: 0,
        };
        let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
        // SAFETY: `cred` and `len` are valid for writes of the sizes given, and the fd
        // belongs to our open stream.
        let rc = unsafe {
            libc::getsockopt(
                self.stream.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_PEERCRED,
                (&mut cred as *mut libc::ucred).cast(),
                &mut len,
            )
        };
        (rc == 0 && cred.pid > 0).then_some(cred.pid as u32)
    }

    /// Sends one request and returns the daemon's answer. An `Error` answer becomes
    /// [`ClientError::Daemon`].
    pub fn request(&mut self, request: Request) -> Result<Response, ClientError> {
        let req = ClientRequest::new(request);
        frame::write(&mut self.stream, &req, MAX_FRAME_LEN).map_err(|e| self.frame_err(e))?;
        let resp: ClientResponse = frame::read(&mut self.stream, MAX_FRAME_LEN)
            .map_err(|e| self.frame_err(e))?
            .ok_or_else(|| ClientError::NoAnswer {
                path: self.path.clone(),
            })?;
        if resp.version != CLIENT_API_VERSION {
            // A daemon that refuses our version says so in an error; show it.
            return Err(match resp.response {
                Some(Response::Error(e)) => ClientError::Daemon(e.message),
                _ => ClientError::Version {
                    ours: CLIENT_API_VERSION,
                    theirs: resp.version,
                },
            });
        }
        match resp.response {
            Some(Response::Error(e)) if e.outcome_unknown => {
                Err(ClientError::OutcomeUnknown(e.message))
            }
            Some(Response::Error(e)) => Err(ClientError::Daemon(e.message)),
            Some(r) => Ok(r),
            None => Err(ClientError::Unexpected(
                "an answer of a kind this hactl does not know".into(),
            )),
        }
    }

    /// Turns this connection into the daemon's subscribe stream: a snapshot, then
    /// one event per change, pushed by the daemon. Reads then wait as long as it
    /// takes (no timeout): the next change may be hours away.
    pub fn subscribe(mut self) -> Result<Subscription, ClientError> {
        let req = ClientRequest::new(Request::Subscribe(client::Subscribe {}));
        frame::write(&mut self.stream, &req, MAX_FRAME_LEN).map_err(|e| self.frame_err(e))?;
        self.stream
            .set_read_timeout(None)
            .map_err(|source| ClientError::Io {
                path: self.path.clone(),
                source,
            })?;
        Ok(Subscription { client: self })
    }

    /// Cluster status as the answering daemon sees it.
    pub fn status(&mut self) -> Result<client::ClusterStatus, ClientError> {
        match self.request(Request::Status(client::StatusRequest {}))? {
            Response::Status(s) => Ok(s),
            other => Err(unexpected("status", &other)),
        }
    }

    /// Waits until the daemon knows a Raft leader (the DC), at most `limit`, and
    /// returns its status then. Changes go through the leader: sent while an election
    /// is in progress (just after `cluster start`, after a leader loss) they would be
    /// refused with "no leader" although one is moments away.
    pub fn wait_for_leader(
        &mut self,
        limit: Duration,
    ) -> Result<client::ClusterStatus, ClientError> {
        let deadline = std::time::Instant::now() + limit;
        loop {
            let s = self.status()?;
            if !s.dc.is_empty() {
                return Ok(s);
            }
            if std::time::Instant::now() >= deadline {
                return Err(ClientError::NoLeader {
                    secs: limit.as_secs(),
                    why: if s.has_quorum {
                        "an election is still in progress"
                    } else {
                        "this node has no quorum: are enough nodes started?"
                    },
                });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The CIB as JSON.
    pub fn get_cib(&mut self) -> Result<Vec<u8>, ClientError> {
        match self.request(Request::GetCib(client::GetCibRequest {}))? {
            Response::Cib(c) => Ok(c.cib_json),
            other => Err(unexpected("the CIB", &other)),
        }
    }

    /// Proposes a CIB change (JSON of the consensus crate's change type); returns once
    /// it is committed, with the Raft index it was committed at.
    pub fn propose_change(&mut self, change_json: Vec<u8>) -> Result<client::Ack, ClientError> {
        self.ack(Request::ProposeChange(client::ProposeChange {
            change_json,
        }))
    }

    pub fn node_add(&mut self, name: &str, address: &str) -> Result<client::Ack, ClientError> {
        self.ack(Request::NodeAdd(client::NodeAdd {
            name: name.into(),
            address: address.into(),
        }))
    }

    /// Removes `name` once nothing runs on it any more (see [`StopOptions`]).
    pub fn node_remove(
        &mut self,
        name: &str,
        opts: StopOptions,
    ) -> Result<client::Ack, ClientError> {
        self.ack(Request::NodeRemove(client::NodeRemove {
            name: name.into(),
            timeout_ms: opts.timeout_ms(),
            force: opts.force,
        }))
    }

    /// Asks the cluster to stop (every node stops its resources and its daemon);
    /// answers once this node has stopped its own.
    pub fn cluster_stop(&mut self, opts: StopOptions) -> Result<client::Ack, ClientError> {
        self.ack(Request::ClusterStop(client::ClusterStop {
            timeout_ms: opts.timeout_ms(),
            force: opts.force,
        }))
    }

    /// Asks the local daemon to fence `target` (`action` empty: stonith-action). The
    /// caller sets a timeout above stonith-timeout: the answer comes once fencing is
    /// done. Fencing that failed is an error carrying the reason.
    pub fn fence_node(&mut self, target: &str, action: &str) -> Result<client::Ack, ClientError> {
        self.ack(Request::FenceNode(client::FenceNode {
            target: target.into(),
            action: action.into(),
        }))
    }

    /// Asks the local daemon to stop with the default wait for its resources.
    pub fn shutdown(&mut self) -> Result<client::Ack, ClientError> {
        self.shutdown_with(StopOptions::default())
    }

    /// Asks the local daemon to stop: it answers once its resources are stopped (it
    /// then leaves), or with an error naming the resource that would not stop (it
    /// stays up unless `force`). The caller's timeout must cover `opts.timeout`.
    pub fn shutdown_with(&mut self, opts: StopOptions) -> Result<client::Ack, ClientError> {
        self.ack(Request::Shutdown(client::Shutdown {
            timeout_ms: opts.timeout_ms(),
            force: opts.force,
        }))
    }

    fn ack(&mut self, req: Request) -> Result<client::Ack, ClientError> {
        match self.request(req)? {
            Response::Ok(a) => Ok(a),
            other => Err(unexpected("ok", &other)),
        }
    }

    fn frame_err(&self, e: FrameError) -> ClientError {
        match e {
            FrameError::Io(io)
                if matches!(io.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) =>
            {
                ClientError::Timeout {
                    path: self.path.clone(),
                    secs: self.timeout.as_secs(),
                }
            }
            FrameError::Truncated => ClientError::NoAnswer {
                path: self.path.clone(),
            },
            FrameError::Io(io)
                if matches!(
                    io.kind(),
                    ErrorKind::BrokenPipe | ErrorKind::ConnectionReset | ErrorKind::UnexpectedEof
                ) =>
            {
                ClientError::NoAnswer {
                    path: self.path.clone(),
                }
            }
            source => ClientError::Frame {
                path: self.path.clone(),
                source,
            },
        }
    }
}

fn unexpected(wanted: &str, got: &Response) -> ClientError {
    let kind = match got {
        Response::Status(_) => "status",
        Response::Cib(_) => "cib",
        Response::Ok(_) => "ok",
        Response::Error(_) => "error",
        Response::Event(_) => "event",
    };
    ClientError::Unexpected(format!("asked for {wanted}, got {kind}"))
}

fn classify(path: &Path, e: std::io::Error) -> ClientError {
    match e.kind() {
        // No socket file, or a stale one nobody listens on.
        ErrorKind::NotFound | ErrorKind::ConnectionRefused => ClientError::NotRunning {
            path: path.to_path_buf(),
        },
        ErrorKind::PermissionDenied => ClientError::PermissionDenied {
            path: path.to_path_buf(),
        },
        _ => ClientError::Io {
            path: path.to_path_buf(),
            source: e,
        },
    }
}

/// The daemon's subscribe stream (see [`Client::subscribe`]).
pub struct Subscription {
    client: Client,
}

impl Subscription {
    /// The next event; `None` when the stream ended (the daemon stopped, or dropped
    /// this subscriber for falling behind: subscribe again for a new snapshot).
    pub fn next_event(&mut self) -> Result<Option<client::Event>, ClientError> {
        let c = &mut self.client;
        let resp: Option<ClientResponse> =
            frame::read(&mut c.stream, MAX_FRAME_LEN).map_err(|e| c.frame_err(e))?;
        match resp.and_then(|r| r.response) {
            None => Ok(None),
            Some(Response::Event(e)) => Ok(Some(e)),
            Some(Response::Error(e)) => Err(ClientError::Daemon(e.message)),
            Some(other) => Err(unexpected("an event", &other)),
        }
    }
}
