# Guest script (tests/ipvs-vm): the test binary copied in as /t builds the director
# lab itself (tests/tests/netns_ipvs_director.rs) and runs its guest half:
# guest_ipvs_director, or the test named in the first line of /bench (the benchmark,
# scripts/bench-ipvs-director: test, trials, modes).
set -e
# `hactl cluster setup` checks that each node's address is routable from here; the
# guest's own namespace has only lo, so give it a default route (nothing is sent there).
ip link add d0 type dummy; ip link set d0 up; ip route add default dev d0
export HACTL_IN_GUEST=1 HACTL_BIN=/bin/hactl
test=guest_ipvs_director
if [ -f /bench ]; then
  read -r test trials modes </bench
  export HACTL_BENCH_TRIALS=$trials HACTL_BENCH_MODES=${modes:-on,off}
fi
/t "$test" --exact --include-ignored --nocapture --test-threads 1
