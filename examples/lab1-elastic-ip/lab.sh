#!/usr/bin/env bash
# Lab 1: Elastic IPs — allocate, associate, move, disassociate, release.
#
#   sudo vpcnet up examples/lab1-elastic-ip/topo.json
#   eval "$(sudo vpcnet env lab1)"
#   bash examples/lab1-elastic-ip/lab.sh
#   sudo vpcnet down lab1
#
# The topology has two web servers (web1, web2) in a public subnet, without
# public IPs, and an internet host `remote`. Rules shown: EIP-1 … EIP-3, IGW-1,
# IGW-2, ADDR-4. See examples/README.md.
TOPO=${TOPO:-lab1}
. "$(dirname "$0")/../lib.sh"

step "Find the two instances (web1, web2) by their Name tag"
WEB1=$(instance_id web1)
WEB2=$(instance_id web2)
[ -n "$WEB1" ] && [ -n "$WEB2" ] || die "web1 / web2 not found: is topology $TOPO up?"
ok "web1 is $WEB1, web2 is $WEB2"
PUB=$(ec2 describe-instances --instance-ids "$WEB1" --query 'Reservations[0].Instances[0].PublicIpAddress' --output text)
must_be "$PUB" None "web1's public IP"

step "Allocate an Elastic IP (EIP-1)"
OUT=$(ec2 allocate-address --domain vpc --query '[AllocationId,PublicIp]' --output text)
read -r ALLOC EIP <<<"$OUT"
[ -n "${EIP:-}" ] || die "allocate-address gave no address"
ok "allocated $EIP as $ALLOC"
ec2 describe-addresses --allocation-ids "$ALLOC" --output table
note "not associated yet: nothing on the internet answers at $EIP (IGW-2)"
expect_no_http remote "http://$EIP/"

step "Associate it with web1 (EIP-2)"
ASSOC1=$(ec2 associate-address --allocation-id "$ALLOC" --instance-id "$WEB1" --query AssociationId --output text)
ok "association $ASSOC1"
PUB=$(ec2 describe-instances --instance-ids "$WEB1" --query 'Reservations[0].Instances[0].PublicIpAddress' --output text)
must_be "$PUB" "$EIP" "web1's public IP"
note "from the internet host, the EIP reaches web1 (IGW-1: 1:1 NAT to 92.75.100.11)"
expect_http remote "http://$EIP/" '"name":"web1"'
expect_ping remote "$EIP"

step "Associate it with web2 without --allow-reassociation: refused"
expect_error Resource.AlreadyAssociated ec2 associate-address --allocation-id "$ALLOC" --instance-id "$WEB2"
expect_http remote "http://$EIP/" '"name":"web1"'

step "Move it to web2 with --allow-reassociation"
ASSOC2=$(ec2 associate-address --allocation-id "$ALLOC" --instance-id "$WEB2" --allow-reassociation \
	--query AssociationId --output text)
ok "association $ASSOC2"
PUB=$(ec2 describe-instances --instance-ids "$WEB1" --query 'Reservations[0].Instances[0].PublicIpAddress' --output text)
must_be "$PUB" None "web1's public IP"
note "the next packet to $EIP goes to web2"
expect_http remote "http://$EIP/" '"name":"web2"'

step "Release it while associated: refused (EIP-3)"
expect_error InvalidIPAddress.InUse ec2 release-address --allocation-id "$ALLOC"

step "Disassociate it"
ec2 disassociate-address --association-id "$ASSOC2"
ASSOCIATED=$(ec2 describe-addresses --allocation-ids "$ALLOC" --query 'Addresses[0].AssociationId' --output text)
must_be "$ASSOCIATED" None "the address's association"
note "the internet no longer reaches web2 by $EIP"
expect_no_http remote "http://$EIP/"
expect_no_ping remote "$EIP"
expect_error InvalidAssociationID.NotFound ec2 disassociate-address --association-id "$ASSOC2"

step "Release it (EIP-1)"
ec2 release-address --allocation-id "$ALLOC"
COUNT=$(ec2 describe-addresses --query 'length(Addresses)' --output text)
must_be "$COUNT" 0 "the number of Elastic IPs"
note "releasing it again, or any unknown allocation id, is an error"
expect_error InvalidAllocationID.NotFound ec2 release-address --allocation-id "$ALLOC"
expect_error InvalidAllocationID.NotFound ec2 release-address --allocation-id eipalloc-0123456789abcdef0

printf '\n%slab 1 done%s: the network is as it was; `sudo vpcnet down %s` removes it.\n' "$B" "$N" "$TOPO"
