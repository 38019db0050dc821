package ec2

import (
	"bytes"
	"crypto/ed25519"
	"crypto/md5"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"maps"
	"math/big"
	"slices"
	"strings"
	"time"

	"github.com/vpcnet/vpcnet/ec2/types"
)

// Key pairs (issue 11). CreateKeyPair makes a real key, RSA 2048 (EC2's
// default) or ED25519, and answers its private half once, as EC2 does;
// ImportKeyPair takes the public half of the user's own key in OpenSSH's
// format. Fingerprints are EC2's: a created RSA key's is the SHA-1 of its
// private key in DER (PKCS#8), an imported RSA key's the MD5 of its public
// key in DER, an ED25519 key's the base64 SHA-256 of its public key, as
// OpenSSH computes it.
//
// Key pairs are the account's, not the network's: the Service keeps them in
// memory (account), with the tags of every resource (tags.go); export
// writes their public halves into topo.json's "key_pairs" (export.go), with
// their ids, fingerprints and creation times. An
// instance launched with KeyName shows it in describe-instances; the public
// key is not put into the instance: an instance is a network namespace that
// shares the host's filesystem, so it has no /root/.ssh of its own.

func init() {
	Define("CreateKeyPair", Mutating, (*Service).createKeyPair)
	Define("ImportKeyPair", Mutating, (*Service).importKeyPair)
	Define("DeleteKeyPair", Mutating, (*Service).deleteKeyPair)
	Define("DescribeKeyPairs", ReadOnly, (*Service).describeKeyPairs)
}

const (
	// maxKeyPairs is EC2's quota of key pairs per region.
	maxKeyPairs = 5000
	// rsaBits is the size of the RSA keys CreateKeyPair makes (EC2's).
	rsaBits = 2048
	// The sizes of RSA key ImportKeyPair takes.
	minImportRSABits, maxImportRSABits = 1024, 16384
	// maxPublicKey bounds an imported public key, in bytes (a 16384-bit
	// RSA key in OpenSSH's format is under 3 KB).
	maxPublicKey = 8 << 10
)

// account is what the Service keeps of the AWS account beside the network:
// its key pairs and the tags of its resources (tags.go). It lives as long
// as the daemon.
type account struct {
	keys []*keyPair         // in the order they were made
	tags map[string]*tagSet // resource id → its tags, but the Name that is its name
}

func newAccount() *account { return &account{tags: map[string]*tagSet{}} }

// clone is a copy of a that a dry run may change freely.
func (a *account) clone() *account {
	c := newAccount()
	for _, k := range a.keys {
		x := *k
		c.keys = append(c.keys, &x)
	}
	for id, ts := range a.tags {
		c.tags[id] = &tagSet{of: ts.of, tags: maps.Clone(ts.tags)}
	}
	return c
}

// account returns d's account. A dry run's copy of the service, made
// without one (registry.go's dryRun), gets an empty one of its own.
func (d *Service) account() *account {
	if d.acct == nil {
		d.acct = newAccount()
	}
	return d.acct
}

// keyPair is one key pair of the account.
type keyPair struct {
	id, name    string
	kind        types.KeyType
	fingerprint string
	public      string // the public key as authorized_keys holds it: "ssh-ed25519 AAAA…"
	created     time.Time
}

// keyPairNamed returns the key pair called name, or nil.
func (d *Service) keyPairNamed(name string) *keyPair {
	for _, k := range d.account().keys {
		if k.name == name {
			return k
		}
	}
	return nil
}

// checkLaunchKey checks RunInstances' KeyName: it must name a key pair of
// the account (a dry run's copy has a copy of the account).
func (d *Service) checkLaunchKey(name string) error {
	if d.keyPairNamed(name) == nil {
		return opErr("InvalidKeyPair.NotFound", "The key pair '%s' does not exist", name)
	}
	return nil
}

// checkNewKeyName checks a new key pair's name: EC2 takes up to 255 ASCII
// characters, and names are unique.
func (d *Service) checkNewKeyName(name string) error {
	switch {
	case name == "":
		return opErr("MissingParameter", "The request must contain the parameter KeyName")
	case len(name) > 255:
		return opErr("InvalidParameterValue", "Value (%.40s…) for parameter KeyName is invalid. Length exceeds maximum of 255.", name)
	case strings.ContainsFunc(name, func(c rune) bool { return c < 0x20 || c >= 0x7f }):
		return opErr("InvalidParameterValue", "Value (%q) for parameter KeyName is invalid. Character sets beyond ASCII are not supported.", name)
	case d.keyPairNamed(name) != nil:
		return opErr("InvalidKeyPair.Duplicate", "The keypair '%s' already exists.", name)
	case len(d.account().keys) >= maxKeyPairs:
		return opErr("ResourceLimitExceeded", "You have reached the limit of %d key pairs in this region", maxKeyPairs)
	}
	return nil
}

// newKeyPairID is a new key pair id: key- and 17 hex digits, random (key
// pairs are not in topo.json, so nothing derives their ids).
func (d *Service) newKeyPairID() string {
	for {
		var b [9]byte
		rand.Read(b[:])
		id := "key-" + hex.EncodeToString(b[:])[:17]
		if !slices.ContainsFunc(d.account().keys, func(k *keyPair) bool { return k.id == id }) {
			return id
		}
	}
}

// keyTags checks the tags of a new key pair (TagSpecifications of type
// key-pair). A key pair's Name tag is an ordinary tag: its name is KeyName.
func keyTags(specs []types.TagSpecification) ([]types.Tag, error) {
	var out []types.Tag
	for i, s := range specs {
		if s.ResourceType != types.ResourceTypeKeyPair {
			return nil, opErr("InvalidParameterValue", "TagSpecifications.%d: '%s' is not a valid taggable resource type for this operation: use key-pair", i+1, s.ResourceType)
		}
		out = append(out, s.Tags...)
	}
	if err := checkTags(out, true); err != nil {
		return nil, err
	}
	return out, nil
}

// addKeyPair keeps k, with its tags, and answers its tags as EC2 lists them.
func (d *Service) addKeyPair(k *keyPair, tags []types.Tag) []types.Tag {
	a := d.account()
	a.keys = append(a.keys, k)
	if len(tags) > 0 {
		ts := &tagSet{of: k, tags: map[string]string{}}
		for _, t := range tags {
			ts.tags[deref(t.Key)] = deref(t.Value)
		}
		a.tags[k.id] = ts
	}
	return d.tagsOf(k.id, "")
}

// --- CreateKeyPair ----------------------------------------------------------------

func (d *Service) createKeyPair(in *types.CreateKeyPairRequest) (*types.KeyPair, error) {
	if err := unsupported(in, "KeyName", "KeyType", "KeyFormat", "TagSpecifications"); err != nil {
		return nil, err
	}
	if err := d.checkNewKeyName(in.KeyName); err != nil {
		return nil, err
	}
	if in.KeyFormat != "" && in.KeyFormat != types.KeyFormatPem {
		return nil, opErr("Unsupported", "KeyFormat %s is not supported by vpcnet: it answers pem", in.KeyFormat)
	}
	tags, err := keyTags(in.TagSpecifications)
	if err != nil {
		return nil, err
	}
	k := &keyPair{id: d.newKeyPairID(), name: in.KeyName, kind: in.KeyType, created: time.Now().UTC().Truncate(time.Second)}
	var material string
	switch in.KeyType {
	case "", types.KeyTypeRsa:
		k.kind = types.KeyTypeRsa
		if material, err = k.makeRSA(); err != nil {
			return nil, err
		}
	case types.KeyTypeEd25519:
		if material, err = k.makeEd25519(); err != nil {
			return nil, err
		}
	default:
		return nil, opErr("InvalidParameterValue", "Value (%s) for parameter KeyType is invalid. Expecting rsa or ed25519.", in.KeyType)
	}
	out := &types.KeyPair{KeyFingerprint: ptr(k.fingerprint), KeyMaterial: ptr(material), KeyName: ptr(k.name), KeyPairId: ptr(k.id)}
	out.Tags = d.addKeyPair(k, tags)
	return out, nil
}

// makeRSA makes k an RSA key of EC2's size and returns its private key as
// EC2 answers it: PEM, PKCS#1.
func (k *keyPair) makeRSA() (string, error) {
	priv, err := rsa.GenerateKey(rand.Reader, rsaBits)
	if err != nil {
		return "", err
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return "", err
	}
	sum := sha1.Sum(pkcs8)
	k.fingerprint = colonHex(sum[:])
	k.public = "ssh-rsa " + base64.StdEncoding.EncodeToString(rsaBlob(&priv.PublicKey))
	return string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(priv)})), nil
}

// makeEd25519 makes k an ED25519 key and returns its private key as EC2
// answers it: OpenSSH's own format.
func (k *keyPair) makeEd25519() (string, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", err
	}
	blob := ed25519Blob(pub)
	k.fingerprint = sha256Fingerprint(blob)
	k.public = "ssh-ed25519 " + base64.StdEncoding.EncodeToString(blob)
	return openSSHPrivateKey(pub, priv, k.name), nil
}

// --- ImportKeyPair ---------------------------------------------------------------

func (d *Service) importKeyPair(in *types.ImportKeyPairRequest) (*types.ImportKeyPairResult, error) {
	if err := unsupported(in, "KeyName", "PublicKeyMaterial", "TagSpecifications"); err != nil {
		return nil, err
	}
	if err := d.checkNewKeyName(in.KeyName); err != nil {
		return nil, err
	}
	if len(in.PublicKeyMaterial) == 0 {
		return nil, opErr("MissingParameter", "The request must contain the parameter PublicKeyMaterial")
	}
	pk, err := parseAuthorizedKey(in.PublicKeyMaterial)
	if err != nil {
		return nil, opErr("InvalidKey.Format", "Key is not in valid OpenSSH public key format: %v", err)
	}
	tags, err := keyTags(in.TagSpecifications)
	if err != nil {
		return nil, err
	}
	k := &keyPair{id: d.newKeyPairID(), name: in.KeyName, kind: pk.kind, created: time.Now().UTC().Truncate(time.Second),
		public: pk.typ + " " + base64.StdEncoding.EncodeToString(pk.blob)}
	switch pk.kind {
	case types.KeyTypeRsa:
		der, err := x509.MarshalPKIXPublicKey(pk.rsa)
		if err != nil {
			return nil, opErr("InvalidKey.Format", "Key is not in valid OpenSSH public key format: %v", err)
		}
		sum := md5.Sum(der)
		k.fingerprint = colonHex(sum[:])
	default:
		k.fingerprint = sha256Fingerprint(pk.blob)
	}
	out := &types.ImportKeyPairResult{KeyFingerprint: ptr(k.fingerprint), KeyName: ptr(k.name), KeyPairId: ptr(k.id)}
	out.Tags = d.addKeyPair(k, tags)
	return out, nil
}

// --- DeleteKeyPair ---------------------------------------------------------------

// deleteKeyPair deletes a key pair by KeyName or KeyPairId. As EC2, a name
// that names no key pair deletes nothing and succeeds; an id must exist.
// Instances launched with the key keep showing its name.
func (d *Service) deleteKeyPair(in *types.DeleteKeyPairRequest) (*struct{}, error) {
	name, id := deref(in.KeyName), deref(in.KeyPairId)
	if name == "" && id == "" {
		return nil, opErr("MissingParameter", "The request must contain the parameter KeyName or KeyPairId")
	}
	a := d.account()
	i := slices.IndexFunc(a.keys, func(k *keyPair) bool { return (id == "" || k.id == id) && (name == "" || k.name == name) })
	switch {
	case i < 0 && id != "":
		return nil, opErr("InvalidKeyPair.NotFound", "The key pair ID '%s' does not exist", id)
	case i < 0:
		return nil, nil
	}
	delete(a.tags, a.keys[i].id)
	a.keys = slices.Delete(a.keys, i, i+1)
	return nil, nil
}

// --- DescribeKeyPairs ------------------------------------------------------------

// keyPairFilters are DescribeKeyPairs' filters.
var keyPairFilters = filters[types.KeyPairInfo]{
	"key-pair-id": func(k *types.KeyPairInfo) []string { return one(k.KeyPairId) },
	"key-name":    func(k *types.KeyPairInfo) []string { return one(k.KeyName) },
	"fingerprint": func(k *types.KeyPairInfo) []string { return one(k.KeyFingerprint) },
	"key-type":    func(k *types.KeyPairInfo) []string { return []string{string(k.KeyType)} },
}

func (d *Service) describeKeyPairs(in *types.DescribeKeyPairsRequest) (*types.DescribeKeyPairsResult, error) {
	all := []types.KeyPairInfo{}
	for _, k := range d.account().keys {
		x := types.KeyPairInfo{KeyPairId: ptr(k.id), KeyFingerprint: ptr(k.fingerprint), KeyName: ptr(k.name), KeyType: k.kind,
			Tags: append([]types.Tag{}, d.tagsOf(k.id, "")...), CreateTime: ptr(k.created)}
		if deref(in.IncludePublicKey) {
			x.PublicKey = ptr(k.public + " " + k.name) // as EC2 shows it: the key pair's name is its comment
		}
		all = append(all, x)
	}
	sortBy(all, func(k *types.KeyPairInfo) *string { return k.KeyName })
	out, err := byIDs(all, in.KeyNames, func(k *types.KeyPairInfo) string { return *k.KeyName },
		func(name string) error {
			return opErr("InvalidKeyPair.NotFound", "The key pair '%s' does not exist", name)
		})
	if err != nil {
		return nil, err
	}
	if out, err = byIDs(out, in.KeyPairIds, func(k *types.KeyPairInfo) string { return *k.KeyPairId },
		func(id string) error {
			return opErr("InvalidKeyPair.NotFound", "The key pair ID '%s' does not exist", id)
		}); err != nil {
		return nil, err
	}
	if out, err = selectItems(out, in.Filters, keyPairFilters, func(k *types.KeyPairInfo) []types.Tag { return k.Tags }); err != nil {
		return nil, err
	}
	return &types.DescribeKeyPairsResult{KeyPairs: append([]types.KeyPairInfo{}, out...)}, nil
}

// --- keys in OpenSSH's formats ------------------------------------------------------

// colonHex writes a digest as EC2 shows an RSA key's fingerprint: 1f:51:ae:…
func colonHex(b []byte) string {
	parts := make([]string, len(b))
	for i, c := range b {
		parts[i] = hex.EncodeToString([]byte{c})
	}
	return strings.Join(parts, ":")
}

// sha256Fingerprint is an ED25519 key's fingerprint as EC2 shows it: the
// base64 SHA-256 of its public key blob (OpenSSH's, without "SHA256:" and
// with base64's padding).
func sha256Fingerprint(blob []byte) string {
	sum := sha256.Sum256(blob)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// sshString appends s as the SSH wire format writes a string (RFC 4251):
// its length in 4 bytes, then its bytes.
func sshString(b []byte, s []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

// sshMPInt appends n as an SSH mpint (RFC 4251): big-endian, with a leading
// zero byte when the top bit is set.
func sshMPInt(b []byte, n *big.Int) []byte {
	v := n.Bytes()
	if len(v) > 0 && v[0]&0x80 != 0 {
		v = append([]byte{0}, v...)
	}
	return sshString(b, v)
}

// rsaBlob is an RSA public key in SSH's wire format (RFC 4253 6.6).
func rsaBlob(pub *rsa.PublicKey) []byte {
	b := sshString(nil, []byte("ssh-rsa"))
	b = sshMPInt(b, big.NewInt(int64(pub.E)))
	return sshMPInt(b, pub.N)
}

// ed25519Blob is an ED25519 public key in SSH's wire format (RFC 8709).
func ed25519Blob(pub ed25519.PublicKey) []byte {
	return sshString(sshString(nil, []byte("ssh-ed25519")), pub)
}

// openSSHPrivateKey writes an unencrypted ED25519 private key in OpenSSH's
// own format (PROTOCOL.key of OpenSSH), as ssh-keygen writes one.
func openSSHPrivateKey(pub ed25519.PublicKey, priv ed25519.PrivateKey, comment string) string {
	var check [4]byte
	rand.Read(check[:])
	sec := append(check[:], check[:]...) // the two check words are equal
	sec = sshString(sec, []byte("ssh-ed25519"))
	sec = sshString(sec, pub)
	sec = sshString(sec, priv) // seed and public key, 64 bytes
	sec = sshString(sec, []byte(comment))
	for i := byte(1); len(sec)%8 != 0; i++ { // padding 1, 2, 3 … to the cipher's block size (8 for none)
		sec = append(sec, i)
	}
	b := append([]byte("openssh-key-v1"), 0)
	b = sshString(b, []byte("none")) // cipher
	b = sshString(b, []byte("none")) // kdf
	b = sshString(b, nil)            // kdf options
	b = binary.BigEndian.AppendUint32(b, 1)
	b = sshString(b, ed25519Blob(pub))
	b = sshString(b, sec)
	return string(pem.EncodeToMemory(&pem.Block{Type: "OPENSSH PRIVATE KEY", Bytes: b}))
}

// publicKey is a public key ImportKeyPair read.
type publicKey struct {
	typ  string // ssh-rsa, ssh-ed25519
	kind types.KeyType
	blob []byte // the key in SSH's wire format
	rsa  *rsa.PublicKey
}

// parseAuthorizedKey reads a public key in OpenSSH's format, one line as
// authorized_keys and id_*.pub hold it: "ssh-ed25519 AAAA… comment" (an
// RSA key of 1024 to 16384 bits, or ED25519, the types EC2 takes).
func parseAuthorizedKey(material []byte) (*publicKey, error) {
	if len(material) > maxPublicKey {
		return nil, fmt.Errorf("%d bytes: at most %d", len(material), maxPublicKey)
	}
	line := bytes.TrimSpace(material)
	if i := bytes.IndexAny(line, "\r\n"); i >= 0 {
		if len(bytes.TrimSpace(line[i:])) > 0 {
			return nil, fmt.Errorf("one key, on one line, is expected")
		}
		line = line[:i]
	}
	fields := strings.Fields(string(line))
	if len(fields) < 2 {
		return nil, fmt.Errorf("expected \"<type> <base64 key> [comment]\"")
	}
	blob, err := base64.StdEncoding.DecodeString(fields[1])
	if err != nil {
		return nil, fmt.Errorf("the key is not base64")
	}
	pk, err := parseKeyBlob(blob)
	if err != nil {
		return nil, err
	}
	if pk.typ != fields[0] {
		return nil, fmt.Errorf("the line says %.20q, the key is %s", fields[0], pk.typ)
	}
	return pk, nil
}

// parseKeyBlob reads a public key in SSH's wire format.
func parseKeyBlob(blob []byte) (*publicKey, error) {
	r := sshReader{b: blob}
	typ := string(r.string())
	pk := &publicKey{typ: typ, blob: blob}
	switch typ {
	case "ssh-ed25519":
		pk.kind = types.KeyTypeEd25519
		if key := r.string(); len(key) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("an ED25519 key is %d bytes, not %d", ed25519.PublicKeySize, len(key))
		}
	case "ssh-rsa":
		pk.kind = types.KeyTypeRsa
		e, n := r.mpint(), r.mpint()
		if r.bad {
			break
		}
		switch bits := n.BitLen(); {
		case bits < minImportRSABits || bits > maxImportRSABits:
			return nil, fmt.Errorf("an RSA key of %d bits: %d to %d are taken", bits, minImportRSABits, maxImportRSABits)
		case !e.IsInt64() || e.Int64() < 3 || e.Int64() > 1<<31-1 || e.Bit(0) == 0:
			return nil, fmt.Errorf("the RSA public exponent is not a small odd number")
		}
		pk.rsa = &rsa.PublicKey{N: n, E: int(e.Int64())}
	default:
		if r.bad {
			return nil, fmt.Errorf("the key is truncated")
		}
		return nil, fmt.Errorf("key type %.20q: EC2 takes ssh-rsa and ssh-ed25519", typ)
	}
	switch {
	case r.bad:
		return nil, fmt.Errorf("the key is truncated")
	case len(r.b) > 0:
		return nil, fmt.Errorf("%d bytes follow the key", len(r.b))
	}
	return pk, nil
}

// sshReader reads SSH's wire format; a read past the end sets bad.
type sshReader struct {
	b   []byte
	bad bool
}

func (r *sshReader) string() []byte {
	if len(r.b) < 4 {
		r.bad = true
		return nil
	}
	n := binary.BigEndian.Uint32(r.b)
	if uint64(n) > uint64(len(r.b)-4) {
		r.bad = true
		return nil
	}
	s := r.b[4 : 4+n]
	r.b = r.b[4+n:]
	return s
}

// mpint reads a non-negative mpint written as RFC 4251 says (no needless
// leading zero byte); a negative or padded one sets bad.
func (r *sshReader) mpint() *big.Int {
	v := r.string()
	if len(v) > 0 && (v[0]&0x80 != 0 || (v[0] == 0 && (len(v) == 1 || v[1]&0x80 == 0))) {
		r.bad = true
	}
	return new(big.Int).SetBytes(v)
}
