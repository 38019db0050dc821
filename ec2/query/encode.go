package query

import (
	"bytes"
	"encoding"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Encode writes out, the answer to action, as EC2's XML:
//
//	<?xml version="1.0" encoding="UTF-8"?>
//	<DescribeVpcsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
//	<requestId>…</requestId><vpcSet><item><vpcId>vpc-1</vpcId>…</item></vpcSet>
//	</DescribeVpcsResponse>
//
// out is a JSON-like value with the output shape's member names
// ({"Vpcs": [{"VpcId": "vpc-1"}]}), or any Go value that encoding/json
// turns into one (typed structs with json tags). Elements are named as
// botocore's EC2QueryParser reads them: a member's locationName, else its
// member name; a list is its member's element (<item>) repeated inside the
// member's element. Booleans are true/false, timestamps ISO 8601 in UTC with
// milliseconds, blobs base64, text XML-escaped. An action without an output
// shape (DeleteRoute …) answers <return>true</return> after its requestId,
// as EC2 does; out must then be nil or an empty map. STS actions are wrapped
// as the Query protocol does (<GetCallerIdentityResult>, then
// <ResponseMetadata><RequestId>).
//
// Encode checks out against the model and writes nothing on a mismatch: a
// member the shape lacks, a value of the wrong type or outside the shape's
// enum. The error names the path (Vpcs[0].State) and is a programming
// error of the caller, not a *Error for the client.
func Encode(w io.Writer, action, requestID string, out any) error {
	m, err := getModel()
	if err != nil {
		return err
	}
	op, ok := m.operations[action]
	if !ok {
		return fmt.Errorf("encode: no action %s in the model", action)
	}
	svc := op.service
	e := encoder{svc: svc}
	e.b.WriteString(xmlHeader)
	e.b.WriteString("<" + action + `Response xmlns="`)
	xml.EscapeText(&e.b, []byte(svc.XMLNamespace))
	e.b.WriteString(`">`)
	wrapped := svc.Protocol != "ec2"
	if !wrapped {
		e.b.WriteString("<requestId>")
		xml.EscapeText(&e.b, []byte(requestID))
		e.b.WriteString("</requestId>")
	}
	v, err := norm(out)
	if err != nil {
		return fmt.Errorf("encode %s: %w", action, err)
	}
	if op.Output == nil {
		if mv, isMap := v.(map[string]any); v != nil && (!isMap || len(mv) > 0) {
			return fmt.Errorf("encode %s: EC2's model has no answer for it, but an answer was given: %v", action, clip(fmt.Sprint(v)))
		}
		if !wrapped {
			e.b.WriteString("<return>true</return>")
		}
	} else {
		if v == nil {
			v = map[string]any{}
		}
		wrapper := op.Output.ResultWrapper
		if wrapped && wrapper != "" {
			e.b.WriteString("<" + wrapper + ">")
		}
		if err := e.members(op.Output.shape, v, &path{name: action}); err != nil {
			return fmt.Errorf("encode %s: %w", action, err)
		}
		if wrapped && wrapper != "" {
			e.b.WriteString("</" + wrapper + ">")
		}
	}
	if wrapped {
		e.b.WriteString("<ResponseMetadata><RequestId>")
		xml.EscapeText(&e.b, []byte(requestID))
		e.b.WriteString("</RequestId></ResponseMetadata>")
	}
	e.b.WriteString("</" + action + "Response>")
	_, err = w.Write(e.b.Bytes())
	return err
}

// path locates a value in the answer, for error messages only.
type path struct {
	parent *path
	name   string
	index  int // a list element's, when name is ""
}

func (p *path) String() string {
	var parts []string
	for q := p; q != nil && q.parent != nil; q = q.parent {
		if q.name == "" {
			parts = append(parts, "["+strconv.Itoa(q.index)+"]")
		} else {
			parts = append(parts, "."+q.name)
		}
	}
	var b strings.Builder
	for i := len(parts) - 1; i >= 0; i-- {
		b.WriteString(parts[i])
	}
	if b.Len() == 0 {
		return "answer"
	}
	return strings.TrimPrefix(b.String(), ".")
}

type encoder struct {
	svc *service
	b   bytes.Buffer
}

// elementName is the XML element of a structure member.
func elementName(r *ref) string {
	if r.Flattened && r.shape.Type == "list" && r.shape.Member.LocationName != "" {
		return r.shape.Member.LocationName
	}
	if r.LocationName != "" {
		return r.LocationName
	}
	return r.Name
}

// members writes the members of structure s from v, in model order.
func (e *encoder) members(s *shape, v any, p *path) error {
	v, err := norm(v)
	if err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	mv, ok := asMap(v)
	if !ok {
		return fmt.Errorf("%s: want a structure (%s), have %T", p, s.name, v)
	}
	used := 0
	for _, r := range s.Members {
		x, ok := mv[r.Name]
		if !ok {
			continue
		}
		used++
		if x == nil {
			continue
		}
		if err := e.value(elementName(r), r, x, &path{parent: p, name: r.Name}); err != nil {
			return err
		}
	}
	if used < len(mv) {
		var extra []string
		for k := range mv {
			if _, ok := s.byName[k]; !ok {
				extra = append(extra, k)
			}
		}
		sort.Strings(extra)
		return fmt.Errorf("%s: %s has no member %s", p, s.name, strings.Join(extra, ", "))
	}
	return nil
}

// value writes one element named name holding v, of the shape r refers to.
func (e *encoder) value(name string, r *ref, v any, p *path) error {
	v, err := norm(v)
	if err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	if v == nil {
		return nil // a nil pointer is an absent member
	}
	s := r.shape
	if s.Type == "list" {
		l, ok := asList(v)
		if !ok {
			return fmt.Errorf("%s: want a list (%s), have %T", p, s.name, v)
		}
		if l == nil {
			return nil // a nil slice is an absent member
		}
		item := s.Member.LocationName
		if item == "" {
			item = "item"
			if e.svc.Protocol != "ec2" {
				item = "member"
			}
		}
		if r.Flattened {
			item = name
		} else {
			e.open(name)
		}
		for i, x := range l {
			if x == nil {
				return fmt.Errorf("%s: null list element", &path{parent: p, index: i})
			}
			if err := e.value(item, s.Member, x, &path{parent: p, index: i}); err != nil {
				return err
			}
		}
		if !r.Flattened {
			e.close(name)
		}
		return nil
	}
	if s.Type == "map" {
		mv, ok := asMap(v)
		if !ok {
			return fmt.Errorf("%s: want a map (%s), have %T", p, s.name, v)
		}
		keys := make([]string, 0, len(mv))
		for k := range mv {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		if !r.Flattened {
			e.open(name)
		}
		for _, k := range keys {
			if r.Flattened {
				e.open(name)
			} else {
				e.open("entry")
			}
			if err := e.value(orDefault(s.Key.LocationName, "key"), s.Key, k, &path{parent: p, name: k}); err != nil {
				return err
			}
			if err := e.value(orDefault(s.Value.LocationName, "value"), s.Value, mv[k], &path{parent: p, name: k}); err != nil {
				return err
			}
			if r.Flattened {
				e.close(name)
			} else {
				e.close("entry")
			}
		}
		if !r.Flattened {
			e.close(name)
		}
		return nil
	}
	if s.Type == "structure" {
		e.open(name)
		if err := e.members(s, v, p); err != nil {
			return err
		}
		e.close(name)
		return nil
	}
	text, err := scalarText(s, v)
	if err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	e.open(name)
	xml.EscapeText(&e.b, []byte(text))
	e.close(name)
	return nil
}

func (e *encoder) open(name string)  { e.b.WriteString("<" + name + ">") }
func (e *encoder) close(name string) { e.b.WriteString("</" + name + ">") }

// TimeFormat is how EC2 writes timestamps: 2016-11-18T21:24:02.000Z.
const TimeFormat = "2006-01-02T15:04:05.000Z"

// scalarText is v's text as shape s, or why v is not one.
func scalarText(s *shape, v any) (string, error) {
	switch s.Type {
	case "string":
		str, ok := v.(string)
		if !ok {
			return "", fmt.Errorf("want a string (%s), have %T", s.name, v)
		}
		if s.enumSet != nil {
			if _, ok := s.enumSet[str]; !ok {
				return "", fmt.Errorf("%q is not one of EC2's values for %s (%s)", clip(str), s.name, enumList(s.Enum))
			}
		}
		return str, nil
	case "boolean":
		b, ok := v.(bool)
		if !ok {
			return "", fmt.Errorf("want a boolean (%s), have %T", s.name, v)
		}
		return strconv.FormatBool(b), nil
	case "integer", "long":
		i, ok := asInt(v)
		if !ok {
			return "", fmt.Errorf("want an integer (%s), have %T %v", s.name, v, v)
		}
		if s.Type == "integer" && (i < math.MinInt32 || i > math.MaxInt32) {
			return "", fmt.Errorf("%d does not fit an integer (%s)", i, s.name)
		}
		return strconv.FormatInt(i, 10), nil
	case "double", "float":
		f, ok := asFloat(v)
		if !ok || math.IsNaN(f) || math.IsInf(f, 0) {
			return "", fmt.Errorf("want a number (%s), have %T %v", s.name, v, v)
		}
		return strconv.FormatFloat(f, 'f', -1, 64), nil
	case "timestamp":
		switch t := v.(type) {
		case time.Time:
			return t.UTC().Format(TimeFormat), nil
		case string:
			parsed, err := time.Parse(time.RFC3339Nano, t)
			if err != nil {
				return "", fmt.Errorf("want a timestamp (%s): %q is not RFC 3339", s.name, clip(t))
			}
			return parsed.UTC().Format(TimeFormat), nil
		}
		return "", fmt.Errorf("want a timestamp (%s), have %T", s.name, v)
	case "blob":
		switch b := v.(type) {
		case []byte:
			return base64.StdEncoding.EncodeToString(b), nil
		case string: // already base64, as encoding/json writes []byte
			if _, err := base64.StdEncoding.DecodeString(b); err != nil {
				return "", fmt.Errorf("want base64 (%s): %v", s.name, err)
			}
			return b, nil
		}
		return "", fmt.Errorf("want bytes (%s), have %T", s.name, v)
	}
	return "", fmt.Errorf("model.json: shape %s has the type %q", s.name, s.Type)
}

func asInt(v any) (int64, bool) {
	switch x := v.(type) {
	case json.Number:
		i, err := x.Int64()
		return i, err == nil
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return int64(x), true
		}
		return 0, false
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return rv.Int(), true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		u := rv.Uint()
		return int64(u), u <= math.MaxInt64
	}
	return 0, false
}

func asFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	case float64:
		return x, true
	case float32:
		return float64(x), true
	}
	if i, ok := asInt(v); ok {
		return float64(i), true
	}
	return 0, false
}

// asMap reads v as a structure or map: map[string]any, or any map with
// string keys (map[string]string, a named map type).
func asMap(v any) (map[string]any, bool) {
	if m, ok := v.(map[string]any); ok {
		return m, true
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Map || rv.Type().Key().Kind() != reflect.String {
		return nil, false
	}
	m := make(map[string]any, rv.Len())
	for it := rv.MapRange(); it.Next(); {
		m[it.Key().String()] = it.Value().Interface()
	}
	return m, true
}

// asList reads v as a list: []any or any slice or array but []byte. A nil
// slice is (nil, true).
func asList(v any) ([]any, bool) {
	if l, ok := v.([]any); ok {
		return l, true
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Slice:
		if rv.IsNil() {
			return nil, true
		}
	case reflect.Array:
	default:
		return nil, false
	}
	if rv.Type().Elem().Kind() == reflect.Uint8 {
		return nil, false
	}
	l := make([]any, rv.Len())
	for i := range l {
		l[i] = rv.Index(i).Interface()
	}
	return l, true
}

// norm makes one value JSON-like, without copying or changing the caller's
// data: JSON-like values (maps with string keys, slices, strings, numbers,
// bools, time.Time, []byte) stay as they are and the walk reaches into them
// later; named scalar types become their kind; a pointer is followed;
// anything else (a struct, a type with MarshalJSON or MarshalText such as
// netip.Addr) goes through encoding/json, numbers kept exact.
func norm(v any) (any, error) {
	switch v.(type) {
	case nil, string, bool, time.Time, []byte, json.Number, map[string]any, []any,
		int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, float32, float64:
		return v, nil
	case json.Marshaler, encoding.TextMarshaler:
		return viaJSON(v)
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			return nil, nil
		}
		return norm(rv.Elem().Interface())
	case reflect.Map, reflect.Slice, reflect.Array:
		return v, nil
	case reflect.String:
		return rv.String(), nil
	case reflect.Bool:
		return rv.Bool(), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return rv.Int(), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return rv.Uint(), nil
	case reflect.Float32, reflect.Float64:
		return rv.Float(), nil
	}
	return viaJSON(v)
}

func viaJSON(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var out any
	if err := d.Decode(&out); err != nil {
		return nil, err
	}
	return out, nil
}

// RequestID makes a request id in EC2's form (a UUID) from 16 random
// bytes; the caller supplies the randomness (crypto/rand).
func RequestID(b [16]byte) string {
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
