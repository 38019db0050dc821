package ec2

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/vpcnet/vpcnet/ec2/types"
	"github.com/vpcnet/vpcnet/topology"
)

// tagList writes tags as Key=Value, in order.
func tagList(tags []types.Tag) string {
	var out []string
	for _, t := range tags {
		out = append(out, *t.Key+"="+*t.Value)
	}
	return strings.Join(out, " ")
}

func subnetNamed(d *Service, name string) *topology.Subnet {
	for _, v := range d.net.VPCs {
		for _, s := range v.Subnets {
			if s.Name == name {
				return s
			}
		}
	}
	return nil
}

// Tags put with CreateTags show in every describe-* beside the Name tag,
// select with tag:<key> and tag-key, and DescribeTags lists them with
// every resource's Name.
func TestTags_CreateShowsEverywhere(t *testing.T) {
	d, _ := opsService(t, "")
	n := d.net
	v := n.VPCs[0]
	sub, eni, web := subnetNamed(d, "PUB-WEB-2a"), eniNamed(d, "eni-extra"), n.InstanceByName["web"]
	sg, nat, eip := v.SGs[1], v.NATs[0], n.EIPs[0]
	ids := []string{v.ID, sub.ID, eni.ID, web.ID, sg.ID, nat.ID, eip.AllocationID, v.RouteTables[0].ID, v.NACLs[1].ID}
	res, _ := json.Marshal(ids)
	answer[struct{}](t, d, "CreateTags", `{"Resources": `+string(res)+`, "Tags": [{"Key": "env", "Value": "lab"}, {"Key": "Owner", "Value": ""}]}`)
	s := answer[types.DescribeSubnetsResult](t, d, "DescribeSubnets", `{"Filters": [{"Name": "tag:env", "Values": ["lab"]}]}`).Subnets
	if len(s) != 1 || *s[0].SubnetId != sub.ID || tagList(s[0].Tags) != "Name=PUB-WEB-2a Owner= env=lab" {
		t.Fatalf("subnets tagged env=lab: %+v", s)
	}
	checks := map[string]func() string{
		"vpc": func() string {
			return tagList(answer[types.DescribeVpcsResult](t, d, "DescribeVpcs", `{"Filters": [{"Name": "tag-key", "Values": ["Owner"]}]}`).Vpcs[0].Tags)
		},
		"eni": func() string {
			return tagList(answer[types.DescribeNetworkInterfacesResult](t, d, "DescribeNetworkInterfaces", `{"NetworkInterfaceIds": ["`+eni.ID+`"]}`).NetworkInterfaces[0].TagSet)
		},
		"instance": func() string {
			return tagList(answer[types.DescribeInstancesResult](t, d, "DescribeInstances", `{"Filters": [{"Name": "tag:env", "Values": ["lab"]}]}`).Reservations[0].Instances[0].Tags)
		},
		"group": func() string {
			return tagList(answer[types.DescribeSecurityGroupsResult](t, d, "DescribeSecurityGroups", `{"GroupIds": ["`+sg.ID+`"]}`).SecurityGroups[0].Tags)
		},
		"nat": func() string {
			return tagList(answer[types.DescribeNatGatewaysResult](t, d, "DescribeNatGateways", `{"Filter": [{"Name": "tag:env", "Values": ["lab"]}]}`).NatGateways[0].Tags)
		},
		"eip": func() string {
			return tagList(answer[types.DescribeAddressesResult](t, d, "DescribeAddresses", `{"AllocationIds": ["`+eip.AllocationID+`"]}`).Addresses[0].Tags)
		},
		"rtb": func() string {
			return tagList(answer[types.DescribeRouteTablesResult](t, d, "DescribeRouteTables", `{"Filters": [{"Name": "tag:env", "Values": ["lab"]}]}`).RouteTables[0].Tags)
		},
		"acl": func() string {
			return tagList(answer[types.DescribeNetworkAclsResult](t, d, "DescribeNetworkAcls", `{"Filters": [{"Name": "tag:env", "Values": ["lab"]}]}`).NetworkAcls[0].Tags)
		},
	}
	want := map[string]string{"vpc": "Name=my-NewVPC Owner= env=lab", "eni": "Name=eni-extra Owner= env=lab", "instance": "Name=web Owner= env=lab",
		"group": "Owner= env=lab", "nat": "Name=nat-2a Owner= env=lab", "eip": "Name=" + eip.Name + " Owner= env=lab",
		"rtb": "Name=" + v.RouteTables[0].Name + " Owner= env=lab", "acl": "Name=" + v.NACLs[1].Name + " Owner= env=lab"}
	for k, f := range checks {
		if got := f(); got != want[k] {
			t.Errorf("%s: tags %q, want %q", k, got, want[k])
		}
	}
	// An untagged group has no Tags at all, as on EC2.
	if g := answer[types.DescribeSecurityGroupsResult](t, d, "DescribeSecurityGroups", `{"GroupIds": ["`+v.SGs[0].ID+`"]}`).SecurityGroups[0]; g.Tags != nil {
		t.Errorf("untagged group: %+v", g.Tags)
	}
	// DescribeTags: every resource's Name and the tags put on.
	all := answer[types.DescribeTagsResult](t, d, "DescribeTags", `{}`).Tags
	seen := map[string]bool{}
	for _, x := range all {
		seen[*x.ResourceId+" "+string(x.ResourceType)+" "+*x.Key+"="+*x.Value] = true
	}
	for _, w := range []string{sub.ID + " subnet Name=PUB-WEB-2a", sub.ID + " subnet env=lab", web.ID + " instance Name=web",
		v.IGW.ID + " internet-gateway Name=igw-main", sg.ID + " security-group env=lab", eip.AllocationID + " elastic-ip Owner=",
		nat.ID + " natgateway Name=nat-2a", eni.ID + " network-interface env=lab"} {
		if !seen[w] {
			t.Errorf("DescribeTags lacks %s", w)
		}
	}
	for in, want := range map[string]string{
		`{"Filters": [{"Name": "resource-type", "Values": ["subnet"]}, {"Name": "key", "Values": ["env"]}]}`:        sub.ID + " env=lab",
		`{"Filters": [{"Name": "resource-id", "Values": ["` + web.ID + `"]}, {"Name": "value", "Values": ["w*"]}]}`: web.ID + " Name=web",
		`{"Filters": [{"Name": "resource-id", "Values": ["` + sg.ID + `"]}]}`:                                       sg.ID + " Owner= " + sg.ID + " env=lab",
		`{"Filters": [{"Name": "tag:env", "Values": ["lab"]}, {"Name": "resource-type", "Values": ["instance"]}]}`:  web.ID + " Name=web " + web.ID + " Owner= " + web.ID + " env=lab",
	} {
		var got []string
		for _, x := range answer[types.DescribeTagsResult](t, d, "DescribeTags", in).Tags {
			got = append(got, *x.ResourceId+" "+*x.Key+"="+*x.Value)
		}
		if strings.Join(got, " ") != want {
			t.Errorf("%s: %q, want %q", in, strings.Join(got, " "), want)
		}
	}
	// Pages.
	p1 := answer[types.DescribeTagsResult](t, d, "DescribeTags", `{"MaxResults": 5}`)
	p2 := answer[types.DescribeTagsResult](t, d, "DescribeTags", `{"MaxResults": 1000, "NextToken": "`+*p1.NextToken+`"}`)
	if len(p1.Tags) != 5 || len(p1.Tags)+len(p2.Tags) != len(all) || p2.NextToken != nil {
		t.Errorf("pages %d + %d of %d", len(p1.Tags), len(p2.Tags), len(all))
	}
	// Overwriting a tag keeps one tag of that key.
	answer[struct{}](t, d, "CreateTags", `{"Resources": ["`+sub.ID+`"], "Tags": [{"Key": "env", "Value": "prod"}]}`)
	if got := tagList(d.tagsOf(sub.ID, sub.Name)); got != "Name=PUB-WEB-2a Owner= env=prod" {
		t.Errorf("overwritten: %q", got)
	}
}

// The Name tag is the resource's name: CreateTags renames what the file
// lets be renamed; the running network keeps its ids, the export loads
// again with the new names.
func TestTags_NameRenames(t *testing.T) {
	d, _ := opsService(t, "")
	n := d.net
	v := n.VPCs[0]
	var aclDB *topology.NACL
	for _, a := range v.NACLs {
		if a.Name == "acl-db" {
			aclDB = a
		}
	}
	rtPublic, _, _ := d.findRouteTable("rt-public")
	rtPrivate, _, _ := d.findRouteTable("rt-private")
	eip := answer[types.AllocateAddressResult](t, d, "AllocateAddress", `{"Domain": "vpc"}`)
	eni := answer[types.CreateNetworkInterfaceResult](t, d, "CreateNetworkInterface", `{"SubnetId": "PRI-DB-2a"}`).NetworkInterface
	renames := map[string]string{
		subnetNamed(d, "PUB-WEB-2a").ID: "public-a", "rt-private": "private-routes", "acl-db": "db-acl", "nat-2a": "nat-a",
		v.IGW.ID: "gw", *eip.AllocationId: "spare-ip", *eni.NetworkInterfaceId: "spare-eni",
	}
	for ref, name := range renames {
		answer[struct{}](t, d, "CreateTags", fmt.Sprintf(`{"Resources": [%q], "Tags": [{"Key": "Name", "Value": %q}]}`, ref, name))
	}
	got := map[string]string{}
	for _, x := range answer[types.DescribeTagsResult](t, d, "DescribeTags", `{"Filters": [{"Name": "key", "Values": ["Name"]}]}`).Tags {
		got[*x.ResourceId] = *x.Value
	}
	for _, want := range []struct{ id, name string }{{subnetNamed(d, "public-a").ID, "public-a"}, {rtPrivate.ID, "private-routes"},
		{aclDB.ID, "db-acl"}, {v.NATs[0].ID, "nat-a"}, {v.IGW.ID, "gw"}, {*eip.AllocationId, "spare-ip"}, {*eni.NetworkInterfaceId, "spare-eni"}} {
		if got[want.id] != want.name {
			t.Errorf("%s named %q, want %q", want.id, got[want.id], want.name)
		}
	}
	// Routes and lookups follow the new names; ids stay.
	if rtPrivate.Name != "private-routes" || rtPrivate.Routes[1].TargetName != "nat-a" || rtPublic.Routes[1].TargetName != "gw" {
		t.Errorf("route table %s, targets %s %s", rtPrivate.Name, rtPrivate.Routes[1].TargetName, rtPublic.Routes[1].TargetName)
	}
	if s, err := d.findSubnet("public-a"); err != nil || s.ID != n.NewID("subnet", "PUB-WEB-2a") {
		t.Errorf("public-a: %v %v", s, err)
	}
	// The export loads again, with the new names.
	b, _ := json.Marshal(topology.Export(n))
	m, err := topology.Load(b)
	if err != nil {
		t.Fatalf("the export does not load: %v\n%s", err, b)
	}
	names := map[string]bool{}
	for _, e := range m.EIPs {
		names[e.Name] = true
	}
	for _, x := range m.VPCs {
		names[x.IGW.Name] = true
		for _, s := range x.Subnets {
			names[s.Name] = true
		}
		for _, r := range x.RouteTables {
			names[r.Name] = true
		}
		for _, a := range x.NACLs {
			names[a.Name] = true
		}
		for _, g := range x.NATs {
			names[g.Name] = true
		}
		for _, e := range x.ENIs {
			names[e.Name] = true
		}
	}
	for _, name := range renames {
		if !names[name] {
			t.Errorf("the export lost %q: %v", name, names)
		}
	}
	// Its own name again changes nothing.
	state := accountState(t, d)
	answer[struct{}](t, d, "CreateTags", `{"Resources": ["web"], "Tags": [{"Key": "Name", "Value": "web"}]}`)
	if state != accountState(t, d) {
		t.Fatal("naming web web changed something")
	}
	// A group's name is its GroupName: its Name tag is an ordinary tag.
	g := v.SGs[1]
	answer[struct{}](t, d, "CreateTags", `{"Resources": ["`+g.ID+`"], "Tags": [{"Key": "Name", "Value": "web servers"}]}`)
	x := answer[types.DescribeSecurityGroupsResult](t, d, "DescribeSecurityGroups", `{"GroupIds": ["`+g.ID+`"]}`).SecurityGroups[0]
	if *x.GroupName != "my-Web-SecurityGroup" || tagList(x.Tags) != "Name=web servers" {
		t.Errorf("group %s tags %q", *x.GroupName, tagList(x.Tags))
	}
}

// Renames the running network or the file cannot take are refused, with
// EC2's codes and nothing changed.
func TestTags_RenamesRefused(t *testing.T) {
	d, k := opsService(t, "")
	v := d.net.VPCs[0]
	name := func(ref, value string) string {
		return fmt.Sprintf(`{"Resources": [%q], "Tags": [{"Key": "Name", "Value": %q}]}`, ref, value)
	}
	web := d.net.InstanceByName["web"]
	for _, c := range []struct{ req, code, says string }{
		{name("web", "www"), "OperationNotPermitted", "namespace ch5-web"},                    // an instance's name is its namespace's
		{name(web.Primary().ID, "www"), "OperationNotPermitted", "primary network interface"}, // eth0 has its instance's name
		{name(v.ID, "vpc2"), "OperationNotPermitted", "default security group"},
		{name("eni-extra", "x"), "OperationNotPermitted", "attachment id"},
		{name(v.NATs[0].ENI.ID, "x"), "OperationNotPermitted", "ENI-5"},
		{name("eip-web", "x"), "OperationNotPermitted", "association id"},
		{name(v.DefaultNACL.ID, "x"), "OperationNotPermitted", "NACL-3"},
		{name(v.MainRT.ID, "x"), "OperationNotPermitted", "RT-1"},
		{name("PUB-WEB-2a", "PRI-DB-2a"), "InvalidParameterValue", "already used"},
		{name("PUB-WEB-2a", "my-DB-SecurityGroup"), "InvalidParameterValue", "already used"},
		{name("PUB-WEB-2a", "amazon"), "InvalidParameterValue", "already used"},
		{name("PUB-WEB-2a", "local"), "InvalidParameterValue", "reserved"},
		{name("PUB-WEB-2a", "a\tb"), "InvalidParameterValue", "control"},
		{name("PUB-WEB-2a", ""), "InvalidParameterValue", "must not be empty"},
		{name("acl-db", "default"), "InvalidParameterValue", "NACL-3"},
		{`{"Resources": ["PUB-WEB-2a", "PRI-DB-2a"], "Tags": [{"Key": "Name", "Value": "same"}]}`, "InvalidParameterValue", "unique"},
		{`{"Resources": ["PUB-WEB-2a", "web"], "Tags": [{"Key": "Name", "Value": "newname"}]}`, "OperationNotPermitted", "namespace"}, // all or none
	} {
		if msg := refuse(t, d, k, "CreateTags", c.req, c.code); !strings.Contains(msg, c.says) {
			t.Errorf("%s: %q does not say %q", c.req, msg, c.says)
		}
	}
	if d.net.InstanceByName["web"] == nil || subnetNamed(d, "PUB-WEB-2a") == nil {
		t.Fatal("a refused rename renamed")
	}
	// Naming an instance its own name is no rename: accepted.
	answer[struct{}](t, d, "CreateTags", name("web", "web"))
}

// Refused tags, with EC2's codes and nothing changed: reserved and
// oversized keys and values, too many tags, unknown resources, the Name of
// a resource deleted.
func TestTags_Refused(t *testing.T) {
	d, k := opsService(t, "")
	sub := subnetNamed(d, "PUB-WEB-2a").ID
	tag := func(key, value string) string {
		return fmt.Sprintf(`{"Resources": [%q], "Tags": [{"Key": %q, "Value": %q}]}`, sub, key, value)
	}
	var fifty []string
	for i := range 50 {
		fifty = append(fifty, fmt.Sprintf(`{"Key": "k%d", "Value": "v"}`, i))
	}
	for _, c := range []struct{ op, req, code string }{
		{"CreateTags", tag("aws:cloudformation:stack-name", "x"), "InvalidParameterValue"},
		{"CreateTags", tag("AWS:x", "x"), "InvalidParameterValue"},
		{"CreateTags", tag("", "x"), "InvalidParameterValue"},
		{"CreateTags", tag(strings.Repeat("k", 129), "x"), "InvalidParameterValue"},
		{"CreateTags", tag("k", strings.Repeat("v", 257)), "InvalidParameterValue"},
		{"CreateTags", tag("k", "a\nb"), "InvalidParameterValue"},
		{"CreateTags", `{"Resources": ["` + sub + `"], "Tags": [{"Key": "k", "Value": "1"}, {"Key": "k", "Value": "2"}]}`, "InvalidParameterValue"},
		{"CreateTags", `{"Resources": ["` + sub + `"], "Tags": [` + strings.Join(fifty, ",") + `]}`, "TagLimitExceeded"}, // 50 and the Name
		{"CreateTags", `{"Resources": ["` + sub + `"], "Tags": []}`, "MissingParameter"},
		{"CreateTags", `{"Resources": [], "Tags": [{"Key": "k", "Value": "v"}]}`, "MissingParameter"},
		{"CreateTags", `{"Resources": ["subnet-0123456789abcdef0"], "Tags": [{"Key": "k", "Value": "v"}]}`, "InvalidSubnetID.NotFound"},
		{"CreateTags", `{"Resources": ["` + sub + `", "i-0123456789abcdef0"], "Tags": [{"Key": "k", "Value": "v"}]}`, "InvalidInstanceID.NotFound"},
		{"CreateTags", `{"Resources": ["nothing"], "Tags": [{"Key": "k", "Value": "v"}]}`, "InvalidID"},
		{"CreateTags", `{"Resources": ["` + launchImageID + `"], "Tags": [{"Key": "k", "Value": "v"}]}`, "InvalidID"},
		{"CreateTags", `{"Resources": ["` + sub + `"], "Tags": [{"Key": "k", "Value": "v"}], "DryRun": true}`, "DryRunOperation"},
		{"DeleteTags", `{"Resources": ["` + sub + `"], "Tags": [{"Key": "Name"}]}`, "OperationNotPermitted"},
		{"DeleteTags", `{"Resources": ["` + sub + `"], "Tags": [{"Key": "Name", "Value": "PUB-WEB-2a"}]}`, "OperationNotPermitted"},
		{"DeleteTags", `{"Resources": ["nope-1"]}`, "InvalidID"},
		{"DescribeTags", `{"Filters": [{"Name": "colour", "Values": ["x"]}]}`, "InvalidParameterValue"},
		{"DescribeTags", `{"MaxResults": 4}`, "InvalidParameterValue"},
	} {
		refuse(t, d, k, c.op, c.req, c.code)
	}
	// 49 more tags fit beside the Name; a 50th does not, in a later call.
	answer[struct{}](t, d, "CreateTags", `{"Resources": ["`+sub+`"], "Tags": [`+strings.Join(fifty[:49], ",")+`]}`)
	refuse(t, d, k, "CreateTags", tag("one-more", "x"), "TagLimitExceeded")
	answer[struct{}](t, d, "CreateTags", tag("k0", "overwritten")) // an existing key is no new tag
}

// DeleteTags: a tag named with a value goes only with that value, one
// named without whatever its value; none named: every tag but the Name
// that is the resource's name.
func TestTags_Delete(t *testing.T) {
	d, _ := opsService(t, "")
	sub := subnetNamed(d, "PUB-WEB-2a")
	sg := d.net.VPCs[0].SGs[1]
	answer[struct{}](t, d, "CreateTags", `{"Resources": ["`+sub.ID+`", "`+sg.ID+`"], "Tags": [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"},
		{"Key": "c", "Value": ""}, {"Key": "Name", "Value": "PUB-WEB-2a"}]}`)
	if got := tagList(d.tagsOf(sg.ID, "")); got != "Name=PUB-WEB-2a a=1 b=2 c=" {
		t.Fatalf("group tags (its Name is a tag): %q", got)
	}
	for _, c := range []struct{ req, want string }{
		{`[{"Key": "a", "Value": "9"}]`, "Name=PUB-WEB-2a a=1 b=2 c="}, // another value: kept
		{`[{"Key": "a", "Value": "1"}]`, "Name=PUB-WEB-2a b=2 c="},
		{`[{"Key": "b"}, {"Key": "zz"}]`, "Name=PUB-WEB-2a c="},
		{`[{"Key": "c", "Value": ""}]`, "Name=PUB-WEB-2a"},
	} {
		answer[struct{}](t, d, "DeleteTags", `{"Resources": ["`+sub.ID+`"], "Tags": `+c.req+`}`)
		if got := tagList(d.tagsOf(sub.ID, sub.Name)); got != c.want {
			t.Errorf("delete %s: %q, want %q", c.req, got, c.want)
		}
	}
	answer[struct{}](t, d, "DeleteTags", `{"Resources": ["`+sg.ID+`"], "Tags": [{"Key": "Name"}]}`) // a group's Name is a tag
	answer[struct{}](t, d, "DeleteTags", `{"Resources": ["`+sg.ID+`", "`+sub.ID+`"]}`)
	if got := tagList(d.tagsOf(sg.ID, "")) + "|" + tagList(d.tagsOf(sub.ID, sub.Name)); got != "|Name=PUB-WEB-2a" {
		t.Errorf("after deleting all: %q", got)
	}
	if len(d.account().tags) != 0 {
		t.Errorf("empty tag sets kept: %v", d.account().tags)
	}
}

// A resource deleted and made again under its name (the same id) starts
// without the tags of the one that went (issue 10 item 13: deleted
// resources keep no state).
func TestTags_DeletedResourceForgetsTags(t *testing.T) {
	d, _ := opsService(t, "")
	create := `{"SubnetId": "PRI-DB-2a", "TagSpecifications": [{"ResourceType": "network-interface", "Tags": [{"Key": "Name", "Value": "tmp"}]}]}`
	e := answer[types.CreateNetworkInterfaceResult](t, d, "CreateNetworkInterface", create).NetworkInterface
	answer[struct{}](t, d, "CreateTags", `{"Resources": ["`+*e.NetworkInterfaceId+`"], "Tags": [{"Key": "secret", "Value": "s"}]}`)
	answer[struct{}](t, d, "DeleteNetworkInterface", `{"NetworkInterfaceId": "`+*e.NetworkInterfaceId+`"}`)
	again := answer[types.CreateNetworkInterfaceResult](t, d, "CreateNetworkInterface", create).NetworkInterface
	if *again.NetworkInterfaceId != *e.NetworkInterfaceId {
		t.Fatalf("ids %s, %s: the test needs the same id", *e.NetworkInterfaceId, *again.NetworkInterfaceId)
	}
	x := answer[types.DescribeNetworkInterfacesResult](t, d, "DescribeNetworkInterfaces", `{"NetworkInterfaceIds": ["`+*again.NetworkInterfaceId+`"]}`)
	if got := tagList(x.NetworkInterfaces[0].TagSet); got != "Name=tmp" {
		t.Fatalf("the new ENI shows %q", got)
	}
	for _, tg := range answer[types.DescribeTagsResult](t, d, "DescribeTags", `{}`).Tags {
		if *tg.Key == "secret" {
			t.Fatalf("DescribeTags shows the deleted ENI's tag")
		}
	}
}

// Tags given at creation (TagSpecifications, as Terraform and the AWS CLI
// send them) are on the new resource, Name as its name and the rest as
// tags; a bad one refuses the creation with nothing made.
func TestTagsAtCreation(t *testing.T) {
	d := rulesSvc(t, "")
	out := callOK(t, d, "CreateVpc", `{"CidrBlock": "10.77.0.0/16", "TagSpecifications": [{"ResourceType": "vpc", "Tags": [{"Key": "Name", "Value": "tf"}, {"Key": "env", "Value": "prod"}, {"Key": "team", "Value": "net"}]}]}`)
	id := *out.(*types.CreateVpcResult).Vpc.VpcId
	got := map[string]string{}
	for _, tg := range d.tagsOf(id, "tf") {
		got[*tg.Key] = *tg.Value
	}
	if len(got) != 3 || got["Name"] != "tf" || got["env"] != "prod" || got["team"] != "net" {
		t.Fatalf("tags of the new VPC: %v", got)
	}
	refused(t, d, "CreateVpc", `{"CidrBlock": "10.78.0.0/16", "TagSpecifications": [{"ResourceType": "vpc", "Tags": [{"Key": "aws:x", "Value": "y"}]}]}`, "InvalidParameterValue")
	// Only the new resource is tagged, not others of its type.
	for _, v := range d.net.VPCs {
		if v.ID != id && len(d.tagsOf(v.ID, v.Name)) > 1 {
			t.Errorf("VPC %s got tags it was not given: %v", v.ID, d.tagsOf(v.ID, v.Name))
		}
	}
}

// A Name and 50 other tags are 51: refused before anything is made.
func TestTagsAtCreationLimit(t *testing.T) {
	d := rulesSvc(t, "")
	tags := `{"Key": "Name", "Value": "many"}`
	for i := range 50 {
		tags += fmt.Sprintf(`, {"Key": "k%d", "Value": "v"}`, i)
	}
	refused(t, d, "CreateVpc", `{"CidrBlock": "10.79.0.0/16", "TagSpecifications": [{"ResourceType": "vpc", "Tags": [`+tags+`]}]}`, "TagLimitExceeded")
}
