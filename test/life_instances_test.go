package test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Lab 3 (issue 12): an instance launched as the textbook's lab 3 does,
// through the real AWS CLI, with its advanced network settings, then
// reached; its groups changed live; the instance type's ENI limit
// (QUOTA-2).

// lab3Topo is the lab's VPC: a public subnet routed to the internet
// gateway, a private one, a web group (80 and ping from anywhere), an ssh
// group (22 and ping), and a host on the internet.
const lab3Topo = `{
  "name": "NAME", "region": "ap-northeast-2",
  "address_pools": [{"name": "amazon", "cidrs": ["13.125.0.0/16"]}],
  "internet": {"hosts": [{"name": "client", "ip": "54.239.30.25"}]},
  "vpcs": [{"name": "v", "cidr": "92.75.0.0/16", "internet_gateway": "igw",
    "subnets": [{"name": "pub", "cidr": "92.75.100.0/24", "az": "ap-northeast-2a", "route_table": "rt-pub"},
                {"name": "pri", "cidr": "92.75.200.0/24", "az": "ap-northeast-2a"}],
    "route_tables": [{"name": "rt-pub", "routes": [{"destination": "0.0.0.0/0", "target": "igw"}]}],
    "security_groups": [
      {"name": "web", "ingress": [{"protocol": "tcp", "ports": "80", "source": "0.0.0.0/0"}, {"protocol": "icmp", "source": "0.0.0.0/0"}]},
      {"name": "ssh", "ingress": [{"protocol": "tcp", "ports": "22", "source": "0.0.0.0/0"}, {"protocol": "icmp", "source": "0.0.0.0/0"}]}]}]
}`

// lab3Script is the user data: a shell script as a file, as the lab's
// console field takes it; the AWS CLI base64-encodes it.
const lab3Script = `#!/bin/sh
# lab 3: a web page on 80 and a listener on 22
echo "user data ran as $VPCNET_INSTANCE"
exec vpcnet serve --http :80 --tcp :22
`

type launched struct {
	Instances []struct {
		InstanceId, InstanceType, KeyName, PrivateIpAddress, PublicIpAddress string
		NetworkInterfaces                                                    []struct {
			NetworkInterfaceId, Description, PrivateIpAddress string
			PrivateIpAddresses                                []struct{ PrivateIpAddress string }
			Attachment                                        struct {
				DeviceIndex         int
				DeleteOnTermination bool
			}
		}
	}
}

// TestLife_Lab3LaunchThroughTheAWSCLI: run-instances with --image-id,
// --instance-type, --key-name, --user-data file://, --tag-specifications
// and --network-interfaces JSON; the user data runs; the internet pings
// the public IP and reaches the listener; a second instance with two
// interfaces (the second at a given address) is reached on it; the AWS
// CLI's refusals come back with EC2's codes and change nothing.
func TestLife_Lab3LaunchThroughTheAWSCLI(t *testing.T) {
	RequireRoot(t)
	requireAWSCLI(t)
	tp := Up(t, lab3Topo)
	env := newAWSEnv(t, tp.Name)
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	aws := func(args string) (string, string, int) {
		t.Helper()
		return env.run(t, `exec /usr/bin/aws --endpoint-url "$AWS_ENDPOINT_URL" --output json ec2 `+args)
	}
	mustAWS := func(args string) string {
		t.Helper()
		out, errOut, code := aws(args)
		if code != 0 {
			t.Fatalf("aws ec2 %s: exit %d\n%s%s", args, code, out, errOut)
		}
		return out
	}
	ids := map[string]string{}
	for _, g := range []string{"web", "ssh"} {
		var sg struct{ SecurityGroups []struct{ GroupId string } }
		json.Unmarshal([]byte(mustAWS(`describe-security-groups --filters Name=group-name,Values=`+g)), &sg)
		ids[g] = sg.SecurityGroups[0].GroupId
	}
	var sn struct {
		Subnets []struct{ SubnetId, CidrBlock string }
	}
	json.Unmarshal([]byte(mustAWS(`describe-subnets`)), &sn)
	for _, s := range sn.Subnets {
		ids[map[string]string{"92.75.100.0/24": "pub", "92.75.200.0/24": "pri"}[s.CidrBlock]] = s.SubnetId
	}
	mustAWS(`create-key-pair --key-name lab3-key --query KeyPairId --output text`)
	script := write("script.sh", lab3Script)

	// The lab's launch: eth0 with a public IP, a description and one
	// secondary address.
	nis := write("nis.json", `[{"DeviceIndex": 0, "SubnetId": "`+ids["pub"]+`", "Groups": ["`+ids["web"]+`"],
		"Description": "lab3 primary", "SecondaryPrivateIpAddressCount": 1, "AssociatePublicIpAddress": true}]`)
	var res launched
	out := mustAWS(`run-instances --image-id ami-0c9c942bd7bf113a2 --instance-type t2.micro --count 1 --key-name lab3-key ` +
		`--user-data file://` + script + ` --network-interfaces file://` + nis +
		` --tag-specifications 'ResourceType=instance,Tags=[{Key=Name,Value=lab3}]'`)
	if err := json.Unmarshal([]byte(out), &res); err != nil || len(res.Instances) != 1 {
		t.Fatalf("run-instances: %v\n%s", err, out)
	}
	x := res.Instances[0]
	if x.InstanceType != "t2.micro" || x.KeyName != "lab3-key" || x.PublicIpAddress == "" || len(x.NetworkInterfaces) != 1 {
		t.Fatalf("launched: %+v", x)
	}
	eth0 := x.NetworkInterfaces[0]
	if eth0.Description != "lab3 primary" || len(eth0.PrivateIpAddresses) != 2 || !eth0.Attachment.DeleteOnTermination {
		t.Fatalf("eth0: %+v", eth0)
	}
	// describe-instances shows the key pair, the type; the namespace has
	// both addresses on eth0.
	var desc struct{ Reservations []launched }
	json.Unmarshal([]byte(mustAWS(`describe-instances --instance-ids `+x.InstanceId)), &desc)
	if d := desc.Reservations[0].Instances[0]; d.KeyName != "lab3-key" || d.InstanceType != "t2.micro" || d.PublicIpAddress != x.PublicIpAddress {
		t.Fatalf("describe-instances: %+v", d)
	}
	addrs := tp.MustExec(t, "lab3", "ip", "-4", "-o", "addr", "show", "eth0")
	for _, p := range eth0.PrivateIpAddresses {
		if !strings.Contains(addrs, p.PrivateIpAddress+"/24") {
			t.Errorf("eth0 lacks %s: %s", p.PrivateIpAddress, addrs)
		}
	}
	// The user data ran (the AWS CLI's base64 decoded): its listener
	// answers the internet at the public IP, and the public IP answers
	// pings.
	if !tp.PingEventually(t, "client", x.PublicIpAddress) {
		t.Fatalf("client cannot ping lab3's public IP %s", x.PublicIpAddress)
	}
	w, err := tp.Curl(t, "client", "http://"+x.PublicIpAddress+"/")
	if err != nil || w.Name != "lab3" || w.Local != x.PrivateIpAddress+":80" {
		t.Fatalf("the user data's listener: %+v %v", w, err)
	}

	// refusedAWS runs a request through the AWS CLI that EC2 refuses with
	// code, and demands that nothing change (describe-*, export).
	refusedAWS := func(code, args string) {
		t.Helper()
		tp.unchanged(t, "aws ec2 "+args, func() {
			if _, errOut, exit := aws(args); exit != 254 || !strings.Contains(errOut, "("+code+")") {
				t.Fatalf("aws ec2 %s: exit %d %s, want %s", args, exit, errOut, code)
			}
		})
	}
	// A public IP with two interfaces is refused as EC2 refuses it, and
	// nothing changes.
	two := write("two.json", `[{"DeviceIndex": 0, "SubnetId": "`+ids["pub"]+`", "AssociatePublicIpAddress": true},
		{"DeviceIndex": 1, "SubnetId": "`+ids["pri"]+`", "PrivateIpAddress": "92.75.200.20"}]`)
	refusedAWS("InvalidParameterCombination", `run-instances --image-id ami-0c9c942bd7bf113a2 --count 1 --network-interfaces file://`+two)
	// Three interfaces on a t2.micro: AttachmentLimitExceeded (QUOTA-2).
	three := write("three.json", `[{"DeviceIndex": 0, "SubnetId": "`+ids["pub"]+`"}, {"DeviceIndex": 1, "SubnetId": "`+ids["pri"]+`"},
		{"DeviceIndex": 2, "SubnetId": "`+ids["pri"]+`"}]`)
	refusedAWS("AttachmentLimitExceeded", `run-instances --image-id ami-0c9c942bd7bf113a2 --instance-type t2.micro --count 1 --network-interfaces file://`+three)
	refusedAWS("InvalidKeyPair.NotFound", `run-instances --image-id ami-0c9c942bd7bf113a2 --count 1 --key-name nokey --subnet-id `+ids["pub"])
	if w, err := tp.Curl(t, "client", "http://"+x.PublicIpAddress+"/"); err != nil || w.Name != "lab3" {
		t.Fatalf("the internet → lab3 after the refused launches: %+v %v", w, err)
	}

	// Two interfaces, the second at a given address in the private subnet
	// with the web group: reached there from lab3.
	two = write("two.json", `[{"DeviceIndex": 0, "SubnetId": "`+ids["pub"]+`", "Groups": ["`+ids["web"]+`"]},
		{"DeviceIndex": 1, "SubnetId": "`+ids["pri"]+`", "PrivateIpAddress": "92.75.200.20", "Groups": ["`+ids["web"]+`"], "Description": "data"}]`)
	out = mustAWS(`run-instances --image-id ami-0c9c942bd7bf113a2 --count 1 --user-data file://` + script + ` --network-interfaces file://` + two +
		` --tag-specifications 'ResourceType=instance,Tags=[{Key=Name,Value=lab3b}]'`)
	res = launched{}
	json.Unmarshal([]byte(out), &res)
	y := res.Instances[0]
	if len(y.NetworkInterfaces) != 2 || y.PublicIpAddress != "" {
		t.Fatalf("lab3b: %s", out)
	}
	w, err = tp.Curl(t, "lab3", "http://92.75.200.20/")
	if err != nil || w.Name != "lab3b" || w.Local != "92.75.200.20:80" {
		t.Fatalf("lab3b's eth1 at 92.75.200.20: %+v %v", w, err)
	}

	// QUOTA-2: lab3b (t2.micro) has its two interfaces; a third is refused.
	var eni struct {
		NetworkInterface struct{ NetworkInterfaceId string }
	}
	json.Unmarshal([]byte(mustAWS(`create-network-interface --subnet-id `+ids["pri"])), &eni)
	refusedAWS("AttachmentLimitExceeded", `attach-network-interface --network-interface-id `+eni.NetworkInterface.NetworkInterfaceId+
		` --instance-id `+y.InstanceId+` --device-index 2`)
	refusedAWS("PrivateIpAddressLimitExceeded", `assign-private-ip-addresses --network-interface-id `+eth0.NetworkInterfaceId+
		` --secondary-private-ip-address-count 1`)
	if w, err := tp.Curl(t, "lab3", "http://92.75.200.20/"); err != nil || w.Name != "lab3b" {
		t.Fatalf("lab3 → lab3b's eth1 after the refused attach and assign: %+v %v", w, err)
	}

	// Terminate: the ENIs the launch made go with it (DeleteOnTermination).
	mustAWS(`terminate-instances --instance-ids ` + y.InstanceId)
	var left struct {
		NetworkInterfaces []struct{ PrivateIpAddress string }
	}
	json.Unmarshal([]byte(mustAWS(`describe-network-interfaces --filters Name=addresses.private-ip-address,Values=92.75.200.20`)), &left)
	if len(left.NetworkInterfaces) != 0 {
		t.Fatalf("lab3b's eth1 outlived it: %+v", left)
	}

	// vpcnet's own CLI takes --user-data file:// the same way.
	if out, code := vpcnet(t, "run-instances", "--topology", tp.Name, "--subnet-id", ids["pub"], "--security-group-ids", ids["web"],
		"--user-data", "file://"+script, "--name", "own"); code != 0 {
		t.Fatalf("vpcnet run-instances: %d %s", code, out)
	}
	var own struct{ Reservations []launched }
	json.Unmarshal([]byte(mustAWS(`describe-instances --filters Name=tag:Name,Values=own`)), &own)
	if w, err := tp.Curl(t, "lab3", "http://"+own.Reservations[0].Instances[0].PrivateIpAddress+"/"); err != nil || w.Name != "own" {
		t.Fatalf("vpcnet's own run-instances --user-data file://: %+v %v", w, err)
	}
}

// TestLife_ModifyInstanceAttributeGroupsTrafficFollows: --groups replaces
// eth0's groups and the next connection follows them: with ssh only, 80 is
// refused and 22 allowed; back to web, 80 answers again.
func TestLife_ModifyInstanceAttributeGroupsTrafficFollows(t *testing.T) {
	RequireRoot(t)
	requireAWSCLI(t)
	tp := Up(t, strings.Replace(lab3Topo, `"route_table": "rt-pub"}`, `"route_table": "rt-pub", "map_public_ip_on_launch": true}`, 1))
	env := newAWSEnv(t, tp.Name)
	aws := func(args string) string {
		t.Helper()
		out, errOut, code := env.run(t, `exec /usr/bin/aws --endpoint-url "$AWS_ENDPOINT_URL" --output text ec2 `+args)
		if code != 0 {
			t.Fatalf("aws ec2 %s: exit %d\n%s%s", args, code, out, errOut)
		}
		return strings.TrimSpace(out)
	}
	web := aws(`describe-security-groups --filters Name=group-name,Values=web --query SecurityGroups[0].GroupId`)
	ssh := aws(`describe-security-groups --filters Name=group-name,Values=ssh --query SecurityGroups[0].GroupId`)
	pub := aws(`describe-subnets --filters Name=cidr-block,Values=92.75.100.0/24 --query Subnets[0].SubnetId`)
	script := filepath.Join(t.TempDir(), "s.sh")
	os.WriteFile(script, []byte(lab3Script), 0o644)
	id := aws(`run-instances --image-id ami-0c9c942bd7bf113a2 --subnet-id ` + pub + ` --security-group-ids ` + web +
		` --user-data file://` + script + ` --query Instances[0].InstanceId`)
	ip := aws(`describe-instances --instance-ids ` + id + ` --query Reservations[0].Instances[0].PublicIpAddress`)
	reach := func(port string) bool {
		_, err := tp.Exec(t, "client", "nc", "-z", "-w", "2", ip, port)
		return err == nil
	}
	eventually := func(port string) bool {
		for range 30 {
			if reach(port) {
				return true
			}
			time.Sleep(100 * time.Millisecond)
		}
		return false
	}
	if !eventually("80") || reach("22") {
		t.Fatalf("web group: 80 %v, 22 %v", reach("80"), reach("22"))
	}
	aws(`modify-instance-attribute --instance-id ` + id + ` --groups ` + ssh)
	if reach("80") || !reach("22") {
		t.Fatalf("ssh group: 80 %v, 22 %v", reach("80"), reach("22"))
	}
	aws(`modify-instance-attribute --instance-id ` + id + ` --groups ` + web + " " + ssh)
	if !reach("80") || !reach("22") {
		t.Fatalf("web and ssh groups: 80 %v, 22 %v", reach("80"), reach("22"))
	}
	// Six groups: beyond the quota, refused; nothing changes (describe-*,
	// export), and the groups still admit 80 and 22.
	tp.unchanged(t, "six groups", func() {
		_, errOut, code := env.run(t, `exec /usr/bin/aws --endpoint-url "$AWS_ENDPOINT_URL" ec2 modify-instance-attribute --instance-id `+id+
			` --groups `+strings.Repeat(web+" ", 6))
		if code != 254 || !strings.Contains(errOut, "(SecurityGroupsPerInterfaceLimitExceeded)") {
			t.Fatalf("six groups: exit %d %s", code, errOut)
		}
	})
	if !reach("80") || !reach("22") {
		t.Fatalf("after the refused six groups: 80 %v, 22 %v", reach("80"), reach("22"))
	}
}
