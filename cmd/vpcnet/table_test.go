package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestPrintTable: --output table of the response shapes that have nested
// objects and lists. Items are rows; nested objects are Parent.Child
// columns; tags are a Name column; a nested list is a table of its own whose
// rows name their parent, unless each row has at most one small item; a
// single object is a key/value block. Go's map syntax never appears.
func TestPrintTable(t *testing.T) {
	cases := []struct {
		name, api, response, want string
	}{
		{"describe-instances", "DescribeInstances", `{"Reservations": [
		  {"ReservationId": "r-1", "Instances": [{"InstanceId": "i-web", "State": {"Code": 16, "Name": "running"},
		    "Placement": {"AvailabilityZone": "az-a"}, "PrivateIpAddress": "10.0.1.10", "PublicIpAddress": "13.125.0.1",
		    "SecurityGroups": [{"GroupId": "sg-1", "GroupName": "web"}], "Tags": [{"Key": "Name", "Value": "web"}],
		    "NetworkInterfaces": [
		      {"NetworkInterfaceId": "eni-1", "Attachment": {"DeviceIndex": 0, "InstanceId": "i-web"}, "Groups": [],
		       "PrivateIpAddresses": [{"PrivateIpAddress": "10.0.1.10", "Association": {"PublicIp": "13.125.0.1"}}]},
		      {"NetworkInterfaceId": "eni-2", "Attachment": {"DeviceIndex": 1, "InstanceId": "i-web"}, "Groups": [],
		       "PrivateIpAddresses": [{"PrivateIpAddress": "10.0.1.5"}]}]}]},
		  {"ReservationId": "r-2", "Instances": [{"InstanceId": "i-db", "State": {"Code": 80, "Name": "stopped"},
		    "Placement": {"AvailabilityZone": "az-a"}, "PrivateIpAddress": "10.0.2.20",
		    "SecurityGroups": [{"GroupId": "sg-2", "GroupName": "db"}], "Tags": [{"Key": "Name", "Value": "db"}, {"Key": "tier", "Value": "data"}],
		    "NetworkInterfaces": [{"NetworkInterfaceId": "eni-3", "Attachment": {"DeviceIndex": 0, "InstanceId": "i-db"}, "Groups": [],
		      "PrivateIpAddresses": [{"PrivateIpAddress": "10.0.2.20"}]}]}]}]}`, `
Instances
  Name  InstanceId  Placement.AvailabilityZone  PrivateIpAddress  PublicIpAddress  ReservationId  SecurityGroups.GroupId  SecurityGroups.GroupName  State.Code  State.Name  Tag:tier
  web   i-web       az-a                        10.0.1.10         13.125.0.1       r-1            sg-1                    web                       16          running     -
  db    i-db        az-a                        10.0.2.20         -                r-2            sg-2                    db                        80          stopped     data

Instances > NetworkInterfaces
  InstanceId  NetworkInterfaceId  Attachment.DeviceIndex  Attachment.InstanceId  PrivateIpAddresses.Association.PublicIp  PrivateIpAddresses.PrivateIpAddress
  i-web       eni-1               0                       i-web                  13.125.0.1                               10.0.1.10
  i-web       eni-2               1                       i-web                  -                                        10.0.1.5
  i-db        eni-3               0                       i-db                   -                                        10.0.2.20
`},
		{"describe-route-tables", "DescribeRouteTables", `{"RouteTables": [
		  {"RouteTableId": "rtb-1", "VpcId": "vpc-1", "Tags": [{"Key": "Name", "Value": "rt-public"}],
		   "Associations": [{"Main": false, "RouteTableId": "rtb-1", "SubnetId": "subnet-a"}, {"Main": false, "RouteTableId": "rtb-1", "SubnetId": "subnet-b"}],
		   "Routes": [{"DestinationCidrBlock": "10.0.0.0/16", "GatewayId": "local", "State": "active"},
		              {"DestinationCidrBlock": "0.0.0.0/0", "GatewayId": "igw-1", "State": "active"}]},
		  {"RouteTableId": "rtb-2", "VpcId": "vpc-1", "Tags": [{"Key": "Name", "Value": "main"}],
		   "Associations": [{"Main": true, "RouteTableId": "rtb-2"}],
		   "Routes": [{"DestinationCidrBlock": "10.0.0.0/16", "GatewayId": "local", "State": "active"},
		              {"DestinationCidrBlock": "10.0.9.0/24", "NetworkInterfaceId": "eni-gone", "State": "blackhole"}]}]}`, `
RouteTables
  Name       RouteTableId  VpcId
  rt-public  rtb-1         vpc-1
  main       rtb-2         vpc-1

RouteTables > Associations
  RouteTableId  Main   SubnetId
  rtb-1         false  subnet-a
  rtb-1         false  subnet-b
  rtb-2         true   -

RouteTables > Routes
  RouteTableId  DestinationCidrBlock  GatewayId  NetworkInterfaceId  State
  rtb-1         10.0.0.0/16           local      -                   active
  rtb-1         0.0.0.0/0             igw-1      -                   active
  rtb-2         10.0.0.0/16           local      -                   active
  rtb-2         10.0.9.0/24           -          eni-gone            blackhole
`},
		{"create-network-interface", "CreateNetworkInterface", `{"NetworkInterface": {"NetworkInterfaceId": "eni-9",
		  "AvailabilityZone": "az-a", "Description": "", "Groups": [{"GroupId": "sg-0", "GroupName": "default"}],
		  "PrivateIpAddress": "10.0.1.6", "PrivateIpAddresses": [{"PrivateIpAddress": "10.0.1.6", "Primary": true}],
		  "SourceDestCheck": true, "TagSet": [{"Key": "Name", "Value": "eni-1"}]}}`, `
NetworkInterface
  Name                                 eni-1
  NetworkInterfaceId                   eni-9
  AvailabilityZone                     az-a
  Description                          -
  Groups.GroupId                       sg-0
  Groups.GroupName                     default
  PrivateIpAddress                     10.0.1.6
  PrivateIpAddresses.Primary           true
  PrivateIpAddresses.PrivateIpAddress  10.0.1.6
  SourceDestCheck                      true
`},
		{"security groups: rules without ids", "DescribeSecurityGroups", `{"SecurityGroups": [{"GroupId": "sg-1", "GroupName": "web",
		  "IpPermissions": [{"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
		                    {"IpProtocol": "icmp", "FromPort": 8, "ToPort": -1, "IpRanges": [{"CidrIp": "10.0.0.0/16"}, {"CidrIp": "10.1.0.0/16"}]}]}]}`, `
SecurityGroups
  GroupId  GroupName
  sg-1     web

SecurityGroups > IpPermissions
  GroupId  #  FromPort  IpProtocol  ToPort
  sg-1     1  80        tcp         80
  sg-1     2  8         icmp        -1

SecurityGroups > IpPermissions > IpRanges
  GroupId  IpPermissions#  CidrIp
  sg-1     1               0.0.0.0/0
  sg-1     2               10.0.0.0/16
  sg-1     2               10.1.0.0/16
`},
		{"scalars", "AuthorizeSecurityGroupIngress", `{"Return": true, "GroupId": "sg-1"}`, `
AuthorizeSecurityGroupIngress
  GroupId  sg-1
  Return   true
`},
		{"scalars and a list", "RunInstances", `{"ReservationId": "r-3", "Groups": [], "Instances": [{"InstanceId": "i-new", "State": {"Code": 0, "Name": "pending"}}]}`, `
RunInstances
  Groups         -
  ReservationId  r-3

Instances
  InstanceId  State.Code  State.Name
  i-new       0           pending
`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var v any
			if err := json.Unmarshal([]byte(c.response), &v); err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			printTable(&b, c.api, v)
			if got, want := b.String(), strings.TrimPrefix(c.want, "\n"); got != want {
				t.Errorf("got:\n%s\nwant:\n%s", got, want)
			}
			if strings.Contains(b.String(), "map[") {
				t.Errorf("Go map syntax in the table:\n%s", b.String())
			}
		})
	}
}
