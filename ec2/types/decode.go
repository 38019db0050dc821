package types

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"github.com/vpcnet/vpcnet/ec2/query"
)

// DecodeInput turns in, a request as ec2/query.Decode reads it (members by
// name, query's leaf types), into a pointer to action's input type
// (*DescribeVpcsRequest …).
//
// Everything Decode accepts converts: Decode has already checked the
// members, types, enums and bounds against the same model. Maps built by
// other means (vpcnet's own CLI, tests) are held to the same names and
// types: a member the input lacks (names are matched exactly, not as
// encoding/json matches them, ignoring case) is UnknownParameter, a value
// of the wrong type (or an integer outside int32) InvalidParameterValue,
// each naming the member's path (IpPermissions.1.FromPort); an action the
// model lacks is InvalidAction. Errors are *query.Error.
func DecodeInput(action string, in map[string]any) (any, error) {
	v := NewInput(action)
	if v == nil {
		return nil, &query.Error{Code: query.CodeInvalidAction,
			Message: fmt.Sprintf("The action %s is not valid for this web service.", action)}
	}
	if err := DecodeInto(in, v); err != nil {
		return nil, err
	}
	return v, nil
}

// DecodeInto fills out, a pointer to one of this package's structs, from
// in, as DecodeInput does.
func DecodeInto(in map[string]any, out any) error {
	t := reflect.TypeOf(out)
	if t == nil || t.Kind() != reflect.Pointer || t.Elem().Kind() != reflect.Struct {
		return &query.Error{Code: query.CodeInternalError, Message: fmt.Sprintf("decode into %T: not a pointer to a struct", out)}
	}
	if err := checkNames(in, t.Elem(), ""); err != nil {
		return err
	}
	b, err := json.Marshal(in)
	if err != nil {
		return &query.Error{Code: query.CodeInvalidParameterValue, Message: err.Error()}
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	err = d.Decode(out)
	var typeErr *json.UnmarshalTypeError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &typeErr):
		return &query.Error{Code: query.CodeInvalidParameterValue,
			Message: fmt.Sprintf("Value for parameter %s is invalid. Expecting %s, not a JSON %s.", typeErr.Field, typeErr.Type, typeErr.Value)}
	}
	return &query.Error{Code: query.CodeInvalidParameterValue, Message: err.Error()}
}

// checkNames holds every key of the tree v to a member of type t, exactly;
// at is the path so far, for the message.
func checkNames(v any, t reflect.Type, at string) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch x := v.(type) {
	case map[string]any:
		if t.Kind() != reflect.Struct {
			return nil // a map member, or a type mismatch that json reports
		}
		for k, child := range x {
			f, ok := fieldByTag(t, k)
			if !ok {
				return &query.Error{Code: query.CodeUnknownParameter,
					Message: fmt.Sprintf("The parameter %s is not recognized", join(at, k))}
			}
			if err := checkNames(child, f.Type, join(at, k)); err != nil {
				return err
			}
		}
	case []any:
		if t.Kind() != reflect.Slice {
			return nil
		}
		for i, child := range x {
			if err := checkNames(child, t.Elem(), join(at, strconv.Itoa(i+1))); err != nil {
				return err
			}
		}
	}
	return nil
}

func fieldByTag(t reflect.Type, name string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		if tag, _, _ := strings.Cut(f.Tag.Get("json"), ","); tag == name {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

func join(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}
