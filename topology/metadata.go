package topology

// HttpTokens, the instance metadata option (IMDS-1): "optional" lets an
// instance read its metadata without a token (IMDSv1) as well as with one;
// "required" answers 401 to a request without a valid token.
const (
	MetadataTokensOptional = "optional"
	MetadataTokensRequired = "required"
)

// DefaultMetadataTokens is an instance's HttpTokens when topo.json does
// not say: "optional", what EC2 gives an instance launched from an image
// that does not ask for IMDSv2 (an image registered with ImdsSupport
// v2.0, such as Amazon Linux 2023's, makes it "required"; set
// metadata_http_tokens to behave as one).
const DefaultMetadataTokens = MetadataTokensOptional

// metadataTokens checks an instance's metadata_http_tokens.
func (r *resolver) metadataTokens(path, s string) string {
	switch s {
	case "":
		return DefaultMetadataTokens
	case MetadataTokensOptional, MetadataTokensRequired:
		return s
	}
	r.errf(path, "IMDS-1", "metadata_http_tokens is %q: it is %q or %q", s, MetadataTokensOptional, MetadataTokensRequired)
	return DefaultMetadataTokens
}
