//! `hactl-dummy`: the OCF executable form of the test Dummy agent.
fn main() {
    let args: Vec<String> = std::env::args().collect();
    std::process::exit(hactl_agent_dummy::ocf_main(&args));
}
