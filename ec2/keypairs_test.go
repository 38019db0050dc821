package ec2

import (
	"bytes"
	"crypto/ed25519"
	"crypto/md5"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vpcnet/vpcnet/ec2/types"
)

// parseOpenSSHPrivateKey reads an unencrypted ED25519 key in OpenSSH's
// format, as ssh reads the KeyMaterial CreateKeyPair answers.
func parseOpenSSHPrivateKey(t *testing.T, material string) (ed25519.PrivateKey, string) {
	t.Helper()
	blk, rest := pem.Decode([]byte(material))
	if blk == nil || blk.Type != "OPENSSH PRIVATE KEY" || len(bytes.TrimSpace(rest)) > 0 {
		t.Fatalf("not one OPENSSH PRIVATE KEY block: %q", material)
	}
	magic := append([]byte("openssh-key-v1"), 0)
	if !bytes.HasPrefix(blk.Bytes, magic) {
		t.Fatalf("no openssh-key-v1 magic")
	}
	r := sshReader{b: blk.Bytes[len(magic):]}
	cipher, kdf, _ := string(r.string()), string(r.string()), r.string()
	n := r.b[:4]
	r.b = r.b[4:]
	pubBlob, sec := r.string(), r.string()
	if r.bad || cipher != "none" || kdf != "none" || !bytes.Equal(n, []byte{0, 0, 0, 1}) || len(sec)%8 != 0 {
		t.Fatalf("header: cipher %q kdf %q keys %v section %d bytes", cipher, kdf, n, len(sec))
	}
	s := sshReader{b: sec[8:]}
	if !bytes.Equal(sec[:4], sec[4:8]) {
		t.Fatalf("check words differ")
	}
	typ, pub, priv, comment := string(s.string()), s.string(), s.string(), string(s.string())
	if s.bad || typ != "ssh-ed25519" || len(priv) != ed25519.PrivateKeySize || !bytes.Equal(pubBlob, ed25519Blob(pub)) {
		t.Fatalf("private section: %q %d %d", typ, len(pub), len(priv))
	}
	for i, b := range s.b {
		if b != byte(i+1) {
			t.Fatalf("padding %v", s.b)
		}
	}
	key := ed25519.PrivateKey(priv)
	if !bytes.Equal(key.Public().(ed25519.PublicKey), pub) {
		t.Fatalf("the private key does not hold its public key")
	}
	return key, comment
}

// keyPairs describes the account's key pairs with their public keys.
func keyPairs(t *testing.T, d *Service, in string) []types.KeyPairInfo {
	t.Helper()
	return answer[types.DescribeKeyPairsResult](t, d, "DescribeKeyPairs", in).KeyPairs
}

// sshKeygen runs ssh-keygen when it is installed: the real tool reads the
// keys vpcnet makes.
func sshKeygen(t *testing.T, args ...string) (string, bool) {
	t.Helper()
	if _, err := exec.LookPath("ssh-keygen"); err != nil {
		t.Log("ssh-keygen is not installed: the check with OpenSSH's own tool is skipped")
		return "", false
	}
	out, err := exec.Command("ssh-keygen", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("ssh-keygen %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out)), true
}

// CreateKeyPair ED25519: the private key is answered once, in OpenSSH's
// format, and holds the public key DescribeKeyPairs shows; the fingerprint
// is OpenSSH's SHA-256 (ssh-keygen -l agrees).
func TestKeyPairs_CreateED25519(t *testing.T) {
	d, _ := opsService(t, "")
	kp := answer[types.KeyPair](t, d, "CreateKeyPair", `{"KeyName": "lab", "KeyType": "ed25519",
		"TagSpecifications": [{"ResourceType": "key-pair", "Tags": [{"Key": "Name", "Value": "lab key"}, {"Key": "env", "Value": "lab"}]}]}`)
	if !strings.HasPrefix(*kp.KeyPairId, "key-") || len(*kp.KeyPairId) != 21 || *kp.KeyName != "lab" || len(kp.Tags) != 2 {
		t.Fatalf("answer %+v", kp)
	}
	priv, comment := parseOpenSSHPrivateKey(t, *kp.KeyMaterial)
	if comment != "lab" {
		t.Errorf("comment %q", comment)
	}
	pub := priv.Public().(ed25519.PublicKey)
	msg := []byte("vpcnet")
	if !ed25519.Verify(pub, msg, ed25519.Sign(priv, msg)) {
		t.Fatal("the key does not sign")
	}
	l := keyPairs(t, d, `{"IncludePublicKey": true}`)
	if len(l) != 1 || *l[0].KeyPairId != *kp.KeyPairId || l[0].KeyType != types.KeyTypeEd25519 || l[0].CreateTime == nil ||
		*l[0].KeyFingerprint != *kp.KeyFingerprint || *l[0].KeyFingerprint != sha256Fingerprint(ed25519Blob(pub)) ||
		*l[0].PublicKey != "ssh-ed25519 "+base64.StdEncoding.EncodeToString(ed25519Blob(pub))+" lab" ||
		tagList(l[0].Tags) != "Name=lab key env=lab" || tagList(kp.Tags) != tagList(l[0].Tags) {
		t.Fatalf("described %+v", l)
	}
	file := filepath.Join(t.TempDir(), "lab.pem")
	if err := os.WriteFile(file, []byte(*kp.KeyMaterial), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, ok := sshKeygen(t, "-y", "-f", file); ok && out != *l[0].PublicKey { // the key's comment is its name
		t.Errorf("ssh-keygen -y: %q, described %q", out, *l[0].PublicKey)
	}
	if out, ok := sshKeygen(t, "-l", "-E", "sha256", "-f", file); ok && !strings.Contains(out, "SHA256:"+strings.TrimRight(*kp.KeyFingerprint, "=")+" ") {
		t.Errorf("ssh-keygen -l: %q, fingerprint %s", out, *kp.KeyFingerprint)
	}
}

// CreateKeyPair RSA (EC2's default type): a 2048-bit PKCS#1 key in PEM,
// its fingerprint the SHA-1 of its PKCS#8 DER (openssl agrees, by AWS's
// own recipe).
func TestKeyPairs_CreateRSA(t *testing.T) {
	d, _ := opsService(t, "")
	kp := answer[types.KeyPair](t, d, "CreateKeyPair", `{"KeyName": "rsa-key"}`)
	blk, _ := pem.Decode([]byte(*kp.KeyMaterial))
	if blk == nil || blk.Type != "RSA PRIVATE KEY" {
		t.Fatalf("material %q", *kp.KeyMaterial)
	}
	priv, err := x509.ParsePKCS1PrivateKey(blk.Bytes)
	if err != nil || priv.N.BitLen() != 2048 {
		t.Fatalf("PKCS#1: %v", err)
	}
	pkcs8, _ := x509.MarshalPKCS8PrivateKey(priv)
	sum := sha1.Sum(pkcs8)
	if *kp.KeyFingerprint != colonHex(sum[:]) || len(*kp.KeyFingerprint) != 59 {
		t.Errorf("fingerprint %s, want %s", *kp.KeyFingerprint, colonHex(sum[:]))
	}
	l := keyPairs(t, d, `{"KeyNames": ["rsa-key"], "IncludePublicKey": true}`)
	if len(l) != 1 || l[0].KeyType != types.KeyTypeRsa || *l[0].PublicKey != "ssh-rsa "+base64.StdEncoding.EncodeToString(rsaBlob(&priv.PublicKey))+" rsa-key" {
		t.Fatalf("described %+v", l)
	}
	if _, err := exec.LookPath("openssl"); err == nil {
		file := filepath.Join(t.TempDir(), "k.pem")
		os.WriteFile(file, []byte(*kp.KeyMaterial), 0o600)
		out, err := exec.Command("sh", "-c", "openssl pkcs8 -in "+file+" -inform PEM -outform DER -topk8 -nocrypt | openssl sha1 -c").CombinedOutput()
		if err != nil || !strings.Contains(string(out), *kp.KeyFingerprint) {
			t.Errorf("openssl: %s %v, fingerprint %s", out, err, *kp.KeyFingerprint)
		}
	}
	if out, ok := sshKeygen(t, "-y", "-f", writeKey(t, *kp.KeyMaterial)); ok && out+" rsa-key" != *l[0].PublicKey {
		t.Errorf("ssh-keygen -y: %q", out)
	}
}

func writeKey(t *testing.T, material string) string {
	file := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(file, []byte(material), 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

// ImportKeyPair takes OpenSSH public keys (ED25519, RSA) with EC2's
// fingerprints: an RSA key's the MD5 of its public key in DER.
func TestKeyPairs_Import(t *testing.T) {
	d, _ := opsService(t, "")
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	edLine := "ssh-ed25519 " + base64.StdEncoding.EncodeToString(ed25519Blob(edPub)) + " me@laptop\n"
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	rsaLine := "ssh-rsa " + base64.StdEncoding.EncodeToString(rsaBlob(&rsaKey.PublicKey))
	der, _ := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
	md := md5.Sum(der)
	for name, c := range map[string]struct{ line, fingerprint string }{
		"ed": {edLine, sha256Fingerprint(ed25519Blob(edPub))},
		"rs": {rsaLine, colonHex(md[:])},
	} {
		r := answer[types.ImportKeyPairResult](t, d, "ImportKeyPair",
			fmt.Sprintf(`{"KeyName": %q, "PublicKeyMaterial": %q}`, name, base64.StdEncoding.EncodeToString([]byte(c.line))))
		if *r.KeyName != name || *r.KeyFingerprint != c.fingerprint || !strings.HasPrefix(*r.KeyPairId, "key-") {
			t.Errorf("%s: %+v, want fingerprint %s", name, r, c.fingerprint)
		}
	}
	// A key ssh-keygen made, and its own fingerprint of it.
	if _, err := exec.LookPath("ssh-keygen"); err == nil {
		file := filepath.Join(t.TempDir(), "id")
		sshKeygen(t, "-q", "-t", "ed25519", "-N", "", "-C", "test", "-f", file)
		line, _ := os.ReadFile(file + ".pub")
		r := answer[types.ImportKeyPairResult](t, d, "ImportKeyPair",
			fmt.Sprintf(`{"KeyName": "keygen", "PublicKeyMaterial": %q}`, base64.StdEncoding.EncodeToString(line)))
		if out, _ := sshKeygen(t, "-l", "-E", "sha256", "-f", file+".pub"); !strings.Contains(out, "SHA256:"+strings.TrimRight(*r.KeyFingerprint, "=")+" ") {
			t.Errorf("ssh-keygen -l %q, imported fingerprint %s", out, *r.KeyFingerprint)
		}
	}
}

// Refused, with nothing changed: a duplicate name, names EC2 does not take,
// public keys that are not OpenSSH's (InvalidKey.Format), formats vpcnet
// does not make.
func TestKeyPairs_Refused(t *testing.T) {
	d, k := opsService(t, "")
	answer[types.KeyPair](t, d, "CreateKeyPair", `{"KeyName": "lab", "KeyType": "ed25519"}`)
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	blob := ed25519Blob(edPub)
	small := &rsa.PublicKey{N: new(big.Int).Add(new(big.Int).Lsh(big.NewInt(1), 511), big.NewInt(1)), E: 65537} // 512 bits
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	line := func(typ string, blob []byte) string { return b64(typ + " " + base64.StdEncoding.EncodeToString(blob)) }
	for _, c := range []struct{ op, req, code string }{
		{"CreateKeyPair", `{"KeyName": "lab"}`, "InvalidKeyPair.Duplicate"},
		{"ImportKeyPair", `{"KeyName": "lab", "PublicKeyMaterial": "` + line("ssh-ed25519", blob) + `"}`, "InvalidKeyPair.Duplicate"},
		{"CreateKeyPair", `{"KeyName": ""}`, "MissingParameter"},
		{"CreateKeyPair", `{"KeyName": "` + strings.Repeat("k", 256) + `"}`, "InvalidParameterValue"},
		{"CreateKeyPair", `{"KeyName": "clé"}`, "InvalidParameterValue"},
		{"CreateKeyPair", `{"KeyName": "a\nb"}`, "InvalidParameterValue"},
		{"CreateKeyPair", `{"KeyName": "p", "KeyFormat": "ppk"}`, "Unsupported"},
		{"CreateKeyPair", `{"KeyName": "p", "TagSpecifications": [{"ResourceType": "instance", "Tags": [{"Key": "a", "Value": "b"}]}]}`, "InvalidParameterValue"},
		{"CreateKeyPair", `{"KeyName": "p", "TagSpecifications": [{"ResourceType": "key-pair", "Tags": [{"Key": "aws:x", "Value": "b"}]}]}`, "InvalidParameterValue"},
		{"ImportKeyPair", `{"KeyName": "g", "PublicKeyMaterial": "` + b64("hello") + `"}`, "InvalidKey.Format"},
		{"ImportKeyPair", `{"KeyName": "g", "PublicKeyMaterial": "` + b64("ssh-ed25519 !!!") + `"}`, "InvalidKey.Format"},
		{"ImportKeyPair", `{"KeyName": "g", "PublicKeyMaterial": "` + line("ssh-rsa", blob) + `"}`, "InvalidKey.Format"},
		{"ImportKeyPair", `{"KeyName": "g", "PublicKeyMaterial": "` + line("ssh-ed25519", blob[:len(blob)-1]) + `"}`, "InvalidKey.Format"},
		{"ImportKeyPair", `{"KeyName": "g", "PublicKeyMaterial": "` + line("ssh-ed25519", append(blob, 0)) + `"}`, "InvalidKey.Format"},
		{"ImportKeyPair", `{"KeyName": "g", "PublicKeyMaterial": "` + line("ssh-rsa", rsaBlob(small)) + `"}`, "InvalidKey.Format"},
		{"ImportKeyPair", `{"KeyName": "g", "PublicKeyMaterial": "` + line("ecdsa-sha2-nistp256", sshString(nil, []byte("ecdsa-sha2-nistp256"))) + `"}`, "InvalidKey.Format"},
		{"ImportKeyPair", `{"KeyName": "g", "PublicKeyMaterial": "` + b64("ssh-ed25519 "+base64.StdEncoding.EncodeToString(blob)+"\nssh-ed25519 "+base64.StdEncoding.EncodeToString(blob)) + `"}`, "InvalidKey.Format"},
		{"ImportKeyPair", `{"KeyName": "g", "PublicKeyMaterial": "` + b64(strings.Repeat("A", maxPublicKey+1)) + `"}`, "InvalidKey.Format"},
		{"DeleteKeyPair", `{"KeyPairId": "key-0123456789abcdef0"}`, "InvalidKeyPair.NotFound"},
		{"DeleteKeyPair", `{}`, "MissingParameter"},
		{"DescribeKeyPairs", `{"KeyNames": ["nope"]}`, "InvalidKeyPair.NotFound"},
		{"DescribeKeyPairs", `{"KeyPairIds": ["key-0123456789abcdef0"]}`, "InvalidKeyPair.NotFound"},
	} {
		refuse(t, d, k, c.op, c.req, c.code)
	}
}

// DeleteKeyPair by name or id; a name that names no key pair deletes
// nothing and succeeds, as EC2's does. The key's tags go with it.
func TestKeyPairs_DeleteAndFilters(t *testing.T) {
	d, k := opsService(t, "")
	a := answer[types.KeyPair](t, d, "CreateKeyPair", `{"KeyName": "a", "KeyType": "ed25519"}`)
	b := answer[types.KeyPair](t, d, "CreateKeyPair", `{"KeyName": "b", "KeyType": "ed25519"}`)
	answer[struct{}](t, d, "CreateTags", `{"Resources": ["`+*a.KeyPairId+`"], "Tags": [{"Key": "env", "Value": "lab"}]}`)
	for in, want := range map[string]string{
		`{"Filters": [{"Name": "key-name", "Values": ["b"]}]}`:                            "b",
		`{"Filters": [{"Name": "fingerprint", "Values": ["` + *a.KeyFingerprint + `"]}]}`: "a",
		`{"Filters": [{"Name": "tag:env", "Values": ["lab"]}]}`:                           "a",
		`{"KeyPairIds": ["` + *b.KeyPairId + `"]}`:                                        "b",
		`{"Filters": [{"Name": "key-type", "Values": ["ed25519"]}]}`:                      "a b",
	} {
		var names []string
		for _, x := range keyPairs(t, d, in) {
			names = append(names, *x.KeyName)
		}
		if got := strings.Join(names, " "); got != want {
			t.Errorf("%s: %q, want %q", in, got, want)
		}
	}
	before := accountState(t, d)
	answer[struct{}](t, d, "DeleteKeyPair", `{"KeyName": "nope"}`)
	if accountState(t, d) != before {
		t.Fatal("deleting a key pair that does not exist changed something")
	}
	answer[struct{}](t, d, "DeleteKeyPair", `{"KeyName": "a"}`)
	answer[struct{}](t, d, "DeleteKeyPair", `{"KeyPairId": "`+*b.KeyPairId+`"}`)
	if l := keyPairs(t, d, `{}`); len(l) != 0 {
		t.Fatalf("left %+v", l)
	}
	if len(d.account().tags) != 0 {
		t.Errorf("the deleted key's tags stay: %v", d.account().tags)
	}
	refuse(t, d, k, "DeleteKeyPair", `{"KeyPairId": "`+*b.KeyPairId+`"}`, "InvalidKeyPair.NotFound")
	// A name made again is a new key pair.
	c := answer[types.KeyPair](t, d, "CreateKeyPair", `{"KeyName": "a", "KeyType": "ed25519"}`)
	if *c.KeyPairId == *a.KeyPairId || *c.KeyFingerprint == *a.KeyFingerprint || c.Tags != nil {
		t.Errorf("made again: %+v", c)
	}
}

// RunInstances' KeyName must name a key pair of the account; the instance
// shows it in describe-instances.
func TestKeyPairs_RunInstancesKeyName(t *testing.T) {
	d, k := opsService(t, "")
	run := `{"MinCount": 1, "MaxCount": 1, "SubnetId": "PRI-DB-2a", "KeyName": "lab"}`
	refuse(t, d, k, "RunInstances", run, "InvalidKeyPair.NotFound")
	answer[types.KeyPair](t, d, "CreateKeyPair", `{"KeyName": "lab", "KeyType": "ed25519"}`)
	res := answer[types.Reservation](t, d, "RunInstances", run)
	x := answer[types.DescribeInstancesResult](t, d, "DescribeInstances", `{"InstanceIds": ["`+*res.Instances[0].InstanceId+`"]}`)
	if got := x.Reservations[0].Instances[0].KeyName; got == nil || *got != "lab" {
		t.Fatalf("KeyName %v", got)
	}
	// Deleting the key pair leaves the instance's KeyName, as on EC2.
	answer[struct{}](t, d, "DeleteKeyPair", `{"KeyName": "lab"}`)
	x = answer[types.DescribeInstancesResult](t, d, "DescribeInstances", `{"InstanceIds": ["`+*res.Instances[0].InstanceId+`"]}`)
	if got := x.Reservations[0].Instances[0].KeyName; got == nil || *got != "lab" {
		t.Fatalf("KeyName after the key pair went: %v", got)
	}
}

// DryRun: a key pair is not made, nor deleted.
func TestKeyPairs_DryRun(t *testing.T) {
	d, k := opsService(t, "")
	answer[types.KeyPair](t, d, "CreateKeyPair", `{"KeyName": "lab", "KeyType": "ed25519"}`)
	refuse(t, d, k, "CreateKeyPair", `{"KeyName": "new", "DryRun": true}`, "DryRunOperation")
	refuse(t, d, k, "DeleteKeyPair", `{"KeyName": "lab", "DryRun": true}`, "DryRunOperation")
	refuse(t, d, k, "RunInstances", `{"MinCount": 1, "MaxCount": 1, "SubnetId": "PRI-DB-2a", "KeyName": "lab", "DryRun": true}`, "DryRunOperation")
}

// FuzzParseAuthorizedKey: any bytes are a key or an error, never a panic;
// a key read is one that writes back as it was read.
func FuzzParseAuthorizedKey(f *testing.F) {
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	f.Add([]byte("ssh-ed25519 " + base64.StdEncoding.EncodeToString(ed25519Blob(edPub)) + " c"))
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 1024)
	f.Add([]byte("ssh-rsa " + base64.StdEncoding.EncodeToString(rsaBlob(&rsaKey.PublicKey))))
	f.Add([]byte("ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQ=="))
	f.Add([]byte("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5/////w=="))
	f.Fuzz(func(t *testing.T, b []byte) {
		pk, err := parseAuthorizedKey(b)
		if err != nil {
			return
		}
		switch pk.kind {
		case types.KeyTypeRsa:
			if bits := pk.rsa.N.BitLen(); !bytes.Equal(rsaBlob(pk.rsa), pk.blob) || bits < minImportRSABits || bits > maxImportRSABits {
				t.Fatalf("an RSA key of %d bits read from %x", bits, pk.blob)
			}
		case types.KeyTypeEd25519:
			if len(pk.blob) != len(ed25519Blob(make([]byte, 32))) {
				t.Fatalf("an ED25519 blob of %d bytes", len(pk.blob))
			}
		default:
			t.Fatalf("kind %q", pk.kind)
		}
	})
}
