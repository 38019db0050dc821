package ec2

import "testing"

// TestWildcard: EC2's filter values, * crossing slashes as in image names.
func TestWildcard(t *testing.T) {
	for _, c := range []struct {
		p, s string
		want bool
	}{
		{"*ubuntu-jammy*", "ubuntu/images/hvm-ssd/ubuntu-jammy-22.04-amd64-server-20240301", true},
		{"ubuntu/images/*", "ubuntu/images/x", true},
		{"vpc-?bc", "vpc-abc", true},
		{"vpc-?bc", "vpc-bc", false},
		{"10.0.*", "10.0.1.0/24", true},
		{"web", "web", true},
		{"web", "web2", false},
		{"*", "", true},
		{"", "", true},
		{"", "x", false},
		{"a*b*c", "aXXbYYc", true},
		{"a*b*c", "aXXbYY", false},
	} {
		if got := wildcard(c.p, c.s); got != c.want {
			t.Errorf("wildcard(%q, %q) = %v, want %v", c.p, c.s, got, c.want)
		}
	}
}
