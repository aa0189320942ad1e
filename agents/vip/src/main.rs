//! `hactl-vip`: the OCF executable form of the native VIP agent. Install it as
//! `<OCF_ROOT>/resource.d/hactl/VIP` (see hactl-exec's crate docs).
fn main() {
    let args: Vec<String> = std::env::args().collect();
    std::process::exit(hactl_agent_vip::ocf_main(&args));
}
