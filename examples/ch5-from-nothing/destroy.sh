#!/usr/bin/env bash
# Tear down what build.sh made, in the order AWS allows: a resource others
# depend on is refused with DependencyViolation (LIFE-1) until they are gone.
# The topology is then empty again, as `vpcnet up` made it.
# Rules shown: LIFE-1, LIFE-3, EIP-3, SG-7, NAT-1, RT-1, IGW-1.
TOPO=${TOPO:-ch5-nothing}
. "$(dirname "$0")/../lib.sh"

step "Look up what build.sh made"
VPC=$(vpc_id my-NewVPC)
[ "$VPC" != None ] || die "my-NewVPC not found: did build.sh run on topology $TOPO?"
OUT=$(ec2 describe-subnets --filters "Name=vpc-id,Values=$VPC" --query 'sort_by(Subnets,&CidrBlock)[].SubnetId' --output text)
read -r PUB PRI <<<"$OUT" # 92.75.100.0/24, 92.75.200.0/24
INSTANCES=$(ec2 describe-instances --filters "Name=vpc-id,Values=$VPC" Name=instance-state-name,Values=pending,running,stopped \
	--query 'Reservations[].Instances[].InstanceId' --output text)
ok "VPC $VPC, subnets $PUB $PRI, instances $INSTANCES"

step "Delete the VPC now: refused, it has subnets, gateways and instances (LIFE-1)"
expect_error DependencyViolation ec2 delete-vpc --vpc-id "$VPC"
IGW=$(ec2 describe-internet-gateways --filters "Name=attachment.vpc-id,Values=$VPC" \
	--query 'InternetGateways[0].InternetGatewayId' --output text)
note "nor can the internet gateway be detached while addresses in the VPC are mapped to public ones"
expect_error DependencyViolation ec2 detach-internet-gateway --internet-gateway-id "$IGW" --vpc-id "$VPC"

step "Release web's Elastic IP (disassociate first: EIP-3)"
OUT=$(ec2 describe-addresses --filters Name=tag:Name,Values=eip-web --query 'Addresses[0].[AllocationId,AssociationId]' --output text)
read -r ALLOC ASSOC <<<"$OUT"
expect_error InvalidIPAddress.InUse ec2 release-address --allocation-id "$ALLOC"
ec2 disassociate-address --association-id "$ASSOC"
ec2 release-address --allocation-id "$ALLOC"

step "Terminate web and db (LIFE-3)"
# shellcheck disable=SC2086 # a list of ids
ec2 terminate-instances --instance-ids $INSTANCES \
	--query 'TerminatingInstances[].[InstanceId,CurrentState.Name]' --output text | sed 's/^/   /'
# shellcheck disable=SC2086
ec2 wait instance-terminated --instance-ids $INSTANCES
ok "terminated"

step "Delete the security groups (a group a rule names goes last)"
GROUPS_=$(ec2 describe-security-groups --filters "Name=vpc-id,Values=$VPC" --query 'SecurityGroups[].[GroupName,GroupId]' --output text)
SG_WEB=$(awk '$1 == "my-Web-SecurityGroup" {print $2}' <<<"$GROUPS_")
SG_DB=$(awk '$1 == "my-DB-SecurityGroup" {print $2}' <<<"$GROUPS_")
SG_DEFAULT=$(awk '$1 == "default" {print $2}' <<<"$GROUPS_")
expect_error DependencyViolation ec2 delete-security-group --group-id "$SG_WEB"
ec2 delete-security-group --group-id "$SG_DB"
ec2 delete-security-group --group-id "$SG_WEB"
note "the VPC's default group goes only with the VPC (SG-7)"
expect_error CannotDelete ec2 delete-security-group --group-id "$SG_DEFAULT"

step "Delete the NAT gateway; then its Elastic IP is free to release"
OUT=$(ec2 describe-nat-gateways --filter "Name=vpc-id,Values=$VPC" Name=state,Values=available \
	--query 'NatGateways[0].[NatGatewayId,NatGatewayAddresses[0].AllocationId]' --output text)
read -r NAT NAT_ALLOC <<<"$OUT"
expect_error InvalidIPAddress.InUse ec2 release-address --allocation-id "$NAT_ALLOC"
ec2 delete-nat-gateway --nat-gateway-id "$NAT" --output text | sed 's/^/   /'
ec2 wait nat-gateway-deleted --nat-gateway-ids "$NAT"
ok "$NAT deleted"
ec2 release-address --allocation-id "$NAT_ALLOC"

step "Give PRI-DB-2a back to the default network ACL, delete acl-db"
OUT=$(ec2 describe-network-acls --filters Name=tag:Name,Values=acl-db \
	--query "NetworkAcls[0].[NetworkAclId,Associations[?SubnetId=='$PRI'].NetworkAclAssociationId|[0]]" --output text)
read -r ACL OLD <<<"$OUT"
DEFAULT_ACL=$(ec2 describe-network-acls --filters "Name=vpc-id,Values=$VPC" Name=default,Values=true \
	--query 'NetworkAcls[0].NetworkAclId' --output text)
expect_error DependencyViolation ec2 delete-network-acl --network-acl-id "$ACL"
ec2 replace-network-acl-association --association-id "$OLD" --network-acl-id "$DEFAULT_ACL" --output text | sed 's/^/   /'
ec2 delete-network-acl --network-acl-id "$ACL"

step "Disassociate and delete rt-public and rt-private"
for name in rt-public rt-private; do
	OUT=$(ec2 describe-route-tables --filters "Name=tag:Name,Values=$name" \
		--query 'RouteTables[0].[RouteTableId,Associations[0].RouteTableAssociationId]' --output text)
	read -r RT ASSOC <<<"$OUT"
	if [ "$name" = rt-public ]; then
		expect_error DependencyViolation ec2 delete-route-table --route-table-id "$RT"
	fi
	ec2 disassociate-route-table --association-id "$ASSOC"
	ec2 delete-route-table --route-table-id "$RT"
done
MAIN=$(ec2 describe-route-tables --filters "Name=vpc-id,Values=$VPC" Name=association.main,Values=true \
	--query 'RouteTables[0].RouteTableId' --output text)
note "the main route table goes only with the VPC (RT-1)"
expect_error DependencyViolation ec2 delete-route-table --route-table-id "$MAIN"

step "Detach and delete the internet gateway"
expect_error DependencyViolation ec2 delete-internet-gateway --internet-gateway-id "$IGW"
ec2 detach-internet-gateway --internet-gateway-id "$IGW" --vpc-id "$VPC"
ec2 delete-internet-gateway --internet-gateway-id "$IGW"

step "Delete the subnets, then the VPC"
ec2 delete-subnet --subnet-id "$PUB"
ec2 delete-subnet --subnet-id "$PRI"
ec2 delete-vpc --vpc-id "$VPC"
COUNT=$(ec2 describe-vpcs --query 'length(Vpcs)' --output text)
must_be "$COUNT" 0 "the number of VPCs"
COUNT=$(ec2 describe-addresses --query 'length(Addresses)' --output text)
must_be "$COUNT" 0 "the number of Elastic IPs"

printf '\n%sthe account is empty again%s: `sudo vpcnet down %s` removes the internet hosts.\n' "$B" "$N" "$TOPO"
