package topology

import (
	"fmt"
	"strings"
)

// RuleFormat is the rule id of errors about the file's shape and syntax:
// malformed JSON, unknown fields, bad names, dangling references.
const RuleFormat = "FORMAT"

// Error is one validation error: where (JSON path), which rule
// (vpc-semantics.md id such as ENI-6, or FORMAT) and what.
type Error struct {
	Path string // e.g. vpcs[0].instances[2].network_interfaces[0]; empty for the whole file
	Rule string // e.g. ENI-6
	Msg  string
}

// Error prints `path: msg (RULE)`.
func (e *Error) Error() string {
	var b strings.Builder
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	if e.Rule != "" {
		b.WriteString(" (")
		b.WriteString(e.Rule)
		b.WriteString(")")
	}
	return b.String()
}

// Errors is every error found in a topology file, in file order. Parse,
// Resolve and Load return a non-empty *Errors as their error.
type Errors []*Error

// Error prints one error per line.
func (es *Errors) Error() string {
	lines := make([]string, len(*es))
	for i, e := range *es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap lets errors.As find an individual *Error.
func (es *Errors) Unwrap() []error {
	out := make([]error, len(*es))
	for i, e := range *es {
		out[i] = e
	}
	return out
}

// CheckName refuses a topology name outside [a-z0-9-]{1,12}. A topology's
// name prefixes its namespaces and devices and names its state folder, so a
// name from a user is checked before anything touches the filesystem.
func CheckName(name string) error {
	if !topoNameRE.MatchString(name) {
		return &Error{Path: "name", Rule: RuleFormat, Msg: fmt.Sprintf("topology name %q must match [a-z0-9-]{1,12}", name)}
	}
	return nil
}
