//! Round trips of both protocols through the framing, and what bad input does.

use hactl_proto::client::{self, client_request::Request, client_response::Response};
use hactl_proto::frame::{self, FrameError};
use hactl_proto::peer::{self, peer_message::Body, PeerMessage};
use hactl_proto::{CLIENT_API_VERSION, MAX_FRAME_LEN, PEER_PROTOCOL_VERSION};

fn sample_status() -> client::ClientResponse {
    client::ClientResponse::new(Response::Status(client::ClusterStatus {
        cluster_name: "prod".into(),
        local_node: "n1".into(),
        nodes: vec![
            client::NodeInfo {
                name: "n1".into(),
                id: 1,
                address: "10.0.0.1:7946".into(),
                state: client::NodeState::Online as i32,
                last_seen_ms: None,
                clock_offset_ms: None,
                membership: "voter".into(),
                rejoin: String::new(),
                links: Vec::new(),
            },
            client::NodeInfo {
                name: "n2".into(),
                id: 2,
                address: "10.0.0.2:7946".into(),
                state: client::NodeState::Unclean as i32,
                last_seen_ms: Some(1500),
                clock_offset_ms: Some(-3200),
                membership: "learner".into(),
                rejoin: "rejoining: learner, catching up".into(),
                links: vec![client::LinkInfo {
                    index: 1,
                    address: "192.168.1.2:7946".into(),
                    up: true,
                    last_heard_ms: Some(20),
                    rtt_us: Some(310),
                    active: true,
                }],
            },
        ],
        dc: "n1".into(),
        has_quorum: true,
        term: 7,
        commit_index: 42,
        applied_index: 41,
        stalled: String::new(),
        entry_format: 2,
        dc_idle: true,
        witness: None,
    }))
}

#[test]
fn peer_messages_round_trip() {
    let msgs = vec![
        PeerMessage::raft("prod", vec![1, 2, 3, 0, 255]),
        PeerMessage::heartbeat(
            "prod",
            peer::Heartbeat {
                node: "n2".into(),
                term: 3,
                leader_id: 1,
                sent_unix_micros: 1_700_000_000_000_000,
                seq: 99,
                ..Default::default()
            },
        ),
        PeerMessage::hello("prod", "n3"),
    ];
    for m in msgs {
        let buf = frame::encode(&m, MAX_FRAME_LEN).unwrap();
        assert_eq!(&buf[..4], &((buf.len() - 4) as u32).to_be_bytes());
        let back: PeerMessage = frame::decode(&buf, MAX_FRAME_LEN).unwrap();
        assert_eq!(back, m);
    }
    let hello = PeerMessage::hello("prod", "n3");
    match hello.body {
        Some(Body::Hello(h)) => {
            assert_eq!(h.protocol_version, PEER_PROTOCOL_VERSION);
            assert_eq!(h.cluster, "prod");
        }
        other => panic!("not a hello: {other:?}"),
    }
}

#[test]
fn client_messages_round_trip_over_a_blocking_stream() {
    let req = client::ClientRequest::new(Request::ProposeChange(client::ProposeChange {
        change_json: br#"{"set_property":{"name":"stonith-enabled","value":"false"}}"#.to_vec(),
    }));
    assert_eq!(req.version, CLIENT_API_VERSION);
    let resp = sample_status();
    let mut wire = Vec::new();
    frame::write(&mut wire, &req, MAX_FRAME_LEN).unwrap();
    frame::write(&mut wire, &resp, MAX_FRAME_LEN).unwrap();
    let mut r = wire.as_slice();
    let a: client::ClientRequest = frame::read(&mut r, MAX_FRAME_LEN).unwrap().unwrap();
    let b: client::ClientResponse = frame::read(&mut r, MAX_FRAME_LEN).unwrap().unwrap();
    assert_eq!(a, req);
    assert_eq!(b, resp);
    // Clean end of stream between frames.
    assert!(
        frame::read::<client::ClientRequest, _>(&mut r, MAX_FRAME_LEN)
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn async_round_trip_and_errors() {
    let (mut a, mut b) = tokio::io::duplex(64 * 1024);
    let resp = sample_status();
    frame::write_async(&mut a, &resp, MAX_FRAME_LEN)
        .await
        .unwrap();
    let got: client::ClientResponse = frame::read_async(&mut b, MAX_FRAME_LEN)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got, resp);
    // A prefix announcing more than the maximum is refused before reading the body.
    tokio::io::AsyncWriteExt::write_all(&mut a, &(1_000_000u32).to_be_bytes())
        .await
        .unwrap();
    let err = frame::read_async::<client::ClientResponse, _>(&mut b, 1000)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            FrameError::TooLarge {
                len: 1_000_000,
                max: 1000
            }
        ),
        "{err}"
    );
}

#[test]
fn oversized_frames_are_refused_both_ways() {
    let big = PeerMessage::raft("prod", vec![7u8; 2000]);
    let err = frame::encode(&big, 1000).unwrap_err();
    assert!(
        matches!(err, FrameError::TooLarge { max: 1000, .. }),
        "{err}"
    );
    let buf = frame::encode(&big, MAX_FRAME_LEN).unwrap();
    let err = frame::decode::<PeerMessage>(&buf, 1000).unwrap_err();
    assert!(
        matches!(err, FrameError::TooLarge { max: 1000, .. }),
        "{err}"
    );
    let mut r = buf.as_slice();
    let err = frame::read::<PeerMessage, _>(&mut r, 1000).unwrap_err();
    assert!(matches!(err, FrameError::TooLarge { .. }), "{err}");
    // The maximum allowed length prefix (u32::MAX) with no body: refused, no allocation.
    let mut r: &[u8] = &u32::MAX.to_be_bytes();
    let err = frame::read::<PeerMessage, _>(&mut r, MAX_FRAME_LEN).unwrap_err();
    assert!(matches!(err, FrameError::TooLarge { .. }), "{err}");
}

#[test]
fn malformed_and_truncated_frames_are_errors() {
    // Body is not a valid protobuf message (field 1 with wire type 7 does not exist).
    let mut bad = 3u32.to_be_bytes().to_vec();
    bad.extend_from_slice(&[0x0f, 0xff, 0xff]);
    let err = frame::decode::<PeerMessage>(&bad, MAX_FRAME_LEN).unwrap_err();
    assert!(matches!(err, FrameError::Decode(_)), "{err}");
    let mut r = bad.as_slice();
    let err = frame::read::<client::ClientRequest, _>(&mut r, MAX_FRAME_LEN).unwrap_err();
    assert!(matches!(err, FrameError::Decode(_)), "{err}");

    // Prefix says 10 bytes, only 3 follow.
    let mut short = 10u32.to_be_bytes().to_vec();
    short.extend_from_slice(&[1, 2, 3]);
    let mut r = short.as_slice();
    let err = frame::read::<PeerMessage, _>(&mut r, MAX_FRAME_LEN).unwrap_err();
    assert!(matches!(err, FrameError::Truncated), "{err}");
    let err = frame::decode::<PeerMessage>(&short, MAX_FRAME_LEN).unwrap_err();
    assert!(matches!(err, FrameError::Truncated), "{err}");

    // Half a prefix.
    let mut r: &[u8] = &[0, 0];
    let err = frame::read::<PeerMessage, _>(&mut r, MAX_FRAME_LEN).unwrap_err();
    assert!(matches!(err, FrameError::Truncated), "{err}");
}

#[test]
fn unknown_oneof_arm_decodes_as_none() {
    // Field 29 (reserved for later message kinds) with a length-delimited payload: an
    // older receiver must skip it, not fail.
    let mut body = vec![];
    body.extend_from_slice(&[0x0a, 4]);
    body.extend_from_slice(b"prod");
    body.extend_from_slice(&[(29 << 3 | 2) as u8, 0x01, 2, 0xaa, 0xbb]);
    let mut buf = (body.len() as u32).to_be_bytes().to_vec();
    buf.extend_from_slice(&body);
    let m: PeerMessage = frame::decode(&buf, MAX_FRAME_LEN).unwrap();
    assert_eq!(m.cluster, "prod");
    assert!(m.body.is_none());
}
