# Guest benchmark (tests/ipvs-vm): a service with 100 real servers made by the
# hactl-ipvs agent (netlink, one process) versus a loop of ipvsadm processes, the way
# scripts do it. Prints times; asserts nothing but that both made the same table.
set -u
A=/usr/lib/ocf/resource.d/hactl/ipvs
servers=""
for i in $(seq 1 100); do servers="$servers 10.1.$((i / 250)).$((i % 250 + 1)):80"; done
now() { local t=${EPOCHREALTIME/./}; echo $((10#$t * 1000)); }
runs=5
for k in $(seq $runs); do
  t0=$(now)
  env -i OCF_RESKEY_vip=10.0.0.100 OCF_RESKEY_port=80 OCF_RESKEY_scheduler=wlc \
    "OCF_RESKEY_real_servers=$servers" $A start 2>/dev/null || echo "agent start failed"
  t1=$(now)
  a=$(ipvsadm -Sn | sort); ipvsadm -C
  t2=$(now)
  ipvsadm -A -t 10.0.0.100:80 -s wlc
  for s in $servers; do ipvsadm -a -t 10.0.0.100:80 -r "$s" -g -w 1; done
  t3=$(now)
  b=$(ipvsadm -Sn | sort); ipvsadm -C
  [ "$a" == "$b" ] || { echo "tables differ"; exit 1; }
  echo "run $k: agent (netlink) $(( (t1 - t0) / 1000000 )) ms, ipvsadm loop $(( (t3 - t2) / 1000000 )) ms"
done
