package query

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// MaxClockSkew is how far a request's X-Amz-Date may be from the server's
// clock, either way: EC2's RequestExpired is "more than 15 minutes after the
// date stamp on the request … or the date stamp on the request is more than
// 15 minutes in the future" (EC2 API Reference, common client errors).
const MaxClockSkew = 15 * time.Minute

// Caller is who signed a request: the access key and the credential scope
// the signature was made for.
type Caller struct {
	AccessKeyID string
	Region      string // the scope's region: the caller checks it is its own
	Service     string // "ec2" or "sts"
}

const (
	sigAlgorithm = "AWS4-HMAC-SHA256"
	amzDateFmt   = "20060102T150405Z"
	// maxAuthHeader bounds the Authorization header read.
	maxAuthHeader = 4096
	// maxSignedHeaders bounds the headers a signature may cover.
	maxSignedHeaders = 32
)

// The messages EC2 sends with these refusals.
const (
	msgAuthFailure       = "AWS was not able to validate the provided access credentials"
	msgSignatureMismatch = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
)

var signer = v4.NewSigner()

// Verify checks the AWS Signature Version 4 of r in the Authorization header
// form (what the AWS CLI, boto3 and the SDKs send), over body, the request's
// whole body as read by the caller (r.Body is not read). lookup gives the
// secret of an access key id; now is the server's clock.
//
// The signature is recomputed with the AWS SDK for Go's v4 signer over the
// same method, path, query, signed headers and body hash, for the region and
// service of the request's credential scope, and compared in constant time.
// The scope's service must be the one that serves the request's Action (ec2,
// or sts for GetCallerIdentity); an unknown or absent Action is left to
// Decode.
//
// Refusals are *Error with EC2's codes: MissingParameter (no signature at
// all: EC2 asks for AWSAccessKeyId), IncompleteSignature (a malformed
// Authorization header or X-Amz-Date), AuthFailure (an unknown access key, a
// session token, a query-string (presigned) or Signature Version 2
// request), RequestExpired (X-Amz-Date more than MaxClockSkew away), and
// SignatureDoesNotMatch (a wrong signature, scope date or service).
func Verify(r *http.Request, body []byte, lookup func(accessKeyID string) (secret string, ok bool), now time.Time) (Caller, error) {
	auth := r.Header.Values("Authorization")
	if len(auth) == 0 {
		q := r.URL.Query()
		switch {
		case q.Has("X-Amz-Signature") || q.Has("X-Amz-Credential") || q.Has("X-Amz-Algorithm"):
			return Caller{}, errorf(CodeAuthFailure, "Query-string (presigned) Signature Version 4 is not accepted here: sign the Authorization header, as the AWS CLI and the SDKs do")
		case q.Has("AWSAccessKeyId") || q.Has("Signature") || formHas(r, body, "AWSAccessKeyId"):
			return Caller{}, errorf(CodeAuthFailure, "Signature Version 2 is not accepted here: use Signature Version 4")
		}
		return Caller{}, errorf(CodeMissingParameter, "The request must contain the parameter AWSAccessKeyId")
	}
	if len(auth) > 1 || len(auth[0]) > maxAuthHeader {
		return Caller{}, errorf(CodeIncompleteSignature, "The request must carry one Authorization header of at most %d bytes", maxAuthHeader)
	}
	a, err := parseAuthorization(auth[0])
	if err != nil {
		return Caller{}, err
	}
	caller := Caller{AccessKeyID: a.keyID, Region: a.region, Service: a.service}

	dates := r.Header.Values("X-Amz-Date")
	if len(dates) != 1 {
		return Caller{}, errorf(CodeIncompleteSignature, "Authorization header requires existence of one 'X-Amz-Date' header.")
	}
	signedAt, perr := time.Parse(amzDateFmt, dates[0])
	if perr != nil {
		return Caller{}, errorf(CodeIncompleteSignature, "Date must be in ISO-8601 'basic format'. Got '%s'.", clip(dates[0]))
	}
	if a.date != dates[0][:8] {
		return Caller{}, errorf(CodeSignatureDoesNotMatch, "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '%s' != '%s', from '%s'.", a.date, dates[0][:8], dates[0])
	}
	if want := serviceForRequest(r, body); want != "" && a.service != want {
		return Caller{}, errorf(CodeSignatureDoesNotMatch, "Credential should be scoped to correct service: '%s'. ", want)
	}
	if a.service != "ec2" && a.service != "sts" {
		return Caller{}, errorf(CodeSignatureDoesNotMatch, "Credential should be scoped to correct service: 'ec2'. ")
	}
	if r.Header.Get("X-Amz-Security-Token") != "" {
		// vpcnet issues no session tokens: a token is someone else's
		// credentials (AWS_SESSION_TOKEN left set in the environment).
		return Caller{}, errorf(CodeAuthFailure, msgAuthFailure)
	}

	secret, ok := lookup(a.keyID)
	if !ok {
		return Caller{}, errorf(CodeAuthFailure, msgAuthFailure)
	}
	if d := now.Sub(signedAt); d > MaxClockSkew || d < -MaxClockSkew {
		return Caller{}, errorf(CodeRequestExpired, "Request has expired.")
	}

	// The request as the client signed it: its method, path and query,
	// only the headers it listed, and the body's hash.
	signed := &http.Request{
		Method: r.Method,
		URL:    &url.URL{Scheme: "http", Host: r.Host, Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery},
		Host:   r.Host,
		Header: http.Header{},
	}
	if r.TLS != nil {
		signed.URL.Scheme = "https"
	}
	for _, h := range a.signedHeaders {
		switch h {
		case "host":
		case "content-length":
			signed.ContentLength = int64(len(body))
		default:
			vs := r.Header.Values(h)
			if len(vs) == 0 {
				return Caller{}, errorf(CodeSignatureDoesNotMatch, msgSignatureMismatch)
			}
			signed.Header[http.CanonicalHeaderKey(h)] = vs
		}
	}
	hash := sha256.Sum256(body)
	creds := aws.Credentials{AccessKeyID: a.keyID, SecretAccessKey: secret}
	if err := signer.SignHTTP(context.Background(), creds, signed, hex.EncodeToString(hash[:]), a.service, a.region, signedAt); err != nil {
		return Caller{}, errorf(CodeInternalError, "signing: %v", err)
	}
	got, gerr := parseAuthorization(signed.Header.Get("Authorization"))
	if gerr != nil {
		return Caller{}, errorf(CodeInternalError, "signing: %v", gerr)
	}
	// The signer signs every header it is given but a few it never signs
	// (User-Agent …): a client that signed one of those cannot be checked.
	if !slices.Equal(got.signedHeaders, a.signedHeaders) ||
		subtle.ConstantTimeCompare([]byte(got.signature), []byte(a.signature)) != 1 {
		return Caller{}, errorf(CodeSignatureDoesNotMatch, msgSignatureMismatch)
	}
	return caller, nil
}

// authorization is a parsed SigV4 Authorization header.
type authorization struct {
	keyID, date, region, service string
	signedHeaders                []string
	signature                    string
}

// parseAuthorization reads
//
//	AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/ec2/aws4_request, SignedHeaders=host;x-amz-date, Signature=<64 hex>
func parseAuthorization(h string) (authorization, *Error) {
	var a authorization
	alg, rest, _ := strings.Cut(h, " ")
	if alg != sigAlgorithm {
		return a, errorf(CodeIncompleteSignature, "Unsupported AWS 'algorithm': '%s'. Sign with Signature Version 4 (%s).", clip(alg), sigAlgorithm)
	}
	var cred, signed, sig string
	var haveCred, haveSigned, haveSig bool
	for _, part := range strings.Split(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return a, errorf(CodeIncompleteSignature, "Authorization header has a part without '=': '%s'.", clip(part))
		}
		switch k {
		case "Credential":
			cred, haveCred = v, true
		case "SignedHeaders":
			signed, haveSigned = v, true
		case "Signature":
			sig, haveSig = v, true
		default:
			return a, errorf(CodeIncompleteSignature, "Authorization header has an unknown part '%s'.", clip(k))
		}
	}
	var missing []string
	for _, p := range []struct {
		name string
		have bool
	}{{"Credential", haveCred}, {"Signature", haveSig}, {"SignedHeaders", haveSigned}} {
		if !p.have {
			missing = append(missing, "Authorization header requires '"+p.name+"' parameter.")
		}
	}
	if len(missing) > 0 {
		return a, errorf(CodeIncompleteSignature, "%s", strings.Join(missing, " "))
	}
	scope := strings.Split(cred, "/")
	if len(scope) != 5 || scope[0] == "" {
		return a, errorf(CodeIncompleteSignature, "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '%s'", clip(cred))
	}
	a.keyID, a.date, a.region, a.service = scope[0], scope[1], scope[2], scope[3]
	if scope[4] != "aws4_request" {
		return a, errorf(CodeSignatureDoesNotMatch, "Credential should be scoped with a valid terminator: 'aws4_request', not '%s'.", clip(scope[4]))
	}
	if len(a.date) != 8 || !digits(a.date) || !token(a.region) || !token(a.service) || len(a.keyID) > 128 {
		return a, errorf(CodeIncompleteSignature, "Credential is malformed: '%s'", clip(cred))
	}
	a.signedHeaders = strings.Split(signed, ";")
	if len(a.signedHeaders) > maxSignedHeaders {
		return a, errorf(CodeIncompleteSignature, "SignedHeaders lists %d headers: at most %d", len(a.signedHeaders), maxSignedHeaders)
	}
	for i, h := range a.signedHeaders {
		if h == "" || h != strings.ToLower(h) || (i > 0 && h <= a.signedHeaders[i-1]) {
			return a, errorf(CodeIncompleteSignature, "SignedHeaders must be lower-case header names, sorted, separated by ';': '%s'", clip(signed))
		}
	}
	if !slices.Contains(a.signedHeaders, "host") {
		return a, errorf(CodeSignatureDoesNotMatch, "'Host' must be a 'SignedHeader' in the AWS Authorization.")
	}
	if !slices.Contains(a.signedHeaders, "x-amz-date") {
		return a, errorf(CodeSignatureDoesNotMatch, "'X-Amz-Date' must be a 'SignedHeader' in the AWS Authorization.")
	}
	if len(sig) != 64 || !hexLower(sig) {
		return a, errorf(CodeIncompleteSignature, "Signature must be 64 lower-case hexadecimal digits.")
	}
	a.signature = sig
	return a, nil
}

func digits(s string) bool {
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func hexLower(s string) bool {
	for _, c := range []byte(s) {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// token: a region or service name, 1 to 64 of [a-z0-9-].
func token(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range []byte(s) {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
			return false
		}
	}
	return true
}

// serviceForRequest is the signing name of the service that serves the
// request's Action (in the query string or the form body), or "" when the
// Action is absent, repeated or unknown.
func serviceForRequest(r *http.Request, body []byte) string {
	actions := r.URL.Query()["Action"]
	if isForm(r) {
		if f, err := url.ParseQuery(string(body)); err == nil {
			actions = append(actions, f["Action"]...)
		}
	}
	if len(actions) != 1 {
		return ""
	}
	s, _ := ServiceOf(actions[0])
	return s
}

func isForm(r *http.Request) bool {
	ct, _, _ := strings.Cut(r.Header.Get("Content-Type"), ";")
	return strings.EqualFold(strings.TrimSpace(ct), "application/x-www-form-urlencoded")
}

func formHas(r *http.Request, body []byte, key string) bool {
	if !isForm(r) {
		return false
	}
	f, err := url.ParseQuery(string(body))
	return err == nil && f.Has(key)
}
