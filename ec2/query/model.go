// Package query speaks EC2's Query protocol, driven by EC2's own service
// model: it decodes form-encoded requests (Decode), writes XML answers and
// errors as EC2 does (Encode, EncodeError) and checks AWS Signature Version 4
// (Verify). It knows nothing of vpcnet's network: the caller maps actions to
// handlers.
//
// The model is model.json, the subset of botocore's ec2/2016-11-15 and
// sts/2011-06-15 service models that the served operations reach; regenerate
// it with `go run ./scripts/ec2model`.
//
// Values cross this package as JSON-like trees keyed by the model's member
// names (PascalCase, as the AWS CLI prints them): map[string]any, []any and
// scalar leaves. Decode produces string, int64, float64, bool, time.Time and
// []byte leaves; Encode accepts those and any Go value that encoding/json
// turns into them (structs with json tags, typed slices, netip.Addr …).
package query

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
)

//go:embed model.json
var modelJSON []byte

// The model as model.json lays it out, resolved once on first use.

type service struct {
	name         string
	APIVersion   string `json:"apiVersion"`
	Protocol     string `json:"protocol"` // "ec2" or "query"
	XMLNamespace string `json:"xmlNamespace"`
	SigningName  string `json:"signingName"`
	Source       string `json:"source"`
}

type operation struct {
	name    string
	service *service
	Service string `json:"service"`
	Input   *ref   `json:"input"`
	Output  *ref   `json:"output"`
}

// ref is a use of a shape: a structure's member, a list's member, an
// operation's input or output. Its serialization attributes override the
// shape's own, as botocore's ShapeResolver merges them.
type ref struct {
	Name          string `json:"name"`
	ShapeName     string `json:"shape"`
	LocationName  string `json:"locationName"`
	QueryName     string `json:"queryName"`
	Flattened     bool   `json:"flattened"`
	XMLAttribute  bool   `json:"xmlAttribute"`
	ResultWrapper string `json:"resultWrapper"`

	shape *shape
}

type shape struct {
	name            string
	Type            string   `json:"type"`
	Required        []string `json:"required"`
	Enum            []string `json:"enum"`
	Min             *float64 `json:"min"`
	Max             *float64 `json:"max"`
	LocationName    string   `json:"locationName"`
	Flattened       bool     `json:"flattened"`
	TimestampFormat string   `json:"timestampFormat"`
	Member          *ref     `json:"member"`
	Key             *ref     `json:"key"`
	Value           *ref     `json:"value"`
	Members         []*ref   `json:"members"`

	byName  map[string]*ref     // structure: member name → member
	byWire  map[string]*ref     // structure: request parameter name → member (Decode)
	enumSet map[string]struct{} // string with enum
}

type model struct {
	services   map[string]*service
	operations map[string]*operation
}

var (
	loadOnce sync.Once
	theModel *model
	loadErr  error
)

// getModel returns the embedded model, resolved. A model that does not
// resolve is a build defect (model.json edited by hand): every call then
// fails with InternalError rather than the process panicking.
func getModel() (*model, error) {
	loadOnce.Do(func() { theModel, loadErr = parseModel(modelJSON) })
	return theModel, loadErr
}

func parseModel(b []byte) (*model, error) {
	var raw struct {
		Services   map[string]*service          `json:"services"`
		Operations map[string]*operation        `json:"operations"`
		Shapes     map[string]map[string]*shape `json:"shapes"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("model.json: %w", err)
	}
	m := &model{services: raw.Services, operations: raw.Operations}
	for name, svc := range m.services {
		svc.name = name
		shapes := raw.Shapes[name]
		for sn, s := range shapes {
			s.name = sn
		}
		resolve := func(r *ref, where string) error {
			if r == nil {
				return nil
			}
			s, ok := shapes[r.ShapeName]
			if !ok {
				return fmt.Errorf("model.json: %s %s: no shape %q", name, where, r.ShapeName)
			}
			r.shape = s
			// botocore: the shape's serialization, then the ref's on top.
			if r.LocationName == "" {
				r.LocationName = s.LocationName
			}
			if !r.Flattened {
				r.Flattened = s.Flattened
			}
			return nil
		}
		for sn, s := range shapes {
			for _, r := range []*ref{s.Member, s.Key, s.Value} {
				if err := resolve(r, sn); err != nil {
					return nil, err
				}
			}
			if s.Type == "structure" {
				s.byName = make(map[string]*ref, len(s.Members))
				for _, r := range s.Members {
					if err := resolve(r, sn+"."+r.Name); err != nil {
						return nil, err
					}
					s.byName[r.Name] = r
				}
			}
			if len(s.Enum) > 0 {
				s.enumSet = make(map[string]struct{}, len(s.Enum))
				for _, e := range s.Enum {
					s.enumSet[e] = struct{}{}
				}
				for _, e := range answeredBeyondModel[sn] {
					s.enumSet[e] = struct{}{}
				}
			}
		}
		// Wire names need the members' shapes resolved (flattened lists).
		for _, s := range shapes {
			if s.Type != "structure" {
				continue
			}
			s.byWire = make(map[string]*ref, len(s.Members))
			for _, r := range s.Members {
				w := wireName(svc, r)
				if prev, dup := s.byWire[w]; dup {
					return nil, fmt.Errorf("model.json: %s %s: members %s and %s share the parameter name %s", name, s.name, prev.Name, r.Name, w)
				}
				s.byWire[w] = r
			}
		}
	}
	for name, op := range m.operations {
		op.name = name
		svc, ok := m.services[op.Service]
		if !ok {
			return nil, fmt.Errorf("model.json: operation %s: no service %q", name, op.Service)
		}
		op.service = svc
		for _, r := range []*ref{op.Input, op.Output} {
			if r == nil {
				continue
			}
			s, ok := raw.Shapes[op.Service][r.ShapeName]
			if !ok {
				return nil, fmt.Errorf("model.json: operation %s: no shape %q", name, r.ShapeName)
			}
			r.shape = s
		}
	}
	return m, nil
}

// wireName is a structure member's request parameter name: for EC2
// (botocore's EC2Serializer) the queryName, else the locationName with its
// first letter upper-cased, else the member name; for the Query protocol
// (STS) the locationName, else the member name, and a flattened list with a
// named member takes that member's name.
func wireName(svc *service, r *ref) string {
	if svc.Protocol == "ec2" {
		switch {
		case r.QueryName != "":
			return r.QueryName
		case r.LocationName != "":
			return strings.ToUpper(r.LocationName[:1]) + r.LocationName[1:]
		}
		return r.Name
	}
	if r.shape != nil && r.shape.Type == "list" && r.Flattened && r.shape.Member != nil && r.shape.Member.LocationName != "" {
		return r.shape.Member.LocationName
	}
	if r.LocationName != "" {
		return r.LocationName
	}
	return r.Name
}

// Actions lists the operations the model serves, sorted.
func Actions() []string {
	m, err := getModel()
	if err != nil {
		return nil
	}
	out := make([]string, 0, len(m.operations))
	for name := range m.operations {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// ServiceOf is the signing name of the service that serves action ("ec2" or
// "sts"), and false for an action the model does not have.
func ServiceOf(action string) (string, bool) {
	m, err := getModel()
	if err != nil {
		return "", false
	}
	op, ok := m.operations[action]
	if !ok {
		return "", false
	}
	return op.service.SigningName, true
}

// HasOutput reports whether EC2's model gives action an answer shape. An
// action without one (DeleteRoute, CreateTags …) answers only its requestId
// and <return>true</return>.
func HasOutput(action string) bool {
	m, err := getModel()
	if err != nil {
		return false
	}
	op, ok := m.operations[action]
	return ok && op.Output != nil
}

// answeredBeyondModel are enum values EC2 answers that its model does not
// list: an attached internet gateway's attachment is "available" in every
// EC2 answer (and the AWS CLI's examples), not one of AttachmentStatus's.
var answeredBeyondModel = map[string][]string{"AttachmentStatus": {"available"}}
