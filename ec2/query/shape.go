package query

// A read-only view of the model for clients that build or print requests by
// it (vpcnet's own CLI builds an AWS CLI flag per input member and prints
// answers in the output shape's member order). Nothing here changes the
// model.

// Shape is one shape of the model. The zero Shape is no shape (IsZero).
type Shape struct{ s *shape }

// Member is one member of a structure: its name, its shape and whether
// the structure requires it.
type Member struct {
	Name     string
	Shape    Shape
	Required bool
}

// InputShape is the input shape of action, and false for an action the
// model lacks or one without input.
func InputShape(action string) (Shape, bool) { return opShape(action, true) }

// OutputShape is the output shape of action, and false for an action the
// model lacks or one EC2 answers with nothing (HasOutput false).
func OutputShape(action string) (Shape, bool) { return opShape(action, false) }

func opShape(action string, input bool) (Shape, bool) {
	m, err := getModel()
	if err != nil {
		return Shape{}, false
	}
	op, ok := m.operations[action]
	if !ok {
		return Shape{}, false
	}
	r := op.Output
	if input {
		r = op.Input
	}
	if r == nil || r.shape == nil {
		return Shape{}, false
	}
	return Shape{r.shape}, true
}

// IsZero reports whether s is no shape.
func (s Shape) IsZero() bool { return s.s == nil }

// Name is the shape's name in the model (DescribeVpcsRequest, Filter …).
func (s Shape) Name() string {
	if s.s == nil {
		return ""
	}
	return s.s.name
}

// Type is the model's type: structure, list, map, string, integer, long,
// boolean, double, float, timestamp or blob.
func (s Shape) Type() string {
	if s.s == nil {
		return ""
	}
	return s.s.Type
}

// Members are a structure's members in model order (nil for other types).
func (s Shape) Members() []Member {
	if s.s == nil || s.s.Type != "structure" {
		return nil
	}
	out := make([]Member, 0, len(s.s.Members))
	for _, r := range s.s.Members {
		out = append(out, Member{Name: r.Name, Shape: Shape{r.shape}, Required: s.requires(r.Name)})
	}
	return out
}

// Member is the structure's member name, exactly as the model spells it.
func (s Shape) Member(name string) (Member, bool) {
	if s.s == nil || s.s.byName == nil {
		return Member{}, false
	}
	r, ok := s.s.byName[name]
	if !ok {
		return Member{}, false
	}
	return Member{Name: r.Name, Shape: Shape{r.shape}, Required: s.requires(r.Name)}, true
}

// Required are the names of a structure's required members, in model
// order.
func (s Shape) Required() []string {
	if s.s == nil {
		return nil
	}
	return append([]string(nil), s.s.Required...)
}

func (s Shape) requires(name string) bool {
	for _, r := range s.s.Required {
		if r == name {
			return true
		}
	}
	return false
}

// Elem is a list's element shape (the zero Shape for other types).
func (s Shape) Elem() Shape {
	if s.s == nil || s.s.Type != "list" || s.s.Member == nil {
		return Shape{}
	}
	return Shape{s.s.Member.shape}
}

// MapValue is a map's value shape (the zero Shape for other types).
func (s Shape) MapValue() Shape {
	if s.s == nil || s.s.Type != "map" || s.s.Value == nil {
		return Shape{}
	}
	return Shape{s.s.Value.shape}
}

// Enum are a string shape's allowed values (nil: any string).
func (s Shape) Enum() []string {
	if s.s == nil {
		return nil
	}
	return append([]string(nil), s.s.Enum...)
}

// IsScalar reports whether values of s are leaves: not a structure, list
// or map.
func (s Shape) IsScalar() bool {
	switch s.Type() {
	case "structure", "list", "map", "":
		return false
	}
	return true
}

// Min is the model's lower bound: the least value of a number, the least
// length of a string, list or blob; false when the model gives none.
func (s Shape) Min() (float64, bool) {
	if s.s == nil || s.s.Min == nil {
		return 0, false
	}
	return *s.s.Min, true
}
