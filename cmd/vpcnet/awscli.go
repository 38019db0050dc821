package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/vpcnet/vpcnet/ec2/query"
)

// vpcnet's EC2 commands take the AWS CLI's arguments, built from EC2's model
// as the AWS CLI builds them from botocore's (issue 11 item 4):
//
//   - every top-level member of a typed operation's input shape that no
//     existing flag covers is a flag named by botocore's xform_name
//     (GroupId → --group-id, IpPermissions → --ip-permissions);
//   - values parse by the member's type: strings and numbers as given;
//     booleans as --x / --no-x; lists of scalars as several arguments
//     (--instance-ids i-1 i-2), repeated flags or commas; structures and
//     lists of structures in shorthand (Name=vpc-id,Values=vpc-1,vpc-2) or
//     JSON (a value starting with [ or {); file://path (fileb:// for
//     blobs) reads any value from a file;
//   - --cli-input-json gives members by name; flags override it;
//   - the request is validated against the model before it is sent, as
//     botocore's ParamValidator does: unknown member, wrong type, missing
//     required member, below the model's min are usage errors (exit 252).
//
// The existing flags (operationList) stay: they become EC2's members through
// typedInputs (the AWS CLI's customizations: --protocol --port --cidr →
// IpPermissions; vpcnet's --name → the Name tag), or, for an operation with
// no entry there, by name (--subnet-id → SubnetId). A member given both by
// them and by its own flag is refused.

// The AWS CLI's exit codes, which vpcnet's EC2 commands use (the lifecycle
// commands keep exitFail and exitUsage).
const (
	exitAWSUsage   = 252 // the command line does not parse, or the request does not validate
	exitAWSService = 254 // the service answered an error (an EC2 error code)
	exitAWSOther   = 255 // anything else: the daemon not answering, not root
)

// usageErr is a usage error of an EC2 command (exit 252).
func usageErr(format string, args ...any) error {
	return &exitError{exitAWSUsage, fmt.Errorf(format, args...)}
}

// awsExit gives an EC2 command's error the AWS CLI's exit code: its own if
// it has one of them, else 252 for vpcnet's usage errors and for errors
// without a code (flag parsing), 255 for other failures.
func awsExit(err error) error {
	if err == nil {
		return nil
	}
	ee, ok := err.(*exitError)
	if !ok {
		return &exitError{exitAWSUsage, err}
	}
	switch ee.code {
	case exitAWSUsage, exitAWSService, exitAWSOther:
		return ee
	case exitUsage:
		return &exitError{exitAWSUsage, ee.err}
	}
	return &exitError{exitAWSOther, ee.err}
}

var (
	firstCapRE    = regexp.MustCompile(`(.)([A-Z][a-z]+)`)
	endCapRE      = regexp.MustCompile(`([a-z0-9])([A-Z])`)
	specialCaseRE = regexp.MustCompile(`[A-Z]{2,}s$`)
)

// cliName is botocore's xform_name(member, "-"): the AWS CLI's name of a
// member's flag (DryRun → dry-run, VpcIds → vpc-ids, Ipv6CidrBlock →
// ipv6-cidr-block).
func cliName(member string) string {
	name := member
	if strings.Contains(name, "-") {
		return name
	}
	if m := specialCaseRE.FindString(name); m != "" {
		name = name[:len(name)-len(m)] + "-" + strings.ToLower(m)
	}
	s := firstCapRE.ReplaceAllString(name, "${1}-${2}")
	s = strings.ToLower(endCapRE.ReplaceAllString(s, "${1}-${2}"))
	s = strings.ReplaceAll(s, "ipv-6", "ipv6")
	return strings.ReplaceAll(s, "s-3-resources", "s3-resources")
}

// globalFlags are the AWS CLI's options that every EC2 command takes, and
// vpcnet's --topology. A member whose flag would clash is reachable through
// --cli-input-json only.
var globalFlags = []string{"output", "query", "region", "profile", "no-cli-pager", "no-paginate", "cli-input-json", "topology", "help"}

// memberFlag is the flag of one top-level input member.
type memberFlag struct {
	member query.Member
	name   string   // the flag: group-id
	values []string // what was given, in order (lists take several)
	on     *bool    // boolean members: --x
	off    *bool    // and --no-x
}

func (f *memberFlag) given() bool {
	return len(f.values) > 0 || (f.on != nil && *f.on) || (f.off != nil && *f.off)
}

// memberValue is the pflag.Value of a non-boolean member flag.
type memberValue struct{ f *memberFlag }

func (v memberValue) String() string { return strings.Join(v.f.values, " ") }
func (v memberValue) Type() string   { return typeWord(v.f.member.Shape) }
func (v memberValue) Set(s string) error {
	if v.f.member.Shape.Type() != "list" && len(v.f.values) > 0 {
		return fmt.Errorf("given more than once (%q, then %q)", v.f.values[0], s)
	}
	v.f.values = append(v.f.values, s)
	return nil
}

// typeWord names a shape's kind in --help, as the AWS CLI's synopsis does.
func typeWord(s query.Shape) string {
	switch s.Type() {
	case "list":
		if s.Elem().IsScalar() {
			return "list"
		}
		return "shorthand-list"
	case "structure", "map":
		return "shorthand"
	case "integer", "long":
		return "int"
	case "double", "float":
		return "float"
	}
	return "string"
}

// memberHelp is a member flag's --help line.
func memberHelp(s query.Shape) string {
	switch t := s.Type(); {
	case t == "list" && s.Elem().IsScalar():
		return "one or more, space-separated, repeated or comma-separated" + enumHelp(s.Elem())
	case t == "list":
		return "one or more, space-separated: shorthand (" + shorthandExample(s.Elem()) + ") or JSON"
	case t == "structure" || t == "map":
		return "shorthand (" + shorthandExample(s) + ") or JSON"
	}
	return enumHelp(s)
}

func enumHelp(s query.Shape) string {
	if e := s.Enum(); len(e) > 0 {
		return " (one of " + strings.Join(e, ", ") + ")"
	}
	return ""
}

// shorthandExample lists a structure's members as Name=value pairs.
func shorthandExample(s query.Shape) string {
	var parts []string
	for _, m := range s.Members() {
		v := m.Shape.Type()
		switch v {
		case "list":
			v = "[…]"
		case "structure":
			v = "{…}"
		}
		parts = append(parts, m.Name+"="+v)
	}
	return strings.Join(parts, ",")
}

// memberFlags makes the flags of op's input members that no flag of op
// covers (a covered boolean without its --no-X gets that alone).
func memberFlags(op operation) []*memberFlag {
	in, ok := query.InputShape(op.api)
	if !ok {
		return nil
	}
	var out []*memberFlag
	for _, m := range in.Members() {
		name := cliName(m.Name)
		if slices.Contains(globalFlags, name) || slices.Contains(op.flags, name) || slices.Contains(replacedMembers[op.api], m.Name) {
			continue
		}
		f := &memberFlag{member: m, name: name}
		boolean := m.Shape.Type() == "boolean" || isBooleanStructure(m.Shape)
		if slices.Contains(op.bools, name) {
			if !boolean || slices.Contains(op.bools, "no-"+name) {
				continue
			}
			f.off = new(bool) // --no-X beside the existing --X
		} else if boolean {
			f.on, f.off = new(bool), new(bool)
		}
		out = append(out, f)
	}
	return out
}

// replacedMembers are members that the AWS CLI replaces by a flag of a
// customization (run-instances --count for MinCount and MaxCount): they
// have no flag of their own, and --cli-input-json still reaches them.
var replacedMembers = map[string][]string{"RunInstances": {"MinCount", "MaxCount"}}

// isBooleanStructure reports a structure whose one member is the boolean
// Value (AttributeBooleanValue): the AWS CLI makes it --x / --no-x, as it
// does a boolean (modify-instance-attribute --no-source-dest-check).
func isBooleanStructure(s query.Shape) bool {
	ms := s.Members()
	return s.Type() == "structure" && len(ms) == 1 && ms[0].Name == "Value" && ms[0].Shape.Type() == "boolean"
}

// booleanValue is the value of a boolean member flag: the boolean, or
// {Value: b} for a boolean structure.
func (f *memberFlag) booleanValue(b bool) any {
	if isBooleanStructure(f.member.Shape) {
		return map[string]any{"Value": b}
	}
	return b
}

// register adds f to c.
func (f *memberFlag) register(c *cobra.Command) {
	fl := c.Flags()
	if f.on != nil {
		fl.BoolVar(f.on, f.name, false, "")
	}
	if f.off != nil {
		fl.BoolVar(f.off, "no-"+f.name, false, "")
		if fl.Lookup(f.name) != nil {
			c.MarkFlagsMutuallyExclusive(f.name, "no-"+f.name)
		}
	}
	if f.on == nil && f.off == nil {
		fl.Var(memberValue{f}, f.name, memberHelp(f.member.Shape))
	}
}

// expandLists rewrites a command line so that a list flag takes every
// argument that follows it up to the next option, as the AWS CLI's
// (argparse, nargs='+') do: --instance-ids a b --dry-run becomes
// --instance-ids a --instance-ids b --dry-run. The first value is always
// taken (as pflag takes it); --x=v takes only v. An argument is an option if
// it starts with "-" and is not a negative number; "--" ends the options.
func expandLists(args []string, lists map[string]bool) []string {
	out := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(out, args[i:]...)
		}
		name, ok := strings.CutPrefix(a, "--")
		if !ok || !lists[name] || i+1 >= len(args) {
			out = append(out, a)
			continue
		}
		out = append(out, a, args[i+1])
		i++
		for i+1 < len(args) && !isOption(args[i+1]) {
			out = append(out, a, args[i+1])
			i++
		}
	}
	return out
}

var negativeNumberRE = regexp.MustCompile(`^-\d+$|^-\d*\.\d+$`)

func isOption(a string) bool {
	return len(a) > 1 && a[0] == '-' && !negativeNumberRE.MatchString(a)
}

// readParamFile reads a value given as file://path (text) or fileb://path
// (bytes), as the AWS CLI does for every parameter; other values are
// returned as they are. binary reports a fileb:// value.
func readParamFile(flag, v string) (s string, binary bool, err error) {
	for _, prefix := range []string{"file://", "fileb://"} {
		path, ok := strings.CutPrefix(v, prefix)
		if !ok {
			continue
		}
		if strings.HasPrefix(path, "~/") {
			if home, err := os.UserHomeDir(); err == nil {
				path = home + path[1:]
			}
		}
		b, err := readBounded(path, maxParamFile)
		if err != nil {
			return "", false, usageErr("Error parsing parameter '--%s': Unable to load paramfile %s: %v", flag, v, err)
		}
		return string(b), prefix == "fileb://", nil
	}
	return v, false, nil
}

// maxParamFile bounds a file:// value: far above what the daemon takes
// in one request (daemon.MaxRequestBytes), so that a device such as
// /dev/zero is refused rather than read forever.
const maxParamFile = 1 << 20

func readBounded(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("larger than %d bytes", limit)
	}
	return b, nil
}

// parseMember turns the values given to member m's flag into the member's
// value, by its type.
func parseMember(m query.Member, flag string, values []string) (any, error) {
	bad := func(err error) error {
		return usageErr("Error parsing parameter '--%s': %v", flag, err)
	}
	s := m.Shape
	vals := make([]string, len(values))
	for i, v := range values {
		text, binary, err := readParamFile(flag, v)
		if err != nil {
			return nil, err
		}
		if binary && s.Type() == "blob" {
			text = base64.StdEncoding.EncodeToString([]byte(text)) // blobs cross as base64, as AWS CLI v2 reads them
		}
		vals[i] = text
	}
	if len(vals) == 0 {
		return nil, usageErr("argument --%s: expected one argument", flag)
	}
	if s.IsScalar() {
		if len(vals) > 1 {
			return nil, usageErr("argument --%s: expected one argument", flag)
		}
		v, err := scalarFromText(s, vals[0])
		if err != nil {
			return nil, bad(err)
		}
		return v, nil
	}
	first := strings.TrimLeft(vals[0], pyWhitespace)
	if s.Type() == "list" {
		if len(vals) == 1 && strings.HasPrefix(first, "[") {
			return parseJSONArg(flag, vals[0])
		}
		elem := s.Elem()
		out := []any{}
		for _, v := range vals {
			switch {
			case elem.IsScalar():
				for _, part := range strings.Split(v, ",") {
					x, err := scalarFromText(elem, part)
					if err != nil {
						return nil, bad(err)
					}
					out = append(out, x)
				}
			case strings.HasPrefix(strings.TrimLeft(v, pyWhitespace), "{"), strings.HasPrefix(strings.TrimLeft(v, pyWhitespace), "["):
				x, err := parseJSONArg(flag, v)
				if err != nil {
					return nil, err
				}
				out = append(out, x)
			default:
				x, err := parseShorthand(v)
				if err != nil {
					return nil, bad(err)
				}
				out = append(out, x)
			}
		}
		v, err := shorthandVisit(s, out)
		if err != nil {
			return nil, bad(err)
		}
		return v, nil
	}
	// A structure or a map: one value.
	if len(vals) > 1 {
		return nil, usageErr("argument --%s: expected one argument", flag)
	}
	if strings.HasPrefix(first, "{") {
		return parseJSONArg(flag, vals[0])
	}
	x, err := parseShorthand(vals[0])
	if err != nil {
		return nil, bad(err)
	}
	v, err := shorthandVisit(s, x)
	if err != nil {
		return nil, bad(err)
	}
	return v, nil
}

func parseJSONArg(flag, v string) (any, error) {
	var x any
	if err := json.Unmarshal([]byte(v), &x); err != nil {
		return nil, usageErr("Error parsing parameter '--%s': Invalid JSON: %v\nJSON received: %s", flag, err, v)
	}
	return x, nil
}

// typedRequest builds typed operation op's input: --cli-input-json, then
// the existing flags (req) through typedInputs or by name, then the member
// flags; normalised to JSON's types and validated against the input shape.
func typedRequest(op operation, req flagRequest, members []*memberFlag, cliInputJSON string) (map[string]any, error) {
	shape, ok := query.InputShape(op.api)
	if !ok {
		return nil, usageErr("%s is not an operation of EC2's model", op.api)
	}
	in := map[string]any{}
	if cliInputJSON != "" {
		text, _, err := readParamFile("cli-input-json", cliInputJSON)
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(text), &in); err != nil || in == nil {
			return nil, usageErr("Error parsing parameter '--cli-input-json': Invalid JSON received: %s", strings.TrimSpace(text))
		}
	}
	fromFlags, err := typedInput(op.api, req)
	if err != nil {
		return nil, err
	}
	for k, v := range fromFlags {
		in[k] = v
	}
	for _, f := range members {
		if !f.given() {
			continue
		}
		if _, dup := fromFlags[f.member.Name]; dup {
			return nil, usageErr("--%s and %s both give %s: use one", f.name, flagList(shape, req), f.member.Name)
		}
		var v any
		switch {
		case f.on != nil && *f.on:
			v = f.booleanValue(true)
		case f.off != nil && *f.off:
			v = f.booleanValue(false)
		default:
			if v, err = parseMember(f.member, f.name, f.values); err != nil {
				return nil, err
			}
		}
		in[f.member.Name] = v
	}
	// JSON's types throughout (what the socket carries): what typedInputs
	// built (Go ints, typed slices) and what the flags parsed alike.
	b, err := json.Marshal(in)
	if err != nil {
		return nil, usageErr("%s: %v", op.use, err)
	}
	norm := map[string]any{}
	if err := json.Unmarshal(b, &norm); err != nil {
		return nil, usageErr("%s: %v", op.use, err)
	}
	if err := validateInput(shape, norm); err != nil {
		return nil, err
	}
	return norm, nil
}

// flagList names the existing flags given that are not a member's own
// (--protocol, --port, --name: the ones a customization turns into other
// members), for a message; all of them if none is.
func flagList(shape query.Shape, req flagRequest) string {
	var all, custom []string
	for k := range req {
		all = append(all, "--"+k)
		own := false
		for _, m := range shape.Members() {
			own = own || cliName(m.Name) == k
		}
		if !own {
			custom = append(custom, "--"+k)
		}
	}
	if len(custom) > 0 {
		all = custom
	}
	sort.Strings(all)
	return strings.Join(all, " ")
}

// typedInputs turn the existing flags of a typed operation (operationList,
// by their AWS CLI names, as buildRequest reads them) into EC2's parameters
// by member name, as the AWS CLI's customizations of the same commands do
// (authorize-security-group-ingress --protocol --port --cidr builds
// IpPermissions). Each area's file adds its operations. An entry sets a
// member only from flags that were given (req holds only those): a member
// it sets that the user also gives by its own flag is refused as given
// twice. Its errors are usage errors (exit 252).
var typedInputs = map[string]func(req flagRequest) (map[string]any, error){}

// typedInput builds the parameters of typed operation api from its existing
// flags: by its entry in typedInputs, else each flag as the member of the
// same AWS CLI name.
func typedInput(api string, req flagRequest) (map[string]any, error) {
	if conv := typedInputs[api]; conv != nil {
		in, err := conv(req)
		if err != nil {
			return nil, &exitError{exitAWSUsage, awsMessage(api, err)}
		}
		return in, nil
	}
	in := map[string]any{}
	shape, _ := query.InputShape(api)
	for k, v := range req {
		var mem query.Member
		found := false
		for _, m := range shape.Members() {
			if cliName(m.Name) == k {
				mem, found = m, true
				break
			}
		}
		if !found {
			return nil, usageErr("--%s: %s has no EC2 parameter of that name", k, api)
		}
		x, err := parseMember(mem, k, []string{v})
		if err != nil {
			return nil, err
		}
		in[mem.Name] = x
	}
	return in, nil
}

// validateInput holds in to shape as botocore's ParamValidator does before
// a request is sent: every error found, one a line.
func validateInput(shape query.Shape, in map[string]any) error {
	var errs []string
	validateValue(&errs, shape, in, "")
	if len(errs) == 0 {
		return nil
	}
	return usageErr("Parameter validation failed:\n%s", strings.Join(errs, "\n"))
}

func validateValue(errs *[]string, s query.Shape, v any, at string) {
	where := at
	if where == "" {
		where = "input"
	}
	typeErr := func(want string) {
		*errs = append(*errs, fmt.Sprintf("Invalid type for parameter %s, value: %s, type: %s, valid types: %s", at, pyRepr(v), jsonKind(v), want))
	}
	checkMin := func(n float64, what string) {
		if min, ok := s.Min(); ok && n < min {
			*errs = append(*errs, fmt.Sprintf("Invalid %s for parameter %s, value: %v, valid min %s: %v", what, at, pyRepr(v), what, min))
		}
	}
	switch s.Type() {
	case "structure":
		m, ok := v.(map[string]any)
		if !ok {
			typeErr("structure")
			return
		}
		for _, r := range s.Required() {
			if _, ok := m[r]; !ok {
				*errs = append(*errs, fmt.Sprintf("Missing required parameter in %s: %q", where, r))
			}
		}
		var names []string
		for _, mem := range s.Members() {
			names = append(names, mem.Name)
		}
		for _, k := range sortedKeys(m) {
			mem, ok := s.Member(k)
			if !ok {
				*errs = append(*errs, fmt.Sprintf("Unknown parameter in %s: %q, must be one of: %s", where, k, strings.Join(names, ", ")))
				continue
			}
			validateValue(errs, mem.Shape, m[k], memberPath(at, k))
		}
	case "list":
		l, ok := v.([]any)
		if !ok {
			typeErr("list")
			return
		}
		checkMin(float64(len(l)), "length")
		for i, x := range l {
			validateValue(errs, s.Elem(), x, fmt.Sprintf("%s[%d]", at, i))
		}
	case "map":
		m, ok := v.(map[string]any)
		if !ok {
			typeErr("map")
			return
		}
		for _, k := range sortedKeys(m) {
			validateValue(errs, s.MapValue(), m[k], memberPath(at, k))
		}
	case "string", "timestamp", "blob":
		str, ok := v.(string)
		if !ok {
			typeErr("string")
			return
		}
		if s.Type() == "string" {
			checkMin(float64(len([]rune(str))), "length")
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			typeErr("boolean")
		}
	case "integer", "long":
		f, ok := v.(float64)
		if !ok || f != float64(int64(f)) {
			typeErr("integer")
			return
		}
		checkMin(f, "value")
	case "double", "float":
		f, ok := v.(float64)
		if !ok {
			typeErr("float")
			return
		}
		checkMin(f, "value")
	}
}

func memberPath(at, k string) string {
	if at == "" {
		return k
	}
	return at + "." + k
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case bool:
		return "boolean"
	case float64:
		return "number"
	case []any:
		return "list"
	case map[string]any:
		return "structure"
	}
	return fmt.Sprintf("%T", v)
}

// pyRepr shows a value in a message.
func pyRepr(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	b, _ := json.Marshal(v)
	return string(b)
}
