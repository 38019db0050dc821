package ec2

import (
	"encoding/json"
	"net/netip"
	"strings"
	"testing"

	"github.com/vpcnet/vpcnet/ec2/types"
	"github.com/vpcnet/vpcnet/topology"
)

// The address facts of issue 13: border groups, specific addresses, reverse
// DNS (DNS-3) and DHCP options sets (DNS-4).

// factsTopo is the default network with a BYOIP pool, a customer-owned
// pool, a public DNS record for eip-web's address and a DHCP options set.
func factsTopo(t testing.TB, name string) *Service {
	t.Helper()
	s := strings.Replace(string(topology.Default()), `"name": "ch5"`, `"name": "`+name+`"`, 1)
	s = strings.Replace(s, `"elastic_ips": [`, `"elastic_ips": [{"name": "spare", "address": "13.125.5.5"},`, 1)
	s = strings.Replace(s, `"address_pools": [`, `"public_dns_records": [{"name": "www.example.com", "address": "13.125.190.82"},
    {"name": "mail.example.com", "address": "13.125.5.5"}],
  "dhcp_options": [{"name": "corp", "domain_name": "corp.example", "domain_name_servers": ["10.0.0.53", "AmazonProvidedDNS"]}],
  "address_pools": [
    {"name": "mine", "cidrs": ["198.18.0.0/24"], "kind": "byoip"},
    {"name": "onprem", "cidrs": ["52.95.9.0/24"], "kind": "coip"},`, 1)
	return rulesSvc(t, s)
}

// TestEIP4_BorderGroupOutsideTheRegionRefused: a network border group of
// another region is InvalidParameterValue, a border group of the region
// that no Amazon pool serves too; nothing changes.
func TestEIP4_BorderGroupOutsideTheRegionRefused(t *testing.T) {
	d := factsTopo(t, "bg")
	refused(t, d, "AllocateAddress", `{"NetworkBorderGroup": "ap-northeast-1"}`, "InvalidParameterValue")
	refused(t, d, "AllocateAddress", `{"NetworkBorderGroup": "us-east-1"}`, "InvalidParameterValue")
	refused(t, d, "AllocateAddress", `{"NetworkBorderGroup": "ap-northeast-2-wl1-cjj-wlz-1"}`, "InvalidParameterValue")
	out := callOK(t, d, "AllocateAddress", `{"NetworkBorderGroup": "ap-northeast-2"}`).(*types.AllocateAddressResult)
	if deref(out.PublicIpv4Pool) != "amazon" {
		t.Fatalf("no pool named: want Amazon's pool, got %s", deref(out.PublicIpv4Pool))
	}
}

// TestADDR5_SpecificAddressOnlyFromBYOIPOrRecovered: --address takes a
// BYOIP pool's address; an Amazon-pool address only to recover one this
// account released, and only while it is free; customer-owned pools are not
// named with PublicIpv4Pool.
func TestADDR5_SpecificAddressOnlyFromBYOIPOrRecovered(t *testing.T) {
	d := factsTopo(t, "spec")
	out := callOK(t, d, "AllocateAddress", `{"Address": "198.18.0.7", "PublicIpv4Pool": "mine"}`).(*types.AllocateAddressResult)
	if deref(out.PublicIp) != "198.18.0.7" || deref(out.PublicIpv4Pool) != "mine" {
		t.Fatalf("BYOIP address: %+v", out)
	}
	refused(t, d, "AllocateAddress", `{"Address": "13.125.7.7"}`, "InvalidAddress.NotFound")
	refused(t, d, "AllocateAddress", `{"PublicIpv4Pool": "onprem"}`, "InvalidParameterValue")
	refused(t, d, "AllocateAddress", `{"Address": "52.95.9.5"}`, "InvalidParameterValue")

	out = callOK(t, d, "AllocateAddress", `{"TagSpecifications": [{"ResourceType": "elastic-ip", "Tags": [{"Key": "Name", "Value": "gone"}]}]}`).(*types.AllocateAddressResult)
	addr := deref(out.PublicIp)
	refused(t, d, "AllocateAddress", `{"Address": "`+addr+`"}`, "InvalidAddress.InUse") // ours still
	callOK(t, d, "ReleaseAddress", `{"AllocationId": "gone"}`)
	back := callOK(t, d, "AllocateAddress", `{"Address": "`+addr+`"}`).(*types.AllocateAddressResult)
	if deref(back.PublicIp) != addr {
		t.Fatalf("recovering %s: %+v", addr, back)
	}
	// Recovered once: released again it may be recovered again, but not
	// twice without a release.
	refused(t, d, "AllocateAddress", `{"Address": "`+addr+`"}`, "InvalidAddress.InUse")
}

// TestADDR5_DryRunRecordsNoRelease: a dry-run release does not make the
// address recoverable; a dry-run recovery does not spend the record.
func TestADDR5_DryRunRecordsNoRelease(t *testing.T) {
	d := factsTopo(t, "dry")
	out := callOK(t, d, "AllocateAddress", `{}`).(*types.AllocateAddressResult)
	addr := deref(out.PublicIp)
	if _, err := d.CallInput("ReleaseAddress", in(t, `{"AllocationId": "`+deref(out.AllocationId)+`", "DryRun": true}`)); err == nil || err.(*Error).Code != "DryRunOperation" {
		t.Fatalf("dry run: %v", err)
	}
	if wasReleased(d.net, netip.MustParseAddr(addr)) {
		t.Fatal("a dry-run release recorded the address as released")
	}
	callOK(t, d, "ReleaseAddress", `{"AllocationId": "`+deref(out.AllocationId)+`"}`)
	if _, err := d.CallInput("AllocateAddress", in(t, `{"Address": "`+addr+`", "DryRun": true}`)); err == nil || err.(*Error).Code != "DryRunOperation" {
		t.Fatalf("dry-run recovery: %v", err)
	}
	callOK(t, d, "AllocateAddress", `{"Address": "`+addr+`"}`) // the record is still there
}

// describeJSON is the JSON of op's answer to req.
func describeJSON(t *testing.T, d *Service, op, req string) string {
	t.Helper()
	b, err := json.Marshal(callOK(t, d, op, req))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// reloadedSvc is d's network exported and loaded again, as `export` then `up`.
func reloadedSvc(t *testing.T, d *Service) *Service {
	t.Helper()
	b, err := json.Marshal(topology.Export(d.net))
	if err != nil {
		t.Fatal(err)
	}
	return rulesSvc(t, string(b))
}

// TestDNS4_DHCPOptionsSets: the region's default set is every VPC's;
// create checks each option as EC2 does; associate changes the VPC's set
// (DescribeVpcs follows) and its instances' resolv.conf; "default" leaves
// none; delete is refused while a VPC uses the set; export keeps it all.
func TestDNS4_DHCPOptionsSets(t *testing.T) {
	d := factsTopo(t, "dhcp")
	v := d.net.VPCs[0]
	def := d.net.DefaultDHCPOptions()
	if v.DHCPOptions != def || !strings.HasPrefix(def.ID, "dopt-") {
		t.Fatalf("VPC's set %+v, default %+v", v.DHCPOptions, def)
	}
	vpcs := callOK(t, d, "DescribeVpcs", `{}`).(*types.DescribeVpcsResult)
	if got := deref(vpcs.Vpcs[0].DhcpOptionsId); got != def.ID {
		t.Fatalf("DescribeVpcs DhcpOptionsId %s, want %s", got, def.ID)
	}
	all := describeJSON(t, d, "DescribeDhcpOptions", `{"DhcpOptionsIds": ["`+def.ID+`"]}`)
	if !strings.Contains(all, `{"Key":"domain-name","Values":[{"Value":"ap-northeast-2.compute.internal"}]}`) ||
		!strings.Contains(all, `{"Key":"domain-name-servers","Values":[{"Value":"AmazonProvidedDNS"}]}`) {
		t.Fatalf("default set: %s", all)
	}
	if rc := topology.ResolvConf(v, d.net); !strings.Contains(rc, "search ap-northeast-2.compute.internal\n") ||
		!strings.Contains(rc, "nameserver 92.75.0.2\n") {
		t.Fatalf("resolv.conf with the default set:\n%s", rc)
	}

	for _, c := range []struct{ req, code string }{
		{`{"DhcpConfigurations": []}`, "MissingParameter"},
		{`{"DhcpConfigurations": [{"Key": "domain-nam", "Values": ["x.example"]}]}`, "InvalidParameterValue"},
		{`{"DhcpConfigurations": [{"Key": "domain-name", "Values": ["bad_name.example"]}]}`, "InvalidParameterValue"},
		{`{"DhcpConfigurations": [{"Key": "domain-name", "Values": ["a.example", "b.example"]}]}`, "InvalidParameterValue"},
		{`{"DhcpConfigurations": [{"Key": "domain-name-servers", "Values": ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5"]}]}`, "InvalidParameterValue"},
		{`{"DhcpConfigurations": [{"Key": "domain-name-servers", "Values": ["ns.example"]}]}`, "InvalidParameterValue"},
		{`{"DhcpConfigurations": [{"Key": "domain-name-servers", "Values": []}]}`, "InvalidParameterValue"},
		{`{"DhcpConfigurations": [{"Key": "ntp-servers", "Values": ["169.254.169.123", "169.254.169.123"]}]}`, "InvalidParameterValue"},
		{`{"DhcpConfigurations": [{"Key": "netbios-node-type", "Values": ["3"]}]}`, "InvalidParameterValue"},
		{`{"DhcpConfigurations": [{"Key": "ipv6-address-preferred-lease-time", "Values": ["140"]}]}`, "InvalidParameterValue"},
		{`{"DhcpConfigurations": [{"Key": "domain-name", "Values": ["a.example"]}, {"Key": "domain-name", "Values": ["b.example"]}]}`, "InvalidParameterValue"},
		{`{"DhcpConfigurations": [{"Key": "domain-name", "Values": ["a.example"]}], "TagSpecifications": [{"ResourceType": "dhcp-options", "Tags": [{"Key": "Name", "Value": "corp"}]}]}`, "InvalidParameterValue"},
		{`{"DhcpConfigurations": [{"Key": "domain-name", "Values": ["a.example"]}], "TagSpecifications": [{"ResourceType": "dhcp-options", "Tags": [{"Key": "Name", "Value": "none"}]}]}`, "InvalidParameterValue"},
	} {
		refused(t, d, "CreateDhcpOptions", c.req, c.code)
	}
	out := callOK(t, d, "CreateDhcpOptions", `{"DhcpConfigurations": [{"Key": "domain-name", "Values": ["Lab.Example"]},
		{"Key": "domain-name-servers", "Values": ["10.9.9.9,AmazonProvidedDNS"]}, {"Key": "ntp-servers", "Values": ["169.254.169.123"]}],
		"TagSpecifications": [{"ResourceType": "dhcp-options", "Tags": [{"Key": "Name", "Value": "lab"}]}]}`).(*types.CreateDhcpOptionsResult)
	lab := deref(out.DhcpOptions.DhcpOptionsId)
	if b, _ := json.Marshal(out.DhcpOptions.DhcpConfigurations); string(b) != `[{"Key":"domain-name","Values":[{"Value":"lab.example"}]},`+
		`{"Key":"domain-name-servers","Values":[{"Value":"10.9.9.9"},{"Value":"AmazonProvidedDNS"}]},{"Key":"ntp-servers","Values":[{"Value":"169.254.169.123"}]}]` {
		t.Fatalf("created: %s", b)
	}

	refused(t, d, "AssociateDhcpOptions", `{"DhcpOptionsId": "dopt-00000000000000000", "VpcId": "my-NewVPC"}`, "InvalidDhcpOptionID.NotFound")
	refused(t, d, "AssociateDhcpOptions", `{"DhcpOptionsId": "`+lab+`", "VpcId": "vpc-nope"}`, "InvalidVpcID.NotFound")
	callOK(t, d, "AssociateDhcpOptions", `{"DhcpOptionsId": "`+lab+`", "VpcId": "`+v.ID+`"}`)
	vpcs = callOK(t, d, "DescribeVpcs", `{"Filters": [{"Name": "dhcp-options-id", "Values": ["`+lab+`"]}]}`).(*types.DescribeVpcsResult)
	if len(vpcs.Vpcs) != 1 || deref(vpcs.Vpcs[0].VpcId) != v.ID {
		t.Fatalf("DescribeVpcs by the new set: %+v", vpcs.Vpcs)
	}
	if rc := topology.ResolvConf(v, d.net); !strings.Contains(rc, "search lab.example\nnameserver 10.9.9.9\nnameserver 92.75.0.2\n") {
		t.Fatalf("resolv.conf with set lab:\n%s", rc)
	}
	refused(t, d, "DeleteDhcpOptions", `{"DhcpOptionsId": "`+lab+`"}`, "DependencyViolation")

	// Export and load: the same sets, the same association.
	e := reloadedSvc(t, d)
	for _, op := range []string{"DescribeDhcpOptions", "DescribeVpcs"} {
		if a, b := describeJSON(t, d, op, `{}`), describeJSON(t, e, op, `{}`); a != b {
			t.Fatalf("%s after export and load:\n%s\nwas\n%s", op, b, a)
		}
	}

	callOK(t, d, "AssociateDhcpOptions", `{"DhcpOptionsId": "default", "VpcId": "my-NewVPC"}`)
	vpcs = callOK(t, d, "DescribeVpcs", `{}`).(*types.DescribeVpcsResult)
	if got := deref(vpcs.Vpcs[0].DhcpOptionsId); got != "default" || v.DHCPOptions != nil {
		t.Fatalf("after associating default: %s", got)
	}
	if rc := topology.ResolvConf(v, d.net); strings.Contains(rc, "search") || !strings.Contains(rc, "nameserver 169.254.169.253\n") {
		t.Fatalf("resolv.conf with no set:\n%s", rc)
	}
	if e := reloadedSvc(t, d); e.net.VPCs[0].DHCPOptions != nil {
		t.Fatal("no set: lost by export and load")
	}
	callOK(t, d, "DeleteDhcpOptions", `{"DhcpOptionsId": "lab"}`)
	refused(t, d, "DeleteDhcpOptions", `{"DhcpOptionsId": "`+lab+`"}`, "InvalidDhcpOptionID.NotFound")
	refused(t, d, "DeleteDhcpOptions", `{"DhcpOptionsId": "`+def.ID+`"}`, "OperationNotPermitted")
}

// TestDNS4_FileChecksDHCPOptions: the file's sets are checked as
// CreateDhcpOptions checks them, and a VPC names one that exists.
func TestDNS4_FileChecksDHCPOptions(t *testing.T) {
	base := strings.Replace(string(topology.Default()), `"address_pools": [`, `"dhcp_options": [DHCP],
  "address_pools": [`, 1)
	for _, c := range []struct{ set, vpc, want string }{
		{`{"name": "x", "domain_name_servers": ["nope"]}`, "", "dhcp_options[0].domain_name_servers"},
		{`{"name": "x"}`, "", "has no option"},
		{`{"name": "none", "domain_name": "a.example"}`, "", "dhcp_options[0].name"},
		{`{"name": "x", "domain_name": "a.example"}`, "y", "dhcp_options"},
	} {
		s := strings.Replace(base, "DHCP", c.set, 1)
		if c.vpc != "" {
			s = strings.Replace(s, `"cidr": "92.75.0.0/16",`, `"cidr": "92.75.0.0/16", "dhcp_options": "`+c.vpc+`",`, 1)
		}
		if _, err := topology.Load([]byte(s)); err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "DNS-4") {
			t.Errorf("%s / %q: got %v, want %s (DNS-4)", c.set, c.vpc, err, c.want)
		}
	}
}

// TestDNS3_ReverseDNSNeedsAForwardRecord: modify-address-attribute sets an
// EIP's PTR record only when a record of the public DNS points the name at
// the address; EC2's answer shows the change PENDING, describe the record;
// release is refused while it is set (InvalidAddress.PtrSet); reset gives
// the public name back; export keeps it.
func TestDNS3_ReverseDNSNeedsAForwardRecord(t *testing.T) {
	d := factsTopo(t, "ptr")
	spare := eipNamed(d, "spare")
	def := "ec2-13-125-5-5.ap-northeast-2.compute.amazonaws.com."
	got := callOK(t, d, "DescribeAddressesAttribute", `{"AllocationIds": ["`+spare.AllocationID+`"], "Attribute": "domain-name"}`).(*types.DescribeAddressesAttributeResult)
	if len(got.Addresses) != 1 || deref(got.Addresses[0].PtrRecord) != def || deref(got.Addresses[0].PublicIp) != "13.125.5.5" {
		t.Fatalf("before: %+v", got.Addresses)
	}
	if all := callOK(t, d, "DescribeAddressesAttribute", `{}`).(*types.DescribeAddressesAttributeResult); len(all.Addresses) != len(d.net.EIPs) {
		t.Fatalf("all EIPs: %d of %d", len(all.Addresses), len(d.net.EIPs))
	}
	for _, c := range []struct{ op, req, code string }{
		{"ModifyAddressAttribute", `{"AllocationId": "spare", "DomainName": "www.example.com"}`, "InvalidParameterValue"},   // points elsewhere
		{"ModifyAddressAttribute", `{"AllocationId": "spare", "DomainName": "other.example.com"}`, "InvalidParameterValue"}, // no record
		{"ModifyAddressAttribute", `{"AllocationId": "spare", "DomainName": "bad_name"}`, "InvalidParameterValue"},
		{"ModifyAddressAttribute", `{"AllocationId": "spare"}`, "MissingParameter"},
		{"ModifyAddressAttribute", `{"AllocationId": "eipalloc-00000000000000000", "DomainName": "mail.example.com"}`, "InvalidAllocationID.NotFound"},
		{"ResetAddressAttribute", `{"AllocationId": "spare", "Attribute": "ptr"}`, "InvalidParameterValue"},
		{"DescribeAddressesAttribute", `{"Attribute": "ptr"}`, "InvalidParameterValue"},
		{"DescribeAddressesAttribute", `{"AllocationIds": ["eipalloc-00000000000000000"]}`, "InvalidAllocationID.NotFound"},
	} {
		refused(t, d, c.op, c.req, c.code)
	}
	m := callOK(t, d, "ModifyAddressAttribute", `{"AllocationId": "`+spare.AllocationID+`", "DomainName": "Mail.Example.com."}`).(*types.ModifyAddressAttributeResult)
	if a := m.Address; deref(a.PtrRecord) != def || a.PtrRecordUpdate == nil || deref(a.PtrRecordUpdate.Value) != "mail.example.com." ||
		deref(a.PtrRecordUpdate.Status) != "PENDING" {
		t.Fatalf("modify answered %+v %+v", a, a.PtrRecordUpdate)
	}
	got = callOK(t, d, "DescribeAddressesAttribute", `{"AllocationIds": ["spare"]}`).(*types.DescribeAddressesAttributeResult)
	if deref(got.Addresses[0].PtrRecord) != "mail.example.com." || got.Addresses[0].PtrRecordUpdate != nil {
		t.Fatalf("after: %+v", got.Addresses[0])
	}
	if e := reloadedSvc(t, d); eipNamed(e, "spare").DomainName != "mail.example.com" {
		t.Fatal("the reverse DNS name is lost by export and load")
	}
	refused(t, d, "ReleaseAddress", `{"AllocationId": "spare"}`, "InvalidAddress.PtrSet")
	r := callOK(t, d, "ResetAddressAttribute", `{"AllocationId": "spare", "Attribute": "domain-name"}`).(*types.ResetAddressAttributeResult)
	if deref(r.Address.PtrRecord) != "mail.example.com." || deref(r.Address.PtrRecordUpdate.Value) != def {
		t.Fatalf("reset answered %+v", r.Address)
	}
	if spare.DomainName != "" {
		t.Fatal("reset left the name")
	}
	callOK(t, d, "ReleaseAddress", `{"AllocationId": "spare"}`)
}

// TestDNS3_FileReverseNameNeedsItsRecord: an EIP's domain_name in the file
// needs a public_dns_records entry pointing it at the address.
func TestDNS3_FileReverseNameNeedsItsRecord(t *testing.T) {
	s := strings.Replace(string(topology.Default()), `{"name": "eip-nat", "address": "13.125.190.82"}`,
		`{"name": "eip-nat", "address": "13.125.190.82", "domain_name": "nat.example.com"}`, 1)
	if _, err := topology.Load([]byte(s)); err == nil || !strings.Contains(err.Error(), "DNS-3") {
		t.Fatalf("no record: %v", err)
	}
	s = strings.Replace(s, `"address_pools": [`, `"public_dns_records": [{"name": "NAT.example.com.", "address": "13.125.190.82"}], "address_pools": [`, 1)
	n, err := topology.Load([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	if n.EIPs[0].DomainName != "nat.example.com" || n.ReverseName(n.EIPs[0]) != "nat.example.com." {
		t.Fatalf("domain name %q", n.EIPs[0].DomainName)
	}
}
