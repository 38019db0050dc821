package test

import (
	"strings"
	"testing"
)

// Issue 13's reverse DNS of Elastic IPs (DNS-3) and the emulated public
// DNS's records, end to end: what the internet host and the instances see
// through real resolvers (dig, getent) while the EIP's reverse name is set,
// reset, moved and released.

// recordsTopo: web holds EIP web-eip (3.34.0.10), which the public DNS
// record www.example.com points at; spare-eip (3.34.0.30) is allocated and
// held by no one, mail.example.com points at it; db has no public IP; the
// internet host remote.
const recordsTopo = `{
  "name": "NAME", "region": "ap-northeast-2",
  "address_pools": [{"name": "amz", "cidrs": ["3.34.0.0/16"]}],
  "elastic_ips": [{"name": "web-eip", "address": "3.34.0.10"}, {"name": "spare-eip", "address": "3.34.0.30"}],
  "public_dns_records": [{"name": "www.example.com", "address": "3.34.0.10"},
                         {"name": "Mail.Example.com.", "address": "3.34.0.30"}],
  "internet": {"hosts": [{"name": "remote", "ip": "13.52.201.147"}]},
  "vpcs": [{
    "name": "v", "cidr": "10.9.0.0/16", "internet_gateway": "igw",
    "subnets": [{"name": "a", "cidr": "10.9.2.0/24", "az": "ap-northeast-2a", "route_table": "rt"}],
    "route_tables": [{"name": "rt", "routes": [{"destination": "0.0.0.0/0", "target": "igw"}]}],
    "instances": [
      {"name": "web", "subnet": "a", "private_ip": "10.9.2.11", "elastic_ip": "web-eip"},
      {"name": "db", "subnet": "a", "private_ip": "10.9.2.20"}
    ]
  }]
}`

// ownNameScript learns its instance's public IP from the metadata service
// (IMDSv2) and then its public name from the Amazon DNS (resolv.conf's
// name server) with a PTR query, then what that name resolves to: only
// IMDS and DNS, as a user would write it.
const ownNameScript = `set -e
T=$(curl -sf --max-time 3 -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 60' http://169.254.169.254/latest/api/token)
IP=$(curl -sf --max-time 3 -H "X-aws-ec2-metadata-token: $T" http://169.254.169.254/latest/meta-data/public-ipv4)
NAME=$(dig +short +time=1 +tries=2 -x "$IP")
echo "$IP $NAME $(dig +short +time=1 +tries=2 "$NAME")"`

// TestDNS3_ReverseNameServedLive: the public DNS serves public_dns_records
// (any case, trailing dot or not) and, for each Elastic IP, the PTR of its
// address: the ec2-… public name until modify-address-attribute (the AWS
// CLI) sets a domain name, that name while set, the public name again after
// reset-address-attribute; an EIP nobody holds has its PTR too, and keeps
// its domain name when associated; once released it has none. Instances see
// the same through the Amazon DNS (recursion), and a script using only IMDS
// and DNS learns its public IP and name.
func TestDNS3_ReverseNameServedLive(t *testing.T) {
	requireDig(t)
	requireAWSCLI(t)
	tp := Up(t, recordsTopo)
	env := newAWSEnv(t, tp.Name)
	aws := func(args string) string {
		t.Helper()
		out, stderr, code := env.run(t, `exec /usr/bin/aws --endpoint-url "$AWS_ENDPOINT_URL" ec2 `+args+` --output json`)
		if code != 0 {
			t.Fatalf("aws ec2 %s: exit %d:\n%s", args, code, stderr)
		}
		return out
	}
	const (
		webPub   = "ec2-3-34-0-10.ap-northeast-2.compute.amazonaws.com."
		sparePub = "ec2-3-34-0-30.ap-northeast-2.compute.amazonaws.com."
	)
	webAlloc, spareAlloc := tp.address(t, "3.34.0.10").AllocationId, tp.address(t, "3.34.0.30").AllocationId
	// ptrEverywhere: the PTR of addr, from the internet host (its
	// resolv.conf: the public DNS) and from both instances (theirs: the
	// Amazon DNS at base + 2, which recurses), is want.
	ptrEverywhere := func(t *testing.T, addr, want string) {
		t.Helper()
		for _, ns := range []string{"remote", "web", "db"} {
			tp.mustDig(t, ns, want, "-x", addr)
		}
		tp.mustDig(t, "db", want, "@169.254.169.253", "-x", addr)
	}

	t.Run("records", func(t *testing.T) {
		for _, ns := range []string{"remote", "web", "db"} {
			tp.mustDig(t, ns, "3.34.0.10", "www.example.com")
			tp.mustDig(t, ns, "3.34.0.10", "WWW.Example.COM.")
			tp.mustDig(t, ns, "3.34.0.30", "mail.example.com")
			if out, err := tp.dig(t, ns, "nothing.example.com"); err != nil || out != "" {
				t.Errorf("%s: a name no record holds: %q %v", ns, out, err)
			}
		}
		if out := tp.MustExec(t, "web", "getent", "hosts", "www.example.com"); !strings.HasPrefix(out, "3.34.0.10 ") {
			t.Errorf("getent hosts www.example.com on web: %q", out)
		}
		if out := tp.MustExec(t, "remote", "getent", "hosts", "mail.example.com"); !strings.HasPrefix(out, "3.34.0.30 ") {
			t.Errorf("getent hosts mail.example.com on remote: %q", out)
		}
	})
	t.Run("default-ptr", func(t *testing.T) {
		ptrEverywhere(t, "3.34.0.10", webPub)
		ptrEverywhere(t, "3.34.0.30", sparePub) // held by no one: still Amazon's name
	})
	t.Run("own-name-by-imds-and-dns", func(t *testing.T) {
		// Inside the VPC the public name answers the private IP (DNS-2).
		if out := tp.MustExec(t, "web", "sh", "-c", ownNameScript); strings.TrimSpace(out) != "3.34.0.10 "+webPub+" 10.9.2.11" {
			t.Fatalf("script on web: %q", out)
		}
	})
	t.Run("modify", func(t *testing.T) {
		out := aws("modify-address-attribute --allocation-id " + webAlloc + " --domain-name www.example.com")
		if !strings.Contains(out, `"PtrRecordUpdate"`) {
			t.Fatalf("modify-address-attribute answered:\n%s", out)
		}
		ptrEverywhere(t, "3.34.0.10", "www.example.com.")
		tp.mustDig(t, "remote", "3.34.0.10", "www.example.com")
		// The public name still resolves; only the PTR changed.
		tp.mustDig(t, "remote", "3.34.0.10", strings.TrimSuffix(webPub, "."))
		// The script now finds the reverse name, whose forward record is the public IP.
		if out := tp.MustExec(t, "web", "sh", "-c", ownNameScript); strings.TrimSpace(out) != "3.34.0.10 www.example.com. 3.34.0.10" {
			t.Fatalf("script on web after modify: %q", out)
		}
	})
	t.Run("reset", func(t *testing.T) {
		aws("reset-address-attribute --allocation-id " + webAlloc + " --attribute domain-name")
		ptrEverywhere(t, "3.34.0.10", webPub)
	})
	t.Run("spare-associate-release", func(t *testing.T) {
		tp.ec2OK(t, nil, "modify-address-attribute", "--allocation-id", spareAlloc, "--domain-name", "MAIL.example.com.")
		ptrEverywhere(t, "3.34.0.30", "mail.example.com.")
		// Associated, it keeps its domain name (not the public name an
		// associated address otherwise has).
		tp.ec2OK(t, nil, "associate-address", "--allocation-id", spareAlloc, "--instance-id", tp.instance(t, "db").InstanceId)
		ptrEverywhere(t, "3.34.0.30", "mail.example.com.")
		tp.mustDig(t, "db", "10.9.2.20", strings.TrimSuffix(sparePub, ".")) // its public name, split horizon
		tp.ec2OK(t, nil, "disassociate-address", "--association-id", tp.address(t, spareAlloc).AssociationId)
		// A release with the PTR set is refused: the PTR stays.
		tp.ec2Refused(t, "InvalidAddress.PtrSet", "release-address", "--allocation-id", spareAlloc)
		ptrEverywhere(t, "3.34.0.30", "mail.example.com.")
		tp.ec2OK(t, nil, "reset-address-attribute", "--allocation-id", spareAlloc, "--attribute", "domain-name")
		ptrEverywhere(t, "3.34.0.30", sparePub)
		tp.ec2OK(t, nil, "release-address", "--allocation-id", spareAlloc)
		for _, ns := range []string{"remote", "db"} {
			full, _ := tp.Exec(t, ns, "dig", "+time=1", "+tries=2", "-x", "3.34.0.30")
			if !strings.Contains(full, "status: NXDOMAIN") {
				t.Errorf("%s: PTR of a released address:\n%s", ns, full)
			}
		}
		// The record of the file stays: a name is not an allocation.
		tp.mustDig(t, "remote", "3.34.0.30", "mail.example.com")
	})
}
