#!/usr/bin/env bash
# Chapter 5 from nothing: build the textbook's network (vpcnet's default
# topology, topology/default.json) with the AWS CLI, one resource at a time,
# in the order the chapter builds it in the console.
#
#   sudo vpcnet up examples/ch5-from-nothing/topo.json    # an empty account: internet hosts only
#   eval "$(sudo vpcnet env ch5-nothing)"
#   bash examples/ch5-from-nothing/build.sh
#   bash examples/ch5-from-nothing/check.sh                # the demo's checks
#   bash examples/ch5-from-nothing/destroy.sh              # everything deleted again, in reverse order
#   sudo vpcnet down ch5-nothing
#
# Rules shown: LIFE-1, LIFE-2, ADDR-1, ADDR-2, IGW-1, IGW-3, RT-1, RT-3,
# NAT-1, NAT-2, SG-1, SG-3, NACL-3, EIP-1, EIP-2. See examples/README.md.
TOPO=${TOPO:-ch5-nothing}
. "$(dirname "$0")/../lib.sh"

step "An empty account: no VPC"
COUNT=$(ec2 describe-vpcs --query 'length(Vpcs)' --output text)
must_be "$COUNT" 0 "the number of VPCs"

step "Create the VPC my-NewVPC, 92.75.0.0/16 (ADDR-1)"
VPC=$(ec2 create-vpc --cidr-block 92.75.0.0/16 \
	--tag-specifications 'ResourceType=vpc,Tags=[{Key=Name,Value=my-NewVPC}]' \
	--query Vpc.VpcId --output text)
ec2 wait vpc-available --vpc-ids "$VPC"
ok "VPC $VPC is available"
ec2 modify-vpc-attribute --vpc-id "$VPC" --enable-dns-hostnames '{"Value":true}'
note "AWS made its main route table, default security group and default network ACL (LIFE-2)"
ec2 describe-route-tables --filters "Name=vpc-id,Values=$VPC" \
	--query 'RouteTables[].[RouteTableId,Associations[0].Main,Routes[0].DestinationCidrBlock,Routes[0].GatewayId]' --output text | sed 's/^/   /'
ec2 describe-security-groups --filters "Name=vpc-id,Values=$VPC" --query 'SecurityGroups[].[GroupId,GroupName]' --output text | sed 's/^/   /'
ec2 describe-network-acls --filters "Name=vpc-id,Values=$VPC" --query 'NetworkAcls[].[NetworkAclId,IsDefault]' --output text | sed 's/^/   /'
note "a subnet must lie inside the VPC's CIDR (ADDR-1)"
expect_error InvalidSubnet.Range ec2 create-subnet --vpc-id "$VPC" --cidr-block 10.0.1.0/24

step "Create the subnets: PUB-WEB-2a 92.75.100.0/24 and PRI-DB-2a 92.75.200.0/24 in ap-northeast-2a"
PUB=$(ec2 create-subnet --vpc-id "$VPC" --cidr-block 92.75.100.0/24 --availability-zone ap-northeast-2a \
	--tag-specifications 'ResourceType=subnet,Tags=[{Key=Name,Value=PUB-WEB-2a}]' \
	--query Subnet.SubnetId --output text)
PRI=$(ec2 create-subnet --vpc-id "$VPC" --cidr-block 92.75.200.0/24 --availability-zone ap-northeast-2a \
	--tag-specifications 'ResourceType=subnet,Tags=[{Key=Name,Value=PRI-DB-2a}]' \
	--query Subnet.SubnetId --output text)
ec2 wait subnet-available --subnet-ids "$PUB" "$PRI"
ok "PUB-WEB-2a is $PUB, PRI-DB-2a is $PRI"
note "instances launched in the public subnet get a public IP"
ec2 modify-subnet-attribute --subnet-id "$PUB" --map-public-ip-on-launch
note "subnets of a VPC never overlap (ADDR-1)"
expect_error InvalidSubnet.Conflict ec2 create-subnet --vpc-id "$VPC" --cidr-block 92.75.100.128/25
ec2 describe-subnets --filters "Name=vpc-id,Values=$VPC" \
	--query 'Subnets[].[Tags[?Key==`Name`]|[0].Value,SubnetId,CidrBlock,AvailabilityZone,AvailableIpAddressCount,MapPublicIpOnLaunch]' \
	--output text | sed 's/^/   /'

step "Create the internet gateway igw-main and attach it to the VPC"
IGW=$(ec2 create-internet-gateway \
	--tag-specifications 'ResourceType=internet-gateway,Tags=[{Key=Name,Value=igw-main}]' \
	--query InternetGateway.InternetGatewayId --output text)
ec2 attach-internet-gateway --internet-gateway-id "$IGW" --vpc-id "$VPC"
ATTACHED=$(ec2 describe-internet-gateways --internet-gateway-ids "$IGW" --query 'InternetGateways[0].Attachments[0].[VpcId,State]' --output text)
must_be "$ATTACHED" "$VPC	available" "igw-main's attachment"
note "one internet gateway per VPC (IGW-1)"
IGW2=$(ec2 create-internet-gateway --query InternetGateway.InternetGatewayId --output text)
expect_error Resource.AlreadyAssociated ec2 attach-internet-gateway --internet-gateway-id "$IGW2" --vpc-id "$VPC"
ec2 delete-internet-gateway --internet-gateway-id "$IGW2"

step "Route table rt-public: 0.0.0.0/0 → igw-main, for PUB-WEB-2a (IGW-3: that is what makes it public)"
RT_PUB=$(ec2 create-route-table --vpc-id "$VPC" \
	--tag-specifications 'ResourceType=route-table,Tags=[{Key=Name,Value=rt-public}]' \
	--query RouteTable.RouteTableId --output text)
ec2 create-route --route-table-id "$RT_PUB" --destination-cidr-block 0.0.0.0/0 --gateway-id "$IGW" --output text | sed 's/^/   /'
ASSOC=$(ec2 associate-route-table --route-table-id "$RT_PUB" --subnet-id "$PUB" --query AssociationId --output text)
ok "rt-public is $RT_PUB, associated with PUB-WEB-2a as $ASSOC"

step "The NAT gateway nat-2a in PUB-WEB-2a, with an Elastic IP (NAT-1)"
OUT=$(ec2 allocate-address --domain vpc \
	--tag-specifications 'ResourceType=elastic-ip,Tags=[{Key=Name,Value=eip-nat}]' \
	--query '[AllocationId,PublicIp]' --output text)
read -r EIP_NAT_ALLOC EIP_NAT <<<"$OUT"
ok "eip-nat is $EIP_NAT ($EIP_NAT_ALLOC)"
NAT=$(ec2 create-nat-gateway --subnet-id "$PUB" --allocation-id "$EIP_NAT_ALLOC" \
	--tag-specifications 'ResourceType=natgateway,Tags=[{Key=Name,Value=nat-2a}]' \
	--query NatGateway.NatGatewayId --output text)
ec2 wait nat-gateway-available --nat-gateway-ids "$NAT"
ec2 describe-nat-gateways --nat-gateway-ids "$NAT" \
	--query 'NatGateways[0].[NatGatewayId,State,NatGatewayAddresses[0].PublicIp,NatGatewayAddresses[0].PrivateIp,NatGatewayAddresses[0].NetworkInterfaceId]' \
	--output text | sed 's/^/   /'
ok "nat-2a is $NAT, available"

step "Route table rt-private: 0.0.0.0/0 → nat-2a, for PRI-DB-2a"
RT_PRI=$(ec2 create-route-table --vpc-id "$VPC" \
	--tag-specifications 'ResourceType=route-table,Tags=[{Key=Name,Value=rt-private}]' \
	--query RouteTable.RouteTableId --output text)
ec2 create-route --route-table-id "$RT_PRI" --destination-cidr-block 0.0.0.0/0 --nat-gateway-id "$NAT" --output text | sed 's/^/   /'
ASSOC=$(ec2 associate-route-table --route-table-id "$RT_PRI" --subnet-id "$PRI" --query AssociationId --output text)
ok "rt-private is $RT_PRI, associated with PRI-DB-2a as $ASSOC"
ec2 describe-route-tables --route-table-ids "$RT_PUB" "$RT_PRI" \
	--query 'RouteTables[].Routes[].[DestinationCidrBlock,GatewayId||NatGatewayId,State]' --output text | sed 's/^/   /'

step "Network ACL acl-db for PRI-DB-2a: MySQL from the web subnet, ICMP, replies (NACL-3: the default allows all)"
ACL=$(ec2 create-network-acl --vpc-id "$VPC" \
	--tag-specifications 'ResourceType=network-acl,Tags=[{Key=Name,Value=acl-db}]' \
	--query NetworkAcl.NetworkAclId --output text)
ec2 create-network-acl-entry --network-acl-id "$ACL" --ingress --rule-number 100 --protocol tcp \
	--port-range From=3306,To=3306 --cidr-block 92.75.100.0/24 --rule-action allow
ec2 create-network-acl-entry --network-acl-id "$ACL" --ingress --rule-number 110 --protocol icmp \
	--icmp-type-code Type=-1,Code=-1 --cidr-block 92.75.0.0/16 --rule-action allow
ec2 create-network-acl-entry --network-acl-id "$ACL" --ingress --rule-number 120 --protocol tcp \
	--port-range From=1024,To=65535 --cidr-block 0.0.0.0/0 --rule-action allow
ec2 create-network-acl-entry --network-acl-id "$ACL" --egress --rule-number 100 --protocol -1 \
	--cidr-block 0.0.0.0/0 --rule-action allow
note "the subnet is associated with the default NACL: replace that association"
OLD=$(ec2 describe-network-acls --filters "Name=association.subnet-id,Values=$PRI" \
	--query "NetworkAcls[0].Associations[?SubnetId=='$PRI'].NetworkAclAssociationId" --output text)
NEW=$(ec2 replace-network-acl-association --association-id "$OLD" --network-acl-id "$ACL" --query NewAssociationId --output text)
ok "acl-db is $ACL, associated with PRI-DB-2a as $NEW"

step "Security groups: my-Web-SecurityGroup (HTTP from anywhere), my-DB-SecurityGroup (MySQL from web's group)"
SG_WEB=$(ec2 create-security-group --vpc-id "$VPC" --group-name my-Web-SecurityGroup --description "web servers" \
	--query GroupId --output text)
ec2 authorize-security-group-ingress --group-id "$SG_WEB" --ip-permissions \
	'IpProtocol=tcp,FromPort=80,ToPort=80,IpRanges=[{CidrIp=0.0.0.0/0}]' \
	'IpProtocol=icmp,FromPort=-1,ToPort=-1,IpRanges=[{CidrIp=92.75.0.0/16}]' \
	--query 'SecurityGroupRules[].[SecurityGroupRuleId,IpProtocol,FromPort,CidrIpv4]' --output text | sed 's/^/   /'
SG_DB=$(ec2 create-security-group --vpc-id "$VPC" --group-name my-DB-SecurityGroup --description "databases" \
	--query GroupId --output text)
ec2 authorize-security-group-ingress --group-id "$SG_DB" --ip-permissions \
	"IpProtocol=tcp,FromPort=3306,ToPort=3306,UserIdGroupPairs=[{GroupId=$SG_WEB}]" \
	'IpProtocol=icmp,FromPort=-1,ToPort=-1,IpRanges=[{CidrIp=92.75.0.0/16}]' \
	--query 'SecurityGroupRules[].[SecurityGroupRuleId,IpProtocol,FromPort,CidrIpv4||ReferencedGroupInfo.GroupId]' --output text | sed 's/^/   /'
expect_error InvalidGroup.Duplicate ec2 create-security-group --vpc-id "$VPC" --group-name my-DB-SecurityGroup --description again

step "Launch web (92.75.100.10) and db (92.75.200.20), each starting its server from user data"
AMI=$(ec2 describe-images --filters 'Name=name,Values=al2023-ami-2023*-x86_64' \
	--query 'sort_by(Images,&CreationDate)[-1].ImageId' --output text)
WEB=$(ec2 run-instances --image-id "$AMI" --instance-type t2.micro --subnet-id "$PUB" \
	--private-ip-address 92.75.100.10 --security-group-ids "$SG_WEB" \
	--user-data 'vpcnet serve --http :80' \
	--tag-specifications 'ResourceType=instance,Tags=[{Key=Name,Value=web}]' \
	--query 'Instances[0].InstanceId' --output text)
DB=$(ec2 run-instances --image-id "$AMI" --instance-type t2.micro --subnet-id "$PRI" \
	--private-ip-address 92.75.200.20 --security-group-ids "$SG_DB" \
	--user-data 'vpcnet serve --tcp :3306' \
	--tag-specifications 'ResourceType=instance,Tags=[{Key=Name,Value=db}]' \
	--query 'Instances[0].InstanceId' --output text)
ec2 wait instance-running --instance-ids "$WEB" "$DB"
ok "web is $WEB, db is $DB: running"

step "Give web an Elastic IP, eip-web"
OUT=$(ec2 allocate-address --domain vpc \
	--tag-specifications 'ResourceType=elastic-ip,Tags=[{Key=Name,Value=eip-web}]' \
	--query '[AllocationId,PublicIp]' --output text)
read -r EIP_WEB_ALLOC EIP_WEB <<<"$OUT"
ec2 associate-address --allocation-id "$EIP_WEB_ALLOC" --instance-id "$WEB" --query AssociationId --output text | sed 's/^/   /'
ok "web is reachable at $EIP_WEB"

step "The network as built"
ec2 describe-instances --filters Name=instance-state-name,Values=running \
	--query 'Reservations[].Instances[].[Tags[?Key==`Name`]|[0].Value,InstanceId,PrivateIpAddress,PublicIpAddress||`-`,SubnetId,SecurityGroups[0].GroupName]' \
	--output text | sed 's/^/   /'

printf '\n%sbuilt%s: now  bash %s/check.sh\n' "$B" "$N" "$(dirname "$0")"
