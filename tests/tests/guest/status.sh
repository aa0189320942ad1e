# Guest script (tests/ipvs-vm): a one-node hactl cluster whose daemon is an LVS-NAT
# director, then the test binary copied in as /t runs its guest half
# (guest_ipvs_status). Network: the client (namespace `client`, 10.0.0.2) reaches the
# VIP 10.0.0.100 on br0 of the director (this namespace, 10.0.0.1); the real servers
# rs1..rs3 (namespaces, 10.0.1.11-13) sit on br1 behind it (10.0.1.1, their gateway).
set -e
sysctl -qw net.ipv4.ip_forward=1 2>/dev/null || echo 1 > /proc/sys/net/ipv4/ip_forward
ip link add br0 type bridge; ip link set br0 up
ip link add br1 type bridge; ip link set br1 up
ip addr add 10.0.0.1/24 dev br0; ip addr add 10.0.0.100/32 dev br0
ip addr add 10.0.1.1/24 dev br1
net() { # NS BRIDGE ADDR GATEWAY
  ip netns add "$1"
  ip link add "v-$1" type veth peer name eth0 netns "$1"
  ip link set "v-$1" master "$2" up
  ip -n "$1" link set lo up; ip -n "$1" link set eth0 up
  ip -n "$1" addr add "$3/24" dev eth0
  ip -n "$1" route add default via "$4"
}
net client br0 10.0.0.2 10.0.0.1
for i in 1 2 3; do
  net "rs$i" br1 "10.0.1.1$i" 10.0.1.1
  mkdir -p "/tmp/www$i"; echo "hello from rs$i" > "/tmp/www$i/index.html"
done
hactl cluster --dir /tmp/c setup --name t --no-local n1=10.0.0.1:7420 >/dev/null
hactl cluster --dir /etc/hactl join /tmp/c/bundles/n1.bundle --force >/dev/null
hactl --log info daemon --config-dir /etc/hactl --state-dir /var/lib/hactl \
  --socket /run/hactl.sock >/tmp/daemon.log 2>&1 &
export HACTL_SOCKET=/run/hactl.sock
rc=0
HACTL_IN_GUEST=1 /t guest_ipvs_status --exact --include-ignored --nocapture --test-threads 1 || rc=$?
if [ $rc -ne 0 ]; then echo "== daemon log (tail)"; tail -40 /tmp/daemon.log; fi
exit $rc
