package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/vpcnet/vpcnet/internal/sdkhttp"
)

// bodyRecorder is an HTTP client that keeps what the SDK hands net/http:
// whether the request body offers WriteTo, and its bytes.
type bodyRecorder struct {
	writerTo bool
	body     []byte
}

func (b *bodyRecorder) Do(r *http.Request) (*http.Response, error) {
	_, b.writerTo = r.Body.(io.WriterTo)
	var err error
	if b.body, err = io.ReadAll(r.Body); err != nil {
		return nil, err
	}
	const answer = `<DescribeInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r</requestId><reservationSet/></DescribeInstancesResponse>`
	return &http.Response{StatusCode: http.StatusOK, Header: http.Header{"Content-Type": {"text/xml"}},
		Body: io.NopCloser(strings.NewReader(answer)), ContentLength: int64(len(answer)), Request: r}, nil
}

func recordingClient(h ec2.HTTPClient) *ec2.Client {
	return ec2.New(ec2.Options{
		Region:       "ap-northeast-2",
		BaseEndpoint: aws.String("http://127.0.0.1:4566"),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "AKIAEXAMPLE", SecretAccessKey: "secret"}, nil
		}),
		Retryer:    aws.NopRetryer{},
		HTTPClient: h,
	})
}

// TestPlainBodyClientHidesWriteTo: the SDK's request body offers WriteTo,
// which answers io.EOF once the SDK has closed it and makes net/http close
// a connection under an answer being decoded (sdkhttp.PlainBody); through
// sdkhttp.PlainBody net/http gets the same bytes without WriteTo.
func TestPlainBodyClientHidesWriteTo(t *testing.T) {
	ctx := context.Background()
	sdk := &bodyRecorder{}
	if _, err := recordingClient(sdk).DescribeInstances(ctx, &ec2.DescribeInstancesInput{}); err != nil {
		t.Fatal(err)
	}
	if !sdk.writerTo {
		t.Errorf("the SDK's own request body no longer offers WriteTo: sdkhttp.PlainBody may no longer be needed")
	}
	plain := &bodyRecorder{}
	if _, err := recordingClient(sdkhttp.PlainBody{Client: plain}).DescribeInstances(ctx, &ec2.DescribeInstancesInput{}); err != nil {
		t.Fatal(err)
	}
	if plain.writerTo {
		t.Errorf("through sdkhttp.PlainBody the request body still offers WriteTo")
	}
	if !bytes.Equal(plain.body, sdk.body) || !bytes.Contains(plain.body, []byte("Action=DescribeInstances")) {
		t.Errorf("through sdkhttp.PlainBody the body is %q, want the SDK's %q", plain.body, sdk.body)
	}
}
