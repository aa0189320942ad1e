//! Frames of `hactl mon` on the example cluster, as a 80×24 terminal shows them
//! (ratatui's test backend) and as `--once` prints them: insta snapshots, reviewed
//! by eye (`cargo insta review`) when the view changes on purpose.

use hactl_view::mon::{draw, frame_lines, handle_key, Connection, KeyAction, MonState};
use hactl_view::{Snapshot, View};
use ratatui::backend::TestBackend;
use ratatui::style::{Color, Modifier};
use ratatui::Terminal;

const EXAMPLE: &str = include_str!("../../../examples/web-cluster.xml");

/// Two clones on four nodes (see the file's comment).
const CLONES: &str = include_str!("clones.xml");

fn view() -> View {
    view_of(EXAMPLE)
}

fn view_of(xml: &str) -> View {
    let cib = hactl_cib_xml::import(xml).unwrap();
    let now = cib.execution_date.unwrap_or(0);
    View::new(Snapshot {
        cib,
        daemon: None,
        now,
    })
    .unwrap()
}

fn state(colour: bool) -> MonState {
    let mut s = MonState::new("/run/hactl/hactl.sock".into(), colour);
    s.connection = Connection::Connected;
    s.last_change = vec!["cib".into(), "resource".into()];
    s.updated_at = Some(1_732_540_005);
    s
}

fn screen(v: &View, s: &MonState, w: u16, h: u16) -> Terminal<TestBackend> {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| draw(f, Some(v), s)).unwrap();
    t
}

fn rows(t: &Terminal<TestBackend>) -> String {
    let b = t.backend().buffer();
    let mut out = String::new();
    for y in 0..b.area.height {
        for x in 0..b.area.width {
            out.push_str(b[(x, y)].symbol());
        }
        out.push('\n');
    }
    out
}

#[test]
fn default_frame_80x24() {
    let v = view();
    insta::assert_snapshot!(rows(&screen(&v, &state(false), 80, 24)));
}

/// Clones on the screen as `hactl status` prints them (one rendering): the sets,
/// the failed instance under its primitive's name, the folded node lists.
#[test]
fn clones_frame_80x24() {
    let v = view_of(CLONES);
    let screen = rows(&screen(&v, &state(false), 80, 24));
    for want in [
        "Clone Set: ping-clone [ping]:",
        "Started: [ n1 n2 ]",
        "Clone Set: db-clone [db] (promotable):",
        "Promoted: [ n1 ]",
        "Unpromoted: [ n2 n3 ]",
        "Stopped: [ n4 ]",
    ] {
        assert!(screen.contains(want), "{want:?} not on\n{screen}");
    }
    insta::assert_snapshot!(screen);
}

#[test]
fn by_node_with_operations_and_timing() {
    let v = view();
    let mut s = state(false);
    for k in ['n', 'o', 't'] {
        assert_eq!(handle_key(&mut s, k), KeyAction::Redraw);
    }
    insta::assert_snapshot!(rows(&screen(&v, &s, 100, 40)));
}

#[test]
fn once_prints_every_section() {
    let v = view();
    let mut s = state(false);
    for k in ['r', 'A', 'o', 't', 'm'] {
        handle_key(&mut s, k);
    }
    insta::assert_snapshot!(frame_lines(Some(&v), &s).join("\n"));
}

/// The screen shows the lines `--once` prints (cut to the width), in order.
#[test]
fn the_screen_shows_the_once_text() {
    let v = view();
    let s = state(false);
    let t = screen(&v, &s, 120, 60);
    let shown = rows(&t);
    let lines = frame_lines(Some(&v), &s);
    let screen_rows: Vec<&str> = shown.lines().map(str::trim_end).collect();
    for (i, l) in lines.iter().take(lines.len() - 1).enumerate() {
        assert_eq!(screen_rows[i], l.trim_end(), "row {i}");
    }
}

#[test]
fn no_colour_means_no_styles_and_colour_marks_failures_red() {
    let v = view();
    let plain = screen(&v, &state(false), 80, 24);
    let b = plain.backend().buffer();
    assert!(
        b.content().iter().all(|c| c.fg == Color::Reset
            && c.bg == Color::Reset
            && c.modifier == Modifier::empty()),
        "NO_COLOR: no styled cell"
    );
    let coloured = screen(&v, &state(true), 80, 24);
    let b = coloured.backend().buffer();
    assert!(
        b.content().iter().any(|c| c.fg == Color::Red),
        "FAILED in red"
    );
}

#[test]
fn q_quits_and_unknown_keys_are_ignored() {
    let mut s = state(false);
    assert_eq!(handle_key(&mut s, 'x'), KeyAction::Ignore);
    assert_eq!(handle_key(&mut s, 'q'), KeyAction::Quit);
}

#[test]
fn a_lost_connection_is_said_on_the_header() {
    let v = view();
    let mut s = state(false);
    s.connection = Connection::Lost("connection refused".into());
    let top = rows(&screen(&v, &s, 100, 24))
        .lines()
        .next()
        .unwrap()
        .to_string();
    assert!(top.contains("DISCONNECTED"), "{top}");
    s.connection = Connection::Reconnected;
    let top = rows(&screen(&v, &s, 100, 24))
        .lines()
        .next()
        .unwrap()
        .to_string();
    assert!(top.contains("RECONNECTED"), "{top}");
}
