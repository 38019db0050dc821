#!/usr/bin/env bash
# Leak check (issue 10): N up/down cycles of a topology whose user_data
# daemonizes (iperf3 -s -D, a setsid double fork), then compares what the
# host has before and after: processes, network namespaces, vpcnet's state
# folder, cgroups, links, addresses, routes. Usage: sudo scripts/cycles.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-100}
bin=bin/vpcnet
name=cyc$$
name=${name:0:12}
topo=$(mktemp)
trap 'rm -f "$topo"; $bin down "$name" >/dev/null 2>&1 || true' EXIT
cat >"$topo" <<JSON
{"name": "$name", "region": "us-east-1",
 "vpcs": [{"name": "v", "cidr": "10.99.0.0/16",
   "subnets": [{"name": "s", "cidr": "10.99.1.0/24", "az": "us-east-1a"}],
   "instances": [
     {"name": "a", "subnet": "s", "user_data": "iperf3 -s -D; setsid sh -c 'sleep 1000 &' ; sleep 1000"},
     {"name": "b", "subnet": "s", "user_data": "vpcnet serve --http :80"}]}]}
JSON
snap() {
  # This topology's processes (user_data carries VPCNET_TOPOLOGY), namespaces,
  # state and cgroups; the host's links, addresses and routes.
  echo "procs $(grep -lsa "VPCNET_TOPOLOGY=$name" /proc/[0-9]*/environ 2>/dev/null | wc -l)"
  echo "netns $(ip netns list | grep -c "^$name-" || true)"
  echo "run $(ls -A /run/vpcnet 2>/dev/null | grep -c "$name" || true)"
  echo "cgroups $(find /sys/fs/cgroup -type d -path "*vpcnet/$name-*" 2>/dev/null | wc -l)"
  echo "links $(ip -o link | wc -l) addrs $(ip -o addr | wc -l) routes $(ip route show table all | wc -l) rules $(ip rule | wc -l)"
  echo "vpcnet-daemons $(pgrep -fc "vpcnet daemon" || true)"
}
before=$(snap)
start=$(date +%s.%N)
for i in $(seq "$n"); do
  $bin up "$topo" >/dev/null
  $bin down "$name" >/dev/null
done
end=$(date +%s.%N)
sleep 1
after=$(snap)
echo "$n cycles in $(echo "$end - $start" | bc) s"
paste <(echo "$before") <(echo "$after") | sed 's/^/before | after: /'
if [ "$before" != "$after" ]; then echo "LEAK"; exit 1; fi
echo "no leak"
