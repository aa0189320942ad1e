# Guest script (tests/ipvs-vm): real servers on a dummy interface, then the test binary
# copied in as /t runs its guest half (guest_health_checks). For the https check,
# 10.0.0.12:443 is a real TLS server (openssl s_server -WWW, a throw-away EC
# certificate) and 10.0.0.11:443 a plain HTTP server (busybox httpd), which a TLS
# check must not take for healthy.
set -e
ip link add d0 type dummy; ip link set d0 up
for a in 10.0.0.1/24 10.0.0.100/32 10.0.0.11/32 10.0.0.12/32 10.0.0.99/32; do ip addr add $a dev d0; done
mkdir -p /tmp/w11 /tmp/w12 /tmp/w12tls
echo ok > /tmp/w11/ok
echo tls > /tmp/w12tls/ok
printf '[req]\ndistinguished_name=dn\n[dn]\n' > /tmp/o.cnf
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=rs12 \
  -days 2 -config /tmp/o.cnf -keyout /tmp/k.pem -out /tmp/c.pem 2>/dev/null
(cd /tmp/w12tls && exec openssl s_server -quiet -WWW -accept 10.0.0.12:443 \
  -cert /tmp/c.pem -key /tmp/k.pem >/dev/null 2>&1) &
httpd -p 10.0.0.11:443 -h /tmp/w11
HACTL_IN_GUEST=1 /t guest_health_checks --exact --include-ignored --nocapture --test-threads 1
