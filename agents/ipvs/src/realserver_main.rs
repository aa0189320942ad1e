//! `hactl-lvs-realserver`: the OCF executable form of the LVS real-server agent.
//! Install it as `<OCF_ROOT>/resource.d/hactl/lvs-realserver`.
fn main() {
    let args: Vec<String> = std::env::args().collect();
    std::process::exit(hactl_agent_ipvs::realserver_ocf_main(&args));
}
