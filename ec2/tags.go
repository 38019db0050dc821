package ec2

import (
	"maps"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/vpcnet/vpcnet/ec2/types"
	"github.com/vpcnet/vpcnet/topology"
)

// Tags (issue 11): CreateTags, DeleteTags, DescribeTags on vpcnet's
// resources, and tag:<key> and tag-key filters on every describe-*.
//
// The Name tag is the resource's name, the name topo.json gives it: tagging
// Name renames the resource where the file allows it and the running
// network's ids do not depend on the name (renameProblem says where not: an
// instance's name is its namespace's, a VPC's names its default group's,
// NACL's and main table's ids …). A renamed resource keeps its id while the
// network runs; since topo.json holds names only, a network exported and
// brought up again derives ids from the new names. A security group's name
// is its GroupName and a key pair's its KeyName: their Name tag is an
// ordinary tag.
//
// Other tags are the account's, kept by the Service in memory (account), by
// resource id: describe-* show them, and export writes them into topo.json's
// "tags" (export.go), from which New takes them back. A tag belongs to the resource
// object it was put on: a resource deleted and made again under the same
// name (and so the same id) starts without tags.

func init() {
	Define("CreateTags", Mutating, (*Service).createTags)
	Define("DeleteTags", Mutating, (*Service).deleteTags)
	Define("DescribeTags", ReadOnly, (*Service).describeTags)
}

// EC2's limits on tags.
const (
	maxTagsPerResource = 50
	maxTagKey          = 128 // characters
	maxTagValue        = 256 // characters
	maxTagResources    = 1000
)

// tagSet is the tags of one resource, but the Name that is its name.
type tagSet struct {
	of   any // the resource tagged: its object in the model (*topology.Subnet …) or its *keyPair
	tags map[string]string
}

// resource is one resource tags may be put on.
type resource struct {
	id   string
	kind types.ResourceType
	name string // its name, shown as its Name tag; "" for a group or key pair, whose Name tag is an ordinary tag
	obj  any    // its object in the model, or its *keyPair
}

// resources lists every resource of the network and the account that takes
// tags, by id.
func (d *Service) resources() []resource {
	var out []resource
	add := func(id string, kind types.ResourceType, name string, obj any) {
		out = append(out, resource{id: id, kind: kind, name: name, obj: obj})
	}
	for _, e := range d.net.EIPs {
		add(e.AllocationID, types.ResourceTypeElasticIp, e.Name, e)
	}
	for _, p := range d.net.Peerings {
		add(p.ID, types.ResourceTypeVpcPeeringConnection, p.Name, p)
	}
	for _, g := range d.net.DetachedIGWs {
		add(g.ID, types.ResourceTypeInternetGateway, g.Name, g)
	}
	for _, v := range d.net.VPCs {
		add(v.ID, types.ResourceTypeVpc, v.Name, v)
		if v.IGW != nil {
			add(v.IGW.ID, types.ResourceTypeInternetGateway, v.IGW.Name, v.IGW)
		}
		for _, s := range v.Subnets {
			add(s.ID, types.ResourceTypeSubnet, s.Name, s)
		}
		for _, t := range v.RouteTables {
			add(t.ID, types.ResourceTypeRouteTable, t.Name, t)
		}
		for _, a := range v.NACLs {
			add(a.ID, types.ResourceTypeNetworkAcl, a.Name, a)
		}
		for _, g := range v.SGs {
			add(g.ID, types.ResourceTypeSecurityGroup, "", g)
		}
		for _, e := range v.ENIs {
			add(e.ID, types.ResourceTypeNetworkInterface, e.Name, e)
		}
		for _, i := range v.Instances {
			add(i.ID, types.ResourceTypeInstance, i.Name, i)
		}
		for _, g := range v.NATs {
			add(g.ID, types.ResourceTypeNatgateway, g.Name, g)
		}
	}
	for _, k := range d.account().keys {
		add(k.id, types.ResourceTypeKeyPair, "", k)
	}
	slices.SortStableFunc(out, func(a, b resource) int { return strings.Compare(a.id, b.id) })
	return out
}

// liveTags returns the tags of resource id, object obj: none if they were
// put on an object that is gone (a resource of the same id made again).
func (d *Service) liveTags(id string, obj any) map[string]string {
	ts := d.account().tags[id]
	if ts == nil || ts.of != obj {
		return nil
	}
	return ts.tags
}

// tagsOf is the tag list of resource id, named name ("" for a group or key
// pair): its Name tag and the tags the account put on it, by key. Every
// describe-* shows a resource's tags with it; nil for none.
func (d *Service) tagsOf(id, name string) []types.Tag {
	var out []types.Tag
	if name != "" {
		out = nameTags(name)
	}
	ts := d.account().tags[id]
	if ts == nil {
		return out
	}
	var obj any
	all := d.resources()
	if i := slices.IndexFunc(all, func(r resource) bool { return r.id == id }); i >= 0 {
		obj = all[i].obj
	}
	tags := d.liveTags(id, obj)
	for _, k := range slices.Sorted(maps.Keys(tags)) {
		out = append(out, types.Tag{Key: ptr(k), Value: ptr(tags[k])})
	}
	slices.SortStableFunc(out, func(a, b types.Tag) int { return strings.Compare(*a.Key, *b.Key) })
	return out
}

// sweepTags forgets the tags of resources that are gone.
func (d *Service) sweepTags() {
	live := map[string]any{}
	for _, r := range d.resources() {
		live[r.id] = r.obj
	}
	a := d.account()
	for id, ts := range a.tags {
		if obj, ok := live[id]; !ok || obj != ts.of {
			delete(a.tags, id)
		}
	}
}

// checkTags checks tags as EC2 does: a key of 1 to 128 characters, not
// aws:…, a value of at most 256, no key twice, at most 50. Control
// characters are refused too (issue 10: what vpcnet prints stays one line).
// With nameIsTag false, Name is the resource's name and its value must not
// be empty.
func checkTags(tags []types.Tag, nameIsTag bool) error {
	if len(tags) > maxTagsPerResource {
		return opErr("TagLimitExceeded", "The maximum number of tags per resource is %d, not %d", maxTagsPerResource, len(tags))
	}
	seen := map[string]bool{}
	control := func(c rune) bool { return c < 0x20 || c == 0x7f }
	for _, t := range tags {
		k, v := deref(t.Key), deref(t.Value)
		switch {
		case t.Key == nil || k == "":
			return opErr("InvalidParameterValue", "Tag keys must not be empty")
		case !utf8.ValidString(k) || utf8.RuneCountInString(k) > maxTagKey || strings.ContainsFunc(k, control):
			return opErr("InvalidParameterValue", "Tag key %.140q is invalid: 1 to %d characters, no control characters", k, maxTagKey)
		case strings.HasPrefix(strings.ToLower(k), "aws:"):
			return opErr("InvalidParameterValue", "Tag keys starting with 'aws:' are reserved for internal use")
		case !utf8.ValidString(v) || utf8.RuneCountInString(v) > maxTagValue || strings.ContainsFunc(v, control):
			return opErr("InvalidParameterValue", "Tag value of key %q is invalid: at most %d characters, no control characters", k, maxTagValue)
		case seen[k]:
			return opErr("InvalidParameterValue", "The tag key '%s' is given more than once", k)
		case k == "Name" && !nameIsTag && v == "":
			return opErr("InvalidParameterValue", "The Name tag is the resource's name: its value must not be empty")
		}
		seen[k] = true
	}
	return nil
}

// resolveResources finds the resources refs name, by id (or, as vpcnet
// takes names wherever ids, by name), each once, all or none.
func (d *Service) resolveResources(refs []string) ([]resource, error) {
	if len(refs) == 0 {
		return nil, opErr("MissingParameter", "The request must contain the parameter ResourceId")
	}
	if len(refs) > maxTagResources {
		return nil, opErr("InvalidParameterValue", "At most %d resources may be tagged at once, not %d", maxTagResources, len(refs))
	}
	all := d.resources()
	var out []resource
	for _, ref := range refs {
		i := slices.IndexFunc(all, func(r resource) bool { return r.id == ref })
		if i < 0 && ref != "" {
			// By name: an instance's eth0 and a NAT gateway's ENI carry
			// their owner's name, which names the owner.
			i = slices.IndexFunc(all, func(r resource) bool { return r.name == ref && r.kind != types.ResourceTypeNetworkInterface })
			if i < 0 {
				i = slices.IndexFunc(all, func(r resource) bool { return r.name == ref })
			}
		}
		if i < 0 {
			return nil, resourceNotFound(ref)
		}
		if !slices.ContainsFunc(out, func(r resource) bool { return r.id == all[i].id }) {
			out = append(out, all[i])
		}
	}
	return out, nil
}

// resourceNotFound is EC2's error for an id that names no resource: the
// not-found code of its kind, or InvalidID.
func resourceNotFound(id string) error {
	codes := []struct{ prefix, code, what string }{
		{"i-", "InvalidInstanceID.NotFound", "instance ID"},
		{"vpc-", "InvalidVpcID.NotFound", "vpc ID"},
		{"subnet-", "InvalidSubnetID.NotFound", "subnet ID"},
		{"sg-", "InvalidGroup.NotFound", "security group"},
		{"rtb-", "InvalidRouteTableID.NotFound", "routeTable ID"},
		{"acl-", "InvalidNetworkAclID.NotFound", "network ACL ID"},
		{"eni-", "InvalidNetworkInterfaceID.NotFound", "networkInterface ID"},
		{"eipalloc-", "InvalidAllocationID.NotFound", "allocation ID"},
		{"nat-", "InvalidNatGatewayID.NotFound", "NAT gateway ID"},
		{"igw-", "InvalidInternetGatewayID.NotFound", "internetGateway ID"},
		{"pcx-", "InvalidVpcPeeringConnectionID.NotFound", "vpcPeeringConnection ID"},
		{"key-", "InvalidKeyPair.NotFound", "key pair ID"},
	}
	for _, c := range codes {
		if strings.HasPrefix(id, c.prefix) {
			return opErr(c.code, "The %s '%s' does not exist", c.what, id)
		}
	}
	return opErr("InvalidID", "The ID '%s' is not valid", id)
}

// --- renames: the Name tag ---------------------------------------------------------

// renameProblem says why resource r cannot be named name (nil if it can).
// The name must be one the file takes for its kind and used by no other
// resource (names are one namespace in topo.json), and the resource one
// whose name the running network does not build on.
func (d *Service) renameProblem(r resource, name string) error {
	if name == r.name {
		return nil
	}
	no := func(format string, args ...any) error {
		return opErr("OperationNotPermitted", "The Name tag of %s is its name %q: "+format, append([]any{r.id, r.name}, args...)...)
	}
	kind := ""
	switch x := r.obj.(type) {
	case *topology.Instance:
		return no("it names the instance's network namespace %s and its host name, so vpcnet cannot rename an instance", x.Namespace)
	case *topology.VPC:
		return no("the ids of the VPC's default security group, network ACL and main route table derive from it, so vpcnet cannot rename a VPC")
	case *topology.ENI:
		kind = topology.KindENI
		switch {
		case x.NAT != nil:
			return no("the network interface is requester-managed by NAT gateway %s and named after it; rename the NAT gateway (ENI-5)", x.NAT.ID)
		case x.Instance != nil && x.DeviceIndex == 0:
			return no("it is the primary network interface of instance %s and has the instance's name", x.Instance.ID)
		case x.Instance != nil:
			return no("its attachment id %s derives from it; detach it from %s to rename it", attachmentID(d.net, x), x.Instance.ID)
		}
		for _, e := range d.net.EIPs {
			if e.ENI == x {
				return no("the id of its association with Elastic IP %s derives from it; disassociate the address to rename it", e.AllocationID)
			}
		}
	case *topology.EIP:
		kind = topology.KindEIP
		if x.ENI != nil {
			return no("its association id %s derives from it; disassociate the address to rename it", associationID(d.net, x))
		}
	case *topology.NACL:
		kind = "network ACL"
		if x.Default {
			return no("it is its VPC's default network ACL (NACL-3)")
		}
	case *topology.RouteTable:
		kind = "route table"
		for _, v := range d.net.VPCs {
			if x == v.MainRT && x.ID == d.net.NewID("rtb", "main\x00"+v.Name) {
				return no("it is the main route table that VPC %s has without the file naming one (RT-1)", v.ID)
			}
		}
	case *topology.Subnet:
		kind = "subnet"
	case *topology.NATGateway:
		kind = "NAT gateway"
	case *topology.IGW:
		kind = "internet gateway"
	case *topology.Peering:
		kind = "peering connection"
	default:
		return no("it cannot be renamed")
	}
	if err := topology.CheckResourceName(kind, name); err != nil {
		return opErr("InvalidParameterValue", "%v", err)
	}
	if d.names()[name] {
		return opErr("InvalidParameterValue", "The name '%s' is already used by another resource", name)
	}
	return nil
}

// rename names resource r name (renameProblem said it may), and the routes
// that point at it say so.
func (d *Service) rename(r resource, name string) {
	if name == r.name {
		return
	}
	switch x := r.obj.(type) {
	case *topology.Subnet:
		x.Name = name
	case *topology.RouteTable:
		x.Name = name
	case *topology.NACL:
		x.Name = name
	case *topology.EIP:
		x.Name = name
	case *topology.ENI:
		x.Name = name
	case *topology.NATGateway:
		// Its ENI keeps its name: the id of the EIP's association derives
		// from it. The file names the ENI after the gateway, so a network
		// exported and brought up again has both renamed.
		x.Name = name
	case *topology.IGW:
		x.Name = name
	case *topology.Peering:
		x.Name = name
	}
	_, igw := r.obj.(*topology.IGW)
	for _, v := range d.net.VPCs {
		for _, t := range v.RouteTables {
			for _, rt := range t.Routes {
				// A route names its internet gateway (RT-3), attached or not.
				if (rt.ENI != nil && rt.ENI == r.obj) || (rt.NAT != nil && rt.NAT == r.obj) ||
					(rt.Peering != nil && rt.Peering == r.obj) || (igw && rt.Kind == topology.TargetIGW && rt.TargetName == r.name) {
					rt.TargetName = name
				}
			}
		}
	}
}

// --- CreateTags ----------------------------------------------------------------------

// createTags adds or overwrites tags on resources, all or none. Name
// renames the resource (renameProblem), for a group or key pair it is an
// ordinary tag.
func (d *Service) createTags(in *types.CreateTagsRequest) (*struct{}, error) {
	rs, err := d.resolveResources(in.Resources)
	if err != nil {
		return nil, err
	}
	if len(in.Tags) == 0 {
		return nil, opErr("MissingParameter", "The request must contain the parameter Tags")
	}
	d.sweepTags()
	renamed := map[string]string{} // new name → id of the resource taking it
	for _, r := range rs {
		if err := checkTags(in.Tags, r.name == ""); err != nil {
			return nil, err
		}
		have := d.liveTags(r.id, r.obj)
		count := len(have)
		if r.name != "" {
			count++ // its Name
		}
		for _, t := range in.Tags {
			k, v := *t.Key, deref(t.Value)
			if k == "Name" && r.name != "" {
				if err := d.renameProblem(r, v); err != nil {
					return nil, err
				}
				if other, ok := renamed[v]; ok && v != r.name {
					return nil, opErr("InvalidParameterValue", "The name '%s' is given to %s and %s: names are unique", v, other, r.id)
				}
				renamed[v] = r.id
				continue
			}
			if _, ok := have[k]; !ok {
				count++
			}
		}
		if count > maxTagsPerResource {
			return nil, opErr("TagLimitExceeded", "Resource %s would have %d tags: at most %d", r.id, count, maxTagsPerResource)
		}
	}
	a := d.account()
	for _, r := range rs {
		for _, t := range in.Tags {
			k, v := *t.Key, deref(t.Value)
			if k == "Name" && r.name != "" {
				d.rename(r, v)
				continue
			}
			ts := a.tags[r.id]
			if ts == nil {
				ts = &tagSet{of: r.obj, tags: map[string]string{}}
				a.tags[r.id] = ts
			}
			ts.tags[k] = v
		}
	}
	return nil, nil
}

// --- DeleteTags ----------------------------------------------------------------------

// deleteTags removes tags from resources: a tag given with a value only if
// it has that value, one given without whatever its value; all tags when
// none is given (EC2's way). The Name that is a resource's name stays: a
// request naming it is refused, one naming no tag leaves it.
func (d *Service) deleteTags(in *types.DeleteTagsRequest) (*struct{}, error) {
	rs, err := d.resolveResources(in.Resources)
	if err != nil {
		return nil, err
	}
	for _, t := range in.Tags {
		if deref(t.Key) == "" {
			return nil, opErr("InvalidParameterValue", "Tag keys must not be empty")
		}
	}
	for _, r := range rs {
		for _, t := range in.Tags {
			if *t.Key == "Name" && r.name != "" && (t.Value == nil || *t.Value == r.name) {
				return nil, opErr("OperationNotPermitted", "The Name tag of %s is its name %q, which a vpcnet resource always has: rename it with CreateTags", r.id, r.name)
			}
		}
	}
	d.sweepTags()
	a := d.account()
	for _, r := range rs {
		have := d.liveTags(r.id, r.obj)
		if len(in.Tags) == 0 {
			clear(have)
		}
		for _, t := range in.Tags {
			if v, ok := have[*t.Key]; ok && (t.Value == nil || *t.Value == v) {
				delete(have, *t.Key)
			}
		}
		if ts := a.tags[r.id]; ts != nil && len(ts.tags) == 0 {
			delete(a.tags, r.id)
		}
	}
	return nil, nil
}

// --- DescribeTags --------------------------------------------------------------------

// tagFilters are DescribeTags' filters.
var tagFilters = filters[types.TagDescription]{
	"key":           func(t *types.TagDescription) []string { return one(t.Key) },
	"value":         func(t *types.TagDescription) []string { return one(t.Value) },
	"resource-id":   func(t *types.TagDescription) []string { return one(t.ResourceId) },
	"resource-type": func(t *types.TagDescription) []string { return []string{string(t.ResourceType)} },
}

// describeTags lists every tag of every resource, its Name included, by
// resource id and key. tag:<key> and tag-key select the tags of the
// resources that have such a tag.
func (d *Service) describeTags(in *types.DescribeTagsRequest) (*types.DescribeTagsResult, error) {
	all := []types.TagDescription{}
	tagsByID := map[string][]types.Tag{}
	for _, r := range d.resources() {
		tags := d.tagsOf(r.id, r.name)
		tagsByID[r.id] = tags
		for _, t := range tags {
			all = append(all, types.TagDescription{Key: t.Key, ResourceId: ptr(r.id), ResourceType: r.kind, Value: t.Value})
		}
	}
	out, err := selectItems(all, in.Filters, tagFilters, func(t *types.TagDescription) []types.Tag { return tagsByID[*t.ResourceId] })
	if err != nil {
		return nil, err
	}
	out, next, err := page(out, in.MaxResults, in.NextToken, 5, 1000)
	if err != nil {
		return nil, err
	}
	return &types.DescribeTagsResult{Tags: append([]types.TagDescription{}, out...), NextToken: next}, nil
}
