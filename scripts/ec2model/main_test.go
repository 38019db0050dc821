package main

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"
)

// TestModelIsUpToDate: ec2/query/model.json is what this generator makes
// from the botocore installed here, when that is the botocore it was made
// from (python3-botocore's version is in each service's "source").
func TestModelIsUpToDate(t *testing.T) {
	const dir = "/usr/lib/python3/dist-packages/botocore"
	if _, err := os.Stat(dir + "/data/ec2"); err != nil {
		t.Skip("python3-botocore is not installed")
	}
	committed, err := os.ReadFile("../../ec2/query/model.json")
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Services map[string]struct{ Source string } `json:"services"`
	}
	if err := json.Unmarshal(committed, &m); err != nil {
		t.Fatal(err)
	}
	if want := "botocore " + botocoreVersion(dir) + " ec2/2016-11-15/service-2.json"; m.Services["ec2"].Source != want {
		t.Skipf("model.json is from %q, the installed botocore is %q: regenerate to compare", m.Services["ec2"].Source, want)
	}
	got, err := generate(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, committed) {
		t.Errorf("ec2/query/model.json is not what `go run ./scripts/ec2model` writes: regenerate it")
	}
	if len(got) > 512<<10 {
		t.Errorf("model.json is %d bytes: keep it well under 1 MB", len(got))
	}
}
