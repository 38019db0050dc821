package query

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"testing"
)

// FuzzDecode: any action and parameters give an Input or an *Error, never
// a panic, and an Input is JSON-like.
func FuzzDecode(f *testing.F) {
	for _, s := range []struct{ action, query string }{
		{"DescribeInstances", "Version=2016-11-15&Filter.1.Name=vpc-id&Filter.1.Value.2=vpc-1&InstanceId.1=i-1&MaxResults=5"},
		{"AuthorizeSecurityGroupIngress", "Version=2016-11-15&GroupId=sg-1&IpPermissions.1.IpProtocol=tcp&IpPermissions.1.FromPort=22&IpPermissions.1.IpRanges.2.CidrIp=10.0.0.0/16"},
		{"RunInstances", "Version=2016-11-15&MinCount=1&MaxCount=1&TagSpecification.1.ResourceType=instance&TagSpecification.1.Tag.1.Key=Name&UserData=IyEK&NetworkInterface.1.PrivateIpAddresses.1.Primary=true"},
		{"ModifyInstanceAttribute", "Version=2016-11-15&InstanceId=i-1&SourceDestCheck.Value=false"},
		{"ImportKeyPair", "Version=2016-11-15&KeyName=k&PublicKeyMaterial=c3NoLQ=="},
		{"CreateNetworkAclEntry", "Version=2016-11-15&NetworkAclId=a&RuleNumber=1&Protocol=-1&RuleAction=allow&Egress=true&Icmp.Type=-1"},
		{"GetCallerIdentity", "Version=2011-06-15"},
		{"DescribeVpcs", "Version=2016-11-15&VpcId.0=x&VpcId.1001=y&Filter..Name=z"},
		{"Nope", "Version=1"},
	} {
		f.Add(s.action, s.query)
	}
	f.Fuzz(func(t *testing.T, action, query string) {
		form, err := url.ParseQuery(query)
		if err != nil {
			return
		}
		in, err := Decode(action, form)
		if err != nil {
			var qe *Error
			if !errors.As(err, &qe) || qe.Code == "" || qe.Message == "" {
				t.Fatalf("Decode(%q, %q) = %v: not an EC2 error", action, query, err)
			}
			if qe.Code == CodeInternalError {
				t.Fatalf("Decode(%q, %q) = %v", action, query, err)
			}
			return
		}
		if _, err := json.Marshal(in); err != nil {
			t.Fatalf("Decode(%q, %q) = %#v: not JSON-like: %v", action, query, in, err)
		}
	})
}

// FuzzVerify: any request gives a Caller or an *Error, never a panic.
func FuzzVerify(f *testing.F) {
	for _, body := range []string{describeVpcsBody, "Action=GetCallerIdentity&Version=2011-06-15"} {
		service := "ec2"
		if body[7] == 'G' {
			service = "sts"
		}
		r := clientRequest(f, http.MethodPost, endpoint, body)
		sdkSign(f, r, body, testKey, testSecret, service, "eu-west-3", signedAt)
		var wire bytes.Buffer
		if err := r.Write(&wire); err != nil {
			f.Fatal(err)
		}
		f.Add(wire.Bytes())
	}
	f.Add([]byte("GET /?Action=DescribeVpcs&X-Amz-Signature=00 HTTP/1.1\r\nHost: h\r\n\r\n"))
	f.Add([]byte("POST / HTTP/1.1\r\nHost: h\r\nAuthorization: AWS4-HMAC-SHA256 Credential=a/b/c/d/e, SignedHeaders=host, Signature=0\r\n\r\n"))
	f.Fuzz(func(t *testing.T, wire []byte) {
		r, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(wire)))
		if err != nil {
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<16))
		if err != nil {
			return
		}
		_, err = Verify(r, body, lookup, signedAt)
		var qe *Error
		if err != nil && (!errors.As(err, &qe) || qe.Code == "" || qe.Message == "") {
			t.Fatalf("Verify = %v: not an EC2 error", err)
		}
	})
}
