//! `ocf:hactl:Dummy` through the executor's normal OCF path (fork/exec of the
//! `hactl-dummy` executable from a provider directory), not in-process: the same
//! agent must work the way Pacemaker would run it.

use hactl_exec::{params, AgentSpec, ExecConfig, ExecStatus, Executor};
use std::time::Duration;

const T: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "current_thread")]
async fn dummy_executable_through_the_ocf_path() {
    let dir = tempfile::tempdir().unwrap();
    let provider = dir.path().join("hactl");
    std::fs::create_dir_all(&provider).unwrap();
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_hactl-dummy"), provider.join("Dummy")).unwrap();
    let mut cfg = ExecConfig {
        rsctmp: dir.path().to_path_buf(),
        native_hactl: false,
        ..ExecConfig::default()
    };
    cfg.provider_dirs.insert("hactl".into(), provider);
    let (exec, _ev) = Executor::new(cfg);
    let agent = AgentSpec::parse("ocf:hactl:Dummy").unwrap();
    let p = params::<_, String, String>([]);

    let md = exec.validate(&agent, &p).await.unwrap();
    assert!(md.parameter("op_sleep").is_some());
    assert_eq!(exec.probe("d", &agent, &p, T).await.rc, 7);
    assert!(exec.execute("d", &agent, &p, "start", T).await.is_success());
    // The state file shows the executable (not the library) ran, under HA_RSCTMP.
    assert!(dir.path().join("hactl-Dummy-d.state").exists());
    assert_eq!(exec.execute("d", &agent, &p, "monitor", T).await.rc, 0);
    assert!(exec.execute("d", &agent, &p, "stop", T).await.is_success());
    assert_eq!(exec.execute("d", &agent, &p, "monitor", T).await.rc, 7);

    let fail = exec
        .execute("f", &agent, &params([("fail_start", "true")]), "start", T)
        .await;
    assert_eq!((fail.rc, fail.status), (1, ExecStatus::Done));
    assert_eq!(
        fail.exit_reason.as_deref(),
        Some("start failed on purpose (fail_start)")
    );

    let slow = exec
        .execute(
            "s",
            &agent,
            &params([("op_sleep", "30")]),
            "start",
            Duration::from_millis(300),
        )
        .await;
    assert_eq!(slow.status, ExecStatus::Timeout, "{slow}");
}
