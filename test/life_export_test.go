package test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestLIFE_ExportOfANetworkBuiltLiveBringsItUpAgain (issue 12, start from
// nothing): an empty account built through the CLI (VPC, subnet, group, a
// key pair, an instance launched with an image and the key, tags of
// several keys on the VPC, subnet, instance, its eth0 and the group);
// `vpcnet export`, `down`, `up` of the export: the describe-* answers are
// the same (times aside: a new daemon dates what it finds from its start),
// and the instance's namespace has its address again.
func TestLIFE_ExportOfANetworkBuiltLiveBringsItUpAgain(t *testing.T) {
	tp := Up(t, `{"name": "NAME", "region": "ap-northeast-2"}`)
	var vpc struct{ Vpc struct{ VpcId string } }
	tp.ec2OK(t, &vpc, "create-vpc", "--cidr-block", "10.31.0.0/16", "--tag-specifications", "ResourceType=vpc,Tags=[{Key=Name,Value=lab}]")
	tp.ec2OK(t, nil, "create-subnet", "--vpc-id", "lab", "--cidr-block", "10.31.1.0/24", "--availability-zone", "ap-northeast-2a",
		"--tag-specifications", "ResourceType=subnet,Tags=[{Key=Name,Value=pub}]")
	var sg struct{ GroupId string }
	tp.ec2OK(t, &sg, "create-security-group", "--group-name", "web", "--description", "web", "--vpc-id", "lab")
	tp.ec2OK(t, nil, "create-key-pair", "--key-name", "lab-key")
	tp.ec2OK(t, nil, "run-instances", "--image-id", "ami-0e57369a62a7b3150", "--key-name", "lab-key", "--subnet-id", "pub",
		"--security-group-ids", sg.GroupId, "--count", "1", "--tag-specifications", "ResourceType=instance,Tags=[{Key=Name,Value=srv}]")
	var inst struct {
		Reservations []struct {
			Instances []struct {
				InstanceId        string
				NetworkInterfaces []struct{ NetworkInterfaceId string }
			}
		}
	}
	tp.ec2OK(t, &inst, "describe-instances")
	i := inst.Reservations[0].Instances[0]
	tp.ec2OK(t, nil, "create-tags", "--resources", vpc.Vpc.VpcId, "pub", i.InstanceId, i.NetworkInterfaces[0].NetworkInterfaceId, sg.GroupId,
		"--tags", "Key=env,Value=prod", "Key=cost,Value=42", "Key=team,Value=net")

	times := regexp.MustCompile(`"\d{4}-\d\d-\d\dT[^"]*"`)
	describe := func() map[string]string {
		out := map[string]string{}
		for _, op := range []string{"describe-vpcs", "describe-subnets", "describe-security-groups", "describe-security-group-rules",
			"describe-instances", "describe-network-interfaces", "describe-route-tables", "describe-network-acls",
			"describe-tags", "describe-key-pairs"} {
			out[op] = times.ReplaceAllString(tp.ec2OK(t, nil, op), `"T"`)
		}
		return out
	}
	before := describe()
	for _, want := range []string{`"cost"`, `"team"`} {
		if !strings.Contains(before["describe-tags"], want) {
			t.Fatalf("describe-tags lacks %s:\n%s", want, before["describe-tags"])
		}
	}
	file := exportOf(t, tp)
	if strings.Contains(file, "PRIVATE KEY") || !strings.Contains(file, `"key_pairs"`) || !strings.Contains(file, `"image_id"`) {
		t.Fatalf("export:\n%s", file)
	}
	path := filepath.Join(tp.dir, "export.json")
	if err := os.WriteFile(path, []byte(file), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, code := vpcnet(t, "down", tp.Name); code != 0 {
		t.Fatalf("down: %d %s", code, out)
	}
	if out, code := vpcnet(t, "up", path); code != 0 {
		t.Fatalf("up of the export: %d %s", code, out)
	}
	after := describe()
	for op, b := range before {
		if after[op] != b {
			t.Errorf("%s differs after export, down and up:\nbefore %s\nafter  %s", op, b, after[op])
		}
	}
	if out := tp.MustExec(t, "srv", "ip", "-4", "addr", "show", "eth0"); !strings.Contains(out, "10.31.1.") {
		t.Fatalf("srv's eth0 after up of the export:\n%s", out)
	}
}
