//! `hactl cib ...` (being written).
use std::process::ExitCode;

#[derive(clap::Subcommand, Debug)]
pub enum CibCommand {}

pub fn run(c: CibCommand) -> anyhow::Result<ExitCode> {
    match c {}
}
