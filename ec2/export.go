package ec2

import (
	"crypto/md5"
	"crypto/x509"
	"encoding/base64"
	"maps"
	"strings"
	"time"

	"github.com/vpcnet/vpcnet/ec2/types"
	"github.com/vpcnet/vpcnet/topology"
)

// The account's facts in topo.json (issue 12, "start from nothing"): the
// tags of the network's resources and the key pairs live in the Service
// (tags.go, keypairs.go), beside the network. Export writes them into the
// exported document (topo.json's "tags" and "key_pairs", public halves
// only), and New takes them back from a network loaded from one, so that
// `export` then `up` gives the same describe-* answers.

// Export is the running network as a topo.json document, with the
// account's tags and key pairs: what `vpcnet export` writes. The caller
// holds the store's lock.
func (d *Service) Export() *topology.Topology {
	t := topology.Export(d.net)
	d.sweepTags()
	for _, r := range d.resources() {
		if r.kind == types.ResourceTypeKeyPair {
			continue
		}
		tags := d.liveTags(r.id, r.obj)
		if len(tags) == 0 {
			continue
		}
		ts, ok := topology.TagsRef(d.net, r.obj)
		if !ok {
			continue
		}
		ts.Tags = maps.Clone(tags)
		t.Tags = append(t.Tags, ts)
	}
	for _, k := range d.account().keys {
		ks := topology.KeyPairSpec{Name: k.name, ID: k.id, Type: string(k.kind), PublicKey: k.public,
			Fingerprint: k.fingerprint, Created: k.created.UTC().Format(time.RFC3339), Tags: maps.Clone(d.liveTags(k.id, k))}
		t.KeyPairs = append(t.KeyPairs, ks)
	}
	return t
}

// loadAccount takes the account's tags and key pairs from the network as
// the file gave them (topology's tags.go).
func (d *Service) loadAccount() {
	a := d.account()
	if len(d.net.Tags) > 0 {
		for _, r := range d.resources() {
			if tags := d.net.Tags[r.obj]; len(tags) > 0 {
				a.tags[r.id] = &tagSet{of: r.obj, tags: maps.Clone(tags)}
			}
		}
	}
	now := time.Now().UTC().Truncate(time.Second)
	for _, kp := range d.net.KeyPairs {
		k := &keyPair{id: kp.ID, name: kp.Name, kind: types.KeyType(kp.Type), public: kp.PublicKey,
			fingerprint: kp.Fingerprint, created: kp.Created}
		if k.created.IsZero() {
			k.created = now
		}
		if k.fingerprint == "" {
			k.fingerprint = importedFingerprint(kp.PublicKey)
		}
		a.keys = append(a.keys, k)
		if len(kp.Tags) > 0 {
			a.tags[k.id] = &tagSet{of: k, tags: maps.Clone(kp.Tags)}
		}
	}
}

// importedFingerprint is the fingerprint ImportKeyPair gives public key
// line ("ssh-rsa AAAA…"): MD5 of an RSA key in DER, the base64 SHA-256 of
// an ED25519 key's blob; "" if it does not parse.
func importedFingerprint(line string) string {
	pk, err := parseAuthorizedKey([]byte(line))
	if err != nil {
		return ""
	}
	if pk.kind == types.KeyTypeRsa {
		der, err := x509.MarshalPKIXPublicKey(pk.rsa)
		if err != nil {
			return ""
		}
		sum := md5.Sum(der)
		return colonHex(sum[:])
	}
	f := strings.Fields(line)
	blob, _ := base64.StdEncoding.DecodeString(f[1])
	return sha256Fingerprint(blob)
}
