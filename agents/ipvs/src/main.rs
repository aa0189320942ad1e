//! `hactl-ipvs`: the OCF executable form of the native IPVS agent. Install it as
//! `<OCF_ROOT>/resource.d/hactl/ipvs` (see hactl-exec's crate docs).
fn main() {
    let args: Vec<String> = std::env::args().collect();
    std::process::exit(hactl_agent_ipvs::ocf_main(&args));
}
