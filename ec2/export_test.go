package ec2

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"maps"
	"strings"
	"testing"

	"github.com/vpcnet/vpcnet/ec2/types"
	"github.com/vpcnet/vpcnet/topology"
)

// describeEvery runs every Describe operation with no arguments and
// returns its answers as JSON, by operation; those that need arguments (an
// error with none) answer their error code.
func describeEvery(t testing.TB, d *Service) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, op := range Names() {
		if !strings.HasPrefix(op, "Describe") {
			continue
		}
		v, err := d.CallInput(op, map[string]any{})
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("%s: %v", op, err)
			}
			out[op] = "error " + e.Code
			continue
		}
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		out[op] = string(b)
	}
	return out
}

// reloadedAccount is d exported by Export and loaded into a new Service, as
// `vpcnet export` then `vpcnet up` make it, in a new process: the table of
// launches the process keeps is emptied.
func reloadedAccount(t testing.TB, d *Service) (*Service, string) {
	t.Helper()
	b, err := json.MarshalIndent(d.Export(), "", " ")
	if err != nil {
		t.Fatal(err)
	}
	n, err := topology.Load(b)
	if err != nil {
		t.Fatalf("the export does not load: %v\n%s", err, b)
	}
	launches.Lock()
	saved := launches.by
	launches.by = map[string]launch{}
	launches.Unlock()
	t.Cleanup(func() {
		launches.Lock()
		maps.Copy(launches.by, saved)
		launches.Unlock()
	})
	return New(opsStore{n}, &opsKernel{namespaces: map[string]bool{}}), string(b)
}

// edKey is a new ED25519 public key as OpenSSH writes it.
func edKey(t testing.TB) string {
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return "ssh-ed25519 " + base64.StdEncoding.EncodeToString(ed25519Blob(pub)) + " me@host"
}

// LIFE (issue 12, start from nothing): a network built through the API,
// with tags of several keys on a VPC, a subnet, an instance, its eth0, a
// free ENI, groups (the default one too), the main table and the default
// NACL, an imported and a created key pair (with tags), and an instance
// launched with an image and a key: its export loads into a new service
// whose every describe-* answers the same, and exports the same file.
func TestLIFE_ExportKeepsTheAccount(t *testing.T) {
	d, _ := opsService(t, emptyTopo)
	tags := func(kind string, kv ...string) string {
		var b strings.Builder
		for i := 0; i < len(kv); i += 2 {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(`{"Key": "` + kv[i] + `", "Value": "` + kv[i+1] + `"}`)
		}
		return `"TagSpecifications": [{"ResourceType": "` + kind + `", "Tags": [` + b.String() + `]}]`
	}
	calls := []string{
		`CreateVpc {"CidrBlock": "10.0.0.0/16", ` + nameTag("vpc", "lab") + `}`,
		`CreateSubnet {"VpcId": "lab", "CidrBlock": "10.0.1.0/24", ` + nameTag("subnet", "pub") + `}`,
		`CreateSecurityGroup {"GroupName": "web", "Description": "web", "VpcId": "lab"}`,
		`CreateNetworkInterface {"SubnetId": "pub", ` + nameTag("network-interface", "eni-x") + `}`,
		`ImportKeyPair {"KeyName": "mine", "PublicKeyMaterial": "` + base64.StdEncoding.EncodeToString([]byte(edKey(t))) + `", ` + tags("key-pair", "Name", "my key", "owner", "me") + `}`,
		`CreateKeyPair {"KeyName": "made"}`,
		`RunInstances {"MinCount": 1, "MaxCount": 1, "ImageId": "ami-0e57369a62a7b3150", "KeyName": "made", "SubnetId": "pub", "SecurityGroupIds": ["web"], ` +
			nameTag("instance", "srv") + `}`,
		`CreateTags {"Resources": ["srv"], "Tags": [{"Key": "env", "Value": "prod"}, {"Key": "team", "Value": "net"}]}`,
		`CreateTags {"Resources": ["sg-web"], "Tags": [{"Key": "Name", "Value": "web-sg"}, {"Key": "tier", "Value": "front"}]}`,
		`CreateTags {"Resources": ["lab", "pub"], "Tags": [{"Key": "env", "Value": "prod"}, {"Key": "cost", "Value": "42"}, {"Key": "empty", "Value": ""}]}`,
		`CreateTags {"Resources": ["eni-x", "srv-eth0", "srv"], "Tags": [{"Key": "role", "Value": "data"}, {"Key": "x y", "Value": "z=1"}]}`,
		`CreateTags {"Resources": ["default-sg", "made"], "Tags": [{"Key": "Name", "Value": "lab-default"}]}`,
		`CreateTags {"Resources": ["default-sg", "main-rtb", "default-acl", "made"], "Tags": [{"Key": "k", "Value": "v"}]}`,
	}
	v := func() *topology.VPC { return vpcNamed(d, "lab") }
	for _, c := range calls {
		op, req, _ := strings.Cut(c, " ")
		if op == "CreateTags" {
			// ids the request cannot know by name: the instance's eth0,
			// the VPC's defaults, the key pair made.
			i := d.net.InstanceByName["srv"]
			req = strings.NewReplacer(`"srv-eth0"`, `"`+i.Primary().ID+`"`, `"default-sg"`, `"`+v().DefaultSG.ID+`"`,
				`"main-rtb"`, `"`+v().MainRT.ID+`"`, `"default-acl"`, `"`+v().DefaultNACL.ID+`"`, `"made"`, `"`+d.keyPairNamed("made").id+`"`,
				`"sg-web"`, `"`+v().SGs[len(v().SGs)-1].ID+`"`).Replace(req)
		}
		callOK(t, d, op, req)
	}
	i := d.net.InstanceByName["srv"]
	if i == nil || i.ImageID != "ami-0e57369a62a7b3150" || i.KeyName != "made" {
		t.Fatalf("the instance keeps its image and key: %+v", i)
	}
	before := describeEvery(t, d)
	r, file := reloadedAccount(t, d)
	after := describeEvery(t, r)
	for op, a := range before {
		if after[op] != a {
			t.Errorf("%s differs after export and load:\nbefore %s\nafter  %s", op, a, after[op])
		}
	}
	// The answers hold what was set: not a comparison of two empty lists.
	for _, want := range []string{`"Key":"cost"`, `"Value":"42"`, `"Key":"x y"`, `"Value":"z=1"`, `"Value":"lab-default"`, `"Key":"owner"`, `"Value":"front"`} {
		if !strings.Contains(after["DescribeTags"], want) {
			t.Errorf("DescribeTags lacks %s: %s", want, after["DescribeTags"])
		}
	}
	for _, want := range []string{`"ImageId":"ami-0e57369a62a7b3150"`, `"KeyName":"made"`} {
		if !strings.Contains(after["DescribeInstances"], want) {
			t.Errorf("DescribeInstances lacks %s", want)
		}
	}
	if !strings.Contains(after["DescribeKeyPairs"], `"KeyName":"made"`) || !strings.Contains(after["DescribeKeyPairs"], `"KeyName":"mine"`) {
		t.Errorf("key pairs: %s", after["DescribeKeyPairs"])
	}
	if strings.Contains(file, "PRIVATE KEY") {
		t.Fatalf("the export holds a private key:\n%s", file)
	}
	if _, again := reloadedAccount(t, r); again != file {
		t.Fatalf("export, load, export differ:\n%s\n%s", file, again)
	}
}

// The file's tags, key pairs, image and key name are checked as the API
// checks them: each refusal names its JSON path.
func TestLIFE_FileTagsAndKeyPairsRefused(t *testing.T) {
	base := `{"name": "x", "region": "ap-northeast-2", "vpcs": [{"name": "lab", "cidr": "10.0.0.0/16",
		"subnets": [{"name": "pub", "cidr": "10.0.1.0/24", "az": "ap-northeast-2a"}],
		"instances": [{"name": "web", "subnet": "pub" %s}]}] %s}`
	key := edKey(t)
	for _, c := range []struct{ name, inst, top, want string }{
		{"unknown resource", "", `, "tags": [{"resource": "nope", "tags": {"a": "b"}}]`, `tags[0].resource: resource "nope" not found`},
		{"wrong type", "", `, "tags": [{"resource": "pub", "type": "vpc", "tags": {"a": "b"}}]`, `tags[0].type: "pub" is a subnet, not a vpc`},
		{"Name is the name", "", `, "tags": [{"resource": "pub", "tags": {"Name": "b"}}]`, `tags[0].tags.Name`},
		{"aws: keys", "", `, "tags": [{"resource": "lab", "tags": {"aws:x": "b"}}]`, `reserved`},
		{"twice", "", `, "tags": [{"resource": "web", "tags": {"a": "b"}}, {"resource": "web", "type": "instance", "tags": {"c": "d"}}]`, `tags[1]: instance "web" is given tags twice`},
		{"duplicate key", "", `, "tags": [{"resource": "lab", "tags": {"a": "b", "a": "c"}}]`, `duplicate key "a"`},
		{"default needs its vpc", "", `, "tags": [{"resource": "default", "tags": {"a": "b"}}]`, `resource "default" not found`},
		{"bad public key", "", `, "key_pairs": [{"name": "k", "public_key": "ssh-ed25519 !!!"}]`, `key_pairs[0].public_key: the key is not base64`},
		{"type mismatch", "", `, "key_pairs": [{"name": "k", "type": "rsa", "public_key": "` + key + `"}]`, `key_pairs[0].type`},
		{"key twice", "", `, "key_pairs": [{"name": "k", "public_key": "` + key + `"}, {"name": "k", "public_key": "` + key + `"}]`, `key_pairs[1].name: key pair "k" is already at key_pairs[0]`},
		{"bad id", "", `, "key_pairs": [{"name": "k", "id": "key-1", "public_key": "` + key + `"}]`, `key_pairs[0].id`},
		{"bad image", `, "image_id": "ami-xyz"`, "", `instances[0].image_id`},
		{"bad key name", `, "key_name": "é"`, "", `instances[0].key_name`},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := topology.Load([]byte(strings.Replace(strings.Replace(base, "%s", c.inst, 1), "%s", c.top, 1)))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want %q", err, c.want)
			}
		})
	}
	// And what they say is taken: a key without fingerprint gets
	// ImportKeyPair's, eth0 and the default group take tags.
	ok := strings.Replace(strings.Replace(base, "%s", `, "image_id": "ami-0123456789abcdef0", "key_name": "gone"`, 1), "%s",
		`, "key_pairs": [{"name": "k", "public_key": "`+key+`"}], "tags": [{"resource": "web", "type": "network-interface", "tags": {"a": "b"}},
		{"resource": "default", "vpc": "lab", "tags": {"Name": "g"}}]`, 1)
	n, err := topology.Load([]byte(ok))
	if err != nil {
		t.Fatal(err)
	}
	d := New(rulesStore{n}, nopKernel{})
	k := d.keyPairNamed("k")
	f := strings.Fields(key)
	blob, _ := base64.StdEncoding.DecodeString(f[1])
	if k == nil || k.fingerprint != sha256Fingerprint(blob) || k.kind != types.KeyTypeEd25519 || k.public != f[0]+" "+f[1] {
		t.Fatalf("key pair: %+v", k)
	}
	i := n.InstanceByName["web"]
	if got := d.tagsOf(i.Primary().ID, "web"); len(got) != 2 || *got[0].Key != "Name" || *got[1].Key != "a" {
		t.Fatalf("eth0's tags: %v", got)
	}
	if got := d.tagsOf(n.VPCs[0].DefaultSG.ID, ""); len(got) != 1 || *got[0].Value != "g" {
		t.Fatalf("the default group's tags: %v", got)
	}
	x := d.instanceShape(i)
	if *x.ImageId != "ami-0123456789abcdef0" || *x.KeyName != "gone" {
		t.Fatalf("instance: %s %s", *x.ImageId, *x.KeyName)
	}
}
