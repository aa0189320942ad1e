//! A change whose outcome the CLI cannot know must not be reported as "not
//! committed": an adversarial run saw two writes reported that way land in the CIB.
//!
//! The daemon here is a stand-in on a Unix socket, speaking the real control
//! protocol (hactl-proto frames): the situations under test (a commit that lands
//! after the daemon gave up waiting, a daemon that dies between reading a proposal
//! and answering) cannot be produced on demand with the real daemon.

use hactl_model::change::Change;
use hactl_model::{Cib, Node};
use hactl_proto::client::client_request::Request;
use hactl_proto::client::client_response::Response;
use hactl_proto::client::{CibJson, ClientRequest, ClientResponse, ClusterStatus};
use hactl_proto::{frame, MAX_FRAME_LEN};
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::process::{Command, Output};

/// How the stand-in daemon answers a proposal.
#[derive(Clone, Copy)]
enum OnPropose {
    /// The daemon's own words when its wait for the commit timed out.
    SaysUnknown,
    /// The connection closes without an answer (the daemon died mid-commit).
    Hangs,
    /// A definite refusal.
    Refuses,
}

fn cib() -> Cib {
    let mut cib = Cib::default();
    Change::AddNode {
        node: Node {
            name: "n1".into(),
            ..Default::default()
        },
    }
    .apply(&mut cib)
    .expect("a valid node");
    cib
}

fn serve(listener: UnixListener, on_propose: OnPropose) {
    let (mut s, _) = listener.accept().expect("accept");
    loop {
        let req: ClientRequest = match frame::read(&mut s, MAX_FRAME_LEN) {
            Ok(Some(r)) => r,
            _ => return,
        };
        let resp = match req.request {
            Some(Request::GetCib(_)) => ClientResponse::new(Response::Cib(CibJson {
                cib_json: serde_json::to_vec(&cib()).expect("json"),
            })),
            // A leader is known: the CLI asks before proposing.
            Some(Request::Status(_)) => ClientResponse::new(Response::Status(ClusterStatus {
                local_node: "n1".into(),
                dc: "n1".into(),
                has_quorum: true,
                ..Default::default()
            })),
            Some(Request::ProposeChange(_)) => match on_propose {
                OnPropose::SaysUnknown => ClientResponse::outcome_unknown(
                    "outcome unknown: not seen applied within 10 s (no quorum, or a leader change?)",
                ),
                OnPropose::Hangs => return,
                OnPropose::Refuses => ClientResponse::error("change rejected: no leader"),
            },
            _ => ClientResponse::error("not served by this stand-in"),
        };
        if frame::write(&mut s, &resp, MAX_FRAME_LEN).is_err() {
            return;
        }
    }
}

fn property_set(dir: &Path, on_propose: OnPropose) -> Output {
    let sock = dir.join("ctl.sock");
    let listener = UnixListener::bind(&sock).expect("bind");
    let server = std::thread::spawn(move || serve(listener, on_propose));
    let o = Command::new(env!("CARGO_BIN_EXE_hactl"))
        .args(["property", "set", "stonith-enabled=false", "--no-wait"])
        .arg("--socket")
        .arg(&sock)
        .output()
        .expect("run hactl");
    server.join().expect("stand-in daemon");
    o
}

#[test]
fn unknown_outcome_is_reported_as_unknown_with_how_to_check() {
    for case in [OnPropose::SaysUnknown, OnPropose::Hangs] {
        let dir = tempfile::tempdir().expect("tempdir");
        let o = property_set(dir.path(), case);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{err}");
        assert!(err.contains("outcome unknown"), "{err}");
        assert!(!err.contains("not committed"), "{err}");
        assert!(
            err.contains("hactl status") && err.contains("epoch, 1 "),
            "{err}"
        );
    }
}

#[test]
fn a_definite_refusal_still_says_not_committed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let o = property_set(dir.path(), OnPropose::Refuses);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{err}");
    assert!(err.contains("not committed"), "{err}");
    assert!(!err.contains("unknown"), "{err}");
}
