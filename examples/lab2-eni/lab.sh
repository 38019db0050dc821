#!/usr/bin/env bash
# Lab 2: network interfaces (ENIs) — create one with an automatic and one with
# a chosen private IP, attach one to an instance as eth1, reach it, detach it,
# delete them.
#
#   sudo vpcnet up examples/lab2-eni/topo.json
#   eval "$(sudo vpcnet env lab2)"
#   bash examples/lab2-eni/lab.sh
#   sudo vpcnet down lab2
#
# The topology has two instances, web (92.75.100.10) and peer (92.75.100.20),
# in subnet PUB-WEB-2a, and an empty subnet PUB-WEB-2c in another zone.
# Rules shown: ENI-1, ENI-2, ENI-6, ENI-7, ADDR-2. See examples/README.md.
TOPO=${TOPO:-lab2}
. "$(dirname "$0")/../lib.sh"

step "Find the instance, the subnets and the group"
WEB=$(instance_id web)
SUBNET=$(subnet_id PUB-WEB-2a)
SUBNET_2C=$(subnet_id PUB-WEB-2c)
SG=$(group_id my-Web-SecurityGroup)
[ -n "$WEB" ] && [ "$SUBNET" != None ] && [ "$SG" != None ] || die "web / PUB-WEB-2a / my-Web-SecurityGroup not found: is topology $TOPO up?"
ok "web is $WEB, PUB-WEB-2a is $SUBNET, PUB-WEB-2c is $SUBNET_2C, my-Web-SecurityGroup is $SG"

step "Create an ENI in PUB-WEB-2a with an automatic private IP (ENI-1)"
OUT=$(ec2 create-network-interface --subnet-id "$SUBNET" --groups "$SG" --description "New ENI" \
	--query 'NetworkInterface.[NetworkInterfaceId,PrivateIpAddress,Status]' --output text)
read -r ENI_AUTO IP_AUTO STATUS <<<"$OUT"
ok "$ENI_AUTO got $IP_AUTO, the first free address after the five reserved ones (ADDR-2)"
must_be "$STATUS" available "its status"

step "Create an ENI with a given private IP, 92.75.100.50"
ENI=$(ec2 create-network-interface --subnet-id "$SUBNET" --private-ip-address 92.75.100.50 \
	--groups "$SG" --description "Lab 2 ENI" --query NetworkInterface.NetworkInterfaceId --output text)
ok "$ENI"
ec2 describe-network-interfaces --network-interface-ids "$ENI" \
	--query 'NetworkInterfaces[0].{Id:NetworkInterfaceId,Ip:PrivateIpAddress,Mac:MacAddress,Subnet:SubnetId,Zone:AvailabilityZone,Groups:Groups[].GroupName|join(`,`,@),Status:Status}' \
	--output table
note "an address that is taken or reserved is refused"
expect_error InvalidIPAddress.InUse ec2 create-network-interface --subnet-id "$SUBNET" --private-ip-address 92.75.100.50
expect_error InvalidParameterValue ec2 create-network-interface --subnet-id "$SUBNET" --private-ip-address 92.75.100.3
note "an ENI created without a group gets the VPC's default group (ENI-2)"
OUT=$(ec2 create-network-interface --subnet-id "$SUBNET_2C" \
	--query 'NetworkInterface.[NetworkInterfaceId,Groups[0].GroupName]' --output text)
read -r ENI_2C GROUP_2C <<<"$OUT"
must_be "$GROUP_2C" default "the group of $ENI_2C"

step "Attach an ENI of another zone to web: refused (ENI-6)"
expect_error InvalidParameterCombination ec2 attach-network-interface --network-interface-id "$ENI_2C" --instance-id "$WEB" --device-index 1

step "Attach $ENI to web as eth1 (device index 1)"
ATTACH=$(ec2 attach-network-interface --network-interface-id "$ENI" --instance-id "$WEB" --device-index 1 \
	--query AttachmentId --output text)
ok "attachment $ATTACH"
STATUS=$(ec2 describe-network-interfaces --network-interface-ids "$ENI" --query 'NetworkInterfaces[0].Status' --output text)
must_be "$STATUS" in-use "its status"
note "inside web, the ENI is eth1 with its MAC and address"
LINKS=$(inside web ip -br addr)
printf '%s\n' "$LINKS" | sed 's/^/   /'
grep -q '^eth1 .*92\.75\.100\.50/24' <<<"$LINKS" || die "web has no eth1 with 92.75.100.50"
ok "web has eth1 with 92.75.100.50"
note "the ENI's address answers another instance"
expect_ping peer 92.75.100.50
expect_http peer http://92.75.100.50/ '"local":"92.75.100.50:80"'
note "device index 1 is taken now"
expect_error InvalidParameterValue ec2 attach-network-interface --network-interface-id "$ENI_AUTO" --instance-id "$WEB" --device-index 1

step "Delete it while attached: refused"
expect_error InvalidNetworkInterface.InUse ec2 delete-network-interface --network-interface-id "$ENI"

step "Detach it"
ec2 detach-network-interface --attachment-id "$ATTACH"
ec2 wait network-interface-available --network-interface-ids "$ENI"
ok "$ENI is available again"
LINKS=$(inside web ip -br addr)
printf '%s\n' "$LINKS" | sed 's/^/   /'
! grep -q '^eth1 ' <<<"$LINKS" || die "web still has eth1"
ok "web has no eth1"
expect_no_ping peer 92.75.100.50
note "an instance's eth0 cannot be detached (ENI-6)"
ETH0_ATTACH=$(ec2 describe-instances --instance-ids "$WEB" \
	--query 'Reservations[0].Instances[0].NetworkInterfaces[?Attachment.DeviceIndex==`0`].Attachment.AttachmentId' --output text)
expect_error OperationNotPermitted ec2 detach-network-interface --attachment-id "$ETH0_ATTACH"

step "Delete the three ENIs"
for e in "$ENI" "$ENI_AUTO" "$ENI_2C"; do
	ec2 delete-network-interface --network-interface-id "$e"
done
expect_error InvalidNetworkInterfaceID.NotFound ec2 delete-network-interface --network-interface-id "$ENI"
COUNT=$(ec2 describe-network-interfaces --query 'length(NetworkInterfaces)' --output text)
must_be "$COUNT" 2 "the number of ENIs (web's and peer's eth0)"

printf '\n%slab 2 done%s: the network is as it was; `sudo vpcnet down %s` removes it.\n' "$B" "$N" "$TOPO"
