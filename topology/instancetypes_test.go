package topology

import (
	"encoding/json"
	"strings"
	"testing"
)

// quotaTopo is a VPC with one instance; %s is spliced into the instance.
const quotaTopo = `{"name": "q", "region": "us-east-1",
  "vpcs": [{"name": "v", "cidr": "10.0.0.0/16",
    "subnets": [{"name": "s", "cidr": "10.0.1.0/24", "az": "us-east-1a"}],
    "network_interfaces": [{"name": "e1", "subnet": "s"}, {"name": "e2", "subnet": "s"},
      {"name": "e3", "subnet": "s", "secondary_private_ips": ["10.0.1.31", "10.0.1.32"]}],
    "instances": [{"name": "i", "subnet": "s"%s}]}]}`

// QUOTA-2: a file's instance is held to its type's limits, with the JSON
// path and the rule; an unknown type is refused; the default is t2.micro.
func TestQUOTA2_FileInstancesHeldToTheirType(t *testing.T) {
	bad := []struct{ name, extra, path string }{
		{"unknown type", `, "instance_type": "t9.mega"`, "vpcs[0].instances[0].instance_type"},
		{"three ENIs on a t2.micro", `, "network_interfaces": ["e1", "e2"]`, "vpcs[0].instances[0].network_interfaces"},
		{"four ENIs on a t3.small", `, "instance_type": "t3.small", "network_interfaces": ["e1", "e2", "e3"]`, "vpcs[0].instances[0].network_interfaces"},
		{"three addresses on a t2.micro", `, "secondary_private_ips": ["10.0.1.40", "10.0.1.41"]`, "vpcs[0].instances[0].secondary_private_ips"},
		{"an ENI of three addresses on a t3.micro", `, "instance_type": "t3.micro", "network_interfaces": ["e3"]`, "vpcs[0].instances[0].network_interfaces[0]"},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			_, err := Load([]byte(strings.Replace(quotaTopo, "%s", c.extra, 1)))
			if err == nil || !strings.Contains(err.Error(), c.path+": ") || !strings.Contains(err.Error(), "(QUOTA-2)") {
				t.Fatalf("want %s … (QUOTA-2), got %v", c.path, err)
			}
		})
	}
	n, err := Load([]byte(strings.Replace(quotaTopo, "%s", `, "instance_type": "t3.small", "network_interfaces": ["e1", "e3"], "secondary_private_ips": ["10.0.1.40", "10.0.1.41", "10.0.1.42"]`, 1)))
	if err != nil {
		t.Fatal(err)
	}
	if i := n.InstanceByName["i"]; i.Type != "t3.small" || len(i.ENIs) != 3 || len(i.Primary().IPs()) != 4 {
		t.Fatalf("t3.small: %+v", i)
	}
	n, err = Load([]byte(strings.Replace(quotaTopo, "%s", "", 1)))
	if err != nil || n.InstanceByName["i"].Type != DefaultInstanceType || n.InstanceByName["i"].Limits() != (TypeLimits{ENIs: 2, IPv4PerENI: 2}) {
		t.Fatalf("default: %v %+v", err, n)
	}
	// A standalone ENI holds at most MaxIPv4PerENI.
	ips := []string{}
	for k := range MaxIPv4PerENI {
		ips = append(ips, "10.0.2."+itoa(10+k))
	}
	b, _ := json.Marshal(ips)
	big := strings.Replace(strings.Replace(quotaTopo, "%s", "", 1), `{"name": "e1", "subnet": "s"}`,
		`{"name": "e1", "subnet": "s2", "secondary_private_ips": `+string(b)+`}`, 1)
	big = strings.Replace(big, `"subnets": [`, `"subnets": [{"name": "s2", "cidr": "10.0.2.0/24", "az": "us-east-1a"}, `, 1)
	if _, err := Load([]byte(big)); err == nil || !strings.Contains(err.Error(), "vpcs[0].network_interfaces[0].secondary_private_ips: ") ||
		!strings.Contains(err.Error(), "(QUOTA-2)") {
		t.Fatalf("51 addresses on an ENI: %v", err)
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// The instance_type, eth0's description and delete_on_termination, and an
// attached ENI's delete_on_termination round-trip through Export; their
// defaults are not written.
func TestQUOTA2_InstanceExtensionsExport(t *testing.T) {
	src := strings.Replace(quotaTopo, "%s", `, "instance_type": "m5.large", "description": "", "delete_on_termination": false, "network_interfaces": ["e1"]`, 1)
	src = strings.Replace(src, `{"name": "e1", "subnet": "s"}`, `{"name": "e1", "subnet": "s", "delete_on_termination": true}`, 1)
	n, err := Load([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	i := n.InstanceByName["i"]
	if i.Type != "m5.large" || i.Primary().Description != "" || i.Primary().DeleteOnTermination || !i.ENIs[1].DeleteOnTermination {
		t.Fatalf("loaded: %+v %+v", i, i.ENIs[1])
	}
	x := Export(n)
	is, es := x.VPCs[0].Instances[0], x.VPCs[0].NetworkInterfaces[0]
	if is.InstanceType != "m5.large" || is.Description == nil || *is.Description != "" || is.DeleteOnTermination == nil || *is.DeleteOnTermination || !es.DeleteOnTermination {
		t.Fatalf("exported: %+v %+v", is, es)
	}
	d := Export(mustLoad(t, strings.Replace(quotaTopo, "%s", "", 1))).VPCs[0]
	if is := d.Instances[0]; is.InstanceType != "" || is.Description != nil || is.DeleteOnTermination != nil || d.NetworkInterfaces[0].DeleteOnTermination {
		t.Fatalf("defaults written: %+v", is)
	}
}
