package main

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/vpcnet/vpcnet/ec2/query"
)

// The AWS CLI's shorthand syntax for structures and lists of structures
// (awscli/shorthand.py, ported rule for rule so that a value pasted from an
// AWS CLI command means the same here):
//
//	parameter     = keyval *("," keyval)
//	keyval        = key "=" [values]
//	key           = 1*[a-zA-Z0-9-_.#/:]
//	values        = csv-value / explicit-list / hash-literal
//	csv-value     = first-value *("," second-value)   (one value: a scalar)
//	explicit-list = "[" [value *("," value)] "]"
//	hash-literal  = "{" keyval *("," keyval) "}"
//	value         = literal / 'single quoted' / "double quoted" / list / hash
//
// Name=vpc-id,Values=vpc-1,vpc-2 is {Name: vpc-id, Values: [vpc-1, vpc-2]}:
// a second value runs until the next key (a value followed by "="), so
// Values=a,b,Name=c backtracks to the comma before Name. A comma inside a
// value is written \, or quoted. The parse is syntax only: parsed values are
// strings, lists and maps; shorthandVisit then holds them to the member's
// shape as the AWS CLI's BackCompatVisitor does (a scalar where a list is
// expected becomes a one-item list; integers, floats and booleans convert).

// shorthandError is a syntax error at an offset of the value.
type shorthandError struct {
	value            string
	expected, actual string
	index            int
}

func (e *shorthandError) Error() string {
	// The caret under the offending character, on the value's line.
	line, col := e.value, e.index
	if nl := strings.LastIndexByte(e.value[:e.index], '\n'); nl >= 0 {
		col = e.index - nl - 1
	}
	rest := ""
	if nl := strings.IndexByte(e.value[e.index:], '\n'); nl >= 0 {
		line, rest = e.value[:e.index+nl], e.value[e.index+nl:]
	}
	return fmt.Sprintf("Expected: '%s', received: '%s' for input:\n%s\n%s^%s", e.expected, e.actual, line, strings.Repeat(" ", col), rest)
}

// Character classes of awscli/shorthand.py (Python's \s also has \v and
// \x1c-\x1f, which Go's lacks: spelled out).
const (
	shStartWord    = `!#-&(-+\--<>-Z\\-z|-\x{FFFF}`
	shFirstFollow  = `\t\n\v\f\r \x1c-\x1f!#-&(-+\--\\^-|~-\x{FFFF}`
	shSecondFollow = `\t\n\v\f\r \x1c-\x1f!#-&(-+\--<>-\x{FFFF}`
)

var (
	shFirstValue   = regexp.MustCompile(`^(?:(\\,)|[` + shStartWord + `])(?:(\\,)|[` + shFirstFollow + `])*`)
	shSecondValue  = regexp.MustCompile(`^(?:(\\,)|[` + shStartWord + `])(?:(\\,)|[` + shSecondFollow + `])*`)
	shSingleQuoted = regexp.MustCompile(`^'(?:\\\\|\\'|[^'])*'`)
	shDoubleQuoted = regexp.MustCompile(`^"(?:\\\\|\\"|[^"])*"`)
)

const shKeyChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.#/:"

// pyWhitespace is Python's string.whitespace (consume_whitespace, rstrip).
const pyWhitespace = " \t\n\r\v\f"

type shorthandParser struct {
	in string
	i  int
}

// parseShorthand parses one shorthand value into a map.
func parseShorthand(v string) (m map[string]any, err error) {
	p := &shorthandParser{in: v}
	return p.parameter()
}

func (p *shorthandParser) eof() bool { return p.i >= len(p.in) }

// current is the byte at the cursor, or -1 at the end.
func (p *shorthandParser) current() int {
	if p.eof() {
		return -1
	}
	return int(p.in[p.i])
}

func (p *shorthandParser) fail(expected string) error {
	actual := "EOF"
	if !p.eof() {
		actual = string(p.in[p.i])
	}
	return &shorthandError{value: p.in, expected: expected, actual: actual, index: p.i}
}

func (p *shorthandParser) parameter() (map[string]any, error) {
	params := map[string]any{}
	k, v, err := p.keyval()
	if err != nil {
		return nil, err
	}
	params[k] = v
	last := p.i
	for !p.eof() {
		if err := p.expect(',', true); err != nil {
			return nil, err
		}
		if k, v, err = p.keyval(); err != nil {
			return nil, err
		}
		if _, dup := params[k]; dup {
			return nil, fmt.Errorf("Second instance of key %q encountered for input:\n%s\n%s^\nThis is often because there is a preceding \",\" instead of a space.",
				k, p.in, strings.Repeat(" ", last+1))
		}
		params[k] = v
		last = p.i
	}
	return params, nil
}

func (p *shorthandParser) keyval() (string, any, error) {
	k := p.key()
	if err := p.expect('=', true); err != nil {
		return "", nil, err
	}
	v, err := p.values()
	return k, v, err
}

func (p *shorthandParser) key() string {
	start := p.i
	for !p.eof() && strings.IndexByte(shKeyChars, p.in[p.i]) >= 0 {
		p.i++
	}
	return p.in[start:p.i]
}

func (p *shorthandParser) values() (any, error) {
	switch p.current() {
	case -1:
		return "", nil
	case '[':
		return p.explicitList()
	case '{':
		return p.hashLiteral()
	}
	return p.csvValue()
}

// csvValue is a=b (a scalar) or a=b,c (a list), backtracking to the last
// comma when what follows it is the next key.
func (p *shorthandParser) csvValue() (any, error) {
	first, err := p.firstValue()
	if err != nil {
		return nil, err
	}
	p.whitespace()
	if p.eof() || p.in[p.i] != ',' {
		return first, nil
	}
	if err := p.expect(',', true); err != nil {
		return nil, err
	}
	list := []any{first}
	for {
		cur, err := p.secondValue()
		if err == nil {
			p.whitespace()
			if p.eof() {
				list = append(list, cur)
				break
			}
			if err = p.expect(',', true); err == nil {
				list = append(list, cur)
				continue
			}
		}
		if p.eof() {
			return nil, err
		}
		for p.i > 0 && p.in[p.i] != ',' {
			p.i--
		}
		break
	}
	if len(list) == 1 {
		return first, nil
	}
	return list, nil
}

func (p *shorthandParser) value() string {
	m := shFirstValue.FindString(p.in[p.i:])
	p.i += len(m)
	return strings.TrimRight(strings.ReplaceAll(m, `\,`, ","), pyWhitespace)
}

func (p *shorthandParser) explicitList() (any, error) {
	if err := p.expect('[', true); err != nil {
		return nil, err
	}
	values := []any{}
	for p.current() != ']' {
		v, err := p.explicitValues()
		if err != nil {
			return nil, err
		}
		values = append(values, v)
		p.whitespace()
		if p.current() != ']' {
			if err := p.expect(',', false); err != nil {
				return nil, err
			}
			p.whitespace()
		}
	}
	return values, p.expect(']', false)
}

func (p *shorthandParser) explicitValues() (any, error) {
	switch p.current() {
	case '[':
		return p.explicitList()
	case '{':
		return p.hashLiteral()
	}
	return p.firstValue()
}

func (p *shorthandParser) hashLiteral() (any, error) {
	if err := p.expect('{', true); err != nil {
		return nil, err
	}
	kv := map[string]any{}
	for p.current() != '}' {
		k := p.key()
		if err := p.expect('=', true); err != nil {
			return nil, err
		}
		v, err := p.explicitValues()
		if err != nil {
			return nil, err
		}
		p.whitespace()
		if p.current() != '}' {
			if err := p.expect(',', false); err != nil {
				return nil, err
			}
			p.whitespace()
		}
		kv[k] = v
	}
	return kv, p.expect('}', false)
}

func (p *shorthandParser) firstValue() (any, error) {
	switch p.current() {
	case '\'':
		return p.quoted(shSingleQuoted, "'", "singled quoted")
	case '"':
		return p.quoted(shDoubleQuoted, `"`, "double quoted")
	}
	return p.value(), nil
}

func (p *shorthandParser) secondValue() (any, error) {
	switch p.current() {
	case '\'':
		return p.quoted(shSingleQuoted, "'", "singled quoted")
	case '"':
		return p.quoted(shDoubleQuoted, `"`, "double quoted")
	}
	m := shSecondValue.FindString(p.in[p.i:])
	if m == "" {
		return nil, p.fail("<second>")
	}
	p.i += len(m)
	return strings.TrimRight(strings.ReplaceAll(m, `\,`, ","), pyWhitespace), nil
}

func (p *shorthandParser) quoted(re *regexp.Regexp, q, name string) (any, error) {
	m := re.FindString(p.in[p.i:])
	if m == "" {
		return nil, p.fail("<" + name + ">")
	}
	p.i += len(m)
	v := m[1 : len(m)-1]
	v = strings.ReplaceAll(v, `\`+q, q)
	return strings.ReplaceAll(v, `\\`, `\`), nil
}

func (p *shorthandParser) expect(c byte, ws bool) error {
	if ws {
		p.whitespace()
	}
	if p.eof() || p.in[p.i] != c {
		return p.fail(string(c))
	}
	p.i++
	if ws {
		p.whitespace()
	}
	return nil
}

func (p *shorthandParser) whitespace() {
	for !p.eof() && strings.IndexByte(pyWhitespace, p.in[p.i]) >= 0 {
		p.i++
	}
}

// shorthandVisit holds a parsed shorthand value to shape s, as the AWS
// CLI's BackCompatVisitor does: a single value where s is a list becomes a
// one-item list, and scalars of integer, long, double, float and boolean
// members convert from their text ("80" → 80, "true" → true). What does
// not fit the shape is left for validateInput to name.
func shorthandVisit(s query.Shape, v any) (any, error) {
	switch s.Type() {
	case "structure":
		m, ok := v.(map[string]any)
		if !ok {
			return v, nil
		}
		for k, child := range m {
			mem, ok := s.Member(k)
			if !ok {
				continue
			}
			c, err := shorthandVisit(mem.Shape, child)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			m[k] = c
		}
		return m, nil
	case "list":
		l, ok := v.([]any)
		if !ok {
			l = []any{v}
		}
		for i, child := range l {
			c, err := shorthandVisit(s.Elem(), child)
			if err != nil {
				return nil, err
			}
			l[i] = c
		}
		return l, nil
	case "map":
		m, ok := v.(map[string]any)
		if !ok {
			return v, nil
		}
		for k, child := range m {
			c, err := shorthandVisit(s.MapValue(), child)
			if err != nil {
				return nil, err
			}
			m[k] = c
		}
		return m, nil
	}
	str, ok := v.(string)
	if !ok {
		return v, nil
	}
	return scalarFromText(s, str)
}

// scalarFromText converts text to shape s's type as the AWS CLI does
// (int(), float(), "true"/"false" in any case); other types stay text.
func scalarFromText(s query.Shape, v string) (any, error) {
	switch s.Type() {
	case "integer", "long":
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("invalid literal for int() with base 10: %q", v)
		}
		return n, nil
	case "double", "float":
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil {
			return nil, fmt.Errorf("could not convert string to float: %q", v)
		}
		return f, nil
	case "boolean":
		switch strings.ToLower(v) {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
	}
	return v, nil
}
