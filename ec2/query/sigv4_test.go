package query

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

const (
	testKey    = "AKIAVPCNETTEST000001"
	testSecret = "vpcnet/test+secret/0123456789abcdefghijklmn"
	endpoint   = "http://127.0.0.1:4566/"
)

var signedAt = time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)

func lookup(id string) (string, bool) {
	if id == testKey {
		return testSecret, true
	}
	return "", false
}

// clientRequest is a form POST as the AWS CLI and the SDKs send it.
func clientRequest(t testing.TB, method, target, body string) *http.Request {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	r, err := http.NewRequest(method, target, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	}
	r.Header.Set("User-Agent", "aws-sdk-go-v2/1.0 (vpcnet test)")
	r.Header.Set("Amz-Sdk-Invocation-Id", "5b4ae0d2-7c5e-4a8c-9a43-0f2f7d3c1e11")
	r.Header.Set("Amz-Sdk-Request", "attempt=1; max=3")
	return r
}

// sdkSign signs r with the AWS SDK for Go's v4 signer.
func sdkSign(t testing.TB, r *http.Request, body, key, secret, service, region string, at time.Time) {
	t.Helper()
	h := sha256.Sum256([]byte(body))
	creds := aws.Credentials{AccessKeyID: key, SecretAccessKey: secret}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, r, hex.EncodeToString(h[:]), service, region, at); err != nil {
		t.Fatal(err)
	}
}

// serverSide is r as an HTTP server reads it off the wire, and its body.
func serverSide(t testing.TB, r *http.Request) (*http.Request, []byte) {
	t.Helper()
	var wire bytes.Buffer
	if err := r.Write(&wire); err != nil {
		t.Fatal(err)
	}
	s, err := http.ReadRequest(bufio.NewReader(&wire))
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(s.Body)
	if err != nil {
		t.Fatal(err)
	}
	return s, body
}

func signed(t testing.TB, body, key, secret, service, region string, at time.Time, edit func(*http.Request)) (*http.Request, []byte) {
	t.Helper()
	r := clientRequest(t, http.MethodPost, endpoint, body)
	sdkSign(t, r, body, key, secret, service, region, at)
	if edit != nil {
		edit(r)
	}
	return serverSide(t, r)
}

const describeVpcsBody = "Action=DescribeVpcs&Version=2016-11-15&VpcId.1=vpc-1"

func TestVerifySDKSigned(t *testing.T) {
	ok := func(t *testing.T, r *http.Request, body []byte, now time.Time, want Caller) {
		t.Helper()
		got, err := Verify(r, body, lookup, now)
		if err != nil {
			t.Fatalf("Verify: %v", err)
		}
		if got != want {
			t.Errorf("Verify = %+v, want %+v", got, want)
		}
	}
	ec2Caller := Caller{AccessKeyID: testKey, Region: "eu-west-3", Service: "ec2"}
	t.Run("good", func(t *testing.T) {
		r, body := signed(t, describeVpcsBody, testKey, testSecret, "ec2", "eu-west-3", signedAt, nil)
		ok(t, r, body, signedAt.Add(time.Second), ec2Caller)
	})
	t.Run("14 minutes late and early", func(t *testing.T) {
		r, body := signed(t, describeVpcsBody, testKey, testSecret, "ec2", "eu-west-3", signedAt, nil)
		ok(t, r, body, signedAt.Add(14*time.Minute), ec2Caller)
		ok(t, r, body, signedAt.Add(-14*time.Minute), ec2Caller)
	})
	t.Run("sts", func(t *testing.T) {
		r, body := signed(t, "Action=GetCallerIdentity&Version=2011-06-15", testKey, testSecret, "sts", "us-east-1", signedAt, nil)
		ok(t, r, body, signedAt, Caller{AccessKeyID: testKey, Region: "us-east-1", Service: "sts"})
	})
	t.Run("GET with a query string", func(t *testing.T) {
		r := clientRequest(t, http.MethodGet, endpoint+"?Action=DescribeVpcs&Version=2016-11-15&Filter.1.Name=tag%3AName&Filter.1.Value.1=a%20b", "")
		sdkSign(t, r, "", testKey, testSecret, "ec2", "eu-west-3", signedAt)
		s, body := serverSide(t, r)
		ok(t, s, body, signedAt, ec2Caller)
	})
}

func TestVerifyRefusals(t *testing.T) {
	sign := func(edit func(*http.Request)) func(t *testing.T) (*http.Request, []byte) {
		return func(t *testing.T) (*http.Request, []byte) {
			return signed(t, describeVpcsBody, testKey, testSecret, "ec2", "eu-west-3", signedAt, edit)
		}
	}
	for _, c := range []struct {
		name string
		req  func(t *testing.T) (*http.Request, []byte)
		now  time.Time
		code string
		msg  string
	}{
		{"wrong secret", func(t *testing.T) (*http.Request, []byte) {
			return signed(t, describeVpcsBody, testKey, "not-the-secret", "ec2", "eu-west-3", signedAt, nil)
		}, signedAt, CodeSignatureDoesNotMatch, msgSignatureMismatch},
		{"unknown key", func(t *testing.T) (*http.Request, []byte) {
			return signed(t, describeVpcsBody, "AKIAUNKNOWN", testSecret, "ec2", "eu-west-3", signedAt, nil)
		}, signedAt, CodeAuthFailure, msgAuthFailure},
		{"16 minutes late", sign(nil), signedAt.Add(16 * time.Minute), CodeRequestExpired, "Request has expired."},
		{"16 minutes early", sign(nil), signedAt.Add(-16 * time.Minute), CodeRequestExpired, "Request has expired."},
		{"body changed after signing", func(t *testing.T) (*http.Request, []byte) {
			r, _ := signed(t, describeVpcsBody, testKey, testSecret, "ec2", "eu-west-3", signedAt, nil)
			return r, []byte(strings.Replace(describeVpcsBody, "vpc-1", "vpc-2", 1))
		}, signedAt, CodeSignatureDoesNotMatch, msgSignatureMismatch},
		{"signed header changed", sign(func(r *http.Request) { r.Header.Set("Amz-Sdk-Request", "attempt=2; max=3") }),
			signedAt, CodeSignatureDoesNotMatch, msgSignatureMismatch},
		{"signed header removed", sign(func(r *http.Request) { r.Header.Del("Amz-Sdk-Request") }),
			signedAt, CodeSignatureDoesNotMatch, msgSignatureMismatch},
		{"host changed", sign(func(r *http.Request) { r.Host = "127.0.0.1:4567" }),
			signedAt, CodeSignatureDoesNotMatch, msgSignatureMismatch},
		{"no signature", func(t *testing.T) (*http.Request, []byte) {
			return serverSide(t, clientRequest(t, http.MethodPost, endpoint, describeVpcsBody))
		}, signedAt, CodeMissingParameter, "The request must contain the parameter AWSAccessKeyId"},
		{"presigned", func(t *testing.T) (*http.Request, []byte) {
			r := clientRequest(t, http.MethodGet, endpoint+"?Action=DescribeVpcs&Version=2016-11-15", "")
			u, _, err := v4.NewSigner().PresignHTTP(context.Background(), aws.Credentials{AccessKeyID: testKey, SecretAccessKey: testSecret},
				r, hex.EncodeToString(make([]byte, 32)), "ec2", "eu-west-3", signedAt)
			if err != nil {
				t.Fatal(err)
			}
			p := clientRequest(t, http.MethodGet, u, "")
			return serverSide(t, p)
		}, signedAt, CodeAuthFailure, "Query-string (presigned) Signature Version 4 is not accepted here: sign the Authorization header, as the AWS CLI and the SDKs do"},
		{"signature version 2", func(t *testing.T) (*http.Request, []byte) {
			return serverSide(t, clientRequest(t, http.MethodPost, endpoint, describeVpcsBody+"&AWSAccessKeyId=AKIA&SignatureVersion=2&Signature=x"))
		}, signedAt, CodeAuthFailure, "Signature Version 2 is not accepted here: use Signature Version 4"},
		{"scoped to another service", func(t *testing.T) (*http.Request, []byte) {
			return signed(t, describeVpcsBody, testKey, testSecret, "s3", "eu-west-3", signedAt, nil)
		}, signedAt, CodeSignatureDoesNotMatch, "Credential should be scoped to correct service: 'ec2'. "},
		{"an ec2 action scoped to sts", func(t *testing.T) (*http.Request, []byte) {
			return signed(t, describeVpcsBody, testKey, testSecret, "sts", "eu-west-3", signedAt, nil)
		}, signedAt, CodeSignatureDoesNotMatch, "Credential should be scoped to correct service: 'ec2'. "},
		{"an sts action scoped to ec2", func(t *testing.T) (*http.Request, []byte) {
			return signed(t, "Action=GetCallerIdentity&Version=2011-06-15", testKey, testSecret, "ec2", "us-east-1", signedAt, nil)
		}, signedAt, CodeSignatureDoesNotMatch, "Credential should be scoped to correct service: 'sts'. "},
		{"a session token", func(t *testing.T) (*http.Request, []byte) {
			r := clientRequest(t, http.MethodPost, endpoint, describeVpcsBody)
			h := sha256.Sum256([]byte(describeVpcsBody))
			creds := aws.Credentials{AccessKeyID: testKey, SecretAccessKey: testSecret, SessionToken: "tok"}
			if err := v4.NewSigner().SignHTTP(context.Background(), creds, r, hex.EncodeToString(h[:]), "ec2", "eu-west-3", signedAt); err != nil {
				t.Fatal(err)
			}
			return serverSide(t, r)
		}, signedAt, CodeAuthFailure, msgAuthFailure},
		{"scope date is not the request's", sign(func(r *http.Request) { r.Header.Set("X-Amz-Date", "20240507T070809Z") }),
			signedAt, CodeSignatureDoesNotMatch, "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '20240506' != '20240507', from '20240507T070809Z'."},
		{"no X-Amz-Date", sign(func(r *http.Request) { r.Header.Del("X-Amz-Date") }),
			signedAt, CodeIncompleteSignature, "Authorization header requires existence of one 'X-Amz-Date' header."},
		{"X-Amz-Date not ISO 8601 basic", sign(func(r *http.Request) { r.Header.Set("X-Amz-Date", "2024-05-06T07:08:09Z") }),
			signedAt, CodeIncompleteSignature, "Date must be in ISO-8601 'basic format'. Got '2024-05-06T07:08:09Z'."},
		{"another algorithm", sign(func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256", "AWS4-HMAC-SHA1", 1))
		}), signedAt, CodeIncompleteSignature, "Unsupported AWS 'algorithm': 'AWS4-HMAC-SHA1'. Sign with Signature Version 4 (AWS4-HMAC-SHA256)."},
		{"no Signature part", sign(func(r *http.Request) {
			a := r.Header.Get("Authorization")
			r.Header.Set("Authorization", a[:strings.Index(a, ", Signature=")])
		}), signedAt, CodeIncompleteSignature, "Authorization header requires 'Signature' parameter."},
		{"host not signed", sign(func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "host;", "", 1))
		}), signedAt, CodeSignatureDoesNotMatch, "'Host' must be a 'SignedHeader' in the AWS Authorization."},
		{"signed headers unsorted", sign(func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "content-type;host", "host;content-type", 1))
		}), signedAt, CodeIncompleteSignature, "SignedHeaders must be lower-case header names, sorted, separated by ';': 'amz-sdk-invocation-id;amz-sdk-request;content-length;host;conten'"},
		{"a signed header the SDK never signs", sign(func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "x-amz-date", "user-agent;x-amz-date", 1))
		}), signedAt, CodeSignatureDoesNotMatch, msgSignatureMismatch},
		{"terminator", sign(func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "/aws4_request", "/aws5_request", 1))
		}), signedAt, CodeSignatureDoesNotMatch, "Credential should be scoped with a valid terminator: 'aws4_request', not 'aws5_request'."},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, body := c.req(t)
			_, err := Verify(r, body, lookup, c.now)
			var qe *Error
			if !errors.As(err, &qe) {
				t.Fatalf("Verify = %v, want *Error %s", err, c.code)
			}
			if qe.Code != c.code || qe.Message != c.msg {
				t.Errorf("Verify: %s: %q\n                  want %s: %q", qe.Code, qe.Message, c.code, c.msg)
			}
		})
	}
}

// TestVerifyBotocoreSigned: requests signed by botocore's SigV4Auth (the AWS
// CLI's and boto3's signer) pass, and fail with the wrong secret.
func TestVerifyBotocoreSigned(t *testing.T) {
	now := time.Now().UTC()
	bodies := []string{describeVpcsBody, "Action=GetCallerIdentity&Version=2011-06-15",
		"Action=CreateTags&Version=2016-11-15&ResourceId.1=vpc-1&Tag.1.Key=Name&Tag.1.Value=a%20b%26c"}
	services := []string{"ec2", "sts", "ec2"}
	var cases []map[string]any
	for i, b := range bodies {
		for _, secret := range []string{testSecret, "wrong"} {
			cases = append(cases, map[string]any{"url": endpoint, "body": b, "key": testKey, "secret": secret,
				"service": services[i], "region": "eu-west-3"})
		}
	}
	var headers []map[string]string
	botocore(t, "sign", cases, &headers)
	for i, c := range cases {
		r := clientRequest(t, http.MethodPost, endpoint, c["body"].(string))
		r.Header.Del("Amz-Sdk-Invocation-Id")
		r.Header.Del("Amz-Sdk-Request")
		for k, v := range headers[i] {
			r.Header.Set(k, v)
		}
		s, body := serverSide(t, r)
		_, err := Verify(s, body, lookup, now)
		if c["secret"] == testSecret && err != nil {
			t.Errorf("%s signed by botocore: %v (headers %v)", c["body"], err, headers[i])
		}
		var qe *Error
		if c["secret"] != testSecret && (!errors.As(err, &qe) || qe.Code != CodeSignatureDoesNotMatch) {
			t.Errorf("%s signed by botocore with the wrong secret: %v, want SignatureDoesNotMatch", c["body"], err)
		}
	}
}

func TestVerifyDoesNotReadTheBody(t *testing.T) {
	r, body := signed(t, describeVpcsBody, testKey, testSecret, "ec2", "eu-west-3", signedAt, nil)
	r.Body = io.NopCloser(strings.NewReader("unread"))
	if _, err := Verify(r, body, lookup, signedAt); err != nil {
		t.Fatal(err)
	}
	rest, _ := io.ReadAll(r.Body)
	if string(rest) != "unread" {
		t.Errorf("Verify read r.Body")
	}
}
