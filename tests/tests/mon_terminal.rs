//! `hactl mon`'s terminal handling in a real terminal (tmux), no cluster needed:
//! colour follows the environment (NO_COLOR, TERM=dumb), not only the flag the
//! renderer takes (`crates/hactl-view/tests/mon.rs` covers that part).
//!
//! Needs tmux (scripts/test-packages.txt); no root.

use std::time::Duration;

use anyhow::{ensure, Result};
use hactl_tests::cluster::hactl_bin;
use hactl_tests::tmux::Tmux;

const T: Duration = Duration::from_secs(20);

/// The screen of `hactl mon` started with `env` (words for env(1)) in an 80×24
/// pane, watching a socket nobody listens on: the header still draws (the bar is
/// reverse video when colour is on), saying it is disconnected.
fn screen_with(server: &str, env: &str) -> Result<String> {
    let dir = std::env::temp_dir().join(format!("hactl-{server}-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    // -u NO_COLOR: the test runner's own environment must not decide the case.
    let cmd = format!(
        "env -u NO_COLOR {env} {} mon --socket {}",
        hactl_bin()?.display(),
        dir.join("none.sock").display()
    );
    let tm = Tmux::start(server, 80, 24, &cmd)?;
    tm.wait_for("the disconnected header", T, |s| s.contains("DISCONNECTED"))?;
    let styled = tm.capture_styled()?;
    tm.send_keys("q")?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(styled)
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
