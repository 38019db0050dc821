package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/vpcnet/vpcnet/daemon"
)

// envCmd prints the shell exports that point AWS tools at a topology's EC2
// endpoint with its credentials:
//
//	eval "$(sudo vpcnet env ch5)"; aws --endpoint-url "$AWS_ENDPOINT_URL" ec2 describe-vpcs
func envCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "env [name]",
		Short: "Print shell exports (credentials, region, endpoint) for AWS tools: eval \"$(sudo vpcnet env NAME)\"",
		Long: "Print shell exports that point the AWS CLI, boto3 and the SDKs at a topology's EC2 endpoint with " +
			"its own credentials: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION and AWS_REGION " +
			"(the topology's region), AWS_ENDPOINT_URL; it unsets AWS_SESSION_TOKEN and AWS_PROFILE, which would " +
			"take precedence or be sent along. The name may be left out when one topology is up. Needs root: " +
			"the credentials are root's (/run/vpcnet/NAME/credentials).",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := ""
			if len(args) == 1 {
				name = args[0]
			}
			if err := requireRoot(); err != nil {
				return err
			}
			if names := daemon.List(); name == "" && len(names) > 1 {
				return &exitError{exitUsage, fmt.Errorf("topologies %s are up: name one, `vpcnet env NAME`", strings.Join(names, ", "))}
			}
			t, err := pickTopology(name)
			if err != nil {
				return err
			}
			a, err := daemon.ReadAccess(t)
			if err != nil {
				if st, serr := daemon.ReadState(t); errors.Is(err, daemon.ErrNotUp) && serr == nil && st.Daemon.Alive() {
					err = fmt.Errorf("topology %s is up but has no EC2 endpoint credentials (brought up by an older vpcnet?): take it down and up again", t)
				}
				return &exitError{exitFail, err}
			}
			writeEnv(cmd.OutOrStdout(), t, a)
			return nil
		},
	}
}

// writeEnv writes a's exports for a POSIX shell, each value single-quoted.
func writeEnv(w io.Writer, name string, a daemon.Access) {
	fmt.Fprintf(w, "# topology %s: EC2 endpoint %s, region %s\n", name, a.EndpointURL, a.Region)
	for _, kv := range [][2]string{
		{"AWS_ACCESS_KEY_ID", a.AccessKeyID},
		{"AWS_SECRET_ACCESS_KEY", a.SecretAccessKey},
		{"AWS_DEFAULT_REGION", a.Region}, // the AWS CLI and boto3
		{"AWS_REGION", a.Region},         // the SDKs (Go, Java, JS) and Terraform, which prefer it
		{"AWS_ENDPOINT_URL", a.EndpointURL},
	} {
		fmt.Fprintf(w, "export %s=%s\n", kv[0], shellQuote(kv[1]))
	}
	// A session token would be sent along with the topology's key (and
	// refused); a profile can take precedence over the exported key.
	fmt.Fprintln(w, "unset AWS_SESSION_TOKEN AWS_SECURITY_TOKEN AWS_PROFILE")
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
