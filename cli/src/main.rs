//! `hactl`: the operator's command line. Offline commands (`simulate`, `cib`) use the
//! model, importer and policy engine directly; everything that talks to a running
//! cluster goes through the client API on the local daemon's socket.

use clap::{Parser, Subcommand};
use std::io::Write;
use std::process::ExitCode;

/// `println!` for the CLI's output, which stops quietly when the reader has gone
/// (`hactl status | head -1`): std's `println!` panics on EPIPE, since Rust ignores
/// SIGPIPE. Restoring SIGPIPE instead would also kill the CLI without a word when a
/// daemon's socket closes under a write, where an error message is owed.
macro_rules! outln {
    () => {
        $crate::write_stdout(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::write_stdout(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// `print!` with [`outln!`]'s handling of a closed output.
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::write_stdout(format_args!($($arg)*))
    };
}

mod cmd;
mod verbs;

/// Writes to standard output; see [`outln!`].
fn write_stdout(args: std::fmt::Arguments<'_>) {
    let mut o = std::io::stdout().lock();
    if let Err(e) = o.write_fmt(args) {
        stdout_failed(e);
    }
}

/// Ends the command after a failed write to standard output: quietly with success
/// when the reader closed the pipe (as `head` expects), with an error otherwise.
pub(crate) fn stdout_failed(e: std::io::Error) -> ! {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        std::process::exit(0);
    }
    eprintln!("error: cannot write to standard output: {e}");
    std::process::exit(1);
}

#[derive(Parser, Debug)]
#[command(name = "hactl", version, about = "A cluster resource manager", long_about = None)]
struct Cli {
    /// Log filter (tracing's EnvFilter syntax), e.g. `info` or `hactl=debug`.
    #[arg(long, global = true, env = "HACTL_LOG", default_value = "warn")]
    log: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Fence agents and devices (stonith_admin, pcs stonith).
    #[command(subcommand)]
    Stonith(cmd::stonith::StonithCommand),
    /// What-if: schedule a CIB and print the transition (crm_simulate).
    Simulate(cmd::simulate::Args),
    /// Work with CIB files (import Pacemaker XML, validate, generate).
    #[command(subcommand)]
    Cib(cmd::cib::CibCommand),
    /// Run the node daemon (normally started by systemd: hactl.service).
    Daemon(cmd::daemon::Args),
    /// Create, start, stop and inspect the cluster (pcs cluster ...).
    Cluster(cmd::cluster::ClusterArgs),
    /// The whole configuration: resources, stonith, constraints, defaults,
    /// properties (pcs config).
    Config(cmd::config::Args),
    /// Cluster status: nodes, DC, quorum, resources, failures (crm_mon).
    Status(cmd::status::Args),
    /// Live cluster view, pushed by the daemon (crm_mon); `--once` prints one frame.
    Mon(cmd::mon::Args),
    /// Location, colocation and order constraints (pcs constraint ...).
    #[command(subcommand)]
    Constraint(cmd::constraint::ConstraintCommand),
    /// Cluster properties (pcs property ...).
    #[command(subcommand)]
    Property(cmd::property::PropertyCommand),
    /// Standby, maintenance and node attributes (pcs node ...).
    #[command(subcommand)]
    Node(cmd::node::NodeCommand),
    /// A local 3-node demo cluster in network namespaces (`demo down` removes it).
    Demo(cmd::demo::Args),
    /// Resources: create, configure, move, clean up; agent discovery (pcs resource ...).
    #[command(subcommand)]
    Resource(cmd::resource::ResourceCommand),
    /// Alert agents run on cluster events, Pacemaker's alert interface (pcs alert ...).
    #[command(subcommand)]
    Alert(cmd::alert::AlertCommand),
    /// Tickets: grant, revoke, standby, activate, list (crm_ticket).
    #[command(subcommand)]
    Ticket(cmd::ticket::TicketCommand),
    /// The witness of clusters of two or four nodes, run on a third host (corosync-qnetd).
    #[command(subcommand)]
    Witness(hactl_witness::cli::WitnessCommand),
}

fn main() -> ExitCode {
    // Resource agents run this binary as `crm_attribute` (see cmd::crm_attribute).
    let mut argv = std::env::args_os();
    let called = argv.next().unwrap_or_default();
    if std::path::Path::new(&called).file_name() == Some("crm_attribute".as_ref()) {
        let args: Vec<String> = argv.map(|a| a.to_string_lossy().into_owned()).collect();
        return cmd::crm_attribute::run(&args);
    }
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_new(&cli.log)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    // Colour only for a terminal: the daemon's log file (and a demo's) once held
    // escape codes on every line.
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    // The write path's timing probe (docs/benchmarks.md, "Where the time goes").
    tracing::debug!(target: "timing", "cli: arguments read");
    let result = match cli.command {
        Command::Simulate(a) => cmd::simulate::run(a),
        Command::Stonith(c) => cmd::stonith::run(c),
        Command::Cib(c) => cmd::cib::run(c),
        Command::Daemon(a) => cmd::daemon::run(a),
        Command::Cluster(a) => cmd::cluster::run(a),
        Command::Config(a) => cmd::config::run(a),
        Command::Status(a) => cmd::status::run(a),
        Command::Mon(a) => cmd::mon::run(a),
        Command::Constraint(c) => cmd::constraint::run(c),
        Command::Property(c) => cmd::property::run(c),
        Command::Node(c) => cmd::node::run(c),
        Command::Demo(a) => cmd::demo::run(a),
        Command::Resource(c) => cmd::resource::run(c),
        Command::Alert(c) => cmd::alert::run(c),
        Command::Ticket(c) => cmd::ticket::run(c),
        Command::Witness(c) => hactl_witness::cli::run(c),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            if let Some(hint) = demo_hint(&e) {
                eprintln!("{hint}");
            }
            if e.downcast_ref::<verbs::verdict::NotDone>().is_some() {
                ExitCode::from(verbs::verdict::EXIT_NOT_RUNNING)
            } else {
                ExitCode::from(1)
            }
        }
    }
}

/// After `hactl demo`, a command without `--socket` looks for a daemon on this host
/// and finds none: say where the demo's daemons answer instead.
fn demo_hint(e: &anyhow::Error) -> Option<String> {
    let not_running = e.chain().any(|c| {
        matches!(
            c.downcast_ref::<hactl_client::ClientError>(),
            Some(hactl_client::ClientError::NotRunning { .. })
        )
    });
    let sock = cmd::demo::socket(1);
    (not_running && sock.exists()).then(|| {
        format!(
            "hint: the demo is running; its nodes answer on {}/nI.sock: \
             export HACTL_SOCKET={} (or pass --socket)",
            cmd::demo::DIR,
            sock.display()
        )
    })
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// Every argument of every command says what it is for (several positional
    /// arguments and `ban --lifetime` once showed a bare name in `--help`).
    #[test]
    fn every_argument_has_help_text() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for a in cmd.get_arguments() {
                let id = a.get_id().as_str();
                if matches!(id, "help" | "version") {
                    continue;
                }
                if a.get_help().is_none() && a.get_long_help().is_none() {
                    missing.push(format!("{path} {id}"));
                }
            }
            for sub in cmd.get_subcommands() {
                walk(sub, &format!("{path} {}", sub.get_name()), missing);
            }
        }
        let mut missing = Vec::new();
        walk(&super::Cli::command(), "hactl", &mut missing);
        assert!(
            missing.is_empty(),
            "arguments without help:\n{}",
            missing.join("\n")
        );
    }
}
