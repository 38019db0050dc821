#!/bin/bash
# Total machine CPU per Gbit, kernel router vs vpcnet, TCP 1 stream and UDP 64 B (iperf3 -t 5).
# Kernel anchor: namespaces vlabk-c1 - vlabk-r - vlabk-s1 with veths (made and removed here). vpcnet: scripts/lab/vlab.json.
set -u
cd "$(dirname "$0")/../.."
B=bin/vpcnet
busy() { awk '/^cpu /{print $2+$3+$4+$7+$8}' /proc/stat; }   # user nice system irq softirq, in ticks
measure() { # ns addr args...
  local ns=$1 addr=$2; shift 2
  local b0=$(busy); local t0=$(date +%s.%N)
  local out=$(ip netns exec $ns iperf3 -c $addr -p 5201 -t 5 -J "$@")
  local b1=$(busy); local t1=$(date +%s.%N)
  python3 - "$b0" "$b1" "$t0" "$t1" "$out" <<'PY'
import json,sys
b0,b1,t0,t1=map(float,sys.argv[1:5]); d=json.loads(sys.argv[5])
e=d["end"]
if "sum_received" in e and e.get("sum_received",{}).get("bytes"):
    gbit=e["sum_received"]["bytes"]*8/1e9; what="%.2f Gbps"%(e["sum_received"]["bits_per_second"]/1e9)
else:
    s=e["sum"]; pk=s["packets"]*(100-s["lost_percent"])/100; gbit=pk*64*8/1e9; what="%.0f kpps"%(pk/5/1000)
cpu=(b1-b0)/100
print("%s, machine CPU %.2f s in %.1f s (%.0f%% of 2 CPUs), %.3f CPU s per Gbit"%(what,cpu,t1-t0,cpu/(t1-t0)/2*100,cpu/gbit))
PY
}
# kernel
for n in vlabk-c1 vlabk-r vlabk-s1; do ip netns add $n; done
ip link add kc1e netns vlabk-c1 type veth peer name kra netns vlabk-r
ip link add ks1e netns vlabk-s1 type veth peer name krb netns vlabk-r
ip -n vlabk-c1 addr add 10.99.1.10/24 dev kc1e; ip -n vlabk-c1 link set kc1e up; ip -n vlabk-c1 link set lo up; ip -n vlabk-c1 route add default via 10.99.1.1
ip -n vlabk-s1 addr add 10.99.2.10/24 dev ks1e; ip -n vlabk-s1 link set ks1e up; ip -n vlabk-s1 link set lo up; ip -n vlabk-s1 route add default via 10.99.2.1
ip -n vlabk-r addr add 10.99.1.1/24 dev kra; ip -n vlabk-r addr add 10.99.2.1/24 dev krb; ip -n vlabk-r link set kra up; ip -n vlabk-r link set krb up
ip netns exec vlabk-r sysctl -qw net.ipv4.ip_forward=1
ip netns exec vlabk-s1 iperf3 -s -D -p 5201 --pidfile /tmp/k-iperf.pid; sleep 0.3
$B down vlab >/dev/null 2>&1; $B up scripts/lab/vlab.json >/dev/null
ip netns exec vlab-s1 iperf3 -s -D -p 5201 --pidfile /tmp/vlab-iperf.pid; sleep 0.3
for i in 1 2 3; do
  echo "kernel TCP1: $(measure vlabk-c1 10.99.2.10)"
  echo "vpcnet TCP1: $(measure vlab-c1 10.88.2.10)"
  echo "kernel UDP64: $(measure vlabk-c1 10.99.2.10 -u -b 0 -l 64)"
  echo "vpcnet UDP64: $(measure vlab-c1 10.88.2.10 -u -b 0 -l 64)"
done
kill $(cat /tmp/k-iperf.pid) $(cat /tmp/vlab-iperf.pid) 2>/dev/null
$B down vlab >/dev/null
for n in vlabk-c1 vlabk-r vlabk-s1; do ip netns del $n; done
