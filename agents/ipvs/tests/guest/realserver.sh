# Guest script (tests/ipvs-vm): ocf:hactl:lvs-realserver on DR and TUN real servers in
# namespaces behind a director run by ocf:hactl:ipvs. A real server must never answer
# ARP for the VIP (checked with arping from the client, with a control that shows the
# check catching a real server that does); requests flow DR and TUN; stop puts back
# exactly what start changed.
set -u
RS=/usr/lib/ocf/resource.d/hactl/lvs-realserver
IPVS=/usr/lib/ocf/resource.d/hactl/ipvs
fail=0
ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; fail=1; }

# agent NS AGENT INSTANCE ACTION KEY=VALUE... : the agent in namespace NS; prints rc.
agent() {
  local ns=$1 a=$2 inst=$3 action=$4; shift 4
  local env=(OCF_ROOT=/usr/lib/ocf OCF_RESOURCE_INSTANCE=$inst HA_RSCTMP=/tmp/rsc-$ns)
  for kv in "$@"; do env+=("OCF_RESKEY_$kv"); done
  ip netns exec "$ns" env -i "${env[@]}" "$a" "$action" 2>/tmp/agent.err
  local rc=$?
  sed 's/^/    agent: /' /tmp/agent.err
  return $rc
}
expect_rc() { # NAME WANT NS AGENT INSTANCE ACTION ARGS...
  local name=$1 want=$2; shift 2
  agent "$@"; local rc=$?
  [ $rc -eq "$want" ] && ok "$name (rc $rc)" || bad "$name: rc $rc, want $want"
}
sysctl_of() { ip netns exec "$1" cat /proc/sys/net/ipv4/conf/$2/$3; }
expect_sysctl() { # NAME NS IFACE KEY WANT
  local got; got=$(sysctl_of "$2" "$3" "$4")
  [ "$got" == "$5" ] && ok "$1 ($3 $4=$got)" || bad "$1: $3 $4=$got, want $5"
}
mac_of() { ip -n "$1" link show eth0 | awk '/link\/ether/ {print $2}'; }
# MACs that answer ARP for $1 on the client's segment.
arp_answers() {
  ip netns exec client busybox arping -c 3 -w 4 -I eth0 "$1" 2>/dev/null |
    sed -n 's/.*reply from [0-9.]* \[\([0-9a-fA-F:]*\)\].*/\1/p' | tr 'A-F' 'a-f' | sort -u | tr '\n' ' '
}

ip link add br0 type bridge; ip link set br0 up
for n in client dir rs1 rs2 rs3; do
  ip netns add $n
  ip link add v-$n type veth peer name eth0 netns $n
  ip link set v-$n master br0 up
  ip -n $n link set lo up; ip -n $n link set eth0 up
done
ip -n client addr add 10.0.0.2/24 dev eth0
ip -n dir addr add 10.0.0.10/24 dev eth0
i=0
for n in rs1 rs2 rs3; do
  i=$((i+1))
  ip -n $n addr add 10.0.0.1$i/24 dev eth0
  mkdir -p /tmp/www$n; echo "hello from $n" > /tmp/www$n/index.html
  ip netns exec $n httpd -p 80 -h /tmp/www$n
done
DIRMAC=$(mac_of dir)

echo "== control: a real server with the VIP on lo and no ARP suppression answers ARP"
ip -n rs2 addr add 10.0.0.100/32 dev lo
got=$(arp_answers 10.0.0.100)
[ "$got" == "$(mac_of rs2) " ] && ok "arping sees the unsuppressed real server ($got)" || bad "control: answers '$got'"
ip -n rs2 addr del 10.0.0.100/32 dev lo

echo "== DR real servers"
for n in rs1 rs2; do
  expect_rc "$n start dr" 0 $n $RS web start vip=10.0.0.100
  expect_rc "$n monitor" 0 $n $RS web monitor vip=10.0.0.100
  expect_sysctl "$n arp_ignore raised" $n all arp_ignore 1
  expect_sysctl "$n arp_announce raised" $n all arp_announce 2
done
ip -n rs1 addr show dev lo | grep -q "10.0.0.100/32" && ok "VIP /32 on rs1's lo" || bad "VIP not on rs1's lo"
ip -n dir addr add 10.0.0.100/24 dev eth0
expect_rc "director start" 0 dir $IPVS web start vip=10.0.0.100 port=80 scheduler=rr \
  "real_servers=10.0.0.11:80 10.0.0.12:80"
got=$(arp_answers 10.0.0.100)
[ "$got" == "$DIRMAC " ] && ok "only the director answers ARP for the VIP ($got)" || bad "ARP answers for the VIP: '$got', director is $DIRMAC"
seen=""
for k in 1 2 3 4; do seen="$seen $(ip netns exec client curl -s -m 3 http://10.0.0.100/ || echo FAIL)"; done
echo "    DR replies:$seen"
echo "$seen" | grep -q rs1 && echo "$seen" | grep -q rs2 && ! echo "$seen" | grep -q FAIL &&
  ok "DR: both real servers answer through the VIP" || bad "DR replies:$seen"

echo "== TUN real server (strict rp_filter everywhere before start)"
ip netns exec rs3 sh -c 'echo 1 > /proc/sys/net/ipv4/conf/all/rp_filter'
expect_rc "rs3 start tun" 0 rs3 $RS web start vip=10.0.0.101 mode=tun
expect_sysctl "tunl0 rp_filter loose" rs3 tunl0 rp_filter 2
expect_rc "rs3 monitor" 0 rs3 $RS web monitor vip=10.0.0.101 mode=tun
ip -n dir addr add 10.0.0.101/24 dev eth0
expect_rc "tun service start" 0 dir $IPVS tun start vip=10.0.0.101 port=80 forward=tun "real_servers=10.0.0.13:80"
r=$(ip netns exec client curl -s -m 3 http://10.0.0.101/ || echo FAIL)
[ "$r" == "hello from rs3" ] && ok "TUN: the tunnelled real server answers ($r)" || bad "TUN reply: $r"
got=$(arp_answers 10.0.0.101)
[ "$got" == "$DIRMAC " ] && ok "only the director answers ARP for the TUN VIP" || bad "ARP for 10.0.0.101: '$got'"

echo "== two resources share the ARP settings: the first stop keeps them"
expect_rc "rs1 second VIP" 0 rs1 $RS web2 start vip=10.0.0.102
expect_rc "rs1 stop web" 0 rs1 $RS web stop vip=10.0.0.100
expect_sysctl "still suppressed for web2" rs1 all arp_ignore 1
ip -n rs1 addr show dev lo | grep -q "10.0.0.100/" && bad "VIP .100 left on rs1's lo" || ok "VIP .100 gone from rs1's lo"
expect_rc "rs1 monitor web after stop" 7 rs1 $RS web monitor vip=10.0.0.100

echo "== monitor sees a real server that would answer ARP"
ip netns exec rs1 sh -c 'echo 0 > /proc/sys/net/ipv4/conf/all/arp_ignore'
expect_rc "rs1 monitor web2 with arp_ignore reset" 1 rs1 $RS web2 monitor vip=10.0.0.102
ip netns exec rs1 sh -c 'echo 1 > /proc/sys/net/ipv4/conf/all/arp_ignore'

echo "== monitor sees the address or the tunnel drift; start repairs it"
ip -n rs2 addr del 10.0.0.100/32 dev lo
expect_rc "rs2 monitor with the VIP gone from lo" 7 rs2 $RS web monitor vip=10.0.0.100
expect_rc "rs2 start puts it back" 0 rs2 $RS web start vip=10.0.0.100
expect_rc "rs2 monitor after the repair" 0 rs2 $RS web monitor vip=10.0.0.100
ip -n rs2 addr show dev lo | grep -q "10.0.0.100/32" && ok "VIP back on rs2's lo" || bad "VIP not back on rs2's lo"
# all/rp_filter is 1 (strict) in rs3, so tunl0 back at 0 makes the tunnel strict again.
ip netns exec rs3 sh -c 'echo 0 > /proc/sys/net/ipv4/conf/tunl0/rp_filter'
expect_rc "rs3 monitor with tunl0 rp_filter reset" 1 rs3 $RS web monitor vip=10.0.0.101 mode=tun
expect_rc "rs3 start relaxes it again" 0 rs3 $RS web start vip=10.0.0.101 mode=tun
expect_sysctl "tunl0 rp_filter loose again" rs3 tunl0 rp_filter 2
ip -n rs3 addr del 10.0.0.101/32 dev tunl0
expect_rc "rs3 monitor with the VIP gone from tunl0" 7 rs3 $RS web monitor vip=10.0.0.101 mode=tun
expect_rc "rs3 start puts it back" 0 rs3 $RS web start vip=10.0.0.101 mode=tun
expect_rc "rs3 monitor after the repairs" 0 rs3 $RS web monitor vip=10.0.0.101 mode=tun
r=$(ip netns exec client curl -s -m 3 http://10.0.0.101/ || echo FAIL)
[ "$r" == "hello from rs3" ] && ok "TUN carries requests again after the repairs ($r)" || bad "TUN reply after repair: $r"

echo "== stop puts back exactly what start changed"
expect_rc "rs1 stop web2" 0 rs1 $RS web2 stop vip=10.0.0.102
expect_rc "rs2 stop" 0 rs2 $RS web stop vip=10.0.0.100
expect_rc "rs2 stop again" 0 rs2 $RS web stop vip=10.0.0.100
for n in rs1 rs2; do
  expect_sysctl "$n arp_ignore restored" $n all arp_ignore 0
  expect_sysctl "$n arp_announce restored" $n all arp_announce 0
done
expect_rc "rs3 stop" 0 rs3 $RS web stop vip=10.0.0.101 mode=tun
expect_sysctl "tunl0 rp_filter restored" rs3 tunl0 rp_filter 0
expect_sysctl "all rp_filter untouched" rs3 all rp_filter 1
ip -n rs3 addr show dev tunl0 | grep -q 10.0.0.101 && bad "VIP left on tunl0" || ok "VIP gone from tunl0"
ls /tmp/rsc-rs1 /tmp/rsc-rs2 /tmp/rsc-rs3 2>/dev/null | grep -q state && bad "state files left" || ok "no state left"

echo "== arp_interfaces naming one interface"
expect_rc "rs1 start on eth0 only" 0 rs1 $RS web start vip=10.0.0.100 arp_interfaces=eth0
expect_sysctl "eth0 arp_ignore raised" rs1 eth0 arp_ignore 1
expect_sysctl "eth0 arp_announce raised" rs1 eth0 arp_announce 2
expect_sysctl "all arp_ignore untouched" rs1 all arp_ignore 0
got=$(arp_answers 10.0.0.100)
[ "$got" == "$DIRMAC " ] && ok "with eth0 suppressed only the director answers ARP ($got)" || bad "ARP answers with arp_interfaces=eth0: '$got'"
expect_rc "rs1 monitor eth0" 0 rs1 $RS web monitor vip=10.0.0.100 arp_interfaces=eth0
ip netns exec rs1 sh -c 'echo 0 > /proc/sys/net/ipv4/conf/eth0/arp_ignore'
expect_rc "rs1 monitor with eth0 arp_ignore reset" 1 rs1 $RS web monitor vip=10.0.0.100 arp_interfaces=eth0
expect_rc "rs1 start repairs eth0" 0 rs1 $RS web start vip=10.0.0.100 arp_interfaces=eth0
expect_sysctl "eth0 arp_ignore raised again" rs1 eth0 arp_ignore 1
expect_rc "rs1 monitor after the repair" 0 rs1 $RS web monitor vip=10.0.0.100 arp_interfaces=eth0
expect_rc "rs1 stop eth0" 0 rs1 $RS web stop vip=10.0.0.100 arp_interfaces=eth0
expect_sysctl "eth0 arp_ignore restored" rs1 eth0 arp_ignore 0
expect_sysctl "eth0 arp_announce restored" rs1 eth0 arp_announce 0
ls /tmp/rsc-rs1 2>/dev/null | grep -q state && bad "rs1 state file left" || ok "no state left after the eth0 resource"
expect_rc "unknown arp interface" 2 rs1 $RS web start vip=10.0.0.100 arp_interfaces=eth9

echo "== bad configuration"
expect_rc "ipv6 vip" 6 rs1 $RS web start vip=fd00::100
expect_rc "bad mode" 6 rs1 $RS web start vip=10.0.0.100 mode=nat
exit $fail
