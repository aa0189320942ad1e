//! A real terminal for full-screen tests: a tmux server of its own (`-L`, so it
//! never touches a user's sessions) running one command in a pane of a fixed size;
//! keys go in with `send-keys`, the screen comes out with `capture-pane`.

use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

pub struct Tmux {
    server: String,
}

impl Tmux {
    /// Starts `cmd` (a shell command line) in a `cols`×`rows` pane.
    pub fn start(server: &str, cols: u16, rows: u16, cmd: &str) -> Result<Tmux> {
        let t = Tmux {
            server: server.to_string(),
        };
        // A server left by an earlier, killed run would keep the old session.
        let _ = t.tmux(&["kill-server"]);
        t.tmux(&[
            "new-session",
            "-d",
            "-s",
            "t",
            "-x",
            &cols.to_string(),
            "-y",
            &rows.to_string(),
            cmd,
        ])?;
        // Keep the pane after the command exits, so a crash shows on the capture.
        t.tmux(&["set-option", "-t", "t", "remain-on-exit", "on"])?;
        Ok(t)
    }

    fn tmux(&self, args: &[&str]) -> Result<String> {
        let out = Command::new("tmux")
            .args(["-L", &self.server])
            .args(args)
            .output()
            .context("running tmux (Debian package tmux)")?;
        if !out.status.success() {
            bail!(
                "tmux {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// The pane's text now.
    pub fn capture(&self) -> Result<String> {
        self.tmux(&["capture-pane", "-p", "-t", "t"])
    }

    /// The pane's text now with tmux's escape sequences for colours and attributes
    /// (`capture-pane -e`): a screen drawn without styles has none.
    pub fn capture_styled(&self) -> Result<String> {
        self.tmux(&["capture-pane", "-e", "-p", "-t", "t"])
    }

    pub fn send_keys(&self, keys: &str) -> Result<()> {
        self.tmux(&["send-keys", "-t", "t", keys]).map(|_| ())
    }

    /// Whether the pane's command has exited.
    pub fn dead(&self) -> Result<bool> {
        Ok(self
            .tmux(&["display-message", "-p", "-t", "t", "#{pane_dead}"])?
            .trim()
            == "1")
    }

    /// Waits until the screen satisfies `cond`, re-reading it every 2 ms (the
    /// screen has no change notification to wait on); returns the screen and the
    /// time it took.
    pub fn wait_for(
        &self,
        what: &str,
        deadline: Duration,
        mut cond: impl FnMut(&str) -> bool,
    ) -> Result<(String, Duration)> {
        let start = Instant::now();
        loop {
            let screen = self.capture()?;
            if cond(&screen) {
                return Ok((screen, start.elapsed()));
            }
            if start.elapsed() > deadline {
                bail!("timed out after {deadline:?} waiting for {what}; the screen:\n{screen}");
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        // Best effort: the server is ours alone; a leftover one is killed at the
        // next start.
        let _ = self.tmux(&["kill-server"]);
    }
}
