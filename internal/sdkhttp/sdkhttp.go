// Package sdkhttp holds the HTTP client that vpcnet's tests and benchmarks
// give the AWS SDK for Go v2 when they call a topology's EC2 endpoint. It is
// test and bench support: the vpcnet binary does not import it.
package sdkhttp

import (
	"io"
	"net/http"
)

// Doer is the SDK's HTTP client interface (ec2.HTTPClient).
type Doer interface {
	Do(*http.Request) (*http.Response, error)
}

// PlainBody wraps the SDK's default HTTP client with one change: the
// request body it hands to net/http no longer offers WriteTo. smithy-go
// wraps the body in a closer whose WriteTo answers io.EOF once the SDK has
// closed it, which the SDK does as soon as the response's headers are in.
// Against a server that answers within a millisecond, net/http's writer is
// at that moment still checking that the body has no bytes past its
// Content-Length (a second copy, through WriteTo); it takes the io.EOF for a
// write error and closes the connection under the SDK still decoding the
// answer: "deserialization failed … use of closed network connection", a
// few times in a thousand calls (smithy-go v1.28.9, Go 1.26). Read, which
// the writer uses instead, answers (0, io.EOF) after the close as it should.
type PlainBody struct{ Client Doer }

// Do sends r with its body hidden behind a plain ReadCloser.
func (p PlainBody) Do(r *http.Request) (*http.Response, error) {
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = struct{ io.ReadCloser }{r.Body}
	}
	return p.Client.Do(r)
}
