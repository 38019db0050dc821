package imds

import (
	"encoding/json"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// The metadata tree of one instance, built from its facts for each request:
// a directory lists its entries one a line, a directory's name ending in
// '/', in name order as AWS lists them; a value is its text with no newline
// at the end; several values are newline-separated.

// node is a directory (isDir) or a value.
type node struct {
	name  string
	isDir bool
	kids  []node
	// bare: the listing's directories have no '/' (the root's versions,
	// a version's categories: AWS lists them so).
	bare  bool
	value []byte
	ctype string
}

const (
	textPlain   = "text/plain"
	octetStream = "application/octet-stream"
	maxPath     = 1024 // longer paths are 404 unread: no path of the tree is near it
)

func leaf(name, value string) node { return node{name: name, value: []byte(value), ctype: textPlain} }

func dir(name string, kids ...node) node { return node{name: name, isDir: true, kids: kids} }

func lines[T any](xs []T, f func(T) string) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = f(x)
	}
	return strings.Join(s, "\n")
}

func addr(a netip.Addr) string     { return a.String() }
func prefix(p netip.Prefix) string { return p.String() }
func same(s string) string         { return s }

// versions are the metadata versions the root lists. Each serves the same
// tree as latest (vpcnet keeps one version of the categories).
var versions = []string{"1.0", "2007-01-19", "2007-03-01", "2007-08-29", "2007-10-10", "2007-12-15",
	"2008-02-01", "2008-09-01", "2009-04-04", "2011-01-01", "2011-05-01", "2012-01-12", "2014-02-25",
	"2014-11-05", "2015-10-20", "2016-04-01", "2016-06-30", "2016-09-02", "2018-03-28", "2018-08-17",
	"2018-09-24", "2019-10-01", "2020-10-27", "2021-01-03", "2021-03-23", "2021-07-15", "2022-09-24", "latest"}

// tree is inst's metadata: the root, which lists the versions.
func tree(inst *Instance) node {
	v := version(inst)
	root := node{isDir: true, bare: true}
	for _, name := range versions {
		v.name = name
		root.kids = append(root.kids, v)
	}
	return root
}

// version is a version's directory: dynamic/, meta-data/, user-data.
func version(inst *Instance) node {
	v := dir("", dir("dynamic", dir("instance-identity", node{name: "document", value: identity(inst), ctype: textPlain})),
		metaData(inst))
	v.bare = true
	if inst.HasUserData {
		v.kids = append(v.kids, node{name: "user-data", value: inst.UserData, ctype: octetStream})
	}
	return v
}

func metaData(inst *Instance) node {
	mac := ""
	if len(inst.Interfaces) > 0 {
		mac = inst.Interfaces[0].MAC
	}
	md := dir("meta-data",
		leaf("ami-id", inst.ImageID),
		leaf("ami-launch-index", strconv.Itoa(inst.LaunchIndex)),
		leaf("hostname", inst.LocalHostname),
		leaf("instance-id", inst.ID),
		leaf("instance-type", inst.Type),
		leaf("local-hostname", inst.LocalHostname),
		leaf("local-ipv4", inst.PrivateIP.String()),
		leaf("mac", mac),
		dir("network", dir("interfaces", macs(inst))),
		dir("placement", leaf("availability-zone", inst.AZ), leaf("region", inst.Region)))
	if inst.PublicHostname != "" { // DNS-2: a public IP and the VPC's DNS hostnames on
		md.kids = append(md.kids, leaf("public-hostname", inst.PublicHostname))
	}
	if inst.PublicIP.IsValid() {
		md.kids = append(md.kids, leaf("public-ipv4", inst.PublicIP.String()))
	}
	md.kids = append(md.kids,
		leaf("reservation-id", inst.ReservationID),
		leaf("security-groups", lines(inst.SecurityGroups, same)),
		dir("services", leaf("domain", "amazonaws.com"), leaf("partition", "aws")))
	return md
}

// macs is network/interfaces/macs/: one directory per interface.
func macs(inst *Instance) node {
	d := dir("macs")
	for _, e := range inst.Interfaces {
		m := dir(e.MAC,
			leaf("device-number", strconv.Itoa(e.DeviceNumber)),
			leaf("interface-id", e.ID))
		if len(e.Associations) > 0 {
			as := dir("ipv4-associations")
			for _, a := range e.Associations {
				as.kids = append(as.kids, leaf(a.Public.String(), a.Private.String()))
			}
			m.kids = append(m.kids, as)
		}
		m.kids = append(m.kids,
			leaf("local-hostname", e.LocalHostname),
			leaf("local-ipv4s", lines(e.LocalIPv4s, addr)),
			leaf("mac", e.MAC),
			leaf("owner-id", e.OwnerID))
		if e.PublicHostname != "" {
			m.kids = append(m.kids, leaf("public-hostname", e.PublicHostname))
		}
		if len(e.Associations) > 0 {
			m.kids = append(m.kids, leaf("public-ipv4s", lines(e.Associations, func(a Association) string { return a.Public.String() })))
		}
		var vpcCIDR netip.Prefix
		if len(e.VPCCIDRs) > 0 {
			vpcCIDR = e.VPCCIDRs[0]
		}
		m.kids = append(m.kids,
			leaf("security-group-ids", lines(e.SecurityGroupIDs, same)),
			leaf("security-groups", lines(e.SecurityGroups, same)),
			leaf("subnet-id", e.SubnetID),
			leaf("subnet-ipv4-cidr-block", e.SubnetCIDR.String()),
			leaf("vpc-id", e.VPCID),
			leaf("vpc-ipv4-cidr-block", vpcCIDR.String()),
			leaf("vpc-ipv4-cidr-blocks", lines(e.VPCCIDRs, prefix)))
		d.kids = append(d.kids, m)
	}
	return d
}

// identity is the instance identity document, in AWS's layout (its
// " : " separators and member order).
func identity(inst *Instance) []byte {
	q := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	members := [][2]string{
		{"accountId", q(inst.AccountID)},
		{"architecture", q("x86_64")},
		{"availabilityZone", q(inst.AZ)},
		{"billingProducts", "null"},
		{"devpayProductCodes", "null"},
		{"marketplaceProductCodes", "null"},
		{"imageId", q(inst.ImageID)},
		{"instanceId", q(inst.ID)},
		{"instanceType", q(inst.Type)},
		{"kernelId", "null"},
		{"pendingTime", q(inst.PendingTime.UTC().Format(time.RFC3339))},
		{"privateIp", q(inst.PrivateIP.String())},
		{"ramdiskId", "null"},
		{"region", q(inst.Region)},
		{"version", q("2017-09-30")},
	}
	var b strings.Builder
	b.WriteString("{\n")
	for i, m := range members {
		b.WriteString("  " + q(m[0]) + " : " + m[1])
		if i < len(members)-1 {
			b.WriteString(",")
		}
		b.WriteString("\n")
	}
	b.WriteString("}")
	return []byte(b.String())
}

// resolve finds path in inst's tree: a value, or a directory's listing. A
// directory answers with or without its trailing '/'; a value without it.
// Empty segments ("//"), dot segments and unknown names are not found.
func resolve(inst *Instance, path string) (body []byte, ctype string, ok bool) {
	if len(path) > maxPath || !strings.HasPrefix(path, "/") {
		return nil, "", false
	}
	rest := path[1:]
	slash := strings.HasSuffix(rest, "/")
	rest = strings.TrimSuffix(rest, "/")
	n := tree(inst)
	for rest != "" {
		seg := rest
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			seg, rest = rest[:i], rest[i+1:]
			if rest == "" { // "a//": an empty segment
				return nil, "", false
			}
		} else {
			rest = ""
		}
		if seg == "" || !n.isDir {
			return nil, "", false
		}
		found := false
		for _, k := range n.kids {
			if k.name == seg {
				n, found = k, true
				break
			}
		}
		if !found {
			return nil, "", false
		}
	}
	if !n.isDir {
		if slash {
			return nil, "", false
		}
		return n.value, n.ctype, true
	}
	return []byte(lines(n.kids, func(k node) string {
		if k.isDir && !n.bare {
			return k.name + "/"
		}
		return k.name
	})), textPlain, true
}
