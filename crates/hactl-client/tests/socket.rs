//! The client against a real Unix socket. The daemon is another crate; here a small
//! in-test server speaks the same framing so the client's side can be checked alone.

use hactl_client::{Client, ClientError};
use hactl_proto::client::{self, client_request::Request, ClientRequest, ClientResponse};
use hactl_proto::{frame, MAX_FRAME_LEN};
use std::os::unix::net::UnixListener;
use std::time::Duration;

/// Serves `n` connections; answers each request with `answer(request)`.
fn serve(
    listener: UnixListener,
    n: usize,
    answer: impl Fn(ClientRequest) -> Option<Vec<u8>> + Send + 'static,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        for _ in 0..n {
            let (mut s, _) = listener.accept().unwrap();
            while let Ok(Some(req)) = frame::read::<ClientRequest, _>(&mut s, MAX_FRAME_LEN) {
                match answer(req) {
                    Some(bytes) => {
                        if std::io::Write::write_all(&mut s, &bytes).is_err() {
                            break;
                        }
                    }
                    None => break,
                }
            }
        }
    })
}

fn encode(r: &ClientResponse) -> Option<Vec<u8>> {
    Some(frame::encode(r, MAX_FRAME_LEN).unwrap())
}

#[test]
fn no_daemon_gives_the_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hactl.sock");
    let err = Client::connect(&path).err().unwrap();
    assert!(matches!(err, ClientError::NotRunning { .. }));
    assert_eq!(
        err.to_string(),
        format!(
            "cannot reach the hactl daemon at {}: is it running? (start it with \
             `hactl cluster start`, or name another daemon's socket with --socket PATH or \
             HACTL_SOCKET=PATH)",
            path.display()
        )
    );
    // A stale socket file nobody listens on: same error.
    drop(UnixListener::bind(&path).unwrap());
    assert!(matches!(
        Client::connect(&path).err().unwrap(),
        ClientError::NotRunning { .. }
    ));
}

#[test]
fn requests_and_answers() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hactl.sock");
    let listener = UnixListener::bind(&path).unwrap();
    let server = serve(listener, 1, |req| {
        assert_eq!(req.version, hactl_proto::CLIENT_API_VERSION);
        match req.request? {
            Request::Status(_) => encode(&ClientResponse::new(
                client::client_response::Response::Status(client::ClusterStatus {
                    cluster_name: "lab".into(),
                    dc: "n1".into(),
                    has_quorum: true,
                    term: 3,
                    ..Default::default()
                }),
            )),
            Request::ProposeChange(p) => {
                if p.change_json == b"{}" {
                    encode(&ClientResponse::ok("committed", 17))
                } else {
                    encode(&ClientResponse::error("bad change: not an object"))
                }
            }
            _ => encode(&ClientResponse::error("not supported")),
        }
    });
    let mut c = Client::connect(&path).unwrap();
    let s = c.status().unwrap();
    assert_eq!(
        (s.cluster_name.as_str(), s.dc.as_str(), s.term),
        ("lab", "n1", 3)
    );
    assert_eq!(c.propose_change(b"{}".to_vec()).unwrap().index, 17);
    let err = c.propose_change(b"[]".to_vec()).unwrap_err();
    assert_eq!(err.to_string(), "bad change: not an object");
    assert!(c.get_cib().is_err());
    drop(c);
    server.join().unwrap();
}

#[test]
fn version_mismatch_garbage_silence_and_hangup_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hactl.sock");
    let listener = UnixListener::bind(&path).unwrap();
    let server = serve(listener, 4, {
        let i = std::sync::Mutex::new(0);
        move |_req| {
            let mut n = i.lock().unwrap();
            *n += 1;
            match *n {
                1 => {
                    let mut r = ClientResponse::ok("", 0);
                    r.version = 99;
                    encode(&r)
                }
                2 => Some(vec![0, 0, 0, 3, 0x0f, 0xff, 0xff]),
                3 => {
                    std::thread::sleep(Duration::from_millis(600));
                    None
                }
                _ => None,
            }
        }
    });
    let mut c = Client::connect(&path).unwrap();
    let err = c.shutdown().unwrap_err();
    assert!(
        matches!(err, ClientError::Version { theirs: 99, .. }),
        "{err}"
    );
    // Shadowing would keep the old connection open; the test server is sequential.
    drop(c);
    let mut c = Client::connect(&path).unwrap();
    let err = c.shutdown().unwrap_err();
    assert!(matches!(err, ClientError::Frame { .. }), "{err}");
    drop(c);
    let mut c = Client::connect(&path).unwrap();
    c.set_timeout(Duration::from_millis(200)).unwrap();
    let err = c.shutdown().unwrap_err();
    assert!(matches!(err, ClientError::Timeout { .. }), "{err}");
    drop(c);
    let mut c = Client::connect(&path).unwrap();
    let err = c.shutdown().unwrap_err();
    assert!(matches!(err, ClientError::NoAnswer { .. }), "{err}");
    server.join().unwrap();
}
