//! The `hactl-ipvs` OCF executable in a real IPVS kernel (the ipvs-vm guest), with
//! `ipvsadm -Ln` inside the guest as the independent oracle. One guest boot runs
//! `tests/guest/lifecycle.sh`: every scheduler and forwarding method, tcp/udp/sctp,
//! IPv6, fwmark and persistence; start over a partial table, monitor repairing drift,
//! an in-place update that keeps the service (its connection counter survives),
//! stop removing exactly one service, connection sync with two services (master and
//! backup side by side; two directors in namespaces, each holding one service, each
//! receiving a copy of the other's connections), and bad configuration (scheduler, duplicate, vip, address,
//! ports above 65535) changing nothing.

#[path = "support/guest.rs"]
mod guest;

#[test]
fn netns_ipvs_agent_in_a_real_lvs_kernel() {
    if !guest::require_root() {
        return;
    }
    let agent = env!("CARGO_BIN_EXE_hactl-ipvs");
    let (ok, out) = guest::run_guest(
        "lifecycle.sh",
        &[(agent, "/usr/lib/ocf/resource.d/hactl/ipvs")],
    );
    let failed: Vec<&str> = out.lines().filter(|l| l.starts_with("FAIL")).collect();
    assert!(ok && failed.is_empty(), "guest checks failed: {failed:#?}");
    assert!(
        out.contains("ok   no sync daemon started by bad input"),
        "the script did not run to its end"
    );
}

/// `tests/guest/realserver.sh`: lvs-realserver on DR and TUN real servers in
/// namespaces behind an ipvs director; ARP for the VIP answered only by the director
/// (arping from a client namespace, with a control real server that does answer),
/// requests carried DR and TUN, drift seen by monitor and repaired by start (the VIP
/// gone from lo or tunl0: 7; arp_ignore or tunl0 rp_filter reset: 1), stop restoring
/// exactly what start changed (also with two resources sharing the settings), and
/// `arp_interfaces` naming one interface.
#[test]
fn netns_lvs_realserver_in_a_real_lvs_kernel() {
    if !guest::require_root() {
        return;
    }
    let (ok, out) = guest::run_guest(
        "realserver.sh",
        &[
            (
                env!("CARGO_BIN_EXE_hactl-ipvs"),
                "/usr/lib/ocf/resource.d/hactl/ipvs",
            ),
            (
                env!("CARGO_BIN_EXE_hactl-lvs-realserver"),
                "/usr/lib/ocf/resource.d/hactl/lvs-realserver",
            ),
        ],
    );
    let failed: Vec<&str> = out.lines().filter(|l| l.starts_with("FAIL")).collect();
    assert!(ok && failed.is_empty(), "guest checks failed: {failed:#?}");
    assert!(
        out.contains("ok   no state left after the eth0 resource"),
        "the script did not run to its end"
    );
}
