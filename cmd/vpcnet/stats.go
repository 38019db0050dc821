package main

import "github.com/vpcnet/vpcnet/dataplane"

type statsDoc = dataplane.Stats
