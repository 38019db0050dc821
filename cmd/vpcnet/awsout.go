package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jmespath/go-jmespath"

	"github.com/vpcnet/vpcnet/ec2/query"
)

// What an EC2 command prints, as AWS CLI v2 prints it:
//
//   - the answer is read by the operation's output shape: its members in the
//     model's order (botocore builds the response in that order, and the
//     AWS CLI's JSON keeps it), timestamps in ISO 8601 as Python's
//     isoformat() writes them (2024-05-01T10:00:00+00:00);
//   - --query (JMESPath) is applied to that;
//   - --output json: Python's json.dumps(indent=4, ensure_ascii=False); an
//     answer that is an empty object (an operation without output) prints
//     nothing; --output text: awscli/text.py (tab-separated, one line per
//     list item, nested lists under their upper-cased key); --output table:
//     vpcnet's tables (printTable).

// outputs are the --output formats.
var outputs = []string{"json", "table", "text"}

// keyOrder remembers the order of the keys of each object of an answer,
// by the object's identity, so that it survives --query (whose results
// are made of the answer's own objects).
type keyOrder map[uintptr][]string

func mapID(m map[string]any) uintptr { return reflect.ValueOf(m).Pointer() }

// shapeAnswer holds v, an answer as decoded JSON, to output shape s: the
// key order of every object (s's members first, in model order, then any
// other key sorted), and timestamps as the AWS CLI prints them.
func shapeAnswer(s query.Shape, v any, ord keyOrder) any {
	switch x := v.(type) {
	case map[string]any:
		var keys []string
		for _, m := range s.Members() {
			if _, ok := x[m.Name]; ok {
				keys = append(keys, m.Name)
			}
		}
		for _, k := range sortedKeys(x) {
			mem, ok := s.Member(k)
			if !ok {
				keys = append(keys, k)
			}
			x[k] = shapeAnswer(mem.Shape, x[k], ord)
		}
		ord[mapID(x)] = keys
	case []any:
		for i := range x {
			x[i] = shapeAnswer(s.Elem(), x[i], ord)
		}
	case string:
		if s.Type() == "timestamp" {
			if t, err := time.Parse(time.RFC3339Nano, x); err == nil {
				return isoformat(t)
			}
		}
	}
	return v
}

// isoformat is Python's datetime.isoformat() of an aware datetime.
func isoformat(t time.Time) string {
	s := t.Format("2006-01-02T15:04:05")
	if us := t.Nanosecond() / 1000; us != 0 {
		s += fmt.Sprintf(".%06d", us)
	}
	return s + t.Format("-07:00")
}

// printAnswer writes out, operation api's answer, as --query and --output
// say. expr is the compiled --query (nil: none) and queryText its text.
func printAnswer(w io.Writer, api string, out any, format string, expr *jmespath.JMESPath, queryText string) error {
	ord := keyOrder{}
	if s, ok := query.OutputShape(api); ok {
		out = shapeAnswer(s, out, ord)
	} else if _, known := query.InputShape(api); known {
		out = map[string]any{} // EC2 answers nothing (DeleteRoute …): neither does the AWS CLI
	}
	if expr != nil {
		var err error
		if out, err = expr.Search(out); err != nil {
			return &exitError{exitAWSOther, fmt.Errorf("--query %q: %w", queryText, err)}
		}
	}
	bw := bufio.NewWriter(w)
	defer bw.Flush()
	switch format {
	case "text":
		formatText(bw, out, "", nil)
	case "table":
		if m, ok := out.(map[string]any); ok && len(m) == 0 {
			return nil
		}
		printTable(bw, api, out)
	default:
		if m, ok := out.(map[string]any); ok && len(m) == 0 {
			return nil
		}
		p := pyJSON{w: bw, ord: ord, query: queryText}
		p.value(out, 0)
		bw.WriteByte('\n')
	}
	return nil
}

// compileQuery compiles --query; a bad expression is a usage error.
func compileQuery(q string) (*jmespath.JMESPath, error) {
	if q == "" {
		return nil, nil
	}
	expr, err := jmespath.Compile(legacyLiterals(q))
	if err != nil {
		return nil, usageErr("Bad value for --query %s: %v", q, err)
	}
	return expr, nil
}

// legacyLiterals rewrites the literals of a JMESPath expression that are
// not JSON (Tags[?Key==`Name`], as the AWS documentation writes them) as
// JSON strings (`"Name"`), as Python's jmespath, which the AWS CLI uses,
// reads them (JEP-12's deprecated form); go-jmespath refuses them. Raw
// strings ('…') and quoted identifiers ("…") are left as they are.
func legacyLiterals(q string) string {
	var b strings.Builder
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch c {
		case '\'', '"':
			j := i + 1
			for j < len(q) && q[j] != c {
				if q[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(q) {
				return q // unterminated: let the parser say so
			}
			b.WriteString(q[i : j+1])
			i = j
		case '`':
			j := i + 1
			for j < len(q) && q[j] != '`' {
				if q[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(q) {
				return q
			}
			lexeme := strings.ReplaceAll(q[i+1:j], "\\`", "`")
			if !json.Valid([]byte(lexeme)) {
				quoted := `"` + strings.TrimLeft(lexeme, " \t\n\r") + `"`
				if json.Valid([]byte(quoted)) {
					lexeme = quoted
				}
			}
			b.WriteByte('`')
			b.WriteString(strings.ReplaceAll(lexeme, "`", "\\`"))
			b.WriteByte('`')
			i = j
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// pyJSON writes a value as Python's json.dumps(v, indent=4,
// ensure_ascii=False) does.
type pyJSON struct {
	w     *bufio.Writer
	ord   keyOrder
	query string
}

func (p *pyJSON) value(v any, depth int) {
	switch x := v.(type) {
	case nil:
		p.w.WriteString("null")
	case bool:
		p.w.WriteString(strconv.FormatBool(x))
	case string:
		writePyString(p.w, x)
	case float64:
		p.w.WriteString(pyNumber(x))
	case []any:
		if len(x) == 0 {
			p.w.WriteString("[]")
			return
		}
		p.w.WriteString("[")
		for i, e := range x {
			if i > 0 {
				p.w.WriteString(",")
			}
			p.newline(depth + 1)
			p.value(e, depth+1)
		}
		p.newline(depth)
		p.w.WriteString("]")
	case map[string]any:
		if len(x) == 0 {
			p.w.WriteString("{}")
			return
		}
		p.w.WriteString("{")
		for i, k := range p.keys(x) {
			if i > 0 {
				p.w.WriteString(",")
			}
			p.newline(depth + 1)
			writePyString(p.w, k)
			p.w.WriteString(": ")
			p.value(x[k], depth+1)
		}
		p.newline(depth)
		p.w.WriteString("}")
	default:
		// Not a decoded-JSON value: through encoding/json first.
		b, err := json.Marshal(x)
		var y any
		if err == nil && json.Unmarshal(b, &y) == nil {
			p.value(y, depth)
			return
		}
		writePyString(p.w, fmt.Sprint(x))
	}
}

func (p *pyJSON) newline(depth int) {
	p.w.WriteByte('\n')
	p.w.WriteString(strings.Repeat("    ", depth))
}

// keys orders an object's keys: as the answer had them (shapeAnswer); for
// an object --query made (a multiselect hash {A: x, B: y}), as the
// expression names them; else sorted.
func (p *pyJSON) keys(m map[string]any) []string {
	if ks, ok := p.ord[mapID(m)]; ok && len(ks) == len(m) {
		return ks
	}
	keys := sortedKeys(m)
	if p.query == "" {
		return keys
	}
	pos := make(map[string]int, len(keys))
	for _, k := range keys {
		pos[k] = math.MaxInt
		re := regexp.MustCompile(`(?:^|[{,\s])"?` + regexp.QuoteMeta(k) + `"?\s*:`)
		if loc := re.FindStringIndex(p.query); loc != nil {
			pos[k] = loc[0]
		}
	}
	sort.SliceStable(keys, func(i, j int) bool { return pos[keys[i]] < pos[keys[j]] })
	return keys
}

// pyNumber writes a number as Python writes the int or float it was: EC2's
// integers have no fraction.
func pyNumber(f float64) string {
	if f == math.Trunc(f) && math.Abs(f) < 1e16 {
		return strconv.FormatInt(int64(f), 10)
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// writePyString writes s as a JSON string the way Python's json module
// does with ensure_ascii=False: only ", \ and control characters escaped.
func writePyString(w *bufio.Writer, s string) {
	w.WriteByte('"')
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		switch r {
		case '"':
			w.WriteString(`\"`)
		case '\\':
			w.WriteString(`\\`)
		case '\n':
			w.WriteString(`\n`)
		case '\r':
			w.WriteString(`\r`)
		case '\t':
			w.WriteString(`\t`)
		case '\b':
			w.WriteString(`\b`)
		case '\f':
			w.WriteString(`\f`)
		default:
			if r < 0x20 {
				fmt.Fprintf(w, `\u%04x`, r)
			} else {
				w.WriteRune(r)
			}
		}
	}
	w.WriteByte('"')
}

// formatText writes v as the AWS CLI's --output text does (awscli/text.py):
// an object's scalars on one tab-separated line (keys sorted; in a list of
// objects, the union of their scalar keys, "" where one lacks it), led by
// the upper-cased key it was found under; then its lists and objects, each
// under its own key; a list of scalars on one line, or one line per item
// under a key.
func formatText(w *bufio.Writer, v any, ident string, scalarKeys []string) {
	switch x := v.(type) {
	case map[string]any:
		var scalars []string
		var nested []string
		if scalarKeys == nil {
			for _, k := range sortedKeys(x) {
				if isComposite(x[k]) {
					nested = append(nested, k)
				} else {
					scalars = append(scalars, pyStr(x[k]))
				}
			}
		} else {
			for _, k := range scalarKeys {
				if e, ok := x[k]; ok {
					scalars = append(scalars, pyStr(e))
				} else {
					scalars = append(scalars, "")
				}
			}
			for _, k := range sortedKeys(x) {
				if !containsString(scalarKeys, k) {
					nested = append(nested, k)
				}
			}
		}
		if len(scalars) > 0 {
			if ident != "" {
				scalars = append([]string{strings.ToUpper(ident)}, scalars...)
			}
			w.WriteString(strings.Join(scalars, "\t"))
			w.WriteByte('\n')
		}
		for _, k := range nested {
			formatText(w, x[k], k, nil)
		}
	case []any:
		if len(x) == 0 {
			return
		}
		hasObject, hasList := false, false
		for _, e := range x {
			switch e.(type) {
			case map[string]any:
				hasObject = true
			case []any:
				hasList = true
			}
		}
		switch {
		case hasObject:
			keys := allScalarKeys(x)
			for _, e := range x {
				formatText(w, e, ident, keys)
			}
		case hasList:
			var scalars []any
			for _, e := range x {
				if !isComposite(e) {
					scalars = append(scalars, e)
				}
			}
			if len(scalars) > 0 {
				formatScalarList(w, scalars, ident)
			}
			for _, e := range x {
				if isComposite(e) {
					formatText(w, e, ident, nil)
				}
			}
		default:
			formatScalarList(w, x, ident)
		}
	default:
		w.WriteString(pyStr(x))
		w.WriteByte('\n')
	}
}

func formatScalarList(w *bufio.Writer, l []any, ident string) {
	if ident != "" {
		for _, e := range l {
			fmt.Fprintf(w, "%s\t%s\n", strings.ToUpper(ident), pyStr(e))
		}
		return
	}
	parts := make([]string, len(l))
	for i, e := range l {
		parts[i] = pyStr(e)
	}
	w.WriteString(strings.Join(parts, "\t"))
	w.WriteByte('\n')
}

// allScalarKeys are the keys with scalar values in any object of l, sorted.
// (An item of l that is no object has none.)
func allScalarKeys(l []any) []string {
	seen := map[string]bool{}
	for _, e := range l {
		if m, ok := e.(map[string]any); ok {
			for k, v := range m {
				if !isComposite(v) {
					seen[k] = true
				}
			}
		}
	}
	return sortedKeys(seen)
}

func isComposite(v any) bool {
	switch v.(type) {
	case map[string]any, []any:
		return true
	}
	return false
}

func containsString(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// pyStr is Python's str() of a decoded-JSON scalar.
func pyStr(v any) string {
	switch x := v.(type) {
	case nil:
		return "None"
	case bool:
		if x {
			return "True"
		}
		return "False"
	case string:
		return x
	case float64:
		return pyNumber(x)
	}
	return fmt.Sprint(v)
}
