package ec2

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"github.com/vpcnet/vpcnet/ec2/types"
)

// What every describe-* shares: ids, filters and pages, as EC2 reads them.

// filters are the filter names a describe-* knows, each giving the values
// an item has for it. "tag:<key>" and "tag-key" are added for every kind
// that has tags.
type filters[T any] map[string]func(x *T) []string

// selectItems keeps the items that every filter matches (EC2: filters are
// ANDed, a filter's values ORed; values may use * and ? wildcards). An
// unknown filter name is InvalidParameterValue.
func selectItems[T any](items []T, fs []types.Filter, known filters[T], tags func(x *T) []types.Tag) ([]T, error) {
	for _, f := range fs {
		name := deref(f.Name)
		if name == "" {
			return nil, opErr("InvalidParameterValue", "The filter name must be given")
		}
		_, ok := known[name]
		if !ok && !(tags != nil && (name == "tag-key" || strings.HasPrefix(name, "tag:"))) {
			return nil, opErr("InvalidParameterValue", "The filter '%s' is invalid", name)
		}
	}
	out := items[:0:0]
	for i := range items {
		x := &items[i]
		keep := true
		for _, f := range fs {
			if !filterMatches(x, f, known, tags) {
				keep = false
				break
			}
		}
		if keep {
			out = append(out, *x)
		}
	}
	return out, nil
}

func filterMatches[T any](x *T, f types.Filter, known filters[T], tags func(x *T) []types.Tag) bool {
	name := deref(f.Name)
	var have []string
	switch {
	case known[name] != nil:
		have = known[name](x)
	case name == "tag-key":
		for _, t := range tags(x) {
			have = append(have, deref(t.Key))
		}
	case strings.HasPrefix(name, "tag:"):
		for _, t := range tags(x) {
			if deref(t.Key) == strings.TrimPrefix(name, "tag:") {
				have = append(have, deref(t.Value))
			}
		}
	}
	for _, want := range f.Values {
		for _, h := range have {
			if wildcard(want, h) {
				return true
			}
		}
	}
	return false
}

// page returns the page of items that nextToken and maxResults select, and
// the token of the next page (nil on the last). The token is the offset,
// opaque to clients. maxResults, when given, must be within lo..hi.
func page[T any](items []T, maxResults *int32, nextToken *string, lo, hi int32) ([]T, *string, error) {
	start := 0
	if nextToken != nil && *nextToken != "" {
		b, err := base64.RawURLEncoding.DecodeString(*nextToken)
		n, cerr := strconv.Atoi(string(b))
		if err != nil || cerr != nil || n < 0 || n > len(items) {
			return nil, nil, opErr("InvalidNextToken.Malformed", "The token '%s' is invalid", *nextToken)
		}
		start = n
	}
	if maxResults == nil {
		return items[start:], nil, nil
	}
	if *maxResults < lo || *maxResults > hi {
		return nil, nil, opErr("InvalidParameterValue", "Value ( %d ) for parameter maxResults is invalid. Expecting a value between %d and %d.", *maxResults, lo, hi)
	}
	end := min(len(items), start+int(*maxResults))
	if end == len(items) {
		return items[start:end], nil, nil
	}
	tok := base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(end)))
	return items[start:end], &tok, nil
}

// byIDs keeps the items whose id is one of ids (all without ids). An id
// that matches none is notFound's error, as EC2 answers it.
func byIDs[T any](items []T, ids []string, id func(x *T) string, notFound func(id string) error) ([]T, error) {
	if len(ids) == 0 {
		return items, nil
	}
	out := items[:0:0]
	for _, want := range ids {
		found := false
		for i := range items {
			if id(&items[i]) == want {
				out = append(out, items[i])
				found = true
				break
			}
		}
		if !found {
			return nil, notFound(want)
		}
	}
	return out, nil
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func ptr[T any](v T) *T { return &v }

// nameTags is the tag list of a resource: its name is the Name tag.
func nameTags(name string) []types.Tag { return []types.Tag{{Key: ptr("Name"), Value: ptr(name)}} }

func boolString(b bool) string { return fmt.Sprint(b) }

// wildcard reports whether s matches pattern as EC2's filters read it: *
// is any run of characters (slashes too: image names have them), ? any one
// character; everything else stands for itself.
func wildcard(pattern, s string) bool {
	p, i := []rune(pattern), []rune(s)
	star, mark := -1, 0
	for pi, si := 0, 0; si < len(i); {
		switch {
		case pi < len(p) && (p[pi] == '?' || p[pi] == i[si]):
			pi++
			si++
		case pi < len(p) && p[pi] == '*':
			star, mark = pi, si
			pi++
		case star >= 0:
			pi = star + 1
			mark++
			si = mark
		default:
			return false
		}
		if si == len(i) {
			for pi < len(p) && p[pi] == '*' {
				pi++
			}
			return pi == len(p)
		}
	}
	for _, c := range p {
		if c != '*' {
			return false
		}
	}
	return true
}
