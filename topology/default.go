package topology

import _ "embed"

//go:embed default.json
var defaultJSON []byte

// Default returns the example network of topology-spec.md (the textbook
// chapter's "ch5" network), used when `vpcnet up` is given no file. The
// caller owns the returned copy.
func Default() []byte {
	return append([]byte(nil), defaultJSON...)
}
