package main

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/vpcnet/vpcnet/daemon"
)

// TestEnvEvaluates: what `vpcnet env` prints, evaluated by sh, sets the
// AWS variables to exactly the topology's values (a secret with a quote,
// slash and plus survives quoting), and unsets a session token and profile
// left in the environment.
func TestEnvEvaluates(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	a := daemon.Access{
		Credentials: daemon.Credentials{AccessKeyID: "AKIAABCDEFGHIJKLMNOP", SecretAccessKey: "ab'c/d+e$(touch x)`id`\"f"},
		Region:      "ap-northeast-2",
		EndpointURL: "http://127.0.0.1:4566",
	}
	var out bytes.Buffer
	writeEnv(&out, "ch5", a)
	cmd := exec.Command(sh, "-c", `eval "$VPCNET_ENV"; printf '%s\n' "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY" "$AWS_DEFAULT_REGION" "$AWS_REGION" "$AWS_ENDPOINT_URL" "${AWS_SESSION_TOKEN-unset}" "${AWS_PROFILE-unset}"`)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "VPCNET_ENV="+out.String(), "AWS_SESSION_TOKEN=stale", "AWS_PROFILE=work", "AWS_REGION=eu-west-1")
	got, err := cmd.Output()
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	want := strings.Join([]string{a.AccessKeyID, a.SecretAccessKey, a.Region, a.Region, a.EndpointURL, "unset", "unset"}, "\n") + "\n"
	if string(got) != want {
		t.Errorf("evaluated:\n%s\nwant:\n%s\nfrom:\n%s", got, want, out.String())
	}
	if entries, _ := os.ReadDir(cmd.Dir); len(entries) != 0 {
		t.Errorf("evaluating the exports ran a command from the secret")
	}
}
