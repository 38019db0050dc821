package query

import (
	"encoding/base64"
	"math"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Input is a decoded request: the input shape's members by member name
// (InstanceIds, IpPermissions, Filters …), as the AWS CLI's JSON names them.
// Leaves are string, int64 (integer, long), float64 (double, float), bool,
// time.Time (timestamp) and []byte (blob, base64-decoded); lists are []any in
// index order; structures map[string]any. Members the request did not give
// are absent.
type Input map[string]any

// Bounds on a request. A request over any of them is refused with
// InvalidParameterValue before anything else is read.
const (
	// MaxParams is the most parameters a request may carry, Action,
	// Version and the signature's included.
	MaxParams = 1000
	// MaxListIndex is the highest list index (Name.N) accepted.
	MaxListIndex = 1000
	// MaxKeyBytes is the longest parameter name.
	MaxKeyBytes = 256
	// MaxValueBytes is the longest parameter value: room for RunInstances'
	// 16 KB of user data, base64-encoded. Handlers bound each field tighter.
	MaxValueBytes = 32 << 10
)

// notMembers are request parameters that are the protocol's, not the
// operation's: the action, the API version and SigV4's query-string fields.
var notMembers = map[string]bool{
	"Action": true, "Version": true,
	"X-Amz-Algorithm": true, "X-Amz-Credential": true, "X-Amz-Date": true, "X-Amz-Expires": true,
	"X-Amz-SignedHeaders": true, "X-Amz-Signature": true, "X-Amz-Security-Token": true,
}

// Decode reads a request's parameters (the form body and the query string,
// merged) as the input of action, following the serialization of botocore's
// EC2Serializer (QuerySerializer for STS):
//
//   - a member's parameter name is its queryName, else its locationName
//     capitalised, else its member name (SubnetId, GroupId, Filter, Tag …);
//   - a structure's members follow a dot (SourceDestCheck.Value);
//   - a list's elements are Name.N, N from 1 up (InstanceId.1,
//     Filter.1.Value.2, IpPermissions.1.IpRanges.2.CidrIp); an index is a
//     positive decimal number without leading zeros, at most MaxListIndex;
//     gaps are allowed and closed up, the order of the indexes kept;
//   - booleans are true or false; integers decimal; timestamps ISO 8601;
//     blobs base64.
//
// Action is the action's name (the request's Action parameter, which Decode
// does not read again); form's Version must be the service's API version.
// Errors are *Error with EC2's codes: InvalidAction, MissingAction,
// MissingParameter (Version, a required member), NoSuchVersion (another
// API version), UnknownParameter (a name no member has, a malformed list
// index), InvalidParameterValue (a value of the wrong type, outside the
// model's enum or min/max, a parameter given twice, over the bounds above).
func Decode(action string, form url.Values) (Input, error) {
	m, err := getModel()
	if err != nil {
		return nil, errorf(CodeInternalError, "%v", err)
	}
	if action == "" {
		return nil, errorf(CodeMissingAction, "The request must contain the parameter Action")
	}
	op, ok := m.operations[action]
	if !ok {
		return nil, errorf(CodeInvalidAction, "The action %s is not valid for this web service.", clip(action))
	}
	if n := countParams(form); n > MaxParams {
		return nil, errorf(CodeInvalidParameterValue, "The request has %d parameters: at most %d are accepted", n, MaxParams)
	}
	all := make([]string, 0, len(form))
	for k := range form {
		all = append(all, k)
	}
	sort.Strings(all) // deterministic: the first bad parameter by name
	keys := all[:0:0]
	for _, k := range all {
		vs := form[k]
		if len(k) > MaxKeyBytes {
			return nil, errorf(CodeInvalidParameterValue, "The parameter name %s… is %d bytes long: at most %d", clip(k), len(k), MaxKeyBytes)
		}
		for _, v := range vs {
			if len(v) > MaxValueBytes {
				return nil, errorf(CodeInvalidParameterValue, "The value of parameter %s is %d bytes long: at most %d", clip(k), len(v), MaxValueBytes)
			}
		}
		if len(vs) > 1 {
			return nil, errorf(CodeInvalidParameterValue, "The parameter %s is given %d times", clip(k), len(vs))
		}
		if notMembers[k] || len(vs) == 0 {
			continue
		}
		if k == "" || k[0] == '.' || k[len(k)-1] == '.' || strings.Contains(k, "..") {
			return nil, unknownParameter(k)
		}
		keys = append(keys, k)
	}
	svc := op.service
	switch v := form["Version"]; {
	case len(v) == 0:
		return nil, errorf(CodeMissingParameter, "The request must contain the parameter Version")
	case v[0] != svc.APIVersion:
		return nil, errorf("NoSuchVersion", "The requested version (%s) of service %s does not exist", clip(v[0]), serviceTitle(svc))
	}
	in := &node{}
	if op.Input != nil {
		d := decoder{svc: svc}
		for _, k := range keys {
			if err := d.set(in, op.Input.shape, k, 0, form[k][0]); err != nil {
				return nil, err
			}
		}
		v, err := d.finish(in, op.Input.shape, "")
		if err != nil {
			return nil, err
		}
		return Input(v.(map[string]any)), nil
	}
	if len(keys) > 0 {
		return nil, unknownParameter(keys[0])
	}
	return Input{}, nil
}

func countParams(form url.Values) int {
	n := 0
	for _, vs := range form {
		n += len(vs)
	}
	return n
}

func serviceTitle(svc *service) string {
	if svc.Protocol == "ec2" {
		return "AmazonEC2"
	}
	return "AWSSecurityTokenServiceV20110615"
}

// clip shortens a client's string for a message.
func clip(s string) string {
	if len(s) > 64 {
		s = s[:64]
	}
	return strings.ToValidUTF8(s, "?")
}

func unknownParameter(key string) *Error {
	return errorf(CodeUnknownParameter, "The parameter %s is not recognized", clip(key))
}

// node is a value under construction: a structure's members, a list's or a
// map's elements by index, or a scalar's raw text.
type node struct {
	fields map[string]*node // structure, by member name
	items  map[int]*node    // list, or map entries, by index
	key    *node            // map entry
	val    *node            // map entry
	raw    string
	isSet  bool
}

type decoder struct{ svc *service }

// set places the parameter key (read from byte at on) with value raw under
// n, of shape s.
func (d *decoder) set(n *node, s *shape, key string, at int, raw string) *Error {
	for {
		switch s.Type {
		case "structure":
			if at >= len(key) {
				return unknownParameter(key) // a value for a whole structure
			}
			seg, next := segment(key, at)
			r, ok := s.byWire[seg]
			if !ok {
				return unknownParameter(key)
			}
			if n.fields == nil {
				n.fields = map[string]*node{}
			}
			c := n.fields[r.Name]
			if c == nil {
				c = &node{}
				n.fields[r.Name] = c
			}
			if r.shape.Type == "list" && d.svc.Protocol != "ec2" && !r.Flattened {
				// Query protocol: Name.member.N (Name.<locationName>.N);
				// Name= alone is the empty list.
				if next >= len(key) {
					if raw != "" {
						return unknownParameter(key)
					}
					c.isSet = true
					return nil
				}
				seg, after := segment(key, next)
				want := "member"
				if r.shape.Member.LocationName != "" {
					want = r.shape.Member.LocationName
				}
				if seg != want {
					return unknownParameter(key)
				}
				next = after
			}
			n, s, at = c, r.shape, next
		case "list":
			if at >= len(key) {
				return unknownParameter(key)
			}
			seg, next := segment(key, at)
			i, err := index(key, seg)
			if err != nil {
				return err
			}
			if n.items == nil {
				n.items = map[int]*node{}
			}
			c := n.items[i]
			if c == nil {
				c = &node{}
				n.items[i] = c
			}
			n, s, at = c, s.Member.shape, next
		case "map":
			// Name.entry.N.key / Name.entry.N.value (flattened:
			// Name.N.key), with the key's and value's locationNames.
			if at >= len(key) {
				return unknownParameter(key)
			}
			seg, next := segment(key, at)
			if !s.Flattened {
				if seg != "entry" || next >= len(key) {
					return unknownParameter(key)
				}
				seg, next = segment(key, next)
			}
			i, err := index(key, seg)
			if err != nil {
				return err
			}
			if next >= len(key) {
				return unknownParameter(key)
			}
			part, after := segment(key, next)
			if n.items == nil {
				n.items = map[int]*node{}
			}
			e := n.items[i]
			if e == nil {
				e = &node{}
				n.items[i] = e
			}
			switch part {
			case orDefault(s.Key.LocationName, "key"):
				if e.key == nil {
					e.key = &node{}
				}
				n, s, at = e.key, s.Key.shape, after
			case orDefault(s.Value.LocationName, "value"):
				if e.val == nil {
					e.val = &node{}
				}
				n, s, at = e.val, s.Value.shape, after
			default:
				return unknownParameter(key)
			}
		default: // a scalar
			if at < len(key) {
				return unknownParameter(key)
			}
			n.raw, n.isSet = raw, true
			return nil
		}
	}
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// segment is the dot-separated part of key from at, and where the next one
// starts (len(key) at the end). Keys with an empty part never get here.
func segment(key string, at int) (string, int) {
	if i := strings.IndexByte(key[at:], '.'); i >= 0 {
		return key[at : at+i], at + i + 1
	}
	return key[at:], len(key)
}

// index reads a list index: 1 to MaxListIndex, decimal, no leading zero.
func index(key, seg string) (int, *Error) {
	if seg == "" || len(seg) > 4 || seg[0] == '0' {
		return 0, unknownParameter(key)
	}
	i := 0
	for _, c := range []byte(seg) {
		if c < '0' || c > '9' {
			return 0, unknownParameter(key)
		}
		i = i*10 + int(c-'0')
	}
	if i > MaxListIndex {
		return 0, errorf(CodeInvalidParameterValue, "The list index %d in parameter %s is over %d", i, clip(key), MaxListIndex)
	}
	return i, nil
}

// finish turns the tree under n into Input values, checking types, enums,
// min/max and required members; name is n's parameter name, for messages.
func (d *decoder) finish(n *node, s *shape, name string) (any, *Error) {
	switch s.Type {
	case "structure":
		out := make(map[string]any, len(n.fields))
		for _, r := range s.Members {
			c, ok := n.fields[r.Name]
			if !ok {
				continue
			}
			v, err := d.finish(c, r.shape, join(name, wireName(d.svc, r)))
			if err != nil {
				return nil, err
			}
			out[r.Name] = v
		}
		for _, req := range s.Required {
			if _, ok := out[req]; !ok {
				return nil, errorf(CodeMissingParameter, "The request must contain the parameter %s", join(name, wireName(d.svc, s.byName[req])))
			}
		}
		return out, nil
	case "list":
		idx := sortedIndexes(n.items)
		out := make([]any, 0, len(idx))
		for _, i := range idx {
			v, err := d.finish(n.items[i], s.Member.shape, join(name, strconv.Itoa(i)))
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		if err := checkRange(s, name, float64(len(out)), "items"); err != nil {
			return nil, err
		}
		return out, nil
	case "map":
		out := make(map[string]any, len(n.items))
		for _, i := range sortedIndexes(n.items) {
			e := n.items[i]
			at := join(name, strconv.Itoa(i))
			if e.key == nil || e.val == nil {
				return nil, errorf(CodeMissingParameter, "The request must contain the parameters %s.key and %s.value", at, at)
			}
			k, err := d.finish(e.key, s.Key.shape, at+".key")
			if err != nil {
				return nil, err
			}
			v, err := d.finish(e.val, s.Value.shape, at+".value")
			if err != nil {
				return nil, err
			}
			ks, _ := k.(string)
			out[ks] = v
		}
		return out, nil
	}
	return scalar(s, name, n.raw)
}

func join(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

func sortedIndexes(m map[int]*node) []int {
	idx := make([]int, 0, len(m))
	for i := range m {
		idx = append(idx, i)
	}
	sort.Ints(idx)
	return idx
}

func invalidValue(name, raw, why string) *Error {
	return errorf(CodeInvalidParameterValue, "Value (%s) for parameter %s is invalid. %s", clip(raw), name, why)
}

// scalar parses one parameter's text as shape s.
func scalar(s *shape, name, raw string) (any, *Error) {
	switch s.Type {
	case "string":
		if !utf8.ValidString(raw) {
			return nil, invalidValue(name, raw, "It is not valid UTF-8.")
		}
		if s.enumSet != nil {
			if _, ok := s.enumSet[raw]; !ok {
				return nil, invalidValue(name, raw, "Valid values: "+enumList(s.Enum)+".")
			}
		}
		if err := checkRange(s, name, float64(utf8.RuneCountInString(raw)), "characters"); err != nil {
			return nil, err
		}
		return raw, nil
	case "integer", "long":
		bits := 64
		if s.Type == "integer" {
			bits = 32
		}
		i, err := strconv.ParseInt(raw, 10, bits)
		if err != nil {
			return nil, invalidValue(name, raw, "Expecting an integer.")
		}
		if err := checkValue(s, name, raw, float64(i)); err != nil {
			return nil, err
		}
		return i, nil
	case "double", "float":
		f, err := strconv.ParseFloat(raw, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, invalidValue(name, raw, "Expecting a number.")
		}
		if err := checkValue(s, name, raw, f); err != nil {
			return nil, err
		}
		return f, nil
	case "boolean":
		switch raw {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
		return nil, invalidValue(name, raw, "Expecting true or false.")
	case "timestamp":
		t, err := time.Parse(time.RFC3339Nano, raw)
		if err != nil {
			return nil, invalidValue(name, raw, "Expecting an ISO 8601 time (2006-01-02T15:04:05Z).")
		}
		return t, nil
	case "blob":
		b, err := base64.StdEncoding.DecodeString(raw)
		if err != nil {
			return nil, invalidValue(name, raw, "Expecting base64.")
		}
		return b, nil
	}
	return nil, errorf(CodeInternalError, "model.json: parameter %s has the type %q", name, s.Type)
}

// checkValue holds a number to the shape's min and max.
func checkValue(s *shape, name, raw string, v float64) *Error {
	if s.Min != nil && v < *s.Min {
		return invalidValue(name, raw, "Expecting a value greater than or equal to "+num(*s.Min)+".")
	}
	if s.Max != nil && v > *s.Max {
		return invalidValue(name, raw, "Expecting a value less than or equal to "+num(*s.Max)+".")
	}
	return nil
}

// checkRange holds a string's length or a list's count to min and max.
func checkRange(s *shape, name string, n float64, unit string) *Error {
	if s.Min != nil && n < *s.Min {
		return errorf(CodeInvalidParameterValue, "The parameter %s has %s %s: at least %s are needed", name, num(n), unit, num(*s.Min))
	}
	if s.Max != nil && n > *s.Max {
		return errorf(CodeInvalidParameterValue, "The parameter %s has %s %s: at most %s are accepted", name, num(n), unit, num(*s.Max))
	}
	return nil
}

func num(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// enumList names at most ten of an enum's values.
func enumList(e []string) string {
	if len(e) > 10 {
		return strings.Join(e[:10], ", ") + " …"
	}
	return strings.Join(e, ", ")
}
