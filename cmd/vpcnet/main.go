// Command vpcnet brings up an AWS VPC on one Linux machine: real network
// namespaces for instances and internet hosts, and a userspace forwarder that
// decides every frame as a VPC would. This package holds flags, output and
// exit codes only; the work is done in topology/, netns/, dataplane/ and nat/.
package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
)

// exitError carries an exit code through cobra.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// Exit codes of the lifecycle commands (up, down, status …). The EC2
// commands exit as the AWS CLI does: 0, 252 usage, 254 service error, 255
// other (exitAWSUsage …, awscli.go).
const (
	exitFail  = 1 // the operation failed
	exitUsage = 2 // bad input: topology file, flags, arguments
)

func main() {
	root := &cobra.Command{
		Use:           "vpcnet",
		Short:         "An AWS VPC you can touch on one Linux machine",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(upCmd(), downCmd(), statusCmd(), statsCmd(), execCmd(), serveCmd(),
		ipRangesCmd(), validateCmd(), exportCmd(), envCmd(), daemonCmd(), graphCmd(), captureCmd(), agentCmd())
	root.PersistentPreRunE = func(*cobra.Command, []string) error { return useRunDir() } // multi.go
	addOperationCommands(root)
	if err := root.Execute(); err != nil {
		if msg := err.Error(); strings.HasPrefix(msg, "An error occurred (") {
			fmt.Fprintln(os.Stderr, msg) // the AWS CLI's shape, as is
		} else {
			fmt.Fprintln(os.Stderr, "vpcnet:", msg)
		}
		var ee *exitError
		if errors.As(err, &ee) {
			os.Exit(ee.code)
		}
		os.Exit(exitUsage)
	}
}
