# Guest script (tests/ipvs-vm): real servers on a dummy interface, then the test binary
# copied in as /t runs its benchmark half (guest_bench_failure_to_weight_zero).
set -e
ip link add d0 type dummy; ip link set d0 up
for a in 10.0.0.1/24 10.0.0.100/32 10.0.0.11/32 10.0.0.12/32 10.0.0.99/32; do ip addr add $a dev d0; done
mkdir -p /tmp/w11 /tmp/w12
echo ok > /tmp/w11/ok
HACTL_IN_GUEST=1 /t guest_bench_failure_to_weight_zero --exact --include-ignored --nocapture --test-threads 1
