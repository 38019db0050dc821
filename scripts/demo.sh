#!/usr/bin/env bash
# Brings up the embedded default network (the textbook chapter's ch5 VPC) and
# shows it working: routing between subnets, security groups, the internet
# gateway's public IPs and the NAT gateway's Elastic IP, and the counters.
set -uo pipefail
cd "$(dirname "$0")/.."
V=bin/vpcnet
T="--topology ch5"
step() { printf '\n\033[1m== %s\033[0m\n$ %s\n' "$1" "$2"; eval "$2"; }

$V down ch5 >/dev/null 2>&1 || true
step "Bring up the textbook network (embedded default)" "$V up"
sleep 0.5
step "Instances, ENIs and addresses" "$V status $T"
WEB_EIP=$($V status $T --json | grep -o '"92.75.100.10": "[0-9.]*"' | head -1 | grep -o '[0-9.]*"$' | tr -d '"')
step "web → db across subnets (route table; NACL acl-db allows ICMP from the VPC)" \
     "$V exec $T web -- ping -c 2 -W 1 92.75.200.20"
step "web → db:3306, allowed because web is in my-Web-SecurityGroup (SG-3 group reference)" \
     "echo hello | $V exec $T web -- nc -w 2 -q 1 92.75.200.20 3306"
step "The internet host 'console' sees web's Elastic IP $WEB_EIP, never its private IP (IGW-1)" \
     "$V exec $T web -- curl -sS --max-time 3 http://54.239.30.25/"
step "db is private: it reaches 'remote' through the NAT gateway, seen as the NAT's EIP 13.125.190.82 (NAT-2)" \
     "$V exec $T db -- curl -sS --max-time 3 http://13.52.201.147/"
step "The internet reaches web's server on its EIP (SG allows tcp/80 from 0.0.0.0/0)" \
     "$V exec $T remote -- curl -sS --max-time 3 http://$WEB_EIP/"
step "Security groups decide: web's group does not allow tcp/3306 from the internet (SG-1: rules only allow)" \
     "$V exec $T remote -- nc -z -w 1 $WEB_EIP 3306 || echo '→ dropped; vpcnet stats names the group below'"
step "The internet cannot reach db: it has no public IP" \
     "$V exec $T remote -- curl -sS --max-time 2 http://92.75.200.20/ || echo '→ no route on the internet to a private instance'"
step "Why? Path analysis from the configuration names the blocking group (OBS-3)" \
     "$V start-network-insights-analysis $T --source remote --destination $WEB_EIP --destination-port 3306 --output table"
step "Public address pools in ip-ranges.json shape (ADDR-5)" "$V ip-ranges $T"
step "Counters: frames, bytes and drops by reason, per ENI and stage" "$V stats $T"
printf '\nThe network stays up. Try: sudo %s exec web -- bash     Take it down: sudo %s down ch5\n' "$V" "$V"
