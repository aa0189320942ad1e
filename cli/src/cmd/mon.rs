//! `hactl mon`: crm_mon's live view. The daemon pushes a snapshot and then every
//! change over the control socket's subscribe stream; each one redraws the screen
//! (hactl-view draws it, the same lines `--once` prints). Keys toggle crm_mon's
//! sections; the view reconnects when the daemon restarts and says so on its header.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{Context, Result};
use crossterm::event::{self, Event as TermEvent, KeyCode, KeyEventKind, KeyModifiers};
use crossterm::terminal;
use hactl_client::{socket_path, Client};
use hactl_model::Cib;
use hactl_proto::client::Event;
use hactl_view::mon::{self, Connection, KeyAction, MonState};
use hactl_view::{DaemonView, Sections, Snapshot, View};
use ratatui::backend::CrosstermBackend;
use ratatui::Terminal;

use crate::verbs::session::unix_now;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The local daemon's control socket.
    #[arg(long, env = "HACTL_SOCKET", value_name = "PATH")]
    pub socket: Option<PathBuf>,
    /// With --once: read this CIB file (JSON or Pacemaker XML) instead.
    #[arg(long, value_name = "FILE", requires = "once")]
    pub cib: Option<PathBuf>,
    /// Print one frame (the text the screen shows) and exit.
    #[arg(short = '1', long)]
    pub once: bool,
    /// Group resources by node.
    #[arg(short = 'n', long = "group-by-node")]
    pub by_node: bool,
    /// Show inactive resources.
    #[arg(short = 'r', long)]
    pub inactive: bool,
    /// Show fail counts (crm_mon's letter; they are shown by default, as in
    /// `hactl status`, so this undoes an earlier --no-failcounts).
    #[arg(short = 'f', long = "failcounts", overrides_with = "no_failcounts")]
    pub failcounts: bool,
    /// Hide fail counts.
    #[arg(long, overrides_with = "failcounts")]
    pub no_failcounts: bool,
    /// Show node attributes.
    #[arg(short = 'A', long = "show-node-attributes")]
    pub attributes: bool,
    /// Show the operation history.
    #[arg(short = 'o', long = "operations")]
    pub operations: bool,
    /// Show times and durations in the operation history.
    #[arg(short = 't', long = "timing-details")]
    pub timing: bool,
    /// Show the whole fencing history.
    #[arg(short = 'm', long = "fence-history")]
    pub fencing: bool,
}

impl Args {
    fn sections(&self) -> Sections {
        Sections {
            by_node: self.by_node,
            inactive: self.inactive,
            failcounts: !self.no_failcounts,
            attributes: self.attributes,
            operations: self.operations,
            timing: self.timing,
            fencing_history: self.fencing,
        }
    }
}

/// No colour when NO_COLOR is set (https://no-color.org) or the terminal is dumb.
fn colour_wanted() -> bool {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let term = std::env::var("TERM").unwrap_or_default();
    !no_color && !term.is_empty() && term != "dumb"
}

pub fn run(a: Args) -> Result<ExitCode> {
    let sock = socket_path(a.socket.as_deref());
    let source = match &a.cib {
        Some(p) => p.display().to_string(),
        None => sock.display().to_string(),
    };
    let mut state = MonState::new(source, colour_wanted());
    state.sections = a.sections();
    if a.once {
        let v = crate::cmd::status::view(a.socket.as_deref(), a.cib.as_deref())?;
        state.connection = Connection::Connected;
        state.updated_at = Some(unix_now());
        for l in mon::frame_lines(Some(&v), &state) {
            outln!("{l}");
        }
        return Ok(ExitCode::SUCCESS);
    }
    anyhow::ensure!(
        std::io::stdout().is_terminal(),
        "hactl mon needs a terminal; use `hactl mon --once` (or `hactl status`) in scripts"
    );
    live(&sock, state)?;
    Ok(ExitCode::SUCCESS)
}

/// What the UI loop waits for.
enum Msg {
    Event(Box<Event>),
    Lost(String),
    Key(KeyCode),
    Resize,
}

/// Restores the terminal however the loop ends.
struct Screen(Terminal<CrosstermBackend<std::io::Stdout>>);

impl Screen {
    fn open() -> Result<Screen> {
        terminal::enable_raw_mode().context("the terminal cannot enter raw mode")?;
        let mut out = std::io::stdout();
        crossterm::execute!(out, terminal::EnterAlternateScreen, crossterm::cursor::Hide)?;
        Ok(Screen(Terminal::new(CrosstermBackend::new(out))?))
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        // Best effort: the process is leaving either way, and stderr is the screen.
        let _ = terminal::disable_raw_mode();
        let _ = crossterm::execute!(
            self.0.backend_mut(),
            terminal::LeaveAlternateScreen,
            crossterm::cursor::Show
        );
    }
}

fn live(sock: &Path, mut state: MonState) -> Result<()> {
    let (tx, rx) = mpsc::channel::<Msg>();
    spawn_stream(sock.to_path_buf(), tx.clone());
    spawn_keys(tx);
    let mut screen = Screen::open()?;
    let mut cib: Option<Cib> = None;
    let mut view: Option<View> = None;
    let mut seq = None;
    loop {
        screen.0.draw(|f| mon::draw(f, view.as_ref(), &state))?;
        // The write path's timing probe (docs/benchmarks.md, "Where the time goes").
        if let Some(seq) = seq.take() {
            tracing::debug!(target: "timing", seq, "mon: drawn");
        }
        let Ok(msg) = rx.recv() else {
            return Ok(());
        };
        match msg {
            Msg::Event(ev) => {
                tracing::debug!(target: "timing", seq = ev.seq, "mon: event taken");
                seq = Some(ev.seq);
                view = apply(&mut state, &mut cib, *ev).or(view);
                tracing::debug!(target: "timing", "mon: view built");
            }
            Msg::Lost(why) => state.connection = Connection::Lost(why),
            Msg::Resize => {}
            Msg::Key(k) => {
                if on_key(&mut state, k, view.as_ref()) == KeyAction::Quit {
                    return Ok(());
                }
            }
        }
    }
}

fn on_key(state: &mut MonState, k: KeyCode, view: Option<&View>) -> KeyAction {
    let body = mon::body_lines(view, state).len();
    match k {
        KeyCode::Char(c) => mon::handle_key(state, c),
        KeyCode::Esc => KeyAction::Quit,
        KeyCode::Down => step(state, 1, body),
        KeyCode::Up => step(state, -1, body),
        KeyCode::PageDown => step(state, 20, body),
        KeyCode::PageUp => step(state, -20, body),
        _ => KeyAction::Ignore,
    }
}

fn step(state: &mut MonState, delta: isize, body: usize) -> KeyAction {
    mon::scroll(state, delta, body);
    KeyAction::Redraw
}

/// Takes one pushed event into the view; a CIB that does not parse keeps the last
/// good one and says why on the header.
fn apply(state: &mut MonState, cib: &mut Option<Cib>, ev: Event) -> Option<View> {
    state.connection = match (&state.connection, ev.kinds.iter().any(|k| k == "snapshot")) {
        (Connection::Lost(_), true) => Connection::Reconnected,
        (Connection::Reconnected, true) => Connection::Reconnected,
        _ => Connection::Connected,
    };
    state.last_change = ev.kinds.clone();
    state.updated_at = Some(unix_now());
    if let Some(j) = &ev.cib_json {
        match serde_json::from_slice::<Cib>(j) {
            Ok(c) => *cib = Some(c),
            Err(e) => state.last_change = vec![format!("unreadable CIB from the daemon: {e}")],
        }
    }
    let snap = Snapshot {
        cib: cib.clone()?,
        daemon: ev.status.as_ref().map(DaemonView::from),
        now: unix_now(),
    };
    match View::new(snap) {
        Ok(v) => Some(v),
        Err(e) => {
            state.last_change = vec![e.to_string()];
            None
        }
    }
}

/// Reads the subscribe stream on its own thread, reconnecting after it ends (the
/// daemon restarted, or dropped us for falling behind). Retries every 200 ms while
/// the daemon is away: there is nothing to wait on until it listens again.
fn spawn_stream(sock: PathBuf, tx: mpsc::Sender<Msg>) {
    std::thread::spawn(move || loop {
        let why = match Client::connect(&sock).and_then(Client::subscribe) {
            Ok(mut sub) => loop {
                match sub.next_event() {
                    Ok(Some(ev)) => {
                        tracing::debug!(target: "timing", seq = ev.seq, "mon: event read");
                        if tx.send(Msg::Event(Box::new(ev))).is_err() {
                            return;
                        }
                    }
                    Ok(None) => break "the daemon closed the stream".to_string(),
                    Err(e) => break e.to_string(),
                }
            },
            Err(e) => e.to_string(),
        };
        if tx.send(Msg::Lost(why)).is_err() {
            return;
        }
        std::thread::sleep(Duration::from_millis(200));
    });
}

/// Terminal input on its own thread (blocking reads: no polling).
fn spawn_keys(tx: mpsc::Sender<Msg>) {
    std::thread::spawn(move || loop {
        let msg = match event::read() {
            Ok(TermEvent::Key(k)) if k.kind != KeyEventKind::Release => {
                if k.modifiers.contains(KeyModifiers::CONTROL) && k.code == KeyCode::Char('c') {
                    Msg::Key(KeyCode::Char('q'))
                } else {
                    Msg::Key(k.code)
                }
            }
            Ok(TermEvent::Resize(..)) => Msg::Resize,
            Ok(_) => continue,
            Err(_) => return,
        };
        if tx.send(msg).is_err() {
            return;
        }
    });
}
