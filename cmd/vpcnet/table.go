package main

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
)

// --output table renders an EC2 response (decoded JSON) as the AWS CLI's
// table output does, in plain columns:
//   - scalars of the response: a key/value block under the operation's name;
//   - a single object (create-network-interface's NetworkInterface): a
//     key/value block of its own;
//   - a list of objects: a table, one row per item, one column per scalar;
//   - inside an item, a nested object is flattened into Parent.Child columns
//     (State.Name, Attachment.InstanceId, Association.PublicIp); Tags and
//     TagSet become a Name column (and Tag:Key for other keys); a list of
//     scalars is one comma-separated cell;
//   - a nested list of objects is a table of its own, titled by its path
//     ("RouteTables > Routes"), whose rows start with the id of the item they
//     belong to (RouteTableId). A short list that has at most one small item
//     in every row (an ENI's Groups, a rule's IpRanges) is flattened into
//     columns instead.
//
// describe-instances' reservations are lifted: one Instances table, with the
// ReservationId as a column. Go's map syntax never appears. What --query
// makes of an answer is shown the same way: a list of objects as a table,
// other lists one row per item.

// alwaysTable are lists shown as their own table even when every row has one
// item, so that a command's output keeps one shape.
var alwaysTable = map[string]bool{"Routes": true, "Entries": true, "IpPermissions": true, "IpPermissionsEgress": true,
	"NetworkInterfaces": true, "Instances": true}

// maxFlatLeaves is the most scalars a one-item nested list may carry to be
// flattened into columns rather than shown as a table.
const maxFlatLeaves = 6

// printTable writes v, the response of operation api, as tables.
func printTable(w io.Writer, api string, v any) {
	m, ok := v.(map[string]any)
	if !ok {
		printTableOf(w, api, v)
		return
	}
	var out []section
	top := map[string]string{}
	keys := sortedKeys(m)
	for _, k := range keys {
		switch x := m[k].(type) {
		case map[string]any:
		case []any:
			if _, ok := objects(x); !ok || len(x) == 0 {
				top[k] = cell(x)
			}
		default:
			top[k] = cell(x)
		}
	}
	if len(top) > 0 {
		out = append(out, kvSection(api, top, ""))
	}
	for _, k := range keys {
		switch x := m[k].(type) {
		case map[string]any:
			out = append(out, objectSections(k, x)...)
		case []any:
			objs, ok := objects(x)
			if !ok || len(objs) == 0 {
				continue
			}
			if k == "Reservations" {
				k, objs = "Instances", liftInstances(objs)
			}
			entries := make([]entry, len(objs))
			for i, o := range objs {
				entries[i] = entry{obj: o}
			}
			out = append(out, listSections(k, k, entries)...)
		}
	}
	if len(out) == 0 {
		out = append(out, section{title: api, lines: [][]string{{"(empty)"}}})
	}
	for i, s := range out {
		if i > 0 {
			fmt.Fprintln(w)
		}
		s.write(w)
	}
}

// printTableOf writes what --query made of an answer when it is no
// object: a list of objects as one table, titled by the operation; a list
// of scalars or of lists one row per item; a scalar alone.
func printTableOf(w io.Writer, api string, v any) {
	l, ok := v.([]any)
	if !ok {
		section{title: api, lines: [][]string{{cell(v)}}}.write(w)
		return
	}
	if objs, ok := objects(l); ok && len(objs) > 0 {
		entries := make([]entry, len(objs))
		for i, o := range objs {
			entries[i] = entry{obj: o}
		}
		for i, s := range listSections(api, api, entries) {
			if i > 0 {
				fmt.Fprintln(w)
			}
			s.write(w)
		}
		return
	}
	s := section{title: api}
	for _, x := range l {
		if row, ok := x.([]any); ok {
			line := make([]string, len(row))
			for i, c := range row {
				line[i] = cell(c)
			}
			s.lines = append(s.lines, line)
			continue
		}
		s.lines = append(s.lines, []string{cell(x)})
	}
	if len(s.lines) == 0 {
		s.lines = [][]string{{"(empty)"}}
	}
	s.write(w)
}

// section is one titled block: a header row (nil for key/value blocks) and
// its rows.
type section struct {
	title  string
	header []string
	lines  [][]string
}

func (s section) write(w io.Writer) {
	fmt.Fprintln(w, s.title)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if s.header != nil {
		fmt.Fprintln(tw, "  "+strings.Join(s.header, "\t"))
	}
	for _, l := range s.lines {
		fmt.Fprintln(tw, "  "+strings.Join(l, "\t"))
	}
	tw.Flush()
}

// kvSection is a key/value block: Name and the id first, then by key.
func kvSection(title string, kv map[string]string, id string) section {
	s := section{title: title}
	for _, k := range orderColumns(kv, id) {
		s.lines = append(s.lines, []string{k, kv[k]})
	}
	return s
}

// entry is an item of a list with the references to the items it is
// nested in (column, value), outermost first.
type entry struct {
	refs [][2]string
	obj  map[string]any
}

// objectSections renders one object: a key/value block, then the tables
// of its nested lists.
func objectSections(title string, o map[string]any) []section {
	sub := subTables([]map[string]any{o})
	cells := map[string]string{}
	flatten(cells, "", o, sub)
	out := []section{kvSection(title, cells, idKey(title, []map[string]any{o}))}
	for _, k := range sortedKeys(sub) {
		out = append(out, childSections(title, title, k, []entry{{obj: o}}, "")...)
	}
	return out
}

// listSections renders a list of items (key is its field name, title its
// path) as a table, then the tables of their nested lists.
func listSections(title, key string, entries []entry) []section {
	objs := make([]map[string]any, len(entries))
	for i, e := range entries {
		objs[i] = e.obj
	}
	sub := subTables(objs)
	id := idKey(key, objs)
	// The column children refer to this table's rows by: the id, else
	// Name, else the row number.
	ref := id
	if ref == "" && hasTag(objs, "Name") {
		ref = "Name"
	}
	if ref == "" && len(sub) > 0 {
		ref = "#"
	}
	rows := make([]map[string]string, len(entries))
	colSet := map[string]bool{}
	for i, e := range entries {
		rows[i] = map[string]string{}
		flatten(rows[i], "", e.obj, sub)
		for k := range rows[i] {
			colSet[k] = true
		}
	}
	// Parent references come first; one the row also has under the same
	// name (an association's RouteTableId) is shown once.
	var refCols []string
	if len(entries) > 0 {
		for j, r := range entries[0].refs {
			name := r[0]
			if colSet[name] {
				same := true
				for i, e := range entries {
					same = same && rows[i][name] == e.refs[j][1]
				}
				if same {
					delete(colSet, name) // shown once, first
				} else {
					name = "Parent." + name
				}
			}
			refCols = append(refCols, name)
			for i, e := range entries {
				rows[i][name] = e.refs[j][1]
			}
		}
	}
	cols := refCols
	if ref == "#" {
		cols = append(cols, "#")
		for i := range rows {
			rows[i]["#"] = strconv.Itoa(i + 1)
		}
	}
	cols = append(cols, orderColumns(colSet, id)...)
	s := section{title: title, header: cols}
	for _, r := range rows {
		line := make([]string, len(cols))
		for i, c := range cols {
			line[i] = r[c]
			if line[i] == "" {
				line[i] = "-"
			}
		}
		s.lines = append(s.lines, line)
	}
	out := []section{s}
	for _, k := range sortedKeys(sub) {
		out = append(out, childSections(title, key, k, entries, ref)...)
	}
	return out
}

// childSections renders the nested list key of every entry of list
// parentKey as one table; each child row starts with the references of its
// parent, plus the parent's own (column ref; "#" becomes parentKey#).
func childSections(title, parentKey, key string, parents []entry, ref string) []section {
	var children []entry
	for i, p := range parents {
		refs := slices.Clone(p.refs)
		if ref != "" {
			name, v := ref, ""
			switch ref {
			case "#":
				name, v = parentKey+"#", strconv.Itoa(i+1)
			case "Name":
				v = tagValue(p.obj, "Name")
			default:
				v = cell(p.obj[ref])
			}
			refs = append(refs, [2]string{name, v})
		}
		l, _ := p.obj[key].([]any)
		objs, _ := objects(l)
		for _, o := range objs {
			children = append(children, entry{refs: refs, obj: o})
		}
	}
	if len(children) == 0 {
		return nil
	}
	return listSections(title+" > "+key, key, children)
}

// subTables returns the nested lists of objects in objs that are shown as
// tables of their own; the others are flattened into columns.
func subTables(objs []map[string]any) map[string]bool {
	sub := map[string]bool{}
	for _, o := range objs {
		for k, v := range o {
			l, ok := v.([]any)
			if !ok || isTags(k, l) {
				continue
			}
			items, ok := objects(l)
			if !ok || len(items) == 0 {
				continue
			}
			if alwaysTable[k] || len(items) > 1 || leaves(items[0]) > maxFlatLeaves || hasObjectList(items[0]) {
				sub[k] = true
			}
		}
	}
	return sub
}

// flatten puts o's scalars into cells under prefix: nested objects and
// one-item lists of objects as Parent.Child, tags as Name / Tag:Key, lists
// of scalars as one cell. The lists in sub are left out (tables of their
// own).
func flatten(cells map[string]string, prefix string, o map[string]any, sub map[string]bool) {
	for k, v := range o {
		name := prefix + k
		switch x := v.(type) {
		case map[string]any:
			flatten(cells, name+".", x, nil)
		case []any:
			if len(x) == 0 {
				continue // no item, no column: other rows' columns show "-"
			}
			if isTags(k, x) {
				for _, t := range x {
					tm := t.(map[string]any)
					key := cell(tm["Key"])
					if key != "Name" {
						key = "Tag:" + key
					}
					cells[prefix+key] = cell(tm["Value"])
				}
				continue
			}
			if objs, ok := objects(x); ok && len(objs) > 0 {
				if prefix == "" && sub[k] {
					continue
				}
				// One item as columns; several (deeper down, where no
				// table is made) as one comma-separated cell per column.
				for _, item := range objs {
					one := map[string]string{}
					flatten(one, name+".", item, nil)
					for ck, cv := range one {
						if prev, ok := cells[ck]; ok {
							cv = prev + ", " + cv
						}
						cells[ck] = cv
					}
				}
				continue
			}
			cells[name] = cell(x)
		default:
			cells[name] = cell(x)
		}
	}
}

// liftInstances turns describe-instances' reservations into their
// instances, each with its ReservationId.
func liftInstances(res []map[string]any) []map[string]any {
	var out []map[string]any
	for _, r := range res {
		l, _ := r["Instances"].([]any)
		objs, _ := objects(l)
		for _, i := range objs {
			c := make(map[string]any, len(i)+1)
			for k, v := range i {
				c[k] = v
			}
			if id, ok := r["ReservationId"]; ok {
				c["ReservationId"] = id
			}
			out = append(out, c)
		}
	}
	return out
}

// orderColumns orders keys: Name, then the id, then alphabetically.
func orderColumns[V any](set map[string]V, id string) []string {
	var cols []string
	for _, first := range []string{"Name", id} {
		if _, ok := set[first]; ok && first != "" && !slices.Contains(cols, first) {
			cols = append(cols, first)
		}
	}
	for _, k := range sortedKeys(set) {
		if !slices.Contains(cols, k) {
			cols = append(cols, k)
		}
	}
	return cols
}

// idKey is the field that identifies the items of list key: RouteTables →
// RouteTableId, SecurityGroups → GroupId (the longest CamelCase tail of
// the singular that every item has with "Id"). "" if none.
func idKey(key string, objs []map[string]any) string {
	single := strings.TrimSuffix(key, "s")
	for i := 0; i < len(single); i++ {
		if i > 0 && !(single[i] >= 'A' && single[i] <= 'Z') {
			continue
		}
		cand := single[i:] + "Id"
		all := len(objs) > 0
		for _, o := range objs {
			if _, ok := o[cand]; !ok {
				all = false
				break
			}
		}
		if all {
			return cand
		}
	}
	return ""
}

// objects returns l's items if they are all objects.
func objects(l []any) ([]map[string]any, bool) {
	out := make([]map[string]any, 0, len(l))
	for _, x := range l {
		m, ok := x.(map[string]any)
		if !ok {
			return nil, false
		}
		out = append(out, m)
	}
	return out, true
}

// isTags reports whether l is an EC2 tag list ([{Key, Value}]).
func isTags(key string, l []any) bool {
	if key != "Tags" && key != "TagSet" {
		return false
	}
	for _, x := range l {
		m, ok := x.(map[string]any)
		if !ok || len(m) != 2 || m["Key"] == nil {
			return false
		}
		if _, ok := m["Value"]; !ok {
			return false
		}
	}
	return true
}

func tagValue(o map[string]any, key string) string {
	for _, tk := range []string{"Tags", "TagSet"} {
		l, _ := o[tk].([]any)
		if !isTags(tk, l) {
			continue
		}
		for _, t := range l {
			if tm := t.(map[string]any); cell(tm["Key"]) == key {
				return cell(tm["Value"])
			}
		}
	}
	return ""
}

func hasTag(objs []map[string]any, key string) bool {
	for _, o := range objs {
		if tagValue(o, key) == "" {
			return false
		}
	}
	return len(objs) > 0
}

// leaves counts the scalar cells o flattens into.
func leaves(o map[string]any) int {
	cells := map[string]string{}
	flatten(cells, "", o, nil)
	return len(cells)
}

func hasObjectList(o map[string]any) bool {
	for k, v := range o {
		if l, ok := v.([]any); ok && !isTags(k, l) {
			if objs, ok := objects(l); ok && len(objs) > 0 {
				return true
			}
		}
	}
	return false
}

// cell formats a scalar (or a list of scalars) for a table cell.
func cell(v any) string {
	switch x := v.(type) {
	case nil:
		return "-"
	case string:
		if x == "" {
			return "-"
		}
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	case []any:
		parts := make([]string, 0, len(x))
		for _, e := range x {
			parts = append(parts, cell(e))
		}
		if len(parts) == 0 {
			return "-"
		}
		return strings.Join(parts, ", ")
	case map[string]any:
		cells := map[string]string{}
		flatten(cells, "", x, nil)
		parts := make([]string, 0, len(cells))
		for _, k := range sortedKeys(cells) {
			parts = append(parts, k+"="+cells[k])
		}
		return strings.Join(parts, ", ")
	}
	return fmt.Sprint(v)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
