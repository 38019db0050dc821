package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// The vpcnet side: a topology written to a temporary file, brought up with
// `vpcnet up FILE` and always taken down with `vpcnet down NAME`.
//
//	VPC 10.77.0.0/16
//	  subnet a 10.77.1.0/24  c1 10.77.1.10, NAT gateway (EIP from 198.18.0.0/16)   0.0.0.0/0 → IGW
//	  subnet b 10.77.2.0/24  s1 10.77.2.10                                          local only
//	  subnet p 10.77.3.0/24  n1 10.77.3.10                                          0.0.0.0/0 → NAT gateway
//	internet host inet 198.18.200.10
//
// Plain path: c1 → s1 across two subnets, through security groups (a rule
// per protocol and a group reference), a custom NACL on each subnet with a
// deny rule ahead of the allows, and the route table. NAT path:
// n1 → NAT gateway → IGW → inet.

// benchTopology is the topology name of the measured network: namespaces
// vbench-c1, vbench-s1, vbench-n1, vbench-inet.
const benchTopology = "vbench"

// Ports the servers listen on in every server namespace.
const (
	iperfPort = 5201
	// acceptPorts are the ports of the connection-rate server; the client
	// spreads over them so that no single NAT destination runs out of ports
	// (NAT-3 limits connections per destination).
	acceptPorts = "6000-6015"
)

// j is shorthand for the JSON objects of the topology.
type j = map[string]any

func benchTopologyJSON() ([]byte, error) {
	const region, az = "ap-northeast-2", "ap-northeast-2a"
	allow := func(rule int, proto, ports, cidr string) j {
		r := j{"rule": rule, "protocol": proto, "cidr": cidr, "action": "allow"}
		if ports != "" {
			r["ports"] = ports
		}
		return r
	}
	// A deny rule ahead of the allows, so that NACL evaluation is not a
	// single first-rule match.
	denyTelnet := j{"rule": 50, "protocol": "tcp", "ports": "23", "cidr": "0.0.0.0/0", "action": "deny"}
	topo := j{
		"name":   benchTopology,
		"region": region,
		// /metrics on a free loopback port, scraped by the observe part
		// (observe.go); not scraped, it costs nothing.
		"settings": j{"metrics": benchMetricsAddr()},
		"address_pools": []j{
			{"name": "bench", "cidrs": []string{"198.18.0.0/16"}, "network_border_group": region},
		},
		"elastic_ips": []j{{"name": "eip-nat", "pool": "bench"}},
		"internet":    j{"hosts": []j{{"name": "inet", "ip": "198.18.200.10"}}},
		"vpcs": []j{{
			"name":             "bench-vpc",
			"cidr":             "10.77.0.0/16",
			"internet_gateway": "igw-bench",
			"subnets": []j{
				{"name": "a", "cidr": "10.77.1.0/24", "az": az, "route_table": "rt-public", "network_acl": "acl-a"},
				{"name": "b", "cidr": "10.77.2.0/24", "az": az, "network_acl": "acl-b"},
				{"name": "p", "cidr": "10.77.3.0/24", "az": az, "route_table": "rt-private", "network_acl": "acl-p"},
			},
			"route_tables": []j{
				{"name": "rt-public", "routes": []j{{"destination": "0.0.0.0/0", "target": "igw-bench"}}},
				{"name": "rt-private", "routes": []j{{"destination": "0.0.0.0/0", "target": "nat-bench"}}},
			},
			"nat_gateways": []j{{"name": "nat-bench", "subnet": "a", "elastic_ip": "eip-nat"}},
			"security_groups": []j{
				{"name": "sg-client",
					"ingress": []j{{"protocol": "icmp", "source": "10.77.0.0/16"}}},
				{"name": "sg-server",
					"ingress": []j{
						{"protocol": "tcp", "ports": fmt.Sprint(iperfPort), "source": "10.77.1.0/24"},
						{"protocol": "udp", "ports": fmt.Sprint(iperfPort), "source": "10.77.1.0/24"},
						{"protocol": "icmp", "source": "10.77.0.0/16"},
						{"protocol": "tcp", "ports": fmt.Sprint(iperfPort), "source": "sg-client"},
					}},
			},
			"network_acls": []j{
				{"name": "acl-a", // c1 and the NAT gateway: n1's traffic passes it both ways
					"ingress": []j{denyTelnet,
						allow(100, "tcp", "1024-65535", "0.0.0.0/0"),
						allow(110, "udp", "1024-65535", "0.0.0.0/0"),
						allow(120, "icmp", "", "0.0.0.0/0")},
					"egress": []j{denyTelnet,
						allow(100, "tcp", "1024-65535", "0.0.0.0/0"),
						allow(110, "udp", "1024-65535", "0.0.0.0/0"),
						allow(120, "icmp", "", "0.0.0.0/0")}},
				{"name": "acl-b", // s1: the iperf3 server
					"ingress": []j{denyTelnet,
						allow(100, "tcp", fmt.Sprint(iperfPort), "10.77.1.0/24"),
						allow(110, "udp", fmt.Sprint(iperfPort), "10.77.1.0/24"),
						allow(120, "icmp", "", "10.77.0.0/16")},
					"egress": []j{denyTelnet,
						allow(100, "tcp", "1024-65535", "10.77.1.0/24"),
						allow(110, "udp", "1024-65535", "10.77.1.0/24"),
						allow(120, "icmp", "", "10.77.0.0/16")}},
				{"name": "acl-p", // n1: clients of the internet host
					"ingress": []j{denyTelnet,
						allow(100, "tcp", "1024-65535", "0.0.0.0/0"),
						allow(120, "icmp", "", "0.0.0.0/0")},
					"egress": []j{denyTelnet,
						allow(100, "tcp", fmt.Sprint(iperfPort), "0.0.0.0/0"),
						allow(110, "tcp", acceptPorts, "0.0.0.0/0"),
						allow(120, "icmp", "", "0.0.0.0/0")}},
			},
			"instances": []j{
				{"name": "c1", "subnet": "a", "private_ip": "10.77.1.10", "security_groups": []string{"sg-client"}},
				{"name": "s1", "subnet": "b", "private_ip": "10.77.2.10", "security_groups": []string{"sg-server"}},
				{"name": "n1", "subnet": "p", "private_ip": "10.77.3.10", "security_groups": []string{"sg-client"}},
			},
		}},
	}
	return json.MarshalIndent(topo, "", "  ")
}

// benchPaths are the vpcnet paths: the same roles as the kernel anchors.
func benchPaths() (plain, nat path) {
	ns := func(x string) string { return benchTopology + "-" + x }
	plain = path{side: sideVpcnet, client: ns("c1"), server: ns("s1"), addr: "10.77.2.10",
		counterNS: []string{ns("c1"), ns("s1")}}
	nat = path{side: sideVpcnet, client: ns("n1"), server: ns("inet"), addr: "198.18.200.10",
		counterNS: []string{ns("n1"), ns("inet")}}
	return plain, nat
}

// scaleTopologyJSON is a topology of n instances in two subnets, for the
// bring-up time.
func scaleTopologyJSON(name string, n int) ([]byte, error) {
	const region, az = "ap-northeast-2", "ap-northeast-2a"
	var insts []j
	for i := 1; i <= n; i++ {
		insts = append(insts, j{"name": fmt.Sprintf("i%02d", i), "subnet": fmt.Sprintf("s%d", 1+i%2),
			"security_groups": []string{"sg-icmp"}})
	}
	topo := j{
		"name":   name,
		"region": region,
		"vpcs": []j{{
			"name": "scale-vpc",
			"cidr": "10.78.0.0/16",
			"subnets": []j{
				{"name": "s1", "cidr": "10.78.1.0/24", "az": az},
				{"name": "s2", "cidr": "10.78.2.0/24", "az": az},
			},
			"security_groups": []j{
				{"name": "sg-icmp", "ingress": []j{{"protocol": "icmp", "source": "10.78.0.0/16"}}},
			},
			"instances": insts,
		}},
	}
	return json.MarshalIndent(topo, "", "  ")
}

// vpcnetTimeout bounds one `vpcnet up` or `vpcnet down`.
const vpcnetTimeout = 2 * time.Minute

// vpcnet runs the vpcnet binary.
type vpcnet struct {
	bin string // path of bin/vpcnet
	dir string // temporary directory for topology files
}

// isUp reports whether a topology has state on this machine (README: state
// lives under /run/vpcnet/<name>/).
func isUp(name string) bool {
	_, err := os.Stat(filepath.Join("/run/vpcnet", name, "state.json"))
	return err == nil
}

// writeTopology writes data to <dir>/<name>.json and returns the path.
func (v *vpcnet) writeTopology(name string, data []byte) (string, error) {
	f := filepath.Join(v.dir, name+".json")
	return f, os.WriteFile(f, data, 0o644)
}

// up brings a topology up and returns how long `vpcnet up` took. file == ""
// brings up the embedded default network. The caller pushes the down step
// before calling up, so that a half-finished up is undone as well.
func (v *vpcnet) up(ctx context.Context, file string) (time.Duration, error) {
	args := []string{"up"}
	if file != "" {
		args = append(args, file)
	}
	ctx, cancel := context.WithTimeout(ctx, vpcnetTimeout)
	defer cancel()
	start := time.Now()
	_, err := run(ctx, "", v.bin, args...)
	return time.Since(start), err
}

// down takes a topology down and returns how long it took.
func (v *vpcnet) down(ctx context.Context, name string) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, vpcnetTimeout)
	defer cancel()
	start := time.Now()
	_, err := run(ctx, "", v.bin, "down", name)
	return time.Since(start), err
}

// stats returns `vpcnet stats --topology NAME` as printed, for the log.
func (v *vpcnet) stats(ctx context.Context, name string) string {
	out, err := run(ctx, "", v.bin, "stats", "--topology", name)
	if err != nil {
		return "vpcnet stats: " + err.Error()
	}
	return out
}

// checkBinary fails with advice when bin/vpcnet is missing.
func (v *vpcnet) checkBinary() error {
	if _, err := os.Stat(v.bin); errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%s not found: build it first (`make build`, or run the whole thing with `sudo make bench`)", v.bin)
	}
	return nil
}
