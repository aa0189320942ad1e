//! `hactl mon`'s terminal handling in a real 80×24 terminal (tmux), no cluster
//! needed: colour follows the environment (NO_COLOR, TERM=dumb), not only the flag
//! the renderer takes (`crates/hactl-view/tests/mon.rs` covers that part), and the
//! section keys toggle what the key line shows.
//!
//! Needs tmux (scripts/test-packages.txt); no root.

use std::time::Duration;

use anyhow::{ensure, Result};
use hactl_tests::cluster::hactl_bin;
use hactl_tests::tmux::Tmux;

const T: Duration = Duration::from_secs(20);

/// `hactl mon` started with `env` (words for env(1)) in an 80×24 pane, watching a
/// socket nobody listens on: the header still draws (the bar is reverse video
/// when colour is on), saying it is disconnected, and the key line is there.
fn mon_without_daemon(server: &str, env: &str) -> Result<Tmux> {
    // A path under a directory that does not exist: nothing can listen there.
    let sock = std::env::temp_dir().join(format!("hactl-{server}-none/none.sock"));
    // -u NO_COLOR: the test runner's own environment must not decide the case.
    let cmd = format!(
        "env -u NO_COLOR {env} {} mon --socket {}",
        hactl_bin()?.display(),
        sock.display()
    );
    let tm = Tmux::start(server, 80, 24, &cmd)?;
    tm.wait_for("the disconnected header", T, |s| s.contains("DISCONNECTED"))?;
    Ok(tm)
}

/// The screen, with its styles, of [`mon_without_daemon`].
fn screen_with(server: &str, env: &str) -> Result<String> {
    let tm = mon_without_daemon(server, env)?;
    let styled = tm.capture_styled()?;
    tm.send_keys("q")?;
    Ok(styled)
}

/// The last non-blank row: the key line.
fn key_line(screen: &str) -> &str {
    screen.lines().rfind(|l| !l.trim().is_empty()).unwrap_or("")
}

/// crm_mon's letters toggle their sections in a real 80×24 terminal: the key line
/// shows a section that is on in capitals. `q` quits.
#[test]
fn keys_toggle_sections_and_q_quits_at_80x24() -> Result<()> {
    let tm = mon_without_daemon("hactl-test-mon-keys", "TERM=xterm")?;
    let s = tm.capture()?;
    ensure!(
        key_line(&s).starts_with("n:by-node r:inactive f:FAILS"),
        "defaults:\n{s}"
    );
    tm.send_keys("f")?;
    tm.wait_for("fail counts off", T, |s| key_line(s).contains(" f:fails "))?;
    tm.send_keys("n")?;
    tm.wait_for("by node on", T, |s| key_line(s).starts_with("n:BY-NODE "))?;
    tm.send_keys("?")?;
    tm.wait_for("the help", T, |s| s.contains("Keys (as crm_mon)"))?;
    tm.send_keys("q")?;
    tm.wait_for("mon to quit", T, |_| tm.dead().unwrap_or(false))?;
    Ok(())
}

#[test]
fn colour_follows_no_color_and_term_dumb_from_the_environment() -> Result<()> {
    // (environment, colour expected): NO_COLOR set to anything but the empty
    // string turns colour off (https://no-color.org), as does a dumb terminal.
    let cases = [
        ("TERM=xterm", true),
        ("TERM=xterm NO_COLOR=", true),
        ("TERM=xterm NO_COLOR=1", false),
        ("TERM=dumb", false),
    ];
    for (i, (env, colour)) in cases.into_iter().enumerate() {
        let s = screen_with(&format!("hactl-test-mon-colour-{i}"), env)?;
        let styled = s.contains("\x1b[");
        ensure!(
            styled == colour,
            "{env}: colour expected {colour}, screen styled {styled}:\n{s:?}"
        );
    }
    Ok(())
}
