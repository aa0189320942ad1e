//! `hactl mon`'s screen: a header (connection, last change), the text view of
//! [`crate::text`] with the sections the keys switched on, and a key line. The
//! terminal UI draws exactly the lines [`frame_lines`] returns, and `hactl mon
//! --once` prints them, so the two never differ.

use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Text};
use ratatui::widgets::{Paragraph, Wrap};
use ratatui::Frame;

use crate::text::{render, Sections};
use crate::time::format_time;
use crate::View;

/// The daemon connection as the header reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Connection {
    Connecting,
    Connected,
    /// Connected again after the stream ended (the daemon restarted, or dropped us
    /// for falling behind); shown until the next change.
    Reconnected,
    /// The stream ended; retrying.
    Lost(String),
}

/// Everything on screen besides the cluster itself.
#[derive(Clone, Debug)]
pub struct MonState {
    pub sections: Sections,
    pub connection: Connection,
    /// The socket (or file) the view comes from.
    pub source: String,
    /// What the last event said changed, and when it arrived (seconds since epoch).
    pub last_change: Vec<String>,
    pub updated_at: Option<i64>,
    /// First body line shown (the view scrolls on small terminals).
    pub scroll: usize,
    pub colour: bool,
    pub help: bool,
}

impl MonState {
    pub fn new(source: String, colour: bool) -> MonState {
        MonState {
            sections: Sections::STATUS,
            connection: Connection::Connecting,
            source,
            last_change: Vec::new(),
            updated_at: None,
            scroll: 0,
            colour,
            help: false,
        }
    }
}

/// What a key asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyAction {
    Quit,
    Redraw,
    Ignore,
}

/// crm_mon's interactive letters: each toggles its section.
pub fn handle_key(s: &mut MonState, key: char) -> KeyAction {
    let sec = &mut s.sections;
    match key {
        'q' | 'Q' => return KeyAction::Quit,
        'n' => sec.by_node = !sec.by_node,
        'r' => sec.inactive = !sec.inactive,
        'f' => sec.failcounts = !sec.failcounts,
        'A' => sec.attributes = !sec.attributes,
        'o' => sec.operations = !sec.operations,
        't' => sec.timing = !sec.timing,
        'm' => sec.fencing_history = !sec.fencing_history,
        '?' => s.help = !s.help,
        _ => return KeyAction::Ignore,
    }
    KeyAction::Redraw
}

/// Scrolls the body by `delta` lines (negative: up), within the body.
pub fn scroll(s: &mut MonState, delta: isize, body_lines: usize) {
    let max = body_lines.saturating_sub(1);
    s.scroll = s.scroll.saturating_add_signed(delta).min(max);
}

const HELP: &str = "Keys (as crm_mon): n by node, r inactive resources, f fail counts, \
A node attributes, o operation history, t timing, m fencing history, \
arrows/PgUp/PgDn scroll, ? this help, q quit";

fn header(s: &MonState) -> String {
    let conn = match &s.connection {
        Connection::Connecting => format!("connecting to {}", s.source),
        Connection::Connected => format!("connected to {}", s.source),
        Connection::Reconnected => format!("RECONNECTED to {} (daemon restarted)", s.source),
        Connection::Lost(e) => format!("DISCONNECTED from {}: {e}; reconnecting", s.source),
    };
    let when = s
        .updated_at
        .map(|t| format!(" at {}", format_time(t)))
        .unwrap_or_default();
    let what = if s.last_change.is_empty() {
        String::new()
    } else {
        format!(" | {}{when}", s.last_change.join(", "))
    };
    format!("hactl mon: {conn}{what}")
}

fn keys(s: &MonState) -> String {
    // A section that is on shows its word in capitals (fits 80 columns).
    let w = |on: bool, word: &str| {
        if on {
            word.to_uppercase()
        } else {
            word.to_string()
        }
    };
    let x = &s.sections;
    format!(
        "n:{} r:{} f:{} A:{} o:{} t:{} m:{} ?:help q:quit",
        w(x.by_node, "by-node"),
        w(x.inactive, "inactive"),
        w(x.failcounts, "fails"),
        w(x.attributes, "attrs"),
        w(x.operations, "ops"),
        w(x.timing, "timing"),
        w(x.fencing_history, "fencing"),
    )
}

/// The body: the text view, or why there is none yet.
pub fn body_lines(view: Option<&View>, s: &MonState) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    if s.help {
        out.push(HELP.to_string());
        out.push(String::new());
    }
    match view {
        // Tabs become one space: a terminal expands them to its own stops.
        Some(v) => out.extend(render(v, &s.sections).lines().map(|l| l.replace('\t', " "))),
        None => out.push("Waiting for the daemon's first snapshot…".to_string()),
    }
    out
}

/// Every line of one frame, top to bottom: header, the whole body, key line.
pub fn frame_lines(view: Option<&View>, s: &MonState) -> Vec<String> {
    let mut out = vec![header(s)];
    out.extend(body_lines(view, s));
    out.push(keys(s));
    out
}

/// The style of a body line: problems red, running green, stopped yellow.
fn style_of(line: &str, colour: bool) -> Style {
    if !colour {
        return Style::default();
    }
    let bad = [
        "FAILED",
        "UNCLEAN",
        "OFFLINE",
        "WITHOUT quorum",
        "WARNING",
        "blocked",
    ];
    if bad.iter().any(|w| line.contains(w)) {
        Style::default().fg(Color::Red)
    } else if line.contains("Stopped") || line.contains("standby") {
        Style::default().fg(Color::Yellow)
    } else if line.contains("Started") || line.contains("Online") {
        Style::default().fg(Color::Green)
    } else {
        Style::default()
    }
}

/// Draws one frame: the header on the first row, the key line on the last, the
/// body scrolled in between.
pub fn draw(f: &mut Frame<'_>, view: Option<&View>, s: &MonState) {
    let area = f.area();
    if area.height < 3 {
        return;
    }
    let bar = if s.colour {
        Style::default().add_modifier(Modifier::REVERSED)
    } else {
        Style::default()
    };
    let row = |y: u16, h: u16| Rect::new(area.x, area.y + y, area.width, h);
    f.render_widget(Paragraph::new(header(s)).style(bar), row(0, 1));
    let body: Vec<Line<'_>> = body_lines(view, s)
        .into_iter()
        .skip(s.scroll)
        .map(|l| {
            let st = style_of(&l, s.colour);
            Line::styled(l, st)
        })
        .collect();
    // Long lines wrap rather than lose their end (a failure's time and reason).
    let body = Paragraph::new(Text::from(body)).wrap(Wrap { trim: false });
    f.render_widget(body, row(1, area.height - 2));
    f.render_widget(Paragraph::new(keys(s)).style(bar), row(area.height - 1, 1));
}
