#!/usr/bin/env bash
# Chapter 5's checks on the network build.sh made (or on vpcnet's default
# network: `sudo vpcnet up` then TOPO=ch5 bash check.sh):
#   web reaches db:3306; db reaches the internet as the NAT gateway's Elastic
#   IP; the internet reaches web at its Elastic IP, and not db or web:3306.
# Every address is looked up through the EC2 API, as a script on AWS would.
# Rules shown: SG-2, SG-3, SG-4, NACL-4, RT-2, NAT-2, NAT-5, IGW-1, IGW-2.
TOPO=${TOPO:-ch5-nothing}
. "$(dirname "$0")/../lib.sh"

step "Look up the addresses"
OUT=$(ec2 describe-instances --filters Name=tag:Name,Values=web,db Name=instance-state-name,Values=running \
	--query 'Reservations[].Instances[].[Tags[?Key==`Name`]|[0].Value,PrivateIpAddress,PublicIpAddress]' --output text)
printf '%s\n' "$OUT" | sed 's/^/   /'
read -r _ WEB_IP WEB_EIP < <(grep '^web\s' <<<"$OUT") || true
read -r _ DB_IP _ < <(grep '^db\s' <<<"$OUT") || true
NAT_EIP=$(ec2 describe-nat-gateways --filter Name=state,Values=available \
	--query 'NatGateways[0].NatGatewayAddresses[0].PublicIp' --output text)
for v in WEB_IP WEB_EIP DB_IP NAT_EIP; do
	[ -n "${!v}" ] && [ "${!v}" != None ] || die "$v not found: did build.sh run on topology $TOPO?"
done
ok "web $WEB_IP (Elastic IP $WEB_EIP), db $DB_IP, NAT gateway's Elastic IP $NAT_EIP"
REMOTE_IP=13.52.201.147

step "web reaches db:3306 (db's group admits web's group; acl-db admits the web subnet)"
REPLY=$(printf 'SELECT 1;\n' | inside web nc -N -w 3 "$DB_IP" 3306) || die "web cannot reach $DB_IP:3306"
printf '   %s\n' "$REPLY"
must_be "$REPLY" "SELECT 1;" "db's echo"
expect_ping web "$DB_IP"
note "port 80 on db is not open to web (db's group has no such rule)"
if inside web nc -z -w 2 "$DB_IP" 80 2>/dev/null; then die "web reaches db:80"; fi
ok "web cannot reach db:80"

step "db reaches the internet through the NAT gateway, seen as its Elastic IP (NAT-2)"
expect_http db "http://$REMOTE_IP/" "\"client\":\"$NAT_EIP:"
note "but no ping: acl-db admits ICMP only from the VPC, and a NACL is stateless (NACL-4), so the echo reply is dropped"
expect_no_ping db "$REMOTE_IP"

step "The internet reaches web at its Elastic IP (IGW-1), not db or web:3306"
expect_http remote "http://$WEB_EIP/" "\"client\":\"$REMOTE_IP:"
expect_http remote "http://$WEB_EIP/" "\"local\":\"$WEB_IP:80\""
note "nothing from the internet reaches db: it has no public address, and the NAT gateway takes no inbound (NAT-5)"
expect_no_http remote "http://$NAT_EIP/"
if inside remote nc -z -w 2 "$WEB_EIP" 3306 2>/dev/null; then die "the internet reaches web:3306"; fi
ok "remote cannot reach $WEB_EIP:3306"

printf '\n%sall checks passed%s\n' "$B" "$N"
