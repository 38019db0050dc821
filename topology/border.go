package topology

import "regexp"

// borderRE takes the region out of a network border group: the region
// itself, or a Local or Wavelength Zone's group named after it
// (us-west-2-lax-1 is in us-west-2; us-gov-west-1 is a region).
var borderRE = regexp.MustCompile(`^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]+`)

// BorderRegion is the region of network border group g (ADDR-5, EIP-4).
func BorderRegion(g string) string {
	if m := borderRE.FindString(g); m != "" {
		return m
	}
	return g
}
