//! The FenceAgentAPI runner with the real C `fence_xvm` (Debian fence-virt) for the
//! parts that need no daemon (metadata, argument errors), and with
//! `testdata/agents/fence_fixture`, a tiny agent written for these tests, for the
//! paths no real agent takes on demand: hanging with a child process, failing a
//! given number of times, echoing its stdin.

use hactl_fence::agent_api::{self, AgentCommand, AgentResult};
use hactl_fence::metadata;
use std::path::PathBuf;
use std::time::{Duration, Instant};

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/agents/fence_fixture")
}

fn cmd(action: &str, params: &[(&str, &str)]) -> AgentCommand {
    let mut c = AgentCommand::new(fixture(), action);
    for (k, v) in params {
        c.params.insert(k.to_string(), v.to_string());
    }
    c.timeout = Duration::from_secs(10);
    c
}

#[tokio::test]
async fn stdin_carries_action_params_target_and_nodename() {
    let mut c = cmd("off", &[("mode", "echo"), ("key_file", "/etc/k")]);
    c.plug = Some("dom1".into());
    c.target_param = "plug";
    c.nodename = Some("node1".into());
    let out = agent_api::run(&c).await;
    assert_eq!(out.result, AgentResult::Success);
    assert_eq!(
        out.stdout(),
        "action=off\nkey_file=/etc/k\nmode=echo\nplug=dom1\nnodename=node1\n"
    );
    assert_eq!(out.runs.len(), 1);
}

#[tokio::test]
async fn device_params_cannot_override_the_target_or_inject_lines() {
    let mut c = cmd("status", &[("mode", "echo"), ("port", "evil")]);
    c.plug = Some("dom1".into());
    let out = agent_api::run(&c).await;
    assert_eq!(out.stdout(), "action=status\nmode=echo\nport=dom1\n");

    let c = cmd("off", &[("mode", "echo"), ("x", "a\naction=reboot")]);
    let out = agent_api::run(&c).await;
    assert!(
        matches!(&out.result, AgentResult::CouldNotRun(e) if e.contains("line break")),
        "{:?}",
        out.result
    );
    assert!(out.runs.is_empty(), "the agent must not run");
}

#[tokio::test]
async fn timeout_kills_the_whole_process_group() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("child.pid");
    let mut c = cmd(
        "off",
        &[("mode", "hang"), ("pidfile", pidfile.to_str().unwrap())],
    );
    c.timeout = Duration::from_secs(1);
    let out = agent_api::run(&c).await;
    assert_eq!(out.result, AgentResult::TimedOut);
    assert_eq!(out.runs.len(), 1);
    assert!(out.runs[0].timed_out);
    assert_eq!(out.runs[0].stderr, "hanging\n", "output kept");
    assert!(out.summary().contains("timed out"));
    // The agent's own child (a sleep 600) is gone too (or a zombie awaiting its reaper).
    let pid: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let dead = stat.is_empty() || stat.split(") ").nth(1).is_some_and(|s| s.starts_with('Z'));
        if dead {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "agent's child {pid} still running"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn failures_are_retried_and_every_run_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let counter = dir.path().join("count");
    let c = cmd(
        "off",
        &[
            ("mode", "flaky"),
            ("counter", counter.to_str().unwrap()),
            ("fail_times", "2"),
        ],
    );
    let out = agent_api::run(&c).await;
    assert_eq!(out.result, AgentResult::Success);
    assert_eq!(out.runs.len(), 3);
    assert_eq!(out.runs[0].exit_code, Some(1));
    assert_eq!(out.runs[0].stderr, "failure 0\n");
    assert_eq!(out.runs[2].stdout, "ok after 2 failures\n");

    let counter = dir.path().join("count2");
    let mut c = cmd(
        "off",
        &[
            ("mode", "flaky"),
            ("counter", counter.to_str().unwrap()),
            ("fail_times", "9"),
        ],
    );
    c.retries = 1;
    let out = agent_api::run(&c).await;
    assert_eq!(out.result, AgentResult::Failed { exit_code: Some(1) });
    assert_eq!(out.runs.len(), 2);
    assert_eq!(
        out.summary(),
        "off failed (exit 1) after 2 attempts: failure 1"
    );
}

#[tokio::test]
async fn exit_code_two_means_off_only_for_status() {
    let out = agent_api::run(&cmd("status", &[("mode", "exit"), ("code", "2")])).await;
    assert_eq!(out.result, AgentResult::Off);
    assert_eq!(out.runs.len(), 1, "an answer, not a failure to retry");
    let mut c = cmd("off", &[("mode", "exit"), ("code", "2")]);
    c.retries = 0;
    let out = agent_api::run(&c).await;
    assert_eq!(out.result, AgentResult::Failed { exit_code: Some(2) });
}

#[tokio::test]
async fn real_fence_xvm_metadata_and_errors() {
    let agent = agent_api::resolve_agent("fence_xvm").expect("fence_xvm installed (fence-virt)");
    let out = agent_api::run(&AgentCommand::new(agent.clone(), "metadata")).await;
    assert_eq!(out.result, AgentResult::Success);
    let md = metadata::parse(out.stdout()).unwrap();
    assert_eq!(md.name, "fence_xvm");
    assert_eq!(md.shortdesc, "Fence agent for virtual machines");
    assert_eq!(metadata::target_parameter(&md), "plug");
    assert!(md.supports("list") && md.supports("reboot"));
    let key = md.parameters.iter().find(|p| p.name == "key_file").unwrap();
    assert_eq!(key.getopt.as_deref(), Some("-k"));
    assert!(metadata::render_help(&md).starts_with("fence_xvm - Fence agent for virtual machines"));

    // off without a target: fence_xvm refuses (no network involved).
    let mut c = AgentCommand::new(agent, "off");
    c.retries = 0;
    let out = agent_api::run(&c).await;
    assert_eq!(out.result, AgentResult::Failed { exit_code: Some(1) });
    assert!(out.stdout().starts_with("No domain specified!"));
}

#[test]
fn agents_are_found_by_name_only() {
    assert_eq!(
        agent_api::resolve_agent("fence_xvm").unwrap(),
        PathBuf::from("/usr/sbin/fence_xvm")
    );
    assert!(agent_api::resolve_agent("../../bin/sh").is_err());
    assert!(agent_api::resolve_agent("sh").is_err());
    let e = agent_api::resolve_agent("fence_nosuchagent").unwrap_err();
    assert!(e.to_string().contains("not installed"));
    let names: Vec<String> = agent_api::list_agents()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert!(names.contains(&"fence_xvm".to_string()));
    assert!(
        !names.contains(&"fence_virtd".to_string()),
        "the daemon is no agent"
    );
}

#[test]
fn list_output_gives_target_names() {
    let xvm = "node1                            6695eb01-f6a4-8304-79aa-000000000001 on\n\
               node2                            6695eb01-f6a4-8304-79aa-000000000002 off\n";
    assert_eq!(agent_api::parse_list_output(xvm), ["node1", "node2"]);
    assert_eq!(
        agent_api::parse_list_output("port1,alias1\n\nport2,\n"),
        ["port1", "port2"]
    );
}
