// Package types holds a Go type for every structure and enum shape of the
// EC2 (and STS) service model that vpcnet serves: the subset in
// ec2/query/model.json, which types_gen.go is generated from along with it
// (`go run ./scripts/ec2model`; never edit types_gen.go by hand).
//
// The types follow the AWS SDK for Go v2's layout, with the model's shape
// and member names:
//
//   - a structure is a struct with one field per member, in model order,
//     tagged with the member's name (DescribeInstancesResult.Reservations,
//     Reservation.Instances, Instance.NetworkInterfaces);
//   - an optional scalar is a pointer (*string, *int32 for EC2's integer,
//     *int64 for long, *bool, *float64, *time.Time), so that a false or 0
//     that is set prints and an absent one does not; a required scalar (only
//     inputs have them) is a plain value; a nested structure is a pointer;
//   - a list is a slice of values ([]Instance, []string): nil is absent, an
//     empty non-nil slice an empty list (<vpcSet/>; the AWS CLI prints
//     "Vpcs": []), so a describe that finds nothing answers []Vpc{};
//   - an enum is a string type with a constant per value, named as the SDK
//     names them (InstanceStateNameShuttingDown = "shutting-down"); "" is
//     absent;
//   - a blob is []byte.
//
// Operations maps each action to its input and output type names; NewInput
// and NewOutput make zero values of them. Answers go to ec2/query.Encode as
// they are; requests come from ec2/query.Decode as maps, which DecodeInput
// turns into the input type.
package types
