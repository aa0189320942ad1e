# Guest benchmark (tests/ipvs-vm): a wlc DR service with 100 real servers, no health
# checks, built three ways in the same guest boot, in A B C A B C order (7 rounds, or
# the number in /runs): the hactl-ipvs agent (netlink, one process), a loop of ipvsadm
# processes (the way scripts do it) and keepalived (netlink too; scripts/bench-ipvs
# copies /usr/sbin/keepalived in) from launch until the kernel table holds all 100.
# Prints per-run times, then median and max; asserts nothing but that the three made
# the same table.
set -u
A=/usr/lib/ocf/resource.d/hactl/ipvs
runs=$(cat /runs 2>/dev/null || echo 7)
servers=""
for i in $(seq 1 100); do servers="$servers 10.1.$((i / 250)).$((i % 250 + 1)):80"; done
now() { local t=${EPOCHREALTIME/./}; echo $((10#$t)); } # microseconds

# keepalived: the same service, no checkers (a real server without one is up at start).
conf=/tmp/keepalived.conf
{
  echo "virtual_server 10.0.0.100 80 {"
  echo "  lb_algo wlc"; echo "  lb_kind DR"; echo "  protocol TCP"
  for s in $servers; do echo "  real_server ${s%:*} 80 { weight 1 }"; done
  echo "}"
} >$conf

# Real servers in the kernel table, from /proc/net/ip_vs with a bash builtin: a poll
# starts no process (an ipvsadm start costs far more under emulation), so the poll's
# own cost p (measured below) plus the 10 ms between polls is the resolution: the last
# server lands during a poll or a wait, the poll then running may miss it, the next one
# sees it, so a time is late by 0 to 10 ms + 2p. With one service the file is 4 header
# lines (3, then the service's) and a line per real server. Sets n rather than printing
# it: a $(...) would fork a subshell.
rs_count() {
  local -a lines
  mapfile -t lines </proc/net/ip_vs
  n=$((${#lines[@]} > 4 ? ${#lines[@]} - 4 : 0))
}

agent() {
  env -i OCF_RESKEY_vip=10.0.0.100 OCF_RESKEY_port=80 OCF_RESKEY_scheduler=wlc \
    "OCF_RESKEY_real_servers=$servers" $A start 2>/dev/null || echo "agent start failed"
}
loop() {
  ipvsadm -A -t 10.0.0.100:80 -s wlc
  for s in $servers; do ipvsadm -a -t 10.0.0.100:80 -r "$s" -g -w 1; done
}
# Launch keepalived (checker only, foreground) and poll every 10 ms until all 100 are
# in; it keeps running until stop_keepalived, after the table is compared. IPVS sends
# no netlink event for a table change, so a poll it is; the wait between polls is a
# read timing out on the pipe from a coprocess that never writes (bash has no builtin
# sleep, the guest no /dev/fd), which leaves the one vCPU to keepalived instead of
# spinning on it.
coproc IDLE { read -r _; }
idle=${IDLE[0]}
kpid=""
keepalived_up() {
  keepalived -C -n -f $conf >/tmp/keepalived.log 2>&1 &
  kpid=$!
  until rs_count && [ "$n" -ge 100 ]; do read -r -t 0.01 -u "$idle" || :; done
}
stop_keepalived() { kill "$kpid"; wait "$kpid" 2>/dev/null; }

declare -A took
ref=""
for k in $(seq "$runs"); do
  line="run $k:"
  for way in agent loop keepalived; do
    t0=$(now)
    case $way in agent) agent ;; loop) loop ;; keepalived) keepalived_up ;; esac
    t1=$(now)
    table=$(ipvsadm -Sn | sort)
    [ "$way" = keepalived ] && stop_keepalived
    ipvsadm -C
    [ -n "$ref" ] || ref=$table
    [ "$table" == "$ref" ] || { echo "$way made a different table"; diff <(echo "$ref") <(echo "$table") | head; exit 1; }
    ms=$(((t1 - t0) / 1000))
    took[$way]="${took[$way]:-} $ms"
    line="$line $way $ms ms,"
  done
  echo "${line%,}"
done

# Poll resolution: the cost of one rs_count on the full table.
agent
t0=$(now)
for _ in $(seq 20); do rs_count; done
t1=$(now)
ipvsadm -C
echo "one poll of /proc/net/ip_vs with 100 real servers: $(((t1 - t0) / 20000)) ms"

for way in agent loop keepalived; do
  # shellcheck disable=SC2086
  sorted=($(printf '%s\n' ${took[$way]} | sort -n))
  echo "$way: median ${sorted[$((runs / 2))]} ms, max ${sorted[$((runs - 1))]} ms (of $runs)"
done
