package topology

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

// The account's facts in topo.json (issue 12): what EC2 operations set
// beside the network's structure, so that `export` then `up` gives the same
// describe-* answers.
//
//	"tags": [{"resource": "web", "type": "instance", "tags": {"env": "prod"}},
//	         {"resource": "default", "vpc": "lab", "type": "security-group", "tags": {"Name": "lab-default"}}],
//	"key_pairs": [{"name": "lab-key", "id": "key-0123456789abcdef0", "public_key": "ssh-ed25519 AAAA…",
//	               "fingerprint": "…", "created": "2024-05-01T10:00:00Z", "tags": {"team": "net"}}]
//
// A resource's Name tag is its name (the file's name): tags holds its other
// tags. A security group's name is its GroupName and a key pair's its
// KeyName, so their Name tag is an ordinary tag. Key pairs hold public
// material only: a private key is answered once by CreateKeyPair and never
// kept.

// TagsSpec is the tags of one resource, named by Resource (its name in the
// file). Type (EC2's resource type: vpc, subnet, instance,
// network-interface …) is needed only where one name carries two
// resources: an instance and its eth0, a NAT gateway and its network
// interface (the default is the instance, the NAT gateway). VPC names the
// VPC of a "default" security group or network ACL, or of the "main" route
// table the file does not name.
type TagsSpec struct {
	Resource string            `json:"resource"`
	Type     string            `json:"type,omitempty"`
	VPC      string            `json:"vpc,omitempty"`
	Tags     map[string]string `json:"tags"`
}

// KeyPairSpec is a key pair of the account. Type (rsa or ed25519) follows
// from PublicKey; ID defaults to one derived from the name; Fingerprint to
// the one ImportKeyPair computes (a created RSA key's is its private key's,
// which only the file can keep); Created to when the network is loaded.
type KeyPairSpec struct {
	Name        string            `json:"name"`
	ID          string            `json:"id,omitempty"`
	Type        string            `json:"type,omitempty"`
	PublicKey   string            `json:"public_key"`
	Fingerprint string            `json:"fingerprint,omitempty"`
	Created     string            `json:"created,omitempty"` // RFC 3339
	Tags        map[string]string `json:"tags,omitempty"`
}

// KeyPair is a resolved key pair.
type KeyPair struct {
	Name, ID, Type string
	PublicKey      string // "ssh-ed25519 AAAA…", no comment
	Fingerprint    string // "" when the file gives none
	Created        time.Time
	Tags           map[string]string
}

// Tag limits, EC2's.
const (
	MaxTagsPerResource = 50
	maxTagKey          = 128 // characters
	maxTagValue        = 256 // characters
	maxKeyPairs        = 5000
)

var (
	keyPairIDRE = regexp.MustCompile(`^key-[0-9a-f]{17}$`)
	imageIDRE   = regexp.MustCompile(`^ami-[0-9a-f]{8,17}$`)
)

// ResourceType is EC2's resource type of a resource of the model (its
// object: *VPC, *Subnet …), "" for none that takes tags.
func ResourceType(obj any) string {
	switch obj.(type) {
	case *VPC:
		return "vpc"
	case *Subnet:
		return "subnet"
	case *RouteTable:
		return "route-table"
	case *NACL:
		return "network-acl"
	case *SecurityGroup:
		return "security-group"
	case *ENI:
		return "network-interface"
	case *Instance:
		return "instance"
	case *NATGateway:
		return "natgateway"
	case *IGW:
		return "internet-gateway"
	case *EIP:
		return "elastic-ip"
	case *Peering:
		return "vpc-peering-connection"
	}
	return ""
}

// TagProblem says what is wrong with tag key=value as EC2 checks it (and
// no control characters, as vpcnet prints tags on one line); "" if nothing.
func TagProblem(key, value string) string {
	control := func(c rune) bool { return c < 0x20 || c == 0x7f }
	switch {
	case key == "":
		return "tag keys must not be empty"
	case !utf8.ValidString(key) || utf8.RuneCountInString(key) > maxTagKey || strings.ContainsFunc(key, control):
		return fmt.Sprintf("tag key %.140q is invalid: 1 to %d characters, no control characters", key, maxTagKey)
	case strings.HasPrefix(strings.ToLower(key), "aws:"):
		return fmt.Sprintf("tag key %q: keys starting with aws: are reserved", key)
	case !utf8.ValidString(value) || utf8.RuneCountInString(value) > maxTagValue || strings.ContainsFunc(value, control):
		return fmt.Sprintf("the value of tag %q is invalid: at most %d characters, no control characters", key, maxTagValue)
	}
	return ""
}

// KeyNameProblem says what is wrong with a key pair's name (EC2: 1 to 255
// ASCII characters); "" if nothing.
func KeyNameProblem(name string) string {
	switch {
	case name == "":
		return "a key pair name is required"
	case len(name) > 255:
		return "a key pair name is at most 255 characters"
	case strings.ContainsFunc(name, func(c rune) bool { return c < 0x20 || c >= 0x7f }):
		return fmt.Sprintf("key pair name %q: printable ASCII only", name)
	}
	return ""
}

func (r *resolver) tagMap(path string, tags map[string]string, nameIsTag bool) {
	if len(tags) > MaxTagsPerResource {
		r.errf(path, RuleFormat, "%d tags: a resource has at most %d", len(tags), MaxTagsPerResource)
	}
	for k, v := range tags {
		if msg := TagProblem(k, v); msg != "" {
			r.errf(path, RuleFormat, "%s", msg)
		} else if k == "Name" && !nameIsTag {
			r.errf(path+".Name", RuleFormat, "the Name tag of a resource is its name: rename it in the file")
		}
	}
}

// resolveTags resolves the file's tags, key pairs and instances' image and
// key name. It runs last, once every resource exists.
func (r *resolver) resolveTags() {
	r.n.Tags = map[any]map[string]string{}
	for i, ts := range r.t.Tags {
		path := fmt.Sprintf("tags[%d]", i)
		obj := r.tagged(path, ts)
		if obj == nil {
			continue
		}
		if _, dup := r.n.Tags[obj]; dup {
			r.errf(path, RuleFormat, "%s %q is given tags twice", ResourceType(obj), ts.Resource)
			continue
		}
		_, group := obj.(*SecurityGroup)
		r.tagMap(path+".tags", ts.Tags, group)
		if len(ts.Tags) > 0 {
			r.n.Tags[obj] = ts.Tags
		}
	}
	names, ids := map[string]string{}, map[string]string{}
	if len(r.t.KeyPairs) > maxKeyPairs {
		r.errf("key_pairs", "QUOTA-1", "%d key pairs, more than the %d of a region", len(r.t.KeyPairs), maxKeyPairs)
	}
	for i, ks := range r.t.KeyPairs {
		path := fmt.Sprintf("key_pairs[%d]", i)
		k := &KeyPair{Name: ks.Name, ID: ks.ID, Type: ks.Type, Fingerprint: ks.Fingerprint, Tags: ks.Tags}
		if msg := KeyNameProblem(ks.Name); msg != "" {
			r.errf(path+".name", RuleFormat, "%s", msg)
		} else if prev, dup := names[ks.Name]; dup {
			r.errf(path+".name", RuleFormat, "key pair %q is already at %s", ks.Name, prev)
		}
		names[ks.Name] = path
		if k.ID == "" {
			k.ID = r.id("key", ks.Name)
		}
		if !keyPairIDRE.MatchString(k.ID) {
			r.errf(path+".id", RuleFormat, "key pair id %q must be key- and 17 hex digits", k.ID)
		} else if prev, dup := ids[k.ID]; dup {
			r.errf(path+".id", RuleFormat, "key pair id %q is already at %s", k.ID, prev)
		}
		ids[k.ID] = path
		typ, pub, err := publicKeyLine(ks.PublicKey)
		if err != nil {
			r.errf(path+".public_key", RuleFormat, "%v", err)
		}
		k.PublicKey = pub
		switch {
		case k.Type == "":
			k.Type = typ
		case err == nil && k.Type != typ:
			r.errf(path+".type", RuleFormat, "type %q, but the public key is %s", k.Type, typ)
		}
		if len(ks.Fingerprint) > 128 || strings.ContainsFunc(ks.Fingerprint, func(c rune) bool { return c <= 0x20 || c >= 0x7f }) {
			r.errf(path+".fingerprint", RuleFormat, "a fingerprint is at most 128 printable ASCII characters")
		}
		if ks.Created != "" {
			t, err := time.Parse(time.RFC3339, ks.Created)
			if err != nil {
				r.errf(path+".created", RuleFormat, "%q is not an RFC 3339 time such as 2024-05-01T10:00:00Z", ks.Created)
			}
			k.Created = t.UTC()
		}
		r.tagMap(path+".tags", ks.Tags, true)
		r.n.KeyPairs = append(r.n.KeyPairs, k)
	}
	for _, w := range r.vpcs {
		for ii, is := range w.spec.Instances {
			ip := fmt.Sprintf("%s.instances[%d]", w.path, ii)
			if is.ImageID != "" && !imageIDRE.MatchString(is.ImageID) {
				r.errf(ip+".image_id", RuleFormat, "image id %q must be ami- and 8 to 17 hex digits", is.ImageID)
			}
			if is.KeyName != "" {
				if msg := KeyNameProblem(is.KeyName); msg != "" {
					r.errf(ip+".key_name", RuleFormat, "%s", msg)
				}
			}
			if ii < len(w.inst) && w.inst[ii] != nil {
				w.inst[ii].ImageID, w.inst[ii].KeyName = is.ImageID, is.KeyName
			}
		}
	}
}

// tagged is the resource a tags entry names, or nil (the error said why).
func (r *resolver) tagged(path string, ts TagsSpec) any {
	var obj any
	switch {
	case ts.VPC != "":
		v, ok := lookup[*VPC](r, path+".vpc", RuleFormat, ts.VPC, kindVPC, nil)
		if !ok {
			return nil
		}
		switch {
		case ts.Resource == "default" && ts.Type == "network-acl":
			obj = v.DefaultNACL
		case ts.Resource == "default":
			obj = v.DefaultSG
		case ts.Resource == "main" && v.MainRT != nil:
			obj = v.MainRT
		default:
			r.errf(path+".resource", RuleFormat, "with vpc, resource is \"default\" (its security group or network ACL) or \"main\" (its main route table), not %q", ts.Resource)
			return nil
		}
	default:
		e := r.names[ts.Resource]
		if e == nil {
			r.errf(path+".resource", RuleFormat, "resource %q not found", ts.Resource)
			return nil
		}
		obj = e.obj
	}
	if ts.Type != "" && ts.Type != ResourceType(obj) {
		switch x := obj.(type) {
		case *Instance:
			if ts.Type == "network-interface" {
				return x.Primary()
			}
		case *NATGateway:
			if ts.Type == "network-interface" && x.ENI != nil {
				return x.ENI
			}
		}
		r.errf(path+".type", RuleFormat, "%q is a %s, not a %s", ts.Resource, ResourceType(obj), ts.Type)
		return nil
	}
	if ResourceType(obj) == "" {
		r.errf(path+".resource", RuleFormat, "%q takes no tags", ts.Resource)
		return nil
	}
	return obj
}

// publicKeyLine checks a public key as OpenSSH writes it ("ssh-ed25519
// AAAA… [comment]") and returns its type (rsa, ed25519) and the line
// without its comment.
func publicKeyLine(s string) (typ, line string, err error) {
	f := strings.Fields(s)
	if len(f) < 2 {
		return "", "", fmt.Errorf("a public key is \"ssh-rsa AAAA…\" or \"ssh-ed25519 AAAA…\"")
	}
	switch f[0] {
	case "ssh-rsa":
		typ = "rsa"
	case "ssh-ed25519":
		typ = "ed25519"
	default:
		return "", "", fmt.Errorf("key type %.20q: ssh-rsa or ssh-ed25519", f[0])
	}
	blob, err := base64.StdEncoding.DecodeString(f[1])
	if err != nil || len(blob) < 4 {
		return "", "", fmt.Errorf("the key is not base64")
	}
	n := binary.BigEndian.Uint32(blob)
	if uint64(n) > uint64(len(blob)-4) || !bytes.Equal(blob[4:4+n], []byte(f[0])) {
		return "", "", fmt.Errorf("the key's blob is not a %s key", f[0])
	}
	return typ, f[0] + " " + f[1], nil
}

// TagsRef is how the file names resource obj of n in its tags: by name,
// with the type where a name carries two resources and the VPC of a
// default group, NACL or implicit main table. ok is false for a resource
// the file cannot name.
func TagsRef(n *Network, obj any) (ts TagsSpec, ok bool) {
	ts.Type = ResourceType(obj)
	switch x := obj.(type) {
	case *VPC:
		ts.Resource = x.Name
	case *Subnet:
		ts.Resource = x.Name
	case *RouteTable:
		ts.Resource = x.Name
		for _, v := range n.VPCs {
			if x == v.MainRT && x.Name == "main" {
				ts.VPC = v.Name
			}
		}
	case *NACL:
		ts.Resource = x.Name
		for _, v := range n.VPCs {
			if x == v.DefaultNACL {
				ts.VPC = v.Name
			}
		}
	case *SecurityGroup:
		ts.Resource = x.Name
		if x.VPC != nil && x == x.VPC.DefaultSG {
			ts.VPC = x.VPC.Name
		}
	case *ENI:
		ts.Resource = x.Name
		switch {
		case x.NAT != nil: // named after its gateway in the file
			ts.Resource = x.NAT.Name
		case x.Instance != nil && x.DeviceIndex == 0: // eth0 has its instance's name
			ts.Resource = x.Instance.Name
		}
	case *Instance:
		ts.Resource = x.Name
	case *NATGateway:
		ts.Resource = x.Name
	case *IGW:
		ts.Resource = x.Name
	case *EIP:
		ts.Resource = x.Name
	case *Peering:
		ts.Resource = x.Name
	default:
		return ts, false
	}
	return ts, ts.Resource != ""
}
