//! Real processes (`/bin/sh`, `env`, `sleep`): the behaviours every caller relies on.

use crate::*;
use std::path::Path;

fn sh(script: &str, timeout: Duration) -> Spec {
    Spec::new("/bin/sh", timeout)
        .args(["-c", script])
        .env(Env::Clean(vec![("PATH".into(), "/usr/bin:/bin".into())]))
}

fn tmp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("hactl-process-{name}-{}", std::process::id()))
}

async fn wait_for_file(p: &Path) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !p.exists() {
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    true
}

fn alive(pid: i32) -> bool {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok()
}

#[tokio::test]
async fn completion_is_exit_not_eof() {
    // The shell exits at once but leaves a background sleeper holding both pipes.
    let t = Instant::now();
    let out = run(&sh(
        "echo hello; echo oops >&2; sleep 5 & exit 3",
        Duration::from_secs(10),
    ))
    .await
    .unwrap();
    assert!(
        t.elapsed() < Duration::from_secs(3),
        "waited for EOF: {:?}",
        t.elapsed()
    );
    assert_eq!(out.code, Some(3));
    assert_eq!(out.stdout, "hello\n");
    assert_eq!(out.stderr, "oops\n");
    assert!(!out.timed_out && !out.success());
}

#[tokio::test]
async fn background_writer_is_not_cut_off() {
    // Like send_arp: a grandchild that outlives the agent and writes to the inherited
    // stdout later must not die of SIGPIPE, nor be killed with the group.
    let flag = tmp("bg");
    std::fs::remove_file(&flag).ok();
    let script = format!(
        "(sleep 0.3; echo late; echo ok > {}) & exit 0",
        flag.display()
    );
    let out = run(&sh(&script, Duration::from_secs(10))).await.unwrap();
    assert!(out.success());
    assert!(wait_for_file(&flag).await, "background writer died");
    std::fs::remove_file(&flag).ok();
}

#[tokio::test]
async fn environment_is_exactly_the_one_asked_for() {
    std::env::set_var("HACTL_PROCESS_LEAK_CHECK", "leaked");
    let clean = Spec::new("/usr/bin/env", Duration::from_secs(10))
        .env(Env::Clean(vec![("ONLY".into(), "this".into())]));
    assert_eq!(run(&clean).await.unwrap().stdout, "ONLY=this\n");
    let inherit = Spec::new("/usr/bin/env", Duration::from_secs(10))
        .env(Env::Inherit(vec![("EXTRA".into(), "1".into())]));
    let out = run(&inherit).await.unwrap().stdout;
    assert!(out.contains("HACTL_PROCESS_LEAK_CHECK=leaked") && out.contains("EXTRA=1"));
}

#[tokio::test]
async fn stdin_is_delivered_and_a_program_that_ignores_it_does_not_block() {
    let spec = sh("cat", Duration::from_secs(10)).stdin(b"action=off\nplug=vm1\n".to_vec());
    assert_eq!(run(&spec).await.unwrap().stdout, "action=off\nplug=vm1\n");
    let big = vec![b'x'; 1 << 20];
    let ignores = sh("exit 0", Duration::from_secs(10)).stdin(big);
    assert!(run(&ignores).await.unwrap().success());
}

#[tokio::test]
async fn a_timeout_kills_the_whole_group() {
    let pidfile = tmp("grandchild");
    std::fs::remove_file(&pidfile).ok();
    let script = format!("sleep 30 & echo $! > {}; wait", pidfile.display());
    let out = run(&sh(&script, Duration::from_millis(500))).await.unwrap();
    assert!(out.timed_out && !out.success());
    let pid: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    std::fs::remove_file(&pidfile).ok();
    let deadline = Instant::now() + Duration::from_secs(2);
    // A killed child stays a zombie until reaped by init; /proc shows its state.
    while alive(pid) && !zombie(pid) {
        assert!(
            Instant::now() < deadline,
            "the grandchild survived the timeout"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn zombie(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit(')')
            .next()
            .is_some_and(|r| r.trim_start().starts_with('Z'))
    })
}

#[tokio::test]
async fn a_grace_period_lets_the_program_clean_up_on_sigterm() {
    let flag = tmp("term");
    std::fs::remove_file(&flag).ok();
    let script = format!(
        "trap 'echo bye > {}; exit 1' TERM; sleep 30 & wait",
        flag.display()
    );
    let spec = sh(&script, Duration::from_millis(300)).term_grace(Duration::from_secs(2));
    let out = run(&spec).await.unwrap();
    assert!(out.timed_out);
    assert!(flag.exists(), "SIGTERM handler never ran");
    std::fs::remove_file(&flag).ok();
}

#[tokio::test]
async fn output_beyond_the_cap_is_dropped_without_blocking() {
    let spec = sh(
        "head -c 300000 /dev/zero | tr '\\0' x",
        Duration::from_secs(10),
    )
    .output_cap(1000);
    let out = run(&spec).await.unwrap();
    assert!(out.success());
    assert_eq!(out.stdout.len(), 1000);
}

#[tokio::test]
async fn a_missing_program_is_an_error() {
    let spec = Spec::new("/nonexistent/agent", Duration::from_secs(1));
    assert!(run(&spec).await.is_err());
}
