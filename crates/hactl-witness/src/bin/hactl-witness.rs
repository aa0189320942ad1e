//! `hactl-witness`: the witness alone, for the third host (the same commands as `hactl
//! witness`, in a binary a fraction of hactl's size: docs/cluster-setup.md, "Witness").

use std::process::ExitCode;

use clap::Parser;

#[derive(Parser, Debug)]
#[command(
    name = "hactl-witness",
    version,
    about = "The witness of two-node hactl clusters"
)]
struct Cli {
    /// Log filter (tracing's EnvFilter syntax).
    #[arg(long, env = "HACTL_LOG", default_value = "info")]
    log: String,
    #[command(subcommand)]
    command: hactl_witness::cli::WitnessCommand,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_new(&cli.log)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    match hactl_witness::cli::run(cli.command) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
