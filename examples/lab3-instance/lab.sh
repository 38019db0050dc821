#!/usr/bin/env bash
# Lab 3: launch instances with the console's choices — image, type, key pair,
# subnet, public IP, security group, the advanced network settings — then
# reach them from the internet, and terminate them.
#
#   sudo vpcnet up examples/lab3-instance/topo.json
#   eval "$(sudo vpcnet env lab3)"
#   bash examples/lab3-instance/lab.sh
#   sudo vpcnet down lab3
#
# The topology has a VPC with one public subnet (PUB-WEB-2a, routed to the
# internet gateway) and no instance; `remote` is a host on the internet.
# Rules shown: QUOTA-2, INST-1, INST-3, ENI-1, ADDR-4, IGW-1, IGW-3, SG-1, SG-3, LIFE-3.
# See examples/README.md.
TOPO=${TOPO:-lab3}
. "$(dirname "$0")/../lib.sh"

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

step "Choose an image: the newest Amazon Linux 2023 (describe-images)"
AMI=$(ec2 describe-images --owners amazon --filters 'Name=name,Values=al2023-ami-2023*-x86_64' \
	--query 'sort_by(Images,&CreationDate)[-1].ImageId' --output text)
[ -n "$AMI" ] && [ "$AMI" != None ] || die "no Amazon Linux 2023 image"
ok "image $AMI"

step "Instance type t2.micro: how many ENIs and addresses it takes"
ec2 describe-instance-types --instance-types t2.micro \
	--query 'InstanceTypes[0].{Type:InstanceType,MaxENIs:NetworkInfo.MaximumNetworkInterfaces,IPv4PerENI:NetworkInfo.Ipv4AddressesPerInterface}' \
	--output table

step "Create a key pair (its private half is printed once)"
ec2 create-key-pair --key-name my-lab3-key --key-type ed25519 --query KeyMaterial --output text >"$TMP/my-lab3-key.pem"
chmod 400 "$TMP/my-lab3-key.pem"
head -1 "$TMP/my-lab3-key.pem" | sed 's/^/   /'

step "Find the VPC and subnet; create the web security group (HTTP from anywhere)"
VPC=$(vpc_id my-NewVPC)
SUBNET=$(subnet_id PUB-WEB-2a)
[ "$VPC" != None ] && [ "$SUBNET" != None ] || die "my-NewVPC / PUB-WEB-2a not found: is topology $TOPO up?"
SG=$(ec2 create-security-group --group-name my-Web-SecurityGroup --description "HTTP from anywhere" \
	--vpc-id "$VPC" --query GroupId --output text)
ok "group $SG (SG-1: no inbound rule yet, all outbound)"
ec2 authorize-security-group-ingress --group-id "$SG" --ip-permissions \
	'IpProtocol=tcp,FromPort=80,ToPort=80,IpRanges=[{CidrIp=0.0.0.0/0,Description=HTTP}]' \
	'IpProtocol=tcp,FromPort=22,ToPort=22,IpRanges=[{CidrIp=0.0.0.0/0,Description=SSH}]' \
	'IpProtocol=icmp,FromPort=-1,ToPort=-1,IpRanges=[{CidrIp=0.0.0.0/0}]' \
	--query 'SecurityGroupRules[].[IpProtocol,FromPort,ToPort,CidrIpv4]' --output text | sed 's/^/   /'

step "Mistakes the launch refuses"
expect_error InvalidAMIID.NotFound ec2 run-instances --image-id ami-0123456789abcdef0 --instance-type t2.micro \
	--subnet-id "$SUBNET" --security-group-ids "$SG"
expect_error InvalidKeyPair.NotFound ec2 run-instances --image-id "$AMI" --instance-type t2.micro --key-name no-such-key \
	--subnet-id "$SUBNET" --security-group-ids "$SG"
note "a t2.micro's interface holds 2 IPv4 addresses: a primary and 2 secondaries are too many (QUOTA-2)"
expect_error PrivateIpAddressLimitExceeded ec2 run-instances --image-id "$AMI" --instance-type t2.micro \
	--network-interfaces "DeviceIndex=0,SubnetId=$SUBNET,Groups=$SG,SecondaryPrivateIpAddressCount=2"
COUNT=$(ec2 describe-instances --filters Name=instance-state-name,Values=pending,running --query 'length(Reservations)' --output text)
must_be "$COUNT" 0 "the number of reservations"

step "Launch web1: subnet, group, auto-assign public IP, user data"
WEB1=$(ec2 run-instances --image-id "$AMI" --instance-type t2.micro --key-name my-lab3-key --count 1 \
	--subnet-id "$SUBNET" --security-group-ids "$SG" --associate-public-ip-address \
	--user-data 'vpcnet serve --http :80' \
	--tag-specifications 'ResourceType=instance,Tags=[{Key=Name,Value=web1}]' \
	--query 'Instances[0].InstanceId' --output text)
ok "launched $WEB1 (pending)"
ec2 wait instance-running --instance-ids "$WEB1"
OUT=$(ec2 describe-instances --instance-ids "$WEB1" \
	--query 'Reservations[0].Instances[0].[State.Name,InstanceType,ImageId,KeyName,PrivateIpAddress,PublicIpAddress]' --output text)
read -r STATE TYPE IMAGE KEY IP1 PUB1 <<<"$OUT"
must_be "$STATE $TYPE $IMAGE $KEY" "running t2.micro $AMI my-lab3-key" "web1's state, type, image and key"
ok "web1 has private IP $IP1 and public IP $PUB1 (ADDR-4: dynamic, from the region's pool)"
note "from the internet, web1 answers at its public IP (IGW-1)"
expect_http remote "http://$PUB1/" '"name":"web1"'
expect_ping remote "$PUB1"

step "Launch web2 with the advanced network settings (--network-interfaces)"
note "a description, the primary IP 92.75.100.20 and a secondary IP 92.75.100.21, a public IP"
cat >"$TMP/nics.json" <<EOF
[{"DeviceIndex": 0, "SubnetId": "$SUBNET", "Groups": ["$SG"], "AssociatePublicIpAddress": true,
  "Description": "Lab 3 web server", "DeleteOnTermination": true,
  "PrivateIpAddresses": [{"PrivateIpAddress": "92.75.100.20", "Primary": true},
                         {"PrivateIpAddress": "92.75.100.21", "Primary": false}]}]
EOF
sed 's/^/   /' "$TMP/nics.json"
WEB2=$(ec2 run-instances --image-id "$AMI" --instance-type t2.micro --key-name my-lab3-key \
	--network-interfaces "file://$TMP/nics.json" --user-data 'vpcnet serve --http :80' \
	--tag-specifications 'ResourceType=instance,Tags=[{Key=Name,Value=web2}]' \
	--query 'Instances[0].InstanceId' --output text)
ok "launched $WEB2"
ec2 wait instance-running --instance-ids "$WEB2"
PUB2=$(ec2 describe-instances --instance-ids "$WEB2" --query 'Reservations[0].Instances[0].PublicIpAddress' --output text)
ec2 describe-instances --instance-ids "$WEB2" \
	--query 'Reservations[0].Instances[0].NetworkInterfaces[0].PrivateIpAddresses[].[PrivateIpAddress,Primary]' --output text | sed 's/^/   /'
DESC=$(ec2 describe-instances --instance-ids "$WEB2" --query 'Reservations[0].Instances[0].NetworkInterfaces[0].Description' --output text)
must_be "$DESC" "Lab 3 web server" "eth0's description"
SECONDARY=$(ec2 describe-instances --instance-ids "$WEB2" \
	--query 'Reservations[0].Instances[0].NetworkInterfaces[0].PrivateIpAddresses[?Primary==`false`].PrivateIpAddress' --output text)
must_be "$SECONDARY" 92.75.100.21 "eth0's secondary IP"
note "inside web2, eth0 holds both addresses"
LINKS=$(inside web2 ip -br addr show dev eth0)
printf '%s\n' "$LINKS" | sed 's/^/   /'
grep -q '92\.75\.100\.20/24.*92\.75\.100\.21/24' <<<"$LINKS" || die "web2's eth0 lacks 92.75.100.20 and .21"
ok "web2's eth0 has 92.75.100.20 and 92.75.100.21"
expect_http remote "http://$PUB2/" '"name":"web2"'
expect_http web1 http://92.75.100.21/ '"local":"92.75.100.21:80"'

step "Delete the group while instances use it: refused"
expect_error DependencyViolation ec2 delete-security-group --group-id "$SG"

step "Terminate both (LIFE-3)"
ec2 terminate-instances --instance-ids "$WEB1" "$WEB2" \
	--query 'TerminatingInstances[].[InstanceId,PreviousState.Name,CurrentState.Name]' --output text | sed 's/^/   /'
ec2 wait instance-terminated --instance-ids "$WEB1" "$WEB2"
ok "both terminated"
expect_no_http remote "http://$PUB1/"
ec2 delete-security-group --group-id "$SG"
ec2 delete-key-pair --key-name my-lab3-key
ok "group and key pair deleted"

printf '\n%slab 3 done%s: the network is as it was; `sudo vpcnet down %s` removes it.\n' "$B" "$N" "$TOPO"
