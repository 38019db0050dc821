package dataplane

import (
	"slices"
	"strings"
	"testing"
)

// settings.forwarder_cpus against the CPUs the process may use.
func TestForwarderCPUs(t *testing.T) {
	seq := func(lo, hi int) []int {
		var s []int
		for c := lo; c <= hi; c++ {
			s = append(s, c)
		}
		return s
	}
	cases := []struct {
		setting string
		allowed []int
		want    []int
		err     string
	}{
		{"auto", []int{0}, nil, ""},                 // one CPU: not pinned
		{"auto", []int{0, 1}, []int{1}, ""},         // the second of two
		{"auto", []int{0, 2, 5}, []int{5}, ""},      // the last allowed, not the last number
		{"auto", seq(0, 7), []int{6, 7}, ""},        // a quarter of 8
		{"auto", seq(0, 15), seq(12, 15), ""},       // a quarter of 16
		{"all", seq(0, 7), nil, ""},                 // not pinned
		{"0", []int{0, 1}, []int{0}, ""},            // as listed
		{"1-2", []int{0, 1, 2, 3}, []int{1, 2}, ""}, // as listed
		{"2", []int{0, 1}, nil, "CPU 2 is not one vpcnet may run on here (0-1)"},
		{"0,3", []int{0, 1, 2}, nil, "CPU 3 is not one"},
		{"x", []int{0, 1}, nil, "settings.forwarder_cpus"},
	}
	for _, c := range cases {
		got, err := ForwarderCPUs(c.setting, c.allowed)
		switch {
		case c.err != "":
			if err == nil || !strings.Contains(err.Error(), c.err) || !strings.HasPrefix(err.Error(), "settings.forwarder_cpus: ") {
				t.Errorf("%q on %v: %v, %v; want an error with %q", c.setting, c.allowed, got, err, c.err)
			}
		case err != nil || !slices.Equal(got, c.want):
			t.Errorf("%q on %v: %v, %v; want %v", c.setting, c.allowed, got, err, c.want)
		}
	}
}
