//! Load for a running witness, to measure its memory while it answers (docs/benchmarks.md,
//! "Witness memory"): for each cluster directory given (a `cluster setup` directory
//! holding `ca.key`), two nodes query, ask and release ROUNDS times over one connection
//! each, as two daemons would.
//!
//! `cargo run -p hactl-witness --example witness_load -- WITNESS_ADDR ROUNDS DIR...`

use std::time::{Duration, Instant};

use hactl_net::{Ca, NodeName};
use hactl_witness::{WitnessClient, WitnessOp};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().ok_or("WITNESS_ADDR")?.parse()?;
    let rounds: u32 = args.next().ok_or("ROUNDS")?.parse()?;
    let t = Duration::from_secs(2);
    let started = Instant::now();
    let mut requests = 0u64;
    for dir in args {
        let ca = Ca::load(std::path::Path::new(&dir))?;
        let mut clients = Vec::new();
        for n in ["n1", "n2"] {
            let id = ca.issue_node_cert(&NodeName::new(n)?, &[])?;
            clients.push(WitnessClient::new(&id, addr)?);
        }
        for _ in 0..rounds {
            for c in &clients {
                let r = c.request(WitnessOp::WitnessAsk, 0, t).await?;
                c.request(WitnessOp::WitnessQuery, 0, t).await?;
                if r.granted {
                    c.request(WitnessOp::WitnessRelease, r.generation, t)
                        .await?;
                    requests += 1;
                }
                requests += 2;
            }
        }
    }
    println!(
        "{requests} requests in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
