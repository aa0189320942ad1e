# Guest script (tests/ipvs-vm): the ocf:hactl:ipvs executable against a real IPVS
# kernel, with `ipvsadm -Ln` as the oracle. Every check prints what it compared; the
# first mismatch fails the run.
set -u
A=/usr/lib/ocf/resource.d/hactl/ipvs
fail=0

# agent ACTION KEY=VALUE... : runs the agent with a clean OCF environment, prints rc.
agent() {
  local action=$1; shift
  local env=(OCF_ROOT=/usr/lib/ocf OCF_RESOURCE_INSTANCE=web)
  for kv in "$@"; do env+=("OCF_RESKEY_$kv"); done
  # NS=name runs it inside that network namespace (a second director).
  ${NS:+ip netns exec "$NS"} env -i "${env[@]}" "$A" "$action" 2>/tmp/agent.err
  local rc=$?
  sed 's/^/    agent: /' /tmp/agent.err
  return $rc
}

# The table as ipvsadm lists it, without the header and the connection counters.
table() {
  ipvsadm -Ln | tail -n +4 | awk '$1=="->" {print "->", $2, $3, $4; next} {$1=$1; print}'
}

expect_table() { # NAME EXPECTED
  local got; got=$(table)
  if [ "$got" == "$2" ]; then echo "ok   $1"; else
    echo "FAIL $1"; echo "  want:"; echo "$2" | sed 's/^/    /'; echo "  got:"; echo "$got" | sed 's/^/    /'
    fail=1
  fi
}

expect_rc() { # NAME WANT ACTION ARGS...
  local name=$1 want=$2; shift 2
  agent "$@"; local rc=$?
  if [ $rc -eq "$want" ]; then echo "ok   $name (rc $rc)"; else echo "FAIL $name: rc $rc, want $want"; fail=1; fi
}

WEB=(vip=10.0.0.100 port=80)

echo "== every scheduler: start makes exactly the table, stop removes it"
for s in rr wrr lc wlc lblc lblcr dh sh sed nq fo ovf mh; do
  expect_rc "start $s" 0 start "${WEB[@]}" scheduler=$s "real_servers=10.0.0.11:80 10.0.0.12:80,weight=3"
  expect_table "table $s" "TCP 10.0.0.100:80 $s
-> 10.0.0.11:80 Route 1
-> 10.0.0.12:80 Route 3"
  expect_rc "monitor $s" 0 monitor "${WEB[@]}" scheduler=$s "real_servers=10.0.0.11:80 10.0.0.12:80,weight=3"
  expect_rc "stop $s" 0 stop "${WEB[@]}" scheduler=$s
  expect_table "empty after stop $s" ""
done

echo "== every forwarding method, per service and per real server"
for f in dr nat tun; do
  expect_rc "start forward=$f" 0 start "${WEB[@]}" forward=$f "real_servers=10.0.0.11:8080"
  case $f in dr) n=Route ;; nat) n=Masq ;; tun) n=Tunnel ;; esac
  expect_table "forward=$f" "TCP 10.0.0.100:80 wlc
-> 10.0.0.11:8080 $n 1"
  expect_rc "stop forward=$f" 0 stop "${WEB[@]}"
done
expect_rc "start mixed" 0 start "${WEB[@]}" forward=nat \
  "real_servers=10.0.0.11:80 10.0.0.12:80,forward=dr 10.0.0.13:80,forward=tun,weight=0"
expect_table "mixed forwarding" "TCP 10.0.0.100:80 wlc
-> 10.0.0.11:80 Masq 1
-> 10.0.0.12:80 Route 1
-> 10.0.0.13:80 Tunnel 0"
expect_rc "start again is idempotent" 0 start "${WEB[@]}" forward=nat \
  "real_servers=10.0.0.11:80 10.0.0.12:80,forward=dr 10.0.0.13:80,forward=tun,weight=0"
expect_table "unchanged by a second start" "TCP 10.0.0.100:80 wlc
-> 10.0.0.11:80 Masq 1
-> 10.0.0.12:80 Route 1
-> 10.0.0.13:80 Tunnel 0"
expect_rc "stop mixed" 0 stop "${WEB[@]}"

echo "== protocols, IPv6, fwmark, persistence"
expect_rc "udp" 0 start vip=10.0.0.53 port=53 protocol=udp scheduler=rr "real_servers=10.0.0.11:53"
expect_rc "sctp" 0 start vip=10.0.0.54 port=3868 protocol=sctp scheduler=rr "real_servers=10.0.0.11:3868"
expect_rc "ipv6" 0 start vip=fd00::100 port=443 scheduler=sh "real_servers=[fd00::11]:443 [fd00::12]:443,weight=2"
expect_rc "fwmark" 0 start fwmark=7 scheduler=rr "real_servers=10.0.0.11:0 10.0.0.12:0"
expect_rc "persistent" 0 start vip=10.0.0.101 port=0 persistence_timeout=300 persistence_netmask=255.255.255.0 \
  scheduler=wrr "real_servers=10.0.0.11:0"
expect_table "five services" "TCP 10.0.0.101:0 wrr persistent 300 mask 255.255.255.0
-> 10.0.0.11:0 Route 1
UDP 10.0.0.53:53 rr
-> 10.0.0.11:53 Route 1
SCTP 10.0.0.54:3868 rr
-> 10.0.0.11:3868 Route 1
TCP [fd00::100]:443 sh
-> [fd00::11]:443 Route 1
-> [fd00::12]:443 Route 2
FWM 7 rr
-> 10.0.0.11:0 Route 1
-> 10.0.0.12:0 Route 1"
ipvsadm -Ln
expect_rc "stop udp only" 0 stop vip=10.0.0.53 port=53 protocol=udp
expect_rc "stop sctp" 0 stop vip=10.0.0.54 port=3868 protocol=sctp
expect_rc "stop ipv6" 0 stop vip=fd00::100 port=443 "real_servers=[fd00::11]:443"
expect_rc "stop fwmark" 0 stop fwmark=7 "real_servers=10.0.0.11:0"
expect_table "stop removed exactly each service" "TCP 10.0.0.101:0 wrr persistent 300 mask 255.255.255.0
-> 10.0.0.11:0 Route 1"
expect_rc "stop persistent" 0 stop vip=10.0.0.101 port=0 persistence_timeout=300
expect_rc "stop again succeeds" 0 stop vip=10.0.0.101 port=0 persistence_timeout=300
expect_rc "monitor after stop" 7 monitor vip=10.0.0.101 port=0 persistence_timeout=300

echo "== a partial table left by a crash is completed by start"
ipvsadm -A -t 10.0.0.100:80 -s rr
ipvsadm -a -t 10.0.0.100:80 -r 10.0.0.11:80 -g -w 1
ipvsadm -a -t 10.0.0.100:80 -r 10.0.0.99:80 -m -w 4
CFG=("${WEB[@]}" scheduler=wlc "real_servers=10.0.0.11:80 10.0.0.12:80 10.0.0.13:80,weight=2")
expect_rc "start over a partial table" 0 start "${CFG[@]}"
expect_table "partial table reconciled" "TCP 10.0.0.100:80 wlc
-> 10.0.0.11:80 Route 1
-> 10.0.0.12:80 Route 1
-> 10.0.0.13:80 Route 2"

echo "== monitor repairs drift"
ipvsadm -E -t 10.0.0.100:80 -s lc
ipvsadm -e -t 10.0.0.100:80 -r 10.0.0.11:80 -m -w 9
ipvsadm -d -t 10.0.0.100:80 -r 10.0.0.12:80
ipvsadm -a -t 10.0.0.100:80 -r 10.0.0.77:80 -g
expect_rc "monitor with drift" 0 monitor "${CFG[@]}"
expect_table "drift repaired" "TCP 10.0.0.100:80 wlc
-> 10.0.0.11:80 Route 1
-> 10.0.0.12:80 Route 1
-> 10.0.0.13:80 Route 2"

echo "== update in place: add, remove, reweight, reschedule (reload-agent)"
B=("${WEB[@]}" scheduler=wrr "real_servers=10.0.0.11:80,weight=5 10.0.0.13:80,weight=2 10.0.0.14:80,forward=nat")
expect_rc "reload-agent" 0 reload-agent "${B[@]}"
expect_table "updated in place" "TCP 10.0.0.100:80 wrr
-> 10.0.0.11:80 Route 5
-> 10.0.0.13:80 Route 2
-> 10.0.0.14:80 Masq 1"
# The service's connection counter lives in the kernel's service entry: it survives an
# update only if the service is changed in place, not deleted and re-added (real
# servers' own counters would not tell: the kernel restores a re-added server from its
# trash). One local client connection through the VIP counts one; the kernel folds
# its per-CPU counters into the service every 2 s, so wait for that.
ip link add d0 type dummy; ip link set d0 up; ip addr add 10.0.0.1/24 dev d0
ip addr add 10.0.0.100/32 dev d0
curl -s -m 1 http://10.0.0.100/ >/dev/null
conns() { ipvsadm -Ln --stats -t 10.0.0.100:80 | awk '$2=="10.0.0.100:80" {print $3}'; }
for i in $(seq 50); do [ "$(conns)" -ge 1 ] && break; sleep 0.1; done
before=$(conns)
expect_rc "reload-agent again" 0 reload-agent "${WEB[@]}" scheduler=rr \
  "real_servers=10.0.0.11:80,weight=2 10.0.0.13:80,weight=2 10.0.0.14:80,forward=nat,weight=3"
expect_table "reweighted and rescheduled in place" "TCP 10.0.0.100:80 rr
-> 10.0.0.11:80 Route 2
-> 10.0.0.13:80 Route 2
-> 10.0.0.14:80 Masq 3"
after=$(conns)
if [ "$before" -ge 1 ] && [ "$after" == "$before" ]; then echo "ok   service kept through the update ($after connection counted)"
else echo "FAIL connection counts reset or never counted: before $before, after $after"; fail=1; fi
expect_rc "stop" 0 stop "${WEB[@]}"
expect_table "nothing after stop" ""

echo "== connection sync: master while a service runs here, backup always"
daemons() { ipvsadm -L --daemon | sed 's/, maxlen.*)/)/' | sort; }
expect_daemons() { # NAME EXPECTED
  local got; got=$(daemons)
  if [ "$got" == "$2" ]; then echo "ok   $1"; else echo "FAIL $1: got '$got', want '$2'"; fail=1; fi
}
BACKUP="backup sync daemon (mcast=d0, syncid=5)"
BOTH="$BACKUP
master sync daemon (mcast=d0, syncid=5)"
# Off by default: without sync_interface the agent leaves the daemons alone, here one
# started by hand (as keepalived's lvs_sync_daemon or a script would).
ipvsadm --start-daemon backup --mcast-interface d0 --syncid 9
expect_rc "start without sync" 0 start "${WEB[@]}" "real_servers=10.0.0.11:80"
expect_rc "monitor without sync" 0 monitor "${WEB[@]}" "real_servers=10.0.0.11:80"
expect_rc "stop without sync" 0 stop "${WEB[@]}"
expect_rc "probe without sync" 7 monitor "${WEB[@]}"
expect_daemons "without sync_interface another's daemon is left alone" \
  "backup sync daemon (mcast=d0, syncid=9)"
ipvsadm --stop-daemon backup
SYNC=("${WEB[@]}" "real_servers=10.0.0.11:80" sync_interface=d0 sync_id=5)
expect_rc "probe, not running here" 7 monitor "${SYNC[@]}"
expect_daemons "a probe that finds nothing makes a backup" "$BACKUP"
expect_rc "start with sync" 0 start "${SYNC[@]}"
expect_daemons "start makes the master and keeps the backup" "$BOTH"
expect_rc "monitor with sync" 0 monitor "${SYNC[@]}"
expect_daemons "monitor keeps both" "$BOTH"
# Active/active: a second service, held by another director, whose connections this
# node must keep a copy of while it stays the master for its own.
OTHER=(vip=10.0.0.200 port=80 "real_servers=10.0.0.12:80" sync_interface=d0 sync_id=5)
expect_rc "probe of a service held elsewhere" 7 monitor "${OTHER[@]}"
expect_rc "monitor of the service held here" 0 monitor "${SYNC[@]}"
expect_daemons "holder of one service stays the backup for the other" "$BOTH"
expect_rc "the other service moves here" 0 start "${OTHER[@]}"
expect_rc "and away again" 0 stop "${OTHER[@]}"
expect_daemons "stopping one service keeps the master the other needs" "$BOTH"
expect_rc "monitor after the other stopped" 0 monitor "${SYNC[@]}"
expect_daemons "still both" "$BOTH"
expect_rc "stop with sync" 0 stop "${SYNC[@]}"
expect_daemons "the last stop leaves only the backup" "$BACKUP"
ipvsadm --stop-daemon backup

echo "== connection sync, active/active: two directors, each holding one service"
# d1 and d2 are two directors (network namespaces, each its own IPVS and sync
# daemons) on one link; rs a real server there. d1 holds A, d2 holds B; the
# connections each forwards must reach the other's backup daemon.
ip link add brs type bridge; ip link set brs up
for n in d1 d2 rs; do
  ip netns add $n
  ip link add s-$n type veth peer name eth0 netns $n
  ip link set s-$n master brs up
  ip -n $n link set lo up; ip -n $n link set eth0 up
done
ip -n d1 addr add 10.1.0.1/24 dev eth0; ip -n d2 addr add 10.1.0.2/24 dev eth0
ip -n rs addr add 10.1.0.99/24 dev eth0
ip -n d1 addr add 10.0.0.201/32 dev lo; ip -n d2 addr add 10.0.0.202/32 dev lo
A1=(vip=10.0.0.201 port=53 protocol=udp "real_servers=10.1.0.99:53" sync_interface=eth0 sync_id=3)
B2=(vip=10.0.0.202 port=53 protocol=udp "real_servers=10.1.0.99:53" sync_interface=eth0 sync_id=3)
NS=d1 expect_rc "d1 probes B" 7 monitor "${B2[@]}"
NS=d2 expect_rc "d2 probes A" 7 monitor "${A1[@]}"
NS=d1 expect_rc "d1 starts A" 0 start "${A1[@]}"
NS=d2 expect_rc "d2 starts B" 0 start "${B2[@]}"
NS=d1 expect_rc "d1 monitors A" 0 monitor "${A1[@]}"
NS=d2 expect_rc "d2 monitors B" 0 monitor "${B2[@]}"
# A local client sends three datagrams on one socket: the master syncs a UDP
# connection at its third packet (sync_threshold 3) and flushes within 2 s.
send3() { ip netns exec "$1" bash -c "exec 3>/dev/udp/$2/53; echo a >&3; echo b >&3; echo c >&3"; }
synced() { ip netns exec "$1" ipvsadm -Lnc | grep -q " $2:53 "; }
expect_synced() { # NAME NS VIP
  local i; for i in $(seq 100); do synced "$2" "$3" && break; sleep 0.1; done
  if synced "$2" "$3"; then echo "ok   $1"; else
    echo "FAIL $1: $2 has no connection to $3"; ip netns exec "$2" ipvsadm -Lnc; fail=1; fi
}
send3 d1 10.0.0.201
send3 d2 10.0.0.202
expect_synced "d2 (holding B) has a copy of d1's connection to A" d2 10.0.0.201
expect_synced "d1 (holding A) has a copy of d2's connection to B" d1 10.0.0.202
for n in d1 d2 rs; do ip netns del $n; done
ip link del brs

echo "== bad configuration changes nothing"
expect_rc "unknown scheduler" 6 start "${WEB[@]}" scheduler=fastest "real_servers=10.0.0.11:80"
expect_rc "duplicate real server" 6 start "${WEB[@]}" "real_servers=10.0.0.11:80 10.0.0.11:80"
# Each bad value comes after a good real server, so a start that built the table as
# it parsed would leave the service and that server behind.
expect_rc "bad vip" 6 start vip=10.0.0.300 port=80 "real_servers=10.0.0.11:80" sync_interface=d0
expect_rc "service port 65536" 6 start vip=10.0.0.100 port=65536 "real_servers=10.0.0.11:80"
expect_rc "real-server port 70000" 6 start "${WEB[@]}" "real_servers=10.0.0.11:80 10.0.0.12:70000"
expect_rc "real-server port 65536" 6 start "${WEB[@]}" "real_servers=10.0.0.11:80 10.0.0.12:65536"
expect_rc "bad real-server address" 6 start "${WEB[@]}" "real_servers=10.0.0.11:80 10.0.0.x:80"
expect_rc "bad address in validate-all" 6 validate-all "${WEB[@]}" "real_servers=10.0.0.11:80 10.0.0.x:80"
expect_table "still empty after bad input" ""
expect_daemons "no sync daemon started by bad input" ""

exit $fail
