// Package test holds vpcnet's end-to-end tests: each brings a real topology
// up with the vpcnet binary, sends real traffic between real namespaces, and
// asserts on what arrives and on the counters that explain what did not.
// They need root and skip cleanly without it.
package test
