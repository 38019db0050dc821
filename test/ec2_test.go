package test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

// End-to-end tests of the live EC2 operations (EIP-1..4, ENI-1..7, RT-1..4,
// INST-1..3): every operation is run through the CLI against a running
// network, and its effect is checked with real traffic.

// --- helpers -------------------------------------------------------------------

// ec2 runs an EC2-style operation on tp's topology.
func (tp *Topo) ec2(t *testing.T, op string, args ...string) (string, int) {
	t.Helper()
	return vpcnet(t, append([]string{op, "--topology", tp.Name}, args...)...)
}

// ec2OK runs an operation that must succeed and decodes its JSON into v
// (when v is not nil).
func (tp *Topo) ec2OK(t *testing.T, v any, op string, args ...string) string {
	t.Helper()
	out, code := tp.ec2(t, op, args...)
	if code != 0 {
		t.Fatalf("%s %v: exit %d:\n%s", op, args, code, out)
	}
	if v != nil {
		if err := json.Unmarshal([]byte(out), v); err != nil {
			t.Fatalf("%s %v: %v:\n%s", op, args, err, out)
		}
	}
	return out
}

// ec2Refused runs an operation that the service must refuse: AWS's error
// shape, the AWS CLI's exit 254 and an error code containing code ("" =
// any code).
func (tp *Topo) ec2Refused(t *testing.T, code, op string, args ...string) string {
	t.Helper()
	return tp.ec2RefusedExit(t, 254, code, op, args...)
}

// ec2RefusedExit is ec2Refused with the exit code: 254 for an error the
// service answers, 252 for a command line the CLI refuses before sending
// it (a flag's value that does not parse, a required flag missing).
func (tp *Topo) ec2RefusedExit(t *testing.T, want int, code, op string, args ...string) string {
	t.Helper()
	out, exit := tp.ec2(t, op, args...)
	if exit != want || !strings.Contains(out, "An error occurred (") || !strings.Contains(out, "when calling the ") {
		t.Errorf("%s %v: want an AWS-shaped error and exit %d, got exit %d:\n%s", op, args, want, exit, out)
		return out
	}
	if code != "" && !strings.Contains(out, "An error occurred ("+code) {
		t.Errorf("%s %v: want error code %s, got:\n%s", op, args, code, out)
	}
	return out
}

type tagDesc struct{ Key, Value string }

type addrDesc struct {
	PublicIp, AllocationId, AssociationId, InstanceId, NetworkInterfaceId, PrivateIpAddress string
	Tags                                                                                    []tagDesc
}

type eniDesc struct {
	NetworkInterfaceId, InterfaceType, MacAddress, Status, SubnetId, VpcId, AvailabilityZone, Description string
	RequesterManaged, SourceDestCheck                                                                     bool
	Groups                                                                                                []struct{ GroupId, GroupName string }
	PrivateIpAddresses                                                                                    []struct {
		PrivateIpAddress string
		Primary          bool
		Association      *struct{ PublicIp string }
	}
	Attachment *struct {
		InstanceId, AttachmentId string
		DeviceIndex              int
	}
	TagSet []tagDesc
}

type instDesc struct {
	InstanceId                                  string
	State                                       struct{ Name string }
	Placement                                   struct{ AvailabilityZone string }
	PrivateIpAddress, PublicIpAddress, SubnetId string
	SourceDestCheck                             bool
	NetworkInterfaces                           []eniDesc
	Tags                                        []tagDesc
}

func nameTag(tags []tagDesc) string {
	for _, t := range tags {
		if t.Key == "Name" {
			return t.Value
		}
	}
	return ""
}

func (tp *Topo) addresses(t *testing.T) []addrDesc {
	t.Helper()
	var r struct{ Addresses []addrDesc }
	tp.ec2OK(t, &r, "describe-addresses")
	return r.Addresses
}

// address returns the EIP with this public IP or allocation id, or nil.
func (tp *Topo) address(t *testing.T, ref string) *addrDesc {
	t.Helper()
	for _, a := range tp.addresses(t) {
		if a.PublicIp == ref || a.AllocationId == ref {
			return &a
		}
	}
	return nil
}

func (tp *Topo) enis(t *testing.T) []eniDesc {
	t.Helper()
	var r struct{ NetworkInterfaces []eniDesc }
	tp.ec2OK(t, &r, "describe-network-interfaces")
	return r.NetworkInterfaces
}

// eni returns the ENI with this id or Name tag, or nil.
func (tp *Topo) eni(t *testing.T, ref string) *eniDesc {
	t.Helper()
	for _, e := range tp.enis(t) {
		if e.NetworkInterfaceId == ref || nameTag(e.TagSet) == ref {
			return &e
		}
	}
	return nil
}

// instance returns the instance with this id or Name tag, or nil.
func (tp *Topo) instance(t *testing.T, ref string) *instDesc {
	t.Helper()
	var r struct {
		Reservations []struct{ Instances []instDesc }
	}
	tp.ec2OK(t, &r, "describe-instances")
	for _, res := range r.Reservations {
		for _, i := range res.Instances {
			if i.InstanceId == ref || nameTag(i.Tags) == ref {
				return &i
			}
		}
	}
	return nil
}

// seenAs curls the internet host once from inside name (1 s budget) and
// returns the client IP the host saw.
func (tp *Topo) seenAs(t *testing.T, name, url string) (string, error) {
	t.Helper()
	out, err := tp.Exec(t, name, "curl", "-sS", "--max-time", "1", url)
	if err != nil {
		return "", fmt.Errorf("curl %s from %s: %v: %s", url, name, err, out)
	}
	var w Whoami
	if err := json.Unmarshal([]byte(out), &w); err != nil {
		return "", fmt.Errorf("curl %s: %v: %q", url, err, out)
	}
	return clientIP(w), nil
}

// seenAsWithin retries seenAs until the host sees want or d has passed
// since start; it returns what was seen last and when.
func (tp *Topo) seenAsWithin(t *testing.T, name, url, want string, start time.Time, d time.Duration) (string, time.Duration) {
	t.Helper()
	var got string
	for {
		got, _ = tp.seenAs(t, name, url)
		if got == want || time.Since(start) > d {
			return got, time.Since(start)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// accountDescribes are the describe-* of everything an operation can
// make, change or delete in an account.
var accountDescribes = []string{"describe-vpcs", "describe-subnets", "describe-route-tables",
	"describe-security-groups", "describe-security-group-rules", "describe-network-acls",
	"describe-internet-gateways", "describe-nat-gateways", "describe-network-interfaces",
	"describe-instances", "describe-addresses", "describe-vpc-peering-connections",
	"describe-flow-logs", "describe-dhcp-options", "describe-tags", "describe-key-pairs",
	"describe-network-insights-paths", "describe-network-insights-analyses"}

// describeAll snapshots what a refused operation must leave as it was
// (issue 12, bad input): every describe-* answer, the export (the
// topo.json that would bring the network up again) and the topology's
// namespaces. Nothing is normalised: between two calls with nothing done
// in between, every answer is the same to the byte.
func (tp *Topo) describeAll(t *testing.T) map[string]string {
	t.Helper()
	snap := map[string]string{}
	for _, op := range accountDescribes {
		snap[op] = tp.ec2OK(t, nil, op)
	}
	snap["export"] = exportOf(t, tp)
	ns := namespacesWithPrefix(tp.Name + "-")
	sort.Strings(ns)
	snap["namespaces"] = strings.Join(ns, " ")
	return snap
}

// unchanged runs act, a refusal through any client (vpcnet's CLI, the AWS
// CLI), and demands that describeAll be the same before and after.
func (tp *Topo) unchanged(t *testing.T, what string, act func()) {
	t.Helper()
	before := tp.describeAll(t)
	act()
	diffSnapshots(t, what, before, tp.describeAll(t))
}

// refused runs an operation that must be refused with EC2's code (as
// ec2Refused) and change nothing (as unchanged); it returns the output.
func (tp *Topo) refused(t *testing.T, code, op string, args ...string) string {
	t.Helper()
	var out string
	tp.unchanged(t, fmt.Sprintf("%s %v, refused with %s,", op, args, code), func() { out = tp.ec2Refused(t, code, op, args...) })
	return out
}

func diffSnapshots(t *testing.T, what string, before, after map[string]string) {
	t.Helper()
	keys := make([]string, 0, len(before))
	for k := range before {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if before[k] != after[k] {
			t.Errorf("%s changed %s:\nbefore: %s\nafter:  %s", what, k, before[k], after[k])
		}
	}
}

const inetURL = "http://203.0.113.80/"

// --- 1. Elastic IPs ------------------------------------------------------------

// TestLab_EIPLifecycle: allocate from a pool, associate, the internet sees
// the EIP; release refused while associated (EIP-3); disassociate, release;
// re-association moves the EIP at once (EIP-2), and is refused without
// --allow-reassociation.
func TestLab_EIPLifecycle(t *testing.T) {
	tp := Up(t, edge)
	if _, err := tp.Curl(t, "inet", "http://3.34.10.10/"); err != nil { // inet's server is up
		t.Fatal(err)
	}
	// nopub (pub2, no public IP) cannot leave yet (IGW-2).
	if ip, err := tp.seenAs(t, "nopub", inetURL); err == nil {
		t.Fatalf("nopub reached the internet before any EIP, seen as %s", ip)
	}

	var alloc struct{ PublicIp, AllocationId, PublicIpv4Pool string }
	tp.ec2OK(t, &alloc, "allocate-address", "--public-ipv4-pool", "amz")
	if !strings.HasPrefix(alloc.PublicIp, "3.34.") || !strings.HasPrefix(alloc.AllocationId, "eipalloc-") {
		t.Fatalf("allocate-address: %+v, want an address of 3.34.0.0/16 and an eipalloc- id", alloc)
	}
	if a := tp.address(t, alloc.AllocationId); a == nil || a.PublicIp != alloc.PublicIp || a.AssociationId != "" {
		t.Fatalf("describe-addresses after allocate: %+v", a)
	}

	var assoc struct{ AssociationId string }
	tp.ec2OK(t, &assoc, "associate-address", "--allocation-id", alloc.AllocationId, "--instance-id", "nopub")
	if !strings.HasPrefix(assoc.AssociationId, "eipassoc-") {
		t.Fatalf("associate-address: AssociationId %q", assoc.AssociationId)
	}
	nopub := tp.instance(t, "nopub")
	if a := tp.address(t, alloc.AllocationId); a == nil || a.AssociationId != assoc.AssociationId ||
		a.InstanceId != nopub.InstanceId || a.PrivateIpAddress != "10.5.2.10" || a.NetworkInterfaceId != nopub.NetworkInterfaces[0].NetworkInterfaceId {
		t.Fatalf("describe-addresses after associate: %+v (instance %+v)", a, nopub)
	}
	if nopub.PublicIpAddress != alloc.PublicIp {
		t.Errorf("describe-instances: nopub PublicIpAddress %q, want %s", nopub.PublicIpAddress, alloc.PublicIp)
	}
	if got, _ := tp.seenAsWithin(t, "nopub", inetURL, alloc.PublicIp, time.Now(), time.Second); got != alloc.PublicIp {
		t.Fatalf("the internet host saw nopub as %q, want its EIP %s", got, alloc.PublicIp)
	}
	// IGW-1 inbound on the new EIP.
	if !tp.PingEventually(t, "inet", alloc.PublicIp) {
		t.Fatalf("inet cannot ping nopub's EIP %s", alloc.PublicIp)
	}

	// EIP-3: release refused while associated, nothing changed.
	before := tp.describeAll(t)
	tp.ec2Refused(t, "InvalidIPAddress.InUse", "release-address", "--allocation-id", alloc.AllocationId)
	diffSnapshots(t, "refused release", before, tp.describeAll(t))
	if got, err := tp.seenAs(t, "nopub", inetURL); got != alloc.PublicIp {
		t.Fatalf("after the refused release nopub is seen as %q (%v)", got, err)
	}

	tp.ec2OK(t, nil, "disassociate-address", "--association-id", assoc.AssociationId)
	if a := tp.address(t, alloc.AllocationId); a == nil || a.AssociationId != "" || a.InstanceId != "" {
		t.Fatalf("describe-addresses after disassociate: %+v", a)
	}
	if ip, err := tp.seenAs(t, "nopub", inetURL); err == nil {
		t.Fatalf("nopub still reached the internet after disassociate, seen as %s", ip)
	}
	if tp.Ping(t, "inet", alloc.PublicIp) {
		t.Fatal("the disassociated EIP still answers from the internet")
	}
	tp.ec2OK(t, nil, "release-address", "--allocation-id", alloc.AllocationId)
	if a := tp.address(t, alloc.AllocationId); a != nil {
		t.Fatalf("describe-addresses still lists the released EIP: %+v", a)
	}
	if a := tp.address(t, alloc.PublicIp); a != nil {
		t.Fatalf("describe-addresses still lists the released address: %+v", a)
	}
	tp.ec2Refused(t, "InvalidAllocationID.NotFound", "release-address", "--allocation-id", alloc.AllocationId)

	// EIP-2: moving an EIP.
	var mv struct{ PublicIp, AllocationId string }
	tp.ec2OK(t, &mv, "allocate-address", "--public-ipv4-pool", "amz")
	tp.ec2OK(t, nil, "associate-address", "--allocation-id", mv.AllocationId, "--instance-id", "nopub")
	if got, _ := tp.seenAsWithin(t, "nopub", inetURL, mv.PublicIp, time.Now(), time.Second); got != mv.PublicIp {
		t.Fatalf("nopub seen as %q, want %s", got, mv.PublicIp)
	}
	autoPub := tp.publicIP(t, "auto")
	if got, err := tp.seenAs(t, "auto", inetURL); got != autoPub || autoPub == "" {
		t.Fatalf("auto seen as %q (%v), want its dynamic public IP %q", got, err, autoPub)
	}
	// Without --allow-reassociation: refused, nothing changed.
	before = tp.describeAll(t)
	tp.ec2Refused(t, "Resource.AlreadyAssociated", "associate-address", "--allocation-id", mv.AllocationId, "--instance-id", "auto")
	diffSnapshots(t, "refused associate", before, tp.describeAll(t))
	if got, _ := tp.seenAs(t, "nopub", inetURL); got != mv.PublicIp {
		t.Fatalf("after the refused associate nopub is seen as %q, want %s", got, mv.PublicIp)
	}
	// With it: the EIP moves to auto within a second; nopub loses it.
	var re struct{ AssociationId string }
	tp.ec2OK(t, &re, "associate-address", "--allocation-id", mv.AllocationId, "--instance-id", "auto", "--allow-reassociation")
	start := time.Now()
	got, took := tp.seenAsWithin(t, "auto", inetURL, mv.PublicIp, start, time.Second)
	if got != mv.PublicIp {
		t.Fatalf("after re-association auto is seen as %q (after %v), want the EIP %s", got, took, mv.PublicIp)
	}
	t.Logf("re-association visible to the internet host after %v", took)
	if ip, err := tp.seenAs(t, "nopub", inetURL); err == nil {
		t.Fatalf("nopub still reaches the internet (as %s) after its EIP moved", ip)
	}
	if a := tp.address(t, mv.AllocationId); a == nil || a.InstanceId != tp.instance(t, "auto").InstanceId || a.AssociationId != re.AssociationId {
		t.Fatalf("describe-addresses after re-association: %+v", a)
	}
	if p := tp.instance(t, "auto").PublicIpAddress; p != mv.PublicIp {
		t.Fatalf("EIP-2: auto's PublicIpAddress is %q, want the EIP %s (it replaces the dynamic IP)", p, mv.PublicIp)
	}
	// Disassociating gives auto a dynamic public IP back (ADDR-4).
	tp.ec2OK(t, nil, "disassociate-address", "--association-id", re.AssociationId)
	if got, err := tp.seenAs(t, "auto", inetURL); err != nil || got == mv.PublicIp || !strings.HasPrefix(got, "3.34.") {
		t.Fatalf("after disassociate auto is seen as %q (%v), want a dynamic public IP from the pool", got, err)
	}
}

// --- 2. Network interfaces -----------------------------------------------------

// twoAZ: subnets a and a2 in us-east-1a, b in us-east-1b.
const twoAZ = `{
  "name": "NAME", "region": "us-east-1",
  "vpcs": [{
    "name": "v", "cidr": "10.7.0.0/16",
    "subnets": [
      {"name": "a", "cidr": "10.7.1.0/24", "az": "us-east-1a"},
      {"name": "a2", "cidr": "10.7.2.0/24", "az": "us-east-1a"},
      {"name": "b", "cidr": "10.7.3.0/24", "az": "us-east-1b"}
    ],
    "security_groups": [{"name": "open", "ingress": [{"protocol": "all", "source": "0.0.0.0/0"}]}],
    "instances": [
      {"name": "i1", "subnet": "a", "private_ip": "10.7.1.10", "security_groups": ["open"]},
      {"name": "i2", "subnet": "a2", "private_ip": "10.7.2.10", "security_groups": ["open"]},
      {"name": "i3", "subnet": "b", "private_ip": "10.7.3.10", "security_groups": ["open"]}
    ]
  }]
}`

// waitLink polls for up to a second until dev in name's namespace is
// present (or absent) with want in `ip -o addr`/`ip -o link` output.
func (tp *Topo) waitLink(t *testing.T, name, dev string, present bool, want ...string) (string, bool) {
	t.Helper()
	deadline := time.Now().Add(time.Second)
	var out string
	for {
		a, errA := tp.Exec(t, name, "ip", "-o", "addr", "show", "dev", dev)
		l, _ := tp.Exec(t, name, "ip", "-o", "link", "show", "dev", dev)
		out = a + l
		ok := errA == nil
		for _, w := range want {
			ok = ok && strings.Contains(out, w)
		}
		if ok == present || time.Now().After(deadline) {
			return out, ok == present
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestLab_ENICreateAttach: create an ENI, attach it as eth1 (the device
// appears with its IP and MAC, traffic reaches it), detach, delete; the
// refusals of ENI-6 and of deleting an attached ENI.
func TestLab_ENICreateAttach(t *testing.T) {
	tp := Up(t, twoAZ)
	if !tp.PingEventually(t, "i2", "10.7.1.10") {
		t.Fatal("baseline ping i2 → i1 failed")
	}
	var cr struct{ NetworkInterface eniDesc }
	tp.ec2OK(t, &cr, "create-network-interface", "--subnet-id", "a", "--private-ip-address", "10.7.1.50",
		"--groups", "open", "--description", "extra", "--name", "x1")
	e := cr.NetworkInterface
	if !strings.HasPrefix(e.NetworkInterfaceId, "eni-") || len(e.NetworkInterfaceId) != 4+17 || e.MacAddress == "" ||
		e.Status != "available" || e.Attachment != nil || e.AvailabilityZone != "us-east-1a" || e.Description != "extra" ||
		len(e.Groups) != 1 || e.Groups[0].GroupName != "open" || len(e.PrivateIpAddresses) != 1 ||
		e.PrivateIpAddresses[0].PrivateIpAddress != "10.7.1.50" || !e.SourceDestCheck || e.RequesterManaged || e.InterfaceType != "interface" {
		t.Fatalf("create-network-interface: %+v", e)
	}
	if d := tp.eni(t, "x1"); d == nil || d.NetworkInterfaceId != e.NetworkInterfaceId {
		t.Fatalf("describe-network-interfaces does not list x1: %+v", d)
	}
	if tp.Ping(t, "i2", "10.7.1.50") {
		t.Fatal("an unattached ENI's address answered")
	}

	var at struct{ AttachmentId string }
	tp.ec2OK(t, &at, "attach-network-interface", "--network-interface-id", e.NetworkInterfaceId, "--instance-id", "i1", "--device-index", "1")
	if !strings.HasPrefix(at.AttachmentId, "eni-attach-") {
		t.Errorf("attach: AttachmentId %q", at.AttachmentId)
	}
	if out, ok := tp.waitLink(t, "i1", "eth1", true, "10.7.1.50/24", strings.ToLower(e.MacAddress)); !ok {
		t.Fatalf("eth1 in i1 within a second: want 10.7.1.50/24 and MAC %s, got:\n%s", e.MacAddress, out)
	}
	if d := tp.eni(t, "x1"); d == nil || d.Attachment == nil || d.Attachment.DeviceIndex != 1 ||
		d.Attachment.InstanceId != tp.instance(t, "i1").InstanceId || d.Attachment.AttachmentId != at.AttachmentId || d.Status != "in-use" {
		t.Fatalf("describe after attach: %+v", d)
	}
	if n := len(tp.instance(t, "i1").NetworkInterfaces); n != 2 {
		t.Errorf("describe-instances: i1 has %d interfaces, want 2", n)
	}
	// Traffic to the new address, from another subnet and from the same one.
	if !tp.PingEventually(t, "i2", "10.7.1.50") {
		t.Fatalf("ping i2 → 10.7.1.50 (i1's eth1) failed: %+v", tp.Stats(t).Endpoints)
	}
	if !tp.PingEventually(t, "i1", "10.7.2.10") || !tp.Ping(t, "i2", "10.7.1.10") {
		t.Fatal("i1's eth0 traffic broke after the attach")
	}

	// Deleting an attached ENI is refused; nothing changes.
	before := tp.describeAll(t)
	tp.ec2Refused(t, "InvalidNetworkInterface.InUse", "delete-network-interface", "--network-interface-id", "x1")
	// Attaching it a second time, or at a used index, is refused.
	tp.ec2Refused(t, "", "attach-network-interface", "--network-interface-id", "x1", "--instance-id", "i2", "--device-index", "1")
	// ENI-6: eth0 cannot be detached (by ENI name, id and attachment id).
	eth0 := tp.instance(t, "i1").NetworkInterfaces[0]
	if eth0.Attachment == nil || eth0.Attachment.DeviceIndex != 0 {
		t.Fatalf("i1's first interface is not device 0: %+v", eth0)
	}
	tp.ec2Refused(t, "", "detach-network-interface", "--network-interface-id", eth0.NetworkInterfaceId)
	tp.ec2Refused(t, "", "detach-network-interface", "--attachment-id", eth0.Attachment.AttachmentId)
	tp.ec2Refused(t, "", "delete-network-interface", "--network-interface-id", eth0.NetworkInterfaceId)
	diffSnapshots(t, "refused ENI operations", before, tp.describeAll(t))
	if !tp.Ping(t, "i2", "10.7.1.50") || !tp.Ping(t, "i2", "10.7.1.10") {
		t.Fatal("a refused operation broke i1's traffic")
	}

	// Detach: eth1 goes, its address stops answering.
	tp.ec2OK(t, nil, "detach-network-interface", "--attachment-id", at.AttachmentId)
	if out, ok := tp.waitLink(t, "i1", "eth1", false); !ok {
		t.Fatalf("eth1 still in i1 a second after detach:\n%s", out)
	}
	if d := tp.eni(t, "x1"); d == nil || d.Attachment != nil || d.Status != "available" {
		t.Fatalf("describe after detach: %+v", d)
	}
	if tp.Ping(t, "i2", "10.7.1.50") {
		t.Fatal("the detached ENI's address still answers")
	}
	if !tp.Ping(t, "i2", "10.7.1.10") {
		t.Fatal("i1's eth0 broke after the detach")
	}
	// Re-attach by name works (resource names accepted), then detach by ENI id.
	tp.ec2OK(t, nil, "attach-network-interface", "--network-interface-id", "x1", "--instance-id", "i1", "--device-index", "2")
	if out, ok := tp.waitLink(t, "i1", "eth2", true, "10.7.1.50/24"); !ok {
		t.Fatalf("eth2 after re-attach:\n%s", out)
	}
	if !tp.PingEventually(t, "i2", "10.7.1.50") {
		t.Fatal("ping to the re-attached ENI failed")
	}
	tp.ec2OK(t, nil, "detach-network-interface", "--network-interface-id", e.NetworkInterfaceId)
	if out, ok := tp.waitLink(t, "i1", "eth2", false); !ok {
		t.Fatalf("eth2 still in i1 after detach:\n%s", out)
	}

	tp.ec2OK(t, nil, "delete-network-interface", "--network-interface-id", "x1")
	if d := tp.eni(t, e.NetworkInterfaceId); d != nil {
		t.Fatalf("describe still lists the deleted ENI: %+v", d)
	}
	tp.ec2Refused(t, "InvalidNetworkInterfaceID.NotFound", "delete-network-interface", "--network-interface-id", e.NetworkInterfaceId)
	// Its address is free again.
	var again struct{ NetworkInterface eniDesc }
	tp.ec2OK(t, &again, "create-network-interface", "--subnet-id", "a", "--private-ip-address", "10.7.1.50")
	if again.NetworkInterface.PrivateIpAddresses[0].PrivateIpAddress != "10.7.1.50" || len(again.NetworkInterface.Groups) != 1 ||
		again.NetworkInterface.Groups[0].GroupName != "default" {
		t.Fatalf("ENI without --groups (ENI-2: default group) at the freed address: %+v", again.NetworkInterface)
	}

	// ENI-6: an ENI in another AZ cannot attach; it stays unattached.
	var far struct{ NetworkInterface eniDesc }
	tp.ec2OK(t, &far, "create-network-interface", "--subnet-id", "b", "--groups", "open", "--name", "far")
	before = tp.describeAll(t)
	out := tp.ec2Refused(t, "", "attach-network-interface", "--network-interface-id", "far", "--instance-id", "i1", "--device-index", "1")
	if !strings.Contains(out, "availability zone") && !strings.Contains(out, "ENI-6") {
		t.Errorf("the AZ refusal does not say why: %s", out)
	}
	diffSnapshots(t, "refused cross-AZ attach", before, tp.describeAll(t))
	if d := tp.eni(t, "far"); d == nil || d.Attachment != nil || d.AvailabilityZone != "us-east-1b" {
		t.Fatalf("the refused ENI: %+v", d)
	}
	if _, err := tp.Exec(t, "i1", "ip", "link", "show", "eth1"); err == nil {
		t.Fatal("a refused attach left eth1 in i1")
	}
	// In its own AZ it attaches.
	tp.ec2OK(t, nil, "attach-network-interface", "--network-interface-id", "far", "--instance-id", "i3", "--device-index", "1")
	ip := tp.eni(t, "far").PrivateIpAddresses[0].PrivateIpAddress
	if out, ok := tp.waitLink(t, "i3", "eth1", true, ip+"/24"); !ok {
		t.Fatalf("eth1 in i3:\n%s", out)
	}
	if !tp.PingEventually(t, "i1", ip) {
		t.Fatalf("ping i1 → %s (i3's eth1) failed", ip)
	}
}

// twoVPC: VPCs va and vb, each with one subnet in the same AZ (us-east-1a),
// so that only the VPC tells an ENI of vb from one of va.
const twoVPC = `{
  "name": "NAME", "region": "us-east-1",
  "vpcs": [{
    "name": "va", "cidr": "10.7.0.0/16",
    "subnets": [{"name": "sa", "cidr": "10.7.1.0/24", "az": "us-east-1a"}],
    "security_groups": [{"name": "open-a", "ingress": [{"protocol": "all", "source": "0.0.0.0/0"}]}],
    "instances": [{"name": "ia", "subnet": "sa", "private_ip": "10.7.1.10", "security_groups": ["open-a"]}]
  }, {
    "name": "vb", "cidr": "10.8.0.0/16",
    "subnets": [{"name": "sb", "cidr": "10.8.1.0/24", "az": "us-east-1a"}],
    "security_groups": [{"name": "open-b", "ingress": [{"protocol": "all", "source": "0.0.0.0/0"}]}],
    "instances": [
      {"name": "ib", "subnet": "sb", "private_ip": "10.8.1.10", "security_groups": ["open-b"]},
      {"name": "ib2", "subnet": "sb", "private_ip": "10.8.1.11", "security_groups": ["open-b"]}
    ]
  }]
}`

// TestLab_ENI6_AttachOtherVPCRefused: an ENI created in a subnet of VPC vb
// cannot be attached to an instance of VPC va, although both are in the
// same AZ (ENI-6): the refusal has the AWS CLI's shape, code
// InvalidParameterCombination and exit 254, and changes nothing, neither the
// describe-* outputs nor the instance's devices nor the traffic. The same
// ENI then attaches to an instance of its own VPC and carries traffic, so
// the VPC was the only reason.
func TestLab_ENI6_AttachOtherVPCRefused(t *testing.T) {
	tp := Up(t, twoVPC)
	if !tp.PingEventually(t, "ib2", "10.8.1.10") {
		t.Fatal("baseline ping ib2 → ib failed")
	}
	var cr struct{ NetworkInterface eniDesc }
	tp.ec2OK(t, &cr, "create-network-interface", "--subnet-id", "sb", "--private-ip-address", "10.8.1.50",
		"--groups", "open-b", "--name", "xb")
	x := cr.NetworkInterface
	ia, ib := tp.instance(t, "ia"), tp.instance(t, "ib")
	if ia == nil || ib == nil || len(ia.NetworkInterfaces) != 1 || len(ib.NetworkInterfaces) != 1 {
		t.Fatalf("describe-instances: ia %+v, ib %+v", ia, ib)
	}
	vpcA, vpcB := ia.NetworkInterfaces[0].VpcId, ib.NetworkInterfaces[0].VpcId
	if !strings.HasPrefix(vpcA, "vpc-") || vpcA == vpcB || x.VpcId != vpcB ||
		x.AvailabilityZone != ia.Placement.AvailabilityZone || x.Status != "available" || x.Attachment != nil {
		t.Fatalf("xb %+v should be an available ENI of %s in ia's AZ (ia is in %s)", x, vpcB, vpcA)
	}

	enisBefore := tp.ec2OK(t, nil, "describe-network-interfaces")
	before := tp.describeAll(t)
	// By name and by id: the same refusal.
	for _, ref := range [][2]string{{"xb", "ia"}, {x.NetworkInterfaceId, ia.InstanceId}} {
		out, code := tp.ec2(t, "attach-network-interface", "--network-interface-id", ref[0], "--instance-id", ref[1], "--device-index", "1")
		if code != 254 {
			t.Errorf("attach %v: exit %d, want 254:\n%s", ref, code, out)
		}
		const shape = "An error occurred (InvalidParameterCombination) when calling the AttachNetworkInterface operation: "
		line := strings.TrimSuffix(out, "\n")
		if !strings.HasPrefix(line, shape) || strings.Contains(line, "\n") {
			t.Errorf("attach %v: want one line starting %q, got:\n%s", ref, shape, out)
		}
		for _, w := range []string{x.NetworkInterfaceId, ia.InstanceId, vpcA, vpcB, "(ENI-6)"} {
			if !strings.Contains(line, w) {
				t.Errorf("attach %v: the error does not name %s: %s", ref, w, out)
			}
		}
	}
	if after := tp.ec2OK(t, nil, "describe-network-interfaces"); after != enisBefore {
		t.Errorf("describe-network-interfaces changed by the refused attach:\nbefore: %s\nafter:  %s", enisBefore, after)
	}
	diffSnapshots(t, "refused cross-VPC attach", before, tp.describeAll(t))
	if out, err := tp.Exec(t, "ia", "ip", "-o", "link", "show"); err != nil || strings.Contains(out, "eth1") {
		t.Fatalf("ia's devices after the refused attach (%v):\n%s", err, out)
	}
	if tp.Ping(t, "ib2", "10.8.1.50") {
		t.Fatal("the refused ENI's address answers")
	}

	// In its own VPC the same ENI attaches and carries traffic.
	tp.ec2OK(t, nil, "attach-network-interface", "--network-interface-id", "xb", "--instance-id", "ib", "--device-index", "1")
	if out, ok := tp.waitLink(t, "ib", "eth1", true, "10.8.1.50/24", strings.ToLower(x.MacAddress)); !ok {
		t.Fatalf("eth1 in ib within a second:\n%s", out)
	}
	if !tp.PingEventually(t, "ib2", "10.8.1.50") {
		t.Fatalf("ping ib2 → 10.8.1.50 (ib's eth1) failed: %+v", tp.Stats(t).Endpoints)
	}
}

// --- 3. The NAT gateway's ENI (ENI-3, ENI-5) -----------------------------------

func TestLab_NATGatewayENIRefusesChanges(t *testing.T) {
	tp := Up(t, edge)
	if w, err := tp.Curl(t, "db", inetURL); err != nil || clientIP(w) != "3.34.20.20" {
		t.Fatalf("baseline through the NAT: %+v %v", w, err)
	}
	e := tp.eni(t, "nat")
	if e == nil {
		t.Fatalf("describe-network-interfaces has no ENI named nat: %+v", tp.enis(t))
	}
	if !e.RequesterManaged || e.InterfaceType != "natGateway" || e.SourceDestCheck || len(e.Groups) != 0 ||
		e.Status != "in-use" || e.SubnetId == "" || len(e.PrivateIpAddresses) == 0 ||
		e.PrivateIpAddresses[0].Association == nil || e.PrivateIpAddresses[0].Association.PublicIp != "3.34.20.20" {
		t.Fatalf("the NAT gateway's ENI: %+v", e)
	}
	before := tp.describeAll(t)
	for _, ref := range []string{"nat", e.NetworkInterfaceId} {
		for _, args := range [][]string{
			{"modify-network-interface-attribute", "--network-interface-id", ref, "--source-dest-check"},
			{"modify-network-interface-attribute", "--network-interface-id", ref, "--no-source-dest-check"},
			{"modify-network-interface-attribute", "--network-interface-id", ref, "--groups", "open"},
			{"detach-network-interface", "--network-interface-id", ref},
			{"delete-network-interface", "--network-interface-id", ref},
			{"attach-network-interface", "--network-interface-id", ref, "--instance-id", "web", "--device-index", "1"},
			{"assign-private-ip-addresses", "--network-interface-id", ref, "--private-ip-addresses", "10.5.1.99"},
			{"associate-address", "--allocation-id", "eip-web", "--network-interface-id", ref, "--allow-reassociation"},
		} {
			out := tp.ec2Refused(t, "", args[0], args[1:]...)
			if !strings.Contains(out, "OperationNotPermitted") {
				t.Errorf("%v: want OperationNotPermitted (ENI-5), got %s", args, out)
			}
			if !strings.Contains(out, "nat-") && !strings.Contains(out, "NAT") {
				t.Errorf("%v: the error does not name the owning NAT gateway (ENI-5): %s", args, out)
			}
		}
	}
	// Its EIP cannot be taken away either.
	tp.ec2Refused(t, "", "release-address", "--allocation-id", "eip-nat")
	tp.ec2Refused(t, "", "associate-address", "--allocation-id", "eip-nat", "--instance-id", "auto", "--allow-reassociation")
	diffSnapshots(t, "refused NAT ENI operations", before, tp.describeAll(t))
	if w, err := tp.Curl(t, "db", inetURL); err != nil || clientIP(w) != "3.34.20.20" {
		t.Fatalf("the NAT gateway broke after refused operations: %+v %v", w, err)
	}
}

// --- 4. Instances ----------------------------------------------------------------

// TestLab_RunInstancesAndStopStart: run-instances makes a namespace that
// the internet reaches by its public IP; stop/start keeps an EIP and gives a
// dynamic public IP anew (INST-2); terminate removes the namespace.
func TestLab_RunInstancesAndStopStart(t *testing.T) {
	tp := Up(t, edge)
	var durs []time.Duration
	var run struct{ Instances []instDesc }
	start := time.Now()
	tp.ec2OK(t, &run, "run-instances", "--subnet-id", "pub", "--associate-public-ip-address", "--name", "n1",
		"--security-group-ids", "open", "--user-data", "vpcnet serve --http :80")
	durs = append(durs, time.Since(start))
	if len(run.Instances) != 1 {
		t.Fatalf("run-instances: %+v", run)
	}
	n1 := run.Instances[0]
	// EC2's passage: RunInstances answers pending, describe-instances then
	// shows it running (LIFE-3).
	if !strings.HasPrefix(n1.InstanceId, "i-") || n1.State.Name != "pending" || !strings.HasPrefix(n1.PrivateIpAddress, "10.5.1.") ||
		!strings.HasPrefix(n1.PublicIpAddress, "3.34.") || nameTag(n1.Tags) != "n1" || len(n1.NetworkInterfaces) != 1 {
		t.Fatalf("run-instances n1: %+v", n1)
	}
	if ns := namespacesWithPrefix(tp.Name + "-n1"); !slices.Contains(ns, tp.Name+"-n1") {
		t.Fatalf("namespace %s-n1 missing: %v", tp.Name, ns)
	}
	if d := tp.instance(t, "n1"); d == nil || d.PublicIpAddress != n1.PublicIpAddress || d.InstanceId != n1.InstanceId || d.State.Name != "running" {
		t.Fatalf("describe-instances n1: %+v", d)
	}
	pub1 := n1.PublicIpAddress
	w, err := tp.Curl(t, "n1", inetURL)
	if err != nil || clientIP(w) != pub1 {
		t.Fatalf("n1 → internet: seen as %+v (%v), want %s", w, err, pub1)
	}
	// Inbound: the internet reaches n1's user_data server on its public IP.
	if w, err = tp.Curl(t, "inet", "http://"+pub1+"/"); err != nil || w.Name != "n1" || w.Local != n1.PrivateIpAddress+":80" {
		t.Fatalf("inet → n1's public IP: %+v %v", w, err)
	}
	// Its user_data process is recorded, so that down can remove it.
	udPID := userDataPID(t, tp.Name, tp.Name+"-n1")
	if udPID == 0 {
		t.Fatalf("state.json records no user_data process for n1")
	}
	// n1 talks to the other instances too (hosts file aside, by IP).
	if !tp.PingEventually(t, "n1", "10.5.3.10") {
		t.Fatal("n1 → db failed")
	}

	// Two more launches, for the timing; no public IP in pub2.
	for _, n := range []string{"n2", "n3"} {
		var r struct{ Instances []instDesc }
		start := time.Now()
		tp.ec2OK(t, &r, "run-instances", "--subnet-id", "pub2", "--no-associate-public-ip-address", "--name", n)
		durs = append(durs, time.Since(start))
		if r.Instances[0].PublicIpAddress != "" || len(r.Instances[0].NetworkInterfaces) != 1 ||
			len(r.Instances[0].NetworkInterfaces[0].Groups) != 1 || r.Instances[0].NetworkInterfaces[0].Groups[0].GroupName != "default" {
			t.Errorf("run-instances %s (no public IP, default group): %+v", n, r.Instances[0])
		}
	}
	slices.Sort(durs)
	t.Logf("run-instances wall time: median %v of %v", durs[1], durs)
	// n2 and n3 share the default group (SG-7): they reach each other.
	if !tp.PingEventually(t, "n2", tp.instance(t, "n3").PrivateIpAddress) {
		t.Error("n2 → n3 (default group members) failed")
	}
	// --count: two instances in one reservation, named pair-1 and pair-2,
	// with the image and type the launch named; they reach each other.
	var pair struct {
		ReservationId string
		Instances     []struct {
			InstanceId, ImageId, InstanceType, PrivateIpAddress string
			AmiLaunchIndex                                      int
		}
	}
	tp.ec2OK(t, nil, "create-key-pair", "--key-name", "lab", "--key-type", "ed25519")
	tp.ec2OK(t, &pair, "run-instances", "--subnet-id", "pub2", "--count", "2", "--name", "pair",
		"--image-id", "ami-0e57369a62a7b3150", "--instance-type", "t3.micro", "--key-name", "lab") // Ubuntu 22.04 of the catalogue
	if len(pair.Instances) != 2 || pair.Instances[1].AmiLaunchIndex != 1 || pair.Instances[0].ImageId != "ami-0e57369a62a7b3150" ||
		pair.Instances[0].InstanceType != "t3.micro" {
		t.Fatalf("run-instances --count 2: %+v", pair)
	}
	var desc struct {
		Reservations []struct {
			ReservationId string
			Instances     []struct{ InstanceId, ImageId, InstanceType, KeyName string }
		}
	}
	tp.ec2OK(t, &desc, "describe-instances", "--instance-ids", pair.Instances[0].InstanceId, pair.Instances[1].InstanceId)
	if len(desc.Reservations) != 1 || desc.Reservations[0].ReservationId != pair.ReservationId || len(desc.Reservations[0].Instances) != 2 ||
		desc.Reservations[0].Instances[1].InstanceType != "t3.micro" || desc.Reservations[0].Instances[1].KeyName != "lab" {
		t.Fatalf("describe-instances of the pair: %+v", desc)
	}
	for _, n := range []string{"pair-1", "pair-2"} {
		if ns := namespacesWithPrefix(tp.Name + "-" + n); !slices.Contains(ns, tp.Name+"-"+n) {
			t.Fatalf("namespace %s-%s missing: %v", tp.Name, n, ns)
		}
	}
	if !tp.PingEventually(t, "pair-1", pair.Instances[1].PrivateIpAddress) {
		t.Error("pair-1 → pair-2 failed")
	}

	// The EIP holder keeps its EIP across stop/start.
	tp.ec2OK(t, nil, "stop-instances", "--instance-ids", "web")
	if d := tp.instance(t, "web"); d.State.Name != "stopped" || d.PublicIpAddress != "3.34.10.10" {
		t.Fatalf("web stopped: %+v, want state stopped and its EIP kept", d)
	}
	if tp.Ping(t, "auto", "10.5.1.10") {
		t.Fatal("a stopped instance answered")
	}
	tp.ec2OK(t, nil, "start-instances", "--instance-ids", "web")
	if d := tp.instance(t, "web"); d.State.Name != "running" || d.PublicIpAddress != "3.34.10.10" {
		t.Fatalf("web started: %+v", d)
	}
	if a := tp.address(t, "3.34.10.10"); a == nil || a.InstanceId != tp.instance(t, "web").InstanceId {
		t.Fatalf("describe-addresses: eip-web after stop/start: %+v", a)
	}
	if w, err := tp.Curl(t, "web", inetURL); err != nil || clientIP(w) != "3.34.10.10" {
		t.Fatalf("web after stop/start is seen as %+v (%v), want its EIP", w, err)
	}

	// INST-2: n1 gets a new public IP.
	// Each answers EC2's passage (LIFE-3): stopping, pending, shutting-down.
	var change struct {
		StoppingInstances, StartingInstances, TerminatingInstances []struct {
			InstanceId                  string
			CurrentState, PreviousState struct{ Name string }
		}
	}
	passage := func(l []struct {
		InstanceId                  string
		CurrentState, PreviousState struct{ Name string }
	}) string {
		if len(l) != 1 || l[0].InstanceId != n1.InstanceId {
			return fmt.Sprintf("%+v", l)
		}
		return l[0].PreviousState.Name + " → " + l[0].CurrentState.Name
	}
	tp.ec2OK(t, &change, "stop-instances", "--instance-ids", n1.InstanceId)
	if p := passage(change.StoppingInstances); p != "running → stopping" {
		t.Errorf("stop-instances answered %s, want running → stopping", p)
	}
	if d := tp.instance(t, "n1"); d.State.Name != "stopped" || d.PublicIpAddress != "" {
		t.Fatalf("n1 stopped: %+v, want no public IP", d)
	}
	if tp.Ping(t, "inet", pub1) {
		t.Fatal("a stopped instance's old public IP answered")
	}
	waitGone(t, udPID) // stop ends the instance's processes
	tp.ec2OK(t, &change, "start-instances", "--instance-ids", "n1")
	if p := passage(change.StartingInstances); p != "stopped → pending" {
		t.Errorf("start-instances answered %s, want stopped → pending", p)
	}
	d := tp.instance(t, "n1")
	if d.State.Name != "running" || !strings.HasPrefix(d.PublicIpAddress, "3.34.") || d.PublicIpAddress == pub1 || d.PrivateIpAddress != n1.PrivateIpAddress {
		t.Fatalf("n1 started: %+v, want a new public IP (not %s) and the same private IP", d, pub1)
	}
	if w, err := tp.Curl(t, "n1", inetURL); err != nil || clientIP(w) != d.PublicIpAddress {
		t.Fatalf("n1 after start is seen as %+v (%v), want its new public IP %s", w, err, d.PublicIpAddress)
	}
	if !tp.PingEventually(t, "inet", d.PublicIpAddress) {
		t.Fatalf("inet cannot ping n1's new public IP %s", d.PublicIpAddress)
	}
	if tp.Ping(t, "inet", pub1) {
		t.Fatalf("n1's old public IP %s still answers", pub1)
	}

	// Terminate: the namespace goes; describe-instances shows it terminated,
	// without its network, for an hour (LIFE-3).
	tp.ec2OK(t, &change, "terminate-instances", "--instance-ids", "n1")
	if p := passage(change.TerminatingInstances); p != "running → shutting-down" {
		t.Errorf("terminate-instances answered %s, want running → shutting-down", p)
	}
	if ns := namespacesWithPrefix(tp.Name + "-n1"); slices.Contains(ns, tp.Name+"-n1") {
		t.Fatalf("namespace %s-n1 left after terminate", tp.Name)
	}
	if d := tp.instance(t, "n1"); d == nil || d.State.Name != "terminated" || d.InstanceId != n1.InstanceId ||
		d.PrivateIpAddress != "" || len(d.NetworkInterfaces) != 0 {
		t.Fatalf("describe after terminate: %+v", d)
	}
	if tp.Ping(t, "inet", d.PublicIpAddress) {
		t.Fatal("a terminated instance's public IP answered")
	}
	// Its private IP is free again.
	tp.ec2OK(t, nil, "run-instances", "--subnet-id", "pub", "--private-ip-address", n1.PrivateIpAddress, "--name", "n1b", "--security-group-ids", "open")
	if !tp.PingEventually(t, "auto", n1.PrivateIpAddress) {
		t.Fatal("the instance at the freed address is unreachable")
	}
}

// --- 5. Source/dest check, live (ENI-4) -----------------------------------------

func TestLab_SourceDestToggle(t *testing.T) {
	tp := Up(t, strings.ReplaceAll(appliance, "SDC", "true"))
	waitForwarding(t, tp)
	if !tp.PingEventually(t, "a1", "10.1.3.10") {
		t.Fatal("a1 → fw itself should work")
	}
	if tp.Ping(t, "a1", "10.1.2.10") {
		t.Fatal("ping through fw with source/dest check on was answered")
	}
	tp.ec2OK(t, nil, "modify-instance-attribute", "--instance-id", "fw", "--no-source-dest-check")
	if d := tp.instance(t, "fw"); d.SourceDestCheck || d.NetworkInterfaces[0].SourceDestCheck {
		t.Fatalf("describe after --no-source-dest-check: %+v", d)
	}
	if !tp.PingEventually(t, "a1", "10.1.2.10") {
		t.Fatalf("ping through fw with the check off failed: %+v", tp.Stats(t).Endpoints)
	}
	drops := tp.Drops(t, "fw", "source-dest-check")
	tp.ec2OK(t, nil, "modify-instance-attribute", "--instance-id", "fw", "--source-dest-check")
	if d := tp.instance(t, "fw"); !d.SourceDestCheck {
		t.Fatalf("describe after --source-dest-check: %+v", d)
	}
	if tp.Ping(t, "a1", "10.1.2.10") {
		t.Fatal("ping through fw was answered after the check was turned back on")
	}
	if n := tp.Drops(t, "fw", "source-dest-check"); n <= drops {
		t.Fatalf("source/dest check drops at fw did not rise (%d → %d)", drops, n)
	}
	// The ENI operation does the same to the same ENI.
	eth0 := tp.instance(t, "fw").NetworkInterfaces[0].NetworkInterfaceId
	tp.ec2OK(t, nil, "modify-network-interface-attribute", "--network-interface-id", eth0, "--no-source-dest-check")
	if !tp.PingEventually(t, "a1", "10.1.2.10") {
		t.Fatal("ping through fw failed after modify-network-interface-attribute --no-source-dest-check")
	}
	if d := tp.instance(t, "fw"); d.SourceDestCheck {
		t.Fatalf("describe-instances does not reflect the ENI's check: %+v", d)
	}
}

// --- 6. Refusals change nothing ------------------------------------------------

// TestEC2_ConstraintsRefusedNothingChanged: every refused operation exits 2
// with AWS's error shape and code, and every describe-* output (and the set
// of namespaces) is byte-identical before and after.
func TestEC2_ConstraintsRefusedNothingChanged(t *testing.T) {
	topo := strings.Replace(edge, `"address_pools": [{"name": "amz", "cidrs": ["3.34.0.0/16"]}]`,
		`"address_pools": [{"name": "amz", "cidrs": ["3.34.0.0/16"]}, {"name": "west", "cidrs": ["3.99.0.0/16"], "network_border_group": "us-west-2"}]`, 1)
	topo = strings.Replace(topo, `"instances": [`,
		`"network_interfaces": [{"name": "loose", "subnet": "pub", "private_ip": "10.5.1.50", "security_groups": ["open"]}],
    "instances": [`, 1)
	if topo == edge {
		t.Fatal("topology edit failed")
	}
	tp := Up(t, topo)
	tp.ec2OK(t, nil, "allocate-address", "--public-ipv4-pool", "amz", "--name", "spare")
	tp.ec2OK(t, nil, "allocate-address", "--public-ipv4-pool", "west", "--name", "westeip")
	tp.ec2OK(t, nil, "assign-private-ip-addresses", "--network-interface-id", "loose", "--private-ip-addresses", "10.5.1.51")
	tp.ec2OK(t, nil, "run-instances", "--subnet-id", "pub", "--name", "stopped1", "--security-group-ids", "open")
	tp.ec2OK(t, nil, "stop-instances", "--instance-ids", "stopped1")

	const (
		noEIP   = "eipalloc-0123456789abcdef0"
		noInst  = "i-0123456789abcdef0"
		noENI   = "eni-0123456789abcdef0"
		noSub   = "subnet-0123456789abcdef0"
		noRTB   = "rtb-0123456789abcdef0"
		noAssoc = "eipassoc-0123456789abcdef0"
	)
	cases := []struct {
		code string
		args []string
	}{
		// Elastic IPs.
		{"InvalidAllocationID.NotFound", []string{"associate-address", "--allocation-id", noEIP, "--instance-id", "web"}},
		{"InvalidInstanceID.NotFound", []string{"associate-address", "--allocation-id", "spare", "--instance-id", noInst}},
		{"InvalidNetworkInterfaceID.NotFound", []string{"associate-address", "--allocation-id", "spare", "--network-interface-id", noENI}},
		{"InvalidParameterValue", []string{"associate-address", "--allocation-id", "spare", "--network-interface-id", "loose", "--private-ip-address", "10.5.1.77"}},
		{"MissingParameter", []string{"associate-address", "--allocation-id", "spare"}},
		{"Resource.AlreadyAssociated", []string{"associate-address", "--allocation-id", "eip-web", "--instance-id", "auto"}},
		{"InvalidParameterCombination", []string{"associate-address", "--allocation-id", "westeip", "--instance-id", "auto"}},                    // EIP-4
		{"OperationNotPermitted", []string{"associate-address", "--allocation-id", "eip-nat", "--instance-id", "auto", "--allow-reassociation"}}, // ENI-5
		{"OperationNotPermitted", []string{"associate-address", "--allocation-id", "spare", "--network-interface-id", "nat"}},
		{"InvalidAssociationID.NotFound", []string{"disassociate-address", "--association-id", noAssoc}},
		{"OperationNotPermitted", []string{"disassociate-address", "--public-ip", "3.34.20.20"}},
		{"InvalidAllocationID.NotFound", []string{"release-address", "--allocation-id", noEIP}},
		{"InvalidIPAddress.InUse", []string{"release-address", "--allocation-id", "eip-web"}}, // EIP-3
		{"InvalidIPAddress.InUse", []string{"release-address", "--allocation-id", "3.34.10.10"}},
		{"", []string{"release-address", "--allocation-id", "eip-nat"}},
		{"InvalidAddress.InUse", []string{"allocate-address", "--address", "3.34.10.10"}},
		{"InvalidAddress.InUse", []string{"allocate-address", "--address", "3.34.20.20"}},
		{"InvalidAddress.NotFound", []string{"allocate-address", "--address", "8.8.8.8"}},
		{"InvalidParameterValue", []string{"allocate-address", "--address", "not-an-ip"}},
		{"InvalidParameterValue", []string{"allocate-address", "--public-ipv4-pool", "nope"}},
		{"InvalidParameterCombination", []string{"allocate-address", "--public-ipv4-pool", "west", "--network-border-group", "us-east-1"}},
		{"InvalidParameterValue", []string{"allocate-address", "--name", "web"}}, // name taken
		// Network interfaces (ENI-1, ENI-2, ENI-5, ENI-6).
		{"InvalidSubnetID.NotFound", []string{"create-network-interface", "--subnet-id", noSub}},
		{"InvalidParameterValue", []string{"create-network-interface", "--subnet-id", "pub", "--private-ip-address", "10.5.9.9"}},   // outside
		{"InvalidParameterValue", []string{"create-network-interface", "--subnet-id", "pub", "--private-ip-address", "10.6.1.20"}},  // outside the VPC
		{"InvalidParameterValue", []string{"create-network-interface", "--subnet-id", "pub", "--private-ip-address", "10.5.1.0"}},   // reserved
		{"InvalidParameterValue", []string{"create-network-interface", "--subnet-id", "pub", "--private-ip-address", "10.5.1.1"}},   // reserved: router
		{"InvalidParameterValue", []string{"create-network-interface", "--subnet-id", "pub", "--private-ip-address", "10.5.1.2"}},   // reserved: DNS
		{"InvalidParameterValue", []string{"create-network-interface", "--subnet-id", "pub", "--private-ip-address", "10.5.1.3"}},   // reserved
		{"InvalidParameterValue", []string{"create-network-interface", "--subnet-id", "pub", "--private-ip-address", "10.5.1.255"}}, // broadcast
		{"InvalidIPAddress.InUse", []string{"create-network-interface", "--subnet-id", "pub", "--private-ip-address", "10.5.1.10"}}, // web
		{"InvalidIPAddress.InUse", []string{"create-network-interface", "--subnet-id", "pub", "--private-ip-address", "10.5.1.51"}}, // loose's secondary
		{"InvalidGroup.NotFound", []string{"create-network-interface", "--subnet-id", "pub", "--groups", "sg-0123456789abcdef0"}},
		{"InvalidGroup.NotFound", []string{"create-network-interface", "--subnet-id", "pub", "--groups", "open,nope"}},
		{"InvalidParameterValue", []string{"create-network-interface", "--subnet-id", "pub", "--name", "web"}},
		{"InvalidNetworkInterfaceID.NotFound", []string{"delete-network-interface", "--network-interface-id", noENI}},
		{"InvalidNetworkInterface.InUse", []string{"delete-network-interface", "--network-interface-id", "web"}},
		{"OperationNotPermitted", []string{"delete-network-interface", "--network-interface-id", "nat"}},
		{"InvalidInstanceID.NotFound", []string{"attach-network-interface", "--network-interface-id", "loose", "--instance-id", noInst, "--device-index", "1"}},
		{"InvalidNetworkInterfaceID.NotFound", []string{"attach-network-interface", "--network-interface-id", noENI, "--instance-id", "web", "--device-index", "1"}},
		{"InvalidParameterValue", []string{"attach-network-interface", "--network-interface-id", "loose", "--instance-id", "web", "--device-index", "0"}},
		{"InvalidParameterValue", []string{"attach-network-interface", "--network-interface-id", "loose", "--instance-id", "web", "--device-index", "x"}},
		{"InvalidNetworkInterface.InUse", []string{"attach-network-interface", "--network-interface-id", "auto", "--instance-id", "web", "--device-index", "1"}},
		{"OperationNotPermitted", []string{"detach-network-interface", "--network-interface-id", "web"}}, // eth0
		{"InvalidAttachmentID.NotFound", []string{"detach-network-interface", "--network-interface-id", "loose"}},
		{"OperationNotPermitted", []string{"modify-network-interface-attribute", "--network-interface-id", "nat", "--source-dest-check"}},
		{"InvalidGroup.NotFound", []string{"modify-network-interface-attribute", "--network-interface-id", "loose", "--groups", "nope"}},
		{"MissingParameter", []string{"modify-network-interface-attribute", "--network-interface-id", "loose"}},
		{"InvalidNetworkInterfaceID.NotFound", []string{"modify-network-interface-attribute", "--network-interface-id", noENI, "--no-source-dest-check"}},
		{"InvalidIPAddress.InUse", []string{"assign-private-ip-addresses", "--network-interface-id", "loose", "--private-ip-addresses", "10.5.1.10"}},
		{"InvalidIPAddress.InUse", []string{"assign-private-ip-addresses", "--network-interface-id", "loose", "--private-ip-addresses", "10.5.1.60,10.5.1.11"}}, // second one taken: none added
		{"InvalidParameterValue", []string{"assign-private-ip-addresses", "--network-interface-id", "loose", "--private-ip-addresses", "10.5.2.50"}},
		{"InvalidParameterValue", []string{"assign-private-ip-addresses", "--network-interface-id", "loose", "--private-ip-addresses", "10.5.1.1"}},
		{"InvalidParameterValue", []string{"unassign-private-ip-addresses", "--network-interface-id", "loose", "--private-ip-addresses", "10.5.1.99"}},
		{"InvalidParameterValue", []string{"unassign-private-ip-addresses", "--network-interface-id", "loose", "--private-ip-addresses", "10.5.1.50"}}, // the primary
		// Instances.
		{"InvalidSubnetID.NotFound", []string{"run-instances", "--subnet-id", noSub}},
		{"InvalidIPAddress.InUse", []string{"run-instances", "--subnet-id", "pub", "--private-ip-address", "10.5.1.10"}},
		{"InvalidIPAddress.InUse", []string{"run-instances", "--subnet-id", "pub", "--private-ip-address", "10.5.1.50"}},
		{"InvalidParameterValue", []string{"run-instances", "--subnet-id", "pub", "--private-ip-address", "10.5.1.1"}},
		{"InvalidParameterValue", []string{"run-instances", "--subnet-id", "pub", "--private-ip-address", "10.5.3.77"}},
		{"InvalidGroup.NotFound", []string{"run-instances", "--subnet-id", "pub", "--security-group-ids", "nope"}},
		{"InvalidParameterValue", []string{"run-instances", "--subnet-id", "pub", "--name", "web"}},
		{"InvalidParameterValue", []string{"run-instances", "--subnet-id", "pub", "--name", "bad name/x"}},
		{"InvalidInstanceID.NotFound", []string{"terminate-instances", "--instance-ids", noInst}},
		{"InvalidInstanceID.NotFound", []string{"terminate-instances", "--instance-ids", "auto," + noInst}}, // all or nothing
		{"InvalidInstanceID.NotFound", []string{"stop-instances", "--instance-ids", "auto," + noInst}},
		{"InvalidInstanceID.NotFound", []string{"start-instances", "--instance-ids", "stopped1," + noInst}},
		{"InvalidInstanceID.NotFound", []string{"modify-instance-attribute", "--instance-id", noInst, "--no-source-dest-check"}},
		{"MissingParameter", []string{"modify-instance-attribute", "--instance-id", "web"}},
		// Routes (RT-1, RT-3, RT-4).
		{"InvalidParameterValue", []string{"create-route", "--route-table-id", "rt-pub", "--destination-cidr-block", "10.5.3.0/25", "--gateway-id", "igw"}},  // RT-4
		{"InvalidParameterValue", []string{"create-route", "--route-table-id", "rt-pub", "--destination-cidr-block", "10.5.3.0/24", "--gateway-id", "igw"}},  // RT-4: igw target
		{"InvalidParameterValue", []string{"create-route", "--route-table-id", "rt-pub", "--destination-cidr-block", "10.5.3.0/25", "--instance-id", "web"}}, // RT-4: not a whole subnet
		{"InvalidParameterValue", []string{"create-route", "--route-table-id", "rt-pub", "--destination-cidr-block", "10.5.0.0/16", "--gateway-id", "igw"}},  // local
		{"InvalidParameterValue", []string{"replace-route", "--route-table-id", "rt-pub", "--destination-cidr-block", "10.5.0.0/16", "--gateway-id", "igw"}},
		{"InvalidParameterValue", []string{"delete-route", "--route-table-id", "rt-pub", "--destination-cidr-block", "10.5.0.0/16"}}, // RT-1
		{"InvalidParameterValue", []string{"delete-route", "--route-table-id", "rt-priv", "--destination-cidr-block", "10.5.0.0/16"}},
		{"InvalidRoute.NotFound", []string{"delete-route", "--route-table-id", "rt-pub", "--destination-cidr-block", "192.0.2.0/24"}},
		{"InvalidRoute.NotFound", []string{"replace-route", "--route-table-id", "rt-pub", "--destination-cidr-block", "192.0.2.0/24", "--gateway-id", "igw"}},
		{"RouteAlreadyExists", []string{"create-route", "--route-table-id", "rt-pub", "--destination-cidr-block", "0.0.0.0/0", "--gateway-id", "igw"}},
		{"InvalidRouteTableID.NotFound", []string{"create-route", "--route-table-id", noRTB, "--destination-cidr-block", "192.0.2.0/24", "--gateway-id", "igw"}},
		{"InvalidRouteTableID.NotFound", []string{"delete-route", "--route-table-id", noRTB, "--destination-cidr-block", "0.0.0.0/0"}},
		{"InvalidGatewayID.NotFound", []string{"create-route", "--route-table-id", "rt-pub", "--destination-cidr-block", "192.0.2.0/24", "--gateway-id", "igw-0123456789abcdef0"}},
		{"InvalidNatGatewayID.NotFound", []string{"create-route", "--route-table-id", "rt-pub", "--destination-cidr-block", "192.0.2.0/24", "--nat-gateway-id", "nat-0123456789abcdef0"}},
		{"InvalidNetworkInterfaceID.NotFound", []string{"create-route", "--route-table-id", "rt-pub", "--destination-cidr-block", "192.0.2.0/24", "--network-interface-id", noENI}},
		{"InvalidInstanceID.NotFound", []string{"create-route", "--route-table-id", "rt-pub", "--destination-cidr-block", "192.0.2.0/24", "--instance-id", noInst}},
		{"InvalidParameterValue", []string{"create-route", "--route-table-id", "rt-pub", "--destination-cidr-block", "192.0.2.0/33", "--gateway-id", "igw"}},
		{"MissingParameter", []string{"create-route", "--route-table-id", "rt-pub", "--destination-cidr-block", "192.0.2.0/24"}},
		{"MissingParameter", []string{"create-route", "--route-table-id", "rt-pub"}},
	}
	before := tp.describeAll(t)
	// Refused by the CLI before it sends anything (exit 252, as the AWS
	// CLI refuses a value that does not parse or a missing flag).
	usage := map[string]bool{
		"attach-network-interface --network-interface-id loose --instance-id web --device-index x": true,
		"create-route --route-table-id rt-pub":                                                     true,
	}
	for _, c := range cases {
		exit := 254
		if usage[strings.Join(c.args, " ")] {
			exit = 252
		}
		tp.ec2RefusedExit(t, exit, c.code, c.args[0], c.args[1:]...)
		after := tp.describeAll(t)
		diffSnapshots(t, fmt.Sprintf("refused %v", c.args), before, after)
		before = after // report each change once
	}
	// The network still works as before.
	if w, err := tp.Curl(t, "web", inetURL); err != nil || clientIP(w) != "3.34.10.10" {
		t.Fatalf("web after the refusals: %+v %v", w, err)
	}
	if w, err := tp.Curl(t, "db", inetURL); err != nil || clientIP(w) != "3.34.20.20" {
		t.Fatalf("db after the refusals: %+v %v", w, err)
	}
	if !tp.PingEventually(t, "auto", "10.5.2.10") {
		t.Fatal("auto → nopub after the refusals")
	}
}

// --- 7. Export round trip ------------------------------------------------------

// TestEC2_ExportRoundTrip: changes made live survive export → down → up of
// the exported file: the describe-* outputs are byte-identical.
func TestEC2_ExportRoundTrip(t *testing.T) {
	tp := Up(t, edge)
	var alloc struct{ PublicIp, AllocationId string }
	tp.ec2OK(t, &alloc, "allocate-address", "--public-ipv4-pool", "amz")
	tp.ec2OK(t, nil, "associate-address", "--allocation-id", alloc.AllocationId, "--instance-id", "nopub")
	tp.ec2OK(t, nil, "allocate-address", "--name", "kept") // allocated, unassociated
	tp.ec2OK(t, nil, "create-route", "--route-table-id", "rt-priv", "--destination-cidr-block", "192.0.2.0/24", "--instance-id", "web")
	tp.ec2OK(t, nil, "create-route", "--route-table-id", "rt-pub", "--destination-cidr-block", "10.5.3.0/24", "--network-interface-id", "auto") // RT-4 middlebox
	tp.ec2OK(t, nil, "authorize-security-group-ingress", "--group-id", "open", "--protocol", "tcp", "--port", "22", "--cidr", "192.0.2.0/24")
	tp.ec2OK(t, nil, "create-network-interface", "--subnet-id", "priv", "--groups", "open", "--description", "spare eni", "--name", "x1")
	tp.ec2OK(t, nil, "create-network-interface", "--subnet-id", "pub", "--groups", "open", "--name", "x2")
	tp.ec2OK(t, nil, "attach-network-interface", "--network-interface-id", "x2", "--instance-id", "web", "--device-index", "1")
	tp.ec2OK(t, nil, "assign-private-ip-addresses", "--network-interface-id", "x2", "--private-ip-addresses", "10.5.1.200")
	tp.ec2OK(t, nil, "modify-instance-attribute", "--instance-id", "auto", "--no-source-dest-check")
	tp.ec2OK(t, nil, "run-instances", "--subnet-id", "pub2", "--name", "late", "--security-group-ids", "open", "--user-data", "vpcnet serve --http :80")
	if got, _ := tp.seenAsWithin(t, "nopub", inetURL, alloc.PublicIp, time.Now(), time.Second); got != alloc.PublicIp {
		t.Fatalf("nopub seen as %q, want %s", got, alloc.PublicIp)
	}

	ops := []string{"describe-addresses", "describe-route-tables", "describe-security-groups", "describe-network-interfaces", "describe-instances"}
	// The new daemon launched the instances again: their launch and
	// attach times are its start, the only members that may differ.
	launched := regexp.MustCompile(`"(LaunchTime|AttachTime|UsageOperationUpdateTime)": ?"[^"]*"`)
	before := map[string]string{}
	for _, op := range ops {
		before[op] = launched.ReplaceAllString(tp.ec2OK(t, nil, op), `"$1": "…"`)
	}
	out, code := vpcnet(t, "export", tp.Name)
	if code != 0 {
		t.Fatalf("export: exit %d:\n%s", code, out)
	}
	var doc struct {
		Name string `json:"name"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil || doc.Name != tp.Name {
		t.Fatalf("export is not a topo.json of %s: %v\n%s", tp.Name, err, out)
	}
	path := filepath.Join(t.TempDir(), "exported.json")
	if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	if v, code := vpcnet(t, "validate", path); code != 0 {
		t.Fatalf("the exported file does not validate: %s\n%s", v, out)
	}
	if o, code := vpcnet(t, "down", tp.Name); code != 0 {
		t.Fatalf("down: %s", o)
	}
	if o, code := vpcnet(t, "up", path); code != 0 {
		t.Fatalf("up of the exported file: exit %d:\n%s\nfile:\n%s", code, o, out)
	}
	// The exported network's describe outputs are byte-identical: ids and MACs
	// derive from names, private IPs and EIP addresses are written out, and the
	// dynamic public IP of auto is the pool's first free address both times.
	// (Should a dynamic public IP legitimately differ, only PublicIp fields of
	// auto-assigned addresses may: ADDR-4 — none does here.)
	for _, op := range ops {
		after := launched.ReplaceAllString(tp.ec2OK(t, nil, op), `"$1": "…"`)
		if after != before[op] {
			t.Errorf("%s differs after export → down → up:\nbefore: %s\nafter:  %s", op, before[op], after)
		}
	}
	// And it carries traffic the same way.
	if got, _ := tp.seenAsWithin(t, "nopub", inetURL, alloc.PublicIp, time.Now(), 3*time.Second); got != alloc.PublicIp {
		t.Fatalf("after re-up nopub is seen as %q, want its EIP %s", got, alloc.PublicIp)
	}
	if w, err := tp.Curl(t, "auto", "http://late/"); err != nil || w.Name != "late" {
		t.Fatalf("the launched instance (and its user_data) after re-up: %+v %v", w, err)
	}
	if !tp.PingEventually(t, "auto", "10.5.1.200") {
		t.Fatal("web's eth1 secondary IP after re-up")
	}
}

// userDataPID returns the pid state.json records for a process started in
// namespace ns, or 0.
func userDataPID(t *testing.T, topo, ns string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("/run/vpcnet", topo, "state.json"))
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Procs []struct {
			PID  int    `json:"pid"`
			Name string `json:"name"`
		} `json:"procs"`
	}
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	for _, p := range st.Procs {
		if p.Name == ns {
			return p.PID
		}
	}
	return 0
}
