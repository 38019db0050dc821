package query

import (
	"io"
	"net/url"
	"testing"
)

func BenchmarkDecodeAuthorize(b *testing.B) {
	f, _ := url.ParseQuery("Action=AuthorizeSecurityGroupIngress&Version=2016-11-15&GroupId=sg-1&IpPermissions.1.IpProtocol=tcp" +
		"&IpPermissions.1.FromPort=22&IpPermissions.1.ToPort=22&IpPermissions.1.IpRanges.1.CidrIp=10.0.0.0/16")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode("AuthorizeSecurityGroupIngress", f); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeDescribeInstances(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if err := Encode(io.Discard, "DescribeInstances", rid, describeInstances); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	r, body := signed(b, describeVpcsBody, testKey, testSecret, "ec2", "eu-west-3", signedAt, nil)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Verify(r, body, lookup, signedAt); err != nil {
			b.Fatal(err)
		}
	}
}
