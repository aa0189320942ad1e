# Guest script (tests/ipvs-vm): real servers on a dummy interface, then the test binary
# copied in as /t runs its benchmark halves: the in-process ocf:hactl:ipvs
# (guest_bench_failure_to_weight_zero), then keepalived's TCP_CHECK with the same
# timings (guest_bench_keepalived_failure_to_weight_zero; scripts/bench-ipvs-health
# copies /usr/sbin/keepalived in).
set -e
ip link add d0 type dummy; ip link set d0 up
for a in 10.0.0.1/24 10.0.0.100/32 10.0.0.11/32 10.0.0.12/32 10.0.0.99/32; do ip addr add $a dev d0; done
mkdir -p /tmp/w11 /tmp/w12
echo ok > /tmp/w11/ok
export HACTL_IN_GUEST=1
/t guest_bench_failure_to_weight_zero --exact --include-ignored --nocapture --test-threads 1
/t guest_bench_keepalived_failure_to_weight_zero --exact --include-ignored --nocapture --test-threads 1
